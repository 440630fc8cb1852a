//! The lab's certificate authority and server certificates, made fresh at start.

use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

use super::LabError;

/// The kind of certificate a lab server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    /// Issued by the lab intermediate for the host name; full chain sent.
    Valid,
    Expired,
    NotYetValid,
    /// Valid, but for a name that is not the MX host.
    WrongName,
    /// Issued by the intermediate, but only the leaf is sent.
    LeafOnly,
    SelfSigned,
}

/// A certificate chain and its key, ready for a rustls server.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// The key, then the chain (leaf first), in PEM: one file for a server that takes
    /// both (Postfix's `smtpd_tls_chain_files`).
    pub fn pem(&self) -> String {
        let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
        let key = pem::Pem::new("PRIVATE KEY", self.key.secret_der());
        let certs = self.chain.iter().map(|c| pem::Pem::new("CERTIFICATE", c.as_ref()));
        std::iter::once(key)
            .chain(certs)
            .map(|block| pem::encode_config(&block, config))
            .collect()
    }
}

pub struct Pki {
    root: rcgen::Certificate,
    intermediate: rcgen::Certificate,
    intermediate_key: KeyPair,
}

impl Pki {
    pub fn new() -> Result<Self, LabError> {
        let root_key = KeyPair::generate()?;
        let root = ca_params("mxtriage lab root CA")?.self_signed(&root_key)?;
        let intermediate_key = KeyPair::generate()?;
        let intermediate = ca_params("mxtriage lab intermediate CA")?.signed_by(&intermediate_key, &root, &root_key)?;
        Ok(Self {
            root,
            intermediate,
            intermediate_key,
        })
    }

    /// The root in PEM, what `--ca-file` takes.
    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// The intermediate CA's certificate and key in PEM, for peers OpenSSL signs for.
    pub fn intermediate_pem(&self) -> (String, String) {
        (self.intermediate.pem(), self.intermediate_key.serialize_pem())
    }

    pub fn root_der(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    pub fn identity(&self, host: &str, kind: CertKind) -> Result<Identity, LabError> {
        let name = match kind {
            CertKind::WrongName => "www.unrelated.example".to_string(),
            _ => host.to_string(),
        };
        let mut params = CertificateParams::new(vec![name.clone()])?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.use_authority_key_identifier_extension = true;
        // Half-day margins keep the day counts the same however long a test takes.
        let now = OffsetDateTime::now_utc();
        let half = Duration::hours(12);
        (params.not_before, params.not_after) = match kind {
            CertKind::Expired => (now - Duration::days(400), now - Duration::days(3) + half),
            CertKind::NotYetValid => (now + Duration::days(10) + half, now + Duration::days(400)),
            _ => (now - Duration::days(1), now + Duration::days(90) + half),
        };
        let key = KeyPair::generate()?;
        let leaf = match kind {
            CertKind::SelfSigned => params.self_signed(&key)?,
            _ => params.signed_by(&key, &self.intermediate, &self.intermediate_key)?,
        };
        let mut chain = vec![leaf.der().clone()];
        if !matches!(kind, CertKind::SelfSigned | CertKind::LeafOnly) {
            chain.push(self.intermediate.der().clone());
        }
        Ok(Identity {
            chain,
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

fn ca_params(common_name: &str) -> Result<CertificateParams, LabError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.distinguished_name.push(DnType::OrganizationName, "mxtriage lab");
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(30);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}
