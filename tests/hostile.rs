//! Hostile and broken peers: the probe stays bounded, keeps the evidence and never
//! lets escape sequences through.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::model::{Failure, Finding, ProbeResult, Stage};
use mxtriage::probe::{self, ProbeConfig, ProbeTarget, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

fn config() -> ProbeConfig {
    ProbeConfig::new(
        "hostile-test.mxtriage.invalid".into(),
        Timeouts {
            connect: Duration::from_millis(500),
            command: Duration::from_secs(2),
            tls: Duration::from_secs(2),
        },
        Arc::new(TrustStores::from_parts(vec![], vec![])),
    )
}

/// Serves one connection with `script`, then probes it.
async fn probe_against<F, Fut>(script: F) -> ProbeResult
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((stream, _)) = listener.accept().await {
            script(stream).await;
        }
    });
    probe::probe(
        &config(),
        &ProbeTarget {
            mx: "mx.hostile.test".into(),
            address,
        },
    )
    .await
}

async fn read_some(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    let _ = stream.read(&mut buf).await;
}

#[tokio::test]
async fn endless_greeting_line_is_cut_off() {
    let p = probe_against(|mut s| async move {
        let chunk = vec![b'A'; 4096];
        for _ in 0..64 {
            if s.write_all(&chunk).await.is_err() {
                break;
            }
        }
    })
    .await;
    assert_eq!(p.stage, Stage::Greeting);
    assert!(
        matches!(
            p.failure,
            Some(Failure::LimitExceeded {
                stage: Stage::Greeting,
                ..
            })
        ),
        "{:?}",
        p.failure
    );
}

#[tokio::test]
async fn endless_multiline_reply_is_bounded() {
    let p = probe_against(|mut s| async move {
        let _ = s.write_all(b"220 hostile ESMTP\r\n").await;
        read_some(&mut s).await;
        for _ in 0..5000 {
            if s.write_all(b"250-PADDING\r\n").await.is_err() {
                break;
            }
        }
    })
    .await;
    assert_eq!(p.stage, Stage::Ehlo);
    assert!(
        matches!(&p.failure, Some(Failure::LimitExceeded { stage: Stage::Ehlo, limit }) if limit.contains("more than 200 lines")),
        "{:?}",
        p.failure
    );
    assert!(p.transcript.len() <= 1000);
}

#[tokio::test]
async fn escape_sequences_from_the_peer_are_neutralised() {
    let p = probe_against(|mut s| async move {
        let _ = s.write_all(b"554 \x1b]0;pwned\x07\x1b[2J blocked\r\n").await;
    })
    .await;
    let Some(Failure::GreetingRejected { reply }) = &p.failure else {
        panic!("{:?}", p.failure);
    };
    assert_eq!(reply.code, 554);
    let text = reply.lines[0].as_str();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(text.contains("\\x1b]0;pwned\\x07"));
    let json = serde_json::to_string(&p).unwrap();
    assert!(!json.contains("\\u001b"), "no raw ESC in JSON either");
}

#[tokio::test]
async fn garbage_instead_of_a_reply_is_a_malformed_reply() {
    let p = probe_against(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n").await;
    })
    .await;
    assert!(
        matches!(&p.failure, Some(Failure::MalformedReply { stage: Stage::Greeting, detail }) if detail.contains("SSH-2.0"))
    );
}

#[tokio::test]
async fn bytes_after_the_starttls_220_are_flagged_and_not_fed_to_tls() {
    let p = probe_against(|mut s| async move {
        let _ = s.write_all(b"220 hostile ESMTP\r\n").await;
        read_some(&mut s).await;
        let _ = s.write_all(b"250-hostile\r\n250 STARTTLS\r\n").await;
        read_some(&mut s).await;
        let _ = s.write_all(b"220 go ahead\r\n250 injected\r\n").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    })
    .await;
    assert!(
        p.findings.contains(&Finding::BytesAfterStartTlsReply { bytes: 14 }),
        "{:?}",
        p.findings
    );
    assert_eq!(p.stage, Stage::TlsHandshake);
    // Injection-prone servers or paths are part of the verdict, not only of the detail.
    assert!(
        verdict_of(&p)
            .findings
            .iter()
            .any(|n| n.finding == Finding::BytesAfterStartTlsReply { bytes: 14 })
    );
}

#[tokio::test]
async fn silent_tls_peer_is_a_handshake_timeout() {
    let p = probe_against(|mut s| async move {
        let _ = s.write_all(b"220 hostile ESMTP\r\n").await;
        read_some(&mut s).await;
        let _ = s.write_all(b"250-hostile\r\n250 STARTTLS\r\n").await;
        read_some(&mut s).await;
        let _ = s.write_all(b"220 go ahead\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
    .await;
    assert!(
        matches!(p.failure, Some(Failure::HandshakeTimeout { bytes_received: 0, .. })),
        "{:?}",
        p.failure
    );
}

#[tokio::test]
async fn full_accept_queue_is_a_connect_timeout() {
    // A listener that never accepts, with its queue filled, drops further SYNs:
    // what a filtering firewall looks like from the client.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let mut result = None;
    for _ in 0..8 {
        let p = probe::probe(
            &config(),
            &ProbeTarget {
                mx: "mx.filtered.test".into(),
                address,
            },
        )
        .await;
        if matches!(p.failure, Some(Failure::ConnectTimeout { .. })) {
            result = Some(p);
            break;
        }
    }
    let p = result.expect("a connect eventually times out");
    assert_eq!(p.stage, Stage::Connect);
    assert!(matches!(p.failure, Some(Failure::ConnectTimeout { after_ms: 500 })));
}

#[tokio::test]
async fn refused_connection_keeps_the_errno() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let p = probe::probe(
        &config(),
        &ProbeTarget {
            mx: "mx.closed.test".into(),
            address,
        },
    )
    .await;
    assert!(
        matches!(p.failure, Some(Failure::ConnectRefused { errno: Some(111), .. })),
        "{:?}",
        p.failure
    );
}

/// A verdict for one probe, as `check` would give it.
fn verdict_of(p: &ProbeResult) -> mxtriage::diagnose::Verdict {
    let report = mxtriage::model::CheckReport::new(
        mxtriage::target::Target::parse(&p.address.to_string()).unwrap(),
        "test-host".into(),
        0,
        mxtriage::model::Resolution {
            query: p.address.ip().to_string(),
            outcome: mxtriage::model::MxOutcome::Direct,
            hosts: vec![],
            elapsed_ms: 0,
            truncated: false,
        },
        vec![p.clone()],
    );
    mxtriage::report::Session::new(report, Default::default())
        .unwrap()
        .verdict
}

#[tokio::test]
async fn replies_sent_before_our_ehlo_are_not_matched_to_later_commands() {
    let p = probe_against(|mut s| async move {
        // Greeting and an EHLO reply in one write, before any command.
        let _ = s
            .write_all(b"220 hostile ESMTP\r\n250-hostile\r\n250 STARTTLS\r\n")
            .await;
        read_some(&mut s).await;
        let _ = s.write_all(b"250-hostile\r\n250 STARTTLS\r\n").await;
        read_some(&mut s).await;
        let _ = s.write_all(b"220 go ahead\r\n").await;
    })
    .await;
    assert!(
        p.findings.contains(&Finding::UnsolicitedData {
            before: Stage::Ehlo,
            bytes: 27
        }),
        "{:?}",
        p.findings
    );
    // The STARTTLS reply is the 220 sent for it, not the EHLO reply queued behind the early lines.
    assert_eq!(p.failure, Some(Failure::ClosedAfterStartTls), "{:?}", p.transcript);
}

#[tokio::test]
async fn a_queued_454_is_never_read_as_the_answer_to_starttls() {
    let p = probe_against(|mut s| async move {
        let _ = s
            .write_all(b"220 hostile ESMTP\r\n250-hostile\r\n250 STARTTLS\r\n454 4.7.0 TLS not available\r\n")
            .await;
        // Then silence: no reply to anything we actually send.
        tokio::time::sleep(Duration::from_secs(4)).await;
    })
    .await;
    assert!(
        matches!(p.failure, Some(Failure::ReplyTimeout { stage: Stage::Ehlo, .. })),
        "{:?}",
        p.failure
    );
    assert!(p.findings.iter().any(|f| matches!(f, Finding::UnsolicitedData { .. })));
    let verdict = verdict_of(&p);
    assert!(
        !verdict.title.contains("454") && !verdict.title.to_lowercase().contains("refuse"),
        "{}",
        verdict.title
    );
    assert!(
        verdict.findings.iter().any(|n| matches!(
            n.finding,
            Finding::UnsolicitedData {
                before: Stage::Ehlo,
                ..
            }
        )),
        "the pipelining violation belongs in the verdict: {:?}",
        verdict.findings
    );
}

/// A TLS 1.0 ServerHello (TLS_RSA_WITH_AES_128_CBC_SHA, no extensions).
fn tls10_server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x01];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    let mut message = vec![0x02, 0x00, 0x00, body.len() as u8];
    message.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, 0x00, message.len() as u8];
    record.extend_from_slice(&message);
    record
}

/// An SMTP server that takes every connection to STARTTLS and answers each ClientHello
/// with `flight`, whatever was offered.
async fn serve_flight(flight: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let flight = flight.clone();
            tokio::spawn(async move {
                let _ = s.write_all(b"220 hostile ESMTP\r\n").await;
                read_some(&mut s).await;
                let _ = s.write_all(b"250-hostile\r\n250 STARTTLS\r\n").await;
                read_some(&mut s).await;
                let _ = s.write_all(b"220 go ahead\r\n").await;
                read_some(&mut s).await;
                let _ = s.write_all(&flight).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    address
}

#[tokio::test]
async fn scan_never_calls_a_bare_server_hello_delivered() {
    for (name, tail) in [
        (
            "random bytes",
            vec![0x9c, 0x41, 0x07, 0xee, 0x13, 0x00, 0x01, 0x02, 0x77],
        ),
        ("a 0xFFFF record", vec![0x16, 0x03, 0x01, 0xff, 0xff, 0x00]),
    ] {
        let mut flight = tls10_server_hello();
        flight.extend_from_slice(&tail);
        let address = serve_flight(flight).await;
        let options = mxtriage::engine::CheckOptions {
            target: mxtriage::target::Target::Address {
                ip: address.ip(),
                port: Some(address.port()),
            },
            port: address.port(),
            family: mxtriage::dns::Family::Both,
            nameservers: vec![],
            dns_timeout: Duration::from_secs(1),
            probe: config(),
            attempts: 1,
            scan: Some(mxtriage::probe::scan::ScanSettings {
                delay: Duration::from_millis(1),
                max_connections: 40,
                ..Default::default()
            }),
            sender_profile: None,
            second_opinion: Some(None),
            follow_up: false,
            policy: Default::default(),
            deadline: mxtriage::engine::DEFAULT_DEADLINE,
            relay: Default::default(),
        };
        let report = mxtriage::engine::run(&options, &()).await.unwrap();
        let scan = report.probes[0].scan.as_ref().expect("scanned");
        assert!(
            scan.versions.iter().all(|v| !v.accepted),
            "{name}: nothing was accepted, the handshake never went on: {:?}",
            scan.versions
        );
        let session = mxtriage::report::Session::new(report, Default::default()).unwrap();
        assert_ne!(session.exit_code(), 0, "{name}: {}", session.verdict.title);
        assert_ne!(session.verdict.id, "weak-but-delivers", "{name}");
    }
}

#[tokio::test]
async fn a_chain_longer_than_kept_is_said_to_be_cut_not_incomplete() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    // root → 18 intermediates → leaf, all sent: 20 certificates, more than the 16 kept.
    let ca_params = || {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root = ca_params().self_signed(&root_key).unwrap();
    let mut sent = vec![root.der().clone()];
    let mut issuer = (root, root_key);
    for i in 0..18 {
        let key = KeyPair::generate().unwrap();
        let mut params = ca_params();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("intermediate {i}"));
        let cert = params.signed_by(&key, &issuer.0, &issuer.1).unwrap();
        sent.insert(0, cert.der().clone());
        issuer = (cert, key);
    }
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["mx.hostile.test".into()])
        .unwrap()
        .signed_by(&leaf_key, &issuer.0, &issuer.1)
        .unwrap();
    sent.insert(0, leaf.der().clone());
    assert_eq!(sent.len(), 20);
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(sent, key)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let script = mxtriage::lab::smtp::Script::healthy("mx.hostile.test", Arc::new(server));
    tokio::spawn(mxtriage::lab::smtp::serve(
        listener,
        Arc::new(script),
        Default::default(),
    ));
    let p = probe::probe(
        &config(),
        &ProbeTarget {
            mx: "mx.hostile.test".into(),
            address,
        },
    )
    .await;
    let chain = p.chain.as_ref().expect("TLS was established");
    assert_eq!(chain.certificates.len(), 16);
    assert_eq!(chain.sent, Some(20));
    assert_eq!(
        chain.completeness,
        mxtriage::cert::Completeness::Truncated { sent: 20, kept: 16 },
        "the issuer of the 16th was sent, only not kept"
    );
    let verdict = verdict_of(&p);
    assert!(
        !verdict.title.to_lowercase().contains("intermediate") && !verdict.title.to_lowercase().contains("incomplete"),
        "{}",
        verdict.title
    );
}

#[tokio::test]
async fn a_whole_check_ends_at_its_deadline_not_at_the_sum_of_its_timeouts() {
    // A greeting that drips one byte a second: each step's own limit would allow 60 s.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((mut s, _)) = listener.accept().await {
            for byte in b"220 slow ESMTP\r\n" {
                if s.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let mut settings = mxtriage::engine::Settings {
        port: address.port(),
        deadline: Duration::from_millis(1500),
        ..Default::default()
    };
    settings.timeouts.command = Duration::from_secs(60);
    let options = settings.options(
        mxtriage::target::Target::Address {
            ip: address.ip(),
            port: None,
        },
        Arc::new(TrustStores::from_parts(vec![], vec![])),
    );
    let started = std::time::Instant::now();
    let report = mxtriage::engine::run(&options, &()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let Some(Failure::GreetingTimeout { partial, .. }) = &report.probes[0].failure else {
        panic!("{:?}", report.probes[0].failure);
    };
    assert!(
        partial.as_ref().is_some_and(|p| p.as_str().starts_with("2")),
        "what dripped in is kept: {partial:?}"
    );
    assert!(
        report.probes[0]
            .failure
            .as_ref()
            .unwrap()
            .summary()
            .contains("incomplete")
    );
}

/// Runs the real binary with `args`, with a memory ceiling so a read that is not bounded
/// fails the test instead of growing until the kernel kills it.
fn binary(args: &[&str]) -> std::process::Output {
    std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -v 1000000 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_mxtriage"),
        ])
        .args(args)
        .env("MXTRIAGE_CONFIG", "")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn endless_files_are_refused_at_their_size_limit() {
    for args in [
        &["report", "show", "/dev/zero"][..],
        &["report", "diff", "/dev/zero", "/dev/zero"][..],
        &["check", "example.invalid", "--ca-file", "/dev/zero"][..],
    ] {
        let out = binary(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("/dev/zero is larger than"), "{args:?}: {err}");
    }
}

#[test]
fn an_oversized_report_is_refused_before_it_is_read() {
    let path = std::env::temp_dir().join(format!("mxtriage-hostile-{}-big.json", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: 200 MB on paper, nothing on disk; the size alone says no.
    file.set_len(200 << 20).unwrap();
    let out = binary(&["report", "show", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 8 MiB, the most saved reports hold"), "{err}");
}
