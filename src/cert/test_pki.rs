//! Test certificates made with rcgen, shared by the certificate and DANE tests.

use rcgen::{BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

/// The MX host name the test leaves are issued for.
pub(crate) const MX: &str = "mx.example.test";

/// A certificate with the key that belongs to it, so it can issue others.
pub(crate) struct Issued {
    pub(crate) cert: Certificate,
    pub(crate) key: KeyPair,
}

impl Issued {
    pub(crate) fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }
}

/// Parameters for a certificate with common name `cn` and these SANs, valid from
/// `valid_from_days` to `valid_to_days` relative to now (negative: in the past).
pub(crate) fn params(cn: &str, sans: &[&str], ca: bool, valid_from_days: i64, valid_to_days: i64) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let now = OffsetDateTime::now_utc();
    p.not_before = now + Duration::days(valid_from_days);
    p.not_after = now + Duration::days(valid_to_days);
    p
}

pub(crate) fn self_signed(p: CertificateParams) -> Issued {
    let key = KeyPair::generate().unwrap();
    Issued {
        cert: p.self_signed(&key).unwrap(),
        key,
    }
}

pub(crate) fn issue(p: CertificateParams, by: &Issued) -> Issued {
    let key = KeyPair::generate().unwrap();
    Issued {
        cert: p.signed_by(&key, &by.cert, &by.key).unwrap(),
        key,
    }
}

/// A root ("mxtriage test root") and an intermediate it issued ("mxtriage test
/// intermediate"), both valid since 30 days ago.
pub(crate) fn root_and_intermediate() -> (Issued, Issued) {
    let root = self_signed(params("mxtriage test root", &[], true, -30, 3650));
    let inter = issue(params("mxtriage test intermediate", &[], true, -30, 1825), &root);
    (root, inter)
}
