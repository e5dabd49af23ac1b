//! HotStuff's client logic: PBFT's (a result is final once `f + 1`
//! replicas sent the same one; a timed-out attempt goes to every replica),
//! but the first attempt goes to a *contact* replica rather than to a
//! primary. Any replica will do, since every replica forwards requests to
//! the leaders, and HotStuff has no stable primary to redirect to. Clients
//! start on replica 0, and a client whose attempt timed out moves to the
//! next replica: a crashed contact costs one client timeout, not one per
//! request. (Starting every client on replica 0, rather than spreading
//! them, is deliberate: the simulator suites make replica 0 the faulty
//! one, and an equivocating leader forks the log with the requests it
//! receives; spread clients let the broken two-chain variant go uncaught
//! more often.)

use crate::client::{ClientLogic, ClientReply, ClientRequest, ClientStep};
use crate::pbft::PbftClient;
use crate::types::{NodeId, RequestId};
use rand::RngCore;

/// HotStuff client logic for one logical client.
#[derive(Clone, Debug)]
pub struct HotstuffClient {
    tally: PbftClient,
    n: u32,
    contact: NodeId,
}

impl HotstuffClient {
    /// A client of `n` replicas tolerating `f` faulty ones.
    pub fn new(n: u32, f: usize) -> HotstuffClient {
        let n = n.max(1);
        HotstuffClient {
            tally: PbftClient::new(n, f),
            n,
            contact: 0,
        }
    }

    /// The replica that gets the next first attempt.
    pub fn contact(&self) -> NodeId {
        self.contact
    }
}

impl ClientLogic for HotstuffClient {
    fn route(&mut self, request: &ClientRequest, rng: &mut dyn RngCore) -> Vec<NodeId> {
        // Opens the tally for the request; the destination is ours.
        self.tally.route(request, rng);
        vec![self.contact]
    }

    fn on_reply(&mut self, reply: &ClientReply, rng: &mut dyn RngCore) -> ClientStep {
        self.tally.on_reply(reply, rng)
    }

    fn on_timeout(&mut self, id: RequestId, rng: &mut dyn RngCore) -> ClientStep {
        self.contact = (self.contact + 1) % self.n;
        self.tally.on_timeout(id, rng)
    }

    fn finish(&mut self, id: RequestId) {
        self.tally.finish(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::Command;
    use rand::SeedableRng;

    #[test]
    fn the_contact_rotates_on_timeouts() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = HotstuffClient::new(4, 1);
        let req = ClientRequest::new(RequestId { client: 6, seq: 1 }, Command::Get { key: 1 });
        assert_eq!(c.route(&req, &mut rng), vec![0]);
        match c.on_timeout(req.id, &mut rng) {
            ClientStep::Resend { to, .. } => assert_eq!(to, vec![0, 1, 2, 3]),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(c.contact(), 1);
        c.finish(req.id);
        let next = ClientRequest::new(RequestId { client: 6, seq: 2 }, Command::Get { key: 1 });
        assert_eq!(c.route(&next, &mut rng), vec![1]);
    }
}
