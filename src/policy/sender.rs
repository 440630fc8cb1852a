//! Sender profiles (assets/sender_profiles.toml) and their overlap with what the
//! capability scan found: only with both can "no shared version/cipher" be said.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::model::scan::Scan;
use crate::model::tls::{CipherSuite, NamedGroup, TlsVersion};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub description: String,
    pub versions: Vec<TlsVersion>,
    /// IANA codes, as `openssl ciphers -V` prints them.
    pub suites: Vec<u16>,
    pub groups: Vec<NamedGroup>,
    pub verifies: bool,
}

impl Profile {
    pub fn cipher_suites(&self) -> Vec<CipherSuite> {
        self.suites.iter().copied().map(CipherSuite).collect()
    }
}

#[derive(Deserialize)]
struct Profiles {
    profile: Vec<Profile>,
}

const PROFILES_TOML: &str = include_str!("../../assets/sender_profiles.toml");

/// The profile assumed when the operator names none: the most common relay stack.
pub const DEFAULT_PROFILE: &str = "openssl3-debian";

pub fn all() -> &'static [Profile] {
    static PROFILES: OnceLock<Vec<Profile>> = OnceLock::new();
    // A broken asset leaves the list empty; a test proves it parses.
    PROFILES.get_or_init(|| {
        toml::from_str::<Profiles>(PROFILES_TOML)
            .map(|p| p.profile)
            .unwrap_or_default()
    })
}

/// The sending stack a report is judged for: the profile the operator named, else this
/// relay's own ClientHello, else the default profile.
pub fn for_report(report: &crate::model::CheckReport) -> Option<Profile> {
    if let Some(name) = &report.sender_profile {
        return find(name).cloned();
    }
    let relay = report.relay.as_ref();
    if let Some(hello) = relay.and_then(|r| r.hello.as_ref()) {
        let verifies = relay
            .and_then(|r| r.policy.as_ref())
            .is_some_and(|p| p.level.verifies());
        return Some(Profile {
            name: "this-relay".into(),
            description: hello.command.clone(),
            versions: hello.versions.clone(),
            suites: hello.suites.iter().map(|s| s.0).collect(),
            groups: hello.groups.clone(),
            verifies,
        });
    }
    find(DEFAULT_PROFILE).cloned()
}

pub fn find(name: &str) -> Option<&'static Profile> {
    all().iter().find(|p| p.name == name)
}

/// Checks a profile name for the command line, listing the known ones on error.
pub fn parse_profile(name: &str) -> Result<String, String> {
    match find(name) {
        Some(profile) => Ok(profile.name.clone()),
        None => {
            let names: Vec<&str> = all().iter().map(|p| p.name.as_str()).collect();
            Err(format!("no sender profile {name:?}; known: {}", names.join(", ")))
        }
    }
}

/// Can this sender and this server agree?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Overlap {
    /// They share at least this version and suite (the best the sender would get).
    Fine { version: TlsVersion, suite: CipherSuite },
    NoCommonVersion {
        server: Vec<TlsVersion>,
        sender: Vec<TlsVersion>,
    },
    NoCommonSuite {
        versions: Vec<TlsVersion>,
        server: Vec<CipherSuite>,
        sender: Vec<CipherSuite>,
    },
}

pub fn overlap(profile: &Profile, scan: &Scan) -> Overlap {
    let server_versions: Vec<TlsVersion> = scan.versions.iter().filter(|v| v.accepted).map(|v| v.version).collect();
    let mut common: Vec<TlsVersion> = server_versions
        .iter()
        .copied()
        .filter(|v| profile.versions.contains(v))
        .collect();
    if common.is_empty() {
        return Overlap::NoCommonVersion {
            server: server_versions,
            sender: profile.versions.clone(),
        };
    }
    // Newest first: the best the two would agree on.
    common.sort_by_key(|v| std::cmp::Reverse(*v));
    let sender_suites = profile.cipher_suites();
    for version in &common {
        let Some(scanned) = scan.versions.iter().find(|v| v.version == *version) else {
            continue;
        };
        if let Some(suite) = scanned.suites.iter().find(|s| sender_suites.contains(s)) {
            return Overlap::Fine {
                version: *version,
                suite: *suite,
            };
        }
    }
    let server: Vec<CipherSuite> = common
        .iter()
        .filter_map(|v| scan.versions.iter().find(|s| s.version == *v))
        .flat_map(|v| v.suites.iter().copied())
        .collect();
    Overlap::NoCommonSuite {
        versions: common,
        server,
        sender: sender_suites,
    }
}

/// The server's newest version is older than the sender's oldest and older than
/// TLS 1.2: the server is the outdated side. A TLS 1.2 server facing a TLS 1.3-only
/// sender is not outdated; that sender's policy is too strict.
pub fn server_is_older(profile: &Profile, scan: &Scan) -> bool {
    let newest_server = scan.versions.iter().filter(|v| v.accepted).map(|v| v.version).max();
    let oldest_sender = profile.versions.iter().copied().min();
    matches!((newest_server, oldest_sender), (Some(server), Some(sender)) if server < sender && server < TlsVersion::TLS12)
}

/// The server accepts only outdated suites (static RSA, CBC, 3DES, RC4): an old
/// configuration rather than a sender whose list is too narrow.
pub fn server_suites_outdated(scan: &Scan) -> bool {
    let mut accepted = scan.versions.iter().flat_map(|v| v.suites.iter()).peekable();
    accepted.peek().is_some() && accepted.all(|s| !s.is_modern())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::scan::VersionScan;

    fn scan(versions: &[(&str, &[&str])]) -> Scan {
        Scan {
            versions: versions
                .iter()
                .map(|(v, suites)| VersionScan {
                    version: TlsVersion::parse(v).unwrap(),
                    accepted: !suites.is_empty(),
                    refusal: None,
                    suites: suites.iter().map(|s| CipherSuite::parse(s).unwrap()).collect(),
                    server_order: None,
                })
                .collect(),
            groups: vec![],
            connections: 0,
            stopped: None,
            truncated: vec![],
            paced: None,
            senders: Vec::new(),
        }
    }

    #[test]
    fn profiles_parse_and_name_known_suites() {
        let parsed: Profiles = toml::from_str(PROFILES_TOML).expect("asset parses");
        assert_eq!(parsed.profile.len(), 5);
        for profile in &parsed.profile {
            for suite in &profile.suites {
                assert!(
                    !CipherSuite(*suite).name().starts_with("0x"),
                    "{}: 0x{suite:04x} has no name",
                    profile.name
                );
            }
        }
        assert!(find(DEFAULT_PROFILE).is_some());
    }

    #[test]
    fn tls10_only_server_reaches_legacy_and_default_senders_but_not_a_strict_one() {
        let old = scan(&[("TLSv1.0", &["TLS_RSA_WITH_AES_128_CBC_SHA"])]);
        assert!(matches!(
            overlap(find("openssl102-legacy").unwrap(), &old),
            Overlap::Fine { .. }
        ));
        // Postfix on OpenSSL 3 at "may" still offers TLS 1.0 (measured), a TLS 1.3-only sender does not.
        assert!(matches!(
            overlap(find("openssl3-debian").unwrap(), &old),
            Overlap::Fine { .. }
        ));
        assert!(matches!(
            overlap(find("modern-strict").unwrap(), &old),
            Overlap::NoCommonVersion { .. }
        ));
        assert!(server_is_older(find("modern-strict").unwrap(), &old));
        assert!(server_suites_outdated(&old));
    }

    #[test]
    fn tls13_only_server_and_a_tls12_sender_share_nothing() {
        let new = scan(&[("TLSv1.3", &["TLS_AES_256_GCM_SHA384"])]);
        let legacy = find("openssl102-legacy").unwrap();
        assert!(matches!(overlap(legacy, &new), Overlap::NoCommonVersion { .. }));
        assert!(!server_is_older(legacy, &new), "here the sender is the outdated side");
        let tls12 = scan(&[("TLSv1.2", &["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"])]);
        assert!(
            !server_is_older(find("modern-strict").unwrap(), &tls12),
            "TLS 1.2 is current: a 1.3-only sender is too strict"
        );
        assert!(!server_suites_outdated(&new));
    }

    #[test]
    fn cbc_only_tls12_server_still_reaches_openssl3() {
        let cbc = scan(&[("TLSv1.2", &["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"])]);
        assert!(matches!(
            overlap(find("openssl3-debian").unwrap(), &cbc),
            Overlap::Fine { .. }
        ));
        assert!(matches!(
            overlap(find("rustls-probe").unwrap(), &cbc),
            Overlap::NoCommonSuite { .. }
        ));
    }
}
