//! The end-of-run durability check, per the protocol's [`Replication`]
//! (split from `world.rs` to keep files small).

use super::report::Violation;
use super::world::Simulation;
use crate::check::{HistoryOp, Outcome};
use crate::core::{Protocol, Replication};
use crate::kv::{Command, Response};
use crate::types::{RequestId, Time};

impl<P: Protocol> Simulation<P> {
    /// Every acknowledged write must have survived, in the sense of the
    /// protocol's [`Replication`].
    pub(crate) fn check_durability(&mut self) {
        let acked: Vec<(RequestId, u64, u64)> = self
            .history
            .iter()
            .filter_map(|(id, op)| match op.outcome {
                Outcome::Ok(Response::Written { version }) if !op.command.is_read() => {
                    Some((*id, op.command.key(), version))
                }
                _ => None,
            })
            .collect();
        let ids: Vec<RequestId> = acked.iter().map(|(id, _, _)| *id).collect();
        match P::REPLICATION {
            Replication::Log => self.checker.check_durability(&ids, true),
            Replication::Single => self.checker.check_durability(&ids, false),
            Replication::Registers => {
                // What each replica would come back with if all crashed now.
                let rebuilt: Vec<P> = self
                    .cluster
                    .nodes()
                    .map(|n| {
                        let records = self.nodes[n as usize].durable.clone();
                        P::recover(n, &self.cluster, &self.proto_cfg, records)
                    })
                    .collect();
                let needed = self.cluster.majority();
                for (request, key, version) in acked {
                    let copies = rebuilt
                        .iter()
                        .filter(|core| core.held_version(key).is_some_and(|v| v >= version))
                        .count();
                    if copies < needed {
                        self.checker.violations.push(Violation::QuorumDurability {
                            request,
                            key,
                            version,
                            copies,
                            needed,
                        });
                        break;
                    }
                }
            }
        }
    }

    /// Records an operation that failed for good (rejected, no effect).
    pub(crate) fn record_failed(&mut self, id: RequestId, command: Command, invoke: Time) {
        self.stats.ops_failed += 1;
        self.history.push((
            id,
            HistoryOp {
                client: id.client,
                command,
                invoke,
                ret: self.now,
                outcome: Outcome::Fail,
            },
        ));
    }
}
