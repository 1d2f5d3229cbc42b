//! HdrHistogram settings and the wire encoding of one histogram.
//!
//! Every timing is recorded in whole microseconds with 3 significant digits
//! in an auto-resizing histogram. Values are clamped at [`MAX_TRACKABLE_US`]
//! (one hour), so a histogram's memory is bounded by its value range, never by
//! how many values it holds: at most ~185 KiB for the full range, ~16 KiB
//! for a histogram whose values stay below 2 ms.
//!
//! The wire form is the standard HdrHistogram "V2 + DEFLATE" encoding,
//! base64 (standard alphabet, padded) — the same bytes the Java, Go and C
//! HdrHistogram libraries produce and read, so any of them can decode a
//! summary's histograms. [`decode`] reads untrusted input with explicit
//! size limits instead of trusting the lengths in the header.

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Significant decimal digits kept by every histogram.
pub const SIGFIG: u8 = 3;

/// Values above this (one hour, in microseconds) are recorded as this.
pub const MAX_TRACKABLE_US: u64 = 3_600_000_000;

/// Largest accepted base64 text for one encoded histogram (1 MiB).
pub const MAX_ENCODED_LEN: usize = 1 << 20;

/// Largest accepted decompressed V2 payload for one histogram (4 MiB; a
/// full-range 3-digit histogram needs well under 1 MiB).
const MAX_INFLATED_LEN: u64 = 4 << 20;

const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
/// Bytes of the V2 header after the cookie: payload length, normalizing
/// offset, significant digits (u32 each), low, high (u64), ratio (f64).
const V2_HEADER_AFTER_COOKIE: usize = 4 + 4 + 4 + 8 + 8 + 8;

/// A fresh, empty histogram with the crate's settings.
pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 2 µs initial range; auto-resize grows it to the largest value
    // recorded, which `record` clamps, so growth is bounded.
    let mut h =
        Histogram::new_with_bounds(1, 2, SIGFIG).expect("static histogram bounds are valid");
    h.auto(true);
    h
}

/// A duration in whole microseconds, clamped to [`MAX_TRACKABLE_US`].
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .min(MAX_TRACKABLE_US)
}

/// Record one duration (clamped) into `h`.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    // `record` (not `saturating_record`, which clamps to the *current* range
    // instead of resizing). It can only fail if usize cannot index the
    // counts, impossible for the clamped range; clamp then.
    let v = micros(d);
    if h.record(v).is_err() {
        h.saturating_record(v);
    }
}

/// Add `src` into `dst` exactly.
pub fn add(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    // `add` only fails when `dst` cannot grow; all our histograms auto-resize.
    dst.auto(true);
    dst.add(src)
        .expect("auto-resizing histograms accept any addend");
}

/// Approximate heap bytes held by `h` (its counts array).
pub fn heap_bytes(h: &Histogram<u64>) -> usize {
    h.distinct_values() * std::mem::size_of::<u64>()
}

/// Why an encoded histogram could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistogramCodecError {
    #[error("histogram is not valid base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("encoded histogram is {len} bytes, more than the {MAX_ENCODED_LEN} allowed")]
    TooLarge { len: usize },
    #[error("histogram is not an HdrHistogram V2 encoding (bad cookie {0:#x})")]
    Cookie(u32),
    #[error("histogram data is truncated or its declared length is wrong")]
    Truncated,
    #[error("histogram decompresses to more than {MAX_INFLATED_LEN} bytes")]
    Bomb,
    #[error("histogram has {0} significant digits; replay writes and merges only {SIGFIG}")]
    Precision(u32),
    #[error("histogram could not be decoded: {0}")]
    Decode(String),
    #[error("histogram could not be encoded: {0}")]
    Encode(String),
}

/// Encode `h` as base64 of its V2 + DEFLATE serialization.
///
/// The encoding is canonical: it depends only on the recorded values, not on
/// how far the histogram happened to grow, so equal histograms encode to
/// equal text (merged shards compare equal to a single run).
pub fn encode(h: &Histogram<u64>) -> Result<String, HistogramCodecError> {
    let mut canonical = Histogram::<u64>::new_with_bounds(1, h.max().max(2), SIGFIG)
        .map_err(|e| HistogramCodecError::Encode(format!("{e:?}")))?;
    add(&mut canonical, h);
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(&canonical, &mut buf)
        .map_err(|e| HistogramCodecError::Encode(format!("{e:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// Decode a histogram written by [`encode`] (or by any HdrHistogram library
/// using V2 or V2 + DEFLATE with 3 significant digits). The result
/// auto-resizes, so it can be merged into.
pub fn decode(text: &str) -> Result<Histogram<u64>, HistogramCodecError> {
    let text = text.trim();
    if text.len() > MAX_ENCODED_LEN {
        return Err(HistogramCodecError::TooLarge { len: text.len() });
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text)?;
    let cookie = be_u32(&bytes, 0)?;
    // Inflate ourselves with a cap: the library would trust the declared
    // payload length and allocate it.
    let v2 = match cookie {
        V2_COOKIE => bytes,
        V2_COMPRESSED_COOKIE => {
            let len = be_u32(&bytes, 4)? as usize;
            let deflated = bytes
                .get(8..8 + len)
                .ok_or(HistogramCodecError::Truncated)?;
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(deflated)
                .take(MAX_INFLATED_LEN + 1)
                .read_to_end(&mut out)
                .map_err(|e| HistogramCodecError::Decode(e.to_string()))?;
            if out.len() as u64 > MAX_INFLATED_LEN {
                return Err(HistogramCodecError::Bomb);
            }
            out
        }
        other => return Err(HistogramCodecError::Cookie(other)),
    };
    let inner = be_u32(&v2, 0)?;
    if inner != V2_COOKIE {
        return Err(HistogramCodecError::Cookie(inner));
    }
    let payload_len = be_u32(&v2, 4)? as usize;
    let digits = be_u32(&v2, 12)?;
    if digits != u32::from(SIGFIG) {
        return Err(HistogramCodecError::Precision(digits));
    }
    if v2.len() < 4 + V2_HEADER_AFTER_COOKIE + payload_len {
        return Err(HistogramCodecError::Truncated);
    }
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut v2.as_slice())
        .map_err(|e| HistogramCodecError::Decode(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

fn be_u32(bytes: &[u8], at: usize) -> Result<u32, HistogramCodecError> {
    let b = bytes
        .get(at..at + 4)
        .ok_or(HistogramCodecError::Truncated)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_hist() -> Histogram<u64> {
        let mut h = new_histogram();
        for v in [0u64, 1, 7, 150, 2_500, 99_999, 1_234_567] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        h
    }

    #[test]
    fn round_trip_is_exact() {
        let h = sample_hist();
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), h.len());
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
        assert!(back.is_auto_resize());
    }

    #[test]
    fn encoding_depends_only_on_contents() {
        let mut grown = new_histogram();
        grown.record(3_000_000_000).unwrap();
        grown.reset();
        grown.record(1234).unwrap();
        let mut small = new_histogram();
        small.record(1234).unwrap();
        assert_ne!(grown.distinct_values(), small.distinct_values());
        assert_eq!(encode(&grown).unwrap(), encode(&small).unwrap());
    }

    #[test]
    fn empty_round_trip() {
        let h = new_histogram();
        let back = decode(&encode(&h).unwrap()).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn clamps_at_one_hour() {
        let mut h = new_histogram();
        record(&mut h, Duration::from_secs(10 * 3600));
        record(&mut h, Duration::from_micros(1500));
        assert_eq!(h.max(), h.highest_equivalent(MAX_TRACKABLE_US));
        assert_eq!(h.value_at_quantile(0.0), h.highest_equivalent(1500));
        assert!(heap_bytes(&h) < 200 * 1024, "{}", heap_bytes(&h));
    }

    #[test]
    fn rejects_garbage_with_clear_errors() {
        assert!(matches!(
            decode("not base64!"),
            Err(HistogramCodecError::Base64(_))
        ));
        let junk = base64::engine::general_purpose::STANDARD.encode([1u8, 2, 3, 4, 5, 6]);
        assert!(matches!(decode(&junk), Err(HistogramCodecError::Cookie(_))));
        // A valid encoding cut short.
        let good = encode(&sample_hist()).unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&good)
            .unwrap();
        let cut = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() / 2]);
        assert!(decode(&cut).is_err());
    }

    #[test]
    fn rejects_a_lying_payload_length() {
        // Uncompressed V2 header claiming a 4 GiB payload with none present.
        let mut v2 = Vec::new();
        v2.extend_from_slice(&V2_COOKIE.to_be_bytes());
        v2.extend_from_slice(&u32::MAX.to_be_bytes());
        v2.extend_from_slice(&0u32.to_be_bytes());
        v2.extend_from_slice(&3u32.to_be_bytes());
        v2.extend_from_slice(&1u64.to_be_bytes());
        v2.extend_from_slice(&2u64.to_be_bytes());
        v2.extend_from_slice(&1f64.to_be_bytes());
        let text = base64::engine::general_purpose::STANDARD.encode(&v2);
        assert!(matches!(decode(&text), Err(HistogramCodecError::Truncated)));
    }

    #[test]
    fn rejects_other_precisions() {
        let mut h = Histogram::<u64>::new(2).unwrap();
        h.record(10).unwrap();
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut buf).unwrap();
        let text = base64::engine::general_purpose::STANDARD.encode(buf);
        assert!(matches!(
            decode(&text),
            Err(HistogramCodecError::Precision(2))
        ));
    }
}
