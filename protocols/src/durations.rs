//! Human-readable durations (`"150ms"`, `"2s"`) for protocol configs in
//! experiment files.

use serde::{Deserialize, Deserializer, Serializer};
use std::time::Duration;

/// Serializes as e.g. `"150ms"`.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_duration(*d).to_string())
}

/// Accepts `"150ms"`, `"2s"`, `"1m"`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(s.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "{s:?} is not a duration ({e}); write e.g. \"150ms\""
        ))
    })
}
