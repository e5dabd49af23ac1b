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
//! Client keys ([`ClientKeys`], for protocols whose replicas must not be
//! able to forge a request in a client's name) are derived the same way
//! from the seed and the client id.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::ClientRequest;
use crate::types::{ClientId, NodeId};
use std::collections::BTreeMap;

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
    /// Clients' public keys derived so far (a scalar multiplication each).
    clients: BTreeMap<ClientId, VerifyingKey>,
}

/// Length of an ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an HMAC-SHA256 tag, in bytes.
pub const MAC_LEN: usize = 32;
/// Most client public keys a [`Keyring`] caches.
const MAX_CLIENT_KEYS: usize = 4_096;

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

/// Client keys live in their own label space: client 3 and replica 3 have
/// unrelated keys.
fn derive_client(label: &[u8], seed: u64, client: ClientId, replica: Option<NodeId>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"quorumlab-auth/client/");
    h.update(label);
    h.update(seed.to_le_bytes());
    h.update(client.to_le_bytes());
    if let Some(r) = replica {
        h.update(r.to_le_bytes());
    }
    h.finalize().into()
}

fn client_signing_key(seed: u64, client: ClientId) -> SigningKey {
    SigningKey::from_bytes(&derive_client(b"ed25519", seed, client, None))
}

fn hmac(key: &[u8; 32], msg: &[u8]) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hmac_ok(key: &[u8; 32], msg: &[u8], tag: &[u8]) -> bool {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(msg);
            m.verify_slice(tag).is_ok()
        }
        Err(_) => false,
    }
}

/// Where receiver `to`'s tag sits in an authenticator from `from` to all
/// `n` replicas (one tag per replica other than the sender, by id).
fn slot_in_authenticator(from: NodeId, to: NodeId) -> usize {
    (if to > from { to - 1 } else { to }) as usize
}

/// The bytes a client authenticates for a request: its id (client and
/// sequence number) and command, so an authenticator cannot be moved to
/// another request or another client.
pub fn request_bytes(request: &ClientRequest) -> Vec<u8> {
    let mut out = b"quorumlab-request/".to_vec();
    out.extend_from_slice(&request.id.client.to_le_bytes());
    out.extend_from_slice(&request.id.seq.to_le_bytes());
    // Encoding a command into memory cannot fail; an empty encoding would
    // only weaken the binding, never let a request through unchecked.
    out.extend_from_slice(&postcard::to_allocvec(&request.command).unwrap_or_default());
    out
}

/// One client's keys (derived like the replicas', see the module docs):
/// it authenticates its requests to the `n` replicas.
#[derive(Clone, Debug)]
pub struct ClientKeys {
    mode: AuthMode,
    seed: u64,
    n: u32,
    client: ClientId,
    signing: Option<SigningKey>,
}

impl ClientKeys {
    /// The keys of `client` for a cluster of `n` replicas.
    pub fn new(mode: AuthMode, seed: u64, n: u32, client: ClientId) -> ClientKeys {
        let signing = (mode == AuthMode::Signatures).then(|| client_signing_key(seed, client));
        ClientKeys {
            mode,
            seed,
            n,
            client,
            signing,
        }
    }

    /// The authenticator of `msg`: nothing ([`AuthMode::None`]), one MAC
    /// per replica in id order ([`AuthMode::Mac`]), or a signature.
    pub fn authenticate(&self, msg: &[u8]) -> Vec<u8> {
        match self.mode {
            AuthMode::None => Vec::new(),
            AuthMode::Mac => (0..self.n)
                .flat_map(|r| {
                    hmac(
                        &derive_client(b"hmac-sha256", self.seed, self.client, Some(r)),
                        msg,
                    )
                })
                .collect(),
            AuthMode::Signatures => match &self.signing {
                Some(key) => key.sign(msg).to_bytes().to_vec(),
                None => Vec::new(),
            },
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
            clients: BTreeMap::new(),
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
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
        hmac(&self.mac_key(peer), msg)
    }

    /// Whether `tag` is the MAC `peer` computed over `msg` for this replica
    /// (constant-time comparison).
    pub fn check_mac(&self, peer: NodeId, msg: &[u8], tag: &[u8]) -> bool {
        hmac_ok(&self.mac_key(peer), msg, tag)
    }

    /// An authenticator for a message broadcast to all `n` replicas
    /// (Castro and Liskov's): one MAC per other replica, in id order, each
    /// receiver checking its own ([`Keyring::check_authenticator`]).
    pub fn authenticator(&self, n: u32, msg: &[u8]) -> Vec<u8> {
        (0..n)
            .filter(|&r| r != self.id)
            .flat_map(|r| self.mac(r, msg))
            .collect()
    }

    /// Whether this replica's tag in `peer`'s authenticator `auth` is the
    /// MAC of `msg`.
    pub fn check_authenticator(&self, peer: NodeId, msg: &[u8], auth: &[u8]) -> bool {
        if peer == self.id {
            return false;
        }
        let at = slot_in_authenticator(peer, self.id) * MAC_LEN;
        auth.get(at..at + MAC_LEN)
            .is_some_and(|tag| self.check_mac(peer, msg, tag))
    }

    /// Whether `auth` is `client`'s authenticator of `msg` as this replica
    /// can check it: its own MAC in the client's vector ([`AuthMode::Mac`])
    /// or the client's signature. Without authentication every claim is
    /// accepted.
    pub fn check_client(&mut self, client: ClientId, msg: &[u8], auth: &[u8]) -> bool {
        match self.mode {
            AuthMode::None => true,
            AuthMode::Mac => {
                let at = self.id as usize * MAC_LEN;
                let key = derive_client(b"hmac-sha256", self.seed, client, Some(self.id));
                auth.get(at..at + MAC_LEN)
                    .is_some_and(|tag| hmac_ok(&key, msg, tag))
            }
            AuthMode::Signatures => {
                let Ok(sig) = Signature::from_slice(auth) else {
                    return false;
                };
                if self.clients.len() >= MAX_CLIENT_KEYS {
                    self.clients.clear();
                }
                let seed = self.seed;
                let key = self
                    .clients
                    .entry(client)
                    .or_insert_with(|| client_signing_key(seed, client).verifying_key());
                key.verify(msg, &sig).is_ok()
            }
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
    fn authenticators_give_each_receiver_its_own_tag() {
        let keys: Vec<Keyring> = (0..4)
            .map(|r| Keyring::new(AuthMode::Mac, 5, 4, r))
            .collect();
        let auth = keys[2].authenticator(4, b"pre-prepare");
        assert_eq!(auth.len(), 3 * MAC_LEN);
        for r in [0, 1, 3] {
            assert!(keys[r as usize].check_authenticator(2, b"pre-prepare", &auth));
            assert!(!keys[r as usize].check_authenticator(2, b"pre-preparE", &auth));
            // Claimed by another sender: the pairwise key differs.
            let other = if r == 0 { 1 } else { 0 };
            assert!(!keys[r as usize].check_authenticator(other, b"pre-prepare", &auth));
        }
        assert!(!keys[3].check_authenticator(2, b"pre-prepare", &auth[..2 * MAC_LEN]));
    }

    #[test]
    fn client_authenticators_bind_client_and_request() {
        use crate::kv::Command;
        use crate::types::RequestId;
        for mode in [AuthMode::Mac, AuthMode::Signatures] {
            let mut replica = Keyring::new(mode, 11, 4, 3);
            let mut req =
                ClientRequest::new(RequestId { client: 7, seq: 2 }, Command::Get { key: 1 });
            let bytes = request_bytes(&req);
            req.auth = ClientKeys::new(mode, 11, 4, 7).authenticate(&bytes);
            assert!(replica.check_client(7, &bytes, &req.auth), "{mode:?}");
            // Another client's name, another request, another seed.
            assert!(!replica.check_client(8, &bytes, &req.auth), "{mode:?}");
            let mut next = req.clone();
            next.id.seq = 3;
            assert!(!replica.check_client(7, &request_bytes(&next), &req.auth));
            let other = ClientKeys::new(mode, 12, 4, 7).authenticate(&bytes);
            assert!(!replica.check_client(7, &bytes, &other), "{mode:?}");
            // A replica's own key cannot stand in for the client's.
            let forged = Keyring::new(mode, 11, 4, 0);
            let fake = match mode {
                AuthMode::Signatures => forged.sign(&bytes),
                _ => [0u8; 4 * MAC_LEN].to_vec(),
            };
            assert!(!replica.check_client(7, &bytes, &fake), "{mode:?}");
        }
        let mut none = Keyring::new(AuthMode::None, 11, 4, 3);
        assert!(none.check_client(7, b"anything", &[]));
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
