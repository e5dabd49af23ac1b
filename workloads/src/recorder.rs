//! Latency recording like HdrHistogram and wrk2.
//!
//! Every operation is recorded with three times, offsets from the start of
//! the run: when it was *meant* to start (its arrival in open loop), when
//! it was actually sent, and when it ended. The headline **response time**
//! runs from the intended start, so time spent waiting for a late sender or
//! a free client is counted (no coordinated omission); the **service time**
//! from the actual send is kept beside it, and the gap between the two
//! shows queueing in the driver.
//!
//! Operations are filed by the time they *ended*: into a time window
//! (configurable, 10 ms at least) for the time series, and into the
//! measured interval `[warmup, duration - cooldown)` for the summary. The
//! measured set is what merging the windows of the interval would give,
//! but exact at its edges when they do not fall on window boundaries;
//! completions per second over it are the achieved throughput. Errors and
//! timeouts are counted in both, never dropped; only successful operations
//! have latencies.
//!
//! Histograms hold microseconds from 1 us to 1 h at 3 significant digits
//! (longer values are recorded as 1 h). Recorders of several drivers merge
//! by adding histograms: percentiles are only ever read from a merged
//! histogram, never averaged.

use crate::dump::{ns_of, Counts, DumpError, RecorderDump, WindowDump};
use crate::hgrm::percentile_distribution;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;
use thiserror::Error;

/// Largest latency a histogram holds: one hour, in microseconds.
pub const MAX_MICROS: u64 = 3_600_000_000;

/// The shortest time window.
pub const MIN_WINDOW: Duration = Duration::from_millis(10);

/// Most windows kept (1 000 000: almost 3 h at 10 ms); operations ending
/// later go into the last one.
pub const MAX_WINDOWS: usize = 1_000_000;

/// How an operation ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// Completed with an answer (including a failed compare-and-set).
    Ok,
    /// Ended with an error (rejected, unavailable, could not be sent).
    Error,
    /// No final answer within the request timeout.
    Timeout,
}

/// Recorders that cannot be merged.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MergeError {
    /// Different time windows.
    #[error("cannot merge recorders with {0:?} and {1:?} windows")]
    Window(Duration, Duration),
    /// Different measured intervals.
    #[error("cannot merge recorders measuring {0:?} and {1:?}")]
    Measured((Duration, Duration), (Duration, Duration)),
}

fn full_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant, valid histogram bounds")
}

/// A histogram that grows with the largest value recorded, so a quiet
/// window costs a few kilobytes instead of the 190 KB of a full one.
fn growing_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("constant, valid histogram precision")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).map_or(MAX_MICROS, |us| us.min(MAX_MICROS))
}

fn quantile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() {
        0
    } else {
        h.value_at_quantile(q)
    }
}

/// Counters and the response-time histogram of one time window.
#[derive(Clone, Debug, Default)]
struct Window {
    /// Created on the first success in the window.
    response: Option<Histogram<u64>>,
    completed: u64,
    errors: u64,
    timeouts: u64,
}

/// Counters and histograms of the measured interval.
#[derive(Clone, Debug)]
struct Measured {
    response: Histogram<u64>,
    service: Histogram<u64>,
    completed: u64,
    errors: u64,
    timeouts: u64,
}

/// The summary of the measured interval. Latencies are response times
/// (from the intended start) unless named `service_*`; all in
/// microseconds, 0 when nothing completed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Operations completed successfully in the interval.
    pub completed: u64,
    /// Operations that ended in an error in the interval.
    pub errors: u64,
    /// Operations that timed out in the interval.
    pub timeouts: u64,
    /// Length of the measured interval, seconds.
    pub measured_s: f64,
    /// Completed operations per second over the interval.
    pub achieved_ops_per_s: f64,
    /// Median response time.
    pub p50_us: u64,
    /// 90th percentile response time.
    pub p90_us: u64,
    /// 99th percentile response time.
    pub p99_us: u64,
    /// 99.9th percentile response time.
    pub p999_us: u64,
    /// Longest response time.
    pub max_us: u64,
    /// Mean response time.
    pub mean_us: f64,
    /// Median service time (from the actual send).
    pub service_p50_us: u64,
    /// 99th percentile service time.
    pub service_p99_us: u64,
}

/// One row of `timeseries.csv`: a time window, by operation end time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WindowRow {
    /// Window start, ms from the start of the run.
    pub start_ms: u64,
    /// Window length, ms.
    pub window_ms: u64,
    /// Operations completed successfully in the window.
    pub completed: u64,
    /// Operations that ended in an error.
    pub errors: u64,
    /// Operations that timed out.
    pub timeouts: u64,
    /// Median response time of the window's completions, us (0 if none).
    pub p50_us: u64,
    /// 99th percentile, us (0 if none).
    pub p99_us: u64,
    /// Longest, us (0 if none).
    pub max_us: u64,
}

impl WindowRow {
    /// Column names for `timeseries.csv`, in the order of
    /// [`WindowRow::csv_fields`].
    pub const CSV_HEADER: [&'static str; 8] = [
        "window_start_ms",
        "window_ms",
        "completed",
        "errors",
        "timeouts",
        "p50_us",
        "p99_us",
        "max_us",
    ];

    /// The row's values in [`WindowRow::CSV_HEADER`] order.
    pub fn csv_fields(&self) -> [u64; 8] {
        [
            self.start_ms,
            self.window_ms,
            self.completed,
            self.errors,
            self.timeouts,
            self.p50_us,
            self.p99_us,
            self.max_us,
        ]
    }
}

/// Records the operations of one driver (or of a simulated run).
#[derive(Clone, Debug)]
pub struct Recorder {
    window: Duration,
    measured: (Duration, Duration),
    windows: Vec<Window>,
    interval: Measured,
}

impl Recorder {
    /// Windows of `window` (at least [`MIN_WINDOW`]); operations ending in
    /// `measured` (from, to) count towards the summary.
    pub fn new(window: Duration, measured: (Duration, Duration)) -> Recorder {
        Recorder {
            window: window.max(MIN_WINDOW),
            measured,
            windows: Vec::new(),
            interval: Measured {
                response: full_histogram(),
                service: full_histogram(),
                completed: 0,
                errors: 0,
                timeouts: 0,
            },
        }
    }

    /// The time-window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The measured interval.
    pub fn measured(&self) -> (Duration, Duration) {
        self.measured
    }

    /// Records an operation: when it was meant to start, when it was
    /// actually sent, and when it ended (offsets from the start of the
    /// run), and how it ended.
    pub fn record(
        &mut self,
        intended: Duration,
        sent: Duration,
        ended: Duration,
        outcome: OpOutcome,
    ) {
        let response = micros(ended.saturating_sub(intended));
        let service = micros(ended.saturating_sub(sent));
        let index = usize::try_from(ended.as_nanos() / self.window.as_nanos())
            .unwrap_or(usize::MAX)
            .min(MAX_WINDOWS - 1);
        if self.windows.len() <= index {
            self.windows.resize_with(index + 1, Window::default);
        }
        let w = &mut self.windows[index];
        let measured = ended >= self.measured.0 && ended < self.measured.1;
        match outcome {
            OpOutcome::Ok => {
                w.completed += 1;
                let h = w.response.get_or_insert_with(growing_histogram);
                // `saturating_record` would clamp to the current (small)
                // range instead of growing it: record, which resizes.
                if h.record(response).is_err() {
                    h.saturating_record(response);
                }
                if measured {
                    self.interval.completed += 1;
                    self.interval.response.saturating_record(response);
                    self.interval.service.saturating_record(service);
                }
            }
            OpOutcome::Error => {
                w.errors += 1;
                self.interval.errors += u64::from(measured);
            }
            OpOutcome::Timeout => {
                w.timeouts += 1;
                self.interval.timeouts += u64::from(measured);
            }
        }
    }

    /// Adds another recorder (another driver's, with the same window and
    /// measured interval and a common time zero) into this one.
    pub fn merge(&mut self, other: &Recorder) -> Result<(), MergeError> {
        if self.window != other.window {
            return Err(MergeError::Window(self.window, other.window));
        }
        if self.measured != other.measured {
            return Err(MergeError::Measured(self.measured, other.measured));
        }
        if self.windows.len() < other.windows.len() {
            self.windows
                .resize_with(other.windows.len(), Window::default);
        }
        for (mine, theirs) in self.windows.iter_mut().zip(&other.windows) {
            if let Some(h) = &theirs.response {
                // Growing histograms take any value of another; cannot fail.
                let _ = mine.response.get_or_insert_with(growing_histogram).add(h);
            }
            mine.completed += theirs.completed;
            mine.errors += theirs.errors;
            mine.timeouts += theirs.timeouts;
        }
        // Same bounds on both sides: adding cannot fail.
        let _ = self.interval.response.add(&other.interval.response);
        let _ = self.interval.service.add(&other.interval.service);
        self.interval.completed += other.interval.completed;
        self.interval.errors += other.interval.errors;
        self.interval.timeouts += other.interval.timeouts;
        Ok(())
    }

    /// Response times (us) of the measured interval.
    pub fn response_histogram(&self) -> &Histogram<u64> {
        &self.interval.response
    }

    /// Service times (us) of the measured interval.
    pub fn service_histogram(&self) -> &Histogram<u64> {
        &self.interval.service
    }

    /// The summary of the measured interval.
    pub fn summary(&self) -> Summary {
        let m = &self.interval;
        let measured_s = self
            .measured
            .1
            .saturating_sub(self.measured.0)
            .as_secs_f64();
        let h = &m.response;
        Summary {
            completed: m.completed,
            errors: m.errors,
            timeouts: m.timeouts,
            measured_s,
            achieved_ops_per_s: if measured_s > 0.0 {
                m.completed as f64 / measured_s
            } else {
                0.0
            },
            p50_us: quantile(h, 0.5),
            p90_us: quantile(h, 0.9),
            p99_us: quantile(h, 0.99),
            p999_us: quantile(h, 0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
            mean_us: if h.is_empty() { 0.0 } else { h.mean() },
            service_p50_us: quantile(&m.service, 0.5),
            service_p99_us: quantile(&m.service, 0.99),
        }
    }

    /// One row per window from the start of the run to the last operation,
    /// warm-up and cool-down included.
    pub fn timeseries(&self) -> Vec<WindowRow> {
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let window_ns = self.window.as_nanos();
        self.windows
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (p50_us, p99_us, max_us) = match &w.response {
                    Some(h) if !h.is_empty() => {
                        (h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.max())
                    }
                    _ => (0, 0, 0),
                };
                WindowRow {
                    start_ms: u64::try_from(i as u128 * window_ns / 1_000_000).unwrap_or(u64::MAX),
                    window_ms,
                    completed: w.completed,
                    errors: w.errors,
                    timeouts: w.timeouts,
                    p50_us,
                    p99_us,
                    max_us,
                }
            })
            .collect()
    }

    /// The recorder in a portable form (see [`crate::dump`]).
    pub fn dump(&self) -> RecorderDump {
        RecorderDump {
            window_ns: ns_of(self.window),
            measured_ns: (ns_of(self.measured.0), ns_of(self.measured.1)),
            windows: self
                .windows
                .iter()
                .map(|w| WindowDump {
                    response: w.response.as_ref().map(Counts::of).unwrap_or_default(),
                    completed: w.completed,
                    errors: w.errors,
                    timeouts: w.timeouts,
                })
                .collect(),
            response: Counts::of(&self.interval.response),
            service: Counts::of(&self.interval.service),
            counts: (
                self.interval.completed,
                self.interval.errors,
                self.interval.timeouts,
            ),
        }
    }

    /// Rebuilds a recorder from [`Recorder::dump`]'s output.
    pub fn undump(d: &RecorderDump) -> Result<Recorder, DumpError> {
        let mut r = Recorder::new(
            Duration::from_nanos(d.window_ns),
            (
                Duration::from_nanos(d.measured_ns.0),
                Duration::from_nanos(d.measured_ns.1),
            ),
        );
        if d.windows.len() > MAX_WINDOWS {
            return Err(DumpError::Value(format!("{} windows", d.windows.len())));
        }
        for w in &d.windows {
            let response = if w.response.0.is_empty() {
                None
            } else {
                let mut h = growing_histogram();
                w.response.into_histogram(&mut h)?;
                Some(h)
            };
            r.windows.push(Window {
                response,
                completed: w.completed,
                errors: w.errors,
                timeouts: w.timeouts,
            });
        }
        d.response.into_histogram(&mut r.interval.response)?;
        d.service.into_histogram(&mut r.interval.service)?;
        (r.interval.completed, r.interval.errors, r.interval.timeouts) = d.counts;
        Ok(r)
    }

    /// The measured interval's response times as an HdrHistogram
    /// percentile distribution (`.hgrm`), values in milliseconds.
    pub fn hgrm(&self) -> String {
        percentile_distribution(&self.interval.response, 5, 1000.0)
    }

    /// Likewise for service times.
    pub fn service_hgrm(&self) -> String {
        percentile_distribution(&self.interval.service, 5, 1000.0)
    }
}
