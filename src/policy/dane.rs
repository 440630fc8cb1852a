//! DANE for SMTP (RFC 7672): do the recipient's TLSA records match the chain its server presented?
//!
//! Pure matching, no DNS: the caller passes records it already found DNSSEC-secure. The
//! result says per record why it did or did not authenticate the server, since "TLSA
//! mismatch" alone does not tell an operator which record, which certificate, or what to
//! publish instead.

use crate::model::tlsrpt::ResultType;
use std::fmt;

use ring::digest::{SHA256, SHA512, digest};
use rustls::RootCertStore;
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::wording::{pairs, say};
use crate::cert::names::dns_id_matches;
use crate::cert::{TrustOutcome, classify_error, hex, parse, webpki_algorithms};
use crate::text::SafeText;

/// Records examined per check; an RRset is rarely over four, so more is a mistake or an attack.
pub const MAX_RECORDS: usize = 32;

/// Presented certificates a DANE-TA record is compared with; bounds the path validations.
const MAX_CHAIN: usize = 16;

/// Certificate usages (RFC 7218 names).
const USAGE_PKIX_TA: u8 = 0;
const USAGE_PKIX_EE: u8 = 1;
const USAGE_DANE_TA: u8 = 2;
const USAGE_DANE_EE: u8 = 3;

/// One TLSA record (RFC 6698 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    /// Certificate association data; lower-case hex in JSON.
    #[serde(with = "hex_data")]
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Parses the zone-file form "3 1 1 <hex>"; the hex may contain spaces (RFC 6698 §2.2).
    pub fn from_presentation(s: &str) -> Result<Tlsa, String> {
        let mut fields = s.split_whitespace();
        let mut number = |name: &str| -> Result<u8, String> {
            let field = fields
                .next()
                .ok_or_else(|| format!("TLSA record has no {name} field"))?;
            field
                .parse::<u8>()
                .map_err(|_| format!("TLSA {name} {:?} is not a number from 0 to 255", SafeText::clean(field)))
        };
        let (usage, selector, matching) = (number("usage")?, number("selector")?, number("matching type")?);
        let hex_text: String = fields.collect();
        if hex_text.is_empty() {
            return Err("TLSA record has no certificate association data".to_owned());
        }
        let data = decode_hex(&hex_text)?;
        Ok(Tlsa {
            usage,
            selector,
            matching,
            data,
        })
    }

    /// The full zone-file form, what an operator pastes into the zone.
    pub fn presentation(&self) -> String {
        format!("{} {} {} {}", self.usage, self.selector, self.matching, hex(&self.data))
    }

    /// The record for `cert` with these parameters; `None` for an unknown selector or
    /// matching type, or bytes that do not parse as a certificate.
    pub fn for_certificate(cert: &CertificateDer<'_>, usage: u8, selector: u8, matching: u8) -> Option<Tlsa> {
        let parsed = parse(cert.as_ref()).ok();
        let presented = Presented {
            der: cert.as_ref(),
            cert: parsed,
        };
        let data = associated(presented.selected(selector)?, matching)?;
        Some(Tlsa {
            usage,
            selector,
            matching,
            data,
        })
    }
}

/// Abbreviated: a SHA-256 in full drowns the line it appears in.
impl fmt::Display for Tlsa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 12;
        let full = hex(&self.data);
        let data = match full.get(..SHOWN) {
            Some(head) if full.len() > SHOWN + 4 => format!("{head}…"),
            _ => full,
        };
        write!(f, "{} {} {} {data}", self.usage, self.selector, self.matching)
    }
}

/// The TLSA record a recipient should publish for the chain it now serves: `3 x x` names
/// the leaf, `2 x x` its issuer. `None` for other usages or when that certificate is missing.
pub fn presentation_for(chain: &[CertificateDer<'_>], usage: u8, selector: u8, matching: u8) -> Option<String> {
    let position = match usage {
        USAGE_DANE_EE => 0,
        USAGE_DANE_TA => 1,
        _ => return None,
    };
    Tlsa::for_certificate(chain.get(position)?, usage, selector, matching).map(|t| t.presentation())
}

/// Whether a record can take part in SMTP DANE at all (RFC 7672 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usability {
    Usable,
    /// PKIX-TA(0) or PKIX-EE(1): SMTP clients must treat them as unusable (RFC 7672 §3.1.3).
    PkixNotForSmtp,
    UnknownUsage,
    UnknownSelector,
    UnknownMatching,
    /// The data cannot be what the record claims: a digest of the wrong length, or Full(0)
    /// data that is not a certificate (selector 0) or a SubjectPublicKeyInfo (selector 1).
    BadData,
}

/// Why a DANE-TA record that matched a presented certificate still does not authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaFailure {
    /// The leaf, a certificate between it and the anchor, or the anchor itself has expired.
    Expired,
    NotYetValid,
    /// The leaf does not chain up to the matched certificate.
    NoPath,
    /// Another path failure, in webpki's words.
    Invalid {
        reason: String,
    },
    /// The leaf's DNS names cover none of the reference identifiers (RFC 7672 §3.2.2).
    NameMismatch,
}

impl TaFailure {
    fn describe(&self) -> String {
        match self {
            TaFailure::Expired => say("dane_failure", "expired", &[]),
            TaFailure::NotYetValid => say("dane_failure", "not_yet_valid", &[]),
            TaFailure::NoPath => say("dane_failure", "no_path", &[]),
            TaFailure::Invalid { reason } => say("dane_failure", "invalid", &[("reason", reason)]),
            TaFailure::NameMismatch => say("dane_failure", "name_mismatch", &[]),
        }
    }
}

/// What one record did against the presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    pub record: Tlsa,
    pub usable: Usability,
    /// Chain position of the certificate the record matched, among those its usage compares.
    pub matched: Option<usize>,
    /// Set when a DANE-TA record matched but the path or the name check failed.
    pub failure: Option<TaFailure>,
    /// One plain-English sentence for the operator.
    pub note: String,
}

impl RecordResult {
    fn authenticates(&self) -> bool {
        self.usable == Usability::Usable && self.matched.is_some() && self.failure.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DaneOutcome {
    /// `records[record]` matched the certificate at `position` (and, for DANE-TA, validated).
    Authenticated { record: usize, position: usize },
    /// A DANE-TA record matched, but the leaf does not validate up to it.
    TaMatchedButInvalid {
        record: usize,
        position: usize,
        reason: TaFailure,
    },
    /// Usable records exist and none matches. `rotation`: none matches the leaf or its issuer
    /// even ignoring usage, the mark of a certificate or key replaced before its TLSA record.
    Mismatch { rotation: bool },
    /// Only unusable records: TLS stays mandatory but unauthenticated (RFC 7672 §2.2).
    NoUsableRecords,
    /// The server presented no certificate.
    NoChain,
}

impl DaneOutcome {
    /// The RFC 8460 §4.3 result type a TLSRPT-sending MTA would report, `None` when
    /// delivery goes ahead (authenticated, or mandatory-but-unauthenticated TLS).
    pub fn rfc8460_result_type(&self) -> Option<ResultType> {
        match self {
            DaneOutcome::Authenticated { .. } | DaneOutcome::NoUsableRecords => None,
            DaneOutcome::Mismatch { .. } => Some(ResultType::TlsaInvalid),
            DaneOutcome::TaMatchedButInvalid { reason, .. } => Some(match reason {
                TaFailure::Expired => ResultType::CertificateExpired,
                TaFailure::NameMismatch => ResultType::CertificateHostMismatch,
                TaFailure::NoPath => ResultType::CertificateNotTrusted,
                TaFailure::NotYetValid | TaFailure::Invalid { .. } => ResultType::ValidationFailure,
            }),
            DaneOutcome::NoChain => Some(ResultType::ValidationFailure),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaneCheck {
    /// One result per examined record, in the order given.
    pub records: Vec<RecordResult>,
    /// Records beyond [`MAX_RECORDS`], not examined.
    pub skipped: usize,
    pub outcome: DaneOutcome,
}

impl DaneCheck {
    /// One line for an operator: what matched, or what most likely went wrong.
    pub fn summary(&self) -> String {
        let mut line = match &self.outcome {
            DaneOutcome::Authenticated { record, position } => self.authenticated_line(*record, *position),
            DaneOutcome::TaMatchedButInvalid {
                record,
                position,
                reason,
            } => {
                let values = [
                    ("record", self.record(*record)),
                    ("position", position_name(*position)),
                    ("reason", reason.describe()),
                ];
                say("dane", "matches_but", &pairs(&values))
            }
            DaneOutcome::Mismatch { rotation } => self.mismatch_line(*rotation),
            DaneOutcome::NoUsableRecords if self.records.is_empty() => say("dane", "no_records", &[]),
            DaneOutcome::NoUsableRecords => say("dane", "no_usable", &[("count", &self.records.len().to_string())]),
            DaneOutcome::NoChain => say("dane", "no_chain", &[]),
        };
        if self.skipped > 0 {
            line.push_str(&say("dane", "not_examined", &[("count", &self.skipped.to_string())]));
        }
        line
    }

    fn record(&self, index: usize) -> String {
        self.records
            .get(index)
            .map(|r| r.record.to_string())
            .unwrap_or_default()
    }

    fn authenticated_line(&self, record: usize, position: usize) -> String {
        let Some(result) = self.records.get(record) else {
            return say("dane", "matches", &[]);
        };
        let values = [
            ("record", result.record.to_string()),
            ("what", selector_name(result.record.selector).to_owned()),
            ("position", position_name(position)),
        ];
        match position {
            0 if result.record.usage == USAGE_DANE_EE => say("dane", "matches_leaf", &pairs(&values)),
            _ => say("dane", "matches_issuer", &pairs(&values)),
        }
    }

    fn mismatch_line(&self, rotation: bool) -> String {
        let usable = self.records.iter().filter(|r| r.usable == Usability::Usable);
        let only_ta = usable.clone().all(|r| r.record.usage == USAGE_DANE_TA);
        match (rotation, only_ta) {
            (true, true) => say("dane", "rotation_ta", &[]),
            (true, false) => say("dane", "rotation", &[]),
            (false, _) => say("dane", "wrong_usage", &[]),
        }
    }
}

/// Matches `records` (DNSSEC-secure, from the TLSA base domain) against `chain` (leaf first).
///
/// `names` are the reference identifiers a DANE-TA leaf must cover: the TLSA base domain
/// and the MX host name (RFC 7672 §3.2.2). DANE-EE ignores them, and dates too. Never
/// panics on malformed input, and examines at most [`MAX_RECORDS`] records.
pub fn check_chain(records: &[Tlsa], chain: &[CertificateDer<'_>], names: &[&str], now: UnixTime) -> DaneCheck {
    let presented: Vec<Presented<'_>> = chain
        .iter()
        .take(MAX_CHAIN)
        .map(|der| Presented {
            der: der.as_ref(),
            cert: parse(der.as_ref()).ok(),
        })
        .collect();
    let context = Context {
        chain: chain.get(..presented.len()).unwrap_or_default(),
        presented: &presented,
        names,
        now,
    };
    let results: Vec<RecordResult> = records.iter().take(MAX_RECORDS).map(|r| context.check(r)).collect();
    let outcome = outcome(&results, &presented);
    DaneCheck {
        records: results,
        skipped: records.len().saturating_sub(MAX_RECORDS),
        outcome,
    }
}

/// One presented certificate, parsed once for all records.
struct Presented<'a> {
    der: &'a [u8],
    /// `None` when x509-parser refuses it.
    cert: Option<X509Certificate<'a>>,
}

impl Presented<'_> {
    /// The bytes a selector picks: the whole certificate or its DER SubjectPublicKeyInfo.
    ///
    /// Bytes that are not a certificate match nothing, not even `x 0 x` of the same bytes:
    /// no TLS stack would get as far as comparing them.
    fn selected(&self, selector: u8) -> Option<&[u8]> {
        match selector {
            0 => self.cert.as_ref().map(|_| self.der),
            1 => self.cert.as_ref().map(|c| c.public_key().raw),
            _ => None,
        }
    }

    fn matches(&self, record: &Tlsa) -> bool {
        self.selected(record.selector)
            .and_then(|bytes| associated(bytes, record.matching))
            .is_some_and(|data| data == record.data)
    }
}

/// The association data for `bytes`: the bytes themselves, or their SHA-256 or SHA-512.
fn associated(bytes: &[u8], matching: u8) -> Option<Vec<u8>> {
    match matching {
        0 => Some(bytes.to_vec()),
        1 => Some(digest(&SHA256, bytes).as_ref().to_vec()),
        2 => Some(digest(&SHA512, bytes).as_ref().to_vec()),
        _ => None,
    }
}

struct Context<'c> {
    chain: &'c [CertificateDer<'c>],
    presented: &'c [Presented<'c>],
    names: &'c [&'c str],
    now: UnixTime,
}

impl Context<'_> {
    fn check(&self, record: &Tlsa) -> RecordResult {
        let usable = usability(record);
        let mut result = RecordResult {
            record: record.clone(),
            usable,
            matched: None,
            failure: None,
            note: String::new(),
        };
        if usable != Usability::Usable {
            result.note = unusable_note(record, usable);
        } else if self.presented.is_empty() {
            result.note = say("dane_record", "no_certificate", &[]);
        } else if record.usage == USAGE_DANE_EE {
            self.check_ee(&mut result);
        } else {
            self.check_ta(&mut result);
        }
        result
    }

    /// DANE-EE compares the leaf only: names, dates and issuer do not matter (RFC 7672 §3.1.1).
    fn check_ee(&self, result: &mut RecordResult) {
        let what = selector_name(result.record.selector);
        if self.presented.first().is_some_and(|leaf| leaf.matches(&result.record)) {
            result.matched = Some(0);
            result.note = say("dane_record", "ee_matches", &[("what", what)]);
        } else if let Some(other) = self.position_matching(&result.record, 1) {
            let values = [
                ("what", what.to_owned()),
                ("position", position_name(other)),
                ("selector", result.record.selector.to_string()),
                ("matching", result.record.matching.to_string()),
            ];
            result.note = say("dane_record", "ee_wrong_position", &pairs(&values));
        } else {
            result.note = say("dane_record", "ee_no_match", &[("what", what)]);
        }
    }

    /// DANE-TA: the matched certificate is the only anchor, and the leaf must validate up to
    /// it and carry one of the names (RFC 7672 §3.1.2). The leaf itself is tried last: it
    /// can only serve when it is self-signed.
    fn check_ta(&self, result: &mut RecordResult) {
        let positions = (1..self.presented.len()).chain([0]);
        let mut first_failure: Option<(usize, TaFailure)> = None;
        for position in positions.filter(|&p| self.presented[p].matches(&result.record)) {
            match self.validate_ta(position) {
                Ok(()) => {
                    result.matched = Some(position);
                    result.note = ta_note(position, None);
                    return;
                }
                Err(failure) => {
                    first_failure.get_or_insert((position, failure));
                }
            }
        }
        match first_failure {
            Some((position, failure)) => {
                result.note = ta_note(position, Some(&failure));
                result.matched = Some(position);
                result.failure = Some(failure);
            }
            None => result.note = say("dane_record", "ta_not_in_chain", &[]),
        }
    }

    /// The first certificate at or after `from` that the record matches, whatever its usage.
    fn position_matching(&self, record: &Tlsa, from: usize) -> Option<usize> {
        (from..self.presented.len()).find(|&p| self.presented[p].matches(record))
    }

    /// webpki with the certificate at `anchor` as the only trust anchor, then its dates and the names.
    fn validate_ta(&self, anchor: usize) -> Result<(), TaFailure> {
        let mut roots = RootCertStore::empty();
        roots.add(self.chain[anchor].clone()).map_err(|e| classify(&e))?;
        let leaf = ParsedCertificate::try_from(&self.chain[0]).map_err(|e| classify(&e))?;
        let intermediates = self.chain.get(1..anchor).unwrap_or_default();
        verify_server_cert_signed_by_trust_anchor(&leaf, &roots, intermediates, self.now, webpki_algorithms())
            .map_err(|e| classify(&e))?;
        self.anchor_dates(anchor)?;
        self.names_match()
    }

    /// webpki never checks an anchor's own dates; OpenSSL (so Postfix) does for a certificate
    /// it has in the chain, so an expired DANE-TA certificate fails there.
    fn anchor_dates(&self, anchor: usize) -> Result<(), TaFailure> {
        let Some(cert) = &self.presented[anchor].cert else {
            return Ok(());
        };
        let now = i64::try_from(self.now.as_secs()).unwrap_or(i64::MAX);
        let validity = cert.validity();
        if now < validity.not_before.timestamp() {
            Err(TaFailure::NotYetValid)
        } else if now > validity.not_after.timestamp() {
            Err(TaFailure::Expired)
        } else {
            Ok(())
        }
    }

    /// Some DNS SAN of the leaf covers some reference identifier; the CN does not count.
    fn names_match(&self) -> Result<(), TaFailure> {
        let sans = match self.presented[0].cert.as_ref().map(|c| c.subject_alternative_name()) {
            Some(Ok(Some(ext))) => ext.value.general_names.as_slice(),
            _ => &[],
        };
        let covered = sans.iter().any(|san| match san {
            GeneralName::DNSName(dns) => self.names.iter().any(|name| dns_id_matches(name, dns)),
            _ => false,
        });
        if covered { Ok(()) } else { Err(TaFailure::NameMismatch) }
    }
}

fn ta_note(position: usize, failure: Option<&TaFailure>) -> String {
    let leaf_hint = if position == 0 {
        say("dane_record", "ta_leaf_hint", &[])
    } else {
        String::new()
    };
    let values = [
        ("position", position_name(position)),
        ("leaf_hint", leaf_hint),
        ("reason", failure.map(TaFailure::describe).unwrap_or_default()),
    ];
    let key = if failure.is_some() { "ta_failed" } else { "ta_valid" };
    say("dane_record", key, &pairs(&values))
}

/// webpki's verdict with the matched certificate as the only anchor: an unknown issuer
/// means the leaf does not chain up to it.
fn classify(error: &rustls::Error) -> TaFailure {
    match classify_error(error) {
        TrustOutcome::Expired => TaFailure::Expired,
        TrustOutcome::NotYetValid => TaFailure::NotYetValid,
        TrustOutcome::UnknownIssuer => TaFailure::NoPath,
        TrustOutcome::Invalid { reason } => TaFailure::Invalid { reason },
        // Never the verdict for an error; webpki's wording, sanitised, all the same.
        TrustOutcome::Trusted | TrustOutcome::StoreEmpty => TaFailure::Invalid {
            reason: SafeText::clean(&error.to_string()),
        },
    }
}

fn usability(record: &Tlsa) -> Usability {
    match record.usage {
        USAGE_PKIX_TA | USAGE_PKIX_EE => return Usability::PkixNotForSmtp,
        USAGE_DANE_TA | USAGE_DANE_EE => {}
        _ => return Usability::UnknownUsage,
    }
    if record.selector > 1 {
        return Usability::UnknownSelector;
    }
    let plausible = match record.matching {
        0 => full_data_parses(record.selector, &record.data),
        1 => record.data.len() == SHA256.output_len(),
        2 => record.data.len() == SHA512.output_len(),
        _ => return Usability::UnknownMatching,
    };
    if plausible {
        Usability::Usable
    } else {
        Usability::BadData
    }
}

/// Full(0) data must be the DER the selector picks, with nothing after it.
fn full_data_parses(selector: u8, data: &[u8]) -> bool {
    match selector {
        0 => parse(data).is_ok(),
        _ => matches!(SubjectPublicKeyInfo::from_der(data), Ok((rest, _)) if rest.is_empty()),
    }
}

fn unusable_note(record: &Tlsa, usable: Usability) -> String {
    match usable {
        Usability::PkixNotForSmtp => say("dane_record", "pkix", &[("usage", usage_name(record.usage))]),
        Usability::UnknownUsage => say("dane_record", "unknown_usage", &[("usage", &record.usage.to_string())]),
        Usability::UnknownSelector => say(
            "dane_record",
            "unknown_selector",
            &[("selector", &record.selector.to_string())],
        ),
        Usability::UnknownMatching => say(
            "dane_record",
            "unknown_matching",
            &[("matching", &record.matching.to_string())],
        ),
        Usability::BadData => bad_data_note(record),
        Usability::Usable => String::new(),
    }
}

fn bad_data_note(record: &Tlsa) -> String {
    let length = record.data.len().to_string();
    let key = match (record.matching, record.selector) {
        (1, _) => "sha256_length",
        (2, _) => "sha512_length",
        (_, 0) => "full_not_certificate",
        _ => "full_not_spki",
    };
    say("dane_record", key, &[("length", &length)])
}

fn outcome(results: &[RecordResult], presented: &[Presented<'_>]) -> DaneOutcome {
    if presented.is_empty() {
        return DaneOutcome::NoChain;
    }
    let found = |pred: fn(&RecordResult) -> bool| results.iter().enumerate().find(|(_, r)| pred(r));
    if let Some((record, r)) = found(RecordResult::authenticates) {
        return DaneOutcome::Authenticated {
            record,
            position: r.matched.unwrap_or_default(),
        };
    }
    if let Some((record, r)) = found(|r| r.failure.is_some()) {
        return DaneOutcome::TaMatchedButInvalid {
            record,
            position: r.matched.unwrap_or_default(),
            reason: r.failure.clone().unwrap_or(TaFailure::NoPath),
        };
    }
    let mut usable = results.iter().filter(|r| r.usable == Usability::Usable).peekable();
    if usable.peek().is_none() {
        return DaneOutcome::NoUsableRecords;
    }
    let near_leaf = &presented[..presented.len().min(2)];
    let rotation = !usable.any(|r| near_leaf.iter().any(|p| p.matches(&r.record)));
    DaneOutcome::Mismatch { rotation }
}

fn usage_name(usage: u8) -> &'static str {
    match usage {
        USAGE_PKIX_TA => "PKIX-TA(0)",
        USAGE_PKIX_EE => "PKIX-EE(1)",
        USAGE_DANE_TA => "DANE-TA(2)",
        USAGE_DANE_EE => "DANE-EE(3)",
        _ => "unknown-usage",
    }
}

fn selector_name(selector: u8) -> &'static str {
    match selector {
        0 => "certificate",
        _ => "public key",
    }
}

fn position_name(position: usize) -> String {
    match position {
        0 => "the leaf".to_owned(),
        1 => "its issuer (position 1)".to_owned(),
        n => format!("the certificate at position {n}"),
    }
}

/// Hex digits to bytes; either case, no separators.
fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("TLSA data has an odd number of hex digits ({})", digits.len()));
    }
    let nibble = |c: u8| char::from(c).to_digit(16).map(|d| d as u8);
    digits
        .chunks_exact(2)
        .map(|pair| match (nibble(pair[0]), nibble(pair[1])) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => Err("TLSA data is not hexadecimal".to_owned()),
        })
        .collect()
}

/// `data` as a lower-case hex string, as zone files and other tools show it.
mod hex_data {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::cert::hex(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::decode_hex(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use super::*;
    use crate::cert::test_pki::{Issued, MX, issue, params, root_and_intermediate, self_signed};

    /// Root → intermediate → leaf for `MX`; the server sends leaf and intermediate.
    struct Pki {
        root: Issued,
        inter: Issued,
        leaf: Issued,
    }

    impl Pki {
        fn new() -> Pki {
            Pki::with_leaf(&[MX], 0)
        }

        /// `shift_days` moves the leaf's validity window (negative: expired).
        fn with_leaf(sans: &[&str], shift_days: i64) -> Pki {
            let (root, inter) = root_and_intermediate();
            let leaf = issue(params(MX, sans, false, shift_days - 1, shift_days + 90), &inter);
            Pki { root, inter, leaf }
        }

        fn chain(&self) -> Vec<CertificateDer<'static>> {
            vec![self.leaf.der(), self.inter.der()]
        }

        fn check(&self, records: &[Tlsa]) -> DaneCheck {
            check_chain(records, &self.chain(), &[MX], now())
        }
    }

    fn now() -> UnixTime {
        UnixTime::now()
    }

    fn record(cert: &CertificateDer<'_>, usage: u8, selector: u8, matching: u8) -> Tlsa {
        Tlsa::for_certificate(cert, usage, selector, matching).unwrap()
    }

    fn tlsa(s: &str) -> Tlsa {
        Tlsa::from_presentation(s).unwrap()
    }

    #[track_caller]
    fn assert_mentions(text: &str, part: &str) {
        assert!(text.contains(part), "{text}");
    }

    #[track_caller]
    fn assert_ta_expired(outcome: &DaneOutcome) {
        assert!(
            matches!(
                outcome,
                DaneOutcome::TaMatchedButInvalid {
                    reason: TaFailure::Expired,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }

    #[test]
    fn dane_ee_forms_match_the_leaf() {
        let pki = Pki::new();
        for (selector, matching) in [(1, 1), (0, 1), (1, 2), (0, 0), (1, 0), (0, 2)] {
            let check = pki.check(&[record(&pki.leaf.der(), 3, selector, matching)]);
            assert_eq!(
                check.outcome,
                DaneOutcome::Authenticated { record: 0, position: 0 },
                "3 {selector} {matching}"
            );
            assert_mentions(&check.records[0].note, "does not check names");
        }
        let check = pki.check(&[record(&pki.leaf.der(), 3, 1, 1)]);
        assert!(check.summary().starts_with("TLSA 3 1 1 "), "{}", check.summary());
        assert!(
            check.summary().ends_with("matches the leaf's public key"),
            "{}",
            check.summary()
        );
    }

    #[test]
    fn selector_one_is_the_der_spki() {
        let pki = Pki::new();
        assert_eq!(record(&pki.leaf.der(), 3, 1, 0).data, pki.leaf.key.public_key_der());
        assert_eq!(record(&pki.leaf.der(), 3, 0, 0).data, pki.leaf.der().as_ref());
        let spki_sha256 = digest(&SHA256, &pki.leaf.key.public_key_der());
        assert_eq!(record(&pki.leaf.der(), 3, 1, 1).data, spki_sha256.as_ref());
    }

    #[test]
    fn dane_ee_ignores_names_and_dates() {
        let pki = Pki::with_leaf(&["www.unrelated.example"], -200);
        let check = pki.check(&[record(&pki.leaf.der(), 3, 1, 1)]);
        assert_eq!(check.outcome, DaneOutcome::Authenticated { record: 0, position: 0 });
        assert_eq!(check.outcome.rfc8460_result_type(), None);
    }

    #[test]
    fn dane_ta_on_the_intermediate_validates() {
        let pki = Pki::new();
        let check = pki.check(&[record(&pki.inter.der(), 2, 1, 1)]);
        assert_eq!(check.outcome, DaneOutcome::Authenticated { record: 0, position: 1 });
        assert_mentions(&check.summary(), "leaf validates up to it");
    }

    #[test]
    fn dane_ta_on_a_sent_root_validates_through_the_intermediate() {
        let pki = Pki::new();
        let chain = vec![pki.leaf.der(), pki.inter.der(), pki.root.der()];
        let check = check_chain(&[record(&pki.root.der(), 2, 0, 1)], &chain, &[MX], now());
        assert_eq!(check.outcome, DaneOutcome::Authenticated { record: 0, position: 2 });
    }

    #[test]
    fn dane_ta_accepts_any_of_the_reference_names() {
        let pki = Pki::with_leaf(&["mail.example.test"], 0);
        let check = check_chain(
            &[record(&pki.inter.der(), 2, 1, 1)],
            &pki.chain(),
            &[MX, "mail.example.test"],
            now(),
        );
        assert_eq!(check.outcome, DaneOutcome::Authenticated { record: 0, position: 1 });
    }

    #[test]
    fn dane_ta_with_the_wrong_leaf_name_is_invalid() {
        let pki = Pki::with_leaf(&["www.unrelated.example"], 0);
        let check = pki.check(&[record(&pki.inter.der(), 2, 0, 1)]);
        assert_eq!(
            check.outcome,
            DaneOutcome::TaMatchedButInvalid {
                record: 0,
                position: 1,
                reason: TaFailure::NameMismatch
            }
        );
        assert_eq!(
            check.outcome.rfc8460_result_type(),
            Some(ResultType::CertificateHostMismatch)
        );
        assert_mentions(&check.summary(), "do not cover the MX host");
    }

    #[test]
    fn dane_ta_with_an_expired_leaf_is_invalid() {
        let pki = Pki::with_leaf(&[MX], -200);
        let check = pki.check(&[record(&pki.inter.der(), 2, 1, 1)]);
        assert_ta_expired(&check.outcome);
        assert_eq!(
            check.outcome.rfc8460_result_type(),
            Some(ResultType::CertificateExpired)
        );
    }

    #[test]
    fn dane_ta_with_an_expired_anchor_is_invalid() {
        let root = self_signed(params("old root", &[], true, -400, -10));
        let leaf = issue(params(MX, &[MX], false, -100, 100), &root);
        let chain = vec![leaf.der(), root.der()];
        let check = check_chain(&[record(&root.der(), 2, 1, 1)], &chain, &[MX], now());
        assert!(
            matches!(
                check.outcome,
                DaneOutcome::TaMatchedButInvalid {
                    reason: TaFailure::Expired,
                    position: 1,
                    ..
                }
            ),
            "{:?}",
            check.outcome
        );
    }

    #[test]
    fn dane_ta_matching_an_unrelated_sent_certificate_has_no_path() {
        let pki = Pki::new();
        let other = self_signed(params("other CA", &[], true, -30, 1000));
        let chain = vec![pki.leaf.der(), other.der()];
        let check = check_chain(&[record(&other.der(), 2, 1, 1)], &chain, &[MX], now());
        assert_eq!(
            check.outcome,
            DaneOutcome::TaMatchedButInvalid {
                record: 0,
                position: 1,
                reason: TaFailure::NoPath
            }
        );
        assert_eq!(
            check.outcome.rfc8460_result_type(),
            Some(ResultType::CertificateNotTrusted)
        );
    }

    #[test]
    fn dane_ta_matching_a_ca_not_sent_is_a_mismatch() {
        let pki = Pki::new();
        let check = pki.check(&[record(&pki.root.der(), 2, 1, 1)]);
        assert_eq!(check.outcome, DaneOutcome::Mismatch { rotation: true });
        assert_eq!(check.outcome.rfc8460_result_type(), Some(ResultType::TlsaInvalid));
        assert_mentions(&check.summary(), "RFC 7672 §3.1.2");
    }

    #[test]
    fn dane_ta_matching_a_non_self_signed_leaf_is_marked() {
        let pki = Pki::new();
        let check = pki.check(&[record(&pki.leaf.der(), 2, 1, 1)]);
        assert_eq!(
            check.outcome,
            DaneOutcome::TaMatchedButInvalid {
                record: 0,
                position: 0,
                reason: TaFailure::NoPath
            }
        );
        assert_mentions(&check.records[0].note, "the leaf itself");
    }

    #[test]
    fn replaced_leaf_key_is_a_rotation() {
        let old = Pki::new();
        let new = Pki::new();
        let records = [record(&old.leaf.der(), 3, 1, 1), record(&old.leaf.der(), 3, 0, 1)];
        let check = new.check(&records);
        assert_eq!(check.outcome, DaneOutcome::Mismatch { rotation: true });
        assert_mentions(&check.summary(), "probably replaced");
        assert_eq!(check.records[0].matched, None);
    }

    #[test]
    fn dane_ee_record_of_the_issuer_is_not_a_rotation() {
        let pki = Pki::new();
        let check = pki.check(&[record(&pki.inter.der(), 3, 1, 1)]);
        assert_eq!(check.outcome, DaneOutcome::Mismatch { rotation: false });
        assert_mentions(&check.records[0].note, "publish it as 2 1 1");
    }

    #[test]
    fn one_matching_record_is_enough() {
        let old = Pki::new();
        let pki = Pki::new();
        let records = [record(&old.leaf.der(), 3, 1, 1), record(&pki.leaf.der(), 3, 1, 1)];
        assert_eq!(
            pki.check(&records).outcome,
            DaneOutcome::Authenticated { record: 1, position: 0 }
        );
    }

    #[test]
    fn pkix_usages_are_unusable_for_smtp() {
        let pki = Pki::new();
        let records = [record(&pki.leaf.der(), 1, 1, 1), record(&pki.inter.der(), 0, 1, 1)];
        let check = pki.check(&records);
        assert!(check.records.iter().all(|r| r.usable == Usability::PkixNotForSmtp));
        assert_eq!(check.outcome, DaneOutcome::NoUsableRecords);
        assert_eq!(check.outcome.rfc8460_result_type(), None);
        assert_mentions(&check.summary(), "cannot authenticate");
    }

    #[test]
    fn unusable_records_do_not_hide_a_usable_one() {
        let pki = Pki::new();
        let records = [record(&pki.leaf.der(), 1, 1, 1), record(&pki.leaf.der(), 3, 1, 1)];
        assert_eq!(
            pki.check(&records).outcome,
            DaneOutcome::Authenticated { record: 1, position: 0 }
        );
    }

    #[test]
    fn bad_lengths_and_unknown_parameters_are_unusable() {
        let pki = Pki::new();
        let digest32 = "ab".repeat(32);
        let cases = [
            (format!("3 1 1 {}", "ab".repeat(20)), Usability::BadData),
            (format!("3 1 2 {digest32}"), Usability::BadData),
            ("3 0 0 3000".to_owned(), Usability::BadData),
            ("3 1 0 0102".to_owned(), Usability::BadData),
            (format!("4 1 1 {digest32}"), Usability::UnknownUsage),
            (format!("255 1 1 {digest32}"), Usability::UnknownUsage),
            (format!("3 2 1 {digest32}"), Usability::UnknownSelector),
            (format!("3 1 3 {digest32}"), Usability::UnknownMatching),
        ];
        for (text, want) in cases {
            let check = pki.check(&[tlsa(&text)]);
            assert_eq!(check.records[0].usable, want, "{text}");
            assert_eq!(check.outcome, DaneOutcome::NoUsableRecords, "{text}");
        }
        let short = pki.check(&[tlsa(&format!("3 1 1 {}", "ab".repeat(20)))]);
        assert_mentions(&short.records[0].note, "this one is 20");
    }

    #[test]
    fn garbage_in_the_chain_matches_nothing_and_never_panics() {
        let pki = Pki::new();
        let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01]);
        let of_garbage = |usage, matching| Tlsa {
            usage,
            selector: 0,
            matching,
            data: associated(garbage.as_ref(), matching).unwrap(),
        };
        let records = [
            tlsa(&format!("3 1 1 {}", "ab".repeat(32))),
            of_garbage(2, 1),
            of_garbage(3, 2),
        ];
        for chain in [
            vec![garbage.clone()],
            vec![pki.leaf.der(), garbage.clone()],
            vec![garbage.clone(), pki.inter.der()],
            vec![CertificateDer::from(Vec::new())],
        ] {
            let check = check_chain(&records, &chain, &[MX], now());
            assert_eq!(check.outcome, DaneOutcome::Mismatch { rotation: true }, "{chain:?}");
            assert!(check.records.iter().all(|r| r.matched.is_none()));
        }
        assert_eq!(Tlsa::for_certificate(&garbage, 3, 0, 1), None);
        assert_eq!(presentation_for(&[garbage], 3, 1, 1), None);
    }

    #[test]
    fn dane_ta_matching_a_self_signed_leaf_validates() {
        let leaf = self_signed(params(MX, &[MX], false, -1, 90));
        let check = check_chain(&[record(&leaf.der(), 2, 1, 1)], &[leaf.der()], &[MX], now());
        assert_eq!(check.outcome, DaneOutcome::Authenticated { record: 0, position: 0 });
    }

    #[test]
    fn empty_chain_is_no_chain() {
        let pki = Pki::new();
        let check = check_chain(&[record(&pki.leaf.der(), 3, 1, 1)], &[], &[MX], now());
        assert_eq!(check.outcome, DaneOutcome::NoChain);
        assert_eq!(check.records[0].matched, None);
        assert_eq!(check.outcome.rfc8460_result_type(), Some(ResultType::ValidationFailure));
    }

    #[test]
    fn records_beyond_the_limit_are_counted_not_examined() {
        let pki = Pki::new();
        let mut records = vec![tlsa(&format!("3 1 1 {}", "ab".repeat(32))); MAX_RECORDS];
        records.push(record(&pki.leaf.der(), 3, 1, 1));
        let check = pki.check(&records);
        assert_eq!(check.records.len(), MAX_RECORDS);
        assert_eq!(check.skipped, 1);
        assert_eq!(check.outcome, DaneOutcome::Mismatch { rotation: true });
        assert_mentions(&check.summary(), "1 more records were not examined");
    }

    #[test]
    fn time_is_the_callers() {
        let pki = Pki::new();
        let later = UnixTime::since_unix_epoch(StdDuration::from_secs(now().as_secs() + 200 * 86_400));
        let check = check_chain(&[record(&pki.inter.der(), 2, 1, 1)], &pki.chain(), &[MX], later);
        assert_ta_expired(&check.outcome);
    }

    #[test]
    fn presentation_for_names_leaf_and_issuer() {
        let pki = Pki::new();
        let chain = pki.chain();
        let ee = presentation_for(&chain, 3, 1, 1).unwrap();
        assert_eq!(ee, record(&pki.leaf.der(), 3, 1, 1).presentation());
        assert_eq!(tlsa(&ee), record(&pki.leaf.der(), 3, 1, 1));
        let ta = presentation_for(&chain, 2, 1, 1).unwrap();
        assert_eq!(ta, record(&pki.inter.der(), 2, 1, 1).presentation());
        assert_eq!(presentation_for(&chain[..1], 2, 1, 1), None);
        assert_eq!(presentation_for(&chain, 1, 1, 1), None);
        assert_eq!(presentation_for(&chain, 3, 1, 7), None);
        assert_eq!(
            pki.check(&[tlsa(&ta)]).outcome,
            DaneOutcome::Authenticated { record: 0, position: 1 }
        );
    }

    #[test]
    fn presentation_parses_case_and_spaces() {
        let t = tlsa("3 1 1 AB12 cd34\t00");
        assert_eq!((t.usage, t.selector, t.matching), (3, 1, 1));
        assert_eq!(t.data, vec![0xab, 0x12, 0xcd, 0x34, 0x00]);
        assert_eq!(t.presentation(), "3 1 1 ab12cd3400");
    }

    #[test]
    fn presentation_errors_are_explained() {
        for (text, want) in [
            ("", "no usage"),
            ("3 1", "no matching type"),
            ("3 1 1", "no certificate association data"),
            ("3 1 1 abc", "odd number"),
            ("3 1 1 zz", "not hexadecimal"),
            ("3 1 1 éé", "not hexadecimal"),
            ("256 1 1 ab", "not a number"),
            ("-1 1 1 ab", "not a number"),
        ] {
            let err = Tlsa::from_presentation(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }

    #[test]
    fn display_abbreviates_long_data() {
        let long = tlsa(&format!("3 1 1 {}", "ab12".repeat(16)));
        assert_eq!(long.to_string(), "3 1 1 ab12ab12ab12…");
        assert_eq!(tlsa("2 0 1 ab12").to_string(), "2 0 1 ab12");
    }

    #[test]
    fn json_carries_data_as_lower_case_hex() {
        let t = tlsa("3 1 1 AB12");
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"usage":3,"selector":1,"matching":1,"data":"ab12"}"#);
        assert_eq!(serde_json::from_str::<Tlsa>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Tlsa>(r#"{"usage":3,"selector":1,"matching":1,"data":"xyz"}"#).is_err());
    }

    #[test]
    fn check_round_trips_through_json() {
        let pki = Pki::with_leaf(&["www.unrelated.example"], 0);
        let check = pki.check(&[record(&pki.inter.der(), 2, 1, 1), tlsa("1 1 1 ab")]);
        let json = serde_json::to_string(&check).unwrap();
        assert!(json.contains(r#""kind":"ta_matched_but_invalid""#), "{json}");
        assert!(json.contains(r#""reason":{"kind":"name_mismatch"}"#), "{json}");
        assert_eq!(serde_json::from_str::<DaneCheck>(&json).unwrap(), check);
    }
}
