//! A model file against its generated schedule or a replay capture.
//!
//! A model keeps no request times, only what it learned from them: the
//! requests per rate-curve bin, the inter-arrival histogram, the endpoint
//! counts, and for sessions the requests per session and the think-time
//! histogram. The other side is compared with those at the model's own
//! resolution: the gaps in the histogram's bins (a KS distance between
//! binned distributions, at most the exact one), rates over windows of
//! whole curve bins. There is no split-half (no requests to halve); in its
//! place, each distance is judged against its sampling noise: the 95th
//! percentile of the distance between the model and samples of the
//! compared size drawn from the model itself (40 of them): the limit is
//! 1.5 × that, as against a split-half, or the floor when larger. Figures a model cannot give (Wasserstein, pool
//! coverage, session seconds) are left out.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};

use super::{
    mix, session_shapes, total_variation, within, Check, Figures, Pool, RateError, Report,
    SessionFigures, Traffic,
};
use crate::model::{LogHist, TrafficModel};

/// KS distance between two histograms' distributions, at their bin edges.
pub fn hist_ks(a: &LogHist, b: &LogHist) -> f64 {
    if a.count == 0 || b.count == 0 {
        return if a.count == b.count { 0.0 } else { 1.0 };
    }
    let (na, nb) = (a.count as f64, b.count as f64);
    let mut bins: Vec<i32> = a.bins.iter().chain(b.bins.iter()).map(|(i, _)| i).collect();
    bins.sort_unstable();
    bins.dedup();
    let (ma, mb): (HashMap<i32, u64>, HashMap<i32, u64>) =
        (a.bins.iter().collect(), b.bins.iter().collect());
    let (mut ca, mut cb) = (a.zeros as f64, b.zeros as f64);
    let mut d = (ca / na - cb / nb).abs();
    for i in bins {
        ca += *ma.get(&i).unwrap_or(&0) as f64;
        cb += *mb.get(&i).unwrap_or(&0) as f64;
        d = d.max((ca / na - cb / nb).abs());
    }
    d
}

fn hist_of(values: impl IntoIterator<Item = f64>) -> LogHist {
    let mut h = LogHist::new();
    values.into_iter().for_each(|v| h.record(v));
    h
}

/// Gaps of times in seconds, to the nanosecond: a difference of two
/// offsets (300.123 − 300.122) is a hair off the 1 ms the model's
/// histogram put in its bin from whole nanoseconds, and a hair can cross a
/// bin edge.
fn ns_hist(gaps: impl IntoIterator<Item = f64>) -> LogHist {
    hist_of(gaps.into_iter().map(|g| (g * 1e9).round() / 1e9))
}

/// Σ |other − model| over Σ model of the counts in windows of `width`
/// seconds, when a window is a whole number of the model's bins; NaN when
/// it is not (the model cannot say).
fn rate_error(model: &TrafficModel, other: &Traffic, width: f64) -> f64 {
    let a = &model.arrival;
    let per = width / a.bin_s;
    if a.bins.is_empty() || per < 1.0 - 1e-9 || (per - per.round()).abs() > 1e-6 {
        return f64::NAN;
    }
    let per = per.round() as usize;
    let recorded: Vec<f64> = a
        .bins
        .chunks(per)
        .map(|c| c.iter().sum::<u64>() as f64)
        .collect();
    let mut got = vec![0.0; recorded.len()];
    let end = a.bins.len() as f64 * a.bin_s;
    for t in other.times.iter().filter(|t| **t < end) {
        let k = ((t / width) as usize).min(got.len() - 1);
        got[k] += 1.0;
    }
    let total: f64 = recorded.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    recorded
        .iter()
        .zip(&got)
        .map(|(r, g)| (r - g).abs())
        .sum::<f64>()
        / total
}

/// Samples per noise estimate.
const NOISE_ROUNDS: usize = 40;
/// Values drawn per sample at most; the noise of larger samples is
/// scaled down by √(drawn / n).
const NOISE_MAX_N: usize = 50_000;

/// The 95th percentile of `distance(sample)` over samples of `n` drawn
/// by `draw`.
fn noise_p95<R: Rng>(rng: &mut R, n: usize, mut draw: impl FnMut(&mut R, usize) -> f64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let m = n.min(NOISE_MAX_N);
    let mut d: Vec<f64> = (0..NOISE_ROUNDS).map(|_| draw(rng, m)).collect();
    d.sort_by(f64::total_cmp);
    d[(NOISE_ROUNDS * 95).div_ceil(100) - 1] * (m as f64 / n as f64).sqrt()
}

/// Sampling noise of a histogram's KS distance at `n` values.
fn hist_noise<R: Rng>(rng: &mut R, h: &LogHist, n: usize) -> f64 {
    if h.count == 0 {
        return 0.0;
    }
    noise_p95(rng, n, |rng, m| {
        hist_ks(h, &hist_of((0..m).map(|_| h.sample(rng))))
    })
}

/// Sampling noise of the endpoint mix's total variation at `n` requests.
pub(super) fn mix_noise<R: Rng>(rng: &mut R, weights: &HashMap<u32, u64>, n: usize) -> f64 {
    let total: u64 = weights.values().sum();
    if total == 0 {
        return 0.0;
    }
    let mut cum: Vec<(u64, u32)> = Vec::with_capacity(weights.len());
    let mut acc = 0;
    let mut keys: Vec<_> = weights.iter().collect();
    keys.sort();
    for (k, w) in keys {
        acc += w;
        cum.push((acc, *k));
    }
    noise_p95(rng, n, |rng, m| {
        let mut got: HashMap<u32, u64> = HashMap::new();
        for _ in 0..m {
            let x = rng.random_range(0..total);
            let i = cum.partition_point(|c| c.0 <= x);
            *got.entry(cum[i].1).or_insert(0) += 1;
        }
        total_variation(weights, &got)
    })
}

/// Compares `other` (normalised) with what `model` recorded.
pub fn compare_model(model: &TrafficModel, other: &Traffic) -> Report {
    let duration = model.arrival.duration_s();
    let other_in = other.subset(|i| other.times[i] <= duration * (1.0 + 1e-9));
    let recorded_mix: HashMap<u32, u64> = model
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32, e.count))
        .collect();
    let sessions = (!other_in.sessions.is_empty()).then(|| {
        let (lengths, _, thinks) = session_shapes(&other_in);
        SessionFigures {
            sessions: lengths.len(),
            recorded_sessions: model.sessions.sessions as usize,
            length_ks: hist_ks(&model.sessions.length, &hist_of(lengths)),
            duration_ks: f64::NAN,
            think_ks: hist_ks(&model.sessions.think_time_s, &ns_hist(thinks)),
        }
    });
    let requests = model.arrival.requests;
    let f = Figures {
        mix_tv: total_variation(&recorded_mix, &mix(&other_in)),
        gap_ks: hist_ks(&model.arrival.inter_arrival_s, &ns_hist(other_in.gaps())),
        gap_wasserstein: f64::NAN,
        rate_error: RateError {
            w1: rate_error(model, &other_in, 1.0),
            w10: rate_error(model, &other_in, 10.0),
        },
        count_ratio: if requests == 0 {
            0.0
        } else {
            within(other, duration) as f64 / requests as f64
        },
        pool: Pool {
            novel_share: f64::NAN,
            top10_share: f64::NAN,
            recorded_top10_share: f64::NAN,
        },
        sessions,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed_f1de);
    let n = other_in.times.len();
    let mut checks = Vec::new();
    let mut check = |name, value: f64, noise: Option<f64>, floor: f64| {
        if value.is_finite() {
            // As against a split-half: 1.5 × the noise, or the floor.
            let limit = (1.5 * noise.unwrap_or(0.0)).max(floor);
            checks.push(Check {
                name,
                value,
                split_half: None,
                noise,
                limit,
                pass: value <= limit,
            });
        }
    };
    let a = &model.arrival;
    check(
        "mix_tv",
        f.mix_tv,
        Some(mix_noise(&mut rng, &recorded_mix, n)),
        0.02,
    );
    let gaps = n.saturating_sub(1);
    let gap_noise = hist_noise(&mut rng, &a.inter_arrival_s, gaps);
    check("gap_ks", f.gap_ks, Some(gap_noise), 0.05);
    check("rate_error_1s", f.rate_error.w1, None, 0.05);
    check("rate_error_10s", f.rate_error.w10, None, 0.05);
    check("count_ratio_error", (f.count_ratio - 1.0).abs(), None, 0.05);
    if let Some(s) = f
        .sessions
        .filter(|s| s.sessions >= 5 && s.recorded_sessions >= 5)
    {
        let ss = &model.sessions;
        let length_noise = hist_noise(&mut rng, &ss.length, s.sessions);
        check("session_length_ks", s.length_ks, Some(length_noise), 0.05);
        let thinks = n.saturating_sub(s.sessions);
        let think_noise = hist_noise(&mut rng, &ss.think_time_s, thinks);
        check("think_time_ks", s.think_ks, Some(think_noise), 0.05);
    }
    let pass = checks.iter().all(|c| c.pass);
    Report {
        recorded_requests: requests as usize,
        recorded_duration_s: duration,
        other_requests: within(other, duration),
        figures: f,
        split_half: None,
        checks,
        pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binned_ks_of_histograms() {
        let a = hist_of([0.001, 0.001, 0.010, 1.0]);
        assert_eq!(hist_ks(&a, &a), 0.0);
        // Half the mass moved from 1 ms to 1 s: the CDFs differ by ½
        // between them.
        let b = hist_of([1.0, 1.0, 0.010, 1.0]);
        assert!((hist_ks(&a, &b) - 0.5).abs() < 1e-12);
        // Zeros have a bin of their own, first.
        let z = hist_of([0.0, 0.0, 1.0, 1.0]);
        let o = hist_of([1.0, 1.0, 1.0, 1.0]);
        assert!((hist_ks(&z, &o) - 0.5).abs() < 1e-12);
        assert_eq!(hist_ks(&LogHist::new(), &o), 1.0);
    }
}
