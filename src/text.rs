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

/// Longest string kept from a saved report. Larger than [`MAX_TEXT_CHARS`] because some
/// fields join several peer strings (a reply's lines, a policy's notes); nothing this
/// tool writes comes near it.
pub const MAX_SAVED_CHARS: usize = 16 * MAX_TEXT_CHARS;

impl SafeText {
    pub fn from_peer(bytes: &[u8]) -> Self {
        Self::from_peer_str(&String::from_utf8_lossy(bytes))
    }

    pub fn from_peer_str(s: &str) -> Self {
        SafeText(shown_capped(s, MAX_TEXT_CHARS))
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

    /// Control and invisible characters escaped as in [`SafeText`], with the longer cap
    /// of [`MAX_SAVED_CHARS`]: for every string read back from a saved report, where a
    /// plain `String` field would otherwise be as long as the file let it be.
    pub fn escape(s: &str) -> String {
        shown_capped(s, MAX_SAVED_CHARS)
    }

    /// A peer string, neutralised, as a plain `String` for fields that stay strings.
    pub fn clean(s: &str) -> String {
        Self::from_peer_str(s).0
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `s` with every run of whitespace made one space, and none at either end.
///
/// For peer text shown inside structured lines (a certificate's subject in a chain
/// listing): a name padded with hundreds of spaces would otherwise wrap into rows that
/// read like the listing's own lines ("trust Mozilla roots: trusted").
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` in ASCII: every other character as `\u{..}`.
///
/// For a terminal whose locale is not UTF-8: there the bytes of a UTF-8 character mean
/// something else (`Û` is C3 9B, and 0x9B is CSI on an 8-bit terminal), so peer text
/// must reach it as ASCII only.
pub fn ascii_escaped(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            use fmt::Write;
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Ends text that was cut at its cap.
const TRUNCATED: &str = "…[truncated]";

/// `s` with control and invisible characters escaped, cut to at most `max` characters
/// as shown (an escaped character counts as the four to eight of its `\xNN` form) and
/// marked where cut. Text already cut to `max` or less keeps its one marker instead of
/// being cut and marked again, so text saved in a report reads back unchanged.
fn shown_capped(s: &str, max: usize) -> String {
    let (s, cut) = match s.strip_suffix(TRUNCATED) {
        Some(kept) if kept.chars().count() <= max => (kept, true),
        _ => (s, false),
    };
    let mut out = String::with_capacity(s.len().min(max));
    let mut shown = 0;
    let mut one = String::new();
    for c in s.chars() {
        one.clear();
        push_shown(&mut one, c);
        shown += one.chars().count();
        if shown > max {
            out.push_str(TRUNCATED);
            return out;
        }
        out.push_str(&one);
    }
    if cut {
        out.push_str(TRUNCATED);
    }
    out
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

/// Characters that change how text reads, or where it breaks, without being seen.
///
/// The rule is Unicode's, not a list of the tricks seen so far: every code point that is
/// a format character (general category `Cf`: bidi overrides and isolates, the Arabic
/// letter mark, zero-width joiners, interlinear annotations, tag characters), or
/// `Default_Ignorable_Code_Point` (Hangul fillers, variation selectors, the Mongolian
/// vowel separator, the combining grapheme joiner; renderers draw nothing for them, so
/// they take a cell in one terminal and none in another and shift the borders), or a
/// line or paragraph separator (`Zl`, `Zp`: a line break a Markdown renderer honours).
/// The table is Unicode 16's `DerivedCoreProperties.txt` and `DerivedGeneralCategory.txt`
/// for these properties, merged; unassigned code points in those blocks are included
/// because a later Unicode may assign them to the same kind.
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),   // soft hyphen
    ('\u{034F}', '\u{034F}'),   // combining grapheme joiner
    ('\u{0600}', '\u{0605}'),   // Arabic number signs (Cf)
    ('\u{061C}', '\u{061C}'),   // Arabic letter mark
    ('\u{06DD}', '\u{06DD}'),   // Arabic end of ayah (Cf)
    ('\u{070F}', '\u{070F}'),   // Syriac abbreviation mark (Cf)
    ('\u{0890}', '\u{0891}'),   // Arabic pound/piastre mark above (Cf)
    ('\u{08E2}', '\u{08E2}'),   // Arabic disputed end of ayah (Cf)
    ('\u{115F}', '\u{1160}'),   // Hangul choseong and jungseong fillers
    ('\u{17B4}', '\u{17B5}'),   // Khmer inherent vowels
    ('\u{180B}', '\u{180F}'),   // Mongolian free variation selectors, vowel separator
    ('\u{200B}', '\u{200F}'),   // zero-width space, joiners, LRM, RLM
    ('\u{2028}', '\u{2029}'),   // line and paragraph separators (Zl, Zp)
    ('\u{202A}', '\u{202E}'),   // bidi embeddings and overrides
    ('\u{2060}', '\u{206F}'),   // word joiner, invisible operators, bidi isolates, deprecated
    ('\u{3164}', '\u{3164}'),   // Hangul filler
    ('\u{FE00}', '\u{FE0F}'),   // variation selectors 1-16
    ('\u{FEFF}', '\u{FEFF}'),   // byte order mark, zero-width no-break space
    ('\u{FFA0}', '\u{FFA0}'),   // halfwidth Hangul filler
    ('\u{FFF0}', '\u{FFFB}'),   // unassigned specials, interlinear annotation
    ('\u{110BD}', '\u{110BD}'), // Kaithi number sign (Cf)
    ('\u{110CD}', '\u{110CD}'), // Kaithi number sign above (Cf)
    ('\u{13430}', '\u{1343F}'), // Egyptian hieroglyph format controls (Cf)
    ('\u{1BCA0}', '\u{1BCA3}'), // shorthand format controls
    ('\u{1D173}', '\u{1D17A}'), // musical symbol format controls
    ('\u{E0000}', '\u{E0FFF}'), // tag characters, variation selectors 17-256, reserved
];

/// Whether `c` is in [`INVISIBLE`].
pub(crate) fn invisible(c: char) -> bool {
    INVISIBLE
        .binary_search_by(|&(low, high)| {
            if high < c {
                std::cmp::Ordering::Less
            } else if low > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
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
    fn format_and_default_ignorable_characters_are_shown() {
        let hidden = [
            '\u{061C}',
            '\u{2028}',
            '\u{2029}',
            '\u{E0001}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{3164}',
            '\u{115F}',
            '\u{1160}',
            '\u{FFA0}',
            '\u{180E}',
            '\u{FFF9}',
            '\u{FFFA}',
            '\u{FFFB}',
            '\u{034F}',
            '\u{FE00}',
            '\u{FE0F}',
            '\u{E0100}',
            '\u{E01EF}',
            '\u{00AD}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
        ];
        for c in hidden {
            let shown = SafeText::from_peer_str(&format!("mx{c}x"));
            assert_eq!(
                shown.as_str(),
                format!("mx\\x{:02x}x", u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
            assert!(shown.as_str().is_ascii());
        }
        // Visible text, including non-Latin scripts and symbols, is kept as it is.
        let kept = "Ünïcode 日本語 ✓ ب ㄱ";
        assert_eq!(SafeText::escape(kept), kept);
    }

    #[test]
    fn whitespace_runs_become_one_space() {
        assert_eq!(
            one_line("  CN=mx   \u{a0}\u{3000} chain: complete  "),
            "CN=mx chain: complete"
        );
    }

    #[test]
    fn non_ascii_is_spelled_out_for_8_bit_terminals() {
        assert_eq!(ascii_escaped("220 \u{db}ber ok"), "220 \\u{db}ber ok");
        assert_eq!(ascii_escaped("\u{1F600}"), "\\u{1f600}");
        assert!(matches!(ascii_escaped("plain"), std::borrow::Cow::Borrowed("plain")));
    }

    #[test]
    fn the_invisible_table_is_sorted_and_disjoint() {
        // `invisible` searches it by halves; an unsorted row would be missed.
        for pair in INVISIBLE.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn text_read_back_from_json_is_neutralised_again() {
        let t: SafeText = serde_json::from_str("\"220 \\u001b[2J\"").unwrap();
        assert_eq!(t.as_str(), "220 \\x1b[2J");
    }

    /// Found by the `policy_records` fuzz target: a record of control characters was
    /// capped by input characters, so its escaped form was cut again (and marked twice)
    /// when the saved report was read back.
    #[test]
    fn escaped_text_over_the_cap_reads_back_unchanged() {
        let inputs = [
            "\0".repeat(300),
            "\0".repeat(2000),
            "a".repeat(5000),
            format!("{}\u{202e}", "a".repeat(1021)),
        ];
        for input in inputs {
            let text = SafeText::from_peer_str(&input);
            let kept = text.as_str().strip_suffix(TRUNCATED).unwrap_or(text.as_str());
            assert!(kept.chars().count() <= MAX_TEXT_CHARS);
            let json = serde_json::to_string(&text).unwrap();
            assert_eq!(serde_json::from_str::<SafeText>(&json).unwrap(), text);
            assert_eq!(SafeText::escape(text.as_str()), text.as_str());
        }
    }

    #[test]
    fn long_text_is_capped() {
        let t = SafeText::from_peer(&vec![b'a'; 5000]);
        let kept = t.as_str().strip_suffix("…[truncated]").expect("marker at the end");
        assert_eq!(kept.chars().count(), MAX_TEXT_CHARS);
    }
}
