//! Shared, serialisable types: what the engine found, as typed values.
//!
//! Everything the probe learns ends up here, so that the text output, the JSON
//! report and (later) the diagnosis read the same facts and never re-parse strings.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::text::SafeText;

pub mod opinion;
pub mod relay;
pub mod report;
pub mod scan;
pub mod tls;
pub mod tlsrpt;

pub use report::CheckReport;

/// Bumped whenever a JSON consumer would need to change.
///
/// 2: TLS versions, suites and groups are written by their IANA names everywhere
/// (`TLSv1.3`, `TLS_AES_256_GCM_SHA384`, `x25519`); reports of schema 1, which had
/// rustls' spellings in the probe's TLS session, are still read.
pub const SCHEMA_VERSION: u32 = 2;

/// How the MX set was obtained: the first split the operator needs to see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MxOutcome {
    /// MX records found; hosts are in preference order.
    Mx,
    /// No MX RRset, so the domain's own A/AAAA are used (RFC 5321 §5.1).
    ImplicitMx,
    /// `MX 0 .`: the domain says it accepts no mail (RFC 7505).
    NullMx,
    /// The domain does not exist.
    NxDomain,
    /// The domain exists but has neither MX nor address records.
    NoData,
    /// The lookup itself failed (timeout, SERVFAIL, refused).
    Error { message: String },
    /// The target named a host or address, so no MX lookup was made.
    Direct,
}

/// Result of one address lookup (A or AAAA) for one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LookupStatus {
    Found,
    NoData,
    NxDomain,
    Error {
        message: String,
    },
    /// Not asked, e.g. because of `-4`/`-6`.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRecord {
    pub ip: IpAddr,
    pub ttl: u32,
}

/// One mail exchanger with everything DNS said about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MxHost {
    pub name: String,
    /// `None` for implicit MX and direct targets.
    pub preference: Option<u16>,
    pub ttl: Option<u32>,
    /// CNAMEs followed while resolving the host, in order (an MX target should not be one).
    pub cname_chain: Vec<String>,
    pub addresses: Vec<AddressRecord>,
    pub a_lookup: LookupStatus,
    pub aaaa_lookup: LookupStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// The name asked for (domain or host).
    pub query: String,
    pub outcome: MxOutcome,
    pub hosts: Vec<MxHost>,
    pub elapsed_ms: u64,
    /// DNS returned more MX hosts or addresses than are followed (see `dns::MAX_*`).
    #[serde(default)]
    pub truncated: bool,
}

/// The steps of a STARTTLS session, in order. A probe records the last one it entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    #[serde(rename = "starttls")]
    StartTls,
    TlsHandshake,
    TlsEhlo,
    Quit,
    /// The whole dialogue completed.
    Done,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::TlsHandshake => "TLS handshake",
            Stage::TlsEhlo => "EHLO inside TLS",
            Stage::Quit => "QUIT",
            Stage::Done => "done",
        }
    }
}

/// One SMTP reply, parsed per RFC 5321 §4.2 (all lines share one code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub code: u16,
    /// Text of each line, without the code and separator.
    pub lines: Vec<SafeText>,
}

impl Reply {
    /// Enhanced status code (RFC 3463) from the first line, when present.
    pub fn enhanced_status(&self) -> Option<&str> {
        let first = self.lines.first()?.as_str().split_whitespace().next()?;
        let mut parts = first.split('.');
        let class = parts.next()?;
        let ok = matches!(class, "2" | "4" | "5")
            && parts.clone().count() == 2
            && parts.all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        ok.then_some(first)
    }

    /// The reply as it looked on the wire, one string (for messages).
    pub fn one_line(&self) -> String {
        let text: Vec<&str> = self.lines.iter().map(SafeText::as_str).collect();
        format!("{} {}", self.code, text.join(" / ")).trim_end().to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Sent by us.
    Client,
    /// Received from the peer.
    Server,
    /// Something that happened on the connection (connect, TLS established, close).
    Event,
}

impl Direction {
    /// The transcript prefix: who spoke.
    pub fn marker(self) -> &'static str {
        match self {
            Direction::Client => "C:",
            Direction::Server => "S:",
            Direction::Event => "--",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Milliseconds since the TCP connect started.
    pub at_ms: u64,
    pub direction: Direction,
    /// True once the line travelled inside TLS.
    pub encrypted: bool,
    pub text: SafeText,
}

/// EHLO keywords and their parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The domain on the first line of the EHLO reply.
    pub server_name: SafeText,
    /// Upper-cased keywords with their parameters, in the order advertised.
    pub keywords: Vec<(String, String)>,
}

impl Capabilities {
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.iter().any(|(k, _)| k.eq_ignore_ascii_case(keyword))
    }
}

/// What the TLS layer negotiated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSession {
    pub version: tls::TlsVersion,
    pub cipher_suite: tls::CipherSuite,
    pub key_exchange_group: Option<tls::NamedGroup>,
    /// The SNI we sent; `None` when the name was an IP address (no SNI).
    pub sni: Option<String>,
}

/// A TLS alert as received from the peer (RFC 8446 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub code: u8,
    pub name: String,
}

/// Where and how a session failed, with the raw evidence kept.
///
/// Each variant's doc says what it usually means on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// RST to our SYN: nothing listens, or a firewall rejects actively.
    ConnectRefused { errno: Option<i32>, message: String },
    /// No answer to our SYN: a filter drops packets (often outbound port 25 blocked).
    ConnectTimeout { after_ms: u64 },
    /// No route, network down, or the address family is unusable from here.
    ConnectUnreachable { errno: Option<i32>, message: String },
    /// Any other socket error while connecting (e.g. cannot bind `--source`).
    ConnectError { errno: Option<i32>, message: String },
    /// Connected, but no complete greeting in time: a tarpit, an overloaded server or a dead proxy.
    GreetingTimeout { after_ms: u64, partial: Option<SafeText> },
    /// The server refused us at the door: 421 is throttling or overload, 554 a policy block.
    GreetingRejected { reply: Reply },
    /// The server rejected our EHLO (bad EHLO name, policy, or an ancient server).
    EhloRejected { reply: Reply },
    /// EHLO succeeded but STARTTLS is not among the extensions.
    #[serde(rename = "starttls_not_offered")]
    StartTlsNotOffered { keywords: Vec<String> },
    /// A keyword such as `XXXXXXXA` stands where STARTTLS should: an ESMTP-inspecting firewall masked it.
    #[serde(rename = "starttls_masked")]
    StartTlsMasked { keyword: SafeText },
    /// STARTTLS was advertised but refused (454 temporary, 5xx permanent or a middlebox).
    #[serde(rename = "starttls_rejected")]
    StartTlsRejected { reply: Reply },
    /// The server said `220` to STARTTLS and closed before sending any TLS bytes: its TLS layer died.
    #[serde(rename = "closed_after_starttls")]
    ClosedAfterStartTls,
    /// TCP reset in the middle of the handshake: typically a firewall or IPS, sometimes an old stack.
    HandshakeReset { bytes_received: u64 },
    /// The peer closed during the handshake after sending some TLS bytes.
    HandshakeClosed { bytes_received: u64 },
    /// The server sent a TLS alert; the alert says why (70 version, 40 no common suite …).
    TlsAlert { alert: Alert, bytes_received: u64 },
    /// The handshake did not finish in time: a filtering path or a PMTU black hole.
    HandshakeTimeout { after_ms: u64, bytes_received: u64 },
    /// The peer answered our ClientHello with cleartext: it (or a proxy) never switched to TLS.
    PlaintextInsteadOfTls { first_bytes: SafeText },
    /// TLS failed for another reason rustls reports (e.g. no common version with this client).
    TlsError { message: String },
    /// The EHLO inside TLS was refused (RFC 3207 §4.2 requires it to work).
    TlsEhloRejected { reply: Reply },
    /// The peer closed the connection outside the handshake.
    ConnectionClosed { stage: Stage },
    /// The peer reset the connection outside the handshake.
    ConnectionReset { stage: Stage },
    /// A command got no complete reply in time.
    ReplyTimeout { stage: Stage, after_ms: u64 },
    /// The reply broke RFC 5321 syntax (or mixed codes in one reply).
    MalformedReply { stage: Stage, detail: String },
    /// The peer exceeded a size bound (line, reply, transcript, chain); we stopped reading.
    LimitExceeded { stage: Stage, limit: String },
    /// A local I/O error on an established connection.
    Io { stage: Stage, message: String },
}

/// Something worth telling the operator that did not stop the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// The greeting took long enough to look like a tarpit or postscreen delay.
    SlowGreeting { ms: u64 },
    /// Bytes arrived after the `220` to STARTTLS and before our ClientHello (injection or a pipelining server).
    #[serde(rename = "bytes_after_starttls_reply")]
    BytesAfterStartTlsReply { bytes: u64 },
    /// Bytes were waiting before we sent a command, so they cannot be its reply: the server
    /// does not wait for commands (a pipelining violation), a proxy replays, or something
    /// injects. They were discarded so that replies stay matched to commands.
    UnsolicitedData { before: Stage, bytes: u64 },
    /// STARTTLS advertised again inside TLS (RFC 3207 §4.2 forbids it; maybe a double proxy).
    #[serde(rename = "starttls_advertised_in_tls")]
    StartTlsAdvertisedInTls,
    /// The first EHLO line looks like a keyword rather than a domain.
    KeywordOnEhloFirstLine { line: SafeText },
    /// A reply line over RFC 5321's 512-octet limit.
    LongReplyLine { octets: usize },
    /// A line ended with a bare LF instead of CRLF.
    BareLineFeed,
    /// QUIT got no proper reply; harmless, but noted.
    QuitUnanswered,
    /// OpenSSL and this probe (rustls) disagree on whether TLS works: what the relay's
    /// library sees is what the relay will do.
    LibrariesDisagree { openssl_connects: bool },
    /// The scan's large ClientHellos (a post-quantum key share) were refused while smaller
    /// ones passed: a path or server that drops large hellos breaks the senders named.
    LargeHelloRefused { bytes: usize, senders: Vec<String> },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    pub connect_ms: Option<u64>,
    /// From connect to the final greeting line.
    pub greeting_ms: Option<u64>,
    /// TLS handshake duration.
    pub tls_ms: Option<u64>,
    pub total_ms: u64,
    /// When each stage began, in order (the time line of the session); empty in reports
    /// saved before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageMark>,
}

/// A stage entered `at_ms` after the connect started; it lasts until the next mark, or
/// the session's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMark {
    pub stage: Stage,
    pub at_ms: u64,
}

/// Everything one probe of one address produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub mx: String,
    pub address: SocketAddr,
    /// The local address the connection used.
    pub local_address: Option<SocketAddr>,
    pub ehlo_name: String,
    /// Last stage entered; `Done` when the session completed.
    pub stage: Stage,
    pub failure: Option<Failure>,
    pub findings: Vec<Finding>,
    pub greeting: Option<Reply>,
    pub capabilities: Option<Capabilities>,
    pub capabilities_tls: Option<Capabilities>,
    pub tls: Option<TlsSession>,
    pub chain: Option<crate::cert::ChainReport>,
    pub timings: Timings,
    pub transcript: Vec<TranscriptLine>,
    /// What the server accepts beyond this probe's own handshake (`check --scan`).
    #[serde(default)]
    pub scan: Option<scan::Scan>,
    /// What the system's OpenSSL made of the same address (`--openssl` or `--scan`).
    #[serde(default)]
    pub second_opinion: Option<opinion::SecondOpinion>,
    /// What this relay's own client (`posttls-finger`) saw at this address.
    #[serde(default)]
    pub relay_client: Option<relay::ClientRun>,
    /// The short follow-up run after a failed handshake (at most 8 connections).
    #[serde(default)]
    pub follow_up: Option<scan::FollowUp>,
    /// The certificates as presented, for matching against TLSA records after the probe.
    /// Not saved: a session keeps the analysis and the DANE result, not the raw chain.
    #[serde(skip)]
    pub presented: Vec<rustls::pki_types::CertificateDer<'static>>,
}

impl ProbeResult {
    /// TLS was negotiated and the chain is trusted and covers the MX name.
    pub fn is_secure(&self) -> bool {
        self.failure.is_none()
            && self.tls.is_some()
            && self.chain.as_ref().is_some_and(|c| c.is_trusted() && c.name_matches())
    }
}

/// The one-line names of outcomes, as data (assets/probe.toml).
static PROBE: crate::wording::Sentences =
    crate::wording::Sentences::new("assets/probe.toml", include_str!("../../assets/probe.toml"));

impl Finding {
    /// The finding's kind, as the JSON tag names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SlowGreeting { .. } => "slow_greeting",
            Self::BytesAfterStartTlsReply { .. } => "bytes_after_starttls_reply",
            Self::UnsolicitedData { .. } => "unsolicited_data",
            Self::StartTlsAdvertisedInTls => "starttls_advertised_in_tls",
            Self::KeywordOnEhloFirstLine { .. } => "keyword_on_ehlo_first_line",
            Self::LongReplyLine { .. } => "long_reply_line",
            Self::BareLineFeed => "bare_line_feed",
            Self::QuitUnanswered => "quit_unanswered",
            Self::LibrariesDisagree { .. } => "libraries_disagree",
            Self::LargeHelloRefused { .. } => "large_hello_refused",
        }
    }

    /// One line for the operator.
    pub fn describe(&self) -> String {
        let (key, values): (&str, Vec<(&str, String)>) = match self {
            Self::SlowGreeting { ms } => (self.kind(), vec![("ms", ms.to_string())]),
            Self::BytesAfterStartTlsReply { bytes } => (self.kind(), vec![("bytes", bytes.to_string())]),
            Self::UnsolicitedData { before, bytes } => (
                self.kind(),
                vec![("bytes", bytes.to_string()), ("stage", before.label().to_string())],
            ),
            Self::KeywordOnEhloFirstLine { line } => (self.kind(), vec![("line", line.to_string())]),
            Self::LongReplyLine { octets } => (self.kind(), vec![("octets", octets.to_string())]),
            Self::LibrariesDisagree { openssl_connects: true } => ("openssl_connects", vec![]),
            Self::LibrariesDisagree {
                openssl_connects: false,
            } => ("openssl_fails", vec![]),
            Self::LargeHelloRefused { bytes, senders } => (
                self.kind(),
                vec![("bytes", bytes.to_string()), ("senders", senders.join(", "))],
            ),
            Self::StartTlsAdvertisedInTls | Self::BareLineFeed | Self::QuitUnanswered => (self.kind(), vec![]),
        };
        PROBE.say("finding", key, &crate::wording::pairs(&values))
    }
}

impl Failure {
    /// The failure's kind, as the JSON tag names it (`closed_after_starttls`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ConnectRefused { .. } => "connect_refused",
            Self::ConnectTimeout { .. } => "connect_timeout",
            Self::ConnectUnreachable { .. } => "connect_unreachable",
            Self::ConnectError { .. } => "connect_error",
            Self::GreetingTimeout { .. } => "greeting_timeout",
            Self::GreetingRejected { .. } => "greeting_rejected",
            Self::EhloRejected { .. } => "ehlo_rejected",
            Self::StartTlsNotOffered { .. } => "starttls_not_offered",
            Self::StartTlsMasked { .. } => "starttls_masked",
            Self::StartTlsRejected { .. } => "starttls_rejected",
            Self::ClosedAfterStartTls => "closed_after_starttls",
            Self::HandshakeReset { .. } => "handshake_reset",
            Self::HandshakeClosed { .. } => "handshake_closed",
            Self::TlsAlert { .. } => "tls_alert",
            Self::HandshakeTimeout { .. } => "handshake_timeout",
            Self::PlaintextInsteadOfTls { .. } => "plaintext_instead_of_tls",
            Self::TlsError { .. } => "tls_error",
            Self::TlsEhloRejected { .. } => "tls_ehlo_rejected",
            Self::ConnectionClosed { .. } => "connection_closed",
            Self::ConnectionReset { .. } => "connection_reset",
            Self::ReplyTimeout { .. } => "reply_timeout",
            Self::MalformedReply { .. } => "malformed_reply",
            Self::LimitExceeded { .. } => "limit_exceeded",
            Self::Io { .. } => "io",
        }
    }

    /// One line describing a failure, for the transcript and text output.
    pub fn summary(&self) -> String {
        let stage = |stage: &Stage| ("stage", stage.label().to_string());
        let (key, values): (&str, Vec<(&str, String)>) = match self {
            Self::ConnectRefused { message, .. }
            | Self::ConnectUnreachable { message, .. }
            | Self::ConnectError { message, .. }
            | Self::TlsError { message } => (self.kind(), vec![("message", message.clone())]),
            Self::ConnectTimeout { after_ms }
            | Self::GreetingTimeout {
                after_ms,
                partial: None,
            } => (self.kind(), vec![("after_ms", after_ms.to_string())]),
            Self::GreetingTimeout {
                after_ms,
                partial: Some(partial),
            } => (
                "greeting_incomplete",
                vec![("after_ms", after_ms.to_string()), ("partial", partial.to_string())],
            ),
            Self::GreetingRejected { reply }
            | Self::EhloRejected { reply }
            | Self::StartTlsRejected { reply }
            | Self::TlsEhloRejected { reply } => (self.kind(), vec![("reply", reply.one_line())]),
            Self::StartTlsMasked { keyword } => (self.kind(), vec![("keyword", keyword.to_string())]),
            Self::StartTlsNotOffered { .. } | Self::ClosedAfterStartTls => (self.kind(), vec![]),
            Self::HandshakeReset { bytes_received } | Self::HandshakeClosed { bytes_received } => {
                (self.kind(), vec![("bytes", bytes_received.to_string())])
            }
            Self::TlsAlert { alert, .. } => (
                self.kind(),
                vec![("name", alert.name.clone()), ("code", alert.code.to_string())],
            ),
            Self::HandshakeTimeout {
                after_ms,
                bytes_received,
            } => (
                self.kind(),
                vec![
                    ("after_ms", after_ms.to_string()),
                    ("bytes", bytes_received.to_string()),
                ],
            ),
            Self::PlaintextInsteadOfTls { first_bytes } => {
                (self.kind(), vec![("first_bytes", first_bytes.to_string())])
            }
            Self::ConnectionClosed { stage: s } | Self::ConnectionReset { stage: s } => (self.kind(), vec![stage(s)]),
            Self::ReplyTimeout { stage: s, after_ms } => {
                (self.kind(), vec![stage(s), ("after_ms", after_ms.to_string())])
            }
            Self::MalformedReply { stage: s, detail } => (self.kind(), vec![stage(s), ("detail", detail.clone())]),
            Self::LimitExceeded { stage: s, limit } => (self.kind(), vec![stage(s), ("limit", limit.clone())]),
            Self::Io { stage: s, message } => (self.kind(), vec![stage(s), ("message", message.clone())]),
        };
        PROBE.say("failure", key, &crate::wording::pairs(&values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of every failure and finding, for the tests that hold code and data in step.
    fn every() -> (Vec<Failure>, Vec<Finding>) {
        let reply = Reply {
            code: 454,
            lines: vec![SafeText::from_peer_str("4.7.0 not now")],
        };
        let message = String::from("m");
        let failures = vec![
            Failure::ConnectRefused {
                errno: None,
                message: message.clone(),
            },
            Failure::ConnectTimeout { after_ms: 1 },
            Failure::ConnectUnreachable {
                errno: None,
                message: message.clone(),
            },
            Failure::ConnectError {
                errno: None,
                message: message.clone(),
            },
            Failure::GreetingTimeout {
                after_ms: 1,
                partial: None,
            },
            Failure::GreetingTimeout {
                after_ms: 1,
                partial: Some(SafeText::from_peer_str("220-")),
            },
            Failure::GreetingRejected { reply: reply.clone() },
            Failure::EhloRejected { reply: reply.clone() },
            Failure::StartTlsNotOffered { keywords: vec![] },
            Failure::StartTlsMasked {
                keyword: SafeText::from_peer_str("XXXXXXXA"),
            },
            Failure::StartTlsRejected { reply: reply.clone() },
            Failure::ClosedAfterStartTls,
            Failure::HandshakeReset { bytes_received: 1 },
            Failure::HandshakeClosed { bytes_received: 1 },
            Failure::TlsAlert {
                alert: Alert {
                    code: 40,
                    name: "handshake_failure".into(),
                },
                bytes_received: 7,
            },
            Failure::HandshakeTimeout {
                after_ms: 1,
                bytes_received: 1,
            },
            Failure::PlaintextInsteadOfTls {
                first_bytes: SafeText::from_peer_str("500"),
            },
            Failure::TlsError {
                message: message.clone(),
            },
            Failure::TlsEhloRejected { reply },
            Failure::ConnectionClosed { stage: Stage::Ehlo },
            Failure::ConnectionReset { stage: Stage::Ehlo },
            Failure::ReplyTimeout {
                stage: Stage::Ehlo,
                after_ms: 1,
            },
            Failure::MalformedReply {
                stage: Stage::Ehlo,
                detail: message.clone(),
            },
            Failure::LimitExceeded {
                stage: Stage::Ehlo,
                limit: message.clone(),
            },
            Failure::Io {
                stage: Stage::Ehlo,
                message,
            },
        ];
        let findings = vec![
            Finding::SlowGreeting { ms: 1 },
            Finding::BytesAfterStartTlsReply { bytes: 1 },
            Finding::UnsolicitedData {
                before: Stage::Ehlo,
                bytes: 1,
            },
            Finding::StartTlsAdvertisedInTls,
            Finding::KeywordOnEhloFirstLine {
                line: SafeText::from_peer_str("STARTTLS"),
            },
            Finding::LongReplyLine { octets: 600 },
            Finding::BareLineFeed,
            Finding::QuitUnanswered,
            Finding::LargeHelloRefused {
                bytes: 1500,
                senders: vec!["OpenSSL 3.5+".into()],
            },
            Finding::LibrariesDisagree { openssl_connects: true },
            Finding::LibrariesDisagree {
                openssl_connects: false,
            },
        ];
        (failures, findings)
    }

    #[test]
    fn kinds_are_the_json_tags() {
        let (failures, findings) = every();
        let tag = |v: serde_json::Value| v["kind"].as_str().map(str::to_string);
        for f in &failures {
            assert_eq!(
                tag(serde_json::to_value(f).unwrap()).as_deref(),
                Some(f.kind()),
                "{f:?}"
            );
        }
        for f in &findings {
            assert_eq!(
                tag(serde_json::to_value(f).unwrap()).as_deref(),
                Some(f.kind()),
                "{f:?}"
            );
        }
    }

    #[test]
    fn every_outcome_has_its_words_in_the_asset() {
        let (failures, findings) = every();
        let mut used: Vec<(&str, &str)> = vec![
            ("failure", "greeting_incomplete"),
            ("finding", "openssl_connects"),
            ("finding", "openssl_fails"),
        ];
        used.extend(failures.iter().map(|f| ("failure", f.kind())));
        used.extend(
            findings
                .iter()
                .filter(|f| !matches!(f, Finding::LibrariesDisagree { .. }))
                .map(|f| ("finding", f.kind())),
        );
        used.sort();
        used.dedup();
        assert_eq!(PROBE.problems(&used), Vec::<String>::new());
        for f in &failures {
            let text = f.summary();
            assert!(!text.contains('{') && !text.starts_with("failure."), "{text}");
        }
        for f in &findings {
            let text = f.describe();
            assert!(!text.contains('{') && !text.starts_with("finding."), "{text}");
        }
        assert_eq!(failures[14].summary(), "TLS alert handshake_failure (40)");
    }
}
