//! Summaries of read observations: stale-read rate, the distribution of
//! k-staleness, t-visibility and the probability of a consistent read
//! against the time since the last acknowledged write.

use super::{ReadObservation, Returned};

/// The default lower edges (ms) of the time-since-acknowledgement bins.
pub const DEFAULT_BINS_MS: [f64; 8] = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// Reads whose time since the last acknowledged write fell in one bin.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsistencyBin {
    /// Lower edge (ms, inclusive).
    pub t_ms: f64,
    /// Upper edge (ms, exclusive); `None` for the last, open bin.
    pub t_hi_ms: Option<f64>,
    /// Judged reads in the bin.
    pub reads: u64,
    /// Of those, reads that were not stale.
    pub consistent: u64,
    /// Each of those reads' time since the last acknowledgement (ms), so a
    /// model can be evaluated at the times the reads actually had.
    pub times_ms: Vec<f64>,
}

impl ConsistencyBin {
    /// The fraction of consistent reads, or `None` for an empty bin.
    pub fn p_consistent(&self) -> Option<f64> {
        (self.reads > 0).then(|| self.consistent as f64 / self.reads as f64)
    }
}

/// Staleness statistics of one history.
#[derive(Clone, Debug, PartialEq)]
pub struct StalenessSummary {
    /// Successful reads.
    pub reads: u64,
    /// Reads matched to a write (the denominator of every rate below).
    pub judged: u64,
    /// Judged reads that returned the value of a write of unknown outcome
    /// (counted fresh).
    pub unknown_write_reads: u64,
    /// Reads of a value no write of the key wrote (not judged).
    pub unmatched: u64,
    /// Stale reads (k >= 1).
    pub stale: u64,
    /// `k_counts[k]`: judged reads that missed exactly `k` writes.
    pub k_counts: Vec<u64>,
    /// t-visibility of every stale read (ms), sorted ascending.
    pub t_visibility_ms: Vec<f64>,
    /// Probability of a consistent read per bin of time since the latest
    /// acknowledged write (reads before any acknowledged write, or earlier
    /// than the first bin's lower edge, are in no bin).
    pub bins: Vec<ConsistencyBin>,
}

impl StalenessSummary {
    /// Stale reads over judged reads (0 without judged reads).
    pub fn stale_rate(&self) -> f64 {
        ratio(self.stale, self.judged)
    }

    /// The fraction of judged reads with exactly `k` missed writes.
    pub fn k_fraction(&self, k: usize) -> f64 {
        ratio(self.k_counts.get(k).copied().unwrap_or(0), self.judged)
    }

    /// The fraction of judged reads with at least `k` missed writes.
    pub fn k_fraction_at_least(&self, k: usize) -> f64 {
        ratio(self.k_counts.iter().skip(k).sum(), self.judged)
    }

    /// The mean number of missed writes per judged read (PBS's expected
    /// k-staleness).
    pub fn mean_k(&self) -> f64 {
        let total: u64 = self
            .k_counts
            .iter()
            .enumerate()
            .map(|(k, n)| k as u64 * n)
            .sum();
        ratio(total, self.judged)
    }

    /// The largest k seen.
    pub fn max_k(&self) -> u64 {
        self.k_counts.len().saturating_sub(1) as u64
    }

    /// The `q`-quantile (0..=1, nearest rank) of t-visibility over stale
    /// reads, in ms; `None` without stale reads.
    pub fn t_visibility_quantile_ms(&self, q: f64) -> Option<f64> {
        let n = self.t_visibility_ms.len();
        if n == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
        Some(self.t_visibility_ms[rank.clamp(1, n) - 1])
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Summarizes `reads` with bins whose lower edges are `bins_ms` (sorted
/// ascending; bin i is [bins_ms[i], bins_ms[i+1]), the last one open).
pub fn summarize(reads: &[ReadObservation], bins_ms: &[f64]) -> StalenessSummary {
    let mut s = StalenessSummary {
        reads: reads.len() as u64,
        judged: 0,
        unknown_write_reads: 0,
        unmatched: 0,
        stale: 0,
        k_counts: Vec::new(),
        t_visibility_ms: Vec::new(),
        bins: bins_ms
            .iter()
            .enumerate()
            .map(|(i, &t)| ConsistencyBin {
                t_ms: t,
                t_hi_ms: bins_ms.get(i + 1).copied(),
                reads: 0,
                consistent: 0,
                times_ms: Vec::new(),
            })
            .collect(),
    };
    for r in reads {
        match r.returned {
            Returned::Unmatched => {
                s.unmatched += 1;
                continue;
            }
            Returned::Unknown => s.unknown_write_reads += 1,
            Returned::Initial | Returned::Acked(_) => {}
        }
        s.judged += 1;
        let k = usize::try_from(r.k).unwrap_or(usize::MAX);
        if s.k_counts.len() <= k {
            s.k_counts.resize(k + 1, 0);
        }
        s.k_counts[k] += 1;
        if r.is_stale() {
            s.stale += 1;
            if let Some(t) = r.t_visibility_ns {
                s.t_visibility_ms.push(t as f64 / 1e6);
            }
        }
        let Some(since) = r.since_latest_ack_ns else {
            continue;
        };
        let since_ms = since as f64 / 1e6;
        let bin = s
            .bins
            .iter_mut()
            .rev()
            .find(|b| b.t_ms <= since_ms && b.t_hi_ms.is_none_or(|hi| since_ms < hi));
        if let Some(b) = bin {
            b.reads += 1;
            b.consistent += u64::from(!r.is_stale());
            b.times_ms.push(since_ms);
        }
    }
    s.t_visibility_ms.sort_by(f64::total_cmp);
    s
}
