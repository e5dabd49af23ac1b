//! Child processes that cannot outlive the harness.
//!
//! Every `qlab node` / `qlab drive` the local backend starts is (1) put in
//! its own process group, so a Ctrl-C typed at the terminal reaches only the
//! harness, which then stops the children in order and keeps finished
//! results; (2) given `PR_SET_PDEATHSIG = SIGKILL`, so that even if the
//! harness itself is SIGKILLed the kernel kills the children; (3) killed on
//! drop. Processes must be spawned from a thread that lives as long as the
//! run (the death signal fires when the spawning *thread* exits), which is
//! why the harness uses a current-thread runtime.

use anyhow::Context;
use std::ffi::OsStr;
use std::fs::File;
use std::path::Path;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A supervised child process.
pub struct Supervised {
    name: String,
    child: Child,
    pid: i32,
}

impl Supervised {
    /// Starts `program args`, with stdout and stderr appended to `log`.
    pub fn spawn<I, S>(
        name: &str,
        program: &Path,
        args: I,
        log: &Path,
    ) -> anyhow::Result<Supervised>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening log {}", log.display()))?;
        let err = out.try_clone().context("duplicating log handle")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .context("child has no pid")?;
        Ok(Supervised {
            name: name.to_string(),
            child,
            pid,
        })
    }

    /// The name given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends a signal (SIGKILL, SIGSTOP, SIGCONT, SIGTERM...).
    pub fn signal(&self, signal: i32) -> anyhow::Result<()> {
        // SAFETY: kill(2) with a pid we own.
        let rc = unsafe { libc::kill(self.pid, signal) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            anyhow::bail!(
                "sending signal {signal} to {} (pid {}): {e}",
                self.name,
                self.pid
            );
        }
        Ok(())
    }

    /// Whether the process has exited (and reaps it if so).
    pub fn has_exited(&mut self) -> bool {
        self.exit_status().is_some()
    }

    /// How the process ended, once it has (reaping it).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL now (the crash fault); the process is reaped by the next
    /// `has_exited` or `stop`.
    pub fn kill(&mut self) {
        let _ = self.child.start_kill();
    }

    /// Asks politely (SIGTERM), waits up to `grace`, then SIGKILLs; always
    /// reaps the process.
    pub async fn stop(&mut self, grace: Duration) {
        if self.has_exited() {
            return;
        }
        // A paused process cannot handle SIGTERM: resume it first.
        let _ = self.signal(libc::SIGCONT);
        let _ = self.signal(libc::SIGTERM);
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn stop_terminates_and_signals_reach_the_child() {
        let log = std::env::temp_dir().join(format!("qlab-proc-{}.log", std::process::id()));
        let mut p = Supervised::spawn("sleeper", Path::new("/bin/sleep"), ["30"], &log).unwrap();
        assert!(!p.has_exited());
        p.signal(libc::SIGSTOP).unwrap();
        p.stop(Duration::from_secs(2)).await;
        assert!(p.has_exited());
        assert!(p.signal(0).is_err(), "process should be gone");
        let _ = std::fs::remove_file(log);
    }
}
