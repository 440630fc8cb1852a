//! Peer text made safe to show: bounded and free of control or escape sequences.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Text that came from the network, neutralised once where it entered the model.
///
/// Control characters (including ESC, so no terminal escape sequences) are shown as
/// `\xNN`, invalid UTF-8 as U+FFFD, and the length is capped with a visible marker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct SafeText(String);

/// A saved report is peer input too: text read back is neutralised again.
impl<'de> Deserialize<'de> for SafeText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| SafeText::from_peer_str(&s))
    }
}

/// Longest peer string kept in one piece of text.
pub const MAX_TEXT_CHARS: usize = 1024;

impl SafeText {
    pub fn from_peer(bytes: &[u8]) -> Self {
        Self::from_peer_str(&String::from_utf8_lossy(bytes))
    }

    pub fn from_peer_str(s: &str) -> Self {
        let mut out = String::with_capacity(s.len().min(MAX_TEXT_CHARS));
        for (count, c) in s.chars().enumerate() {
            if count >= MAX_TEXT_CHARS {
                out.push_str("…[truncated]");
                break;
            }
            push_shown(&mut out, c);
        }
        SafeText(out)
    }

    /// Like [`SafeText::escape`] but keeping line breaks and tabs: for text an operator
    /// pastes, whose layout (continuation lines, tab-indented headers) carries meaning.
    pub fn escape_pasted(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            match c {
                '\n' | '\t' => out.push(c),
                _ => push_shown(&mut out, c),
            }
        }
        out
    }

    /// Control and invisible characters escaped as in [`SafeText`], with no length cap:
    /// for text of any length read back from a saved report.
    pub fn escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            push_shown(&mut out, c);
        }
        out
    }

    /// A peer string, neutralised, as a plain `String` for fields that stay strings.
    pub fn clean(s: &str) -> String {
        Self::from_peer_str(s).0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Appends `c`, or its `\xNN` form when it is a control or invisible character.
fn push_shown(out: &mut String, c: char) {
    if c.is_control() || invisible(c) {
        use fmt::Write;
        let _ = write!(out, "\\x{:02x}", u32::from(c));
    } else {
        out.push(c);
    }
}

/// Format characters that change how text reads without being seen: bidirectional
/// overrides and isolates (a "Trojan Source" in a report), zero-width characters.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

impl fmt::Display for SafeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_neutralised() {
        let t = SafeText::from_peer(b"220 \x1b[2Jhi\r\x07\xff");
        assert_eq!(t.as_str(), "220 \\x1b[2Jhi\\x0d\\x07\u{fffd}");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_shown() {
        let t = SafeText::from_peer_str("mx\u{202E}moc.live\u{200B}");
        assert_eq!(t.as_str(), "mx\\x202emoc.live\\x200b");
    }

    #[test]
    fn text_read_back_from_json_is_neutralised_again() {
        let t: SafeText = serde_json::from_str("\"220 \\u001b[2J\"").unwrap();
        assert_eq!(t.as_str(), "220 \\x1b[2J");
    }

    #[test]
    fn long_text_is_capped() {
        let t = SafeText::from_peer(&vec![b'a'; 5000]);
        let kept = t.as_str().strip_suffix("…[truncated]").expect("marker at the end");
        assert_eq!(kept.chars().count(), MAX_TEXT_CHARS);
    }
}
