//! Running the playbooks of `ansible/` from the harness.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the playbooks are and what they are run against.
#[derive(Clone, Debug)]
pub struct Playbooks {
    /// The `ansible/` folder (with `ansible.cfg`).
    pub dir: PathBuf,
    /// The inventory file.
    pub inventory: PathBuf,
}

impl Playbooks {
    /// Checks that `dir` holds the playbooks.
    pub fn new(dir: &Path, inventory: &Path) -> anyhow::Result<Playbooks> {
        for f in ["deploy.yml", "collect.yml", "ansible.cfg"] {
            if !dir.join(f).is_file() {
                bail!(
                    "{} has no {f}: pass the repository's ansible/ folder with --ansible-dir",
                    dir.display()
                );
            }
        }
        Ok(Playbooks {
            dir: dir.to_path_buf(),
            inventory: inventory.to_path_buf(),
        })
    }

    /// Runs `ansible-playbook <playbook>` with the extra variables of
    /// `vars_file` (YAML), appending its output to `log`. Fails with the
    /// end of the output when the playbook fails.
    pub fn run(&self, playbook: &str, vars_file: &Path, log: &Path) -> anyhow::Result<()> {
        let out = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone().context("duplicating a log handle")?;
        let status = Command::new("ansible-playbook")
            .arg("-i")
            .arg(&self.inventory)
            .arg(self.dir.join(playbook))
            .arg("-e")
            .arg(format!("@{}", vars_file.display()))
            .env("ANSIBLE_CONFIG", self.dir.join("ansible.cfg"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_FORCE_COLOR", "0")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .status()
            .context("running ansible-playbook (is ansible-core installed and on PATH?)")?;
        if !status.success() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "ansible-playbook {playbook} failed ({status}); the end of {}:\n{}",
                log.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }
}

/// Writes the extra variables of the playbooks: the binary to deploy, the
/// credentials folder, where collected files go.
pub fn write_vars(
    path: &Path,
    binary: &Path,
    credentials: &Path,
    collect: &Path,
) -> anyhow::Result<()> {
    let mut m = serde_yaml::Mapping::new();
    for (k, v) in [
        ("qlab_binary", binary),
        ("qlab_credentials", credentials),
        ("qlab_collect_dir", collect),
    ] {
        m.insert(k.into(), v.display().to_string().into());
    }
    let text = serde_yaml::to_string(&m).context("encoding the playbook variables")?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
