//! Reads pcap/pcapng captures with replay's reader and prints what it kept
//! and skipped, and how fast: the benchmark driver until `replay record`
//! exists. `--list` prints one line per exchange (client, start ns, method,
//! target, status) instead, sorted by start time.
//!
//! Usage: cargo run --release --example pcap_count -- [--list] FILE...

use std::time::Instant;

fn main() {
    let mut list = false;
    let mut files = Vec::new();
    for a in std::env::args().skip(1) {
        if a == "--list" {
            list = true;
        } else {
            files.push(a);
        }
    }
    if files.is_empty() {
        eprintln!("usage: pcap_count [--list] FILE...");
        std::process::exit(2);
    }
    let mut status = 0;
    for f in files {
        let path = std::path::Path::new(&f);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let mut rows = Vec::new();
        let mut count = 0u64;
        let t0 = Instant::now();
        let res = replay::ingest::pcap::read_pcap(path, &mut |ex| {
            count += 1;
            if list {
                let status = ex.response.as_ref().map_or(0, |r| r.status);
                rows.push((
                    ex.started_ns,
                    ex.client.clone().unwrap_or_default(),
                    ex.method.clone(),
                    ex.target.clone(),
                    status,
                    ex.damaged,
                ));
            }
        });
        let secs = t0.elapsed().as_secs_f64();
        match res {
            Ok(stats) => {
                if list {
                    rows.sort();
                    for (ts, client, method, target, status, damaged) in rows {
                        let d = if damaged { " damaged" } else { "" };
                        println!(
                            "{client}\t{}.{:09}\t{method}\t{target}\t{status}{d}",
                            ts / 1_000_000_000,
                            ts % 1_000_000_000
                        );
                    }
                }
                println!(
                    "{f}: kept {} (seen {}) in {:.3} s, {:.1} MB/s; skipped {:?}",
                    stats.kept,
                    stats.seen,
                    secs,
                    size as f64 / 1e6 / secs.max(1e-9),
                    stats.skipped
                );
                for w in &stats.warnings {
                    println!("  warning: {w}");
                }
                debug_assert_eq!(count, stats.kept);
            }
            Err(e) => {
                eprintln!("error: {e}");
                status = 1;
            }
        }
    }
    std::process::exit(status);
}
