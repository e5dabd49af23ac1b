//! The model's whole P(consistent) curve at once, for comparing with
//! measured reads at the times they actually had.

use super::{PbsError, PbsModel, Simulation, Trial};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Per trial, the earliest time after the commit at which the read returns
/// an isolated write: P(consistent at t) is the fraction of trials at or
/// below t.
#[derive(Clone, Debug, PartialEq)]
pub struct Visibility {
    /// The trials' times (ms), sorted.
    sorted_ms: Vec<f64>,
}

impl Visibility {
    /// The probability that a read started `t_ms` after the commit returns
    /// the write (as [`PbsModel::predict`] gives for an isolated write).
    pub fn p_consistent(&self, t_ms: f64) -> f64 {
        let seen = self.sorted_ms.partition_point(|&v| v <= t_ms);
        seen as f64 / self.sorted_ms.len() as f64
    }

    /// The mean of [`Self::p_consistent`] over `times_ms`, or `None` for
    /// no times: what the model expects of reads made at those times.
    pub fn mean_p_consistent(&self, times_ms: &[f64]) -> Option<f64> {
        (!times_ms.is_empty()).then(|| {
            times_ms.iter().map(|&t| self.p_consistent(t)).sum::<f64>() / times_ms.len() as f64
        })
    }
}

impl PbsModel {
    /// Simulates the visibility times of an isolated write (the write
    /// interval, if any, is ignored).
    pub fn visibility(&self, sim: Simulation) -> Result<Visibility, PbsError> {
        let model = PbsModel {
            write_interval_ms: None,
            ..self.clone()
        };
        model.validate()?;
        if sim.trials == 0 {
            return Err(PbsError::Parameter("trials must be at least 1".into()));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(sim.seed);
        let mut trial = Trial::new(&model);
        let mut sorted_ms: Vec<f64> = (0..sim.trials)
            .map(|_| {
                trial.draw(&model, &mut rng);
                trial.visible_at[0]
            })
            .collect();
        sorted_ms.sort_by(f64::total_cmp);
        Ok(Visibility { sorted_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pbs::{Latency, Wars};

    #[test]
    fn the_curve_agrees_with_predict() {
        let m = PbsModel {
            n: 3,
            r: 1,
            w: 1,
            latencies: Wars::uniform(Latency::parse("exp:2ms").unwrap()),
            write_interval_ms: None,
            max_versions: 1,
            local_replica: 1.0,
        };
        let sim = Simulation {
            trials: 20_000,
            seed: 3,
        };
        let times = [0.0, 1.0, 2.5, 10.0];
        let v = m.visibility(sim).unwrap();
        for p in m.predict(&times, sim).unwrap() {
            // Same seed, same draws: the same estimate.
            assert!((v.p_consistent(p.t_ms) - p.p_consistent).abs() < 1e-12);
        }
        let mean = v.mean_p_consistent(&[0.0, 10.0]).unwrap();
        assert!((mean - (v.p_consistent(0.0) + v.p_consistent(10.0)) / 2.0).abs() < 1e-12);
        assert_eq!(v.mean_p_consistent(&[]), None);
    }
}
