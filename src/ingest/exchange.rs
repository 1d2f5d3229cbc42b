//! The exchange: one HTTP request with its response, as every reader
//! produces it and the model builder consumes it.

/// One recorded HTTP request and (if seen) its response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exchange {
    /// When the request started (its first byte/packet), Unix epoch, ns.
    pub started_ns: i64,
    /// Request method as sent (`GET`, `POST`...), upper case.
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// Host and optional port, as in the `Host` header (`api.example.com:8080`).
    pub authority: String,
    /// Request target in origin form: path plus optional `?query`, as sent.
    pub target: String,
    /// Request headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<Body>,
    /// The response, if one was seen.
    pub response: Option<Response>,
    /// Who sent it: a connection (`10.0.0.1:51234`), an IP, or a cookie
    /// session, whatever the capture knows. `None` when unknown.
    pub client: Option<String>,
    /// A hint from the exporter about what the resource is (`_resourceType`
    /// in Chrome HAR: `xhr`, `fetch`, `image`, `script`...).
    pub resource_type: Option<String>,
    /// The exchange was reassembled across a capture gap: request or
    /// response bytes are missing.
    pub damaged: bool,
    /// The capture does not record request bodies (an access log): `body:
    /// None` does not mean the request had none.
    pub body_unknown: bool,
}

/// A request body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    /// `Content-Type` (mime type with parameters), empty when unknown.
    pub mime: String,
    /// The body as text when it is valid UTF-8 (possibly cut at a cap).
    pub text: Option<String>,
    /// Form fields when the exporter gave them (HAR `postData.params`).
    pub params: Vec<(String, String)>,
    /// Size of the whole body in bytes, even when `text` was cut.
    pub size: u64,
    pub kind: BodyKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyKind {
    #[default]
    Text,
    Json,
    Form,
    Binary,
}

/// A response as seen in the capture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    pub status: u16,
    /// `Content-Type` without parameters, lower case; empty when unknown.
    pub mime: String,
    /// Body size in bytes as transferred (decoded content size when the
    /// capture only knows that). `None` when unknown.
    pub body_size: Option<u64>,
    /// Time to first byte of the response after the request was sent, ms.
    pub wait_ms: Option<f64>,
    /// Total time from request start to last response byte, ms.
    pub total_ms: Option<f64>,
    /// The response headers as recorded (a packet capture keeps
    /// `Set-Cookie` by cookie name only and leaves out the framing ones);
    /// the model keeps end-to-end ones, scrubbed, for the mock.
    pub headers: Vec<(String, String)>,
    /// The response body when the capture kept it and it is small enough
    /// (used by the mock server), possibly absent: decoded in a HAR, as
    /// sent in a packet capture.
    pub body: Option<Vec<u8>>,
    /// `body` is a HAR's base64 text, not yet decoded: the model decodes
    /// the few bodies it keeps rather than the reader every one.
    pub body_base64: bool,
}

impl Exchange {
    /// The path part of the target, without the query.
    pub fn path(&self) -> &str {
        match memchr::memchr(b'?', self.target.as_bytes()) {
            Some(i) => &self.target[..i],
            None => &self.target,
        }
    }

    /// The query part of the target, without the `?`, if any.
    pub fn query(&self) -> Option<&str> {
        memchr::memchr(b'?', self.target.as_bytes()).map(|i| &self.target[i + 1..])
    }

    /// The host without the port.
    pub fn host(&self) -> &str {
        host_of(&self.authority)
    }

    /// The first value of a request header, case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The host of an authority (`host:port`, `[v6]:port`), without the port.
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &authority[..i + 2],
            None => authority,
        };
    }
    match memchr::memrchr(b':', authority.as_bytes()) {
        Some(i) if authority[i + 1..].bytes().all(|b| b.is_ascii_digit()) => &authority[..i],
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::is_token;

    #[test]
    fn splits_target_and_authority() {
        let e = Exchange {
            authority: "api.example.com:8080".into(),
            target: "/users/7?x=1".into(),
            ..Default::default()
        };
        assert_eq!(e.path(), "/users/7");
        assert_eq!(e.query(), Some("x=1"));
        assert_eq!(e.host(), "api.example.com");
        assert_eq!(host_of("[::1]:80"), "[::1]");
        assert_eq!(host_of("example.com"), "example.com");
        assert!(is_token("GET") && is_token("POS#") && is_token("M-SEARCH"));
        assert!(!is_token("GET?") && !is_token("") && !is_token("GE T"));
    }
}
