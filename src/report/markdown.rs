//! The ticket-ready Markdown report.

use std::fmt::Write;

use super::session::Session;
use super::wording;
use crate::cert::{ChainReport, Completeness};
use crate::diagnose::{CheckStatus, EvidenceAt, Outcome, Owner, Scope, Step, Tree, Verdict};
use crate::model::ProbeResult;

/// Peer text as inert Markdown: no links, images, HTML, entities, emphasis, table
/// breaks, mentions or issue references.
///
/// Backslashes neutralise Markdown syntax, but not what GitHub-style renderers add on
/// top: `@name` pings a person or team, bare `https://…`, `www.…` and `user@host` become
/// links, `#12` links an issue. Those filters run on the rendered text, where the
/// backslash is gone, and skip code spans; so a word that would trigger one goes in a
/// code span, and everything else is escaped character by character.
fn md(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if renderer_would_link(word) {
            // Punctuation around the word stays outside the span, as it reads.
            let core = word.trim_start_matches('(').trim_end_matches(['.', ',', ':', ';', ')']);
            let start = word.len() - word.trim_start_matches('(').len();
            escape_word(&mut out, &word[..start]);
            // A pipe splits a table cell even inside a code span; outside one, `\|` is
            // a plain pipe everywhere, so the span is cut around it.
            let pieces: Vec<String> = core
                .split('|')
                .map(|piece| if piece.is_empty() { String::new() } else { code(piece) })
                .collect();
            out.push_str(&pieces.join("\\|"));
            escape_word(&mut out, &word[start + core.len()..]);
        } else {
            escape_word(&mut out, word);
        }
    }
    out
}

/// Whether a GitHub-style renderer would turn `word` into a mention, a link or an
/// issue reference even with every punctuation mark escaped.
fn renderer_would_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    word.contains('@')
        || lower.contains("://")
        || lower.contains("www.")
        || lower.contains("mailto:")
        || word
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'#' && w[1].is_ascii_digit())
}

fn escape_word(out: &mut String, word: &str) {
    for c in word.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '!' | '#' | '|' | '{' | '}' | '~' | '&'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Escapes text for a table cell.
fn cell(text: &str) -> String {
    md(text)
}

/// A code span that peer text cannot close: the fence is longer than any backtick run inside.
fn code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", text.replace(['\n', '\r'], " "))
}

/// A code fence longer than any backtick run in `body`, so peer text cannot close it.
fn fenced(lang: &str, body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}\n", body.trim_end())
}

pub fn utc(unix: u64) -> String {
    // `as i64` would turn a hostile u64::MAX into -1, a plausible 1969 date.
    i64::try_from(unix)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .map_or_else(
            || unix.to_string(),
            |t| format!("{} {:02}:{:02} UTC", t.date(), t.hour(), t.minute()),
        )
}

fn source_address(session: &Session) -> Option<String> {
    session
        .check
        .probes
        .iter()
        .find_map(|p| p.local_address)
        .map(|a| a.ip().to_string())
}

pub fn render_markdown(session: &Session) -> String {
    let check = &session.check;
    let v = &session.verdict;
    let mut out = String::new();
    let source = source_address(session)
        .map(|s| format!(" (source {s})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# STARTTLS triage: {} — {}\n",
        md(&check.target.to_string()),
        v.title
    );
    let _ = writeln!(
        out,
        "**{}** · family: {} · owner: {} · confidence: {} · checked {} from {}{source}\n",
        v.title,
        v.family.label(),
        v.owner.label(),
        v.confidence.label(),
        utc(check.started_at),
        code(&check.vantage_host)
    );
    let stop = if v.confidence_reason.ends_with(['?', '.']) {
        ""
    } else {
        "."
    };
    let _ = writeln!(out, "Confidence: {}{stop}\n", v.confidence_reason);
    if let Some(tlsrpt) = &v.tlsrpt {
        let _ = writeln!(
            out,
            "A sender that files TLS reports (RFC 8460) would log this as `{tlsrpt}`.\n"
        );
    }

    if let Some(prediction) = &v.relay {
        let _ = writeln!(out, "## What this relay does\n");
        bullets(&mut out, &super::relay::prediction(prediction, v));
        out.push('\n');
    }
    let _ = writeln!(out, "## What happened\n\n{}\n", v.explanation);
    match &v.scope {
        Scope::Domain => {}
        Scope::AllAddresses { count: 1 } => {
            let _ = writeln!(out, "{}\n", wording::say("scope", "only_address", &[]));
        }
        Scope::AllAddresses { count } => {
            let count = count.to_string();
            let _ = writeln!(
                out,
                "{}\n",
                wording::say("scope", "all_addresses", &[("count", &count)])
            );
        }
        Scope::SomeAddresses { failing, working } => {
            let (failing, working) = (md(&failing.join(", ")), md(&working.join(", ")));
            let sentence = wording::say(
                "scope",
                "some_addresses",
                &[("failing", &failing), ("working", &working)],
            );
            let _ = writeln!(out, "{sentence}\n");
        }
        Scope::Grouped { addresses, total } => {
            let values = [
                ("count", addresses.len().to_string()),
                ("total", total.to_string()),
                ("addresses", md(&addresses.join(", "))),
            ];
            let sentence = wording::say("scope", "grouped", &crate::wording::pairs(&values));
            let _ = writeln!(out, "{sentence}\n");
        }
    }
    render_groups(&mut out, session);
    let _ = writeln!(out, "## Fix\n\n{}\n", v.fix);
    if let Some(next) = &v.next_check {
        let _ = writeln!(out, "**Next check:** {next}\n");
    }

    if !v.evidence.is_empty() {
        let _ = writeln!(out, "## Evidence\n");
        for e in &v.evidence {
            let place = match &e.at {
                EvidenceAt::Transcript { line } => format!("transcript line {line}"),
                EvidenceAt::Certificate { position, field } => format!("certificate [{position}] {field}"),
                EvidenceAt::Dns { name } => format!("DNS {name}"),
                EvidenceAt::Answer { .. } => wording::say("evidence", "answer", &[]),
                EvidenceAt::Published { source } => format!("published at {source}"),
            };
            let who = match (&e.mx, e.address) {
                (Some(mx), Some(addr)) => format!("{} [{}] ", code(mx), addr.ip()),
                _ => String::new(),
            };
            let _ = writeln!(out, "- {who}{}: {}", md(&place), md(&e.detail));
        }
        out.push('\n');
    }

    if !v.findings.is_empty() {
        let _ = writeln!(out, "## Also noticed\n");
        for n in &v.findings {
            let _ = writeln!(
                out,
                "- {} [{}]: {}",
                code(&n.mx),
                n.address.ip(),
                md(&n.finding.describe())
            );
        }
        out.push('\n');
    }

    render_dns(&mut out, session);
    render_policy(&mut out, session);
    render_relay(&mut out, session);
    if !check.probes.is_empty() {
        let _ = writeln!(out, "## Addresses\n");
        let _ = writeln!(
            out,
            "| MX | address | stage reached | failure | TLS | certificate | timings (ms) |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for p in &check.probes {
            let failure = p.failure.as_ref().map_or("—".to_string(), |f| f.summary());
            let tls = p
                .tls
                .as_ref()
                .map_or("—".to_string(), |t| format!("{} {}", t.version, t.cipher_suite));
            let t = &p.timings;
            let timings = format!(
                "connect {} / greeting {} / TLS {} / total {}",
                opt(t.connect_ms),
                opt(t.greeting_ms),
                opt(t.tls_ms),
                t.total_ms
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&p.mx),
                p.address,
                p.stage.label(),
                cell(&failure),
                code(&tls),
                cell(&certificate_status(p)),
                timings
            );
        }
        out.push('\n');
    }

    let focus = check
        .probes
        .iter()
        .find(|p| p.failure.is_some())
        .or_else(|| check.probes.iter().find(|p| !p.is_secure()))
        .or_else(|| check.probes.first());
    if let Some(p) = focus {
        let _ = writeln!(out, "## Transcript: {} [{}]\n", md(&p.mx), p.address);
        out.push_str(&fenced("text", &transcript(p)));
        out.push('\n');
        if let Some(chain) = &p.chain {
            let _ = writeln!(out, "## Certificate chain: {} [{}]\n", md(&p.mx), p.address);
            render_chain(&mut out, chain);
        }
    }

    let scans: Vec<&ProbeResult> = check
        .probes
        .iter()
        .filter(|p| p.scan.is_some() || p.second_opinion.is_some())
        .collect();
    if !scans.is_empty() {
        let _ = writeln!(out, "## What the server accepts\n");
        for p in scans {
            let _ = writeln!(out, "{} [{}]:\n", code(&p.mx), p.address);
            for line in p.scan.iter().flat_map(|s| s.describe()) {
                let _ = writeln!(out, "- {}", md(&line));
            }
            if let Some(opinion) = &p.second_opinion {
                let _ = writeln!(out, "- second opinion: {}", md(&opinion.describe()));
            }
            out.push('\n');
        }
    }

    if let Some(w) = &v.workaround {
        let _ = writeln!(
            out,
            "## Temporary workaround (this destination only, until {})\n",
            w.expires
        );
        let _ = writeln!(out, "> **Warning:** {}\n", md(&w.warning));
        let _ = writeln!(out, "Postfix:\n");
        out.push_str(&fenced("", &w.postfix));
        let _ = writeln!(out, "\nExim:\n");
        out.push_str(&fenced("", &w.exim));
        out.push('\n');
    }

    if !v.reproduce.is_empty() {
        let _ = writeln!(out, "## Reproduce by hand\n");
        let commands: Vec<String> = v
            .reproduce
            .iter()
            .map(|r| format!("# {} [{}]\n{}\n{}", r.mx, r.address, r.swaks, r.openssl))
            .collect();
        out.push_str(&fenced("sh", &commands.join("\n\n")));
        out.push('\n');
    }

    let _ = writeln!(out, "## Before you retry the queue\n");
    for item in &v.checklist {
        let mark = match item.status {
            CheckStatus::Pass => "[x]",
            CheckStatus::Fail => "[ ] **fails:**",
            CheckStatus::Ask => "[ ] ask:",
        };
        let detail = if item.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", item.detail)
        };
        let _ = writeln!(out, "- {mark} {}{}", item.text, md(&detail));
    }
    out.push('\n');

    render_path(&mut out, v);

    if v.owner == Owner::Recipient {
        let _ = writeln!(out, "## Note for the recipient's postmaster\n");
        let note = postmaster_note(session, source_address(session));
        for line in note.trim().lines() {
            let _ = writeln!(out, "> {line}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "---\nmxtriage {} · report schema {}",
        check.tool_version, check.schema_version
    );
    out
}

/// The addresses grouped by what is wrong with each: a numbered list, the group the
/// verdict names first, each address once with its MX names.
fn render_groups(out: &mut String, session: &Session) {
    let v = &session.verdict;
    if v.groups.is_empty() {
        return;
    }
    let _ = writeln!(out, "## {}\n", crate::diagnose::groups_title());
    for (i, group) in v.groups.iter().enumerate() {
        let _ = writeln!(out, "{}. {}", i + 1, md(&crate::diagnose::group_heading(group)));
        for address in &group.addresses {
            let line = crate::diagnose::group_address(address, &session.check.resolution);
            let _ = writeln!(out, "   - {}", md(&line));
        }
        if let Some(fix) = crate::diagnose::group_fix(group) {
            let _ = writeln!(out, "\n   {}", md(&fix));
        }
    }
    out.push('\n');
}

fn postmaster_note(session: &Session, source: Option<String>) -> String {
    let check = &session.check;
    let v = &session.verdict;
    let evidence: Vec<String> = v
        .evidence
        .iter()
        .take(4)
        .map(|e| {
            let who = match (&e.mx, e.address) {
                (Some(mx), Some(addr)) => format!("{} [{}]: ", md(mx), addr.ip()),
                (Some(mx), None) => format!("{}: ", md(mx)),
                _ => String::new(),
            };
            format!("- {who}{}", md(&e.detail))
        })
        .collect();
    let domain = md(&check.resolution.query);
    let vantage = md(&check.vantage_host);
    let values = [("vantage", vantage.as_str()), ("domain", domain.as_str())];
    // Where another MX delivers, mail is not "failing": say which host fails and which works.
    let situation = match (&v.scope, failing_addresses(session)) {
        (Scope::SomeAddresses { failing, working }, _) => {
            let (failing, working) = (md(&failing.join(", ")), md(&working.join(", ")));
            let more = [("failing", failing.as_str()), ("working", working.as_str())];
            wording::say("postmaster", "some_failing", &[&values[..], &more[..]].concat())
        }
        (Scope::Grouped { .. }, _) => wording::say("postmaster", "grouped", &values),
        (_, failing) if failing.is_empty() => wording::say("postmaster", "domain", &values),
        (_, failing) => {
            let failing = failing.join(", ");
            wording::say(
                "postmaster",
                "all_failing",
                &[&values[..], &[("failing", failing.as_str())][..]].concat(),
            )
        }
    };
    let source = source.map(|s| format!(" (source address {s})")).unwrap_or_default();
    let date = utc(check.started_at);
    // Addresses that fail in different ways: the note names every problem and every fix.
    let (title, fix) = if v.groups.is_empty() {
        (v.title.clone(), v.fix.clone())
    } else {
        let mut fixes: Vec<String> = Vec::new();
        for group in v.groups.iter().filter(|g| crate::diagnose::group_fix(g).is_some()) {
            if !fixes.contains(&group.fix) {
                fixes.push(group.fix.clone());
            }
        }
        (crate::diagnose::groups_summary(&v.groups), fixes.join(" "))
    };
    let evidence = evidence.join("\n");
    crate::diagnose::fill(
        crate::diagnose::postmaster_template(),
        &[
            ("situation", situation.as_str()),
            ("vantage", vantage.as_str()),
            ("domain", domain.as_str()),
            ("source", source.as_str()),
            ("date", date.as_str()),
            ("title", title.as_str()),
            ("evidence", evidence.as_str()),
            ("fix", fix.as_str()),
        ],
    )
}

/// The addresses the verdict is about, as `host [address]` in Markdown: those its
/// evidence cites, else every address that did not end secure.
fn failing_addresses(session: &Session) -> Vec<String> {
    let cited: Vec<String> = session
        .verdict
        .evidence
        .iter()
        .filter_map(|e| match (&e.mx, e.address) {
            (Some(mx), Some(address)) => Some(format!("{} [{}]", md(mx), address.ip())),
            // A line merged from several MX names keeps only its address.
            (None, Some(address)) => Some(address.ip().to_string()),
            _ => None,
        })
        .collect();
    let labels = if cited.is_empty() {
        let unsecure = session.check.probes.iter().filter(|p| !p.is_secure());
        unsecure
            .map(|p| format!("{} [{}]", md(&p.mx), p.address.ip()))
            .collect()
    } else {
        cited
    };
    let mut failing: Vec<String> = Vec::new();
    for label in labels {
        if !failing.contains(&label) {
            failing.push(label);
        }
    }
    failing
}

/// A step's answer in words: yes or no for a check, the answer's label for a question.
fn answer_words(step: &Step) -> String {
    match &step.outcome {
        Outcome::Yes => wording::say("path", "yes", &[]),
        Outcome::No => wording::say("path", "no", &[]),
        Outcome::Answer(_) => step.answer_label(Tree::embedded()).unwrap_or_default().to_string(),
    }
}

/// What a step's answer says beside the answer: the finding, or a question still open.
fn answer_note(step: &Step, finding: bool) -> Option<String> {
    if finding {
        Some(wording::say("path", "finding", &[]))
    } else if step.unanswered {
        Some(wording::say("path", "not_answered", &[]))
    } else {
        None
    }
}

/// The walk through the tree: a numbered list with each step's real answer and the
/// finding marked, then the same path as a Mermaid flowchart for ticket systems that
/// draw one (the fenced source still reads top to bottom as plain text).
fn render_path(out: &mut String, v: &Verdict) {
    let finding = v.finding();
    let _ = writeln!(out, "## Decision path\n");
    for (i, step) in v.steps.iter().enumerate() {
        let answer = answer_words(step);
        let answer = match answer_note(step, finding == Some(i)) {
            Some(note) if finding == Some(i) => format!("**{}** ({note})", md(&answer)),
            Some(note) => format!("{} ({note})", md(&answer)),
            None => md(&answer),
        };
        let _ = writeln!(out, "{}. {} → {answer}", i + 1, step.title);
    }
    let verdict = wording::say("path", "verdict", &[("title", &v.title)]);
    let _ = writeln!(out, "\n{}\n", md(&verdict));
    out.push_str(&fenced("mermaid", &mermaid(v, &verdict)));
    out.push('\n');
}

/// The path as a Mermaid `flowchart TD`: one box per step, the branch taken on each
/// edge, the finding's box drawn heavier and the verdict as the rounded leaf. Only the
/// path is drawn: the branches not taken are in the tree, not in this session.
fn mermaid(v: &Verdict, verdict: &str) -> String {
    let finding = v.finding();
    let mut chart = String::from("flowchart TD\n");
    for (i, step) in v.steps.iter().enumerate() {
        let class = if finding == Some(i) { ":::finding" } else { "" };
        let label = mermaid_text(&format!("{}. {}", i + 1, step.title));
        let answer = match answer_note(step, finding == Some(i)) {
            Some(note) => format!("{} ({note})", answer_words(step)),
            None => answer_words(step),
        };
        let next = if i + 1 == v.steps.len() {
            "verdict".to_string()
        } else {
            format!("s{}", i + 2)
        };
        // One line per step, question → answer → next, so the source reads as a list.
        let _ = writeln!(
            chart,
            "  s{}[\"{label}\"]{class} -->|\"{}\"| {next}",
            i + 1,
            mermaid_text(&answer)
        );
    }
    let _ = writeln!(chart, "  verdict([\"{}\"])", mermaid_text(verdict));
    if finding.is_some() {
        let _ = writeln!(chart, "  classDef finding stroke-width:3px");
    }
    chart
}

/// Text for a quoted Mermaid label: its own quotes, entity and HTML characters and
/// pipes written as Mermaid entity codes, line breaks as spaces, so a label cannot end
/// its box or edge early or inject markup.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn render_dns(out: &mut String, session: &Session) {
    let r = &session.check.resolution;
    if r.hosts.is_empty() {
        return;
    }
    let _ = writeln!(out, "## DNS\n");
    for h in &r.hosts {
        let pref = h.preference.map_or(String::new(), |p| format!("MX {p} "));
        let addrs: Vec<String> = h
            .addresses
            .iter()
            .map(|a| format!("{} (TTL {})", a.ip, a.ttl))
            .collect();
        let _ = writeln!(
            out,
            "- {pref}{}: {}",
            code(&h.name),
            if addrs.is_empty() {
                "no address".into()
            } else {
                addrs.join(", ")
            }
        );
        for step in &h.cname_chain {
            let _ = writeln!(out, "  - CNAME {}", md(step));
        }
    }
    out.push('\n');
}

/// What was read of this relay's MTA, each value with where it came from.
fn render_relay(out: &mut String, session: &Session) {
    let Some(relay) = &session.check.relay else {
        return;
    };
    let _ = writeln!(out, "## This relay's configuration\n");
    bullets(out, &super::relay::configuration(relay));
    out.push('\n');
}

/// What the recipient publishes, one subsection per kind of evidence.
fn render_policy(out: &mut String, session: &Session) {
    let Some(policy) = &session.check.recipient else {
        return;
    };
    let _ = writeln!(out, "## Recipient policy: {}\n", md(&policy.status_line()));
    for section in super::policy::sections(policy, &session.check.probes) {
        let _ = writeln!(out, "### {}\n", section.title);
        bullets(out, &section.lines);
        out.push('\n');
    }
}

fn transcript(p: &ProbeResult) -> String {
    p.transcript
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let arrow = l.direction.marker();
            let lock = if l.encrypted { "tls" } else { "   " };
            format!("{i:>3} {:>6}ms {lock} {arrow} {}", l.at_ms, l.text)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn certificate_status(p: &ProbeResult) -> String {
    let Some(chain) = &p.chain else {
        return "—".to_string();
    };
    let mut parts = Vec::new();
    parts.push(if chain.is_trusted() { "trusted" } else { "untrusted" }.to_string());
    if !chain.name_matches() {
        parts.push("name mismatch".to_string());
    }
    if let Some(leaf) = chain.leaf() {
        if leaf.days_remaining < 0 {
            parts.push(format!("expired {} days ago", -leaf.days_remaining));
        } else {
            parts.push(format!("{} days left", leaf.days_remaining));
        }
    }
    if let Completeness::MissingIssuer { .. } = chain.completeness {
        parts.push("chain incomplete".to_string());
    }
    parts.join(", ")
}

fn render_chain(out: &mut String, chain: &ChainReport) {
    let lines: Vec<String> = super::chain::lines(chain)
        .into_iter()
        .map(|l| format!("{}{}", "  ".repeat(l.depth), l.text))
        .collect();
    bullets(out, &lines);
    out.push('\n');
}

/// Plain lines as a Markdown list, two leading spaces per level, peer text escaped.
fn bullets(out: &mut String, lines: &[String]) {
    for line in lines {
        let depth = line.len() - line.trim_start().len();
        let _ = writeln!(out, "{}- {}", " ".repeat(depth), md(line.trim_start()));
    }
}

fn opt(v: Option<u64>) -> String {
    v.map_or("—".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_text_cannot_inject_markdown() {
        assert_eq!(md("[click](x) <b>|"), "\\[click\\](x) \\<b\\>\\|");
        assert_eq!(md("[click](http://x)"), "`[click](http://x`)");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn peer_text_cannot_ping_link_or_smuggle_entities() {
        assert_eq!(md("cc @security-team now"), "cc `@security-team` now");
        assert_eq!(md("see https://evil.example/x"), "see `https://evil.example/x`");
        assert_eq!(md("www.evil.example"), "`www.evil.example`");
        assert_eq!(md("mail root@evil.example"), "mail `root@evil.example`");
        assert_eq!(md("fixes #12"), "fixes `#12`");
        assert_eq!(md("(rua=mailto:a@b.example)."), "(`rua=mailto:a@b.example`).");
        assert_eq!(md("a&rlm;b &amp;"), "a\\&rlm;b \\&amp;");
        // In a table a pipe must stay escaped even where the word is a code span.
        assert_eq!(md("@a|b"), "`@a`\\|`b`");
        assert_eq!(md("x`@y"), "``x`@y``");
        // Ordinary words keep their backslash escapes.
        assert_eq!(md("_smtp._tls [1]"), "\\_smtp.\\_tls \\[1\\]");
    }

    #[test]
    fn a_mermaid_label_cannot_end_its_box_or_carry_markup() {
        assert_eq!(
            mermaid_text("say \"hi\" [x] <b>#1</b> a|b `c`\nd"),
            "say #quot;hi#quot; [x] #lt;b#gt;#35;1#lt;/b#gt; a#124;b #96;c#96; d"
        );
    }
}
