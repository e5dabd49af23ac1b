//! Human-readable durations in YAML (`"500ms"`, `"30s"`, `"2m"`, `"1h 30m"`).
//!
//! The grammar is one or more `<number><unit>` parts, optionally separated by
//! spaces, whose durations add up. Numbers may have a fraction (`"1.5s"`).
//! Units: `ns`, `us` (or `µs`), `ms`, `s`, `m` (or `min`), `h`. A bare `0`
//! means zero; any other number without a unit is rejected rather than
//! guessed at (is `10` seconds or milliseconds?).

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// Why a duration string was not understood.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing but spaces.
    #[error("empty duration; write e.g. \"500ms\", \"30s\" or \"2m\"")]
    Empty,
    /// A number was expected where the text goes on with `rest`.
    #[error("{input:?} is not a duration: expected a number at {rest:?}; write e.g. \"500ms\", \"30s\" or \"2m\"")]
    ExpectedNumber {
        /// The whole input.
        input: String,
        /// What was left when a number was expected.
        rest: String,
    },
    /// A number had no unit after it.
    #[error("{input:?} is not a duration: {number} has no unit; write e.g. \"{number}s\" or \"{number}ms\"")]
    MissingUnit {
        /// The whole input.
        input: String,
        /// The number without a unit.
        number: String,
    },
    /// A unit that is not one of the accepted ones.
    #[error("{input:?} is not a duration: unknown unit {unit:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit {
        /// The whole input.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// Larger than `Duration` can hold.
    #[error("{input:?} is too long a duration")]
    Overflow {
        /// The whole input.
        input: String,
    },
}

fn unit_nanos(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        _ => return None,
    })
}

/// Parses a human duration such as `"500ms"`, `"30s"`, `"2m"`, `"1h 30m"`
/// or `"1.5s"`.
pub fn parse_duration(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    // Whole nanoseconds are summed as integers, fractions as f64, so that
    // "1h" is exact and "1.5s" still works.
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..num_len];
        let value: f64 = match number.parse() {
            Ok(v) if !number.is_empty() => v,
            _ => {
                return Err(DurationError::ExpectedNumber {
                    input: input.into(),
                    rest: rest.into(),
                })
            }
        };
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.' || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        if unit.is_empty() {
            return Err(DurationError::MissingUnit {
                input: input.into(),
                number: number.into(),
            });
        }
        let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            input: input.into(),
            unit: unit.into(),
        })?;
        let nanos = (value * scale).round();
        if !nanos.is_finite() || nanos >= u64::MAX as f64 {
            return Err(DurationError::Overflow {
                input: input.into(),
            });
        }
        total += nanos as u128;
        rest = rest[unit_len..].trim_start();
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| DurationError::Overflow {
        input: input.into(),
    })?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

/// Formats a duration compactly in the grammar [`parse_duration`] reads,
/// e.g. `"1m30s"`, `"1s500ms"`, `"250us"`, `"0s"`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let mut nanos = d.as_nanos();
    let mut out = String::new();
    for (unit, size) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if nanos >= size {
            out.push_str(&format!("{}{unit}", nanos / size));
            nanos %= size;
        }
    }
    out
}

struct HumanVisitor;

impl Visitor<'_> for HumanVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as \"500ms\", \"30s\" or \"2m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        if v == 0 {
            return Ok(Duration::ZERO);
        }
        Err(E::custom(format!(
            "{v} has no unit; write e.g. \"{v}s\" or \"{v}ms\""
        )))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!(
                "{v} is negative; a duration is at least 0"
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "{v} has no unit; write e.g. \"{v}s\" or \"{v}ms\""
        )))
    }
}

/// Serde helpers for a `Duration` field written as a human string
/// (`#[serde(with = "human")]`).
pub mod human {
    use super::*;

    /// Serializes compactly, e.g. `"1s500ms"`.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    /// Accepts what [`parse_duration`] accepts, and a bare `0`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(HumanVisitor)
    }
}

/// Serde helpers for an optional human duration (`null` or absent = none;
/// absent needs `#[serde(default)]` on the field).
pub mod human_opt {
    use super::*;

    /// Serializes `None` as null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => human::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    struct OptVisitor;

    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"500ms\" or \"2s\", or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            human::deserialize(d).map(Some)
        }
    }

    /// Accepts a human duration or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_option(OptVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let ms = Duration::from_millis;
        for (text, expected) in [
            ("500ms", ms(500)),
            ("30s", ms(30_000)),
            ("2m", ms(120_000)),
            ("2min", ms(120_000)),
            ("1h 30m", ms(5_400_000)),
            ("1m30s", ms(90_000)),
            (" 1.5s ", ms(1_500)),
            ("250us", Duration::from_micros(250)),
            ("250µs", Duration::from_micros(250)),
            ("7ns", Duration::from_nanos(7)),
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("1000h", Duration::from_secs(3_600_000)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("", "empty duration"),
            ("10", "10 has no unit"),
            ("ten seconds", "expected a number"),
            ("10 parsecs", "10 has no unit"),
            ("10parsecs", "unknown unit \"parsecs\""),
            ("5s and", "expected a number at \"and\""),
            ("-5s", "expected a number"),
            ("1.2.3s", "expected a number"),
            ("99999999999999999999h", "too long"),
        ];
        for (text, expected) in cases {
            let e = parse_duration(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_micros(250),
            Duration::from_millis(1_500),
            Duration::from_secs(90),
            Duration::new(3_723, 4_005_006),
        ] {
            let text = format_duration(d);
            assert_eq!(parse_duration(&text), Ok(d), "{text}");
        }
        assert_eq!(format_duration(Duration::from_millis(90_500)), "1m30s500ms");
    }

    #[derive(Debug, serde::Deserialize, serde::Serialize, PartialEq)]
    struct T {
        #[serde(with = "human")]
        d: Duration,
        #[serde(default, with = "human_opt")]
        o: Option<Duration>,
    }

    #[test]
    fn serde_helpers_accept_strings_zero_and_null() {
        let t: T = serde_yaml::from_str("d: 2s\no: 100ms\n").unwrap();
        assert_eq!(t.d, Duration::from_secs(2));
        assert_eq!(t.o, Some(Duration::from_millis(100)));
        let t: T = serde_yaml::from_str("d: 0\no: null\n").unwrap();
        assert_eq!((t.d, t.o), (Duration::ZERO, None));
        let t: T = serde_yaml::from_str("d: 1s\n").unwrap();
        assert_eq!(t.o, None);
        let back: T = serde_yaml::from_str(&serde_yaml::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        let e = serde_yaml::from_str::<T>("d: 10\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("10 has no unit"), "{e}");
        let e = serde_yaml::from_str::<T>("d: -3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("negative"), "{e}");
        let e = serde_yaml::from_str::<T>("d: 1s\no: 5x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown unit"), "{e}");
    }
}
