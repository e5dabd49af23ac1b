//! Open-loop arrival schedules, computed from intended times.
//!
//! The k-th arrival's intended time depends only on the seed and k, never on
//! when the driver got around to sending the previous one: a late driver
//! sends late arrivals at once and their latency still counts from the
//! intended time (wrk2's correction of coordinated omission). Nothing is
//! skipped.

use crate::spec::Process;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// An endless sequence of intended arrival offsets from the run's start.
#[derive(Clone, Debug)]
pub struct ArrivalSchedule {
    rate: f64,
    process: Process,
    rng: ChaCha8Rng,
    next_nanos: f64,
    count: u64,
}

impl ArrivalSchedule {
    /// `rate` arrivals per second (must be positive).
    pub fn new(rate: f64, process: Process, seed: u64) -> ArrivalSchedule {
        ArrivalSchedule {
            rate: rate.max(f64::MIN_POSITIVE),
            process,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xa771_7a15),
            next_nanos: 0.0,
            count: 0,
        }
    }

    /// Arrivals produced so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let gap = match self.process {
            Process::Constant => 1e9 / self.rate,
            Process::Poisson => {
                let u: f64 = self.rng.gen_range(f64::EPSILON..1.0);
                -u.ln() * 1e9 / self.rate
            }
        };
        self.next_nanos += gap;
        self.count += 1;
        Some(Duration::from_nanos(self.next_nanos as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let s: Vec<Duration> = ArrivalSchedule::new(1000.0, Process::Constant, 1)
            .take(3)
            .collect();
        assert_eq!(
            s,
            vec![
                Duration::from_millis(1),
                Duration::from_millis(2),
                Duration::from_millis(3)
            ]
        );
    }

    #[test]
    fn poisson_rate_averages_out_and_is_reproducible() {
        let a: Vec<Duration> = ArrivalSchedule::new(2000.0, Process::Poisson, 9)
            .take(20_000)
            .collect();
        let b: Vec<Duration> = ArrivalSchedule::new(2000.0, Process::Poisson, 9)
            .take(20_000)
            .collect();
        assert_eq!(a, b);
        let secs = a.last().unwrap().as_secs_f64();
        let rate = 20_000.0 / secs;
        assert!((rate - 2000.0).abs() < 60.0, "{rate}");
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }
}
