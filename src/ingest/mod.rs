//! Ingest: capture files in, [`Exchange`]s out.
//!
//! Every reader streams: it visits one exchange at a time and hands it to a
//! caller-supplied sink, so memory does not grow with the capture. The sink
//! borrows the exchange for the call: a reader may reuse its buffers for the
//! next one (the pcap reader does, to keep allocation off the hot path). What a
//! reader cannot model is counted in [`IngestStats::skipped`] by reason,
//! never silently dropped.
//!
//! The format is detected from the file's first bytes (magic numbers), not
//! its extension: see [`detect`].

pub mod accesslog;
pub mod exchange;
pub mod filter;
pub mod har;
pub mod pcap;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

pub use exchange::{Body, BodyKind, Exchange, Response};

/// The `format` value of a replay model file. Ingest owns it because it
/// is what tells a model apart from a capture (a HAR is JSON too); the
/// model file writes it ([`crate::model::file::FORMAT`]).
pub const MODEL_FORMAT: &str = "replay-model";

/// The times a capture can carry, Unix nanoseconds: 1970 (Unix 0) to 2106
/// (legacy pcap's u32 seconds). Readers refuse captures dated outside it,
/// and the model loader models whose recording lies outside it.
pub const PLAUSIBLE_NS: std::ops::RangeInclusive<i64> = 0..=4_294_967_295_999_999_999;

/// The kind of capture a file holds, decided by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureKind {
    Har,
    Pcap,
    Pcapng,
    /// A replay model file (gzip).
    Model,
    /// A web server's access log (Common/Combined, JSON lines, or a
    /// `--log-format` layout).
    #[serde(rename = "access-log")]
    AccessLog,
}

impl std::fmt::Display for CaptureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaptureKind::Har => "har",
            CaptureKind::Pcap => "pcap",
            CaptureKind::Pcapng => "pcapng",
            CaptureKind::Model => "model",
            CaptureKind::AccessLog => "access log",
        })
    }
}

/// Errors a reader reports. Each names the file and a position so the user
/// can look at the offending spot.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is empty; pass a HAR (JSON), pcap, pcapng or replay model file (check the export finished)", path.display())]
    Empty { path: PathBuf },
    #[error("{} is not a capture replay can read (starts with {magic}); pass a HAR (JSON), pcap, pcapng, access log (Combined, JSON lines, or any layout with --log-format '…') or replay model file (check the path, and export the capture in one of those formats)", path.display())]
    UnknownFormat { path: PathBuf, magic: String },
    #[error("{}: {message} (at {position})", path.display())]
    Malformed {
        path: PathBuf,
        /// Human-readable position: "entry 12", "byte offset 4096", "packet 7".
        position: String,
        message: String,
    },
}

impl IngestError {
    pub fn malformed(path: &Path, position: impl Into<String>, message: impl Into<String>) -> Self {
        IngestError::Malformed {
            path: path.to_path_buf(),
            position: position.into(),
            message: message.into(),
        }
    }
}

/// What a reader saw: totals, and what it skipped by reason.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngestStats {
    /// Entries/requests seen in the capture (kept + skipped + filtered).
    pub seen: u64,
    /// Exchanges handed to the sink.
    pub kept: u64,
    /// Skipped by reason, e.g. `"data: url"`, `"no response"`, `"tls"`.
    pub skipped: BTreeMap<String, u64>,
    /// Non-fatal problems worth telling the user (truncated final block...).
    pub warnings: Vec<String>,
}

impl IngestStats {
    pub fn skip(&mut self, reason: &str) {
        self.skip_n(reason, 1);
    }

    pub fn skip_n(&mut self, reason: &str, n: u64) {
        if n == 0 {
            return;
        }
        match self.skipped.get_mut(reason) {
            Some(c) => *c += n,
            None => {
                self.skipped.insert(reason.to_string(), n);
            }
        }
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        // Bounded: a corrupt capture must not grow this without limit.
        if self.warnings.len() < 100 {
            self.warnings.push(message.into());
        }
    }

    pub fn merge(&mut self, other: &IngestStats) {
        self.seen += other.seen;
        self.kept += other.kept;
        for (k, v) in &other.skipped {
            self.skip_n(k, *v);
        }
        for w in &other.warnings {
            self.warn(w.clone());
        }
    }

    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Decides the kind of a capture from its first bytes.
pub fn detect(path: &Path) -> Result<CaptureKind, IngestError> {
    detect_compressed(path).map(|(kind, _)| kind)
}

/// Reads up to `buf.len()` bytes; fewer only at the end of the stream.
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How far into a gzip stream to look for what it holds.
const GZIP_PEEK: usize = 4096;

/// The kind of a capture and whether it is gzip-compressed (`tcpdump -w - |
/// gzip`, a `.har.gz`): a gzip stream holding a pcap, a pcapng or a JSON
/// document that is not a replay model is that capture; any other gzip
/// stream is taken as a model file (whose loader says what is wrong).
pub fn detect_compressed(path: &Path) -> Result<(CaptureKind, bool), IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    // Enough for a few log lines; magic numbers need 4 bytes.
    let mut head = vec![0u8; GZIP_PEEK];
    let n = read_head(&mut f, &mut head).map_err(io)?;
    if let Some(CaptureKind::Model) = detect_bytes(&head[..n]) {
        let f = File::open(path).map_err(io)?;
        let mut inner = vec![0u8; GZIP_PEEK];
        // A stream that does not even decompress this far is left to the
        // model loader, which names the fault.
        let m = read_head(&mut flate2::read::MultiGzDecoder::new(f), &mut inner).unwrap_or(0);
        let inner = &inner[..m];
        let is_model = inner.windows(14).any(|w| w == b"\"replay-model\"");
        return Ok(match detect_bytes(inner) {
            Some(kind @ (CaptureKind::Pcap | CaptureKind::Pcapng | CaptureKind::AccessLog)) => {
                (kind, true)
            }
            Some(CaptureKind::Har) if !is_model => (CaptureKind::Har, true),
            _ => (CaptureKind::Model, false),
        });
    }
    detect_bytes(&head[..n])
        .map(|kind| (kind, false))
        .ok_or_else(|| {
            if n == 0 {
                IngestError::Empty {
                    path: path.to_path_buf(),
                }
            } else {
                IngestError::UnknownFormat {
                    path: path.to_path_buf(),
                    magic: describe_magic(&head[..n.min(8)]),
                }
            }
        })
}

/// Decides the kind of a capture from its first bytes, if known.
pub fn detect_bytes(head: &[u8]) -> Option<CaptureKind> {
    const PCAP_MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1], // LE µs
        [0xa1, 0xb2, 0xc3, 0xd4], // BE µs
        [0x4d, 0x3c, 0xb2, 0xa1], // LE ns
        [0xa1, 0xb2, 0x3c, 0x4d], // BE ns
        // Kuznetzov's "modified" pcap (extended packet headers), which
        // pcap-parser reads in little-endian only.
        [0x34, 0xcd, 0xb2, 0xa1],
    ];
    if head.len() >= 4 {
        let m = [head[0], head[1], head[2], head[3]];
        if PCAP_MAGICS.contains(&m) {
            return Some(CaptureKind::Pcap);
        }
        if m == [0x0a, 0x0d, 0x0d, 0x0a] {
            return Some(CaptureKind::Pcapng);
        }
    }
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return Some(CaptureKind::Model);
    }
    let rest = head.strip_prefix(&[0xef, 0xbb, 0xbf][..]).unwrap_or(head);
    if accesslog::sniff(rest) {
        return Some(CaptureKind::AccessLog);
    }
    // HAR: JSON object, possibly after a UTF-8 BOM and whitespace.
    let first = rest.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'{' {
        return Some(CaptureKind::Har);
    }
    // HARP: a HAR wrapped as JSONP, `onInputData({...});`.
    let ident_len = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'$' || **b == b'.')
        .count();
    let after = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .nth(ident_len);
    if ident_len > 0 && first.is_ascii_alphabetic() && after == Some(&b'(') {
        return Some(CaptureKind::Har);
    }
    None
}

fn describe_magic(bytes: &[u8]) -> String {
    let printable = bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ');
    if printable {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", hex.join(" "))
    }
}

/// Size and BLAKE3 digest of a capture, computed while it is read.
///
/// BLAKE3, not SHA-256: hashing the file is part of every `record`, and
/// SHA-256 (even with the CPU's SHA instructions) cost about twice as much
/// as BLAKE3 on one core, some 15% of recording a pcap. Check a model
/// against its capture with `b3sum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub bytes: u64,
    /// Hex, 64 digits.
    pub blake3: String,
}

/// How to read captures, beyond what their bytes say.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `--log-format`: an nginx `log_format` for access logs in a custom
    /// layout. Text files that are no other capture are read with it.
    pub log_format: Option<accesslog::layout::Layout>,
}

/// [`detect_compressed`], where a custom log layout makes any other text an
/// access log (its reader says which lines do not fit).
pub fn detect_with(path: &Path, options: &ReadOptions) -> Result<(CaptureKind, bool), IngestError> {
    match detect_compressed(path) {
        Err(IngestError::UnknownFormat { .. }) if options.log_format.is_some() => {
            Ok((CaptureKind::AccessLog, false))
        }
        Ok((CaptureKind::Model, false)) if options.log_format.is_some() && is_gzip_text(path) => {
            Ok((CaptureKind::AccessLog, true))
        }
        other => other,
    }
}

/// A gzip stream whose start decompresses to text that is not a model.
pub fn is_gzip_text(path: &Path) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut inner = vec![0u8; GZIP_PEEK];
    let m = read_head(&mut flate2::read::MultiGzDecoder::new(f), &mut inner).unwrap_or(0);
    let inner = &inner[..m];
    m > 0
        && !inner.windows(14).any(|w| w == b"\"replay-model\"")
        && std::str::from_utf8(&inner[..m.saturating_sub(4)]).is_ok()
}

/// Reads one capture file (HAR, pcap, pcapng or access log) and hands each
/// exchange to `sink`. Returns what was seen and skipped.
pub fn read_capture(
    path: &Path,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<(CaptureKind, IngestStats), IngestError> {
    read_capture_hashed(path, sink).map(|(kind, stats, _)| (kind, stats))
}

/// [`read_capture`], also hashing the file in the same pass (the model
/// records each source's size and BLAKE3 digest).
pub fn read_capture_hashed(
    path: &Path,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<(CaptureKind, IngestStats, FileDigest), IngestError> {
    read_capture_with(path, &ReadOptions::default(), sink)
}

/// [`read_capture_hashed`] with options (`--log-format`).
pub fn read_capture_with(
    path: &Path,
    options: &ReadOptions,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<(CaptureKind, IngestStats, FileDigest), IngestError> {
    let (kind, gzip) = detect_with(path, options)?;
    let io = |source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut reader = HashingReader::new(file);
    // The digest and size are of the file as it is (compressed); the
    // readers' positions, of what they read (decompressed).
    let mut gz = None;
    let source: &mut dyn Read = if gzip {
        gz.insert(Gunzip {
            inner: flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 16,
                &mut reader,
            )),
            out: 0,
            cut: None,
        })
    } else {
        &mut reader
    };
    let mut stats = match kind {
        CaptureKind::Har => har::read_har(path, BufReader::with_capacity(1 << 16, source), sink)?,
        CaptureKind::Pcap | CaptureKind::Pcapng => pcap::read_pcap_from(path, source, sink)?,
        CaptureKind::AccessLog => {
            accesslog::read_log(path, source, options.log_format.as_ref(), sink)?
        }
        CaptureKind::Model => {
            return Err(IngestError::malformed(
                path,
                "byte offset 0",
                "this is a replay model file, not a capture; pass it where a model is accepted (inspect, generate, run)",
            ))
        }
    };
    if let Some(Gunzip {
        out, cut: Some(e), ..
    }) = &gz
    {
        stats.warn(format!(
            "the gzip stream ends early after {out} decompressed bytes ({e}): the file is truncated; kept what it held"
        ));
    }
    drop(gz);
    let digest = reader.finish().map_err(io)?;
    Ok((kind, stats, digest))
}

/// Decompresses a gzip-compressed capture; a stream cut short reads as the
/// end of the data (as a truncated uncompressed capture does), and the cut
/// is kept to be reported as a warning.
struct Gunzip<R> {
    inner: R,
    /// Decompressed bytes so far.
    out: u64,
    cut: Option<std::io::Error>,
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cut.is_some() {
            return Ok(0);
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.out += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.cut = Some(e);
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

/// Passes bytes through while hashing them.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        }
    }

    /// Hashes whatever the reader left unread, then returns the digest.
    fn finish(mut self) -> std::io::Result<FileDigest> {
        let mut buf = vec![0u8; 1 << 16];
        while self.read(&mut buf)? > 0 {}
        Ok(FileDigest {
            bytes: self.bytes,
            blake3: self.hasher.finalize().to_hex().to_string(),
        })
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A fixed, well-mixed 64-bit hash (SplitMix64's finaliser): every bit of
/// the result, the top ones too, depends on all of the key's. The
/// access-log reader spreads whole-second stamps with it; the model's
/// session fit samples clients by its top bits.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_the_whole_file_while_reading() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/pcap/zeek__get.pcap"
        ));
        let mut n = 0;
        let (kind, _, digest) = read_capture_hashed(path, &mut |_| n += 1).unwrap();
        assert_eq!(kind, CaptureKind::Pcap);
        assert!(n > 0);
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            digest,
            FileDigest {
                bytes: bytes.len() as u64,
                blake3: blake3::hash(&bytes).to_hex().to_string(),
            }
        );
    }

    #[test]
    fn detects_by_magic_not_extension() {
        assert_eq!(
            detect_bytes(b"\xef\xbb\xbf  {\"log\""),
            Some(CaptureKind::Har)
        );
        assert_eq!(
            detect_bytes(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(CaptureKind::Pcap)
        );
        assert_eq!(
            detect_bytes(&[0xa1, 0xb2, 0x3c, 0x4d]),
            Some(CaptureKind::Pcap)
        );
        assert_eq!(
            detect_bytes(&[0x0a, 0x0d, 0x0d, 0x0a]),
            Some(CaptureKind::Pcapng)
        );
        assert_eq!(detect_bytes(&[0x1f, 0x8b, 8]), Some(CaptureKind::Model));
        assert_eq!(
            detect_bytes(&[0x34, 0xcd, 0xb2, 0xa1]),
            Some(CaptureKind::Pcap)
        );
        assert_eq!(detect_bytes(b"\x89PNG\r\n"), None);
        assert_eq!(detect_bytes(b""), None);
    }
}
