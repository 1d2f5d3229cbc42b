//! Recorded arrivals: the recorded count in each bin of the rate curve,
//! placed inside the bin's recorded span, spaced by gaps the gap chain
//! draws (a Cox process locked to the curve).
//!
//! Per bin of the curve (repeating past its end): the bin's recorded
//! count times the rate factor, rounded with the remainder carried to the
//! next bin, so every stretch of the curve gets its recorded count (not
//! one within √n of it). The gaps between them come from the
//! [`GapChain`]: from the class of the last gap, the next class as
//! recorded, then a gap of that class from the recorded histogram. The
//! drawn gaps are then fitted to the span ([`fit_gaps`]): when the two
//! are far apart, mostly in the longest gaps, which keeps a burst's
//! millisecond spacing while the idle stretches absorb the difference;
//! the train starts where the bin's first request was recorded (at a
//! uniform offset in models without the starts). (Drawing only
//! classes that fit in what is left of the span, tried first, skewed the
//! gaps towards short ones: gap KS 0.15 on API mixes.)

use rand::Rng;

use crate::model::arrival::{GapChain, CHAIN_CLASSES};
use crate::model::{Arrival, LogHist};

/// The power a train of `gaps` gaps is fitted to its span with
/// ([`fit_gaps`]), from `ratio`, the span over the drawn gaps' sum:
/// 1 + 2 (|ln ratio| − 2/√gaps), at least 1. A ratio within the
/// sampling noise of a sum of that many independent gaps (2/√n: twice
/// an exponential sum's relative deviation) is a time change, every gap
/// scaled alike: steady traffic, whose 100 gaps in a bin add up to its
/// span ± 10%. A ratio far from 1 (a bin that held one burst, given a
/// think time by the chain; a bin of two bursts, given none) puts the
/// difference in the longest gaps, keeping the bursts' spacing.
/// (Without the noise allowance, a Poisson API mix's bins fitted with
/// powers of 1.1–1.4 stretched its longest gaps: 99.9th percentile 1.04 s
/// against 0.47 s recorded, gap Wasserstein 0.127 of the mean gap against
/// a limit of 0.10.) docs/replay.md has the measurements behind the 2.
pub(crate) fn fit_power(ratio: f64, gaps: usize) -> f64 {
    if ratio > 0.0 && ratio.is_finite() {
        let noise = 2.0 / (gaps.max(1) as f64).sqrt();
        1.0 + 2.0 * (ratio.ln().abs() - noise).max(0.0)
    } else {
        2.0
    }
}

/// One histogram bin of a gap class: its value range and count.
#[derive(Debug, Clone, Copy)]
struct Slice {
    lo: f64,
    hi: f64,
    count: u64,
    /// `hi` is the histogram's largest value (in the range), not the next
    /// bin's edge.
    hi_is_max: bool,
}

/// Gaps drawn as recorded: from the class of the last gap, the class
/// that follows as the [`GapChain`] recorded it, then a gap of that class
/// from the recorded histogram.
#[derive(Debug, Clone)]
pub(crate) struct GapDraw {
    /// The recording's clock step, seconds (0: continuous): gaps of a
    /// recording in whole milliseconds are drawn in whole milliseconds.
    tick_s: f64,
    /// Per class, the histogram bins it draws from.
    classes: Vec<Vec<Slice>>,
    /// Per class, its histogram count.
    marginal: [u64; CHAIN_CLASSES],
    /// Per class, the counts of the class that follows (all zero: none
    /// recorded, the marginal is used).
    rows: Vec<[u64; CHAIN_CLASSES]>,
}

impl GapDraw {
    pub(crate) fn new(h: &LogHist, chain: &GapChain, tick_s: f64) -> Self {
        let mut classes = vec![Vec::new(); CHAIN_CLASSES];
        let mut marginal = [0u64; CHAIN_CLASSES];
        if h.zeros > 0 {
            classes[0].push(Slice {
                lo: 0.0,
                hi: 0.0,
                count: h.zeros,
                hi_is_max: true,
            });
            marginal[0] += h.zeros;
        }
        for (i, count) in h.bins.iter() {
            let c = GapChain::class_of_bin(Some(i));
            let lo = LogHist::bin_low(i).max(h.min);
            let edge = LogHist::bin_low(i + 1);
            let hi = edge.min(h.max).max(lo);
            classes[c].push(Slice {
                lo,
                hi,
                count,
                hi_is_max: h.max < edge,
            });
            marginal[c] += count;
        }
        let mut rows = vec![[0u64; CHAIN_CLASSES]; CHAIN_CLASSES];
        for (k, c) in chain.counts.iter().enumerate() {
            let (from, to) = (k / CHAIN_CLASSES, k % CHAIN_CLASSES);
            // A transition into a class the histogram has no gaps of
            // (a hand-edited model) could not be drawn.
            if from < CHAIN_CLASSES && marginal[to] > 0 {
                rows[from][to] = *c;
            }
        }
        GapDraw {
            tick_s: if tick_s > 0.0 && tick_s.is_finite() {
                tick_s
            } else {
                0.0
            },
            classes,
            marginal,
            rows,
        }
    }

    /// The class most gaps are in: where a chain starts.
    pub(crate) fn start(&self) -> usize {
        (0..CHAIN_CLASSES)
            .max_by_key(|c| self.marginal[*c])
            .unwrap_or(0)
    }

    /// The next gap after one of class `state`, which becomes the new
    /// gap's class: the class that follows as recorded (any class, as
    /// often as recorded, when `state` was never followed), then a gap of
    /// that class.
    pub(crate) fn next<R: Rng>(&self, state: &mut usize, rng: &mut R) -> f64 {
        let row = match self.rows.get(*state) {
            Some(r) if r.iter().any(|c| *c > 0) => r,
            _ => &self.marginal,
        };
        let total: u64 = row.iter().sum();
        let mut x = rng.random_range(0..total.max(1));
        let mut class = 0;
        for (c, n) in row.iter().enumerate() {
            if x < *n {
                class = c;
                break;
            }
            x -= n;
        }
        *state = class;
        draw_in(&self.classes[class], self.tick_s, rng)
    }
}

/// The arrivals of a recording, bin by bin.
#[derive(Debug)]
pub(super) struct Recorded<'a> {
    arrival: &'a Arrival,
    /// Requests per curve bin for each recorded one (scale over speed).
    factor: f64,
    draw: GapDraw,
    state: usize,
    /// The next bin to fill, counted over periods.
    next_bin: u64,
    /// Fraction of a request carried to the next bin.
    carry: Option<f64>,
    /// The last event placed, curve time.
    last: Option<f64>,
    /// The recording's gaps vary about as a Poisson process's do
    /// ([`STEADY_CV`]): every train is fitted to its span by a time change.
    steady: bool,
}

/// Gaps whose coefficient of variation is at most this are steady
/// traffic: a Poisson process's is 1, one whose rate drifts ±50% over
/// minutes 1.13; page loads' 3 to 9 (bursts of milliseconds, think times
/// of seconds). A steady recording's bins differ from the drawn gaps only
/// in their rate, so a train is scaled, not stretched at its longest
/// gaps: those stretched a drifting Poisson mix's slow stretches into
/// gaps of 1–1.6 s where 0.66 s was the longest recorded.
const STEADY_CV: f64 = 1.5;

impl<'a> Recorded<'a> {
    /// `None` when the recording has no requests to follow.
    pub(super) fn new(arrival: &'a Arrival, factor: f64) -> Option<Self> {
        if arrival.bins.iter().all(|b| *b == 0) || !(factor > 0.0 && factor.is_finite()) {
            return None;
        }
        let draw = GapDraw::new(&arrival.inter_arrival_s, &arrival.chain, arrival.tick_s);
        let state = draw.start();
        Some(Recorded {
            arrival,
            factor,
            draw,
            state,
            next_bin: 0,
            carry: None,
            last: None,
            steady: arrival.inter_arrival_s.cv() <= STEADY_CV,
        })
    }

    /// The next bin's events in curve time (seconds, increasing; none for
    /// a bin with no requests).
    pub(super) fn fill<R: Rng>(&mut self, rng: &mut R, out: &mut Vec<f64>) {
        let a = self.arrival;
        let nb = a.bins.len() as u64;
        let (period_k, j) = (self.next_bin / nb, (self.next_bin % nb) as usize);
        self.next_bin += 1;
        let period = a.duration_s();
        let w = a.bin_s;
        let lo = j as f64 * w;
        let width = (((j + 1) as f64 * w).min(period) - lo).max(0.0);
        let n = a.bins[j];
        let carry = *self.carry.get_or_insert_with(|| rng.random::<f64>());
        let want = n as f64 * self.factor + carry;
        let m = want.floor();
        self.carry = Some(want - m);
        let m = m as usize;
        if m == 0 {
            return;
        }
        let steady = |k: usize| width * (k as f64 - 1.0) / (k as f64 + 1.0);
        let recorded = match a.spans_s.get(j) {
            Some(s) if n >= 2 => Some(s.min(width)),
            // Models before spans were kept: as steady traffic would.
            None if n >= 2 => Some(steady(n as usize)),
            _ => None,
        };
        // More requests than recorded (`--rate` above the recording) widen
        // the span as more of the same bursts would, up to steady spacing.
        let span = recorded.map(|s| {
            if m as u64 <= n {
                s
            } else {
                (s * m as f64 / n as f64).min(steady(m).max(s))
            }
        });
        let budget = span.unwrap_or_else(|| steady(m));
        // Where the train should start: the bin's recorded first request,
        // in a repeat of the curve a mean gap later so the repeat does not
        // start on the instant the last one ended.
        let seam = if period_k > 0 && j == 0 {
            period / (a.requests.max(2) - 1) as f64
        } else {
            0.0
        };
        let start = a.starts_s.get(j).map(|s| s + seam);
        // The chain goes on from the gap that leads into this train, the
        // one the bins' starts make, not from the last gap drawn: a page
        // load's first gaps follow a think time as recorded.
        if let (Some(last), Some(start)) = (self.last, start) {
            let into = period_k as f64 * period + lo + start - last;
            if into > 0.0 {
                self.state = GapChain::class_of(into);
            }
        }
        let gaps = &mut Vec::with_capacity(m - 1);
        for _ in 1..m {
            gaps.push(self.gap(rng));
        }
        let drawn: f64 = gaps.iter().sum();
        let target = span.unwrap_or(drawn.min(budget));
        let power = if self.steady {
            1.0
        } else {
            fit_power(target / drawn, gaps.len())
        };
        fit_gaps(gaps, target, power);
        let used: f64 = gaps.iter().sum::<f64>().min(width);
        let room = width - used;
        let offset = match start {
            Some(start) => start.min(room),
            None => rng.random::<f64>() * room,
        };
        let base = period_k as f64 * period + lo + offset;
        out.reserve(m);
        let mut t = base;
        out.push(t);
        for g in gaps.iter() {
            t += g;
            out.push(t);
        }
        self.last = Some(t);
    }

    /// Where the next bin to fill starts, curve time.
    pub(super) fn next_bin_start(&self) -> f64 {
        let nb = self.arrival.bins.len() as u64;
        let (k, j) = (self.next_bin / nb, self.next_bin % nb);
        k as f64 * self.arrival.duration_s() + j as f64 * self.arrival.bin_s
    }

    /// The next gap, as the chain draws it.
    fn gap<R: Rng>(&mut self, rng: &mut R) -> f64 {
        self.draw.next(&mut self.state, rng)
    }
}

/// A value from a class's histogram bins: a bin by count, then
/// log-uniform inside it (as [`LogHist::sample`] draws), or with a clock
/// step, one of the bin's whole steps (a recording in whole milliseconds
/// only ever had those; a value between them would land on the step below
/// about as often as on its own when the replay is recorded again).
fn draw_in<R: Rng>(slices: &[Slice], tick_s: f64, rng: &mut R) -> f64 {
    let total: u64 = slices.iter().map(|s| s.count).sum();
    if total == 0 {
        return 0.0;
    }
    let mut x = rng.random_range(0..total);
    for s in slices {
        if x < s.count {
            if s.hi <= s.lo || s.lo <= 0.0 {
                return s.lo;
            }
            if tick_s > 0.0 {
                let first = (s.lo / tick_s - 1e-6).ceil();
                let last = if s.hi_is_max {
                    (s.hi / tick_s + 1e-6).floor()
                } else {
                    (s.hi / tick_s - 1e-6).ceil() - 1.0
                };
                if last >= first {
                    let k = rng.random_range(0..=(last - first) as u64);
                    return (first + k as f64) * tick_s;
                }
            }
            let u: f64 = rng.random();
            return (s.lo.ln() + u * (s.hi.ln() - s.lo.ln())).exp();
        }
        x -= s.count;
    }
    0.0
}

/// Changes `gaps` so they add up to `target`, gap k by an amount in
/// proportion to g_k^p: stretching adds `Δ · g_k^p / Σ g^p`; squeezing
/// divides gap k by `1 + λ g_k^(p−1)` for the λ that makes the sum right.
/// With p = 1 both are a uniform scale; above 1 the longest gaps give and
/// take most, so a burst's short gaps keep their size while the idle ones
/// absorb the difference. Gaps that are all zero are spread evenly.
pub(crate) fn fit_gaps(gaps: &mut [f64], target: f64, p: f64) {
    let sum: f64 = gaps.iter().sum();
    if gaps.is_empty() || target.is_nan() || target < 0.0 || sum == target {
        return;
    }
    if sum <= 0.0 {
        let each = target / gaps.len() as f64;
        gaps.iter_mut().for_each(|g| *g = each);
        return;
    }
    if target > sum {
        let weights: f64 = gaps.iter().map(|g| g.powf(p)).sum();
        let extra = target - sum;
        gaps.iter_mut()
            .for_each(|g| *g += extra * g.powf(p) / weights);
        return;
    }
    if target <= 0.0 {
        gaps.iter_mut().for_each(|g| *g = 0.0);
        return;
    }
    let squeezed = |lambda: f64| -> f64 {
        gaps.iter()
            .map(|g| g / (1.0 + lambda * g.powf(p - 1.0)))
            .sum()
    };
    // Bracket λ, then bisect (in log space: λ spans many decades).
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while squeezed(hi) > target && hi < 1e300 {
        lo = hi;
        hi *= 16.0;
    }
    for _ in 0..60 {
        let mid = if lo > 0.0 { (lo * hi).sqrt() } else { hi / 2.0 };
        if squeezed(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    gaps.iter_mut()
        .for_each(|g| *g /= 1.0 + hi * g.powf(p - 1.0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A recording in whole milliseconds (gaps 0 to 9 ms and 120 ms) is
    /// drawn in whole milliseconds, each bin as often as recorded; without
    /// the clock step, log-uniform inside the histogram's bins.
    #[test]
    fn a_recording_clock_step_is_kept() {
        let mut h = LogHist::new();
        for ms in (0..=9).chain([120]) {
            h.record_n(f64::from(ms) / 1000.0, 100);
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let d = GapDraw::new(&h, &GapChain::default(), 0.001);
        let mut counts = std::collections::BTreeMap::<u64, u32>::new();
        let mut state = usize::MAX;
        for _ in 0..11_000 {
            let g = d.next(&mut state, &mut rng);
            let ms = (g * 1000.0).round();
            assert!((g * 1000.0 - ms).abs() < 1e-9, "{g}");
            *counts.entry(ms as u64).or_default() += 1;
        }
        // Below 10 ms a bin holds one whole millisecond; 120 ms is in the
        // bin from 112.2 ms (its top clamped to the largest value), whose
        // whole milliseconds are all drawn.
        let keys: Vec<u64> = counts.keys().copied().collect();
        assert_eq!(keys, (0..=9).chain(113..=120).collect::<Vec<_>>());
        for ms in 0..=9 {
            assert!((800..1200).contains(&counts[&ms]), "{ms} ms: {counts:?}");
        }
        let top: u32 = (113..=120).map(|ms| counts[&ms]).sum();
        assert!((800..1200).contains(&top), "{counts:?}");
        let d = GapDraw::new(&h, &GapChain::default(), 0.0);
        let off_ms = (0..1000)
            .map(|_| d.next(&mut state, &mut rng) * 1000.0)
            .filter(|g| (g - g.round()).abs() > 1e-6)
            .count();
        assert!(off_ms > 500, "{off_ms}");
    }

    #[test]
    fn fitting_keeps_short_gaps_and_hits_the_target() {
        // A burst of 1 ms gaps with one 2 s idle gap, squeezed to 1 s.
        let mut g = vec![0.001; 20];
        g.push(2.0);
        fit_gaps(&mut g, 1.0, 2.0);
        let sum: f64 = g.iter().sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert!(
            g[..20].iter().all(|x| (x / 0.001 - 1.0).abs() < 0.01),
            "{g:?}"
        );
        // Stretched to 10 s: the idle gap takes nearly all of it.
        let mut g = vec![0.001; 20];
        g.push(2.0);
        fit_gaps(&mut g, 10.0, 2.0);
        assert!((g.iter().sum::<f64>() - 10.0).abs() < 1e-9);
        assert!(g[..20].iter().all(|x| *x < 0.0011), "{g:?}");
        // p = 1 is a uniform scale.
        let mut g = vec![1.0, 2.0, 3.0];
        fit_gaps(&mut g, 3.0, 1.0);
        assert!(g
            .iter()
            .zip([0.5, 1.0, 1.5])
            .all(|(a, b)| (a - b).abs() < 1e-9));
        let mut g = vec![0.0; 4];
        fit_gaps(&mut g, 2.0, 2.0);
        assert_eq!(g, vec![0.5; 4]);
    }
}
