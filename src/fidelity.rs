//! How close generated or replayed traffic is to a recording, beside the
//! recording's own split-half noise (`replay fidelity`).
//!
//! Both sides are [`Traffic`]: request offsets (seconds from the first),
//! endpoint numbers and a hash of each request target (path and query).
//! [`compare`] computes each figure between the recording and the other
//! side, and the same figure between two halves of the recording (its
//! noise floor): what no replay can be expected to beat.
//!
//! - `mix_tv`: total variation between the endpoint mixes (½ Σ |p − q|);
//!   halves: the first and second half in time.
//! - `gap_ks`, `gap_wasserstein`: two-sample Kolmogorov–Smirnov distance
//!   between the inter-arrival gaps, and the Wasserstein-1 distance over
//!   the recorded mean gap; halves in time.
//! - `rate_error` (1 s and 10 s windows): Σ |other − recorded| over Σ
//!   recorded of the per-window counts over the recorded duration;
//!   halves: two random halves of the requests, each counted twice.
//! - `count_ratio`: requests within the recorded duration over the
//!   recorded ones; halves: one random half over the other.
//! - `pool`: share of the other side's targets never recorded, and share
//!   that are one of the 10 most frequent recorded targets (beside the
//!   recording's own); halves in time (second against first).
//! - `sessions` (when both sides have them: a recording's users split at
//!   the model's learned idle timeout, `run --sessions`' schedule, a
//!   replay capture's users): KS distances between the requests per
//!   session, the sessions' lengths in seconds (first request to last) and
//!   the think times (gaps within a session); halves: odd against even
//!   sessions. Judged when each half has 5 sessions or more.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};

mod model;
pub use model::{compare_model, hist_ks};
use serde::Serialize;

/// One side of the comparison.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    /// Seconds from the first request, increasing.
    pub times: Vec<f64>,
    /// Endpoint number of each request.
    pub endpoints: Vec<u32>,
    /// A hash of each request's target (path and query).
    pub targets: Vec<u64>,
    /// The session of each request, or empty when unknown.
    pub sessions: Vec<u64>,
}

impl Traffic {
    /// Sorts by time and makes times relative to the first.
    pub fn normalise(&mut self) {
        let mut idx: Vec<usize> = (0..self.times.len()).collect();
        idx.sort_by(|a, b| self.times[*a].total_cmp(&self.times[*b]));
        let t0 = idx.first().map(|i| self.times[*i]).unwrap_or(0.0);
        self.times = idx.iter().map(|i| self.times[*i] - t0).collect();
        self.endpoints = idx.iter().map(|i| self.endpoints[*i]).collect();
        self.targets = idx.iter().map(|i| self.targets[*i]).collect();
        if !self.sessions.is_empty() {
            self.sessions = idx.iter().map(|i| self.sessions[*i]).collect();
        }
    }

    pub(crate) fn subset(&self, keep: impl Fn(usize) -> bool) -> Traffic {
        let mut t = Traffic::default();
        for i in (0..self.times.len()).filter(|i| keep(*i)) {
            t.times.push(self.times[i]);
            t.endpoints.push(self.endpoints[i]);
            t.targets.push(self.targets[i]);
            if let Some(s) = self.sessions.get(i) {
                t.sessions.push(*s);
            }
        }
        t
    }

    /// Gaps between consecutive requests, seconds.
    pub fn gaps(&self) -> Vec<f64> {
        self.times.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Per-window rate errors.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct RateError {
    #[serde(rename = "1s")]
    pub w1: f64,
    #[serde(rename = "10s")]
    pub w10: f64,
}

/// Parameter-pool coverage, over request targets.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Pool {
    /// Share of targets never recorded.
    pub novel_share: f64,
    /// Share of targets among the 10 most frequent recorded ones.
    pub top10_share: f64,
    /// The same share in the recording itself.
    pub recorded_top10_share: f64,
}

/// The figures of one comparison.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Figures {
    pub mix_tv: f64,
    pub gap_ks: f64,
    pub gap_wasserstein: f64,
    pub rate_error: RateError,
    pub count_ratio: f64,
    pub pool: Pool,
    /// When both sides have sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionFigures>,
}

/// How alike the two sides' sessions are.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct SessionFigures {
    /// Sessions of the other side (of the second half, for split-half).
    pub sessions: usize,
    /// Sessions of the recording (of the first half).
    pub recorded_sessions: usize,
    /// KS distance between requests per session.
    pub length_ks: f64,
    /// KS distance between sessions' lengths in seconds.
    pub duration_ks: f64,
    /// KS distance between think times (gaps within a session).
    pub think_ks: f64,
}

/// Requests per session, seconds per session and the think times of the
/// sessions of `t` (time-ordered).
pub fn session_shapes(t: &Traffic) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    // Session → (requests, first, last).
    let mut by: HashMap<u64, (u64, f64, f64)> = HashMap::new();
    let mut thinks = Vec::new();
    for (time, s) in t.times.iter().zip(&t.sessions) {
        let e = by.entry(*s).or_insert((0, *time, *time));
        if e.0 > 0 {
            thinks.push(time - e.2);
        }
        e.0 += 1;
        e.2 = *time;
    }
    let mut rows: Vec<_> = by.into_values().collect();
    rows.sort_by(|a, b| a.1.total_cmp(&b.1));
    let lengths = rows.iter().map(|r| r.0 as f64).collect();
    let durations = rows.iter().map(|r| r.2 - r.1).collect();
    (lengths, durations, thinks)
}

fn session_figures(a: &Traffic, b: &Traffic) -> Option<SessionFigures> {
    if a.sessions.is_empty() || b.sessions.is_empty() {
        return None;
    }
    let (al, ad, at) = session_shapes(a);
    let (bl, bd, bt) = session_shapes(b);
    Some(SessionFigures {
        sessions: bl.len(),
        recorded_sessions: al.len(),
        length_ks: ks(&al, &bl),
        duration_ks: ks(&ad, &bd),
        think_ks: ks(&at, &bt),
    })
}

/// Session numbers of time-ordered requests: each user's requests split
/// where the user was idle longer than `idle_s` (`times_s` real times).
pub fn split_sessions(times_s: &[f64], users: &[u64], idle_s: f64) -> Vec<u64> {
    let mut last: HashMap<u64, (f64, u64)> = HashMap::new();
    let mut next = 0u64;
    times_s
        .iter()
        .zip(users)
        .map(|(t, u)| {
            let e = last.entry(*u).or_insert((*t, next));
            if e.1 == next || *t - e.0 > idle_s {
                e.1 = next;
                next += 1;
            }
            e.0 = *t;
            e.1
        })
        .collect()
}

/// One figure judged: its value, the noise floor and the limit.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Check {
    pub name: &'static str,
    pub value: f64,
    /// `None` against a model file (no requests to halve).
    pub split_half: Option<f64>,
    /// Against a model file: the 95th percentile of the distance between
    /// the model and samples of the compared size drawn from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    pub limit: f64,
    pub pass: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub recorded_requests: usize,
    pub recorded_duration_s: f64,
    pub other_requests: usize,
    #[serde(flatten)]
    pub figures: Figures,
    /// `None` against a model file.
    pub split_half: Option<Figures>,
    pub checks: Vec<Check>,
    pub pass: bool,
}

/// Total variation distance between two count vectors' distributions.
pub fn total_variation(a: &HashMap<u32, u64>, b: &HashMap<u32, u64>) -> f64 {
    let (na, nb) = (
        a.values().sum::<u64>() as f64,
        b.values().sum::<u64>() as f64,
    );
    if na == 0.0 || nb == 0.0 {
        return if na == nb { 0.0 } else { 1.0 };
    }
    let keys: std::collections::BTreeSet<u32> = a.keys().chain(b.keys()).copied().collect();
    keys.iter()
        .map(|k| {
            let p = *a.get(k).unwrap_or(&0) as f64 / na;
            let q = *b.get(k).unwrap_or(&0) as f64 / nb;
            (p - q).abs()
        })
        .sum::<f64>()
        / 2.0
}

pub(crate) fn mix(t: &Traffic) -> HashMap<u32, u64> {
    let mut m = HashMap::new();
    for e in &t.endpoints {
        *m.entry(*e).or_insert(0) += 1;
    }
    m
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Two-sample Kolmogorov–Smirnov distance: the largest gap between the
/// two empirical CDFs (ties stepped together).
pub fn ks(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 0.0 } else { 1.0 };
    }
    let (a, b) = (sorted(a.to_vec()), sorted(b.to_vec()));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

/// Wasserstein-1 distance between two samples: ∫ |F⁻¹ − G⁻¹| over
/// quantiles, the quantile functions as step functions.
pub fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (a, b) = (sorted(a.to_vec()), sorted(b.to_vec()));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut q, mut total) = (0, 0, 0.0f64, 0.0);
    while i < a.len() && j < b.len() {
        let next = ((i + 1) as f64 / na).min((j + 1) as f64 / nb);
        total += (next - q) * (a[i] - b[j]).abs();
        q = next;
        if (i + 1) as f64 / na <= q {
            i += 1;
        }
        if (j + 1) as f64 / nb <= q {
            j += 1;
        }
    }
    total
}

fn window_counts(times: &[f64], width: f64, windows: usize, weight: f64) -> Vec<f64> {
    let mut c = vec![0.0; windows];
    for t in times {
        let w = (t / width) as usize;
        if w < windows {
            c[w] += weight;
        }
    }
    c
}

/// Σ |other − recorded| over Σ recorded, per window of `width` seconds
/// over the recorded duration (the last window partial).
pub fn rate_error(recorded: &[f64], other: &[f64], duration: f64, width: f64) -> f64 {
    rate_error_weighted(recorded, 1.0, other, 1.0, duration, width)
}

fn rate_error_weighted(a: &[f64], wa: f64, b: &[f64], wb: f64, duration: f64, width: f64) -> f64 {
    let windows = (duration / width).floor() as usize + 1;
    let (ca, cb) = (
        window_counts(a, width, windows, wa),
        window_counts(b, width, windows, wb),
    );
    let total: f64 = ca.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    ca.iter().zip(&cb).map(|(x, y)| (x - y).abs()).sum::<f64>() / total
}

fn pool(recorded: &Traffic, other: &Traffic) -> Pool {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    for t in &recorded.targets {
        *counts.entry(*t).or_insert(0) += 1;
    }
    let mut top: Vec<(u64, u64)> = counts.iter().map(|(k, v)| (*k, *v)).collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let top: std::collections::HashSet<u64> = top.iter().take(10).map(|t| t.0).collect();
    let share = |ts: &[u64], f: &dyn Fn(&u64) -> bool| {
        if ts.is_empty() {
            0.0
        } else {
            ts.iter().filter(|t| f(t)).count() as f64 / ts.len() as f64
        }
    };
    Pool {
        novel_share: share(&other.targets, &|t| !counts.contains_key(t)),
        top10_share: share(&other.targets, &|t| top.contains(t)),
        recorded_top10_share: share(&recorded.targets, &|t| top.contains(t)),
    }
}

/// Requests within `duration` seconds (and a hair, for the last one).
pub(crate) fn within(t: &Traffic, duration: f64) -> usize {
    t.times.partition_point(|x| *x <= duration * (1.0 + 1e-9))
}

fn figures(recorded: &Traffic, other: &Traffic, duration: f64) -> Figures {
    let other_in = other.subset(|i| other.times[i] <= duration * (1.0 + 1e-9));
    let (rg, og) = (recorded.gaps(), other_in.gaps());
    let mean_gap = if rg.is_empty() {
        1.0
    } else {
        rg.iter().sum::<f64>() / rg.len() as f64
    };
    Figures {
        mix_tv: total_variation(&mix(recorded), &mix(&other_in)),
        gap_ks: ks(&rg, &og),
        gap_wasserstein: if mean_gap > 0.0 {
            wasserstein(&rg, &og) / mean_gap
        } else {
            0.0
        },
        rate_error: RateError {
            w1: rate_error(&recorded.times, &other_in.times, duration, 1.0),
            w10: rate_error(&recorded.times, &other_in.times, duration, 10.0),
        },
        count_ratio: if recorded.times.is_empty() {
            0.0
        } else {
            within(other, duration) as f64 / recorded.times.len() as f64
        },
        pool: pool(recorded, &other_in),
        sessions: session_figures(recorded, &other_in),
    }
}

/// The recording's noise floor: halves in time for distributions, two
/// random halves (seeded) for counts per window.
fn split_half(recorded: &Traffic, duration: f64) -> Figures {
    let mid = duration / 2.0;
    let first = recorded.subset(|i| recorded.times[i] < mid);
    let mut second = recorded.subset(|i| recorded.times[i] >= mid);
    second.times.iter_mut().for_each(|t| *t -= mid);
    let (fg, sg) = (first.gaps(), second.gaps());
    let mean_gap = {
        let g = recorded.gaps();
        if g.is_empty() {
            1.0
        } else {
            g.iter().sum::<f64>() / g.len() as f64
        }
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_f1de);
    let coin: Vec<bool> = (0..recorded.times.len()).map(|_| rng.random()).collect();
    let a = recorded.subset(|i| coin[i]);
    let b = recorded.subset(|i| !coin[i]);
    let windows = |w: f64| rate_error_weighted(&a.times, 2.0, &b.times, 2.0, duration, w);
    Figures {
        mix_tv: total_variation(&mix(&first), &mix(&second)),
        gap_ks: ks(&fg, &sg),
        gap_wasserstein: if mean_gap > 0.0 {
            wasserstein(&fg, &sg) / mean_gap
        } else {
            0.0
        },
        rate_error: RateError {
            w1: windows(1.0),
            w10: windows(10.0),
        },
        count_ratio: if b.times.is_empty() {
            0.0
        } else {
            a.times.len() as f64 / b.times.len() as f64
        },
        pool: pool(&first, &second),
        sessions: (!recorded.sessions.is_empty()).then(|| {
            let even = recorded.subset(|i| recorded.sessions[i] % 2 == 0);
            let odd = recorded.subset(|i| recorded.sessions[i] % 2 == 1);
            session_figures(&even, &odd).unwrap_or_default()
        }),
    }
}

/// Compares `other` (generated or replayed) with `recorded` over the
/// recorded duration. Both normalised ([`Traffic::normalise`]).
pub fn compare(recorded: &Traffic, other: &Traffic) -> Report {
    let duration = recorded.times.last().copied().unwrap_or(0.0);
    let f = figures(recorded, other, duration);
    let s = split_half(recorded, duration);
    let mut checks = Vec::new();
    // A generated mix is a sample of the recorded one: it cannot come
    // closer than drawing that many requests from it does. Where the
    // halves agree more (a page loaded twice: split-half 0), that noise
    // (its 95th percentile) decides the limit, 1.5 × it as against a
    // model file.
    let compared = within(other, duration);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_3a1c);
    let mix_noise = model::mix_noise(&mut rng, &mix(recorded), compared);
    let floor = |split: f64, min: f64| (1.5 * split).max(min);
    let mut check = |name, value: f64, split: f64, limit: f64, noise: Option<f64>| {
        checks.push(Check {
            name,
            value,
            split_half: Some(split),
            noise,
            limit,
            pass: value <= limit,
        })
    };
    check(
        "mix_tv",
        f.mix_tv,
        s.mix_tv,
        floor(s.mix_tv, 0.02).max(1.5 * mix_noise),
        Some(mix_noise),
    );
    check("gap_ks", f.gap_ks, s.gap_ks, floor(s.gap_ks, 0.05), None);
    check(
        "gap_wasserstein",
        f.gap_wasserstein,
        s.gap_wasserstein,
        floor(s.gap_wasserstein, 0.1),
        None,
    );
    check(
        "rate_error_1s",
        f.rate_error.w1,
        s.rate_error.w1,
        floor(s.rate_error.w1, 0.05),
        None,
    );
    check(
        "rate_error_10s",
        f.rate_error.w10,
        s.rate_error.w10,
        floor(s.rate_error.w10, 0.05),
        None,
    );
    check(
        "count_ratio_error",
        (f.count_ratio - 1.0).abs(),
        (s.count_ratio - 1.0).abs(),
        0.05,
        None,
    );
    check(
        "pool_novel_share",
        f.pool.novel_share,
        s.pool.novel_share,
        floor(s.pool.novel_share, 0.02),
        None,
    );
    // The share of the ten most frequent targets in n requests is a
    // binomial sample of the recorded share: within 1.96 σ of it 95% of
    // the time, which on a 40-request recording (σ 0.08 at a share of
    // one half) is wider than its split-half.
    let top = f.pool.recorded_top10_share;
    let n = compared.max(1) as f64;
    let top_noise = 1.96 * (top * (1.0 - top) / n).sqrt();
    let top_split = (s.pool.top10_share - s.pool.recorded_top10_share).abs();
    let top_value = (f.pool.top10_share - top).abs();
    let top_limit = floor(top_split, 0.05).max(1.5 * top_noise);
    check(
        "pool_top10_error",
        top_value,
        top_split,
        top_limit,
        Some(top_noise),
    );
    if let (Some(fs), Some(ss)) = (f.sessions, s.sessions) {
        // Too few sessions in a half for a KS distance to mean anything:
        // reported, not judged.
        if ss.sessions >= 5 && ss.recorded_sessions >= 5 {
            check(
                "session_length_ks",
                fs.length_ks,
                ss.length_ks,
                floor(ss.length_ks, 0.05),
                None,
            );
            check(
                "session_duration_ks",
                fs.duration_ks,
                ss.duration_ks,
                floor(ss.duration_ks, 0.05),
                None,
            );
            check(
                "think_time_ks",
                fs.think_ks,
                ss.think_ks,
                floor(ss.think_ks, 0.05),
                None,
            );
        }
    }
    let pass = checks.iter().all(|c| c.pass);
    Report {
        recorded_requests: recorded.times.len(),
        recorded_duration_s: duration,
        other_requests: within(other, duration),
        figures: f,
        split_half: Some(s),
        checks,
        pass,
    }
}
