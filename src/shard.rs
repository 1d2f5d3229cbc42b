//! `--shard K/N`: which part of a run's global schedule one process
//! sends, and which parts a merged summary covers.

/// One of N disjoint parts of a run's global schedule (`--shard K/N`).
/// Every shard computes the same global schedule from the seed and takes
/// the requests whose number (or, with `--sessions`, whose session's
/// number) is K−1 modulo N: the union of the N shards is the unsharded
/// run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based: shard `K/N` has index K−1.
    pub index: u64,
    pub count: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl Shard {
    /// The whole run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `K/N` with 1 ≤ K ≤ N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("expected K/N with 1 ≤ K ≤ N (shard K of N), e.g. 2/4; got {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u64 = k.trim().parse().map_err(|_| bad())?;
        let n: u64 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }

    /// Whether unit `u` (a request's or a session's number) is this
    /// shard's.
    pub fn takes(&self, u: u64) -> bool {
        u % self.count == self.index
    }

    /// Unit `u`'s rank among this shard's units (for splitting a shard
    /// over load threads).
    pub fn rank(&self, u: u64) -> u64 {
        u / self.count
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}
