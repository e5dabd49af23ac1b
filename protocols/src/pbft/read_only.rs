//! The read-only optimisation (Castro and Liskov, "Practical Byzantine
//! Fault Tolerance and Proactive Recovery", TOCS 2002, section 5.1.3),
//! switched on by [`super::PbftConfig::read_only`].
//!
//! A client sends a read straight to every replica. A replica answers it at
//! once from its executed state, without ordering it, when it is active in
//! its view; the paper also asks that it has nothing *tentatively*
//! executed, which always holds here since these replicas execute committed
//! batches only (`normal.rs`), so the executed state is a committed prefix.
//! The client accepts [`reply_quorum`] matching answers from distinct
//! replicas; when they cannot match any more, or the attempt times out, it
//! sends the same request again to every replica, and this time it is
//! ordered.
//!
//! The request carries no read-only mark (a [`ClientRequest`] is shared by
//! every protocol and a resend repeats it byte for byte), so a replica
//! answers read-only the *first* arrival of a read from its client and
//! orders every later arrival of the same request id: the client's
//! fallback. A duplicated or retransmitted first attempt only costs an
//! ordering, and mixing read-only and ordered answers to one request is
//! safe, since each comes from a committed state reached after the request
//! was sent (the argument at [`reply_quorum`] holds for both).
//!
//! Answers are bound to the request: a [`crate::client::ClientReply`]
//! names the request id it answers, drivers drop answers to other requests
//! and the client tallies only answers to its request in flight, so a
//! replaying replica cannot make an old answer count for a new read.

use super::config::ByzantineKind;
use super::messages::Batch;
use super::{Pbft, PbftConfig};
use crate::client::{ClientRequest, ReplyBody};
use crate::core::Ctx;
use crate::kv::{Command, Key, KvStore, Response};
use crate::sessions::Sessions;
use crate::types::NodeId;
use std::collections::BTreeMap;

/// A copy of the state machine that remembers each key's value before its
/// latest write, kept only by a [`ByzantineKind::StaleReads`] replica
/// (advanced lazily over the ledger, when it lies).
#[derive(Clone, Debug, Default)]
pub(super) struct Lagging {
    /// Batches applied.
    executed: u64,
    kv: KvStore,
    sessions: Sessions,
    /// Per key, the read answer before its latest write.
    before: BTreeMap<Key, Response>,
}

impl Lagging {
    /// `key`'s value before its latest write among the first `upto`
    /// batches of `ledger` (its only value if it was never written).
    fn stale_read(&mut self, ledger: &[Batch], upto: u64, key: Key) -> Response {
        while self.executed < upto {
            let Some(batch) = usize::try_from(self.executed)
                .ok()
                .and_then(|i| ledger.get(i))
            else {
                break;
            };
            for r in batch {
                let k = r.command.key();
                let old = self.kv.read(k);
                self.sessions.apply(&mut self.kv, r);
                if self.kv.read(k) != old {
                    self.before.insert(k, old);
                }
            }
            self.executed += 1;
        }
        self.before
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.kv.read(key))
    }
}

/// Matching answers from distinct replicas a PBFT client needs before it
/// accepts the result of a read (`is_read`) or of another request.
///
/// Without the read-only optimisation, `f + 1`: at least one of them is
/// correct, and a correct replica answers only after executing the request
/// at its place in the total order.
///
/// With it, `q = (n + f) / 2 + 1` (`2f + 1` for `n = 3f + 1`) for reads
/// *and* for ordered requests, as Castro and Liskov require. A write that
/// completed with `q` matching answers was executed by `q` replicas
/// (`f + 1` correct ones when `n = 3f + 1`) before any later read was sent.
/// A read's `q` matching answers come from replicas intersecting those in
/// at least `2q - n >= f + 1` replicas, so at least one correct replica
/// that executed the write answered the read after executing it, and all
/// answers match its. Hence a read never misses a completed write, and two
/// reads in sequence never go backwards (the second one's quorum meets the
/// first one's correct repliers, whose executed state only grows). With
/// `f + 1` answers on either side the two sets can miss each other in every
/// correct replica: a write completed by two fast replicas and a read
/// answered by two lagging ones (n = 4) sees the old value; and with
/// `f + 1` for writes only, a faulty replica that executed the write can
/// complete it with one correct replica and then join `2f` lagging correct
/// ones in answering a read with the old value.
pub(crate) fn reply_quorum(n: u32, f: usize, config: &PbftConfig, is_read: bool) -> usize {
    let weak = config.unsafe_read_only_f_plus_one
        || (config.unsafe_read_only_writes_f_plus_one && !is_read);
    if config.read_only && !weak {
        (n as usize + f) / 2 + 1
    } else {
        f + 1
    }
}

/// Whether no result can reach `needed` matching answers any more: the
/// best-supported answer plus every replica not heard from yet falls short.
/// The client then falls back to an ordered read rather than wait for its
/// timeout.
pub(crate) fn cannot_match(done: &BTreeMap<NodeId, Response>, n: u32, needed: usize) -> bool {
    let best = done
        .values()
        .map(|r| done.values().filter(|o| *o == r).count())
        .max()
        .unwrap_or(0);
    let silent = (n as usize).saturating_sub(done.len());
    best + silent < needed
}

impl Pbft {
    /// With the read-only optimisation on, answers the first arrival of a
    /// read straight from the client from the executed state. Returns false
    /// when the request should take the ordered path instead (not a read,
    /// or a later arrival: the client's fallback).
    pub(super) fn serve_read_only(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        request: &ClientRequest,
    ) -> bool {
        let Command::Get { key } = request.command else {
            return false;
        };
        let (client, seq) = (request.id.client, request.id.seq);
        if self.read_only_seen.get(&client).is_some_and(|&s| s >= seq) {
            return false;
        }
        self.read_only_seen.insert(client, seq);
        // While changing views the replica does not answer: its executed
        // state is still committed, but the paper's rule is to answer only
        // in an active view, and the client's fallback gets it ordered.
        if self.active {
            let response = if self.byz == Some(ByzantineKind::StaleReads) {
                self.lagging.stale_read(&self.ledger, self.executed, key)
            } else {
                self.kv.read(key)
            };
            self.reply_client(ctx, request.id, ReplyBody::Done(response));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientLogic, ClientReply, ClientStep};
    use crate::kv::Value;
    use crate::pbft::PbftClient;
    use crate::types::RequestId;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn value(v: &'static str, version: u64) -> Response {
        Response::Value {
            value: Some(Value::from_static(v.as_bytes())),
            version,
        }
    }

    #[test]
    fn the_quorum_is_two_f_plus_one_only_with_read_only() {
        let plain = PbftConfig::default();
        let ro = PbftConfig {
            read_only: true,
            ..PbftConfig::default()
        };
        let weak_writes = PbftConfig {
            unsafe_read_only_writes_f_plus_one: true,
            ..ro.clone()
        };
        let weak = PbftConfig {
            unsafe_read_only_f_plus_one: true,
            ..ro.clone()
        };
        for is_read in [true, false] {
            assert_eq!(reply_quorum(4, 1, &plain, is_read), 2);
            assert_eq!(reply_quorum(4, 1, &ro, is_read), 3);
            assert_eq!(reply_quorum(7, 2, &ro, is_read), 5);
            assert_eq!(reply_quorum(5, 1, &ro, is_read), 4);
            assert_eq!(reply_quorum(4, 1, &weak, is_read), 2);
        }
        assert_eq!(reply_quorum(4, 1, &weak_writes, true), 3);
        assert_eq!(reply_quorum(4, 1, &weak_writes, false), 2);
        // Two quorums meet in f + 1 replicas, one of them correct.
        for f in 1..5usize {
            for n in (3 * f as u32 + 1)..(3 * f as u32 + 4) {
                let q = reply_quorum(n, f, &ro, true);
                assert!(2 * q > n as usize + f, "n={n} f={f} q={q}");
                assert!(q <= n as usize - f, "live with f silent: n={n} f={f}");
            }
        }
    }

    fn client(read_only: bool) -> PbftClient {
        let config = PbftConfig {
            read_only,
            ..PbftConfig::default()
        };
        PbftClient::with_config(4, 1, &config)
    }

    fn done(id: RequestId, from: NodeId, response: &Response) -> ClientReply {
        ClientReply {
            id,
            from,
            body: ReplyBody::Done(response.clone()),
        }
    }

    #[test]
    fn read_only_reads_need_two_f_plus_one_matching_answers_to_this_request() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut c = client(true);
        let old = RequestId { client: 1, seq: 1 };
        let id = RequestId { client: 1, seq: 2 };
        let req = ClientRequest::new(id, Command::Get { key: 1 });
        assert_eq!(c.route(&req, &mut rng), vec![0, 1, 2, 3]);
        let fresh = value("new", 2);
        // A replayed answer to an older request counts for nothing.
        assert_eq!(
            c.on_reply(&done(old, 0, &fresh), &mut rng),
            ClientStep::Wait
        );
        assert_eq!(c.on_reply(&done(id, 1, &fresh), &mut rng), ClientStep::Wait);
        // f + 1 = 2 matching answers are not enough; a repeat counts once.
        assert_eq!(c.on_reply(&done(id, 2, &fresh), &mut rng), ClientStep::Wait);
        assert_eq!(c.on_reply(&done(id, 2, &fresh), &mut rng), ClientStep::Wait);
        assert_eq!(
            c.on_reply(&done(id, 3, &fresh), &mut rng),
            ClientStep::Final(fresh)
        );
    }

    #[test]
    fn disagreeing_read_only_answers_fall_back_to_an_ordered_read() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut c = client(true);
        let id = RequestId { client: 1, seq: 1 };
        c.route(&ClientRequest::new(id, Command::Get { key: 1 }), &mut rng);
        let (a, b) = (value("a", 1), value("b", 2));
        assert_eq!(c.on_reply(&done(id, 0, &a), &mut rng), ClientStep::Wait);
        assert_eq!(c.on_reply(&done(id, 1, &b), &mut rng), ClientStep::Wait);
        let everyone = ClientStep::Resend {
            to: vec![0, 1, 2, 3],
            after: std::time::Duration::ZERO,
        };
        assert_eq!(c.on_reply(&done(id, 2, &a), &mut rng), ClientStep::Wait);
        assert_eq!(c.on_reply(&done(id, 3, &b), &mut rng), everyone);
        // Only once; then the ordered answers decide.
        assert_eq!(c.on_reply(&done(id, 3, &b), &mut rng), ClientStep::Wait);
        assert_eq!(c.on_reply(&done(id, 0, &b), &mut rng), ClientStep::Final(b));
    }

    #[test]
    fn writes_need_two_f_plus_one_only_with_read_only_and_go_to_the_primary() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let put = |seq| {
            let id = RequestId { client: 1, seq };
            let value = Value::from_static(b"v");
            ClientRequest::new(id, Command::Put { key: 1, value })
        };
        let ack = Response::Written { version: 1 };
        let mut plain = client(false);
        let r = put(1);
        assert_eq!(plain.route(&r, &mut rng), vec![0]);
        assert_eq!(
            plain.on_reply(&done(r.id, 1, &ack), &mut rng),
            ClientStep::Wait
        );
        let step = plain.on_reply(&done(r.id, 2, &ack), &mut rng);
        assert_eq!(step, ClientStep::Final(ack.clone()));
        // Reads are ordered too without the optimisation.
        let get = ClientRequest::new(RequestId { client: 1, seq: 2 }, Command::Get { key: 1 });
        assert_eq!(plain.route(&get, &mut rng), vec![0]);

        let mut ro = client(true);
        let r = put(1);
        assert_eq!(ro.route(&r, &mut rng), vec![0]);
        assert_eq!(
            ro.on_reply(&done(r.id, 1, &ack), &mut rng),
            ClientStep::Wait
        );
        assert_eq!(
            ro.on_reply(&done(r.id, 2, &ack), &mut rng),
            ClientStep::Wait
        );
        let step = ro.on_reply(&done(r.id, 3, &ack), &mut rng);
        assert_eq!(step, ClientStep::Final(ack));
    }

    #[test]
    fn hopeless_tallies_are_detected_once_no_result_can_win() {
        let mut done = BTreeMap::new();
        assert!(!cannot_match(&done, 4, 3));
        done.insert(0, value("a", 1));
        done.insert(1, value("b", 2));
        // Two replicas unheard: "a" can still reach 3.
        assert!(!cannot_match(&done, 4, 3));
        done.insert(2, value("b", 2));
        assert!(!cannot_match(&done, 4, 3));
        done.insert(3, value("a", 1));
        assert!(cannot_match(&done, 4, 3));
        // The same answers suffice for f + 1.
        assert!(!cannot_match(&done, 4, 2));
    }
}
