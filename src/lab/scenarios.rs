//! The lab's scenarios: each one a domain whose MX is broken in one named way.

use std::net::Ipv6Addr;

use super::pki::CertKind;
use super::smtp::{AfterReady, Greeting, Script, TlsEhlo};

/// How one lab server deviates from a healthy one.
pub type Tweak = fn(&mut Script, &LabTimings);

/// Timings the scenarios use, set by the lab's options.
#[derive(Debug, Clone, Copy)]
pub struct LabTimings {
    pub tarpit: std::time::Duration,
}

#[derive(Clone, Copy)]
pub struct ServerSpec {
    pub cert: CertKind,
    pub tweak: Tweak,
}

/// How a scenario's DNS looks.
pub enum Shape {
    /// `MX 10 mx.<domain>` with one server.
    Single(ServerSpec),
    /// `MX 10 mx1.<domain>` (first server) and `MX 20 mx2.<domain>` (second).
    TwoMx(ServerSpec, ServerSpec),
    /// `MX 10 mx1`, `MX 20 mx2`, each with two addresses, all healthy.
    Pool,
    /// `MX 10 mx.<domain>` with a working A and an AAAA where nothing listens.
    Ipv6Broken(ServerSpec),
    /// `MX 10 alias.<domain>`, where `alias` is a CNAME to `mx.<domain>` (RFC 2181 §10.3 says it should not be).
    CnameMx(ServerSpec),
    /// No MX; the domain's own A record points at the server.
    Implicit(ServerSpec),
    NullMx,
    /// Not in the zone at all.
    NxDomain,
    /// In the zone with a TXT record only.
    NoData,
}

/// The address the `ipv6-broken` scenario publishes: loopback, where the lab never listens.
pub const REFUSING_V6: Ipv6Addr = Ipv6Addr::LOCALHOST;

fn none(_: &mut Script, _: &LabTimings) {}

const fn server(cert: CertKind, tweak: Tweak) -> ServerSpec {
    ServerSpec { cert, tweak }
}

const fn valid(tweak: Tweak) -> ServerSpec {
    server(CertKind::Valid, tweak)
}

/// Every scenario by name, in the order `mxtriage lab` lists them.
pub fn all() -> Vec<(&'static str, Shape)> {
    vec![
        ("healthy", Shape::Single(valid(none))),
        ("expired", Shape::Single(server(CertKind::Expired, none))),
        ("not-yet-valid", Shape::Single(server(CertKind::NotYetValid, none))),
        ("name-mismatch", Shape::Single(server(CertKind::WrongName, none))),
        ("incomplete-chain", Shape::Single(server(CertKind::LeafOnly, none))),
        ("self-signed", Shape::Single(server(CertKind::SelfSigned, none))),
        (
            "no-starttls",
            Shape::Single(valid(|s, _| s.keywords.retain(|k| *k != "STARTTLS"))),
        ),
        (
            "starttls-masked",
            Shape::Single(valid(|s, _| {
                s.keywords = vec!["PIPELINING", "SIZE 10240000", "XXXXXXXA", "8BITMIME"];
            })),
        ),
        (
            "starttls-454",
            Shape::Single(valid(|s, _| {
                s.starttls_reply = "454 4.7.0 TLS not available due to local problem"
            })),
        ),
        (
            "close-after-220",
            Shape::Single(valid(|s, _| s.after_ready = AfterReady::Close)),
        ),
        (
            "reset-in-handshake",
            Shape::Single(valid(|s, _| s.after_ready = AfterReady::Reset)),
        ),
        (
            "alert-handshake-failure",
            Shape::Single(valid(|s, _| s.after_ready = AfterReady::Alert(40))),
        ),
        (
            "alert-protocol-version",
            Shape::Single(valid(|s, _| s.after_ready = AfterReady::Alert(70))),
        ),
        (
            "plaintext-after-220",
            Shape::Single(valid(|s, _| s.after_ready = AfterReady::Plaintext)),
        ),
        (
            "close-on-tls-ehlo",
            Shape::Single(valid(|s, _| s.tls_ehlo = TlsEhlo::Close)),
        ),
        ("no-greeting", Shape::Single(valid(|s, _| s.greeting = Greeting::Never))),
        (
            "greeting-421",
            Shape::Single(valid(|s, _| {
                s.greeting = Greeting::Reject("421 4.7.0 Too many connections from your network, try again later");
            })),
        ),
        (
            "greeting-554",
            Shape::Single(valid(|s, _| {
                s.greeting = Greeting::Reject("554 5.7.1 Service unavailable; client host blocked");
            })),
        ),
        (
            "tarpit",
            Shape::Single(valid(|s, t| s.greeting = Greeting::Slow(t.tarpit))),
        ),
        (
            "two-mx",
            Shape::TwoMx(valid(none), valid(|s, _| s.after_ready = AfterReady::Close)),
        ),
        ("ipv6-broken", Shape::Ipv6Broken(valid(none))),
        ("implicit-mx", Shape::Implicit(valid(none))),
        ("mx-cname", Shape::CnameMx(valid(none))),
        ("implicit-tls", Shape::Single(valid(|s, _| s.implicit_tls = true))),
        (
            "flaky",
            Shape::Single(valid(|s, _| {
                if let AfterReady::Tls(config) = &s.after_ready {
                    s.after_ready = AfterReady::Flaky(config.clone());
                }
            })),
        ),
        ("null-mx", Shape::NullMx),
        ("nxdomain", Shape::NxDomain),
        ("nodata", Shape::NoData),
        ("pool", Shape::Pool),
    ]
}
