//! Output files: checked before the load starts, written atomically.
//!
//! A report file either has its complete new contents or is untouched: bytes
//! go to a temporary file in the same directory, which is fsynced and then
//! renamed over the target (rename is atomic within a filesystem).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An output path that cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {flag} file '{}': {reason}", path.display())]
pub struct OutputError {
    pub path: PathBuf,
    /// The flag that named the path, e.g. `--summary-export`.
    pub flag: String,
    pub reason: String,
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary path next to `path` (same directory, so rename stays
/// within one filesystem).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir_of(path).join(format!(".{name}.{}.{n}.tmp", std::process::id()))
}

/// Check, before any load is sent, that `path` can be written: its
/// directory exists and accepts a new file, and `path` is not a directory.
/// Nothing is left behind.
pub fn check_output_path(path: &Path, flag: &str) -> Result<(), OutputError> {
    let fail = |reason: String| OutputError {
        path: path.to_path_buf(),
        flag: flag.to_string(),
        reason,
    };
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(fail("it is not a file name".into()));
    }
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    let dir = dir_of(path);
    if !dir.is_dir() {
        return Err(fail(format!(
            "directory '{}' does not exist",
            dir.display()
        )));
    }
    let probe = temp_path(path);
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
        }
        Err(e) => return Err(fail(e.to_string())),
    }
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().readonly() {
            return Err(fail("it is read-only".into()));
        }
    }
    Ok(())
}

/// A file being written that replaces `path` only on [`commit`](Self::commit).
/// Dropped without commit, the temporary file is removed and `path` is
/// untouched.
pub struct AtomicFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let temp = temp_path(path);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
            file: Some(file),
        })
    }

    /// Flush, fsync and rename over the target.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("file present until commit");
        file.sync_all()?;
        drop(file);
        fs::rename(&self.temp, &self.path)?;
        // Persist the rename itself (best effort: not every platform can
        // open a directory).
        if let Ok(d) = File::open(dir_of(&self.path)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Write `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn writes_and_replaces_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn uncommitted_file_leaves_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.ndjson");
        write_atomic(&p, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half of the new").unwrap();
        }
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn checks_the_path_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("s.json");
        check_output_path(&ok, "--summary-export").unwrap();
        assert!(!ok.exists(), "the check leaves nothing behind");
        assert!(leftovers(dir.path()).is_empty());

        let missing = dir.path().join("nope").join("s.json");
        let e = check_output_path(&missing, "--summary-export").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot write --summary-export file"),
            "{e}"
        );
        assert!(e.to_string().contains("does not exist"), "{e}");

        let e = check_output_path(dir.path(), "--out").unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn unwritable_directory_is_reported() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ro = dir.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        let p = ro.join("s.json");
        let probe = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(ro.join("x"));
        if probe.is_ok() {
            // Running as root: permissions are not enforced; nothing to test.
            return;
        }
        let e = check_output_path(&p, "--summary-export").unwrap_err();
        assert!(e.to_string().contains("ermission denied"), "{e}");
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
    }
}
