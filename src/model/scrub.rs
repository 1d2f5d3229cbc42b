//! Secret scrubbing: which header, query and body values must never reach a
//! model file, and the placeholders that replace them.
//!
//! A value is secret when its name looks like a credential (`Authorization`,
//! `Cookie`, `X-Api-Key`, `access_token`, `password`...) or when the value
//! itself looks like one (a JWT). The placeholder `{{secret:NAME}}` names
//! what the replayer must be given (`-H` or `--secret NAME=VALUE`).

pub use crate::credential::{is_secret_field, is_secret_header};

/// Does the value itself look like a credential (a JWT, a bearer token)?
pub fn value_looks_secret(v: &str) -> bool {
    let v = v.trim();
    let v = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .unwrap_or(v);
    // JWT: three base64url parts, the first a JSON header (`eyJ`).
    v.starts_with("eyJ")
        && v.len() > 20
        && v.bytes().filter(|b| *b == b'.').count() == 2
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' || b == b'=')
}

/// The placeholder name for a secret: lower case, `[a-z0-9_]`.
pub fn secret_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("secret");
    }
    out
}

/// `{{secret:NAME}}`.
pub fn placeholder(name: &str) -> String {
    format!("{{{{secret:{name}}}}}")
}

/// All placeholder names in a string, in order.
pub fn placeholders_in(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{secret:") {
        let after = &rest[i + 9..];
        match after.find("}}") {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 2..];
            }
            None => break,
        }
    }
    out
}

/// Does a text body look like it carries a credential (a secret word,
/// or a token-like value)?
pub fn text_has_secret(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
    ]
    .iter()
    .any(|w| lower.contains(w))
        || t.split(|c: char| c.is_whitespace() || c == '"' || c == '=' || c == '&')
            .any(value_looks_secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_secret() {
        for h in [
            "Authorization",
            "Cookie",
            "X-API-Key",
            "X-Auth-Token",
            "X-CSRF-Token",
            "x-session-id",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in [
            "Accept",
            "User-Agent",
            "Content-Type",
            "X-Author",
            "Keep-Alive",
            "Referer",
        ] {
            assert!(!is_secret_header(h), "{h}");
        }
        for f in [
            "access_token",
            "password",
            "api_key",
            "apiKey",
            "client_secret",
            "sessionid",
            "key",
            "sig",
        ] {
            assert!(is_secret_field(f), "{f}");
        }
        for f in ["author", "keyword", "monkey", "page", "q", "id", "authors"] {
            assert!(!is_secret_field(f), "{f}");
        }
    }

    #[test]
    fn jwt_values_are_secret() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc-def_ghi";
        assert!(value_looks_secret(jwt));
        assert!(value_looks_secret(&format!("Bearer {jwt}")));
        assert!(!value_looks_secret("hello"));
    }

    #[test]
    fn placeholders_round_trip() {
        assert_eq!(secret_name("X-API-Key"), "x_api_key");
        assert_eq!(placeholder("cookie"), "{{secret:cookie}}");
        assert_eq!(
            placeholders_in("a {{secret:x}} b {{secret:y_z}}"),
            vec!["x", "y_z"]
        );
    }
}
