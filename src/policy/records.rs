//! The domain's other mail records, shown as context beside a STARTTLS diagnosis:
//! TLS-RPT (where failure reports go), SPF and DMARC. None of them can make STARTTLS
//! fail, so these parsers stay small: enough to say "present, usable, or why not".

use serde::{Deserialize, Serialize};

use super::txt_record::{Field, describe_char, peer_texts, push, quote, read_fields, select, trim_wsp};
use super::wording::{count, first_of, ignored_suffix, invalid_line, pairs, say, several_line};
use crate::text::SafeText;

/// The version field of a `_smtp._tls` record (RFC 8460 §3, case-sensitive).
pub const TLS_RPT_VERSION: &str = "v=TLSRPTv1";
/// DNS-querying SPF terms a receiver evaluates before permerror (RFC 7208 §4.6.4).
pub const SPF_LOOKUP_LIMIT: usize = 10;

/// What a sender makes of the `_smtp._tls.<domain>` TXT RRset (RFC 8460 §3).
///
/// `ignored` counts TXT records dropped because they do not start with `v=TLSRPTv1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TlsRptOutcome {
    /// No `v=TLSRPTv1` record: senders send no TLS reports.
    Absent { ignored: usize },
    /// Several records: senders assume the domain does not implement TLS-RPT.
    Multiple { records: Vec<SafeText>, ignored: usize },
    /// One record that breaks the syntax or has no usable `rua`: no reports either.
    Invalid {
        record: SafeText,
        problems: Vec<String>,
        ignored: usize,
    },
    /// Reports go to every URI in `rua`.
    Valid {
        record: SafeText,
        rua: Vec<SafeText>,
        notes: Vec<String>,
        ignored: usize,
    },
}

impl TlsRptOutcome {
    pub fn summary(&self) -> String {
        match self {
            TlsRptOutcome::Absent { ignored } => say("tls_rpt", "absent", &[("ignored", &ignored_suffix(*ignored))]),
            TlsRptOutcome::Multiple { records, ignored } => several_line(
                records.len(),
                TLS_RPT_VERSION,
                &say("tls_rpt", "several", &[]),
                *ignored,
            ),
            TlsRptOutcome::Invalid { problems, ignored, .. } => {
                invalid_line(TLS_RPT_VERSION, problems, &say("tls_rpt", "invalid", &[]), *ignored)
            }
            TlsRptOutcome::Valid { rua, ignored, .. } => {
                let targets: Vec<&str> = rua.iter().map(SafeText::as_str).collect();
                let values = [("targets", targets.join(", ")), ("ignored", ignored_suffix(*ignored))];
                say("tls_rpt", "valid", &pairs(&values))
            }
        }
    }
}

/// Parses the `_smtp._tls` TXT RRset; each string is one RR, character-strings already joined.
pub fn parse_tls_rpt(records: &[String]) -> TlsRptOutcome {
    let (candidates, ignored) = select(records, TLS_RPT_VERSION);
    match candidates.as_slice() {
        [] => TlsRptOutcome::Absent { ignored },
        [one] => parse_tls_rpt_record(one, ignored),
        many => TlsRptOutcome::Multiple {
            records: peer_texts(many),
            ignored,
        },
    }
}

fn parse_tls_rpt_record(record: &str, ignored: usize) -> TlsRptOutcome {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let rua = read_fields(record, TLS_RPT_VERSION, "rua", &mut problems, &mut notes, check_rua);
    if rua.is_none() {
        push(
            &mut problems,
            "no rua field: the record must say where reports go".to_owned(),
        );
    }
    let record = SafeText::from_peer_str(record);
    match rua {
        Some(rua) if problems.is_empty() => TlsRptOutcome::Valid {
            record,
            rua,
            notes,
            ignored,
        },
        _ => TlsRptOutcome::Invalid {
            record,
            problems,
            ignored,
        },
    }
}

/// `rua=` URI list, comma-separated with optional spaces: the well-formed `mailto:`
/// and `https:` URIs; the rest become problems.
fn check_rua(field: &Field<'_>, problems: &mut Vec<String>, notes: &mut Vec<String>) -> Vec<SafeText> {
    if field.value.is_empty() {
        push(problems, "rua is empty".to_owned());
        return Vec::new();
    }
    let mut kept = Vec::new();
    for uri in field.value.split(',').map(trim_wsp) {
        match uri_problem(uri) {
            Some(problem) => push(problems, format!("rua URI {}: {problem}", quote(uri))),
            None => kept.push(SafeText::from_peer_str(uri)),
        }
        if uri.contains('!') {
            let message = format!(
                "rua URI {} contains '!', which must be percent-encoded (%21)",
                quote(uri)
            );
            push(notes, message);
        }
    }
    kept
}

/// Why one `rua` URI cannot receive reports, if it cannot.
fn uri_problem(uri: &str) -> Option<String> {
    if uri.is_empty() {
        return Some("empty (a ',' with no URI after it)".to_owned());
    }
    if let Some(c) = uri.chars().find(|c| *c == ' ' || *c == '\t' || c.is_control()) {
        return Some(format!("contains {}", describe_char(c)));
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        let hint = "if it belongs to the previous URI, its ',' must be written %2C";
        return Some(format!("has no scheme: it must start with mailto: or https: ({hint})"));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "mailto" if !rest.contains('@') => Some("mailto: has no address".to_owned()),
        "https"
            if !rest
                .strip_prefix("//")
                .is_some_and(|r| !r.is_empty() && !r.starts_with('/')) =>
        {
            Some("https: has no host (expected https://host/path)".to_owned())
        }
        "mailto" | "https" => None,
        _ => Some(format!(
            "scheme {} is not allowed: only mailto: and https: are",
            quote(scheme)
        )),
    }
}

/// What a receiver makes of the SPF records among a domain's TXT records (RFC 7208).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SpfOutcome {
    /// No `v=spf1` record: SPF result "none".
    Absent,
    /// More than one `v=spf1` record: permerror for every check (§4.5).
    Multiple { records: Vec<SafeText> },
    /// The one SPF record. `mechanisms` are the directive terms in order (with
    /// qualifier), `modifiers` the `name=value` terms, `all` the `all` term if any.
    /// `dns_lookup_terms` counts only the terms visible here, not those inside includes.
    Valid {
        record: SafeText,
        mechanisms: Vec<SafeText>,
        modifiers: Vec<SafeText>,
        all: Option<SafeText>,
        dns_lookup_terms: usize,
        notes: Vec<String>,
    },
}

impl SpfOutcome {
    /// The record itself, when there is exactly one.
    pub fn valid_record(&self) -> Option<&SafeText> {
        match self {
            SpfOutcome::Valid { record, .. } => Some(record),
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        match self {
            SpfOutcome::Absent => say("spf", "absent", &[]),
            SpfOutcome::Multiple { records } => several_line(records.len(), "SPF", &say("spf", "several", &[]), 0),
            SpfOutcome::Valid {
                all, dns_lookup_terms, ..
            } => {
                let ending = all.as_ref().map_or_else(
                    || say("spf", "no_all", &[]),
                    |all| say("spf", "ends_in", &[("all", all.as_str())]),
                );
                let values = [
                    ("ending", ending),
                    ("lookups", count("spf", "lookup_one", "lookups", *dns_lookup_terms)),
                ];
                say("spf", "valid", &pairs(&values))
            }
        }
    }
}

/// Picks and reads the SPF record out of all the domain's TXT records.
pub fn parse_spf(txt_records: &[String]) -> SpfOutcome {
    let spf: Vec<&str> = txt_records.iter().map(String::as_str).filter(|r| is_spf(r)).collect();
    match spf.as_slice() {
        [] => SpfOutcome::Absent,
        [one] => parse_spf_record(one),
        many => SpfOutcome::Multiple {
            records: peer_texts(many),
        },
    }
}

/// §4.5: the version section is exactly `v=spf1`, ended by a space or the record's end.
fn is_spf(record: &str) -> bool {
    record.get(..6).is_some_and(|v| v.eq_ignore_ascii_case("v=spf1"))
        && record
            .get(6..)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
}

fn parse_spf_record(record: &str) -> SpfOutcome {
    let mut mechanisms = Vec::new();
    let mut modifiers = Vec::new();
    let mut all = None;
    let mut lookups = 0;
    let mut notes = Vec::new();
    for term in record.get(6..).unwrap_or_default().split(' ').filter(|t| !t.is_empty()) {
        let (name, is_modifier) = spf_term_name(term);
        if is_modifier {
            lookups += usize::from(name == "redirect");
            modifiers.push(SafeText::from_peer_str(term));
            continue;
        }
        if all.is_some() {
            note_once(&mut notes, "terms after \"all\" are never evaluated");
        }
        match name.as_str() {
            "all" => all = all.or_else(|| Some(SafeText::from_peer_str(term))),
            "include" | "a" | "mx" | "exists" => lookups += 1,
            "ptr" => {
                lookups += 1;
                note_once(
                    &mut notes,
                    "ptr is slow and unreliable; RFC 7208 §5.5 says not to use it",
                );
            }
            "ip4" | "ip6" => {}
            _ => push(
                &mut notes,
                format!("unknown mechanism {}: receivers return permerror", quote(term)),
            ),
        }
        mechanisms.push(SafeText::from_peer_str(term));
    }
    if lookups > SPF_LOOKUP_LIMIT {
        push(
            &mut notes,
            format!(
                "{lookups} DNS-lookup terms in this record alone, above the limit of {SPF_LOOKUP_LIMIT}: \
                 receivers return permerror (only this record is counted, not the includes)"
            ),
        );
    }
    SpfOutcome::Valid {
        record: SafeText::from_peer_str(record),
        mechanisms,
        modifiers,
        all,
        dns_lookup_terms: lookups,
        notes,
    }
}

/// The lowercase mechanism or modifier name of a term, and whether it is a modifier
/// (`name=value`, where '=' comes before any ':' or '/').
fn spf_term_name(term: &str) -> (String, bool) {
    let body = term.strip_prefix(['+', '-', '~', '?']).unwrap_or(term);
    let end = body.find([':', '/', '=']).unwrap_or(body.len());
    let name = body.get(..end).unwrap_or(body).to_ascii_lowercase();
    let is_modifier = body.get(end..).is_some_and(|rest| rest.starts_with('='));
    (name, is_modifier)
}

fn note_once(notes: &mut Vec<String>, message: &str) {
    if !notes.iter().any(|n| n == message) {
        push(notes, message.to_owned());
    }
}

/// The DMARC `p` tag (RFC 7489 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    None,
    Quarantine,
    Reject,
}

impl DmarcPolicy {
    pub fn label(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    fn parse(value: &str) -> Option<DmarcPolicy> {
        [DmarcPolicy::None, DmarcPolicy::Quarantine, DmarcPolicy::Reject]
            .into_iter()
            .find(|p| p.label().eq_ignore_ascii_case(value))
    }
}

/// What a receiver makes of the `_dmarc.<domain>` TXT RRset (RFC 7489 §6.6.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DmarcOutcome {
    /// No `v=DMARC1` record.
    Absent,
    /// Several `v=DMARC1` records: receivers apply no DMARC policy.
    Multiple { records: Vec<SafeText> },
    /// One record without a usable `p` tag (or with a malformed tag).
    Invalid { record: SafeText, problems: Vec<String> },
    /// `tags` are every `name=value` pair after `v`, in order.
    Valid {
        record: SafeText,
        policy: DmarcPolicy,
        tags: Vec<(SafeText, SafeText)>,
    },
}

impl DmarcOutcome {
    /// The record itself, when it is the one valid record.
    pub fn valid_record(&self) -> Option<&SafeText> {
        match self {
            DmarcOutcome::Valid { record, .. } => Some(record),
            _ => None,
        }
    }

    pub fn summary(&self) -> String {
        match self {
            DmarcOutcome::Absent => say("dmarc", "absent", &[]),
            DmarcOutcome::Multiple { records } => {
                several_line(records.len(), "DMARC", &say("dmarc", "several", &[]), 0)
            }
            DmarcOutcome::Invalid { problems, .. } => say("dmarc", "invalid", &[("first", &first_of(problems))]),
            DmarcOutcome::Valid { policy, .. } => say("dmarc", "valid", &[("policy", policy.label())]),
        }
    }
}

/// Parses the `_dmarc` TXT RRset.
pub fn parse_dmarc(records: &[String]) -> DmarcOutcome {
    let dmarc: Vec<&str> = records.iter().map(String::as_str).filter(|r| is_dmarc(r)).collect();
    match dmarc.as_slice() {
        [] => DmarcOutcome::Absent,
        [one] => parse_dmarc_record(one),
        many => DmarcOutcome::Multiple {
            records: peer_texts(many),
        },
    }
}

/// §6.3: the first tag is `v` (spaces allowed around '=') with exactly `DMARC1`.
fn is_dmarc(record: &str) -> bool {
    let first = record.split(';').next().unwrap_or_default();
    first
        .split_once('=')
        .is_some_and(|(name, value)| trim_wsp(name).eq_ignore_ascii_case("v") && trim_wsp(value) == "DMARC1")
}

fn parse_dmarc_record(record: &str) -> DmarcOutcome {
    let mut problems = Vec::new();
    let mut tags = Vec::new();
    for tag in record.split(';').skip(1).map(trim_wsp).filter(|t| !t.is_empty()) {
        match tag.split_once('=') {
            Some((name, value)) => tags.push((trim_wsp(name), trim_wsp(value))),
            None => push(&mut problems, format!("tag {} has no '='", quote(tag))),
        }
    }
    let policy = match tags.iter().find(|(name, _)| name.eq_ignore_ascii_case("p")) {
        Some((_, value)) => DmarcPolicy::parse(value).or_else(|| {
            let message = format!("p={} is not none, quarantine or reject", quote(value));
            push(&mut problems, message);
            None
        }),
        None => {
            let message = "no p tag: receivers apply no policy (or p=none if rua is valid, RFC 7489 §6.6.3)";
            push(&mut problems, message.to_owned());
            None
        }
    };
    let record_text = SafeText::from_peer_str(record);
    match policy {
        Some(policy) if problems.is_empty() => DmarcOutcome::Valid {
            record: record_text,
            policy,
            tags: tags
                .into_iter()
                .map(|(n, v)| (SafeText::from_peer_str(n), SafeText::from_peer_str(v)))
                .collect(),
        },
        _ => DmarcOutcome::Invalid {
            record: record_text,
            problems,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(records: &[&str]) -> Vec<String> {
        records.iter().map(|r| (*r).to_owned()).collect()
    }

    fn rpt_problems(records: &[&str]) -> Vec<String> {
        match parse_tls_rpt(&owned(records)) {
            TlsRptOutcome::Invalid { problems, .. } => problems,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn tls_rpt_with_two_uris() {
        let outcome = parse_tls_rpt(&owned(&[
            "v=spf1 -all",
            "v=TLSRPTv1; rua=mailto:tlsrpt@example.com , https://reports.example.com/tlsrpt",
        ]));
        let TlsRptOutcome::Valid {
            rua, ignored, notes, ..
        } = &outcome
        else {
            panic!("{outcome:?}")
        };
        let rua: Vec<&str> = rua.iter().map(SafeText::as_str).collect();
        assert_eq!(rua, ["mailto:tlsrpt@example.com", "https://reports.example.com/tlsrpt"]);
        assert_eq!(*ignored, 1);
        assert!(notes.is_empty());
        assert_eq!(
            outcome.summary(),
            "v=TLSRPTv1 record: reports go to mailto:tlsrpt@example.com, https://reports.example.com/tlsrpt \
             (1 other TXT record ignored)"
        );
    }

    #[test]
    fn tls_rpt_bad_schemes_and_uris() {
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; rua=http://reports.example.com/"]),
            ["rua URI \"http://reports.example.com/\": scheme \"http\" is not allowed: only mailto: and https: are"]
        );
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; rua=tlsrpt@example.com"]),
            [
                "rua URI \"tlsrpt@example.com\": has no scheme: it must start with mailto: or https: \
              (if it belongs to the previous URI, its ',' must be written %2C)"
            ]
        );
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; rua=mailto:"]),
            ["rua URI \"mailto:\": mailto: has no address"]
        );
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; rua=https:///x"]),
            ["rua URI \"https:///x\": https: has no host (expected https://host/path)"]
        );
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; rua=mailto:a@example.com,"]),
            ["rua URI \"\": empty (a ',' with no URI after it)"]
        );
    }

    #[test]
    fn tls_rpt_missing_rua_several_records_and_notes() {
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1;"]),
            ["no rua field: the record must say where reports go"]
        );
        assert_eq!(
            rpt_problems(&["v=TLSRPTv1; RUA=mailto:a@example.com"]),
            ["no rua field: the record must say where reports go"]
        );
        let two = parse_tls_rpt(&owned(&[
            "v=TLSRPTv1; rua=mailto:a@x.example",
            "v=TLSRPTv1; rua=mailto:b@x.example",
        ]));
        assert!(matches!(two, TlsRptOutcome::Multiple { ref records, .. } if records.len() == 2));
        assert_eq!(parse_tls_rpt(&[]), TlsRptOutcome::Absent { ignored: 0 });
        let outcome = parse_tls_rpt(&owned(&["v=TLSRPTv1; rua=mailto:a!10m@example.com; ext=1"]));
        let TlsRptOutcome::Valid { notes, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("percent-encoded (%21)"));
    }

    fn spf(records: &[&str]) -> SpfOutcome {
        parse_spf(&owned(records))
    }

    #[test]
    fn spf_valid_record() {
        let outcome = spf(&[
            "google-site-verification=x",
            "v=spf1 ip4:192.0.2.0/24 mx include:_spf.example.net -all",
        ]);
        let SpfOutcome::Valid {
            mechanisms,
            all,
            dns_lookup_terms,
            notes,
            ..
        } = &outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(mechanisms.len(), 4);
        assert_eq!(all.as_ref().map(SafeText::as_str), Some("-all"));
        assert_eq!(*dns_lookup_terms, 2);
        assert!(notes.is_empty());
        assert_eq!(
            outcome.summary(),
            "SPF record: ends in -all, 2 DNS-lookup terms in this record (includes not followed)"
        );
    }

    #[test]
    fn spf_selection_multiple_and_absent() {
        assert_eq!(spf(&["v=spf10 -all", "v=spf1-all"]), SpfOutcome::Absent);
        assert!(matches!(spf(&["V=SPF1"]), SpfOutcome::Valid { .. }));
        let multiple = spf(&["v=spf1 -all", "v=spf1 mx ~all"]);
        assert!(matches!(&multiple, SpfOutcome::Multiple { records } if records.len() == 2));
        assert!(multiple.summary().contains("permerror"));
    }

    #[test]
    fn spf_lookup_count_and_unknown_mechanisms() {
        let includes: String = (0..11).map(|i| format!(" include:s{i}.example.net")).collect();
        let outcome = spf(&[&format!("v=spf1{includes} redirect=_spf.example.com")]);
        let SpfOutcome::Valid {
            dns_lookup_terms,
            modifiers,
            notes,
            ..
        } = &outcome
        else {
            panic!("{outcome:?}")
        };
        assert_eq!(*dns_lookup_terms, 12);
        assert_eq!(modifiers.len(), 1);
        assert!(notes[0].contains("above the limit of 10"), "{notes:?}");
        assert!(notes[0].contains("only this record is counted"));

        let outcome = spf(&["v=spf1 ipv4:192.0.2.1 ptr -all a"]);
        let SpfOutcome::Valid { notes, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            notes,
            &[
                "unknown mechanism \"ipv4:192.0.2.1\": receivers return permerror",
                "ptr is slow and unreliable; RFC 7208 §5.5 says not to use it",
                "terms after \"all\" are never evaluated"
            ]
        );
    }

    #[test]
    fn dmarc_valid_and_tags() {
        let outcome = parse_dmarc(&owned(&["v=DMARC1; p=reject; rua=mailto:d@example.com; pct=100;"]));
        let DmarcOutcome::Valid { policy, tags, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(*policy, DmarcPolicy::Reject);
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[1].0.as_str(), "rua");
        assert_eq!(outcome.summary(), "DMARC record: p=reject");
        assert!(matches!(
            parse_dmarc(&owned(&["v = DMARC1 ; p = Quarantine"])),
            DmarcOutcome::Valid {
                policy: DmarcPolicy::Quarantine,
                ..
            }
        ));
    }

    #[test]
    fn dmarc_missing_or_bad_p_and_multiple() {
        let outcome = parse_dmarc(&owned(&["v=DMARC1; rua=mailto:d@example.com"]));
        let DmarcOutcome::Invalid { problems, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(problems[0].starts_with("no p tag"), "{problems:?}");
        let outcome = parse_dmarc(&owned(&["v=DMARC1; p=block"]));
        assert_eq!(
            outcome.summary(),
            "DMARC record invalid (p=\"block\" is not none, quarantine or reject)"
        );
        let outcome = parse_dmarc(&owned(&["v=DMARC1; p=none", "v=DMARC1; p=reject"]));
        assert_eq!(outcome.summary(), "2 DMARC records: receivers apply no DMARC policy");
        assert_eq!(
            parse_dmarc(&owned(&["v=DMARC2; p=none", "v=spf1 -all"])),
            DmarcOutcome::Absent
        );
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcome = parse_dmarc(&owned(&["v=DMARC1; p=none"]));
        let json = serde_json::to_string(&outcome).expect("serialises");
        assert!(json.contains("\"status\":\"valid\""), "{json}");
        assert_eq!(serde_json::from_str::<DmarcOutcome>(&json).expect("parses"), outcome);
        let outcome = spf(&[]);
        let json = serde_json::to_string(&outcome).expect("serialises");
        assert_eq!(json, "{\"status\":\"absent\"}");
        assert_eq!(serde_json::from_str::<SpfOutcome>(&json).expect("parses"), outcome);
    }
}
