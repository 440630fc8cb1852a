//! Operator-facing sentences as data: TOML files of `[section] key = "template"`
//! embedded at compile time, so wording can be reviewed and changed without
//! touching logic. Each user keeps a list of the sentences it asks for, and a test
//! holds that list and its asset in step.

use std::collections::BTreeMap;
use std::sync::OnceLock;

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// One embedded sentence file, parsed on first use.
pub struct Sentences {
    /// The asset's path, for messages.
    name: &'static str,
    text: &'static str,
    parsed: OnceLock<Sections>,
}

impl Sentences {
    pub const fn new(name: &'static str, text: &'static str) -> Self {
        Sentences {
            name,
            text,
            parsed: OnceLock::new(),
        }
    }

    fn sections(&self) -> &Sections {
        // A parse error leaves the map empty and every sentence falls back to its key;
        // each asset's test proves it parses and has every key used.
        self.parsed
            .get_or_init(|| toml::from_str(self.text).unwrap_or_default())
    }

    /// The sentence `section.key` with its placeholders filled.
    pub fn say(&self, section: &str, key: &str, values: &[(&str, &str)]) -> String {
        match self.sections().get(section).and_then(|s| s.get(key)) {
            Some(template) => fill(template, values),
            None => format!("{section}.{key}"),
        }
    }

    /// Every problem between the sentences code asks for and the asset: a missing
    /// sentence, one no code uses, or an asset that does not parse.
    pub fn problems(&self, used: &[(&str, &str)]) -> Vec<String> {
        let parsed: Sections = match toml::from_str(self.text) {
            Ok(parsed) => parsed,
            Err(error) => return vec![format!("{} does not parse: {error}", self.name)],
        };
        let mut problems: Vec<String> = used
            .iter()
            .filter(|(section, key)| parsed.get(*section).and_then(|s| s.get(*key)).is_none())
            .map(|(section, key)| format!("{} lacks {section}.{key}", self.name))
            .collect();
        for (section, keys) in &parsed {
            for key in keys.keys() {
                if !used.contains(&(section.as_str(), key.as_str())) {
                    problems.push(format!("{} has {section}.{key}, which no code uses", self.name));
                }
            }
        }
        problems
    }
}

/// Borrowed pairs for [`fill`] from owned values.
pub fn pairs<'a>(values: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    values.iter().map(|(key, value)| (*key, value.as_str())).collect()
}

/// Fills `{name}` placeholders in one pass, so a value that itself contains
/// `{something}` (peer text, say) is never expanded again.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            values
                .iter()
                .find(|(key, _)| *key == &after[..close])
                .map(|(_, v)| (close, v))
        });
        match value {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_once() {
        let filled = fill("{a} and {b} and {unknown}", &[("a", "{b}"), ("b", "B")]);
        assert_eq!(filled, "{b} and B and {unknown}");
    }

    #[test]
    fn missing_and_unused_sentences_are_named() {
        let sentences = Sentences::new("test.toml", "[a]\nx = \"X {v}\"\ny = \"Y\"\n");
        assert_eq!(sentences.say("a", "x", &[("v", "1")]), "X 1");
        assert_eq!(sentences.say("a", "z", &[]), "a.z");
        assert_eq!(
            sentences.problems(&[("a", "x"), ("a", "z")]),
            ["test.toml lacks a.z", "test.toml has a.y, which no code uses"]
        );
    }
}
