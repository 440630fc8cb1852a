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
    ("scope", "grouped"),
    ("path", "yes"),
    ("path", "no"),
    ("path", "finding"),
    ("path", "not_answered"),
    ("path", "verdict"),
    ("evidence", "answer"),
    ("postmaster", "all_failing"),
    ("postmaster", "some_failing"),
    ("postmaster", "domain"),
    ("postmaster", "grouped"),
    ("diff", "targets_differ"),
    ("diff", "mx_differ"),
    ("diff", "one_side_fails"),
    ("diff", "both_fail"),
    ("diff", "certificates_differ"),
    ("diff", "tls_differ"),
    ("diff", "policy_differs"),
    ("diff", "same"),
    ("policy_mta_sts", "txt_failed"),
    ("policy_mta_sts", "txt"),
    ("policy_mta_sts", "record"),
    ("policy_mta_sts", "note"),
    ("policy_mta_sts", "fetch"),
    ("policy_mta_sts", "reported_as"),
    ("policy_mta_sts", "not_text_plain"),
    ("policy_mta_sts", "patterns"),
    ("policy_mta_sts", "covered"),
    ("policy_mta_sts", "not_covered"),
    ("policy_mta_sts", "mx"),
    ("policy_mta_sts", "mx_failure"),
    ("policy_dane", "resolver"),
    ("policy_dane", "resolver_not_loopback"),
    ("policy_dane", "no_resolver"),
    ("policy_dane", "records_found"),
    ("policy_dane", "no_records"),
    ("policy_dane", "servfail"),
    ("policy_dane", "lookup_failed"),
    ("policy_dane", "applies"),
    ("policy_dane", "mx_not_validated"),
    ("policy_dane", "address_not_validated"),
    ("policy_dane", "not_validated"),
    ("policy_dane", "host"),
    ("policy_dane", "alias"),
    ("policy_dane", "suggested_record"),
    ("policy_context", "tls_rpt_valid"),
    ("policy_context", "tls_rpt"),
    ("policy_context", "tls_rpt_failed"),
    ("policy_context", "spf"),
    ("policy_context", "spf_failed"),
    ("policy_context", "dmarc"),
    ("policy_context", "dmarc_failed"),
    ("policy_context", "record"),
    ("policy_context", "not_the_cause"),
    ("policy_resolvers", "no_mx_hosts"),
    ("policy_resolvers", "mx_host"),
    ("policy_resolvers", "authority"),
    ("policy_lists", "more"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_used_is_in_the_asset() {
        assert_eq!(REPORT.problems(USED), Vec::<String>::new());
    }
}
