//! From a generated request to the bytes hyper sends: the target's origin,
//! `-H` overrides, and `{{secret:NAME}}` placeholders filled.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use rand::Rng;

use super::Plan;
use crate::cli::UsageError;
use crate::generate::{self, Target};
use crate::model::scrub;
use crate::model::TrafficModel;

pub struct RequestBuilder {
    target: Target,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    secrets: HashMap<String, String>,
    http2: bool,
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
        Ok(RequestBuilder {
            target: plan.target.clone(),
            headers,
            secrets,
            http2: plan.http2,
        })
    }

    fn fill(&self, s: &str) -> String {
        if !s.contains("{{secret:") {
            return s.to_string();
        }
        let mut out = s.to_string();
        for name in scrub::placeholders_in(s) {
            if let Some(v) = self.secrets.get(name) {
                out = out.replace(&scrub::placeholder(name), v);
            }
        }
        out
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
        let url = self.fill(&g.url);
        // Origin form for HTTP/1.1, absolute for HTTP/2.
        let path_start = url
            .find("://")
            .map(|i| i + 3)
            .and_then(|i| url[i..].find('/').map(|j| i + j));
        let uri = if self.http2 {
            url.clone()
        } else {
            path_start
                .map(|i| url[i..].to_string())
                .unwrap_or_else(|| "/".into())
        };
        let method = http::Method::from_bytes(g.method.as_bytes()).unwrap_or(http::Method::GET);
        let mut b = http::Request::builder().method(method).uri(uri.as_str());
        let mut size = g.method.len() as u64 + uri.len() as u64 + 12;
        if !self.http2 {
            b = b.header(http::header::HOST, self.target.authority.as_str());
            size += 8 + self.target.authority.len() as u64;
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
                b = b.header(n, v);
            }
        }
        for (n, v) in &self.headers {
            size += (n.as_str().len() + v.len() + 4) as u64;
            b = b.header(n, v);
        }
        let body = match g.body {
            Some(body) => {
                let body = if body.windows(9).any(|w| w == b"{{secret:") {
                    match String::from_utf8(body) {
                        Ok(s) => self.fill(&s).into_bytes(),
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
        let request = match b.body(Full::new(body)) {
            Ok(r) => r,
            // A recorded path with bytes the URI type refuses: send "/"
            // rather than abort the run; the endpoint still counts.
            Err(_) => {
                let mut r = http::Request::new(Full::new(Bytes::new()));
                *r.uri_mut() = http::Uri::from_static("/");
                r
            }
        };
        (g.endpoint, request, size + 2)
    }
}
