//! Bad input through the binary, for every command that reads one.
//!
//! Each broken file in `tests/bad_inputs/` (plus the large or derived ones
//! generated here: truncations of a real HAR, a 1 MB URL, a gzip bomb) must
//! give, for `record`, `inspect`, `generate`, `run` and `mock`:
//!
//! - exit code 2;
//! - exactly one line on stderr, `error: ...`, naming the file, a position
//!   (entry, line, byte offset, packet, field...) and what to do;
//! - no panic;
//! - no output file and no temporary file left in the output directory;
//! - for `run`, not one connection to the `--target`.
//!
//! Files named `ok-*` are bad in part but legitimately accepted: their
//! documented behaviour is asserted in their own tests below.

mod support;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::bin::{Replay, Run};
use support::har::{write_har, Entry};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

/// Runs the binary in `dir`, without backtraces, with a deadline (a hang
/// is a failure, not a stuck test).
fn replay(args: &[&str], dir: &Path) -> Run {
    Replay::new(args)
        .current_dir(dir)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .deadline(Duration::from_secs(20))
        .run()
}

/// Words that show the message points somewhere in the file.
const POSITION: &[&str] = &[
    "entry",
    "line",
    "byte",
    "packet",
    "offset",
    "field",
    "top level",
    "is empty",
    "starts with",
    "end of the file",
];
/// Words that show the message says what to do about it.
const ADVICE: &[&str] = &[
    "re-export",
    "re-record",
    "record",
    "export",
    "check",
    "fix",
    "copy",
    "compress",
];

/// Every command on `input`: exit 2, one clear line, nothing written,
/// nothing sent.
fn assert_rejected(input: &Path) {
    let name = input.file_name().unwrap().to_string_lossy().into_owned();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let local = dir.join(&name);
    std::fs::copy(input, &local).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());

    let commands: Vec<Vec<&str>> = vec![
        vec!["record", &name, "-o", "out.model.gz"],
        vec!["inspect", &name],
        vec![
            "generate",
            &name,
            "--seed",
            "1",
            "-n",
            "5",
            "-o",
            "gen.jsonl",
        ],
        vec![
            "run",
            &name,
            "--target",
            &target,
            "--duration",
            "1s",
            "--quiet",
            "--seed",
            "1",
            "--summary-export",
            "summary.json",
        ],
        vec!["mock", &name, "--listen", "127.0.0.1:0"],
    ];
    for args in &commands {
        let out = replay(args, dir);
        let what = format!("replay {}:\n{}", args.join(" "), out.stderr);
        assert_eq!(out.code, Some(2), "{what}");
        assert!(
            !out.stderr.contains("panicked") && !out.stderr.contains("RUST_BACKTRACE"),
            "{what}"
        );
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1, "exactly one line: {what}");
        let line = lines[0];
        assert!(line.starts_with("error: "), "{what}");
        assert!(line.contains(&name), "names the file: {what}");
        assert!(line.len() < 600, "short: {} bytes: {what}", line.len());
        let lower = line.to_lowercase();
        assert!(
            POSITION.iter().any(|w| lower.contains(w)),
            "names a position: {what}"
        );
        assert!(
            ADVICE.iter().any(|w| lower.contains(w)),
            "says what to do: {what}"
        );
        if args[0] != "inspect" {
            assert!(out.stdout.is_empty(), "nothing on stdout: {what}");
        }
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| *n != name)
            .collect();
        left.sort();
        assert!(left.is_empty(), "files left behind {left:?}: {what}");
    }
    assert!(
        listener.accept().is_err(),
        "run connected to the target on bad input {name}"
    );
}

#[test]
fn every_committed_bad_input_is_rejected_cleanly() {
    let mut n = 0;
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("ok-") || name.starts_with("valid-") {
            continue;
        }
        assert_rejected(&f);
        n += 1;
    }
    assert!(n >= 20, "only {n} bad inputs");
}

#[test]
fn truncated_real_har_is_rejected_at_every_cut() {
    let full = std::fs::read(corpus().join("valid-mitmproxy.har")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Inside the first key, the first entry, a header list, the second
    // entry's body, and one byte short of the end.
    for cut in [
        3,
        full.len() / 10,
        full.len() / 3,
        full.len() * 2 / 3,
        full.len() - 2,
    ] {
        let p = tmp.path().join(format!("truncated-at-{cut}.har"));
        std::fs::write(&p, &full[..cut]).unwrap();
        assert_rejected(&p);
    }
}

/// A 1 MB URL and a 1 MB header are accepted (the template keeps the path,
/// the header pool keeps no value longer than 256 bytes), and the model
/// written loads back. Regression: the header's pool said text length
/// 1048576..256, and the model could not be loaded (with a 1 MB error line).
#[test]
fn huge_url_and_header_record_and_load_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let big = "a".repeat(1 << 20);
    let mut entry = Entry::get(format!("http://api.example/{big}?q={big}"), 0);
    entry.headers.push(("X-Big".into(), big.clone()));
    write_har(dir, "huge.har", &[entry]);
    let out = replay(&["record", "huge.har", "-o", "huge.model.gz", "-q"], dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = replay(&["inspect", "huge.model.gz", "--json"], dir);
    assert_eq!(
        out.code,
        Some(0),
        "{}",
        &out.stderr[..out.stderr.len().min(500)]
    );
    let out = replay(
        &["generate", "huge.model.gz", "--seed", "1", "-n", "3"],
        dir,
    );
    assert_eq!(
        out.code,
        Some(0),
        "{}",
        &out.stderr[..out.stderr.len().min(500)]
    );
}

/// `ok-absurd-sizes.har`: negative and 1e300 sizes are unknown, a time of
/// 1e300 ms is capped; the model loads back. Regression: the infinite
/// sum of squares was written as `null` and the model could not be loaded.
#[test]
fn absurd_sizes_and_times_are_accepted_as_unknown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(corpus().join("ok-absurd-sizes.har"), dir.join("a.har")).unwrap();
    let out = replay(&["record", "a.har", "-o", "a.model.gz", "-q"], dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = replay(&["inspect", "a.model.gz"], dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// `ok-truncated-last-packet.pcap`: a complete capture followed by a
/// packet cut short. Documented behaviour: keep what was read and warn,
/// naming the byte offset.
#[test]
fn pcap_with_a_truncated_last_packet_keeps_what_was_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        corpus().join("ok-truncated-last-packet.pcap"),
        dir.join("t.pcap"),
    )
    .unwrap();
    let out = replay(&["record", "t.pcap", "-o", "t.model.gz"], dir);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("recorded 1 requests"), "{}", out.stderr);
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("warning:"))
        .unwrap_or_else(|| panic!("no warning: {}", out.stderr));
    assert!(
        warning.contains("truncated") && warning.contains("byte offset"),
        "{warning}"
    );
}

/// pcapng says readers skip blocks of unknown type: an unknown block in a
/// real capture changes nothing.
#[test]
fn pcapng_unknown_block_in_a_real_capture_is_skipped() {
    let real = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/chrissanders__http_post.pcapng"),
    )
    .unwrap();
    // After the section header block (its length is at bytes 4..8, LE).
    let shb_len = u32::from_le_bytes(real[4..8].try_into().unwrap()) as usize;
    let mut unknown = Vec::new();
    unknown.extend_from_slice(&0x0bad_beefu32.to_le_bytes());
    unknown.extend_from_slice(&20u32.to_le_bytes());
    unknown.extend_from_slice(b"abcdefgh");
    unknown.extend_from_slice(&20u32.to_le_bytes());
    let mut with = real[..shb_len].to_vec();
    with.extend_from_slice(&unknown);
    with.extend_from_slice(&real[shb_len..]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("plain.pcapng"), &real).unwrap();
    std::fs::write(dir.join("unknown.pcapng"), &with).unwrap();
    let a = replay(&["inspect", "plain.pcapng", "--json"], dir);
    let b = replay(&["inspect", "unknown.pcapng", "--json"], dir);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(b.code, Some(0), "{}", b.stderr);
    let a: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let b: serde_json::Value = serde_json::from_str(&b.stdout).unwrap();
    assert!(a["requests"].as_u64().unwrap() > 0);
    assert_eq!(a["requests"], b["requests"]);
    assert_eq!(a["endpoints"], b["endpoints"]);
}

/// A gzip bomb: a valid gzip stream of 10 GiB of zeros, about 10 MB on
/// disk (deflate cannot do better than ~1:1000). Built without compressing
/// 10 GiB: deflating 1 MiB of zeros after 1 MiB of zeros always gives the
/// same bytes (sync-flushed, so byte-aligned), which are repeated. Loading
/// must stop at the decompressed-size cap, quickly.
#[test]
fn gzip_bomb_is_stopped_by_the_size_cap() {
    use flate2::{Compress, Compression, FlushCompress};
    const MIB: usize = 1 << 20;
    const TOTAL_MIB: usize = 10 * 1024;
    let zeros = vec![0u8; MIB];
    let mut c = Compress::new(Compression::best(), false);
    let mut block = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(64 * 1024);
        let before = c.total_in();
        c.compress_vec(input, &mut out, flush).unwrap();
        assert_eq!((c.total_in() - before) as usize, input.len());
        out
    };
    let first = block(&zeros, FlushCompress::Sync);
    let steady = block(&zeros, FlushCompress::Sync);
    let again = block(&zeros, FlushCompress::Sync);
    assert_eq!(steady, again, "the steady-state block repeats");
    let last = block(&[], FlushCompress::Finish);

    let mut crc_one = flate2::Crc::new();
    crc_one.update(&zeros);
    let mut crc = flate2::Crc::new();
    for _ in 0..TOTAL_MIB {
        crc.combine(&crc_one);
    }

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let path = dir.join("bomb.model.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    f.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
        .unwrap();
    f.write_all(&first).unwrap();
    for _ in 1..TOTAL_MIB {
        f.write_all(&steady).unwrap();
    }
    f.write_all(&last).unwrap();
    f.write_all(&crc.sum().to_le_bytes()).unwrap();
    f.write_all(&((TOTAL_MIB * MIB) as u32).to_le_bytes())
        .unwrap();
    drop(f);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size < 12 << 20, "{size} bytes");

    // The loader itself: the cap, not the end of the stream, stops it.
    let started = Instant::now();
    let e = replay::model::file::load(&path).unwrap_err();
    assert!(
        matches!(e, replay::model::file::ModelFileError::TooLarge { .. }),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // And every command, through the binary.
    assert_rejected(&path);
}
