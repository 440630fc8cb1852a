//! Slicing certificates into the exact byte ranges webpki compares and verifies.
//!
//! x509-parser decodes algorithm identifiers into OIDs, but signature checks and trust
//! anchor lookups compare raw DER: the *contents* of an AlgorithmIdentifier or Name,
//! without their SEQUENCE header. These helpers recover those ranges and return `None`
//! on anything malformed, so hostile input only ever yields "no match".

use x509_parser::asn1_rs::{Any, FromDer, Tag};

/// The parts of a signed certificate that a signature check needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignedParts<'a> {
    /// The whole TBSCertificate encoding, header included: that is what was signed.
    pub tbs: &'a [u8],
    /// Contents of the signatureAlgorithm AlgorithmIdentifier.
    pub algorithm: &'a [u8],
    /// The signature bits (the BIT STRING without its unused-bits octet).
    pub signature: &'a [u8],
}

/// The parts of a SubjectPublicKeyInfo that a signature check needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpkiParts<'a> {
    /// Contents of the AlgorithmIdentifier (key type and, for EC, the curve).
    pub algorithm: &'a [u8],
    /// The subjectPublicKey bits.
    pub key: &'a [u8],
}

/// Splits one TLV off `input`: its whole encoding, its parsed header and contents, and the rest.
fn tlv(input: &[u8]) -> Option<(&[u8], Any<'_>, &[u8])> {
    let (rest, any) = Any::from_der(input).ok()?;
    let whole = input.get(..input.len().checked_sub(rest.len())?)?;
    Some((whole, any, rest))
}

/// Contents of a SEQUENCE that must span all of `input`.
pub(crate) fn sequence_contents(input: &[u8]) -> Option<&[u8]> {
    let (_, any, rest) = tlv(input)?;
    (any.header.tag() == Tag::Sequence && rest.is_empty()).then_some(any.data)
}

/// The bits of a BIT STRING whose length is a whole number of octets.
fn whole_octet_bits<'a>(any: &Any<'a>) -> Option<&'a [u8]> {
    if any.header.tag() != Tag::BitString {
        return None;
    }
    match any.data.split_first() {
        Some((0, bits)) => Some(bits),
        _ => None,
    }
}

/// Splits a certificate into what was signed, how, and the signature; `None` if malformed.
pub(crate) fn signed_parts(cert_der: &[u8]) -> Option<SignedParts<'_>> {
    let body = sequence_contents(cert_der)?;
    let (tbs, tbs_any, rest) = tlv(body)?;
    let (_, alg, rest) = tlv(rest)?;
    let (_, sig, rest) = tlv(rest)?;
    if tbs_any.header.tag() != Tag::Sequence || alg.header.tag() != Tag::Sequence || !rest.is_empty() {
        return None;
    }
    Some(SignedParts {
        tbs,
        algorithm: alg.data,
        signature: whole_octet_bits(&sig)?,
    })
}

/// Splits a SubjectPublicKeyInfo into the algorithm webpki matches on and the key bits.
pub(crate) fn spki_parts(spki_der: &[u8]) -> Option<SpkiParts<'_>> {
    let body = sequence_contents(spki_der)?;
    let (_, alg, rest) = tlv(body)?;
    let (_, key, rest) = tlv(rest)?;
    if alg.header.tag() != Tag::Sequence || !rest.is_empty() {
        return None;
    }
    Some(SpkiParts {
        algorithm: alg.data,
        key: whole_octet_bits(&key)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_contents_strips_the_header() {
        assert_eq!(sequence_contents(&[0x30, 0x02, 0x05, 0x00]), Some(&[0x05, 0x00][..]));
        assert_eq!(sequence_contents(&[0x31, 0x00]), None, "a SET is not a SEQUENCE");
        assert_eq!(sequence_contents(&[0x30, 0x00, 0x00]), None, "trailing bytes");
        assert_eq!(sequence_contents(&[0x30, 0x05, 0x00]), None, "truncated");
        assert_eq!(sequence_contents(&[]), None);
    }

    #[test]
    fn garbage_never_splits() {
        for input in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x03\x30\x01\x00",
            b"hello",
        ] {
            assert!(signed_parts(input).is_none());
            assert!(spki_parts(input).is_none());
        }
    }

    #[test]
    fn spki_parts_reads_algorithm_and_key() {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING 00 aa bb }
        let spki = [
            0x30, 0x0c, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x03, 0x00, 0xaa, 0xbb,
        ];
        let parts = spki_parts(&spki).unwrap();
        assert_eq!(parts.algorithm, &[0x06, 0x03, 0x2b, 0x65, 0x70]);
        assert_eq!(parts.key, &[0xaa, 0xbb]);
    }
}
