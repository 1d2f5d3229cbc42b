//! Which names carry credentials: request headers, query parameters and
//! body fields the model scrubs (see `model::scrub`), and the response
//! headers that hand tokens out. Its own module because both the capture
//! readers (which keep token headers of responses) and the model use it.

/// Header names that are always secret.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-xsrf-token",
    "x-amz-security-token",
];

/// Word fragments that make a header, query or field name secret.
const SECRET_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "session",
    "auth",
    "credential",
    "signature",
    "private",
];

/// Is a header with this name secret?
pub fn is_secret_header(name: &str) -> bool {
    with_lower(name, is_secret_header_lower)
}

fn is_secret_header_lower(n: &str) -> bool {
    SECRET_HEADERS.contains(&n) || name_looks_secret(n)
}

/// Whether a response header can hand out a credential later requests
/// carry: a name that is secret in a request (`X-Auth-Token`,
/// `X-Subject-Token`, `X-Session-Id`...), but not cookies, which a cookie
/// jar carries rather than a request header of the same name. Captures
/// keep such response headers (besides the few they model) for the
/// correlation of a login's token with the requests that use it.
pub fn token_header(name: &str) -> bool {
    token_header_bytes(name.as_bytes())
}

fn token_header_uncached(name: &str) -> bool {
    with_lower(name, |n| {
        n != "set-cookie" && n != "cookie" && is_secret_header_lower(n)
    })
}

/// `f` of the lower-case `name`, without allocating for names of up to
/// 64 bytes (the pcap reader asks this of every response header).
fn with_lower(name: &str, f: impl Fn(&str) -> bool) -> bool {
    let mut buf = [0u8; 64];
    if name.len() <= buf.len() {
        let b = &mut buf[..name.len()];
        b.copy_from_slice(name.as_bytes());
        b.make_ascii_lowercase();
        // Lower-casing ASCII bytes keeps the text UTF-8.
        std::str::from_utf8(b).is_ok_and(f)
    } else {
        f(&name.to_ascii_lowercase())
    }
}

/// Is a query parameter or body field with this name secret?
pub fn is_secret_field(name: &str) -> bool {
    name_looks_secret(&name.to_ascii_lowercase())
}

fn name_looks_secret(lower: &str) -> bool {
    if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
        // "author" and "authors" are not credentials.
        if lower.contains("author") && !lower.contains("authori") {
            return SECRET_WORDS
                .iter()
                .filter(|w| **w != "auth")
                .any(|w| lower.contains(w));
        }
        return true;
    }
    // `key`, `api.key`, `client_key`, `X-Key` — but not `keyword`, `monkey`.
    lower == "key"
        || lower.ends_with("_key")
        || lower.ends_with("-key")
        || lower.ends_with(".key")
        || lower == "sig"
        || lower == "jwt"
}

/// [`token_header`] of a name as bytes, remembered per thread: a capture
/// repeats a few dozen response header names millions of times, and the
/// word search costs more than a hash lookup (the pcap reader asks this
/// of every response header it does not otherwise know).
pub fn token_header_bytes(name: &[u8]) -> bool {
    use std::cell::RefCell;
    thread_local! {
        static SEEN: RefCell<rustc_hash::FxHashMap<Vec<u8>, bool>> = RefCell::default();
    }
    SEEN.with(|seen| {
        if let Some(v) = seen.borrow().get(name) {
            return *v;
        }
        let v = std::str::from_utf8(name).is_ok_and(token_header_uncached);
        let mut m = seen.borrow_mut();
        if m.len() < 4096 {
            m.insert(name.to_vec(), v);
        }
        v
    })
}
