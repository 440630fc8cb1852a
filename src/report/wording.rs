//! The reports' own sentences, from assets/report.toml, so they can be reviewed
//! and reworded without touching the code.

use crate::wording::Sentences;

static REPORT: Sentences = Sentences::new("assets/report.toml", include_str!("../../assets/report.toml"));

/// The sentence `section.key` with its placeholders filled.
pub fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    REPORT.say(section, key, values)
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
        assert_eq!(REPORT.problems(USED), Vec::<String>::new());
    }
}
