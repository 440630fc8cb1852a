//! Real OpenSSL as the lab's TLS peer: `openssl s_server` processes configured for
//! legacy setups rustls cannot play (TLS 1.0 only, CBC only, static RSA), behind the
//! lab's SMTP front end, which splices the connection over after `220`.
//!
//! Inside TLS the peer speaks SMTP: s_server writes what the client sends to its
//! standard output and sends its standard input to the client, so a small responder
//! on those pipes answers EHLO, takes a message and says goodbye, as a real MX would.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

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
    // What a stock Postfix at `may` serves: every version, every suite including aNULL.
    OpensslScenario {
        name: "openssl-postfix-like",
        options: &["-cipher", "ALL:@SECLEVEL=0"],
    },
    // A Postfix whose certificate file is missing still completes anonymous handshakes.
    OpensslScenario {
        name: "openssl-anon-only",
        options: &["-nocert", "-cipher", "aNULL:@SECLEVEL=0"],
    },
    // PSK suites without a PSK: nothing any ClientHello offers can be served.
    OpensslScenario {
        name: "openssl-refuses-all",
        options: &["-no_tls1_3", "-cipher", "PSK"],
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

/// The lab's intermediate CA as files, so OpenSSL can sign with it.
pub struct Issuer {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Makes an RSA key (rcgen cannot: static-RSA and TLS 1.0 peers need one) and a
/// certificate for `host` issued by the lab's intermediate, so that these peers are
/// trusted like every other lab server and only their TLS differs.
fn certificate(dir: &Path, host: &str, issuer: &Issuer) -> std::io::Result<(PathBuf, PathBuf)> {
    let (key, csr, cert) = (
        dir.join(format!("{host}.key")),
        dir.join(format!("{host}.csr")),
        dir.join(format!("{host}.pem")),
    );
    let request = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj"])
        .arg(format!("/CN={host}"))
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:{host}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let signed = request.success()
        && Command::new("openssl")
            .args(["x509", "-req", "-days", "30", "-copy_extensions", "copy", "-set_serial"])
            .arg(format!("{}", std::process::id()))
            .arg("-in")
            .arg(&csr)
            .arg("-CA")
            .arg(&issuer.cert)
            .arg("-CAkey")
            .arg(&issuer.key)
            .arg("-out")
            .arg(&cert)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?
            .success();
    if signed {
        Ok((key, cert))
    } else {
        Err(std::io::Error::other(format!(
            "openssl could not issue a certificate for {host}"
        )))
    }
}

/// Answers the SMTP commands that arrive inside TLS, one connection after another
/// (s_server serves one at a time): EHLO, a mail transaction with its data, QUIT.
fn respond(host: &str, stdout: ChildStdout, mut stdin: ChildStdin) {
    let mut in_data = false;
    for line in BufReader::new(stdout).split(b'\n') {
        let Ok(line) = line else { return };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches('\r');
        let verb = line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
        // A client that left mid-message: the next connection starts with EHLO again.
        if in_data && verb == "EHLO" {
            in_data = false;
        }
        let reply = if in_data {
            in_data = line != ".";
            (!in_data).then(|| "250 2.0.0 Ok: queued by the lab".to_string())
        } else {
            Some(match verb.as_str() {
                "EHLO" => format!("250-{host} at your service\r\n250-PIPELINING\r\n250 8BITMIME"),
                "HELO" => format!("250 {host}"),
                "MAIL" | "RCPT" | "RSET" | "NOOP" => "250 2.0.0 OK".into(),
                "DATA" => {
                    in_data = true;
                    "354 End data with <CR><LF>.<CR><LF>".into()
                }
                "QUIT" => "221 2.0.0 Bye".into(),
                _ => "502 5.5.1 Error: command not implemented".into(),
            })
        };
        let sent = reply.is_none_or(|reply| {
            stdin
                .write_all(format!("{reply}\r\n").as_bytes())
                .and_then(|()| stdin.flush())
                .is_ok()
        });
        if !sent {
            return;
        }
    }
}

/// Starts `openssl s_server` for `scenario` on a free loopback port.
pub fn start(scenario: &OpensslScenario, host: &str, dir: &Path, issuer: &Issuer) -> std::io::Result<Server> {
    std::fs::create_dir_all(dir)?;
    // Find a free port; s_server binds it right after (a small, accepted race in a lab).
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?.port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    // `-nocert` scenarios serve anonymous suites only: no key to make.
    let credentials: Vec<std::ffi::OsString> = if scenario.options.contains(&"-nocert") {
        Vec::new()
    } else {
        let (key, cert) = certificate(dir, host, issuer)?;
        vec![
            "-cert".into(),
            cert.into(),
            "-key".into(),
            key.into(),
            "-cert_chain".into(),
            issuer.cert.clone().into(),
        ]
    };
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept"])
        .arg(addr.to_string())
        .args(credentials)
        .args(scenario.options)
        // The responder speaks SMTP through these; an open stdin also keeps s_server serving.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut server = Server { addr, child };
    if let (Some(stdin), Some(stdout)) = (server.child.stdin.take(), server.child.stdout.take()) {
        let host = host.to_string();
        // Ends when s_server does (its standard output closes).
        std::thread::spawn(move || respond(&host, stdout, stdin));
    }
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
