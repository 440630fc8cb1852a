//! Writing reports safely: atomically, mode 0600, never over an existing file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} already exists; choose another path (nothing was overwritten)")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("no user data directory is known (is HOME set?); pass an explicit path")]
    NoDataDir,
    #[error("cannot write {}: directory {} does not exist or cannot be read ({source})", path.display(), dir.display())]
    NoDirectory {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {} is not a directory", path.display(), dir.display())]
    NotADirectory { path: PathBuf, dir: PathBuf },
}

/// Where reports go by default: `$XDG_DATA_HOME/mxtriage/reports` or the platform's equivalent.
pub fn default_dir() -> Result<PathBuf, StoreError> {
    directories::ProjectDirs::from("", "", "mxtriage")
        .map(|dirs| dirs.data_dir().join("reports"))
        .ok_or(StoreError::NoDataDir)
}

/// A file name for a report: target and time, safe on any filesystem.
pub fn file_name(target: &str, started_at: u64, extension: &str) -> String {
    let clean: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = i64::try_from(started_at)
        .ok()
        .and_then(|unix| time::OffsetDateTime::from_unix_timestamp(unix).ok())
        .map(|t| {
            format!(
                "{}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|| started_at.to_string());
    format!("{clean}-{stamp}.{extension}")
}

/// Writes `contents` to `path`: into a private temporary file in the same directory,
/// flushed to disk, then linked into place so a crash or a full disk never leaves a
/// half-written report and an existing file is never replaced.
pub fn write_new(path: &Path, contents: &str) -> Result<(), StoreError> {
    let err = |source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        return Err(StoreError::Exists(path.to_path_buf()));
    }
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(err)?;
    let temp = temp_beside(path, &dir);
    write_private(&temp, contents).map_err(err)?;
    // hard_link fails if the destination exists: no silent overwrite, even in a race.
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StoreError::Exists(path.to_path_buf())),
        Err(e) => Err(err(e)),
    }
}

/// Checks up front that [`write_new`] will be able to create `path`: nothing is there
/// yet, its directory exists (a mistyped directory is not created), and a file can be
/// made in it. Found after a minute-long check, any of these would lose the result;
/// `write_new` still checks again, since a file may appear in between.
pub fn check_new(path: &Path) -> Result<(), StoreError> {
    if path.symlink_metadata().is_ok() {
        return Err(StoreError::Exists(path.to_path_buf()));
    }
    let dir = parent(path);
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(StoreError::NotADirectory {
                path: path.to_path_buf(),
                dir,
            });
        }
        Err(source) => {
            return Err(StoreError::NoDirectory {
                path: path.to_path_buf(),
                dir,
                source,
            });
        }
    }
    // Permission bits do not tell (root, ACLs, read-only mounts): try it.
    let probe = temp_beside(path, &dir);
    write_private(&probe, "").map_err(|source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The directory `path` goes into; `.` for a bare file name.
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A private temporary name in `dir` for writing `path`.
fn temp_beside(path: &Path, dir: &Path) -> PathBuf {
    dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("report"),
        std::process::id()
    ))
}

/// Writes a new report into `dir`, adding `-2`, `-3`, … to the name when an earlier
/// export of the same session is already there (nothing is ever overwritten).
pub fn write_unique(
    dir: &Path,
    target: &str,
    started_at: u64,
    extension: &str,
    contents: &str,
) -> Result<PathBuf, StoreError> {
    let first = dir.join(file_name(target, started_at, extension));
    for n in 1..100 {
        let path = if n == 1 {
            first.clone()
        } else {
            dir.join(file_name(target, started_at, &format!("{n}.{extension}")))
        };
        match write_new(&path, contents) {
            Err(StoreError::Exists(_)) => continue,
            other => return other.map(|()| path),
        }
    }
    Err(StoreError::Exists(first))
}

/// The file the workbench keeps the current session in (`--resume` reads it).
pub fn autosave_path() -> Result<PathBuf, StoreError> {
    directories::ProjectDirs::from("", "", "mxtriage")
        .map(|dirs| dirs.data_dir().join("autosave.json"))
        .ok_or(StoreError::NoDataDir)
}

/// Replaces `path` atomically (temporary file, fsync, rename), mode 0600: for the
/// autosave, which must be overwritten but never left half-written.
pub fn replace(path: &Path, contents: &str) -> Result<(), StoreError> {
    let err = |source| StoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(err)?;
    let temp = dir.join(format!(".autosave.{}.tmp", std::process::id()));
    write_private(&temp, contents).map_err(err)?;
    let renamed = std::fs::rename(&temp, path);
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed.map_err(err)
}

/// Writes `contents` to a fresh file readable by the owner only, flushed to disk;
/// on failure (a full disk, say) nothing is left behind.
fn write_private(temp: &Path, contents: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(temp);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(temp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mxtriage-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn report_is_private_and_never_overwritten() {
        let dir = scratch("private");
        let path = dir.join("r.json");
        write_new(&path, "first").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(matches!(write_new(&path, "second"), Err(StoreError::Exists(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "first");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_place_is_a_clear_error() {
        let err = write_new(Path::new("/proc/mxtriage-cannot-write/r.json"), "x").unwrap_err();
        assert!(err.to_string().contains("/proc/mxtriage-cannot-write/r.json"), "{err}");
    }

    #[test]
    fn repeated_exports_get_their_own_names() {
        let dir = scratch("unique");
        let a = write_unique(&dir, "example.com", 0, "md", "one").unwrap();
        let b = write_unique(&dir, "example.com", 0, "md", "two").unwrap();
        assert_ne!(a, b);
        assert!(
            b.to_string_lossy().ends_with("-19700101T000000Z.2.md"),
            "{}",
            b.display()
        );
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "one");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(
            file_name("[192.0.2.1]:25", 0, "json"),
            "_192.0.2.1__25-19700101T000000Z.json"
        );
    }
}
