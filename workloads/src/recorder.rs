//! Latency recording like HdrHistogram and wrk2: response time from the
//! intended start (the headline), service time from the actual send (beside
//! it), per time window and for the measured interval, with errors and
//! timeouts counted, never dropped. Recorders from several drivers merge by
//! adding histograms; percentiles are taken only from merged histograms.

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::time::Duration;

/// How an operation ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OpOutcome {
    /// Completed with an answer.
    Ok,
    /// Completed with an error (rejected, unavailable).
    Error,
    /// No final answer within the request timeout.
    Timeout,
}

fn histogram() -> Histogram<u64> {
    // 1 us .. 1 h at 3 significant digits; the bounds are constants, so
    // construction cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).expect("histogram"))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, 3_600_000_000)
}

/// Counters and histograms of one window or interval.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Response time (from intended start), microseconds.
    pub response: Histogram<u64>,
    /// Service time (from actual send), microseconds.
    pub service: Histogram<u64>,
    /// Operations completed.
    pub completed: u64,
    /// Operations that ended in an error.
    pub errors: u64,
    /// Operations that timed out.
    pub timeouts: u64,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            response: histogram(),
            service: histogram(),
            completed: 0,
            errors: 0,
            timeouts: 0,
        }
    }
}

impl Bucket {
    fn record(&mut self, response: Duration, service: Duration, outcome: OpOutcome) {
        match outcome {
            OpOutcome::Ok => {
                self.completed += 1;
                let _ = self.response.record(micros(response));
                let _ = self.service.record(micros(service));
            }
            OpOutcome::Error => self.errors += 1,
            OpOutcome::Timeout => self.timeouts += 1,
        }
    }

    /// Adds another bucket into this one.
    pub fn merge(&mut self, other: &Bucket) {
        let _ = self.response.add(&other.response);
        let _ = self.service.add(&other.service);
        self.completed += other.completed;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
    }
}

/// The summary of a measured interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Operations completed in the interval.
    pub completed: u64,
    /// Errors.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Completed ops per second over the interval.
    pub achieved_ops_per_s: f64,
    /// Response-time percentiles (us): p50, p90, p99, p99.9, max, mean.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
    /// Service-time median (us).
    pub service_p50_us: u64,
    /// Service-time 99th percentile (us).
    pub service_p99_us: u64,
}

/// Records one driver's operations.
#[derive(Clone, Debug)]
pub struct Recorder {
    window: Duration,
    measured: (Duration, Duration),
    windows: Vec<Bucket>,
    interval: Bucket,
}

impl Recorder {
    /// Windows of `window` (at least 10 ms); ops whose intended start lies in
    /// `measured` count towards the summary.
    pub fn new(window: Duration, measured: (Duration, Duration)) -> Recorder {
        Recorder {
            window: window.max(Duration::from_millis(10)),
            measured,
            windows: Vec::new(),
            interval: Bucket::default(),
        }
    }

    /// Records an operation. Times are offsets from the run's start: when it
    /// was meant to start, when it was actually sent, when it ended.
    pub fn record(
        &mut self,
        intended: Duration,
        sent: Duration,
        ended: Duration,
        outcome: OpOutcome,
    ) {
        let response = ended.saturating_sub(intended);
        let service = ended.saturating_sub(sent.max(intended));
        let w = (ended.as_nanos() / self.window.as_nanos().max(1)) as usize;
        if self.windows.len() <= w {
            self.windows.resize_with(w + 1, Bucket::default);
        }
        self.windows[w].record(response, service, outcome);
        if intended >= self.measured.0 && intended < self.measured.1 {
            self.interval.record(response, service, outcome);
        }
    }

    /// Adds another driver's recorder (same window and interval).
    pub fn merge(&mut self, other: &Recorder) {
        if self.windows.len() < other.windows.len() {
            self.windows
                .resize_with(other.windows.len(), Bucket::default);
        }
        for (mine, theirs) in self.windows.iter_mut().zip(&other.windows) {
            mine.merge(theirs);
        }
        self.interval.merge(&other.interval);
    }

    /// The measured interval's bucket.
    pub fn interval(&self) -> &Bucket {
        &self.interval
    }

    /// The summary of the measured interval.
    pub fn summary(&self) -> Summary {
        let b = &self.interval;
        let secs = self
            .measured
            .1
            .saturating_sub(self.measured.0)
            .as_secs_f64()
            .max(1e-9);
        let h = &b.response;
        let q = |p: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(p)
            }
        };
        let s = |p: f64| {
            if b.service.is_empty() {
                0
            } else {
                b.service.value_at_quantile(p)
            }
        };
        Summary {
            completed: b.completed,
            errors: b.errors,
            timeouts: b.timeouts,
            achieved_ops_per_s: b.completed as f64 / secs,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if h.is_empty() { 0 } else { h.max() },
            mean_us: if h.is_empty() { 0.0 } else { h.mean() },
            service_p50_us: s(0.5),
            service_p99_us: s(0.99),
        }
    }

    /// One row per window: (start ms, window ms, completed, errors,
    /// timeouts, p50 us, p99 us, max us).
    pub fn timeseries(&self) -> Vec<WindowRow> {
        self.windows
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let q = |p: f64| {
                    if b.response.is_empty() {
                        0
                    } else {
                        b.response.value_at_quantile(p)
                    }
                };
                WindowRow {
                    start_ms: (i as u128 * self.window.as_millis()) as u64,
                    window_ms: self.window.as_millis() as u64,
                    completed: b.completed,
                    errors: b.errors,
                    timeouts: b.timeouts,
                    p50_us: q(0.5),
                    p99_us: q(0.99),
                    max_us: if b.response.is_empty() {
                        0
                    } else {
                        b.response.max()
                    },
                }
            })
            .collect()
    }

    /// The measured interval's response times in HdrHistogram's percentile
    /// distribution text format (values in milliseconds).
    pub fn hgrm(&self) -> String {
        hgrm(&self.interval.response)
    }
}

/// One time-series window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowRow {
    /// Window start, ms from the run's start.
    pub start_ms: u64,
    /// Window length, ms.
    pub window_ms: u64,
    /// Completed ops.
    pub completed: u64,
    /// Errors.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
    /// Median response time in the window, us.
    pub p50_us: u64,
    /// 99th percentile, us.
    pub p99_us: u64,
    /// Maximum, us.
    pub max_us: u64,
}

/// Formats a histogram (microseconds) like HdrHistogram's
/// `outputPercentileDistribution` with values scaled to milliseconds.
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if h.is_empty() {
        let _ = writeln!(
            out,
            "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
            0.0, 0.0
        );
        let _ = writeln!(
            out,
            "#[Max     = {:>12.3}, Total count    = {:>12}]",
            0.0, 0
        );
        return out;
    }
    for v in h.iter_quantiles(5) {
        let p = v.quantile_iterated_to();
        let inv = if p < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - p))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{:>12.3} {:>2.12} {:>10} {}",
            v.value_iterated_to() as f64 / 1000.0,
            p,
            v.count_since_last_iteration(),
            inv
        );
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean() / 1000.0,
        h.stdev() / 1000.0
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64 / 1000.0,
        h.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn response_time_counts_from_the_intended_start() {
        let mut r = Recorder::new(ms(100), (ms(0), ms(10_000)));
        // Intended at 0, sent late at 90 ms, done at 100 ms: response 100 ms,
        // service 10 ms.
        r.record(ms(0), ms(90), ms(100), OpOutcome::Ok);
        let s = r.summary();
        assert!((99_000..=101_000).contains(&s.p50_us), "{s:?}");
        assert!((9_900..=10_100).contains(&s.service_p50_us), "{s:?}");
    }

    #[test]
    fn warmup_is_excluded_from_the_summary_but_kept_in_windows() {
        let mut r = Recorder::new(ms(100), (ms(1_000), ms(2_000)));
        r.record(ms(500), ms(500), ms(510), OpOutcome::Ok);
        r.record(ms(1_500), ms(1_500), ms(1_520), OpOutcome::Ok);
        r.record(ms(1_600), ms(1_600), ms(1_700), OpOutcome::Timeout);
        r.record(ms(1_700), ms(1_700), ms(1_710), OpOutcome::Error);
        let s = r.summary();
        assert_eq!((s.completed, s.timeouts, s.errors), (1, 1, 1));
        assert_eq!(s.achieved_ops_per_s, 1.0);
        let ts = r.timeseries();
        assert_eq!(ts[5].completed, 1);
        assert_eq!(ts[15].completed, 1);
        assert_eq!(ts[17].timeouts, 1);
    }

    #[test]
    fn merging_adds_histograms_instead_of_averaging_percentiles() {
        let mut a = Recorder::new(ms(100), (ms(0), ms(10_000)));
        let mut b = Recorder::new(ms(100), (ms(0), ms(10_000)));
        for _ in 0..99 {
            a.record(ms(0), ms(0), ms(1), OpOutcome::Ok);
        }
        b.record(ms(0), ms(0), ms(1_000), OpOutcome::Ok);
        a.merge(&b);
        let s = a.summary();
        assert_eq!(s.completed, 100);
        // The true p99 of the merged set is 1 ms; averaging the two p99s
        // would give about 500 ms.
        assert!(s.p99_us <= 1_001, "{s:?}");
        assert!(s.max_us >= 999_000);
        let text = a.hgrm();
        assert!(text.contains("Percentile") && text.contains("Total count"));
    }
}
