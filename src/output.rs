//! Writing the tool's output to standard output without `print!`'s panic.
//!
//! Rust ignores SIGPIPE, so a reader that went away (`mxtriage check … | head`) shows
//! up as an EPIPE error on the next write, and `print!` turns any write error into a
//! panic (exit 101). Output here fails as a value instead: a gone reader is the
//! caller's cue to stop quietly, anything else (`> /dev/full`) an error worth a line.

use std::io::Write;

/// Writes all of `text` to standard output and flushes it.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Whether `e` only means the reader stopped reading: nothing to report.
pub fn reader_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}
