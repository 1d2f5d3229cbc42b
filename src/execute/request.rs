//! From a generated request to the bytes hyper sends: the target's origin,
//! `-H` overrides, and `{{secret:NAME}}` placeholders filled.

use std::borrow::Cow;
use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use rand::Rng;

use super::Plan;
use crate::cli::UsageError;
use crate::generate::{self, Target};
use crate::model::scrub;
use crate::model::TrafficModel;

#[derive(Clone)]
pub struct RequestBuilder {
    target: Target,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    secrets: HashMap<String, String>,
    http2: bool,
    /// The `Host` header, built once (HTTP/1.1 only).
    host: Option<http::HeaderValue>,
}

impl RequestBuilder {
    /// Checks that every placeholder the model uses has a value and that
    /// the `-H` headers are valid.
    pub fn new(plan: &Plan, model: &TrafficModel) -> anyhow::Result<RequestBuilder> {
        let mut secrets = plan.secrets.clone();
        let mut headers = Vec::new();
        for (name, value) in &plan.headers {
            let n = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                UsageError(format!(
                    "-H '{name}: …': '{name}' is not a valid header name"
                ))
            })?;
            let v = http::HeaderValue::from_str(value).map_err(|_| {
                UsageError(format!(
                    "-H '{name}: …': the value is not a valid header value"
                ))
            })?;
            secrets
                .entry(scrub::secret_name(name))
                .or_insert_with(|| value.clone());
            headers.push((n, v));
        }
        let missing: Vec<String> = model
            .placeholder_names()
            .into_iter()
            .filter(|n| !secrets.contains_key(n))
            .collect();
        if !missing.is_empty() {
            let hints: Vec<String> = missing
                .iter()
                .map(|n| {
                    let field = model
                        .secrets
                        .iter()
                        .find(|s| &s.name == n)
                        .map(|s| format!("{} {}", s.location, s.field))
                        .unwrap_or_default();
                    format!("{{{{secret:{n}}}}} ({field})")
                })
                .collect();
            return Err(UsageError(format!(
                "the model needs values for scrubbed secrets: {}; supply each with --secret NAME=VALUE (or -H 'Header: value' for headers), e.g. --secret {}=...",
                hints.join(", "),
                missing[0]
            ))
            .into());
        }
        let host = if plan.http2 {
            None
        } else {
            Some(
                http::HeaderValue::from_str(&plan.target.authority).map_err(|_| {
                    UsageError(format!(
                        "--target: '{}' is not a valid Host header",
                        plan.target.authority
                    ))
                })?,
            )
        };
        Ok(RequestBuilder {
            target: plan.target.clone(),
            headers,
            secrets,
            http2: plan.http2,
            host,
        })
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

    /// Draws the next request: (endpoint, request, approximate bytes on
    /// the wire).
    /// With `endpoint`, that endpoint's request; otherwise one drawn by
    /// weight.
    pub fn next<R: Rng + ?Sized>(
        &mut self,
        model: &TrafficModel,
        endpoint: Option<usize>,
        rng: &mut R,
    ) -> (usize, http::Request<Full<Bytes>>, u64) {
        let g = match endpoint {
            Some(e) => generate::generate_endpoint(model, e, Some(&self.target), rng),
            None => generate::generate_to(model, Some(&self.target), rng),
        };
        // Origin form for HTTP/1.1, absolute for HTTP/2. The URI takes the
        // generated string's buffer (no copy) when nothing needs filling.
        let mut url = match self.fill(&g.url) {
            Cow::Borrowed(_) => g.url,
            Cow::Owned(o) => o,
        };
        if !self.http2 {
            let path_start = url
                .find("://")
                .map(|i| i + 3)
                .and_then(|i| url[i..].find('/').map(|j| i + j));
            match path_start {
                Some(i) => {
                    url.drain(..i);
                }
                None => url = "/".into(),
            }
        }
        let mut size = g.method.len() as u64 + url.len() as u64 + 12;
        let method = match g.method.as_str() {
            "GET" => http::Method::GET,
            m => http::Method::from_bytes(m.as_bytes()).unwrap_or(http::Method::GET),
        };
        let uri = http::Uri::from_maybe_shared(Bytes::from(url));
        let mut headers = http::HeaderMap::with_capacity(
            g.headers.len() + self.headers.len() + usize::from(self.host.is_some()),
        );
        if let Some(host) = &self.host {
            headers.append(http::header::HOST, host.clone());
            size += 8 + host.len() as u64;
        }
        for (name, value) in &g.headers {
            if self
                .headers
                .iter()
                .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            {
                continue;
            }
            let value = self.fill(value);
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                size += (n.as_str().len() + v.len() + 4) as u64;
                headers.append(n, v);
            }
        }
        for (n, v) in &self.headers {
            size += (n.as_str().len() + v.len() + 4) as u64;
            headers.append(n, v.clone());
        }
        let body = match g.body {
            Some(body) => {
                let body = if body.windows(9).any(|w| w == b"{{secret:") {
                    match String::from_utf8(body) {
                        Ok(s) => self.fill(&s).into_owned().into_bytes(),
                        Err(e) => e.into_bytes(),
                    }
                } else {
                    body
                };
                size += body.len() as u64;
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        let mut request = http::Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.headers_mut() = headers;
        // A recorded path with bytes the URI type refuses: send "/" rather
        // than abort the run; the endpoint still counts.
        *request.uri_mut() = uri.unwrap_or_else(|_| http::Uri::from_static("/"));
        (g.endpoint, request, size + 2)
    }
}
