//! `replay mock MODEL|CAPTURE`: serve the recorded responses until Ctrl-C
//! (or SIGTERM), then print how many requests each endpoint answered.
//!
//! One address serves every recorded origin (`--listen`, routing by
//! `Host`); `--map ORIGIN=ADDR` and `--map-all` give origins addresses of
//! their own, printed as a table on standard output before serving. The
//! banner on standard error names the addresses too (scripts read the
//! first one off it).

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
    let mock = Mock::new(&model, options);
    let plan = listeners(&mock, &args)?;
    let stats = runtime.block_on(async {
        let stopped_by_user = stop_signal();
        let mut bound = Vec::with_capacity(plan.len());
        for (served, addr) in plan {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| bind_error(addr, e))?;
            bound.push((served, listener));
        }
        let urls: Vec<String> = bound
            .iter()
            .map(|(_, l)| l.local_addr().map(|a| format!("http://{a}")))
            .collect::<Result<_, _>>()?;
        // Scripts read the first address off this line.
        let _ = writeln!(
            std::io::stderr(),
            "mock of {} ({} endpoints) listening on {} (latency {}, seed {seed}); Ctrl-C stops it",
            name(&args.inputs),
            mock.endpoints(),
            urls.join(", "),
            options.latency,
        );
        if !args.map.is_empty() || args.map_all {
            print_table(&mock, &bound).context("cannot write the address table")?;
        }
        let (stop, stopped) = tokio::sync::watch::channel(());
        let mut tasks = tokio::task::JoinSet::new();
        for (served, listener) in bound {
            let m = served.map_or_else(|| mock.clone(), |o| mock.for_origins(o));
            let mut stopped = stopped.clone();
            tasks.spawn(m.serve(listener, async move {
                let _ = stopped.changed().await;
            }));
        }
        stopped_by_user.await;
        let _ = stop.send(());
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        anyhow::Ok(mock.stats())
    })?;
    print_counts(&model, &stats).context("cannot write the request counts")?;
    Ok(0)
}

/// The addresses to serve: (origins served, `None` for all; address).
type Plan = Vec<(Option<Vec<u32>>, SocketAddr)>;

/// Listeners for `--map` (each origin named), `--map-all` (every other
/// origin on a free port) and `--listen` (all origins; the default when
/// neither is given).
fn listeners(mock: &Mock, args: &MockArgs) -> anyhow::Result<Plan> {
    let mut plan: Plan = Vec::new();
    let mut mapped: Vec<u32> = Vec::new();
    for (spec, addr) in &args.map {
        let found = mock.find_origins(spec);
        if found.is_empty() {
            let recorded: Vec<String> = mock.origins().iter().map(|o| o.url()).collect();
            return Err(UsageError(format!(
                "--map {spec}={addr}: no recorded origin is {spec}; the recording has {}",
                recorded.join(", ")
            ))
            .into());
        }
        mapped.extend(&found);
        plan.push((Some(found), *addr));
    }
    if args.map_all {
        for o in 0..mock.origins().len() as u32 {
            if !mapped.contains(&o) {
                plan.push((Some(vec![o]), SocketAddr::from(([127, 0, 0, 1], 0))));
            }
        }
    }
    match args.listen {
        Some(addr) => plan.push((None, addr)),
        None if plan.is_empty() => plan.push((None, SocketAddr::from(([127, 0, 0, 1], 8080)))),
        None => {}
    }
    Ok(plan)
}

/// One line per listener: the origins it serves and its URL. Data (a
/// script starts the mock and reads where each origin is), so on standard
/// output, before serving.
fn print_table(
    mock: &Mock,
    bound: &[(Option<Vec<u32>>, tokio::net::TcpListener)],
) -> std::io::Result<()> {
    let rows: Vec<(String, String)> = bound
        .iter()
        .map(|(served, l)| {
            let what = match served {
                Some(o) => o
                    .iter()
                    .map(|&i| mock.origins()[i as usize].url())
                    .collect::<Vec<_>>()
                    .join(","),
                None => "(every origin, by Host)".to_string(),
            };
            let at = l
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| format!("http://{a}"));
            (what, at)
        })
        .collect();
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for (what, at) in rows {
        writeln!(out, "{what:<width$}  {at}")?;
    }
    out.flush()
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
/// process managers stop a service). The handlers are installed when this
/// is called, not when the future is first polled, so a signal sent as
/// soon as the addresses are printed is not lost. Call within the runtime.
fn stop_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            return Box::pin(async move {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
        }
    }
    Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    })
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
