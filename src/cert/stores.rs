//! The three trust stores a chain is judged against.
//!
//! Each store answers a different question: Mozilla is what most public senders trust,
//! System is what an MTA on this host would trust, and the CA file is what the operator
//! says their private senders trust. They are loaded once and shared by every probe.

use std::path::{Path, PathBuf};

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use super::TrustStore;

/// Why extra trust anchors (`--ca-file`, or the lab's CA) could not be added.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot read ca file {}: {source}", path.display())]
    CaFileRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("ca file: {0}")]
    CaFile(#[from] crate::files::ReadError),
    #[error("ca file {} holds no pem certificates", path.display())]
    CaFileEmpty { path: PathBuf },
    #[error("ca file {}: none of its {found} certificates is usable as a trust anchor", path.display())]
    CaFileUnusable { path: PathBuf, found: usize },
    #[error("certificate is not usable as a trust anchor: {reason}")]
    BadAnchor { reason: String },
}

/// Anchors of every store, loaded once because the system store can hold hundreds.
#[derive(Debug, Clone)]
pub struct TrustStores {
    mozilla: RootCertStore,
    system: RootCertStore,
    ca_file: RootCertStore,
    system_report: SystemLoad,
    ca_file_path: Option<PathBuf>,
}

/// What happened while reading the host store, kept so `check` can say when the
/// System store is empty instead of silently judging against it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemLoad {
    /// Certificates the platform returned that became anchors.
    pub loaded: usize,
    /// Certificates the platform returned that webpki could not use as anchors.
    pub skipped: usize,
    /// Errors the platform loader reported (the store may still be partly filled).
    pub errors: Vec<String>,
}

impl TrustStores {
    /// Loads Mozilla's roots, the host's store and, if given, the PEM file of extra anchors.
    ///
    /// Problems with the host store are recorded in [`TrustStores::system_load`] rather
    /// than failing, since the other stores still give useful verdicts. A CA file the
    /// user named but that yields no anchor is an error: silently ignoring it would turn
    /// "trusted by my CA" into a misleading "unknown issuer".
    pub fn load(ca_file: Option<&Path>) -> Result<TrustStores, CertError> {
        let native = rustls_native_certs::load_native_certs();
        let mut stores = Self::from_parts(native.certs, Vec::new());
        stores.system_report.errors = native.errors.iter().map(|e| e.to_string()).collect();
        if let Some(path) = ca_file {
            stores.load_ca_file(path)?;
        }
        Ok(stores)
    }

    /// Adds every certificate of a PEM file to the CaFile store; returns how many became anchors.
    pub fn load_ca_file(&mut self, path: &Path) -> Result<usize, CertError> {
        let certs = read_pem_certs(path)?;
        let found = certs.len();
        let (added, _) = self.ca_file.add_parsable_certificates(certs);
        if added == 0 {
            return Err(CertError::CaFileUnusable {
                path: path.to_owned(),
                found,
            });
        }
        self.ca_file_path = Some(path.to_owned());
        Ok(added)
    }

    /// Builds stores from given certificates without touching the host (tests, the lab).
    ///
    /// Mozilla's roots are always compiled in. Certificates that are not usable as
    /// anchors are skipped and counted in [`SystemLoad::skipped`] for the system store.
    pub fn from_parts(system: Vec<CertificateDer<'static>>, ca_file: Vec<CertificateDer<'static>>) -> TrustStores {
        let mozilla = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut system_store = RootCertStore::empty();
        let (loaded, skipped) = system_store.add_parsable_certificates(system);
        let mut ca_store = RootCertStore::empty();
        ca_store.add_parsable_certificates(ca_file);
        TrustStores {
            mozilla,
            system: system_store,
            ca_file: ca_store,
            system_report: SystemLoad {
                loaded,
                skipped,
                errors: Vec::new(),
            },
            ca_file_path: None,
        }
    }

    /// Adds one anchor to the CaFile store, as if it had been in `--ca-file`.
    ///
    /// The lab uses this to trust its own freshly generated CA.
    pub fn add_ca_anchor(&mut self, der: CertificateDer<'_>) -> Result<(), CertError> {
        self.ca_file
            .add(der)
            .map_err(|e| CertError::BadAnchor { reason: e.to_string() })
    }

    /// The anchors of one store.
    pub fn store(&self, which: TrustStore) -> &RootCertStore {
        match which {
            TrustStore::Mozilla => &self.mozilla,
            TrustStore::System => &self.system,
            TrustStore::CaFile => &self.ca_file,
        }
    }

    /// How loading the host store went.
    pub fn system_load(&self) -> &SystemLoad {
        &self.system_report
    }

    /// The `--ca-file` the CaFile store was read from, if any.
    pub fn ca_file_path(&self) -> Option<&Path> {
        self.ca_file_path.as_deref()
    }

    /// Whether any store has an anchor whose subject is `name`.
    ///
    /// `name` is the DER *contents* of a Name (no outer SEQUENCE tag and length), the
    /// form `TrustAnchor::subject` uses.
    pub fn has_anchor_subject(&self, name: &[u8]) -> bool {
        [&self.mozilla, &self.system, &self.ca_file]
            .iter()
            .flat_map(|s| s.roots.iter())
            .any(|a| a.subject.as_ref() == name)
    }
}

/// Every CERTIFICATE block of a PEM file; other blocks (keys, CRLs) are ignored.
fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertError> {
    let read_err = |source| CertError::CaFileRead {
        path: path.to_owned(),
        source,
    };
    let pem = crate::files::read(path, crate::files::CA_FILE)?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certs.is_empty() {
        return Err(CertError::CaFileEmpty { path: path.to_owned() });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_cert() -> rcgen::Certificate {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "stores test CA");
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap()
    }

    fn ca_der() -> CertificateDer<'static> {
        ca_cert().der().clone()
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("mxtriage-stores-{}-{name}", std::process::id()))
    }

    /// Touches the host store, so it only runs on request (`cargo test -- --ignored`).
    #[test]
    #[ignore = "reads this host's trust store"]
    fn load_reads_the_host_store() {
        let stores = TrustStores::load(None).unwrap();
        let report = stores.system_load();
        assert_eq!(stores.store(TrustStore::System).len(), report.loaded);
        assert!(stores.store(TrustStore::CaFile).is_empty());
        eprintln!("system store: {report:?}");
    }

    #[test]
    fn from_parts_fills_each_store() {
        let stores = TrustStores::from_parts(vec![ca_der()], vec![ca_der(), ca_der()]);
        assert!(!stores.store(TrustStore::Mozilla).is_empty());
        assert_eq!(stores.store(TrustStore::System).len(), 1);
        assert_eq!(stores.store(TrustStore::CaFile).len(), 2);
        assert_eq!(stores.system_load().loaded, 1);
    }

    #[test]
    fn garbage_system_certs_are_counted_as_skipped() {
        let stores = TrustStores::from_parts(vec![CertificateDer::from(vec![1, 2, 3])], Vec::new());
        assert_eq!(
            stores.system_load(),
            &SystemLoad {
                loaded: 0,
                skipped: 1,
                errors: vec![]
            }
        );
    }

    #[test]
    fn add_ca_anchor_accepts_a_ca_and_rejects_garbage() {
        let mut stores = TrustStores::from_parts(Vec::new(), Vec::new());
        stores.add_ca_anchor(ca_der()).unwrap();
        assert_eq!(stores.store(TrustStore::CaFile).len(), 1);
        assert!(stores.add_ca_anchor(CertificateDer::from(vec![0x30, 0x00])).is_err());
    }

    #[test]
    fn missing_ca_file_is_a_read_error_naming_the_path() {
        let path = temp_path("missing.pem");
        let err = read_pem_certs(&path).unwrap_err();
        assert!(matches!(err, CertError::CaFile(_)), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }

    #[test]
    fn ca_file_without_certificates_is_empty_error() {
        let path = temp_path("empty.pem");
        std::fs::write(&path, "not a pem file\n").unwrap();
        let err = read_pem_certs(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, CertError::CaFileEmpty { .. }), "{err}");
        assert!(err.to_string().starts_with("ca file "));
    }

    #[test]
    fn ca_file_pem_becomes_anchors() {
        let path = temp_path("ok.pem");
        let ca = ca_cert();
        std::fs::write(&path, format!("some comment\n{}", ca.pem())).unwrap();
        let mut stores = TrustStores::from_parts(Vec::new(), Vec::new());
        let added = stores.load_ca_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(added.unwrap(), 1);
        assert_eq!(stores.store(TrustStore::CaFile).len(), 1);
        assert_eq!(stores.ca_file_path(), Some(path.as_path()));
    }

    #[test]
    fn ca_file_with_only_unusable_certificates_is_an_error() {
        let path = temp_path("bad.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n").unwrap();
        let mut stores = TrustStores::from_parts(Vec::new(), Vec::new());
        let err = stores.load_ca_file(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, CertError::CaFileUnusable { found: 1, .. }), "{err}");
    }
}
