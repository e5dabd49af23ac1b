//! Recovery metrics of a fault, computed from the time series and events
//! alone (so they work on results copied from a testbed, and old ones).
//!
//! Vocabulary after rystsov/perseus and Jepsen: the *unavailability window*
//! is the longest stretch after the fault with no completed operation; the
//! *recovery time* runs from the fault until throughput is back to a
//! fraction (default 90%) of its pre-fault median, measured over a sustained
//! period (default 1 s: the completions of the next second must reach 90% of
//! what a median pre-fault second completes; single short windows are too
//! noisy to be held to the threshold one by one).

/// One time-series window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Start, ms on the experiment clock.
    pub start_ms: f64,
    /// Length, ms.
    pub len_ms: f64,
    /// Completed operations.
    pub completed: u64,
    /// Errors.
    pub errors: u64,
    /// Timeouts.
    pub timeouts: u64,
}

/// Recovery metrics of one fault.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// When the fault struck, ms.
    pub fault_ms: f64,
    /// First leader election after the fault, ms after it.
    pub time_to_leader_ms: Option<f64>,
    /// Longest stretch without a completed operation after the fault, ms.
    pub unavailable_ms: f64,
    /// From the fault until throughput is back, ms (None: never within
    /// the run).
    pub recovery_ms: Option<f64>,
    /// Median completions per window before the fault.
    pub baseline_per_window: f64,
    /// Errors in windows from the fault until recovery (or the end).
    pub errors: u64,
    /// Timeouts in the same windows.
    pub timeouts: u64,
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

/// Computes recovery metrics for a fault at `fault_ms`, given the point's
/// windows (in order), the times of leader elections, the start of the
/// baseline (e.g. the end of warm-up), the threshold and the sustain time.
pub fn recovery(
    windows: &[Window],
    fault_ms: f64,
    elections_ms: &[f64],
    baseline_from_ms: f64,
    threshold: f64,
    sustain_ms: f64,
) -> Recovery {
    let before: Vec<f64> = windows
        .iter()
        .filter(|w| {
            w.start_ms >= baseline_from_ms.min(fault_ms) && w.start_ms + w.len_ms <= fault_ms
        })
        .map(|w| w.completed as f64)
        .collect();
    let before = if before.is_empty() {
        windows
            .iter()
            .filter(|w| w.start_ms + w.len_ms <= fault_ms)
            .map(|w| w.completed as f64)
            .collect()
    } else {
        before
    };
    let baseline = median(before);
    let after: Vec<&Window> = windows
        .iter()
        .filter(|w| w.start_ms + w.len_ms > fault_ms)
        .collect();
    // Longest run of empty windows.
    let (mut longest, mut run) = (0.0f64, 0.0f64);
    for w in &after {
        if w.completed == 0 {
            run += w.len_ms;
            longest = longest.max(run);
        } else {
            run = 0.0;
        }
    }
    // The first window from which the next `sustain` of windows together
    // complete at least `threshold` of what the baseline would (single
    // windows are too noisy to require each one to pass).
    let mut recovered_at = None;
    if baseline > 0.0 {
        for (i, w) in after.iter().enumerate() {
            // A stretch starts with a window that is itself back to the
            // threshold, so the backlog burst right after an outage cannot
            // pay for the outage.
            if w.start_ms < fault_ms || (w.completed as f64) < threshold * baseline {
                continue;
            }
            let span: Vec<&&Window> = after[i..]
                .iter()
                .take_while(|x| x.start_ms < w.start_ms + sustain_ms)
                .collect();
            let covered: f64 = span.iter().map(|x| x.len_ms).sum();
            if covered + 1e-9 < sustain_ms {
                break;
            }
            let done: f64 = span.iter().map(|x| x.completed as f64).sum();
            if done >= threshold * baseline * span.len() as f64 {
                recovered_at = Some(w.start_ms);
                break;
            }
        }
    }
    let until = recovered_at.unwrap_or(f64::INFINITY);
    let (errors, timeouts) = after
        .iter()
        .filter(|w| w.start_ms < until)
        .fold((0, 0), |(e, t), w| (e + w.errors, t + w.timeouts));
    Recovery {
        fault_ms,
        time_to_leader_ms: elections_ms
            .iter()
            .copied()
            .filter(|&t| t >= fault_ms)
            .map(|t| t - fault_ms)
            .reduce(f64::min),
        unavailable_ms: longest,
        recovery_ms: recovered_at.map(|t| (t - fault_ms).max(0.0)),
        baseline_per_window: baseline,
        errors,
        timeouts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(counts: &[u64]) -> Vec<Window> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &c)| Window {
                start_ms: i as f64 * 100.0,
                len_ms: 100.0,
                completed: c,
                errors: 0,
                timeouts: u64::from(c == 0),
            })
            .collect()
    }

    #[test]
    fn a_known_outage_gives_known_numbers() {
        // 10 windows at 50, fault at 1000 ms, 3 empty windows, 1 window at
        // 20, then back to 50 for good (the second from 1400 ms on is full).
        let mut c = vec![50; 10];
        c.extend([0, 0, 0, 20]);
        c.extend(vec![50; 20]);
        let r = recovery(&series(&c), 1000.0, &[1250.0, 300.0], 0.0, 0.9, 1000.0);
        assert_eq!(r.baseline_per_window, 50.0);
        assert_eq!(r.unavailable_ms, 300.0);
        assert_eq!(r.time_to_leader_ms, Some(250.0));
        assert_eq!(r.recovery_ms, Some(400.0));
        assert_eq!(r.timeouts, 3);
    }

    #[test]
    fn no_recovery_within_the_run_is_reported_as_none() {
        let mut c = vec![50; 10];
        c.extend([0, 10, 10, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30]);
        let r = recovery(&series(&c), 1000.0, &[], 0.0, 0.9, 1000.0);
        assert_eq!(r.recovery_ms, None);
        assert_eq!(r.time_to_leader_ms, None);
        assert_eq!(r.unavailable_ms, 100.0);
    }
}
