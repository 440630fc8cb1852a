//! The relay's recent log lines for one destination (bounded, newest first).
//!
//! The relay's own log is the strongest evidence beside a probe: it says what Postfix
//! itself saw on its last attempts. Postfix logs to the file named by `maillog_file`
//! when that is set (3.4+, common in containers), else through syslog, which lands in
//! the journal or in `/var/log/mail.log`; they are tried in that order. A log can be
//! gigabytes, so only its tail is read ([`MAX_TAIL_BYTES`]) and at most [`MAX_LINES`]
//! lines are returned.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::relay::exec::{self, ExecError};
use crate::text::SafeText;

/// Lines returned at most: what fits beside a probe and still shows several attempts.
pub const MAX_LINES: usize = 50;

/// Bytes read from the end of a log file at most: hours of a busy relay's log, and
/// still a fraction of a second to scan.
pub const MAX_TAIL_BYTES: u64 = 4 * 1024 * 1024;

/// Journal entries asked for at most (`journalctl -n`, oldest first): few enough that
/// the newest ones fit in [`MAX_TAIL_BYTES`] (long TLS lines are ~250 bytes).
pub const JOURNAL_ENTRIES: usize = 10_000;

/// Where syslog puts mail on Debian and its kin when neither of the above applies.
pub const DEFAULT_MAIL_LOG: &str = "/var/log/mail.log";

/// How long `postconf` and `journalctl` may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);

/// One log line, split the way syslog and Postfix's `maillog_file` write it:
/// `Nov 29 18:03:55 relay postfix/smtp[17243]: 38E289A621B: to=<…>, … status=deferred (…)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// As written (`Nov 29 18:03:55`, or an RFC 3339 stamp); the year is often absent,
    /// so it is kept as text rather than guessed.
    pub timestamp: String,
    /// The Postfix queue id the line is about, when it names one.
    pub queue_id: Option<String>,
    /// `postfix/smtp`, `postfix/qmgr`, `postfix-in/smtp` (an instance's syslog_name).
    pub process: String,
    pub pid: Option<u32>,
    /// The rest of the line, after the queue id; remote servers' text is neutralised.
    pub message: String,
}

impl LogLine {
    /// The `status=` word of a delivery line (`sent`, `deferred`, `bounced`, `expired`).
    pub fn status(&self) -> Option<&str> {
        let after = self.message.split("status=").nth(1)?;
        Some(
            after
                .split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap_or(after),
        )
    }

    /// The recipient of a delivery line (`to=<…>`).
    pub fn recipient(&self) -> Option<&str> {
        let after = self.message.split("to=<").nth(1)?;
        after.split('>').next()
    }
}

/// Where the lines were read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogSource {
    /// A file: `maillog_file`, or syslog's mail log.
    File { path: PathBuf },
    /// The systemd journal, through this command.
    Journal { command: String },
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::File { path } => write!(f, "{}", path.display()),
            LogSource::Journal { command } => f.write_str(command),
        }
    }
}

/// The lines found for one destination, newest first, with where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExcerpt {
    pub source: LogSource,
    pub lines: Vec<LogLine>,
    /// Only the tail of the log was read (it was larger than [`MAX_TAIL_BYTES`]).
    pub tail_only: bool,
}

/// Why no log could be read.
#[derive(Debug, Error)]
pub enum LogError {
    #[error("cannot read the mail log {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no mail log found; tried: {}", tried.join("; "))]
    NotFound { tried: Vec<String> },
    #[error("cannot ask postconf for maillog_file: {0}")]
    Postconf(#[source] ExecError),
    #[error("{command} failed: {detail}")]
    PostconfFailed { command: String, detail: String },
}

/// What the lines must mention: the destination domain and the hosts mail for it
/// goes to (its MX hosts, a relayhost, a transport's nexthop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    domain: String,
    hosts: Vec<String>,
}

impl Destination {
    pub fn new(domain: &str, hosts: &[String]) -> Self {
        let norm = |s: &str| s.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = norm(domain);
        let mut all: Vec<String> = hosts.iter().map(|h| norm(h)).filter(|h| !h.is_empty()).collect();
        all.push(domain.clone());
        all.sort();
        all.dedup();
        Destination { domain, hosts: all }
    }

    /// Whether a line is about this destination: a recipient in the domain
    /// (`to=<…@domain>`, `orig_to=`), or one of its hosts as Postfix prints a peer
    /// (`host[address]`, which covers `relay=`, `connect to` and the TLS lines).
    pub fn mentions(&self, line: &LogLine) -> bool {
        let message = line.message.to_ascii_lowercase();
        let recipient = ["to=<", "orig_to=<"].iter().any(|field| {
            message.match_indices(field).any(|(at, _)| {
                let rest = &message[at + field.len()..];
                rest.split('>')
                    .next()
                    .and_then(|address| address.rsplit_once('@'))
                    .is_some_and(|(_, domain)| domain.trim_end_matches('.') == self.domain)
            })
        });
        recipient
            || self.hosts.iter().any(|host| {
                message.match_indices(&format!("{host}[")).any(|(at, _)| {
                    // A whole name: `mx.example.com[` must not match `bad-mx.example.com[`.
                    message[..at]
                        .chars()
                        .next_back()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                })
            })
    }
}

/// Splits one syslog-style line; `None` for lines that are not a program's message.
pub fn parse_line(line: &str) -> Option<LogLine> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (timestamp, rest) = split_timestamp(line)?;
    // The host name, then `program[pid]:`.
    let (_host, rest) = rest.trim_start().split_once(' ')?;
    let (tag, message) = rest.split_once(": ")?;
    let (process, pid) = match tag.split_once('[') {
        Some((name, pid)) => (name, pid.strip_suffix(']').and_then(|p| p.parse().ok())),
        None => (tag, None),
    };
    if process.is_empty() || process.contains(' ') {
        return None;
    }
    let (queue_id, message) = match message.split_once(": ") {
        Some((id, rest)) if is_queue_id(id) => (Some(id.to_string()), rest),
        _ => (None, message),
    };
    Some(LogLine {
        // Any local program can write a log line: every part of it is shown neutral.
        timestamp: SafeText::clean(timestamp),
        queue_id,
        process: SafeText::clean(process),
        pid,
        message: SafeText::clean(message),
    })
}

/// `Nov 29 18:03:55` (syslog, `maillog_file`, journalctl's short format) or one
/// RFC 3339 token (`2026-11-29T18:03:55.123456+00:00`, rsyslog's high precision).
fn split_timestamp(line: &str) -> Option<(&str, &str)> {
    let first = line.split(' ').next()?;
    if first.len() >= 19 && first.as_bytes().first().is_some_and(u8::is_ascii_digit) && first.contains('T') {
        return Some((first, &line[first.len()..]));
    }
    // Month, day (space-padded), time.
    let month = line.get(..3)?;
    if !month.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut end = 3;
    for _ in 0..2 {
        let rest = line.get(end..)?;
        let skipped = rest.len() - rest.trim_start_matches(' ').len();
        let token = rest.trim_start_matches(' ').split(' ').next()?;
        if token.is_empty() {
            return None;
        }
        end += skipped + token.len();
    }
    let stamp = &line[..end];
    stamp.contains(':').then_some((stamp, &line[end..]))
}

/// A Postfix queue id: short (hex, `38E289A621B`) or long (`4QxYz1AbCdz…`); words such
/// as `warning` or `NOQUEUE` have no digit.
fn is_queue_id(word: &str) -> bool {
    (6..=24).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_alphanumeric())
        && word.bytes().any(|b| b.is_ascii_digit())
}

/// The lines of `text` about `destination`, newest first, at most `limit`.
pub fn matching(text: &str, destination: &Destination, limit: usize) -> Vec<LogLine> {
    text.lines()
        .rev()
        .filter_map(parse_line)
        .filter(|line| destination.mentions(line))
        .take(limit)
        .collect()
}

/// The last `max_bytes` of a file (from the first whole line), and whether that was
/// only its tail.
pub fn read_tail(path: &Path, max_bytes: u64) -> std::io::Result<(String, bool)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max_bytes).read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    if start == 0 {
        return Ok((text.into_owned(), false));
    }
    // The first line is cut in the middle.
    let whole = text.split_once('\n').map_or("", |(_, rest)| rest);
    Ok((whole.to_string(), true))
}

/// Recent lines about a destination, from whichever log this relay writes.
pub async fn recent(domain: &str, hosts: &[String], config_dir: Option<&Path>) -> Result<LogExcerpt, LogError> {
    let destination = Destination::new(domain, hosts);
    let mut tried = Vec::new();
    match maillog_file(config_dir).await {
        Ok(Some(path)) => return file_excerpt(path, destination).await,
        Ok(None) => tried.push("maillog_file (not set)".to_string()),
        // Without postconf, syslog's places may still hold the lines.
        Err(e) => tried.push(e.to_string()),
    }
    match journal(&destination).await {
        Ok(excerpt) => return Ok(excerpt),
        Err(why) => tried.push(why),
    }
    let path = PathBuf::from(DEFAULT_MAIL_LOG);
    if path.exists() {
        return file_excerpt(path, destination).await;
    }
    tried.push(format!("{DEFAULT_MAIL_LOG} (does not exist)"));
    Err(LogError::NotFound { tried })
}

/// The lines about a destination in one log file.
pub async fn file_excerpt(path: PathBuf, destination: Destination) -> Result<LogExcerpt, LogError> {
    let read_path = path.clone();
    // File I/O: off the async workers.
    let tail = tokio::task::spawn_blocking(move || read_tail(&read_path, MAX_TAIL_BYTES))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
    let (text, tail_only) = tail.map_err(|source| LogError::Unreadable {
        path: path.clone(),
        source,
    })?;
    Ok(LogExcerpt {
        lines: matching(&text, &destination, MAX_LINES),
        source: LogSource::File { path },
        tail_only,
    })
}

/// `postconf -h maillog_file`, `None` when empty (Postfix then logs through syslog).
pub async fn maillog_file(config_dir: Option<&Path>) -> Result<Option<PathBuf>, LogError> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(dir) = config_dir {
        args.push("-c".into());
        args.push(dir.into());
    }
    args.extend(["-h".into(), "maillog_file".into()]);
    let captured = exec::run("postconf", &args, 64 * 1024, COMMAND_TIMEOUT)
        .await
        .map_err(LogError::Postconf)?;
    if !captured.success() {
        let detail = SafeText::clean(captured.stderr.lines().next().unwrap_or("no message"));
        return Err(LogError::PostconfFailed {
            command: captured.command,
            detail,
        });
    }
    let value = String::from_utf8_lossy(&captured.stdout).trim().to_string();
    // `/dev/stdout` (Postfix in a container) or a fifo is no file to read back: reading
    // it would read this tool's own terminal.
    let path = PathBuf::from(value);
    let readable = std::fs::metadata(&path).map_or(true, |m| m.is_file());
    Ok((!path.as_os_str().is_empty() && readable).then_some(path))
}

/// The journal's Postfix entries (`journalctl -u postfix*`), or why not.
async fn journal(destination: &Destination) -> Result<LogExcerpt, String> {
    let entries = JOURNAL_ENTRIES.to_string();
    let args = ["-u", "postfix*", "--no-pager", "-o", "short", "-n", entries.as_str()];
    let limit = usize::try_from(MAX_TAIL_BYTES).unwrap_or(usize::MAX);
    let captured = exec::run("journalctl", &args, limit, COMMAND_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&captured.stdout);
    if !captured.success() && !captured.truncated {
        let why = captured.stderr.lines().next().unwrap_or("failed").to_string();
        return Err(format!("{} ({why})", captured.command));
    }
    if !text.lines().any(|l| parse_line(l).is_some()) {
        return Err(format!("{} (no entries)", captured.command));
    }
    Ok(LogExcerpt {
        lines: matching(&text, destination, MAX_LINES),
        source: LogSource::Journal {
            command: captured.command,
        },
        tail_only: captured.truncated,
    })
}

/// A place in a log, to read what was written after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogMark {
    /// Bytes of the file already seen.
    File { path: PathBuf, offset: u64 },
    /// Entries since this UNIX time (whole seconds: the journal's `--since @…`).
    Journal { since: i64 },
}

/// Where this relay's log ends now, so that [`read_since`] returns only newer lines.
pub async fn mark(config_dir: Option<&Path>) -> Result<LogMark, LogError> {
    let path = match maillog_file(config_dir).await? {
        Some(path) => Some(path),
        None if exec::locate("journalctl").is_some() => None,
        None => Some(PathBuf::from(DEFAULT_MAIL_LOG)),
    };
    match path {
        Some(path) => {
            let offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            Ok(LogMark::File { path, offset })
        }
        None => Ok(LogMark::Journal { since: now_unix() }),
    }
}

/// The lines about `destination` written after `mark`, oldest first; the mark moves on.
pub async fn read_since(mark: &mut LogMark, destination: &Destination) -> Result<Vec<LogLine>, LogError> {
    match mark {
        LogMark::File { path, offset } => {
            let (read_path, from) = (path.clone(), *offset);
            let read = tokio::task::spawn_blocking(move || read_from(&read_path, from))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e)));
            let (text, next) = read.map_err(|source| LogError::Unreadable {
                path: path.clone(),
                source,
            })?;
            *offset = next;
            Ok(text
                .lines()
                .filter_map(parse_line)
                .filter(|l| destination.mentions(l))
                .collect())
        }
        LogMark::Journal { since } => {
            let since_arg = format!("--since=@{since}");
            let args = ["-u", "postfix*", "--no-pager", "-o", "short", since_arg.as_str()];
            let limit = usize::try_from(MAX_TAIL_BYTES).unwrap_or(usize::MAX);
            let captured = exec::run("journalctl", &args, limit, COMMAND_TIMEOUT)
                .await
                .map_err(|e| LogError::NotFound {
                    tried: vec![e.to_string()],
                })?;
            Ok(String::from_utf8_lossy(&captured.stdout)
                .lines()
                .filter_map(parse_line)
                .filter(|l| destination.mentions(l))
                .collect())
        }
    }
}

/// The whole lines written from `offset` on (at most [`MAX_TAIL_BYTES`]), and the
/// offset after the last whole line. A file shorter than `offset` was rotated: it is
/// read from its start.
fn read_from(path: &Path, offset: u64) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let start = if len < offset { 0 } else { offset };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(MAX_TAIL_BYTES).read_to_end(&mut bytes)?;
    // A line still being written is left for the next read.
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(whole);
    let next = start + whole as u64;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), next))
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;

    const DEFERRED: &str = "Nov 29 18:03:55 relay postfix/smtp[17243]: 38E289A621B: to=<erin@example.net>, relay=none, delay=0, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:9: Connection refused)";

    #[test]
    fn a_postfix_delivery_line_splits_into_its_parts() {
        let line = parse_line(DEFERRED).unwrap();
        assert_eq!(line.timestamp, "Nov 29 18:03:55");
        assert_eq!(line.process, "postfix/smtp");
        assert_eq!(line.pid, Some(17243));
        assert_eq!(line.queue_id.as_deref(), Some("38E289A621B"));
        assert!(line.message.starts_with("to=<erin@example.net>"));
        assert_eq!(line.status(), Some("deferred"));
        assert_eq!(line.recipient(), Some("erin@example.net"));
    }

    #[test]
    fn a_forged_tag_reaches_no_terminal_raw() {
        let line = parse_line("Nov 29 18:03:55 relay \u{1b}[2Jpostfix/smtp[1]: to=<a@example.net>").unwrap();
        assert!(!line.process.contains('\u{1b}'), "{:?}", line.process);
    }

    #[test]
    fn space_padded_days_rfc3339_stamps_and_lines_without_queue_ids() {
        let line = parse_line("Mar  3 10:00:01 mail postfix/smtp[4242]: warning: TLS library problem: x").unwrap();
        assert_eq!(line.timestamp, "Mar  3 10:00:01");
        assert_eq!(line.queue_id, None);
        assert_eq!(line.message, "warning: TLS library problem: x");
        let line = parse_line("2026-11-29T18:03:55.123456+00:00 relay postfix/qmgr[9]: 4QxYz1AbCdz: removed").unwrap();
        assert_eq!(line.timestamp, "2026-11-29T18:03:55.123456+00:00");
        assert_eq!(line.queue_id.as_deref(), Some("4QxYz1AbCdz"));
        assert_eq!(parse_line("NOQUEUE"), None);
        assert_eq!(parse_line(""), None);
    }

    #[test]
    fn lines_match_by_recipient_domain_or_by_host_as_a_whole_name() {
        let dest = Destination::new("Example.NET", &["mx.example.net".into()]);
        assert!(dest.mentions(&parse_line(DEFERRED).unwrap()));
        let tls = "Nov 29 18:03:55 relay postfix/smtp[1]: Untrusted TLS connection established to mx.example.net[192.0.2.1]:25: TLSv1.3";
        assert!(dest.mentions(&parse_line(tls).unwrap()));
        let other = "Nov 29 18:03:55 relay postfix/smtp[1]: Untrusted TLS connection established to bad-mx.example.net[192.0.2.1]:25: TLSv1.3";
        assert!(!dest.mentions(&parse_line(other).unwrap()));
        let sub = "Nov 29 18:03:55 relay postfix/smtp[1]: 38E289A621B: to=<a@sub.example.net>, status=sent (250 ok)";
        assert!(!dest.mentions(&parse_line(sub).unwrap()));
    }

    #[test]
    fn escape_sequences_in_remote_text_are_neutralised() {
        let line = parse_line("Nov 29 18:03:55 relay postfix/smtp[1]: 38E289A621B: to=<a@example.net>, status=deferred (host said: \u{1b}[2J 454)").unwrap();
        assert!(!line.message.chars().any(char::is_control), "{}", line.message);
    }

    #[test]
    fn the_tail_starts_at_a_whole_line() {
        let dir = std::env::temp_dir().join(format!("mxtriage-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mail.log");
        std::fs::write(&path, "first line is long\nsecond\nthird\n").unwrap();
        let (text, cut) = read_tail(&path, 10).unwrap();
        assert!(cut);
        assert_eq!(text, "third\n");
        let (text, cut) = read_tail(&path, 1000).unwrap();
        assert!(!cut);
        assert!(text.starts_with("first"));
        let (text, next) = read_from(&path, 19).unwrap();
        assert_eq!((text.as_str(), next), ("second\nthird\n", 32));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
