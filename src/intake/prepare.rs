//! Turning a paste into text the pattern table can read line by line.
//!
//! Three things happen, each linear in the (bounded) input: the paste is cut to
//! [`MAX_INPUT_BYTES`]; qmail-send log lines, where `logsafe` replaced spaces with `_`
//! and newlines with `/`, are decoded back; and continuation lines (DSN header folding,
//! Postfix's wrapped bounce text, Exim's indented bounce body) are joined to the line
//! they continue, so that one error reads as one line.

/// Only the start of a paste is read: bounces put the diagnosis near the top, and a
/// bound keeps the work (and any pathological input) small.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// The first [`MAX_INPUT_BYTES`] of `text`, cut on a character boundary.
pub(super) fn bounded(text: &str) -> &str {
    if text.len() <= MAX_INPUT_BYTES {
        return text;
    }
    let end = text.floor_char_boundary(MAX_INPUT_BYTES);
    text.get(..end).unwrap_or_default()
}

/// `text` with every line ending made `\n`: CRLF (files from Windows, Exchange NDRs
/// saved as text) and a lone CR (what xterm, VTE terminals, PuTTY and tmux send for
/// each line of a bracketed paste) alike. Every way text enters the intake (paste,
/// file, stdin) goes through here, so one bounce extracts the same however it came.
pub fn normalise_line_endings(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The bounded paste, with line endings normalised, qmail log lines decoded and
/// continuation lines joined.
pub(super) fn prepare(text: &str) -> String {
    let bounded = normalise_line_endings(bounded(text));
    let mut decoded = String::with_capacity(bounded.len());
    for line in bounded.split('\n') {
        match decode_qmail_log_line(line) {
            Some(plain) => decoded.push_str(&plain),
            None => decoded.push_str(line),
        }
        decoded.push('\n');
    }
    unfold(&decoded)
}

/// Decodes a qmail-send `delivery N: deferral|failure|success: …` log line.
///
/// qmail-send writes the qmail-remote report through `logsafe`, which turns spaces
/// (and `%` and non-printables) into `_` and line breaks into `/`. A report that still
/// contains a space was not encoded that way, so it is left alone. The decoding is
/// lossy (a real `_` also becomes a space), which does not matter for matching.
pub(super) fn decode_qmail_log_line(line: &str) -> Option<String> {
    let (head, rest) = line.split_once("delivery ")?;
    let (number, rest) = rest.split_once(": ")?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (kind, report) = rest.split_once(": ")?;
    if !matches!(kind, "deferral" | "failure" | "success") || report.contains(' ') || !report.contains('_') {
        return None;
    }
    let report: String = report
        .trim_end_matches('/')
        .chars()
        .map(|c| match c {
            '_' => ' ',
            '/' => '\n',
            other => other,
        })
        .collect();
    Some(format!("{head}delivery {number}: {kind}: {report}"))
}

/// Joins continuation lines to the line they continue.
///
/// A non-blank line continues the current logical line when it is indented further
/// than that logical line's first physical line; a blank line ends it. Uniformly
/// indented log pastes therefore stay one record per line, while folded DSN fields,
/// Postfix's wrapped `said:` text and Exim's indented address blocks become one line.
fn unfold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // Indentation of the current logical line's first physical line, if one is open.
    let mut open: Option<usize> = None;
    let mut first = true;
    for line in text.split('\n') {
        let body = line.trim_start_matches([' ', '\t']);
        let indent = line.len() - body.len();
        let body = body.trim_end();
        match open {
            Some(start) if !body.is_empty() && indent > start => {
                out.push(' ');
                out.push_str(body);
                continue;
            }
            _ => {}
        }
        if !first {
            out.push('\n');
        }
        first = false;
        if body.is_empty() {
            open = None;
        } else {
            out.push_str(line.trim_end());
            open = Some(indent);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmail_log_underscores_become_spaces_and_slashes_line_breaks() {
        let line =
            "@400000006602a1b2c3d4e5f6 delivery 7: deferral: Connected_to_192.0.2.1_but_connection_died._(#4.4.2)/";
        assert_eq!(
            decode_qmail_log_line(line).as_deref(),
            Some(
                "@400000006602a1b2c3d4e5f6 delivery 7: deferral: Connected to 192.0.2.1 but connection died. (#4.4.2)"
            )
        );
        let two = "delivery 12: failure: TLS_connect_failed:_timed_out;_connecting_to_192.0.2.1./Remote_host_said:_454_4.7.0_TLS_not_available/";
        assert_eq!(
            decode_qmail_log_line(two).as_deref(),
            Some(
                "delivery 12: failure: TLS connect failed: timed out; connecting to 192.0.2.1.\nRemote host said: 454 4.7.0 TLS not available"
            )
        );
    }

    #[test]
    fn lines_that_are_not_encoded_qmail_reports_are_left_alone() {
        // Already readable (contains spaces): a bounce quoting the report.
        assert_eq!(
            decode_qmail_log_line("delivery 7: deferral: Connected to 192.0.2.1 but died_"),
            None
        );
        // Not a delivery report.
        assert_eq!(
            decode_qmail_log_line("starting delivery 7: msg 12 to remote a_b@example.com"),
            None
        );
        assert_eq!(decode_qmail_log_line("delivery x: deferral: a_b"), None);
        assert_eq!(decode_qmail_log_line("delivery 7: status: a_b"), None);
        assert_eq!(decode_qmail_log_line("no_delivery_here"), None);
    }

    #[test]
    fn prepare_decodes_qmail_log_lines_in_place() {
        let paste =
            "@4000 delivery 7: deferral: Connected_to_192.0.2.1_but_connection_died._(#4.4.2)/\r\nnext_line stays\n";
        let prepared = prepare(paste);
        assert!(prepared.contains("deferral: Connected to 192.0.2.1 but connection died. (#4.4.2)\n"));
        assert!(prepared.contains("next_line stays"));
    }

    #[test]
    fn continuation_lines_join_but_uniform_indentation_does_not() {
        let folded = "Diagnostic-Code: smtp; 454 4.7.0 TLS not available due to temporary\n    reason\nStatus: 4.7.0\n";
        assert_eq!(
            unfold(folded),
            "Diagnostic-Code: smtp; 454 4.7.0 TLS not available due to temporary reason\nStatus: 4.7.0\n"
        );
        let exim = "\n  user@example.com\n    host mx.example.com [192.0.2.1]\n    retry timeout exceeded\n";
        assert_eq!(
            unfold(exim),
            "\n  user@example.com host mx.example.com [192.0.2.1] retry timeout exceeded\n"
        );
        let log = "  line one\n  line two\n";
        assert_eq!(unfold(log), "  line one\n  line two\n");
    }

    #[test]
    fn cr_crlf_and_lf_line_ends_read_alike() {
        let lf = "Final-Recipient: rfc822; user@example.com\nStatus: 4.7.0\n";
        assert_eq!(normalise_line_endings(lf), lf);
        assert_eq!(normalise_line_endings(&lf.replace('\n', "\r\n")), lf);
        assert_eq!(normalise_line_endings(&lf.replace('\n', "\r")), lf);
        // A blank line in a CR paste stays a blank line (it ends a folded field).
        assert_eq!(normalise_line_endings("a\r\rb\r\n\r\nc"), "a\n\nb\n\nc");
        assert_eq!(prepare("a\r  folded\rb"), prepare("a\n  folded\nb"));
    }

    #[test]
    fn the_bound_cuts_on_a_character_boundary() {
        let mut text = "a".repeat(MAX_INPUT_BYTES - 1);
        text.push('é'); // two bytes, straddling the bound
        text.push_str("tail");
        let cut = bounded(&text);
        assert_eq!(cut.len(), MAX_INPUT_BYTES - 1);
        assert!(cut.bytes().all(|b| b == b'a'));
        assert_eq!(bounded("short"), "short");
    }
}
