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
