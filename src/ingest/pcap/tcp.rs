//! TCP reassembly: turns segments into two ordered byte streams per
//! connection and feeds them to the connection's [`HttpConn`].
//!
//! Each direction keeps the next expected sequence number and a 64-bit count
//! of bytes delivered, so sequence wrap-around is just wrapping arithmetic.
//! Retransmissions and overlaps are trimmed against what was delivered;
//! segments from the future wait in a small per-direction queue. A hole is
//! declared a capture gap (and reported to HTTP, which marks the exchange
//! damaged and resynchronises) when the peer acknowledges data beyond it,
//! when the queue exceeds [`OOO_CAP`], or when the connection ends.
//! Connections whose handshake was not captured start at their first
//! segment; HTTP then picks up at the next message start.
//!
//! Memory is bounded: at most [`OOO_CAP`] queued bytes per direction (plus
//! HTTP's own caps), closed connections shrink to a tombstone (so late
//! retransmissions do not start a bogus connection), and connections idle
//! for [`IDLE_NS`] of capture time are finished and dropped.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use super::http::HttpConn;
use super::link::{Endpoint, Segment};
use super::Out;

/// Out-of-order bytes queued per direction before the hole is given up on.
pub const OOO_CAP: usize = 1 << 20;
/// Capture time after which a silent connection is finished.
pub const IDLE_NS: i64 = 120_000_000_000;
/// Capture time a closed connection's tombstone is kept.
const TOMBSTONE_NS: i64 = 30_000_000_000;
/// Capture time a reset connection is kept for stragglers.
const RESET_NS: i64 = 5_000_000_000;
/// Above this many tracked connections, idle limits shrink.
const MANY_CONNS: usize = 50_000;

/// A connection, keyed by its two endpoints in sorted order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnKey {
    a: Endpoint,
    b: Endpoint,
}

/// A small, fast hasher for the connection table (FxHash): the keys are
/// not attacker-chosen in a way that matters for an offline reader.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(b));
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[derive(Debug)]
struct Queued {
    ts: i64,
    data: Vec<u8>,
    missing: u32,
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Half {
    started: bool,
    /// Sequence number of stream offset 0.
    base: u32,
    /// Bytes delivered (or declared lost) so far.
    delivered: u64,
    queue: BTreeMap<u64, Queued>,
    queued_bytes: usize,
    /// Highest stream offset the peer acknowledged.
    peer_acked: u64,
    fin_at: Option<u64>,
    fin_done: bool,
}

impl Half {
    fn next_seq(&self) -> u32 {
        self.base.wrapping_add(self.delivered as u32)
    }

    /// Stream offset of sequence number `seq` (nearest to what was delivered).
    fn offset(&self, seq: u32) -> i64 {
        let rel = i64::from(seq.wrapping_sub(self.next_seq()) as i32);
        (self.delivered as i64).saturating_add(rel)
    }
}

/// The reassembly side of one connection.
struct Conn {
    halves: [Half; 2],
    http: HttpConn,
    last_ts: i64,
    closed: bool,
    /// A RST was seen: finish soon after it goes quiet.
    reset: bool,
}

/// All tracked connections.
pub struct Tracker {
    /// Boxed: a connection is ~500 bytes, and the table is probed for every
    /// packet; with the state inline, each probe's key comparison reached
    /// into a different part of a large table.
    conns: HashMap<ConnKey, Box<Conn>, BuildHasherDefault<FxHasher>>,
    packets: u64,
    last_sweep: i64,
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracker {
    pub fn new() -> Self {
        Tracker {
            conns: HashMap::default(),
            packets: 0,
            last_sweep: i64::MIN,
        }
    }

    /// Number of connections tracked (live and tombstones).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Handles one TCP segment captured at `ts` (Unix ns).
    pub fn segment(&mut self, ts: i64, seg: &Segment<'_>, out: &mut Out<'_>) {
        self.packets += 1;
        if self.packets % 4096 == 0 {
            self.sweep(ts, out);
        }
        let (key, dir) = if seg.src <= seg.dst {
            (
                ConnKey {
                    a: seg.src,
                    b: seg.dst,
                },
                0,
            )
        } else {
            (
                ConnKey {
                    a: seg.dst,
                    b: seg.src,
                },
                1,
            )
        };
        let has_data = !seg.payload.is_empty() || seg.missing > 0;
        let opening = seg.syn && !seg.ack_flag;
        let conn: &mut Conn = match self.conns.get_mut(&key) {
            Some(c) => {
                let reused = opening
                    && (c.closed
                        || (c.halves[dir].started
                            && c.halves[dir].next_seq() != seg.seq.wrapping_add(1)));
                if reused {
                    if !c.closed {
                        finish(c, out);
                    }
                    **c = Conn::new(&key, Some(dir));
                } else if c.closed {
                    c.last_ts = ts;
                    return;
                }
                c
            }
            None => {
                if !(seg.syn || has_data) {
                    return;
                }
                let client = seg.syn.then_some(if seg.ack_flag { 1 - dir } else { dir });
                self.conns
                    .entry(key)
                    .or_insert_with(|| Box::new(Conn::new(&key, client)))
            }
        };
        conn.last_ts = ts;
        if seg.rst {
            // A reset ends close-delimited messages, but the connection is
            // only dropped once idle: middleboxes and evasion tests send
            // resets the endpoints ignore, and data may still follow.
            conn.reset = true;
            conn.http.fin(0, ts, out);
            conn.http.fin(1, ts, out);
            return;
        }
        let Conn { halves, http, .. } = conn;
        {
            let h = &mut halves[dir];
            if seg.syn {
                if !h.started || h.delivered == 0 {
                    h.base = seg.seq.wrapping_add(1);
                    h.started = true;
                }
            } else if !h.started && (has_data || seg.fin) {
                h.base = seg.seq;
                h.started = true;
            }
        }
        let data_seq = if seg.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        if has_data {
            push(
                &mut halves[dir],
                dir,
                ts,
                data_seq,
                seg.payload,
                seg.missing,
                http,
                out,
            );
        }
        if seg.fin && halves[dir].started {
            let wire = seg.payload.len() as i64 + i64::from(seg.missing);
            let end = halves[dir].offset(data_seq).saturating_add(wire).max(0) as u64;
            halves[dir].fin_at = Some(end);
            check_fin(&mut halves[dir], dir, ts, http, out);
        }
        if seg.ack_flag {
            let o = &mut halves[1 - dir];
            if o.started {
                let acked = o.offset(seg.ack).max(0) as u64;
                if acked > o.peer_acked {
                    o.peer_acked = acked;
                }
                if o.queue
                    .first_key_value()
                    .is_some_and(|(k, _)| o.peer_acked >= *k)
                {
                    fill_gap(o, 1 - dir, ts, http, out);
                }
            }
        }
        if halves[0].fin_done && halves[1].fin_done {
            finish(conn, out);
        }
    }

    /// Finishes connections idle for too long (capture time).
    fn sweep(&mut self, now: i64, out: &mut Out<'_>) {
        let crowded = self.conns.len() > MANY_CONNS;
        if now.saturating_sub(self.last_sweep) < 1_000_000_000 && !crowded {
            return;
        }
        self.last_sweep = now;
        let (idle, tomb) = if crowded {
            (IDLE_NS / 60, TOMBSTONE_NS / 30)
        } else {
            (IDLE_NS, TOMBSTONE_NS)
        };
        self.conns.retain(|_, c| {
            let age = now.saturating_sub(c.last_ts);
            if c.closed {
                return age < tomb;
            }
            if age < idle && !(c.reset && age >= RESET_NS) {
                return true;
            }
            finish(c, out);
            false
        });
    }

    /// End of capture: finishes every connection.
    pub fn finish_all(&mut self, out: &mut Out<'_>) {
        let mut conns: Vec<Box<Conn>> = self.conns.drain().map(|(_, c)| c).collect();
        conns.sort_by_key(|c| c.last_ts);
        for c in &mut conns {
            if !c.closed {
                finish(c, out);
            }
        }
    }
}

impl Conn {
    fn new(key: &ConnKey, client: Option<usize>) -> Self {
        Conn {
            halves: [Half::default(), Half::default()],
            http: HttpConn::new([key.a.socket_addr(), key.b.socket_addr()], client),
            last_ts: 0,
            closed: false,
            reset: false,
        }
    }
}

/// Flushes queued data (declaring holes as gaps), lets HTTP emit what is
/// pending and shrinks the connection to a tombstone.
fn finish(c: &mut Conn, out: &mut Out<'_>) {
    let Conn { halves, http, .. } = c;
    for (dir, h) in halves.iter_mut().enumerate() {
        let ts = h.queue.values().last().map_or(0, |q| q.ts);
        while !h.queue.is_empty() {
            fill_gap(h, dir, ts, http, out);
        }
    }
    http.finish(out);
    c.halves = [Half::default(), Half::default()];
    c.http = HttpConn::new(c.http.peers(), None);
    c.closed = true;
}

/// Adds a segment's bytes at `seq` to a direction.
#[allow(clippy::too_many_arguments)]
fn push(
    h: &mut Half,
    dir: usize,
    ts: i64,
    seq: u32,
    payload: &[u8],
    missing: u32,
    http: &mut HttpConn,
    out: &mut Out<'_>,
) {
    let off = h.offset(seq);
    let wire = payload.len() as i64 + i64::from(missing);
    let end = off.saturating_add(wire);
    if end <= h.delivered as i64 {
        return; // retransmission of delivered bytes
    }
    // Bytes before stream offset 0 (a segment from before mid-stream
    // pickup) are dropped by the clamp in deliver().
    if off <= h.delivered as i64 {
        deliver(h, dir, ts, off, payload, missing, http, out);
        drain(h, dir, http, out);
        check_fin(h, dir, ts, http, out);
        return;
    }
    let off = off as u64;
    if h.queued_bytes.saturating_add(payload.len()) > OOO_CAP {
        fill_gap(h, dir, ts, http, out);
        if off <= h.delivered {
            deliver(h, dir, ts, off as i64, payload, missing, http, out);
            drain(h, dir, http, out);
            check_fin(h, dir, ts, http, out);
            return;
        }
    }
    let q = Queued {
        ts,
        data: payload.to_vec(),
        missing,
    };
    match h.queue.get(&off) {
        Some(old) if old.data.len() + old.missing as usize >= payload.len() + missing as usize => {}
        _ => {
            h.queued_bytes = h.queued_bytes.saturating_add(payload.len());
            if let Some(old) = h.queue.insert(off, q) {
                h.queued_bytes = h.queued_bytes.saturating_sub(old.data.len());
            }
        }
    }
    if h.peer_acked >= off {
        fill_gap(h, dir, ts, http, out);
    }
}

/// Delivers a segment starting at stream offset `off` (≤ delivered),
/// trimming what was already delivered.
#[allow(clippy::too_many_arguments)]
fn deliver(
    h: &mut Half,
    dir: usize,
    ts: i64,
    off: i64,
    payload: &[u8],
    missing: u32,
    http: &mut HttpConn,
    out: &mut Out<'_>,
) {
    let skip = (h.delivered as i64).saturating_sub(off).max(0) as u64;
    if skip < payload.len() as u64 {
        let fresh = &payload[skip as usize..];
        http.data(dir, ts, fresh, out);
        h.delivered = h.delivered.saturating_add(fresh.len() as u64);
    }
    let end = off
        .saturating_add(payload.len() as i64)
        .saturating_add(i64::from(missing));
    if end > h.delivered as i64 {
        let lost = end as u64 - h.delivered;
        http.gap(dir, lost, out);
        h.delivered = end as u64;
    }
}

/// Delivers queued segments that have become contiguous.
fn drain(h: &mut Half, dir: usize, http: &mut HttpConn, out: &mut Out<'_>) {
    while let Some(entry) = h.queue.first_entry() {
        if *entry.key() > h.delivered {
            return;
        }
        let off = *entry.key();
        let q = entry.remove();
        h.queued_bytes = h.queued_bytes.saturating_sub(q.data.len());
        deliver(h, dir, q.ts, off as i64, &q.data, q.missing, http, out);
        check_fin(h, dir, q.ts, http, out);
    }
}

/// Declares the hole before the first queued segment lost, then drains.
fn fill_gap(h: &mut Half, dir: usize, ts: i64, http: &mut HttpConn, out: &mut Out<'_>) {
    let Some((&first, _)) = h.queue.first_key_value() else {
        return;
    };
    if first > h.delivered {
        http.gap(dir, first - h.delivered, out);
        h.delivered = first;
    }
    drain(h, dir, http, out);
    check_fin(h, dir, ts, http, out);
}

fn check_fin(h: &mut Half, dir: usize, ts: i64, http: &mut HttpConn, out: &mut Out<'_>) {
    if let Some(at) = h.fin_at {
        if !h.fin_done && h.delivered >= at {
            h.fin_done = true;
            http.fin(dir, ts, out);
        }
    }
}
