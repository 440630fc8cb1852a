//! TLS protocol facts as small types keyed by their IANA codes: versions, cipher
//! suites and named groups. They cross the probe, the scan, the sender comparison and
//! the reports as values, compared by code; names are for display and JSON only.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A protocol version by its wire code; ordered oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TlsVersion(pub u16);

impl TlsVersion {
    pub const SSL3: TlsVersion = TlsVersion(0x0300);
    pub const TLS10: TlsVersion = TlsVersion(0x0301);
    pub const TLS11: TlsVersion = TlsVersion(0x0302);
    pub const TLS12: TlsVersion = TlsVersion(0x0303);
    pub const TLS13: TlsVersion = TlsVersion(0x0304);
    /// Every version the scan tries, oldest first.
    pub const ALL: [TlsVersion; 5] = [Self::SSL3, Self::TLS10, Self::TLS11, Self::TLS12, Self::TLS13];

    pub fn name(self) -> String {
        match self.0 {
            0x0300 => "SSLv3".into(),
            0x0301 => "TLSv1.0".into(),
            0x0302 => "TLSv1.1".into(),
            0x0303 => "TLSv1.2".into(),
            0x0304 => "TLSv1.3".into(),
            code => format!("0x{code:04x}"),
        }
    }

    /// Reads a version as OpenSSL and this tool write it (`TLSv1.3`), as rustls does
    /// (`TLSv1_3`, in reports of schema 1) or as a code (`0x0304`).
    pub fn parse(text: &str) -> Option<Self> {
        let normal = text.replace('_', ".");
        let normal = if normal == "TLSv1" { "TLSv1.0" } else { normal.as_str() };
        Self::ALL
            .into_iter()
            .find(|v| v.name() == normal)
            .or_else(|| hex_code(text).map(TlsVersion))
    }

    pub fn from_rustls(version: rustls::ProtocolVersion) -> Self {
        TlsVersion(u16::from(version))
    }
}

/// A cipher suite by its IANA code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// The IANA name, or the code for a suite outside the tables.
    pub fn name(self) -> String {
        TLS13_SUITES
            .iter()
            .chain(LEGACY_SUITES)
            .chain(ANON_SUITES)
            .chain(NAMED_ONLY_SUITES)
            .find(|(c, _)| *c == self.0)
            .map_or_else(|| format!("0x{:04x}", self.0), |(_, n)| (*n).to_string())
    }

    /// Reads an IANA name, rustls' spelling of the TLS 1.3 suites (`TLS13_AES_…`, in
    /// reports of schema 1) or a code.
    pub fn parse(text: &str) -> Option<Self> {
        let iana = match text.strip_prefix("TLS13_") {
            Some(rest) => format!("TLS_{rest}"),
            None => text.to_string(),
        };
        TLS13_SUITES
            .iter()
            .chain(LEGACY_SUITES)
            .chain(ANON_SUITES)
            .chain(NAMED_ONLY_SUITES)
            .find(|(_, n)| *n == iana)
            .map(|(c, _)| CipherSuite(*c))
            .or_else(|| hex_code(text).map(CipherSuite))
    }

    /// Forward secrecy and authenticated encryption: ECDHE/DHE with GCM or ChaCha20, or
    /// any TLS 1.3 suite. Everything else (static RSA, CBC, 3DES, RC4) is outdated.
    pub fn is_modern(self) -> bool {
        if TLS13_SUITES.iter().any(|(c, _)| *c == self.0) {
            return true;
        }
        let name = self.name();
        let aead = name.contains("_GCM_") || name.contains("_CHACHA20_");
        let forward_secret = name.starts_with("TLS_ECDHE_") || name.starts_with("TLS_DHE_");
        aead && forward_secret
    }
}

/// A key-exchange group by its IANA code (RFC 8446 §4.2.7, RFC 8422, the ML-KEM hybrids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamedGroup(pub u16);

/// Groups by code with the names OpenSSL uses for them.
const GROUP_NAMES: &[(u16, &str)] = &[
    (0x001d, "x25519"),
    (0x001e, "x448"),
    (0x0017, "secp256r1"),
    (0x0018, "secp384r1"),
    (0x0019, "secp521r1"),
    (0x0100, "ffdhe2048"),
    (0x0101, "ffdhe3072"),
    (0x0102, "ffdhe4096"),
    (0x11ec, "X25519MLKEM768"),
    (0x11eb, "SecP256r1MLKEM768"),
];

impl NamedGroup {
    pub const X25519: NamedGroup = NamedGroup(0x001d);
    pub const SECP256R1: NamedGroup = NamedGroup(0x0017);
    pub const SECP384R1: NamedGroup = NamedGroup(0x0018);
    pub const SECP521R1: NamedGroup = NamedGroup(0x0019);
    pub const FFDHE2048: NamedGroup = NamedGroup(0x0100);

    pub fn name(self) -> String {
        GROUP_NAMES
            .iter()
            .find(|(c, _)| *c == self.0)
            .map_or_else(|| format!("0x{:04x}", self.0), |(_, n)| (*n).to_string())
    }

    /// Reads a group name in any case (rustls writes `X25519`, OpenSSL `x25519`) or a code.
    pub fn parse(text: &str) -> Option<Self> {
        GROUP_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(c, _)| NamedGroup(*c))
            .or_else(|| hex_code(text).map(NamedGroup))
    }
}

fn hex_code(text: &str) -> Option<u16> {
    u16::from_str_radix(text.strip_prefix("0x")?, 16).ok()
}

/// Display, and JSON as the name, for each of the three.
macro_rules! named {
    ($type:ty, $what:literal) => {
        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.name())
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.name())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$type>::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {}: {:?}",
                        $what,
                        crate::text::SafeText::clean(&text)
                    ))
                })
            }
        }
    };
}

named!(TlsVersion, "TLS version");
named!(CipherSuite, "cipher suite");
named!(NamedGroup, "named group");

/// TLS 1.3 suites (RFC 8446 §B.4).
pub const TLS13_SUITES: &[(u16, &str)] = &[
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
];

/// Anonymous (aNULL) suites: no certificate, no authentication. Postfix at `may` offers
/// and accepts them, so a server whose certificate is missing still delivers with them.
pub const ANON_SUITES: &[(u16, &str)] = &[
    (0x00a7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384"),
    (0x006d, "TLS_DH_anon_WITH_AES_256_CBC_SHA256"),
    (0x00c5, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256"),
    (0xc019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA"),
    (0x003a, "TLS_DH_anon_WITH_AES_256_CBC_SHA"),
    (0x0089, "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA"),
    (0x00a6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256"),
    (0x006c, "TLS_DH_anon_WITH_AES_128_CBC_SHA256"),
    (0x00bf, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xc018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA"),
    (0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA"),
    (0x0046, "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA"),
];

/// Suites a real sender offers that the scan never does (DSS, CCM, ARIA, Camellia):
/// named so that a relay's captured ClientHello reads as words.
const NAMED_ONLY_SUITES: &[(u16, &str)] = &[
    (0x00a3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    (0x00a2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    (0x006a, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0087, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0044, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA"),
    (0x00c3, "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00bd, "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xc057, "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384"),
    (0xc056, "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256"),
    (0xc0af, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"),
    (0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0xc0ae, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"),
    (0xc0ac, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xc0a3, "TLS_DHE_RSA_WITH_AES_256_CCM_8"),
    (0xc09f, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0xc0a2, "TLS_DHE_RSA_WITH_AES_128_CCM_8"),
    (0xc09e, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xc0a1, "TLS_RSA_WITH_AES_256_CCM_8"),
    (0xc09d, "TLS_RSA_WITH_AES_256_CCM"),
    (0xc0a0, "TLS_RSA_WITH_AES_128_CCM_8"),
    (0xc09c, "TLS_RSA_WITH_AES_128_CCM"),
    (0xc05d, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"),
    (0xc05c, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"),
    (0xc061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xc060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xc053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xc052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xc051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"),
    (0xc050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xc073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xc072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xc077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"),
    (0xc076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00c4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00be, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x00c0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00ba, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
];

/// Suites for SSLv3 to TLS 1.2: the modern AEAD ones, the CBC ones old stacks still
/// use, static RSA, DHE, and the broken ones (3DES, RC4, NULL, EXPORT) an audit must see.
pub const LEGACY_SUITES: &[(u16, &str)] = &[
    (0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0x009e, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xccaa, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xc023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xc024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xc027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xc028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006b, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0x003c, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003d, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"),
    (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0002, "TLS_RSA_WITH_NULL_SHA"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_both_spellings_and_order_by_age() {
        assert_eq!(TlsVersion::parse("TLSv1_3"), Some(TlsVersion::TLS13));
        assert_eq!(TlsVersion::parse("TLSv1.3"), Some(TlsVersion::TLS13));
        assert_eq!(TlsVersion::parse("TLSv1"), Some(TlsVersion::TLS10));
        assert_eq!(TlsVersion::parse("0x7f1c"), Some(TlsVersion(0x7f1c)));
        assert!(TlsVersion::SSL3 < TlsVersion::TLS10 && TlsVersion::TLS12 < TlsVersion::TLS13);
        assert_eq!(TlsVersion::TLS12.to_string(), "TLSv1.2");
    }

    #[test]
    fn rustls_tls13_suite_names_map_to_iana() {
        assert_eq!(
            CipherSuite::parse("TLS13_AES_256_GCM_SHA384"),
            Some(CipherSuite(0x1302))
        );
        assert_eq!(CipherSuite(0x1302).name(), "TLS_AES_256_GCM_SHA384");
        assert_eq!(
            serde_json::to_string(&CipherSuite(0xc02f)).unwrap(),
            "\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\""
        );
    }

    #[test]
    fn modern_means_forward_secret_aead() {
        assert!(CipherSuite(0x1301).is_modern());
        assert!(CipherSuite(0xc02f).is_modern());
        assert!(!CipherSuite(0x009c).is_modern(), "static RSA");
        assert!(!CipherSuite(0xc013).is_modern(), "CBC");
        assert!(!CipherSuite(0x000a).is_modern(), "3DES");
    }

    #[test]
    fn a_schema_1_tls_session_still_reads() {
        let old = r#"{"version":"TLSv1_3","cipher_suite":"TLS13_AES_256_GCM_SHA384","key_exchange_group":"X25519","sni":null}"#;
        let session: crate::model::TlsSession = serde_json::from_str(old).unwrap();
        assert_eq!(session.version, TlsVersion::TLS13);
        assert_eq!(session.cipher_suite, CipherSuite(0x1302));
        assert_eq!(session.key_exchange_group, Some(NamedGroup::X25519));
        assert!(
            serde_json::to_string(&session)
                .unwrap()
                .contains(r#""version":"TLSv1.3""#)
        );
        let hostile = r#"{"version":"\u001b[2J","cipher_suite":"x","key_exchange_group":null,"sni":null}"#;
        let error = serde_json::from_str::<crate::model::TlsSession>(hostile)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown TLS version") && !error.contains('\u{1b}'),
            "{error}"
        );
    }

    #[test]
    fn groups_read_any_case() {
        assert_eq!(NamedGroup::parse("X25519"), Some(NamedGroup::X25519));
        assert_eq!(NamedGroup(0x11ec).name(), "X25519MLKEM768");
    }
}
