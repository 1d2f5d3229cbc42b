//! Request routing for the mock: method + path (+ `Host` when it decides)
//! → endpoint index.
//!
//! A trie over path segments built from [`Endpoint::segments`]: a literal
//! segment matches itself exactly (as recorded, percent-encoded), a slot
//! matches any one segment ending with the slot's suffix (`{slug}.png`
//! matches `logo.png`, `{id}` anything). Lookup tries the literal child
//! before the slot children at every depth, and slots with a longer suffix
//! first, so `/users/me` beats `/users/{id}` and, between two templates
//! that both match, the one whose first difference is more literal wins.
//! The query string is ignored.

use std::collections::HashMap;

use crate::model::{Endpoint, Segment};

/// Routes of one method at one trie node: endpoints sharing the template,
/// one per recorded host, most requested first.
#[derive(Debug, Clone)]
struct Route {
    method: Box<str>,
    /// (recorded authority, endpoint index).
    hosts: Vec<(Box<str>, usize)>,
}

#[derive(Debug, Default, Clone)]
struct Node {
    literals: HashMap<Box<str>, usize>,
    /// Slot children by suffix, longest suffix first.
    slots: Vec<(Box<str>, usize)>,
    routes: Vec<Route>,
}

/// Finds the endpoint that answers a request.
#[derive(Debug, Clone)]
pub struct Router {
    nodes: Vec<Node>,
}

impl Router {
    /// Builds the trie. `endpoints` are in model order (most requested
    /// first), which decides between hosts when `Host` names none of them.
    pub fn new(endpoints: &[Endpoint]) -> Router {
        let mut nodes = vec![Node::default()];
        for (idx, e) in endpoints.iter().enumerate() {
            let mut at = 0;
            for seg in &e.segments {
                at = match seg {
                    Segment::Literal(l) => match nodes[at].literals.get(l.as_str()) {
                        Some(&n) => n,
                        None => {
                            nodes.push(Node::default());
                            let n = nodes.len() - 1;
                            nodes[at].literals.insert(l.as_str().into(), n);
                            n
                        }
                    },
                    Segment::Slot { suffix, .. } => {
                        match nodes[at].slots.iter().find(|(s, _)| **s == **suffix) {
                            Some(&(_, n)) => n,
                            None => {
                                nodes.push(Node::default());
                                let n = nodes.len() - 1;
                                let slots = &mut nodes[at].slots;
                                slots.push((suffix.as_str().into(), n));
                                slots.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
                                n
                            }
                        }
                    }
                };
            }
            let routes = &mut nodes[at].routes;
            let host: Box<str> = e.host.as_str().into();
            match routes.iter_mut().find(|r| *r.method == *e.method) {
                Some(r) => r.hosts.push((host, idx)),
                None => routes.push(Route {
                    method: e.method.as_str().into(),
                    hosts: vec![(host, idx)],
                }),
            }
        }
        Router { nodes }
    }

    /// The endpoint for `method path`, or `None` (the mock answers 404).
    /// `host` is the request's authority (`Host` header or `:authority`);
    /// it only matters when several recorded hosts share the template.
    /// `HEAD` falls back to the `GET` route, as HTTP servers do.
    pub fn route(&self, method: &str, host: Option<&str>, path: &str) -> Option<usize> {
        let found = self
            .find(0, &mut split_path(path), method)
            .or_else(|| match method {
                "HEAD" => self.find(0, &mut split_path(path), "GET"),
                _ => None,
            })?;
        Some(pick_host(&found.hosts, host))
    }

    /// Depth-first, literal before slot. The iterator is cloned at each
    /// branch so nothing is allocated per lookup.
    fn find<'a, 'p>(
        &'a self,
        at: usize,
        segs: &mut (impl Iterator<Item = &'p str> + Clone),
        method: &str,
    ) -> Option<&'a Route> {
        let node = &self.nodes[at];
        let Some(seg) = segs.next() else {
            return node.routes.iter().find(|r| &*r.method == method);
        };
        if let Some(&child) = node.literals.get(seg) {
            if let Some(r) = self.find(child, &mut segs.clone(), method) {
                return Some(r);
            }
        }
        for (suffix, child) in &node.slots {
            // A suffixed slot stands for a non-empty stem.
            let fits = suffix.is_empty() || (seg.len() > suffix.len() && seg.ends_with(&**suffix));
            if fits {
                if let Some(r) = self.find(*child, &mut segs.clone(), method) {
                    return Some(r);
                }
            }
        }
        None
    }
}

/// Path segments as the model splits them
/// ([`crate::model::template::split_path`]), as a cloneable iterator.
fn split_path(path: &str) -> impl Iterator<Item = &str> + Clone {
    let p = path.strip_prefix('/').unwrap_or(path);
    let empty = p.is_empty();
    p.split('/').filter(move |_| !empty)
}

/// The endpoint whose recorded host is the request's (with or without the
/// port), else the most requested one.
fn pick_host(hosts: &[(Box<str>, usize)], host: Option<&str>) -> usize {
    if hosts.len() > 1 {
        if let Some(h) = host {
            let bare = crate::ingest::exchange::host_of(h);
            if let Some((_, i)) = hosts
                .iter()
                .find(|(r, _)| r.eq_ignore_ascii_case(h))
                .or_else(|| {
                    hosts.iter().find(|(r, _)| {
                        crate::ingest::exchange::host_of(r).eq_ignore_ascii_case(bare)
                    })
                })
            {
                return *i;
            }
        }
    }
    hosts[0].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_model() {
        for p in ["/", "", "/a", "/a/b/", "//x", "/a%2Fb/c"] {
            let ours: Vec<&str> = split_path(p).collect();
            let model: Vec<&str> = crate::model::template::split_path(p).collect();
            assert_eq!(ours, model, "{p:?}");
        }
    }

    fn ep(method: &str, host: &str, template: &str) -> Endpoint {
        let mut slots = 0;
        let segments = split_path(template)
            .map(|s| {
                if let Some(rest) = s.strip_prefix('{') {
                    slots += 1;
                    let suffix = rest.split_once('}').map_or("", |(_, x)| x);
                    Segment::Slot {
                        index: slots - 1,
                        suffix: suffix.to_string(),
                    }
                } else {
                    Segment::Literal(s.to_string())
                }
            })
            .collect();
        Endpoint {
            method: method.into(),
            scheme: "http".into(),
            host: host.into(),
            template: template.into(),
            segments,
            count: 1,
            weight: 0.0,
            path_params: vec![],
            query: vec![],
            headers: vec![],
            joint: None,
            body: None,
            response: Default::default(),
        }
    }

    #[test]
    fn literal_beats_slot_and_methods_are_distinct() {
        let r = Router::new(&[
            ep("GET", "a", "/users/{id}"),
            ep("GET", "a", "/users/me"),
            ep("POST", "a", "/users"),
            ep("GET", "a", "/"),
            ep("GET", "a", "/users/{id}/posts"),
            ep("GET", "a", "/{x}/me/edit"),
        ]);
        assert_eq!(r.route("GET", None, "/users/17"), Some(0));
        assert_eq!(r.route("GET", None, "/users/me"), Some(1));
        assert_eq!(r.route("POST", None, "/users"), Some(2));
        assert_eq!(r.route("GET", None, "/users"), None);
        assert_eq!(r.route("DELETE", None, "/users/17"), None);
        assert_eq!(r.route("GET", None, "/"), Some(3));
        assert_eq!(r.route("GET", None, "/users/me/posts"), Some(4));
        // Backtracks out of the literal branch when it leads nowhere.
        assert_eq!(r.route("GET", None, "/users/me/edit"), Some(5));
        assert_eq!(r.route("GET", None, "/nope"), None);
        assert_eq!(r.route("HEAD", None, "/users/9"), Some(0));
    }

    /// Resources of different types are different endpoints: a slot with
    /// an extension only matches segments with it, longest suffix first.
    #[test]
    fn suffixed_slots_match_their_extension_only() {
        let r = Router::new(&[
            ep("GET", "a", "/static/{slug}.png"),
            ep("GET", "a", "/static/{slug}.js"),
            ep("GET", "a", "/static/{slug}"),
            ep("GET", "a", "/static/{slug}.min.js"),
        ]);
        assert_eq!(r.route("GET", None, "/static/logo.png"), Some(0));
        assert_eq!(r.route("GET", None, "/static/app.js"), Some(1));
        assert_eq!(r.route("GET", None, "/static/readme"), Some(2));
        assert_eq!(r.route("GET", None, "/static/readme.txt"), Some(2));
        assert_eq!(r.route("GET", None, "/static/jquery.min.js"), Some(3));
        // No stem: not a `{slug}.png`.
        assert_eq!(r.route("GET", None, "/static/.png"), Some(2));
    }

    #[test]
    fn host_decides_between_same_templates() {
        let r = Router::new(&[
            ep("GET", "api.example.com", "/v1/items"),
            ep("GET", "cdn.example.com:8443", "/v1/items"),
        ]);
        assert_eq!(r.route("GET", None, "/v1/items"), Some(0));
        assert_eq!(r.route("GET", Some("127.0.0.1:9000"), "/v1/items"), Some(0));
        assert_eq!(
            r.route("GET", Some("cdn.example.com:8443"), "/v1/items"),
            Some(1)
        );
        assert_eq!(
            r.route("GET", Some("CDN.example.com"), "/v1/items"),
            Some(1)
        );
    }
}
