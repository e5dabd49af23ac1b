//! Quorum certificates: checking one, and collecting votes into one.

use super::messages::{vote_bytes, BlockHash, Qc, Signed};
use crate::auth::{AuthMode, Keyring};
use crate::types::NodeId;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Checks certificates and remembers the ones it accepted.
#[derive(Clone, Debug)]
pub(crate) struct QcVerifier {
    keys: Keyring,
    n: u32,
    quorum: usize,
    /// (view, block) of certificates already checked: a second
    /// certificate of the same vote is as good as the first.
    verified: BTreeSet<(u64, BlockHash)>,
    /// Digests of certificates whose signatures failed, so that a
    /// retransmitted forgery costs no signature checks (bounded).
    rejected: BTreeSet<[u8; 32]>,
}

/// Most rejected certificates remembered.
const MAX_REJECTED: usize = 1_024;

fn digest(qc: &Qc) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(qc.view.to_le_bytes());
    h.update(qc.block);
    for v in &qc.votes {
        h.update(v.signer.to_le_bytes());
        h.update((v.sig.len() as u64).to_le_bytes());
        h.update(&v.sig);
    }
    h.finalize().into()
}

impl QcVerifier {
    pub(crate) fn new(keys: Keyring, n: u32, quorum: usize) -> QcVerifier {
        QcVerifier {
            keys,
            n,
            quorum,
            verified: BTreeSet::new(),
            rejected: BTreeSet::new(),
        }
    }

    pub(crate) fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// Whether `qc` certifies its block: the genesis certificate, or votes
    /// of at least a quorum of distinct replicas of the cluster, each with
    /// a valid signature when signatures are on. Without signatures the
    /// list of voters is taken on trust.
    pub(crate) fn check(&mut self, qc: &Qc) -> bool {
        if qc.is_genesis() {
            return true;
        }
        if qc.view == 0 {
            return false;
        }
        if self.verified.contains(&(qc.view, qc.block)) {
            return true;
        }
        let mut signers = BTreeSet::new();
        for v in &qc.votes {
            if v.signer >= self.n || !signers.insert(v.signer) {
                return false;
            }
        }
        if signers.len() < self.quorum {
            return false;
        }
        if self.keys.mode() == AuthMode::Signatures {
            let d = digest(qc);
            if self.rejected.contains(&d) {
                return false;
            }
            let msg = vote_bytes(qc.view, &qc.block);
            if !qc
                .votes
                .iter()
                .all(|v| self.keys.verify(v.signer, &msg, &v.sig))
            {
                if self.rejected.len() >= MAX_REJECTED {
                    self.rejected.clear();
                }
                self.rejected.insert(d);
                return false;
            }
        }
        self.verified.insert((qc.view, qc.block));
        true
    }

    /// Remembers a certificate this replica formed from checked votes.
    pub(crate) fn formed(&mut self, qc: &Qc) {
        self.verified.insert((qc.view, qc.block));
    }

    /// Whether `sig` is `voter`'s vote for `block` in `view`.
    pub(crate) fn check_vote(
        &self,
        voter: NodeId,
        view: u64,
        block: &BlockHash,
        sig: &[u8],
    ) -> bool {
        voter < self.n && self.keys.verify(voter, &vote_bytes(view, block), sig)
    }
}

/// Votes received by a leader, per (view, block), until they form a
/// certificate.
#[derive(Clone, Debug, Default)]
pub(crate) struct VoteSet {
    votes: BTreeMap<(u64, BlockHash), BTreeMap<NodeId, Vec<u8>>>,
    /// Views for which a certificate was formed already.
    formed: BTreeSet<u64>,
}

impl VoteSet {
    /// Whether a vote of `voter` for `block` in `view` would count (no
    /// certificate of that view yet, and not a repeat): checking the
    /// signature of one that would not is wasted work.
    pub(crate) fn wants(&self, view: u64, block: &BlockHash, voter: NodeId) -> bool {
        !self.formed.contains(&view)
            && self
                .votes
                .get(&(view, *block))
                .is_none_or(|set| !set.contains_key(&voter))
    }

    /// Adds a checked vote; returns the certificate when this vote
    /// completes a quorum (once per view).
    pub(crate) fn add(
        &mut self,
        view: u64,
        block: BlockHash,
        voter: NodeId,
        sig: Vec<u8>,
        quorum: usize,
    ) -> Option<Qc> {
        if self.formed.contains(&view) {
            return None;
        }
        let set = self.votes.entry((view, block)).or_default();
        set.entry(voter).or_insert(sig);
        if set.len() < quorum {
            return None;
        }
        let votes = set
            .iter()
            .map(|(&signer, sig)| Signed {
                signer,
                sig: sig.clone(),
            })
            .collect();
        self.formed.insert(view);
        self.votes.retain(|&(v, _), _| v > view);
        Some(Qc { view, block, votes })
    }

    /// Forgets votes of views below `view`.
    pub(crate) fn prune(&mut self, view: u64) {
        self.votes.retain(|&(v, _), _| v >= view);
        self.formed.retain(|&v| v >= view);
    }
}
