//! The `v=<version>; name=value; …` grammar of the policy TXT records (RFC 8461 §3.1
//! for `_mta-sts`, RFC 8460 §3 for `_smtp._tls`): selecting the record among a name's
//! TXT RRset, splitting and checking its fields, and naming every deviation in words
//! an operator can act on. The record kinds only say which field they need.

use crate::text::SafeText;

/// Problems or notes kept per record or policy, so hostile input stays cheap to show.
pub(super) const MAX_REMARKS: usize = 50;
/// Characters of peer text quoted in one message.
const QUOTE_CHARS: usize = 80;

/// One `name=value` field of a `;`-separated record, numbered from the version (field 1).
pub(super) struct Field<'a> {
    pub number: usize,
    pub raw: &'a str,
    pub name: &'a str,
    pub value: &'a str,
}

/// Records that start with the version followed by ';', whitespace or nothing, and how
/// many others were dropped (RFC 8461 §3.1, RFC 8460 §3).
pub(super) fn select<'a>(records: &'a [String], version: &str) -> (Vec<&'a str>, usize) {
    let selected: Vec<&str> = records
        .iter()
        .map(String::as_str)
        .filter(|r| starts_with_version(r, version))
        .collect();
    let ignored = records.len() - selected.len();
    (selected, ignored)
}

fn starts_with_version(record: &str, version: &str) -> bool {
    record
        .strip_prefix(version)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([';', ' ', '\t']))
}

/// Dropped records that were probably meant as the real one.
pub(super) fn near_misses(records: &[String], version: &str) -> Vec<SafeText> {
    records
        .iter()
        .filter(|r| {
            let trimmed = r.trim_start_matches([' ', '\t', '"']);
            trimmed
                .get(..version.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(version))
        })
        .map(|r| SafeText::from_peer_str(r))
        .collect()
}

/// Reads a record whose one known field is `key` (`id` for MTA-STS, `rua` for TLS-RPT):
/// checks that it is ASCII, splits it into fields, reads the first `key` field with
/// `read`, notes any repeat of it (the first one counts) and checks every other field as
/// an extension. `None` when the record has no `key` field.
pub(super) fn read_fields<'a, T>(
    record: &'a str,
    version: &str,
    key: &str,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
    mut read: impl FnMut(&Field<'a>, &mut Vec<String>, &mut Vec<String>) -> T,
) -> Option<T> {
    if let Some(problem) = non_ascii_problem(record) {
        push(problems, problem);
    }
    let mut value = None;
    for field in split_fields(record, version, problems, notes) {
        if field.name != key {
            check_extension(&field, &[key], problems, notes);
        } else if value.is_none() {
            value = Some(read(&field, problems, notes));
        } else {
            let message = format!(
                "field {} {} repeats {key}: the first one counts",
                field.number,
                quote(field.raw)
            );
            push(notes, message);
        }
    }
    value
}

/// Splits `version 1*(*WSP ";" *WSP field) [*WSP ";" *WSP]` into fields with a
/// well-formed name; everything else becomes a problem, a trailing ';' a note.
fn split_fields<'a>(
    record: &'a str,
    version: &str,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<Field<'a>> {
    let mut pieces = record.split(';');
    let head = pieces.next().unwrap_or_default();
    if head.trim_end_matches([' ', '\t']) != version {
        let message = format!(
            "the record must start with \"{version}\" followed by ';' (found {})",
            quote(head)
        );
        push(problems, message);
    }
    let rest: Vec<&str> = pieces.collect();
    let last = rest.len();
    let mut fields = Vec::new();
    for (index, piece) in rest.into_iter().enumerate() {
        let number = index + 2;
        let raw = trim_wsp(piece);
        if !raw.is_empty() {
            match parse_field(number, raw) {
                Ok(field) => fields.push(field),
                Err(problem) => push(problems, problem),
            }
        } else if index + 1 == last {
            push(notes, "the record ends with ';' (allowed)".to_owned());
        } else {
            push(problems, format!("field {number} is empty (two ';' in a row)"));
        }
    }
    fields
}

fn parse_field(number: usize, raw: &str) -> Result<Field<'_>, String> {
    let Some((name, value)) = raw.split_once('=') else {
        return Err(format!("field {number} {} has no '='", quote(raw)));
    };
    if name.ends_with([' ', '\t']) || value.starts_with([' ', '\t']) {
        return Err(format!(
            "field {number} {}: no spaces are allowed around '='",
            quote(raw)
        ));
    }
    if let Some(problem) = name_problem(name, "name") {
        return Err(format!("field {number} {}: {problem}", quote(raw)));
    }
    Ok(Field {
        number,
        raw,
        name,
        value,
    })
}

/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`, the name syntax of every
/// extension field and policy key.
pub(super) fn name_problem(name: &str, noun: &str) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some(format!("no {noun}"));
    };
    if !first.is_ascii_alphanumeric() {
        return Some(format!(
            "the {noun} starts with {}; it must start with a letter or digit",
            describe_char(first)
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(format!(
            "the {noun} contains {}; only letters, digits, '_', '-' and '.' are allowed",
            describe_char(bad)
        ));
    }
    (name.len() > 32).then(|| format!("the {noun} is longer than 32 characters"))
}

/// An unknown field: ignored by senders when well-formed, so a note; a bad value is a problem.
fn check_extension(field: &Field<'_>, known: &[&str], problems: &mut Vec<String>, notes: &mut Vec<String>) {
    let at = format!("field {} {}", field.number, quote(field.raw));
    if let Some(problem) = ext_value_problem(field.value) {
        return push(problems, format!("{at}: {problem}"));
    }
    let message = match known.iter().find(|k| k.eq_ignore_ascii_case(field.name)) {
        Some(known) => format!("{at} is ignored: field names are case-sensitive, so it is not \"{known}\""),
        None => format!("{at} is an unknown extension field and is ignored"),
    };
    push(notes, message);
}

/// `1*(%x21-3A / %x3C / %x3E-7E)`; non-ASCII is reported once for the whole record.
fn ext_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return Some("the value is empty".to_owned());
    }
    value
        .chars()
        .filter(char::is_ascii)
        .find(|c| !matches!(c, '\x21'..='\x3a' | '\x3c' | '\x3e'..='\x7e'))
        .map(|c| format!("the value contains {}, which is not allowed", describe_char(c)))
}

/// The record must be US-ASCII: where it is not.
fn non_ascii_problem(record: &str) -> Option<String> {
    let (position, c) = record.chars().enumerate().find(|(_, c)| !c.is_ascii())?;
    Some(format!(
        "the record contains non-ASCII text ({} at character {}); it must be US-ASCII",
        describe_char(c),
        position + 1
    ))
}

/// A peer fragment for a message: neutralised, quoted and short enough for one line.
pub(super) fn quote(s: &str) -> String {
    let mut short: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().nth(QUOTE_CHARS).is_some() {
        short.push('…');
    }
    format!("\"{}\"", SafeText::clean(&short))
}

/// One character named so that spaces and control characters are visible.
pub(super) fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        '\t' => "a tab".to_owned(),
        c if c.is_control() => format!("a control character (\\x{:02x})", u32::from(c)),
        c => format!("'{}'", SafeText::clean(c.encode_utf8(&mut [0; 4]))),
    }
}

/// `*WSP` is space and tab only.
pub(super) fn trim_wsp(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Adds a message unless the list is full; the first one over says so.
pub(super) fn push(list: &mut Vec<String>, message: String) {
    match list.len() {
        n if n < MAX_REMARKS => list.push(message),
        n if n == MAX_REMARKS => list.push("further remarks not listed".to_owned()),
        _ => {}
    }
}

/// Peer records as shown in an outcome.
pub(super) fn peer_texts(records: &[&str]) -> Vec<SafeText> {
    records.iter().map(|r| SafeText::from_peer_str(r)).collect()
}
