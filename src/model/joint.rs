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

    fn covers(&self, o: &Open) -> bool {
        o.path.iter().enumerate().all(|(k, v)| !v || self.path(k))
            && o.query.is_subset(&self.query)
            && o.headers.is_subset(&self.headers)
    }
}

/// Names and values in recorded order (query pairs, a header set); a
/// `None` value is drawn from the pool of that name.
pub type Pairs = Vec<(String, Option<String>)>;

/// A value in a tuple; `None`: drawn from the slot's pool.
type Val = Option<Box<str>>;
type HeaderSet = [(Box<str>, Val)];

#[derive(Debug, Clone)]
struct Entry {
    path: Box<[Val]>,
    query: Box<[(Box<str>, Val)]>,
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
        .sum()
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

/// The tuples of one endpoint, while a capture streams in.
#[derive(Debug, Clone, Default)]
pub struct JointAcc {
    entries: FxHashMap<u64, Entry>,
    /// Header sets shared by the entries that carry them, by hash.
    sets: FxHashMap<u64, Arc<HeaderSet>>,
    bytes: usize,
    /// Requests whose tuple was folded out of `entries`.
    folded: u64,
    total: u64,
    /// Positions generalised while streaming (they stay open).
    open: Open,
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
    pub fn observe(
        &mut self,
        path: &[&str],
        query: &[(String, String)],
        headers: &[(&str, &str)],
    ) -> bool {
        self.total += 1;
        let open = &self.open;
        let mut h = FxHasher::default();
        for (header, value) in headers {
            header.hash(&mut h);
            hash_val(&mut h, view(open.header(header), value));
        }
        let set_hash = h.finish();
        let mut h = FxHasher::default();
        for (k, seg) in path.iter().enumerate() {
            hash_val(&mut h, view(open.path(k), seg));
        }
        h.write_u8(0xff);
        for (name, value) in query {
            name.hash(&mut h);
            hash_val(&mut h, view(open.query.contains(name), value));
        }
        h.write_u64(set_hash);
        let key = h.finish();
        if let Some(e) = self.entries.get_mut(&key) {
            e.count += 1;
            return false;
        }
        let boxed = |v: Option<&str>| v.map(Box::from);
        let headers = match self.sets.get(&set_hash) {
            Some(s) => s.clone(),
            None => {
                let set: Arc<HeaderSet> = headers
                    .iter()
                    .map(|(n, v)| (Box::from(*n), boxed(view(open.header(n), v))))
                    .collect();
                self.bytes += set_bytes(&set);
                self.sets.insert(set_hash, set.clone());
                set
            }
        };
        let entry = Entry {
            path: path
                .iter()
                .enumerate()
                .map(|(k, s)| boxed(view(open.path(k), s)))
                .collect(),
            query: query
                .iter()
                .map(|(n, v)| {
                    let v = boxed(view(open.query.contains(n), v));
                    (Box::from(n.as_str()), v)
                })
                .collect(),
            headers,
            count: 1,
        };
        self.bytes += entry.bytes();
        self.entries.insert(key, entry);
        self.over()
    }

    fn over(&self) -> bool {
        self.entries.len() > TRACK_CAP || self.bytes > TRACK_BYTES
    }

    /// Generalises the positions in `open` (for good), then folds the
    /// rarest half of the tuples if the table is still too full.
    pub fn make_room(&mut self, open: &Open) {
        if !self.open.covers(open) {
            self.open.union(open);
            self.rekey();
        }
        if self.entries.len() * 4 > TRACK_CAP * 3 || self.bytes * 4 > TRACK_BYTES * 3 {
            self.fold_rarest();
        }
    }

    /// Adds another endpoint's tuples (two accumulators merged because
    /// their paths turned out to be one template).
    pub fn merge(&mut self, other: JointAcc) {
        self.total += other.total;
        self.folded += other.folded;
        let widened = !self.open.covers(&other.open);
        self.open.union(&other.open);
        for e in other.entries.into_values() {
            self.insert(e);
        }
        if widened {
            self.rekey();
        }
        if self.over() {
            self.fold_rarest();
        }
    }

    /// Rebuilds every entry under the current open positions, merging
    /// those that became equal.
    fn rekey(&mut self) {
        let entries = std::mem::take(&mut self.entries);
        self.sets.clear();
        self.bytes = 0;
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
        let set: Vec<(Box<str>, Val)> = e
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), cut(open.header(n), v)))
            .collect();
        let set_hash = hash_set(&set);
        let headers = match self.sets.get(&set_hash) {
            Some(s) => s.clone(),
            None => {
                let set: Arc<HeaderSet> = set.into();
                self.bytes += set_bytes(&set);
                self.sets.insert(set_hash, set.clone());
                set
            }
        };
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
        let mut h = FxHasher::default();
        for v in e.path.iter() {
            hash_val(&mut h, v.as_deref());
        }
        h.write_u8(0xff);
        for (n, v) in e.query.iter() {
            n.hash(&mut h);
            hash_val(&mut h, v.as_deref());
        }
        h.write_u64(set_hash);
        match self.entries.entry(h.finish()) {
            std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().count += e.count,
            std::collections::hash_map::Entry::Vacant(v) => {
                self.bytes += e.bytes();
                v.insert(e);
            }
        }
    }

    /// Folds the rarest tuples until the table is at most half full.
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
        // Header sets no tuple carries any more.
        let mut freed = 0;
        self.sets.retain(|_, s| {
            let keep = Arc::strong_count(s) > 1;
            if !keep {
                freed += set_bytes(s);
            }
            keep
        });
        self.bytes -= freed.min(self.bytes);
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
            let headers = e
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), cut(open.header(n), v)))
                .collect();
            *grouped.entry((path, query, headers)).or_insert(0) += e.count;
        }
        let mut listed: Vec<(Key, u64)> = grouped.into_iter().collect();
        // Most frequent first; ties in key order (the sort is stable).
        listed.sort_by_key(|t| std::cmp::Reverse(t.1));
        let dropped: u64 = listed.iter().skip(TOP_K).map(|t| t.1).sum();
        listed.truncate(TOP_K);
        // Header sets, most used first.
        let mut set_counts: BTreeMap<&Pairs, u64> = BTreeMap::new();
        for ((_, _, set), c) in &listed {
            *set_counts.entry(set).or_insert(0) += c;
        }
        let mut sets: Vec<(&Pairs, u64)> = set_counts.into_iter().collect();
        sets.sort_by_key(|t| std::cmp::Reverse(t.1));
        let header_sets: Vec<Pairs> = sets.into_iter().map(|(s, _)| s.clone()).collect();
        let tuples = listed
            .into_iter()
            .map(|((path, query, set), count)| Tuple {
                path,
                query,
                headers: header_sets.iter().position(|s| *s == set).unwrap_or(0),
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
            self.folded + dropped,
        )
    }
}

fn hash_set(set: &[(Box<str>, Val)]) -> u64 {
    let mut h = FxHasher::default();
    for (n, v) in set {
        n.hash(&mut h);
        hash_val(&mut h, v.as_deref());
    }
    h.finish()
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
    pub query: Pairs,
    /// Index into [`Joint::header_sets`].
    pub headers: usize,
    pub count: u64,
}

/// An endpoint's recorded combinations of path slots, query pairs and
/// header sets (absent in models written before version 3).
#[derive(Debug, Clone, PartialEq)]
pub struct Joint {
    pub open: JointOpen,
    /// Distinct header sets, most used first: names as recorded, in
    /// recorded order; a `None` value is drawn from the header's pool.
    pub header_sets: Vec<Pairs>,
    /// Most frequent first.
    pub tuples: Vec<Tuple>,
    /// Requests whose combination is not listed (folded to bound memory):
    /// their share goes to the listed ones.
    pub tail_count: u64,
    cumulative: Vec<u64>,
}

impl Joint {
    pub fn new(
        open: JointOpen,
        header_sets: Vec<Pairs>,
        tuples: Vec<Tuple>,
        tail_count: u64,
    ) -> Joint {
        let mut acc = 0u64;
        let cumulative = tuples
            .iter()
            .map(|t| {
                acc = acc.saturating_add(t.count);
                acc
            })
            .collect();
        Joint {
            open,
            header_sets,
            tuples,
            tail_count,
            cumulative,
        }
    }

    /// Draws a recorded combination by its count (one draw of `rng`), or
    /// `None` when none is listed.
    pub fn pick<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<&Tuple> {
        let total = self.cumulative.last().copied().unwrap_or(0);
        if total == 0 {
            return None;
        }
        let draw = rng.random_range(0..total);
        self.tuples
            .get(self.cumulative.partition_point(|c| *c <= draw))
    }

    /// The header set of a tuple.
    pub fn headers(&self, t: &Tuple) -> &[(String, Option<String>)] {
        self.header_sets.get(t.headers).map_or(&[], Vec::as_slice)
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
        for t in &f.tuples {
            let accept = f.headers(t)[0].1.as_deref().unwrap();
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
            if j.observe(&["posts", &id], &q(&[("page", &page)]), &[]) {
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

    #[test]
    fn folding_keeps_only_recorded_tuples_and_counts_the_rest() {
        let mut j = JointAcc::new();
        // Many closed combinations: more than the table holds.
        for i in 0..5000u64 {
            let a = (i % 50).to_string();
            let b = (i % 97).to_string();
            if j.observe(&[&a, &b], &[], &[]) {
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

    #[test]
    fn merge_adds_counts_and_keeps_open_positions() {
        let mut a = JointAcc::new();
        let mut b = JointAcc::new();
        a.observe(&["x"], &q(&[("t", "1")]), &[]);
        b.observe(&["y"], &q(&[("t", "2")]), &[]);
        b.make_room(&Open {
            query: ["t".to_string()].into(),
            ..Default::default()
        });
        a.merge(b);
        let f = a.finish(&[(0, "")], a.open());
        assert_eq!(f.open.query, vec!["t".to_string()]);
        assert_eq!(f.tuples.len(), 2);
        assert!(f.tuples.iter().all(|t| t.query == vec![("t".into(), None)]));
    }
}
