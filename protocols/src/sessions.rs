//! Client sessions of a replica that orders requests itself (PBFT,
//! HotStuff): the requests it knows and has not executed yet (latest per
//! client), and each client's latest executed request with its answer, so
//! retries are answered without being ordered again.

use crate::client::ClientRequest;
use crate::kv::{ApplyOutcome, KvStore, Response};
use crate::types::ClientId;
use std::collections::BTreeMap;

/// What to do with a request that arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// New: it is now pending.
    Fresh,
    /// Executed already; this was the answer.
    Executed(Response),
    /// Older than what the client asked since: nobody waits for it.
    Stale,
}

/// The pending requests and the answers to the latest executed ones.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sessions {
    /// Requests known and not executed, latest per client.
    pub(crate) pending: BTreeMap<ClientId, ClientRequest>,
    /// Each client's latest executed request (sequence number) and answer.
    last_reply: BTreeMap<ClientId, (u64, Response)>,
}

impl Sessions {
    /// Takes in a request from a client or a peer.
    pub(crate) fn admit(&mut self, request: &ClientRequest) -> Admission {
        let client = request.id.client;
        if let Some((seq, response)) = self.last_reply.get(&client) {
            if request.id.seq == *seq {
                return Admission::Executed(response.clone());
            }
            if request.id.seq < *seq {
                return Admission::Stale;
            }
        }
        if self
            .pending
            .get(&client)
            .is_some_and(|p| p.id.seq > request.id.seq)
        {
            return Admission::Stale;
        }
        self.pending.insert(client, request.clone());
        Admission::Fresh
    }

    /// Executes an ordered request on `kv` (at most once per request) and
    /// updates the sessions.
    pub(crate) fn apply(&mut self, kv: &mut KvStore, r: &ClientRequest) -> ApplyOutcome {
        let outcome = kv.apply(r.id, &r.command);
        if let ApplyOutcome::Executed(response) = &outcome {
            self.last_reply
                .insert(r.id.client, (r.id.seq, response.clone()));
        }
        if self
            .pending
            .get(&r.id.client)
            .is_some_and(|p| p.id.seq <= r.id.seq)
        {
            self.pending.remove(&r.id.client);
        }
        outcome
    }
}
