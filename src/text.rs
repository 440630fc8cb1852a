//! Peer text made safe to show: bounded and free of control or escape sequences.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Text that came from the network, neutralised once where it entered the model.
///
/// Control characters (including ESC, so no terminal escape sequences) are shown as
/// `\xNN`, invalid UTF-8 as U+FFFD, and the length is capped with a visible marker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SafeText(String);

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
            if c.is_control() {
                use fmt::Write;
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            } else {
                out.push(c);
            }
        }
        SafeText(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    fn long_text_is_capped() {
        let t = SafeText::from_peer(&vec![b'a'; 5000]);
        let kept = t.as_str().strip_suffix("…[truncated]").expect("marker at the end");
        assert_eq!(kept.chars().count(), MAX_TEXT_CHARS);
    }
}
