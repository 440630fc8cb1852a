//! A scripted SMTP server: healthy by default, broken in exactly one named way.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::probe::lines::LineReader;

/// What the server does at the door.
#[derive(Debug, Clone)]
pub enum Greeting {
    Normal,
    /// Accept the connection and say nothing.
    Never,
    /// Greet after a pause, with a `220-` first line as postscreen does.
    Slow(Duration),
    /// Send this reply and close.
    Reject(&'static str),
}

/// What happens right after the server said `220` to STARTTLS.
#[derive(Clone)]
pub enum AfterReady {
    Tls(Arc<rustls::ServerConfig>),
    /// Close without sending a byte.
    Close,
    /// Read the ClientHello, then reset the connection.
    Reset,
    /// Read the ClientHello, then answer with this fatal alert.
    Alert(u8),
    /// Read the ClientHello, then answer in cleartext as a server that never switched.
    Plaintext,
    /// Every second connection closes after 220; the others get TLS: a pool with a bad member.
    Flaky(Arc<rustls::ServerConfig>),
    /// Hand the connection to a real TLS server (OpenSSL's s_server) at this address.
    Splice(std::net::SocketAddr),
    /// TLS, behind a box that resets any ClientHello record over [`LARGE_HELLO`] bytes
    /// (some firewalls and load balancers do to post-quantum hellos).
    DropLargeHello(Arc<rustls::ServerConfig>),
    /// TLS only for a ClientHello that names the server (SNI); without one it hangs up,
    /// as a server with no default certificate does. Postfix sends no SNI by default.
    RequireSni(Arc<rustls::ServerConfig>),
}

/// The largest ClientHello record `DropLargeHello` lets through: OpenSSL 3.0's 512-byte
/// hello passes, a 1.5 KB post-quantum one does not.
pub const LARGE_HELLO: usize = 1024;

/// What happens to the EHLO inside TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsEhlo {
    Answer,
    Close,
}

#[derive(Clone)]
pub struct Script {
    pub host: String,
    pub greeting: Greeting,
    /// EHLO keywords offered before TLS.
    pub keywords: Vec<&'static str>,
    /// The reply to STARTTLS; anything but a 220 ends the TLS attempt.
    pub starttls_reply: &'static str,
    pub after_ready: AfterReady,
    pub tls_ehlo: TlsEhlo,
    /// Added before every reply, to model a distant server.
    pub latency: Duration,
    /// TLS from the first byte (port 465 style); the greeting comes inside TLS.
    pub implicit_tls: bool,
}

impl Script {
    pub fn healthy(host: &str, tls: Arc<rustls::ServerConfig>) -> Self {
        Self {
            host: host.to_string(),
            greeting: Greeting::Normal,
            keywords: vec![
                "PIPELINING",
                "SIZE 10240000",
                "STARTTLS",
                "ENHANCEDSTATUSCODES",
                "8BITMIME",
            ],
            starttls_reply: "220 2.0.0 Ready to start TLS",
            after_ready: AfterReady::Tls(tls),
            tls_ehlo: TlsEhlo::Answer,
            latency: Duration::ZERO,
            implicit_tls: false,
        }
    }
}

/// How long the lab waits for a client before dropping it, so tasks never pile up.
const IDLE: Duration = Duration::from_secs(30);

/// Serves `script` on `listener` until the task is aborted; counts accepted connections.
pub async fn serve(listener: TcpListener, script: Arc<Script>, connections: Arc<AtomicUsize>) {
    loop {
        let Ok((stream, _peer)) = listener.accept().await else {
            // Out of descriptors, typically: wait instead of spinning a core.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let number = connections.fetch_add(1, Ordering::Relaxed);
        // Replies are small; Nagle plus delayed ACKs would add 40 ms to each.
        let _ = stream.set_nodelay(true);
        let script = Arc::clone(&script);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(IDLE * 4, session(stream, &script, number)).await;
        });
    }
}

type Io = std::io::Result<()>;

async fn reply<W: AsyncWrite + Unpin>(w: &mut W, script: &Script, text: &str) -> Io {
    if !script.latency.is_zero() {
        tokio::time::sleep(script.latency).await;
    }
    w.write_all(text.as_bytes()).await?;
    w.flush().await
}

fn ehlo_reply(script: &Script, keywords: &[&str]) -> String {
    let mut lines = vec![format!("{} at your service", script.host)];
    lines.extend(keywords.iter().map(|k| k.to_string()));
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}\r\n", if i == last { ' ' } else { '-' }))
        .collect()
}

async fn session(stream: TcpStream, script: &Script, number: usize) -> Io {
    if script.implicit_tls
        && let AfterReady::Tls(config) = &script.after_ready
    {
        let Ok(Ok(mut tls)) = tokio::time::timeout(IDLE, TlsAcceptor::from(Arc::clone(config)).accept(stream)).await
        else {
            return Ok(());
        };
        reply(
            &mut tls,
            script,
            &format!("220 {} ESMTP lab (implicit TLS)\r\n", script.host),
        )
        .await?;
        return tls_dialogue(tls, script).await;
    }
    let mut reader = LineReader::new(stream);
    match &script.greeting {
        Greeting::Normal => reply(reader.get_mut(), script, &format!("220 {} ESMTP lab\r\n", script.host)).await?,
        Greeting::Never => {
            tokio::time::sleep(IDLE).await;
            return Ok(());
        }
        Greeting::Slow(pause) => {
            reader
                .get_mut()
                .write_all(format!("220-{} greeting soon\r\n", script.host).as_bytes())
                .await?;
            tokio::time::sleep(*pause).await;
            reply(reader.get_mut(), script, &format!("220 {} ESMTP lab\r\n", script.host)).await?;
        }
        Greeting::Reject(text) => return reply(reader.get_mut(), script, &format!("{text}\r\n")).await,
    }
    loop {
        let Ok(Ok(line)) = tokio::time::timeout(IDLE, reader.read_line()).await else {
            return Ok(());
        };
        let command = String::from_utf8_lossy(&line.bytes).to_ascii_uppercase();
        let verb = command.split_whitespace().next().unwrap_or("");
        match verb {
            "EHLO" => reply(reader.get_mut(), script, &ehlo_reply(script, &script.keywords)).await?,
            "HELO" => reply(reader.get_mut(), script, &format!("250 {}\r\n", script.host)).await?,
            "QUIT" => return reply(reader.get_mut(), script, "221 2.0.0 Bye\r\n").await,
            "NOOP" | "RSET" | "MAIL" | "RCPT" => reply(reader.get_mut(), script, "250 2.0.0 OK\r\n").await?,
            "DATA" => accept_message(&mut reader, script).await?,
            "STARTTLS" if script.keywords.contains(&"STARTTLS") => {
                reply(reader.get_mut(), script, &format!("{}\r\n", script.starttls_reply)).await?;
                if script.starttls_reply.starts_with("220") {
                    let (stream, _) = reader.into_parts();
                    return after_ready(stream, script, number).await;
                }
            }
            _ => reply(reader.get_mut(), script, "502 5.5.1 Error: command not implemented\r\n").await?,
        }
    }
}

async fn after_ready(mut stream: TcpStream, script: &Script, number: usize) -> Io {
    match &script.after_ready {
        AfterReady::Close => stream.shutdown().await,
        AfterReady::Flaky(_) if number % 2 == 1 => stream.shutdown().await,
        AfterReady::Reset => {
            read_client_hello(&mut stream).await;
            // SO_LINGER 0 turns the close into a RST, as a firewall would send.
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        AfterReady::Alert(code) => {
            read_client_hello(&mut stream).await;
            stream.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, *code]).await?;
            stream.shutdown().await
        }
        AfterReady::Plaintext => {
            read_client_hello(&mut stream).await;
            stream.write_all(b"500 5.5.2 Error: bad syntax\r\n").await?;
            stream.shutdown().await
        }
        AfterReady::Splice(backend) => {
            let Ok(Ok(mut upstream)) = tokio::time::timeout(IDLE, TcpStream::connect(backend)).await else {
                return stream.shutdown().await;
            };
            let _ = tokio::time::timeout(IDLE, tokio::io::copy_bidirectional(&mut stream, &mut upstream)).await;
            Ok(())
        }
        AfterReady::DropLargeHello(config) => {
            // Look at the record header without taking it, so TLS still gets the hello.
            let mut header = [0u8; 5];
            let peeked = tokio::time::timeout(IDLE, async {
                loop {
                    match stream.peek(&mut header).await {
                        Ok(n) if n >= 5 => return true,
                        Ok(0) | Err(_) => return false,
                        Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
            .await
            .unwrap_or(false);
            let length = 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
            if !peeked || length > LARGE_HELLO {
                stream.set_zero_linger()?;
                drop(stream);
                return Ok(());
            }
            let tls = match tokio::time::timeout(IDLE, TlsAcceptor::from(Arc::clone(config)).accept(stream)).await {
                Ok(Ok(tls)) => tls,
                _ => return Ok(()),
            };
            tls_dialogue(tls, script).await
        }
        AfterReady::RequireSni(config) => {
            let acceptor = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
            let Ok(Ok(start)) = tokio::time::timeout(IDLE, acceptor).await else {
                return Ok(());
            };
            if start.client_hello().server_name().is_none() {
                return Ok(());
            }
            let tls = match tokio::time::timeout(IDLE, start.into_stream(Arc::clone(config))).await {
                Ok(Ok(tls)) => tls,
                _ => return Ok(()),
            };
            tls_dialogue(tls, script).await
        }
        AfterReady::Tls(config) | AfterReady::Flaky(config) => {
            let tls = match tokio::time::timeout(IDLE, TlsAcceptor::from(Arc::clone(config)).accept(stream)).await {
                Ok(Ok(tls)) => tls,
                _ => return Ok(()),
            };
            tls_dialogue(tls, script).await
        }
    }
}

async fn tls_dialogue<S: AsyncRead + AsyncWrite + Unpin>(stream: S, script: &Script) -> Io {
    let mut reader = LineReader::new(stream);
    let keywords: Vec<&str> = script.keywords.iter().copied().filter(|k| *k != "STARTTLS").collect();
    loop {
        let Ok(Ok(line)) = tokio::time::timeout(IDLE, reader.read_line()).await else {
            return Ok(());
        };
        let command = String::from_utf8_lossy(&line.bytes).to_ascii_uppercase();
        match command.split_whitespace().next().unwrap_or("") {
            "EHLO" if script.tls_ehlo == TlsEhlo::Close => return Ok(()),
            "EHLO" => reply(reader.get_mut(), script, &ehlo_reply(script, &keywords)).await?,
            "QUIT" => {
                reply(reader.get_mut(), script, "221 2.0.0 Bye\r\n").await?;
                return reader.get_mut().shutdown().await;
            }
            "STARTTLS" => reply(reader.get_mut(), script, "554 5.5.1 Error: TLS already active\r\n").await?,
            "DATA" => accept_message(&mut reader, script).await?,
            _ => reply(reader.get_mut(), script, "250 2.0.0 OK\r\n").await?,
        }
    }
}

/// Takes a message (DATA up to the lone dot) and discards it, so a real relay in front
/// of the lab logs `status=sent` for a scenario that lets mail through.
async fn accept_message<S: AsyncRead + AsyncWrite + Unpin>(reader: &mut LineReader<S>, script: &Script) -> Io {
    reply(reader.get_mut(), script, "354 End data with <CR><LF>.<CR><LF>\r\n").await?;
    loop {
        let Ok(Ok(line)) = tokio::time::timeout(IDLE, reader.read_line()).await else {
            return Ok(());
        };
        if line.bytes == b"." {
            return reply(reader.get_mut(), script, "250 2.0.0 Ok: queued by the lab\r\n").await;
        }
    }
}

/// Waits for the first TLS record so the fault happens mid-handshake, as it does in the field.
async fn read_client_hello(stream: &mut TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
}
