//! The CAP/PACELC classification, measured rather than asserted.
//!
//! Input per protocol (one sweep point of a run with `client_partitions`):
//! how available each side of the partition stayed (`availability.csv`),
//! whether the recorded history is linearizable and how many reads were
//! stale, during the partition and outside it, and the latency of
//! operations outside the partition. Output: PACELC's two letters.
//!
//! - **P branch** (during a partition): `PA` when the minority side kept
//!   serving (availability at least [`CapThresholds::available`]), `PC`
//!   when it refused (at most [`CapThresholds::unavailable`]) and nothing
//!   it answered broke consistency; anything between is `P?` (partly
//!   available), and a side that refused yet still returned
//!   inconsistent results is reported as such, not flattered as `PC`.
//! - **E branch** (else, no partition): `EC` when no read outside the
//!   partition was stale, `EL` when the protocol gave up consistency in
//!   normal operation (stale reads there), which it does to answer faster;
//!   the measured latency stands beside it so the trade is visible.
//!   Whether the history is linearizable is reported beside the class:
//!   stores that return siblings are never linearizable by design.

/// When a side counts as available or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapThresholds {
    /// A side at or above this fraction of successful operations is
    /// available.
    pub available: f64,
    /// A side at or below this fraction is unavailable.
    pub unavailable: f64,
}

impl Default for CapThresholds {
    fn default() -> Self {
        CapThresholds {
            available: 0.9,
            unavailable: 0.1,
        }
    }
}

/// What was measured for one protocol configuration.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct CapMeasurement {
    /// Availability of the side with fewer replicas during the partition.
    pub minority_availability: Option<f64>,
    /// Availability of the side with more replicas.
    pub majority_availability: Option<f64>,
    /// Whether the whole history is linearizable (`None`: not checked,
    /// e.g. too large).
    pub linearizable: Option<bool>,
    /// Reads answered during the partition, and how many were stale.
    pub reads_during: u64,
    /// Stale reads among them.
    pub stale_during: u64,
    /// Reads answered outside the partition, and how many were stale.
    pub reads_else: u64,
    /// Stale reads among them.
    pub stale_else: u64,
    /// Median latency of operations outside the partition, ms.
    pub else_p50_ms: Option<f64>,
    /// 99th percentile latency of operations outside the partition, ms.
    pub else_p99_ms: Option<f64>,
}

/// The verdict on one protocol configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapClass {
    /// `PA`, `PC` or `P?`.
    pub partition: &'static str,
    /// `EL` or `EC`.
    pub normal: &'static str,
    /// Why, in a few words (for the report).
    pub because: String,
}

impl CapClass {
    /// The PACELC label, e.g. `PC/EC`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.partition, self.normal)
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|a| format!("{:.0}%", a * 100.0))
        .unwrap_or_else(|| "n/a".into())
}

/// Classifies one measurement.
pub fn classify(m: &CapMeasurement, t: CapThresholds) -> CapClass {
    let inconsistent_during = m.stale_during > 0 || m.linearizable == Some(false);
    let partition = match m.minority_availability {
        Some(a) if a >= t.available => "PA",
        Some(a) if a <= t.unavailable && m.stale_during == 0 => "PC",
        _ => "P?",
    };
    // Linearizability is reported, not used here: a store that returns
    // siblings (Dynamo) is never linearizable, yet with R + W > N it serves
    // no stale read; what PACELC's else branch asks is whether reads lag.
    let normal = if m.stale_else > 0 { "EL" } else { "EC" };
    let mut because = format!(
        "minority side {} available, majority {}",
        pct(m.minority_availability),
        pct(m.majority_availability)
    );
    if inconsistent_during {
        because.push_str(&format!(
            "; {} of {} reads stale during the partition",
            m.stale_during, m.reads_during
        ));
    }
    match m.linearizable {
        Some(true) => because.push_str("; history linearizable"),
        Some(false) => because.push_str("; history NOT linearizable"),
        None => because.push_str("; linearizability not checked"),
    }
    if m.stale_else > 0 {
        because.push_str(&format!(
            "; {} of {} reads stale without a partition",
            m.stale_else, m.reads_else
        ));
    }
    CapClass {
        partition,
        normal,
        because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> CapMeasurement {
        CapMeasurement {
            minority_availability: Some(0.0),
            majority_availability: Some(0.99),
            linearizable: Some(true),
            reads_during: 100,
            reads_else: 500,
            else_p50_ms: Some(1.0),
            else_p99_ms: Some(3.0),
            ..CapMeasurement::default()
        }
    }

    #[test]
    fn a_majority_quorum_system_is_pc_ec() {
        let c = classify(&m(), CapThresholds::default());
        assert_eq!(c.label(), "PC/EC");
        assert!(c.because.contains("minority side 0% available"), "{c:?}");
    }

    #[test]
    fn a_sloppy_store_that_serves_both_sides_with_stale_reads_is_pa_el() {
        let sloppy = CapMeasurement {
            minority_availability: Some(0.97),
            stale_during: 12,
            stale_else: 3,
            linearizable: Some(false),
            ..m()
        };
        // Not linearizable (siblings) but never stale: EC.
        let siblings = CapMeasurement {
            linearizable: Some(false),
            ..m()
        };
        assert_eq!(classify(&siblings, CapThresholds::default()).normal, "EC");
        let c = classify(&sloppy, CapThresholds::default());
        assert_eq!(c.label(), "PA/EL");
        assert!(c.because.contains("12 of 100 reads stale during"), "{c:?}");
        assert!(c.because.contains("3 of 500 reads stale without"), "{c:?}");
    }

    #[test]
    fn available_but_consistent_outside_partitions_is_pa_ec() {
        let c = classify(
            &CapMeasurement {
                minority_availability: Some(0.95),
                stale_during: 4,
                ..m()
            },
            CapThresholds::default(),
        );
        assert_eq!(c.label(), "PA/EC");
    }

    #[test]
    fn partial_availability_or_refusing_with_stale_answers_is_not_pc() {
        let half = CapMeasurement {
            minority_availability: Some(0.5),
            ..m()
        };
        assert_eq!(classify(&half, CapThresholds::default()).partition, "P?");
        let odd = CapMeasurement {
            minority_availability: Some(0.05),
            stale_during: 1,
            ..m()
        };
        assert_eq!(classify(&odd, CapThresholds::default()).partition, "P?");
        let unknown = CapMeasurement {
            minority_availability: None,
            ..m()
        };
        assert_eq!(classify(&unknown, CapThresholds::default()).partition, "P?");
    }
}
