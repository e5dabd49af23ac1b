//! The end-of-run durability check, per the protocol's [`Replication`]
//! (split from `world.rs` to keep files small): log positions applied,
//! register versions held by a majority, or version-vector clocks held by
//! the promised number of owners.

use super::report::Violation;
use super::world::Simulation;
use crate::check::{HistoryOp, Outcome};
use crate::core::{Protocol, Replication};
use crate::kv::{Command, Key, Response};
use crate::types::{RequestId, Time};
use crate::vclock::VersionVector;

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
            Replication::Versioned => self.check_versioned_durability(),
            Replication::Log => self.checker.check_durability(&ids, true),
            Replication::Single => self.checker.check_durability(&ids, false),
            Replication::Registers => {
                let rebuilt = self.rebuilt_replicas();
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

    /// What each replica would come back with if all crashed now.
    fn rebuilt_replicas(&self) -> Vec<P> {
        self.cluster
            .nodes()
            .map(|n| {
                let records = self.nodes[n as usize].durable.clone();
                P::recover(n, &self.cluster, &self.proto_cfg, records)
            })
            .collect()
    }

    /// [`Replication::Versioned`]: every acknowledged put's clock (or a
    /// later version) is held by at least the promised number of its key's
    /// owners, rebuilt from their durable records alone.
    fn check_versioned_durability(&mut self) {
        let acked: Vec<(RequestId, Key, VersionVector)> = self
            .history
            .iter()
            .filter_map(|(id, op)| match (&op.command, &op.outcome) {
                (Command::Put { key, .. }, Outcome::Ok(Response::Stored { context })) => {
                    Some((*id, *key, context.clone()))
                }
                _ => None,
            })
            .collect();
        let rebuilt = self.rebuilt_replicas();
        let needed = P::versioned_promises(&self.cluster, &self.proto_cfg).durable_owners;
        for (request, key, clock) in acked {
            let copies = rebuilt
                .iter()
                .filter(|core| core.owns_version(key, &clock))
                .count();
            if copies < needed {
                self.checker.violations.push(Violation::OwnerDurability {
                    request,
                    key,
                    clock,
                    copies,
                    needed,
                });
                break;
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
