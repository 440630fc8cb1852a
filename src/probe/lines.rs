//! A bounded line reader that keeps its own buffer, so bytes that arrive after the
//! `220` to STARTTLS can be seen (and reported) instead of being silently dropped.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest line we accept from a peer; RFC 5321 allows 512 octets, real servers exceed it.
pub const MAX_LINE: usize = 8 * 1024;

#[derive(Debug)]
pub enum LineError {
    /// The peer closed the connection (read returned 0).
    Closed,
    /// More than [`MAX_LINE`] bytes without a line feed.
    TooLong,
    Io(io::Error),
}

/// One line read from the peer, terminator removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub bytes: Vec<u8>,
    /// Ended with LF alone instead of CRLF (RFC 5321 §2.3.8 forbids it; we tolerate it).
    pub bare_lf: bool,
}

pub struct LineReader<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + Unpin> LineReader<S> {
    pub fn new(stream: S) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received but not yet consumed as lines.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Gives the stream back; unread bytes are returned so the caller decides their fate.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    pub async fn read_line(&mut self) -> Result<Line, LineError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut bytes: Vec<u8> = self.buf.drain(..=pos).collect();
                bytes.pop();
                let bare_lf = bytes.last() != Some(&b'\r');
                if !bare_lf {
                    bytes.pop();
                }
                return Ok(Line { bytes, bare_lf });
            }
            if self.buf.len() > MAX_LINE {
                return Err(LineError::TooLong);
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.map_err(LineError::Io)?;
            if n == 0 {
                return Err(LineError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The first bytes of an incomplete line, for evidence after a timeout.
    pub fn partial(&self) -> &[u8] {
        &self.buf[..self.buf.len().min(256)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn crlf_and_bare_lf_lines_are_split_and_flagged() {
        let data: &[u8] = b"220 a\r\n250 b\nrest";
        let mut reader = LineReader::new(data);
        let one = reader.read_line().await.unwrap();
        assert_eq!((one.bytes.as_slice(), one.bare_lf), (&b"220 a"[..], false));
        let two = reader.read_line().await.unwrap();
        assert_eq!((two.bytes.as_slice(), two.bare_lf), (&b"250 b"[..], true));
        assert!(matches!(reader.read_line().await, Err(LineError::Closed)));
        assert_eq!(reader.into_parts().1, b"rest");
    }

    #[tokio::test]
    async fn endless_line_is_cut_off() {
        let data = vec![b'a'; MAX_LINE * 3];
        let mut reader = LineReader::new(data.as_slice());
        assert!(matches!(reader.read_line().await, Err(LineError::TooLong)));
    }
}
