//! Real OpenSSL as the lab's TLS peer: `openssl s_server` processes configured for
//! legacy setups rustls cannot play (TLS 1.0 only, CBC only, static RSA), behind the
//! lab's SMTP front end, which splices the connection over after `220`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One OpenSSL-backed scenario: its name and the s_server options that shape it.
pub struct OpensslScenario {
    pub name: &'static str,
    pub options: &'static [&'static str],
}

/// SECLEVEL=0 lets OpenSSL 3 serve what it otherwise refuses (TLS 1.0, SHA-1).
pub const SCENARIOS: &[OpensslScenario] = &[
    OpensslScenario {
        name: "openssl-tls10-only",
        options: &["-tls1", "-cipher", "ECDHE-RSA-AES128-SHA:AES128-SHA:@SECLEVEL=0"],
    },
    OpensslScenario {
        name: "openssl-cbc-only",
        options: &[
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:AES128-SHA",
        ],
    },
    OpensslScenario {
        name: "openssl-tls13-only",
        options: &["-tls1_3"],
    },
    OpensslScenario {
        name: "openssl-rsa-kx-only",
        options: &["-tls1_2", "-cipher", "AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA"],
    },
];

/// Whether `openssl` can be run here; without it these scenarios are skipped, visibly.
pub fn available() -> bool {
    Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running s_server; killed when dropped.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes an RSA key and a certificate for `host` signed by nobody (the scan does not
/// care about trust) in `dir`.
fn certificate(dir: &Path, host: &str) -> std::io::Result<(PathBuf, PathBuf)> {
    let (key, cert) = (dir.join(format!("{host}.key")), dir.join(format!("{host}.pem")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj"])
        .arg(format!("/CN={host}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{host}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if status.success() {
        Ok((key, cert))
    } else {
        Err(std::io::Error::other(format!("openssl req failed for {host}")))
    }
}

/// Starts `openssl s_server` for `scenario` on a free loopback port.
pub fn start(scenario: &OpensslScenario, host: &str, dir: &Path) -> std::io::Result<Server> {
    std::fs::create_dir_all(dir)?;
    let (key, cert) = certificate(dir, host)?;
    // Find a free port; s_server binds it right after (a small, accepted race in a lab).
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(addr.to_string())
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .args(scenario.options)
        // An open stdin keeps s_server serving; its output is not needed.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server { addr, child };
    // Ready when it accepts; until then the front end would splice into nothing.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(std::io::Error::other(format!(
                "openssl s_server did not listen on {addr}"
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(server)
}
