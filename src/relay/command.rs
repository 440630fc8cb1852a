//! The relay's configuration commands (`postconf`, `postmap -q`, `posttls-finger`) as
//! text answers: [`exec`](super::exec) bounds them, this says which one failed and why.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

use super::exec::{self, ExecError};

/// Most output read from one command (`postconf` prints about 60 KiB).
const MAX_OUTPUT: usize = 4 * 1024 * 1024;
/// How long one command may take (posttls-finger waits up to 60 s for a greeting).
const LIMIT: Duration = Duration::from_secs(75);

#[derive(Debug, Error)]
pub enum CommandError {
    #[error("`{command}` is not installed")]
    NotInstalled { command: String },
    #[error(transparent)]
    Exec(ExecError),
    #[error("`{command}` printed more than {} MiB", MAX_OUTPUT >> 20)]
    TooLong { command: String },
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
pub async fn run<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<String, CommandError> {
    let (out, _) = spawn(program, args, None).await?;
    Ok(out)
}

/// Runs a Postfix command that logs to standard error (`posttls-finger`) against the
/// configuration in `config_dir` (`MAIL_CONFIG`), and returns both streams, errors last.
pub async fn run_merged<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    config_dir: Option<&Path>,
) -> Result<String, CommandError> {
    let (mut out, err) = spawn(program, args, config_dir).await?;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&err);
    Ok(out)
}

/// Runs a lookup command that exits 1 with nothing on standard error when the key is
/// absent (`postmap -q`): `None` then, the value otherwise.
pub async fn query<S: AsRef<OsStr>>(program: &str, args: &[S]) -> Result<Option<String>, CommandError> {
    match run(program, args).await {
        Ok(out) => Ok(Some(out.trim_end().to_string())),
        Err(CommandError::Failed { message, .. }) if message == "exit status: 1" => Ok(None),
        Err(e) => Err(e),
    }
}

async fn spawn<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    config_dir: Option<&Path>,
) -> Result<(String, String), CommandError> {
    let captured = match exec::run_with(program, args, config_dir, MAX_OUTPUT, LIMIT).await {
        Ok(captured) => captured,
        Err(ExecError::NotInstalled { .. }) => {
            return Err(CommandError::NotInstalled {
                command: display(program, args),
            });
        }
        Err(e) => return Err(CommandError::Exec(e)),
    };
    let command = captured.command.clone();
    let Some(status) = captured.status else {
        return Err(CommandError::TooLong { command });
    };
    if !status.success() {
        let message: Vec<&str> = captured
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(3)
            .collect();
        // A client's stderr may quote the server (its chat): neutral before it is shown.
        let message = if message.is_empty() {
            status.to_string()
        } else {
            crate::text::SafeText::clean(&message.join(" / "))
        };
        return Err(CommandError::Failed { command, message });
    }
    Ok((String::from_utf8_lossy(&captured.stdout).into_owned(), captured.stderr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_program_and_failure_are_told_apart() {
        assert!(matches!(
            run("mxtriage-no-such-program", &["x"]).await,
            Err(CommandError::NotInstalled { .. })
        ));
        let Err(CommandError::Failed { message, .. }) = run("sh", &["-c", "echo nope >&2; exit 3"]).await else {
            panic!("a failing command is an error");
        };
        assert_eq!(message, "nope");
        // What a client prints of a server's chat on stderr reaches a terminal neutral.
        let Err(CommandError::Failed { message, .. }) =
            run("sh", &["-c", "printf '< 220 \\033[2Jx\\n' >&2; exit 1"]).await
        else {
            panic!("a failing command is an error");
        };
        assert!(!message.contains('\u{1b}'), "{message:?}");
        assert_eq!(run("sh", &["-c", "echo yes"]).await.ok().as_deref(), Some("yes\n"));
    }
}
