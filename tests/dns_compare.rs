//! Raw DNS queries, TLSA lookups and the stale-DNS comparison against lab DNS
//! servers on 127.0.0.1 only. A lab server stands in for a recursive resolver
//! (it answers RD=1 queries from its zone) and for an authoritative server.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use mxtriage::dns::compare::{self, AnswerStatus, Difference, DifferenceKind, ViewRole};
use mxtriage::dns::raw::{self, QueryOptions, RawError, TlsaRecord, TlsaStatus};
use mxtriage::lab::dns::{DnsServer, ZoneSpec};
use tokio::net::{TcpListener, UdpSocket};

const TIMEOUT: Duration = Duration::from_secs(2);
const TLSA_DATA: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

async fn start(zone: &ZoneSpec) -> DnsServer {
    DnsServer::start(zone, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .expect("lab dns server starts on loopback")
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("valid test name")
}

fn dane_zone() -> ZoneSpec {
    let mut zone = ZoneSpec::new("lab.test");
    zone.a("mx.lab.test", Ipv4Addr::new(192, 0, 2, 1))
        .tlsa("_25._tcp.mx.lab.test", 3, 1, 1, &TLSA_DATA)
        .txt("_25._tcp.nodata.lab.test", &["not a tlsa record"])
        .a("nodata.lab.test", Ipv4Addr::new(192, 0, 2, 2))
        .cname("_25._tcp.alias.lab.test", "_25._tcp.mx.lab.test")
        .a("alias.lab.test", Ipv4Addr::new(192, 0, 2, 3));
    zone
}

#[tokio::test]
async fn ad_bit_only_from_a_zone_marked_authenticated() {
    let plain = start(&dane_zone()).await;
    let mut secure_zone = dane_zone();
    secure_zone.authenticated(true);
    let secure = start(&secure_zone).await;

    for (server, expected) in [(&plain, false), (&secure, true)] {
        let answer = raw::query(
            server.addr(),
            &name("mx.lab.test."),
            RecordType::A,
            QueryOptions::recursive(TIMEOUT),
        )
        .await
        .expect("lab answers");
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(answer.authoritative);
        assert_eq!(answer.authentic_data, expected, "authenticated zone: {expected}");
        assert_eq!(answer.answers.len(), 1);
        // A secure NXDOMAIN is authenticated too (a validated denial).
        let missing = raw::query(
            server.addr(),
            &name("nope.lab.test."),
            RecordType::A,
            QueryOptions::recursive(TIMEOUT),
        )
        .await
        .expect("lab answers");
        assert_eq!(missing.rcode, ResponseCode::NXDomain);
        assert_eq!(missing.authentic_data, expected);
        assert!(missing.authority.iter().any(|r| r.record_type() == RecordType::SOA));
    }

    // Names outside the zone are refused, and a refusal is never "secure".
    let refused = raw::query(
        secure.addr(),
        &name("example.com."),
        RecordType::MX,
        QueryOptions::recursive(TIMEOUT),
    )
    .await
    .expect("lab answers");
    assert_eq!(refused.rcode, ResponseCode::Refused);
    assert!(!refused.authentic_data);
}

#[tokio::test]
async fn ad_bit_needs_ad_or_do_in_the_query() {
    let mut zone = dane_zone();
    zone.authenticated(true);
    let server = start(&zone).await;
    // A query without EDNS and without AD: RFC 6840 §5.7 says AD stays clear.
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let mut query = Message::new();
    query
        .set_id(0x1234)
        .set_recursion_desired(true)
        .add_query(Query::query(name("mx.lab.test."), RecordType::A));
    socket.send_to(&query.to_vec().unwrap(), server.addr()).await.unwrap();
    let mut buffer = [0u8; 1500];
    let (len, _) = tokio::time::timeout(TIMEOUT, socket.recv_from(&mut buffer))
        .await
        .expect("reply in time")
        .unwrap();
    let reply = Message::from_vec(&buffer[..len]).unwrap();
    assert_eq!(reply.answers().len(), 1);
    assert!(!reply.authentic_data());
}

#[tokio::test]
async fn secure_name_marks_only_that_name() {
    let mut zone = dane_zone();
    zone.secure_name("_25._tcp.mx.lab.test");
    let server = start(&zone).await;
    let secure = raw::tlsa(server.addr(), "mx.lab.test", 25, TIMEOUT).await;
    assert!(secure.authenticated);
    let insecure = raw::query(
        server.addr(),
        &name("mx.lab.test."),
        RecordType::A,
        QueryOptions::recursive(TIMEOUT),
    )
    .await
    .unwrap();
    assert!(!insecure.authentic_data);
}

#[tokio::test]
async fn tlsa_lookup_tells_found_nxdomain_and_nodata_apart() {
    let mut zone = dane_zone();
    zone.authenticated(true);
    let server = start(&zone).await;

    let found = raw::tlsa(server.addr(), "MX.lab.test.", 25, TIMEOUT).await;
    assert_eq!(found.owner, "_25._tcp.mx.lab.test");
    assert_eq!(found.status, TlsaStatus::Found);
    assert!(found.authenticated);
    assert_eq!(found.resolver, server.addr());
    assert_eq!(
        found.records,
        [TlsaRecord {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "deadbeef".into(),
        }]
    );
    assert_eq!(found.alias_target, None);

    let missing = raw::tlsa(server.addr(), "missing.lab.test", 25, TIMEOUT).await;
    assert_eq!(missing.status, TlsaStatus::NxDomain);
    assert!(missing.records.is_empty());
    assert!(missing.authenticated, "a secure denial");

    let nodata = raw::tlsa(server.addr(), "nodata.lab.test", 25, TIMEOUT).await;
    assert_eq!(nodata.status, TlsaStatus::NoData);
    assert!(nodata.records.is_empty());

    // Another port is another owner name.
    let submission = raw::tlsa(server.addr(), "mx.lab.test", 587, TIMEOUT).await;
    assert_eq!(submission.owner, "_587._tcp.mx.lab.test");
    assert_eq!(submission.status, TlsaStatus::NxDomain);

    let aliased = raw::tlsa(server.addr(), "alias.lab.test", 25, TIMEOUT).await;
    assert_eq!(aliased.status, TlsaStatus::Found);
    assert_eq!(aliased.records.len(), 1);
    assert_eq!(aliased.alias_target.as_deref(), Some("_25._tcp.mx.lab.test"));

    let json = serde_json::to_string(&found).unwrap();
    let back: raw::TlsaLookup = serde_json::from_str(&json).unwrap();
    assert_eq!(back, found);
}

#[tokio::test]
async fn tlsa_lookup_reports_an_unreachable_resolver_as_an_error() {
    // A bound socket that never answers.
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let lookup = raw::tlsa(
        silent.local_addr().unwrap(),
        "mx.lab.test",
        25,
        Duration::from_millis(200),
    )
    .await;
    assert!(matches!(lookup.status, TlsaStatus::Error { .. }), "{:?}", lookup.status);
    assert!(!lookup.authenticated);
}

#[tokio::test]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let mut zone = ZoneSpec::new("lab.test");
    let long = "x".repeat(200);
    let strings: Vec<String> = (0..30).map(|i| format!("{i:02}{long}")).collect();
    for string in &strings {
        zone.txt("big.lab.test", &[string]);
    }
    let server = start(&zone).await;
    let big = name("big.lab.test.");

    let answer = raw::query(server.addr(), &big, RecordType::TXT, QueryOptions::recursive(TIMEOUT))
        .await
        .expect("answer via tcp");
    assert!(answer.over_tcp, "6 KB cannot fit the 1232-byte UDP payload");
    assert_eq!(answer.answers.len(), 30);

    // A small answer stays on UDP; TCP can also be asked for directly.
    let small = raw::query(
        server.addr(),
        &name("lab.test."),
        RecordType::SOA,
        QueryOptions::recursive(TIMEOUT),
    )
    .await
    .unwrap();
    assert!(!small.over_tcp);
    let direct = raw::query(
        server.addr(),
        &big,
        RecordType::TXT,
        QueryOptions::recursive(TIMEOUT).over_tcp(),
    )
    .await
    .unwrap();
    assert!(direct.over_tcp);
    assert_eq!(direct.answers.len(), 30);
}

#[tokio::test]
async fn silence_garbage_and_refusal_are_told_apart() {
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let short = QueryOptions::recursive(Duration::from_millis(200));
    let err = raw::query(silent.local_addr().unwrap(), &name("a.test."), RecordType::A, short)
        .await
        .expect_err("nobody answers");
    assert!(matches!(err, RawError::Timeout { .. }), "{err:?}");

    // A server that answers every query with garbage.
    let noisy = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let noisy_addr = noisy.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buffer = [0u8; 1500];
        while let Ok((_, peer)) = noisy.recv_from(&mut buffer).await {
            let _ = noisy.send_to(b"\xff\xffnot dns at all", peer).await;
        }
    });
    let err = raw::query(noisy_addr, &name("a.test."), RecordType::A, short)
        .await
        .expect_err("garbage is not an answer");
    assert!(matches!(err, RawError::Malformed { .. }), "{err:?}");
    task.abort();

    // A TCP server that closes at once.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let tcp_addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let err = raw::query(tcp_addr, &name("a.test."), RecordType::A, short.over_tcp())
        .await
        .expect_err("closed connection");
    assert!(matches!(err, RawError::Io { transport: "tcp", .. }), "{err:?}");
    task.abort();
}

#[tokio::test]
async fn apex_ns_can_be_replaced_and_names_inside_answer_ns_queries() {
    let mut zone = ZoneSpec::new("lab.test");
    zone.ns("lab.test", "ns-a.lab.test")
        .ns("lab.test", "ns-b.lab.test")
        .a("ns-a.lab.test", Ipv4Addr::LOCALHOST)
        .ns("shop.lab.test", "ns-a.lab.test")
        .a("www.lab.test", Ipv4Addr::LOCALHOST);
    let server = start(&zone).await;
    let options = QueryOptions::authoritative(TIMEOUT);

    let apex = raw::query(server.addr(), &name("lab.test."), RecordType::NS, options)
        .await
        .unwrap();
    let mut targets: Vec<String> = apex
        .answers
        .iter()
        .filter_map(|r| match r.data() {
            RData::NS(ns) => Some(ns.0.to_string()),
            _ => None,
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        ["ns-a.lab.test.", "ns-b.lab.test."],
        "the automatic ns.lab.test is gone"
    );
    assert!(apex.authoritative);

    let soa = raw::query(server.addr(), &name("lab.test."), RecordType::SOA, options)
        .await
        .unwrap();
    assert_eq!(soa.answers.len(), 1);

    let shop = raw::query(server.addr(), &name("shop.lab.test."), RecordType::NS, options)
        .await
        .unwrap();
    assert_eq!(shop.rcode, ResponseCode::NoError);
    assert_eq!(shop.answers.len(), 1);

    // A name without NS: NODATA with the zone's SOA, which names the zone cut.
    let www = raw::query(server.addr(), &name("www.lab.test."), RecordType::NS, options)
        .await
        .unwrap();
    assert_eq!(www.rcode, ResponseCode::NoError);
    assert!(www.answers.is_empty());
    let soa_owner: Vec<String> = www.authority.iter().map(|r| r.name().to_string()).collect();
    assert_eq!(soa_owner, ["lab.test."]);
}

const OLD_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const NEW_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// What the domain's servers publish after the move to the new provider.
fn current_zone() -> ZoneSpec {
    let mut zone = ZoneSpec::new("lab.test");
    zone.mx("stale.lab.test", 10, "mx-new.lab.test")
        .a("mx-new.lab.test", NEW_V4)
        .mx("moved.lab.test", 10, "mx.moved.lab.test")
        .a("mx.moved.lab.test", NEW_V4);
    zone
}

/// What a resolver still has cached from before the move, with the TTLs left;
/// its delegation for lab.test points at `authority_ip` (where the current zone is).
fn cached_zone(authority_ip: Ipv4Addr) -> ZoneSpec {
    let mut zone = ZoneSpec::new("lab.test");
    zone.ns("lab.test", "ns-auth.lab.test")
        .a("ns-auth.lab.test", authority_ip)
        .ttl(3512)
        .mx("stale.lab.test", 10, "mx-old.lab.test")
        .a("mx-old.lab.test", OLD_V4)
        .ttl(600)
        .mx("moved.lab.test", 10, "mx.moved.lab.test")
        .a("mx.moved.lab.test", OLD_V4);
    zone
}

#[tokio::test]
async fn stale_mx_in_the_relays_resolver_is_found() {
    let authority = start(&current_zone()).await;
    let cached = start(&cached_zone(Ipv4Addr::LOCALHOST)).await;
    let port = authority.addr().port();

    let result = compare::compare("stale.lab.test", &[cached.addr()], &[authority.addr()], port, TIMEOUT).await;

    assert_eq!(result.views.len(), 2);
    let primary = &result.views[0];
    assert_eq!(primary.role, ViewRole::Primary);
    assert_eq!(primary.resolver, Some(cached.addr()));
    assert_eq!(primary.mx[0].exchange, "mx-old.lab.test");
    assert_eq!(primary.mx[0].ttl, 3512);
    let authoritative = result.authority.as_ref().expect("authority view");
    assert_eq!(authoritative.zone, "lab.test");
    assert_eq!(authoritative.servers.len(), 1);
    assert_eq!(authoritative.servers[0].name, "ns-auth.lab.test");
    assert_eq!(authoritative.servers[0].addr, authority.addr());
    assert_eq!(authoritative.view.mx_status, AnswerStatus::Found);
    assert_eq!(authoritative.view.mx[0].exchange, "mx-new.lab.test");
    assert_eq!(authoritative.view.mx[0].addresses[0].ip, NEW_V4);

    let primary_differences: Vec<(DifferenceKind, &str, Option<u32>)> = result
        .differences
        .iter()
        .filter(|d| d.role == ViewRole::Primary)
        .map(|d| (d.kind, d.name.as_str(), d.ttl))
        .collect();
    assert_eq!(
        primary_differences,
        [
            (DifferenceKind::MxOnlyInView, "mx-old.lab.test", Some(3512)),
            (DifferenceKind::MxMissingInView, "mx-new.lab.test", Some(3512)),
        ]
    );
    assert!(
        result.differences.iter().all(|d| d.against == ViewRole::Authority),
        "{:?}",
        result.differences
    );
    // The compared resolver serves the current data: no difference for it.
    assert!(result.differences.iter().all(|d| d.role != ViewRole::Compared));
    assert!(result.primary_is_stale());

    let summary = result.summary();
    assert!(
        summary.iter().any(|line| line
            == "this relay's resolver still returns mx-old.lab.test (TTL 3512 s left); the authoritative \
                servers say mx-new.lab.test: the cache will expire in about an hour"),
        "{summary:#?}"
    );

    // Round trip through JSON, as a saved report would.
    let json = serde_json::to_string(&result).unwrap();
    let back: compare::DnsComparison = serde_json::from_str(&json).unwrap();
    assert_eq!(back, result);
}

#[tokio::test]
async fn changed_address_of_the_same_mx_host_is_found() {
    let authority = start(&current_zone()).await;
    let cached = start(&cached_zone(Ipv4Addr::LOCALHOST)).await;
    let result = compare::compare(
        "moved.lab.test",
        &[cached.addr()],
        &[],
        authority.addr().port(),
        TIMEOUT,
    )
    .await;

    let difference = |kind, view_value: Option<Ipv4Addr>, reference_value: Option<Ipv4Addr>| Difference {
        view: "this relay's resolver".into(),
        role: ViewRole::Primary,
        against: ViewRole::Authority,
        kind,
        name: "mx.moved.lab.test".into(),
        view_value: view_value.map(|ip| ip.to_string()),
        reference_value: reference_value.map(|ip| ip.to_string()),
        // The old address stays cached for its TTL, so the new one stays missing as long.
        ttl: Some(600),
    };
    assert_eq!(
        result.differences,
        [
            difference(DifferenceKind::AddressOnlyInView, Some(OLD_V4), None),
            difference(DifferenceKind::AddressMissingInView, None, Some(NEW_V4)),
        ]
    );
    assert!(result.primary_is_stale());
    assert!(
        result
            .summary()
            .iter()
            .any(|line| line.contains("still has 192.0.2.1 (TTL 600 s left)")
                && line.contains("say 192.0.2.2")
                && line.ends_with("about 10 minutes")),
        "{:#?}",
        result.summary()
    );
}

#[tokio::test]
async fn identical_answers_show_no_difference() {
    // One server is resolver and authority at once: its own NS (ns.shop…)
    // points at itself. An out-of-zone MX host is refused by the authority,
    // which is recorded, not counted as a difference.
    let mut zone = ZoneSpec::new("lab.test");
    zone.ns("shop.lab.test", "ns.lab.test")
        .mx("shop.lab.test", 10, "mx1.shop.lab.test")
        .mx("shop.lab.test", 20, "mx.provider.example")
        .a("mx1.shop.lab.test", NEW_V4);
    let server = start(&zone).await;
    let twin = start(&zone).await;

    let result = compare::compare(
        "shop.lab.test.",
        &[server.addr()],
        &[twin.addr()],
        server.addr().port(),
        TIMEOUT,
    )
    .await;
    assert!(result.differences.is_empty(), "{:#?}", result.differences);
    assert!(!result.primary_is_stale());
    let authority = result.authority.as_ref().expect("authority view");
    assert_eq!(authority.zone, "shop.lab.test", "NS found at the domain itself");
    let provider = &authority.view.mx[1];
    assert_eq!(provider.exchange, "mx.provider.example");
    assert_eq!(provider.a_status, AnswerStatus::Refused);
    let recorded: Vec<(&str, &str, &AnswerStatus)> = authority.servers[0]
        .answers
        .iter()
        .map(|a| (a.name.as_str(), a.record_type.as_str(), &a.status))
        .collect();
    assert!(
        recorded.contains(&("mx.provider.example", "A", &AnswerStatus::Refused)),
        "{recorded:?}"
    );
    assert!(
        recorded.contains(&("shop.lab.test", "MX", &AnswerStatus::Found)),
        "{recorded:?}"
    );
    assert_eq!(
        result.summary(),
        ["all resolvers asked agree with the authoritative servers on the MX hosts and their addresses"]
    );
}

#[tokio::test]
async fn without_an_authority_resolvers_are_compared_with_the_primary() {
    let current = start(&current_zone()).await;
    // The cached zone's delegation points at 127.0.0.2, where nothing listens.
    let cached = start(&cached_zone(Ipv4Addr::new(127, 0, 0, 2))).await;
    let result = compare::compare(
        "stale.lab.test",
        &[cached.addr()],
        &[current.addr()],
        current.addr().port(),
        Duration::from_millis(300),
    )
    .await;
    let authority = result.authority.as_ref().expect("NS found, servers asked");
    assert!(!authority.view.mx_status.is_definitive());
    assert!(
        !result.primary_is_stale(),
        "no authoritative answer, so nothing is known to be stale"
    );
    let kinds: Vec<(ViewRole, ViewRole, DifferenceKind)> =
        result.differences.iter().map(|d| (d.role, d.against, d.kind)).collect();
    assert_eq!(
        kinds,
        [
            (ViewRole::Compared, ViewRole::Primary, DifferenceKind::MxOnlyInView),
            (ViewRole::Compared, ViewRole::Primary, DifferenceKind::MxMissingInView),
        ]
    );
    assert!(
        result
            .summary()
            .iter()
            .any(|line| line.contains("unclear which is current")),
        "{:#?}",
        result.summary()
    );
}
