//! Request routing for the mock: method + path, within the recorded
//! origins a request may reach, → endpoint index.
//!
//! Origins: a listener serving one recorded origin (`--map`) answers from
//! its endpoints only; a listener serving all of them routes by the `Host`
//! header when it names a recorded origin (its authority, or its host when
//! no authority matches), and otherwise over every origin, most requested
//! endpoint first.
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
/// one per recorded origin, most requested first.
#[derive(Debug, Clone)]
struct Route {
    method: Box<str>,
    /// (origin number, endpoint index).
    hosts: Vec<(u32, usize)>,
}

/// A recorded origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: String,
    /// Host and port as recorded.
    pub authority: String,
}

impl Origin {
    /// `http://app.example.com`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// The authority in lower case without the scheme's default port.
    fn normal(&self) -> String {
        normal_authority(&self.scheme, &self.authority)
    }
}

fn normal_authority(scheme: &str, authority: &str) -> String {
    let a = authority.to_ascii_lowercase();
    let default = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ":80"
    };
    match a.strip_suffix(default) {
        Some(bare) => bare.to_string(),
        None => a,
    }
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
    origins: Vec<Origin>,
    /// Per origin: the normal authority and the bare host, lower case.
    names: Vec<(String, String)>,
}

impl Router {
    /// Builds the trie. `endpoints` are in model order (most requested
    /// first), which decides between hosts when `Host` names none of them.
    pub fn new(endpoints: &[Endpoint]) -> Router {
        let mut nodes = vec![Node::default()];
        let mut origins: Vec<Origin> = Vec::new();
        for (idx, e) in endpoints.iter().enumerate() {
            let origin = Origin {
                scheme: e.scheme.clone(),
                authority: e.host.clone(),
            };
            let o = match origins
                .iter()
                .position(|x| x.normal() == origin.normal() && x.scheme == origin.scheme)
            {
                Some(o) => o,
                None => {
                    origins.push(origin);
                    origins.len() - 1
                }
            } as u32;
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
            match routes.iter_mut().find(|r| *r.method == *e.method) {
                Some(r) => r.hosts.push((o, idx)),
                None => routes.push(Route {
                    method: e.method.as_str().into(),
                    hosts: vec![(o, idx)],
                }),
            }
        }
        let names = origins
            .iter()
            .map(|o| {
                let n = o.normal();
                let bare = crate::ingest::exchange::host_of(&n).to_string();
                (n, bare)
            })
            .collect();
        Router {
            nodes,
            origins,
            names,
        }
    }

    /// The recorded origins, numbered as [`Router::route`]'s `served`.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// The origins `spec` names: `http://host:port` (that scheme only) or
    /// `host:port`; the scheme's default port may be left out.
    pub fn find_origins(&self, spec: &str) -> Vec<u32> {
        let (scheme, authority) = match spec.split_once("://") {
            Some((s, a)) => (Some(s), a.trim_end_matches('/')),
            None => (None, spec.trim_end_matches('/')),
        };
        (0..self.origins.len() as u32)
            .filter(|&o| {
                let origin = &self.origins[o as usize];
                match scheme {
                    Some(s) => {
                        s.eq_ignore_ascii_case(&origin.scheme)
                            && normal_authority(s, authority) == self.names[o as usize].0
                    }
                    None => normal_authority(&origin.scheme, authority) == self.names[o as usize].0,
                }
            })
            .collect()
    }

    /// The endpoint for `method path`, or `None` (the mock answers 404).
    /// `served`: the origins this listener serves (`None`: all, then
    /// `host`, the request's `Host` or `:authority`, picks them when it
    /// names a recorded one). `HEAD` falls back to the `GET` route, as
    /// HTTP servers do.
    pub fn route(
        &self,
        method: &str,
        host: Option<&str>,
        path: &str,
        served: Option<&[u32]>,
    ) -> Option<usize> {
        let by_host = match served {
            Some(_) => Named::All,
            None => self.named(host),
        };
        let allowed = |o: u32| match (served, &by_host) {
            (Some(s), _) => s.contains(&o),
            (None, Named::All) => true,
            (None, Named::Authority(h)) => self.names[o as usize].0.eq_ignore_ascii_case(h),
            (None, Named::Host(h)) => self.names[o as usize].1.eq_ignore_ascii_case(h),
        };
        let found = self
            .find(0, &mut split_path(path), method, &allowed)
            .or_else(|| match method {
                "HEAD" => self.find(0, &mut split_path(path), "GET", &allowed),
                _ => None,
            })?;
        found
            .hosts
            .iter()
            .find(|(o, _)| allowed(*o))
            .map(|(_, i)| *i)
    }

    /// Which recorded origins a `Host` names: those with its authority,
    /// else those with its host, else all.
    fn named<'h>(&self, host: Option<&'h str>) -> Named<'h> {
        let Some(h) = host else { return Named::All };
        let h = h.strip_suffix(":80").unwrap_or(h);
        if self.names.iter().any(|(n, _)| n.eq_ignore_ascii_case(h)) {
            return Named::Authority(h);
        }
        let bare = crate::ingest::exchange::host_of(h);
        if self.names.iter().any(|(_, b)| b.eq_ignore_ascii_case(bare)) {
            return Named::Host(bare);
        }
        Named::All
    }

    /// Depth-first, literal before slot, over routes of allowed origins.
    /// The iterator is cloned at each branch so nothing is allocated per
    /// lookup.
    fn find<'a, 'p>(
        &'a self,
        at: usize,
        segs: &mut (impl Iterator<Item = &'p str> + Clone),
        method: &str,
        allowed: &dyn Fn(u32) -> bool,
    ) -> Option<&'a Route> {
        let node = &self.nodes[at];
        let Some(seg) = segs.next() else {
            return node
                .routes
                .iter()
                .find(|r| &*r.method == method && r.hosts.iter().any(|(o, _)| allowed(*o)));
        };
        if let Some(&child) = node.literals.get(seg) {
            if let Some(r) = self.find(child, &mut segs.clone(), method, allowed) {
                return Some(r);
            }
        }
        for (suffix, child) in &node.slots {
            // A suffixed slot stands for a non-empty stem.
            let fits = suffix.is_empty() || (seg.len() > suffix.len() && seg.ends_with(&**suffix));
            if fits {
                if let Some(r) = self.find(*child, &mut segs.clone(), method, allowed) {
                    return Some(r);
                }
            }
        }
        None
    }
}

/// What a request's `Host` names among the recorded origins.
enum Named<'h> {
    All,
    Authority(&'h str),
    Host(&'h str),
}

/// Path segments as the model splits them
/// ([`crate::model::template::split_path`]), as a cloneable iterator.
fn split_path(path: &str) -> impl Iterator<Item = &str> + Clone {
    let p = path.strip_prefix('/').unwrap_or(path);
    let empty = p.is_empty();
    p.split('/').filter(move |_| !empty)
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
        assert_eq!(r.route("GET", None, "/users/17", None), Some(0));
        assert_eq!(r.route("GET", None, "/users/me", None), Some(1));
        assert_eq!(r.route("POST", None, "/users", None), Some(2));
        assert_eq!(r.route("GET", None, "/users", None), None);
        assert_eq!(r.route("DELETE", None, "/users/17", None), None);
        assert_eq!(r.route("GET", None, "/", None), Some(3));
        assert_eq!(r.route("GET", None, "/users/me/posts", None), Some(4));
        // Backtracks out of the literal branch when it leads nowhere.
        assert_eq!(r.route("GET", None, "/users/me/edit", None), Some(5));
        assert_eq!(r.route("GET", None, "/nope", None), None);
        assert_eq!(r.route("HEAD", None, "/users/9", None), Some(0));
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
        assert_eq!(r.route("GET", None, "/static/logo.png", None), Some(0));
        assert_eq!(r.route("GET", None, "/static/app.js", None), Some(1));
        assert_eq!(r.route("GET", None, "/static/readme", None), Some(2));
        assert_eq!(r.route("GET", None, "/static/readme.txt", None), Some(2));
        assert_eq!(r.route("GET", None, "/static/jquery.min.js", None), Some(3));
        // No stem: not a `{slug}.png`.
        assert_eq!(r.route("GET", None, "/static/.png", None), Some(2));
    }

    #[test]
    fn host_decides_between_same_templates() {
        let r = Router::new(&[
            ep("GET", "api.example.com", "/v1/items"),
            ep("GET", "cdn.example.com:8443", "/v1/items"),
        ]);
        assert_eq!(r.route("GET", None, "/v1/items", None), Some(0));
        assert_eq!(
            r.route("GET", Some("127.0.0.1:9000"), "/v1/items", None),
            Some(0)
        );
        assert_eq!(
            r.route("GET", Some("cdn.example.com:8443"), "/v1/items", None),
            Some(1)
        );
        assert_eq!(
            r.route("GET", Some("CDN.example.com"), "/v1/items", None),
            Some(1)
        );
    }

    /// Two recorded origins both have `/`: the `Host` header decides, a
    /// listener serving one origin answers from it alone, and a path only
    /// the other origin recorded is not found there.
    #[test]
    fn origins_scope_the_routes() {
        let r = Router::new(&[
            ep("GET", "app.test", "/"),
            ep("GET", "api.test", "/"),
            ep("GET", "api.test", "/items"),
            ep("GET", "app.test", "/{page}"),
            ep("GET", "127.0.0.1:8443", "/x"),
        ]);
        let o: Vec<String> = r.origins().iter().map(Origin::url).collect();
        assert_eq!(
            o,
            [
                "http://app.test",
                "http://api.test",
                "http://127.0.0.1:8443"
            ]
        );
        assert_eq!(r.route("GET", Some("api.test"), "/", None), Some(1));
        assert_eq!(r.route("GET", Some("api.test:80"), "/", None), Some(1));
        assert_eq!(r.route("GET", Some("app.test"), "/", None), Some(0));
        // Host names no recorded origin: all of them, most requested first.
        assert_eq!(r.route("GET", Some("localhost:1"), "/", None), Some(0));
        // The literal /items is api.test's: app.test's slot answers.
        assert_eq!(r.route("GET", Some("app.test"), "/items", None), Some(3));
        assert_eq!(r.route("GET", None, "/items", None), Some(2));
        // A listener for one origin ignores Host.
        let api = r.find_origins("http://api.test");
        assert_eq!(api, [1]);
        assert_eq!(r.route("GET", Some("app.test"), "/", Some(&api)), Some(1));
        assert_eq!(r.route("GET", None, "/about", Some(&api)), None);
        assert_eq!(r.find_origins("API.test:80"), [1]);
        assert_eq!(r.find_origins("https://api.test"), Vec::<u32>::new());
        assert_eq!(r.find_origins("127.0.0.1:8443"), [2]);
        // The host alone, when no authority matches.
        assert_eq!(r.route("GET", Some("127.0.0.1:9"), "/x", None), Some(4));
    }
}
