//! TCP connect with an optional source address, classified by errno, and the
//! quick-ack wrapper that keeps the server's Nagle from waiting on our delayed ACKs.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

use crate::model::Failure;

pub async fn connect(address: SocketAddr, source: Option<IpAddr>, limit: Duration) -> Result<TcpStream, Failure> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(classify)?;
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| Failure::ConnectError {
            errno: e.raw_os_error(),
            message: format!("cannot bind source address {ip}: {e}"),
        })?;
    }
    match tokio::time::timeout(limit, socket.connect(address)).await {
        Ok(Ok(stream)) => {
            // Small SMTP commands must not wait for Nagle.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(e)) => Err(classify(e)),
        Err(_) => Err(Failure::ConnectTimeout {
            after_ms: limit.as_millis() as u64,
        }),
    }
}

fn classify(e: io::Error) -> Failure {
    let errno = e.raw_os_error();
    let message = e.to_string();
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Failure::ConnectRefused { errno, message },
        io::ErrorKind::TimedOut => Failure::ConnectTimeout { after_ms: 0 },
        io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::AddrNotAvailable
        | io::ErrorKind::NetworkDown => Failure::ConnectUnreachable { errno, message },
        _ if errno == Some(libc::EAFNOSUPPORT) => Failure::ConnectUnreachable { errno, message },
        _ => Failure::ConnectError { errno, message },
    }
}

/// Acknowledges every segment from the server at once, for the TLS part of a probe.
///
/// A probe answers each reply within a millisecond, so Linux soon treats the connection as
/// interactive and delays its acknowledgements (by up to 40 ms) to let them ride on our
/// next command. OpenSSL sends its TLS 1.3 session tickets right after the handshake, in a
/// segment of their own; when our EHLO has already left, nothing of ours follows for the
/// ACK to ride on, and a server with Nagle on (Postfix) holds its EHLO reply until the
/// delayed ACK comes: a 40 ms stall in a 10 ms probe. TCP_QUICKACK turns delayed
/// acknowledgements off and sends one that is pending, but the kernel turns them back on
/// whenever we send soon after receiving, so it is set again after every write and read.
pub struct QuickAck<S> {
    inner: S,
}

impl<S: AsRawFd> QuickAck<S> {
    pub fn new(inner: S) -> Self {
        let stream = Self { inner };
        stream.rearm();
        stream
    }

    /// Best effort: a socket that refuses the option only loses speed, never correctness.
    fn rearm(&self) {
        let _ = set_quickack(self.inner.as_raw_fd());
    }
}

impl<S: AsRawFd> AsRawFd for QuickAck<S> {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl<S: AsyncRead + AsRawFd + Unpin> AsyncRead for QuickAck<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.rearm();
        }
        poll
    }
}

impl<S: AsyncWrite + AsRawFd + Unpin> AsyncWrite for QuickAck<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(1..))) {
            this.rearm();
        }
        poll
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Sets TCP_QUICKACK on a connected TCP socket (Linux; elsewhere a no-op).
#[cfg(target_os = "linux")]
pub fn set_quickack(fd: RawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from a live local; an fd that is
    // not a TCP socket makes it fail with an errno, nothing worse.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set_quickack(_fd: RawFd) -> io::Result<()> {
    Ok(())
}

/// Whether the socket is in quick-ack mode now (Linux: TCP_QUICKACK reads back the mode).
#[cfg(all(test, target_os = "linux"))]
pub fn quickack(fd: RawFd) -> io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into a live local and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            std::ptr::from_mut(&mut value).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(value != 0)
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// The kernel drops quick-ack mode when we answer soon after receiving, which is what
    /// every SMTP command does; the wrapper must leave it on after each write and read.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn quickack_stays_on_through_a_ping_pong_dialogue() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut peer, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 64];
            for _ in 0..3 {
                peer.write_all(b"250 ok\r\n").await.unwrap();
                let n = peer.read(&mut buf).await.unwrap();
                assert!(n > 0);
            }
            // A segment of its own after the last command, like a session ticket.
            peer.write_all(b"ticket").await.unwrap();
            let _ = peer.read(&mut buf).await;
        });
        let stream = connect(address, None, Duration::from_secs(5)).await.unwrap();
        let mut stream = QuickAck::new(stream);
        let mut buf = [0u8; 64];
        for _ in 0..3 {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            assert!(quickack(stream.as_raw_fd()).unwrap(), "quick-ack off after a read");
            stream.write_all(b"NOOP\r\n").await.unwrap();
            assert!(quickack(stream.as_raw_fd()).unwrap(), "quick-ack off after a write");
        }
        let n = stream.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ticket");
        drop(stream);
        server.await.unwrap();
    }
}
