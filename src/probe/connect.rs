//! TCP connect with an optional source address, classified by errno.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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
