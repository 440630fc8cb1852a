//! The "This relay" section shared by the text and Markdown reports and the workbench:
//! what was read of the local MTA (each value with its origin) and what it will do.

use crate::diagnose::{Family, Verdict};
use crate::model::relay::{Basis, Delivery, Origin, Outcome, Prediction, RelayView};

static WORDS: crate::wording::Sentences =
    crate::wording::Sentences::new("assets/relay.toml", include_str!("../../assets/relay.toml"));

/// Every sentence this module asks for (with the prediction's, one asset).
#[cfg(test)]
const SENTENCES: &[(&str, &str)] = &[
    ("report", "mta"),
    ("report", "no_library"),
    ("report", "no_mta"),
    ("report", "route"),
    ("report", "mx_lookup"),
    ("report", "level"),
    ("report", "matches"),
    ("report", "protocols"),
    ("report", "setting"),
    ("report", "unread"),
    ("report", "outcome"),
    ("report", "queued"),
    ("report", "chance"),
    ("report", "log"),
    ("report", "address"),
    ("report", "blocks"),
    ("report", "not_blocking"),
    ("report", "delays"),
    ("report", "client_command"),
    ("report", "log_lines"),
    ("report", "log_none"),
    ("outcome", "verified"),
    ("outcome", "trusted"),
    ("outcome", "untrusted"),
    ("outcome", "anonymous"),
    ("outcome", "cleartext"),
    ("outcome", "defer"),
    ("outcome", "bounce"),
    ("outcome", "not_tried"),
    ("basis", "relay_client"),
    ("basis", "probe"),
    ("origin", "file"),
    ("origin", "file_no_line"),
    ("origin", "service"),
    ("origin", "map"),
    ("origin", "default"),
    ("origin", "command"),
];

fn say(section: &str, key: &str, values: &[(&str, &str)]) -> String {
    WORDS.say(section, key, values)
}

/// One line: the MTA and its TLS library.
pub fn headline(relay: &RelayView) -> String {
    let Some(mta) = relay.mta else {
        return say("report", "no_mta", &[]);
    };
    let library = relay.tls_library.as_ref().map_or_else(
        || say("report", "no_library", &[]),
        |l| format!("{} {}", l.name, l.version),
    );
    let mta = match mta {
        crate::model::relay::Mta::Postfix => "Postfix",
        crate::model::relay::Mta::Exim => "Exim",
    };
    say(
        "report",
        "mta",
        &[
            ("mta", mta),
            ("version", relay.version.as_deref().unwrap_or_default()),
            ("library", &library),
        ],
    )
}

/// Where a value came from, in words.
pub fn origin(origin: &Origin) -> String {
    match origin {
        Origin::File { path, line: Some(line) } => {
            say("origin", "file", &[("path", path), ("line", &line.to_string())])
        }
        Origin::File { path, line: None } => say("origin", "file_no_line", &[("path", path)]),
        Origin::Service { path, service } => say("origin", "service", &[("path", path), ("service", service)]),
        Origin::Map { map, key } => say("origin", "map", &[("map", map), ("key", key)]),
        Origin::Default { parameter } => say("origin", "default", &[("parameter", parameter)]),
        Origin::Command { command } => say("origin", "command", &[("command", command)]),
    }
}

/// What an outcome means for the mail.
pub fn outcome(outcome: Outcome) -> String {
    let key = match outcome {
        Outcome::Deliver(Delivery::Verified) => "verified",
        Outcome::Deliver(Delivery::Trusted) => "trusted",
        Outcome::Deliver(Delivery::Untrusted) => "untrusted",
        Outcome::Deliver(Delivery::Anonymous) => "anonymous",
        Outcome::Deliver(Delivery::Cleartext) => "cleartext",
        Outcome::Defer => "defer",
        Outcome::Bounce => "bounce",
        Outcome::NotTried => "not_tried",
    };
    say("outcome", key, &[])
}

/// What was read of the relay: MTA, route, policy, settings with origins, what was not.
pub fn configuration(relay: &RelayView) -> Vec<String> {
    let mut lines = vec![headline(relay)];
    if let Some(route) = &relay.route {
        let lookup = if route.mx_lookup {
            say("report", "mx_lookup", &[])
        } else {
            String::new()
        };
        lines.push(say(
            "report",
            "route",
            &[
                // Reports saved before the destination was kept name the next hop.
                (
                    "destination",
                    if relay.destination.is_empty() {
                        &route.nexthop
                    } else {
                        &relay.destination
                    },
                ),
                ("transport", &route.transport),
                ("nexthop", &route.nexthop),
                ("lookup", &lookup),
                ("origin", &origin(&route.origin)),
            ],
        ));
    }
    if let Some(policy) = &relay.policy {
        lines.push(say(
            "report",
            "level",
            &[
                ("level", policy.level.name()),
                ("origin", &origin(&policy.level_origin)),
            ],
        ));
        if policy.level.verifies() {
            lines.push(say("report", "matches", &[("matches", &policy.matches.join(", "))]));
        }
        let dash = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "-".into());
        lines.push(say(
            "report",
            "protocols",
            &[
                ("protocols", &dash(&policy.protocols)),
                ("ciphers", &dash(&policy.ciphers)),
                ("exclude", &dash(&policy.exclude_ciphers)),
            ],
        ));
    }
    for setting in relay.settings.iter().filter(|s| !s.value.is_empty()) {
        lines.push(say(
            "report",
            "setting",
            &[
                ("name", &setting.name),
                ("value", &setting.value),
                ("origin", &origin(&setting.origin)),
            ],
        ));
    }
    for what in &relay.unread {
        lines.push(say("report", "unread", &[("what", what)]));
    }
    if let Some(source) = &relay.log_source {
        if relay.log.is_empty() {
            lines.push(say("report", "log_none", &[("source", source)]));
        } else {
            let count = relay.log.len().to_string();
            lines.push(say("report", "log_lines", &[("source", source), ("count", &count)]));
            lines.extend(relay.log.iter().map(|l| format!("  {l}")));
        }
    }
    lines
}

/// What the relay will do, address by address, and whether the verdict is why.
pub fn prediction(prediction: &Prediction, verdict: &Verdict) -> Vec<String> {
    let mut lines = vec![
        say("report", "outcome", &[("outcome", &outcome(prediction.outcome))]),
        say("report", "log", &[("log", &prediction.log)]),
    ];
    if let Some(chance) = &prediction.chance {
        // With no limit every attempt tries every address: no chance arises.
        let limit = chance.limit.to_string();
        lines.push(say(
            "report",
            "chance",
            &[
                ("percent", &chance.percent.to_string()),
                ("delivering", &chance.delivering.to_string()),
                ("addresses", &chance.addresses.to_string()),
                ("limit", &limit),
                ("failing", &(100 - u16::from(chance.percent)).to_string()),
                ("log", &chance.failing_log),
            ],
        ));
    }
    if let Some(queued) = prediction.queued {
        lines.push(say("report", "queued", &[("outcome", &outcome(queued))]));
    }
    for a in &prediction.addresses {
        let basis = match a.basis {
            Basis::RelayClient => "relay_client",
            Basis::Probe => "probe",
        };
        lines.push(say(
            "report",
            "address",
            &[
                ("host", &a.host),
                ("address", &a.address.to_string()),
                ("outcome", &outcome(a.outcome)),
                ("log", &a.log),
                ("basis", &say("basis", basis, &[])),
            ],
        ));
        if let Some(command) = &a.command {
            lines.push(say("report", "client_command", &[("command", command)]));
        }
    }
    if verdict.family != Family::Healthy {
        let key = match (prediction.outcome.delivers(), prediction.chance.is_some()) {
            (true, true) => "delays",
            (true, false) => "not_blocking",
            (false, _) => "blocks",
        };
        lines.push(say("report", key, &[]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sentence_is_in_the_asset() {
        let mut used: Vec<(&str, &str)> = SENTENCES.to_vec();
        used.extend_from_slice(crate::relay::predict::SENTENCES);
        assert_eq!(WORDS.problems(&used), Vec::<String>::new());
    }
}
