//! A driver's measurements as bytes, so that drivers running on other
//! hosts (`qlab drive --dump`) can hand them to the harness, which merges
//! them exactly as if one driver had measured everything: histograms are
//! carried whole (every recorded value and its count), never as
//! percentiles.

use crate::driver::DriverOutput;
use crate::recorder::Recorder;
use hdrhistogram::Histogram;
use protocols::check::HistoryOp;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// A dump that cannot be read back.
#[derive(Debug, Error)]
pub enum DumpError {
    /// Not a dump of this version, or truncated.
    #[error("not a driver dump (or a truncated one): {0}")]
    Decode(#[from] postcard::Error),
    /// A histogram value outside the recorder's bounds.
    #[error("a driver dump holds a latency the recorder cannot hold: {0}")]
    Value(String),
    /// The dump was written by another version of the format.
    #[error("driver dump format {0}, this qlab reads format {FORMAT}")]
    Format(u32),
}

/// Bumped whenever the layout below changes.
const FORMAT: u32 = 1;

/// A histogram as its recorded values and their counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts(pub Vec<(u64, u64)>);

impl Counts {
    /// Every distinct recorded value (its bucket's representative) and count.
    pub fn of(h: &Histogram<u64>) -> Counts {
        Counts(
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        )
    }

    /// Records every value into `h`.
    pub fn into_histogram(&self, h: &mut Histogram<u64>) -> Result<(), DumpError> {
        for &(value, count) in &self.0 {
            h.record_n(value, count)
                .map_err(|e| DumpError::Value(format!("{value} us: {e:?}")))?;
        }
        Ok(())
    }
}

/// One time window of a [`Recorder`], portable.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WindowDump {
    /// Successful operations' response times, us.
    pub response: Counts,
    /// Successful operations.
    pub completed: u64,
    /// Errors.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
}

/// A [`Recorder`], portable.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecorderDump {
    /// Window length, ns.
    pub window_ns: u64,
    /// Measured interval (from, to), ns.
    pub measured_ns: (u64, u64),
    /// Every window from the start of the run.
    pub windows: Vec<WindowDump>,
    /// Measured interval: response times, us.
    pub response: Counts,
    /// Measured interval: service times, us.
    pub service: Counts,
    /// Measured interval: successes, errors, timeouts.
    pub counts: (u64, u64, u64),
}

/// A duration in whole nanoseconds (saturating: dumps hold `u64`).
pub(crate) fn ns_of(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What `qlab drive --dump` writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct OutputDump {
    format: u32,
    recorder: RecorderDump,
    history: Vec<HistoryOp>,
    issued: u64,
    backlogged: u64,
    cpu_utilisation: f64,
    start_unix_ns: u128,
}

/// Encodes a driver's output (partition sides are not carried: drivers on
/// other hosts do not follow client partitions).
pub fn encode(out: &DriverOutput) -> Vec<u8> {
    let dump = OutputDump {
        format: FORMAT,
        recorder: out.recorder.dump(),
        history: out.history.clone(),
        issued: out.issued,
        backlogged: out.backlogged,
        cpu_utilisation: out.cpu_utilisation,
        start_unix_ns: out.start_unix_ns,
    };
    // Encoding plain data into a Vec cannot fail.
    postcard::to_allocvec(&dump).unwrap_or_default()
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<DriverOutput, DumpError> {
    let dump: OutputDump = postcard::from_bytes(bytes)?;
    if dump.format != FORMAT {
        return Err(DumpError::Format(dump.format));
    }
    Ok(DriverOutput {
        recorder: Recorder::undump(&dump.recorder)?,
        history: dump.history,
        issued: dump.issued,
        backlogged: dump.backlogged,
        cpu_utilisation: dump.cpu_utilisation,
        start_unix_ns: dump.start_unix_ns,
        partition_sides: Default::default(),
    })
}

/// Merges the outputs of drivers that shared one time zero into what one
/// driver measuring all of it would report. CPU utilisation is the
/// busiest driver's, so a saturated driver is never averaged away.
pub fn merge(
    outputs: Vec<DriverOutput>,
) -> Result<Option<DriverOutput>, crate::recorder::MergeError> {
    let mut it = outputs.into_iter();
    let Some(mut all) = it.next() else {
        return Ok(None);
    };
    for o in it {
        all.recorder.merge(&o.recorder)?;
        all.history.extend(o.history);
        all.issued += o.issued;
        all.backlogged += o.backlogged;
        all.cpu_utilisation = all.cpu_utilisation.max(o.cpu_utilisation);
        all.start_unix_ns = all.start_unix_ns.min(o.start_unix_ns);
        for (side, c) in o.partition_sides {
            let mine = all.partition_sides.entry(side).or_default();
            mine.clients += c.clients;
            mine.issued += c.issued;
            mine.ok += c.ok;
            mine.after_heal += c.after_heal;
            mine.errors += c.errors;
            mine.timeouts += c.timeouts;
        }
    }
    all.history.sort_by_key(|op| (op.invoke, op.client));
    Ok(Some(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::OpOutcome;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn recorder(seed: u64) -> Recorder {
        let mut r = Recorder::new(ms(100), (ms(100), ms(900)));
        for i in 0..500u64 {
            let start = ms(i * 2);
            let lat = Duration::from_micros(100 + (i * 7919 + seed * 31) % 20_000);
            let outcome = match i % 50 {
                0 => OpOutcome::Error,
                1 => OpOutcome::Timeout,
                _ => OpOutcome::Ok,
            };
            r.record(start, start + ms(1), start + lat, outcome);
        }
        r
    }

    fn output(seed: u64) -> DriverOutput {
        DriverOutput {
            recorder: recorder(seed),
            history: Vec::new(),
            issued: 500 + seed,
            backlogged: seed,
            cpu_utilisation: 0.1 * seed as f64,
            start_unix_ns: 1_000 + u128::from(seed),
            partition_sides: Default::default(),
        }
    }

    #[test]
    fn a_dump_reads_back_with_the_same_numbers() {
        let out = output(3);
        let back = decode(&encode(&out)).unwrap();
        assert_eq!(back.recorder.summary(), out.recorder.summary());
        assert_eq!(back.recorder.timeseries(), out.recorder.timeseries());
        assert_eq!(back.recorder.hgrm(), out.recorder.hgrm());
        assert_eq!(back.recorder.service_hgrm(), out.recorder.service_hgrm());
        assert_eq!((back.issued, back.backlogged), (503, 3));
        assert_eq!(back.start_unix_ns, 1_003);
    }

    #[test]
    fn merged_dumps_equal_merged_recorders() {
        let mut direct = recorder(1);
        direct.merge(&recorder(2)).unwrap();
        let merged = merge(vec![
            decode(&encode(&output(1))).unwrap(),
            decode(&encode(&output(2))).unwrap(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(merged.recorder.summary(), direct.summary());
        assert_eq!(merged.recorder.timeseries(), direct.timeseries());
        assert_eq!(merged.issued, 1003);
        assert!((merged.cpu_utilisation - 0.2).abs() < 1e-9);
        assert_eq!(merged.start_unix_ns, 1_001);
        assert!(merge(Vec::new()).unwrap().is_none());
    }

    #[test]
    fn garbage_and_other_formats_are_refused() {
        assert!(matches!(
            decode(b"\x07junk"),
            Err(DumpError::Decode(_)) | Err(DumpError::Format(_))
        ));
        let mut bytes = encode(&output(1));
        bytes[0] = 9; // the format number is the first varint
        assert!(matches!(decode(&bytes), Err(DumpError::Format(9))));
    }
}
