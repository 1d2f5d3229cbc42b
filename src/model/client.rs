//! Who sent a request: a user, not a connection.
//!
//! Captures name the sender in their own way: a pcap by the connection
//! (`10.0.0.1:51234`, a new name for each of the dozens of connections a
//! browser opens), an access log by the address, a HAR by its file. A
//! user here is the address without its port, plus the `User-Agent`, plus
//! the subject of its credentials when the request carries any:
//!
//! - `Authorization: Bearer` with a JWT: its `sub` claim (a token renewed
//!   for the same subject stays the same user); `Basic`: the user name;
//!   any other credential: the whole value;
//! - otherwise cookies whose name says session or login (`session`,
//!   `PHPSESSID`, `connect.sid`, `auth_token`, …), all of them together.
//!
//! Requests without credentials go to the user last seen with credentials
//! at the same address and agent; the first subject seen there takes over
//! the requests made before it (a visitor who logs in stays one user). Only
//! 64-bit hashes are kept, never a credential, and nothing of this reaches
//! the model but the numbers of users and sessions.

use std::hash::{Hash, Hasher};

use base64::Engine as _;
use rustc_hash::{FxHashMap, FxHasher};

use crate::ingest::Exchange;

/// Tells users apart by 64-bit keys. A user without credentials is its
/// (address, agent) group's key, so an anonymous client costs no memory
/// here however many there are (an access log of a public site names
/// millions); only groups where credentials were seen are kept.
#[derive(Debug, Default)]
pub struct Clients {
    /// (address, agent) → the user its requests without credentials go
    /// to, for groups where credentials were seen (the others' is the
    /// group's own key).
    claimed: FxHashMap<u64, u64>,
    /// (address, agent, subject) → user.
    subjects: FxHashMap<u64, u64>,
    /// `Authorization` value hash → its subject: a token repeats on every
    /// request, decoding it once is enough. Cleared when it grows large.
    tokens: FxHashMap<u64, u64>,
}

/// Decoded credentials kept at most.
const TOKEN_CACHE: usize = 1 << 16;
/// Credentialed users remembered at most (about 40 bytes each in the two
/// maps): past it both maps start over, so that a capture of millions of
/// logged-in users reads in bounded memory. A group with one subject, by
/// far the most common, keeps its id across the restart (its group key);
/// only a group where several subjects took turns may have one of them
/// counted again.
const USERS_CAP: usize = 1 << 18;

impl Clients {
    /// The user who sent `x`, and the sender as the capture names it
    /// (connection, address or file), as keys: equal for the same user,
    /// the same sender.
    pub fn ids(&mut self, x: &Exchange) -> (u64, u64) {
        let name = x.client.as_deref().unwrap_or("");
        let mut agent = "";
        let (mut auth, mut cookie) = (None, None);
        for (header, value) in &x.headers {
            if header.eq_ignore_ascii_case("user-agent") {
                agent = value;
            } else if header.eq_ignore_ascii_case("authorization") {
                auth = Some(value.as_str());
            } else if header.eq_ignore_ascii_case("cookie") {
                cookie = Some(value.as_str());
            }
        }
        let group = hash2(address(name), agent);
        let subject = match auth {
            Some(a) => Some(self.auth(a)),
            None => cookie.and_then(cookie_subject),
        };
        (self.user(group, subject), hash1("name", name.as_bytes()))
    }

    /// The user who sent `x`.
    pub fn id(&mut self, x: &Exchange) -> u64 {
        self.ids(x).0
    }

    fn user(&mut self, group: u64, subject: Option<u64>) -> u64 {
        let Some(subject) = subject else {
            return self.claimed.get(&group).copied().unwrap_or(group);
        };
        let key = {
            let mut h = FxHasher::default();
            (group, subject).hash(&mut h);
            h.finish()
        };
        if self.subjects.len() >= USERS_CAP && !self.subjects.contains_key(&key) {
            self.subjects.clear();
            self.claimed.clear();
        }
        let claimed = &self.claimed;
        let user = *self.subjects.entry(key).or_insert_with(|| {
            // The group's first subject takes over its anonymous user.
            if claimed.contains_key(&group) {
                key
            } else {
                group
            }
        });
        self.claimed.insert(group, user);
        user
    }

    fn auth(&mut self, value: &str) -> u64 {
        let key = hash1("token", value.as_bytes());
        if let Some(s) = self.tokens.get(&key) {
            return *s;
        }
        if self.tokens.len() >= TOKEN_CACHE {
            self.tokens.clear();
        }
        let s = auth_subject(value);
        self.tokens.insert(key, s);
        s
    }
}

/// The sender's name without a port: `10.0.0.1:51234` → `10.0.0.1`,
/// `[::1]:8080` → `[::1]`; a bare IPv6 address or any other name as is.
pub fn address(name: &str) -> &str {
    if let Some(rest) = name.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &name[..i + 2],
            None => name,
        };
    }
    match name.split_once(':') {
        Some((host, port))
            if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty() =>
        {
            host
        }
        _ => name,
    }
}

fn hash2(a: &str, b: &str) -> u64 {
    let mut h = FxHasher::default();
    a.hash(&mut h);
    b.hash(&mut h);
    h.finish()
}

fn hash1(tag: &str, v: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    v.hash(&mut h);
    h.finish()
}

/// Whom an `Authorization` value speaks for.
fn auth_subject(value: &str) -> u64 {
    let value = value.trim();
    let (scheme, cred) = value.split_once(' ').unwrap_or(("", value));
    let cred = cred.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if let Some(sub) = jwt_subject(cred) {
            return hash1("sub", sub.as_bytes());
        }
    } else if scheme.eq_ignore_ascii_case("basic") {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(cred) {
            let user = raw.split(|b| *b == b':').next().unwrap_or(&[]);
            return hash1("basic", user);
        }
    }
    hash1("auth", value.as_bytes())
}

/// The `sub` claim of a JWT (`header.payload.signature`), as text.
fn jwt_subject(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    match claims.get("sub")? {
        serde_json::Value::String(s) => Some(s.clone()),
        v @ serde_json::Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

/// The session and login cookies of a `Cookie` value, hashed together;
/// `None` when it has none (analytics and preference cookies say nothing
/// about who is logged in, and change as a visit goes on).
fn cookie_subject(value: &str) -> Option<u64> {
    let mut h = FxHasher::default();
    let mut any = false;
    for pair in value.split(';') {
        let Some((name, v)) = pair.trim().split_once('=') else {
            continue;
        };
        if is_session_cookie(name) && !v.is_empty() {
            name.hash(&mut h);
            v.hash(&mut h);
            any = true;
        }
    }
    any.then(|| h.finish())
}

/// Whether a cookie's name says it holds a session or a login: it
/// contains one of [`SESSION_PARTS`] or is one of [`SESSION_NAMES`],
/// ignoring ASCII case. A browser sends dozens of cookies on every
/// request, so this looks at each byte once and allocates nothing.
fn is_session_cookie(name: &str) -> bool {
    let b = name.as_bytes();
    if SESSION_NAMES.iter().any(|k| b.eq_ignore_ascii_case(k)) {
        return true;
    }
    (0..b.len()).any(|i| {
        // Every part starts with one of these letters: most bytes are
        // ruled out by one comparison.
        matches!(b[i].to_ascii_lowercase(), b's' | b'a' | b't' | b'l')
            && SESSION_PARTS
                .iter()
                .any(|k| b[i..].len() >= k.len() && b[i..i + k.len()].eq_ignore_ascii_case(k))
    })
}

/// Parts of a cookie name that mark a session cookie.
const SESSION_PARTS: [&[u8]; 6] = [b"sess", b"sid", b"auth", b"token", b"login", b"logged"];
/// Whole cookie names that mark one.
const SESSION_NAMES: [&[u8]; 4] = [b"user", b"user_id", b"userid", b"uid"];

#[cfg(test)]
mod tests {
    use super::*;

    fn x(client: &str, headers: &[(&str, &str)]) -> Exchange {
        Exchange {
            client: Some(client.into()),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    /// Clients, and the users they told apart.
    #[derive(Default)]
    struct Seen {
        c: Clients,
        users: std::collections::HashSet<u64>,
    }

    impl Seen {
        fn id(&mut self, x: &Exchange) -> u64 {
            let u = self.c.id(x);
            self.users.insert(u);
            u
        }

        fn len(&self) -> usize {
            self.users.len()
        }
    }

    #[test]
    fn millions_of_logged_in_users_read_in_bounded_memory() {
        let mut c = Clients::default();
        let first = x("10.0.0.1", &[("Authorization", "Basic YWxpY2U6cHc=")]);
        let alice = c.id(&first);
        for i in 0..(USERS_CAP as u32 + USERS_CAP as u32 / 2) {
            let client = std::net::Ipv4Addr::from(i.wrapping_add(0x0b00_0000)).to_string();
            let u = c.id(&x(&client, &[("Cookie", &format!("session={i}"))]));
            assert_ne!(u, alice);
            assert!(c.subjects.len() <= USERS_CAP && c.claimed.len() <= USERS_CAP);
        }
        // Past the restart, a group with one subject is still the same user,
        // and so are its requests without credentials.
        assert_eq!(c.id(&first), alice);
        assert_eq!(c.id(&x("10.0.0.1", &[])), alice);
    }

    fn jwt(sub: &str, salt: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "Bearer {}.{}.{}",
            e.encode(r#"{"alg":"HS256"}"#),
            e.encode(format!(r#"{{"sub":"{sub}","iat":"{salt}"}}"#)),
            e.encode(salt)
        )
    }

    #[test]
    fn ports_are_not_part_of_a_user() {
        assert_eq!(address("10.0.0.1:51234"), "10.0.0.1");
        assert_eq!(address("[2001:db8::1]:443"), "[2001:db8::1]");
        assert_eq!(address("2001:db8::1"), "2001:db8::1");
        assert_eq!(address("har:capture.har"), "har:capture.har");
        assert_eq!(address("10.0.0.1"), "10.0.0.1");
        assert_eq!(address(""), "");
        let mut c = Seen::default();
        let ua = [("User-Agent", "Chrome/120")];
        let a = c.id(&x("10.0.0.1:1000", &ua));
        assert_eq!(c.id(&x("10.0.0.1:1001", &ua)), a);
        assert_eq!(c.id(&x("10.0.0.1:1002", &ua)), a);
        assert_ne!(c.id(&x("10.0.0.2:1000", &ua)), a);
        // Another browser at the same address is another user.
        assert_ne!(
            c.id(&x("10.0.0.1:1003", &[("user-agent", "Firefox/121")])),
            a
        );
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn credentials_tell_users_behind_one_address_apart() {
        let mut c = Seen::default();
        let ua = ("User-Agent", "k6/0.49");
        // Anonymous, then logs in: one user.
        let anon = c.id(&x("10.0.0.9:1", &[ua]));
        let alice1 = jwt("alice", "1");
        let alice = c.id(&x("10.0.0.9:2", &[ua, ("Authorization", &alice1)]));
        assert_eq!(alice, anon);
        // A renewed token of the same subject: the same user.
        let alice2 = jwt("alice", "2");
        assert_eq!(
            c.id(&x("10.0.0.9:3", &[ua, ("Authorization", &alice2)])),
            alice
        );
        // Bob behind the same NAT and agent: another user.
        let bob = jwt("bob", "1");
        let b = c.id(&x("10.0.0.9:4", &[ua, ("authorization", &bob)]));
        assert_ne!(b, alice);
        // Without credentials: the user last seen there.
        assert_eq!(c.id(&x("10.0.0.9:5", &[ua])), b);
        assert_eq!(
            c.id(&x("10.0.0.9:6", &[ua, ("Authorization", &alice1)])),
            alice
        );
        // Basic: by user name, whatever the password.
        let basic = |u: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u)
            )
        };
        let carol = c.id(&x(
            "10.0.0.9:7",
            &[ua, ("Authorization", &basic("carol:x"))],
        ));
        assert_eq!(
            c.id(&x(
                "10.0.0.9:8",
                &[ua, ("Authorization", &basic("carol:y"))]
            )),
            carol
        );
        assert_ne!(carol, alice);
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn session_cookies_name_users_and_other_cookies_do_not() {
        let mut c = Clients::default();
        let u1 = c.id(&x("h", &[("Cookie", "_ga=1; PHPSESSID=abc")]));
        assert_eq!(
            c.id(&x("h", &[("Cookie", "_ga=2; PHPSESSID=abc; theme=dark")])),
            u1
        );
        let u2 = c.id(&x("h", &[("Cookie", "_ga=1; PHPSESSID=def")]));
        assert_ne!(u2, u1);
        // Only analytics cookies: no subject, the user last seen.
        assert_eq!(c.id(&x("h", &[("Cookie", "_ga=9")])), u2);
        assert!(cookie_subject("_ga=1; _gid=2; theme=dark").is_none());
        assert!(cookie_subject("connect.sid=s%3Aabc").is_some());
        assert!(cookie_subject("auth_token=t").is_some());
    }

    proptest::proptest! {
        /// The byte matcher says what lower-casing the name and looking
        /// for each part in it says, on names made mostly of the parts'
        /// letters in either case (and a non-ASCII one).
        #[test]
        fn session_cookie_names_match_the_plain_definition(
            name in "[sSiIdDaAuUtThHoOkKeEnNlLgG_é.]{0,12}"
        ) {
            let n = name.to_ascii_lowercase();
            let plain = ["sess", "sid", "auth", "token", "login", "logged"]
                .iter()
                .any(|k| n.contains(k))
                || ["user", "user_id", "userid", "uid"].contains(&n.as_str());
            proptest::prop_assert_eq!(is_session_cookie(&name), plain);
        }
    }

    #[test]
    fn session_cookie_names_in_any_case() {
        for n in [
            "PHPSESSID",
            "connect.SID",
            "XSRF-Token",
            "wordpress_logged_in",
            "UID",
            "User_Id",
        ] {
            assert!(is_session_cookie(n), "{n}");
        }
        for n in ["_ga", "theme", "users", "uidx", "s", "", "toke"] {
            assert!(!is_session_cookie(n), "{n}");
        }
    }
}
