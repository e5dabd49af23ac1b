//! The stale-read check of version-vector stores
//! ([`Replication::Versioned`]), at the end of a run.
//!
//! A read is stale when, for some put of its key acknowledged no later than
//! the read was invoked, none of the versions the read returned descends
//! from (or equals) the put's acknowledged clock. A get answers only the
//! distinct values of its siblings and their merged clock, so the versions
//! it returned are reconstructed from the replicas' durable records: for
//! each returned value, every recorded clock of it (for the key) that the
//! merged clock covers. Every version a replica sends is durable first
//! (the runtime's send gate), so the records name every version a read can
//! return; a value they do not name is a phantom read. The reconstruction
//! can only over-approximate (a put executed twice, by two coordinators,
//! leaves two clocks with one value), so a read called stale is stale.
//!
//! Stale reads are counted in [`SimStats`](super::SimStats); where the
//! configuration promises fresh reads
//! ([`VersionedPromises::fresh_reads`](crate::core::VersionedPromises)),
//! each is also a violation.

use super::report::Violation;
use super::world::Simulation;
use crate::check::Outcome;
use crate::core::{Protocol, Replication};
use crate::kv::{Command, Key, Response, Value};
use crate::types::{RequestId, Time};
use crate::vclock::VersionVector;
use std::collections::BTreeMap;

/// A put acknowledged to its client.
struct AckedPut {
    /// When the client got the acknowledgement.
    ret: Time,
    request: RequestId,
    /// The acknowledged version's clock.
    clock: VersionVector,
}

/// Per key and value, the clocks of every version recorded durably.
type RecordedClocks = BTreeMap<(Key, Value), Vec<VersionVector>>;

impl<P: Protocol> Simulation<P> {
    /// Judges every successful read of a [`Replication::Versioned`]
    /// protocol against the puts acknowledged before it (see the module
    /// docs); nothing for other protocols.
    pub(crate) fn check_stale_reads(&mut self) {
        if P::REPLICATION != Replication::Versioned {
            return;
        }
        let fresh_promised = P::versioned_promises(&self.cluster, &self.proto_cfg).fresh_reads;
        let recorded = self.recorded_clocks();
        let puts = self.acked_puts();
        for (id, op) in &self.history {
            let (Command::Get { key }, Outcome::Ok(Response::Siblings { values, context })) =
                (&op.command, &op.outcome)
            else {
                continue;
            };
            let mut returned: Vec<&VersionVector> = Vec::new();
            for value in values {
                let before = returned.len();
                if let Some(clocks) = recorded.get(&(*key, value.clone())) {
                    returned.extend(clocks.iter().filter(|c| context.descends(c)));
                }
                if returned.len() == before {
                    self.checker.report(Violation::PhantomRead {
                        read: *id,
                        key: *key,
                        value: value.clone(),
                    });
                }
            }
            self.stats.reads_judged += 1;
            let missed = puts
                .get(key)
                .into_iter()
                .flatten()
                .take_while(|p| p.ret <= op.invoke)
                .find(|p| !returned.iter().any(|c| c.descends(&p.clock)));
            let Some(missed) = missed else {
                continue;
            };
            self.stats.stale_reads += 1;
            if fresh_promised {
                self.checker.report(Violation::StaleRead {
                    read: *id,
                    key: *key,
                    invoked: op.invoke,
                    missed: missed.request,
                    acked: missed.ret,
                });
            }
        }
    }

    /// The clocks of every version any replica recorded durably.
    fn recorded_clocks(&self) -> RecordedClocks {
        let mut out = RecordedClocks::new();
        for host in &self.nodes {
            for version in host.durable.iter().filter_map(P::recorded_version) {
                let clocks = out.entry((version.key, version.value)).or_default();
                if !clocks.contains(&version.clock) {
                    clocks.push(version.clock);
                }
            }
        }
        out
    }

    /// Acknowledged puts per key, in acknowledgement order.
    fn acked_puts(&self) -> BTreeMap<Key, Vec<AckedPut>> {
        let mut puts: BTreeMap<Key, Vec<AckedPut>> = BTreeMap::new();
        for (id, op) in &self.history {
            if let (Command::Put { key, .. }, Outcome::Ok(Response::Stored { context })) =
                (&op.command, &op.outcome)
            {
                puts.entry(*key).or_default().push(AckedPut {
                    ret: op.ret,
                    request: *id,
                    clock: context.clone(),
                });
            }
        }
        for list in puts.values_mut() {
            list.sort_by_key(|p| p.ret);
        }
        puts
    }
}
