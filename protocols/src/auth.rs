//! Authentication for the Byzantine protocols: none, pairwise MACs, or
//! signatures.
//!
//! - [`AuthMode::None`]: nothing is signed. The transport (mutual TLS)
//!   authenticates the *sender* of each message, so a replica cannot pose
//!   as another one, but anything a message *relays* (a quorum certificate
//!   naming who voted) is taken on trust.
//! - [`AuthMode::Mac`]: HMAC-SHA256 with a key per pair of replicas. A MAC
//!   convinces only the receiver it was computed for, so it cannot prove to
//!   a third replica what someone else said: MACs protect point-to-point
//!   messages, never relayed certificates.
//! - [`AuthMode::Signatures`]: ed25519 signatures; anyone can check them,
//!   so certificates made of signatures are transferable proofs.
//!
//! **Lab simplification: keys are derived, not distributed.** Every
//! replica's signing key and every pairwise MAC key is derived
//! deterministically from the configuration's `key_seed` and the replica
//! ids, so every node can derive every key, its peers' secret keys
//! included. This keeps runs reproducible and needs no key distribution;
//! it measures the *cost* of the cryptography faithfully, and the
//! simulator's Byzantine replicas are written to use only their own keys.
//! It is a benchmark setting, not a deployment: a real deployment gives
//! each replica its own secret key and the others only its public key.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::types::NodeId;

/// How replicas authenticate what they say to each other.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No authentication beyond the transport's (the default).
    #[default]
    None,
    /// HMAC-SHA256 per pair of replicas (not transferable).
    Mac,
    /// ed25519 signatures (transferable).
    Signatures,
}

/// One replica's keys: its own signing key, every replica's public key and
/// its MAC keys with every peer, all derived from a seed (see the module
/// docs for why that is acceptable here only).
#[derive(Clone, Debug)]
pub struct Keyring {
    mode: AuthMode,
    id: NodeId,
    seed: u64,
    signing: Option<SigningKey>,
    public: Vec<VerifyingKey>,
}

/// Length of an ed25519 signature and of an HMAC-SHA256 tag, in bytes.
pub const SIGNATURE_LEN: usize = 64;

fn derive(label: &[u8], seed: u64, ids: &[NodeId]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"quorumlab-auth/");
    h.update(label);
    h.update(seed.to_le_bytes());
    for id in ids {
        h.update(id.to_le_bytes());
    }
    h.finalize().into()
}

fn signing_key(seed: u64, id: NodeId) -> SigningKey {
    SigningKey::from_bytes(&derive(b"ed25519", seed, &[id]))
}

impl AuthMode {
    /// The name used in configurations and result columns.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::Mac => "mac",
            AuthMode::Signatures => "signatures",
        }
    }
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Keyring {
    /// The keys of replica `id` in a cluster of `n`, derived from `seed`.
    /// Only [`AuthMode::Signatures`] derives ed25519 keys (which costs a
    /// scalar multiplication per replica).
    pub fn new(mode: AuthMode, seed: u64, n: u32, id: NodeId) -> Keyring {
        let (signing, public) = if mode == AuthMode::Signatures {
            let public = (0..n)
                .map(|r| signing_key(seed, r).verifying_key())
                .collect();
            (Some(signing_key(seed, id)), public)
        } else {
            (None, Vec::new())
        };
        Keyring {
            mode,
            id,
            seed,
            signing,
            public,
        }
    }

    /// The mode these keys serve.
    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// Signs `msg` with this replica's key ([`AuthMode::Signatures`]); an
    /// empty signature in the other modes.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.signing {
            Some(key) => key.sign(msg).to_bytes().to_vec(),
            None => Vec::new(),
        }
    }

    /// Whether `sig` is `signer`'s signature of `msg`. Without signatures
    /// every signature is accepted (the caller trusts the claim).
    pub fn verify(&self, signer: NodeId, msg: &[u8], sig: &[u8]) -> bool {
        if self.mode != AuthMode::Signatures {
            return true;
        }
        let Some(key) = self.public.get(signer as usize) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        key.verify(msg, &sig).is_ok()
    }

    fn mac_key(&self, peer: NodeId) -> [u8; 32] {
        let (a, b) = (self.id.min(peer), self.id.max(peer));
        derive(b"hmac-sha256", self.seed, &[a, b])
    }

    /// HMAC-SHA256 of `msg` under the key this replica shares with `peer`.
    pub fn mac(&self, peer: NodeId, msg: &[u8]) -> Vec<u8> {
        match Hmac::<Sha256>::new_from_slice(&self.mac_key(peer)) {
            Ok(mut m) => {
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Whether `tag` is the MAC `peer` computed over `msg` for this replica
    /// (constant-time comparison).
    pub fn check_mac(&self, peer: NodeId, msg: &[u8], tag: &[u8]) -> bool {
        match Hmac::<Sha256>::new_from_slice(&self.mac_key(peer)) {
            Ok(mut m) => {
                m.update(msg);
                m.verify_slice(tag).is_ok()
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_signer_and_message() {
        let a = Keyring::new(AuthMode::Signatures, 7, 4, 1);
        let b = Keyring::new(AuthMode::Signatures, 7, 4, 2);
        let sig = a.sign(b"vote");
        assert_eq!(sig.len(), SIGNATURE_LEN);
        assert!(b.verify(1, b"vote", &sig));
        assert!(!b.verify(2, b"vote", &sig));
        assert!(!b.verify(1, b"vote!", &sig));
        assert!(!b.verify(9, b"vote", &sig));
        assert!(!b.verify(1, b"vote", &sig[..10]));
        // Another seed is another key set.
        let c = Keyring::new(AuthMode::Signatures, 8, 4, 2);
        assert!(!c.verify(1, b"vote", &sig));
        // Without signatures, claims are trusted.
        let none = Keyring::new(AuthMode::None, 7, 4, 2);
        assert!(none.sign(b"x").is_empty());
        assert!(none.verify(1, b"vote", &[]));
    }

    #[test]
    fn macs_are_pairwise() {
        let a = Keyring::new(AuthMode::Mac, 3, 4, 0);
        let b = Keyring::new(AuthMode::Mac, 3, 4, 1);
        let c = Keyring::new(AuthMode::Mac, 3, 4, 2);
        let tag = a.mac(1, b"hello");
        assert!(b.check_mac(0, b"hello", &tag));
        assert!(!b.check_mac(0, b"hellO", &tag));
        // Replica 2 shares another key with 0: it cannot check 0's tag
        // for 1 (MACs are not transferable).
        assert!(!c.check_mac(0, b"hello", &tag));
    }

    #[test]
    fn mode_names_are_lowercase() {
        let m: AuthMode = serde_yaml_like("signatures");
        assert_eq!(m, AuthMode::Signatures);
        assert_eq!(AuthMode::default(), AuthMode::None);
    }

    fn serde_yaml_like(s: &str) -> AuthMode {
        use serde::de::IntoDeserializer;
        let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            s.into_deserializer();
        AuthMode::deserialize(d).expect("known mode")
    }
}
