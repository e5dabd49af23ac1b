//! Mutual TLS for cluster connections: both ends present a certificate of
//! the cluster CA and trust nothing else. Uses rustls with the `ring`
//! provider, TLS 1.3 only (QUIC requires it), ALPN `quorumlab/2`.

use crate::ca::Identity;
use crate::identity::PeerIdentity;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::sync::Arc;
use thiserror::Error;

/// The application protocol negotiated on every quorumlab connection.
pub const ALPN: &[u8] = b"quorumlab/2";

/// Failures building TLS configurations or identifying a peer.
#[derive(Debug, Error)]
pub enum TlsError {
    /// rustls refused the certificate, key or settings.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built.
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The rustls configuration cannot carry QUIC (no TLS 1.3 suite).
    #[error("QUIC crypto: {0}")]
    Quic(String),
    /// The peer presented no certificate (it cannot have been verified).
    #[error("peer presented no certificate")]
    NoPeerCertificate,
    /// The certificate does not parse as X.509.
    #[error("unparseable certificate: {0}")]
    BadCertificate(String),
    /// The certificate names no quorumlab participant.
    #[error("certificate names no quorumlab peer (names: {0:?})")]
    NoIdentity(Vec<String>),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(identity: &Identity) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca_cert_der().clone())?;
    Ok(roots)
}

/// rustls server side: presents `identity`'s certificate and *requires* a
/// client certificate signed by the cluster CA (the only root).
pub fn server_config(identity: &Identity) -> Result<rustls::ServerConfig, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(identity)?), provider.clone())
            .build()?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der().clone()], identity.key_der())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// rustls client side: trusts only the cluster CA and presents `identity`'s
/// certificate. The server name checked is the dialled peer's DNS name.
pub fn client_config(identity: &Identity) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots(identity)?)
        .with_client_auth_cert(vec![identity.cert_der().clone()], identity.key_der())?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
    Ok(cfg)
}

/// [`server_config`] wrapped for quinn, with the given transport settings.
pub fn quinn_server_config(
    identity: &Identity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ServerConfig, TlsError> {
    let crypto = QuicServerConfig::try_from(server_config(identity)?)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// [`client_config`] wrapped for quinn, with the given transport settings.
pub fn quinn_client_config(
    identity: &Identity,
    transport: Arc<quinn::TransportConfig>,
) -> Result<quinn::ClientConfig, TlsError> {
    let crypto = QuicClientConfig::try_from(client_config(identity)?)
        .map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(transport);
    Ok(cfg)
}

/// Reads the participant named by a certificate's DNS subject alternative
/// names. Only meaningful for a certificate TLS has verified against the
/// cluster CA (as [`connection_identity`] guarantees).
pub fn identity_from_cert(cert: &CertificateDer<'_>) -> Result<PeerIdentity, TlsError> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    let san = x509
        .subject_alternative_name()
        .map_err(|e| TlsError::BadCertificate(e.to_string()))?;
    let mut names = Vec::new();
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                if let Ok(id) = PeerIdentity::from_dns_name(dns) {
                    return Ok(id);
                }
                names.push(dns.to_string());
            }
        }
    }
    Err(TlsError::NoIdentity(names))
}

/// The verified identity of the remote end of an established connection.
pub fn connection_identity(conn: &quinn::Connection) -> Result<PeerIdentity, TlsError> {
    let any = conn.peer_identity().ok_or(TlsError::NoPeerCertificate)?;
    let chain = any
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| TlsError::NoPeerCertificate)?;
    let leaf = chain.first().ok_or(TlsError::NoPeerCertificate)?;
    identity_from_cert(leaf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::ClusterCa;

    #[test]
    fn configs_build_with_alpn() {
        let ca = ClusterCa::generate("tls").unwrap();
        let id = ca.issue(PeerIdentity::Node(1)).unwrap();
        assert_eq!(
            server_config(&id).unwrap().alpn_protocols,
            vec![ALPN.to_vec()]
        );
        assert_eq!(
            client_config(&id).unwrap().alpn_protocols,
            vec![ALPN.to_vec()]
        );
        let t = Arc::new(quinn::TransportConfig::default());
        quinn_server_config(&id, t.clone()).unwrap();
        quinn_client_config(&id, t).unwrap();
    }

    #[test]
    fn ca_cert_carries_no_identity() {
        let ca = ClusterCa::generate("tls").unwrap();
        assert!(matches!(
            identity_from_cert(ca.cert_der()),
            Err(TlsError::NoIdentity(_))
        ));
        assert!(matches!(
            identity_from_cert(&CertificateDer::from(vec![1, 2, 3])),
            Err(TlsError::BadCertificate(_))
        ));
    }
}
