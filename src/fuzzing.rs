//! Bodies of the fuzz targets, one function per target taking the raw input.
//!
//! They live in the library so that the cargo-fuzz targets (`fuzz/`, nightly) and the
//! corpus replay in `cargo test` (`tests/fuzz_corpus.rs`, stable) run the very same
//! checks: every input the fuzzer ever kept is replayed on every test run. Each
//! function panics only when an invariant breaks: a parser must never panic on peer
//! input, text that reaches a screen or report must hold no control or invisible
//! characters, and what is saved must read back the same.

use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use rustls::pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cert::TrustStores;
use crate::intake;
use crate::model::Reply;
use crate::policy::dane::{self, Tlsa};
use crate::policy::{mta_sts, records};
use crate::probe::lines::{LineError, LineReader, MAX_LINE};
use crate::probe::reply::{self, MAX_REPLY_LINES, ReplyParser};
use crate::probe::scan::codec::{self, Answer};
use crate::report::Session;
use crate::text::{MAX_TEXT_CHARS, SafeText};

/// A fuzz target: a name (the directory of its corpus under `fuzz/corpus/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, so the corpus replay can check that each corpus has one and back.
pub const TARGETS: &[Target] = &[
    ("smtp_reply", smtp_reply),
    ("dialogue", dialogue),
    ("server_answer", server_answer),
    ("intake", intake),
    ("mta_sts", mta_sts),
    ("policy_records", policy_records),
    ("dane", dane),
    ("cert_chain", cert_chain),
    ("dns_reply", dns_reply),
    ("session", session),
    ("safe_text", safe_text),
];

/// Lines of an SMTP server, read as the probe reads them, folded into replies, and
/// replies read as EHLO capabilities (`probe/lines.rs`, `probe/reply.rs`).
pub fn smtp_reply(data: &[u8]) {
    let mut reader = LineReader::new(data);
    let mut parser = ReplyParser::default();
    // Every line consumes at least its terminator, so this bounds the loop.
    for _ in 0..=data.len() {
        let line = match ready(reader.read_line()) {
            Ok(line) => line,
            Err(LineError::TooLong) => {
                assert!(reader.pending() > MAX_LINE, "TooLong before MAX_LINE");
                break;
            }
            Err(LineError::Closed | LineError::Io(_)) => break,
        };
        assert!(line.bytes.len() <= MAX_LINE + 4096, "line longer than the cap");
        match parser.push_line(&line.bytes) {
            Ok(Some(reply)) => check_reply(&reply),
            Ok(None) => {}
            Err(error) => {
                assert_shown("reply error", &error.to_string());
                parser = ReplyParser::default();
            }
        }
    }
    assert!(reader.partial().len() <= 256);
}

/// A whole SMTP server side, fed to the dialogue state machine (`probe/dialogue.rs`)
/// as the driver would: the first byte picks the chunk size the bytes arrive in, the
/// second whether TLS comes first, the rest is what the server sends. The machine must
/// never panic, must end within a number of steps bounded by the input, and what it
/// keeps must be displayable text.
pub fn dialogue(data: &[u8]) {
    use crate::model::Stage;
    use crate::probe::dialogue::{Dialogue, Next};
    let (Some(&chunk), Some(&mode), Some(rest)) = (data.first(), data.get(1), data.get(2..)) else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut machine = Dialogue::new("fuzz.mxtriage.invalid", mode & 1 == 1);
    let mut chunks = rest.chunks(chunk);
    let mut handshakes = 0;
    let mut last_stage = machine.stage();
    // Each step consumes input, sends one of at most a handful of commands, or ends.
    for _ in 0..4 * rest.len() + 64 {
        let stage = machine.stage();
        assert!(
            stage >= last_stage || stage == Stage::Greeting,
            "stage went back from {last_stage:?} to {stage:?}"
        );
        last_stage = stage;
        match machine.poll() {
            Next::Read => match chunks.next() {
                Some(bytes) => machine.receive(bytes),
                None => {
                    let _ = machine.timed_out(1);
                    assert!(matches!(machine.poll(), Next::End(_)), "a timeout ends the dialogue");
                    return check_facts(machine.facts());
                }
            },
            Next::Line(line) => assert!(line.bytes.len() <= MAX_LINE + 4096),
            Next::Discarded { bytes, .. } => assert!(!bytes.is_empty()),
            Next::Send(command) => {
                assert!(
                    !command.line().contains(['\r', '\n']),
                    "a command carries no line break"
                );
                machine.sent();
            }
            Next::Handshake { .. } => {
                handshakes += 1;
                assert!(handshakes <= 1, "one handshake per session");
                machine.tls_established();
            }
            Next::End(outcome) => {
                if let Err(failure) = outcome {
                    assert_shown("failure", &failure.summary());
                }
                return check_facts(machine.facts());
            }
        }
    }
    panic!("the dialogue did not end within its step bound");
}

fn check_facts(facts: &crate::probe::dialogue::Facts) {
    if let Some(reply) = &facts.greeting {
        check_reply(reply);
    }
    for caps in [&facts.capabilities, &facts.capabilities_tls].into_iter().flatten() {
        assert_safe_text(&caps.server_name);
    }
    for finding in &facts.findings {
        assert_shown("finding", &finding.describe());
    }
}

fn check_reply(reply: &Reply) {
    assert!((200..600).contains(&reply.code), "code {} kept", reply.code);
    assert!(!reply.lines.is_empty() && reply.lines.len() <= MAX_REPLY_LINES);
    for line in &reply.lines {
        assert_safe_text(line);
    }
    if let Some(status) = reply.enhanced_status() {
        assert_shown("enhanced status", status);
    }
    let (caps, suspicious) = reply::parse_capabilities(reply);
    assert_safe_text(&caps.server_name);
    if let Some(first) = &suspicious {
        assert_safe_text(first);
    }
    for (keyword, parameters) in &caps.keywords {
        assert!(!keyword.is_empty() && keyword.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert_shown("EHLO parameters", parameters);
        assert!(caps.has(keyword), "{keyword} listed but not found");
    }
    if let Some(masked) = reply::masked_starttls(&caps) {
        assert_eq!(masked.len(), "STARTTLS".len());
    }
}

/// The server's first answer to a hand-made ClientHello (`probe/scan/codec.rs`).
pub fn server_answer(data: &[u8]) {
    let Some(answer) = codec::parse_answer(data) else {
        assert!(
            data.first().is_none_or(|b| matches!(b, 0x15 | 0x16)),
            "None is only for nothing yet or an incomplete record"
        );
        return;
    };
    match &answer {
        Answer::Plaintext(sample) | Answer::Garbage(sample) => {
            assert!(sample.len() <= 64);
            return;
        }
        Answer::Broken(why) => assert_shown("broken handshake", why),
        Answer::Hello { .. } | Answer::RetryRequest { .. } | Answer::Alert { .. } => {}
    }
    // A decided answer is decided by the records read so far: bytes after them
    // (here the header of an oversized record) change nothing.
    let mut longer = data.to_vec();
    longer.extend_from_slice(&[0x16, 0x03, 0x03, 0xff, 0xff]);
    assert_eq!(codec::parse_answer(&longer), Some(answer));
}

/// A pasted bounce, DSN or log excerpt (`intake/`).
pub fn intake(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(found) = intake::extract(&text) else {
        return;
    };
    assert_json_shown(&found);
    if let Some(domain) = &found.domain {
        assert_eq!(*domain, domain.to_lowercase(), "domain is lower-case");
        assert!(found.recipient.is_some(), "domain only from the recipient");
    }
    if let Some(host) = &found.mx_host {
        assert!(!host.ends_with('.'), "MX host keeps its trailing dot");
    }
    let _ = found.target();
    assert_round_trip(&found);
}

/// An `_mta-sts` TXT RRset (one record a line) and, after the first empty line, a
/// policy file (`policy/mta_sts.rs`).
pub fn mta_sts(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (txt, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let rrset: Vec<String> = txt.lines().map(str::to_owned).collect();
    let outcome = mta_sts::parse_txt(&rrset);
    assert_json_shown(&outcome);
    assert_shown("TXT summary", &outcome.summary());
    assert_round_trip(&outcome);

    let policy = mta_sts::parse_policy(body);
    assert_json_shown(&policy);
    assert_shown("policy summary", &policy.summary());
    assert_round_trip(&policy);
    for host in ["mx.example.com", "a.b.example.com", "example.com", "."] {
        if let Some(pattern) = policy.matching_pattern(host) {
            assert!(mta_sts::mx_matches(pattern, host));
        }
    }
    // Every policy line also as a pattern against every other, as hosts.
    for pattern in body.lines().take(16) {
        for host in body.lines().take(16) {
            let _ = mta_sts::mx_matches(pattern, host);
        }
    }
}

/// The TXT RRsets of TLS-RPT, SPF and DMARC, one record a line (`policy/records.rs`).
pub fn policy_records(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let rrset: Vec<String> = text.lines().map(str::to_owned).collect();
    let tls_rpt = records::parse_tls_rpt(&rrset);
    assert_json_shown(&tls_rpt);
    assert_shown("TLS-RPT summary", &tls_rpt.summary());
    assert_round_trip(&tls_rpt);
    let spf = records::parse_spf(&rrset);
    assert_json_shown(&spf);
    assert_shown("SPF summary", &spf.summary());
    assert_round_trip(&spf);
    let dmarc = records::parse_dmarc(&rrset);
    assert_json_shown(&dmarc);
    assert_shown("DMARC summary", &dmarc.summary());
    assert_round_trip(&dmarc);
}

/// TLSA records in presentation form (one a line), then a NUL byte, then a chain of
/// DER certificates back to back (`policy/dane.rs`).
pub fn dane(data: &[u8]) {
    let (text, der) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(text);
    let mut tlsa = Vec::new();
    for line in text.lines().take(64) {
        match Tlsa::from_presentation(line) {
            Ok(record) => {
                let again = Tlsa::from_presentation(&record.presentation());
                assert_eq!(again.as_ref(), Ok(&record), "presentation round trip");
                assert_shown("TLSA", &record.to_string());
                assert_round_trip(&record);
                tlsa.push(record);
            }
            Err(message) => assert_shown("TLSA error", &message),
        }
    }
    let chain = split_der(der);
    let names = ["mx.example.test", "example.test"];
    let check = dane::check_chain(&tlsa, &chain, &names, UnixTime::now());
    assert_json_shown(&check);
    assert_shown("DANE summary", &check.summary());
    let _ = check.outcome.rfc8460_result_type();
    assert_round_trip(&check);
    for usage in [2, 3] {
        for selector in 0..=2 {
            for matching in 0..=3 {
                if let Some(line) = dane::presentation_for(&chain, usage, selector, matching) {
                    assert!(Tlsa::from_presentation(&line).is_ok(), "own presentation reads back");
                }
            }
        }
    }
}

/// A chain of DER certificates back to back, analysed for `mx.example.test` against
/// the Mozilla roots and empty local stores (`cert/`).
pub fn cert_chain(data: &[u8]) {
    static STORES: OnceLock<TrustStores> = OnceLock::new();
    let stores = STORES.get_or_init(|| TrustStores::from_parts(Vec::new(), Vec::new()));
    let chain = split_der(data);
    let report = crate::cert::analyze(&chain, "mx.example.test", stores, UnixTime::now());
    assert_eq!(report.certificates.len(), chain.len());
    assert_json_shown(&report);
    assert_round_trip(&report);
    let mut cut = report.clone();
    cut.mark_cut(chain.len() + 1);
    assert_json_shown(&cut);
    // The same chain with its last certificate as a local anchor reaches the trusted paths.
    if let Some(top) = chain.last() {
        let mut anchored = stores.clone();
        if anchored.add_ca_anchor(top.clone()).is_ok() {
            let report = crate::cert::analyze(&chain, "mx.example.test", &anchored, UnixTime::now());
            assert_json_shown(&report);
        }
    }
}

/// A DNS reply to a TLSA query for `_25._tcp.mx.example.test` (`dns/raw.rs`): the id is
/// taken from the reply so the question check is what is exercised.
pub fn dns_reply(data: &[u8]) {
    let Ok(owner) = Name::from_ascii("_25._tcp.mx.example.test.") else {
        return;
    };
    let question = Query::query(owner.clone(), RecordType::TLSA);
    let id = data.get(..2).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let message = match crate::dns::raw::check_reply(data, id, &question) {
        Ok(message) => message,
        Err(reason) => {
            assert_shown("DNS error", &reason);
            // Replies to another question still go through the chain walk below.
            match Message::from_vec(data) {
                Ok(message) => message,
                Err(_) => return,
            }
        }
    };
    let (target, found) = crate::dns::raw::tlsa_records(&owner, message.answers());
    assert!(found.len() <= crate::dns::raw::MAX_TLSA_RECORDS);
    assert_shown("alias target", &crate::dns::display(&target));
    for record in &found {
        assert!(record.data.chars().all(|c| c.is_ascii_hexdigit()));
        let line = format!(
            "{} {} {} {}",
            record.usage, record.selector, record.matching, record.data
        );
        if !record.data.is_empty() {
            assert!(
                Tlsa::from_presentation(&line).is_ok(),
                "a TLSA record from DNS reads as presentation"
            );
        }
    }
    for query in message.queries() {
        let _ = crate::dns::raw::follow_chain(query.name(), query.query_type(), message.answers());
    }
}

/// A saved JSON report (`report/session.rs`): the evidence that loads must show clean,
/// and saving it again must give a document that loads to the same.
pub fn session(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(session) = Session::from_json(text, "fuzz") else {
        return;
    };
    // The evidence and answers come from the file; the verdict's text (workaround
    // snippets span lines) comes from this tool's assets and is rebuilt on load.
    assert_json_shown(&session.check);
    assert_json_shown(&session.answers);
    let saved = session.to_json();
    let again = Session::from_json(&saved, "fuzz").map(|s| s.to_json());
    assert_eq!(
        again.ok().as_deref(),
        Some(saved.as_str()),
        "saved report reads back the same"
    );
}

/// Escaped text (`text.rs`): never a control or invisible character, bounded, and
/// escaping twice changes nothing.
pub fn safe_text(data: &[u8]) {
    let text = SafeText::from_peer(data);
    assert_safe_text(&text);
    let lossy = String::from_utf8_lossy(data);
    let escaped = SafeText::escape(&lossy);
    assert_shown("escape", &escaped);
    assert_eq!(SafeText::escape(&escaped), escaped, "escape is idempotent");
    let pasted = SafeText::escape_pasted(&lossy);
    assert!(
        pasted.chars().all(|c| matches!(c, '\n' | '\t') || shown(c)),
        "escape_pasted kept {pasted:?}"
    );
    assert_shown("clean", &SafeText::clean(&lossy));
    let json = serde_json::to_string(&text).unwrap_or_default();
    let back: Option<SafeText> = serde_json::from_str(&json).ok();
    assert_eq!(back.as_ref(), Some(&text), "SafeText reads back the same");
}

/// Polls a future over an in-memory reader, which is always ready.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Certificates back to back, cut by their outer DER length; what cannot be cut is the
/// last "certificate" as it is. At most 20, past the 16 a probe keeps.
fn split_der(mut der: &[u8]) -> Vec<CertificateDer<'static>> {
    let mut chain = Vec::new();
    while !der.is_empty() && chain.len() < 20 {
        let length = der_length(der).filter(|&n| n <= der.len()).unwrap_or(der.len());
        chain.push(CertificateDer::from(der[..length].to_vec()));
        der = &der[length..];
    }
    chain
}

/// Total length (header included) of the DER element at the start of `der`.
fn der_length(der: &[u8]) -> Option<usize> {
    let first = usize::from(*der.get(1)?);
    if first < 0x80 {
        return Some(2 + first);
    }
    let count = first & 0x7f;
    if count == 0 || count > 3 {
        return None;
    }
    let bytes = der.get(2..2 + count)?;
    let length = bytes.iter().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    Some(2 + count + length)
}

fn shown(c: char) -> bool {
    !c.is_control() && !crate::text::invisible(c)
}

fn assert_shown(what: &str, s: &str) {
    assert!(
        s.chars().all(shown),
        "{what} holds a control or invisible character: {s:?}"
    );
}

fn assert_safe_text(text: &SafeText) {
    assert_shown("SafeText", text.as_str());
    let kept = text.as_str().strip_suffix("…[truncated]").unwrap_or(text.as_str());
    assert!(kept.chars().count() <= MAX_TEXT_CHARS, "SafeText over its cap");
}

/// Every string (and key) of `value`'s JSON form is free of control and invisible characters.
fn assert_json_shown<T: Serialize>(value: &T) {
    let json = serde_json::to_value(value).unwrap_or_default();
    walk_strings(&json, &mut |s| assert_shown("serialised field", s));
}

fn walk_strings(value: &serde_json::Value, f: &mut impl FnMut(&str)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter().for_each(|item| walk_strings(item, f)),
        serde_json::Value::Object(fields) => fields.iter().for_each(|(key, item)| {
            f(key);
            walk_strings(item, f);
        }),
        _ => {}
    }
}

/// What is saved in a report reads back equal.
fn assert_round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap_or_default();
    let back: Result<T, _> = serde_json::from_str(&json);
    assert_eq!(back.as_ref().ok(), Some(value), "JSON round trip of {json}");
}

/// Seeds for the corpora that need certificates, TLS or DNS messages made here:
/// `cargo test --lib fuzzing::seeds -- --ignored` writes them under
/// `$MXTRIAGE_SEED_DIR` (default `target/fuzz-seeds`); `fuzz/README.md` says what next.
#[cfg(test)]
mod seeds {
    use std::path::PathBuf;
    use std::sync::Arc;

    use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
    use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
    use hickory_proto::rr::rdata::{CNAME, TLSA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use rustls::pki_types::CertificateDer;

    use crate::cert::test_pki;
    use crate::lab::pki::{CertKind, Pki};
    use crate::policy::dane::Tlsa;
    use crate::probe::scan::codec::{self, Offer};

    fn dir() -> PathBuf {
        std::env::var_os("MXTRIAGE_SEED_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-seeds"),
            PathBuf::from,
        )
    }

    fn write(target: &str, name: &str, data: &[u8]) {
        let dir = dir().join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }

    fn concat(chain: &[CertificateDer<'_>]) -> Vec<u8> {
        chain.iter().flat_map(|c| c.as_ref().iter().copied()).collect()
    }

    /// Chains: the lab's kinds of certificate, with and without the root, and a few
    /// shapes the lab does not make (wildcard, IP and CN-only names, a long chain).
    fn chains() -> Vec<(String, Vec<CertificateDer<'static>>)> {
        let pki = Pki::new().unwrap();
        let mut out = Vec::new();
        for kind in [
            CertKind::Valid,
            CertKind::Expired,
            CertKind::NotYetValid,
            CertKind::WrongName,
            CertKind::LeafOnly,
            CertKind::SelfSigned,
        ] {
            let mut chain = pki.identity(test_pki::MX, kind).unwrap().chain;
            out.push((format!("lab-{kind:?}"), chain.clone()));
            chain.push(pki.root_der());
            out.push((format!("lab-{kind:?}-with-root"), chain));
        }
        let (root, inter) = test_pki::root_and_intermediate();
        for (name, sans) in [
            ("wildcard", vec!["*.example.test"]),
            ("ip", vec!["192.0.2.25", "2001:db8::25"]),
            ("cn-only", vec![]),
            (
                "many-names",
                vec![
                    "a.example.test",
                    "mx.example.test",
                    "*.mx.example.test",
                    "xn--bcher-kva.example",
                ],
            ),
        ] {
            let leaf = test_pki::issue(test_pki::params(test_pki::MX, &sans, false, -1, 90), &inter);
            out.push((format!("pki-{name}"), vec![leaf.der(), inter.der(), root.der()]));
        }
        let disordered = test_pki::issue(test_pki::params(test_pki::MX, &[test_pki::MX], false, -1, 90), &inter);
        out.push(("pki-disordered".into(), vec![disordered.der(), root.der(), inter.der()]));
        out
    }

    fn dns_reply(id: u16, owner: &Name, response: ResponseCode, answers: Vec<Record>, question: bool) -> Vec<u8> {
        let mut message = Message::new();
        message
            .set_id(id)
            .set_message_type(MessageType::Response)
            .set_authentic_data(true)
            .set_response_code(response);
        if question {
            message.add_query(Query::query(owner.clone(), RecordType::TLSA));
        }
        message.add_answers(answers);
        message.to_vec().unwrap()
    }

    /// The server's first flight for each offer, from a real rustls server.
    fn server_flights() -> Vec<(String, Vec<u8>)> {
        let pki = Pki::new().unwrap();
        let identity = pki.identity(test_pki::MX, CertKind::Valid).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(identity.chain, identity.key)
                .unwrap(),
        );
        let offers = [
            ("tls13", codec::TLS13, vec![0x1301, 0x1302, 0x1303], vec![codec::X25519]),
            ("tls13-hrr", codec::TLS13, vec![0x1301], vec![codec::SECP384R1]),
            (
                "tls12",
                codec::TLS12,
                vec![0xc02b, 0xc02f, 0xc030],
                vec![codec::SECP256R1],
            ),
            ("tls12-no-suite", codec::TLS12, vec![0x002f], vec![codec::SECP256R1]),
            ("tls10", codec::TLS10, vec![0xc013], vec![codec::SECP256R1]),
        ];
        let mut out = Vec::new();
        for (name, version, suites, groups) in offers {
            let offer = Offer {
                version,
                suites,
                groups,
                sni: Some(test_pki::MX.into()),
            };
            let hello = codec::client_hello(&offer, &[7; 32]);
            let mut server = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let _ = server.read_tls(&mut hello.as_slice());
            let _ = server.process_new_packets();
            let mut flight = Vec::new();
            while server.wants_write() {
                if server.write_tls(&mut flight).is_err() {
                    break;
                }
            }
            out.push((name.to_owned(), flight));
        }
        out
    }

    #[test]
    #[ignore = "writes seed corpora; run by hand, see fuzz/README.md"]
    fn write_seed_corpora() {
        let chains = chains();
        for (name, chain) in &chains {
            write("cert_chain", name, &concat(chain));
            let mut dane = String::new();
            for (usage, at) in [(3, 0), (2, 1), (1, 0), (0, chain.len().saturating_sub(1))] {
                for (selector, matching) in [(0, 0), (1, 1), (0, 2), (1, 2)] {
                    if let Some(cert) = chain.get(at)
                        && let Some(tlsa) = Tlsa::for_certificate(cert, usage, selector, matching)
                    {
                        dane.push_str(&tlsa.presentation());
                        dane.push('\n');
                    }
                }
            }
            let mut data = dane.into_bytes();
            data.push(0);
            data.extend(concat(chain));
            write("dane", name, &data);
        }

        let owner = Name::from_ascii("_25._tcp.mx.example.test.").unwrap();
        let alias = Name::from_ascii("_25._tcp.mx.example.net.").unwrap();
        let tlsa = |name: &Name, usage, selector, matching, data: &[u8]| {
            Record::from_rdata(
                name.clone(),
                300,
                RData::TLSA(TLSA::new(usage, selector, matching, data.to_vec())),
            )
        };
        let found = vec![
            tlsa(&owner, CertUsage::DaneEe, Selector::Spki, Matching::Sha256, &[0xab; 32]),
            tlsa(&owner, CertUsage::DaneTa, Selector::Full, Matching::Sha512, &[0xcd; 64]),
        ];
        write(
            "dns_reply",
            "tlsa-found",
            &dns_reply(7, &owner, ResponseCode::NoError, found, true),
        );
        let chained = vec![
            Record::from_rdata(owner.clone(), 300, RData::CNAME(CNAME(alias.clone()))),
            tlsa(&alias, CertUsage::DaneEe, Selector::Spki, Matching::Sha256, &[0x11; 32]),
        ];
        write(
            "dns_reply",
            "tlsa-cname",
            &dns_reply(8, &owner, ResponseCode::NoError, chained, true),
        );
        let looping = vec![
            Record::from_rdata(owner.clone(), 300, RData::CNAME(CNAME(alias.clone()))),
            Record::from_rdata(alias.clone(), 300, RData::CNAME(CNAME(owner.clone()))),
        ];
        write(
            "dns_reply",
            "tlsa-cname-loop",
            &dns_reply(9, &owner, ResponseCode::NoError, looping, true),
        );
        write(
            "dns_reply",
            "nxdomain",
            &dns_reply(10, &owner, ResponseCode::NXDomain, vec![], true),
        );
        write(
            "dns_reply",
            "formerr-no-question",
            &dns_reply(11, &owner, ResponseCode::FormErr, vec![], false),
        );
        write(
            "dns_reply",
            "other-question",
            &dns_reply(12, &alias, ResponseCode::NoError, vec![], true),
        );

        for (name, flight) in server_flights() {
            write("server_answer", &name, &flight);
        }
        write(
            "server_answer",
            "alert-handshake-failure",
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
        );
        write(
            "server_answer",
            "alert-protocol-version",
            &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46],
        );
        write("server_answer", "plaintext", b"500 5.5.2 Error: bad syntax\r\n");
        write("server_answer", "sslv2", &[0x80, 0x2e, 0x01, 0x00, 0x02]);

        for (name, text) in [
            ("escape", &b"220 \x1b[2Jhi\r\x07\xff"[..]),
            ("bidi", "mx\u{202E}moc.live\u{200B}\u{2066}x\u{FEFF}".as_bytes()),
            ("soft-hyphen", "mx\u{00AD}.example\u{0085}".as_bytes()),
            ("long", &[b'a'; 1100][..]),
            ("invalid-utf8", &[0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f, 0x98][..]),
        ] {
            write("safe_text", name, text);
        }
    }
}
