//! What this relay does with the mail: deliver (and how the TLS session is
//! authenticated), defer or bounce, in the words its log would use.
//!
//! Postfix decides per session (smtp_proto.c): no STARTTLS or a refused STARTTLS is
//! fatal only when the level requires TLS; a failed handshake always ends the session,
//! and at `may` Postfix retries the same server in plaintext, but only for mail that
//! waited at least `minimal_backoff_time` (PLAINTEXT_FALLBACK_OK_AFTER_STARTTLS_FAILURE);
//! at `verify`/`secure` an unmatched certificate is "Server certificate not verified".
//! Each address is judged from the relay's own client (`posttls-finger`) where it ran,
//! else from this tool's probe read with the relay's settings; the destination is the
//! first address that delivers, in the order the relay tries them.

use std::net::IpAddr;

use crate::model::relay::{AddressPrediction, Basis, Chance, Delivery, Level, Outcome, Prediction, RelayView};
use crate::model::{CheckReport, Failure, MxOutcome, ProbeResult, Resolution};

static WORDS: crate::wording::Sentences =
    crate::wording::Sentences::new("assets/relay.toml", include_str!("../../assets/relay.toml"));

/// Every sentence this module asks for (a test keeps the asset in step).
pub const SENTENCES: &[(&str, &str)] = &[
    ("log", "connect"),
    ("log", "greeting_timeout"),
    ("log", "refused_to_talk"),
    ("log", "lost"),
    ("log", "not_offered"),
    ("log", "refused_tls"),
    ("log", "handshake"),
    ("log", "not_verified"),
    ("log", "established"),
    ("log", "cleartext"),
    ("log", "not_tried"),
    ("log", "no_tls_transport"),
    ("log", "nxdomain"),
    ("log", "nodata"),
    ("log", "null_mx"),
    ("log", "dns_error"),
    ("log", "no_address"),
    ("log", "tls_config_problem"),
];

fn say(key: &str, values: &[(&str, &str)]) -> String {
    WORDS.say("log", key, values)
}

/// What one SMTP session with an address came to, in the terms Postfix decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// No SMTP conversation: the connection or the greeting failed (`permanent` for a 5xx).
    Failed {
        reason: String,
        permanent: bool,
    },
    NoStartTls,
    StartTlsRefused {
        reply: String,
    },
    HandshakeFailed {
        detail: String,
    },
    /// TLS is up; `lost` says where the session died afterwards, if it did.
    Established {
        kind: Delivery,
        lost: Option<String>,
    },
}

/// The session the relay's own client had, when it ran and printed anything.
pub fn client_session(run: &crate::model::relay::ClientRun) -> Option<Session> {
    if run.error.is_some() || run.lines.is_empty() {
        return None;
    }
    let lines: Vec<String> = run.lines.iter().map(|l| l.as_str().to_string()).collect();
    Some(crate::relay::postfix::finger::parse(&lines))
}

/// The names a certificate must carry, from the match strategies of the policy.
pub struct Matching<'a> {
    pub level: Level,
    /// Whether the relay has trust anchors at all (`smtp_tls_CAfile`/`CApath`): without
    /// them Postfix verifies no chain, and every session is "Untrusted".
    pub anchors: bool,
    pub strategies: &'a [String],
    /// The next-hop domain (brackets and port removed).
    pub nexthop: &'a str,
}

impl Matching<'_> {
    /// Whether a certificate with `names` satisfies the strategies for MX host `host`.
    pub fn accepts(&self, host: &str, names: &[String]) -> bool {
        let host = host.trim_end_matches('.');
        self.strategies.iter().any(|strategy| match strategy.as_str() {
            "hostname" => names.iter().any(|n| name_covers(n, host)),
            "nexthop" => names.iter().any(|n| name_covers(n, self.nexthop)),
            "dot-nexthop" => names
                .iter()
                .any(|n| is_subdomain(n.trim_start_matches("*."), self.nexthop)),
            literal => match literal.strip_prefix('.') {
                Some(parent) => names.iter().any(|n| is_subdomain(n.trim_start_matches("*."), parent)),
                None => names.iter().any(|n| name_covers(n, literal)),
            },
        })
    }
}

/// A certificate name (possibly `*.` one label) covers `host`.
fn name_covers(name: &str, host: &str) -> bool {
    let (name, host) = (name.trim_end_matches('.'), host.trim_end_matches('.'));
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    match (name.strip_prefix("*."), host.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && base.eq_ignore_ascii_case(rest),
        _ => false,
    }
}

fn is_subdomain(name: &str, parent: &str) -> bool {
    let (name, parent) = (
        name.to_ascii_lowercase(),
        parent.trim_end_matches('.').to_ascii_lowercase(),
    );
    name.len() > parent.len() + 1 && name.ends_with(&format!(".{parent}"))
}

/// The domain part of a next hop: `[mx.example.com]:587` → `mx.example.com`.
pub fn nexthop_domain(nexthop: &str) -> String {
    let inner = nexthop
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map_or_else(
            || nexthop.rsplit_once(':').map_or(nexthop, |(host, _)| host),
            |(host, _)| host,
        );
    inner.trim_end_matches('.').to_ascii_lowercase()
}

/// Postfix's "host[address]".
pub fn namaddr(host: &str, address: IpAddr) -> String {
    format!("{}[{address}]", host.trim_end_matches('.'))
}

/// The outcome of one session at `level`: for new mail, and for mail queued long enough
/// to be retried in plaintext when that differs.
pub fn judge(level: Level, session: &Session, namaddr: &str, port: u16) -> (Outcome, Option<Outcome>, String) {
    let required = level.requires_tls();
    let plain = Outcome::Deliver(Delivery::Cleartext);
    match session {
        Session::Failed { reason, permanent } => (
            if *permanent { Outcome::Bounce } else { Outcome::Defer },
            None,
            reason.clone(),
        ),
        _ if level == Level::None => (plain, None, say("cleartext", &[("host", namaddr)])),
        Session::NoStartTls if required => (Outcome::Defer, None, say("not_offered", &[("host", namaddr)])),
        Session::StartTlsRefused { reply } if required => (
            Outcome::Defer,
            None,
            say("refused_tls", &[("host", namaddr), ("reply", reply)]),
        ),
        Session::NoStartTls | Session::StartTlsRefused { .. } => (plain, None, say("cleartext", &[("host", namaddr)])),
        Session::HandshakeFailed { .. } => (
            Outcome::Defer,
            (level == Level::May).then_some(plain),
            say("handshake", &[]),
        ),
        Session::Established { kind, .. } if level.verifies() && *kind != Delivery::Verified => {
            (Outcome::Defer, None, say("not_verified", &[("host", namaddr)]))
        }
        Session::Established { lost: Some(lost), .. } => (
            Outcome::Defer,
            (level == Level::May).then_some(plain),
            say("lost", &[("host", namaddr), ("while", lost)]),
        ),
        Session::Established { kind, lost: None } => (
            Outcome::Deliver(*kind),
            None,
            say(
                "established",
                &[("kind", kind.word()), ("host", namaddr), ("port", &port.to_string())],
            ),
        ),
    }
}

/// The session this tool's probe had, read as Postfix would have had it.
pub fn session_from_probe(probe: &ProbeResult, matching: &Matching, host: &str, min_wait_ms: u64) -> Session {
    let name = namaddr(host, probe.address.ip());
    let port = probe.address.port().to_string();
    let failed = |reason: String| Session::Failed {
        reason,
        permanent: false,
    };
    let Some(failure) = &probe.failure else {
        return established(probe, matching, host, None);
    };
    match failure {
        Failure::ConnectRefused { message, .. }
        | Failure::ConnectUnreachable { message, .. }
        | Failure::ConnectError { message, .. } => {
            failed(say("connect", &[("host", &name), ("port", &port), ("error", message)]))
        }
        Failure::ConnectTimeout { .. } => failed(say(
            "connect",
            &[("host", &name), ("port", &port), ("error", "Connection timed out")],
        )),
        Failure::GreetingTimeout { after_ms, .. } => {
            let waited = (*after_ms).max(min_wait_ms).div_ceil(1000).to_string();
            failed(say("greeting_timeout", &[("host", &name), ("seconds", &waited)]))
        }
        Failure::GreetingRejected { reply } => Session::Failed {
            reason: say("refused_to_talk", &[("host", &name), ("reply", &reply.one_line())]),
            permanent: reply.code >= 500,
        },
        // Postfix falls back to HELO, which offers no STARTTLS either.
        Failure::EhloRejected { .. } | Failure::StartTlsNotOffered { .. } | Failure::StartTlsMasked { .. } => {
            Session::NoStartTls
        }
        Failure::StartTlsRejected { reply } => Session::StartTlsRefused {
            reply: reply.one_line(),
        },
        Failure::ClosedAfterStartTls
        | Failure::HandshakeReset { .. }
        | Failure::HandshakeClosed { .. }
        | Failure::TlsAlert { .. }
        | Failure::HandshakeTimeout { .. }
        | Failure::PlaintextInsteadOfTls { .. }
        | Failure::TlsError { .. } => Session::HandshakeFailed {
            detail: failure.summary(),
        },
        Failure::TlsEhloRejected { .. } => established(probe, matching, host, Some("performing the EHLO handshake")),
        Failure::ConnectionClosed { stage }
        | Failure::ConnectionReset { stage }
        | Failure::ReplyTimeout { stage, .. }
        | Failure::MalformedReply { stage, .. }
        | Failure::LimitExceeded { stage, .. }
        | Failure::Io { stage, .. } => match stage {
            crate::model::Stage::TlsEhlo => established(probe, matching, host, Some("performing the EHLO handshake")),
            crate::model::Stage::Quit | crate::model::Stage::Done => established(probe, matching, host, None),
            _ => failed(say(
                "lost",
                &[("host", &name), ("while", &format!("at {}", stage.label()))],
            )),
        },
    }
}

fn established(probe: &ProbeResult, matching: &Matching, host: &str, lost: Option<&str>) -> Session {
    let Some(chain) = &probe.chain else {
        return if probe.tls.is_some() {
            Session::Established {
                kind: Delivery::Anonymous,
                lost: lost.map(str::to_string),
            }
        } else {
            Session::NoStartTls
        };
    };
    let names: Vec<String> = chain
        .leaf()
        .map(|leaf| leaf.sans.iter().map(|n| n.as_str().to_string()).collect())
        .unwrap_or_default();
    // Below `verify` Postfix matches no names: a trusted chain is "Trusted" at best.
    let kind = if !chain.is_trusted() || !matching.anchors {
        Delivery::Untrusted
    } else if matching.level.verifies() && matching.accepts(host, &names) {
        Delivery::Verified
    } else {
        Delivery::Trusted
    };
    Session::Established {
        kind,
        lost: lost.map(str::to_string),
    }
}

/// What this relay does with mail for the checked destination; `None` when no MTA was read.
pub fn predict(report: &CheckReport) -> Option<Prediction> {
    // Exim decides differently (tls_tempfail_tryclear retries in clear at once): only
    // Postfix's rules are modelled.
    let relay = report
        .relay
        .as_ref()
        .filter(|r| r.mta == Some(crate::model::relay::Mta::Postfix))?;
    let nexthop = relay.route.as_ref().map_or_else(
        || nexthop_domain(&report.resolution.query),
        |r| nexthop_domain(&r.nexthop),
    );
    let Some(policy) = &relay.policy else {
        return Some(destination(&report.resolution, relay, Vec::new(), 0));
    };
    let dnssec = relay
        .setting("smtp_dns_support_level")
        .is_some_and(|s| s.value.eq_ignore_ascii_case("dnssec"));
    if policy.level == Level::DaneOnly && !dnssec {
        // smtp_tls_policy.c marks the policy invalid: every delivery defers.
        return Some(Prediction {
            outcome: Outcome::Defer,
            log: say("tls_config_problem", &[]),
            queued: None,
            addresses: Vec::new(),
            chance: None,
        });
    }
    let configured = |name: &str| relay.setting(name).is_some_and(|s| !s.value.trim().is_empty());
    let appends_default = relay
        .setting("tls_append_default_CA")
        .is_some_and(|s| s.value.eq_ignore_ascii_case("yes"));
    let matching = Matching {
        level: policy.level,
        anchors: configured("smtp_tls_CAfile") || configured("smtp_tls_CApath") || appends_default,
        strategies: &policy.matches,
        nexthop: &nexthop,
    };
    let number = |name: &str| {
        relay
            .setting(name)
            .and_then(|s| crate::relay::postfix::finger::seconds(&s.value))
    };
    let helo_wait_ms = number("smtp_helo_timeout").unwrap_or(300) * 1000;
    let limit = number("smtp_mx_address_limit").unwrap_or(5) as usize;
    // smtp_skip_5xx_greeting (default yes) turns a 5xx greeting into a deferral.
    let skip_5xx = relay
        .setting("smtp_skip_5xx_greeting")
        .is_none_or(|s| !s.value.eq_ignore_ascii_case("no"));
    let protocols = relay.setting("inet_protocols").map_or("all", |s| s.value.as_str());
    let family_used = |ip: &IpAddr| match protocols {
        "ipv4" => ip.is_ipv4(),
        "ipv6" => ip.is_ipv6(),
        _ => true,
    };
    let addresses = report
        .probes
        .iter()
        .filter(|p| family_used(&p.address.ip()))
        .map(|probe| {
            let client = probe.relay_client.as_ref().filter(|run| client_session(run).is_some());
            let (session, basis) = match client.and_then(client_session) {
                Some(session) => (session, Basis::RelayClient),
                None => (
                    session_from_probe(probe, &matching, &probe.mx, helo_wait_ms),
                    Basis::Probe,
                ),
            };
            let command = client.map(|run| run.command.clone());
            let session = match session {
                Session::Failed { reason, permanent } => Session::Failed {
                    reason,
                    permanent: permanent && !skip_5xx,
                },
                other => other,
            };
            AddressPrediction {
                command,
                ..address(policy.level, probe, &probe.mx, &session, basis)
            }
        })
        .collect();
    Some(destination(&report.resolution, relay, addresses, limit))
}

/// How often one attempt reaches an address that delivers, when equal-preference
/// addresses are tried in a random order: `addresses` as (MX preference, delivers) in
/// preference order, one entry per MX name and address (Postfix lists an address once
/// per name that has it), at most `limit` tried (0: all). Postfix shuffles every address
/// of the MX hosts, then sorts by preference (smtp_addr.c), and stops after
/// `smtp_mx_address_limit` of them (smtp_connect.c). Failed connects and handshakes do
/// not count towards `smtp_mx_session_limit`, and a session that gets through delivers,
/// so that limit does not enter; `smtp_address_preference` and
/// `smtp_balance_inet_protocols`, which reorder IPv4 and IPv6 within a preference, are
/// not modelled.
pub fn delivery_chance(addresses: &[(u16, bool)], limit: usize) -> f64 {
    let mut left = if limit == 0 { usize::MAX } else { limit };
    let mut none_delivers = 1.0;
    let mut rest = addresses;
    while let Some(&(preference, _)) = rest.first() {
        if left == 0 {
            break;
        }
        let same = rest.iter().take_while(|(p, _)| *p == preference).count();
        let good = rest[..same].iter().filter(|(_, ok)| *ok).count();
        let drawn = same.min(left);
        // None of `drawn` addresses taken from `same` without replacement delivers.
        none_delivers *= (0..drawn)
            .map(|i| (same - good).saturating_sub(i) as f64 / (same - i) as f64)
            .product::<f64>();
        left -= drawn;
        rest = &rest[same..];
    }
    1.0 - none_delivers
}

/// The destination-level outcome from the per-address ones, in MX preference order;
/// `limit` is `smtp_mx_address_limit`.
pub fn destination(
    resolution: &Resolution,
    relay: &RelayView,
    addresses: Vec<AddressPrediction>,
    limit: usize,
) -> Prediction {
    let query = resolution.query.as_str();
    let dns = |key: &str, outcome: Outcome| Prediction {
        outcome,
        log: say(key, &[("domain", query)]),
        queued: None,
        addresses: Vec::new(),
        chance: None,
    };
    if let Some(route) = relay.route.as_ref().filter(|_| relay.policy.is_none()) {
        let outcome = match relay.setting("program").map(|s| s.value.as_str()) {
            Some("error") => Outcome::Bounce,
            Some("retry") => Outcome::Defer,
            _ => Outcome::NotTried,
        };
        {
            return Prediction {
                outcome,
                log: say(
                    "no_tls_transport",
                    &[("transport", &route.transport), ("nexthop", &route.nexthop)],
                ),
                queued: None,
                addresses: Vec::new(),
                chance: None,
            };
        }
    }
    match &resolution.outcome {
        MxOutcome::NxDomain => return dns("nxdomain", Outcome::Bounce),
        MxOutcome::NullMx => return dns("null_mx", Outcome::Bounce),
        MxOutcome::Error { .. } => return dns("dns_error", Outcome::Defer),
        MxOutcome::NoData => return dns("nodata", Outcome::Bounce),
        _ if addresses.is_empty() => return dns("no_address", Outcome::Defer),
        _ => {}
    }
    if let Some(prediction) = by_chance(resolution, relay, &addresses, limit) {
        return prediction;
    }
    let mut addresses = addresses;
    addresses.truncate(if limit == 0 { usize::MAX } else { limit });
    let decide = |queued: bool, addresses: &[AddressPrediction]| -> (Outcome, String, Option<usize>) {
        let outcome_of = |a: &AddressPrediction| {
            if queued {
                a.queued.unwrap_or(a.outcome)
            } else {
                a.outcome
            }
        };
        if let Some(index) = addresses.iter().position(|a| outcome_of(a).delivers()) {
            return (outcome_of(&addresses[index]), addresses[index].log.clone(), Some(index));
        }
        let last = addresses.last();
        let outcome = match last.map(outcome_of) {
            Some(Outcome::Bounce) => Outcome::Bounce,
            _ => Outcome::Defer,
        };
        (outcome, last.map(|a| a.log.clone()).unwrap_or_default(), None)
    };
    let (outcome, log, winner) = decide(false, &addresses);
    let (queued, _, _) = decide(true, &addresses);
    if let Some(index) = winner {
        for later in addresses.iter_mut().skip(index + 1) {
            later.outcome = Outcome::NotTried;
            later.queued = None;
            later.log = say("not_tried", &[]);
        }
    }
    Prediction {
        outcome,
        log,
        queued: (queued != outcome).then_some(queued),
        addresses,
        chance: None,
    }
}

/// The prediction when whether an attempt delivers depends on the order Postfix draws
/// the addresses in: some deliver, some do not, and an attempt may miss every one that
/// does. `None` when the order is fixed (`smtp_randomize_addresses = no`) or cannot
/// change the outcome.
fn by_chance(
    resolution: &Resolution,
    relay: &RelayView,
    addresses: &[AddressPrediction],
    limit: usize,
) -> Option<Prediction> {
    let randomized = relay
        .setting("smtp_randomize_addresses")
        .is_none_or(|s| !s.value.eq_ignore_ascii_case("no"));
    if !randomized {
        return None;
    }
    let preference = |a: &AddressPrediction| {
        resolution
            .hosts
            .iter()
            .find(|h| h.name.trim_end_matches('.').eq_ignore_ascii_case(&a.host))
            .and_then(|h| h.preference)
            .unwrap_or(0)
    };
    // One entry per host and address (repeated probes of one are one draw).
    let mut distinct: Vec<&AddressPrediction> = Vec::new();
    for a in addresses {
        if !distinct.iter().any(|d| d.host == a.host && d.address == a.address) {
            distinct.push(a);
        }
    }
    let draws = |queued: bool| -> Vec<(u16, bool)> {
        let mut draws: Vec<(u16, bool)> = distinct
            .iter()
            .map(|a| {
                let outcome = if queued {
                    a.queued.unwrap_or(a.outcome)
                } else {
                    a.outcome
                };
                (preference(a), outcome.delivers())
            })
            .collect();
        draws.sort_by_key(|(preference, _)| *preference);
        draws
    };
    // Counted by address for the operator: a farm lists one address under many names.
    let ips = |which: &dyn Fn(&AddressPrediction) -> bool| {
        let mut seen: Vec<IpAddr> = distinct.iter().filter(|a| which(a)).map(|a| a.address).collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    let chance = delivery_chance(&draws(false), limit);
    // Only a certain outcome follows the listed order; a near-certain one is still a draw.
    if chance <= 0.0 || chance >= 1.0 {
        return None;
    }
    let percent = (chance * 100.0).round().clamp(1.0, 99.0);
    let delivering = distinct.iter().find(|a| a.outcome.delivers())?;
    let failing = distinct.iter().find(|a| !a.outcome.delivers())?;
    // Mail queued long enough may go out in plaintext where a handshake failed.
    let queued = (delivery_chance(&draws(true), limit) >= 1.0)
        .then(|| {
            distinct
                .iter()
                .map(|a| a.queued.unwrap_or(a.outcome))
                .find(|o| o.delivers())
        })
        .flatten()
        .filter(|o| *o != delivering.outcome);
    // Each address once, under its most preferred name: the draw is over all of them.
    let mut listed: Vec<AddressPrediction> = Vec::new();
    for a in addresses {
        if !listed.iter().any(|l| l.address == a.address) {
            listed.push(a.clone());
        }
    }
    Some(Prediction {
        outcome: delivering.outcome,
        log: delivering.log.clone(),
        queued,
        addresses: listed,
        chance: Some(Chance {
            percent: percent as u8,
            delivering: ips(&|a: &AddressPrediction| a.outcome.delivers()),
            addresses: ips(&|_: &AddressPrediction| true),
            limit,
            failing_log: failing.log.clone(),
        }),
    })
}

/// One address's prediction from a session, for the report.
pub fn address(level: Level, probe: &ProbeResult, host: &str, session: &Session, basis: Basis) -> AddressPrediction {
    let name = namaddr(host, probe.address.ip());
    let (outcome, queued, log) = judge(level, session, &name, probe.address.port());
    AddressPrediction {
        host: host.trim_end_matches('.').to_string(),
        address: probe.address.ip(),
        outcome,
        log,
        queued,
        basis,
        command: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_draws_its_addresses_at_random_within_a_preference() {
        let pool = |good: usize, all: usize| -> Vec<(u16, bool)> { (0..all).map(|i| (10, i < good)).collect() };
        // 2 of 8 deliver, 5 tried: 1 - C(6,5)/C(8,5) = 1 - 6/56.
        assert!((delivery_chance(&pool(2, 8), 5) - 50.0 / 56.0).abs() < 1e-9);
        assert_eq!(delivery_chance(&pool(0, 8), 5), 0.0);
        // 4 of 6 deliver and 5 are tried: a good one is always among them.
        assert_eq!(delivery_chance(&pool(4, 6), 5), 1.0);
        // No limit: every address is tried.
        assert_eq!(delivery_chance(&pool(1, 8), 0), 1.0);
        // The preferred MX is tried first, whatever the order within it: two failing
        // primaries use up 2 of 3 tries, then 1 of the 4 backups (2 good) is drawn.
        let tiers = [
            (10, false),
            (10, false),
            (20, true),
            (20, true),
            (20, false),
            (20, false),
        ];
        assert!((delivery_chance(&tiers, 3) - 0.5).abs() < 1e-9);
        // The backups are never reached when the primaries use up the limit.
        assert_eq!(delivery_chance(&tiers, 2), 0.0);
    }

    #[test]
    fn match_strategies_follow_postfix() {
        let strategies = vec!["nexthop".to_string(), "dot-nexthop".to_string()];
        let secure = Matching {
            level: Level::Secure,
            anchors: true,
            strategies: &strategies,
            nexthop: "example.com",
        };
        assert!(secure.accepts("mx.other.net", &["mx1.example.com".into()]));
        assert!(secure.accepts("mx.other.net", &["example.com".into()]));
        assert!(!secure.accepts("mx.example.com", &["mx.other.net".into()]));
        let hostname = vec!["hostname".to_string()];
        let verify = Matching {
            level: Level::Verify,
            anchors: true,
            strategies: &hostname,
            nexthop: "example.com",
        };
        assert!(verify.accepts("mx.example.com", &["*.example.com".into()]));
        assert!(!verify.accepts("a.mx.example.com", &["*.example.com".into()]));
        assert!(!verify.accepts("mx.example.com", &["example.com".into()]));
    }

    #[test]
    fn levels_decide_what_a_session_means() {
        let host = "mx.example.com[192.0.2.1]";
        let (outcome, queued, log) = judge(Level::May, &Session::NoStartTls, host, 25);
        assert_eq!((outcome, queued), (Outcome::Deliver(Delivery::Cleartext), None));
        assert!(!log.is_empty());
        let (outcome, _, log) = judge(Level::Encrypt, &Session::NoStartTls, host, 25);
        assert_eq!(outcome, Outcome::Defer);
        assert!(log.contains("TLS is required, but was not offered by host mx.example.com[192.0.2.1]"));
        let failed = Session::HandshakeFailed { detail: "alert".into() };
        let (outcome, queued, log) = judge(Level::May, &failed, host, 25);
        assert_eq!(
            (outcome, queued),
            (Outcome::Defer, Some(Outcome::Deliver(Delivery::Cleartext)))
        );
        assert!(log.contains("Cannot start TLS: handshake failure"));
        assert_eq!(judge(Level::Encrypt, &failed, host, 25).1, None);
        let untrusted = Session::Established {
            kind: Delivery::Untrusted,
            lost: None,
        };
        assert_eq!(
            judge(Level::May, &untrusted, host, 25).0,
            Outcome::Deliver(Delivery::Untrusted)
        );
        let (outcome, _, log) = judge(Level::Secure, &untrusted, host, 25);
        assert_eq!(outcome, Outcome::Defer);
        assert!(log.contains("Server certificate not verified"));
    }
}
