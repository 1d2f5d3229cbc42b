//! The executor: an open-model load generator.
//!
//! Each load-generator thread runs its own single-threaded tokio runtime
//! (wrk2's layout: no cross-thread hand-off per request). Its dispatcher
//! walks the [`Schedule`] — with several
//! threads, thread `k` of `n` takes every `n`-th instant — and, at each
//! intended instant, generates a request (pure `generate`) and hands it to
//! one of the thread's idle keep-alive connections, or opens a new one
//! while under its share of `--connections`. When every allowed connection
//! is busy the request waits in a bounded queue for the next free one (as
//! wrk2's connections do) and its wait shows in `schedule_lag` and
//! `http_req_duration`; a request that cannot even be queued (queue full)
//! or that waited longer than the request timeout is counted as a dropped
//! request with the reason. Slow responses never slow the schedule itself.
//!
//! Every request carries its intended send time: `http_req_duration` is
//! measured from it (coordinated-omission correct, as wrk2 does),
//! `http_req_service_time` from the actual send, and `schedule_lag` is the
//! difference. Each thread records into its own [`Recorder`]
//! (HdrHistograms: memory independent of run length); they are merged
//! exactly for every interval and at the end.
//!
//! The dispatcher sleeps on a high-resolution timer (see the `timer` module) rather
//! than tokio's millisecond timer, so the schedule is kept to well under a
//! millisecond while the same thread serves the connections.

mod classify;
pub mod conn;
mod diagnosis;
mod h1;
mod plan;
mod produced;
pub mod proxy;
mod request;
mod timer;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::metrics::{DropReason, Dropped, ErrorKind, IntervalStats, Recorder, Sample};
use crate::model::TrafficModel;
use crate::schedule::{request_rng, Schedule, SessionSchedule};
use crate::shutdown::Shutdown;
pub use conn::Connector;
pub use diagnosis::{generic as generic_error_message, Diagnosis};
pub use plan::Plan;
use produced::{NoValue, Produced};
use request::Outgoing;
pub use request::{check_header, unfilled_secrets, RequestBuilder};

/// A request later than this behind its intended time is dropped as
/// `generator_behind` instead of being sent late.
pub const MAX_LATENESS: Duration = Duration::from_millis(100);

/// What a run measured.
pub struct Outcome {
    pub recorder: Recorder,
    /// The measured time: from the first intended send after the warmup
    /// to the end of the last measured request (its response, failure or
    /// drop, or the end of the drain for one still unanswered). When
    /// nothing was measured, the time the schedule ran after the warmup.
    pub measured: Duration,
    /// The schedule's length after the warmup (`--duration`), as planned.
    pub planned: Duration,
    /// The part of `planned` the schedule went through: all of it, or up
    /// to the stop. The intended rate is `intended` over this.
    pub scheduled: Duration,
    /// Requests the schedule intended in the measured part.
    pub intended: u64,
    /// The run was stopped early (the shutdown, or the interval hook for
    /// `--abort-on-fail`).
    pub stopped: bool,
    /// The caller's [`Shutdown`] fired.
    pub interrupted: bool,
    /// Requests still awaiting a response when the run ended.
    pub abandoned: usize,
}

/// Called on every interval with the interval's stats and the merged
/// recorder so far; returning `false` stops the run (`--abort-on-fail`).
pub type IntervalHook = Box<dyn FnMut(&IntervalStats, &Recorder, Duration) -> bool + Send>;

/// Requests waiting for a free connection: enough to ride out a hiccup of
/// the target or the machine of `HICCUP` at the thread's share of the
/// intended rate (the wait is measured, and the rate's share is capped at
/// `MAX_PENDING`), and at least `PENDING_PER_CONNECTION` per allowed
/// connection and `MIN_PENDING`. A target that cannot keep up shows as
/// `connection_cap` drops within a fraction of a second.
const PENDING_PER_CONNECTION: usize = 64;
const MIN_PENDING: usize = 1024;
const MAX_PENDING: usize = 1 << 16;
const HICCUP: f64 = 0.1;

/// The queue's length for a thread given `connections` and `rate` req/s.
fn max_pending(connections: usize, rate: f64) -> usize {
    let by_rate = if rate.is_finite() && rate > 0.0 {
        (rate * HICCUP).min(MAX_PENDING as f64) as usize
    } else {
        0
    };
    (connections.saturating_mul(PENDING_PER_CONNECTION))
        .max(by_rate)
        .max(MIN_PENDING)
}

/// Requests generated back to back (the dispatcher is behind) before it
/// lets the thread's connections run.
const BURST: u32 = 32;

/// What all load-generator threads share.
struct Shared {
    start: Instant,
    /// When this process began sending: after `start` when it started
    /// later than `--start-at` said.
    began: Instant,
    warmup: Duration,
    timeout: Duration,
    stop: Arc<AtomicBool>,
    /// One per thread: locked by its thread per sample (uncontended) and
    /// by the interval hook once per interval.
    recorders: Vec<Mutex<Recorder>>,
}

/// One request on its way.
struct Job {
    endpoint: usize,
    /// Keep the response's body and `Location`: its endpoint produces
    /// values later requests use.
    capture: bool,
    /// The `--sessions` session it belongs to: its produced values are
    /// that session's.
    session: Option<u64>,
    intended: Instant,
    /// When the schedule handed it over: waiting for a connection from
    /// here on is `http_req_blocked`.
    dispatched: Instant,
    request: Outgoing,
    bytes_sent: u64,
}

/// An idle connection waiting for its next job: a one-slot mailbox on the
/// thread (no atomics, no channel).
#[derive(Default)]
struct Mailbox {
    job: Cell<Option<Job>>,
    waker: Cell<Option<Waker>>,
}

impl Mailbox {
    fn put(&self, job: Job) {
        self.job.set(Some(job));
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    async fn take(&self) -> Job {
        std::future::poll_fn(|cx| match self.job.take() {
            Some(j) => Poll::Ready(j),
            None => {
                self.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// A request on the wire.
struct Outstanding {
    endpoint: usize,
    intended: Instant,
    sent_at: Instant,
}

/// One load-generator thread's state; lives on that thread only.
struct Worker {
    shared: Arc<Shared>,
    index: usize,
    connector: Arc<Connector>,
    /// Idle connections, most recently used last.
    idle: RefCell<Vec<Rc<Mailbox>>>,
    /// Requests waiting for a connection.
    pending: RefCell<VecDeque<Job>>,
    /// Values this thread's responses produced for later requests.
    produced: RefCell<Produced>,
    open: Cell<usize>,
    in_flight: Cell<usize>,
    /// Requests sent and not yet recorded, by token: what is left when
    /// the run ends is recorded as `unfinished`.
    outstanding: RefCell<HashMap<u64, Outstanding>>,
    next_token: Cell<u64>,
    /// Offsets of the first intended send and of the last end among the
    /// measured (not warmup) requests and drops.
    span: Cell<Option<(Duration, Duration)>>,
    max_connections: usize,
    max_pending: usize,
    max_in_flight: usize,
}

impl Worker {
    /// Notes a request going out; `finish` with the token before its
    /// sample is recorded.
    fn begin(&self, endpoint: usize, intended: Instant, sent_at: Instant) -> u64 {
        let token = self.next_token.get();
        self.next_token.set(token + 1);
        self.outstanding.borrow_mut().insert(
            token,
            Outstanding {
                endpoint,
                intended,
                sent_at,
            },
        );
        token
    }

    fn finish(&self, token: u64) {
        self.outstanding.borrow_mut().remove(&token);
    }

    /// Records every request still awaiting its response as failed
    /// (`unfinished`), so that it is in the counts; returns how many.
    fn record_unfinished(&self) -> usize {
        let left: Vec<Outstanding> = self
            .outstanding
            .borrow_mut()
            .drain()
            .map(|(_, o)| o)
            .collect();
        let now = Instant::now();
        for o in &left {
            let at = o.intended.saturating_duration_since(self.shared.start);
            self.record(&Sample {
                endpoint: o.endpoint,
                status: None,
                error: Some(ErrorKind::Unfinished),
                duration: now.saturating_duration_since(o.intended),
                service_time: now.saturating_duration_since(o.sent_at),
                waiting: Duration::ZERO,
                connecting: None,
                tls_handshaking: None,
                schedule_lag: o.sent_at.saturating_duration_since(o.intended),
                blocked: Duration::ZERO,
                sending: Duration::ZERO,
                receiving: Duration::ZERO,
                bytes_sent: 0,
                bytes_received: 0,
                at,
                warmup: at < self.shared.warmup,
            });
        }
        left.len()
    }

    /// Widens the measured span to a request intended at `at` that ended
    /// at `end` (offsets since the start).
    fn measured(&self, at: Duration, end: Duration) {
        let span = match self.span.get() {
            Some((first, last)) => (first.min(at), last.max(end)),
            None => (at, end),
        };
        self.span.set(Some(span));
    }

    fn record(&self, s: &Sample) {
        if !s.warmup {
            self.measured(s.at, s.at + s.duration);
        }
        if let Ok(mut r) = self.shared.recorders[self.index].lock() {
            r.record(s);
        }
    }

    fn drop_request(&self, endpoint: usize, intended: Instant, reason: DropReason) {
        let at = intended.saturating_duration_since(self.shared.start);
        let d = Dropped {
            endpoint,
            reason,
            at,
            warmup: at < self.shared.warmup,
        };
        if !d.warmup {
            self.measured(at, self.shared.start.elapsed().max(at));
        }
        if let Ok(mut r) = self.shared.recorders[self.index].lock() {
            r.record_dropped(&d);
        }
    }

    /// An idle connection, a new one under the cap, or the queue.
    fn dispatch(self: &Rc<Self>, job: Job) {
        let idle = self.idle.borrow_mut().pop();
        if let Some(mailbox) = idle {
            self.in_flight.set(self.in_flight.get() + 1);
            mailbox.put(job);
        } else if self.open.get() < self.max_connections {
            self.open.set(self.open.get() + 1);
            self.in_flight.set(self.in_flight.get() + 1);
            tokio::task::spawn_local(connection(self.clone(), job));
        } else if self.pending.borrow().len() < self.max_pending {
            self.pending.borrow_mut().push_back(job);
        } else {
            self.drop_request(job.endpoint, job.intended, DropReason::ConnectionCap);
        }
    }

    /// A queued request for a connection that just became free, dropping
    /// those that waited longer than the timeout.
    fn next_pending(&self) -> Option<Job> {
        loop {
            let j = self.pending.borrow_mut().pop_front()?;
            if Instant::now().saturating_duration_since(j.intended) > self.shared.timeout {
                self.drop_request(j.endpoint, j.intended, DropReason::ConnectionCap);
                continue;
            }
            return Some(j);
        }
    }
}

/// What one thread did.
struct WorkerDone {
    /// Requests intended in the measured part.
    intended: u64,
    /// Offset at which the schedule ended (or was stopped).
    schedule_end: Duration,
    abandoned: usize,
    /// The thread's measured span (see `Worker::span`).
    span: Option<(Duration, Duration)>,
}

/// Runs the plan against the target until the schedule ends or
/// `shutdown` fires. Call it inside a tokio runtime: it only waits there
/// (interval hook, end of the threads); the load is generated by
/// `plan.threads` threads of its own. The plan's headers and secrets are
/// checked by the run plan before this is called.
pub async fn run(
    model: Arc<TrafficModel>,
    plan: Plan,
    mut shutdown: Shutdown,
    mut hook: Option<IntervalHook>,
) -> anyhow::Result<Outcome> {
    let connector = Arc::new(Connector::new(&plan)?);
    let builder = RequestBuilder::new(&plan);
    // The threads poll a flag (no await per request); the shutdown and
    // the hook set it.
    let stop = Arc::new(AtomicBool::new(shutdown.is_requested()));
    let mut interrupted = shutdown.is_requested();
    let threads = plan.threads.max(1);
    let began = Instant::now() + Duration::from_millis(20);
    let start = start_instant(plan.start_at, began)?;
    let shared = Arc::new(Shared {
        start,
        began,
        warmup: plan.warmup,
        timeout: plan.timeout,
        stop: stop.clone(),
        recorders: (0..threads)
            .map(|_| {
                let mut r = Recorder::new();
                r.track_codes(plan.status_codes.iter().copied());
                Mutex::new(r)
            })
            .collect(),
    });

    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut handles = Vec::with_capacity(threads);
    for k in 0..threads {
        let shared = shared.clone();
        let model = model.clone();
        let plan = plan.clone();
        let builder = builder.clone();
        let connector = connector.clone();
        let done_tx = done_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("replay-load-{k}"))
            .spawn(move || {
                let done = worker_thread(k, threads, shared, model, plan, builder, connector);
                let _ = done_tx.send(done);
            })?;
        handles.push(h);
    }
    drop(done_tx);

    // Interval ticks until every thread is done.
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::from_std(start + plan.interval),
        plan.interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done = Vec::with_capacity(threads);
    let mut failure = None;
    loop {
        tokio::select! {
            _ = shutdown.requested(), if !interrupted => {
                interrupted = true;
                stop.store(true, Ordering::SeqCst);
            }
            _ = ticker.tick() => {
                let now = start.elapsed();
                if let Some(h) = hook.as_mut() {
                    let (stats, merged) = interval(&shared, now);
                    if !h(&stats, &merged, now) {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }
            d = done_rx.recv() => match d {
                Some(Ok(d)) => done.push(d),
                Some(Err(e)) => {
                    // The others stop too; the first failure is reported.
                    stop.store(true, Ordering::SeqCst);
                    failure.get_or_insert(e);
                }
                None => break,
            },
        }
    }
    for h in handles {
        if h.join().is_err() {
            failure.get_or_insert(anyhow::anyhow!("a load-generator thread panicked"));
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    // The last, partial interval (and the drain) in the time series too.
    let now = start.elapsed();
    if let Some(h) = hook.as_mut() {
        let (stats, merged) = interval(&shared, now);
        h(&stats, &merged, now);
    }
    let mut recorder = Recorder::new();
    for r in &shared.recorders {
        if let Ok(r) = r.lock() {
            recorder.merge(&r);
        }
    }
    let schedule_end = done
        .iter()
        .map(|d| d.schedule_end)
        .max()
        .unwrap_or_default();
    let planned = plan
        .schedule
        .duration_s
        .map_or(schedule_end, Duration::from_secs_f64);
    let schedule_end = match plan.schedule.duration_s {
        Some(_) if !stop.load(Ordering::SeqCst) => planned,
        _ => schedule_end,
    };
    let scheduled = schedule_end.saturating_sub(plan.warmup);
    let span = done
        .iter()
        .filter_map(|d| d.span)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    Ok(Outcome {
        recorder,
        measured: span.map_or(scheduled, |(first, last)| last.saturating_sub(first)),
        planned: planned.saturating_sub(plan.warmup),
        scheduled,
        intended: done.iter().map(|d| d.intended).sum(),
        stopped: stop.load(Ordering::SeqCst),
        interrupted,
        abandoned: done.iter().map(|d| d.abandoned).sum(),
    })
}

/// The interval's stats (all threads) and the merged recorder so far.
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

/// Thread `k` of `n`: its own single-threaded runtime, its share of the
/// schedule and of the connections.
fn worker_thread(
    k: usize,
    n: usize,
    shared: Arc<Shared>,
    model: Arc<TrafficModel>,
    plan: Plan,
    builder: RequestBuilder,
    connector: Arc<Connector>,
) -> anyhow::Result<WorkerDone> {
    // A local runtime, not a runtime plus a `LocalSet`: one scheduler, and
    // a connection woken by the reactor goes straight onto its run queue.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build_local(tokio::runtime::LocalOptions::default())
        .map_err(|e| anyhow::anyhow!("cannot start a load-generator runtime: {e}"))?;
    let share = |total: usize| {
        if total == usize::MAX {
            total
        } else {
            (total / n + usize::from(k < total % n)).max(1)
        }
    };
    let worker = Rc::new(Worker {
        shared,
        index: k,
        connector,
        idle: RefCell::new(Vec::new()),
        pending: RefCell::new(VecDeque::new()),
        produced: RefCell::new(Produced::new(&model)),
        open: Cell::new(0),
        in_flight: Cell::new(0),
        outstanding: RefCell::new(HashMap::new()),
        next_token: Cell::new(0),
        span: Cell::new(None),
        max_connections: share(plan.connections),
        max_pending: max_pending(share(plan.connections), plan.rate / n as f64),
        max_in_flight: share(plan.max_in_flight),
    });
    // The dispatcher runs as a task too: a task is woken by a push onto
    // the run queue, `block_on`'s own future through the driver.
    let pacer = (plan.timeout / 2).max(Duration::from_millis(1));
    let done = runtime.block_on(async {
        let pacer = tokio::task::spawn_local(timer_pacer(pacer));
        let done = tokio::task::spawn_local(dispatcher(worker.clone(), k, n, model, plan, builder))
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the load-generator dispatcher failed: {e}")));
        pacer.abort();
        done
    });
    // Connections still open are closed with the runtime.
    drop(runtime);
    done
}

/// Keeps a tokio timer set that always ends before any request's timeout.
///
/// tokio's timer wakes the reactor (an eventfd write and one more
/// `epoll_wait`) whenever a timer is set to end before every other one; at a
/// modest rate, when nothing else is in flight, that was every request's
/// timeout: one extra write and wake-up per request. With this timer ending
/// sooner (`period`, half the request timeout), setting a request's timeout
/// wakes nothing.
async fn timer_pacer(period: Duration) {
    loop {
        tokio::time::sleep(period).await;
    }
}

/// The instant of the schedule's offset 0: `began` (now, give or take the
/// threads' start), or the `--start-at` wall-clock time on this machine's
/// monotonic clock — ahead of `began` (the threads wait for it) or behind
/// it (a shard that started late keeps the global clock; what it missed
/// is dropped as `late_start`).
fn start_instant(
    start_at: Option<std::time::SystemTime>,
    began: Instant,
) -> anyhow::Result<Instant> {
    let Some(at) = start_at else {
        return Ok(began);
    };
    let now = std::time::SystemTime::now();
    let moved = match at.duration_since(now) {
        Ok(ahead) => began.checked_add(ahead),
        Err(behind) => began.checked_sub(behind.duration()),
    };
    moved.ok_or_else(|| anyhow::anyhow!("--start-at is too far from now for this machine's clock"))
}

/// One scheduled request: its offset, the endpoint a session chose
/// (`None`: drawn by weight), the session it belongs to, and its number in
/// the global schedule (its request stream, [`request_rng`]).
type Event = (f64, Option<usize>, Option<u64>, u64);

/// The requests of load thread `k` of `n` in this shard: every thread
/// walks the global schedule and keeps its own part — requests by number,
/// or with `--sessions` whole sessions (a session stays on one thread,
/// with the values its responses produce).
fn events<'a>(
    model: &'a TrafficModel,
    plan: &Plan,
    k: usize,
    n: usize,
) -> Box<dyn Iterator<Item = Event> + 'a> {
    let schedule_rng = crate::schedule::schedule_rng(plan.seed);
    let shard = plan.shard;
    let (k, n) = (k as u64, n as u64);
    let mine = move |unit: u64| shard.takes(unit) && shard.rank(unit) % n == k;
    let independent = |rng| -> Box<dyn Iterator<Item = Event> + 'a> {
        let all = Schedule::new(&model.arrival, plan.schedule.clone(), rng);
        Box::new(
            (0u64..)
                .zip(all)
                .filter(move |(i, _)| mine(*i))
                .map(|(i, t)| (t, None, None, i)),
        )
    };
    if !plan.sessions {
        return independent(schedule_rng);
    }
    match SessionSchedule::new(model, &plan.schedule, schedule_rng.clone()) {
        Some(mut s) => Box::new(
            (0u64..)
                .zip(std::iter::from_fn(move || s.next_in_session()))
                .filter(move |(_, (_, _, session))| mine(*session))
                .map(|(i, (t, e, session))| (t, Some(e), Some(session), i)),
        ),
        None => independent(schedule_rng),
    }
}

/// Generates the request of `endpoint` intended at `intended` and hands it
/// to a connection (or drops it, naming why). `Err` when it uses a
/// produced value no response has given yet: the caller waits for one (or
/// sends the producer in its place, [`NoValue::instead`]). A request that
/// `waited` for its value is late by that wait, which is measured, not a
/// generator falling behind.
#[allow(clippy::too_many_arguments)]
fn send(
    worker: &Rc<Worker>,
    model: &TrafficModel,
    builder: &mut RequestBuilder,
    rng: &mut ChaCha8Rng,
    endpoint: usize,
    session: Option<u64>,
    intended: Instant,
    waited: bool,
) -> Result<(), NoValue> {
    let fills = worker
        .produced
        .borrow_mut()
        .fills(model, endpoint, session, rng)?;
    let (endpoint, request, bytes_sent) = builder.next(model, endpoint, &fills, rng);
    let now = Instant::now();
    if !waited && now.saturating_duration_since(intended) > MAX_LATENESS {
        let reason = if intended < worker.shared.began {
            DropReason::LateStart
        } else {
            DropReason::GeneratorBehind
        };
        worker.drop_request(endpoint, intended, reason);
        return Ok(());
    }
    if worker.in_flight.get() >= worker.max_in_flight {
        worker.drop_request(endpoint, intended, DropReason::MaxInFlight);
        return Ok(());
    }
    worker.dispatch(Job {
        capture: worker.produced.borrow().captures(endpoint),
        session,
        endpoint,
        intended,
        dispatched: now,
        request,
        bytes_sent,
    });
    Ok(())
}

/// Sends the waiting requests whose value has been produced meanwhile, in
/// order; drops those whose wait outlasted the recorded lag.
fn retry_waiting(
    worker: &Rc<Worker>,
    model: &TrafficModel,
    builder: &mut RequestBuilder,
    rng: &mut ChaCha8Rng,
    waiting: &mut VecDeque<Waiting>,
) {
    let now = Instant::now();
    for _ in 0..waiting.len() {
        let Some((deadline, endpoint, session, intended, index)) = waiting.pop_front() else {
            break;
        };
        let rng = request_rng(rng, index);
        if send(
            worker, model, builder, rng, endpoint, session, intended, true,
        )
        .is_ok()
        {
            continue;
        }
        if now >= deadline {
            worker.drop_request(endpoint, intended, DropReason::NoProducedValue);
        } else {
            waiting.push_back((deadline, endpoint, session, intended, index));
        }
    }
}

/// A request waiting for a produced value: (deadline, endpoint, session,
/// intended send time, request stream).
type Waiting = (Instant, usize, Option<u64>, Instant, u64);

/// Walks the thread's schedule, then waits for its requests in flight.
async fn dispatcher(
    worker: Rc<Worker>,
    k: usize,
    n: usize,
    model: Arc<TrafficModel>,
    plan: Plan,
    mut builder: RequestBuilder,
) -> anyhow::Result<WorkerDone> {
    let shared = worker.shared.clone();
    let mut timer = timer::Timer::new()
        .map_err(|e| anyhow::anyhow!("cannot create the schedule timer: {e}"))?
        .busy_poll(plan.busy_poll);
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut intended_measured = 0u64;
    let mut last = Duration::ZERO;
    let mut burst = 0u32;
    let slack = plan.timer_slack;
    let mut source = events(&model, &plan, k, n);
    // Requests already drawn from the schedule, not yet sent.
    let mut ahead: VecDeque<Event> = VecDeque::new();
    // Requests waiting for a produced value.
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    while let Some((offset, chosen, session, index)) = ahead.pop_front().or_else(|| source.next()) {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let off = Duration::from_secs_f64(offset);
        let intended = shared.start + off;
        if Instant::now() < intended {
            burst = 0;
            // Wake once for this request and every next one due within
            // the slack, at the last one's instant; alone, at its own.
            let mut wake = off;
            let mut j = 0;
            loop {
                if j == ahead.len() {
                    match source.next() {
                        Some(e) => ahead.push_back(e),
                        None => break,
                    }
                }
                let o = Duration::from_secs_f64(ahead[j].0);
                if o > off + slack {
                    break;
                }
                wake = o;
                j += 1;
            }
            let wake = shared.start + wake;
            let reached = timer
                .sleep_until(wake, &shared.stop)
                .await
                .map_err(|e| anyhow::anyhow!("the schedule timer failed: {e}"))?;
            if !reached {
                break;
            }
        } else {
            burst += 1;
            if burst >= BURST {
                burst = 0;
                tokio::task::yield_now().await;
            }
        }
        last = off;
        if off >= plan.warmup {
            intended_measured += 1;
        }
        retry_waiting(&worker, &model, &mut builder, &mut rng, &mut waiting);
        let ev_rng = request_rng(&mut rng, index);
        let endpoint = chosen.unwrap_or_else(|| crate::generate::pick_endpoint(&model, ev_rng));
        if intended + MAX_LATENESS < shared.began {
            // Due before this shard started (--start-at passed): not
            // generated, not sent, counted.
            worker.drop_request(endpoint, intended, DropReason::LateStart);
            continue;
        }
        let mut sent = send(
            &worker,
            &model,
            &mut builder,
            ev_rng,
            endpoint,
            session,
            intended,
            false,
        );
        if let Err(NoValue {
            instead: Some(producer),
        }) = sent
        {
            // No token yet: the client logs in first, in this request's
            // place (the count of intended requests stays the schedule's).
            let b = &mut builder;
            if send(
                &worker, &model, b, ev_rng, producer, session, intended, false,
            )
            .is_ok()
            {
                sent = Ok(());
            }
        }
        if sent.is_err() {
            // No produced value yet: wait for one within the recorded lag.
            let wait = worker
                .produced
                .borrow()
                .wait_for(endpoint)
                .min(plan.timeout);
            waiting.push_back((intended + wait, endpoint, session, intended, index));
            retry_waiting(&worker, &model, &mut builder, &mut rng, &mut waiting);
        }
    }
    while !waiting.is_empty() && !shared.stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        retry_waiting(&worker, &model, &mut builder, &mut rng, &mut waiting);
    }
    for (_, endpoint, _, intended, _) in waiting.drain(..) {
        worker.drop_request(endpoint, intended, DropReason::NoProducedValue);
    }

    // Drain: wait for in-flight requests, queued ones getting served
    // meanwhile. Each request ends by itself within its timeout (from its
    // send, and a queued one is dropped after waiting a timeout), so after
    // a normal end this waits at most twice `drain` (= the timeout); after
    // a stop, briefly.
    let stopped = shared.stop.load(Ordering::SeqCst);
    let deadline = Instant::now()
        + if stopped {
            plan.drain.min(Duration::from_secs(2))
        } else {
            plan.drain * 2 + Duration::from_millis(100)
        };
    while worker.in_flight.get() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Requests still queued never went out: they were dropped.
    let left: Vec<Job> = worker.pending.borrow_mut().drain(..).collect();
    for j in left {
        worker.drop_request(j.endpoint, j.intended, DropReason::ConnectionCap);
    }
    // What is still on the wire is in the counts as failed.
    let abandoned = worker.record_unfinished();
    Ok(WorkerDone {
        intended: intended_measured,
        schedule_end: last,
        abandoned,
        span: worker.span.get(),
    })
}

/// A connection's life: connect, then serve jobs — one at a time over
/// HTTP/1.1 keep-alive, concurrently as streams over HTTP/2 — taking queued
/// requests first and otherwise waiting in the idle list.
async fn connection(worker: Rc<Worker>, first: Job) {
    let mailbox = Rc::new(Mailbox::default());
    let mut job = Some(first);
    let mut sender: Option<conn::Sender> = None;
    loop {
        let j = match job.take() {
            Some(j) => j,
            None => mailbox.take().await,
        };
        let mut ok = true;
        match &sender {
            Some(conn::Sender::H2(s)) if !s.is_closed() => {
                // Multiplex: run the stream on its own task and take the
                // next job at once.
                let mut own = Some(conn::Sender::H2(s.clone()));
                let w = worker.clone();
                tokio::task::spawn_local(async move {
                    execute(&w, &mut own, j).await;
                    w.in_flight.set(w.in_flight.get() - 1);
                });
            }
            _ => {
                ok = execute(&worker, &mut sender, j).await;
                worker.in_flight.set(worker.in_flight.get() - 1);
            }
        }
        if !ok {
            sender = None;
        }
        if worker.shared.stop.load(Ordering::Relaxed) {
            break;
        }
        match worker.next_pending() {
            Some(j) => {
                worker.in_flight.set(worker.in_flight.get() + 1);
                job = Some(j);
            }
            None => worker.idle.borrow_mut().push(mailbox.clone()),
        }
    }
    worker.open.set(worker.open.get() - 1);
}

/// Sends one request on `sender` (connecting first when needed) and
/// records the sample. Returns false when the connection must be dropped.
async fn execute(worker: &Worker, sender: &mut Option<conn::Sender>, job: Job) -> bool {
    let shared = &*worker.shared;
    let warmup = job.intended.saturating_duration_since(shared.start) < shared.warmup;
    let mut sample = Sample {
        endpoint: job.endpoint,
        status: None,
        error: None,
        duration: Duration::ZERO,
        service_time: Duration::ZERO,
        waiting: Duration::ZERO,
        connecting: None,
        tls_handshaking: None,
        schedule_lag: Duration::ZERO,
        blocked: Duration::ZERO,
        sending: Duration::ZERO,
        receiving: Duration::ZERO,
        bytes_sent: 0,
        bytes_received: 0,
        at: job.intended.saturating_duration_since(shared.start),
        warmup,
    };
    let sent_at = Instant::now();
    sample.schedule_lag = sent_at.saturating_duration_since(job.intended);
    sample.blocked = sent_at.saturating_duration_since(job.dispatched);
    let token = worker.begin(job.endpoint, job.intended, sent_at);
    // A pooled connection the server closed meanwhile is replaced, as any
    // HTTP client does, and the time to reconnect is part of the request.
    let stale = match sender {
        Some(conn::Sender::H1(s)) => s.is_closed() || s.ready().await.is_err(),
        Some(conn::Sender::H2(s)) => s.is_closed() || s.ready().await.is_err(),
        Some(conn::Sender::Raw(c)) => c.is_stale(),
        None => true,
    };
    if stale {
        if let Err(kind) = reconnect(worker, sender, &mut sample).await {
            return fail(worker, token, sample, kind, job.intended, sent_at);
        }
    }
    // One timer for the whole exchange (head and body), and no boxed
    // future: both are per-request costs.
    let deadline = tokio::time::Instant::from_std(sent_at + shared.timeout);
    // The request's phases (sending, waiting, receiving) as k6 splits
    // them: write begins here, after any connection setup.
    let mut began = Instant::now();
    let mut first_byte_at = None;
    let result = match job.request {
        Outgoing::Wire(wire) => {
            let exchange = async {
                let mut retried = false;
                loop {
                    let Some(conn::Sender::Raw(c)) = sender.as_mut() else {
                        return Err(ErrorKind::Other);
                    };
                    c.set_capture(job.capture);
                    match c.exchange(&wire.bytes, wire.head).await {
                        Ok(r) => {
                            sample.sending = r.written_at.saturating_duration_since(began);
                            sample.waiting =
                                r.first_byte_at.saturating_duration_since(r.written_at);
                            first_byte_at = Some(r.first_byte_at);
                            sample.status = Some(r.status);
                            if let Some(got) = c.take_captured() {
                                produced(worker, job.endpoint, job.session, r.status, &got);
                            }
                            return Ok(());
                        }
                        // The server had closed the kept connection and
                        // never saw the request: once more on a new one.
                        Err(f) if f.retry && !retried => {
                            retried = true;
                            reconnect(worker, sender, &mut sample).await?;
                            began = Instant::now();
                        }
                        Err(f) => return Err(f.kind),
                    }
                }
            };
            let result = tokio::time::timeout_at(deadline, exchange).await;
            // What was read, whether it completed, failed or timed out.
            if let Some(conn::Sender::Raw(c)) = sender {
                sample.bytes_received = c.received();
            }
            result.unwrap_or(Err(ErrorKind::Timeout))
        }
        Outgoing::Hyper(request) => {
            let Some(s) = sender.as_mut() else {
                return fail(
                    worker,
                    token,
                    sample,
                    ErrorKind::Other,
                    job.intended,
                    sent_at,
                );
            };
            let about = (job.endpoint, job.session, job.capture);
            let (result, first) =
                hyper_exchange(worker, s, *request, about, began, deadline, &mut sample).await;
            first_byte_at = first;
            result
        }
    };
    if let Err(kind) = result {
        return fail(worker, token, sample, kind, job.intended, sent_at);
    }
    let end = Instant::now();
    sample.bytes_sent = job.bytes_sent;
    sample.duration = end.saturating_duration_since(job.intended);
    sample.service_time = end - sent_at;
    sample.receiving = first_byte_at.map_or(Duration::ZERO, |f| end.saturating_duration_since(f));
    worker.finish(token);
    worker.record(&sample);
    true
}

/// One request through hyper (`--http2`), for [`execute`]: its status,
/// phases and bytes into `sample`; `about` is the job's endpoint, session
/// and whether to capture. Returns the outcome and when the response head
/// (its first byte, as hyper tells) arrived.
async fn hyper_exchange(
    worker: &Worker,
    s: &mut conn::Sender,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
    about: (usize, Option<u64>, bool),
    began: Instant,
    deadline: tokio::time::Instant,
    sample: &mut Sample,
) -> (Result<(), ErrorKind>, Option<Instant>) {
    let (endpoint, session, capture) = about;
    let mut received: u64 = 0;
    let mut first_byte_at = None;
    let exchange = async {
        // hyper says nothing of when the request was written: its first
        // poll queues the request on the connection (what k6's Go client
        // calls "wrote request"), so sending ends there.
        let (response, written_at) = match s {
            conn::Sender::H1(s) => first_poll_at(s.send_request(request)).await,
            conn::Sender::H2(s) => first_poll_at(s.send_request(request)).await,
            conn::Sender::Raw(_) => return Ok(Err(ErrorKind::Other)),
        };
        let response = response?;
        let head_at = Instant::now();
        sample.sending = written_at.saturating_duration_since(began);
        sample.waiting = head_at.saturating_duration_since(written_at);
        first_byte_at = Some(head_at);
        let status = response.status().as_u16();
        sample.status = Some(status);
        received = 12
            + response
                .headers()
                .iter()
                .map(|(n, v)| n.as_str().len() as u64 + v.len() as u64 + 4)
                .sum::<u64>()
            + 2;
        let mut got = capture.then(|| h1::Captured {
            body: Vec::new(),
            headers: response
                .headers()
                .iter()
                .filter(|(n, _)| produced::keeps_header(n.as_str()))
                .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
                .collect(),
        });
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            if let Some(d) = frame?.data_ref() {
                received += d.len() as u64;
                if let Some(g) = got.as_mut() {
                    let room = produced::MAX_CAPTURE.saturating_sub(g.body.len());
                    g.body.extend_from_slice(&d[..d.len().min(room)]);
                }
            }
        }
        if let Some(got) = got {
            produced(worker, endpoint, session, status, &got);
        }
        Ok::<_, hyper::Error>(Ok(()))
    };
    let result = tokio::time::timeout_at(deadline, exchange).await;
    sample.bytes_received = received;
    let result = match result {
        Ok(Ok(r)) => r,
        Err(_) => Err(ErrorKind::Timeout),
        Ok(Err(e)) => Err(classify::classify_hyper(&e)),
    };
    (result, first_byte_at)
}

/// Awaits `fut`, also returning when its first poll returned.
async fn first_poll_at<F: std::future::Future>(fut: F) -> (F::Output, Instant) {
    let mut fut = std::pin::pin!(fut);
    let mut first: Option<Instant> = None;
    let out = std::future::poll_fn(|cx| {
        let r = fut.as_mut().poll(cx);
        first.get_or_insert_with(Instant::now);
        r
    })
    .await;
    (out, first.unwrap_or_else(Instant::now))
}

/// Keeps the values a successful response of a producing endpoint
/// carries, for the later requests that use them.
fn produced(
    worker: &Worker,
    endpoint: usize,
    session: Option<u64>,
    status: u16,
    got: &h1::Captured,
) {
    if (200..300).contains(&status) {
        worker
            .produced
            .borrow_mut()
            .capture(endpoint, session, &got.body, &got.headers);
    }
}

/// Opens a new connection in place of `sender`, within the request's
/// timeout; the time it takes is the sample's `connecting`.
async fn reconnect(
    worker: &Worker,
    sender: &mut Option<conn::Sender>,
    sample: &mut Sample,
) -> Result<(), ErrorKind> {
    *sender = None;
    let t = Instant::now();
    match tokio::time::timeout(worker.shared.timeout, worker.connector.connect()).await {
        Ok(Ok((s, handshaking))) => {
            *sender = Some(s);
            let tls = handshaking.unwrap_or_default();
            sample.connecting =
                Some(sample.connecting.unwrap_or_default() + t.elapsed().saturating_sub(tls));
            if let Some(h) = handshaking {
                sample.tls_handshaking = Some(sample.tls_handshaking.unwrap_or_default() + h);
            }
            Ok(())
        }
        Ok(Err(kind)) => Err(kind),
        Err(_) => Err(ErrorKind::ConnectTimeout),
    }
}

fn fail(
    worker: &Worker,
    token: u64,
    mut sample: Sample,
    kind: ErrorKind,
    intended: Instant,
    sent_at: Instant,
) -> bool {
    worker.connector.failed(kind);
    let end = Instant::now();
    sample.error = Some(kind);
    sample.status = None;
    sample.duration = end.saturating_duration_since(intended);
    sample.service_time = end - sent_at;
    worker.finish(token);
    worker.record(&sample);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{RunOptions, RunPlan};
    use crate::schedule::Shard;

    #[test]
    fn the_wait_queue_holds_a_tenth_of_a_second_at_high_rates() {
        // 64 connections: 4,096 at most rates, as before.
        assert_eq!(max_pending(64, 5_000.0), 4_096);
        assert_eq!(max_pending(64, 0.0), 4_096);
        assert_eq!(max_pending(64, f64::NAN), 4_096);
        // 118,000 req/s: 4,096 would be 35 ms; a tenth of a second instead.
        assert_eq!(max_pending(64, 118_000.0), 11_800);
        assert_eq!(max_pending(1, 100.0), MIN_PENDING);
        // The rate's share is capped; many connections keep theirs.
        assert_eq!(max_pending(1, 1e9), MAX_PENDING);
        assert_eq!(max_pending(5_000, 1e9), 320_000);
        assert_eq!(max_pending(usize::MAX, 1.0), usize::MAX);
    }

    /// A model of 120 users, each reading a few endpoints in half a second
    /// (a session of 5 requests), one after another over 60 s.
    fn model() -> Arc<TrafficModel> {
        let mut b = crate::model::ModelBuilder::new(Default::default());
        for i in 0..600i64 {
            let path = ["/a", "/b/1", "/b/2", "/c"][(i % 4) as usize];
            b.observe(&crate::ingest::Exchange {
                started_ns: i * 100_000_000,
                method: "GET".into(),
                scheme: "http".into(),
                authority: "h".into(),
                target: path.into(),
                response: Some(crate::ingest::Response {
                    status: 200,
                    ..Default::default()
                }),
                client: Some(format!("c{}", i / 5)),
                ..Default::default()
            });
        }
        Arc::new(b.finish())
    }

    /// Every (shard, thread) part of the schedule, together, is the
    /// unsharded one-thread schedule: the same offsets, endpoints chosen,
    /// sessions and request numbers, each once.
    #[test]
    fn shards_and_threads_partition_the_global_schedule() {
        let m = model();
        for sessions in [false, true] {
            let plan = |shard: Shard| {
                let o = RunOptions {
                    seed: Some(9),
                    sessions,
                    shard,
                    duration: Some(Duration::from_secs(20)),
                    ..RunOptions::default()
                };
                let p = RunPlan::build(&o, m.clone()).unwrap();
                let mut exec = p.exec.clone();
                exec.schedule = p.steps[0].spec.clone();
                exec.seed = p.seed;
                exec
            };
            let key = |e: Event| (e.3, e.0.to_bits(), e.1, e.2);
            let whole: Vec<_> = events(&m, &plan(Shard::WHOLE), 0, 1).map(key).collect();
            assert!(whole.len() > 100, "{}", whole.len());
            let mut parts = Vec::new();
            for k in 1..=3 {
                let p = plan(Shard::parse(&format!("{k}/3")).unwrap());
                for t in 0..2 {
                    let mine: Vec<_> = events(&m, &p, t, 2).map(key).collect();
                    assert!(!mine.is_empty(), "shard {k}/3 thread {t}");
                    if sessions {
                        // Whole sessions: none is split between parts.
                        for e in &mine {
                            let s = e.3.unwrap();
                            assert!(Shard::parse(&format!("{k}/3")).unwrap().takes(s));
                        }
                    }
                    parts.extend(mine);
                }
            }
            parts.sort();
            let mut whole_sorted = whole.clone();
            whole_sorted.sort();
            assert_eq!(parts, whole_sorted, "sessions {sessions}");
        }
    }
}
