//! Per-store verdicts from rustls/webpki, with "expired" kept apart from "untrusted".
//!
//! webpki checks each certificate's validity period *before* it looks for an issuer,
//! so an expired self-signed leaf fails with `Expired`, never reaching `UnknownIssuer`.
//! To report "expired" only when a path to an anchor really exists, a time error at
//! `now` is re-checked at instants inside the presented certificates' validity windows:
//! if some instant succeeds the path exists and the time error stands; if the re-checks
//! say `UnknownIssuer`, that is the more useful verdict.

use std::time::Duration;

use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, RootCertStore};

use super::signature::Algorithms;
use super::stores::TrustStores;
use super::{TrustOutcome, TrustResult, TrustStore};
use crate::text::SafeText;

/// Certificates whose validity windows seed the re-check instants; bounds the work on long chains.
const RECHECK_CERTS: usize = 8;

/// Verdicts of all three stores, in a fixed order (Mozilla, System, CaFile).
///
/// `windows` are the (not_before, not_after) Unix seconds of the presented certificates
/// that could be parsed, leaf first.
pub(crate) fn judge(
    chain: &[CertificateDer<'_>],
    stores: &TrustStores,
    now: UnixTime,
    windows: &[(i64, i64)],
    algs: Algorithms,
) -> Vec<TrustResult> {
    let instants = recheck_instants(windows);
    [TrustStore::Mozilla, TrustStore::System, TrustStore::CaFile]
        .into_iter()
        .map(|store| {
            let roots = stores.store(store);
            TrustResult {
                store,
                anchors: roots.len(),
                outcome: outcome(chain, roots, now, &instants, algs),
            }
        })
        .collect()
}

fn outcome(
    chain: &[CertificateDer<'_>],
    roots: &RootCertStore,
    now: UnixTime,
    instants: &[UnixTime],
    algs: Algorithms,
) -> TrustOutcome {
    if roots.is_empty() {
        return TrustOutcome::StoreEmpty;
    }
    let Some((leaf, intermediates)) = chain.split_first() else {
        return TrustOutcome::Invalid {
            reason: "no certificate was presented".to_owned(),
        };
    };
    let leaf = match ParsedCertificate::try_from(leaf) {
        Ok(leaf) => leaf,
        Err(e) => return invalid(&e),
    };
    let check = |at: UnixTime| verify_server_cert_signed_by_trust_anchor(&leaf, roots, intermediates, at, algs);
    let at_now = match check(now) {
        Ok(()) => return TrustOutcome::Trusted,
        Err(e) => classify_error(&e),
    };
    if !is_time_error(&at_now) {
        return at_now;
    }
    let mut other = None;
    let mut unknown_issuer = false;
    for &at in instants {
        match check(at).map_err(|e| classify_error(&e)) {
            Ok(()) => return at_now,
            Err(TrustOutcome::UnknownIssuer) => unknown_issuer = true,
            Err(e) if is_time_error(&e) => {}
            Err(e) => {
                other.get_or_insert(e);
            }
        }
    }
    if unknown_issuer {
        TrustOutcome::UnknownIssuer
    } else {
        other.unwrap_or(at_now)
    }
}

/// Both ends of every window: webpki's validity check includes them.
fn recheck_instants(windows: &[(i64, i64)]) -> Vec<UnixTime> {
    let mut secs: Vec<u64> = windows
        .iter()
        .take(RECHECK_CERTS)
        .flat_map(|&(nb, na)| [nb, na])
        .map(|t| u64::try_from(t).unwrap_or(0))
        .collect();
    secs.sort_unstable();
    secs.dedup();
    secs.into_iter()
        .map(|s| UnixTime::since_unix_epoch(Duration::from_secs(s)))
        .collect()
}

fn is_time_error(outcome: &TrustOutcome) -> bool {
    matches!(outcome, TrustOutcome::Expired | TrustOutcome::NotYetValid)
}

/// The verdict a webpki path error stands for; DANE-TA reads it too.
pub(crate) fn classify_error(error: &rustls::Error) -> TrustOutcome {
    match error {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TrustOutcome::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TrustOutcome::NotYetValid,
            CertificateError::UnknownIssuer => TrustOutcome::UnknownIssuer,
            _ => invalid(error),
        },
        _ => invalid(error),
    }
}

/// webpki's own wording, sanitised because some variants echo certificate contents.
fn invalid(error: &rustls::Error) -> TrustOutcome {
    TrustOutcome::Invalid {
        reason: SafeText::from_peer_str(&error.to_string()).as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recheck_instants_are_sorted_unique_and_clamped() {
        let got = recheck_instants(&[(10, 20), (-5, 20)]);
        let secs: Vec<u64> = got.iter().map(|t| t.as_secs()).collect();
        assert_eq!(secs, vec![0, 10, 20]);
    }

    #[test]
    fn recheck_instants_are_bounded() {
        let windows: Vec<(i64, i64)> = (0..100).map(|i| (i, i + 1000)).collect();
        assert!(recheck_instants(&windows).len() <= 2 * RECHECK_CERTS);
    }
}
