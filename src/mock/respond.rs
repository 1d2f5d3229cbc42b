//! What the mock answers for one endpoint: status, body and delay drawn
//! from the endpoint's recorded [`ResponseModel`].
//!
//! Everything that does not depend on the draw (cumulative status counts,
//! the `Content-Type` header value, the recorded body as [`Bytes`]) is
//! prepared once, so a draw costs a few RNG calls and no allocation: filler
//! bodies are slices of one shared buffer.

use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use rand::Rng;

use crate::model::{LogHist, ResponseModel};

/// Largest filler body served, whatever the recorded size.
pub const MAX_BODY: usize = 8 << 20;
/// Longest delay drawn from a recorded latency distribution (long polls
/// and stalls in a capture should not hang a replay).
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// How long the mock waits before answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LatencyMode {
    /// Answer at once.
    None,
    /// Wait a time drawn from the endpoint's recorded time to first byte
    /// (its total time when the capture has no TTFB), capped at
    /// [`MAX_DELAY`].
    #[default]
    Recorded,
    /// Wait this long for every request.
    Fixed(Duration),
}

impl FromStr for LatencyMode {
    type Err = String;

    /// `recorded`, `none`, or a fixed delay such as `20ms` or `1.5s`.
    fn from_str(s: &str) -> Result<LatencyMode, String> {
        let t = s.trim();
        match t {
            "recorded" => return Ok(LatencyMode::Recorded),
            "none" | "0" => return Ok(LatencyMode::None),
            _ => {}
        }
        // A delay needs its unit: a bare number is more likely a typo here
        // than seconds.
        if t.parse::<f64>().is_ok() {
            return Err(format!(
                "'{s}' is not a latency; write recorded, none, or a fixed delay like 20ms or 1.5s"
            ));
        }
        let d = crate::units::parse_duration(t)
            .map_err(|e| format!("{e}; or write recorded or none"))?;
        if d > MAX_DELAY {
            return Err(format!(
                "'{s}' is out of range; a fixed latency is between 0 and {}s",
                MAX_DELAY.as_secs()
            ));
        }
        Ok(LatencyMode::Fixed(d))
    }
}

impl std::fmt::Display for LatencyMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LatencyMode::None => f.write_str("none"),
            LatencyMode::Recorded => f.write_str("recorded"),
            LatencyMode::Fixed(d) => write!(f, "{}ms", d.as_secs_f64() * 1e3),
        }
    }
}

/// One drawn answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: StatusCode,
    /// The body to send (empty for HEAD, 1xx, 204, 205 and 304).
    pub body: Bytes,
    /// For HEAD: the size the body would have had (its `Content-Length`).
    pub head_len: Option<usize>,
    pub delay: Duration,
}

/// The prepared response model of one endpoint.
#[derive(Debug, Clone)]
pub struct Responder {
    /// (status, running total of counts).
    statuses: Box<[(StatusCode, u64)]>,
    pub(crate) mime: Option<HeaderValue>,
    size: LogHist,
    body: Option<Bytes>,
    latency: LogHist,
}

impl Responder {
    pub fn new(r: &ResponseModel) -> Responder {
        let mut acc = 0;
        let statuses: Box<[(StatusCode, u64)]> = r
            .status
            .iter()
            // A final response cannot be 1xx; 0 (no response in the HAR)
            // and out-of-range codes are not answers either.
            .filter(|(s, n)| **s >= 200 && **n > 0)
            .filter_map(|(s, n)| {
                let code = StatusCode::from_u16(*s).ok()?;
                acc += n;
                Some((code, acc))
            })
            .collect();
        let latency = if r.wait_ms.is_empty() {
            r.latency_ms.clone()
        } else {
            r.wait_ms.clone()
        };
        Responder {
            statuses,
            mime: (!r.mime.is_empty())
                .then(|| HeaderValue::from_str(&r.mime).ok())
                .flatten(),
            size: r.size.clone(),
            body: r.body.as_ref().map(|b| Bytes::from(b.clone())),
            latency,
        }
    }

    /// The largest filler body this endpoint can ask for.
    pub fn max_filler(&self) -> usize {
        if self.size.is_empty() {
            0
        } else {
            (self.size.max.ceil() as usize).min(MAX_BODY)
        }
    }

    /// Draws an answer. Always the same RNG calls in the same order
    /// (status, size, delay), so a seeded connection answers the same
    /// sequence of requests the same way. `filler` must be at least
    /// [`Responder::max_filler`] bytes long.
    pub fn draw<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        head: bool,
        latency: LatencyMode,
        filler: &Bytes,
    ) -> Answer {
        let status = match self.statuses.last() {
            None => StatusCode::OK,
            Some(&(_, total)) => {
                let pick = rng.random_range(0..total);
                let i = self.statuses.partition_point(|(_, c)| *c <= pick);
                self.statuses[i].0
            }
        };
        let sized = if self.size.is_empty() {
            None
        } else {
            let v = self.size.sample(rng).round();
            Some((v as usize).min(MAX_BODY).min(filler.len()))
        };
        let delay = match latency {
            LatencyMode::None => Duration::ZERO,
            LatencyMode::Fixed(d) => d,
            LatencyMode::Recorded => recorded_delay(&self.latency, rng),
        };
        let no_body = status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::RESET_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let body = if no_body {
            Bytes::new()
        } else {
            match (&self.body, status.is_success(), sized) {
                (Some(b), true, _) => b.clone(),
                (_, _, Some(n)) => filler.slice(..n),
                (Some(b), false, None) => b.clone(),
                (None, _, None) => Bytes::new(),
            }
        };
        if head {
            return Answer {
                status,
                head_len: Some(body.len()),
                body: Bytes::new(),
                delay,
            };
        }
        Answer {
            status,
            body,
            head_len: None,
            delay,
        }
    }
}

/// A delay drawn from a recorded latency histogram (ms), capped at
/// [`MAX_DELAY`]; zero when nothing was recorded.
pub fn recorded_delay<R: Rng + ?Sized>(latency_ms: &LogHist, rng: &mut R) -> Duration {
    if latency_ms.is_empty() {
        return Duration::ZERO;
    }
    let ms = latency_ms.sample(rng);
    if !(ms.is_finite() && ms > 0.0) {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(ms / 1e3).min(MAX_DELAY)
}

/// A buffer of printable filler bytes, `len` long.
pub fn filler(len: usize) -> Bytes {
    const LINE: &[u8] = b"replay mock filler: the recorded response was this many bytes.\n";
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        let k = (len - v.len()).min(LINE.len());
        v.extend_from_slice(&LINE[..k]);
    }
    Bytes::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn model(status: &[(u16, u64)], sizes: &[f64], wait: &[f64]) -> ResponseModel {
        let mut r = ResponseModel {
            status: status.iter().copied().collect(),
            mime: "application/json".into(),
            ..Default::default()
        };
        for s in sizes {
            r.size.record(*s);
        }
        for w in wait {
            r.wait_ms.record(*w);
            r.latency_ms.record(*w * 10.0);
        }
        r
    }

    #[test]
    fn latency_flag_values() {
        assert_eq!("recorded".parse(), Ok(LatencyMode::Recorded));
        assert_eq!("none".parse(), Ok(LatencyMode::None));
        assert_eq!(
            "20ms".parse(),
            Ok(LatencyMode::Fixed(Duration::from_millis(20)))
        );
        assert_eq!(
            "1.5s".parse(),
            Ok(LatencyMode::Fixed(Duration::from_millis(1500)))
        );
        assert!("fast".parse::<LatencyMode>().is_err());
        assert!("-1ms".parse::<LatencyMode>().is_err());
        assert!("2h".parse::<LatencyMode>().is_err());
    }

    #[test]
    fn delays_follow_ttfb_and_are_reproducible() {
        let r = Responder::new(&model(&[(200, 1)], &[100.0], &[5.0, 10.0, 20.0]));
        let f = filler(r.max_filler());
        let draws = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..200)
                .map(|_| r.draw(&mut rng, false, LatencyMode::Recorded, &f).delay)
                .collect::<Vec<_>>()
        };
        let a = draws(1);
        assert_eq!(a, draws(1));
        assert_ne!(a, draws(2));
        // wait_ms (5..20 ms) is used, not the total time (50..200 ms).
        for d in &a {
            assert!(
                (Duration::from_millis(5)..=Duration::from_millis(20)).contains(d),
                "{d:?}"
            );
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            r.draw(&mut rng, false, LatencyMode::None, &f).delay,
            Duration::ZERO
        );
        let fixed = LatencyMode::Fixed(Duration::from_millis(7));
        assert_eq!(
            r.draw(&mut rng, false, fixed, &f).delay,
            Duration::from_millis(7)
        );
    }

    #[test]
    fn total_time_stands_in_for_missing_ttfb_and_is_capped() {
        let mut m = model(&[(200, 1)], &[], &[]);
        m.latency_ms.record(3_600_000.0);
        let r = Responder::new(&m);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let a = r.draw(&mut rng, false, LatencyMode::Recorded, &Bytes::new());
        assert_eq!(a.delay, MAX_DELAY);
        assert!(a.body.is_empty());
    }

    #[test]
    fn bodies_by_status_and_method() {
        let mut m = model(
            &[(200, 1), (204, 1), (304, 1), (404, 1)],
            &[10.0, 300.0],
            &[],
        );
        m.body = Some(b"{\"ok\":true}".to_vec());
        let r = Responder::new(&m);
        let f = filler(r.max_filler());
        assert_eq!(r.max_filler(), 300);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            let a = r.draw(&mut rng, false, LatencyMode::None, &f);
            seen.insert(a.status.as_u16());
            match a.status.as_u16() {
                200 => assert_eq!(&a.body[..], b"{\"ok\":true}"),
                204 | 304 => assert!(a.body.is_empty()),
                404 => assert!((10..=300).contains(&a.body.len()), "{}", a.body.len()),
                s => panic!("status {s}"),
            }
            let h = r.draw(&mut rng, true, LatencyMode::None, &f);
            assert!(h.body.is_empty());
            assert!(h.head_len.is_some());
        }
        assert_eq!(seen.len(), 4);
    }

    #[test]
    fn informational_and_missing_statuses_become_200() {
        let r = Responder::new(&model(&[(0, 5), (101, 3)], &[], &[]));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let a = r.draw(&mut rng, false, LatencyMode::None, &Bytes::new());
        assert_eq!(a.status, StatusCode::OK);
    }
}
