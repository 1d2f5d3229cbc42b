//! The executor: an open-model load generator.
//!
//! A scheduler thread walks the [`Schedule`](crate::schedule::Schedule) and,
//! at each intended instant, generates a request (pure `generate`) and hands
//! it to an idle keep-alive connection, or opens a new one while under
//! `--connections`. When every allowed connection is busy the request waits
//! in a bounded queue for the next free one (as wrk2's connections do) and
//! its wait shows in `schedule_lag` and `http_req_duration`; a request that
//! cannot even be queued (queue full) or that waited longer than the
//! request timeout is counted as a dropped request with the reason. Slow
//! responses never slow the schedule itself.
//!
//! Every request carries its intended send time: `http_req_duration` is
//! measured from it (coordinated-omission correct, as wrk2 does),
//! `http_req_service_time` from the actual send, and `schedule_lag` is the
//! difference. Samples go into a few sharded [`Recorder`]s (HdrHistograms:
//! memory independent of run length), merged exactly at the end.
//!
//! The scheduler is an OS thread sleeping with `std::thread::sleep`
//! (tens of microseconds of slack) rather than a tokio timer (1 ms
//! granularity), so the schedule is kept to well under a millisecond.

pub mod conn;
mod request;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::mpsc;

use crate::generate::Target;
use crate::metrics::{DropReason, Dropped, ErrorKind, IntervalStats, Recorder, Sample};
use crate::model::TrafficModel;
use crate::schedule::{Schedule, ScheduleSpec, SessionSchedule};
pub use conn::Connector;
pub use request::RequestBuilder;

/// A request later than this behind its intended time is dropped as
/// `generator_behind` instead of being sent late.
pub const MAX_LATENESS: Duration = Duration::from_millis(100);

/// Everything the executor needs besides the model.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub schedule: ScheduleSpec,
    /// Requests intended before this offset are sent but not measured.
    pub warmup: Duration,
    pub seed: u64,
    /// Cap on open connections.
    pub connections: usize,
    /// Cap on requests awaiting a response.
    pub max_in_flight: usize,
    /// Per-request timeout, from the actual send to the last body byte.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub http2: bool,
    pub insecure: bool,
    /// `-H` headers: set on every request (replacing recorded ones).
    pub headers: Vec<(String, String)>,
    /// Values for `{{secret:NAME}}` placeholders.
    pub secrets: HashMap<String, String>,
    /// Time-series interval.
    pub interval: Duration,
    /// How long to wait for in-flight requests once the schedule ends.
    pub drain: Duration,
    /// Replay per-client sessions (transitions and think times) instead
    /// of independent arrivals.
    pub sessions: bool,
}

/// What a run measured.
pub struct Outcome {
    pub recorder: Recorder,
    /// From the first intended send to the end of the schedule (or the
    /// stop), warmup excluded.
    pub measured: Duration,
    /// Requests the schedule intended in the measured part.
    pub intended: u64,
    /// The run was stopped early (Ctrl-C or `--abort-on-fail`).
    pub stopped: bool,
    /// Requests still awaiting a response when the run ended.
    pub abandoned: usize,
}

/// Called on every interval with the interval's stats and the merged
/// recorder so far; returning `false` stops the run (`--abort-on-fail`).
pub type IntervalHook = Box<dyn FnMut(&IntervalStats, &Recorder, Duration) -> bool + Send>;

/// Requests waiting for a free connection, at most this many per allowed
/// connection (and at least `MIN_PENDING`).
const PENDING_PER_CONNECTION: usize = 16;
const MIN_PENDING: usize = 1024;

/// Who is waiting for whom: idle connections, or requests waiting for a
/// connection. One lock for both so neither can miss the other.
#[derive(Default)]
struct Dispatch {
    idle: Vec<mpsc::UnboundedSender<Job>>,
    pending: std::collections::VecDeque<Job>,
}

struct Shared {
    start: Instant,
    warmup: Duration,
    recorders: Vec<Mutex<Recorder>>,
    dispatch: Mutex<Dispatch>,
    max_pending: usize,
    open: AtomicUsize,
    in_flight: AtomicUsize,
    timeout: Duration,
    stop: Arc<AtomicBool>,
}

impl Shared {
    fn record(&self, shard: usize, s: &Sample) {
        let i = shard % self.recorders.len();
        if let Ok(mut r) = self.recorders[i].lock() {
            r.record(s);
        }
    }

    fn drop_request(&self, endpoint: usize, intended: Instant, reason: DropReason) {
        let at = intended.saturating_duration_since(self.start);
        let d = Dropped {
            endpoint,
            reason,
            at,
            warmup: at < self.warmup,
        };
        if let Ok(mut r) = self.recorders[0].lock() {
            r.record_dropped(&d);
        }
    }
}

/// One request on its way.
struct Job {
    endpoint: usize,
    intended: Instant,
    request: http::Request<Full<Bytes>>,
    bytes_sent: u64,
}

/// Runs the plan against the target until the schedule ends or `stop` is
/// set. Must be called inside a multi-threaded tokio runtime.
pub async fn run(
    model: Arc<TrafficModel>,
    plan: Plan,
    stop: Arc<AtomicBool>,
    mut hook: Option<IntervalHook>,
) -> anyhow::Result<Outcome> {
    let connector = Arc::new(
        Connector::new(
            &plan.target.scheme,
            &plan.target.authority,
            plan.http2,
            plan.insecure,
            plan.connect_timeout,
        )
        .map_err(|e| crate::cli::UsageError(format!("--target: {e}")))?,
    );
    let builder = RequestBuilder::new(&plan, &model)?;
    let shards = 4;
    let start = Instant::now() + Duration::from_millis(20);
    let shared = Arc::new(Shared {
        start,
        warmup: plan.warmup,
        recorders: (0..shards).map(|_| Mutex::new(Recorder::new())).collect(),
        dispatch: Mutex::new(Dispatch::default()),
        max_pending: (plan.connections * PENDING_PER_CONNECTION).max(MIN_PENDING),
        open: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
        timeout: plan.timeout,
        stop: stop.clone(),
    });

    // The scheduler thread.
    let handle = tokio::runtime::Handle::current();
    let sched = {
        let shared = shared.clone();
        let model = model.clone();
        let plan = plan.clone();
        let connector = connector.clone();
        std::thread::Builder::new()
            .name("replay-scheduler".into())
            .spawn(move || scheduler(shared, model, plan, builder, connector, handle))?
    };

    // Interval ticks until the scheduler is done.
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(start + plan.interval),
        plan.interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = start.elapsed();
        if let Some(h) = hook.as_mut() {
            let (stats, merged) = interval(&shared, now);
            if !h(&stats, &merged, now) {
                stop.store(true, Ordering::SeqCst);
            }
        }
        if sched.is_finished() {
            break;
        }
    }
    let (intended, schedule_end) = sched
        .join()
        .map_err(|_| anyhow::anyhow!("the scheduler thread panicked"))?;

    // Drain: wait for in-flight requests, at most `drain`.
    let deadline = Instant::now()
        + if stop.load(Ordering::SeqCst) {
            plan.drain.min(Duration::from_secs(2))
        } else {
            plan.drain
        };
    while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let abandoned = shared.in_flight.load(Ordering::SeqCst);
    // Requests still queued never went out: they were dropped. Close idle
    // connections.
    let left: Vec<Job> = match shared.dispatch.lock() {
        Ok(mut d) => {
            d.idle.clear();
            d.pending.drain(..).collect()
        }
        Err(_) => Vec::new(),
    };
    for j in left {
        shared.drop_request(j.endpoint, j.intended, DropReason::ConnectionCap);
    }
    let mut recorder = Recorder::new();
    for r in &shared.recorders {
        if let Ok(r) = r.lock() {
            recorder.merge(&r);
        }
    }
    let measured = schedule_end.saturating_sub(plan.warmup);
    Ok(Outcome {
        recorder,
        measured,
        intended,
        stopped: stop.load(Ordering::SeqCst),
        abandoned,
    })
}

/// The interval's stats (all shards) and the merged recorder so far.
fn interval(shared: &Shared, now: Duration) -> (IntervalStats, Recorder) {
    let mut window = None;
    let mut merged = Recorder::new();
    for r in shared.recorders.iter() {
        if let Ok(mut r) = r.lock() {
            let w = r.take_window();
            match window.as_mut() {
                None => window = Some(w),
                Some(acc) => crate::metrics::IntervalWindow::merge(acc, &w),
            }
            merged.merge(&r);
        }
    }
    let stats = match (window, shared.recorders[0].lock()) {
        (Some(w), Ok(mut r0)) => r0.close_interval(w, now),
        _ => merged.take_interval(now),
    };
    (stats, merged)
}

/// The scheduler loop; returns (requests intended in the measured part,
/// offset at which the schedule ended).
fn scheduler(
    shared: Arc<Shared>,
    model: Arc<TrafficModel>,
    plan: Plan,
    mut builder: RequestBuilder,
    connector: Arc<Connector>,
    handle: tokio::runtime::Handle,
) -> (u64, Duration) {
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let schedule_rng = ChaCha8Rng::seed_from_u64(plan.seed ^ 0x5eed_0fa1_17e5);
    // (offset, endpoint): sessions choose the endpoint, independent
    // arrivals draw it by weight.
    let events: Box<dyn Iterator<Item = (f64, Option<usize>)>> = match plan.sessions {
        true => match SessionSchedule::new(&model, &plan.schedule, schedule_rng.clone()) {
            Some(s) => Box::new(s.map(|(t, e)| (t, Some(e)))),
            None => Box::new(
                Schedule::new(&model.arrival, plan.schedule.clone(), schedule_rng)
                    .map(|t| (t, None)),
            ),
        },
        false => Box::new(
            Schedule::new(&model.arrival, plan.schedule.clone(), schedule_rng).map(|t| (t, None)),
        ),
    };
    let mut intended_measured = 0u64;
    let mut conn_seq = 0usize;
    let mut last = Duration::ZERO;
    for (offset, chosen) in events {
        if shared.stop.load(Ordering::Relaxed) {
            return (intended_measured, last);
        }
        let off = Duration::from_secs_f64(offset);
        last = off;
        let intended = shared.start + off;
        let now = Instant::now();
        if intended > now {
            std::thread::sleep(intended - now);
            if shared.stop.load(Ordering::Relaxed) {
                return (intended_measured, last);
            }
        }
        if off >= plan.warmup {
            intended_measured += 1;
        }
        let (endpoint, request, bytes_sent) = builder.next(&model, chosen, &mut rng);
        if Instant::now().saturating_duration_since(intended) > MAX_LATENESS {
            shared.drop_request(endpoint, intended, DropReason::GeneratorBehind);
            continue;
        }
        if shared.in_flight.load(Ordering::Relaxed) >= plan.max_in_flight {
            shared.drop_request(endpoint, intended, DropReason::MaxInFlight);
            continue;
        }
        let mut job = Job {
            endpoint,
            intended,
            request,
            bytes_sent,
        };
        // An idle connection (if still alive), a new one under the cap, or
        // the queue.
        loop {
            let mut d = match shared.dispatch.lock() {
                Ok(d) => d,
                Err(_) => break,
            };
            if let Some(tx) = d.idle.pop() {
                drop(d);
                shared.in_flight.fetch_add(1, Ordering::SeqCst);
                match tx.send(job) {
                    Ok(()) => break,
                    Err(mpsc::error::SendError(j)) => {
                        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                        job = j;
                        continue;
                    }
                }
            }
            if shared.open.load(Ordering::SeqCst) < plan.connections {
                drop(d);
                shared.open.fetch_add(1, Ordering::SeqCst);
                shared.in_flight.fetch_add(1, Ordering::SeqCst);
                conn_seq += 1;
                handle.spawn(connection(shared.clone(), connector.clone(), job, conn_seq));
            } else if d.pending.len() < shared.max_pending {
                d.pending.push_back(job);
            } else {
                drop(d);
                shared.drop_request(job.endpoint, job.intended, DropReason::ConnectionCap);
            }
            break;
        }
    }
    (
        intended_measured,
        plan.schedule
            .duration_s
            .map(Duration::from_secs_f64)
            .unwrap_or(last),
    )
}

/// A connection's life: connect, then serve jobs — one at a time over
/// HTTP/1.1 keep-alive, concurrently as streams over HTTP/2 — taking queued
/// requests first and otherwise waiting in the idle list.
async fn connection(shared: Arc<Shared>, connector: Arc<Connector>, first: Job, id: usize) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let mut job = Some(first);
    let mut sender: Option<conn::Sender> = None;
    loop {
        let j = match job.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => break,
            },
        };
        let mut ok = true;
        match &sender {
            Some(conn::Sender::H2(s)) if !s.is_closed() => {
                // Multiplex: run the stream on its own task and take the
                // next job at once.
                let mut own = Some(conn::Sender::H2(s.clone()));
                let shared2 = shared.clone();
                let connector2 = connector.clone();
                tokio::spawn(async move {
                    execute(&shared2, &connector2, &mut own, j, id).await;
                    shared2.in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
            _ => {
                ok = execute(&shared, &connector, &mut sender, j, id).await;
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if !ok {
            sender = None;
        }
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        // Next: a queued request (dropping those that waited too long), or
        // the idle list.
        loop {
            let next = match shared.dispatch.lock() {
                Ok(mut d) => match d.pending.pop_front() {
                    Some(j) => Some(j),
                    None => {
                        d.idle.push(tx.clone());
                        None
                    }
                },
                Err(_) => None,
            };
            match next {
                Some(j)
                    if Instant::now().saturating_duration_since(j.intended) > shared.timeout =>
                {
                    shared.drop_request(j.endpoint, j.intended, DropReason::ConnectionCap);
                }
                Some(j) => {
                    shared.in_flight.fetch_add(1, Ordering::SeqCst);
                    job = Some(j);
                    break;
                }
                None => break,
            }
        }
    }
    shared.open.fetch_sub(1, Ordering::SeqCst);
}

/// Sends one request on `sender` (connecting first when needed) and
/// records the sample. Returns false when the connection must be dropped.
async fn execute(
    shared: &Shared,
    connector: &Connector,
    sender: &mut Option<conn::Sender>,
    job: Job,
    shard: usize,
) -> bool {
    let warmup = job.intended.saturating_duration_since(shared.start) < shared.warmup;
    let mut sample = Sample {
        endpoint: job.endpoint,
        status: None,
        error: None,
        duration: Duration::ZERO,
        service_time: Duration::ZERO,
        waiting: Duration::ZERO,
        connecting: None,
        schedule_lag: Duration::ZERO,
        bytes_sent: 0,
        bytes_received: 0,
        at: job.intended.saturating_duration_since(shared.start),
        warmup,
    };
    let sent_at = Instant::now();
    sample.schedule_lag = sent_at.saturating_duration_since(job.intended);
    // A pooled connection the server closed meanwhile is replaced, as any
    // HTTP client does, and the time to reconnect is part of the request.
    let stale = match sender {
        Some(conn::Sender::H1(s)) => s.is_closed() || s.ready().await.is_err(),
        Some(conn::Sender::H2(s)) => s.is_closed() || s.ready().await.is_err(),
        None => true,
    };
    if stale {
        let t = Instant::now();
        match tokio::time::timeout(shared.timeout, connector.connect()).await {
            Ok(Ok(s)) => {
                *sender = Some(s);
                sample.connecting = Some(t.elapsed());
            }
            Ok(Err(kind)) => return fail(shared, sample, kind, job.intended, sent_at, shard),
            Err(_) => {
                return fail(
                    shared,
                    sample,
                    ErrorKind::ConnectTimeout,
                    job.intended,
                    sent_at,
                    shard,
                )
            }
        }
    }
    let Some(s) = sender.as_mut() else {
        return fail(
            shared,
            sample,
            ErrorKind::Other,
            job.intended,
            sent_at,
            shard,
        );
    };
    // One timer for the whole exchange (head and body), and no boxed
    // future: both are per-request costs.
    let deadline = tokio::time::Instant::from_std(sent_at + shared.timeout);
    let mut received: u64 = 0;
    let exchange = async {
        let response = match s {
            conn::Sender::H1(s) => s.send_request(job.request).await,
            conn::Sender::H2(s) => s.send_request(job.request).await,
        }?;
        sample.waiting = sent_at.elapsed();
        sample.status = Some(response.status().as_u16());
        received = 12
            + response
                .headers()
                .iter()
                .map(|(n, v)| n.as_str().len() as u64 + v.len() as u64 + 4)
                .sum::<u64>()
            + 2;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Some(d) = frame?.data_ref() {
                received += d.len() as u64;
            }
        }
        Ok::<(), hyper::Error>(())
    };
    let result = tokio::time::timeout_at(deadline, exchange).await;
    sample.bytes_received = received;
    let kind = match result {
        Ok(Ok(())) => None,
        Err(_) => Some(ErrorKind::Timeout),
        Ok(Err(e)) => Some(conn::classify_hyper(&e)),
    };
    if let Some(kind) = kind {
        return fail(shared, sample, kind, job.intended, sent_at, shard);
    }
    let end = Instant::now();
    sample.bytes_sent = job.bytes_sent;
    sample.duration = end.saturating_duration_since(job.intended);
    sample.service_time = end - sent_at;
    shared.record(shard, &sample);
    true
}

fn fail(
    shared: &Shared,
    mut sample: Sample,
    kind: ErrorKind,
    intended: Instant,
    sent_at: Instant,
    shard: usize,
) -> bool {
    let end = Instant::now();
    sample.error = Some(kind);
    sample.status = None;
    sample.duration = end.saturating_duration_since(intended);
    sample.service_time = end - sent_at;
    shared.record(shard, &sample);
    false
}
