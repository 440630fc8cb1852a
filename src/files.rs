//! Reading files with a size limit: the one way this tool reads a file.
//!
//! A path the operator names can be anything: `/dev/zero`, a FIFO, a 200 MB log passed
//! by mistake. Reading it whole would grow until the kernel kills the process, so every
//! read stops one byte past a limit chosen for what the file should hold, and says which
//! limit was crossed instead of guessing what was meant.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The most a file of one kind may hold, and what that kind is called in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    pub what: &'static str,
}

/// A saved JSON report or autosaved session. The largest the lab produces (two MX, two
/// addresses each, scan and second opinion) is well under 1 MiB; parsing expands JSON
/// several times in memory, so the cap also bounds what a hostile file can cost.
pub const REPORT: Limit = Limit {
    bytes: 8 << 20,
    what: "saved reports",
};

/// A PEM file of trust anchors: a whole system bundle (about 150 roots) is ~250 KiB.
pub const CA_FILE: Limit = Limit {
    bytes: 4 << 20,
    what: "CA files",
};

/// Small host configuration files (`/etc/hosts`, the kernel's host name).
pub const HOST_FILE: Limit = Limit {
    bytes: 1 << 20,
    what: "host configuration files",
};

/// An MTA configuration file (main.cf, master.cf): a large one is a few tens of KiB.
pub const MTA_CONFIG: Limit = Limit {
    bytes: 4 << 20,
    what: "MTA configuration files",
};

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{} is larger than {} MiB, the most {} hold here; is it the right file?",
        path.display(),
        limit.bytes >> 20,
        limit.what
    )]
    TooLarge { path: PathBuf, limit: Limit },
    #[error("{} is not UTF-8 text (first bad byte at offset {offset})", path.display())]
    NotText { path: PathBuf, offset: usize },
}

/// The bytes of `path`, or [`ReadError::TooLarge`] once more than `limit` were seen.
///
/// The size the file system reports is checked first, so a large regular file is
/// refused without reading it; devices and pipes report no size, so the read itself is
/// bounded too.
pub fn read(path: &Path, limit: Limit) -> Result<Vec<u8>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || ReadError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.len() > limit.bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Like [`read`], for files that must be UTF-8 text.
pub fn read_text(path: &Path, limit: Limit) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|e| ReadError::NotText {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: Limit = Limit {
        bytes: 4,
        what: "test files",
    };

    fn temp(name: &str, contents: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("mxtriage-files-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn a_file_at_the_limit_is_read_and_one_byte_more_is_refused() {
        let at = temp("at", b"1234");
        assert_eq!(read(&at, TINY).unwrap(), b"1234");
        let over = temp("over", b"12345");
        let err = read(&over, TINY).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
        let _ = std::fs::remove_file(at);
        let _ = std::fs::remove_file(over);
    }

    #[test]
    fn an_endless_device_stops_at_the_limit() {
        // /dev/zero reports size 0 and never ends: only the bounded read stops it.
        let err = read(Path::new("/dev/zero"), TINY).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("/dev/zero"), "{err}");
    }

    #[test]
    fn text_that_is_not_utf8_says_where() {
        let path = temp("binary", b"ab\xff");
        let err = read_text(&path, TINY).unwrap_err();
        assert!(matches!(err, ReadError::NotText { offset: 2, .. }), "{err}");
        let _ = std::fs::remove_file(path);
    }
}
