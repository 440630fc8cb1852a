//! Running one MTA command with its output and its time bounded.
//!
//! `postqueue -j` on a relay with a million deferred messages, or `journalctl` on a
//! busy host, can print gigabytes; a wedged `showq` can hang. The relay code only
//! ever wants a bounded answer now, so every command goes through [`run`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Standard error kept at most: a fatal message is one line, but posttls-finger writes
/// its whole log and the SMTP chat there.
const MAX_STDERR_BYTES: usize = 1024 * 1024;

/// Where Postfix installs its commands when `PATH` lacks them (a non-root shell
/// often has no `/usr/sbin`).
const SBIN_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// Why a command gave no answer at all.
#[derive(Debug, Error)]
pub enum ExecError {
    #[error("{command} is not installed (not on PATH, nor in /usr/sbin, /usr/local/sbin or /sbin)")]
    NotInstalled { command: String },
    #[error("cannot run {command}: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{command} did not finish within {} s", after.as_secs())]
    TimedOut { command: String, after: Duration },
    #[error("reading the output of {command}: {source}")]
    Read {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a command printed, bounded.
#[derive(Debug, Clone)]
pub struct Captured {
    /// The command line, for messages ("postqueue -c /etc/postfix -j").
    pub command: String,
    pub stdout: Vec<u8>,
    /// Standard error as text, trimmed.
    pub stderr: String,
    /// `None` when the command was stopped because its output exceeded the bound.
    pub status: Option<ExitStatus>,
    /// The output went past the bound and was cut at it.
    pub truncated: bool,
}

impl Captured {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
}

/// The path of a Postfix (or system) command: `PATH` first, then the sbin directories.
pub fn locate(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(SBIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs `name args…`, keeping at most `limit` bytes of standard output and stopping
/// the command when it prints more or runs longer than `timeout`.
pub async fn run<S: AsRef<OsStr>>(
    name: &str,
    args: &[S],
    limit: usize,
    timeout: Duration,
) -> Result<Captured, ExecError> {
    run_with(name, args, None, limit, timeout).await
}

/// [`run`] with Postfix pointed at the configuration in `config_dir` (`MAIL_CONFIG`),
/// for the commands that have no `-c` option (posttls-finger).
pub async fn run_with<S: AsRef<OsStr>>(
    name: &str,
    args: &[S],
    config_dir: Option<&Path>,
    limit: usize,
    timeout: Duration,
) -> Result<Captured, ExecError> {
    let command_line = std::iter::once(name.to_string())
        .chain(args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()))
        .collect::<Vec<_>>()
        .join(" ");
    let program = locate(name).ok_or_else(|| ExecError::NotInstalled {
        command: name.to_string(),
    })?;
    let mut builder = tokio::process::Command::new(program);
    if let Some(dir) = config_dir {
        builder.env("MAIL_CONFIG", dir);
    }
    let mut child = builder
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A command stopped at the bound or the timeout must not linger.
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ExecError::Spawn {
            command: command_line.clone(),
            source,
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ExecError::Spawn {
            command: command_line,
            source: std::io::Error::other("no pipe to the child"),
        });
    };
    let read = async {
        let (out, err) = tokio::join!(read_bounded(stdout, limit), read_bounded(stderr, MAX_STDERR_BYTES));
        let read_error = |source| ExecError::Read {
            command: command_line.clone(),
            source,
        };
        let (stdout, truncated) = out.map_err(read_error)?;
        let (stderr, _) = err.map_err(read_error)?;
        let status = if truncated {
            // Stop it: the rest of the output is not wanted.
            let _ = child.start_kill();
            let _ = child.wait().await;
            None
        } else {
            Some(child.wait().await.map_err(read_error)?)
        };
        Ok(Captured {
            command: command_line.clone(),
            stdout,
            stderr: String::from_utf8_lossy(&stderr).trim().to_string(),
            status,
            truncated,
        })
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(ExecError::TimedOut {
            command: command_line,
            after: timeout,
        }),
    }
}

/// Reads up to `limit` bytes; says whether more was there.
async fn read_bounded(mut reader: impl AsyncRead + Unpin, limit: usize) -> std::io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok((kept, false));
        }
        let room = limit.saturating_sub(kept.len());
        if n > room {
            kept.extend_from_slice(&chunk[..room]);
            return Ok((kept, true));
        }
        kept.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;

    #[tokio::test]
    async fn output_past_the_bound_is_cut_and_the_command_stopped() {
        let captured = run("sh", &["-c", "yes"], 1000, Duration::from_secs(10)).await.unwrap();
        assert!(captured.truncated);
        assert_eq!(captured.stdout.len(), 1000);
        assert!(!captured.success());
    }

    #[tokio::test]
    async fn a_hanging_command_times_out() {
        let err = run("sleep", &["30"], 1000, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::TimedOut { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_missing_command_is_named() {
        let err = run("mxtriage-no-such-command", &[] as &[&str], 10, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mxtriage-no-such-command is not installed (not on PATH, nor in /usr/sbin, /usr/local/sbin or /sbin)"
        );
    }
}
