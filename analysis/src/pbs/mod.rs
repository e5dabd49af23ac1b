//! The PBS WARS Monte Carlo model (Bailis et al., "Probabilistically
//! Bounded Staleness for Practical Partial Quorums", VLDB 2012): predicts the
//! probability that a read started `t` ms after a write committed returns
//! that write, for N replicas and read and write quorums R and W, from four
//! latency distributions:
//!
//! - **W**: the write request from the coordinator to a replica;
//! - **A**: the replica's acknowledgement back to the coordinator;
//! - **R**: the read request from the coordinator to a replica;
//! - **S**: the replica's read response back.
//!
//! One trial: the coordinator sends the write to all N replicas at time 0;
//! replica i has it at w_i, and the write commits when the W-th
//! acknowledgement arrives (the W-th smallest w_i + a_i). A read starts t
//! after the commit and is sent to all N replicas; replica i answers with
//! what it has when the request reaches it (commit + t + r_i), and the
//! coordinator uses the first R responses (smallest r_i + s_i; ties broken
//! at random). The read is consistent if any of them had the write. Every
//! draw is independent and identically distributed across replicas.
//!
//! **Coordinators that are replicas.** WARS assumes the coordinator is not
//! one of the N replicas. In a store where any node coordinates (the Dynamo
//! store on N nodes: every node is a replica of every key) the
//! coordinator's own copy is written, acknowledged, read and answered
//! without a network hop. With `local_replica` = p, the write's coordinator
//! is, with probability p, one of the N replicas chosen uniformly, whose W
//! and A legs are then zero; independently, so is the read's coordinator
//! (its R and S legs zero). With W = 1 such a write commits at once; with
//! R = 1 such a read answers from its own copy.
//!
//! Trials draw their latencies once and evaluate every requested t, so the
//! predicted probability is exactly non-decreasing in t for a fixed seed.
//!
//! **k-staleness.** By default the write is alone (every older write has
//! propagated everywhere), so a read misses at most one version and the
//! expected k-staleness is 1 - P(consistent). With a write interval g, the
//! write is the latest of a stream whose earlier writes committed g, 2g, ...
//! before it, each with its own latencies; a replica returns the newest
//! version it has, the coordinator the newest of its R responses, and k is
//! how many versions the result is behind (at most `max_versions`; a read
//! that saw none of the simulated versions counts as `max_versions`).

#[cfg(test)]
mod tests;
mod visibility;

pub use latency::{parse_ms, Latency, LatencyError};
pub use visibility::Visibility;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use thiserror::Error;

/// Bad model input.
#[derive(Debug, Error)]
pub enum PbsError {
    /// Quorum sizes out of range.
    #[error("R and W must be between 1 and N (got N={n}, R={r}, W={w})")]
    Quorum {
        /// Replicas.
        n: usize,
        /// Read quorum.
        r: usize,
        /// Write quorum.
        w: usize,
    },
    /// A latency distribution that cannot be parsed or read.
    #[error(transparent)]
    Latency(#[from] LatencyError),
    /// Any other bad parameter.
    #[error("{0}")]
    Parameter(String),
}

/// The four WARS latency distributions.
#[derive(Clone, Debug, PartialEq)]
pub struct Wars {
    /// W: write request, coordinator to replica.
    pub write: Latency,
    /// A: write acknowledgement, replica to coordinator.
    pub ack: Latency,
    /// R: read request, coordinator to replica.
    pub read: Latency,
    /// S: read response, replica to coordinator.
    pub response: Latency,
}

impl Wars {
    /// The same distribution for all four.
    pub fn uniform(latency: Latency) -> Wars {
        Wars {
            write: latency.clone(),
            ack: latency.clone(),
            read: latency.clone(),
            response: latency,
        }
    }
}

/// A model to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct PbsModel {
    /// Replicas.
    pub n: usize,
    /// Read quorum.
    pub r: usize,
    /// Write quorum.
    pub w: usize,
    /// The latency distributions.
    pub latencies: Wars,
    /// Time between the commits of successive writes (ms); `None` for an
    /// isolated write.
    pub write_interval_ms: Option<f64>,
    /// Versions simulated with a write interval (the cap on k).
    pub max_versions: usize,
    /// Probability that an operation's coordinator is itself one of the N
    /// replicas (see the module documentation): 0 in the paper's model,
    /// 1 for the Dynamo store on N nodes, N / nodes on more.
    pub local_replica: f64,
}

/// Monte Carlo settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// Trials (each evaluates every t).
    pub trials: u64,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
}

/// The prediction at one time offset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Time from the write's commit to the read's start (ms).
    pub t_ms: f64,
    /// Probability that the read returns the write (or is consistent).
    pub p_consistent: f64,
    /// Expected number of versions the read is behind.
    pub expected_k: f64,
    /// Fraction of trials whose k hit `max_versions` (k is then a lower
    /// bound; 0 without a write interval).
    pub capped: f64,
}

/// Whether R + W > N: every read quorum meets every write quorum, so the
/// model predicts a consistent read at every t.
pub fn is_strict(n: usize, r: usize, w: usize) -> bool {
    r + w > n
}

fn choose(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// The paper's closed form for k-staleness with random, non-expanding
/// quorums: the probability that a read returns one of the last `k`
/// versions, 1 - (C(N-W, R) / C(N, R))^k.
pub fn k_staleness_closed_form(n: usize, r: usize, w: usize, k: u32) -> f64 {
    let miss = choose(n.saturating_sub(w), r) / choose(n, r);
    1.0 - miss.powi(k as i32)
}

impl PbsModel {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), PbsError> {
        let (n, r, w) = (self.n, self.r, self.w);
        if n == 0 || r == 0 || w == 0 || r > n || w > n {
            return Err(PbsError::Quorum { n, r, w });
        }
        if let Some(g) = self.write_interval_ms {
            if !(g.is_finite() && g > 0.0) {
                return Err(PbsError::Parameter(format!(
                    "the write interval must be positive (got {g} ms)"
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.local_replica) {
            return Err(PbsError::Parameter(format!(
                "local_replica is a probability (got {})",
                self.local_replica
            )));
        }
        if self.max_versions == 0 {
            return Err(PbsError::Parameter(
                "max_versions must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// Predicts P(consistent) and the expected k-staleness at each of
    /// `t_ms` (ms after the commit, non-negative).
    pub fn predict(&self, t_ms: &[f64], sim: Simulation) -> Result<Vec<Prediction>, PbsError> {
        self.validate()?;
        if sim.trials == 0 {
            return Err(PbsError::Parameter("trials must be at least 1".into()));
        }
        if let Some(t) = t_ms.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
            return Err(PbsError::Parameter(format!(
                "times must be non-negative (got {t})"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(sim.seed);
        let mut trial = Trial::new(self);
        let (mut consistent, mut k_sum, mut capped) = (
            vec![0u64; t_ms.len()],
            vec![0u64; t_ms.len()],
            vec![0u64; t_ms.len()],
        );
        for _ in 0..sim.trials {
            trial.draw(self, &mut rng);
            for (i, &t) in t_ms.iter().enumerate() {
                let k = trial.k_at(t);
                consistent[i] += u64::from(k == 0);
                k_sum[i] += k as u64;
                capped[i] += u64::from(self.write_interval_ms.is_some() && k == trial.versions);
            }
        }
        let n = sim.trials as f64;
        Ok(t_ms
            .iter()
            .enumerate()
            .map(|(i, &t)| Prediction {
                t_ms: t,
                p_consistent: consistent[i] as f64 / n,
                expected_k: k_sum[i] as f64 / n,
                capped: capped[i] as f64 / n,
            })
            .collect())
    }
}

/// The replica an operation's coordinator is, if it is one (drawn only
/// when the model has local replicas, so the paper's model draws as before).
fn local<G: Rng>(m: &PbsModel, rng: &mut G) -> Option<usize> {
    if m.local_replica <= 0.0 {
        return None;
    }
    (rng.gen::<f64>() < m.local_replica).then(|| rng.gen_range(0..m.n))
}

/// One trial's draws, reduced to what the read needs: for each simulated
/// version j (0 = the latest), the earliest t at which one of the first R
/// responders has it.
struct Trial {
    versions: usize,
    /// (r_i + s_i, tie-break, r_i, i) per replica.
    read: Vec<(f64, u64, f64, usize)>,
    /// w_ij + a_ij per replica, for the commit time.
    acks: Vec<f64>,
    /// w_ij per replica.
    arrivals: Vec<f64>,
    /// Per version: the smallest t at which a first-R responder has it.
    visible_at: Vec<f64>,
}

impl Trial {
    fn new(m: &PbsModel) -> Trial {
        let versions = if m.write_interval_ms.is_some() {
            m.max_versions
        } else {
            1
        };
        Trial {
            versions,
            read: Vec::with_capacity(m.n),
            acks: vec![0.0; m.n],
            arrivals: vec![0.0; m.n],
            visible_at: vec![0.0; versions],
        }
    }

    fn draw<G: Rng>(&mut self, m: &PbsModel, rng: &mut G) {
        let l = &m.latencies;
        let reader = local(m, rng);
        self.read.clear();
        for i in 0..m.n {
            let (r, s) = if reader == Some(i) {
                (0.0, 0.0)
            } else {
                (l.read.sample(rng), l.response.sample(rng))
            };
            self.read.push((r + s, rng.gen::<u64>(), r, i));
        }
        self.read
            .sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let gap = m.write_interval_ms.unwrap_or(0.0);
        for j in 0..self.versions {
            let writer = local(m, rng);
            for i in 0..m.n {
                let (w, a) = if writer == Some(i) {
                    (0.0, 0.0)
                } else {
                    (l.write.sample(rng), l.ack.sample(rng))
                };
                self.arrivals[i] = w;
                self.acks[i] = w + a;
            }
            let (_, commit, _) = self.acks.select_nth_unstable_by(m.w - 1, f64::total_cmp);
            // This version starts so that it commits j * gap before the
            // latest; replica i has it at start + w_i, and the read request
            // (sent at t) reaches it at t + r_i.
            let start = -(j as f64) * gap - *commit;
            self.visible_at[j] = self.read[..m.r]
                .iter()
                .map(|&(_, _, r, i)| start + self.arrivals[i] - r)
                .fold(f64::INFINITY, f64::min);
        }
    }

    /// The number of versions the read started `t` after the latest commit
    /// is behind.
    fn k_at(&self, t: f64) -> usize {
        self.visible_at
            .iter()
            .position(|&v| v <= t)
            .unwrap_or(self.versions)
    }
}
