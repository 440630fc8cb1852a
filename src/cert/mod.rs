//! Certificate analysis: what the server presented, whether each trust store
//! accepts it, and whether it covers the MX name.
//!
//! rustls/webpki give the verdicts; x509-parser gives the explanation.

use serde::{Deserialize, Serialize};

use crate::text::SafeText;

mod analyze;
mod der;
mod info;
pub mod names;
mod signature;
pub mod stores;
#[cfg(test)]
pub(crate) mod test_pki;
mod trust;

pub use analyze::analyze;
pub(crate) use info::{hex, parse};
pub(crate) use signature::webpki_algorithms;
pub use stores::{CertError, SystemLoad, TrustStores};
pub(crate) use trust::classify_error;

/// One certificate as presented, position 0 being the leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertInfo {
    pub position: usize,
    pub subject: SafeText,
    pub issuer: SafeText,
    /// Hex, colon-free.
    pub serial: String,
    /// DNS names and IP addresses from the subjectAltName extension.
    pub sans: Vec<SafeText>,
    /// RFC 3339.
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after`; negative once expired.
    pub days_remaining: i64,
    pub key_algorithm: String,
    pub key_bits: Option<u32>,
    pub signature_algorithm: String,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub sha256: String,
    /// SHA-256 of the DER SubjectPublicKeyInfo (what TLSA `x 1 1` publishes).
    pub spki_sha256: String,
    pub is_ca: bool,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    /// Set when x509-parser could not read the certificate (or found bytes after it); the
    /// other fields are then empty, except `position` and `sha256`, which still identify
    /// the bytes that were sent.
    pub parse_error: Option<String>,
}

/// The link between certificate `n` and `n + 1` in the presented order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub child: usize,
    pub parent: usize,
    /// The child's issuer name equals the parent's subject name.
    pub names_match: bool,
    /// The parent's key verifies the child's signature.
    pub signature_valid: bool,
}

/// Whether the server sent every certificate needed to reach a trust anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Completeness {
    /// The top of the presented chain is self-signed or issued by a known anchor.
    Complete,
    /// The issuer of the top certificate was neither sent nor is a known anchor.
    MissingIssuer { issuer: SafeText },
    /// The certificates were sent out of order or contain unrelated ones.
    Disordered,
    /// No certificates were presented.
    Empty,
    /// The server sent more certificates than are kept; the top of what was kept is not
    /// an anchor, but its issuer may well have been among those dropped, so nothing is
    /// claimed missing.
    Truncated { sent: usize, kept: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustStore {
    /// The Mozilla root programme (webpki-roots), what most public senders trust.
    Mozilla,
    /// This host's own store (rustls-native-certs), what the local MTA likely uses.
    System,
    /// Anchors from `--ca-file`.
    CaFile,
}

impl TrustStore {
    pub fn label(self) -> &'static str {
        match self {
            TrustStore::Mozilla => "Mozilla roots",
            TrustStore::System => "system store",
            TrustStore::CaFile => "--ca-file",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TrustOutcome {
    Trusted,
    /// No path to an anchor of this store (self-signed, private CA, missing intermediate).
    UnknownIssuer,
    /// The path exists but a certificate in it has expired.
    Expired,
    /// The path exists but a certificate in it is not valid yet (or our clock is wrong).
    NotYetValid,
    /// Another path-building failure, as webpki described it.
    Invalid {
        reason: String,
    },
    /// The store has no anchors on this host (or `--ca-file` was not given).
    StoreEmpty,
}

impl TrustOutcome {
    pub fn describe(&self) -> String {
        match self {
            TrustOutcome::Trusted => "trusted".to_string(),
            TrustOutcome::UnknownIssuer => "unknown issuer".to_string(),
            TrustOutcome::Expired => "expired".to_string(),
            TrustOutcome::NotYetValid => "not yet valid".to_string(),
            TrustOutcome::Invalid { reason } => format!("invalid ({reason})"),
            TrustOutcome::StoreEmpty => "no anchors".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustResult {
    pub store: TrustStore,
    pub anchors: usize,
    pub outcome: TrustOutcome,
}

/// RFC 6125 / RFC 9525 check of the MX name against the leaf's DNS-IDs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameCheck {
    /// The reference identifier (the MX host name).
    pub reference: String,
    /// The presented identifier that matched, if any.
    pub matched_by: Option<SafeText>,
    /// The leaf has no DNS SAN and only a subject CN (legacy senders accept it, webpki and MTA-STS do not).
    pub cn_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainReport {
    pub certificates: Vec<CertInfo>,
    pub links: Vec<ChainLink>,
    pub completeness: Completeness,
    pub trust: Vec<TrustResult>,
    pub name: NameCheck,
    /// How many certificates the server sent, when more than were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<usize>,
}

impl ChainReport {
    /// At least one store that has anchors accepts the chain.
    pub fn is_trusted(&self) -> bool {
        self.trust.iter().any(|t| t.outcome == TrustOutcome::Trusted)
    }

    pub fn name_matches(&self) -> bool {
        self.name.matched_by.is_some()
    }

    pub fn leaf(&self) -> Option<&CertInfo> {
        self.certificates.first()
    }

    /// Records that the server sent `sent` certificates of which only those analysed were
    /// kept: a missing issuer is then unknown rather than absent.
    pub fn mark_cut(&mut self, sent: usize) {
        let kept = self.certificates.len();
        if sent > kept && matches!(self.completeness, Completeness::MissingIssuer { .. }) {
            self.completeness = Completeness::Truncated { sent, kept };
        }
        if sent > kept {
            self.sent = Some(sent);
        }
    }
}
