//! Which exchanges `record` keeps: host, path glob, method and static-asset
//! filters. A filtered exchange is counted as skipped with a `filtered:`
//! reason so `inspect` shows what the filters removed.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::Exchange;

/// The user's filters, compiled once.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    include_hosts: Vec<String>,
    exclude_hosts: Vec<String>,
    include_paths: Option<GlobSet>,
    exclude_paths: Option<GlobSet>,
    methods: Vec<String>,
    api_only: bool,
}

/// What the user typed, before compilation.
#[derive(Debug, Default, Clone)]
pub struct FilterSpec {
    pub include_hosts: Vec<String>,
    pub exclude_hosts: Vec<String>,
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    pub methods: Vec<String>,
    pub api_only: bool,
}

impl Filter {
    /// Compiles the globs; a bad glob is an error naming the flag.
    pub fn new(spec: &FilterSpec) -> Result<Filter, String> {
        Ok(Filter {
            include_hosts: spec
                .include_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            exclude_hosts: spec
                .exclude_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            include_paths: globs(&spec.include_paths, "--include-path")?,
            exclude_paths: globs(&spec.exclude_paths, "--exclude-path")?,
            methods: spec
                .methods
                .iter()
                .map(|m| m.to_ascii_uppercase())
                .collect(),
            api_only: spec.api_only,
        })
    }

    /// `None` when the exchange is kept, else the skip reason.
    pub fn rejects(&self, x: &Exchange) -> Option<&'static str> {
        if !(self.include_hosts.is_empty() && self.exclude_hosts.is_empty()) {
            let host = x.host().to_ascii_lowercase();
            if !self.include_hosts.is_empty()
                && !self.include_hosts.iter().any(|h| host_matches(&host, h))
            {
                return Some("filtered: host (--include-host)");
            }
            if self.exclude_hosts.iter().any(|h| host_matches(&host, h)) {
                return Some("filtered: host (--exclude-host)");
            }
        }
        if let Some(set) = &self.include_paths {
            if !set.is_match(x.path()) {
                return Some("filtered: path (--include-path)");
            }
        }
        if let Some(set) = &self.exclude_paths {
            if set.is_match(x.path()) {
                return Some("filtered: path (--exclude-path)");
            }
        }
        if !self.methods.is_empty() && !self.methods.contains(&x.method) {
            return Some("filtered: method (--method)");
        }
        if self.api_only && is_static_asset(x) {
            return Some("filtered: static asset (--api-only)");
        }
        None
    }
}

/// `example.com` matches itself and its subdomains; `*.example.com` only
/// subdomains; a pattern with a port matches the authority exactly.
fn host_matches(host: &str, pattern: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        return host.ends_with(&format!(".{suffix}"));
    }
    host == pattern || host.ends_with(&format!(".{pattern}"))
}

fn globs(patterns: &[String], flag: &str) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let g = Glob::new(p).map_err(|e| format!("{flag} '{p}' is not a valid glob: {e}"))?;
        b.add(g);
    }
    b.build().map(Some).map_err(|e| format!("{flag}: {e}"))
}

const STATIC_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff", "woff",
    "woff2", "ttf", "otf", "eot", "css", "js", "mjs", "map", "mp4", "webm", "mp3", "ogg", "wav",
    "flac",
];

const STATIC_RESOURCE_TYPES: &[&str] = &[
    "image",
    "font",
    "stylesheet",
    "script",
    "media",
    "manifest",
    "texttrack",
    "imageset",
];

/// Images, fonts, stylesheets and scripts, by `_resourceType`, response
/// mime type or path extension.
pub fn is_static_asset(x: &Exchange) -> bool {
    if let Some(rt) = &x.resource_type {
        if STATIC_RESOURCE_TYPES.contains(&rt.as_str()) {
            return true;
        }
        if rt == "xhr" || rt == "fetch" {
            return false;
        }
    }
    if let Some(r) = &x.response {
        let m = r.mime.as_str();
        if m.starts_with("image/")
            || m.starts_with("font/")
            || m.starts_with("video/")
            || m.starts_with("audio/")
            || m == "text/css"
            || m.contains("javascript")
            || m.contains("font-")
            || m == "application/font-woff"
        {
            return true;
        }
    }
    let path = x.path();
    let last = path.rsplit('/').next().unwrap_or("");
    match last.rsplit_once('.') {
        Some((_, ext)) => STATIC_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Response;

    fn x(method: &str, authority: &str, target: &str, mime: &str) -> Exchange {
        Exchange {
            method: method.into(),
            authority: authority.into(),
            target: target.into(),
            response: Some(Response {
                status: 200,
                mime: mime.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn filters_by_host_path_method_and_assets() {
        let f = Filter::new(&FilterSpec {
            include_hosts: vec!["example.com".into()],
            exclude_paths: vec!["/admin/**".into()],
            methods: vec!["get".into(), "POST".into()],
            api_only: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            f.rejects(&x("GET", "api.example.com", "/users/1", "application/json")),
            None
        );
        assert!(f
            .rejects(&x("GET", "cdn.other.net", "/users/1", ""))
            .is_some());
        assert!(f
            .rejects(&x("GET", "example.com", "/admin/x/y", ""))
            .is_some());
        assert!(f.rejects(&x("DELETE", "example.com", "/u", "")).is_some());
        assert!(f
            .rejects(&x("GET", "example.com", "/a/logo.PNG", ""))
            .is_some());
        assert!(f
            .rejects(&x("GET", "example.com", "/app", "text/css"))
            .is_some());
        assert!(f.rejects(&x("GET", "notexample.com", "/", "")).is_some());
    }

    #[test]
    fn bad_glob_names_the_flag() {
        let e = Filter::new(&FilterSpec {
            include_paths: vec!["/a/[".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--include-path"), "{e}");
    }
}
