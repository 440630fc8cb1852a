//! The reports' own sentences, from assets/report.toml, so they can be reviewed
//! and reworded without touching the code.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const REPORT_TOML: &str = include_str!("../../assets/report.toml");

type Sections = BTreeMap<String, BTreeMap<String, String>>;

fn sections() -> &'static Sections {
    static SECTIONS: OnceLock<Sections> = OnceLock::new();
    // A parse error leaves the map empty and every sentence falls back to its key;
    // a test proves the asset parses and has every key used.
    SECTIONS.get_or_init(|| toml::from_str(REPORT_TOML).unwrap_or_default())
}

/// The sentence `section.key` with its placeholders filled.
pub fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    match sections().get(section).and_then(|s| s.get(key)) {
        Some(template) => crate::diagnose::fill(template, values),
        None => format!("{section}.{key}"),
    }
}

/// Every sentence the code asks for; the test below keeps this and the asset in step.
#[cfg(test)]
const USED: &[(&str, &str)] = &[
    ("resolution", "mx"),
    ("resolution", "implicit_mx"),
    ("resolution", "null_mx"),
    ("resolution", "nxdomain"),
    ("resolution", "nodata"),
    ("resolution", "error"),
    ("resolution", "direct"),
    ("scope", "only_address"),
    ("scope", "all_addresses"),
    ("scope", "some_addresses"),
    ("diff", "targets_differ"),
    ("diff", "mx_differ"),
    ("diff", "one_side_fails"),
    ("diff", "both_fail"),
    ("diff", "certificates_differ"),
    ("diff", "tls_differ"),
    ("diff", "policy_differs"),
    ("diff", "same"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_used_is_in_the_asset() {
        let parsed: Sections = toml::from_str(REPORT_TOML).expect("assets/report.toml parses");
        for (section, key) in USED {
            assert!(
                parsed.get(*section).and_then(|s| s.get(*key)).is_some(),
                "missing {section}.{key}"
            );
        }
        let count: usize = parsed.values().map(BTreeMap::len).sum();
        assert_eq!(count, USED.len(), "the asset has sentences no code uses");
    }
}
