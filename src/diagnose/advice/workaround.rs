//! The temporary workaround: a narrow, dated exception for one destination, as
//! Postfix and Exim configuration. Every name that goes into a configuration line
//! is first checked to be a host name or an IP address; anything else (a hostile
//! MX name carrying Exim list syntax such as `: ! * :`) refuses that snippet, with
//! a sentence saying why, instead of widening the exception to other hosts.

use serde::Deserialize;

use super::say;
use crate::diagnose::Answers;
use crate::diagnose::tree::VerdictSpec;
use crate::diagnose::verdict::{Family, Workaround, WorkaroundKind};
use crate::host::{ConfigHost, HostNameError};
use crate::model::CheckReport;
use crate::model::ProbeResult;
use crate::target::Target;
use crate::text::SafeText;
use crate::wording::fill;

/// How long a workaround may live before it must be removed.
const WORKAROUND_DAYS: i64 = 14;
/// Characters of a refused name quoted in the sentence that refuses it.
const QUOTE_CHARS: usize = 80;

/// One workaround's wording and configuration templates.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Template {
    reason: String,
    postfix: String,
    exim: String,
    warning: String,
}

/// What a snippet says instead of its configuration line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RefusedText {
    text: String,
}

/// What the Postfix snippet says when only some MX hosts fail: Postfix keys its TLS
/// policy by destination, never by MX host, so any line would relax every host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OneMxText {
    postfix: String,
}

/// The narrow, dated exception the verdict allows, if this relay needs one and the
/// recipient publishes nothing that forbids it.
pub(super) fn workaround(
    spec: &VerdictSpec,
    report: &CheckReport,
    answers: &Answers,
    supporting: &[usize],
) -> Option<Workaround> {
    let kind = spec.workaround?;
    let policy = answers.get("sender-policy").map_or("unknown", String::as_str);
    let needed = match kind {
        WorkaroundKind::RelaxVerification => matches!(policy, "verify" | "unknown"),
        WorkaroundKind::AllowOpportunistic => policy != "opportunistic",
    };
    // A published policy (MTA-STS enforce, validated DANE) forbids any sender exception.
    let forbidden = report.recipient.as_ref().is_some_and(|r| r.forbids_exceptions());
    // A relay that delivers as configured needs no exception.
    let delivers = crate::relay::predict::predict(report).is_some_and(|p| p.outcome.delivers());
    if !needed || delivers || spec.family == Family::RecipientPolicy || forbidden {
        return None;
    }
    let template = super::advice().workaround.get(match kind {
        WorkaroundKind::RelaxVerification => "relax_verification",
        WorkaroundKind::AllowOpportunistic => "allow_opportunistic",
    })?;
    let destination = report.target.to_string();
    let domain = match &report.target {
        Target::Domain { name } | Target::Host { name, .. } => name.clone(),
        Target::Address { ip, .. } => ip.to_string(),
    };
    // Exim host lists can be narrower than Postfix's per-domain entry: only the failing hosts.
    let failing: Vec<&ProbeResult> = supporting.iter().filter_map(|&i| report.probes.get(i)).collect();
    let affected = if failing.is_empty() {
        report.probes.iter().collect()
    } else {
        failing
    };
    let exclusions = exim_exclusions(affected.iter().map(|p| p.mx.as_str()));
    let today = date(report.started_at, 0);
    let expires = date(report.started_at, WORKAROUND_DAYS);
    let owner = say("workaround", "owner", &[("vantage", &report.vantage_host)]);
    let policy_status = match &report.recipient {
        Some(recipient) => say("workaround", "policy_found", &[("status", &recipient.status_line())]),
        None => say("workaround", "policy_not_looked_up", &[]),
    };
    let reason = fill(
        &template.reason,
        &[("destination", &destination), ("title", &spec.title)],
    );
    let (map_file, map_setup, apply) = policy_map(report);
    let values = [
        ("map_file", map_file.as_str()),
        ("map_setup", map_setup.as_str()),
        ("apply", apply.as_str()),
        ("destination", destination.as_str()),
        ("domain", domain.as_str()),
        ("reason", reason.as_str()),
        ("today", today.as_str()),
        ("expires", expires.as_str()),
        ("owner", owner.as_str()),
        ("policy_status", policy_status.as_str()),
    ];
    let postfix = match (destination_host(&report.target), host_specific(report, supporting)) {
        (Err(refusal), _) | (Ok(()), Some(Err(refusal))) => refusal.explain("Postfix", &destination),
        (Ok(()), Some(Ok((failing, working)))) => fill(
            &super::advice().workaround_one_mx.postfix,
            &[&values[..], &[("failing", &failing), ("working", &working)]].concat(),
        ),
        (Ok(()), None) => fill(&template.postfix, &values),
    };
    let exim = match exclusions {
        Ok(excluded_hosts) => fill(
            &template.exim,
            &[&values[..], &[("excluded_hosts", &excluded_hosts)]].concat(),
        ),
        Err(refusal) => refusal.explain("Exim", &destination),
    };
    Some(Workaround {
        kind,
        destination: destination.clone(),
        expires: expires.clone(),
        owner: owner.clone(),
        postfix,
        exim,
        warning: fill(&template.warning, &values),
    })
}

/// Where the Postfix line goes, in words (assets/advice.toml `[policy_map]`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyMapText {
    default_file: String,
    setup_unknown: String,
    setup_missing: String,
    setup_present: String,
    setup_not_file: String,
    apply_indexed: String,
    apply_plain: String,
}

/// The policy table the relay reads (its first `type:path` in smtp_tls_policy_maps),
/// how to set it up, and how to make the new line take effect.
fn policy_map(report: &CheckReport) -> (String, String, String) {
    let text = &super::advice().policy_map;
    let relay = report.relay.as_ref();
    let config = match relay.and_then(|r| r.setting("config_directory")) {
        // Values read from a configuration (or a saved session) go into a command line:
        // quoted as shell words.
        Some(dir) if dir.value != "/etc/postfix" => format!(" -c {}", super::reproduce::shell(&dir.value)),
        _ => String::new(),
    };
    let maps = relay
        .and_then(|r| r.setting("smtp_tls_policy_maps"))
        .map(|s| s.value.trim().to_string())
        .filter(|v| !v.is_empty());
    let Some(maps) = maps else {
        let map = format!("hash:{}", text.default_file);
        let apply = fill(&text.apply_indexed, &[("map", &map), ("config", &config)]);
        let read = relay.is_some_and(|r| r.mta == Some(crate::model::relay::Mta::Postfix));
        let setup = if read { &text.setup_missing } else { &text.setup_unknown };
        return (text.default_file.clone(), setup.clone(), apply);
    };
    let first = maps.split([',', ' ']).find(|m| !m.is_empty()).unwrap_or_default();
    let (kind, path) = first.split_once(':').unwrap_or(("", first));
    let (setup, apply) = match kind {
        "hash" | "btree" | "lmdb" | "cdb" | "dbm" | "sdbm" => (
            fill(&text.setup_present, &[("maps", &maps)]),
            fill(
                &text.apply_indexed,
                &[("map", &super::reproduce::shell(first)), ("config", &config)],
            ),
        ),
        "texthash" | "inline" => (
            fill(&text.setup_present, &[("maps", &maps)]),
            fill(&text.apply_plain, &[("config", &config)]),
        ),
        _ => (
            fill(&text.setup_not_file, &[("maps", &maps)]),
            fill(&text.apply_plain, &[("config", &config)]),
        ),
    };
    (path.to_string(), setup, apply)
}

/// A name that cannot go into a configuration line, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    role: Role,
    name: String,
    error: HostNameError,
}

/// Where a refused name was to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The destination itself (the Postfix policy key).
    Destination,
    /// An MX host (an Exim host-list item).
    Mx,
}

impl Refusal {
    /// The comment that stands in place of the MTA's configuration line.
    fn explain(&self, mta: &str, destination: &str) -> String {
        let role = match self.role {
            Role::Destination => say("workaround", "refused_destination", &[]),
            Role::Mx => say("workaround", "refused_mx", &[]),
        };
        let values = [
            ("role", role),
            ("name", quote(&self.name)),
            ("error", self.error.to_string()),
        ];
        let problem = say("workaround", "refused", &crate::wording::pairs(&values));
        fill(
            &super::advice().workaround_refused.text,
            &[("mta", mta), ("destination", destination), ("problem", &problem)],
        )
    }
}

/// The Postfix policy key names the target itself (`domain`, `[host]:port`, `[ip]`).
fn destination_host(target: &Target) -> Result<(), Refusal> {
    match target {
        Target::Domain { name } | Target::Host { name, .. } => {
            ConfigHost::parse(name).map(drop).map_err(|error| Refusal {
                role: Role::Destination,
                name: name.clone(),
                error,
            })
        }
        Target::Address { .. } => Ok(()),
    }
}

/// When only some addresses fail and others deliver securely: the failing and the
/// working ones as `host [address], …` for a comment line, or the first name that is
/// not a host name (it would be written into the configuration file).
fn host_specific(report: &CheckReport, supporting: &[usize]) -> Option<Result<(String, String), Refusal>> {
    let failing: Vec<&ProbeResult> = supporting.iter().filter_map(|&i| report.probes.get(i)).collect();
    let working: Vec<&ProbeResult> = report
        .probes
        .iter()
        .enumerate()
        .filter(|(i, p)| !supporting.contains(i) && p.is_secure())
        .map(|(_, p)| p)
        .filter(|p| !failing.iter().any(|f| f.address == p.address))
        .collect();
    if failing.is_empty() || working.is_empty() {
        return None;
    }
    let list = |probes: &[&ProbeResult]| -> Result<String, Refusal> {
        let mut items: Vec<String> = Vec::new();
        for p in probes {
            let host = ConfigHost::parse(&p.mx).map_err(|error| Refusal {
                role: Role::Mx,
                name: p.mx.clone(),
                error,
            })?;
            let host = match host {
                ConfigHost::Name(name) => name,
                ConfigHost::Address(ip) => ip.to_string(),
            };
            let item = format!("{host} [{}]", p.address.ip());
            if !items.contains(&item) {
                items.push(item);
            }
        }
        Ok(items.join(", "))
    };
    Some(list(&failing).and_then(|failing| Ok((failing, list(&working)?))))
}

/// `! host : ! host …` for an Exim host list, each MX once, or the first MX name
/// that cannot be a list item. IPv6 colons are doubled, as Exim lists require.
fn exim_exclusions<'a>(mx_names: impl Iterator<Item = &'a str>) -> Result<String, Refusal> {
    let mut items: Vec<String> = Vec::new();
    for name in mx_names {
        let item = match ConfigHost::parse(name) {
            Ok(ConfigHost::Name(host)) => format!("! {host}"),
            Ok(ConfigHost::Address(ip)) => format!("! {}", ip.to_string().replace(':', "::")),
            Err(error) => {
                return Err(Refusal {
                    role: Role::Mx,
                    name: name.to_string(),
                    error,
                });
            }
        };
        if items.last() != Some(&item) {
            items.push(item);
        }
    }
    Ok(items.join(" : "))
}

/// A refused name for the sentence: neutralised, quoted and short.
fn quote(name: &str) -> String {
    let mut short: String = name.chars().take(QUOTE_CHARS).collect();
    if name.chars().nth(QUOTE_CHARS).is_some() {
        short.push('…');
    }
    format!("\"{}\"", SafeText::clean(&short))
}

/// `unix` plus `plus_days` as a calendar date; "unknown" when either is past what a date
/// can hold (a saved report may claim any `started_at`).
fn date(unix: u64, plus_days: i64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .and_then(|t| t.checked_add(time::Duration::days(plus_days)))
        .map_or_else(|| "unknown".to_string(), |t| t.date().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_calendar_days() {
        assert_eq!(date(0, 14), "1970-01-15");
    }

    #[test]
    fn a_date_past_the_calendar_is_unknown_not_a_panic() {
        // 9999-12-31T23:59:59Z, the last second `time` can hold, from a saved report.
        assert_eq!(date(253_402_300_799, 0), "9999-12-31");
        assert_eq!(date(253_402_300_799, 14), "unknown");
        assert_eq!(date(u64::MAX, 14), "unknown");
    }

    #[test]
    fn exim_exclusions_list_each_host_once() {
        let names = ["mx1.example.com", "mx1.example.com", "mx2.example.com.", "192.0.2.1"];
        assert_eq!(
            exim_exclusions(names.into_iter()),
            Ok("! mx1.example.com : ! mx2.example.com. : ! 192.0.2.1".to_string())
        );
        assert_eq!(
            exim_exclusions(["2001:db8::1"].into_iter()),
            Ok("! 2001::db8::::1".to_string())
        );
    }

    #[test]
    fn exim_list_syntax_in_an_mx_name_refuses_the_line() {
        let refusal = exim_exclusions(["mx1.example.com", "x.example.com : ! * :"].into_iter()).unwrap_err();
        assert_eq!(refusal.name, "x.example.com : ! * :");
        let text = refusal.explain("Exim", "example.com");
        assert!(
            !text.contains("hosts_require_tls") && !text.contains("tls_verify_hosts"),
            "{text}"
        );
        assert!(
            text.lines().all(|line| line.is_empty() || line.starts_with('#')),
            "only comments: {text}"
        );
        assert!(
            text.contains("no Exim line for example.com: the MX name \"x.example.com : ! * :\" is not a host name"),
            "{text}"
        );
    }

    #[test]
    fn a_refused_name_cannot_break_out_of_its_comment() {
        let refusal = exim_exclusions(["x\n*\r\nhosts_require_tls = *"].into_iter()).unwrap_err();
        let text = refusal.explain("Exim", "example.com");
        assert!(
            text.lines().all(|line| line.is_empty() || line.starts_with('#')),
            "{text}"
        );
    }

    #[test]
    fn values_read_from_a_configuration_are_quoted_in_the_commands() {
        use crate::model::relay::{Mta, Origin, RelayView, Setting};
        let setting = |name: &str, value: &str| Setting {
            name: name.into(),
            value: value.into(),
            origin: Origin::Default { parameter: name.into() },
        };
        let mut report = CheckReport::new(
            Target::Domain {
                name: "example.com".into(),
            },
            "relay".into(),
            0,
            crate::model::Resolution {
                query: "example.com".into(),
                outcome: crate::model::MxOutcome::NoData,
                hosts: Vec::new(),
                elapsed_ms: 0,
                truncated: false,
            },
            Vec::new(),
        );
        report.relay = Some(RelayView {
            mta: Some(Mta::Postfix),
            settings: vec![
                setting("config_directory", "/etc/postfix-out; rm -rf /"),
                setting("smtp_tls_policy_maps", "hash:/etc/postfix/tls_policy$(id)"),
            ],
            ..RelayView::default()
        });
        let (_, _, apply) = policy_map(&report);
        assert_eq!(
            apply,
            "postmap 'hash:/etc/postfix/tls_policy$(id)' && postfix -c '/etc/postfix-out; rm -rf /' reload"
        );
    }

    #[test]
    fn a_hostile_destination_refuses_the_postfix_line() {
        let target = Target::Domain {
            name: "example.com    none\n*".to_string(),
        };
        assert!(destination_host(&target).is_err());
        let target = Target::Domain {
            name: "example.com".to_string(),
        };
        assert_eq!(destination_host(&target), Ok(()));
    }
}
