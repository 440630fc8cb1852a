//! The whole-chain analysis: describe each certificate, check how they link, whether
//! anything is missing, what each trust store says, and whether the leaf covers the MX.

use std::net::IpAddr;

use rustls::pki_types::{CertificateDer, UnixTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::der::sequence_contents;
use super::info::{describe, ip_text, is_self_signed, parse};
use super::names::{dns_id_matches, ip_id_matches};
use super::signature::{Algorithms, is_signed_by, webpki_algorithms};
use super::stores::TrustStores;
use super::trust::judge;
use super::{ChainLink, ChainReport, Completeness, NameCheck};
use crate::text::SafeText;

type Parsed<'a> = Result<X509Certificate<'a>, String>;

/// Analyses the chain a server presented (leaf first) for the MX host `reference`.
///
/// Never panics: unparseable certificates get a `parse_error` and break the links
/// around them, and the trust verdicts come from webpki, which has its own work budget.
/// The caller bounds the chain length (rustls already caps the message at 64 KiB).
pub fn analyze(chain: &[CertificateDer<'_>], reference: &str, stores: &TrustStores, now: UnixTime) -> ChainReport {
    let algs = webpki_algorithms();
    let now_secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let parsed: Vec<Parsed<'_>> = chain.iter().map(|der| parse(der.as_ref())).collect();
    let certificates = chain
        .iter()
        .zip(&parsed)
        .enumerate()
        .map(|(i, (der, p))| describe(i, der.as_ref(), p, now_secs, algs))
        .collect();
    let links = links(chain, &parsed, algs);
    let completeness = completeness(chain, &parsed, &links, stores, algs);
    let windows: Vec<(i64, i64)> = parsed
        .iter()
        .flatten()
        .map(|c| (c.validity().not_before.timestamp(), c.validity().not_after.timestamp()))
        .collect();
    let trust = judge(chain, stores, now, &windows, algs);
    let name = name_check(reference, parsed.first().and_then(|p| p.as_ref().ok()));
    ChainReport {
        certificates,
        links,
        completeness,
        trust,
        name,
        sent: None,
    }
}

fn links(chain: &[CertificateDer<'_>], parsed: &[Parsed<'_>], algs: Algorithms) -> Vec<ChainLink> {
    (1..parsed.len())
        .map(|parent| {
            let child = parent - 1;
            let (names_match, signature_valid) = match (&parsed[child], &parsed[parent]) {
                (Ok(c), Ok(p)) => (
                    c.issuer().as_raw() == p.subject().as_raw(),
                    is_signed_by(c, chain[child].as_ref(), p.public_key(), algs),
                ),
                _ => (false, false),
            };
            ChainLink {
                child,
                parent,
                names_match,
                signature_valid,
            }
        })
        .collect()
}

/// Broken links are judged first: with a gap in the middle, whether the top is an
/// anchor says nothing about the certificates below the gap. An unparseable
/// certificate counts as unrelated, hence `Disordered`.
///
/// Any certificate whose issuer is an anchor completes the chain, not only the top one:
/// servers often append a cross-signed root (issued by an older, maybe removed root)
/// after the intermediate, and clients stop at the first anchor they know.
fn completeness(
    chain: &[CertificateDer<'_>],
    parsed: &[Parsed<'_>],
    links: &[ChainLink],
    stores: &TrustStores,
    algs: Algorithms,
) -> Completeness {
    let Some(top) = parsed.last() else {
        return Completeness::Empty;
    };
    let Ok(top) = top else {
        return Completeness::Disordered;
    };
    if links.iter().any(|l| !l.names_match) {
        return Completeness::Disordered;
    }
    let reaches_anchor = chain.iter().zip(parsed).any(|(der, p)| match p {
        Ok(cert) => {
            sequence_contents(cert.issuer().as_raw()).is_some_and(|n| stores.has_anchor_subject(n))
                || is_self_signed(cert, der.as_ref(), algs)
        }
        Err(_) => false,
    });
    if reaches_anchor {
        Completeness::Complete
    } else {
        Completeness::MissingIssuer {
            issuer: SafeText::from_peer_str(&top.issuer().to_string()),
        }
    }
}

/// Matches the reference against the leaf's SANs only: DNS-IDs for a host name,
/// iPAddress entries for an IP literal. The CN is never a match (RFC 9525, webpki).
fn name_check(reference: &str, leaf: Option<&X509Certificate<'_>>) -> NameCheck {
    let mut check = NameCheck {
        reference: SafeText::from_peer_str(reference).as_str().to_owned(),
        matched_by: None,
        cn_only: false,
    };
    let Some(leaf) = leaf else {
        return check;
    };
    let names = match leaf.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.as_slice(),
        _ => &[],
    };
    let has_dns_san = names.iter().any(|n| matches!(n, GeneralName::DNSName(_)));
    check.cn_only = !has_dns_san && leaf.subject().iter_common_name().next().is_some();
    let reference_ip = reference.parse::<IpAddr>().ok();
    check.matched_by = names.iter().find_map(|n| match (n, reference_ip) {
        (GeneralName::DNSName(dns), None) if dns_id_matches(reference, dns) => Some(SafeText::from_peer_str(dns)),
        (GeneralName::IPAddress(octets), Some(ip)) if ip_id_matches(ip, octets) => {
            Some(SafeText::from_peer_str(&ip_text(octets)))
        }
        _ => None,
    });
    check
}

#[cfg(test)]
mod tests {
    use rcgen::KeyPair;

    use super::*;
    use crate::cert::test_pki::{Issued, MX, issue, params, root_and_intermediate, self_signed};
    use crate::cert::{TrustOutcome, TrustStore};

    /// A root, an intermediate under it, and stores that trust the root via `--ca-file`.
    struct Pki {
        root: Issued,
        inter: Issued,
        stores: TrustStores,
    }

    fn pki() -> Pki {
        let (root, inter) = root_and_intermediate();
        let stores = TrustStores::from_parts(Vec::new(), vec![root.der()]);
        Pki { root, inter, stores }
    }

    fn leaf(pki: &Pki, sans: &[&str], from: i64, to: i64) -> Issued {
        issue(params("leaf", sans, false, from, to), &pki.inter)
    }

    fn run(chain: &[CertificateDer<'_>], reference: &str, stores: &TrustStores) -> ChainReport {
        analyze(chain, reference, stores, UnixTime::now())
    }

    fn outcome(report: &ChainReport, store: TrustStore) -> &TrustOutcome {
        &report.trust.iter().find(|t| t.store == store).unwrap().outcome
    }

    fn sha256(data: &[u8]) -> String {
        ring::digest::digest(&ring::digest::SHA256, data)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn complete_chain_to_ca_file_anchor_is_trusted() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Trusted);
        assert_eq!(outcome(&r, TrustStore::Mozilla), &TrustOutcome::UnknownIssuer);
        assert_eq!(outcome(&r, TrustStore::System), &TrustOutcome::StoreEmpty);
        assert!(r.is_trusted());
        assert_eq!(r.completeness, Completeness::Complete);
        assert_eq!(
            r.links,
            vec![ChainLink {
                child: 0,
                parent: 1,
                names_match: true,
                signature_valid: true
            }]
        );
        assert_eq!(r.name.matched_by.as_ref().map(SafeText::as_str), Some(MX));
        assert!(!r.name.cn_only);
    }

    #[test]
    fn cert_info_describes_the_leaf() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX, "192.0.2.25"], -1, 90);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        let info = r.leaf().unwrap();
        assert_eq!(info.parse_error, None);
        assert_eq!(info.subject.as_str(), "CN=leaf");
        assert_eq!(info.issuer.as_str(), "CN=mxtriage test intermediate");
        let sans: Vec<&str> = info.sans.iter().map(SafeText::as_str).collect();
        assert_eq!(sans, vec![MX, "192.0.2.25"]);
        assert_eq!(info.key_algorithm, "EC P-256");
        assert_eq!(info.key_bits, Some(256));
        assert_eq!(info.signature_algorithm, "ecdsa-with-SHA256");
        assert!((88..=90).contains(&info.days_remaining), "{}", info.days_remaining);
        assert!(
            info.not_after.ends_with('Z') && info.not_after.len() == 20,
            "{}",
            info.not_after
        );
        assert!(!info.serial.is_empty() && info.serial.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!info.is_ca && !info.self_signed);
        assert!(r.certificates[1].is_ca);
    }

    #[test]
    fn fingerprints_are_sha256_of_der_and_spki() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert_eq!(r.certificates[0].sha256, sha256(leaf.der().as_ref()));
        assert_eq!(r.certificates[0].spki_sha256, sha256(&leaf.key.public_key_der()));
        assert_eq!(r.certificates[1].sha256, sha256(pki.inter.der().as_ref()));
        assert_eq!(r.certificates[1].spki_sha256, sha256(&pki.inter.key.public_key_der()));
    }

    #[test]
    fn expired_leaf_is_expired_with_negative_days() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -100, -10);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Expired);
        assert!(r.leaf().unwrap().days_remaining < 0);
        assert!((-11..=-9).contains(&r.leaf().unwrap().days_remaining));
    }

    #[test]
    fn not_yet_valid_leaf_is_not_yet_valid() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], 10, 100);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::NotYetValid);
        assert!(r.leaf().unwrap().days_remaining > 0);
    }

    #[test]
    fn expired_intermediate_with_valid_leaf_is_expired() {
        let pki = pki();
        let old_inter = issue(params("old intermediate", &[], true, -400, -5), &pki.root);
        let leaf = issue(params("leaf", &[MX], false, -1, 90), &old_inter);
        let r = run(&[leaf.der(), old_inter.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Expired);
    }

    #[test]
    fn expired_and_untrusted_is_reported_as_unknown_issuer() {
        let pki = pki();
        let stray = self_signed(params(MX, &[MX], false, -100, -10));
        let r = run(&[stray.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::UnknownIssuer);
        assert_eq!(outcome(&r, TrustStore::Mozilla), &TrustOutcome::UnknownIssuer);
    }

    #[test]
    fn wrong_name_is_trusted_but_does_not_match() {
        let pki = pki();
        let leaf = leaf(&pki, &["other.example.test"], -1, 90);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Trusted);
        assert!(!r.name_matches());
        assert_eq!(r.name.reference, MX);
    }

    #[test]
    fn wildcard_san_matches_one_label_and_is_reported() {
        let pki = pki();
        let leaf = leaf(&pki, &["example.test", "*.example.test"], -1, 90);
        let chain = [leaf.der(), pki.inter.der()];
        let r = run(&chain, MX, &pki.stores);
        assert_eq!(r.name.matched_by.as_ref().map(SafeText::as_str), Some("*.example.test"));
        let r = run(&chain, "example.test", &pki.stores);
        assert_eq!(r.name.matched_by.as_ref().map(SafeText::as_str), Some("example.test"));
        let r = run(&chain, "a.mx.example.test", &pki.stores);
        assert!(!r.name_matches());
    }

    #[test]
    fn self_signed_leaf_is_complete_but_unknown_issuer() {
        let pki = pki();
        let leaf = self_signed(params(MX, &[MX], false, -1, 90));
        let r = run(&[leaf.der()], MX, &pki.stores);
        assert!(r.leaf().unwrap().self_signed);
        assert_eq!(r.completeness, Completeness::Complete);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::UnknownIssuer);
        assert!(!r.is_trusted());
        assert!(r.name_matches());
    }

    #[test]
    fn leaf_without_intermediate_is_missing_issuer() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let r = run(&[leaf.der()], MX, &pki.stores);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::UnknownIssuer);
        assert_eq!(
            r.completeness,
            Completeness::MissingIssuer {
                issuer: SafeText::from_peer_str("CN=mxtriage test intermediate")
            }
        );
        assert!(r.links.is_empty());
    }

    #[test]
    fn chain_with_root_included_is_complete_and_trusted() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let r = run(&[leaf.der(), pki.inter.der(), pki.root.der()], MX, &pki.stores);
        assert_eq!(r.completeness, Completeness::Complete);
        assert!(r.certificates[2].self_signed);
        assert!(r.links.iter().all(|l| l.names_match && l.signature_valid));
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Trusted);
    }

    #[test]
    fn appended_cross_signed_root_still_completes_the_chain() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let old_root = self_signed(params("retired root", &[], true, -3650, 3650));
        let cross = params("mxtriage test root", &[], true, -30, 365)
            .signed_by(&pki.root.key, &old_root.cert, &old_root.key)
            .unwrap();
        let r = run(&[leaf.der(), pki.inter.der(), cross.der().clone()], MX, &pki.stores);
        assert!(r.links.iter().all(|l| l.names_match && l.signature_valid));
        assert_eq!(r.completeness, Completeness::Complete);
        assert_eq!(outcome(&r, TrustStore::CaFile), &TrustOutcome::Trusted);
    }

    #[test]
    fn reversed_chain_is_disordered() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        let r = run(&[pki.inter.der(), leaf.der()], MX, &pki.stores);
        assert_eq!(r.completeness, Completeness::Disordered);
        assert!(!r.links[0].names_match && !r.links[0].signature_valid);
    }

    #[test]
    fn link_signature_from_wrong_key_is_invalid() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90);
        // Same subject name as the real intermediate, different key.
        let impostor = issue(params("mxtriage test intermediate", &[], true, -30, 1825), &pki.root);
        let r = run(&[leaf.der(), impostor.der()], MX, &pki.stores);
        assert_eq!(
            r.links,
            vec![ChainLink {
                child: 0,
                parent: 1,
                names_match: true,
                signature_valid: false
            }]
        );
        assert!(!r.is_trusted());
    }

    #[test]
    fn cn_only_leaf_is_flagged_and_never_matches() {
        let pki = pki();
        let leaf = issue(params(MX, &[], false, -1, 90), &pki.inter);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert!(r.name.cn_only);
        assert!(!r.name_matches());
    }

    #[test]
    fn ip_reference_matches_ip_san_only() {
        let pki = pki();
        let leaf = leaf(&pki, &["192.0.2.25", MX], -1, 90);
        let chain = [leaf.der(), pki.inter.der()];
        let r = run(&chain, "192.0.2.25", &pki.stores);
        assert_eq!(r.name.matched_by.as_ref().map(SafeText::as_str), Some("192.0.2.25"));
        assert!(!run(&chain, "192.0.2.26", &pki.stores).name_matches());
    }

    #[test]
    fn other_key_types_are_named() {
        let pki = pki();
        let ed_key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let ed = params("ed", &[MX], false, -1, 90)
            .signed_by(&ed_key, &pki.inter.cert, &pki.inter.key)
            .unwrap();
        let p384_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let p384 = Issued {
            cert: params("p384 ca", &[], true, -1, 90).self_signed(&p384_key).unwrap(),
            key: p384_key,
        };
        let r = run(&[ed.der().clone(), p384.der()], MX, &pki.stores);
        assert_eq!(r.certificates[0].key_algorithm, "Ed25519");
        assert_eq!(r.certificates[0].key_bits, Some(256));
        assert_eq!(r.certificates[1].key_algorithm, "EC P-384");
        assert_eq!(r.certificates[1].key_bits, Some(384));
        assert_eq!(r.certificates[1].signature_algorithm, "ecdsa-with-SHA384");
        assert!(r.certificates[1].self_signed);
    }

    #[test]
    fn garbage_certificate_gives_parse_error_not_panic() {
        let pki = pki();
        let garbage = CertificateDer::from(b"\x30\x82\xff\xffnot a certificate".to_vec());
        let r = run(std::slice::from_ref(&garbage), MX, &pki.stores);
        let info = r.leaf().unwrap();
        assert!(info.parse_error.is_some());
        assert_eq!(info.sha256, sha256(garbage.as_ref()));
        assert_eq!(r.completeness, Completeness::Disordered);
        assert!(matches!(outcome(&r, TrustStore::CaFile), TrustOutcome::Invalid { .. }));
        assert!(!r.name_matches() && !r.name.cn_only);
    }

    #[test]
    fn trailing_bytes_are_a_parse_error() {
        let pki = pki();
        let mut bytes = leaf(&pki, &[MX], -1, 90).der().to_vec();
        bytes.push(0);
        let r = run(&[CertificateDer::from(bytes), pki.inter.der()], MX, &pki.stores);
        assert!(r.leaf().unwrap().parse_error.as_deref().unwrap().contains("trailing"));
        assert!(!r.is_trusted());
    }

    #[test]
    fn empty_chain_is_empty() {
        let pki = pki();
        let r = run(&[], MX, &pki.stores);
        assert_eq!(r.completeness, Completeness::Empty);
        assert!(r.certificates.is_empty() && r.links.is_empty());
        assert!(!r.is_trusted());
    }

    #[test]
    fn mutated_certificates_never_panic() {
        let pki = pki();
        let leaf = leaf(&pki, &[MX], -1, 90).der().to_vec();
        let inter = pki.inter.der();
        for i in 0..leaf.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bytes = leaf.clone();
                bytes[i] ^= flip;
                let _ = run(&[CertificateDer::from(bytes), inter.clone()], MX, &pki.stores);
            }
            let _ = run(&[CertificateDer::from(leaf[..i].to_vec())], MX, &pki.stores);
        }
    }

    #[test]
    fn hostile_names_are_sanitised() {
        let pki = pki();
        let leaf = issue(params("evil\u{1b}[2J", &[MX], false, -1, 90), &pki.inter);
        let r = run(&[leaf.der(), pki.inter.der()], MX, &pki.stores);
        assert!(!r.leaf().unwrap().subject.as_str().contains('\u{1b}'));
    }
}
