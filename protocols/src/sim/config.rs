//! Simulation parameters: cluster, clients, network, disk and faults.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Everything that defines one simulated run; with the protocol's own config
/// it determines the run completely.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Seed of every random choice (network, disk, faults, clients, cores).
    pub seed: u64,
    /// Number of replicas.
    pub nodes: u32,
    /// Number of logical clients, each with one request outstanding.
    pub clients: u32,
    /// Keys are drawn uniformly from `0..keys` (small = more contention and a
    /// sharper linearizability check).
    pub keys: u64,
    /// Fraction of operations that are reads.
    pub read_ratio: f64,
    /// Fraction of writes that are compare-and-set (the rest are puts);
    /// taken as 0 for protocols without compare-and-set (ABD).
    pub cas_ratio: f64,
    /// Clients pause a uniform time in `[0, think_time_max]` between operations.
    pub think_time_max: Duration,
    /// Per-attempt client timeout before the client logic is asked to retry.
    pub client_timeout: Duration,
    /// Link behaviour.
    pub network: NetworkConfig,
    /// Time to make a persist record durable, uniform in this range.
    /// Completions stay in order, like a write-ahead log.
    pub disk_latency: (Duration, Duration),
    /// Fault injection during the fault phase.
    pub faults: FaultConfig,
    /// Faults happen in `[0, fault_phase)`; at its end every link heals and
    /// every crashed node restarts.
    pub fault_phase: Duration,
    /// After the heal, clients keep issuing new operations this long, then
    /// read every key once and stop.
    pub calm_phase: Duration,
    /// Every request must complete within this time after the heal
    /// (liveness check).
    pub liveness_bound: Duration,
    /// After the clients are done, the run continues at least this long, and
    /// then until every replica has applied as far as the others (or the
    /// liveness bound runs out), before the durability check.
    pub settle: Duration,
    /// Run the linearizability checker on the history.
    pub check_linearizability: bool,
    /// Keep a textual trace of every event (for the determinism test; slow).
    pub record_trace: bool,
    /// Abort (as a violation) after this many events: a livelock guard.
    pub max_events: u64,
    /// Count the encoded size of every replica message (`SimStats::
    /// bytes_sent`); off by default, since encoding each message costs time.
    pub count_bytes: bool,
    /// Charge each replica's core for what it handles and sends (see
    /// [`super::CpuModel`]); `None` (the default) makes processing free.
    pub cpu: Option<super::CpuModel>,
}

/// How messages travel between two endpoints.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// One-way latency distribution of a link before per-link scaling.
    pub latency: LatencyModel,
    /// Each directed link's latency is scaled by a factor drawn uniformly in
    /// `[1 - spread, 1 + spread]` once per run, so links differ.
    pub per_link_spread: f64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

/// One-way latency distributions. Independent draws per message reorder
/// messages whose send times are closer than the jitter.
#[derive(Clone, Debug)]
pub enum LatencyModel {
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// `min` plus an exponential tail with the given mean (long tails).
    Exponential {
        /// Floor.
        min: Duration,
        /// Mean of the exponential part.
        mean_extra: Duration,
    },
}

impl LatencyModel {
    /// Draws one latency.
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            LatencyModel::Uniform { min, max } => {
                if max <= min {
                    min
                } else {
                    Duration::from_nanos(rng.gen_range(nanos(min)..=nanos(max)))
                }
            }
            LatencyModel::Exponential { min, mean_extra } => {
                let u: f64 = rng.gen_range(f64::EPSILON..1.0);
                let extra = -u.ln() * nanos(mean_extra) as f64;
                // Cap the tail at 100x the mean so one draw cannot stall a run.
                let extra = extra.min(100.0 * nanos(mean_extra) as f64);
                min + Duration::from_nanos(extra as u64)
            }
        }
    }
}

/// Relative weights of the fault kinds and how often faults strike.
#[derive(Clone, Debug)]
pub struct FaultConfig {
    /// Mean time between fault events (exponential inter-arrival).
    pub mean_interval: Duration,
    /// Crash a random running node (never more than `max_crashed` at once).
    pub crash: u32,
    /// Restart a random crashed node.
    pub restart: u32,
    /// Split the nodes into two random groups (symmetric partition).
    pub partition: u32,
    /// Cut one direction of one random link.
    pub one_way: u32,
    /// Isolate the current leader (or a random node if none) from everyone.
    pub isolate_leader: u32,
    /// Make one link 10-50x slower.
    pub slow_link: u32,
    /// Heal all link faults.
    pub heal: u32,
    /// Crash every node at once and restart them all shortly after (tests
    /// that everything acknowledged was durable).
    pub crash_all: u32,
    /// Most nodes crashed at once by `crash` (default: a minority).
    pub max_crashed: Option<u32>,
}

impl FaultConfig {
    /// No faults at all.
    pub fn none() -> FaultConfig {
        FaultConfig {
            mean_interval: Duration::from_secs(1),
            crash: 0,
            restart: 0,
            partition: 0,
            one_way: 0,
            isolate_leader: 0,
            slow_link: 0,
            heal: 0,
            crash_all: 0,
            max_crashed: None,
        }
    }

    /// Sum of the weights.
    pub fn total_weight(&self) -> u32 {
        self.crash
            + self.restart
            + self.partition
            + self.one_way
            + self.isolate_leader
            + self.slow_link
            + self.heal
            + self.crash_all
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl SimConfig {
    /// A fault-free run with moderate latency: for scripted tests and
    /// benchmarks.
    pub fn calm(seed: u64, nodes: u32) -> SimConfig {
        SimConfig {
            seed,
            nodes,
            clients: 4,
            keys: 8,
            read_ratio: 0.5,
            cas_ratio: 0.2,
            think_time_max: ms(5),
            client_timeout: ms(500),
            network: NetworkConfig {
                latency: LatencyModel::Uniform {
                    min: Duration::from_micros(500),
                    max: ms(2),
                },
                per_link_spread: 0.2,
                loss: 0.0,
                duplicate: 0.0,
            },
            disk_latency: (Duration::from_micros(50), Duration::from_micros(500)),
            faults: FaultConfig::none(),
            fault_phase: ms(5_000),
            calm_phase: ms(1_000),
            liveness_bound: ms(15_000),
            settle: ms(1_000),
            check_linearizability: true,
            record_trace: false,
            max_events: 20_000_000,
            count_bytes: false,
            cpu: None,
        }
    }

    /// A randomized adversarial run: the network model, loss and duplication
    /// rates, fault mix and workload are all drawn from `seed`.
    pub fn randomized(seed: u64, nodes: u32) -> SimConfig {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0001);
        let min_us = rng.gen_range(100..2_000);
        let latency = if rng.gen_bool(0.5) {
            LatencyModel::Uniform {
                min: Duration::from_micros(min_us),
                max: Duration::from_micros(min_us + rng.gen_range(200..20_000)),
            }
        } else {
            LatencyModel::Exponential {
                min: Duration::from_micros(min_us),
                mean_extra: Duration::from_micros(rng.gen_range(200..8_000)),
            }
        };
        let loss = [0.0, 0.0, 0.01, 0.03, 0.08][rng.gen_range(0..5)];
        let duplicate = [0.0, 0.0, 0.01, 0.05][rng.gen_range(0..4)];
        let mut c = SimConfig::calm(seed, nodes);
        c.clients = rng.gen_range(2..=6);
        c.keys = rng.gen_range(2..=10);
        c.read_ratio = rng.gen_range(0.2..0.7);
        c.cas_ratio = rng.gen_range(0.0..0.4);
        c.think_time_max = ms(rng.gen_range(0..20));
        c.client_timeout = ms(rng.gen_range(100..800));
        c.network = NetworkConfig {
            latency,
            per_link_spread: rng.gen_range(0.0..0.5),
            loss,
            duplicate,
        };
        let disk_max = rng.gen_range(10..3_000);
        c.disk_latency = (Duration::from_micros(5), Duration::from_micros(disk_max));
        c.faults = FaultConfig {
            mean_interval: ms(rng.gen_range(150..1_200)),
            crash: rng.gen_range(0..=4),
            restart: rng.gen_range(1..=4),
            partition: rng.gen_range(0..=3),
            one_way: rng.gen_range(0..=2),
            isolate_leader: rng.gen_range(0..=3),
            slow_link: rng.gen_range(0..=2),
            heal: rng.gen_range(1..=3),
            crash_all: u32::from(rng.gen_bool(0.3)),
            max_crashed: None,
        };
        c.fault_phase = ms(rng.gen_range(3_000..12_000));
        c.calm_phase = ms(rng.gen_range(500..2_000));
        c
    }

    /// The fault-free variant of this config (same seed and network).
    pub fn without_faults(mut self) -> SimConfig {
        self.faults = FaultConfig::none();
        self
    }
}
