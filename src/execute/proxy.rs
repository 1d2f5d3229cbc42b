//! HTTP proxies, taken from the environment as curl takes them:
//! `https_proxy`/`HTTPS_PROXY` for https:// targets, `http_proxy`/
//! `HTTP_PROXY` for http:// ones, `all_proxy`/`ALL_PROXY` for both, and
//! `no_proxy`/`NO_PROXY` (host names and their subdomains, IP addresses,
//! CIDR blocks, `*`) for the targets that go direct. Unlike curl, a
//! loopback target (`localhost`, 127.0.0.0/8, ::1) always goes direct, as
//! in Go's `net/http`: a load test of a service on this machine is never
//! meant to cross a corporate proxy.
//!
//! The decision is made once per run; per connection the executor either
//! opens a CONNECT tunnel ([`tunnel`]: https:// targets and `--http2`
//! cleartext) or sends absolute-form request targets to the proxy (plain
//! HTTP/1.1).

use std::net::IpAddr;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::{Scheme, Target};

/// The proxy a run goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `http://host:port` (credentials left out): what the report shows.
    pub url: String,
    /// The variable it came from (`HTTPS_PROXY`).
    pub variable: String,
    pub host: String,
    pub port: u16,
    /// `Basic …`, from `user:password@` in the proxy URL.
    pub authorization: Option<String>,
}

impl Proxy {
    /// `host:port` as a request target (IPv6 in brackets).
    pub fn authority(&self) -> String {
        authority_of(&self.host, self.port)
    }
}

/// `host:port`, an IPv6 address in brackets.
pub fn authority_of(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The proxy for `target` from the variables `get` reads (the process
/// environment: `|v| std::env::var(v).ok()`), or `None` to go direct.
/// A variable that names no usable proxy is an error naming it.
pub fn from_env(
    target: &Target,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    if target.is_loopback() {
        return Ok(None);
    }
    let names: &[&str] = match target.scheme() {
        Scheme::Https => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
        Scheme::Http => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
    };
    let Some((variable, value)) = names.iter().find_map(|n| {
        get(n)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (*n, v))
    }) else {
        return Ok(None);
    };
    let no_proxy = get("no_proxy")
        .or_else(|| get("NO_PROXY"))
        .unwrap_or_default();
    if bypassed(&no_proxy, target.host(), target.port()) {
        return Ok(None);
    }
    parse(variable, &value).map(Some)
}

/// A proxy URL: `[http://][user:password@]host[:port][/]`.
fn parse(variable: &str, value: &str) -> Result<Proxy, String> {
    let refuse = |why: &str| {
        format!("{variable}='{value}' {why}; fix the variable, or pass --no-proxy to go direct")
    };
    let rest = match value.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some((scheme, _)) => {
            return Err(refuse(&format!(
                "is a {scheme}:// proxy; replay reaches proxies over http:// only (CONNECT tunnels carry TLS)"
            )))
        }
        None => value,
    };
    let rest = rest.trim_end_matches('/');
    let (credentials, hostport) = match rest.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return Err(refuse("has an IPv6 address without its ']'")),
        },
        None => match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(refuse("names no proxy host"));
    }
    let port = match port {
        // curl's default proxy port.
        None => 1080,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(refuse(&format!("has port '{p}', which is not 1-65535"))),
        },
    };
    Ok(Proxy {
        url: format!("http://{}", authority_of(host, port)),
        variable: variable.to_string(),
        host: host.to_string(),
        port,
        authorization: credentials.map(|c| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c.as_bytes())
            )
        }),
    })
}

/// Whether `NO_PROXY`'s list sends `host:port` direct.
fn bypassed(list: &str, host: &str, port: u16) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    list.split([',', ' ']).map(str::trim).any(|entry| {
        if entry.is_empty() {
            return false;
        }
        if entry == "*" {
            return true;
        }
        // An entry may carry a port: it then only matches that port.
        let (entry, entry_port) = split_port(entry);
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        if let Some((net, bits)) = entry.split_once('/') {
            return match (ip, net.parse::<IpAddr>(), bits.parse::<u32>()) {
                (Some(ip), Ok(net), Ok(bits)) => in_block(ip, net, bits),
                _ => false,
            };
        }
        if let (Some(ip), Ok(e)) = (ip, entry.parse::<IpAddr>()) {
            return ip == e;
        }
        let domain = entry
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !domain.is_empty()
            && (host == domain
                || (host.len() > domain.len()
                    && host.ends_with(&domain)
                    && host.as_bytes()[host.len() - domain.len() - 1] == b'.'))
    })
}

/// `name:port` or `[v6]:port` → (name, port); anything else is all name.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(v6) = entry.strip_prefix('[') {
        if let Some((a, p)) = v6.split_once("]:") {
            return (a, p.parse().ok());
        }
        return (v6.trim_end_matches(']'), None);
    }
    match entry.rsplit_once(':') {
        Some((a, p)) if !a.contains(':') => match p.parse() {
            Ok(p) => (a, Some(p)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Asks the proxy on `stream` for a tunnel to `host:port` (`CONNECT`);
/// `Err` says what the proxy answered instead.
pub async fn tunnel(
    stream: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), String> {
    let to = authority_of(host, port);
    let mut request = format!("CONNECT {to} HTTP/1.1\r\nHost: {to}\r\n");
    if let Some(a) = &proxy.authorization {
        request += &format!("Proxy-Authorization: {a}\r\n");
    }
    request += "\r\n";
    let io = |e: std::io::Error| {
        format!(
            "the proxy {} ({}) failed during CONNECT {to}: {e}",
            proxy.url, proxy.variable
        )
    };
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    // The answer's head, byte by byte up to its blank line: nothing of
    // the tunnel's own bytes may be read here.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(format!(
                "the proxy {} answered CONNECT {to} with a head over 16 KiB",
                proxy.url
            ));
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await.map_err(io)? {
            0 => {
                return Err(format!(
                    "the proxy {} ({}) closed the connection instead of answering CONNECT {to}",
                    proxy.url, proxy.variable
                ))
            }
            _ => head.push(byte[0]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_string();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(407) => Err(format!(
            "the proxy {} ({}) wants credentials for CONNECT {to} ({status_line}): put them in the variable as http://USER:PASSWORD@HOST:PORT, or pass --no-proxy",
            proxy.url, proxy.variable
        )),
        _ => Err(format!(
            "the proxy {} ({}) refused CONNECT {to} ({status_line}): check that it may reach that host, add the host to NO_PROXY, or pass --no-proxy",
            proxy.url, proxy.variable
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        }
    }

    fn target(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn variables_by_scheme_and_case() {
        let vars = [
            ("HTTPS_PROXY", "http://user:pw@proxy.corp:3128/"),
            ("http_proxy", "plain.corp"),
        ];
        let p = from_env(&target("https://api.example"), &env(&vars))
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.variable.as_str()),
            ("proxy.corp", 3128, "HTTPS_PROXY")
        );
        assert_eq!(p.url, "http://proxy.corp:3128");
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjpwdw=="));
        let p = from_env(&target("http://api.example"), &env(&vars))
            .unwrap()
            .unwrap();
        assert_eq!((p.host.as_str(), p.port), ("plain.corp", 1080));
        // Lower case first, as curl.
        let both = [("https_proxy", "http://a:1"), ("HTTPS_PROXY", "http://b:2")];
        let p = from_env(&target("https://x.example"), &env(&both))
            .unwrap()
            .unwrap();
        assert_eq!(p.host, "a");
        assert_eq!(
            from_env(&target("https://x.example"), &env(&[])).unwrap(),
            None
        );
    }

    #[test]
    fn loopback_and_no_proxy_go_direct() {
        let vars = [
            ("HTTPS_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                "internal.corp, .svc.local,10.0.0.0/8, 192.168.1.7 ,other:8443",
            ),
        ];
        let go = |t: &str| from_env(&target(t), &env(&vars)).unwrap().is_some();
        assert!(!go("https://127.0.0.1:8443"));
        assert!(!go("https://localhost:8443"));
        assert!(!go("https://[::1]:8443"));
        assert!(!go("https://internal.corp"));
        assert!(!go("https://api.internal.corp"));
        assert!(go("https://notinternal.corp"));
        assert!(!go("https://a.svc.local"));
        assert!(!go("https://10.2.3.4"));
        assert!(go("https://11.2.3.4"));
        assert!(!go("https://192.168.1.7"));
        assert!(!go("https://other:8443"));
        assert!(go("https://other:443"));
        let all = [("HTTPS_PROXY", "http://proxy:3128"), ("no_proxy", "*")];
        assert!(from_env(&target("https://a.example"), &env(&all))
            .unwrap()
            .is_none());
    }

    #[test]
    fn unusable_proxies_name_the_variable() {
        for (value, says) in [
            ("socks5://p:1080", "socks5:// proxy"),
            ("https://p:443", "https:// proxy"),
            ("http://p:0", "port '0'"),
            ("http://:8080", "no proxy host"),
        ] {
            let vars = [("HTTPS_PROXY", value)];
            let e = from_env(&target("https://a.example"), &env(&vars)).unwrap_err();
            assert!(
                e.contains("HTTPS_PROXY") && e.contains(says) && e.contains("--no-proxy"),
                "{e}"
            );
        }
    }
}
