//! What this relay is and what it would do: the sender every verdict is about.
//!
//! Read from the local MTA's own configuration (src/relay/), never guessed; what could
//! not be read is listed with the reason, and the named sender profiles stand in.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Which MTA runs on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mta {
    Postfix,
    Exim,
}

/// Where a configuration value came from, so the operator can go and change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A line of a configuration file (main.cf, exim's configure).
    File { path: String, line: Option<usize> },
    /// A `-o` override of one service in master.cf.
    Service { path: String, service: String },
    /// An entry of a lookup table, found under `key`.
    Map { map: String, key: String },
    /// The MTA's built-in default for `parameter`.
    Default { parameter: String },
    /// The output of a command (version strings, library names).
    Command { command: String },
}

/// One configuration value with its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub name: String,
    pub value: String,
    pub origin: Origin,
}

/// The TLS library the MTA is linked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsLibrary {
    /// "OpenSSL", "GnuTLS", ...
    pub name: String,
    pub version: String,
    pub origin: Origin,
}

/// The client TLS security level, in Postfix's terms (Exim's settings map onto it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// No TLS at all.
    None,
    /// Opportunistic: TLS when offered, no certificate check, plaintext otherwise.
    May,
    /// TLS required, certificate not checked.
    Encrypt,
    /// Opportunistic DANE: authenticated where validated TLSA exists, else `may`.
    Dane,
    /// DANE required.
    DaneOnly,
    /// The certificate or key must match a listed fingerprint.
    Fingerprint,
    /// TLS required, trusted chain, the MX host name matched.
    Verify,
    /// TLS required, trusted chain, the next-hop domain matched.
    Secure,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::May => "may",
            Level::Encrypt => "encrypt",
            Level::Dane => "dane",
            Level::DaneOnly => "dane-only",
            Level::Fingerprint => "fingerprint",
            Level::Verify => "verify",
            Level::Secure => "secure",
        }
    }

    /// Parses a Postfix level name (case-insensitive).
    pub fn parse(name: &str) -> Option<Level> {
        Some(match name.to_ascii_lowercase().as_str() {
            "none" => Level::None,
            "may" => Level::May,
            "encrypt" => Level::Encrypt,
            "dane" => Level::Dane,
            "dane-only" => Level::DaneOnly,
            "fingerprint" => Level::Fingerprint,
            "verify" => Level::Verify,
            "secure" => Level::Secure,
            _ => return None,
        })
    }

    /// Whether a session without TLS, or a failed handshake, stops delivery.
    pub fn requires_tls(self) -> bool {
        !matches!(self, Level::None | Level::May | Level::Dane)
    }

    /// Whether the certificate must chain to a trusted root and match a name.
    pub fn verifies(self) -> bool {
        matches!(self, Level::Verify | Level::Secure)
    }
}

/// The effective client TLS policy for one destination, each part with its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPolicy {
    pub level: Level,
    pub level_origin: Origin,
    /// Certificate name match strategies (`hostname`, `nexthop`, `dot-nexthop`, or
    /// literal names), for `verify` and `secure`.
    #[serde(default)]
    pub matches: Vec<String>,
    /// Protocols in Postfix syntax (`>=TLSv1.2`, `!SSLv3`), as configured for this level.
    #[serde(default)]
    pub protocols: Option<String>,
    /// Cipher grade (`medium`, `high`) in force for this level.
    #[serde(default)]
    pub ciphers: Option<String>,
    /// Cipher exclusions (`aNULL`, `RC4`).
    #[serde(default)]
    pub exclude_ciphers: Option<String>,
}

/// How this relay would carry mail to one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The master.cf service (Postfix) or transport (Exim) that delivers.
    pub transport: String,
    /// Where it connects: the destination domain, `[host]`, `[host]:port` or a relayhost.
    pub nexthop: String,
    /// Whether the nexthop gets an MX lookup (`[brackets]` suppress it).
    pub mx_lookup: bool,
    pub origin: Origin,
}

/// Everything read about this relay for one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayView {
    /// The destination the relay was read for (a relayhost may be what gets probed).
    #[serde(default)]
    pub destination: String,
    /// `None`: no MTA was found or read; `unread` says why, and the named sender profiles
    /// stand in.
    pub mta: Option<Mta>,
    /// The MTA's version (`mail_version`, `exim -bV`).
    pub version: Option<String>,
    pub tls_library: Option<TlsLibrary>,
    pub route: Option<Route>,
    pub policy: Option<ClientPolicy>,
    /// Every other value the prediction rests on (CA file, timeouts, HELO name, bind address...).
    #[serde(default)]
    pub settings: Vec<Setting>,
    /// What could not be read, and why (permission, missing command, unsupported map).
    #[serde(default)]
    pub unread: Vec<String>,
    /// The relay's newest log lines about this destination, newest first, and where
    /// they were read: its own account of what happened to the mail.
    #[serde(default)]
    pub log: Vec<crate::text::SafeText>,
    #[serde(default)]
    pub log_source: Option<String>,
    /// What this relay's client offers, read from its own ClientHello.
    #[serde(default)]
    pub hello: Option<RelayHello>,
}

/// The relay client's ClientHello for this destination, captured on loopback: the
/// sending stack every scan is compared with, measured rather than assumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayHello {
    pub versions: Vec<super::tls::TlsVersion>,
    pub suites: Vec<super::tls::CipherSuite>,
    pub groups: Vec<super::tls::NamedGroup>,
    /// The ClientHello message's size in bytes (a post-quantum key share makes it large).
    pub size: usize,
    /// How it was captured.
    pub command: String,
}

impl RelayView {
    /// The value of a setting read for this destination.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// How a TLS session this relay would establish is authenticated, in Postfix's log words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// "Verified TLS connection established": trusted chain, name matched.
    Verified,
    /// "Trusted TLS connection established": trusted chain, name not checked or not matched.
    Trusted,
    /// "Untrusted TLS connection established": chain not verified.
    Untrusted,
    /// "Anonymous TLS connection established": no certificate at all (aNULL suite).
    Anonymous,
    /// No TLS: the server offered none, or the relay fell back to plaintext.
    Cleartext,
}

/// What this relay does with mail for an address or a whole destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "tls", rename_all = "snake_case")]
pub enum Outcome {
    Deliver(Delivery),
    Defer,
    Bounce,
    /// Not reached: an earlier address already settled the delivery, or a limit stopped it.
    NotTried,
}

/// What decided a prediction: the relay's own client, or this tool's probe read with
/// the relay's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// `posttls-finger` run with the relay's effective settings.
    RelayClient,
    /// This tool's probe, judged with the relay's settings.
    Probe,
}

/// What the relay's own client (`posttls-finger`) saw at one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRun {
    /// The command line, to run again by hand.
    pub command: String,
    /// Its output lines (program-name prefix removed), as evidence.
    pub lines: Vec<crate::text::SafeText>,
    /// Why it could not run, when it could not.
    #[serde(default)]
    pub error: Option<String>,
}

impl ClientRun {
    /// The line that says most about the session: TLS established or why not.
    pub fn summary(&self) -> String {
        if let Some(error) = &self.error {
            return error.clone();
        }
        const KEYS: [&str; 6] = [
            "TLS connection established",
            "TLS library problem",
            "STARTTLS rejected",
            "Failed to establish session",
            "lost connection",
            "timed out",
        ];
        KEYS.iter()
            .find_map(|key| self.lines.iter().find(|l| l.as_str().contains(key)))
            .or_else(|| self.lines.last())
            .map_or_else(String::new, |l| l.as_str().to_string())
    }
}

/// The prediction for one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPrediction {
    pub host: String,
    pub address: IpAddr,
    pub outcome: Outcome,
    /// The words the relay's log would use for this session.
    pub log: String,
    /// What happens to mail already queued longer than `minimal_backoff_time`, when that
    /// differs: Postfix at `may` retries such mail in plaintext after a TLS failure.
    #[serde(default)]
    pub queued: Option<Outcome>,
    pub basis: Basis,
    /// The relay client's command line, to run again by hand (basis `relay_client`).
    #[serde(default)]
    pub command: Option<String>,
}

/// The prediction for the destination: what the queue will see on the next attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prediction {
    pub outcome: Outcome,
    /// The `status=` reason the relay's log would show.
    pub log: String,
    /// The outcome for mail already queued longer than `minimal_backoff_time`, when it differs.
    #[serde(default)]
    pub queued: Option<Outcome>,
    pub addresses: Vec<AddressPrediction>,
    /// When the relay tries equal-preference addresses in a random order and only some
    /// of them deliver, each attempt is a draw: how often it delivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chance: Option<Chance>,
}

/// How often one delivery attempt delivers, when that depends on the order Postfix
/// happens to try the addresses in (`smtp_randomize_addresses`, `smtp_mx_address_limit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chance {
    /// Per cent of attempts that reach an address that delivers (1 to 99).
    pub percent: u8,
    /// Addresses (IPs, whatever names list them) that deliver, of those the relay may try.
    pub delivering: usize,
    pub addresses: usize,
    /// Most addresses one attempt tries (`smtp_mx_address_limit`; 0: no limit).
    pub limit: usize,
    /// What the log says of an attempt that does not deliver.
    pub failing_log: String,
}

impl Outcome {
    /// Whether the relay hands the mail over.
    pub fn delivers(self) -> bool {
        matches!(self, Outcome::Deliver(_))
    }
}

impl Delivery {
    /// Postfix's word for the session in "... TLS connection established".
    pub fn word(self) -> &'static str {
        match self {
            Delivery::Verified => "Verified",
            Delivery::Trusted => "Trusted",
            Delivery::Untrusted => "Untrusted",
            Delivery::Anonymous => "Anonymous",
            Delivery::Cleartext => "cleartext",
        }
    }
}
