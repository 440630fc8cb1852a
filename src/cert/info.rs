//! Turning one presented certificate into a [`CertInfo`]: the facts an operator needs
//! to recognise it (names, dates, key, fingerprints) with every peer string sanitised.

use std::fmt::Write as _;
use std::net::IpAddr;

use ring::digest::{SHA256, digest};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_PKCS1_RSAENCRYPTION,
    OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::CertInfo;
use super::signature::{Algorithms, is_signed_by};
use crate::text::SafeText;

/// Parses one DER certificate, refusing trailing bytes as webpki does.
pub(crate) fn parse(der: &[u8]) -> Result<X509Certificate<'_>, String> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(format!("{} trailing bytes after the certificate", rest.len())),
        Err(e) => Err(SafeText::from_peer_str(&e.to_string()).as_str().to_owned()),
    }
}

/// Describes the certificate at `position`; `now` is in Unix seconds.
pub(crate) fn describe(
    position: usize,
    der: &[u8],
    parsed: &Result<X509Certificate<'_>, String>,
    now: i64,
    algs: Algorithms,
) -> CertInfo {
    let cert = match parsed {
        Ok(cert) => cert,
        Err(e) => return unparsed(position, der, e),
    };
    let validity = cert.validity();
    let spki = cert.public_key();
    let (key_algorithm, key_bits) = key_description(spki);
    CertInfo {
        position,
        subject: SafeText::from_peer_str(&cert.subject().to_string()),
        issuer: SafeText::from_peer_str(&cert.issuer().to_string()),
        serial: serial_hex(cert.raw_serial()),
        sans: sans(cert),
        not_before: rfc3339(&validity.not_before),
        not_after: rfc3339(&validity.not_after),
        days_remaining: validity.not_after.timestamp().saturating_sub(now).div_euclid(86_400),
        key_algorithm,
        key_bits,
        signature_algorithm: oid_name(&cert.signature_algorithm.algorithm),
        sha256: sha256_hex(der),
        spki_sha256: sha256_hex(spki.raw),
        is_ca: cert.is_ca(),
        self_signed: is_self_signed(cert, der, algs),
        parse_error: None,
    }
}

/// Issuer equals subject byte for byte and the certificate verifies under its own key.
pub(crate) fn is_self_signed(cert: &X509Certificate<'_>, der: &[u8], algs: Algorithms) -> bool {
    cert.issuer().as_raw() == cert.subject().as_raw() && is_signed_by(cert, der, cert.public_key(), algs)
}

/// The fingerprint is still given: it identifies the bytes even when they are not a certificate.
fn unparsed(position: usize, der: &[u8], error: &str) -> CertInfo {
    CertInfo {
        position,
        subject: SafeText::default(),
        issuer: SafeText::default(),
        serial: String::new(),
        sans: Vec::new(),
        not_before: String::new(),
        not_after: String::new(),
        days_remaining: 0,
        key_algorithm: String::new(),
        key_bits: None,
        signature_algorithm: String::new(),
        sha256: sha256_hex(der),
        spki_sha256: String::new(),
        is_ca: false,
        self_signed: false,
        parse_error: Some(error.to_owned()),
    }
}

/// DNS names and IP addresses of the subjectAltName extension, in presented order.
fn sans(cert: &X509Certificate<'_>) -> Vec<SafeText> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(SafeText::from_peer_str(dns)),
            GeneralName::IPAddress(octets) => Some(SafeText::from_peer_str(&ip_text(octets))),
            _ => None,
        })
        .collect()
}

/// An iPAddress SAN as text; malformed lengths are shown in hex rather than dropped.
pub(crate) fn ip_text(octets: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        IpAddr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(octets) {
        IpAddr::from(v6).to_string()
    } else {
        format!("invalid-ip:{}", hex(octets))
    }
}

/// Key type and size, e.g. ("EC P-256", 256) or ("RSA", 2048).
fn key_description(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_PKCS1_RSAENCRYPTION {
        let bits = match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => rsa_modulus_bits(rsa.modulus),
            _ => None,
        };
        ("RSA".to_owned(), bits)
    } else if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok());
        match curve {
            Some(c) if c == OID_EC_P256 => ("EC P-256".to_owned(), Some(256)),
            Some(c) if c == OID_NIST_EC_P384 => ("EC P-384".to_owned(), Some(384)),
            Some(c) if c == OID_NIST_EC_P521 => ("EC P-521".to_owned(), Some(521)),
            Some(c) => (format!("EC {}", oid_name(&c)), None),
            None => ("EC".to_owned(), None),
        }
    } else if *oid == OID_SIG_ED25519 {
        ("Ed25519".to_owned(), Some(256))
    } else if *oid == OID_SIG_ED448 {
        ("Ed448".to_owned(), Some(456))
    } else {
        (oid_name(oid), None)
    }
}

/// Bit length of an RSA modulus, ignoring DER's sign-padding zero octets.
///
/// x509-parser's own `key_size` miscounts moduli without a leading zero octet.
fn rsa_modulus_bits(modulus: &[u8]) -> Option<u32> {
    let start = modulus.iter().position(|b| *b != 0)?;
    let significant = u32::try_from(modulus.len() - start).ok()?;
    let top = modulus[start];
    Some((significant - 1) * 8 + (8 - top.leading_zeros()))
}

/// Short name from the OID registry (e.g. "sha256WithRSAEncryption"), or the dotted OID.
fn oid_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_owned)
}

/// RFC 3339 in UTC, built by hand so years beyond 9999 cannot make formatting fail.
fn rfc3339(t: &ASN1Time) -> String {
    let dt = t.to_datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// Serial as hex, without DER's sign-padding zeros (but at least one octet).
fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len().saturating_sub(1));
    hex(raw.get(start..).unwrap_or_default())
}

/// Lower-case hex SHA-256, the form TLSA records and most tools print.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(digest(&SHA256, data).as_ref())
}

/// Lower-case hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_bits_ignore_padding_and_count_the_top_octet() {
        let mut m = vec![0x00, 0x80];
        m.extend([0u8; 255]);
        assert_eq!(rsa_modulus_bits(&m), Some(2048));
        let mut m = vec![0xc0];
        m.extend([0u8; 127]);
        assert_eq!(rsa_modulus_bits(&m), Some(1024));
        assert_eq!(rsa_modulus_bits(&[0x01, 0x00]), Some(9));
        assert_eq!(rsa_modulus_bits(&[0, 0]), None);
        assert_eq!(rsa_modulus_bits(&[]), None);
    }

    #[test]
    fn serial_drops_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x9f, 0x01]), "9f01");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }

    #[test]
    fn ip_text_handles_both_families_and_garbage() {
        assert_eq!(ip_text(&[192, 0, 2, 1]), "192.0.2.1");
        assert_eq!(
            ip_text(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "2001:db8::1"
        );
        assert_eq!(ip_text(&[1, 2, 3]), "invalid-ip:010203");
    }
}
