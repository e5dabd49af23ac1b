//! Simulated clients: each issues get/put/cas operations one at a time on a
//! small key space, retries through its protocol's client logic, and records
//! every operation for the linearizability check.

use super::config::SimConfig;
use crate::client::{ClientLogic, ClientRequest};
use crate::kv::{Command, Key, Response, Value};
use crate::types::{ClientId, RequestId, Time};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// What a client is doing in the run's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Issuing random operations.
    Random,
    /// Reading these keys once each, then done.
    FinalReads(Vec<Key>),
    /// Finished.
    Done,
}

/// The request a client is waiting on.
#[derive(Clone, Debug)]
pub(crate) struct Outstanding {
    pub(crate) request: ClientRequest,
    pub(crate) invoke: Time,
    /// Bumped on every resend; stale timeouts carry an older attempt.
    pub(crate) attempt: u64,
}

pub(crate) struct SimClient<C> {
    pub(crate) id: ClientId,
    pub(crate) logic: C,
    pub(crate) current: Option<Outstanding>,
    pub(crate) phase: Phase,
    pub(crate) rng: ChaCha8Rng,
    next_seq: u64,
    /// Last version this client saw per key (used as CAS expectation).
    seen_version: BTreeMap<Key, u64>,
}

impl<C> SimClient<C> {
    pub(crate) fn new(id: ClientId, logic: C, rng: ChaCha8Rng) -> SimClient<C> {
        SimClient {
            id,
            logic,
            current: None,
            phase: Phase::Random,
            rng,
            next_seq: 1,
            seen_version: BTreeMap::new(),
        }
    }

    /// The next command to issue, or `None` when the client is done.
    pub(crate) fn next_command(&mut self, cfg: &SimConfig) -> Option<Command> {
        match &mut self.phase {
            Phase::Done => None,
            Phase::FinalReads(keys) => match keys.pop() {
                Some(key) => Some(Command::Get { key }),
                None => {
                    self.phase = Phase::Done;
                    None
                }
            },
            Phase::Random => {
                let key = self.rng.gen_range(0..cfg.keys.max(1));
                if self.rng.gen_bool(cfg.read_ratio.clamp(0.0, 1.0)) {
                    return Some(Command::Get { key });
                }
                // Values are unique per request so the checker can tell
                // writes apart.
                let value = Value::from(format!("c{}-{}", self.id, self.next_seq));
                if self.rng.gen_bool(cfg.cas_ratio.clamp(0.0, 1.0)) {
                    let expected_version = self.seen_version.get(&key).copied().unwrap_or(0);
                    Some(Command::Cas {
                        key,
                        expected_version,
                        value,
                    })
                } else {
                    Some(Command::Put { key, value })
                }
            }
        }
    }

    /// Starts a request for `command` at `now`. As in the real driver
    /// (`workloads`), the client logic prepares the request once, before it
    /// is routed (the Dynamo client attaches its causal context to puts),
    /// and every resend repeats the prepared request.
    pub(crate) fn begin(&mut self, command: Command, now: Time) -> ClientRequest
    where
        C: ClientLogic,
    {
        let id = RequestId {
            client: self.id,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let mut request = ClientRequest::new(id, command);
        self.logic.prepare(&mut request);
        self.current = Some(Outstanding {
            request: request.clone(),
            invoke: now,
            attempt: 0,
        });
        request
    }

    /// Remembers versions seen, for future compare-and-sets.
    pub(crate) fn observe(&mut self, command: &Command, response: &Response) {
        let version = match response {
            Response::Value { version, .. } | Response::Written { version } => *version,
            Response::CasFailed { current_version } => *current_version,
            Response::Siblings { context, .. } | Response::Stored { context } => context.total(),
        };
        self.seen_version.insert(command.key(), version);
    }
}
