//! `provenance.yaml`: what produced a results folder, so a figure can be
//! traced back to the commit, binary, machine and configuration behind it.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// Facts about one host taking part in a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// What this host did (`controller`, `node`, `driver`, or all of them
    /// for the local backend).
    pub role: String,
    /// CPU model string.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Physical cores, when known.
    pub physical_cores: Option<usize>,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Kernel version.
    pub kernel: String,
    /// Operating system name and version.
    pub os: String,
    /// Inventory name (testbed hosts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_name: Option<String>,
    /// Address the host's replicas listen on (testbed hosts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The host's clock minus the controller's, in ms, as measured by the
    /// harness over the agent channel (node events are corrected by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<f64>,
    /// How the host's links are shaped: `netem`, `inprocess` or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shaping: Option<String>,
}

impl HostFacts {
    /// Reads this machine's facts with sysinfo.
    pub fn local(role: &str) -> HostFacts {
        let mut sys = sysinfo::System::new();
        sys.refresh_cpu_all();
        sys.refresh_memory();
        let cpu_model = sys
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .unwrap_or_default();
        HostFacts {
            hostname: sysinfo::System::host_name().unwrap_or_default(),
            role: role.to_string(),
            cpu_model,
            cpus: sys.cpus().len(),
            physical_cores: sys.physical_core_count(),
            memory_bytes: sys.total_memory(),
            kernel: sysinfo::System::kernel_version().unwrap_or_default(),
            os: sysinfo::System::long_os_version().unwrap_or_default(),
            inventory_name: None,
            address: None,
            clock_offset_ms: None,
            shaping: None,
        }
    }
}

/// The provenance record of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// quorumlab version.
    pub qlab_version: String,
    /// Git commit of the working tree the binary ran from, if known.
    pub git_commit: Option<String>,
    /// Whether that tree had uncommitted changes.
    pub git_dirty: Option<bool>,
    /// SHA-256 of the `qlab` binary.
    pub binary_sha256: Option<String>,
    /// The command line.
    pub command_line: Vec<String>,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// SHA-256 of the resolved experiment (resuming checks it).
    pub experiment_sha256: String,
    /// Hosts involved.
    pub hosts: Vec<HostFacts>,
    /// The resolved experiment document.
    pub experiment: serde_yaml::Value,
    /// The experiment's `sweep` (absent from `experiment`), so that each
    /// point's resolved experiment can be rebuilt (e.g. by `qlab pbs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<serde_yaml::Value>,
    /// Third-party systems the run measured (etcd), so their rows can be
    /// traced to an exact build too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<ExternalBinary>,
}

/// A third-party binary a run started (for example `etcd`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExternalBinary {
    /// What it is (`etcd`).
    pub name: String,
    /// Where it was found.
    pub path: String,
    /// First line of its `--version` output, if it has one.
    pub version: Option<String>,
    /// SHA-256 of the binary.
    pub sha256: Option<String>,
}

impl ExternalBinary {
    /// Describes the binary at `path`: its version (from `--version`) and
    /// hash. Failing to learn either leaves it empty, never fails the run.
    pub fn describe(name: &str, path: &Path) -> ExternalBinary {
        let version = Command::new(path)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_string())
            });
        ExternalBinary {
            name: name.to_string(),
            path: path.display().to_string(),
            version,
            sha256: sha256_file(path).ok(),
        }
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// SHA-256 of a file's content, hex-encoded.
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// SHA-256 of bytes, hex-encoded.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Provenance {
    /// Collects provenance for a run of `experiment` on the local machine.
    pub fn collect(experiment: serde_yaml::Value, experiment_sha256: String) -> Provenance {
        let binary_sha256 = std::env::current_exe()
            .ok()
            .and_then(|p| sha256_file(&p).ok());
        Provenance {
            qlab_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: git(&["rev-parse", "HEAD"]),
            git_dirty: git(&["status", "--porcelain"]).map(|s| !s.is_empty()),
            binary_sha256,
            command_line: std::env::args().collect(),
            started_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            experiment_sha256,
            hosts: vec![HostFacts::local("controller,node,driver")],
            experiment,
            sweep: None,
            external: Vec::new(),
        }
    }

    /// Writes `provenance.yaml` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join("provenance.yaml");
        let text = serde_yaml::to_string(self).context("encoding provenance")?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Reads `provenance.yaml` from `dir`, if present.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Provenance>> {
        let path = dir.join("provenance.yaml");
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let p =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_facts_are_plausible_and_round_trip() {
        let facts = HostFacts::local("controller");
        assert!(facts.cpus >= 1);
        assert!(facts.memory_bytes > 0);
        let dir = std::env::temp_dir().join(format!("qlab-prov-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = Provenance::collect(serde_yaml::Value::from("x"), sha256_bytes(b"x"));
        p.write(&dir).unwrap();
        assert_eq!(Provenance::read(&dir).unwrap(), Some(p));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn external_binaries_carry_their_version_and_hash() {
        let dir = std::env::temp_dir().join(format!("qlab-ext-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("fake-etcd");
        std::fs::write(
            &exe,
            "#!/bin/sh\necho 'etcd Version: 9.9.9'\necho 'Git SHA: x'\n",
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let b = ExternalBinary::describe("etcd", &exe);
        assert_eq!(b.version.as_deref(), Some("etcd Version: 9.9.9"));
        assert_eq!(b.sha256, Some(sha256_file(&exe).unwrap()));
        let missing = ExternalBinary::describe("etcd", &dir.join("absent"));
        assert_eq!((missing.version, missing.sha256), (None, None));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
