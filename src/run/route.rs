//! How a run's connections reach its target, decided and checked before
//! anything starts: the TLS client (`--cacert`, `--cert`/`--key`,
//! `--insecure`), the proxy from the environment (unless `--no-proxy`),
//! `--resolve` entries and the `--host` name. A file that cannot be used,
//! a proxy variable that names no proxy or a `--resolve` entry that
//! matches nothing is a usage error here.

use super::options::RunOptions;
use crate::error::UsageError;
use crate::execute::proxy::{self, Proxy};
use crate::target::{Scheme, Target};
use crate::tls::{self, ClientTls, TlsOptions};

/// The checked route of a run with a `--target`.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub tls: Option<ClientTls>,
    pub proxy: Option<Proxy>,
    /// The target renamed by `--host`.
    pub named: Option<Target>,
    /// What the report's header says about it, one line each.
    pub notes: Vec<String>,
}

/// Checks the connection flags against the target; reads the proxy
/// variables through `env`.
pub fn route(o: &RunOptions, env: &dyn Fn(&str) -> Option<String>) -> Result<Route, UsageError> {
    let tls_files = [
        ("--cacert", &o.cacert),
        ("--cert", &o.cert),
        ("--key", &o.key),
    ];
    let Some(target) = &o.target else {
        let given = tls_files
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(flag, _)| *flag)
            .chain(o.host.as_ref().map(|_| "--host"))
            .chain((!o.resolve.is_empty()).then_some("--resolve"))
            .collect::<Vec<_>>();
        if let Some(flag) = given.first() {
            return Err(UsageError(format!(
                "{flag} needs --target: without it replay runs against its built-in mock on 127.0.0.1 (plain http)"
            )));
        }
        return Ok(Route::default());
    };
    let mut notes = Vec::new();
    let named = match &o.host {
        Some(name) => {
            let t = target.named(name).map_err(UsageError)?;
            notes.push(format!(
                "Host and TLS name: {} (--host); connecting to {}",
                t.authority(),
                target.authority()
            ));
            Some(t)
        }
        None => None,
    };
    let tls = match target.scheme() {
        Scheme::Https => {
            let options = TlsOptions {
                insecure: o.insecure,
                cacert: o.cacert.clone(),
                cert: o.cert.clone(),
                key: o.key.clone(),
            };
            let client = tls::client_config(&options, o.http2)?;
            if o.insecure {
                notes.push("--insecure: the server's certificate was not checked".into());
            }
            if let Some(c) = &o.cacert {
                notes.push(format!(
                    "trusting the authorities of --cacert {}",
                    c.display()
                ));
            }
            if let Some(c) = &o.cert {
                notes.push(format!("client certificate --cert {}", c.display()));
            }
            Some(client)
        }
        Scheme::Http => {
            if let Some((flag, _)) = tls_files.iter().find(|(_, f)| f.is_some()) {
                return Err(UsageError(format!(
                    "{flag} applies to https:// targets, and --target {target} is plain http"
                )));
            }
            None
        }
    };
    let proxy = match o.no_proxy {
        true => None,
        false => proxy::from_env(target, env).map_err(UsageError)?,
    };
    if let Some(p) = &proxy {
        let how = match (target.scheme(), o.http2) {
            (Scheme::Http, false) => "absolute-form requests",
            _ => "CONNECT tunnel",
        };
        notes.push(format!(
            "through the proxy {} (from {}, {how}; --no-proxy goes direct)",
            p.url, p.variable
        ));
    }
    let name = named.as_ref().unwrap_or(target);
    for r in &o.resolve {
        let for_target = r.matches(name.host(), name.port());
        let for_proxy = proxy.as_ref().is_some_and(|p| r.matches(&p.host, p.port));
        if !for_target && !for_proxy {
            return Err(UsageError(format!(
                "--resolve {r}: matches neither the target ({}:{}) nor a proxy; write --resolve {}:{}:ADDR",
                name.host(),
                name.port(),
                name.host(),
                name.port()
            )));
        }
        if for_target && proxy.is_some() && !for_proxy {
            return Err(UsageError(format!(
                "--resolve {r}: the target is reached through the proxy {} (from {}), which resolves its name; pass --no-proxy to connect to {r} directly",
                proxy.as_ref().map_or("", |p| p.url.as_str()),
                proxy.as_ref().map_or("", |p| p.variable.as_str()),
            )));
        }
        notes.push(format!("--resolve {r}"));
    }
    Ok(Route {
        tls,
        proxy,
        named,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(target: &str) -> RunOptions {
        RunOptions {
            target: Some(target.parse().unwrap()),
            ..RunOptions::default()
        }
    }

    #[test]
    fn connection_flags_are_checked_against_the_target() {
        let none = |_: &str| None;
        let mut o = RunOptions {
            host: Some("a.example".into()),
            ..RunOptions::default()
        };
        let e = route(&o, &none).unwrap_err().to_string();
        assert!(e.contains("--host needs --target"), "{e}");
        o = opts("http://10.0.0.1:8080");
        o.cacert = Some("ca.pem".into());
        let e = route(&o, &none).unwrap_err().to_string();
        assert!(e.contains("--cacert applies to https://"), "{e}");
        o = opts("https://10.0.0.1:8443");
        o.resolve = vec!["other.example:8443:10.0.0.2".parse().unwrap()];
        let e = route(&o, &none).unwrap_err().to_string();
        assert!(
            e.contains("matches neither") && e.contains("10.0.0.1:8443:ADDR"),
            "{e}"
        );
        o.host = Some("other.example".into());
        let r = route(&o, &none).unwrap();
        assert_eq!(r.named.unwrap().authority(), "other.example:8443");
        assert!(
            r.notes.iter().any(|n| n.contains("--host")),
            "{:?}",
            r.notes
        );
        let proxied = |v: &str| (v == "HTTPS_PROXY").then(|| "http://proxy.corp:3128".to_string());
        let e = route(&o, &proxied).unwrap_err().to_string();
        assert!(
            e.contains("through the proxy") && e.contains("--no-proxy"),
            "{e}"
        );
        o.no_proxy = true;
        assert!(route(&o, &proxied).unwrap().proxy.is_none());
        o.resolve.clear();
        o.no_proxy = false;
        let r = route(&o, &proxied).unwrap();
        assert_eq!(r.proxy.unwrap().url, "http://proxy.corp:3128");
        assert!(
            r.notes.iter().any(|n| n.contains("HTTPS_PROXY")),
            "{:?}",
            r.notes
        );
    }
}
