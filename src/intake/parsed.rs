//! What `mxtriage parse` prints: the intake's reading of a bounce or log excerpt, for
//! scripts (JSON) and for a quick look (text), from the same extraction the workbench
//! shows while pasting.

use serde::Serialize;

use super::{Extracted, NotFound, destinations, extract};
use crate::wording::Sentences;

static WORDING: Sentences = Sentences::new("assets/intake.toml", include_str!("../../assets/intake.toml"));

/// One reading of a text: what it names to probe, and every field found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// What the workbench would triage (`check` accepts it as is); `None`: nothing found.
    pub target: Option<String>,
    /// Every destination the text names, in order; more than one when it names several
    /// recipient domains (the workbench then asks which).
    pub destinations: Vec<String>,
    /// The fields found; `None` when no destination was.
    pub extracted: Option<Extracted>,
    /// Why nothing was found: the forms looked for.
    pub not_found: Option<String>,
}

impl Parsed {
    pub fn of(text: &str) -> Self {
        let found: Result<Extracted, NotFound> = extract(text);
        let listed: Vec<String> = destinations(text).iter().map(ToString::to_string).collect();
        match found {
            Ok(extracted) => Parsed {
                target: listed.first().cloned(),
                destinations: listed,
                extracted: Some(extracted),
                not_found: None,
            },
            Err(e) => Parsed {
                target: None,
                destinations: Vec::new(),
                extracted: None,
                not_found: Some(e.to_string()),
            },
        }
    }

    /// A destination was found (exit status 0; 3 otherwise).
    pub fn found(&self) -> bool {
        self.target.is_some()
    }

    pub fn to_json(&self) -> String {
        // Plain strings, numbers and options: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One `label  value` line per field found, the target first; or the reason
    /// nothing was found (for stderr).
    pub fn to_text(&self) -> String {
        let Some(x) = &self.extracted else {
            let why = self.not_found.clone().unwrap_or_default();
            return format!("{}\n", WORDING.say("parse", "not_found", &[("why", &why)]));
        };
        let several = (self.destinations.len() > 1).then(|| self.destinations.join(", "));
        let rows: [(&str, Option<String>); 12] = [
            ("target", self.target.clone()),
            ("destinations", several),
            ("recipient", x.recipient.clone()),
            ("domain", x.domain.clone()),
            ("mx_host", x.mx_host.clone()),
            ("address", x.address.map(|a| a.to_string())),
            ("port", x.port.map(|p| p.to_string())),
            ("mta", x.mta.map(|m| m.to_string())),
            ("smtp_code", x.smtp_code.map(|c| c.to_string())),
            ("enhanced_status", x.enhanced_status.clone()),
            ("queue_age", x.queue_age.clone()),
            ("phrase", x.phrase.clone()),
        ];
        let labelled: Vec<(String, String)> = rows
            .into_iter()
            .filter_map(|(key, value)| Some((WORDING.say("parse", key, &[]), value?)))
            .collect();
        let width = labelled.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
        labelled
            .into_iter()
            .map(|(label, value)| format!("{label:<width$}  {value}\n"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USED: &[(&str, &str)] = &[
        ("parse", "target"),
        ("parse", "destinations"),
        ("parse", "recipient"),
        ("parse", "domain"),
        ("parse", "mx_host"),
        ("parse", "address"),
        ("parse", "port"),
        ("parse", "mta"),
        ("parse", "smtp_code"),
        ("parse", "enhanced_status"),
        ("parse", "queue_age"),
        ("parse", "phrase"),
        ("parse", "not_found"),
    ];

    #[test]
    fn every_label_used_is_in_the_asset_and_no_other() {
        assert_eq!(WORDING.problems(USED), Vec::<String>::new());
    }

    #[test]
    fn a_postfix_line_reads_as_labelled_fields_and_json() {
        let line = "postfix/smtp[1]: A: to=<user@example.com>, relay=mx.example.com[192.0.2.1]:25, delay=3601, delays=1, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)\r";
        let parsed = Parsed::of(line);
        assert!(parsed.found());
        let text = parsed.to_text();
        assert!(text.starts_with("target     example.com\n"), "{text}");
        assert!(text.contains("MX host    mx.example.com\n"), "{text}");
        assert!(text.contains("queued     3601 s\n"), "{text}");
        assert!(!text.contains("destinations"), "one destination: no list\n{text}");
        let json: serde_json::Value = serde_json::from_str(&parsed.to_json()).unwrap();
        assert_eq!(json["target"], "example.com");
        assert_eq!(json["extracted"]["mx_host"], "mx.example.com");
        assert_eq!(json["extracted"]["mta"], "postfix");
        assert!(json["not_found"].is_null());
    }

    #[test]
    fn several_destinations_are_listed_and_nothing_found_says_why() {
        let two = "to=<a@one.example>, relay=mx.one.example[192.0.2.1]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (x)\n\
                   to=<b@two.example>, relay=mx.two.example[192.0.2.2]:25, delay=1, delays=1, dsn=4.7.5, status=deferred (y)\n";
        let parsed = Parsed::of(two);
        assert_eq!(parsed.destinations, ["one.example", "two.example"]);
        assert!(parsed.to_text().contains("destinations  one.example, two.example\n"));
        let none = Parsed::of("hello");
        assert!(!none.found());
        assert!(
            none.to_text()
                .starts_with("mxtriage parse: could not find a destination")
        );
        let json: serde_json::Value = serde_json::from_str(&none.to_json()).unwrap();
        assert!(json["target"].is_null() && json["extracted"].is_null());
    }
}
