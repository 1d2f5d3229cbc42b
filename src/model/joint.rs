//! Joint draws: the values a request's slots took together.
//!
//! A pool ([`super::pool`]) describes one slot alone. Drawn independently,
//! pools invent requests nobody sent: the `{id2}` of one recorded URL with
//! the file name of another (a 404 on a real server), `?count=true` on an
//! image it never went with, `Sec-Fetch-Dest: script` on a `.png`. So each
//! endpoint also counts its recorded **tuples**: the request's path
//! segments, its query pairs in order, and its set of modelled headers;
//! generation draws one whole tuple.
//!
//! A slot generalises to values never recorded only where the data shows
//! an open range ([`open_range`]: many distinct values, a good share of
//! them seen once — ids, cache busters). Such a slot is **open**: tuples
//! leave it empty and the value is drawn from the slot's own pool (its
//! popular values, or a fresh one of the recorded type). Every other slot
//! takes the tuple's value, so low-cardinality slots only ever produce
//! recorded combinations.
//!
//! Memory is bounded like the pools': at most [`TRACK_CAP`] tuples and
//! [`TRACK_BYTES`] of their text per endpoint. When the table fills up,
//! the positions that look open by then are generalised (their values
//! dropped from every tuple, which merges tuples), and if that is not
//! enough the rarest half is folded: folded requests are counted, but
//! their share goes to the listed tuples, never to a made-up combination.
//! Tuples are keyed by a 64-bit hash of their values (as the correlator
//! keys values), so a request that repeats a known tuple allocates nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rand::Rng;
use rustc_hash::{FxHashMap, FxHasher};

use super::pool::PoolAcc;

/// Distinct tuples tracked while streaming, per endpoint.
pub const TRACK_CAP: usize = 1024;
/// Bytes of tuple and header-set text tracked while streaming, per endpoint.
pub const TRACK_BYTES: usize = 256 * 1024;
/// Tuples kept in the model, per endpoint.
pub const TOP_K: usize = 256;
/// Distinct header sets tracked while streaming once they are counted
/// apart from the URL combinations, per endpoint.
pub const SETS_TRACK_CAP: usize = 256;
/// Header sets kept in the model, per endpoint.
pub const SETS_TOP_K: usize = 128;
/// Values longer than this are not kept in a tuple: that request draws the
/// slot from its pool.
pub const MAX_VALUE: usize = 4096;
/// A slot needs at least this many distinct values to be open.
const OPEN_MIN_DISTINCT: u64 = 16;

/// Whether a slot's values form an open range: at least 16 distinct, and
/// either a tenth of the observations were values seen only once (the
/// Good–Turing estimate of the chance that the next request brings a new
/// value) or more distinct values than a model lists tuples.
pub fn open_range(pool: &PoolAcc) -> bool {
    let (distinct, once) = pool.novelty();
    open_counts(distinct, once, pool.total())
}

/// [`open_range`] from the counts: distinct values, values seen once,
/// observations.
pub fn open_counts(distinct: u64, once: u64, total: u64) -> bool {
    distinct >= OPEN_MIN_DISTINCT && (once * 10 >= total || distinct > TOP_K as u64)
}

/// Which positions are open: path positions (segment index while
/// streaming, path slot index in a finished [`Joint`]), query names,
/// header names (lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Open {
    pub path: Vec<bool>,
    pub query: BTreeSet<String>,
    pub headers: BTreeSet<String>,
}

impl Open {
    pub fn path(&self, k: usize) -> bool {
        self.path.get(k).copied().unwrap_or(false)
    }

    fn header(&self, name: &str) -> bool {
        !self.headers.is_empty() && self.headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    pub fn union(&mut self, o: &Open) {
        if self.path.len() < o.path.len() {
            self.path.resize(o.path.len(), false);
        }
        for (mine, theirs) in self.path.iter_mut().zip(&o.path) {
            *mine |= theirs;
        }
        self.query.extend(o.query.iter().cloned());
        self.headers.extend(o.headers.iter().cloned());
    }
}

/// Names and values in recorded order (query pairs, a header set); a
/// `None` value is drawn from the pool of that name.
pub type Pairs = Vec<(String, Option<String>)>;

/// A position of a request: a path segment, a query name, a header name
/// (lower case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Pos {
    Path(usize),
    Query(String),
    Header(String),
}

/// A value in a tuple; `None`: drawn from the slot's pool.
type Val = Option<Box<str>>;
type HeaderSet = [(Box<str>, Val)];

#[derive(Debug, Clone)]
struct Entry {
    path: Box<[Val]>,
    query: Box<[(Box<str>, Val)]>,
    /// Empty when header sets are counted apart.
    headers: Arc<HeaderSet>,
    count: u64,
}

impl Entry {
    fn bytes(&self) -> usize {
        let v = |v: &Val| v.as_ref().map_or(0, |s| s.len()) + 16;
        self.path.iter().map(v).sum::<usize>()
            + self
                .query
                .iter()
                .map(|(n, x)| n.len() + v(x))
                .sum::<usize>()
            + 48
    }
}

fn set_bytes(set: &HeaderSet) -> usize {
    set.iter()
        .map(|(n, v)| n.len() + v.as_ref().map_or(0, |s| s.len()) + 32)
        .sum::<usize>()
        + 32
}

/// A value as the current view keeps it: `None` when open or too long.
fn view(open: bool, v: &str) -> Option<&str> {
    (!open && v.len() <= MAX_VALUE).then_some(v)
}

fn hash_val(h: &mut FxHasher, v: Option<&str>) {
    match v {
        Some(s) => {
            h.write_u8(1);
            s.hash(h);
        }
        None => h.write_u8(0),
    }
}

fn hash_set(set: &HeaderSet) -> u64 {
    let mut h = FxHasher::default();
    for (n, v) in set {
        n.hash(&mut h);
        hash_val(&mut h, v.as_deref());
    }
    h.finish()
}

/// The key of a tuple: its path and query values, and its header set's
/// hash (0 when header sets are counted apart).
fn hash_tuple<'a>(
    path: impl Iterator<Item = Option<&'a str>>,
    query: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    set: u64,
) -> u64 {
    let mut h = FxHasher::default();
    for v in path {
        hash_val(&mut h, v);
    }
    h.write_u8(0xff);
    for (n, v) in query {
        n.hash(&mut h);
        hash_val(&mut h, v);
    }
    h.write_u64(set);
    h.finish()
}

/// The tuples of one endpoint, while a capture streams in.
#[derive(Debug, Clone, Default)]
pub struct JointAcc {
    entries: FxHashMap<u64, Entry>,
    /// Header sets by hash: shared by the entries that carry them, or,
    /// once counted apart, with their own counts.
    sets: FxHashMap<u64, (Arc<HeaderSet>, u64)>,
    bytes: usize,
    /// Requests whose tuple was folded out of `entries`.
    folded: u64,
    /// Requests whose header set was folded out of `sets` (apart only).
    sets_folded: u64,
    total: u64,
    /// Positions generalised while streaming (they stay open).
    open: Open,
    /// Header sets are counted apart from the URL combinations: the
    /// recording had more combinations of both than the table holds.
    apart: bool,
}

impl JointAcc {
    pub fn new() -> Self {
        Self::default()
    }

    /// Positions generalised while streaming.
    pub fn open(&self) -> &Open {
        &self.open
    }

    /// Counts one request: its path segments, query pairs (scrubbed) and
    /// modelled headers (scrubbed), in recorded order. Returns whether the
    /// table is over its bounds: the caller then calls [`Self::make_room`]
    /// with the positions that look open.
    pub fn observe<N: AsRef<str>, V: AsRef<str>, W: AsRef<str>>(
        &mut self,
        path: &[&str],
        query: &[(N, V)],
        headers: &[(&str, W)],
    ) -> bool {
        self.total += 1;
        let open = &self.open;
        let mut h = FxHasher::default();
        for (header, value) in headers {
            let value = value.as_ref();
            header.hash(&mut h);
            hash_val(&mut h, view(open.header(header), value));
        }
        let set_hash = h.finish();
        let key = hash_tuple(
            path.iter().enumerate().map(|(k, s)| view(open.path(k), s)),
            query
                .iter()
                .map(|(n, v)| (n.as_ref(), v.as_ref()))
                .map(|(n, v)| (n, view(open.query.contains(n), v))),
            if self.apart { 0 } else { set_hash },
        );
        let make_set = |open: &Open| -> Arc<HeaderSet> {
            headers
                .iter()
                .map(|(n, v)| {
                    let v = view(open.header(n), v.as_ref());
                    (Box::from(*n), v.map(Box::from))
                })
                .collect()
        };
        if self.apart {
            if let Some(s) = self.sets.get_mut(&set_hash) {
                s.1 += 1;
            } else {
                let set = make_set(&self.open);
                self.bytes += set_bytes(&set);
                self.sets.insert(set_hash, (set, 1));
            }
        }
        if let Some(e) = self.entries.get_mut(&key) {
            e.count += 1;
            return self.over();
        }
        let headers = if self.apart {
            Arc::from(Vec::new())
        } else if let Some(s) = self.sets.get(&set_hash) {
            s.0.clone()
        } else {
            let set = make_set(&self.open);
            self.bytes += set_bytes(&set);
            self.sets.insert(set_hash, (set.clone(), 0));
            set
        };
        let open = &self.open;
        let boxed = |v: Option<&str>| v.map(Box::from);
        let entry = Entry {
            path: path
                .iter()
                .enumerate()
                .map(|(k, s)| boxed(view(open.path(k), s)))
                .collect(),
            query: query
                .iter()
                .map(|(n, v)| {
                    let (n, v) = (n.as_ref(), v.as_ref());
                    (Box::from(n), boxed(view(open.query.contains(n), v)))
                })
                .collect(),
            headers,
            count: 1,
        };
        self.bytes += entry.bytes();
        self.entries.insert(key, entry);
        self.over()
    }

    /// Header sets tied to tuples are bounded by the tuples; apart, by
    /// their own cap.
    fn over(&self) -> bool {
        self.entries.len() > TRACK_CAP
            || (self.apart && self.sets.len() > SETS_TRACK_CAP)
            || self.bytes > TRACK_BYTES
    }

    fn three_quarters_full(&self) -> bool {
        self.entries.len() * 4 > TRACK_CAP * 3
            || (self.apart && self.sets.len() * 4 > SETS_TRACK_CAP * 3)
            || self.bytes * 4 > TRACK_BYTES * 3
    }

    /// Makes room in a full table, losing as little as it can. First the
    /// positions in `candidates` (those that look open by now) are
    /// generalised for good, one at a time, the one with the most distinct
    /// values in the table first, until the table is at most three
    /// quarters full: a position that looks open early in a capture (every
    /// value new) may not at the end, so no more are generalised than
    /// needed. Then, if it is still that full, header sets are counted
    /// apart from the URL combinations (each still a recorded set, no
    /// longer tied to the URL); then the rarest half is folded.
    pub fn make_room(&mut self, candidates: &Open) {
        for pos in self.by_spread(candidates) {
            if !self.three_quarters_full() {
                break;
            }
            match pos {
                Pos::Path(k) => {
                    if self.open.path.len() <= k {
                        self.open.path.resize(k + 1, false);
                    }
                    self.open.path[k] = true;
                }
                Pos::Query(n) => {
                    self.open.query.insert(n);
                }
                Pos::Header(n) => {
                    self.open.headers.insert(n);
                }
            }
            self.rekey();
        }
        if self.three_quarters_full() && !self.apart && self.sets.len() > 1 {
            self.set_apart();
        }
        if self.three_quarters_full() {
            self.fold_rarest();
        }
    }

    /// Adds another endpoint's tuples (two accumulators merged because
    /// their paths turned out to be one template).
    pub fn merge(&mut self, mut other: JointAcc) {
        if other.apart && !self.apart {
            self.set_apart();
        } else if self.apart && !other.apart {
            other.set_apart();
        }
        self.total += other.total;
        self.folded += other.folded;
        self.sets_folded += other.sets_folded;
        self.open.union(&other.open);
        for (_, (set, count)) in other.sets {
            self.add_set(&set, count);
        }
        for e in other.entries.into_values() {
            self.insert(e);
        }
        self.rekey();
        if self.over() {
            self.fold_rarest();
        }
    }

    /// The candidates not open yet, the one with the most distinct values
    /// among the tracked tuples first (ties in position order).
    fn by_spread(&self, candidates: &Open) -> Vec<Pos> {
        let mut spread: BTreeMap<Pos, rustc_hash::FxHashSet<u64>> = BTreeMap::new();
        for (k, open) in candidates.path.iter().enumerate() {
            if *open && !self.open.path(k) {
                spread.insert(Pos::Path(k), Default::default());
            }
        }
        for n in candidates.query.difference(&self.open.query) {
            spread.insert(Pos::Query(n.clone()), Default::default());
        }
        for n in candidates.headers.difference(&self.open.headers) {
            spread.insert(Pos::Header(n.clone()), Default::default());
        }
        if spread.is_empty() {
            return Vec::new();
        }
        let value_hash = |v: &Val| {
            let mut h = FxHasher::default();
            hash_val(&mut h, v.as_deref());
            h.finish()
        };
        for e in self.entries.values() {
            for (k, v) in e.path.iter().enumerate() {
                if let Some(seen) = spread.get_mut(&Pos::Path(k)) {
                    seen.insert(value_hash(v));
                }
            }
            for (n, v) in e.query.iter() {
                if let Some(seen) = spread.get_mut(&Pos::Query(n.to_string())) {
                    seen.insert(value_hash(v));
                }
            }
        }
        for (set, _) in self.sets.values() {
            for (n, v) in set.iter() {
                if let Some(seen) = spread.get_mut(&Pos::Header(n.to_ascii_lowercase())) {
                    seen.insert(value_hash(v));
                }
            }
        }
        let mut order: Vec<(usize, Pos)> = spread.into_iter().map(|(p, s)| (s.len(), p)).collect();
        // Most distinct first; ties in position order (the sort is stable).
        order.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
        order.into_iter().map(|(_, p)| p).collect()
    }

    /// Counts `count` requests of header set `set` apart, as the current
    /// view sees it.
    fn add_set(&mut self, set: &HeaderSet, count: u64) {
        let cut: Vec<(Box<str>, Val)> = set
            .iter()
            .map(|(n, v)| {
                (
                    n.clone(),
                    if self.open.header(n) { None } else { v.clone() },
                )
            })
            .collect();
        let h = hash_set(&cut);
        match self.sets.get_mut(&h) {
            Some(s) => s.1 += count,
            None => {
                let set: Arc<HeaderSet> = cut.into();
                self.bytes += set_bytes(&set);
                self.sets.insert(h, (set, count));
            }
        }
    }

    /// From now on, header sets are counted apart from the URL
    /// combinations.
    fn set_apart(&mut self) {
        let mut counts: FxHashMap<u64, u64> = FxHashMap::default();
        for e in self.entries.values() {
            *counts.entry(hash_set(&e.headers)).or_insert(0) += e.count;
        }
        for (h, s) in self.sets.iter_mut() {
            s.1 = counts.get(h).copied().unwrap_or(0);
        }
        self.apart = true;
        self.rekey();
    }

    /// Rebuilds every entry (and, apart, every header set) under the
    /// current view, merging those that became equal.
    fn rekey(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        let sets = std::mem::take(&mut self.sets);
        self.bytes = 0;
        if self.apart {
            for (set, count) in sets.into_values() {
                self.add_set(&set, count);
            }
        }
        for e in entries.into_values() {
            self.insert(e);
        }
    }

    /// Inserts an entry as the current view sees it.
    fn insert(&mut self, e: Entry) {
        let open = &self.open;
        let cut = |open: bool, v: &Val| -> Val {
            if open {
                None
            } else {
                v.clone()
            }
        };
        let (headers, set_hash) = if self.apart {
            (Arc::from(Vec::new()), 0)
        } else {
            let set: Vec<(Box<str>, Val)> = e
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), cut(open.header(n), v)))
                .collect();
            let h = hash_set(&set);
            match self.sets.get(&h) {
                Some(s) => (s.0.clone(), h),
                None => {
                    let set: Arc<HeaderSet> = set.into();
                    self.bytes += set_bytes(&set);
                    self.sets.insert(h, (set.clone(), 0));
                    (set, h)
                }
            }
        };
        let open = &self.open;
        let e = Entry {
            path: e
                .path
                .iter()
                .enumerate()
                .map(|(k, v)| cut(open.path(k), v))
                .collect(),
            query: e
                .query
                .iter()
                .map(|(n, v)| (n.clone(), cut(open.query.contains(&**n), v)))
                .collect(),
            headers,
            count: e.count,
        };
        let key = hash_tuple(
            e.path.iter().map(|v| v.as_deref()),
            e.query.iter().map(|(n, v)| (&**n, v.as_deref())),
            set_hash,
        );
        match self.entries.entry(key) {
            std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().count += e.count,
            std::collections::hash_map::Entry::Vacant(v) => {
                self.bytes += e.bytes();
                v.insert(e);
            }
        }
    }

    /// Folds the rarest tuples (and, apart, header sets) until the table
    /// is at most half full.
    fn fold_rarest(&mut self) {
        let mut by_count: Vec<(u64, u64, usize)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.count, *k, e.bytes()))
            .collect();
        // Rarest first; ties by hash, so the model does not depend on the
        // map's order.
        by_count.sort_unstable();
        for (count, key, bytes) in by_count {
            if self.entries.len() * 2 <= TRACK_CAP && self.bytes * 2 <= TRACK_BYTES {
                break;
            }
            self.entries.remove(&key);
            self.folded += count;
            self.bytes -= bytes.min(self.bytes);
        }
        let mut sets: Vec<(u64, u64, usize)> = self
            .sets
            .iter()
            .map(|(k, s)| (s.1, *k, set_bytes(&s.0)))
            .collect();
        sets.sort_unstable();
        for (count, key, bytes) in sets {
            // Together, a set no tuple carries any more; apart, the rarest
            // while there are too many.
            let unused = !self.apart
                && self
                    .sets
                    .get(&key)
                    .is_some_and(|s| Arc::strong_count(&s.0) == 1);
            let too_many = self.apart
                && (self.sets.len() * 2 > SETS_TRACK_CAP || self.bytes * 2 > TRACK_BYTES);
            if unused || too_many {
                self.sets.remove(&key);
                self.sets_folded += if self.apart { count } else { 0 };
                self.bytes -= bytes.min(self.bytes);
            }
        }
    }

    /// The finished table. `slots` are the path positions that are slots
    /// in the template, in order, with their literal suffix (cut from the
    /// values); `open` the final open positions (path by segment index).
    pub fn finish(&self, slots: &[(usize, &str)], open: &Open) -> Joint {
        let cut = |open: bool, v: &Val| -> Option<String> {
            if open {
                None
            } else {
                v.as_deref().map(String::from)
            }
        };
        let cut_set = |set: &HeaderSet| -> Pairs {
            set.iter()
                .map(|(n, v)| (n.to_string(), cut(open.header(n), v)))
                .collect()
        };
        type Key = (Vec<Option<String>>, Pairs, Pairs);
        let mut grouped: BTreeMap<Key, u64> = BTreeMap::new();
        for e in self.entries.values() {
            let path = slots
                .iter()
                .map(|(k, suffix)| {
                    let v = cut(open.path(*k), e.path.get(*k).unwrap_or(&None));
                    v.map(|v| v.strip_suffix(suffix).map(String::from).unwrap_or(v))
                })
                .collect();
            let query = e
                .query
                .iter()
                .map(|(n, v)| (n.to_string(), cut(open.query.contains(&**n), v)))
                .collect();
            *grouped
                .entry((path, query, cut_set(&e.headers)))
                .or_insert(0) += e.count;
        }
        // Header sets go apart from the URL combinations when they were
        // counted apart, or when together they make more combinations (or
        // sets) than a model keeps: apart, every URL combination still
        // comes with a recorded set of the endpoint.
        let mut set_counts: BTreeMap<Pairs, u64> = BTreeMap::new();
        for ((_, _, set), c) in &grouped {
            *set_counts.entry(set.clone()).or_insert(0) += c;
        }
        let too_many = grouped.len() > TOP_K || set_counts.len() > SETS_TOP_K;
        let apart = self.apart || (too_many && set_counts.len() > 1);
        if apart {
            let mut urls: BTreeMap<Key, u64> = BTreeMap::new();
            for ((path, query, _), c) in grouped {
                *urls.entry((path, query, Vec::new())).or_insert(0) += c;
            }
            grouped = urls;
        }
        if self.apart {
            set_counts.clear();
            for (set, count) in self.sets.values() {
                *set_counts.entry(cut_set(set)).or_insert(0) += count;
            }
        }
        let listed = top(grouped, TOP_K);
        let header_sets = top(set_counts, SETS_TOP_K).0;
        let tuples = listed
            .0
            .into_iter()
            .map(|((path, query, set), count)| Tuple {
                path,
                query,
                headers: (!apart)
                    .then(|| header_sets.iter().position(|s| s.0 == set))
                    .flatten(),
                count,
            })
            .collect();
        Joint::new(
            JointOpen {
                path: slots.iter().map(|(k, _)| open.path(*k)).collect(),
                query: open.query.iter().cloned().collect(),
                headers: open.headers.iter().cloned().collect(),
            },
            header_sets,
            tuples,
            self.folded + listed.1,
        )
    }
}

/// The `k` most frequent keys, most frequent first (ties in key order),
/// and the count of the others.
fn top<K: Ord>(counts: BTreeMap<K, u64>, k: usize) -> (Vec<(K, u64)>, u64) {
    let mut listed: Vec<(K, u64)> = counts.into_iter().collect();
    // Stable: ties stay in key order.
    listed.sort_by_key(|t| std::cmp::Reverse(t.1));
    let dropped = listed.iter().skip(k).map(|t| t.1).sum();
    listed.truncate(k);
    (listed, dropped)
}

/// Open positions of a finished [`Joint`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JointOpen {
    /// Per path slot (index into `Endpoint::path_params`).
    pub path: Vec<bool>,
    /// Query names, sorted.
    pub query: Vec<String>,
    /// Header names, lower case, sorted.
    pub headers: Vec<String>,
}

/// One recorded combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuple {
    /// One value per path slot; `None`: drawn from the slot's pool.
    pub path: Vec<Option<String>>,
    /// Query pairs in recorded order; a `None` value is drawn from the
    /// pool of that name.
    pub query: Vec<(String, Option<String>)>,
    /// Index into [`Joint::header_sets`]; `None`: a set is drawn apart,
    /// by the sets' counts.
    pub headers: Option<usize>,
    pub count: u64,
}

/// An endpoint's recorded combinations of path slots, query pairs and
/// header sets (absent in models written before version 3).
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    pub open: JointOpen,
    /// Distinct header sets with the requests that carried them, most
    /// used first: names as recorded, in recorded order; a `None` value
    /// is drawn from the header's pool.
    pub header_sets: Vec<(Pairs, u64)>,
    /// Most frequent first.
    pub tuples: Vec<Tuple>,
    /// Requests whose combination is not listed (folded to bound memory):
    /// their share goes to the listed ones.
    pub tail_count: u64,
    cumulative: Vec<u64>,
    set_cumulative: Vec<u64>,
}

fn running_totals(counts: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut acc = 0u64;
    counts
        .map(|c| {
            acc = acc.saturating_add(c);
            acc
        })
        .collect()
}

/// An index drawn by the running totals' weights (one draw of `rng`).
fn draw<R: Rng + ?Sized>(cumulative: &[u64], rng: &mut R) -> Option<usize> {
    let total = cumulative.last().copied().unwrap_or(0);
    if total == 0 {
        return None;
    }
    let pick = rng.random_range(0..total);
    Some(cumulative.partition_point(|c| *c <= pick))
}

impl Joint {
    pub fn new(
        open: JointOpen,
        header_sets: Vec<(Pairs, u64)>,
        tuples: Vec<Tuple>,
        tail_count: u64,
    ) -> Joint {
        Joint {
            cumulative: running_totals(tuples.iter().map(|t| t.count)),
            set_cumulative: running_totals(header_sets.iter().map(|s| s.1)),
            open,
            header_sets,
            tuples,
            tail_count,
        }
    }

    /// Draws a recorded combination by its count (one draw of `rng`), or
    /// `None` when none is listed.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&Tuple> {
        draw(&self.cumulative, rng).and_then(|i| self.tuples.get(i))
    }

    /// The header set of a tuple: its own, or one drawn by the sets'
    /// counts when they are drawn apart (one draw of `rng`).
    pub fn headers<R: Rng + ?Sized>(&self, t: &Tuple, rng: &mut R) -> &[(String, Option<String>)] {
        let i = match t.headers {
            Some(i) => Some(i),
            None => draw(&self.set_cumulative, rng),
        };
        i.and_then(|i| self.header_sets.get(i))
            .map_or(&[], |s| s.0.as_slice())
    }

    /// Whether header sets are drawn apart from the URL combinations.
    pub fn headers_apart(&self) -> bool {
        self.tuples.iter().any(|t| t.headers.is_none())
    }

    /// Whether query parameter `name` draws from its pool.
    pub fn query_open(&self, name: &str) -> bool {
        self.open.query.iter().any(|q| q == name)
    }

    /// Whether header `name` draws from its pool.
    pub fn header_open(&self, name: &str) -> bool {
        self.open
            .headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_Q: &[(&str, &str)] = &[];
    const NO_H: &[(&str, &str)] = &[];

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn open_ranges_need_many_values_seen_rarely() {
        let pool = |values: &[(String, u64)]| {
            let mut p = PoolAcc::new();
            for (v, n) in values {
                p.observe_n(v, *n);
            }
            p
        };
        let ids: Vec<(String, u64)> = (0..500).map(|i| (i.to_string(), 1)).collect();
        assert!(open_range(&pool(&ids)));
        let three: Vec<(String, u64)> = ["07", "08", "09"]
            .iter()
            .map(|v| (v.to_string(), 1))
            .collect();
        assert!(!open_range(&pool(&three)), "three values are not a range");
        // Forty ids read ten times each: the recording saw them all.
        let forty: Vec<(String, u64)> = (0..40).map(|i| (i.to_string(), 10)).collect();
        assert!(!open_range(&pool(&forty)));
        // More distinct values than a model lists, each seen twice.
        let many: Vec<(String, u64)> = (0..400).map(|i| (i.to_string(), 2)).collect();
        assert!(open_range(&pool(&many)));
    }

    #[test]
    fn tuples_keep_what_went_together() {
        let mut j = JointAcc::new();
        for _ in 0..3 {
            j.observe(&["a", "07"], &q(&[("x", "1")]), &[("Accept", "image/png")]);
            j.observe(&["a", "08"], &q(&[("y", "2")]), &[("Accept", "text/js")]);
        }
        let f = j.finish(&[(1, "")], &Open::default());
        assert_eq!(f.tuples.len(), 2);
        assert_eq!(f.header_sets.len(), 2);
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        for t in &f.tuples {
            let accept = f.headers(t, &mut rng)[0].1.as_deref().unwrap();
            match t.path[0].as_deref() {
                Some("07") => {
                    assert_eq!(t.query, vec![("x".into(), Some("1".into()))]);
                    assert_eq!(accept, "image/png");
                }
                Some("08") => {
                    assert_eq!(t.query, vec![("y".into(), Some("2".into()))]);
                    assert_eq!(accept, "text/js");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_table_is_bounded_and_generalises_open_positions() {
        let mut j = JointAcc::new();
        let mut pool = PoolAcc::new();
        for i in 0..100_000u64 {
            let id = i.to_string();
            let page = (i % 3).to_string();
            pool.observe(&id);
            if j.observe(&["posts", &id], &q(&[("page", &page)]), NO_H) {
                let open = Open {
                    path: vec![false, open_range(&pool)],
                    ..Default::default()
                };
                j.make_room(&open);
            }
            assert!(j.entries.len() <= TRACK_CAP + 1);
        }
        assert!(j.open().path(1));
        let f = j.finish(&[(1, "")], j.open());
        // Only the page varies jointly: three tuples, the id drawn apart.
        assert_eq!(f.tuples.len(), 3, "{:?}", f.tuples);
        assert!(f.tuples.iter().all(|t| t.path == vec![None]));
        assert_eq!(
            f.tuples.iter().map(|t| t.count).sum::<u64>() + f.tail_count,
            100_000
        );
    }

    /// Early in a capture 200 file names still look like an open range
    /// (most seen once so far), and so does a request id; generalising
    /// the request id alone makes room, so the file names stay closed.
    #[test]
    fn only_as_many_positions_are_generalised_as_needed() {
        let mut j = JointAcc::new();
        for i in 0..5000u64 {
            let file = format!("f{}", (i * 37) % 200);
            let id = format!("req-{i}");
            if j.observe(&["static", &file], NO_Q, &[("X-Request-Id", &id)]) {
                j.make_room(&Open {
                    path: vec![false, true],
                    headers: ["x-request-id".to_string()].into(),
                    ..Default::default()
                });
            }
        }
        assert!(j.open().headers.contains("x-request-id"));
        assert!(!j.open().path(1), "{:?}", j.open());
        let f = j.finish(&[(1, "")], j.open());
        assert_eq!(f.tuples.len(), 200);
        assert_eq!(f.tail_count, 0);
    }

    #[test]
    fn folding_keeps_only_recorded_tuples_and_counts_the_rest() {
        let mut j = JointAcc::new();
        // Many closed combinations: more than the table holds.
        for i in 0..5000u64 {
            let a = (i % 50).to_string();
            let b = (i % 97).to_string();
            if j.observe(&[&a, &b], NO_Q, NO_H) {
                j.make_room(&Open::default());
            }
        }
        let f = j.finish(&[(0, ""), (1, "")], &Open::default());
        assert!(f.tuples.len() <= TOP_K);
        for t in &f.tuples {
            let a: u64 = t.path[0].as_deref().unwrap().parse().unwrap();
            let b: u64 = t.path[1].as_deref().unwrap().parse().unwrap();
            // Recorded: some i < 5000 with i ≡ a (mod 50), i ≡ b (mod 97).
            assert!((0..5000u64).any(|i| i % 50 == a && i % 97 == b));
        }
        assert_eq!(
            f.tuples.iter().map(|t| t.count).sum::<u64>() + f.tail_count,
            5000
        );
    }

    /// Paths and header sets that vary independently make more
    /// combinations than the table holds: header sets are then counted
    /// apart (each still a recorded set), and every path is kept.
    #[test]
    fn too_many_combinations_count_header_sets_apart() {
        let mut j = JointAcc::new();
        let agents: Vec<String> = (0..40).map(|i| format!("agent/{i}")).collect();
        let mut n = 0u64;
        for round in 0..20u64 {
            for file in 0..200u64 {
                let seg = format!("f{file}");
                let ua = &agents[((file * 7 + round * 13) % 40) as usize];
                n += 1;
                if j.observe(
                    &["static", &seg],
                    NO_Q,
                    &[("User-Agent", ua.as_str()), ("Accept", "*/*")],
                ) {
                    j.make_room(&Open::default());
                }
            }
        }
        assert!(j.apart);
        let f = j.finish(&[(1, "")], &Open::default());
        assert!(f.headers_apart());
        assert_eq!(f.tuples.len(), 200, "every file is kept");
        assert_eq!(f.tail_count, 0);
        assert_eq!(f.header_sets.len(), 40);
        assert_eq!(f.header_sets.iter().map(|s| s.1).sum::<u64>(), n);
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        for t in f.tuples.iter().take(20) {
            let set = f.headers(t, &mut rng);
            assert_eq!(set.len(), 2);
            let ua = set[0].1.as_deref().unwrap();
            assert!(agents.iter().any(|a| a == ua), "{ua}");
        }
    }

    /// 20 pages × 20 user agents fit the streaming table but not a
    /// model's 256 combinations: the model draws the sets apart rather
    /// than drop URL combinations.
    #[test]
    fn combinations_over_the_model_cap_draw_header_sets_apart() {
        let mut j = JointAcc::new();
        for page in 0..20 {
            for ua in 0..20 {
                let (page, ua) = (format!("p{page}"), format!("agent/{ua}"));
                assert!(!j.observe(&[&page], NO_Q, &[("User-Agent", &ua)]));
            }
        }
        assert!(!j.apart);
        let f = j.finish(&[(0, "")], &Open::default());
        assert!(f.headers_apart());
        assert_eq!(
            (f.tuples.len(), f.header_sets.len(), f.tail_count),
            (20, 20, 0)
        );
    }

    #[test]
    fn merge_adds_counts_and_keeps_open_positions() {
        let mut a = JointAcc::new();
        let mut b = JointAcc::new();
        a.observe(&["x"], &q(&[("t", "1")]), NO_H);
        // A cache buster: `t` fills b's table and is generalised.
        for i in 0..=TRACK_CAP {
            if b.observe(&["y"], &q(&[("t", &i.to_string())]), NO_H) {
                b.make_room(&Open {
                    query: ["t".to_string()].into(),
                    ..Default::default()
                });
            }
        }
        assert!(b.open().query.contains("t"));
        a.merge(b);
        let f = a.finish(&[(0, "")], a.open());
        assert_eq!(f.open.query, vec!["t".to_string()]);
        assert_eq!(f.tuples.len(), 2);
        assert!(f.tuples.iter().all(|t| t.query == vec![("t".into(), None)]));
        assert_eq!(
            f.tuples.iter().map(|t| t.count).sum::<u64>(),
            TRACK_CAP as u64 + 2
        );
    }
}
