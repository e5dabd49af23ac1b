//! Result rows of trial experiments: `trials.csv` (one row per trial),
//! `trials_cdf.csv` (the empirical CDF of time without leader per point)
//! and the point's `summary.csv` row.

use super::rows::{head_cols, key_cols, summary_table_with};
use super::trials::{TrialOutcome, TrialsOutcome};
use crate::experiment::load::Point;
use crate::results::{Row, Table};
use std::time::Duration;

/// Columns of a trial experiment's `summary.csv` after the swept ones.
const TRIALS_SUMMARY_TAIL: &[&str] = &[
    "election_timeout_ms",
    "crash_within_ms",
    "link_delay_ms",
    "trials",
    "elected",
    "no_leader",
    "min_ms",
    "p50_ms",
    "mean_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
];

/// The summary table of a trial experiment.
pub fn trials_summary_table(swept: &[String]) -> Table {
    summary_table_with(swept, TRIALS_SUMMARY_TAIL)
}

/// `trials.csv`.
pub fn trials_table() -> Table {
    Table::new(
        "trials.csv",
        &[
            "protocol",
            "election_timeout_ms",
            "trial",
            "cluster",
            "crashed_node",
            "old_term",
            "crash_ms",
            "crash_offset_ms",
            "new_leader",
            "new_term",
            "time_without_leader_ms",
            "outcome",
        ],
    )
}

/// `trials_cdf.csv`.
pub fn cdf_table() -> Table {
    Table::new(
        "trials_cdf.csv",
        &[
            "protocol",
            "election_timeout_ms",
            "time_without_leader_ms",
            "cumulative_fraction",
        ],
    )
}

/// `150-300`, the way the Raft paper labels its lines (ms).
pub fn range_label(range: Option<(Duration, Duration)>) -> String {
    let ms = |d: Duration| {
        let v = d.as_secs_f64() * 1000.0;
        if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    };
    range
        .map(|(lo, hi)| format!("{}-{}", ms(lo), ms(hi)))
        .unwrap_or_default()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// One row per trial.
pub fn trial_rows(point: &Point, repetition: u32, out: &TrialsOutcome) -> Vec<Row> {
    let range = range_label(out.election_timeout);
    out.trials
        .iter()
        .map(|t| {
            let mut row = key_cols(point, repetition);
            for (k, v) in [
                ("protocol", point.experiment.protocol.to_string()),
                ("election_timeout_ms", range.clone()),
                ("trial", t.trial.to_string()),
                ("cluster", t.cluster.to_string()),
                ("crashed_node", t.crashed.to_string()),
                ("old_term", t.old_term.to_string()),
                ("crash_ms", format!("{:.3}", t.crash_ms)),
                ("crash_offset_ms", format!("{:.3}", t.crash_offset_ms)),
                ("new_leader", opt(t.new_leader)),
                ("new_term", opt(t.new_term)),
                (
                    "time_without_leader_ms",
                    opt(t.time_without_leader_ms.map(|v| format!("{v:.3}"))),
                ),
                ("outcome", t.outcome.as_str().to_string()),
            ] {
                row.push((k.to_string(), v));
            }
            row
        })
        .collect()
}

/// Times without leader, sorted, with trials that elected nobody last as
/// infinity (they are censored at `give_up`, not missing).
pub fn sorted_times(out: &TrialsOutcome) -> Vec<f64> {
    let mut v: Vec<f64> = out
        .trials
        .iter()
        .map(|t| match t.outcome {
            TrialOutcome::Elected => t.time_without_leader_ms.unwrap_or(f64::INFINITY),
            TrialOutcome::NoLeader => f64::INFINITY,
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Nearest-rank percentile of sorted values (`q` in 0..=1).
pub fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// The empirical CDF: one row per elected trial; the fraction's
/// denominator counts every trial, so a line that ends below 1 shows the
/// trials without a leader.
pub fn cdf_rows(point: &Point, repetition: u32, out: &TrialsOutcome) -> Vec<Row> {
    let range = range_label(out.election_timeout);
    let times = sorted_times(out);
    let n = times.len() as f64;
    times
        .iter()
        .enumerate()
        .filter(|(_, t)| t.is_finite())
        .map(|(i, t)| {
            let mut row = key_cols(point, repetition);
            for (k, v) in [
                ("protocol", point.experiment.protocol.to_string()),
                ("election_timeout_ms", range.clone()),
                ("time_without_leader_ms", format!("{t:.3}")),
                ("cumulative_fraction", format!("{:.6}", (i + 1) as f64 / n)),
            ] {
                row.push((k.to_string(), v));
            }
            row
        })
        .collect()
}

/// The point's `summary.csv` row.
pub fn trials_summary_row(point: &Point, repetition: u32, out: &TrialsOutcome) -> Row {
    let e = &point.experiment;
    let times = sorted_times(out);
    let elected: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    let fmt = |v: Option<f64>| match v {
        Some(x) if x.is_finite() => format!("{x:.1}"),
        Some(_) => "inf".into(),
        None => String::new(),
    };
    let mean = if elected.len() == times.len() && !times.is_empty() {
        Some(times.iter().sum::<f64>() / times.len() as f64)
    } else if times.is_empty() {
        None
    } else {
        Some(f64::INFINITY)
    };
    let mut row = head_cols(point, repetition, "trials");
    let link_delay = e
        .trials
        .as_ref()
        .map(|t| t.link_delay.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    for (k, v) in [
        ("election_timeout_ms", range_label(out.election_timeout)),
        (
            "crash_within_ms",
            format!("{}", out.crash_within.as_secs_f64() * 1000.0),
        ),
        ("link_delay_ms", format!("{link_delay}")),
        ("trials", times.len().to_string()),
        ("elected", elected.len().to_string()),
        ("no_leader", (times.len() - elected.len()).to_string()),
        ("min_ms", fmt(times.first().copied())),
        ("p50_ms", fmt(nearest_rank(&times, 0.5))),
        ("mean_ms", fmt(mean)),
        ("p90_ms", fmt(nearest_rank(&times, 0.9))),
        ("p99_ms", fmt(nearest_rank(&times, 0.99))),
        ("max_ms", fmt(times.last().copied())),
    ] {
        row.push((k.to_string(), v));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(5.0));
        assert_eq!(nearest_rank(&v, 0.9), Some(9.0));
        assert_eq!(nearest_rank(&v, 0.99), Some(10.0));
        assert_eq!(nearest_rank(&v, 0.0), Some(1.0));
        assert_eq!(nearest_rank(&[], 0.5), None);
        let censored = [1.0, 2.0, f64::INFINITY];
        assert_eq!(nearest_rank(&censored, 0.5), Some(2.0));
        assert_eq!(nearest_rank(&censored, 0.99), Some(f64::INFINITY));
    }

    #[test]
    fn ranges_are_labelled_like_the_paper() {
        let ms = Duration::from_millis;
        assert_eq!(range_label(Some((ms(150), ms(300)))), "150-300");
        assert_eq!(
            range_label(Some((Duration::from_micros(12_500), ms(24)))),
            "12.5-24"
        );
        assert_eq!(range_label(None), "");
    }
}
