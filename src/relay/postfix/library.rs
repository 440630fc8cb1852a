//! The TLS library Postfix's smtp(8) client is linked against, and its version.
//!
//! `ldd` names the shared library (libssl.so.3, libgnutls); the version comes from the
//! `openssl version` of the same major release, whose "(Library: ...)" part is the
//! run-time library smtp(8) loads too.

use std::path::Path;

use crate::model::relay::{Origin, TlsLibrary};
use crate::relay::command;

/// Reads the library of `<daemon_directory>/smtp`; the error says what could not be read.
pub async fn detect(daemon_directory: &str) -> Result<TlsLibrary, String> {
    let smtp = Path::new(daemon_directory).join("smtp");
    let smtp = smtp.display().to_string();
    let linked = command::run("ldd", &[smtp.as_str()]).await.map_err(|e| e.to_string())?;
    let soname = linked
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|name| name.starts_with("libssl.so") || name.starts_with("libgnutls.so"))
        .ok_or_else(|| format!("{smtp} is not linked against libssl or libgnutls (ldd shows neither)"))?
        .to_string();
    if soname.starts_with("libgnutls") {
        return Err(format!("{smtp} uses {soname}; its version is not read"));
    }
    // The soname's version: "3" for libssl.so.3, "1.1" for libssl.so.1.1.
    let major = soname.trim_start_matches("libssl.so.").to_string();
    let printed = command::run("openssl", &["version"]).await.map_err(|e| e.to_string())?;
    let version =
        parse_openssl_version(&printed).ok_or_else(|| format!("`openssl version` printed {:?}", printed.trim()))?;
    let same_major = version == major || version.starts_with(&format!("{major}."));
    if !same_major {
        return Err(format!(
            "{smtp} loads {soname}, but the openssl command is version {version}: the library version is unknown"
        ));
    }
    Ok(TlsLibrary {
        name: "OpenSSL".into(),
        version,
        origin: Origin::Command {
            command: format!("ldd {smtp} ({soname}); openssl version"),
        },
    })
}

/// "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)": the library's
/// version when printed, else the command's.
fn parse_openssl_version(printed: &str) -> Option<String> {
    let text = printed.split_once("(Library: ").map_or(printed, |(_, library)| library);
    let mut words = text.split_whitespace();
    (words.next()? == "OpenSSL").then(|| words.next().map(str::to_string))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_library_version_wins() {
        assert_eq!(
            parse_openssl_version("OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.20 1 Jul 2026)\n").as_deref(),
            Some("3.0.20")
        );
        assert_eq!(
            parse_openssl_version("OpenSSL 3.5.1 1 Jul 2025\n").as_deref(),
            Some("3.5.1")
        );
        assert_eq!(parse_openssl_version("LibreSSL 3.8.2"), None);
    }
}
