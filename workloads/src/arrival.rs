//! When operations start: open-loop schedules computed up front from
//! intended times, and the dispatcher that hands arrivals to logical
//! clients.
//!
//! # Open loop, without coordinated omission
//!
//! The k-th arrival's intended time depends only on the seed, the rate and
//! k, never on when the previous one was actually sent: a late sender sends
//! the overdue arrivals at once, none is skipped, and each one's response
//! time still counts from its intended time (wrk2's correction of
//! coordinated omission; see [`crate::recorder`]).
//!
//! # Arrivals and logical clients
//!
//! A logical client has at most one operation in flight (a protocol client
//! session is sequential), so an arrival cannot simply go to "client
//! k mod n" round-robin: that client may still be busy. The [`Dispatcher`]
//! instead gives each arrival to the client that has been idle longest
//! (a FIFO pool; with all clients idle this is round-robin). An arrival
//! that finds no idle client is *queued*, not dropped: it starts on the
//! next client to finish, oldest arrival first, and its latency still
//! counts from its intended time, so a driver short of clients shows up as
//! latency rather than as silently missing load. Queued arrivals are
//! counted ([`Dispatcher::queued_total`]); those still queued when the run
//! ends are reported by [`Dispatcher::abandon`].
//!
//! # Closed loop
//!
//! Each of `clients * outstanding` logical clients starts at once and
//! issues its next operation as soon as the previous one ends; the intended
//! time is the actual start, so closed-loop latency hides queueing by
//! construction and results are labelled `closed`.

use crate::seed::{derive_seed, Stream};
use crate::spec::{Arrival, Process, WorkloadSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};
use std::collections::VecDeque;
use std::time::Duration;

/// An endless, non-decreasing sequence of intended arrival times, as
/// offsets from the start of the run.
#[derive(Clone, Debug)]
pub struct ArrivalSchedule {
    rate: f64,
    process: Process,
    rng: ChaCha8Rng,
    /// Poisson: running sum of gaps, seconds.
    elapsed_s: f64,
    count: u64,
}

impl ArrivalSchedule {
    /// `rate` arrivals per second (positive and finite, as validated).
    /// Constant: the k-th arrival (from 1) is at exactly `k / rate`.
    /// Poisson: gaps are exponential with mean `1 / rate`.
    pub fn new(rate: f64, process: Process, seed: u64) -> ArrivalSchedule {
        ArrivalSchedule {
            rate: if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                f64::MIN_POSITIVE
            },
            process,
            rng: ChaCha8Rng::seed_from_u64(seed),
            elapsed_s: 0.0,
            count: 0,
        }
    }

    /// The schedule of driver `driver` of `drivers` for an open-loop
    /// `spec`: each driver offers `rate / drivers` from its own random
    /// stream. `None` in closed loop.
    pub fn for_driver(spec: &WorkloadSpec, driver: u32, drivers: u32) -> Option<ArrivalSchedule> {
        match spec.arrival {
            Arrival::Open { rate, process } => Some(ArrivalSchedule::new(
                rate / f64::from(drivers.max(1)),
                process,
                derive_seed(spec.seed, Stream::Arrivals, u64::from(driver)),
            )),
            Arrival::Closed { .. } => None,
        }
    }

    /// Arrivals produced so far (not `Iterator::count`, which would run
    /// the endless schedule to its end).
    pub fn produced(&self) -> u64 {
        self.count
    }
}

impl Iterator for ArrivalSchedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.count += 1;
        let secs = match self.process {
            // From the count, not a running sum: no drift over long runs.
            Process::Constant => self.count as f64 / self.rate,
            Process::Poisson => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                self.elapsed_s += gap / self.rate;
                self.elapsed_s
            }
        };
        Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
    }
}

/// An operation to start now: which logical client, and the time it was
/// meant to start (latency counts from there).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Start {
    /// The logical client, an index in `0..clients`.
    pub client: usize,
    /// Intended start, offset from the start of the run.
    pub intended: Duration,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Open,
    Closed,
}

/// Hands operations to logical clients, keeping at most one in flight per
/// client (see the module documentation for the policy).
#[derive(Clone, Debug)]
pub struct Dispatcher {
    mode: Mode,
    busy: Vec<bool>,
    idle: VecDeque<usize>,
    backlog: VecDeque<Duration>,
    queued_total: u64,
    max_backlog: usize,
}

impl Dispatcher {
    /// Open loop over `clients` logical clients, all idle.
    pub fn open(clients: usize) -> Dispatcher {
        Dispatcher {
            mode: Mode::Open,
            busy: vec![false; clients],
            idle: (0..clients).collect(),
            backlog: VecDeque::new(),
            queued_total: 0,
            max_backlog: 0,
        }
    }

    /// Closed loop over `clients` logical clients (`clients * outstanding`
    /// of the spec); call [`Dispatcher::start_all`] to begin.
    pub fn closed(clients: usize) -> Dispatcher {
        Dispatcher {
            mode: Mode::Closed,
            ..Dispatcher::open(clients)
        }
    }

    /// The dispatcher `spec` calls for, over its logical clients.
    pub fn for_spec(spec: &WorkloadSpec) -> Dispatcher {
        let n = usize::try_from(spec.logical_clients()).unwrap_or(usize::MAX);
        match spec.arrival {
            Arrival::Open { .. } => Dispatcher::open(n),
            Arrival::Closed { .. } => Dispatcher::closed(n),
        }
    }

    /// Closed loop: every idle client starts now. Open loop: nothing
    /// (arrivals come from [`Dispatcher::arrive`]).
    pub fn start_all(&mut self, now: Duration) -> Vec<Start> {
        if self.mode == Mode::Open {
            return Vec::new();
        }
        let mut starts = Vec::with_capacity(self.idle.len());
        while let Some(client) = self.idle.pop_front() {
            self.busy[client] = true;
            starts.push(Start {
                client,
                intended: now,
            });
        }
        starts
    }

    /// An open-loop arrival meant for `intended`: the client to start it on
    /// now, or `None` if every client is busy and it was queued. Ignored in
    /// closed loop.
    pub fn arrive(&mut self, intended: Duration) -> Option<Start> {
        if self.mode == Mode::Closed {
            return None;
        }
        match self.idle.pop_front() {
            Some(client) => {
                self.busy[client] = true;
                Some(Start { client, intended })
            }
            None => {
                self.backlog.push_back(intended);
                self.queued_total += 1;
                self.max_backlog = self.max_backlog.max(self.backlog.len());
                None
            }
        }
    }

    /// `client`'s operation ended at `now`: what it starts next, if
    /// anything (open loop: the oldest queued arrival; closed loop: a new
    /// operation intended now). A client that was not busy is ignored.
    pub fn complete(&mut self, client: usize, now: Duration) -> Option<Start> {
        if !self.busy.get(client).copied().unwrap_or(false) {
            return None;
        }
        let next = match self.mode {
            Mode::Closed => Some(now),
            Mode::Open => self.backlog.pop_front(),
        };
        match next {
            Some(intended) => Some(Start { client, intended }),
            None => {
                self.busy[client] = false;
                self.idle.push_back(client);
                None
            }
        }
    }

    /// Ends the run: closed loop stops re-issuing, and the open-loop
    /// arrivals still queued are removed and returned (never started; a
    /// driver reports them rather than dropping them silently).
    pub fn abandon(&mut self) -> Vec<Duration> {
        self.mode = Mode::Open;
        self.backlog.drain(..).collect()
    }

    /// Whether `client` has an operation in flight.
    pub fn is_busy(&self, client: usize) -> bool {
        self.busy.get(client).copied().unwrap_or(false)
    }

    /// Clients with an operation in flight.
    pub fn busy_count(&self) -> usize {
        self.busy.len() - self.idle.len()
    }

    /// Arrivals waiting for a client now.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// Arrivals that found no idle client, over the whole run.
    pub fn queued_total(&self) -> u64 {
        self.queued_total
    }

    /// The longest the backlog has been.
    pub fn max_backlog(&self) -> usize {
        self.max_backlog
    }
}
