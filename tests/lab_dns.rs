//! The lab DNS server against a real hickory-resolver 0.25 (and against raw
//! DNS messages), on 127.0.0.1 only. These pin the answers the resolver module
//! depends on: MX sets, null MX, implicit MX, NXDOMAIN vs NODATA, CNAME chains,
//! TTLs, over UDP and over TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::xfer::Protocol;
use hickory_proto::{ProtoError, ProtoErrorKind};
use hickory_resolver::config::{NameServerConfig, NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::{ResolveError, Resolver, TokioResolver};
use mxtriage::lab::dns::{DnsServer, LabDnsError, ZoneSpec};
use tokio::net::UdpSocket;
use tokio::time::timeout;

const MX1_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const MX1_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
const MX2_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const IMPLICIT_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 30);
const TLSA_DATA: [u8; 32] = [0xab; 32];
const TARGET_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 40);

/// Every case the resolver module has to tell apart, in one zone.
fn lab_zone() -> ZoneSpec {
    let mut zone = ZoneSpec::new("lab.test");
    zone.mx("healthy.lab.test", 10, "mx1.healthy.lab.test")
        .mx("healthy.lab.test", 20, "mx2.healthy.lab.test")
        .a("mx1.healthy.lab.test", MX1_V4)
        .aaaa("mx1.healthy.lab.test", MX1_V6)
        .tlsa("_25._tcp.mx1.healthy.lab.test", 3, 1, 1, &TLSA_DATA)
        .mx("nullmx.lab.test", 0, ".")
        .a("implicit.lab.test", IMPLICIT_V4)
        .txt("txtonly.lab.test", &["v=spf1 -all"])
        .cname("hop2.lab.test", "alias.lab.test")
        .cname("alias.lab.test", "target.lab.test")
        .a("target.lab.test", TARGET_V4)
        .cname("mail-alias.lab.test", "healthy.lab.test")
        // A short TTL next to the default 300 s, as after a planned move.
        .ttl(60)
        .a("mx2.healthy.lab.test", MX2_V4);
    zone
}

async fn start_lab() -> DnsServer {
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    DnsServer::start(&lab_zone(), bind)
        .await
        .expect("lab dns server starts on loopback")
}

/// A resolver that asks only the lab server: no system config, no hosts
/// file, no cache (so every assertion sees a fresh answer from the server).
fn resolver(server: SocketAddr, protocol: Protocol) -> TokioResolver {
    let servers = match protocol {
        // UDP first, TCP on the same port as fallback: the production setup.
        Protocol::Udp => NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true),
        _ => NameServerConfigGroup::from(vec![NameServerConfig::new(server, protocol)]),
    };
    let config = ResolverConfig::from_parts(None, vec![], servers);
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.timeout = Duration::from_secs(2);
    opts.attempts = 1;
    Resolver::builder_with_config(config, TokioConnectionProvider::default())
        .with_options(opts)
        .build()
}

/// The same assertions run over UDP (with TCP fallback) and over TCP only.
fn resolvers(server: &DnsServer) -> [(Protocol, TokioResolver); 2] {
    [Protocol::Udp, Protocol::Tcp].map(|p| (p, resolver(server.addr(), p)))
}

/// How a failed lookup is classified with the hickory-resolver 0.25 error API.
#[derive(Debug, PartialEq, Eq)]
enum Failure {
    /// NXDOMAIN: the name does not exist, with any type.
    NxDomain,
    /// NOERROR with an empty answer: the name exists, only with other types.
    NoData,
    /// Another rcode. 0.25 reports SERVFAIL, REFUSED, FORMERR, ... as
    /// `NoRecordsFound` too, so the rcode must always be checked.
    Rcode(ResponseCode),
    /// No DNS answer at all: timeout, connection refused, ...
    NoAnswer,
}

fn classify(err: &ResolveError) -> Failure {
    match err.proto().map(ProtoError::kind) {
        Some(ProtoErrorKind::NoRecordsFound { response_code, .. }) => match *response_code {
            ResponseCode::NXDomain => Failure::NxDomain,
            ResponseCode::NoError => Failure::NoData,
            other => Failure::Rcode(other),
        },
        _ => Failure::NoAnswer,
    }
}

/// The SOA owner and negative TTL carried by a negative answer: proof that
/// the server put its SOA in the authority section (RFC 2308 §3).
fn negative_soa(err: &ResolveError) -> Option<(Name, Option<u32>)> {
    match err.proto().map(ProtoError::kind) {
        Some(ProtoErrorKind::NoRecordsFound {
            soa: Some(soa),
            negative_ttl,
            ..
        }) => Some((soa.name().clone(), *negative_ttl)),
        _ => None,
    }
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("valid test name")
}

#[tokio::test]
async fn rfc5321_mx_set_with_preferences_and_exchanges() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let mx = resolver
            .mx_lookup("healthy.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: mx lookup: {e}"));
        let mut set: Vec<(u16, Name)> = mx.iter().map(|mx| (mx.preference(), mx.exchange().clone())).collect();
        set.sort();
        assert_eq!(
            set,
            [(10, name("mx1.healthy.lab.test.")), (20, name("mx2.healthy.lab.test."))],
            "{protocol}"
        );
    }
}

#[tokio::test]
async fn a_and_aaaa_addresses_keep_their_ttls() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let v4 = resolver
            .ipv4_lookup("mx1.healthy.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: A lookup: {e}"));
        let v4_answers: Vec<(IpAddr, u32)> = v4
            .as_lookup()
            .record_iter()
            .filter_map(|r| match r.data() {
                RData::A(a) => Some((IpAddr::V4(a.0), r.ttl())),
                _ => None,
            })
            .collect();
        assert_eq!(v4_answers, [(IpAddr::V4(MX1_V4), 300)], "{protocol}");

        let v6 = resolver
            .ipv6_lookup("mx1.healthy.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: AAAA lookup: {e}"));
        let v6_answers: Vec<(IpAddr, u32)> = v6
            .as_lookup()
            .record_iter()
            .filter_map(|r| match r.data() {
                RData::AAAA(aaaa) => Some((IpAddr::V6(aaaa.0), r.ttl())),
                _ => None,
            })
            .collect();
        assert_eq!(v6_answers, [(IpAddr::V6(MX1_V6), 300)], "{protocol}");

        // Added after `.ttl(60)`: the per-record TTL reaches the resolver.
        let short = resolver
            .ipv4_lookup("mx2.healthy.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: A lookup: {e}"));
        let ttls: Vec<u32> = short.as_lookup().record_iter().map(|r| r.ttl()).collect();
        assert_eq!(ttls, [60], "{protocol}");
        assert_eq!(short.iter().map(|a| a.0).collect::<Vec<_>>(), [MX2_V4]);

        // An MX host with only an A record: AAAA is NODATA, not NXDOMAIN.
        let err = resolver
            .ipv6_lookup("mx2.healthy.lab.test.")
            .await
            .expect_err("mx2 has no AAAA");
        assert_eq!(classify(&err), Failure::NoData, "{protocol}: {err}");
    }
}

#[tokio::test]
async fn rfc7505_null_mx_is_visible_as_root_exchange() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let mx = resolver
            .mx_lookup("nullmx.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: mx lookup: {e}"));
        let set: Vec<(u16, String)> = mx
            .iter()
            .map(|mx| (mx.preference(), mx.exchange().to_string()))
            .collect();
        assert_eq!(set, [(0, ".".to_owned())], "{protocol}");
        assert!(mx.iter().all(|mx| mx.exchange().is_root()), "{protocol}");
    }
}

#[tokio::test]
async fn rfc5321_implicit_mx_domain_has_address_but_no_mx() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let err = resolver
            .mx_lookup("implicit.lab.test.")
            .await
            .expect_err("implicit.lab.test has no MX");
        assert_eq!(classify(&err), Failure::NoData, "{protocol}: {err}");

        let a = resolver
            .ipv4_lookup("implicit.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: A lookup: {e}"));
        assert_eq!(a.iter().map(|a| a.0).collect::<Vec<_>>(), [IMPLICIT_V4]);
    }
}

#[tokio::test]
async fn rfc2308_nxdomain_and_nodata_are_told_apart() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        // The name does not exist at all.
        let err = resolver
            .mx_lookup("missing.lab.test.")
            .await
            .expect_err("missing.lab.test does not exist");
        assert_eq!(classify(&err), Failure::NxDomain, "{protocol}: {err}");
        assert!(err.is_nx_domain(), "{protocol}");
        assert_eq!(negative_soa(&err), Some((name("lab.test."), Some(60))), "{protocol}");

        // The name exists with a TXT record only.
        let err = resolver
            .mx_lookup("txtonly.lab.test.")
            .await
            .expect_err("txtonly.lab.test has no MX");
        assert_eq!(classify(&err), Failure::NoData, "{protocol}: {err}");
        assert!(!err.is_nx_domain() && err.is_no_records_found());
        assert_eq!(negative_soa(&err), Some((name("lab.test."), Some(60))), "{protocol}");
        let txt = resolver
            .txt_lookup("txtonly.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: txt lookup: {e}"));
        let strings: Vec<String> = txt.iter().map(|t| t.to_string()).collect();
        assert_eq!(strings, ["v=spf1 -all"], "{protocol}");

        // An empty non-terminal exists (RFC 8020): it has names below it.
        let err = resolver
            .mx_lookup("_tcp.mx1.healthy.lab.test.")
            .await
            .expect_err("_tcp.mx1.healthy.lab.test has no records of its own");
        assert_eq!(classify(&err), Failure::NoData, "{protocol}: {err}");
    }
}

#[tokio::test]
async fn rfc7672_tlsa_record_is_served() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let tlsa = resolver
            .tlsa_lookup("_25._tcp.mx1.healthy.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: tlsa lookup: {e}"));
        let records: Vec<(u8, u8, u8, Vec<u8>)> = tlsa
            .iter()
            .map(|t| {
                (
                    u8::from(t.cert_usage()),
                    u8::from(t.selector()),
                    u8::from(t.matching()),
                    t.cert_data().to_vec(),
                )
            })
            .collect();
        assert_eq!(records, [(3, 1, 1, TLSA_DATA.to_vec())], "{protocol}");
    }
}

#[tokio::test]
async fn names_outside_the_zone_are_refused_not_nxdomain() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let err = resolver
            .mx_lookup("example.com.")
            .await
            .expect_err("the lab is not authoritative for example.com");
        assert_eq!(
            classify(&err),
            Failure::Rcode(ResponseCode::Refused),
            "{protocol}: {err}"
        );
        assert!(!err.is_nx_domain(), "{protocol}");
    }
}

#[tokio::test]
async fn cname_chain_is_visible_in_lookup_records() {
    let lab = start_lab().await;
    for (protocol, resolver) in resolvers(&lab) {
        let lookup = resolver
            .lookup("hop2.lab.test.", RecordType::A)
            .await
            .unwrap_or_else(|e| panic!("{protocol}: A lookup via cname: {e}"));
        let chain: Vec<(String, String)> = lookup
            .record_iter()
            .map(|r| (r.name().to_string(), r.data().to_string()))
            .collect();
        assert_eq!(
            chain,
            [
                ("hop2.lab.test.".to_owned(), "alias.lab.test.".to_owned()),
                ("alias.lab.test.".to_owned(), "target.lab.test.".to_owned()),
                ("target.lab.test.".to_owned(), TARGET_V4.to_string()),
            ],
            "{protocol}"
        );
        let types: Vec<RecordType> = lookup.record_iter().map(|r| r.record_type()).collect();
        assert_eq!(
            types,
            [RecordType::CNAME, RecordType::CNAME, RecordType::A],
            "{protocol}"
        );
        // The typed view skips the CNAMEs and yields only the addresses.
        let v4 = resolver
            .ipv4_lookup("hop2.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: A lookup via cname: {e}"));
        assert_eq!(v4.iter().map(|a| a.0).collect::<Vec<_>>(), [TARGET_V4]);

        // A domain that is itself an alias still yields its target's MX set.
        let mx = resolver
            .mx_lookup("mail-alias.lab.test.")
            .await
            .unwrap_or_else(|e| panic!("{protocol}: mx lookup via cname: {e}"));
        let cnames: Vec<String> = mx
            .as_lookup()
            .record_iter()
            .filter(|r| r.record_type() == RecordType::CNAME)
            .map(|r| r.name().to_string())
            .collect();
        assert_eq!(cnames, ["mail-alias.lab.test."], "{protocol}");
        let mut preferences: Vec<u16> = mx.iter().map(|mx| mx.preference()).collect();
        preferences.sort();
        assert_eq!(preferences, [10, 20], "{protocol}");
    }
}

/// Sends one query straight to the server, bypassing the resolver's own
/// CNAME following, to see which section each record lands in.
async fn raw_query(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("client socket");
    let mut query = Message::new();
    query
        .set_id(0x4d58)
        .set_recursion_desired(false)
        .add_query(Query::query(name(qname), qtype));
    let bytes = query.to_vec().expect("encodable query");
    socket.send_to(&bytes, server).await.expect("send query");
    let mut buf = [0u8; 4096];
    let (len, _) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .expect("answer within 2 s")
        .expect("receive answer");
    Message::from_vec(&buf[..len]).expect("decodable answer")
}

#[tokio::test]
async fn rfc1034_cname_chain_is_in_the_answer_section() {
    let lab = start_lab().await;
    let answer = raw_query(lab.addr(), "hop2.lab.test.", RecordType::A).await;
    assert_eq!(answer.response_code(), ResponseCode::NoError);
    assert!(answer.authoritative());
    let types: Vec<RecordType> = answer.answers().iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::CNAME, RecordType::A]);
    assert!(answer.additionals().is_empty());

    // Asking for the CNAME itself returns just that record.
    let answer = raw_query(lab.addr(), "hop2.lab.test.", RecordType::CNAME).await;
    let types: Vec<RecordType> = answer.answers().iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME]);
}

#[tokio::test]
async fn rfc2308_negative_answers_carry_the_soa_in_authority() {
    let lab = start_lab().await;
    for (qname, qtype, rcode) in [
        ("missing.lab.test.", RecordType::MX, ResponseCode::NXDomain),
        ("txtonly.lab.test.", RecordType::MX, ResponseCode::NoError),
        // SOA below the apex is NODATA, not the apex SOA in the answer.
        ("implicit.lab.test.", RecordType::SOA, ResponseCode::NoError),
    ] {
        let answer = raw_query(lab.addr(), qname, qtype).await;
        assert_eq!(answer.response_code(), rcode, "{qname}");
        assert!(answer.authoritative(), "{qname}");
        assert!(answer.answers().is_empty(), "{qname}");
        let authority: Vec<(String, RecordType)> = answer
            .name_servers()
            .iter()
            .map(|r| (r.name().to_string(), r.record_type()))
            .collect();
        assert_eq!(authority, [("lab.test.".to_owned(), RecordType::SOA)], "{qname}");
    }
}

#[tokio::test]
async fn apex_has_soa_and_ns_with_glue() {
    let lab = start_lab().await;
    let resolver = resolver(lab.addr(), Protocol::Udp);
    let ns = resolver.ns_lookup("lab.test.").await.expect("apex NS exists");
    let targets: Vec<String> = ns.iter().map(|ns| ns.0.to_string()).collect();
    assert_eq!(targets, ["ns.lab.test."]);
    let glue = resolver
        .ipv4_lookup("ns.lab.test.")
        .await
        .expect("NS name has an address");
    assert_eq!(glue.iter().map(|a| a.0).collect::<Vec<_>>(), [Ipv4Addr::LOCALHOST]);
    let soa = resolver.soa_lookup("lab.test.").await.expect("apex SOA exists");
    let minimums: Vec<u32> = soa.iter().map(|soa| soa.minimum()).collect();
    assert_eq!(minimums, [60]);
}

#[tokio::test]
async fn start_reports_a_busy_fixed_port() {
    let holder = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("holder socket");
    let busy = holder.local_addr().expect("holder address");
    let err = DnsServer::start(&lab_zone(), busy)
        .await
        .expect_err("the udp port is taken");
    assert!(
        matches!(err, LabDnsError::Bind { protocol: "udp", addr, .. } if addr == busy),
        "{err:?}"
    );
}

#[tokio::test]
async fn shutdown_releases_both_ports() {
    let lab = start_lab().await;
    let addr = lab.addr();
    lab.shutdown().await.expect("clean shutdown");
    // Rebinding the exact address works only if both sockets were closed.
    let again = DnsServer::start(&lab_zone(), addr)
        .await
        .expect("port is free again after shutdown");
    assert_eq!(again.addr(), addr);
}
