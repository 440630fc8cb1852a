//! MTA-STS (RFC 8461): the `_mta-sts` TXT record, the policy file and MX matching.
//!
//! Pure parsers: the caller fetches, these say precisely what a sender makes of the
//! text, so an operator sees why a sender would find "no policy" or skip an MX.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::txt_record::{
    Field, MAX_REMARKS, describe_char, name_problem, near_misses, peer_texts, push, quote, read_fields, select,
    trim_wsp,
};
use super::wording::{count, ignored_suffix, invalid_line, pairs, say, several_line};
use crate::text::SafeText;

/// The version field every `_mta-sts` record starts with (case-sensitive).
pub const STS_VERSION: &str = "v=STSv1";
/// Largest `max_age` RFC 8461 §3.2 allows: one year of seconds.
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// Policy lines read; a real policy has a handful.
pub const MAX_POLICY_LINES: usize = 1000;
/// `mx` patterns kept; more is abuse, not configuration.
pub const MAX_MX_PATTERNS: usize = 200;

/// What a sender makes of the `_mta-sts.<domain>` TXT RRset (RFC 8461 §3.1).
///
/// `ignored` counts TXT records dropped because they do not start with `v=STSv1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxtOutcome {
    /// No `v=STSv1` record: the domain does not use MTA-STS. `near_misses` are
    /// ignored records that look like a mistyped one (case, leading space, quotes).
    Absent { ignored: usize, near_misses: Vec<SafeText> },
    /// Several `v=STSv1` records. A sender treats the domain as having no MTA-STS
    /// policy (it does not purge a policy it already cached, §5.1).
    Multiple { records: Vec<SafeText>, ignored: usize },
    /// One record that breaks the §3.1 syntax: again no policy for a sender.
    Invalid {
        record: SafeText,
        problems: Vec<String>,
        ignored: usize,
    },
    /// One well-formed record; `notes` are allowed oddities worth showing.
    Valid {
        id: SafeText,
        record: SafeText,
        notes: Vec<String>,
        ignored: usize,
    },
}

impl TxtOutcome {
    pub fn summary(&self) -> String {
        let no_policy = say("mta_sts", "no_policy", &[]);
        match self {
            TxtOutcome::Absent { ignored, near_misses } => {
                let near_miss = near_misses.first().map_or(String::new(), |first| {
                    say("mta_sts", "near_miss", &[("record", &quote(first.as_str()))])
                });
                let values = [("near_miss", near_miss), ("ignored", ignored_suffix(*ignored))];
                say("mta_sts", "absent", &pairs(&values))
            }
            TxtOutcome::Multiple { records, ignored } => several_line(records.len(), STS_VERSION, &no_policy, *ignored),
            TxtOutcome::Invalid { problems, ignored, .. } => invalid_line(STS_VERSION, problems, &no_policy, *ignored),
            TxtOutcome::Valid { id, ignored, .. } => {
                let values = [("id", id.to_string()), ("ignored", ignored_suffix(*ignored))];
                say("mta_sts", "valid", &pairs(&values))
            }
        }
    }
}

/// Parses the `_mta-sts` TXT RRset; each string is one RR, character-strings already joined.
pub fn parse_txt(records: &[String]) -> TxtOutcome {
    let (candidates, ignored) = select(records, STS_VERSION);
    match candidates.as_slice() {
        [] => TxtOutcome::Absent {
            ignored,
            near_misses: near_misses(records, STS_VERSION),
        },
        [one] => parse_record(one, ignored),
        many => TxtOutcome::Multiple {
            records: peer_texts(many),
            ignored,
        },
    }
}

/// The single `v=STSv1` record, checked against the §3.1 ABNF.
fn parse_record(record: &str, ignored: usize) -> TxtOutcome {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let id = read_fields(record, STS_VERSION, "id", &mut problems, &mut notes, check_id);
    let record_text = SafeText::from_peer_str(record);
    match id {
        Some(id) if problems.is_empty() => TxtOutcome::Valid {
            id: SafeText::from_peer_str(id),
            record: record_text,
            notes,
            ignored,
        },
        found => {
            if found.is_none() {
                push(&mut problems, "no id field".to_owned());
            }
            TxtOutcome::Invalid {
                record: record_text,
                problems,
                ignored,
            }
        }
    }
}

/// The `id` value, with its problems.
fn check_id<'a>(field: &Field<'a>, problems: &mut Vec<String>, _notes: &mut Vec<String>) -> &'a str {
    for problem in id_problems(field.value) {
        push(problems, problem);
    }
    field.value
}

/// `id = 1*32(ALPHA / DIGIT)`: every way the value misses that.
fn id_problems(id: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if id.is_empty() {
        problems.push("id is empty".to_owned());
    }
    if let Some(bad) = id.chars().find(|c| !c.is_ascii_alphanumeric()) {
        problems.push(format!(
            "id {} contains {}: only letters and digits are allowed",
            quote(id),
            describe_char(bad)
        ));
    }
    let length = id.chars().count();
    if length > 32 {
        problems.push(format!("id is longer than 32 characters ({length})"));
    }
    problems
}

/// The policy `mode` (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Senders must not deliver to an MX that fails the policy.
    Enforce,
    /// Senders deliver anyway and report failures through TLS-RPT.
    Testing,
    /// Senders behave as if there were no policy (the way to retire one).
    None,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }

    /// The exact, case-sensitive policy value.
    fn parse(value: &str) -> Option<Mode> {
        [Mode::Enforce, Mode::Testing, Mode::None]
            .into_iter()
            .find(|m| m.label() == value)
    }
}

/// A problem or note about the policy, tied to its 1-based line when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remark {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Remark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A parsed policy file (RFC 8461 §3.2). Fields hold what a sender would use: for
/// repeated keys the first, for `mx` every well-formed pattern.
///
/// `problems` make the policy invalid (a sender treats it like a failed fetch: a cached
/// policy or none); `notes` are allowed but worth showing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub version: Option<SafeText>,
    pub mode: Option<Mode>,
    pub max_age: Option<u64>,
    pub mx: Vec<SafeText>,
    pub problems: Vec<Remark>,
    pub notes: Vec<Remark>,
}

impl Policy {
    /// No problem and every required field usable (checked again because a policy
    /// can also come back from a saved report).
    pub fn is_valid(&self) -> bool {
        let version_ok = self.version.as_ref().is_some_and(|v| v.as_str() == "STSv1");
        let max_age_ok = self.max_age.is_some_and(|age| age <= MAX_AGE_LIMIT);
        let mx_ok = self.mode == Some(Mode::None) || !self.mx.is_empty();
        self.problems.is_empty() && version_ok && self.mode.is_some() && max_age_ok && mx_ok
    }

    /// The first `mx` pattern that allows this MX host (§4.1), if any.
    pub fn matching_pattern(&self, mx_host: &str) -> Option<&str> {
        self.mx
            .iter()
            .map(SafeText::as_str)
            .find(|pattern| mx_matches(pattern, mx_host))
    }

    pub fn summary(&self) -> String {
        if !self.is_valid() {
            let first = match self.problems.first() {
                Some(problem) => {
                    let values = [
                        ("count", self.problems.len().to_string()),
                        ("problem", problem.to_string()),
                    ];
                    let key = if self.problems.len() == 1 {
                        "first_problem_one"
                    } else {
                        "first_problem_many"
                    };
                    say("mta_sts", key, &pairs(&values))
                }
                None => say("mta_sts", "field_missing", &[]),
            };
            return say("mta_sts", "policy_invalid", &[("first", &first)]);
        }
        let age = self.max_age.unwrap_or_default();
        let age_words = if age < 86_400 {
            say("mta_sts", "under_a_day", &[])
        } else {
            count("mta_sts", "day_one", "days", (age / 86_400) as usize)
        };
        let values = [
            ("mode", self.mode.map_or("?", Mode::label).to_string()),
            ("max_age", age.to_string()),
            ("age", age_words),
            ("patterns", count("mta_sts", "pattern_one", "patterns", self.mx.len())),
        ];
        say("mta_sts", "policy_valid", &pairs(&values))
    }
}

/// Parses a policy file body; never fails, every deviation becomes a remark.
pub fn parse_policy(body: &str) -> Policy {
    let mut parser = PolicyParser::default();
    let body = match body.strip_prefix('\u{feff}') {
        Some(rest) => {
            parser.problem(
                Some(1),
                "the file starts with a byte-order mark (U+FEFF); strict parsers then do not see the first key"
                    .to_owned(),
            );
            rest
        }
        None => body,
    };
    for (index, line) in body.lines().enumerate() {
        if index == MAX_POLICY_LINES {
            parser.problem(
                None,
                format!("the policy has more than {MAX_POLICY_LINES} lines; the rest was not read"),
            );
            break;
        }
        parser.line(index + 1, line);
    }
    parser.finish()
}

/// Policy parsing state: the result so far and where each single-use key first appeared.
#[derive(Default)]
struct PolicyParser {
    policy: Policy,
    first: Vec<(&'static str, usize)>,
    blank: Option<usize>,
    blank_noted: bool,
    mx_lines: usize,
}

impl PolicyParser {
    fn problem(&mut self, line: Option<usize>, message: String) {
        push_remark(&mut self.policy.problems, line, message);
    }

    fn note(&mut self, line: Option<usize>, message: String) {
        push_remark(&mut self.policy.notes, line, message);
    }

    fn line(&mut self, number: usize, line: &str) {
        if trim_wsp(line).is_empty() {
            self.blank.get_or_insert(number);
            return;
        }
        self.note_blank_before();
        let Some((key, value)) = self.key_value(number, line) else {
            return;
        };
        match key {
            "mx" => self.mx(number, value),
            "version" | "mode" | "max_age" => {
                if let Some(first) = self.first_line(key) {
                    let message = format!("{key} repeats line {first}: only the first {key} counts");
                    self.note(Some(number), message);
                    return;
                }
                if let Some(known) = known_key(key) {
                    self.first.push((known, number));
                }
                match key {
                    "version" => self.version(number, value),
                    "mode" => self.mode(number, value),
                    _ => self.max_age(number, value),
                }
            }
            _ => self.unknown_key(number, key),
        }
    }

    /// A blank line followed by a field: fine here, but not in the §3.2 syntax.
    fn note_blank_before(&mut self) {
        if let Some(blank) = self.blank.take()
            && !self.blank_noted
        {
            self.blank_noted = true;
            let message = "blank line between fields: the RFC syntax has none and strict parsers (mox) reject it";
            self.note(Some(blank), message.to_owned());
        }
    }

    /// Splits `key ":" *WSP value *WSP`, reporting a malformed line instead.
    fn key_value<'a>(&mut self, number: usize, line: &'a str) -> Option<(&'a str, &'a str)> {
        let problem = match line.split_once(':') {
            None => format!("{} has no ':' (expected \"key: value\")", quote(line)),
            Some((key, _)) if trim_wsp(key) != key => {
                format!(
                    "{}: whitespace around the key; it must be {}",
                    quote(line),
                    quote(&format!("{}:", trim_wsp(key)))
                )
            }
            Some((key, value)) => match name_problem(key, "key") {
                Some(problem) => format!("{}: {problem}", quote(line)),
                None => return self.value(number, line, key, trim_wsp(value)),
            },
        };
        self.problem(Some(number), problem);
        None
    }

    fn value<'a>(&mut self, number: usize, line: &str, key: &'a str, value: &'a str) -> Option<(&'a str, &'a str)> {
        let problem = if value.is_empty() {
            format!("{}: {key} has no value", quote(line))
        } else if value.contains('\r') {
            format!(
                "{}: a carriage return inside the line; lines end in LF or CRLF",
                quote(line)
            )
        } else if let Some(c) = value.chars().find(|c| c.is_control()) {
            format!("{}: the value contains {}", quote(line), describe_char(c))
        } else {
            return Some((key, value));
        };
        self.problem(Some(number), problem);
        None
    }

    fn first_line(&self, key: &str) -> Option<usize> {
        self.first.iter().find(|(k, _)| *k == key).map(|(_, line)| *line)
    }

    fn version(&mut self, number: usize, value: &str) {
        self.policy.version = Some(SafeText::from_peer_str(value));
        if value != "STSv1" {
            self.problem(
                Some(number),
                format!("version is {}; it must be STSv1 (case-sensitive)", quote(value)),
            );
        }
    }

    fn mode(&mut self, number: usize, value: &str) {
        self.policy.mode = Mode::parse(value);
        if self.policy.mode.is_some() {
            return;
        }
        let message = if Mode::parse(&value.to_ascii_lowercase()).is_some() {
            format!(
                "mode {} must be lowercase: mode values are case-sensitive",
                quote(value)
            )
        } else {
            format!("mode {} is not enforce, testing or none", quote(value))
        };
        self.problem(Some(number), message);
    }

    fn max_age(&mut self, number: usize, value: &str) {
        if let Some(bad) = value.chars().find(|c| !c.is_ascii_digit()) {
            let message = format!(
                "max_age {} contains {}: it must be seconds, digits only",
                quote(value),
                describe_char(bad)
            );
            return self.problem(Some(number), message);
        }
        if value.len() > 10 {
            return self.problem(
                Some(number),
                format!("max_age has {} digits; at most 10 are allowed", value.len()),
            );
        }
        let Ok(age) = value.parse::<u64>() else {
            return self.problem(Some(number), format!("max_age {} is not a number", quote(value)));
        };
        self.policy.max_age = Some(age);
        if age > MAX_AGE_LIMIT {
            let message = format!("max_age {age} is above the maximum of {MAX_AGE_LIMIT} seconds (one year)");
            self.problem(Some(number), message);
        } else if age == 0 {
            self.note(
                Some(number),
                "max_age 0: senders may not cache the policy at all; some reject it".to_owned(),
            );
        } else if age < 86_400 {
            let message = format!("max_age {age} is under a day: senders forget the policy quickly (weeks are usual)");
            self.note(Some(number), message);
        }
    }

    fn mx(&mut self, number: usize, pattern: &str) {
        self.mx_lines += 1;
        if self.policy.mx.len() == MAX_MX_PATTERNS {
            if self.mx_lines == MAX_MX_PATTERNS + 1 {
                let message = format!("more than {MAX_MX_PATTERNS} mx patterns; the rest were not kept");
                self.problem(Some(number), message);
            }
            return;
        }
        match mx_pattern_problem(pattern) {
            Some(problem) => self.problem(Some(number), format!("mx {}: {problem}", quote(pattern))),
            None => {
                for note in mx_pattern_notes(pattern) {
                    self.note(Some(number), format!("mx {}: {note}", quote(pattern)));
                }
                self.policy.mx.push(SafeText::from_peer_str(pattern));
            }
        }
    }

    fn unknown_key(&mut self, number: usize, key: &str) {
        let message = match known_key(&key.to_ascii_lowercase()) {
            Some(known) => format!(
                "key {} is ignored: keys are case-sensitive, so it is not \"{known}\"",
                quote(key)
            ),
            None => format!("unknown key {} ignored", quote(key)),
        };
        self.note(Some(number), message);
    }

    fn finish(mut self) -> Policy {
        for key in ["version", "mode", "max_age"] {
            if self.first_line(key).is_none() {
                self.problem(None, format!("no {key} line"));
            }
        }
        let needs_mx = matches!(self.policy.mode, Some(Mode::Enforce | Mode::Testing));
        if needs_mx && self.mx_lines == 0 {
            self.problem(None, "no mx line: one is required unless mode is none".to_owned());
        }
        self.policy
    }
}

/// The policy keys with a meaning, as `&'static str` for bookkeeping.
fn known_key(key: &str) -> Option<&'static str> {
    ["version", "mode", "max_age", "mx"].into_iter().find(|k| *k == key)
}

/// `["*."] Domain` (RFC 5321 Domain, A-labels): why a pattern can never match, if it cannot.
fn mx_pattern_problem(pattern: &str) -> Option<String> {
    if !pattern.is_ascii() {
        return Some("not ASCII: names must be written as A-labels (xn--…), not U-labels".to_owned());
    }
    let name = pattern.strip_prefix("*.").unwrap_or(pattern);
    if name.contains('*') {
        return Some("'*' is only allowed as the whole first label (\"*.example.com\")".to_owned());
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > 253 {
        return Some("the name is longer than 253 characters".to_owned());
    }
    name.split('.').find_map(label_problem)
}

/// RFC 5321 `sub-domain = Let-dig [Ldh-str]`, at most 63 octets.
fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("empty label (two dots in a row, or a leading dot)".to_owned());
    }
    if label.len() > 63 {
        return Some(format!("label {} is longer than 63 characters", quote(label)));
    }
    if let Some(bad) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return Some(format!(
            "label {} contains {}: only letters, digits and '-'",
            quote(label),
            describe_char(bad)
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label {} starts or ends with '-'", quote(label)));
    }
    None
}

/// Allowed spellings that a strict reader of §3.2 would still frown at.
fn mx_pattern_notes(pattern: &str) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if pattern.chars().any(|c| c.is_ascii_uppercase()) {
        notes.push("has capitals; patterns should be lowercase (matching ignores case)");
    }
    if pattern.ends_with('.') {
        notes.push("ends with a dot, which the pattern syntax does not allow; most senders strip it");
    }
    notes
}

/// RFC 8461 §4.1: does this MX host match the pattern? Case-insensitive, trailing dots
/// ignored; `*.example.com` covers exactly one extra left-most label.
pub fn mx_matches(pattern: &str, mx_host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    let host = mx_host.trim_end_matches('.');
    if host.is_empty() || host.contains('*') {
        return false;
    }
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            !suffix.is_empty()
                && !suffix.contains('*')
                && host
                    .split_once('.')
                    .is_some_and(|(first, rest)| !first.is_empty() && rest.eq_ignore_ascii_case(suffix))
        }
        None => !pattern.is_empty() && !pattern.contains('*') && host.eq_ignore_ascii_case(pattern),
    }
}

fn push_remark(list: &mut Vec<Remark>, line: Option<usize>, message: String) {
    match list.len() {
        n if n < MAX_REMARKS => list.push(Remark { line, message }),
        n if n == MAX_REMARKS => list.push(Remark {
            line: None,
            message: "further remarks not listed".to_owned(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txt(records: &[&str]) -> TxtOutcome {
        parse_txt(&records.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>())
    }

    fn problems(outcome: &TxtOutcome) -> Vec<String> {
        match outcome {
            TxtOutcome::Invalid { problems, .. } => problems.clone(),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    fn messages(remarks: &[Remark]) -> Vec<String> {
        remarks.iter().map(Remark::to_string).collect()
    }

    #[test]
    fn valid_record_among_other_txt_records() {
        let outcome = txt(&["v=spf1 -all", "v=STSv1; id=20240101T000000;"]);
        let TxtOutcome::Valid { id, notes, ignored, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(id.as_str(), "20240101T000000");
        assert_eq!(*ignored, 1);
        assert_eq!(notes, &["the record ends with ';' (allowed)"]);
        assert_eq!(
            outcome.summary(),
            "v=STSv1 record, id 20240101T000000: valid (1 other TXT record ignored)"
        );
    }

    #[test]
    fn whitespace_around_delimiters_is_allowed() {
        let outcome = txt(&["v=STSv1 ;\tid=abc ; "]);
        assert!(
            matches!(&outcome, TxtOutcome::Valid { id, .. } if id.as_str() == "abc"),
            "{outcome:?}"
        );
    }

    #[test]
    fn no_record_or_a_mistyped_one_is_absent() {
        assert_eq!(
            txt(&[]),
            TxtOutcome::Absent {
                ignored: 0,
                near_misses: vec![]
            }
        );
        let outcome = txt(&["V=STSv1; id=1", "v=STSv10; id=2"]);
        let TxtOutcome::Absent { ignored, near_misses } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(*ignored, 2);
        assert_eq!(near_misses.len(), 2);
        assert!(
            outcome
                .summary()
                .starts_with("no v=STSv1 record: the domain does not use MTA-STS; \"V=STSv1; id=1\"")
        );
    }

    #[test]
    fn several_records_mean_no_policy() {
        let outcome = txt(&["v=STSv1; id=1", "v=STSv1; id=2"]);
        assert!(matches!(&outcome, TxtOutcome::Multiple { records, ignored: 0 } if records.len() == 2));
        assert_eq!(
            outcome.summary(),
            "2 v=STSv1 records: a sender treats the domain as having no MTA-STS policy"
        );
    }

    #[test]
    fn bad_ids_are_named_precisely() {
        assert_eq!(
            problems(&txt(&["v=STSv1; id=abc-1"])),
            ["id \"abc-1\" contains '-': only letters and digits are allowed"]
        );
        assert_eq!(
            problems(&txt(&[&format!("v=STSv1; id={}", "a".repeat(33))])),
            ["id is longer than 32 characters (33)"]
        );
        assert_eq!(problems(&txt(&["v=STSv1; id="])), ["id is empty"]);
        assert_eq!(problems(&txt(&["v=STSv1;"])), ["no id field"]);
        assert_eq!(problems(&txt(&["v=STSv1"])), ["no id field"]);
    }

    #[test]
    fn bad_field_syntax_is_named_precisely() {
        assert_eq!(problems(&txt(&["v=STSv1; id=1; foo"])), ["field 3 \"foo\" has no '='"]);
        assert_eq!(
            problems(&txt(&["v=STSv1; id = 1"])),
            ["field 2 \"id = 1\": no spaces are allowed around '='", "no id field"]
        );
        assert_eq!(
            problems(&txt(&["v=STSv1;; id=1"])),
            ["field 2 is empty (two ';' in a row)"]
        );
        assert_eq!(
            problems(&txt(&["v=STSv1 id=1"])),
            [
                "the record must start with \"v=STSv1\" followed by ';' (found \"v=STSv1 id=1\")",
                "no id field"
            ]
        );
        assert_eq!(
            problems(&txt(&["v=STSv1; id=1; _x=y"])),
            ["field 3 \"_x=y\": the name starts with '_'; it must start with a letter or digit"]
        );
        assert_eq!(
            problems(&txt(&["v=STSv1; id=1; x=a b"])),
            ["field 3 \"x=a b\": the value contains a space, which is not allowed"]
        );
    }

    #[test]
    fn unknown_fields_are_notes_and_names_are_case_sensitive() {
        let outcome = txt(&["v=STSv1; id=1; report=yes"]);
        let TxtOutcome::Valid { notes, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!(
            notes,
            &["field 3 \"report=yes\" is an unknown extension field and is ignored"]
        );

        let outcome = txt(&["v=STSv1; ID=1"]);
        assert_eq!(problems(&outcome), ["no id field"]);
        let outcome = txt(&["v=STSv1; id=1; id=2"]);
        assert!(matches!(&outcome, TxtOutcome::Valid { id, notes, .. }
            if id.as_str() == "1" && notes[0].contains("repeats id")));
    }

    #[test]
    fn non_ascii_is_rejected_and_neutralised() {
        let outcome = txt(&["v=STSv1; id=1; x=caf\u{e9}"]);
        assert_eq!(
            problems(&outcome),
            ["the record contains non-ASCII text ('é' at character 21); it must be US-ASCII"]
        );
        let outcome = txt(&["v=STSv1; id=1\u{1b}[2J"]);
        let found = problems(&outcome);
        assert!(found[0].contains("\\x1b"), "{found:?}");
        assert!(!found.iter().any(|p| p.contains('\u{1b}')));
    }

    #[test]
    fn hostile_records_stay_bounded() {
        let record = format!("v=STSv1; id=1{}", ";".repeat(10_000));
        let found = problems(&txt(&[&record]));
        assert_eq!(found.len(), MAX_REMARKS + 1);
        assert_eq!(found.last().map(String::as_str), Some("further remarks not listed"));
    }

    const GOOD: &str = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n";

    #[test]
    fn valid_policy() {
        let policy = parse_policy(GOOD);
        assert!(policy.is_valid(), "{policy:?}");
        assert_eq!(policy.mode, Some(Mode::Enforce));
        assert_eq!(policy.max_age, Some(604_800));
        assert_eq!(policy.mx.len(), 2);
        assert!(policy.notes.is_empty());
        assert_eq!(
            policy.summary(),
            "MTA-STS policy: mode enforce, max_age 604800 (7 days), 2 mx patterns: valid"
        );
    }

    #[test]
    fn crlf_and_whitespace_around_values() {
        let policy = parse_policy("version: STSv1\r\nmode:testing  \r\nmax_age:\t86400\r\nmx: mx.example.com\r\n");
        assert!(policy.is_valid(), "{policy:?}");
        assert_eq!(policy.mode, Some(Mode::Testing));
        assert_eq!(policy.mx[0].as_str(), "mx.example.com");
    }

    #[test]
    fn bare_carriage_returns_are_malformed() {
        let policy = parse_policy("version: STSv1\rmode: enforce\n");
        assert!(!policy.is_valid());
        assert!(policy.problems[0].message.contains("carriage return"), "{policy:?}");
    }

    #[test]
    fn missing_fields() {
        let policy = parse_policy("version: STSv1\n");
        assert_eq!(messages(&policy.problems), ["no mode line", "no max_age line"]);
        let policy = parse_policy("version: STSv1\nmode: enforce\nmax_age: 86400\n");
        assert_eq!(
            messages(&policy.problems),
            ["no mx line: one is required unless mode is none"]
        );
        assert!(parse_policy("").problems.len() == 3);
    }

    #[test]
    fn mode_none_needs_no_mx() {
        let policy = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n");
        assert!(policy.is_valid(), "{policy:?}");
    }

    #[test]
    fn repeated_keys_keep_the_first() {
        let policy = parse_policy(&format!("{GOOD}mode: testing\nmode: none\n"));
        assert!(policy.is_valid());
        assert_eq!(policy.mode, Some(Mode::Enforce));
        assert_eq!(
            messages(&policy.notes),
            [
                "line 6: mode repeats line 2: only the first mode counts",
                "line 7: mode repeats line 2: only the first mode counts"
            ]
        );
        let policy = parse_policy("version: STSv1\nmode: Enforce\nmode: enforce\nmax_age: 1\nmx: a.example\n");
        assert_eq!(
            messages(&policy.problems),
            ["line 2: mode \"Enforce\" must be lowercase: mode values are case-sensitive"]
        );
    }

    /// Found by the `mta_sts` fuzz target: the key named in the fix was not escaped.
    #[test]
    fn key_with_control_characters_and_spaces_is_escaped_in_the_fix() {
        let policy = parse_policy(" \0ge: 60\n");
        let message = &policy.problems[0].message;
        assert_eq!(
            message,
            "\" \\x00ge: 60\": whitespace around the key; it must be \"\\x00ge:\""
        );
    }

    #[test]
    fn malformed_lines_carry_number_and_text() {
        let policy = parse_policy(&format!("{GOOD}garbage\nmode : none\n mx: a.example.com\n"));
        assert_eq!(
            messages(&policy.problems),
            [
                "line 6: \"garbage\" has no ':' (expected \"key: value\")",
                "line 7: \"mode : none\": whitespace around the key; it must be \"mode:\"",
                "line 8: \" mx: a.example.com\": whitespace around the key; it must be \"mx:\"",
            ]
        );
        let policy = parse_policy("version: STSv2\nmode: strict\n");
        assert_eq!(
            messages(&policy.problems)[..2],
            [
                "line 1: version is \"STSv2\"; it must be STSv1 (case-sensitive)",
                "line 2: mode \"strict\" is not enforce, testing or none"
            ]
        );
    }

    #[test]
    fn unknown_and_miscased_keys_are_notes() {
        let policy = parse_policy(&format!("{GOOD}comment: hello world\nMode: none\n"));
        assert!(policy.is_valid());
        assert_eq!(
            messages(&policy.notes),
            [
                "line 6: unknown key \"comment\" ignored",
                "line 7: key \"Mode\" is ignored: keys are case-sensitive, so it is not \"mode\""
            ]
        );
    }

    #[test]
    fn blank_lines_are_fine_but_noted_between_fields() {
        let policy = parse_policy("version: STSv1\n\nmode: none\nmax_age: 86400\n\n\n");
        assert!(policy.is_valid());
        assert_eq!(policy.notes.len(), 1);
        assert_eq!(policy.notes[0].line, Some(2));
    }

    #[test]
    fn max_age_bounds() {
        let age = |value: &str| parse_policy(&format!("version: STSv1\nmode: none\nmax_age: {value}\n"));
        assert!(age("31557600").is_valid());
        let over = age("31557601");
        assert!(!over.is_valid());
        assert_eq!(
            messages(&over.problems),
            ["line 3: max_age 31557601 is above the maximum of 31557600 seconds (one year)"]
        );
        assert_eq!(
            messages(&age("12345678901").problems),
            ["line 3: max_age has 11 digits; at most 10 are allowed"]
        );
        assert_eq!(
            messages(&age("-1").problems),
            ["line 3: max_age \"-1\" contains '-': it must be seconds, digits only"]
        );
        assert_eq!(
            messages(&age("").problems),
            ["line 3: \"max_age: \": max_age has no value", "no max_age line"]
        );
        let zero = age("0");
        assert!(zero.is_valid());
        assert_eq!(zero.notes.len(), 1);
        assert!(age("3600").notes[0].message.contains("under a day"));
    }

    #[test]
    fn mx_pattern_syntax() {
        let mx = |pattern: &str| {
            parse_policy(&format!(
                "version: STSv1\nmode: enforce\nmax_age: 86400\nmx: {pattern}\n"
            ))
        };
        assert!(mx("*.example.com").is_valid());
        let unicode = mx("bücher.example");
        assert!(unicode.problems[0].message.contains("A-labels"), "{unicode:?}");
        assert!(
            mx("mail.*.example.com").problems[0]
                .message
                .contains("whole first label")
        );
        assert!(mx("mail_1.example.com").problems[0].message.contains("'_'"));
        assert!(mx("a..example.com").problems[0].message.contains("empty label"));
        let upper = mx("MAIL.example.com.");
        assert!(upper.is_valid());
        assert_eq!(upper.notes.len(), 2);
    }

    #[test]
    fn too_many_lines_and_patterns_are_bounded() {
        let many_mx: String = (0..250).map(|i| format!("mx: mx{i}.example.com\n")).collect();
        let policy = parse_policy(&format!("version: STSv1\nmode: enforce\nmax_age: 86400\n{many_mx}"));
        assert_eq!(policy.mx.len(), MAX_MX_PATTERNS);
        assert_eq!(
            messages(&policy.problems),
            ["line 204: more than 200 mx patterns; the rest were not kept"]
        );
        let long = "comment: x\n".repeat(2000);
        let policy = parse_policy(&long);
        assert!(messages(&policy.problems)[0].contains("more than 1000 lines"));
    }

    #[test]
    fn byte_order_mark_is_a_problem() {
        let policy = parse_policy(&format!("\u{feff}{GOOD}"));
        assert_eq!(policy.version.as_ref().map(SafeText::as_str), Some("STSv1"));
        assert!(!policy.is_valid());
    }

    #[test]
    fn wildcard_rules() {
        assert!(mx_matches("*.example.com", "a.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(mx_matches("*.Example.COM.", "A.example.com."));
        assert!(mx_matches("mail.example.com", "MAIL.example.com."));
        assert!(!mx_matches("mail.example.com", "mail.example.org"));
        assert!(!mx_matches("*.", "*"));
        assert!(!mx_matches("*.example.com", ".example.com"));
        assert!(!mx_matches("", ""));
        let policy = parse_policy(GOOD);
        assert_eq!(policy.matching_pattern("mx1.example.net."), Some("*.example.net"));
        assert_eq!(policy.matching_pattern("mail.example.com"), Some("mail.example.com"));
        assert_eq!(policy.matching_pattern("mx.example.org"), None);
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcome = txt(&["v=STSv1; id=1"]);
        let json = serde_json::to_string(&outcome).expect("serialises");
        assert!(json.contains("\"status\":\"valid\""), "{json}");
        assert_eq!(serde_json::from_str::<TxtOutcome>(&json).expect("parses"), outcome);
        let policy = parse_policy(GOOD);
        let json = serde_json::to_string(&policy).expect("serialises");
        assert!(json.contains("\"mode\":\"enforce\""), "{json}");
        assert_eq!(serde_json::from_str::<Policy>(&json).expect("parses"), policy);
    }
}
