//! Human-readable durations in YAML (`"500ms"`, `"30s"`, `"2m"`).

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Serde helpers for a `Duration` field written as a human string.
pub mod human {
    use super::*;

    /// Serializes as e.g. `"1s 500ms"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// Accepts `"500ms"`, `"30s"`, `"2m"`, `"1h 30m"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(s.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{s:?} is not a duration ({e}); write e.g. \"500ms\", \"30s\" or \"2m\""
            ))
        })
    }
}

/// Serde helpers for an optional human duration (`null` or absent = none).
pub mod human_opt {
    use super::*;

    /// Serializes `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => human::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Accepts a human duration or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| {
            humantime::parse_duration(s.trim()).map_err(|e| {
                serde::de::Error::custom(format!(
                    "{s:?} is not a duration ({e}); write e.g. \"500ms\" or \"2s\""
                ))
            })
        })
        .transpose()
    }
}
