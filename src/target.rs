//! `--target URL`: where load goes, parsed once at the boundary into a
//! typed value (scheme, host, port, base path) and checked there, so a
//! bad port, an unknown scheme or an empty host is a usage error before
//! anything starts — never a run whose every request fails to connect.
//!
//! Generation yields origin-form paths (`/users/7?x=1`); the executor owns
//! the origin: it connects to [`Target::host`]:[`Target::port`], sends
//! [`Target::authority`] as `Host` (and SNI), and prefixes
//! [`Target::base_path`].

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A checked target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    scheme: Scheme,
    /// The host as connected to and named in TLS: a name, an IPv4
    /// address, or an IPv6 address without brackets.
    host: String,
    port: u16,
    /// `host[:port]` as the user wrote it (IPv6 in brackets): the `Host`
    /// header.
    authority: String,
    /// Prefix for every path, without a trailing slash (`""` or `/base`).
    base_path: String,
}

impl Target {
    /// The target of a server on this machine (the built-in mock).
    pub fn local(addr: std::net::SocketAddr) -> Target {
        let authority = addr.to_string();
        Target {
            scheme: Scheme::Http,
            host: addr.ip().to_string(),
            port: addr.port(),
            authority,
            base_path: String::new(),
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host[:port]` as given: what `Host` carries.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn base_path(&self) -> &str {
        &self.base_path
    }

    /// `scheme://authority`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority)
    }

    /// The absolute URL of an origin-form path (`/a?b`) on this target.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{}", self.origin(), self.base_path, path)
    }

    /// Whether the target runs on this machine (`localhost` or a loopback
    /// address), and so needs a core of its own to answer.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl Target {
    /// The same target named `name` (`--host`): `Host` and SNI carry the
    /// name (with the target's port when it was written), while the
    /// connection still goes to this target's host. Checked as `--target`
    /// checks a host.
    pub fn named(&self, name: &str) -> Result<Target, String> {
        let written_port = match self.authority.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => self.authority.contains(':'),
        };
        let authority = if written_port {
            format!("{name}:{}", self.port)
        } else {
            name.to_string()
        };
        let url = format!("{}://{authority}{}", self.scheme.as_str(), self.base_path);
        let t: Target = url
            .parse()
            .map_err(|_| format!("--host: '{name}' is not a host name"))?;
        if t.host != name || name.contains(':') {
            return Err(format!(
                "--host: '{name}' is not a host name (no port, no scheme)"
            ));
        }
        Ok(t)
    }
}

/// `--resolve HOST:PORT:ADDR[,ADDR…]` (curl's meaning): connections to
/// `HOST:PORT` go to these addresses instead of what DNS says, while
/// `Host` and SNI keep the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

impl Resolve {
    /// Whether this entry is for `host:port`.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

impl FromStr for Resolve {
    type Err = String;

    fn from_str(s: &str) -> Result<Resolve, String> {
        let usage = |why: &str| {
            format!(
                "'{s}' {why}; write HOST:PORT:ADDR, e.g. --resolve staging.example:443:10.0.0.5"
            )
        };
        let mut parts = s.splitn(3, ':');
        let (Some(host), Some(port), Some(addrs)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(usage("is not HOST:PORT:ADDR"));
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(usage(&format!("has '{host}', which is not a host name")));
        }
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(usage(&format!("has port '{port}', which is not 1-65535"))),
        };
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                let bare = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                bare.parse::<IpAddr>()
                    .map_err(|_| usage(&format!("has '{a}', which is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolve {
            host: host.to_string(),
            port,
            addrs,
        })
    }
}

impl fmt::Display for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| match a {
                IpAddr::V6(v6) => format!("[{v6}]"),
                IpAddr::V4(v4) => v4.to_string(),
            })
            .collect();
        write!(f, "{}:{}:{}", self.host, self.port, addrs.join(","))
    }
}

/// Why a target URL was refused: one sentence with the fix.
fn refuse(s: &str, why: &str) -> String {
    format!("'{s}' {why}; write it like http://127.0.0.1:8080 or https://staging.example/base")
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| refuse(s, "is not a URL"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => {
                return Err(format!(
                    "'{s}': only http:// and https:// targets are supported"
                ))
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let path = &rest[end..];
        if path.contains(['?', '#']) {
            return Err(format!(
                "'{s}': a target may carry a base path but no query or fragment"
            ));
        }
        if path.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(refuse(s, "has a base path with spaces or non-ASCII bytes"));
        }
        let (host, port) = split_authority(s, authority, scheme)?;
        if scheme == Scheme::Https
            && rustls::pki_types::ServerName::try_from(host.as_str()).is_err()
        {
            return Err(refuse(
                s,
                &format!("has '{host}', which TLS cannot name (SNI)"),
            ));
        }
        Ok(Target {
            scheme,
            host,
            port,
            authority: authority.to_string(),
            base_path: path.trim_end_matches('/').to_string(),
        })
    }
}

/// `host[:port]` or `[v6][:port]` → (host, port), every part checked.
fn split_authority(s: &str, authority: &str, scheme: Scheme) -> Result<(String, u16), String> {
    if authority.contains('@') {
        return Err(refuse(
            s,
            "carries user information; pass credentials with -H",
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| refuse(s, "has an IPv6 address without its closing ']'"))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| refuse(s, &format!("has '{addr}', which is not an IPv6 address")))?;
        match after {
            "" => (addr, None),
            p => match p.strip_prefix(':') {
                Some(p) => (addr, Some(p)),
                None => return Err(refuse(s, "has text after the IPv6 address")),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) if h.contains(':') => {
                return Err(refuse(
                    s,
                    "has an IPv6 address outside brackets ([::1]:8080)",
                ))
            }
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(refuse(s, "has no host"));
    }
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~:%".contains(&b))
    {
        return Err(refuse(
            s,
            &format!("has '{host}', which is not a host name"),
        ));
    }
    let port = match port {
        None => scheme.default_port(),
        Some(p) => {
            let n = if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u16>().ok()
            };
            match n {
                Some(0) => return Err(refuse(s, "has port 0, which no server listens on")),
                Some(n) => n,
                None => return Err(refuse(s, &format!("has port '{p}', which is not 1-65535"))),
            }
        }
    };
    Ok((host.to_string(), port))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority,
            self.base_path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t: Target = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            (t.host(), t.port(), t.authority()),
            ("127.0.0.1", 8080, "127.0.0.1:8080")
        );
        assert_eq!(t.base_path(), "");
        assert!(t.is_loopback());
        let t: Target = "HTTPS://api.example/v2/".parse().unwrap();
        assert_eq!(
            (t.scheme(), t.base_path(), t.port()),
            (Scheme::Https, "/v2", 443)
        );
        assert!(!t.is_loopback());
        assert_eq!(t.url("/a?b=1"), "https://api.example/v2/a?b=1");
        let t: Target = "http://[::1]:9000/".parse().unwrap();
        assert_eq!(
            (t.host(), t.port(), t.authority()),
            ("::1", 9000, "[::1]:9000")
        );
        assert!(t.is_loopback());
        let t: Target = "http://localhost".parse().unwrap();
        assert_eq!((t.port(), t.to_string().as_str()), (80, "http://localhost"));
        assert!(t.is_loopback());
    }

    #[test]
    fn refuses_what_no_server_answers() {
        for (bad, says) in [
            ("ftp://x", "only http:// and https://"),
            ("localhost:80", "is not a URL"),
            ("http://x/?a=1", "no query"),
            ("http://127.0.0.1:abc", "port 'abc'"),
            ("http://127.0.0.1:0", "port 0"),
            ("http://127.0.0.1:65536", "port '65536'"),
            ("http://127.0.0.1:", "port ''"),
            ("http://:80", "has no host"),
            ("http://", "has no host"),
            ("http://u:p@host", "user information"),
            ("http://::1:80", "outside brackets"),
            ("http://[::1", "closing"),
            ("http://[nope]:80", "not an IPv6"),
            ("http://a b:80", "not a host name"),
            ("https://a..b", "TLS cannot name"),
        ] {
            let e = bad.parse::<Target>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn resolve_entries_and_host_names() {
        let r: Resolve = "staging.invalid:8443:127.0.0.1,[::1]".parse().unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.addrs.len()),
            ("staging.invalid", 8443, 2)
        );
        assert!(r.matches("STAGING.invalid", 8443) && !r.matches("staging.invalid", 443));
        assert_eq!(r.to_string(), "staging.invalid:8443:127.0.0.1,[::1]");
        for (bad, says) in [
            ("a:443", "HOST:PORT:ADDR"),
            ("a:0:1.2.3.4", "port '0'"),
            ("a:443:nope", "'nope'"),
            (":443:1.2.3.4", "not a host name"),
        ] {
            let e = bad.parse::<Resolve>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let t: Target = "https://10.0.0.5:8443/v1".parse().unwrap();
        let n = t.named("api.staging.example").unwrap();
        assert_eq!(
            (n.host(), n.port(), n.authority(), n.base_path()),
            (
                "api.staging.example",
                8443,
                "api.staging.example:8443",
                "/v1"
            )
        );
        let t: Target = "https://10.0.0.5".parse().unwrap();
        assert_eq!(t.named("api.example").unwrap().authority(), "api.example");
        let t: Target = "http://[::1]:81".parse().unwrap();
        assert_eq!(t.named("a.test").unwrap().authority(), "a.test:81");
        assert!(t.named("a b").is_err());
        assert!(t.named("a.test:90").is_err());
    }
}
