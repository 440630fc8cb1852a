//! Does one certificate's signature verify under a given public key?
//!
//! Used for the chain links and the self-signed flag, which are explanations and not
//! verdicts. So besides the algorithms webpki accepts (the rustls ring provider's list),
//! legacy RSA PKCS#1 signatures (SHA-1, 1024-bit keys) are checked too: "the link is
//! intact but signed with SHA-1" is a better diagnosis than "the link is broken".

use rustls::pki_types::SignatureVerificationAlgorithm;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_SHA1WITHRSA, OID_PKCS1_SHA256WITHRSA, OID_PKCS1_SHA384WITHRSA,
    OID_PKCS1_SHA512WITHRSA,
};
use x509_parser::x509::SubjectPublicKeyInfo;

use super::der::{SpkiParts, signed_parts, spki_parts};

/// The certificate signature algorithms rustls' ring provider verifies.
pub(crate) type Algorithms = &'static [&'static dyn SignatureVerificationAlgorithm];

/// Taken from the provider so links are judged by the same list as the trust verdicts.
pub(crate) fn webpki_algorithms() -> Algorithms {
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
}

/// Whether `child` (whose complete DER is `child_der`) is signed by the key `issuer_key`.
pub(crate) fn is_signed_by(
    child: &X509Certificate<'_>,
    child_der: &[u8],
    issuer_key: &SubjectPublicKeyInfo<'_>,
    algs: Algorithms,
) -> bool {
    let (Some(signed), Some(spki)) = (signed_parts(child_der), spki_parts(issuer_key.raw)) else {
        return false;
    };
    let webpki_ok = algs
        .iter()
        .filter(|a| a.signature_alg_id().as_ref() == signed.algorithm)
        .filter(|a| a.public_key_alg_id().as_ref() == spki.algorithm)
        .any(|a| a.verify_signature(spki.key, signed.tbs, signed.signature).is_ok());
    webpki_ok || legacy_rsa_verifies(child, issuer_key, spki, signed.tbs, signed.signature)
}

/// RSA PKCS#1 signatures webpki refuses but that still prove who issued the certificate.
fn legacy_rsa_verifies(
    child: &X509Certificate<'_>,
    issuer_key: &SubjectPublicKeyInfo<'_>,
    spki: SpkiParts<'_>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    use ring::signature as sig;
    if issuer_key.algorithm.algorithm != OID_PKCS1_RSAENCRYPTION {
        return false;
    }
    let oid = &child.signature_algorithm.algorithm;
    let alg: &'static sig::RsaParameters = if *oid == OID_PKCS1_SHA1WITHRSA {
        &sig::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
    } else if *oid == OID_PKCS1_SHA256WITHRSA {
        &sig::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
    } else if *oid == OID_PKCS1_SHA384WITHRSA {
        &sig::RSA_PKCS1_2048_8192_SHA384
    } else if *oid == OID_PKCS1_SHA512WITHRSA {
        &sig::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
    } else {
        return false;
    };
    sig::UnparsedPublicKey::new(alg, spki.key)
        .verify(message, signature)
        .is_ok()
}
