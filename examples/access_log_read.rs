//! Reads captures with the ingest stage alone (no model) and prints what
//! it saw: `benches/access_log.sh` uses it to time the access-log reader
//! apart from the model builder.

use std::path::Path;

fn main() {
    let options = replay::ingest::ReadOptions::default();
    for path in std::env::args().skip(1) {
        let mut bytes = 0u64;
        let result = replay::ingest::read_capture_with(Path::new(&path), &options, &mut |x| {
            bytes += x.target.len() as u64;
        });
        match result {
            Ok((kind, stats, digest)) => println!(
                "{path}: {kind}, {} bytes, {} lines read, {} kept, {} target bytes",
                digest.bytes, stats.seen, stats.kept, bytes
            ),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        }
    }
}
