//! Intake: what a pasted bounce, DSN or MTA log says about where delivery failed.
//!
//! Operators meet a STARTTLS failure as text from their own MTA, not as a host name,
//! so the tool starts from that text. The recognised forms live in one table
//! ([`patterns`]); this module prepares the paste, runs the table, and validates and
//! neutralises what the table found, because the paste is untrusted: it may be huge,
//! binary, or carry terminal escape sequences meant for whoever displays it.

mod parsed;
mod patterns;
mod prepare;

use std::fmt;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::target::Target;
use crate::text::SafeText;

pub use parsed::Parsed;
pub use prepare::{MAX_INPUT_BYTES, normalise_line_endings};

use patterns::{FRAGMENTS, Field, PATTERNS, Pattern};

/// Longest error phrase kept: any MTA's one-line reason fits, and it stays short
/// enough to show next to a verdict.
pub const MAX_PHRASE_CHARS: usize = 200;

/// Longest queue-age text kept; the forms recognised are a few words.
const MAX_AGE_CHARS: usize = 80;

/// Matches of one pattern examined at most, so a paste of thousands of similar log
/// lines costs no more than a few hundred.
const MAX_MATCHES_PER_PATTERN: usize = 256;

/// The software that wrote the pasted text, which tells the operator whose wording
/// (and whose retry and fallback rules) the phrase follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MtaFamily {
    Postfix,
    /// netqmail with the TLS patch, and engines derived from qmail.
    Qmail,
    Exim,
    Sendmail,
    /// Exchange Server and Exchange Online.
    Exchange,
    /// Anything else recognised: Gmail bounces, swaks, openssl and other tools' text.
    Other,
}

impl fmt::Display for MtaFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MtaFamily::Postfix => "Postfix",
            MtaFamily::Qmail => "qmail",
            MtaFamily::Exim => "Exim",
            MtaFamily::Sendmail => "Sendmail",
            MtaFamily::Exchange => "Exchange",
            MtaFamily::Other => "other",
        })
    }
}

/// What the paste said. Every string is neutralised with [`SafeText`] and short.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    /// The recipient address (`user@domain`) if one was seen.
    pub recipient: Option<String>,
    /// The recipient's domain, lower-case; only ever taken from [`Self::recipient`].
    pub domain: Option<String>,
    /// The relay or MX host the sender tried, lower-case, without a trailing dot.
    pub mx_host: Option<String>,
    /// The address of that relay.
    pub address: Option<IpAddr>,
    /// The relay's port, when the text gives one.
    pub port: Option<u16>,
    /// The error as the MTA (or the remote server) put it, trimmed and capped at
    /// [`MAX_PHRASE_CHARS`].
    pub phrase: Option<String>,
    /// Whose text this is.
    pub mta: Option<MtaFamily>,
    /// The SMTP reply code, e.g. 454.
    pub smtp_code: Option<u16>,
    /// The RFC 3463 enhanced status code, e.g. "4.7.5" or "4.4.317".
    pub enhanced_status: Option<String>,
    /// How long the message had waited, as the text gives it ("3601 s", "4 hours",
    /// "in the queue too long").
    pub queue_age: Option<String>,
}

impl Extracted {
    /// What to probe: the recipient domain if known (the probe then follows its MX
    /// set, as the sender did), else the MX host, else the address.
    pub fn target(&self) -> Option<Target> {
        if let Some(name) = &self.domain {
            return Some(Target::Domain { name: name.clone() });
        }
        if let Some(name) = &self.mx_host {
            return Some(Target::Host {
                name: name.clone(),
                port: self.port,
            });
        }
        self.address.map(|ip| Target::Address { ip, port: self.port })
    }

    fn has_destination(&self) -> bool {
        self.domain.is_some() || self.mx_host.is_some() || self.address.is_some()
    }

    fn has(&self, field: Field) -> bool {
        match field {
            Field::Rcpt => self.recipient.is_some(),
            Field::Host => self.mx_host.is_some(),
            Field::Ip => self.address.is_some(),
            Field::Port => self.port.is_some(),
            Field::Phrase => self.phrase.is_some(),
            Field::Code => self.smtp_code.is_some(),
            Field::Status => self.enhanced_status.is_some(),
            Field::Age | Field::AgeSeconds => self.queue_age.is_some(),
        }
    }

    /// Fills `field` from a raw capture unless it is already set (earlier table rows
    /// win) or the value does not validate (then a later row may still supply it).
    fn fill(&mut self, field: Field, raw: &str) {
        if self.has(field) {
            // A host that is an IP literal may still supply the address.
            if field != Field::Host || self.address.is_some() {
                return;
            }
        }
        match field {
            Field::Rcpt => {
                if let Some((recipient, domain)) = recipient(raw) {
                    self.recipient = Some(recipient);
                    self.domain = Some(domain);
                }
            }
            Field::Host => {
                if let Some(ip) = ip_address(raw) {
                    self.address.get_or_insert(ip);
                } else if self.mx_host.is_none() {
                    self.mx_host = host_name(raw);
                }
            }
            Field::Ip => self.address = ip_address(raw),
            Field::Port => self.port = raw.parse::<u16>().ok().filter(|p| *p != 0),
            Field::Phrase => self.phrase = neutralised(raw, MAX_PHRASE_CHARS),
            Field::Code => self.smtp_code = raw.parse::<u16>().ok().filter(|c| (200..600).contains(c)),
            Field::Status => self.enhanced_status = neutralised(raw, 16),
            Field::Age => self.queue_age = neutralised(raw, MAX_AGE_CHARS),
            Field::AgeSeconds => self.queue_age = neutralised(&format!("{} s", raw.trim()), MAX_AGE_CHARS),
        }
    }
}

/// One recognised form, so help text and documentation can show what may be pasted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecognisedForm {
    /// Stable name of the table row.
    pub name: &'static str,
    /// Whose output it is; `None` for forms any MTA writes (DSN fields, SMTP replies).
    pub family: Option<MtaFamily>,
    /// A short sketch of the form.
    pub form: &'static str,
    /// A realistic example of it.
    pub example: &'static str,
}

/// The forms [`extract`] recognises, in the order they take precedence.
pub fn recognised_forms() -> impl Iterator<Item = RecognisedForm> {
    PATTERNS.iter().map(|p| RecognisedForm {
        name: p.name,
        family: p.family,
        form: p.form,
        example: p.example,
    })
}

/// Nothing in the paste named a destination, so there is nothing to probe.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("could not find a destination in this text; looked for: {looked_for}")]
pub struct NotFound {
    /// The recognised forms that name a recipient, relay host or address.
    pub looked_for: String,
}

/// Reads a pasted bounce, DSN or log excerpt for the destination and the failure.
///
/// Only the first [`MAX_INPUT_BYTES`] are read. The result is an error only when no
/// recipient domain, host or address was found: an error phrase alone gives nothing
/// to probe.
pub fn extract(text: &str) -> Result<Extracted, NotFound> {
    let prepared = prepare::prepare(text);
    let mut found = Extracted::default();
    for (pattern, regex) in PATTERNS.iter().zip(compiled()) {
        let matched = apply(pattern, regex, &prepared, &mut found);
        if matched && found.mta.is_none() {
            found.mta = pattern.family;
        }
    }
    if found.has_destination() {
        Ok(found)
    } else {
        Err(NotFound {
            looked_for: looked_for(),
        })
    }
}

/// Most destinations listed for the operator to pick from; a paste naming more is a
/// queue dump, better read with `mxtriage queue`.
pub const MAX_DESTINATIONS: usize = 20;

/// What to probe, for each recipient domain the text names, in the order they first
/// appear; or the one target [`extract`] finds when the text names at most one domain.
///
/// A paste of several log lines or bounces can name several recipients' domains, and
/// picking the first silently would triage the wrong one. Several MX hosts for one
/// domain are not several destinations: the probe follows the domain's MX set.
pub fn destinations(text: &str) -> Vec<Target> {
    let prepared = prepare::prepare(text);
    let mut seen: Vec<(usize, String)> = Vec::new();
    for (pattern, regex) in PATTERNS.iter().zip(compiled()) {
        if !pattern.extracts.contains(&Field::Rcpt) {
            continue;
        }
        for captures in regex.captures_iter(&prepared).take(MAX_MATCHES_PER_PATTERN) {
            let Some(raw) = captures.name(Field::Rcpt.group()) else {
                continue;
            };
            let Some((_, domain)) = recipient(raw.as_str()) else {
                continue;
            };
            match seen.iter_mut().find(|(_, d)| *d == domain) {
                Some(first) => first.0 = first.0.min(raw.start()),
                None => seen.push((raw.start(), domain)),
            }
        }
    }
    if seen.len() < 2 {
        return extract(text).ok().and_then(|x| x.target()).into_iter().collect();
    }
    seen.sort();
    seen.into_iter()
        .take(MAX_DESTINATIONS)
        .map(|(_, name)| Target::Domain { name })
        .collect()
}

/// Runs one row over the prepared text; returns whether it matched at all.
fn apply(pattern: &Pattern, regex: &Regex, prepared: &str, found: &mut Extracted) -> bool {
    let mut matched = false;
    for captures in regex.captures_iter(prepared).take(MAX_MATCHES_PER_PATTERN) {
        matched = true;
        for field in pattern.extracts {
            if let Some(value) = captures.name(field.group()) {
                found.fill(*field, value.as_str());
            }
        }
        if pattern.extracts.iter().all(|f| found.has(*f)) {
            break;
        }
    }
    matched
}

/// The table's regexes, compiled once, in table order.
#[expect(
    clippy::expect_used,
    reason = "the sources are constants; a test compiles every one of them"
)]
fn compiled() -> &'static [Regex] {
    static COMPILED: OnceLock<Vec<Regex>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        PATTERNS
            .iter()
            .map(|p| Regex::new(&expand(p.regex)).expect("every intake pattern compiles"))
            .collect()
    })
}

/// A row's regex source with its placeholders expanded, matched line-wise.
fn expand(source: &str) -> String {
    FRAGMENTS.iter().fold(format!("(?m){source}"), |s, (token, fragment)| {
        s.replace(token, fragment)
    })
}

/// The forms that can name a destination, grouped by whose text they are, for the
/// operator whose paste had none (perhaps it was cut too short, or is a form we lack).
fn looked_for() -> String {
    let groups: [(Option<MtaFamily>, &str); 7] = [
        (Some(MtaFamily::Postfix), "Postfix"),
        (Some(MtaFamily::Qmail), "qmail"),
        (Some(MtaFamily::Exim), "Exim"),
        (Some(MtaFamily::Sendmail), "Sendmail"),
        (Some(MtaFamily::Exchange), "Exchange"),
        (Some(MtaFamily::Other), "Gmail and tools"),
        (None, "DSN and SMTP"),
    ];
    let mut parts = Vec::new();
    for (family, label) in groups {
        let mut forms: Vec<String> = Vec::new();
        for pattern in PATTERNS.iter().filter(|p| p.family == family) {
            let quoted = format!("\"{}\"", pattern.form);
            if pattern.extracts.iter().any(|f| f.names_destination()) && !forms.contains(&quoted) {
                forms.push(quoted);
            }
        }
        if !forms.is_empty() {
            parts.push(format!("{label} {}", forms.join(", ")));
        }
    }
    format!(
        "a recipient address, relay/MX host or IP address in {}",
        parts.join("; ")
    )
}

/// `local@domain` with the domain validated and lower-cased; `None` if it is not a
/// usable mail domain.
fn recipient(raw: &str) -> Option<(String, String)> {
    let (local, domain) = raw.trim().rsplit_once('@')?;
    let domain = host_name(domain)?;
    if local.is_empty() {
        return None;
    }
    let recipient = neutralised(&format!("{local}@{domain}"), 320)?;
    Some((recipient, domain))
}

/// A host name fit to probe: valid per [`Target::parse`], dotted, with a top-level
/// label that is not all digits (so `none`, `unknown` and half an IP are refused).
fn host_name(raw: &str) -> Option<String> {
    let raw = raw.trim().trim_end_matches('.');
    if raw.parse::<IpAddr>().is_ok() {
        return None;
    }
    match Target::parse(raw) {
        Ok(Target::Domain { name })
            if name.contains('.')
                && name
                    .rsplit('.')
                    .next()
                    .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic())) =>
        {
            neutralised(&name, 253)
        }
        _ => None,
    }
}

/// An address as MTAs print it: maybe `IPv6:`-prefixed, maybe ending a sentence.
fn ip_address(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim().trim_end_matches('.');
    raw.strip_prefix("IPv6:").unwrap_or(raw).parse().ok()
}

/// Trimmed, control characters neutralised by [`SafeText`], capped at `max` chars
/// with a visible ellipsis; `None` when nothing is left.
fn neutralised(raw: &str, max: usize) -> Option<String> {
    let safe = SafeText::from_peer_str(raw.trim()).to_string();
    let safe = safe.trim();
    if safe.is_empty() {
        return None;
    }
    if safe.chars().count() <= max {
        return Some(safe.to_string());
    }
    let mut kept: String = safe.chars().take(max.saturating_sub(1)).collect();
    kept.push('…');
    Some(kept)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn every_pattern_compiles_with_a_unique_kebab_case_name() {
        let mut names = BTreeSet::new();
        for pattern in PATTERNS {
            if let Err(e) = Regex::new(&expand(pattern.regex)) {
                panic!("pattern {} does not compile: {e}", pattern.name);
            }
            assert!(names.insert(pattern.name), "duplicate pattern name {}", pattern.name);
            assert!(
                pattern
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{} is not kebab-case",
                pattern.name
            );
            assert!(!pattern.form.is_empty(), "{} has no form", pattern.name);
        }
        assert_eq!(compiled().len(), PATTERNS.len());
    }

    #[test]
    fn declared_fields_are_exactly_the_named_groups() {
        for (pattern, regex) in PATTERNS.iter().zip(compiled()) {
            let groups: BTreeSet<&str> = regex.capture_names().flatten().collect();
            let declared: BTreeSet<&str> = pattern.extracts.iter().map(|f| f.group()).collect();
            assert_eq!(groups, declared, "pattern {}", pattern.name);
            for group in &groups {
                assert!(
                    Field::ALL.iter().any(|f| f.group() == *group),
                    "pattern {}: unknown group {group}",
                    pattern.name
                );
            }
            assert!(
                !pattern.extracts.is_empty() || pattern.family.is_some(),
                "pattern {} neither extracts nor names a family",
                pattern.name
            );
        }
    }

    #[test]
    fn every_pattern_supplies_its_fields_from_its_own_example() {
        for (pattern, regex) in PATTERNS.iter().zip(compiled()) {
            let mut found = Extracted::default();
            let prepared = prepare::prepare(pattern.example);
            assert!(
                apply(pattern, regex, &prepared, &mut found),
                "pattern {} does not match its example",
                pattern.name
            );
            for field in pattern.extracts {
                assert!(
                    found.has(*field),
                    "pattern {} did not supply {:?} from its example: {found:?}",
                    pattern.name,
                    field
                );
            }
        }
    }

    #[test]
    fn qmail_log_lines_are_decoded_before_matching() {
        let log = "@400000006602a1b2c3d4e5f6 starting delivery 7: msg 1234567 to remote user@Example.COM\n\
                   @400000006602a1b2c3d4e5f7 delivery 7: deferral: Connected_to_192.0.2.1_but_connection_died._(#4.4.2)/\n";
        let found = extract(log).unwrap();
        assert_eq!(found.mta, Some(MtaFamily::Qmail));
        assert_eq!(found.domain.as_deref(), Some("example.com"));
        assert_eq!(found.recipient.as_deref(), Some("user@example.com"));
        assert_eq!(found.address, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(found.enhanced_status.as_deref(), Some("4.4.2"));
        assert_eq!(
            found.phrase.as_deref(),
            Some("Connected to 192.0.2.1 but connection died.")
        );
    }

    #[test]
    fn only_the_first_256_kib_are_read() {
        let line = "to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=5, delays=1/1/1/2, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)\n";
        let filler = "x".repeat(99) + "\n";
        let mut before = filler.repeat(MAX_INPUT_BYTES / filler.len() - 2);
        before.push_str(line);
        assert!(before.len() <= MAX_INPUT_BYTES);
        assert_eq!(extract(&before).unwrap().domain.as_deref(), Some("example.com"));

        let mut after = filler.repeat(MAX_INPUT_BYTES / filler.len() + 1);
        after.push_str(line);
        let err = extract(&after).unwrap_err();
        assert!(err.looked_for.contains("relay=mx[ip]:port"), "{err}");
    }

    #[test]
    fn huge_and_hostile_input_stays_bounded() {
        // Many near-misses for every pattern, far beyond the bound.
        let noise = "relay=[ to=< H=a [ Connected to 1 but (#4. == a@b R=x T=y: {LED= [Message= \u{1b}[2J ";
        let text = noise.repeat(200_000);
        let start = Instant::now();
        let _ = extract(&text);
        assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
        // One enormous line and many matching lines.
        let many = "to=<u@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (x)\n"
            .repeat(10_000);
        let found = extract(&many).unwrap();
        assert_eq!(found.mx_host.as_deref(), Some("mx.example.com"));
    }

    #[test]
    fn escape_sequences_never_survive_into_extracted_strings() {
        let paste = "\u{1b}]0;pwned\u{7}\u{1b}[2J4QxYz1AbCd: to=<us\u{1b}[31mer@example.com>, \
                     to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=5, delays=1/1/1/2, dsn=4.7.5, \
                     status=deferred (Cannot start TLS: \u{1b}[31mhandshake\u{1b}[0m failure\u{9b}2J\u{7}\u{0})\n\
                     I'm not going to try again; this message has been in the queue too long.\n";
        let found = extract(paste).unwrap();
        let strings = [
            &found.recipient,
            &found.domain,
            &found.mx_host,
            &found.phrase,
            &found.enhanced_status,
            &found.queue_age,
        ];
        for s in strings.iter().copied().flatten() {
            assert!(!s.chars().any(char::is_control), "control character survived in {s:?}");
        }
        let phrase = found.phrase.unwrap();
        assert!(phrase.starts_with("Cannot start TLS: \\x1b[31mhandshake"), "{phrase}");
        assert_eq!(found.recipient.as_deref(), Some("user@example.com"));
    }

    #[test]
    fn phrases_are_capped() {
        let long = "y".repeat(5000);
        let paste = format!(
            "to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=5, delays=1, dsn=4.7.5, status=deferred ({long})"
        );
        let phrase = extract(&paste).unwrap().phrase.unwrap();
        assert_eq!(phrase.chars().count(), MAX_PHRASE_CHARS);
        assert!(phrase.ends_with('…'));
    }

    #[test]
    fn postfix_relay_none_still_yields_recipient_and_the_connect_target() {
        let line = "Mar  3 10:00:01 mail postfix/smtp[4242]: 4QxYz1AbCd: to=<user@example.com>, relay=none, \
                    delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.com[192.0.2.1]:25: \
                    Connection timed out)";
        let found = extract(line).unwrap();
        assert_eq!(found.domain.as_deref(), Some("example.com"));
        assert_eq!(found.mx_host.as_deref(), Some("mx.example.com"));
        assert_eq!(found.port, Some(25));
        assert_eq!(found.queue_age.as_deref(), Some("30 s"));
        assert_eq!(
            found.phrase.as_deref(),
            Some("connect to mx.example.com[192.0.2.1]:25: Connection timed out")
        );
    }

    #[test]
    fn a_host_field_holding_an_ip_literal_becomes_the_address() {
        let found = extract("2024-03-03 10:00:02 1rABCD-000123-AB == erin@example.com R=dnslookup T=remote_smtp defer (-37) H=192.0.2.7 [192.0.2.7]: TLS session: (SSL_connect): timed out").unwrap();
        assert_eq!(found.mx_host, None);
        assert_eq!(found.address, Some("192.0.2.7".parse().unwrap()));
    }

    #[test]
    fn not_found_lists_every_form_that_names_a_destination() {
        let message = extract("").unwrap_err().to_string();
        for pattern in PATTERNS
            .iter()
            .filter(|p| p.extracts.iter().any(|f| f.names_destination()))
        {
            assert!(
                message.contains(pattern.form),
                "{} missing from {message}",
                pattern.name
            );
        }
    }

    #[test]
    fn host_names_that_are_not_hosts_are_refused() {
        assert_eq!(host_name("none"), None);
        assert_eq!(host_name("unknown"), None);
        assert_eq!(host_name("192.0.2"), None);
        assert_eq!(host_name("192.0.2.1"), None);
        assert_eq!(host_name("MX.Example.COM."), Some("mx.example.com".into()));
        assert_eq!(ip_address("IPv6:2001:db8::25"), Some("2001:db8::25".parse().unwrap()));
        assert_eq!(ip_address("192.0.2.1."), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(recipient("user@none"), None);
    }

    #[test]
    fn several_recipient_domains_are_listed_in_order_of_appearance() {
        let log = "postfix/smtp[1]: A: to=<a@one.example>, relay=mx.one.example[192.0.2.1]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (x)\r\
                   postfix/smtp[1]: B: to=<b@two.example>, relay=mx.two.example[192.0.2.2]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (y)\r\
                   postfix/smtp[1]: C: to=<c@one.example>, relay=mx.one.example[192.0.2.1]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (z)\r";
        let names: Vec<String> = destinations(log).iter().map(ToString::to_string).collect();
        assert_eq!(names, ["one.example", "two.example"]);
        // One domain (or none, but a host): the one target extract finds.
        let one = "Connected to 192.0.2.1 but connection died. (#4.4.2)";
        assert_eq!(destinations(one), vec![Target::parse("[192.0.2.1]").unwrap()]);
        assert!(destinations("nothing here").is_empty());
    }

    #[test]
    fn the_target_prefers_domain_then_host_then_address() {
        let mut found = Extracted {
            domain: Some("example.com".into()),
            mx_host: Some("mx.example.com".into()),
            address: Some("192.0.2.1".parse().unwrap()),
            port: Some(25),
            ..Extracted::default()
        };
        assert_eq!(found.target(), Some(Target::parse("example.com").unwrap()));
        found.domain = None;
        assert_eq!(found.target(), Some(Target::parse("mx.example.com:25").unwrap()));
        found.mx_host = None;
        assert_eq!(found.target(), Some(Target::parse("[192.0.2.1]:25").unwrap()));
        found.address = None;
        assert_eq!(found.target(), None);
    }
}
