//! Output files: checked before the load starts, written atomically.
//!
//! A report file either has its complete new contents or is untouched: bytes
//! go to a temporary file in the same directory, which is fsynced and then
//! renamed over the target (rename is atomic within a filesystem).
//!
//! `-` is standard output, for every flag that takes an output file.
//!
//! A path that names something other than a regular file — `/dev/stdout`,
//! a pipe, `/dev/null`, a device — is written in place instead: renaming
//! over it would replace the device node (or the `/dev/stdout` link) with a
//! file, where the user asked for the bytes to go through it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

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

/// Temporary files of [`AtomicFile`]s not yet committed or dropped, for
/// [`remove_temporaries`].
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn forget_temporary(temp: &Path) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.retain(|p| p != temp);
    }
}

/// Removes the temporary file of every uncommitted [`AtomicFile`]: call it
/// before `std::process::exit` (a second Ctrl-C), which runs no
/// destructors.
pub fn remove_temporaries() {
    remove_temporaries_where(|_| true);
}

/// [`remove_temporaries`] for the temporaries `which` selects (tests run
/// in parallel in one process: each removes only its own).
fn remove_temporaries_where(which: impl Fn(&Path) -> bool) {
    if let Ok(mut t) = TEMPORARIES.lock() {
        t.retain(|p| {
            if which(p) {
                let _ = fs::remove_file(p);
                false
            } else {
                true
            }
        });
    }
}

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

/// Whether `path` is `-`: standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// `path` exists (following links) and is neither a regular file nor a
/// directory: a device, a pipe, a socket — written in place.
fn is_stream(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Bytes the check writes (and removes) to find a full disk before the run
/// rather than after it.
const PROBE_BYTES: usize = 4096;

/// Check, before any load is sent, that `path` can be written: its
/// directory exists and accepts a new file with some bytes in it (a full
/// disk is found here), and `path` is not a directory. A device is opened
/// and given an empty write (`/dev/full` refuses it); a pipe is not opened
/// (that would wait for a reader). Nothing is left behind.
pub fn check_output_path(path: &Path, flag: &str) -> Result<(), OutputError> {
    let fail = |reason: String| OutputError {
        path: path.to_path_buf(),
        flag: flag.to_string(),
        reason,
    };
    if is_stdout(path) {
        return Ok(());
    }
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(fail("it is not a file name".into()));
    }
    if path.is_dir() {
        return Err(fail("it is a directory".into()));
    }
    if is_stream(path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            let fifo = fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo());
            if !fifo {
                let mut f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| fail(e.to_string()))?;
                f.write(&[]).map_err(|e| fail(e.to_string()))?;
            }
        }
        return Ok(());
    }
    let dir = dir_of(path);
    if !dir.exists() {
        return Err(fail(format!(
            "directory '{}' does not exist",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(fail(format!("'{}' is not a directory", dir.display())));
    }
    let probe = temp_path(path);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| {
            let r = f
                .write_all(&[b'\n'; PROBE_BYTES])
                .and_then(|()| f.sync_all());
            let _ = fs::remove_file(&probe);
            r
        });
    if let Err(e) = written {
        return Err(fail(e.to_string()));
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
/// untouched. A `path` that is a device or a pipe is written in place.
pub struct AtomicFile {
    path: PathBuf,
    /// The temporary file; `None` when writing in place.
    temp: Option<PathBuf>,
    file: Option<File>,
    /// `-`: written to standard output instead of `file`.
    stdout: Option<io::Stdout>,
}

impl AtomicFile {
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        if is_stdout(path) {
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                temp: None,
                file: None,
                stdout: Some(io::stdout()),
            });
        }
        if is_stream(path) {
            let file = OpenOptions::new().write(true).open(path)?;
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                temp: None,
                file: Some(file),
                stdout: None,
            });
        }
        let temp = temp_path(path);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(mut t) = TEMPORARIES.lock() {
            t.push(temp.clone());
        }
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp: Some(temp),
            file: Some(file),
            stdout: None,
        })
    }

    /// Flush, fsync and rename over the target (in place: flush).
    pub fn commit(mut self) -> io::Result<()> {
        if let Some(mut out) = self.stdout.take() {
            return out.flush();
        }
        let mut file = self.file.take().expect("file present until commit");
        let Some(temp) = self.temp.take() else {
            return file.flush();
        };
        let synced = file.sync_all();
        drop(file);
        forget_temporary(&temp);
        if let Err(e) = synced {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        if let Err(e) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
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
        if let Some(out) = self.stdout.as_mut() {
            return out.write(buf);
        }
        self.file
            .as_mut()
            .expect("file present until commit")
            .write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if let Some(out) = self.stdout.as_mut() {
            return out.flush();
        }
        self.file
            .as_mut()
            .expect("file present until commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let (Some(_), Some(temp)) = (self.file.take(), self.temp.take()) {
            forget_temporary(&temp);
            let _ = fs::remove_file(temp);
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
    fn temporaries_can_be_removed_before_a_hard_exit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("series.ndjson");
        let f = AtomicFile::create(&p).unwrap();
        assert_eq!(leftovers(dir.path()).len(), 1);
        // Not remove_temporaries(): it would also take the temporaries of
        // tests running beside this one.
        remove_temporaries_where(|t| t.starts_with(dir.path()));
        assert!(leftovers(dir.path()).is_empty());
        drop(f);
        assert!(!p.exists());
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

    /// `/dev/stdout`, `/dev/null`, a pipe: written through, not replaced.
    /// (Through a link in a temporary directory, so that a regression
    /// replaces the link, not the device.)
    #[cfg(target_os = "linux")]
    #[test]
    fn devices_and_pipes_are_written_in_place() {
        use std::os::unix::fs::{symlink, FileTypeExt};
        let is_char = |p: &str| fs::metadata(p).is_ok_and(|m| m.file_type().is_char_device());
        if !is_char("/dev/null") || !is_char("/dev/full") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let link = |name: &str, to: &str| {
            let p = dir.path().join(name);
            symlink(to, &p).unwrap();
            p
        };
        let still_links = |p: &Path| fs::symlink_metadata(p).unwrap().file_type().is_symlink();

        let null = link("null.json", "/dev/null");
        check_output_path(&null, "--summary-export").unwrap();
        write_atomic(&null, b"{}").unwrap();
        assert!(still_links(&null));

        // A full disk is found by the check, before any load.
        let full = link("full.json", "/dev/full");
        let e = check_output_path(&full, "--summary-export").unwrap_err();
        assert!(e.to_string().contains("No space left on device"), "{e}");
        assert!(write_atomic(&full, b"{}").is_err());
        assert!(still_links(&full));
        assert!(is_char("/dev/full"));

        // A pipe is not opened by the check (that would wait for a reader).
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            check_output_path(&fifo, "--out").unwrap();
            let reader = {
                let fifo = fifo.clone();
                std::thread::spawn(move || fs::read(fifo).unwrap())
            };
            write_atomic(&fifo, b"through the pipe").unwrap();
            assert_eq!(reader.join().unwrap(), b"through the pipe");
            assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_file_as_parent_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"").unwrap();
        let e = check_output_path(&file.join("s.json"), "--summary-export").unwrap_err();
        assert!(e.to_string().contains("is not a directory"), "{e}");
    }
}
