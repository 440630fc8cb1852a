//! The deferred queue, grouped by destination (`postqueue -j`).
//!
//! The operator's question is usually "which destinations are stuck, since when, and
//! why": Postfix answers it per message, so the messages are grouped here by recipient
//! domain, with the newest message's delay reason as the current one (older reasons
//! may predate a fix). The queue is read through `postqueue -j`, Postfix's stable JSON
//! listing (3.1+), so no queue file format is parsed here.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::log::{self, Destination as LogDestination, LogLine, LogMark, LogSource};
use crate::relay::exec::{self, Captured, ExecError};
use crate::text::SafeText;

/// Output of `postqueue -j` kept at most: about 50 000 messages' lines. Past it the
/// listing is cut and [`DeferredQueue::truncated`] says so.
pub const MAX_OUTPUT_BYTES: usize = 32 * 1024 * 1024;

/// How long `postqueue` may take; `showq` walks the whole queue directory.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`flush`] follows the log for the new attempts by default.
pub const FOLLOW: Duration = Duration::from_secs(30);

/// One recipient of a queued message, as `postqueue -j` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecipient {
    pub address: String,
    /// Why the last attempt failed; absent for mail not yet tried.
    #[serde(default)]
    pub delay_reason: Option<String>,
}

/// One queued message, as `postqueue -j` lists it (fields this tool does not use are
/// ignored, so newer Postfix versions' additions do no harm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedMessage {
    /// `deferred`, `active`, `incoming`, `hold`, `maildrop`.
    pub queue_name: String,
    pub queue_id: String,
    /// UNIX seconds.
    pub arrival_time: i64,
    #[serde(default)]
    pub message_size: u64,
    #[serde(default)]
    pub sender: String,
    #[serde(default)]
    pub recipients: Vec<QueuedRecipient>,
}

/// Deferred mail for one destination domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredDestination {
    /// The recipient domain, lower-case.
    pub domain: String,
    /// Deferred messages with at least one recipient in the domain.
    pub messages: usize,
    /// Seconds since the oldest of them arrived.
    pub oldest_age_secs: u64,
    /// The newest message's delay reason (neutralised: it often quotes the remote server).
    pub last_reason: Option<String>,
    /// A recipient of the newest message, for the reason to be read as a bounce.
    pub last_recipient: String,
    /// The messages' queue ids, oldest first (for `postqueue -i`).
    pub queue_ids: Vec<String>,
}

impl DeferredDestination {
    /// The last delay reason as Postfix's own bounce and delay notices write it
    /// (`<rcpt>: reason`), so the intake reads it exactly as if it had been pasted.
    pub fn as_pasted(&self) -> String {
        format!(
            "<{}>: {}",
            self.last_recipient,
            self.last_reason.as_deref().unwrap_or_default()
        )
    }
}

/// The deferred queue by destination: most messages first, then the longest waiting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeferredQueue {
    pub destinations: Vec<DeferredDestination>,
    /// Deferred messages in all.
    pub messages: usize,
    /// The listing was larger than [`MAX_OUTPUT_BYTES`] and only its start was read.
    pub truncated: bool,
    /// Lines of the listing that were not a message (reported, not fatal).
    pub unparsed_lines: usize,
}

/// Why the queue could not be read; each says what to check.
#[derive(Debug, Error)]
pub enum QueueError {
    #[error("postqueue is not installed here: is this host's MTA Postfix? ({0})")]
    NotInstalled(#[source] ExecError),
    #[error("{command}: not permitted to read the queue ({detail}); run as root or a user in authorized_mailq_users")]
    NotPermitted { command: String, detail: String },
    #[error("{command}: the Postfix mail system is not running ({detail}); start it or read the queue as root")]
    NotRunning { command: String, detail: String },
    #[error("{command} failed: {detail}")]
    Failed { command: String, detail: String },
    #[error(transparent)]
    Exec(ExecError),
}

/// Why a flush could not be asked for.
#[derive(Debug, Error)]
pub enum FlushError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("no deferred mail for {domain}: nothing to flush")]
    NothingDeferred { domain: String },
    #[error(transparent)]
    Log(#[from] log::LogError),
}

impl From<ExecError> for QueueError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::NotInstalled { .. } => QueueError::NotInstalled(e),
            e => QueueError::Exec(e),
        }
    }
}

/// Parses `postqueue -j` output: one JSON object per line. Lines that are not a
/// message (a cut last line, a future format) are counted, not fatal.
pub fn parse(output: &str) -> (Vec<QueuedMessage>, usize) {
    let mut unparsed = 0;
    let messages = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| match serde_json::from_str::<QueuedMessage>(line) {
            Ok(message) => Some(message),
            Err(_) => {
                unparsed += 1;
                None
            }
        })
        .collect();
    (messages, unparsed)
}

/// Groups the deferred messages by recipient domain, as of `now` (UNIX seconds).
pub fn group_deferred(messages: &[QueuedMessage], now: i64) -> Vec<DeferredDestination> {
    struct Group<'a> {
        oldest: i64,
        newest: Option<(i64, &'a QueuedMessage, &'a QueuedRecipient)>,
        ids: Vec<(i64, &'a str)>,
    }
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for message in messages.iter().filter(|m| m.queue_name == "deferred") {
        let mut seen: Vec<String> = Vec::new();
        for recipient in &message.recipients {
            let Some((_, domain)) = recipient.address.rsplit_once('@') else {
                continue;
            };
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() {
                continue;
            }
            let group = groups.entry(domain.clone()).or_insert(Group {
                oldest: message.arrival_time,
                newest: None,
                ids: Vec::new(),
            });
            // A message with two recipients in one domain counts once.
            if !seen.contains(&domain) {
                seen.push(domain);
                group.oldest = group.oldest.min(message.arrival_time);
                group.ids.push((message.arrival_time, &message.queue_id));
            }
            let newer = group.newest.is_none_or(|(at, m, r)| {
                (message.arrival_time, &message.queue_id) > (at, &m.queue_id)
                    || (std::ptr::eq(m, message) && r.delay_reason.is_none() && recipient.delay_reason.is_some())
            });
            if newer {
                group.newest = Some((message.arrival_time, message, recipient));
            }
        }
    }
    let mut destinations: Vec<DeferredDestination> = groups
        .into_iter()
        .map(|(domain, mut group)| {
            group.ids.sort();
            let (last_reason, last_recipient) = group.newest.map_or((None, String::new()), |(_, _, r)| {
                (
                    r.delay_reason.as_deref().map(SafeText::clean),
                    SafeText::clean(&r.address),
                )
            });
            DeferredDestination {
                domain: SafeText::clean(&domain),
                messages: group.ids.len(),
                oldest_age_secs: u64::try_from(now.saturating_sub(group.oldest)).unwrap_or(0),
                last_reason,
                last_recipient,
                queue_ids: group.ids.into_iter().map(|(_, id)| id.to_string()).collect(),
            }
        })
        .collect();
    destinations.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then(b.oldest_age_secs.cmp(&a.oldest_age_secs))
            .then_with(|| a.domain.cmp(&b.domain))
    });
    destinations
}

/// `postqueue [-c DIR] ARGS…`, with Postfix's fatal messages sorted into what to do.
async fn postqueue(config_dir: Option<&Path>, args: &[&str]) -> Result<Captured, QueueError> {
    let mut all: Vec<OsString> = Vec::new();
    if let Some(dir) = config_dir {
        all.push("-c".into());
        all.push(dir.into());
    }
    all.extend(args.iter().map(OsString::from));
    let captured = exec::run("postqueue", &all, MAX_OUTPUT_BYTES, TIMEOUT).await?;
    if captured.success() || captured.truncated {
        return Ok(captured);
    }
    let detail = fatal_message(&captured.stderr);
    let lower = detail.to_ascii_lowercase();
    let command = captured.command.clone();
    Err(
        if ["not authorized", "permission denied", "unauthorized configuration"]
            .iter()
            .any(|w| lower.contains(w))
        {
            QueueError::NotPermitted { command, detail }
        } else if lower.contains("mail system is down") {
            QueueError::NotRunning { command, detail }
        } else {
            QueueError::Failed { command, detail }
        },
    )
}

/// The first `fatal:` line of a Postfix command's stderr, without the program prefix.
fn fatal_message(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find(|l| l.contains("fatal:") || l.contains("error:"))
        .or_else(|| stderr.lines().next())
        .unwrap_or("no message");
    let line = line
        .split_once("fatal: ")
        .or_else(|| line.split_once("error: "))
        .map_or(line, |(_, rest)| rest);
    SafeText::clean(line.trim())
}

/// Every queued message (`postqueue -j`), and whether the listing was cut.
pub async fn list(config_dir: Option<&Path>) -> Result<(Vec<QueuedMessage>, usize, bool), QueueError> {
    let captured = postqueue(config_dir, &["-j"]).await?;
    let text = String::from_utf8_lossy(&captured.stdout);
    let (messages, mut unparsed) = parse(&text);
    if captured.truncated {
        // The cut last line is expected, not a format change.
        unparsed = unparsed.saturating_sub(1);
    }
    Ok((messages, unparsed, captured.truncated))
}

/// The deferred queue grouped by destination, as of now.
pub async fn deferred(config_dir: Option<&Path>) -> Result<DeferredQueue, QueueError> {
    let (messages, unparsed_lines, truncated) = list(config_dir).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let destinations = group_deferred(&messages, now);
    Ok(DeferredQueue {
        messages: messages.iter().filter(|m| m.queue_name == "deferred").count(),
        destinations,
        truncated,
        unparsed_lines,
    })
}

/// How the new delivery attempt was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FlushMethod {
    /// `postqueue -s DOMAIN`: the domain is in `fast_flush_domains`.
    Domain,
    /// `postqueue -i ID` per message: the domain is not eligible for fast flush
    /// (Postfix says "Flush service is not configured for destination").
    QueueIds { ids: Vec<String>, not_eligible: String },
}

/// What a flush asked for and what the log said afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushOutcome {
    pub domain: String,
    pub method: FlushMethod,
    /// Where the new lines were read.
    pub source: LogSource,
    /// The new lines about the destination, oldest first.
    pub lines: Vec<LogLine>,
    /// Every flushed message got a `status=` line before the time ran out.
    pub complete: bool,
}

/// Asks Postfix to try the destination's deferred mail now, then follows the log for
/// at most `follow` and returns the new lines about it (`status=sent/deferred/bounced`).
///
/// `postqueue -s` needs the domain in `fast_flush_domains` (by default
/// `$relay_domains`, which on a relay sending out is usually empty); Postfix itself
/// decides eligibility, since the list may hold maps and patterns, and when it refuses,
/// each deferred message of the domain is scheduled with `postqueue -i` (3.0+).
pub async fn flush(
    domain: &str,
    hosts: &[String],
    config_dir: Option<&Path>,
    follow: Duration,
) -> Result<FlushOutcome, FlushError> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let queue = deferred(config_dir).await?;
    let Some(destination) = queue.destinations.into_iter().find(|d| d.domain == domain) else {
        return Err(FlushError::NothingDeferred { domain });
    };
    let mut mark = log::mark(config_dir).await?;
    let method = match postqueue(config_dir, &["-s", &domain]).await {
        Ok(_) => FlushMethod::Domain,
        Err(QueueError::Failed { detail, .. }) if detail.contains("not configured") || detail.contains("eligible") => {
            // A message delivered or expired since the listing is no longer there:
            // only when none could be scheduled is that an error.
            let mut scheduled = Vec::new();
            let mut last_error = None;
            for id in &destination.queue_ids {
                match postqueue(config_dir, &["-i", id]).await {
                    Ok(_) => scheduled.push(id.clone()),
                    Err(e) => last_error = Some(e),
                }
            }
            if let (true, Some(e)) = (scheduled.is_empty(), last_error) {
                return Err(e.into());
            }
            FlushMethod::QueueIds {
                ids: scheduled,
                not_eligible: detail,
            }
        }
        Err(e) => return Err(e.into()),
    };
    let source = match &mark {
        LogMark::File { path, .. } => LogSource::File { path: path.clone() },
        LogMark::Journal { .. } => LogSource::Journal {
            command: "journalctl -u postfix*".into(),
        },
    };
    let expected = match &method {
        FlushMethod::QueueIds { ids, .. } => ids.clone(),
        FlushMethod::Domain => destination.queue_ids.clone(),
    };
    let wanted = LogDestination::new(&domain, hosts);
    let deadline = tokio::time::Instant::now() + follow;
    let mut lines: Vec<LogLine> = Vec::new();
    let complete = loop {
        let mut new = log::read_since(&mut mark, &wanted).await?;
        if matches!(mark, LogMark::Journal { .. }) {
            // The journal is re-read from the mark each time: keep only unseen lines.
            new.retain(|l| !lines.contains(l));
        }
        lines.extend(new);
        let complete = attempted_all(&lines, &expected);
        if complete || tokio::time::Instant::now() >= deadline {
            break complete;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    Ok(FlushOutcome {
        domain,
        method,
        source,
        lines,
        complete,
    })
}

/// Whether every queue id has a delivery line with a `status=` after the flush.
fn attempted_all(lines: &[LogLine], ids: &[String]) -> bool {
    let done = |id: &String| {
        lines
            .iter()
            .any(|l| l.queue_id.as_ref() == Some(id) && l.status().is_some())
    };
    !ids.is_empty() && ids.iter().all(done)
}

/// The sentences about the queue and flushes, as data (assets/relay_queue.toml).
pub static WORDING: crate::wording::Sentences = crate::wording::Sentences::new(
    "assets/relay_queue.toml",
    include_str!("../../../assets/relay_queue.toml"),
);

/// Every sentence of [`WORDING`] the code asks for; a test holds it and the asset in step.
pub const SENTENCES: &[(&str, &str)] = &[
    ("queue", "empty"),
    ("queue", "truncated"),
    ("queue", "unparsed"),
    ("flush", "domain"),
    ("flush", "queue_ids"),
    ("flush", "no_lines"),
    ("flush", "incomplete"),
    ("intake", "title"),
    ("intake", "unreadable"),
];

/// A waiting time as an operator reads it: the two largest units (`3d 4h`, `12m 5s`).
pub fn age_text(secs: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, unit) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 || (!parts.is_empty() && rest == 0) {
            break;
        }
    }
    parts.join(" ")
}

impl DeferredQueue {
    /// One line per destination, columns aligned, then any notes about the listing.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        if self.destinations.is_empty() {
            out.push_str(&WORDING.say("queue", "empty", &[]));
            out.push('\n');
        }
        let width = self
            .destinations
            .iter()
            .map(|d| d.domain.chars().count())
            .max()
            .unwrap_or(0);
        let count_width = self
            .destinations
            .iter()
            .map(|d| d.messages.to_string().len())
            .max()
            .unwrap_or(1);
        let ages: Vec<String> = self.destinations.iter().map(|d| age_text(d.oldest_age_secs)).collect();
        let age_width = ages.iter().map(String::len).max().unwrap_or(0);
        for (d, age) in self.destinations.iter().zip(&ages) {
            let line = format!(
                "{:<width$}  {:>count_width$} msg  oldest {:>age_width$}  {}",
                d.domain,
                d.messages,
                age,
                d.last_reason.as_deref().unwrap_or("-"),
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if self.truncated {
            let limit = (MAX_OUTPUT_BYTES / (1024 * 1024)).to_string();
            out.push_str(&WORDING.say("queue", "truncated", &[("limit", &limit)]));
            out.push('\n');
        }
        if self.unparsed_lines > 0 {
            let count = self.unparsed_lines.to_string();
            out.push_str(&WORDING.say("queue", "unparsed", &[("count", &count)]));
            out.push('\n');
        }
        out
    }
}

impl FlushOutcome {
    /// What was asked for, then the new log lines, then whether they are all there.
    pub fn render_text(&self, follow: Duration) -> String {
        let mut out = match &self.method {
            FlushMethod::Domain => WORDING.say("flush", "domain", &[("domain", &self.domain)]),
            FlushMethod::QueueIds { ids, not_eligible } => WORDING.say(
                "flush",
                "queue_ids",
                &[
                    ("domain", &self.domain),
                    ("why", not_eligible),
                    ("count", &ids.len().to_string()),
                ],
            ),
        };
        out.push('\n');
        let seconds = follow.as_secs().to_string();
        if self.lines.is_empty() {
            let source = self.source.to_string();
            out.push_str(&WORDING.say(
                "flush",
                "no_lines",
                &[("domain", &self.domain), ("source", &source), ("seconds", &seconds)],
            ));
            out.push('\n');
        }
        for line in &self.lines {
            let id = line.queue_id.as_deref().map(|id| format!("{id}: ")).unwrap_or_default();
            out.push_str(&format!("{} {}: {id}{}\n", line.timestamp, line.process, line.message));
        }
        if !self.complete && !self.lines.is_empty() {
            out.push_str(&WORDING.say("flush", "incomplete", &[("seconds", &seconds)]));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;

    fn message(queue: &str, id: &str, at: i64, rcpts: &[(&str, Option<&str>)]) -> QueuedMessage {
        QueuedMessage {
            queue_name: queue.into(),
            queue_id: id.into(),
            arrival_time: at,
            message_size: 100,
            sender: "s@relay.test".into(),
            recipients: rcpts
                .iter()
                .map(|(a, r)| QueuedRecipient {
                    address: (*a).into(),
                    delay_reason: r.map(Into::into),
                })
                .collect(),
        }
    }

    #[test]
    fn groups_by_lowercased_domain_sorted_by_count_then_age() {
        let messages = [
            message("deferred", "A1", 1000, &[("a@Example.NET", Some("old reason"))]),
            message("deferred", "B2", 1500, &[("b@example.net", Some("new reason"))]),
            message("deferred", "C3", 500, &[("c@example.org", Some("org reason"))]),
            message("deferred", "D4", 900, &[("d@example.com", Some("com reason"))]),
            message("hold", "E5", 100, &[("e@example.com", Some("held"))]),
            message("active", "F6", 100, &[("f@example.com", None)]),
        ];
        let grouped = group_deferred(&messages, 2000);
        let names: Vec<_> = grouped.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(names, ["example.net", "example.org", "example.com"]);
        assert_eq!(grouped[0].messages, 2);
        assert_eq!(grouped[0].oldest_age_secs, 1000);
        assert_eq!(grouped[0].last_reason.as_deref(), Some("new reason"));
        assert_eq!(grouped[0].queue_ids, ["A1", "B2"]);
        assert_eq!(grouped[1].oldest_age_secs, 1500);
        assert_eq!(grouped[2].messages, 1);
    }

    #[test]
    fn a_message_with_two_recipients_in_one_domain_counts_once() {
        let messages = [message(
            "deferred",
            "A1",
            1000,
            &[
                ("a@example.net", Some("r1")),
                ("b@example.net", Some("r2")),
                ("c@example.org", None),
            ],
        )];
        let grouped = group_deferred(&messages, 1000);
        assert_eq!(grouped.len(), 2);
        assert!(grouped.iter().all(|d| d.messages == 1));
    }

    #[test]
    fn the_reason_reads_as_a_pasted_postfix_bounce() {
        let messages = [message(
            "deferred",
            "A1",
            1000,
            &[(
                "user@example.net",
                Some(
                    "host mx.example.net[192.0.2.1] said: 454 4.7.0 TLS not available due to temporary reason (in reply to STARTTLS command)",
                ),
            )],
        )];
        let grouped = group_deferred(&messages, 1000);
        let found = crate::intake::extract(&grouped[0].as_pasted()).unwrap();
        assert_eq!(found.domain.as_deref(), Some("example.net"));
        assert_eq!(found.mx_host.as_deref(), Some("mx.example.net"));
        assert_eq!(found.smtp_code, Some(454));
    }

    #[test]
    fn unparsable_lines_are_counted_not_fatal() {
        let (messages, unparsed) =
            parse("{\"queue_name\": \"deferred\", \"queue_id\": \"A\", \"arrival_time\": 1}\nnot json\n{\"queue_na");
        assert_eq!(messages.len(), 1);
        assert_eq!(unparsed, 2);
    }

    #[test]
    fn every_sentence_used_is_in_the_asset_and_no_other() {
        assert_eq!(WORDING.problems(SENTENCES), Vec::<String>::new());
    }

    #[test]
    fn ages_show_their_two_largest_units() {
        assert_eq!(age_text(0), "0s");
        assert_eq!(age_text(45), "45s");
        assert_eq!(age_text(3600), "1h");
        assert_eq!(age_text(3725), "1h 2m");
        assert_eq!(age_text(90_061), "1d 1h");
    }

    #[test]
    fn the_text_listing_aligns_one_line_per_destination() {
        let messages = [
            message("deferred", "A1", 1000, &[("a@example.net", Some("refused"))]),
            message("deferred", "B2", 1500, &[("b@example.net", Some("refused again"))]),
            message("deferred", "C3", 1990, &[("c@mixed.example", None)]),
        ];
        let queue = DeferredQueue {
            destinations: group_deferred(&messages, 2000),
            messages: 3,
            truncated: false,
            unparsed_lines: 0,
        };
        assert_eq!(
            queue.render_text(),
            "example.net    2 msg  oldest 16m 40s  refused again\nmixed.example  1 msg  oldest     10s  -\n"
        );
        let empty = DeferredQueue {
            destinations: Vec::new(),
            messages: 0,
            truncated: false,
            unparsed_lines: 0,
        };
        assert_eq!(empty.render_text(), "no deferred mail\n");
    }

    #[test]
    fn fatal_messages_lose_the_program_prefix() {
        assert_eq!(
            fatal_message(
                "postqueue: fatal: Queue report unavailable - mail system is down (Connect to the Postfix showq service: Connection refused)"
            ),
            "Queue report unavailable - mail system is down (Connect to the Postfix showq service: Connection refused)"
        );
        assert_eq!(
            fatal_message(
                "postqueue: error: unauthorized configuration directory name: /tmp/x\npostqueue: fatal: specify ..."
            ),
            "unauthorized configuration directory name: /tmp/x"
        );
    }
}
