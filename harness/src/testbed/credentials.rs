//! The testbed's certificates, kept beside the inventory so that every run
//! deploys the same files (a second deployment changes nothing):
//!
//! ```text
//! <dir>/ca/            ca.pem, ca.key          (never leaves the controller)
//! <dir>/controller/    ca.pem, control, driver-0   (the harness)
//! <dir>/hosts/<host>/  ca.pem, agent-<i>, node-<n> for n = i, i + H, ...
//!                      (H replica hosts), driver-<k + 1> for the k-th
//!                      driver host; agent-id (i, read by the playbook)
//! ```

use anyhow::Context;
use net::{ClusterCa, PeerIdentity};
use std::path::{Path, PathBuf};

/// Replica ids a testbed is issued certificates for.
pub const MAX_TESTBED_NODES: u32 = 64;

/// Where the credentials of a testbed live.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The folder of the harness' own certificates.
    pub controller: PathBuf,
    /// The folder holding one folder per host.
    pub hosts: PathBuf,
}

fn issue_missing(ca: &ClusterCa, dir: &Path, ids: &[PeerIdentity]) -> anyhow::Result<()> {
    for &id in ids {
        if dir.join(format!("{id}.pem")).exists() && dir.join(format!("{id}.key")).exists() {
            continue;
        }
        ca.issue(id)
            .and_then(|i| i.save(dir))
            .with_context(|| format!("issuing the certificate of {id} into {}", dir.display()))?;
    }
    Ok(())
}

/// The identity of the `k`-th remote driver (`driver-0` is the
/// controller's own, in-process driver).
pub fn remote_driver(k: usize) -> u32 {
    k as u32 + 1
}

/// Creates (once) the CA and every certificate for hosts `names` (agent
/// `i` is `names[i]`; the first `node_hosts` run replicas, the agents in
/// `drivers` run drivers); certificates that exist are kept.
pub fn ensure(
    dir: &Path,
    names: &[String],
    node_hosts: usize,
    drivers: &[u32],
) -> anyhow::Result<Credentials> {
    let ca_dir = dir.join("ca");
    let ca = if ca_dir.join(net::ca::CA_KEY_FILE).exists() {
        ClusterCa::load(&ca_dir)
            .with_context(|| format!("loading the CA in {}", ca_dir.display()))?
    } else {
        let ca = ClusterCa::generate("quorumlab-testbed").context("generating the testbed CA")?;
        ca.save(&ca_dir)
            .with_context(|| format!("saving the CA into {}", ca_dir.display()))?;
        ca
    };
    let controller = dir.join("controller");
    issue_missing(
        &ca,
        &controller,
        &[PeerIdentity::Control, PeerIdentity::Driver(0)],
    )?;
    let hosts = dir.join("hosts");
    let count = node_hosts as u32;
    for (i, name) in names.iter().enumerate() {
        let i = i as u32;
        let host_dir = hosts.join(name);
        let mut ids = vec![PeerIdentity::Agent(i)];
        if i < count {
            ids.extend(
                (0..MAX_TESTBED_NODES)
                    .filter(|n| n % count == i)
                    .map(PeerIdentity::Node),
            );
        }
        ids.extend(
            drivers
                .iter()
                .enumerate()
                .filter(|(_, &a)| a == i)
                .map(|(k, _)| PeerIdentity::Driver(remote_driver(k))),
        );
        issue_missing(&ca, &host_dir, &ids)?;
        let id_file = host_dir.join("agent-id");
        let want = i.to_string();
        if std::fs::read_to_string(&id_file).ok().as_deref() != Some(want.as_str()) {
            std::fs::write(&id_file, &want)
                .with_context(|| format!("writing {}", id_file.display()))?;
        }
    }
    Ok(Credentials { controller, hosts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_once_and_spreads_nodes_over_hosts() {
        let dir = std::env::temp_dir().join(format!("qlab-creds-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let names = vec!["a".to_string(), "b".to_string(), "d".to_string()];
        let c = ensure(&dir, &names, 2, &[2, 1]).unwrap();
        assert!(c.hosts.join("d/driver-1.pem").exists());
        assert!(c.hosts.join("b/driver-2.key").exists());
        assert!(!c.hosts.join("d/node-0.pem").exists());
        assert!(c.controller.join("control.pem").exists());
        assert!(c.hosts.join("a/agent-0.pem").exists());
        assert!(c.hosts.join("a/node-2.key").exists());
        assert!(!c.hosts.join("a/node-1.pem").exists());
        assert!(c.hosts.join("b/node-1.pem").exists());
        assert!(!c.hosts.join("b/ca.key").exists());
        assert_eq!(
            std::fs::read_to_string(c.hosts.join("b/agent-id")).unwrap(),
            "1"
        );
        let before = std::fs::read(c.hosts.join("b/node-1.pem")).unwrap();
        ensure(&dir, &names, 2, &[2, 1]).unwrap();
        assert_eq!(std::fs::read(c.hosts.join("b/node-1.pem")).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
