//! The verdict at the end of a run: liveness of every outstanding request,
//! durability (`durability.rs`), stale reads of version-vector stores
//! (`stale.rs`) and linearizability of the history (for protocols that
//! promise it), and the report (split from `world.rs` to keep files small).

use super::report::{Measured, SimReport, Violation};
use super::world::Simulation;
use crate::check::{check_history_with, CheckLimits, CheckResult, HistoryOp, Outcome};
use crate::core::Protocol;
use crate::types::{RequestId, Time};

impl<P: Protocol> Simulation<P> {
    /// Judges the run: liveness, durability, stale reads and
    /// linearizability.
    pub(super) fn finish(mut self) -> SimReport {
        let mut outstanding = Vec::new();
        for client in &self.clients {
            if let Some(cur) = &client.current {
                outstanding.push((
                    cur.request.id,
                    cur.request.command.clone(),
                    cur.invoke,
                    client.id,
                ));
            }
        }
        let finished = self.all_done_at.is_some();
        if !finished {
            for (request, _, invoked, _) in &outstanding {
                self.checker.violations.push(Violation::Liveness {
                    request: *request,
                    invoked: *invoked,
                });
            }
            if outstanding.is_empty() && self.stats.events < self.cfg.max_events {
                // Clients idle but never finished: should not happen.
                self.checker.violations.push(Violation::Liveness {
                    request: RequestId { client: 0, seq: 0 },
                    invoked: self.now,
                });
            }
        } else {
            self.check_durability();
        }
        self.check_stale_reads();
        if self.cfg.check_linearizability && P::LINEARIZABLE {
            let mut history = self.history();
            for (_, command, invoke, client) in outstanding {
                history.push(HistoryOp {
                    client,
                    command,
                    invoke,
                    ret: self.now,
                    outcome: Outcome::Unknown,
                });
            }
            match check_history_with(
                &history,
                CheckLimits {
                    threads: 1,
                    ..CheckLimits::default()
                },
                P::VERSIONS,
            ) {
                CheckResult::Linearizable { .. } => {}
                CheckResult::Violation(vs) => {
                    for v in vs.into_iter().take(3) {
                        self.checker
                            .violations
                            .push(Violation::Linearizability(Box::new(v)));
                    }
                }
                CheckResult::Unknown { keys } => {
                    self.checker
                        .violations
                        .push(Violation::LinearizabilityUnknown { keys });
                }
            }
        }
        self.stats.elections = self.checker.elections;
        self.stats.end_time = self.now;
        let measured = self.measured();
        SimReport {
            protocol: P::NAME,
            seed: self.cfg.seed,
            violations: std::mem::take(&mut self.checker.violations),
            stats: self.stats.clone(),
            measured,
            trace_digest: self.trace_digest,
            trace: std::mem::take(&mut self.trace),
        }
    }

    /// The completed operations inside the measured window (see
    /// [`Measured`]).
    fn measured(&self) -> Measured {
        let end = Time::ZERO.plus(self.cfg.fault_phase);
        let start = Time::ZERO.plus(self.cfg.fault_phase / 5);
        let latencies_ns: Vec<u64> = self
            .history
            .iter()
            .map(|(_, op)| op)
            .filter(|op| matches!(op.outcome, Outcome::Ok(_)))
            .filter(|op| op.invoke >= start && op.ret <= end)
            .map(|op| op.ret.as_nanos().saturating_sub(op.invoke.as_nanos()))
            .collect();
        Measured {
            window: self.cfg.fault_phase - self.cfg.fault_phase / 5,
            ops: latencies_ns.len() as u64,
            latencies_ns,
        }
    }
}
