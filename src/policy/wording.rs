//! The policy summaries' sentences, from assets/policy.toml, and the pieces every
//! record kind's summary shares (several records, an invalid one, ignored others).

use crate::wording::Sentences;
pub(super) use crate::wording::pairs;

static POLICY: Sentences = Sentences::new("assets/policy.toml", include_str!("../../assets/policy.toml"));

/// The sentence `section.key` with its placeholders filled.
pub(super) fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    POLICY.say(section, key, values)
}

/// `one` for a count of 1, otherwise `many` with `{count}` filled.
pub(super) fn count(section: &str, one: &str, many: &str, n: usize) -> String {
    if n == 1 {
        say(section, one, &[])
    } else {
        say(section, many, &[("count", &n.to_string())])
    }
}

/// "<count> <kind> records: <consequence>", for an RRset with more than one record of a kind.
pub(super) fn several_line(count: usize, kind: &str, consequence: &str, ignored: usize) -> String {
    let values = [
        ("count", count.to_string()),
        ("kind", kind.to_string()),
        ("consequence", consequence.to_string()),
        ("ignored", ignored_suffix(ignored)),
    ];
    say("records", "several", &pairs(&values))
}

/// "<kind> record invalid (<first problem>): <consequence>", for the one record of a kind.
pub(super) fn invalid_line(kind: &str, problems: &[String], consequence: &str, ignored: usize) -> String {
    let values = [
        ("kind", kind.to_string()),
        ("first", first_of(problems)),
        ("consequence", consequence.to_string()),
        ("ignored", ignored_suffix(ignored)),
    ];
    say("records", "invalid", &pairs(&values))
}

/// The first problem, and how many more there are.
pub(super) fn first_of(problems: &[String]) -> String {
    match problems {
        [] => say("records", "no_details", &[]),
        [only] => only.clone(),
        [first, rest @ ..] => say(
            "records",
            "first_and_more",
            &[("first", first), ("more", &rest.len().to_string())],
        ),
    }
}

/// How many other TXT records were dropped, or nothing.
pub(super) fn ignored_suffix(ignored: usize) -> String {
    match ignored {
        0 => String::new(),
        n => count("records", "ignored_one", "ignored_many", n),
    }
}

/// Every sentence the code asks for; the test below keeps this and the asset in step.
#[cfg(test)]
const USED: &[(&str, &str)] = &[
    ("records", "several"),
    ("records", "invalid"),
    ("records", "ignored_one"),
    ("records", "ignored_many"),
    ("records", "no_details"),
    ("records", "first_and_more"),
    ("mta_sts", "no_policy"),
    ("mta_sts", "absent"),
    ("mta_sts", "near_miss"),
    ("mta_sts", "valid"),
    ("mta_sts", "policy_invalid"),
    ("mta_sts", "first_problem_one"),
    ("mta_sts", "first_problem_many"),
    ("mta_sts", "field_missing"),
    ("mta_sts", "policy_valid"),
    ("mta_sts", "under_a_day"),
    ("mta_sts", "day_one"),
    ("mta_sts", "days"),
    ("mta_sts", "pattern_one"),
    ("mta_sts", "patterns"),
    ("tls_rpt", "absent"),
    ("tls_rpt", "several"),
    ("tls_rpt", "invalid"),
    ("tls_rpt", "valid"),
    ("spf", "absent"),
    ("spf", "several"),
    ("spf", "valid"),
    ("spf", "ends_in"),
    ("spf", "no_all"),
    ("spf", "lookup_one"),
    ("spf", "lookups"),
    ("dmarc", "absent"),
    ("dmarc", "several"),
    ("dmarc", "invalid"),
    ("dmarc", "valid"),
    ("fetch", "fetched"),
    ("fetch", "no_content_type"),
    ("fetch", "redirect"),
    ("fetch", "http_status"),
    ("fetch", "certificate"),
    ("fetch", "too_large"),
    ("fetch", "no_address"),
    ("fetch", "timeout"),
    ("fetch", "failed"),
    ("status", "mta_sts_mode"),
    ("status", "mta_sts_unusable"),
    ("status", "no_mta_sts"),
    ("status", "dane_validated"),
    ("status", "dane_insecure_path"),
    ("status", "dane_not_validated"),
    ("status", "no_dane"),
    ("dane", "matches"),
    ("dane", "matches_leaf"),
    ("dane", "matches_issuer"),
    ("dane", "matches_but"),
    ("dane", "rotation_ta"),
    ("dane", "rotation"),
    ("dane", "wrong_usage"),
    ("dane", "no_records"),
    ("dane", "no_usable"),
    ("dane", "no_chain"),
    ("dane", "not_examined"),
    ("dane_failure", "expired"),
    ("dane_failure", "not_yet_valid"),
    ("dane_failure", "no_path"),
    ("dane_failure", "invalid"),
    ("dane_failure", "name_mismatch"),
    ("dane_record", "no_certificate"),
    ("dane_record", "ee_matches"),
    ("dane_record", "ee_wrong_position"),
    ("dane_record", "ee_no_match"),
    ("dane_record", "ta_not_in_chain"),
    ("dane_record", "ta_valid"),
    ("dane_record", "ta_failed"),
    ("dane_record", "ta_leaf_hint"),
    ("dane_record", "pkix"),
    ("dane_record", "unknown_usage"),
    ("dane_record", "unknown_selector"),
    ("dane_record", "unknown_matching"),
    ("dane_record", "sha256_length"),
    ("dane_record", "sha512_length"),
    ("dane_record", "full_not_certificate"),
    ("dane_record", "full_not_spki"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_used_is_in_the_asset() {
        assert_eq!(POLICY.problems(USED), Vec::<String>::new());
    }

    #[test]
    fn shared_lines_read_as_before() {
        assert_eq!(
            several_line(2, "DMARC", "receivers apply no DMARC policy", 0),
            "2 DMARC records: receivers apply no DMARC policy"
        );
        assert_eq!(ignored_suffix(1), " (1 other TXT record ignored)");
        assert_eq!(ignored_suffix(3), " (3 other TXT records ignored)");
        assert_eq!(first_of(&["a".into(), "b".into(), "c".into()]), "a; and 2 more");
    }
}
