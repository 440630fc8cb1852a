//! The lab's scenarios: each one a domain whose MX is broken in one named way.

use std::net::Ipv6Addr;
use std::sync::Arc;

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
    /// A pool whose addresses fail in different ways: `mx01` … `mx10` (preferences 10 …
    /// 100), every name on the same eight addresses, as a load-balanced farm is published.
    /// One address sends its leaf without the intermediate, one a self-signed certificate,
    /// the other six certificates for a name that is not any of the MX names.
    MixedPool,
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

/// The certificates of the `mixed-pool` scenario's eight addresses, in address order.
pub const MIXED_POOL: [CertKind; 8] = [
    CertKind::LeafOnly,
    CertKind::SelfSigned,
    CertKind::WrongName,
    CertKind::WrongName,
    CertKind::WrongName,
    CertKind::WrongName,
    CertKind::WrongName,
    CertKind::WrongName,
];

/// How many MX names the `mixed-pool` scenario publishes, each on every one of its addresses.
pub const MIXED_POOL_NAMES: usize = 10;

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
            "large-hello-dropped",
            Shape::Single(valid(|s, _| {
                if let AfterReady::Tls(config) = &s.after_ready {
                    s.after_ready = AfterReady::DropLargeHello(Arc::clone(config));
                }
            })),
        ),
        (
            "sni-required",
            Shape::Single(valid(|s, _| {
                if let AfterReady::Tls(config) = &s.after_ready {
                    s.after_ready = AfterReady::RequireSni(Arc::clone(config));
                }
            })),
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
        ("mixed-pool", Shape::MixedPool),
    ]
}

/// A one-MX scenario whose point is what the recipient publishes: an MTA-STS policy,
/// TLSA records, or both.
pub struct PolicyScenario {
    pub name: &'static str,
    pub server: ServerSpec,
    pub sts: Option<StsSetup>,
    pub tlsa: &'static [TlsaSetup],
    /// The lab resolver marks this scenario's answers as DNSSEC-validated (the AD bit).
    pub secure: bool,
    /// The MX is `alias.<domain>`, a CNAME to `mx.<domain>`, where the TLSA records are.
    pub cname: bool,
    /// With `secure`: the MX records are left unvalidated (only the host and TLSA are).
    pub insecure_mx: bool,
}

/// `_mta-sts` TXT records and how the policy host answers.
pub struct StsSetup {
    pub txt: &'static [&'static str],
    /// The policy host's certificate.
    pub cert: CertKind,
    pub answer: StsAnswer,
}

/// The policy host's answer; `{mx}` in a policy stands for the scenario's MX host.
#[derive(Clone, Copy)]
pub enum StsAnswer {
    Policy(&'static str),
    Status(u16),
    Redirect,
    Oversized,
}

/// A TLSA record at `_25._tcp.<mx>`, made from the certificates the lab generated.
#[derive(Clone, Copy)]
pub enum TlsaSetup {
    /// Usage, selector and matching type over the leaf the server presents.
    Leaf(u8, u8, u8),
    /// Over the certificate that issued the leaf (the lab intermediate).
    Issuer(u8, u8, u8),
    /// Over a leaf for the same name with another key: a rotation not yet published.
    OldKey(u8, u8, u8),
    /// Raw fields, for malformed records.
    Raw(u8, u8, u8, &'static [u8]),
}

const STS_TXT: &[&str] = &["v=STSv1; id=20261101T000000;"];
const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: {mx}\nmax_age: 604800\n";

const fn sts(answer: StsAnswer) -> Option<StsSetup> {
    Some(StsSetup {
        txt: STS_TXT,
        cert: CertKind::Valid,
        answer,
    })
}

/// Every policy scenario, in the order `mxtriage lab` lists them.
pub fn policy() -> Vec<PolicyScenario> {
    let healthy = valid(none);
    let scenario = |name, server, sts, tlsa, secure| PolicyScenario {
        name,
        server,
        sts,
        tlsa,
        secure,
        cname: false,
        insecure_mx: false,
    };
    vec![
        scenario("sts-enforce", healthy, sts(StsAnswer::Policy(ENFORCE)), &[], false),
        scenario(
            "sts-enforce-expired",
            server(CertKind::Expired, none),
            sts(StsAnswer::Policy(ENFORCE)),
            &[],
            false,
        ),
        scenario(
            "sts-mx-not-covered",
            healthy,
            sts(StsAnswer::Policy(
                "version: STSv1\nmode: enforce\nmx: mail.elsewhere.example\nmx: *.other.lab.test\nmax_age: 604800\n",
            )),
            &[],
            false,
        ),
        scenario(
            "sts-testing",
            server(CertKind::WrongName, none),
            sts(StsAnswer::Policy(
                "version: STSv1\nmode: testing\nmx: {mx}\nmax_age: 86400\n",
            )),
            &[],
            false,
        ),
        scenario(
            "sts-malformed",
            healthy,
            sts(StsAnswer::Policy(
                "version: STSv1\nmode: enforced\nmx {mx}\nmax_age: forever\n",
            )),
            &[],
            false,
        ),
        scenario(
            "sts-enforce-no-starttls",
            valid(|s, _| s.keywords.retain(|k| *k != "STARTTLS")),
            sts(StsAnswer::Policy(ENFORCE)),
            &[],
            false,
        ),
        scenario(
            "sts-testing-not-covered",
            healthy,
            sts(StsAnswer::Policy(
                "version: STSv1\nmode: testing\nmx: mail.elsewhere.example\nmax_age: 86400\n",
            )),
            &[],
            false,
        ),
        scenario(
            "sts-mode-none",
            healthy,
            sts(StsAnswer::Policy("version: STSv1\nmode: none\nmax_age: 86400\n")),
            &[],
            false,
        ),
        scenario("sts-404", healthy, sts(StsAnswer::Status(404)), &[], false),
        scenario("sts-redirect", healthy, sts(StsAnswer::Redirect), &[], false),
        scenario("sts-oversized", healthy, sts(StsAnswer::Oversized), &[], false),
        scenario(
            "sts-bad-policy-cert",
            healthy,
            Some(StsSetup {
                txt: STS_TXT,
                cert: CertKind::WrongName,
                answer: StsAnswer::Policy(ENFORCE),
            }),
            &[],
            false,
        ),
        scenario(
            "sts-bad-txt",
            healthy,
            Some(StsSetup {
                txt: &["v=STSv1; id=2026-11-01;"],
                cert: CertKind::Valid,
                answer: StsAnswer::Policy(ENFORCE),
            }),
            &[],
            false,
        ),
        scenario("dane-ee", healthy, None, &[TlsaSetup::Leaf(3, 1, 1)], true),
        PolicyScenario {
            cname: true,
            ..scenario("dane-cname", healthy, None, &[TlsaSetup::Leaf(3, 1, 1)], true)
        },
        scenario("dane-ta", healthy, None, &[TlsaSetup::Issuer(2, 1, 1)], true),
        scenario(
            "dane-rotation",
            healthy,
            None,
            &[TlsaSetup::OldKey(3, 1, 1), TlsaSetup::OldKey(3, 0, 1)],
            true,
        ),
        scenario(
            "dane-unusable",
            healthy,
            None,
            &[
                TlsaSetup::Leaf(1, 1, 1),
                TlsaSetup::Raw(3, 1, 1, &[0xde, 0xad, 0xbe, 0xef]),
            ],
            true,
        ),
        scenario(
            "dane-ta-wrong-name",
            server(CertKind::WrongName, none),
            None,
            &[TlsaSetup::Issuer(2, 1, 1)],
            true,
        ),
        scenario("dane-insecure", healthy, None, &[TlsaSetup::OldKey(3, 1, 1)], false),
        PolicyScenario {
            insecure_mx: true,
            ..scenario("dane-insecure-mx", healthy, None, &[TlsaSetup::OldKey(3, 1, 1)], true)
        },
        scenario(
            "dane-expired-ee",
            server(CertKind::Expired, none),
            None,
            &[TlsaSetup::Leaf(3, 1, 1)],
            true,
        ),
    ]
}
