//! From a generated request to the bytes hyper sends: the target's origin,
//! `-H` overrides, and `{{secret:NAME}}` placeholders filled.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use rand::Rng;

use super::plan::Plan;
use crate::generate;
use crate::http1::is_token;
use crate::model::scrub;
use crate::model::TrafficModel;
use crate::target::Target;

#[derive(Clone)]
pub struct RequestBuilder {
    target: Target,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    secrets: HashMap<String, String>,
    http2: bool,
    /// The `Host` header, built once (HTTP/1.1 only).
    host: Option<http::HeaderValue>,
    /// What goes before every path: the target's base path, after the
    /// origin when a proxy takes absolute-form targets.
    prefix: String,
}

/// The model's `{{secret:NAME}}` placeholders that neither `secrets` nor a
/// `-H` header in `headers` gives a value (a header fills the placeholder
/// of its own name), nor live responses always supply (a login's token,
/// `produced_credentials`).
pub fn unfilled_secrets(
    model: &TrafficModel,
    secrets: &HashMap<String, String>,
    headers: &[(String, String)],
) -> Vec<String> {
    let produced = super::produced::produced_credentials(model);
    model
        .placeholder_names()
        .into_iter()
        .filter(|n| {
            !secrets.contains_key(n)
                && !headers.iter().any(|(h, _)| &scrub::secret_name(h) == n)
                && !produced.contains(n)
        })
        .collect()
}

/// Checks a `-H` header: the message names the flag.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!(
            "-H '{name}: …': '{name}' is not a valid header name"
        ));
    }
    if http::HeaderValue::from_str(value).is_err() {
        return Err(format!(
            "-H '{name}: …': the value is not a valid header value"
        ));
    }
    Ok(())
}

impl RequestBuilder {
    /// The builder for `plan`, whose `-H` headers ([`check_header`]) and
    /// secrets ([`unfilled_secrets`]) the run plan checked before anything
    /// started. A header fills the placeholder of its own name.
    pub fn new(plan: &Plan) -> RequestBuilder {
        let mut secrets = plan.secrets.clone();
        let mut headers = Vec::new();
        for (name, value) in &plan.headers {
            let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) else {
                continue;
            };
            secrets
                .entry(scrub::secret_name(name))
                .or_insert_with(|| value.clone());
            headers.push((n, v));
        }
        // The target's authority holds only URL host and port characters.
        let host = match plan.http2 {
            true => None,
            false => http::HeaderValue::from_str(plan.target.authority()).ok(),
        };
        let prefix = match plan.absolute_form() {
            true => format!("{}{}", plan.target.origin(), plan.target.base_path()),
            false => plan.target.base_path().to_string(),
        };
        RequestBuilder {
            prefix,
            target: plan.target.clone(),
            headers,
            secrets,
            http2: plan.http2,
            host,
        }
    }

    /// Whether `-H` gives header `name` (it replaces the recorded one).
    fn overridden(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
    }

    /// `s` with its placeholders filled; borrowed when it has none (the
    /// common case: no copy per request).
    fn fill<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if !s.contains("{{secret:") {
            return Cow::Borrowed(s);
        }
        let mut out = s.to_string();
        for name in scrub::placeholders_in(s) {
            if let Some(v) = self.secrets.get(name) {
                out = out.replace(&scrub::placeholder(name), v);
            }
        }
        Cow::Owned(out)
    }

    /// Draws the next request of `endpoint`, with `fills` (produced values)
    /// in their slots: (endpoint, request, bytes on the wire — exact for
    /// HTTP/1.1, approximate for HTTP/2).
    pub fn next<R: Rng + ?Sized>(
        &mut self,
        model: &TrafficModel,
        endpoint: usize,
        fills: &[(generate::Slot, String)],
        rng: &mut R,
    ) -> (usize, Outgoing, u64) {
        let g = generate::generate_filled(model, endpoint, fills, rng);
        // The path takes the generated string's buffer (no copy) when
        // nothing needs filling and the target has no base path.
        let path = match self.fill(&g.path) {
            Cow::Borrowed(_) => g.path,
            Cow::Owned(o) => o,
        };
        let base = self.prefix.as_str();
        let path = if base.is_empty() {
            path
        } else {
            format!("{base}{path}")
        };
        let body = g.body.map(|body| {
            if body.windows(9).any(|w| w == b"{{secret:") {
                match String::from_utf8(body) {
                    Ok(s) => self.fill(&s).into_owned().into_bytes(),
                    Err(e) => e.into_bytes(),
                }
            } else {
                body
            }
        });
        if self.http2 {
            let url = format!("{}{path}", self.target.origin());
            let (request, size) = self.hyper_request(&g.method, url, &g.headers, body);
            (g.endpoint, Outgoing::Hyper(Box::new(request)), size)
        } else {
            let wire = self.wire_request(&g.method, &path, &g.headers, body.as_deref());
            let size = wire.bytes.len() as u64;
            (g.endpoint, Outgoing::Wire(wire), size)
        }
    }

    /// The request as HTTP/1.1 bytes: request line with `path` (origin
    /// form, base path included), `Host`
    /// (unless `-H` gives one), the generated headers as recorded (names
    /// keep their case) with `-H` ones replacing them, `Content-Length`
    /// when there is a body (or the method usually has one), the body.
    fn wire_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
    ) -> WireRequest {
        let method = if is_token(method.as_bytes()) {
            method
        } else {
            "GET"
        };
        // A recorded path with bytes a request line cannot carry: send "/"
        // rather than abort the run; the endpoint still counts.
        let path = if path.bytes().all(|b| b.is_ascii_graphic()) {
            path
        } else {
            "/"
        };
        let body = body.unwrap_or_default();
        let mut w = Vec::with_capacity(
            64 + path.len()
                + body.len()
                + self.host.as_ref().map_or(0, |h| h.len())
                + headers
                    .iter()
                    .map(|(n, v)| n.len() + v.len() + 4)
                    .sum::<usize>()
                + self
                    .headers
                    .iter()
                    .map(|(n, v)| n.as_str().len() + v.len() + 4)
                    .sum::<usize>(),
        );
        w.extend_from_slice(method.as_bytes());
        w.push(b' ');
        w.extend_from_slice(path.as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        if let Some(host) = &self.host {
            if !self.overridden("host") {
                w.extend_from_slice(b"Host: ");
                w.extend_from_slice(host.as_bytes());
                w.extend_from_slice(b"\r\n");
            }
        }
        for (name, value) in headers {
            if self.overridden(name) || !is_token(name.as_bytes()) {
                continue;
            }
            let value = self.fill(value);
            if !is_field_value(value.as_bytes()) {
                continue;
            }
            w.extend_from_slice(name.as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        for (n, v) in &self.headers {
            // Framing is the client's to say.
            if n == http::header::CONTENT_LENGTH || n == http::header::TRANSFER_ENCODING {
                continue;
            }
            w.extend_from_slice(n.as_str().as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(v.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
            w.extend_from_slice(b"Content-Length: ");
            w.extend_from_slice(body.len().to_string().as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(body);
        WireRequest {
            bytes: w,
            head: method == "HEAD",
        }
    }

    /// The request for hyper (HTTP/2, or HTTP/1.1 when ALPN picks it under
    /// `--http2`): absolute URI, headers in a map.
    fn hyper_request(
        &self,
        method: &str,
        url: String,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> (http::Request<Full<Bytes>>, u64) {
        let mut size = method.len() as u64 + url.len() as u64 + 12;
        let method = match method {
            "GET" => http::Method::GET,
            m => http::Method::from_bytes(m.as_bytes()).unwrap_or(http::Method::GET),
        };
        let uri = http::Uri::from_maybe_shared(Bytes::from(url));
        let mut map = http::HeaderMap::with_capacity(headers.len() + self.headers.len());
        for (name, value) in headers {
            if self.overridden(name) {
                continue;
            }
            let value = self.fill(value);
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                size += (n.as_str().len() + v.len() + 4) as u64;
                map.append(n, v);
            }
        }
        for (n, v) in &self.headers {
            size += (n.as_str().len() + v.len() + 4) as u64;
            map.append(n, v.clone());
        }
        let body = body.map(Bytes::from).unwrap_or_default();
        size += body.len() as u64;
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.headers_mut() = map;
        // A recorded URL the URI type refuses: send the origin's "/"
        // rather than abort the run; the endpoint still counts.
        *request.uri_mut() = uri.unwrap_or_else(|_| http::Uri::from_static("/"));
        (request, size + 2)
    }
}

/// A request ready for the connection.
pub enum Outgoing {
    /// HTTP/1.1 bytes for the lean client.
    Wire(WireRequest),
    /// For hyper (`--http2`).
    Hyper(Box<http::Request<Full<Bytes>>>),
}

pub struct WireRequest {
    pub bytes: Vec<u8>,
    /// HEAD: the response has no body.
    pub head: bool,
}

/// A header value `http::HeaderValue::from_str` would take: visible ASCII,
/// spaces and tabs.
fn is_field_value(s: &[u8]) -> bool {
    s.iter().all(|&b| (b' '..=b'~').contains(&b) || b == b'\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(headers: &[(&str, &str)]) -> RequestBuilder {
        RequestBuilder {
            target: "http://api.test:8080".parse().unwrap(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                        http::HeaderValue::from_str(v).unwrap(),
                    )
                })
                .collect(),
            secrets: HashMap::from([("api_key".to_string(), "s3cret".to_string())]),
            http2: false,
            host: Some(http::HeaderValue::from_static("api.test:8080")),
            prefix: String::new(),
        }
    }

    fn text(w: &WireRequest) -> String {
        String::from_utf8(w.bytes.clone()).unwrap()
    }

    #[test]
    fn wire_requests_are_http11_as_recorded() {
        let b = builder(&[("x-run", "7")]);
        let recorded = vec![
            ("Accept".to_string(), "application/json".to_string()),
            ("X-Api-Key".to_string(), "{{secret:api_key}}".to_string()),
            ("Bad Name".to_string(), "dropped".to_string()),
            ("X-Bad".to_string(), "a\r\nInjected: 1".to_string()),
            ("X-Run".to_string(), "replaced by -H".to_string()),
        ];
        let w = b.wire_request("POST", "/items?q=1", &recorded, Some(b"{}"));
        assert_eq!(
            text(&w),
            "POST /items?q=1 HTTP/1.1\r\nHost: api.test:8080\r\nAccept: application/json\r\n\
             X-Api-Key: s3cret\r\nx-run: 7\r\nContent-Length: 2\r\n\r\n{}"
        );
        assert!(!w.head);
        // HEAD has no body to wait for; a GET without a body no length.
        let w = b.wire_request("HEAD", "/", &[], None);
        assert_eq!(
            text(&w),
            "HEAD / HTTP/1.1\r\nHost: api.test:8080\r\nx-run: 7\r\n\r\n"
        );
        assert!(w.head);
        // A path a request line cannot carry, and a method that is no token.
        let w = b.wire_request("GE T", "/a b", &[], None);
        assert!(text(&w).starts_with("GET / HTTP/1.1\r\n"), "{}", text(&w));
        // An empty POST says so.
        let w = b.wire_request("POST", "/x", &[], None);
        assert!(
            text(&w).ends_with("Content-Length: 0\r\n\r\n"),
            "{}",
            text(&w)
        );
    }

    #[test]
    fn a_host_given_with_h_replaces_the_targets() {
        let b = builder(&[("host", "front.example"), ("content-length", "99")]);
        let w = b.wire_request("GET", "/", &[], None);
        assert_eq!(text(&w), "GET / HTTP/1.1\r\nhost: front.example\r\n\r\n");
    }

    #[test]
    fn tokens_and_values() {
        assert!(is_token(b"X-Api-Key") && is_token(b"GET"));
        assert!(!is_token(b"") && !is_token(b"a b") && !is_token(b"a:b"));
        assert!(is_field_value(b"text/html; q=0.9\t"));
        assert!(!is_field_value(b"a\r\nInjected: 1") && !is_field_value("é".as_bytes()));
    }
}
