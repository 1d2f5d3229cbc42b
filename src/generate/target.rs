//! `--target URL`: the scheme, authority and optional base path that
//! replace the recorded origin.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]`.
    pub authority: String,
    /// Prefix for every path, without a trailing slash (`""` or `/base`).
    pub base_path: String,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Target, String> {
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("'{s}' is not a URL; write it like http://127.0.0.1:8080"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "'{s}': only http:// and https:// targets are supported"
            ));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        if authority.is_empty() || authority.contains('@') || authority.contains(' ') {
            return Err(format!(
                "'{s}' has no valid host; write it like http://127.0.0.1:8080"
            ));
        }
        let path = &rest[end..];
        if path.contains(['?', '#']) {
            return Err(format!(
                "'{s}': a target may carry a base path but no query or fragment"
            ));
        }
        Ok(Target {
            scheme,
            authority: authority.to_string(),
            base_path: path.trim_end_matches('/').to_string(),
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t: Target = "http://127.0.0.1:8080".parse().unwrap();
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(t.base_path, "");
        let t: Target = "HTTPS://api.example/v2/".parse().unwrap();
        assert_eq!((t.scheme.as_str(), t.base_path.as_str()), ("https", "/v2"));
        assert!("ftp://x".parse::<Target>().is_err());
        assert!("localhost:80".parse::<Target>().is_err());
        assert!("http://x/?a=1".parse::<Target>().is_err());
    }
}
