//! I/O-free SMTP reply parsing (RFC 5321 §4.2): feed it lines, get whole replies.
//!
//! Kept apart from the socket so every rule is tested on literal bytes.

use thiserror::Error;

use crate::model::{Capabilities, Reply};
use crate::text::SafeText;

/// RFC 5321 §4.5.3.1.5 limit for a reply line, including CRLF.
pub const RFC_REPLY_LINE_LIMIT: usize = 512;
/// Most lines one reply may have before we stop reading (servers list a few dozen at most).
pub const MAX_REPLY_LINES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    #[error("reply line does not start with a three-digit code: {0}")]
    NoCode(SafeText),
    #[error("reply code {0} is outside 200-599")]
    CodeOutOfRange(u16),
    #[error("reply line has {0:?} after the code, expected a space or a hyphen")]
    BadSeparator(char),
    #[error("multiline reply mixes codes {first} and {other}")]
    MixedCodes { first: u16, other: u16 },
    #[error("reply has more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
}

/// Accumulates the lines of one reply.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<SafeText>,
}

impl ReplyParser {
    /// Takes one line without its line terminator. Returns the reply once its last line arrived.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let code = parse_code(line)?;
        if let Some(first) = self.code
            && first != code
        {
            return Err(ReplyError::MixedCodes { first, other: code });
        }
        self.code = Some(code);
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        let (last, text) = match line.get(3) {
            None => (true, &line[3..]),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(&other) => return Err(ReplyError::BadSeparator(char::from(other))),
        };
        self.lines.push(SafeText::from_peer(text));
        if last {
            let lines = std::mem::take(&mut self.lines);
            self.code = None;
            return Ok(Some(Reply { code, lines }));
        }
        Ok(None)
    }
}

fn parse_code(line: &[u8]) -> Result<u16, ReplyError> {
    let digits = line
        .get(..3)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .ok_or_else(|| ReplyError::NoCode(SafeText::from_peer(&line[..line.len().min(40)])))?;
    let code = digits.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(200..600).contains(&code) {
        return Err(ReplyError::CodeOutOfRange(code));
    }
    Ok(code)
}

/// Reads the EHLO keywords of a positive EHLO reply (RFC 5321 §4.1.1.1).
///
/// The first line is the server's name; keywords are on lines 2..n. A keyword-looking
/// first line is returned separately because some servers put STARTTLS there and
/// clients then miss it.
pub fn parse_capabilities(reply: &Reply) -> (Capabilities, Option<SafeText>) {
    let mut lines = reply.lines.iter();
    let first = lines.next().cloned().unwrap_or_default();
    let first_word = first.as_str().split_whitespace().next().unwrap_or("");
    let suspicious = (!first_word.contains('.')
        && !first_word.starts_with('[')
        && looks_like_keyword(first_word)
        && first_word.chars().all(|c| c.is_ascii_uppercase() || c == '-'))
    .then(|| first.clone());
    let keywords = lines
        .filter_map(|line| {
            let mut parts = line.as_str().splitn(2, ' ');
            let keyword = parts.next()?.trim();
            looks_like_keyword(keyword).then(|| {
                (
                    keyword.to_ascii_uppercase(),
                    parts.next().unwrap_or("").trim().to_string(),
                )
            })
        })
        .collect();
    let server_name = SafeText::from_peer_str(first_word);
    (Capabilities { server_name, keywords }, suspicious)
}

/// `ehlo-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")`.
fn looks_like_keyword(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// A keyword that stands where STARTTLS should, masked by an ESMTP-inspecting firewall.
///
/// Cisco PIX/ASA replaces each character but the last with `X` (`XXXXXXXA`), and
/// other boxes use runs of `X` or `*` of the same length.
pub fn masked_starttls(caps: &Capabilities) -> Option<&str> {
    caps.keywords.iter().map(|(k, _)| k.as_str()).find(|k| {
        k.len() == "STARTTLS".len() && k.starts_with("XXXX") && k.chars().all(|c| c == 'X' || c.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&[u8]]) -> Result<Vec<Reply>, ReplyError> {
        let mut parser = ReplyParser::default();
        let mut out = Vec::new();
        for line in lines {
            if let Some(reply) = parser.push_line(line)? {
                out.push(reply);
            }
        }
        Ok(out)
    }

    #[test]
    fn rfc5321_multiline_reply_ends_on_space_line() {
        let replies = feed(&[b"250-mx.example.com hello", b"250-PIPELINING", b"250 STARTTLS"]).unwrap();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].code, 250);
        assert_eq!(replies[0].lines.len(), 3);
        assert_eq!(replies[0].lines[2].as_str(), "STARTTLS");
    }

    #[test]
    fn rfc5321_bare_code_is_a_complete_reply() {
        let replies = feed(&[b"250"]).unwrap();
        assert_eq!(replies[0].code, 250);
        assert_eq!(replies[0].lines[0].as_str(), "");
    }

    #[test]
    fn mixed_codes_in_one_reply_are_an_error() {
        assert_eq!(
            feed(&[b"250-a", b"251 b"]).unwrap_err(),
            ReplyError::MixedCodes { first: 250, other: 251 }
        );
    }

    #[test]
    fn garbage_lines_are_rejected_with_the_evidence() {
        assert!(matches!(feed(&[b"hello"]).unwrap_err(), ReplyError::NoCode(t) if t.as_str() == "hello"));
        assert_eq!(feed(&[b"250x"]).unwrap_err(), ReplyError::BadSeparator('x'));
        assert_eq!(feed(&[b"999 no"]).unwrap_err(), ReplyError::CodeOutOfRange(999));
        assert!(matches!(feed(&[b"2"]).unwrap_err(), ReplyError::NoCode(_)));
    }

    #[test]
    fn oversized_multiline_reply_is_bounded() {
        let mut parser = ReplyParser::default();
        let mut result = Ok(None);
        for _ in 0..=MAX_REPLY_LINES {
            result = parser.push_line(b"250-X");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err(), ReplyError::TooManyLines);
    }

    #[test]
    fn enhanced_status_code_is_read_from_the_text() {
        let reply = feed(&[b"454 4.7.0 TLS not available due to local problem"])
            .unwrap()
            .remove(0);
        assert_eq!(reply.enhanced_status(), Some("4.7.0"));
        let reply = feed(&[b"220 mx.example.com ESMTP"]).unwrap().remove(0);
        assert_eq!(reply.enhanced_status(), None);
    }

    #[test]
    fn capabilities_skip_the_greeting_line_and_keep_parameters() {
        let reply = feed(&[
            b"250-mx.example.com",
            b"250-SIZE 10240000",
            b"250-starttls",
            b"250 8BITMIME",
        ])
        .unwrap()
        .remove(0);
        let (caps, suspicious) = parse_capabilities(&reply);
        assert_eq!(caps.server_name.as_str(), "mx.example.com");
        assert!(caps.has("STARTTLS"));
        assert_eq!(caps.keywords[0], ("SIZE".to_string(), "10240000".to_string()));
        assert!(suspicious.is_none());
    }

    #[test]
    fn starttls_on_the_first_ehlo_line_is_flagged() {
        let reply = feed(&[b"250-STARTTLS", b"250 mx.example.com"]).unwrap().remove(0);
        let (caps, suspicious) = parse_capabilities(&reply);
        assert!(!caps.has("STARTTLS"));
        assert_eq!(suspicious.unwrap().as_str(), "STARTTLS");
    }

    #[test]
    fn cisco_masked_starttls_is_recognised() {
        let reply = feed(&[b"250-mx.example.com", b"250-XXXXXXXA", b"250 8BITMIME"])
            .unwrap()
            .remove(0);
        let (caps, _) = parse_capabilities(&reply);
        assert_eq!(masked_starttls(&caps), Some("XXXXXXXA"));
        let reply = feed(&[b"250-mx", b"250 XXXXXXXX"]).unwrap().remove(0);
        assert_eq!(masked_starttls(&parse_capabilities(&reply).0), Some("XXXXXXXX"));
        let reply = feed(&[b"250-mx", b"250 PIPELINING"]).unwrap().remove(0);
        assert_eq!(masked_starttls(&parse_capabilities(&reply).0), None);
    }
}
