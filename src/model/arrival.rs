//! The arrival process and client sessions, learned from request times.
//!
//! [`ArrivalFit`] takes requests one at a time, in about time order (a
//! bounded reorder window puts them in order), and keeps only binned
//! counts, a gap histogram and per-client state, never one record per
//! request, so its memory does not grow with the capture. It yields:
//!
//! - [`Arrival`]: capture start/end, the rate over time in bins with each
//!   bin's first-to-last span, the inter-arrival distribution
//!   ([`LogHist`], microseconds to hours), the [`GapChain`] (which gap
//!   follows which: bursts and idle stretches), all over a timeline whose
//!   idle gaps longer than `--max-gap` are compressed to it
//!   ([`CompressedGaps`]), so captures years apart and month-long HARs
//!   make one continuous recording;
//! - [`Sessions`]: per-client request sequences split at long idle gaps,
//!   with endpoint-to-endpoint transition counts, start/end counts, think
//!   times and session lengths.
//!
//! The schedule (`crate::schedule`) regenerates the recorded count in each
//! bin, inside the bin's recorded span, spaced by gaps the chain draws.

use std::collections::BTreeMap;

use super::hist::LogHist;

/// A gap longer than this between two requests of one client starts a new
/// session.
pub const SESSION_IDLE_SPLIT_S: f64 = 30.0 * 60.0;
/// At most this many rate bins (steady traffic).
const MAX_BINS: f64 = 240.0;
/// At most this many rate bins when narrower bins keep bursts apart
/// ([`rate_bin_s`]): 600 of 1 s over ten minutes add about 1 KB to a
/// gzipped model.
const MAX_BURST_BINS: f64 = 1200.0;
/// A gap at least this long between two requests starts a new burst (a
/// page load's requests are milliseconds apart, a think time seconds);
/// also the finest window `replay fidelity` judges the rate over.
const BURST_IDLE_S: f64 = 1.0;
/// `record --max-gap` when not given: longer idle gaps between consecutive
/// requests are compressed to this.
pub const DEFAULT_MAX_GAP_S: f64 = 300.0;

/// What gap compression did to the timeline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompressedGaps {
    /// The longest gap kept (`--max-gap`), seconds.
    pub max_gap_s: f64,
    /// Gaps between consecutive requests that were longer.
    pub gaps: u64,
    /// Time taken out of the timeline, seconds: Σ (gap − max_gap_s).
    pub removed_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Arrival {
    /// First request, Unix ns.
    pub start_ns: i64,
    /// Last request start, Unix ns.
    pub end_ns: i64,
    pub requests: u64,
    /// Width of a rate bin, seconds.
    pub bin_s: f64,
    /// Requests starting in each bin, from `start_ns`.
    pub bins: Vec<u64>,
    /// Gaps between consecutive request starts, seconds.
    pub inter_arrival_s: LogHist,
    /// Per bin: seconds from its first request to its last (0 for a bin
    /// of one request or none), on the compressed timeline. A page load's
    /// dozens of requests span a few hundred milliseconds of a 5 s bin;
    /// steady traffic spans nearly all of it. Empty in models written
    /// before the field (the schedule then assumes steady traffic).
    pub spans_s: Vec<f64>,
    /// Per bin: seconds from the bin's start to its first request (0 for
    /// a bin with none), in the same steps as the spans. A page load sits
    /// where it was recorded in its bin, not anywhere. Empty in models
    /// written before the field (the schedule then places each bin's
    /// requests at a random offset).
    pub starts_s: Vec<f64>,
    /// The recording's clock step, seconds: 0.001 when every request
    /// time was a whole millisecond (a HAR), 1e-6 for whole microseconds,
    /// 0 otherwise or unknown.
    pub tick_s: f64,
    /// Which gap follows which (burst and idle alternation). Empty in
    /// models written before it (the schedule then draws gaps
    /// independently).
    pub chain: GapChain,
    /// Idle gaps compressed out of the timeline (none: all zero). The bins
    /// and gaps above are over the compressed timeline; `start_ns` and
    /// `end_ns` are the real first and last request.
    pub compressed: CompressedGaps,
}

impl Arrival {
    /// Recorded duration in seconds (first to last request start, less
    /// the compressed idle time; at least one bin so a single request
    /// still has a rate).
    pub fn duration_s(&self) -> f64 {
        let d = span_s(self.start_ns, self.end_ns) - self.compressed.removed_s;
        if d > 0.0 {
            d
        } else {
            self.bin_s.max(1.0)
        }
    }

    /// Mean request rate over the recording, per second.
    pub fn mean_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.requests as f64 / self.duration_s()
        }
    }

    /// Coefficient of variation of inter-arrival gaps: 1 for Poisson
    /// arrivals, above 1 for bursty traffic.
    pub fn burstiness(&self) -> f64 {
        self.inter_arrival_s.cv()
    }

    /// Highest bin rate over the mean rate.
    pub fn peak_to_mean(&self) -> f64 {
        let peak = self.bins.iter().copied().max().unwrap_or(0) as f64;
        let mean = self.bins.iter().sum::<u64>() as f64 / self.bins.len().max(1) as f64;
        if mean > 0.0 {
            peak / mean
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sessions {
    /// Distinct clients (connection, IP or cookie, whatever the capture
    /// knew).
    pub clients: u64,
    pub sessions: u64,
    pub idle_split_s: f64,
    /// Sessions that started with each endpoint.
    pub starts: BTreeMap<usize, u64>,
    /// (from, to) → count of consecutive requests within a session.
    pub transitions: BTreeMap<(usize, usize), u64>,
    /// Sessions that ended with each endpoint.
    pub ends: BTreeMap<usize, u64>,
    /// Gaps between consecutive requests of a session, seconds.
    pub think_time_s: LogHist,
    /// Requests per session.
    pub length: LogHist,
    /// Which think time follows which within a session, by
    /// [`GapChain`] class: a page load's millisecond gaps, then a think
    /// time of seconds. Empty in models written before it.
    pub think_chain: GapChain,
    /// The sessions were learned from one client in this many, each
    /// counted as many times (1, or 0 in a default value: every client).
    pub client_sample: u64,
}

/// One request, as [`ArrivalFit`] takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Record {
    pub ts_ns: i64,
    /// The user's key ([`crate::model::client::Clients`]).
    pub client: u64,
    pub endpoint: u32,
}

/// Seconds from `from_ns` to `to_ns`, without overflow: timestamps come
/// from captures and model files, and two of them can be further apart
/// than `i64` nanoseconds can express.
pub fn span_s(from_ns: i64, to_ns: i64) -> f64 {
    // i64 when the difference fits (always, for plausible timestamps): the
    // same value as through i128, without the slow i128 to f64 conversion.
    match to_ns.checked_sub(from_ns) {
        Some(d) => d as f64 / 1e9,
        None => (i128::from(to_ns) - i128::from(from_ns)) as f64 / 1e9,
    }
}

/// A "nice" bin width (1, 2, 5 × 10^k seconds) of at least `min_s`.
fn nice_width(min_s: f64) -> f64 {
    if min_s <= 0.001 {
        return 0.001;
    }
    let exp = min_s.log10().floor();
    let base = 10f64.powf(exp);
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * base >= min_s * (1.0 - 1e-9) {
            return m * base;
        }
    }
    10.0 * base
}

/// The largest "nice" width (1, 2, 5 × 10^k seconds) of at most `max_s`
/// (1 ms at least).
fn nice_width_below(max_s: f64) -> f64 {
    let up = nice_width(max_s);
    if up <= max_s * (1.0 + 1e-9) {
        return up;
    }
    // The nice width below `up`: 10 → 5, 5 → 2, 2 → 1 (× 10^k).
    let exp = up.log10().floor();
    let (base, m) = (10f64.powf(exp), (up / 10f64.powf(exp)).round());
    let below = match m as u32 {
        5 => 2.0 * base,
        2 => base,
        _ => 0.5 * base,
    };
    below.max(0.001)
}

/// The rate bins' width, seconds, for `requests` over `duration_s`,
/// `bursts` of them starting after a gap of [`BURST_IDLE_S`] or more.
///
/// About 240 bins over the capture, but at least ~4 requests per bin on
/// average so the curve is a rate, not a copy of the timestamps. The
/// schedule places each bin's requests as one train from the bin's first
/// recorded request, so a bin that held two page loads puts the second
/// wherever the gap chain does: with four users browsing, 5 s bins held
/// 1.6 page loads each and the 1 s rate error was 0.55 against a limit of
/// 0.38 (docs/replay.md, "Fidelity"). So bins are also at most half the
/// mean time between burst starts (one start in two bins on average), down
/// to [`MAX_BURST_BINS`] over the capture. Traffic with few gaps of a
/// second (steady traffic of 5 requests a second and more) keeps its 240.
fn rate_bin_s(duration_s: f64, requests: f64, bursts: f64) -> f64 {
    if duration_s.is_nan() || duration_s <= 0.0 {
        return 1.0;
    }
    let least = 4.0 * duration_s / requests.max(1.0);
    let steady = nice_width((duration_s / MAX_BINS).max(least));
    let apart = nice_width_below(duration_s / bursts.max(1.0) / 2.0);
    let finest = nice_width((duration_s / MAX_BURST_BINS).max(least));
    steady.min(apart.max(finest))
}

/// `cumulative[i]` = recorded requests in bins before `i`; last = total.
pub fn cumulative(arrival: &Arrival) -> Vec<f64> {
    let mut cumulative = Vec::with_capacity(arrival.bins.len() + 1);
    let mut acc = 0.0;
    cumulative.push(0.0);
    for b in &arrival.bins {
        acc += *b as f64;
        cumulative.push(acc);
    }
    cumulative
}

/// Recorded requests before curve time `c` (seconds), the curve repeating
/// after the recorded duration: the inverse of the schedule's `curve_time`,
/// with the same bins (the last one partial).
pub fn curve_requests(arrival: &Arrival, cumulative: &[f64], c: f64) -> f64 {
    let total = *cumulative.last().unwrap_or(&0.0);
    let period = arrival.duration_s();
    if total <= 0.0 || period <= 0.0 || arrival.bins.is_empty() || c <= 0.0 {
        return c.max(0.0) * arrival.mean_rate();
    }
    let k = (c / period).floor();
    let r = c - k * period;
    let w = arrival.bin_s;
    let i = ((r / w) as usize).min(arrival.bins.len() - 1);
    let lo = i as f64 * w;
    let hi = ((i + 1) as f64 * w).min(period).max(lo);
    let frac = if hi > lo {
        ((r - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    k * total + cumulative[i] + frac * arrival.bins[i] as f64
}

/// Classes of the [`GapChain`]: class 0 holds gaps under [`CHAIN_LOW_S`]
/// (zero included), classes 1 to 14 are half decades from it (100 µs to
/// 316 µs, … , 316 s to 1000 s), class 15 is everything longer.
pub const CHAIN_CLASSES: usize = 16;
/// The upper edge of gap class 0, seconds.
pub const CHAIN_LOW_S: f64 = 1e-4;
/// [`LogHist`] bins per chain class (half a decade), and the histogram bin
/// where class 1 starts (10^(-80/20) = [`CHAIN_LOW_S`]).
const HIST_BINS_PER_CLASS: i32 = 10;
const CHAIN_LOW_BIN: i32 = -80;

/// Which gap follows which, by gap class: a first-order Markov chain over
/// log-spaced gap sizes. A page load is a run of millisecond gaps, then a
/// think time of seconds; steady traffic has rows that all look alike.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GapChain {
    /// `counts[from * CHAIN_CLASSES + to]`: consecutive gaps, the first in
    /// class `from`, the next in class `to`. Empty: not known.
    pub counts: Vec<u64>,
}

impl GapChain {
    /// The class of the [`LogHist`] bin `bin` (`None`: the zero bin).
    pub fn class_of_bin(bin: Option<i32>) -> usize {
        match bin {
            None => 0,
            Some(i) if i < CHAIN_LOW_BIN => 0,
            Some(i) => {
                (((i - CHAIN_LOW_BIN) / HIST_BINS_PER_CLASS) as usize + 1).min(CHAIN_CLASSES - 1)
            }
        }
    }

    /// The class of a gap in seconds (by its histogram bin, so a gap and
    /// the histogram's draws from its class always agree).
    pub fn class_of(gap_s: f64) -> usize {
        Self::class_of_bin(LogHist::bin_index(gap_s))
    }

    /// The lower edge of class `c`, seconds.
    pub fn class_low_s(c: usize) -> f64 {
        if c == 0 {
            0.0
        } else {
            CHAIN_LOW_S * 10f64.powf((c - 1) as f64 / 2.0)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| *c == 0)
    }
}

/// A bin's span is kept in steps of this fraction of the bin width
/// (0.5 ms of a 5 s bin).
pub const SPAN_STEPS: f64 = 10_000.0;

/// A span in [`SPAN_STEPS`] of `bin_s` (0 to 10 000).
pub fn span_steps(span_s: f64, bin_s: f64) -> u16 {
    (span_s / bin_s * SPAN_STEPS).round().clamp(0.0, SPAN_STEPS) as u16
}

/// The span, seconds, of `steps` [`SPAN_STEPS`] of `bin_s`.
pub fn span_from_steps(steps: u16, bin_s: f64) -> f64 {
    f64::from(steps) * bin_s / SPAN_STEPS
}

/// Requests held back to put them in time order. Captures hand them over
/// about in order (a pcap as each response completes, an access log as
/// each request ends, several files one after another); a request further
/// out of order than this many is taken at the time of the last one
/// placed (and counted in [`ArrivalFit::late`]). 16 bytes each: 4 MiB.
pub const REORDER_WINDOW: usize = 1 << 18;
/// At most this many fine bins; past it they widen tenfold. The rate
/// bins (1, 2 or 5 × 10^k s, and never narrower than a fine bin, a power
/// of ten) are whole multiples of them.
const FINE_CAP: u64 = 4800;

/// Requests per fine bin, and the first and last request's offset (ns).
#[derive(Debug, Clone, Copy, Default)]
struct FineBin {
    count: u64,
    first_ns: u64,
    last_ns: u64,
}

#[derive(Debug)]
struct FineBins {
    /// A power of ten, 1 ms or more.
    width_ns: u64,
    bins: Vec<FineBin>,
}

impl Default for FineBins {
    fn default() -> Self {
        FineBins {
            width_ns: 1_000_000,
            bins: Vec::new(),
        }
    }
}

impl FineBins {
    fn add(&mut self, off_ns: u64) {
        while off_ns / self.width_ns >= FINE_CAP {
            self.coarsen();
        }
        let i = (off_ns / self.width_ns) as usize;
        if i >= self.bins.len() {
            self.bins.resize(i + 1, FineBin::default());
        }
        let b = &mut self.bins[i];
        if b.count == 0 {
            (b.first_ns, b.last_ns) = (off_ns, off_ns);
        } else {
            b.first_ns = b.first_ns.min(off_ns);
            b.last_ns = b.last_ns.max(off_ns);
        }
        b.count += 1;
    }

    fn coarsen(&mut self) {
        self.width_ns = self.width_ns.saturating_mul(10);
        self.bins = self.bins.chunks(10).map(merge_fine).collect();
    }

    /// Counts, first-to-last spans (s) and first-request offsets (s) in
    /// `nbins` bins of `width_ns` (a multiple of ours).
    fn rebin(&self, width_ns: u64, nbins: usize) -> (Vec<u64>, Vec<f64>, Vec<f64>) {
        let r = (width_ns / self.width_ns).max(1) as usize;
        let mut out: Vec<FineBin> = self.bins.chunks(r).map(merge_fine).collect();
        // The last request sits at the recorded duration, so its fine bin
        // maps into the last rate bin; anything past it folds in too.
        out.resize(nbins.max(out.len()), FineBin::default());
        let tail = merge_fine(&out[nbins.max(1) - 1..]);
        out.truncate(nbins.max(1));
        *out.last_mut().expect("one bin at least") = tail;
        let spans = out
            .iter()
            .map(|b| (b.last_ns - b.first_ns) as f64 / 1e9)
            .collect();
        let starts = out
            .iter()
            .enumerate()
            .map(|(i, b)| match b.count {
                0 => 0.0,
                _ => b.first_ns.saturating_sub(i as u64 * width_ns) as f64 / 1e9,
            })
            .collect();
        (out.iter().map(|b| b.count).collect(), spans, starts)
    }
}

fn merge_fine(bins: &[FineBin]) -> FineBin {
    let mut m = FineBin::default();
    for b in bins.iter().filter(|b| b.count > 0) {
        if m.count == 0 {
            m = *b;
        } else {
            m.count += b.count;
            m.first_ns = m.first_ns.min(b.first_ns);
            m.last_ns = m.last_ns.max(b.last_ns);
        }
    }
    m
}

/// Counts of whole numbers (requests per session): the small ones a
/// session mostly has in a vector, so counting one is an increment, not a
/// histogram bin lookup; made a [`LogHist`] once, at the end (the same
/// histogram: its sums are of whole numbers).
#[derive(Debug, Clone, Default)]
struct Tally {
    small: Vec<u64>,
    large: LogHist,
}

/// Numbers below this are counted in [`Tally::small`] (32 KiB per
/// candidate timeout at most: a one-user HAR's single session of 70,000
/// requests grew nine vectors to 512 KiB each with 2^16).
const TALLY_SMALL: u32 = 1 << 12;

impl Tally {
    /// `n`, `w` times.
    fn add(&mut self, n: u32, w: u64) {
        if n >= TALLY_SMALL {
            return self.large.record_n(f64::from(n), w);
        }
        let i = n as usize;
        if i >= self.small.len() {
            self.small.resize(i + 1, 0);
        }
        self.small[i] += w;
    }

    fn hist(&self) -> LogHist {
        let mut h = LogHist::new();
        for (n, c) in self.small.iter().enumerate().filter(|(_, c)| **c > 0) {
            h.record_n(n as f64, *c);
        }
        h.merge(&self.large);
        h
    }
}

/// The idle timeouts a session split is learned among, seconds: from
/// half a minute to two hours, about log-spaced.
pub const IDLE_CANDIDATES_S: [f64; 9] = [
    30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];
const IDLE_K: usize = IDLE_CANDIDATES_S.len();

/// How many candidate timeouts a gap exceeds (0: within a session
/// whatever the timeout; [`IDLE_K`]: a new session whatever it is).
fn idle_class(gap_ns: i128) -> usize {
    IDLE_CANDIDATES_S
        .iter()
        .take_while(|t| gap_ns > (**t * 1e9) as i128)
        .count()
}

/// A client idle longer than this (the longest candidate timeout) has
/// ended its session whatever the timeout: [`SessionFit`] forgets it.
const FORGET_NS: i64 = 7_200_000_000_000;

/// How often (of the recording's time) [`SessionFit`] looks for clients
/// to forget.
const SWEEP_NS: i64 = 900_000_000_000;

/// Clients followed at once, and forgotten clients remembered, before
/// [`SessionFit`] samples clients. Under half what a hash table of 2^17
/// (2^19) buckets holds, 8.5 (8.9) MB: a table that has run out of room
/// to erased entries is rehashed in place while it is at most half full,
/// and only grows when it is fuller than that. (A sweep can add up to
/// `ACTIVE_CAP` remembered clients before the cap is looked at.)
const ACTIVE_CAP: usize = 50_000;
const GONE_CAP: usize = 175_000;

/// The sample never gets sparser than one client in 2^this (and its
/// weight stays a `u64`); far past any real recording's needs.
const MAX_LEVEL: u32 = 40;

/// One client's state: its last request and, per candidate timeout, the
/// requests of its session so far.
#[derive(Debug, Clone, Copy)]
struct ClientRun {
    ts_ns: i64,
    endpoint: u32,
    since: [u32; IDLE_K],
    /// The last gap's chain class and idle class (none yet: `u8::MAX`).
    prev: (u8, u8),
}

impl ClientRun {
    /// Its session ends here whatever the timeout (the recording ends,
    /// or the client is forgotten): counted `w` times by its last
    /// endpoint and, per candidate, by its length.
    fn end(&self, w: u64, ends: &mut BTreeMap<usize, u64>, length: &mut [Tally]) {
        *ends.entry(self.endpoint as usize).or_insert(0) += w;
        for (t, n) in length.iter_mut().zip(&self.since) {
            t.add(*n, w);
        }
    }
}

/// Sessions learned one request at a time, in time order, for every
/// candidate idle timeout at once: each gap within a client is kept by the
/// number of candidates it exceeds, so that once the gaps are all known
/// the timeout can be chosen ([`learn_idle_split`]) and the sessions it
/// makes read off without a second pass.
///
/// Memory is bounded whatever the number of clients (an access log of a
/// public site names millions): a client idle longer than every candidate
/// timeout has ended its session whatever the timeout, so it is counted
/// as ended and forgotten but for its last request's time, which tells
/// its absence when it comes back (the absences are what the timeout is
/// learned from). While fewer than [`ACTIVE_CAP`] clients are followed
/// at once and fewer than [`GONE_CAP`] remembered, the sessions are
/// exactly those of keeping every client. Past that, clients are sampled
/// by a hash of their key, one in 2, 4, …: those outside the sample are
/// no longer followed, and every figure of those in it counts as many
/// times as one in how many is kept (an unbiased estimate: the sample is
/// random in the clients, whichever way they behave).
#[derive(Debug)]
struct SessionFit {
    /// Clients followed, by key.
    active: rustc_hash::FxHashMap<u64, ClientRun>,
    /// Clients forgotten (idle longer than every candidate): key → their
    /// last request's time.
    gone: rustc_hash::FxHashMap<u64, i64>,
    /// Clients are followed when the top `level` bits of their mixed key
    /// are zero: one in 2^level, each counted 2^level times.
    level: u32,
    caps: (usize, usize),
    /// Idle longer than this, a client is forgotten ([`FORGET_NS`]).
    forget_ns: i64,
    next_sweep_ns: i64,
    /// Clients seen, and sessions started by a client's first request or
    /// its first back after being forgotten (each as counted: 2^level).
    clients: u64,
    admitted: u64,
    /// The first request of each session `admitted` counts, by endpoint.
    firsts: rustc_hash::FxHashMap<u32, u64>,
    /// Sessions that ended when a client was forgotten, by endpoint.
    ends: BTreeMap<usize, u64>,
    /// (from, to) → count, for gaps under every candidate.
    moves: rustc_hash::FxHashMap<(u32, u32), u64>,
    /// (from, to, class) → count, for gaps over some candidate.
    long: rustc_hash::FxHashMap<(u32, u32, usize), u64>,
    /// Gaps within a client, by class.
    think: Vec<LogHist>,
    /// Per candidate: requests per finished session.
    length: Vec<Tally>,
    /// Consecutive gaps' chain classes, by the larger idle class of the
    /// two (a pair with a session break in it is no pair of that session).
    chains: Vec<Vec<u64>>,
}

impl Default for SessionFit {
    fn default() -> Self {
        SessionFit::with_caps(ACTIVE_CAP, GONE_CAP)
    }
}

impl SessionFit {
    /// Sampling once `active` clients are followed at once or `gone`
    /// remembered.
    fn with_caps(active: usize, gone: usize) -> Self {
        SessionFit {
            active: Default::default(),
            gone: Default::default(),
            level: 0,
            caps: (active.max(2), gone.max(2)),
            forget_ns: FORGET_NS,
            next_sweep_ns: i64::MIN,
            clients: 0,
            admitted: 0,
            firsts: Default::default(),
            ends: BTreeMap::new(),
            moves: Default::default(),
            long: Default::default(),
            think: vec![LogHist::new(); IDLE_K + 1],
            length: vec![Tally::default(); IDLE_K],
            chains: vec![vec![0; CHAIN_CLASSES * CHAIN_CLASSES]; IDLE_K + 1],
        }
    }

    /// Whether the client `key` is in the sample at `level`.
    fn sampled(key: u64, level: u32) -> bool {
        level == 0 || crate::ingest::mix(key) >> (64 - level) == 0
    }

    fn push(&mut self, ts_ns: i64, client: u64, endpoint: u32) {
        if ts_ns >= self.next_sweep_ns {
            self.sweep(ts_ns);
        }
        let w = 1u64 << self.level;
        let Some(run) = self.active.get_mut(&client) else {
            return self.admit(ts_ns, client, endpoint);
        };
        let c = idle_class(i128::from(ts_ns) - i128::from(run.ts_ns));
        let gap = span_s(run.ts_ns, ts_ns);
        let bin = LogHist::bin_index(gap);
        self.think[c].record_in_n(gap, w, bin);
        let k = GapChain::class_of_bin(bin);
        let (p, pc) = run.prev;
        if p != u8::MAX {
            self.chains[c.max(usize::from(pc))][usize::from(p) * CHAIN_CLASSES + k] += w;
        }
        run.prev = (k as u8, c as u8);
        if c == 0 {
            *self.moves.entry((run.endpoint, endpoint)).or_insert(0) += w;
        } else {
            *self.long.entry((run.endpoint, endpoint, c)).or_insert(0) += w;
        }
        for (j, n) in run.since.iter_mut().enumerate() {
            if j < c {
                // Idle longer than candidate j: its session ends here.
                self.length[j].add(*n, w);
                *n = 1;
            } else {
                *n += 1;
            }
        }
        (run.ts_ns, run.endpoint) = (ts_ns, endpoint);
    }

    /// A client not followed: new, back after being forgotten, or outside
    /// the sample.
    fn admit(&mut self, ts_ns: i64, client: u64, endpoint: u32) {
        if !Self::sampled(client, self.level) {
            return;
        }
        let w = 1u64 << self.level;
        match self.gone.remove(&client) {
            // Back: its absence is a gap longer than every candidate.
            Some(last) => {
                let gap = span_s(last, ts_ns);
                self.think[IDLE_K].record_n(gap, w);
            }
            None => self.clients += w,
        }
        self.admitted += w;
        *self.firsts.entry(endpoint).or_insert(0) += w;
        self.active.insert(
            client,
            ClientRun {
                ts_ns,
                endpoint,
                since: [1; IDLE_K],
                prev: (u8::MAX, u8::MAX),
            },
        );
        if self.active.len() >= self.caps.0 {
            self.sweep(ts_ns);
            while self.active.len() > self.caps.0 / 2 && self.level < MAX_LEVEL {
                self.raise();
            }
        }
    }

    /// Forgets the clients idle longer than every candidate at `now_ns`:
    /// their sessions end, their last times are remembered.
    fn sweep(&mut self, now_ns: i64) {
        self.next_sweep_ns = now_ns.saturating_add(SWEEP_NS);
        let (w, forget_ns) = (1u64 << self.level, self.forget_ns);
        let (ends, length, gone) = (&mut self.ends, &mut self.length, &mut self.gone);
        self.active.retain(|key, run| {
            if now_ns.saturating_sub(run.ts_ns) <= forget_ns {
                return true;
            }
            run.end(w, ends, length);
            gone.insert(*key, run.ts_ns);
            false
        });
        while self.gone.len() >= self.caps.1 && self.level < MAX_LEVEL {
            self.raise();
        }
    }

    /// Halves the sample: the clients outside it are no longer followed
    /// nor remembered, and those in it count twice as much from now on.
    fn raise(&mut self) {
        self.level += 1;
        let level = self.level;
        self.active.retain(|k, _| Self::sampled(*k, level));
        self.gone.retain(|k, _| Self::sampled(*k, level));
    }

    fn finish(mut self) -> Sessions {
        let w = 1u64 << self.level;
        let mut ends = std::mem::take(&mut self.ends);
        for run in self.active.values() {
            run.end(w, &mut ends, &mut self.length);
        }
        let mut gaps = LogHist::new();
        self.think.iter().for_each(|h| gaps.merge(h));
        let j = learn_idle_split(&gaps);
        let mut s = Sessions {
            clients: self.clients,
            sessions: self.admitted,
            idle_split_s: IDLE_CANDIDATES_S[j],
            starts: self.firsts.iter().map(|(e, c)| (*e as usize, *c)).collect(),
            transitions: self
                .moves
                .iter()
                .map(|((a, b), c)| ((*a as usize, *b as usize), *c))
                .collect(),
            ends,
            think_time_s: LogHist::new(),
            length: self.length[j].hist(),
            think_chain: GapChain::default(),
            client_sample: w,
        };
        let mut chain = vec![0u64; CHAIN_CLASSES * CHAIN_CLASSES];
        for c in &self.chains[..=j] {
            chain.iter_mut().zip(c).for_each(|(a, b)| *a += b);
        }
        if chain.iter().any(|c| *c > 0) {
            s.think_chain.counts = chain;
        }
        for ((a, b, class), n) in &self.long {
            let (a, b) = (*a as usize, *b as usize);
            if *class > j {
                *s.ends.entry(a).or_insert(0) += n;
                *s.starts.entry(b).or_insert(0) += n;
                s.sessions += n;
            } else {
                *s.transitions.entry((a, b)).or_insert(0) += n;
            }
        }
        for h in &self.think[..=j] {
            s.think_time_s.merge(h);
        }
        s
    }
}

/// The idle timeout that splits a client's requests into sessions, learned
/// from the gaps between its requests (an index into
/// [`IDLE_CANDIDATES_S`]).
///
/// Gaps of a second and more within a client have a mode of think times
/// (seconds to minutes) and, when the recording shows clients coming
/// back, a mode of absences (tens of minutes to days). The timeout is the
/// candidate in the valley between them: the density there (smoothed over
/// a third of a decade) at most a third of both modes' peaks, the lowest
/// such valley, and within a flat run of equally low ones, its middle.
/// Without a valley (no absences recorded, or nothing but absences) it is
/// 30 minutes, web analytics' usual session timeout.
pub fn learn_idle_split(gaps: &LogHist) -> usize {
    let default = IDLE_CANDIDATES_S
        .iter()
        .position(|t| *t == SESSION_IDLE_SPLIT_S)
        .expect("the default is a candidate");
    // Per-bin counts from 1 s (bin 0) up.
    let n = gaps
        .bins
        .iter()
        .map(|(i, _)| i + 1)
        .max()
        .unwrap_or(0)
        .max(0) as usize;
    let mut d = vec![0.0f64; n];
    for (i, c) in gaps.bins.iter() {
        if i >= 0 {
            d[i as usize] += c as f64;
        }
    }
    const HALF: usize = 3;
    let smooth: Vec<f64> = (0..n)
        .map(|i| {
            d[i.saturating_sub(HALF)..(i + HALF + 1).min(n)]
                .iter()
                .sum::<f64>()
        })
        .collect();
    let peak = |r: std::ops::Range<usize>| smooth[r].iter().copied().fold(0.0, f64::max);
    let scores: Vec<Option<f64>> = IDLE_CANDIDATES_S
        .iter()
        .map(|t| {
            let b = LogHist::bin_index(*t)? as usize;
            if b + 1 >= n {
                return None;
            }
            let low = peak(0..b).min(peak(b + 1..n));
            let v = smooth[b];
            (low > 0.0 && 3.0 * v <= low).then(|| v / low)
        })
        .collect();
    let Some(best) = scores.iter().flatten().copied().reduce(f64::min) else {
        return default;
    };
    // The flat run of best candidates that holds the first of them.
    let first = scores
        .iter()
        .position(|s| *s == Some(best))
        .unwrap_or(default);
    let last = (first..IDLE_K)
        .take_while(|j| scores[*j] == Some(best))
        .last()
        .unwrap_or(first);
    (first + last).div_ceil(2)
}

impl Sessions {
    /// Renumbers the endpoints (counts of endpoints that become one add up).
    pub fn remap_endpoints(&mut self, f: impl Fn(usize) -> usize) {
        let remap = |m: &BTreeMap<usize, u64>| {
            let mut out = BTreeMap::new();
            for (e, c) in m {
                *out.entry(f(*e)).or_insert(0) += c;
            }
            out
        };
        self.starts = remap(&self.starts);
        self.ends = remap(&self.ends);
        let mut t = BTreeMap::new();
        for ((a, b), c) in &self.transitions {
            *t.entry((f(*a), f(*b))).or_insert(0) += c;
        }
        self.transitions = t;
    }
}

/// The arrival process and sessions, learned in one pass over requests in
/// about time order, in memory bounded by the reorder window, the fine
/// bins and the session fit's caps, whatever the numbers of requests and
/// clients.
#[derive(Debug)]
pub struct ArrivalFit {
    max_gap_s: Option<f64>,
    window: Window,
    /// First request placed (real time), and the last one.
    start_ns: Option<i64>,
    last_ns: i64,
    /// Time compressed out so far, ns, and the gaps that were.
    shift_ns: i128,
    compressed: u64,
    prev_off_ns: u64,
    requests: u64,
    fine: FineBins,
    gaps: LogHist,
    chain: Vec<u64>,
    prev_class: Option<usize>,
    sessions: SessionFit,
    late: u64,
    /// Every request time so far a whole millisecond, a whole microsecond.
    whole_ms: bool,
    whole_us: bool,
}

impl ArrivalFit {
    /// Gaps longer than `max_gap_s` (when given) are compressed to it.
    pub fn new(max_gap_s: Option<f64>) -> Self {
        ArrivalFit {
            max_gap_s,
            window: Default::default(),
            start_ns: None,
            last_ns: 0,
            shift_ns: 0,
            compressed: 0,
            prev_off_ns: 0,
            requests: 0,
            fine: FineBins::default(),
            gaps: LogHist::new(),
            chain: vec![0; CHAIN_CLASSES * CHAIN_CLASSES],
            prev_class: None,
            sessions: SessionFit::default(),
            late: 0,
            whole_ms: true,
            whole_us: true,
        }
    }

    /// One request: its start (Unix ns), client and endpoint numbers.
    pub fn push(&mut self, r: Record) {
        self.window.push(r);
        if self.window.len() > REORDER_WINDOW {
            if let Some(first) = self.window.pop() {
                self.place(first);
            }
        }
    }

    /// Requests that came further out of order than the reorder window
    /// and were taken at the time of the request placed before them.
    pub fn late(&self) -> u64 {
        self.late
    }

    fn place(&mut self, r: Record) {
        let mut t = r.ts_ns;
        self.whole_us &= t % 1_000 == 0;
        self.whole_ms &= t % 1_000_000 == 0;
        let start = *self.start_ns.get_or_insert(t);
        if self.requests == 0 {
            self.last_ns = t;
        } else if t < self.last_ns {
            self.late += 1;
            t = self.last_ns;
        }
        // Sessions from the real times (a client back after a compressed
        // year starts a new session).
        self.sessions.push(t, r.client, r.endpoint);
        if let Some(max) = self.max_gap_s {
            let (gap, max_ns) = (
                i128::from(t) - i128::from(self.last_ns),
                (max * 1e9) as i128,
            );
            if gap > max_ns {
                self.shift_ns += gap - max_ns;
                self.compressed += 1;
            }
        }
        self.last_ns = t;
        // At least the start: the shift never exceeds the time since it.
        let off_ns = (i128::from(t) - self.shift_ns - i128::from(start)).max(0) as u64;
        if self.requests > 0 {
            let gap = (off_ns - self.prev_off_ns) as f64 / 1e9;
            let bin = LogHist::bin_index(gap);
            self.gaps.record_in(gap, bin);
            let c = GapChain::class_of_bin(bin);
            if let Some(p) = self.prev_class {
                self.chain[p * CHAIN_CLASSES + c] += 1;
            }
            self.prev_class = Some(c);
        }
        self.prev_off_ns = off_ns;
        self.requests += 1;
        self.fine.add(off_ns);
    }

    /// The arrival process and the sessions (endpoint numbers as pushed).
    pub fn finish(mut self) -> (Arrival, Sessions) {
        while let Some(r) = self.window.pop() {
            self.place(r);
        }
        let sessions = std::mem::take(&mut self.sessions).finish();
        let Some(start_ns) = self.start_ns else {
            let empty = Arrival {
                bin_s: 1.0,
                ..Default::default()
            };
            return (empty, sessions);
        };
        let end_ns = self.last_ns;
        let compressed = match self.max_gap_s {
            Some(max_gap_s) if self.compressed > 0 => CompressedGaps {
                max_gap_s,
                gaps: self.compressed,
                removed_s: self.shift_ns as f64 / 1e9,
            },
            // Nothing compressed reads (and round-trips) as no compression.
            _ => CompressedGaps::default(),
        };
        let n = self.requests as f64;
        let duration_ns = self.prev_off_ns;
        let duration = duration_ns as f64 / 1e9;
        // Burst starts: the first request, and each after an idle gap.
        let idle_from = LogHist::bin_index(BURST_IDLE_S);
        let idle = self.gaps.bins.iter().filter(|(i, _)| Some(*i) >= idle_from);
        let bursts = 1.0 + idle.map(|(_, c)| c as f64).sum::<f64>();
        let bin_s = rate_bin_s(duration, n, bursts);
        let bin_ns = ((bin_s * 1e9).round() as u64).max(self.fine.width_ns);
        let nbins = (duration_ns / bin_ns) as usize + 1;
        let (bins, spans_s, starts_s) = self.fine.rebin(bin_ns, nbins);
        let bin_s = bin_ns as f64 / 1e9;
        // As the model file stores them, so a model run straight from a
        // capture is the one its file holds.
        let steps = |v: Vec<f64>| -> Vec<f64> {
            v.into_iter()
                .map(|s| span_from_steps(span_steps(s, bin_s), bin_s))
                .collect()
        };
        let (spans_s, starts_s) = (steps(spans_s), steps(starts_s));
        let chain = GapChain {
            // As the model file keeps it: no pair of gaps, no chain.
            counts: if self.chain.iter().any(|c| *c > 0) {
                self.chain
            } else {
                Vec::new()
            },
        };
        let arrival = Arrival {
            start_ns,
            end_ns,
            requests: self.requests,
            bin_s,
            bins,
            inter_arrival_s: self.gaps,
            spans_s,
            starts_s,
            tick_s: match (self.whole_ms, self.whole_us) {
                (true, _) => 1e-3,
                (_, true) => 1e-6,
                _ => 0.0,
            },
            chain,
            compressed,
        };
        (arrival, sessions)
    }
}

/// The arrival process of `records` (any order), over a timeline whose
/// gaps longer than `max_gap_s` (when given) are compressed to it.
pub fn arrival(records: &[Record], max_gap_s: Option<f64>) -> Arrival {
    fit(records, max_gap_s).0
}

/// The sessions of `records` (any order).
pub fn sessions(records: &[Record]) -> Sessions {
    fit(records, None).1
}

fn fit(records: &[Record], max_gap_s: Option<f64>) -> (Arrival, Sessions) {
    let mut f = ArrivalFit::new(max_gap_s);
    records.iter().for_each(|r| f.push(*r));
    f.finish()
}
/// The reorder window: requests not placed yet, the earliest out first.
/// Captures come about in time order: a request joins a sorted queue,
/// at its end or a few places before (a log's lines within one second
/// are in random order once spread); only one that belongs further back
/// goes to a heap. A heap of every request cost a sift through a 4 MB
/// window per request.
#[derive(Debug, Default)]
struct Window {
    /// In order.
    queue: std::collections::VecDeque<Record>,
    early: std::collections::BinaryHeap<std::cmp::Reverse<Record>>,
}

/// How far from its end a request is put into the queue.
const QUEUE_REACH: usize = 256;

impl Window {
    fn len(&self) -> usize {
        self.queue.len() + self.early.len()
    }

    fn push(&mut self, r: Record) {
        let n = self.queue.len();
        if self.queue.back().is_none_or(|last| r >= *last) {
            self.queue.push_back(r);
            return;
        }
        // The first request after `r` within reach of the end (the
        // queue is sorted, and its last request is after `r`).
        let (mut lo, mut hi) = (n.saturating_sub(QUEUE_REACH), n - 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.queue[mid] > r {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        if lo > 0 && lo + QUEUE_REACH > n {
            self.queue.insert(lo, r);
        } else {
            self.early.push(std::cmp::Reverse(r));
        }
    }

    /// The earliest request.
    fn pop(&mut self) -> Option<Record> {
        match (self.queue.front(), self.early.peek()) {
            (Some(q), Some(e)) if e.0 < *q => self.early.pop().map(|e| e.0),
            (Some(_), _) => self.queue.pop_front(),
            (None, _) => self.early.pop().map(|e| e.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_is_the_histogram_of_its_numbers() {
        let mut t = Tally::default();
        let mut h = LogHist::new();
        for n in [1u32, 7, 7, 300, 1, 4_095, 4_096, 65_536, 4_000_000, 2] {
            t.add(n, 1);
            h.record(f64::from(n));
        }
        assert_eq!(t.hist(), h);
        assert_eq!(Tally::default().hist(), LogHist::new());
    }

    fn rec(ts_ms: i64, client: u64, endpoint: u32) -> Record {
        Record {
            ts_ns: ts_ms * 1_000_000,
            client,
            endpoint,
        }
    }

    /// Regression: a HAR with entries in 1700 and 2250 made `record` panic
    /// with "attempt to subtract with overflow" (the span exceeds i64 ns).
    #[test]
    fn timestamps_further_apart_than_i64_ns_do_not_overflow() {
        let rs = vec![
            Record {
                ts_ns: i64::MIN,
                client: 0,
                endpoint: 0,
            },
            Record {
                ts_ns: i64::MAX,
                client: 0,
                endpoint: 0,
            },
        ];
        let a = arrival(&rs, None);
        assert!(a.duration_s() > 1.8e10, "{}", a.duration_s());
        assert_eq!(a.bins.iter().sum::<u64>(), 2);
        let s = sessions(&rs);
        assert_eq!(s.sessions, 2);
    }

    #[test]
    fn arrival_from_unsorted_records() {
        let rs: Vec<Record> = (0..100).rev().map(|i| rec(i * 100, 0, 0)).collect();
        let a = arrival(&rs, None);
        assert_eq!(a.requests, 100);
        assert!((a.duration_s() - 9.9).abs() < 1e-9);
        assert!((a.mean_rate() - 100.0 / 9.9).abs() < 1e-6);
        assert_eq!(a.bins.iter().sum::<u64>(), 100);
        assert_eq!(a.inter_arrival_s.count, 99);
        assert!(a.burstiness() < 0.01, "metronome");
        assert!(a.bins.len() <= 241);
    }

    #[test]
    fn bin_width_keeps_a_rate_not_timestamps() {
        let rs: Vec<Record> = (0..10).map(|i| rec(i * 1000, 0, 0)).collect();
        let a = arrival(&rs, None);
        // 10 requests over 9 s: ~4 per bin → 5 s bins.
        assert_eq!(a.bin_s, 5.0);
        assert_eq!(a.bins, vec![5, 5]);
    }

    #[test]
    fn nice_widths_above_and_below() {
        for (x, up, below) in [
            (0.45, 0.5, 0.2),
            (1.97, 2.0, 1.0),
            (3.0, 5.0, 2.0),
            (5.0, 5.0, 5.0),
            (7.0, 10.0, 5.0),
            (10.0, 10.0, 10.0),
            (0.0001, 0.001, 0.001),
        ] {
            assert_eq!(nice_width(x), up, "{x}");
            assert_eq!(nice_width_below(x), below, "{x}");
        }
    }

    /// Ten minutes of steady traffic keep 5 s bins (240 at most); page
    /// loads get bins of half the time between them, within the 4 requests
    /// a bin and the 1200 bins.
    #[test]
    fn bursts_narrow_the_rate_bins() {
        // 20 req/s, no gap of a second: 600 / 240 = 2.5 → 5 s.
        assert_eq!(rate_bin_s(600.0, 12_000.0, 1.0), 5.0);
        // Four users: 152 page loads, 3.9 s apart → 1 s; two: 7 s → 2 s.
        assert_eq!(rate_bin_s(600.0, 9_000.0, 152.0), 1.0);
        assert_eq!(rate_bin_s(600.0, 3_600.0, 84.0), 2.0);
        // One user: 12 s apart → 5 s, as steady.
        assert_eq!(rate_bin_s(600.0, 2_000.0, 48.0), 5.0);
        // An hour of page loads a second apart: 1200 bins → 5 s.
        assert_eq!(rate_bin_s(3_600.0, 1e6, 3_600.0), 5.0);
        // Sparse requests: still 4 a bin on average.
        assert_eq!(rate_bin_s(600.0, 600.0, 300.0), 5.0);
        assert_eq!(rate_bin_s(0.0, 1.0, 1.0), 1.0);
    }

    /// Page loads of 20 requests 5 ms apart, from three users taking turns
    /// every 3 s for five minutes, each in a bin of its own: 1 s bins where
    /// steady traffic of as many requests gets 2 s.
    #[test]
    fn page_loads_get_a_bin_each() {
        let rs: Vec<Record> = (0..100)
            .flat_map(|p| (0..20).map(move |k| rec(p * 3_000 + k * 5, (p % 3) as u64, 0)))
            .collect();
        let a = arrival(&rs, None);
        assert_eq!(a.bin_s, 1.0);
        assert_eq!(a.bins.len(), 298);
        assert_eq!(a.bins.iter().filter(|n| **n == 20).count(), 100);
        let steady: Vec<Record> = (0..2_000).map(|i| rec(i * 148, 0, 0)).collect();
        assert_eq!(arrival(&steady, None).bin_s, 2.0);
    }

    #[test]
    fn sessions_split_and_transitions() {
        let rs = vec![
            rec(0, 1, 0),
            rec(1000, 1, 1),
            rec(2000, 1, 1),
            rec(500, 2, 0),
            // Client 1 comes back an hour later: a new session.
            rec(3_600_000, 1, 2),
        ];
        let _ = arrival(&rs, None);
        let s = sessions(&rs);
        assert_eq!(s.clients, 2);
        assert_eq!(s.sessions, 3);
        assert_eq!(s.transitions[&(0, 1)], 1);
        assert_eq!(s.transitions[&(1, 1)], 1);
        assert_eq!(s.starts[&0], 2);
        assert_eq!(s.starts[&2], 1);
        assert_eq!(s.ends.values().sum::<u64>(), 3);
        assert_eq!(s.think_time_s.count, 2);
        assert_eq!(s.length.count, 3);
    }

    /// Clients that browse (think times of seconds to a minute or two)
    /// and come back after an absence: `absent_s(k)` is the k-th absence.
    fn visits(
        clients: u32,
        visits: u32,
        per_visit: u32,
        absent_s: impl Fn(u32) -> i64,
    ) -> Vec<Record> {
        let mut out = Vec::new();
        for c in 0..clients {
            let mut t_ms = i64::from(c) * 7_000;
            for v in 0..visits {
                for k in 0..per_visit {
                    // Think times 1-95 s, spread over the range.
                    t_ms += 1_000 + i64::from((k * 37 + v * 11 + c * 5) % 95) * 1_000;
                    out.push(rec(t_ms, u64::from(c), k % 3));
                }
                t_ms += absent_s(v) * 1000;
            }
        }
        out
    }

    /// Clients who come and go over days: visits of a geometric number
    /// of requests (mean 4) `think_s` apart on average, absences of 3 to
    /// 30 hours, first visits spread over `days`; endpoints 0-4, the first
    /// of a visit more often 0. In time order.
    fn comings_and_goings(clients: u64, days: i64, think_s: f64, seed: u64) -> Vec<Record> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut out = Vec::new();
        for c in 0..clients {
            // Keys as Clients makes them: hashes, not small numbers.
            let key = crate::ingest::mix(c ^ 0x5eed);
            let mut t_ms = rng.random_range(0..days * 86_400_000);
            for _ in 0..rng.random_range(1..=3) {
                let mut e = if rng.random_bool(0.6) {
                    0
                } else {
                    rng.random_range(1..5)
                };
                loop {
                    out.push(rec(t_ms, key, e));
                    if rng.random_bool(0.25) {
                        break;
                    }
                    t_ms += (1_000.0 + rng.random::<f64>() * 2.0 * think_s * 1_000.0) as i64;
                    e = rng.random_range(0..5);
                }
                t_ms += rng.random_range(3 * 3_600_000..30 * 3_600_000);
            }
        }
        out.sort_unstable();
        out
    }

    /// The sessions, the most clients followed and remembered at once,
    /// and the largest the two tables grew (in entries they could hold).
    fn fit(rs: &[Record], mut f: SessionFit) -> (Sessions, usize, usize, usize) {
        let (mut active, mut gone, mut room) = (0, 0, 0);
        for r in rs {
            f.push(r.ts_ns, r.client, r.endpoint);
            (active, gone) = (active.max(f.active.len()), gone.max(f.gone.len()));
            room = room.max(f.active.capacity() + f.gone.capacity());
        }
        (f.finish(), active, gone, room)
    }

    /// Forgetting clients idle longer than every candidate timeout, and
    /// remembering when they left, changes no figure of the sessions.
    #[test]
    fn forgetting_idle_clients_changes_nothing() {
        let rs = comings_and_goings(400, 6, 60.0, 1);
        let keep = SessionFit {
            forget_ns: i64::MAX,
            ..SessionFit::default()
        };
        let (all, most, ..) = fit(&rs, keep);
        let (forgot, most_followed, remembered, _) = fit(&rs, SessionFit::default());
        assert_eq!(forgot, all);
        assert_eq!(all.clients, 400);
        assert!(all.sessions > 600, "{}", all.sessions);
        assert_eq!(all.client_sample, 1);
        // It did forget, and remember: fewer followed at once.
        assert_eq!(most, 400);
        assert!(most_followed < 200, "{most_followed}");
        assert!(remembered > 100, "{remembered}");
    }

    /// Past its caps, a fit follows a sample of the clients: its tables
    /// stay within the caps, and its figures estimate the exact ones.
    #[test]
    fn too_many_clients_are_sampled_in_bounded_memory() {
        let rs = comings_and_goings(40_000, 3, 20.0, 2);
        let (exact, ..) = fit(&rs, SessionFit::with_caps(usize::MAX, usize::MAX));
        let (est, active, gone, room) = fit(&rs, SessionFit::with_caps(512, 2_048));
        assert!(active <= 512 && gone < 2_048, "{active} {gone}");
        // Erased entries did not make the tables grow past twice the caps
        // and a power of two (hash tables are sized so, 7/8 full at most).
        assert!(room <= (4_096 + 1_024) * 7 / 4, "{room}");
        assert!(est.client_sample >= 4, "{}", est.client_sample);
        let near = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b.abs();
        let figures = [
            ("clients", est.clients as f64, exact.clients as f64),
            ("sessions", est.sessions as f64, exact.sessions as f64),
            ("length mean", est.length.mean(), exact.length.mean()),
            (
                "think mean",
                est.think_time_s.mean(),
                exact.think_time_s.mean(),
            ),
            (
                "transitions",
                est.transitions.values().sum::<u64>() as f64,
                exact.transitions.values().sum::<u64>() as f64,
            ),
        ];
        for (name, e, x) in figures {
            assert!(near(e, x, 0.1), "{name}: estimated {e}, exact {x}");
        }
        assert_eq!(est.idle_split_s, exact.idle_split_s);
        // Where sessions start: endpoint 0 two thirds of the time.
        let share = |s: &Sessions| s.starts[&0] as f64 / s.starts.values().sum::<u64>() as f64;
        assert!(
            (share(&est) - share(&exact)).abs() < 0.05,
            "{} {}",
            share(&est),
            share(&exact)
        );
    }

    #[test]
    fn the_idle_timeout_is_learned_between_think_times_and_absences() {
        // Absences of 20-60 min: the split falls between 95 s and 20 min.
        let rs = visits(3, 5, 20, |v| 1200 + i64::from(v) * 600);
        let s = sessions(&rs);
        assert!(
            (120.0..=900.0).contains(&s.idle_split_s),
            "{}",
            s.idle_split_s
        );
        assert_eq!(s.clients, 3);
        assert_eq!(s.sessions, 15);
        assert_eq!(s.length.count, 15);
        assert_eq!((s.length.min, s.length.max), (20.0, 20.0));
        assert_eq!(s.think_time_s.count, 15 * 19);
        assert!(s.think_time_s.max < 96.0, "{}", s.think_time_s.max);
        assert_eq!(s.starts.values().sum::<u64>(), 15);
        assert_eq!(s.ends.values().sum::<u64>(), 15);
        assert_eq!(s.transitions.values().sum::<u64>(), 15 * 19);
        // Pairs of consecutive think times within a session: 18 a session.
        assert_eq!(s.think_chain.counts.iter().sum::<u64>(), 15 * 18);

        // Absences of three hours and more: split between them and the
        // think times, the same sessions.
        let rs = visits(2, 4, 30, |v| 3 * 3600 + i64::from(v) * 3600);
        let s = sessions(&rs);
        assert!(
            (120.0..=7200.0).contains(&s.idle_split_s),
            "{}",
            s.idle_split_s
        );
        assert_eq!(s.sessions, 8);
        assert_eq!((s.length.min, s.length.max), (30.0, 30.0));
    }

    #[test]
    fn without_absences_the_idle_timeout_is_half_an_hour() {
        // Think times only: no valley, the default; one session a client.
        let rs = visits(4, 1, 50, |_| 0);
        let s = sessions(&rs);
        assert_eq!(s.idle_split_s, SESSION_IDLE_SPLIT_S);
        assert_eq!(s.sessions, 4);
        assert_eq!(s.think_time_s.count, 4 * 49);
        // Nothing but gaps of a second: no valley either.
        let rs: Vec<Record> = (0..100).map(|i| rec(i * 1000, 0, 0)).collect();
        assert_eq!(sessions(&rs).idle_split_s, SESSION_IDLE_SPLIT_S);
        assert_eq!(learn_idle_split(&LogHist::new()), 6);
    }

    /// The fit keeps no record per request: requests out of order within
    /// the reorder window give the model sorted ones give, with each bin's
    /// span and the gap chain.
    #[test]
    fn out_of_order_requests_fit_as_sorted_ones_with_spans_and_chain() {
        // Bursts of 5 requests 2 ms apart every 10 s, for 100 s.
        let sorted: Vec<Record> = (0..10)
            .flat_map(|b| (0..5).map(move |k| rec(b * 10_000 + k * 2, 0, 0)))
            .collect();
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        shuffled.swap(3, 40);
        let a = arrival(&sorted, None);
        assert_eq!(arrival(&shuffled, None), a);
        // 50 requests over 90 s: 10 s bins (4 requests a bin at least),
        // a burst in each.
        assert_eq!(a.bin_s, 10.0);
        assert_eq!(a.bins, vec![5; 10]);
        assert_eq!(a.bins.len(), a.spans_s.len());
        for (n, span) in a.bins.iter().zip(&a.spans_s) {
            let want = if *n == 5 { 0.008 } else { 0.0 };
            assert!((span - want).abs() < 1e-9, "{n} {span}");
        }
        let c = GapChain::class_of(0.002);
        let idle = GapChain::class_of(9.992);
        let at = |f: usize, t: usize| a.chain.counts[f * CHAIN_CLASSES + t];
        assert_eq!(
            at(c, c),
            30,
            "3 short gaps follow a short one in each burst"
        );
        assert_eq!(at(c, idle), 9);
        assert_eq!(at(idle, c), 9);
        assert_eq!(a.chain.counts.iter().sum::<u64>(), 48);
    }

    #[test]
    fn gaps_over_the_maximum_are_compressed() {
        // 10 requests 1 s apart, a year idle, 10 more 1 s apart.
        let year_ms = 365 * 24 * 3_600_000i64;
        let rs: Vec<Record> = (0..10)
            .map(|i| rec(i * 1000, 0, 0))
            .chain((0..10).map(|i| rec(year_ms + i * 1000, 0, 0)))
            .collect();
        let a = arrival(&rs, Some(300.0));
        assert_eq!(a.compressed.gaps, 1);
        let removed = year_ms as f64 / 1e3 - 9.0 - 300.0;
        assert!((a.compressed.removed_s - removed).abs() < 1e-6);
        assert!((a.duration_s() - (9.0 + 300.0 + 9.0)).abs() < 1e-6);
        assert!((a.mean_rate() - 20.0 / 318.0).abs() < 1e-9);
        assert_eq!(a.end_ns, (year_ms + 9000) * 1_000_000, "the real end");
        assert!(a.inter_arrival_s.max <= 300.0 + 1e-9);
        assert_eq!(a.bins.iter().sum::<u64>(), 20);
    }

    /// The window gives requests back in order whatever order they came
    /// in, as a heap of them all would.
    #[test]
    fn window_pops_the_earliest() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for jitter in [0, 3, 50, 10_000] {
            let mut w = Window::default();
            let mut heap = std::collections::BinaryHeap::new();
            for i in 0..5000i64 {
                let r = rec(
                    i * 2 + rng.random_range(-jitter..=jitter),
                    rng.random_range(0..3),
                    1,
                );
                w.push(r);
                heap.push(std::cmp::Reverse(r));
                if rng.random_bool(0.4) {
                    assert_eq!(w.pop(), heap.pop().map(|r| r.0));
                }
                assert_eq!(w.len(), heap.len());
            }
            while let Some(r) = heap.pop() {
                assert_eq!(w.pop(), Some(r.0));
            }
            assert_eq!(w.pop(), None);
        }
    }
}
