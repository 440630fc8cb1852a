//! The MTA-STS policy fetch against the lab's HTTPS policy host: real DNS through the
//! lab resolver, real TLS with certificates made by the lab CA, every failure distinct.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test set-up helpers fail loudly")]

use std::sync::Arc;
use std::time::Duration;

use mxtriage::cert::TrustStores;
use mxtriage::dns::{Dns, Family};
use mxtriage::lab::{Lab, LabOptions};
use mxtriage::policy::sts_fetch::{Fetch, FetchOutcome, FetchSettings, MAX_POLICY_BYTES, fetch};

/// The scenario's policy fetched as the check does it, trusting the lab CA.
async fn fetch_policy(lab: &Lab, scenario: &str) -> Fetch {
    let dns = Arc::new(Dns::new(&[lab.dns], Family::Both, Duration::from_secs(3)).expect("resolver"));
    let mut stores = TrustStores::from_parts(Vec::new(), Vec::new());
    stores.add_ca_anchor(lab.ca_der()).expect("lab CA is an anchor");
    let settings = FetchSettings {
        port: lab.port,
        timeout: Duration::from_secs(5),
    };
    fetch(&format!("{scenario}.lab.test"), dns, &stores, settings).await
}

async fn fetch_scenario(lab: &Lab, scenario: &str) -> FetchOutcome {
    fetch_policy(lab, scenario).await.outcome
}

#[tokio::test]
async fn rfc8461_policy_is_fetched_over_validated_https() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let fetched = fetch_policy(&lab, "sts-enforce").await;
    let outcome = fetched.outcome;
    let FetchOutcome::Fetched {
        lines,
        content_type,
        url,
        ..
    } = &outcome
    else {
        panic!("expected a fetched policy, got {outcome:?}");
    };
    let body = fetched.body.expect("the body is kept for the parser");
    assert_eq!(lines.len(), body.lines().count());
    assert_eq!(url, "https://mta-sts.sts-enforce.lab.test/.well-known/mta-sts.txt");
    assert_eq!(content_type.as_ref().map(|c| c.as_str()), Some("text/plain"));
    assert!(body.contains("mode: enforce\n"), "{body}");
    assert!(body.contains("mx: mx.sts-enforce.lab.test\n"), "{body}");
    assert_eq!(outcome.rfc8460_result_type(), None);
}

#[tokio::test]
async fn each_fetch_failure_is_its_own_outcome() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let not_found = fetch_scenario(&lab, "sts-404").await;
    assert!(
        matches!(
            not_found,
            FetchOutcome::HttpStatus {
                status: 404,
                location: None,
                ..
            }
        ),
        "{not_found:?}"
    );
    assert_eq!(
        not_found.rfc8460_result_type().map(|t| t.as_str()),
        Some("sts-policy-fetch-error")
    );

    let redirect = fetch_scenario(&lab, "sts-redirect").await;
    let FetchOutcome::HttpStatus {
        status: 301,
        location: Some(location),
        ..
    } = &redirect
    else {
        panic!("expected an unfollowed redirect, got {redirect:?}");
    };
    assert_eq!(location.as_str(), "https://www.sts-redirect.lab.test/mta-sts.txt");

    let oversized = fetch_scenario(&lab, "sts-oversized").await;
    assert!(
        matches!(oversized, FetchOutcome::TooLarge { limit, .. } if limit == MAX_POLICY_BYTES),
        "{oversized:?}"
    );

    let bad_cert = fetch_scenario(&lab, "sts-bad-policy-cert").await;
    let FetchOutcome::Certificate { problem, .. } = &bad_cert else {
        panic!("expected a certificate refusal, got {bad_cert:?}");
    };
    assert!(
        problem.contains("does not cover mta-sts.sts-bad-policy-cert.lab.test"),
        "{problem}"
    );
    assert_eq!(
        bad_cert.rfc8460_result_type().map(|t| t.as_str()),
        Some("sts-webpki-invalid")
    );

    let no_host = fetch_scenario(&lab, "healthy").await;
    let FetchOutcome::NoAddress { message, .. } = &no_host else {
        panic!("expected no address, got {no_host:?}");
    };
    assert_eq!(message.as_str(), "no such name (mta-sts.healthy.lab.test)");
}

#[tokio::test]
async fn a_policy_host_outside_the_trust_stores_is_refused() {
    let lab = Lab::start(LabOptions::default()).await.expect("lab");
    let dns = Arc::new(Dns::new(&[lab.dns], Family::Both, Duration::from_secs(3)).expect("resolver"));
    // Mozilla's roots only: the lab CA is not among them.
    let stores = TrustStores::from_parts(Vec::new(), Vec::new());
    let settings = FetchSettings {
        port: lab.port,
        timeout: Duration::from_secs(5),
    };
    let outcome = fetch("sts-enforce.lab.test", dns, &stores, settings).await.outcome;
    let FetchOutcome::Certificate { problem, .. } = &outcome else {
        panic!("expected a certificate refusal, got {outcome:?}");
    };
    assert!(problem.contains("not issued by a trusted CA"), "{problem}");
}
