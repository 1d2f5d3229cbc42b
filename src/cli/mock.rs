//! `replay mock MODEL|CAPTURE`: serve the recorded responses until Ctrl-C
//! (or SIGTERM), then print how many requests each endpoint answered.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::Context;

use super::args::MockArgs;
use crate::error::UsageError;
use crate::mock::{Mock, MockOptions, MockStats};
use crate::model::TrafficModel;

pub fn run(args: MockArgs) -> anyhow::Result<u8> {
    let input = super::input::load_input(&args.inputs, &args.filters)?;
    let model = input.model;
    if model.endpoints.is_empty() {
        return Err(UsageError(format!(
            "{} has no endpoints to mock",
            args.inputs[0].display()
        ))
        .into());
    }
    let seed = args.seed.unwrap_or_else(rand::random::<u64>);
    let options = MockOptions {
        latency: args.latency,
        seed,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let stats = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| bind_error(args.listen, e))?;
        let addr = listener.local_addr()?;
        let mock = Mock::new(&model, options);
        let _ = writeln!(
            std::io::stderr(),
            "mock of {} ({} endpoints) listening on http://{addr} (latency {}, seed {seed}); Ctrl-C stops it",
            name(&args.inputs),
            mock.endpoints(),
            options.latency,
        );
        anyhow::Ok(mock.serve(listener, stop_signal()).await?)
    })?;
    print_counts(&model, &stats).context("cannot write the request counts")?;
    Ok(0)
}

fn name(inputs: &[std::path::PathBuf]) -> String {
    match inputs {
        [one] => one.display().to_string(),
        [first, rest @ ..] => format!("{} and {} more", first.display(), rest.len()),
        [] => String::new(),
    }
}

fn bind_error(addr: SocketAddr, e: std::io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "; it is in use: pass --listen 127.0.0.1:0 for any free port, or another ADDR"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "; no local interface has that address: pass --listen 127.0.0.1:PORT"
        }
        std::io::ErrorKind::PermissionDenied => {
            "; ports below 1024 need privileges: pass --listen with a higher port"
        }
        _ => "",
    };
    UsageError(format!("cannot listen on {addr}: {e}{hint}")).into()
}

/// Completes on Ctrl-C, or on SIGTERM where there is one (how CI and
/// process managers stop a service).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Requests per endpoint, busiest first; data, so on standard output.
fn print_counts(model: &TrafficModel, stats: &MockStats) -> std::io::Result<()> {
    let mut rows: Vec<(u64, String)> = model
        .endpoints
        .iter()
        .zip(&stats.requests)
        .filter(|(_, n)| **n > 0)
        .map(|(e, n)| (*n, format!("{} {}{}", e.method, e.host, e.template)))
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    if stats.not_found > 0 {
        rows.push((stats.not_found, "(no matching endpoint: 404)".to_string()));
    }
    let width = rows
        .iter()
        .map(|(n, _)| n.to_string().len())
        .max()
        .unwrap_or(1);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} requests on {} connections",
        stats.total(),
        stats.connections
    )?;
    for (n, what) in rows {
        writeln!(out, "  {n:>width$}  {what}")?;
    }
    Ok(())
}
