//! Authentication of what replicas and clients say (`auth: mac` and
//! `auth: signatures`; see [`crate::auth`] for the keys): sealing outgoing
//! messages, checking incoming ones, client requests and the prepared
//! certificates that view changes carry.
//!
//! Every check runs before the protocol sees the message; what fails is
//! dropped and counted ([`Pbft::auth_rejections`]), never half-processed.

use super::messages::{
    batch_digest, pre_prepare_bytes, prepare_bytes, signed_bytes, Auth, Envelope, PbftMessage,
    PreparedCert, PreparedEntry,
};
use super::Pbft;
use crate::auth::{request_bytes, AuthMode};
use crate::client::ClientRequest;
use crate::core::{Ctx, NodeEvent};
use crate::types::NodeId;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Most signatures a [`SigCache`] remembers of each kind.
const MAX_CACHED: usize = 8_192;

/// Signatures already checked or made by a replica: retransmissions and
/// duplicated deliveries (and prepares that reappear in certificates) then
/// cost a SHA-256 instead of an ed25519 operation. Bounded; forgets
/// everything when full.
#[derive(Clone, Debug, Default)]
pub(super) struct SigCache {
    verified: BTreeSet<[u8; 32]>,
    signed: BTreeMap<[u8; 32], Vec<u8>>,
}

fn cache_key(signer: Option<u64>, msg: &[u8], sig: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    match signer {
        Some(s) => h.update(
            [1u8]
                .into_iter()
                .chain(s.to_le_bytes())
                .collect::<Vec<u8>>(),
        ),
        None => h.update([0u8]),
    }
    h.update((msg.len() as u64).to_le_bytes());
    h.update(msg);
    h.update(sig);
    h.finalize().into()
}

impl Pbft {
    /// Authenticates `msg` for `to` (one receiver: a MAC) or for every
    /// other replica (`None`: an authenticator vector), or signs it.
    pub(super) fn seal(&mut self, to: Option<NodeId>, msg: PbftMessage) -> Envelope {
        let auth = match self.keys.mode() {
            AuthMode::None => Auth::None,
            AuthMode::Mac => {
                let bytes = signed_bytes(self.id, &msg);
                match to {
                    Some(peer) => Auth::Mac(self.keys.mac(peer, &bytes)),
                    None => Auth::Authenticator(self.keys.authenticator(self.n, &bytes)),
                }
            }
            AuthMode::Signatures => Auth::Signature(self.sign_cached(&signed_bytes(self.id, &msg))),
        };
        Envelope { msg, auth }
    }

    /// This replica's signature of `msg`, made once per distinct message.
    pub(super) fn sign_cached(&mut self, msg: &[u8]) -> Vec<u8> {
        let key = cache_key(None, msg, &[]);
        if let Some(sig) = self.sigs.signed.get(&key) {
            return sig.clone();
        }
        let sig = self.keys.sign(msg);
        if self.sigs.signed.len() >= MAX_CACHED {
            self.sigs.signed.clear();
        }
        self.sigs.signed.insert(key, sig.clone());
        sig
    }

    /// Whether `sig` is replica `signer`'s signature of `msg`, checked
    /// once per distinct (signer, message, signature).
    fn verify_cached(&mut self, signer: NodeId, msg: &[u8], sig: &[u8]) -> bool {
        let key = cache_key(Some(signer.into()), msg, sig);
        if self.sigs.verified.contains(&key) {
            return true;
        }
        if !self.keys.verify(signer, msg, sig) {
            return false;
        }
        if self.sigs.verified.len() >= MAX_CACHED {
            self.sigs.verified.clear();
        }
        self.sigs.verified.insert(key);
        true
    }

    /// Whether `msg` would be ignored whatever its authentication (a vote
    /// or pre-prepare of another view or while changing views, a
    /// checkpoint at or below the stable one, a view change for an older
    /// view): such messages are dropped before their check, which saves
    /// the cost of checking replays and stale retransmissions and changes
    /// nothing else (the handlers drop them too).
    pub(super) fn ignored_anyway(&self, msg: &PbftMessage) -> bool {
        match msg {
            PbftMessage::PrePrepare { view, .. }
            | PbftMessage::Prepare { view, .. }
            | PbftMessage::Commit { view, .. } => !self.active || *view != self.view,
            PbftMessage::Checkpoint { seq, .. } => *seq <= self.stable,
            PbftMessage::ViewChange(vc) => vc.view < self.view,
            _ => false,
        }
    }

    /// Whether `envelope` really comes from `from` as it stands: its MAC
    /// (or this replica's tag in its authenticator) or its signature checks
    /// against `from`'s key. Anything goes without authentication.
    pub(super) fn check_envelope(&mut self, from: NodeId, envelope: &Envelope) -> bool {
        match (self.keys.mode(), &envelope.auth) {
            (AuthMode::None, _) => true,
            (AuthMode::Mac, Auth::Mac(tag)) => {
                self.keys
                    .check_mac(from, &signed_bytes(from, &envelope.msg), tag)
            }
            (AuthMode::Mac, Auth::Authenticator(tags)) => {
                self.keys
                    .check_authenticator(from, &signed_bytes(from, &envelope.msg), tags)
            }
            (AuthMode::Signatures, Auth::Signature(sig)) => {
                self.verify_cached(from, &signed_bytes(from, &envelope.msg), sig)
            }
            _ => false,
        }
    }

    /// Whether `request` carries its client's authenticator (always true
    /// without authentication).
    pub(super) fn check_request(&mut self, request: &ClientRequest) -> bool {
        let msg = request_bytes(request);
        match self.keys.mode() {
            AuthMode::None => true,
            AuthMode::Mac => self
                .keys
                .check_client(request.id.client, &msg, &request.auth),
            AuthMode::Signatures => {
                // A request is checked at admission and again in every
                // pre-prepare that carries it: once is enough.
                let key = cache_key(None, &msg, &request.auth);
                if self.sigs.verified.contains(&key) {
                    return true;
                }
                if !self
                    .keys
                    .check_client(request.id.client, &msg, &request.auth)
                {
                    return false;
                }
                if self.sigs.verified.len() >= MAX_CACHED {
                    self.sigs.verified.clear();
                }
                self.sigs.verified.insert(key);
                true
            }
        }
    }

    /// Whether every request of a pre-prepared batch is authentic: a
    /// backup never votes for a request its client did not make.
    pub(super) fn check_batch(&mut self, batch: &[ClientRequest]) -> bool {
        batch.iter().all(|r| self.check_request(r))
    }

    /// Counts (and now and then notes) a message dropped for failing
    /// authentication.
    pub(super) fn rejected(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, what: &str) {
        self.auth_rejected += 1;
        if self.auth_rejected.is_power_of_two() {
            let n = self.auth_rejected;
            ctx.emit(NodeEvent::Note(format!(
                "dropped a {what} from replica {from}: authentication failed ({n} so far)"
            )));
        }
    }

    /// Whether a prepared entry is proven (`auth: signatures`): its batch
    /// has its digest, the primary of its view signed the pre-prepare and
    /// a quorum less one distinct backups signed prepares, all for its
    /// (view, sequence number, digest). Without signatures there is no
    /// proof to check and the view-change rules alone guard `P`.
    pub(super) fn check_cert(&mut self, e: &PreparedEntry) -> bool {
        if self.keys.mode() != AuthMode::Signatures {
            return true;
        }
        if batch_digest(&e.batch) != e.digest {
            return false;
        }
        let primary = self.primary_of(e.view);
        let pp = pre_prepare_bytes(primary, e.view, e.seq, e.digest);
        if !self.verify_cached(primary, &pp, &e.cert.pre_prepare) {
            return false;
        }
        let mut signers = BTreeSet::new();
        for (backup, sig) in &e.cert.prepares {
            let b = *backup;
            if b >= self.n || b == primary || !signers.insert(b) {
                return false;
            }
            if !self.verify_cached(b, &prepare_bytes(b, e.view, e.seq, e.digest), sig) {
                return false;
            }
        }
        signers.len() + 1 >= self.quorum()
    }

    /// The certificate for `seq` having prepared `digest` in the current
    /// view, from the signatures gathered (empty without signatures).
    pub(super) fn make_cert(&self, seq: u64, digest: u64) -> PreparedCert {
        if self.keys.mode() != AuthMode::Signatures {
            return PreparedCert::default();
        }
        let Some(slot) = self.log.get(&seq) else {
            return PreparedCert::default();
        };
        let primary = self.primary_of(self.view);
        let prepares = slot
            .prepares
            .iter()
            .filter(|&(&b, &d)| d == digest && b != primary)
            .filter_map(|(&b, _)| slot.prepare_sigs.get(&b).map(|s| (b, s.clone())))
            .take(self.quorum().saturating_sub(1))
            .collect();
        PreparedCert {
            pre_prepare: slot.pp_sig.clone().unwrap_or_default(),
            prepares,
        }
    }

    /// Whether `seq` has all the signatures a certificate needs (always
    /// true without signatures): the primary's pre-prepare signature
    /// (backups that took the batch from a new view wait for the new
    /// primary's pre-prepare) and a signed prepare per counted vote.
    pub(super) fn cert_complete(&self, seq: u64, digest: u64) -> bool {
        if self.keys.mode() != AuthMode::Signatures {
            return true;
        }
        let cert = self.make_cert(seq, digest);
        !cert.pre_prepare.is_empty() && cert.prepares.len() + 1 >= self.quorum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Cluster, Protocol};
    use crate::pbft::PbftConfig;

    fn replica(mode: AuthMode, id: NodeId) -> Pbft {
        let config = PbftConfig {
            auth: mode,
            key_seed: 3,
            ..PbftConfig::default()
        };
        Pbft::recover(id, &Cluster::new(4), &config, Vec::new())
    }

    fn prepare(seq: u64) -> PbftMessage {
        PbftMessage::Prepare {
            view: 0,
            seq,
            digest: 9,
        }
    }

    #[test]
    fn tampered_or_misattributed_messages_are_rejected() {
        for mode in [AuthMode::Mac, AuthMode::Signatures] {
            let (mut a, mut b) = (replica(mode, 1), replica(mode, 2));
            for to in [Some(2), None] {
                let good = a.seal(to, prepare(5));
                assert!(b.check_envelope(1, &good), "{mode:?} {to:?}");
                // Tampered content: another sequence number.
                let tampered = Envelope {
                    msg: prepare(6),
                    auth: good.auth.clone(),
                };
                assert!(!b.check_envelope(1, &tampered), "{mode:?} {to:?}");
                // Relayed by replica 3 as its own: wrong sender.
                assert!(!b.check_envelope(3, &good), "{mode:?} {to:?}");
                // Stripped of its authentication.
                let bare = Envelope {
                    msg: prepare(5),
                    auth: Auth::None,
                };
                assert!(!b.check_envelope(1, &bare), "{mode:?} {to:?}");
            }
            // A MAC for replica 2 does not convince replica 3.
            if mode == AuthMode::Mac {
                let for_two = a.seal(Some(2), prepare(5));
                assert!(!replica(mode, 3).check_envelope(1, &for_two));
            }
        }
        let mut none = replica(AuthMode::None, 2);
        let bare = replica(AuthMode::None, 1).seal(None, prepare(5));
        assert_eq!(bare.auth, Auth::None);
        assert!(none.check_envelope(3, &bare));
    }

    #[test]
    fn prepared_certificates_prove_only_what_they_sign() {
        let batch = Vec::new();
        let digest = batch_digest(&batch);
        let (view, seq) = (0, 4);
        let signer = |id| replica(AuthMode::Signatures, id).keys;
        let cert = PreparedCert {
            pre_prepare: signer(0).sign(&pre_prepare_bytes(0, view, seq, digest)),
            prepares: [1, 2]
                .into_iter()
                .map(|b| (b, signer(b).sign(&prepare_bytes(b, view, seq, digest))))
                .collect(),
        };
        let entry = PreparedEntry {
            seq,
            view,
            digest,
            batch,
            cert,
        };
        let mut checker = replica(AuthMode::Signatures, 3);
        assert!(checker.check_cert(&entry));
        // The same signatures do not prove another sequence number.
        assert!(!checker.check_cert(&PreparedEntry {
            seq: 5,
            ..entry.clone()
        }));
        // One prepare short of a quorum.
        let mut short = entry.clone();
        short.cert.prepares.pop();
        assert!(!checker.check_cert(&short));
        // A prepare counted twice, or made up by the checker's own key.
        let mut twice = entry.clone();
        twice.cert.prepares[1] = twice.cert.prepares[0].clone();
        assert!(!checker.check_cert(&twice));
        let mut made_up = entry.clone();
        made_up.cert.prepares[1].1 = signer(3).sign(&prepare_bytes(2, view, seq, digest));
        assert!(!checker.check_cert(&made_up));
        // Without signatures there is nothing to check.
        assert!(replica(AuthMode::Mac, 3).check_cert(&short));
    }
}
