//! The per-cluster certificate authority: generates a CA, issues one
//! certificate per participant, and saves/loads both as PEM files.
//!
//! Files in a cluster directory: `ca.pem` (CA certificate, public),
//! `ca.key` (CA private key, only where certificates are issued), and for
//! each participant `<identity>.pem` / `<identity>.key` (e.g. `node-3.pem`).

use crate::identity::PeerIdentity;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// File name of the CA certificate in a cluster directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key in a cluster directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Failures generating, issuing, saving or loading certificates.
#[derive(Debug, Error)]
pub enum CaError {
    /// Key generation or certificate signing failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file that should be there is not.
    #[error("missing file {}", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// Reading or writing a file failed for another reason.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A file exists but does not hold what it should.
    #[error("{} is not a valid {what}: {detail}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was expected in it.
        what: &'static str,
        /// Why it was rejected.
        detail: String,
    },
    /// A certificate file names another participant than the one asked for.
    #[error("{} certifies {found}, expected {expected}", path.display())]
    WrongIdentity {
        /// The certificate file.
        path: PathBuf,
        /// The identity asked for.
        expected: PeerIdentity,
        /// The identity found in the certificate (or its raw names).
        found: String,
    },
}

/// A cluster's certificate authority: the only trust root its endpoints
/// accept. Holds the CA private key, so it lives with whoever issues
/// certificates (the harness), not on every node.
pub struct ClusterCa {
    name: String,
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A participant's credentials: its certificate and private key, plus the
/// cluster CA certificate it trusts. Everything an endpoint needs for TLS.
#[derive(Clone)]
pub struct Identity {
    peer: PeerIdentity,
    cert: CertificateDer<'static>,
    cert_pem: String,
    key_pkcs8: Vec<u8>,
    key_pem: String,
    ca_cert: CertificateDer<'static>,
    ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Identity")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

fn ca_common_name(cluster: &str) -> String {
    format!("quorumlab {cluster} CA")
}

impl ClusterCa {
    /// Generates a fresh CA (ECDSA P-256) for the cluster `cluster_name`.
    pub fn generate(cluster_name: &str) -> Result<ClusterCa, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, ca_common_name(cluster_name));
        dn.push(DnType::OrganizationName, "quorumlab");
        params.distinguished_name = dn;
        // Path length 0: the CA signs leaf certificates only.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok(ClusterCa {
            name: cluster_name.to_string(),
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The cluster name given at generation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CA certificate (DER), the trust root of the cluster.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The CA certificate in PEM form.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate for `peer`, valid both as TLS server and client,
    /// with `peer.dns_name()` as its only subject alternative name.
    pub fn issue(&self, peer: PeerIdentity) -> Result<Identity, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![peer.dns_name()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, peer.to_string());
        dn.push(DnType::OrganizationName, "quorumlab");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity {
            peer,
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pkcs8: key.serialize_der(),
            key_pem: key.serialize_pem(),
            ca_cert: self.cert.clone(),
            ca_pem: self.cert_pem.clone(),
        })
    }

    /// Writes `ca.pem` and `ca.key` into `dir` (created if needed). The key
    /// file is readable by its owner only.
    pub fn save(&self, dir: &Path) -> Result<(), CaError> {
        create_dir(dir)?;
        write_file(&dir.join(CA_CERT_FILE), &self.cert_pem, false)?;
        write_file(&dir.join(CA_KEY_FILE), &self.key_pem, true)
    }

    /// Loads a CA saved by [`ClusterCa::save`]; the cluster name is read
    /// back from the certificate's common name.
    pub fn load(dir: &Path) -> Result<ClusterCa, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_file(&cert_path)?;
        let key_pem = read_file(&key_path)?;
        let cert = parse_cert(&cert_path, &cert_pem)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| corrupt(&key_path, "private key", e))?;
        let name = cluster_name_of(&cert).ok_or_else(|| CaError::Corrupt {
            path: cert_path.clone(),
            what: "quorumlab CA certificate",
            detail: "no `quorumlab <name> CA` common name".into(),
        })?;
        let key_pem = key.serialize_pem();
        let issuer = Issuer::from_ca_cert_der(&cert, key)
            .map_err(|e| corrupt(&cert_path, "CA certificate", e))?;
        Ok(ClusterCa {
            name,
            cert,
            cert_pem,
            key_pem,
            issuer,
        })
    }
}

/// Loads only the CA certificate (`ca.pem`) from `dir`: what a participant
/// needs to verify its peers, without the CA key.
pub fn load_ca_cert(dir: &Path) -> Result<CertificateDer<'static>, CaError> {
    let path = dir.join(CA_CERT_FILE);
    let pem = read_file(&path)?;
    parse_cert(&path, &pem)
}

impl Identity {
    /// Who this certificate is for.
    pub fn peer(&self) -> PeerIdentity {
        self.peer
    }

    /// This participant's certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// The trusted cluster CA certificate (DER).
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// This participant's private key (PKCS#8 DER), for rustls.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    /// Writes `<identity>.pem` and `<identity>.key` into `dir` (created if
    /// needed), and `ca.pem` unless it is already there.
    pub fn save(&self, dir: &Path) -> Result<(), CaError> {
        create_dir(dir)?;
        let (cert_path, key_path) = identity_paths(dir, self.peer);
        write_file(&cert_path, &self.cert_pem, false)?;
        write_file(&key_path, &self.key_pem, true)?;
        let ca_path = dir.join(CA_CERT_FILE);
        if !ca_path.exists() {
            write_file(&ca_path, &self.ca_pem, false)?;
        }
        Ok(())
    }

    /// Loads the credentials of `peer` from `dir` (`ca.pem`,
    /// `<identity>.pem`, `<identity>.key`), checking that the certificate
    /// names `peer`.
    pub fn load(dir: &Path, peer: PeerIdentity) -> Result<Identity, CaError> {
        let ca_path = dir.join(CA_CERT_FILE);
        let ca_pem = read_file(&ca_path)?;
        let ca_cert = parse_cert(&ca_path, &ca_pem)?;
        let (cert_path, key_path) = identity_paths(dir, peer);
        let cert_pem = read_file(&cert_path)?;
        let key_pem = read_file(&key_path)?;
        let cert = parse_cert(&cert_path, &cert_pem)?;
        match crate::tls::identity_from_cert(&cert) {
            Ok(found) if found == peer => {}
            Ok(found) => {
                return Err(CaError::WrongIdentity {
                    path: cert_path,
                    expected: peer,
                    found: found.to_string(),
                })
            }
            Err(e) => return Err(corrupt(&cert_path, "quorumlab certificate", e)),
        }
        let key = KeyPair::from_pem(&key_pem).map_err(|e| corrupt(&key_path, "private key", e))?;
        Ok(Identity {
            peer,
            cert,
            cert_pem,
            key_pkcs8: key.serialize_der(),
            key_pem,
            ca_cert,
            ca_pem,
        })
    }
}

fn identity_paths(dir: &Path, peer: PeerIdentity) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{peer}.pem")),
        dir.join(format!("{peer}.key")),
    )
}

fn cluster_name_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = x509.subject().iter_common_name().next()?.as_str().ok()?;
    cn.strip_prefix("quorumlab ")?
        .strip_suffix(" CA")
        .map(str::to_string)
}

fn parse_cert(path: &Path, pem: &str) -> Result<CertificateDer<'static>, CaError> {
    let cert = CertificateDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| corrupt(path, "certificate", e))?;
    // PEM armour can wrap garbage; make sure the DER really is X.509.
    x509_parser::parse_x509_certificate(&cert).map_err(|e| corrupt(path, "certificate", e))?;
    Ok(cert)
}

fn corrupt(path: &Path, what: &'static str, detail: impl std::fmt::Display) -> CaError {
    CaError::Corrupt {
        path: path.to_path_buf(),
        what,
        detail: detail.to_string(),
    }
}

fn create_dir(dir: &Path) -> Result<(), CaError> {
    fs::create_dir_all(dir).map_err(|source| CaError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

fn read_file(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => CaError::Missing {
            path: path.to_path_buf(),
        },
        io::ErrorKind::InvalidData => corrupt(path, "PEM file", "not UTF-8 text"),
        _ => CaError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), CaError> {
    let io_err = |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(io_err)?;
    io::Write::write_all(&mut f, contents.as_bytes()).map_err(io_err)?;
    f.sync_all().map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "quorumlab-net-ca-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn issue_encodes_identity() {
        let ca = ClusterCa::generate("t").unwrap();
        let id = ca.issue(PeerIdentity::Node(3)).unwrap();
        assert_eq!(id.peer(), PeerIdentity::Node(3));
        assert_eq!(
            crate::tls::identity_from_cert(id.cert_der()).unwrap(),
            PeerIdentity::Node(3)
        );
        assert_eq!(id.ca_cert_der(), ca.cert_der());
    }

    #[test]
    fn save_load_round_trip() {
        let dir = temp_dir("roundtrip");
        let ca = ClusterCa::generate("alpha").unwrap();
        ca.save(&dir).unwrap();
        let id = ca.issue(PeerIdentity::Client(9)).unwrap();
        id.save(&dir).unwrap();

        let ca2 = ClusterCa::load(&dir).unwrap();
        assert_eq!(ca2.name(), "alpha");
        assert_eq!(ca2.cert_der(), ca.cert_der());
        let id2 = Identity::load(&dir, PeerIdentity::Client(9)).unwrap();
        assert_eq!(id2.cert_der(), id.cert_der());
        assert_eq!(id2.key_pkcs8, id.key_pkcs8);
        // A reloaded CA still issues certificates under the same root.
        let id3 = ca2.issue(PeerIdentity::Node(1)).unwrap();
        assert_eq!(id3.ca_cert_der(), ca.cert_der());
        assert_eq!(load_ca_cert(&dir).unwrap(), *ca.cert_der());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("client-9.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_and_corrupt_files_are_reported() {
        let dir = temp_dir("bad");
        assert!(matches!(
            ClusterCa::load(&dir),
            Err(CaError::Missing { .. })
        ));
        let ca = ClusterCa::generate("beta").unwrap();
        ca.save(&dir).unwrap();
        assert!(matches!(
            Identity::load(&dir, PeerIdentity::Node(0)),
            Err(CaError::Missing { .. })
        ));
        ca.issue(PeerIdentity::Node(0)).unwrap().save(&dir).unwrap();

        fs::write(dir.join("ca.key"), "not a key").unwrap();
        let err = ClusterCa::load(&dir).unwrap_err();
        assert!(
            matches!(
                err,
                CaError::Corrupt {
                    what: "private key",
                    ..
                }
            ),
            "{err}"
        );

        fs::write(
            dir.join("node-0.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = Identity::load(&dir, PeerIdentity::Node(0)).unwrap_err();
        assert!(matches!(err, CaError::Corrupt { .. }), "{err}");

        // A certificate saved under the wrong name is refused.
        let other = ca.issue(PeerIdentity::Node(5)).unwrap();
        fs::write(dir.join("node-0.pem"), &other.cert_pem).unwrap();
        let err = Identity::load(&dir, PeerIdentity::Node(0)).unwrap_err();
        assert!(matches!(err, CaError::WrongIdentity { .. }), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
