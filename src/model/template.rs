//! Path template inference.
//!
//! Paths go into a trie per origin, one node per segment. A segment that is
//! an integer, UUID, hex id or date goes to a typed slot child straight
//! away (`/posts/17` and `/posts/4242` share `/posts/{id}`). Other segments
//! stay literal until their position proves to be high-cardinality under
//! the same prefix — many distinct values each seen rarely, leading to the
//! same continuations (`/users/alice/avatar`, `/users/bob/avatar`, … →
//! `/users/{slug}/avatar`) — while popular literals at the same spot stay
//! (`/api/v1/users/me`), and so do rare ones that lead elsewhere. A node whose literal
//! children exceed a cap is collapsed while streaming, so memory stays
//! bounded whatever the number of distinct paths.
//!
//! Resources of different types never share a slot: a segment with a file
//! extension (`logo.png`, `app.min.js`) only merges with segments of the
//! same extension, and the extension stays literal in the template
//! (`/static/{slug}.png` beside `/static/{slug}.js`); the slot's values
//! are the stems (`logo`), so a value drawn for it keeps its type.
//!
//! Leaves hold caller-owned accumulator ids per method; when two subtrees
//! merge, the caller is told which accumulator merges into which.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::pool::{kind_of, PoolAcc, ValueKind};

/// Literal children a node may hold before it is collapsed while streaming.
const LITERAL_CAP: usize = 256;
/// Literal siblings sharing a continuation (three quarters of them rare)
/// needed to start a slot.
const MIN_ID_SIBLINGS: usize = 8;
/// Slots per node, one per file extension (and one for none); segments
/// with further extensions go to the slot without one, whole.
const MAX_WILDS: usize = 16;
/// The longest extension kept apart (`.jpeg`, `.woff2`, `.webmanifest` is not).
const MAX_EXTENSION: usize = 6;

/// The file extension of a path segment, with its dot (`.png` for
/// `logo.png`, `.js` for `app.min.js`), or `""`: one to six ASCII
/// alphanumerics with at least one letter after the last dot, and a
/// non-empty stem before it (`v1.2`, `.env` and `a.` have none).
pub fn extension(seg: &str) -> &str {
    let Some(dot) = seg.rfind('.') else {
        return "";
    };
    let ext = &seg[dot + 1..];
    let ok = dot > 0
        && (1..=MAX_EXTENSION).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && ext.bytes().any(|b| b.is_ascii_alphabetic());
    if ok {
        &seg[dot..]
    } else {
        ""
    }
}

pub type NodeId = usize;

/// What a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Root,
    Literal(String),
    Typed(ValueKind),
    /// Collapsed high-cardinality literals that end with this extension
    /// (`""`: without one, or any when the node has too many).
    Wild(String),
}

#[derive(Debug, Default)]
struct Node {
    kind: Option<NodeKind>,
    literals: rustc_hash::FxHashMap<String, NodeId>,
    typed: BTreeMap<ValueKind, NodeId>,
    /// Slots of collapsed literals, by extension (`""`: none).
    wilds: BTreeMap<String, NodeId>,
    /// Requests whose path passed through this node.
    hits: u64,
    /// Values seen at this position (slot nodes only; stems, for a slot
    /// with an extension).
    values: PoolAcc,
    /// Accumulator id per method for paths ending here.
    leaves: Vec<(String, u32)>,
    /// Dead after being merged into another node.
    dead: bool,
}

/// One finished template: its segments and the leaf accumulators.
#[derive(Debug, Clone)]
pub struct TemplateLeaf {
    pub origin: (String, String),
    pub segments: Vec<TemplateSegment>,
    pub leaves: Vec<(String, u32)>,
}

#[derive(Debug, Clone)]
pub enum TemplateSegment {
    Literal(String),
    /// A slot; `suffix` is the literal extension after it (`.png`) or `""`.
    Slot {
        name: String,
        values: PoolAcc,
        suffix: String,
    },
}

impl TemplateLeaf {
    /// `/posts/{id}`.
    pub fn template(&self) -> String {
        render(&self.segments)
    }
}

/// Renders segments as a template string.
pub fn render(segments: &[TemplateSegment]) -> String {
    let mut s = String::new();
    for seg in segments {
        s.push('/');
        match seg {
            TemplateSegment::Literal(l) => s.push_str(l),
            TemplateSegment::Slot { name, suffix, .. } => {
                s.push('{');
                s.push_str(name);
                s.push('}');
                s.push_str(suffix);
            }
        }
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// Splits a path into segments: `/a/b/` → `["a", "b", ""]`, `/` → `[]`.
pub fn split_path(path: &str) -> impl Iterator<Item = &str> {
    let p = path.strip_prefix('/').unwrap_or(path);
    // `p.split('/')` with memchr: paths are short, and the char searcher's
    // per-call setup cost more than the scan. '/' is ASCII, so every cut
    // is on a char boundary.
    let mut rest = (!p.is_empty()).then_some(p);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'/', r.as_bytes()) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// The trie of all paths seen, per origin (scheme, authority).
#[derive(Debug, Default)]
pub struct PathTrie {
    nodes: Vec<Node>,
    roots: BTreeMap<(String, String), NodeId>,
    last_root: Option<(String, String, NodeId)>,
}

impl PathTrie {
    pub fn new() -> Self {
        Self::default()
    }

    fn new_node(&mut self, kind: NodeKind) -> NodeId {
        self.nodes.push(Node {
            kind: Some(kind),
            ..Default::default()
        });
        self.nodes.len() - 1
    }

    /// Walks (and extends) the trie along `path` and returns the leaf node.
    /// `merge(from, into)` is called when accumulators must be combined
    /// because a node was collapsed.
    pub fn insert(
        &mut self,
        scheme: &str,
        authority: &str,
        path: &str,
        merge: &mut dyn FnMut(u32, u32),
    ) -> NodeId {
        // Captures usually talk to one or two origins: skip building the
        // key when the origin is the previous one.
        let root = match &self.last_root {
            // Byte equality first: the authority is usually spelled the
            // same every time, and memcmp beats a case-folding loop.
            Some((sch, auth, id))
                if sch == scheme && (auth == authority || auth.eq_ignore_ascii_case(authority)) =>
            {
                *id
            }
            _ => {
                let key = (scheme.to_string(), authority.to_ascii_lowercase());
                let r = match self.roots.get(&key) {
                    Some(r) => *r,
                    None => {
                        let r = self.new_node(NodeKind::Root);
                        self.roots.insert(key.clone(), r);
                        r
                    }
                };
                self.last_root = Some((key.0, key.1, r));
                r
            }
        };
        let mut node = root;
        self.nodes[node].hits += 1;
        for seg in split_path(path) {
            node = self.child(node, seg, merge);
            self.nodes[node].hits += 1;
        }
        node
    }

    fn child(&mut self, node: NodeId, seg: &str, merge: &mut dyn FnMut(u32, u32)) -> NodeId {
        let kind = kind_of(seg);
        if kind != ValueKind::Text {
            let id = match self.nodes[node].typed.get(&kind) {
                Some(id) => *id,
                None => {
                    let id = self.new_node(NodeKind::Typed(kind));
                    self.nodes[node].typed.insert(kind, id);
                    id
                }
            };
            self.nodes[id].values.observe(seg);
            return id;
        }
        if let Some(id) = self.nodes[node].literals.get(seg) {
            return *id;
        }
        if let Some((w, value)) = self.existing_wild(node, seg) {
            self.nodes[w].values.observe(value);
            return w;
        }
        let id = self.new_node(NodeKind::Literal(seg.to_string()));
        self.nodes[node].literals.insert(seg.to_string(), id);
        if self.nodes[node].literals.len() > LITERAL_CAP {
            self.collapse(node, merge, true);
            // The new segment may have been folded into a wild child.
            if let Some(id) = self.nodes[node].literals.get(seg) {
                return *id;
            }
            let (w, value) = self
                .existing_wild(node, seg)
                .expect("collapse folds into a wild child");
            // The new literal had no hits yet when it was folded: count
            // this observation in the slot's pool.
            self.nodes[w].values.observe(value);
            return w;
        }
        id
    }

    /// The wild child of `node` that takes `seg`, and the value it stores
    /// (the stem, when the child is for `seg`'s extension).
    fn existing_wild<'s>(&self, node: NodeId, seg: &'s str) -> Option<(NodeId, &'s str)> {
        let wilds = &self.nodes[node].wilds;
        let ext = extension(seg);
        if let Some(w) = wilds.get(ext) {
            return Some((*w, &seg[..seg.len() - ext.len()]));
        }
        // A node with too many extensions folds the rest, whole, into the
        // slot without one (the last one it may have).
        if wilds.len() + 1 >= MAX_WILDS {
            return wilds.get("").map(|w| (*w, seg));
        }
        None
    }

    /// The wild child for `seg`, made when missing, and its value.
    fn wild_for<'s>(&mut self, node: NodeId, seg: &'s str) -> (NodeId, &'s str) {
        if let Some(found) = self.existing_wild(node, seg) {
            return found;
        }
        let ext = extension(seg);
        let (ext, value) = if self.nodes[node].wilds.len() + 1 >= MAX_WILDS {
            ("", seg)
        } else {
            (ext, &seg[..seg.len() - ext.len()])
        };
        debug_assert!(!self.nodes[node].wilds.contains_key(ext));
        let w = self.new_node(NodeKind::Wild(ext.to_string()));
        self.nodes[node].wilds.insert(ext.to_string(), w);
        (w, value)
    }

    /// Registers the accumulator for `method` at `leaf`, or returns the one
    /// already there.
    pub fn leaf_acc(&mut self, leaf: NodeId, method: &str, make: &mut dyn FnMut() -> u32) -> u32 {
        if let Some((_, id)) = self.nodes[leaf].leaves.iter().find(|(m, _)| m == method) {
            return *id;
        }
        let id = make();
        self.nodes[leaf].leaves.push((method.to_string(), id));
        id
    }

    /// Folds literal children that stand for ids of `node` into its wild
    /// children, each into the one of its extension. With `streaming`, at
    /// least three quarters of the literals are folded (the cap was hit);
    /// otherwise see [`Self::like_ids`], per extension.
    fn collapse(&mut self, node: NodeId, merge: &mut dyn FnMut(u32, u32), streaming: bool) {
        let fold: Vec<(String, NodeId, u64)> = if streaming {
            let mut lits: Vec<(String, NodeId, u64)> = self.nodes[node]
                .literals
                .iter()
                .map(|(k, id)| (k.clone(), *id, self.nodes[*id].hits))
                .collect();
            // Keep the most popular quarter, fold the rest.
            lits.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
            let keep = lits.len() / 4;
            lits.split_off(keep)
        } else {
            let exts: BTreeSet<String> = self.nodes[node]
                .literals
                .keys()
                .map(|k| extension(k).to_string())
                .collect();
            exts.iter().flat_map(|e| self.like_ids(node, e)).collect()
        };
        for (key, id, hits) in fold {
            self.nodes[node].literals.remove(&key);
            let (wild, value) = self.wild_for(node, &key);
            self.nodes[wild].values.observe_n(value, hits);
            self.merge_into(id, wild, merge, false);
        }
    }

    /// The literal children of `node` that stand for ids: many rare
    /// values leading to the same continuations (`/users/{slug}/avatar`),
    /// where distinct resources lead to their own (`/a b/2nTNN~-ve` beside
    /// `/{id}/B.6W9_g_L`).
    ///
    /// A group of at least `MIN_ID_SIBLINGS` literals that share a
    /// continuation (a next segment, a slot, or ending there with the same
    /// method), three quarters of them rare, seeds the slot; then every literal sharing a continuation
    /// with what the slot holds so far joins it, until none does. Literals
    /// that share nothing with the slot stay, popular or not (`/api/v2/users`
    /// beside `/api/v2/{id}`, `POST /files/upload` beside `GET
    /// /files/{slug}`); a popular one that does share joins, and stays
    /// popular as a value of the slot's pool (`/profiles/me/avatar`).
    ///
    /// This keeps inference idempotent: re-recording the traffic a model
    /// generates finds no slot the model did not have. A literal left out
    /// shares nothing with the slot, so the slot's regenerated values
    /// cannot pull it in; and a sample of the leftovers has no group big
    /// enough to seed a slot of its own, unless more than a quarter of a
    /// group were popular and enough of them turn rare in the sample.
    ///
    /// Only literals with extension `ext` are considered, and the slot
    /// they join is the wild child for `ext`.
    fn like_ids(&self, node: NodeId, ext: &str) -> Vec<(String, NodeId, u64)> {
        let lits: Vec<(&String, NodeId, u64)> = self.nodes[node]
            .literals
            .iter()
            .filter(|(k, _)| extension(k) == ext)
            .map(|(k, id)| (k, *id, self.nodes[*id].hits))
            .collect();
        let total: u64 = lits.iter().map(|l| l.2).sum();
        let is_rare = |hits: u64| hits < 3 || hits * 20 < total;
        let mut rest: Vec<(&String, NodeId, u64, Vec<String>)> = lits
            .into_iter()
            .map(|(k, id, hits)| (k, id, hits, self.shape(id)))
            .collect();
        // Sorted so that the model does not depend on hash order.
        rest.sort_by(|a, b| a.0.cmp(b.0));
        let mut slot: BTreeSet<String> = match self.nodes[node].wilds.get(ext) {
            Some(w) => self.shape(*w).into_iter().collect(),
            None => BTreeSet::new(),
        };
        let mut fold = Vec::new();
        loop {
            let (joining, left): (Vec<_>, Vec<_>) = rest
                .into_iter()
                .partition(|l| l.3.iter().any(|k| slot.contains(k)));
            rest = left;
            if !joining.is_empty() {
                for (k, id, hits, shape) in joining {
                    slot.extend(shape);
                    fold.push((k.clone(), id, hits));
                }
                continue;
            }
            // No literal joins the slot: seed it from the biggest group of
            // literals sharing a continuation, if it is big enough and
            // mostly rare. (Popular members count towards the size, so
            // that one of them turning rare in a sample of the traffic
            // cannot seed a slot the full traffic did not have.)
            let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
            for l in &rest {
                for k in &l.3 {
                    let g = groups.entry(k.as_str()).or_insert((0, 0));
                    g.0 += 1;
                    g.1 += usize::from(is_rare(l.2));
                }
            }
            let best = groups
                .into_iter()
                .filter(|(_, (n, rare))| *n >= MIN_ID_SIBLINGS && rare * 4 >= n * 3)
                .rev()
                .max_by_key(|(_, (n, _))| *n)
                .map(|(k, _)| k.to_string());
            match best {
                Some(k) => {
                    slot.insert(k);
                }
                None => break,
            }
        }
        fold
    }

    /// The next level under a node: what a path can continue with (`$GET`:
    /// a GET ends here).
    fn shape(&self, node: NodeId) -> Vec<String> {
        let n = &self.nodes[node];
        let mut out: Vec<String> = n.literals.keys().cloned().collect();
        out.extend(n.typed.keys().map(|k| format!("{{{k:?}}}")));
        out.extend(n.wilds.keys().map(|ext| format!("{{*}}{ext}")));
        out.extend(n.leaves.iter().map(|(method, _)| format!("${method}")));
        out.sort();
        out
    }

    /// Merges subtree `src` into `dst`. `with_values` merges slot values
    /// too (for typed/wild nodes being combined).
    fn merge_into(
        &mut self,
        src: NodeId,
        dst: NodeId,
        merge: &mut dyn FnMut(u32, u32),
        with_values: bool,
    ) {
        if src == dst {
            return;
        }
        let s = std::mem::take(&mut self.nodes[src]);
        self.nodes[src].dead = true;
        self.nodes[dst].hits += s.hits;
        if with_values {
            self.nodes[dst].values.merge(&s.values);
        }
        for (method, acc) in s.leaves {
            match self.nodes[dst].leaves.iter().find(|(m, _)| *m == method) {
                Some((_, into)) => merge(acc, *into),
                None => self.nodes[dst].leaves.push((method, acc)),
            }
        }
        for (k, c) in s.literals {
            match self.nodes[dst].literals.get(&k) {
                Some(d) => {
                    let d = *d;
                    self.merge_into(c, d, merge, true);
                }
                None => {
                    if let Some((w, value)) = self.existing_wild(dst, &k) {
                        let hits = self.nodes[c].hits;
                        self.nodes[w].values.observe_n(value, hits);
                        self.merge_into(c, w, merge, false);
                    } else {
                        self.nodes[dst].literals.insert(k, c);
                    }
                }
            }
        }
        for (kind, c) in s.typed {
            match self.nodes[dst].typed.get(&kind) {
                Some(d) => {
                    let d = *d;
                    self.merge_into(c, d, merge, true);
                }
                None => {
                    self.nodes[dst].typed.insert(kind, c);
                }
            }
        }
        for (ext, c) in s.wilds {
            match self.nodes[dst].wilds.get(&ext) {
                Some(d) => {
                    let d = *d;
                    self.merge_into(c, d, merge, true);
                }
                None => {
                    self.nodes[dst].wilds.insert(ext, c);
                }
            }
        }
    }

    /// Decides the final templates: collapses high-cardinality literal
    /// positions top-down, then lists every leaf with its template.
    pub fn finish(&mut self, merge: &mut dyn FnMut(u32, u32)) -> Vec<TemplateLeaf> {
        let roots: Vec<((String, String), NodeId)> =
            self.roots.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let mut out = Vec::new();
        for (origin, root) in roots {
            self.finish_node(root, merge);
            let mut path = Vec::new();
            self.collect(root, &origin, &mut path, &mut out);
        }
        out
    }

    fn finish_node(&mut self, node: NodeId, merge: &mut dyn FnMut(u32, u32)) {
        self.collapse(node, merge, false);
        let mut children: Vec<NodeId> = self.nodes[node].literals.values().copied().collect();
        children.extend(self.nodes[node].typed.values().copied());
        children.extend(self.nodes[node].wilds.values().copied());
        children.sort_unstable();
        for c in children {
            self.finish_node(c, merge);
        }
    }

    fn collect(
        &self,
        node: NodeId,
        origin: &(String, String),
        path: &mut Vec<NodeId>,
        out: &mut Vec<TemplateLeaf>,
    ) {
        let n = &self.nodes[node];
        if !n.leaves.is_empty() {
            out.push(TemplateLeaf {
                origin: origin.clone(),
                segments: self.segments(path),
                leaves: n.leaves.clone(),
            });
        }
        let mut lits: Vec<(&String, &NodeId)> = n.literals.iter().collect();
        lits.sort();
        let mut children: Vec<NodeId> = lits.into_iter().map(|(_, id)| *id).collect();
        children.extend(n.typed.values().copied());
        children.extend(n.wilds.values().copied());
        for c in children {
            path.push(c);
            self.collect(c, origin, path, out);
            path.pop();
        }
    }

    fn segments(&self, path: &[NodeId]) -> Vec<TemplateSegment> {
        let mut used: HashMap<&'static str, usize> = HashMap::new();
        path.iter()
            .map(|id| {
                let n = &self.nodes[*id];
                let (base, suffix) = match n.kind.as_ref() {
                    Some(NodeKind::Literal(l)) => return TemplateSegment::Literal(l.clone()),
                    Some(NodeKind::Typed(ValueKind::Date)) => ("date", ""),
                    Some(NodeKind::Typed(_)) => ("id", ""),
                    Some(NodeKind::Wild(ext)) => ("slug", ext.as_str()),
                    Some(NodeKind::Root) | None => ("slot", ""),
                };
                let k = used.entry(base).or_insert(0);
                *k += 1;
                let name = if *k == 1 {
                    base.to_string()
                } else {
                    format!("{base}{k}")
                };
                TemplateSegment::Slot {
                    name,
                    values: n.values.clone(),
                    suffix: suffix.to_string(),
                }
            })
            .collect()
    }

    /// Live nodes, for tests of the memory bound.
    pub fn live_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| !n.dead).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inserts paths (one accumulator per distinct method+leaf) and returns
    /// the sorted list of templates with their request counts.
    fn templates(paths: &[&str]) -> Vec<(String, u64)> {
        let mut trie = PathTrie::new();
        let mut counts: Vec<u64> = Vec::new();
        let mut redirect: Vec<u32> = Vec::new();
        fn root(r: &[u32], mut i: u32) -> u32 {
            while r[i as usize] != i {
                i = r[i as usize];
            }
            i
        }
        for p in paths {
            // "POST /path", or a GET.
            let (method, p) = match p.split_once(' ') {
                Some((m, rest)) if m.bytes().all(|b| b.is_ascii_uppercase()) => (m, rest),
                _ => ("GET", *p),
            };
            let mut merges = Vec::new();
            let leaf = trie.insert("http", "h", p, &mut |a, b| merges.push((a, b)));
            for (a, b) in merges {
                redirect[a as usize] = b;
            }
            let id = trie.leaf_acc(leaf, method, &mut || {
                counts.push(0);
                redirect.push(redirect.len() as u32);
                (counts.len() - 1) as u32
            });
            let id = root(&redirect, id);
            counts[id as usize] += 1;
        }
        let mut merges = Vec::new();
        let leaves = trie.finish(&mut |a, b| merges.push((a, b)));
        for (a, b) in merges {
            redirect[a as usize] = b;
        }
        // Fold counts along redirects.
        let mut total = vec![0u64; counts.len()];
        for (i, c) in counts.iter().enumerate() {
            total[root(&redirect, i as u32) as usize] += c;
        }
        let mut out: Vec<(String, u64)> = leaves
            .iter()
            .map(|l| {
                (
                    l.template(),
                    l.leaves
                        .iter()
                        .map(|(_, id)| total[root(&redirect, *id) as usize])
                        .sum(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn splits_paths_like_str_split() {
        for p in ["/", "", "/a", "/a/b/", "a//b", "/a/b?c", "//", "/é/ü"] {
            let want: Vec<&str> = {
                let q = p.strip_prefix('/').unwrap_or(p);
                if q.is_empty() {
                    Vec::new()
                } else {
                    q.split('/').collect()
                }
            };
            assert_eq!(split_path(p).collect::<Vec<_>>(), want, "{p:?}");
        }
    }

    #[test]
    fn typed_segments_become_slots() {
        let t = templates(&[
            "/posts/17",
            "/posts/4242",
            "/files/550e8400-e29b-41d4-a716-446655440000",
            "/commits/da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "/reports/2024-01-31/summary",
            "/users/7/posts/9",
        ]);
        assert_eq!(
            t,
            vec![
                ("/commits/{id}".to_string(), 1),
                ("/files/{id}".to_string(), 1),
                ("/posts/{id}".to_string(), 2),
                ("/reports/{date}/summary".to_string(), 1),
                ("/users/{id}/posts/{id2}".to_string(), 1),
            ]
        );
    }

    #[test]
    fn popular_literals_stay_rare_ones_collapse() {
        let mut paths = vec![];
        for _ in 0..50 {
            paths.push("/api/v1/users/me".to_string());
        }
        for i in 0..40 {
            paths.push(format!("/api/v1/users/{i}"));
        }
        for name in [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ] {
            paths.push(format!("/profiles/{name}/avatar"));
        }
        for res in ["users", "posts", "tags", "comments", "likes", "feeds"] {
            for _ in 0..10 {
                paths.push(format!("/api/v2/{res}"));
            }
        }
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let t = templates(&refs);
        let names: Vec<&str> = t.iter().map(|(s, _)| s.as_str()).collect();
        assert!(names.contains(&"/api/v1/users/me"), "{names:?}");
        assert!(names.contains(&"/api/v1/users/{id}"), "{names:?}");
        assert!(names.contains(&"/profiles/{slug}/avatar"), "{names:?}");
        assert!(names.contains(&"/api/v2/comments"), "{names:?}");
        assert_eq!(t.iter().map(|x| x.1).sum::<u64>(), paths.len() as u64);
        assert_eq!(
            t.iter()
                .find(|x| x.0 == "/profiles/{slug}/avatar")
                .unwrap()
                .1,
            8
        );
    }

    /// Regression (tests/properties.rs, template_inference_is_idempotent):
    /// a rare literal leading elsewhere was folded into its rare siblings'
    /// slot.
    #[test]
    fn a_slot_takes_only_literals_that_continue_like_it() {
        let names = [
            "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
        ];
        let mut paths: Vec<String> = names.iter().map(|n| format!("/{n}/avatar")).collect();
        paths.push("/a b/2nTNN~-ve".into());
        // Another method ending at the same spot is another continuation.
        for n in names {
            paths.push(format!("/files/{n}"));
        }
        paths.push("POST /files/upload".into());
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let names: Vec<String> = templates(&refs).into_iter().map(|t| t.0).collect();
        assert_eq!(
            names,
            [
                "/a b/2nTNN~-ve",
                "/files/upload",
                "/files/{slug}",
                "/{slug}/avatar"
            ],
        );
    }

    /// Regression (same test): seven rare names and a popular one made no
    /// slot, but a sample of the traffic in which the popular name was rare
    /// did. Popular names count towards the group, and join the slot.
    #[test]
    fn popular_names_count_towards_a_slot_and_join_it() {
        let mut paths: Vec<String> = (0..7).map(|i| format!("/profiles/n{i}x/avatar")).collect();
        for _ in 0..10 {
            paths.push("/profiles/me/avatar".into());
        }
        // Popular resources sharing a continuation are not ids.
        for res in [
            "users", "posts", "tags", "comments", "likes", "feeds", "orders", "carts",
        ] {
            for _ in 0..10 {
                paths.push(format!("/api/{res}"));
            }
        }
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let t = templates(&refs);
        assert!(
            t.contains(&("/profiles/{slug}/avatar".to_string(), 17)),
            "{t:?}"
        );
        assert_eq!(t.len(), 9, "{t:?}");
    }

    #[test]
    fn memory_is_bounded_by_collapsing_while_streaming() {
        let paths: Vec<String> = (0..20_000)
            .map(|i| format!("/blog/post-title-{i}/comments"))
            .collect();
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let mut trie = PathTrie::new();
        for p in &refs {
            trie.insert("http", "h", p, &mut |_, _| {});
        }
        assert!(
            trie.live_nodes() < 2 * LITERAL_CAP + 10,
            "{}",
            trie.live_nodes()
        );
        let t = templates(&refs);
        assert_eq!(t, vec![("/blog/{slug}/comments".to_string(), 20_000)]);
        // Every request's segment is in the slot's pool, including the one
        // that triggered the collapse.
        let mut trie = PathTrie::new();
        for p in &refs {
            let leaf = trie.insert("http", "h", p, &mut |_, _| {});
            trie.leaf_acc(leaf, "GET", &mut || 0);
        }
        let leaves = trie.finish(&mut |_, _| {});
        match &leaves[0].segments[1] {
            TemplateSegment::Slot { values, .. } => assert_eq!(values.total(), 20_000),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn extensions() {
        for (seg, ext) in [
            ("logo.png", ".png"),
            ("app.min.js", ".js"),
            ("font.woff2", ".woff2"),
            ("v1.2", ""),
            (".env", ""),
            ("a.", ""),
            ("plain", ""),
            ("x.webmanifest", ""),
            ("report.2024", ""),
        ] {
            assert_eq!(extension(seg), ext, "{seg}");
        }
    }

    /// The Firefox HAR regression: one `/{slug}` merged `.html`, `.ico`,
    /// `.png` and `.js` files. Segments with an extension only merge with
    /// their own kind, and the extension stays literal.
    #[test]
    fn resources_of_different_types_are_not_merged() {
        let mut paths: Vec<String> = Vec::new();
        for ext in ["png", "js", "html", "css"] {
            for i in 0..10 {
                paths.push(format!("/static/file{i}-{ext}.{ext}"));
            }
        }
        for i in 0..10 {
            paths.push(format!("/static/name{i}x"));
        }
        // Too few of a kind to make a slot: they stay literal.
        paths.push("/static/favicon.ico".into());
        paths.push("/static/apple-touch.ico".into());
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let t = templates(&refs);
        assert_eq!(
            t,
            vec![
                ("/static/apple-touch.ico".to_string(), 1),
                ("/static/favicon.ico".to_string(), 1),
                ("/static/{slug}".to_string(), 10),
                ("/static/{slug}.css".to_string(), 10),
                ("/static/{slug}.html".to_string(), 10),
                ("/static/{slug}.js".to_string(), 10),
                ("/static/{slug}.png".to_string(), 10),
            ]
        );
        // The slot holds stems.
        let mut trie = PathTrie::new();
        for p in &refs {
            let leaf = trie.insert("http", "h", p, &mut |_, _| {});
            trie.leaf_acc(leaf, "GET", &mut || 0);
        }
        let leaves = trie.finish(&mut |_, _| {});
        let png = leaves
            .iter()
            .find(|l| l.template() == "/static/{slug}.png")
            .unwrap();
        match &png.segments[1] {
            TemplateSegment::Slot { values, suffix, .. } => {
                assert_eq!(suffix, ".png");
                let pool = values.finish(64);
                assert!(
                    pool.values.iter().any(|(v, _)| v == "file3-png"),
                    "{pool:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    /// Collapsing while streaming folds each literal into the slot of its
    /// own extension.
    #[test]
    fn streaming_collapse_keeps_extensions_apart() {
        let mut paths: Vec<String> = Vec::new();
        for i in 0..400 {
            let ext = ["png", "js"][i % 2];
            paths.push(format!("/img/p{i}.{ext}"));
        }
        let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
        let t = templates(&refs);
        assert_eq!(
            t,
            vec![
                ("/img/{slug}.js".to_string(), 200),
                ("/img/{slug}.png".to_string(), 200)
            ]
        );
    }

    #[test]
    fn root_and_trailing_slash() {
        let t = templates(&["/", "/a/", "/a"]);
        assert_eq!(
            t,
            vec![
                ("/".to_string(), 1),
                ("/a".to_string(), 1),
                ("/a/".to_string(), 1)
            ]
        );
    }
}
