//! Running the MTA's own tools: bounded output, bounded time, errors that say which
//! command failed and why (not installed, not permitted, its own complaint).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use thiserror::Error;
use tokio::io::AsyncReadExt;

/// Most output read from one command (`postconf` prints about 60 KiB).
const MAX_OUTPUT: u64 = 4 * 1024 * 1024;
/// How long one command may take (posttls-finger waits up to 60 s for a greeting).
const LIMIT: Duration = Duration::from_secs(75);

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("`{command}` is not installed")]
    NotInstalled { command: String },
    #[error("`{command}` could not run: {source}")]
    Spawn { command: String, source: std::io::Error },
    #[error("`{command}` did not finish within {} s", LIMIT.as_secs())]
    Timeout { command: String },
    #[error("`{command}` failed: {message}")]
    Failed { command: String, message: String },
}

/// The command line as the operator would type it, for errors and origins.
pub fn display<I, S>(program: &str, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut line = program.to_string();
    for arg in args {
        line.push(' ');
        line.push_str(&arg.as_ref().to_string_lossy());
    }
    line
}

/// Runs `program args` and returns its standard output; a non-zero exit is an error
/// carrying the first lines of its standard error.
pub async fn run<I, S>(program: &str, args: I) -> Result<String, CommandError>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    let (out, _) = spawn(program, args, None).await?;
    Ok(out)
}

/// Runs a Postfix command that logs to standard error (`posttls-finger`) against the
/// configuration in `config_dir` (`MAIL_CONFIG`), and returns both streams, errors last.
pub async fn run_merged<I, S>(program: &str, args: I, config_dir: Option<&Path>) -> Result<String, CommandError>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    let (mut out, err) = spawn(program, args, config_dir).await?;
    out.push_str(&err);
    Ok(out)
}

async fn spawn<I, S>(program: &str, args: I, config_dir: Option<&Path>) -> Result<(String, String), CommandError>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    let command = display(program, args.clone());
    let mut builder = tokio::process::Command::new(program);
    builder
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = config_dir {
        builder.env("MAIL_CONFIG", dir);
    }
    let mut child = match builder.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CommandError::NotInstalled { command }),
        Err(source) => return Err(CommandError::Spawn { command, source }),
    };
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(CommandError::Failed {
            command,
            message: "no output pipes".into(),
        });
    };
    let collect = async {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (mut stdout, mut stderr) = (stdout.take(MAX_OUTPUT), stderr.take(MAX_OUTPUT));
        let _ = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        (child.wait().await, out, err)
    };
    let (status, out, err) = tokio::time::timeout(LIMIT, collect)
        .await
        .map_err(|_| CommandError::Timeout {
            command: command.clone(),
        })?;
    let status = status.map_err(|source| CommandError::Spawn {
        command: command.clone(),
        source,
    })?;
    let err = String::from_utf8_lossy(&err).into_owned();
    if !status.success() {
        let message: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).take(3).collect();
        let message = if message.is_empty() {
            status.to_string()
        } else {
            message.join(" / ")
        };
        return Err(CommandError::Failed { command, message });
    }
    Ok((String::from_utf8_lossy(&out).into_owned(), err))
}

/// Runs a lookup command that exits 1 with nothing on standard error when the key is
/// absent (`postmap -q`): `None` then, the value otherwise.
pub async fn query<I, S>(program: &str, args: I) -> Result<Option<String>, CommandError>
where
    I: IntoIterator<Item = S> + Clone,
    S: AsRef<OsStr>,
{
    match run(program, args).await {
        Ok(out) => Ok(Some(out.trim_end().to_string())),
        Err(CommandError::Failed { message, .. }) if message == "exit status: 1" => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_program_and_failure_are_told_apart() {
        assert!(matches!(
            run("mxtriage-no-such-program", ["x"]).await,
            Err(CommandError::NotInstalled { .. })
        ));
        let Err(CommandError::Failed { message, .. }) = run("sh", ["-c", "echo nope >&2; exit 3"]).await else {
            panic!("a failing command is an error");
        };
        assert_eq!(message, "nope");
        assert_eq!(run("sh", ["-c", "echo yes"]).await.ok().as_deref(), Some("yes\n"));
    }
}
