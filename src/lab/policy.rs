//! What the lab's policy scenarios publish: `_mta-sts` TXT and the policy host, TLSA
//! records made from the certificates the lab just generated, and the domain context
//! records (TLS-RPT, SPF, DMARC) a real domain has next to them.

use std::net::Ipv4Addr;

use ring::digest;
use rustls::pki_types::CertificateDer;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::LabError;
use super::dns::ZoneSpec;
use super::https::{PolicyAnswer, PolicySite};
use super::pki::{CertKind, Pki};
use super::scenarios::{PolicyScenario, StsAnswer, TlsaSetup};

/// Where every lab policy host (`mta-sts.<scenario>.lab.test`) listens.
pub const POLICY_HOST_IP: Ipv4Addr = Ipv4Addr::new(127, 77, 0, 2);

/// Publishes one scenario's records in `zone` and returns its policy site, if any.
///
/// `chain` is what the scenario's SMTP server presents, leaf first.
pub fn publish(
    scenario: &PolicyScenario,
    domain: &str,
    mx: &str,
    chain: &[CertificateDer<'static>],
    pki: &Pki,
    zone: &mut ZoneSpec,
) -> Result<Option<PolicySite>, LabError> {
    zone.txt(
        &format!("_smtp._tls.{domain}"),
        &[&format!("v=TLSRPTv1; rua=mailto:tlsrpt@{domain}")],
    )
    .txt(domain, &["v=spf1 mx -all"])
    .txt(
        &format!("_dmarc.{domain}"),
        &[&format!("v=DMARC1; p=reject; rua=mailto:dmarc@{domain}")],
    );
    for setup in scenario.tlsa {
        let (usage, selector, matching, data) = match *setup {
            TlsaSetup::Leaf(u, s, m) => (u, s, m, association(chain.first(), s, m)?),
            TlsaSetup::Issuer(u, s, m) => (u, s, m, association(chain.get(1), s, m)?),
            TlsaSetup::OldKey(u, s, m) => {
                let old = pki.identity(mx, CertKind::Valid)?;
                (u, s, m, association(old.chain.first(), s, m)?)
            }
            TlsaSetup::Raw(u, s, m, data) => (u, s, m, data.to_vec()),
        };
        zone.tlsa(&format!("_25._tcp.{mx}"), usage, selector, matching, &data);
    }
    if scenario.secure {
        for owner in [mx.to_string(), format!("_25._tcp.{mx}")] {
            zone.secure_name(&owner);
        }
        if !scenario.insecure_mx {
            zone.secure_name(domain);
        }
    }
    let Some(sts) = &scenario.sts else {
        return Ok(None);
    };
    let owner = format!("_mta-sts.{domain}");
    for record in sts.txt {
        zone.txt(&owner, &[record]);
    }
    let host = format!("mta-sts.{domain}");
    zone.a(&host, POLICY_HOST_IP);
    let answer = match sts.answer {
        StsAnswer::Policy(text) => PolicyAnswer::Policy(text.replace("{mx}", mx)),
        StsAnswer::Status(code) => PolicyAnswer::Status(code),
        StsAnswer::Redirect => PolicyAnswer::Redirect(format!("https://www.{domain}/mta-sts.txt")),
        StsAnswer::Oversized => PolicyAnswer::Oversized,
    };
    Ok(Some(PolicySite {
        identity: pki.identity(&host, sts.cert)?,
        host,
        answer,
    }))
}

/// The certificate association data of a TLSA record (RFC 6698 §2.1) for `cert`.
fn association(cert: Option<&CertificateDer<'_>>, selector: u8, matching: u8) -> Result<Vec<u8>, LabError> {
    let missing = || LabError::Assets("a TLSA scenario names a certificate the chain does not have".into());
    let cert = cert.ok_or_else(missing)?;
    let selected = match selector {
        0 => cert.as_ref().to_vec(),
        _ => {
            let (_, parsed) = X509Certificate::from_der(cert.as_ref()).map_err(|_| missing())?;
            parsed.public_key().raw.to_vec()
        }
    };
    Ok(match matching {
        0 => selected,
        1 => digest::digest(&digest::SHA256, &selected).as_ref().to_vec(),
        _ => digest::digest(&digest::SHA512, &selected).as_ref().to_vec(),
    })
}
