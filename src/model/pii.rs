//! Personal data replaced by consistent look-alikes at record time.
//!
//! A model file is meant to be committed and shared, so customers' data
//! must not reach it. Every request value the builder stores (path
//! segments, query values, form and JSON body fields, headers other than
//! credentials, text bodies) and the response bodies kept for the mock
//! pass through [`Pii`]:
//!
//! - values are searched for payment card numbers (13–19 digits with a
//!   card network's prefix, Luhn-valid, optionally grouped by spaces or
//!   dashes), e-mail addresses (also with `@` written `%40`), phone numbers
//!   (E.164 `+…`, North American `(415) 555-2671` / `415-555-2671`, and
//!   national layouts that start with `0` and are grouped by separators),
//!   IPv4 and IPv6 addresses, and IBANs (country length and mod-97
//!   checksum);
//! - the whole value of a field whose name says it is personal
//!   ([`PII_FIELDS`], plus `--pii-field NAME`) is replaced, keeping its
//!   shape (digits stay digits, letters letters, separators stay).
//!
//! A look-alike keeps what load testing needs: the same layout and length
//! class (a Luhn-valid card number with the same first digit and grouping,
//! `user12345678@example.test`, a phone number in the same layout, an
//! address in `10.0.0.0/8` or `2001:db8::/32`, an IBAN of the same country
//! with valid check digits). It is derived from a BLAKE3 keyed hash of the
//! original under a per-model key that is never stored, so the same
//! original maps to the same look-alike everywhere in one model (an id in a
//! path and in a body still match) and nobody can recover an original by
//! hashing guesses. `replay record` derives the key from the captures'
//! own bytes ([`key_of_captures`]): recording the same captures again
//! gives the same look-alikes — the same endpoint names where a path held
//! personal data — so runs of a re-recorded capture compare (`--baseline`)
//! and shards that each record it merge; the key cannot be computed
//! without the captures, which hold the originals anyway.
//!
//! Not detected: names, street addresses and dates outside a named field;
//! national phone numbers written without separators (outside a named
//! field); card numbers of unusual grouping inside prose; IPv6 addresses
//! with fewer than four hex digits; personal data inside binary or
//! compressed bodies.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

/// Bytes read from each end of a capture for [`key_of_captures`].
const KEY_SAMPLE: u64 = 1 << 20;

/// The look-alike key of a recording of `captures`: a BLAKE3 key derived
/// from each file's length and up to 1 MiB from each of its ends (so a
/// 1 GB log costs two reads, not a pass), in order. `None` when a file
/// cannot be read that way (standard input, a pipe): the caller then
/// uses a random key.
pub fn key_of_captures(captures: &[std::path::PathBuf]) -> Option<[u8; 32]> {
    use std::io::{Read, Seek, SeekFrom};
    let mut h = blake3::Hasher::new_derive_key("replay 2026-12 personal-data look-alike key");
    let mut buf = Vec::new();
    for path in captures {
        let mut f = std::fs::File::open(path).ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        h.update(&len.to_le_bytes());
        buf.clear();
        f.by_ref().take(KEY_SAMPLE).read_to_end(&mut buf).ok()?;
        h.update(&buf);
        if len > KEY_SAMPLE {
            f.seek(SeekFrom::Start(
                len.saturating_sub(KEY_SAMPLE).max(KEY_SAMPLE),
            ))
            .ok()?;
            buf.clear();
            f.take(KEY_SAMPLE).read_to_end(&mut buf).ok()?;
            h.update(&buf);
        }
    }
    Some(*h.finalize().as_bytes())
}

/// Field names (query parameters, form and JSON fields, headers) whose
/// values are personal whatever they look like. Compared with the name
/// lower-cased and stripped of everything but letters and digits, as a
/// suffix: `billing_address`, `homePhone` and `X-User-Email` match. See
/// also [`PII_FIELDS_EXACT`].
pub const PII_FIELDS: &[&str] = &[
    "ssn",
    "socialsecuritynumber",
    "dob",
    "birthdate",
    "dateofbirth",
    "birthday",
    "firstname",
    "lastname",
    "middlename",
    "fullname",
    "givenname",
    "familyname",
    "surname",
    "address",
    "addressline1",
    "addressline2",
    "street",
    "zipcode",
    "postcode",
    "postalcode",
    "phone",
    "phonenumber",
    "mobilenumber",
    "telephone",
    "email",
    "emailaddress",
    "passport",
    "passportnumber",
    "nationalid",
    "taxid",
    "driverslicense",
    "iban",
    "cardnumber",
    "ccnumber",
];

/// Names personal only as a whole (`mobile`, not `Sec-CH-UA-Mobile`;
/// `pan`, not `timespan`).
pub const PII_FIELDS_EXACT: &[&str] = &["mobile", "tel", "pan", "zip"];

/// What was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Card,
    Email,
    Phone,
    Ip,
    Iban,
    /// The value of a field named as personal.
    Field,
}

impl Kind {
    /// The name in the model file and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Card => "card",
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::Ip => "ip",
            Kind::Iban => "iban",
            Kind::Field => "field",
        }
    }

    fn tag(self) -> u8 {
        self as u8
    }
}

/// Values remembered with their outcome, and field names with theirs: a
/// capture repeats its user agents, ids, users and tracking parameters
/// (a kilobyte of encoded URL) many times, and a hash lookup costs less
/// than a scan (bounded: values up to [`MEMO_LEN`], [`MEMO_BYTES`] of
/// values and replacements in all).
const MEMO_SIZE: usize = 16_384;
const MEMO_LEN: usize = 8192;
const MEMO_BYTES: usize = 8 << 20;
/// Values from this long are looked up first, shorter ones scanned first.
const MEMO_FIRST: usize = 32;

/// A remembered value: its replacement (`None`: unchanged) and what
/// was replaced in it.
type Outcome = (Option<Box<str>>, Vec<Kind>);

/// The replacer of one model: its key and what it replaced.
pub struct Pii {
    key: [u8; 32],
    extra: Vec<String>,
    counts: BTreeMap<Kind, u64>,
    memo: rustc_hash::FxHashMap<Box<str>, Outcome>,
    /// Bytes of the memo's values and replacements.
    memo_bytes: usize,
    fields: rustc_hash::FxHashMap<Box<str>, bool>,
}

impl std::fmt::Debug for Pii {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Pii").field("counts", &self.counts).finish()
    }
}

/// `name` lower-cased, letters and digits only.
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Pii {
    /// A replacer with a fresh random key; `extra` adds field names.
    pub fn new(extra: &[String]) -> Pii {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
        Pii::with_key(key, extra)
    }

    /// A replacer with a given key ([`key_of_captures`], tests).
    pub fn with_key(key: [u8; 32], extra: &[String]) -> Pii {
        Pii {
            key,
            extra: extra
                .iter()
                .map(|n| normalize(n))
                .filter(|n| !n.is_empty())
                .collect(),
            counts: BTreeMap::new(),
            memo: Default::default(),
            memo_bytes: 0,
            fields: Default::default(),
        }
    }

    /// Values replaced so far, by kind name.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts
            .iter()
            .map(|(k, n)| (k.name().to_string(), *n))
            .collect()
    }

    /// Whether a field with this name holds personal data (remembered).
    fn is_field_memo(&mut self, name: &str) -> bool {
        if let Some(v) = self.fields.get(name) {
            return *v;
        }
        let v = self.is_field(name);
        if self.fields.len() < MEMO_SIZE {
            self.fields.insert(name.into(), v);
        }
        v
    }

    /// Whether a field with this name holds personal data.
    pub fn is_field(&self, name: &str) -> bool {
        // Most names are short and not personal: no allocation for them.
        let mut buf = [0u8; 64];
        let mut n = 0;
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() {
                if n == buf.len() {
                    return field_match(&normalize(name), &self.extra);
                }
                buf[n] = b.to_ascii_lowercase();
                n += 1;
            }
        }
        std::str::from_utf8(&buf[..n]).is_ok_and(|s| field_match(s, &self.extra))
    }

    /// A value, replaced whole when its field is personal, else with the
    /// personal data found in it replaced.
    pub fn value<'v>(&mut self, field: Option<&str>, v: &'v str) -> Cow<'v, str> {
        let found = self.text(v);
        if matches!(found, Cow::Owned(_)) || v.is_empty() {
            return found;
        }
        match field {
            Some(f) if self.is_field_memo(f) => {
                *self.counts.entry(Kind::Field).or_insert(0) += 1;
                Cow::Owned(self.shaped(v))
            }
            _ => found,
        }
    }

    /// [`Pii::value`] for a field already known to be personal or not
    /// ([`Pii::is_field`] of its name).
    pub fn value_as<'v>(&mut self, personal: bool, v: &'v str) -> Cow<'v, str> {
        let found = self.text(v);
        if matches!(found, Cow::Owned(_)) || v.is_empty() || !personal {
            return found;
        }
        *self.counts.entry(Kind::Field).or_insert(0) += 1;
        Cow::Owned(self.shaped(v))
    }

    /// `text` with every card number, e-mail address, phone number, IP
    /// address and IBAN in it replaced.
    pub fn text<'v>(&mut self, v: &'v str) -> Cow<'v, str> {
        // A long value (a user agent, a referrer) is looked up before it
        // is scanned: its hash costs less than the scan, and it repeats.
        let long = v.len() >= MEMO_FIRST;
        if !long && quick_reject(v.as_bytes()) {
            return Cow::Borrowed(v);
        }
        if let Some((out, kinds)) = self.memo.get(v) {
            for k in kinds {
                *self.counts.entry(*k).or_insert(0) += 1;
            }
            return match out {
                Some(o) => Cow::Owned(o.to_string()),
                None => Cow::Borrowed(v),
            };
        }
        if long && quick_reject(v.as_bytes()) {
            self.remember(v, (None, Vec::new()));
            return Cow::Borrowed(v);
        }
        let spans = find(v);
        let mut kinds = Vec::with_capacity(spans.len());
        let mut out = String::with_capacity(v.len() + 16);
        let mut at = 0;
        for (s, e, kind) in spans {
            out.push_str(&v[at..s]);
            out.push_str(&self.look_alike(kind, &v[s..e]));
            *self.counts.entry(kind).or_insert(0) += 1;
            kinds.push(kind);
            at = e;
        }
        out.push_str(&v[at..]);
        let changed = !kinds.is_empty();
        let o = changed.then(|| out.as_str().into());
        self.remember(v, (o, kinds));
        if changed {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(v)
        }
    }

    /// Keeps `v`'s outcome while the memo has room.
    fn remember(&mut self, v: &str, outcome: Outcome) {
        let bytes = v.len() + outcome.0.as_ref().map_or(0, |o| o.len());
        if v.len() <= MEMO_LEN
            && self.memo.len() < MEMO_SIZE
            && self.memo_bytes + bytes <= MEMO_BYTES
        {
            self.memo_bytes += bytes;
            self.memo.insert(v.into(), outcome);
        }
    }

    /// A JSON value with personal data replaced in place: strings and
    /// numbers by [`Pii::value`] under their field's name.
    pub fn json(&mut self, v: &mut Value, key: Option<&str>) {
        match v {
            Value::Object(map) => {
                self.keys(map);
                for (k, child) in map.iter_mut() {
                    self.json(child, Some(k));
                }
            }
            Value::Array(items) => {
                for child in items.iter_mut() {
                    self.json(child, key);
                }
            }
            Value::String(s) => {
                if let Cow::Owned(o) = self.value(key, s) {
                    *s = o;
                }
            }
            Value::Number(n) => {
                let text = n.to_string();
                if let Cow::Owned(o) = self.value(key, &text) {
                    *v = number_or_string(o);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// An object's keys with personal data replaced (a map keyed by
    /// e-mail address); values untouched.
    pub fn keys(&mut self, map: &mut serde_json::Map<String, Value>) {
        if map.keys().all(|k| quick_reject(k.as_bytes())) {
            return;
        }
        for (k, v) in std::mem::take(map) {
            let k = self.text(&k).into_owned();
            map.insert(k, v);
        }
    }

    /// A response body kept for the mock: JSON walked with field names,
    /// other text searched; binary bodies as they are.
    pub fn body(&mut self, b: &[u8]) -> Vec<u8> {
        let Ok(text) = std::str::from_utf8(b) else {
            return b.to_vec();
        };
        let first = text.trim_start().bytes().next();
        if matches!(first, Some(b'{') | Some(b'[')) {
            if let Ok(mut v) = serde_json::from_str::<Value>(text) {
                let before = self.counts.clone();
                self.json(&mut v, None);
                if before == self.counts {
                    return b.to_vec();
                }
                return serde_json::to_vec(&v).unwrap_or_else(|_| b.to_vec());
            }
        }
        self.text(text).into_owned().into_bytes()
    }

    /// The keyed hash of `(kind, canonical original)` as a byte stream.
    fn stream(&self, kind: Kind, canonical: &str) -> Stream {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(&[kind.tag()]);
        h.update(canonical.as_bytes());
        Stream {
            reader: h.finalize_xof(),
            buf: [0; 64],
            at: 64,
        }
    }

    fn look_alike(&self, kind: Kind, orig: &str) -> String {
        match kind {
            Kind::Card => self.card(orig),
            Kind::Email => self.email(orig),
            Kind::Phone => self.phone(orig),
            Kind::Ip => self.ip(orig),
            Kind::Iban => self.iban(orig),
            Kind::Field => self.shaped(orig),
        }
    }

    fn card(&self, orig: &str) -> String {
        let digits: String = orig.chars().filter(char::is_ascii_digit).collect();
        let mut s = self.stream(Kind::Card, &digits);
        let n = digits.len();
        let mut new: Vec<u8> = Vec::with_capacity(n);
        new.push(digits.as_bytes()[0] - b'0');
        for _ in 1..n - 1 {
            new.push(s.digit());
        }
        new.push(0);
        new[n - 1] = luhn_check_digit(&new[..n - 1]);
        let same = new.iter().zip(digits.bytes()).all(|(a, b)| *a == b - b'0');
        if same {
            new[1] = (new[1] + 1) % 10;
            new[n - 1] = luhn_check_digit(&new[..n - 1]);
        }
        fill_digits(orig, &new)
    }

    fn email(&self, orig: &str) -> String {
        let decoded = orig.replace("%40", "@").to_ascii_lowercase();
        let mut s = self.stream(Kind::Email, &decoded);
        let mut out = String::from("user");
        for _ in 0..8 {
            out.push((b'0' + s.digit()) as char);
        }
        out.push_str(if orig.contains('@') { "@" } else { "%40" });
        out.push_str("example.test");
        out
    }

    fn phone(&self, orig: &str) -> String {
        let digits: String = orig.chars().filter(char::is_ascii_digit).collect();
        let mut s = self.stream(Kind::Phone, &digits);
        // The first digit (country code, area code or trunk 0) stays.
        let mut new: Vec<u8> = vec![digits.as_bytes()[0] - b'0'];
        for _ in 1..digits.len() {
            new.push(s.digit());
        }
        fill_digits(orig, &new)
    }

    fn ip(&self, orig: &str) -> String {
        let mut s = self.stream(Kind::Ip, &orig.to_ascii_lowercase());
        if let Ok(v4) = orig.parse::<std::net::Ipv4Addr>() {
            let _ = v4;
            return format!("10.{}.{}.{}", s.byte(), s.byte(), s.byte().max(1));
        }
        let mut groups = [0u16; 8];
        groups[0] = 0x2001;
        groups[1] = 0x0db8;
        for g in groups.iter_mut().skip(2) {
            *g = u16::from_be_bytes([s.byte(), s.byte()]);
        }
        groups[7] |= 1;
        std::net::Ipv6Addr::from(groups).to_string()
    }

    fn iban(&self, orig: &str) -> String {
        let compact: String = orig
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let mut s = self.stream(Kind::Iban, &compact);
        let b = compact.as_bytes();
        let mut new: Vec<u8> = b[..2].to_vec();
        new.extend_from_slice(b"00");
        for &c in &b[4..] {
            new.push(if c.is_ascii_digit() {
                b'0' + s.digit()
            } else {
                b'A' + s.letter()
            });
        }
        let check = 98 - iban_mod97(&new);
        new[2] = b'0' + (check / 10) as u8;
        new[3] = b'0' + (check % 10) as u8;
        // Back into the original's spacing.
        let mut out = String::with_capacity(orig.len());
        let mut it = new.into_iter();
        for c in orig.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(it.next().unwrap_or(b'0') as char);
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Digits by digits, letters by letters of the same case, everything
    /// else kept; a date (`1984-07-02`, `02/07/1984`) by a valid date.
    fn shaped(&self, orig: &str) -> String {
        let mut s = self.stream(Kind::Field, orig);
        if let Some(d) = date_shaped(orig, &mut s) {
            return d;
        }
        orig.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    (b'0' + s.digit()) as char
                } else if c.is_uppercase() {
                    (b'A' + s.letter()) as char
                } else if c.is_alphabetic() {
                    (b'a' + s.letter()) as char
                } else {
                    c
                }
            })
            .collect()
    }
}

fn field_match(norm: &str, extra: &[String]) -> bool {
    !norm.is_empty()
        && (PII_FIELDS.iter().any(|f| norm.ends_with(f))
            || PII_FIELDS_EXACT.contains(&norm)
            || extra.iter().any(|f| norm.ends_with(f.as_str())))
}

/// A replaced JSON number: a number again when it parses as one.
fn number_or_string(s: String) -> Value {
    if let Ok(n) = s.parse::<u64>() {
        return Value::from(n);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Value::from(n);
    }
    match s.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(s),
    }
}

/// The keyed hash's output, read as digits, letters and bytes, a block
/// at a time (each read of the reader costs a compression).
struct Stream {
    reader: blake3::OutputReader,
    buf: [u8; 64],
    at: usize,
}

impl Stream {
    fn byte(&mut self) -> u8 {
        if self.at == self.buf.len() {
            self.reader.fill(&mut self.buf);
            self.at = 0;
        }
        self.at += 1;
        self.buf[self.at - 1]
    }

    fn digit(&mut self) -> u8 {
        // 250 = 25 × 10: no bias.
        loop {
            let b = self.byte();
            if b < 250 {
                return b % 10;
            }
        }
    }

    fn letter(&mut self) -> u8 {
        loop {
            let b = self.byte();
            if b < 234 {
                return b % 26;
            }
        }
    }
}

/// `orig` with its digits replaced, in order, by `digits` (values 0–9).
fn fill_digits(orig: &str, digits: &[u8]) -> String {
    let mut it = digits.iter();
    orig.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                (b'0' + it.next().copied().unwrap_or(0)) as char
            } else {
                c
            }
        })
        .collect()
}

fn date_shaped(orig: &str, s: &mut Stream) -> Option<String> {
    let b = orig.as_bytes();
    let year = 1940 + (s.byte() as u32 * 256 + s.byte() as u32) % 66;
    let month = 1 + s.byte() % 12;
    let day = 1 + s.byte() % 28;
    let d = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    if b.len() == 10 && (0..4).all(d) && d(5) && d(6) && d(8) && d(9) && b[4] == b[7] {
        let sep = b[4] as char;
        return Some(format!("{year:04}{sep}{month:02}{sep}{day:02}"));
    }
    if b.len() == 10 && d(0) && d(1) && d(3) && d(4) && (6..10).all(d) && b[2] == b[5] {
        let sep = b[2] as char;
        // Day and month both below 13: either order reads as a date.
        return Some(format!("{:02}{sep}{:02}{sep}{year:04}", day.min(12), month));
    }
    None
}

/// The Luhn check digit that makes `body` followed by it valid.
pub fn luhn_check_digit(body: &[u8]) -> u8 {
    let mut sum = 0u32;
    for (i, &d) in body.iter().rev().enumerate() {
        let mut d = d as u32;
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    ((10 - sum % 10) % 10) as u8
}

/// Whether the digits of `s` pass the Luhn check.
pub fn luhn_valid(s: &str) -> bool {
    let d: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    match d.split_last() {
        Some((last, body)) if !body.is_empty() => luhn_check_digit(body) == *last,
        _ => false,
    }
}

fn iban_mod97(b: &[u8]) -> u32 {
    // Rearranged: the BBAN, then country letters and check digits.
    let mut m = 0u32;
    for &c in b[4..].iter().chain(&b[..4]) {
        if c.is_ascii_digit() {
            m = (m * 10 + (c - b'0') as u32) % 97;
        } else {
            m = (m * 100 + (c.to_ascii_uppercase() - b'A' + 10) as u32) % 97;
        }
    }
    m
}

/// Nothing to find in `b`. The old test, still one: no `@` or `%`
/// and fewer than four digits. Or none of what the detectors need: an
/// `@` or `%40` (an e-mail address); two `:` (an IPv6 address); a run of
/// digits grouped as [`number_at`] groups them (separators of up to
/// three of ` -.()`) with nine digits (the shortest phone number; eight
/// after a `+`) or with four digits and three dots (an IPv4 address);
/// two capital letters followed by a digit, or by a space and a digit,
/// fifteen bytes from the end (an IBAN). One pass over the bytes; most
/// values stop here, and a value it rejects holds nothing [`find`]
/// would find.
fn quick_reject(b: &[u8]) -> bool {
    // The old test first, without branches per byte.
    let (mut digits, mut special) = (0u32, false);
    for &c in b {
        digits += u32::from(c.wrapping_sub(b'0') < 10);
        special |= (c == b'@') | (c == b'%');
    }
    if digits < 4 && !special {
        return true;
    }
    let (mut digits, mut colons, mut iban, mut pct) = (0, 0, false, false);
    // The current run: its digits and dots, separators since its last
    // digit, and whether a `+` began it.
    let (mut run, mut dots, mut seps, mut plus) = (0, 0, 0, false);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                run += 1;
                seps = 0;
                iban = iban || iban_before(b, i);
                let phone = run >= if plus { 8 } else { 9 };
                if phone || (run >= 4 && dots >= 3) || (iban && (digits >= 4 || pct)) {
                    return false;
                }
            }
            b'@' => return false,
            b' ' | b'-' | b'.' | b'(' | b')' => {
                seps += 1;
                dots += usize::from(c == b'.');
                if seps > 3 {
                    (run, dots, plus) = (0, 0, false);
                }
            }
            _ => {
                if c == b'%' {
                    if b[i + 1..].starts_with(b"40") {
                        return false;
                    }
                    pct = true;
                }
                colons += usize::from(c == b':');
                (run, dots, seps, plus) = (0, 0, 0, c == b'+');
            }
        }
    }
    !((colons >= 2 || iban) && (digits >= 4 || pct))
}

/// Whether the digit at `i` could be an IBAN's first check digit: two
/// capital letters right before it (or before a space before it), and
/// fifteen bytes from the first.
fn iban_before(b: &[u8], i: usize) -> bool {
    let up = |k: usize| b[k].is_ascii_uppercase();
    let start = if i >= 2 && up(i - 1) && up(i - 2) {
        i - 2
    } else if i >= 3 && b[i - 1] == b' ' && up(i - 2) && up(i - 3) {
        i - 3
    } else {
        return false;
    };
    start + 15 <= b.len()
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Personal data in `v`: byte ranges and kinds, in order, not overlapping.
fn find(v: &str) -> Vec<(usize, usize, Kind)> {
    let b = v.as_bytes();
    let mut out = Vec::new();
    emails(b, &mut out);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let starts = i == 0 || !(is_word(b[i - 1]) || b[i - 1] == b'.' || b[i - 1] == b':');
        if !starts || !(c.is_ascii_alphanumeric() || c == b'+' || c == b'(' || c == b':') {
            i += 1;
            continue;
        }
        if let Some(end) = out.iter().find(|s| s.0 <= i && i < s.1).map(|s| s.1) {
            i = end;
            continue;
        }
        let found = ipv6_at(b, i)
            .map(|e| (e, Kind::Ip))
            .or_else(|| iban_at(b, i).map(|e| (e, Kind::Iban)))
            .or_else(|| number_at(b, i));
        match found {
            Some((end, kind)) => {
                out.push((i, end, kind));
                i = end;
            }
            None => i += 1,
        }
    }
    out.sort_unstable_by_key(|s| s.0);
    out
}

/// E-mail addresses: around each `@` (or `%40`), a local part of
/// `[A-Za-z0-9._%+-]` and a dotted domain ending in letters.
fn emails(b: &[u8], out: &mut Vec<(usize, usize, Kind)>) {
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut i = 0;
    while i < b.len() {
        let at_len = if b[i] == b'@' {
            1
        } else if b[i..].starts_with(b"%40") {
            3
        } else {
            i += 1;
            continue;
        };
        let mut s = i;
        while s > 0 && local(b[s - 1]) {
            s -= 1;
        }
        let ds = i + at_len;
        let mut e = ds;
        while e < b.len() && domain(b[e]) {
            e += 1;
        }
        while e > ds && b[e - 1] == b'.' {
            e -= 1;
        }
        let dom = &b[ds..e];
        let tld = dom.rsplit(|c| *c == b'.').next().unwrap_or(b"");
        let ok = s < i
            && b[s] != b'.'
            && dom.contains(&b'.')
            && tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic);
        if ok {
            out.push((s, e, Kind::Email));
            i = e;
        } else {
            i += at_len;
        }
    }
}

/// An IPv6 address starting at `i`: hex digits and colons (a dotted IPv4
/// tail allowed), at least two colons and four hex digits, that parses,
/// is not loopback or unspecified, and ends at a word boundary.
fn ipv6_at(b: &[u8], i: usize) -> Option<usize> {
    let mut e = i;
    let (mut colons, mut hex) = (0, 0);
    while e < b.len() && (b[e].is_ascii_hexdigit() || b[e] == b':' || b[e] == b'.') {
        if b[e] == b':' {
            colons += 1;
        } else if b[e] != b'.' {
            hex += 1;
        }
        e += 1;
    }
    while e > i && (b[e - 1] == b'.' || (b[e - 1] == b':' && !b[..e].ends_with(b"::"))) {
        e -= 1;
    }
    if colons < 2 || hex < 4 || (e < b.len() && is_word(b[e])) {
        return None;
    }
    let text = std::str::from_utf8(&b[i..e]).ok()?;
    let a: std::net::Ipv6Addr = text.parse().ok()?;
    (!a.is_loopback() && !a.is_unspecified()).then_some(e)
}

/// IBAN lengths by country.
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// An IBAN starting at `i`: a country's length of letters and digits
/// (single spaces allowed between), mod-97 checksum 1, word boundary after.
fn iban_at(b: &[u8], i: usize) -> Option<usize> {
    if b.len() < i + 15 || !b[i].is_ascii_uppercase() || !b[i + 1].is_ascii_uppercase() {
        return None;
    }
    let want = IBAN_LENGTHS.iter().find(|(cc, _)| cc[..] == b[i..i + 2])?.1;
    let mut compact = Vec::with_capacity(want);
    let mut e = i;
    while e < b.len() && compact.len() < want {
        let c = b[e];
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            compact.push(c);
        } else if !(c == b' ' && e + 1 < b.len() && b[e + 1].is_ascii_alphanumeric()) {
            break;
        }
        e += 1;
    }
    let ok = compact.len() == want
        && compact[2].is_ascii_digit()
        && compact[3].is_ascii_digit()
        && !(e < b.len() && b[e].is_ascii_alphanumeric())
        && iban_mod97(&compact) == 1;
    ok.then_some(e)
}

/// A run of digits from `i` (a leading `+` or `(` allowed) grouped by
/// single separators: an IPv4 address, a card number or a phone number.
fn number_at(b: &[u8], i: usize) -> Option<(usize, Kind)> {
    let plus = b[i] == b'+';
    if !(b[i].is_ascii_digit() || plus || b[i] == b'(') {
        return None;
    }
    // Groups of digits and the separator before each (0 for none); at
    // most 13 (on the stack: this runs at every number in every value).
    let mut groups = [(0u8, 0usize); 13];
    let mut len = 0;
    let mut e = if plus || b[i] == b'(' { i + 1 } else { i };
    let mut sep = if b[i] == b'(' { b'(' } else { 0 };
    loop {
        let s = e;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
        if e == s {
            return None;
        }
        groups[len] = (sep, e - s);
        len += 1;
        // A separator: up to three of ` -.()` (`) `, ` (`), then a digit.
        let mut n = e;
        while n < b.len() && n < e + 3 && b" -.()".contains(&b[n]) {
            n += 1;
        }
        if n == e || n >= b.len() || !b[n].is_ascii_digit() || len > 12 {
            break;
        }
        sep = b[e];
        e = n;
    }
    if e < b.len() && (is_word(b[e]) || b[e] == b'@') {
        return None;
    }
    classify(b, i, e, plus, &groups[..len]).map(|k| (e, k))
}

/// Whether the four dotted numbers at `b[i..e]` read as a version, not
/// an address: right after a name and `/`, `-` or `_` (`Chrome/120.0.0.0`,
/// `app-1.2.3.4`), before a file extension (`1.2.3.4.js`), or after a word
/// that says so (`build 4.5.6.7`, `ver=3.10.12.1`). A version elsewhere
/// (`MyApp 2.14.1.7`) still reads as an address.
fn dotted_version(b: &[u8], i: usize, e: usize) -> bool {
    let after_name = i >= 2 && b"/-_".contains(&b[i - 1]) && b[i - 2].is_ascii_alphanumeric();
    let extension = e + 1 < b.len() && b[e] == b'.' && b[e + 1].is_ascii_alphabetic();
    // The word before, past at most two of ` `, `=`, `:`.
    let mut w = i;
    while w > 0 && i - w < 2 && b" =:".contains(&b[w - 1]) {
        w -= 1;
    }
    let end = w;
    while w > 0 && b[w - 1].is_ascii_alphabetic() {
        w -= 1;
    }
    let word = &b[w..end];
    let said = end < i
        && (w == 0 || !is_word(b[w - 1]))
        && VERSION_WORDS.iter().any(|k| word.eq_ignore_ascii_case(k));
    after_name || extension || said
}

/// Words a version number follows.
const VERSION_WORDS: [&[u8]; 7] = [
    b"v",
    b"ver",
    b"version",
    b"build",
    b"rev",
    b"revision",
    b"release",
];

fn classify(b: &[u8], i: usize, e: usize, plus: bool, groups: &[(u8, usize)]) -> Option<Kind> {
    let digits: usize = groups.iter().map(|g| g.1).sum();
    let seps = || groups.iter().skip(1).map(|g| g.0);
    let one_sep = |c: u8| seps().all(|s| s == c);
    let text = &b[i..e];
    if !plus && groups.len() == 4 && one_sep(b'.') {
        let version = dotted_version(b, i, e);
        let ip = std::str::from_utf8(text)
            .ok()?
            .parse::<std::net::Ipv4Addr>()
            .ok()?;
        return (!version && !ip.is_unspecified() && !ip.is_loopback()).then_some(Kind::Ip);
    }
    if seps().any(|s| s == b'.') && !one_sep(b'.') {
        return None;
    }
    if !plus && b[i] != b'(' && card_like(text, groups, digits) {
        return Some(Kind::Card);
    }
    let phone = if plus {
        (8..=15).contains(&digits)
    } else if b[i] == b'(' {
        // (415) 555-2671
        groups.len() == 3
            && groups[0].1 == 3
            && groups[1].1 == 3
            && groups[2].1 == 4
            && matches!(groups[2].0, b'-' | b' ' | b'.')
    } else {
        let layout: Vec<usize> = groups.iter().map(|g| g.1).collect();
        let nanp = (layout == [3, 3, 4] || layout == [1, 3, 3, 4])
            && (one_sep(b'-') || one_sep(b'.') || one_sep(b' '));
        let national = b[i] == b'0'
            && (9..=11).contains(&digits)
            && groups.len() >= 2
            && groups.iter().all(|g| (2..=8).contains(&g.1))
            && (one_sep(b'-') || one_sep(b'.') || one_sep(b' '));
        nanp || national
    };
    phone.then_some(Kind::Phone)
}

/// 13–19 digits with a card network's prefix and a valid Luhn digit;
/// grouped, the first group has four digits and the others three to six,
/// one separator throughout.
fn card_like(text: &[u8], groups: &[(u8, usize)], digits: usize) -> bool {
    if !(13..=19).contains(&digits) {
        return false;
    }
    if groups.len() > 1 {
        let sep = groups[1].0;
        if !(sep == b' ' || sep == b'-')
            || groups[0].1 != 4
            || groups[1..]
                .iter()
                .any(|g| g.0 != sep || !(3..=6).contains(&g.1))
        {
            return false;
        }
    }
    let d: Vec<u8> = text
        .iter()
        .filter(|c| c.is_ascii_digit())
        .map(|c| c - b'0')
        .collect();
    let prefix = |n: usize| d[..n].iter().fold(0u32, |a, x| a * 10 + *x as u32);
    let network = match d[0] {
        4 => matches!(digits, 13 | 16 | 19),
        5 => (51..=55).contains(&prefix(2)) && digits == 16,
        2 => (2221..=2720).contains(&prefix(4)) && digits == 16,
        3 => {
            matches!(prefix(2), 34 | 37) && digits == 15
                || prefix(2) == 35 && digits >= 16
                || matches!(prefix(2), 30 | 36 | 38 | 39) && digits >= 14
        }
        6 => matches!(prefix(2), 60 | 62 | 64 | 65) && digits >= 16,
        _ => false,
    };
    network && luhn_valid(std::str::from_utf8(text).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pii() -> Pii {
        Pii::with_key([7; 32], &["loyalty_no".to_string()])
    }

    fn kinds(v: &str) -> Vec<(&str, Kind)> {
        find(v).into_iter().map(|(s, e, k)| (&v[s..e], k)).collect()
    }

    #[test]
    fn finds_each_kind_in_text() {
        let v = "card 4111 1111 1111 1111, mail Alice.B+x@corp.example; tel +44 20 7946 0958 \
                 or (415) 555-2671 or 415-555-2671 or 06 12 34 56 78; from 203.0.113.7 \
                 and [2001:db8:85a3::8a2e:370:7334]; iban DE89 3704 0044 0532 0130 00.";
        let found = kinds(v);
        assert_eq!(
            found,
            vec![
                ("4111 1111 1111 1111", Kind::Card),
                ("Alice.B+x@corp.example", Kind::Email),
                ("+44 20 7946 0958", Kind::Phone),
                ("(415) 555-2671", Kind::Phone),
                ("415-555-2671", Kind::Phone),
                ("06 12 34 56 78", Kind::Phone),
                ("203.0.113.7", Kind::Ip),
                ("2001:db8:85a3::8a2e:370:7334", Kind::Ip),
                ("DE89 3704 0044 0532 0130 00", Kind::Iban),
            ]
        );
        // An address after words that are not a version's.
        for v in [
            "from 203.0.113.7",
            "ip=203.0.113.7",
            "client: 203.0.113.7, proxy 198.51.100.2",
            "203.0.113.7.",
        ] {
            assert_eq!(kinds(v)[0], ("203.0.113.7", Kind::Ip), "{v}");
        }
        assert_eq!(
            kinds("4111111111111111"),
            vec![("4111111111111111", Kind::Card)]
        );
        assert_eq!(
            kinds("378282246310005"),
            vec![("378282246310005", Kind::Card)]
        );
        assert_eq!(
            kinds("5555-5555-5555-4444"),
            vec![("5555-5555-5555-4444", Kind::Card)]
        );
        assert_eq!(kinds("+14155552671"), vec![("+14155552671", Kind::Phone)]);
        assert_eq!(
            kinds("GB82WEST12345698765432"),
            vec![("GB82WEST12345698765432", Kind::Iban)]
        );
        assert_eq!(
            kinds("alice%40corp.example"),
            vec![("alice%40corp.example", Kind::Email)]
        );
    }

    #[test]
    fn ordinary_values_are_left_alone() {
        for v in [
            "42",
            "1001",
            "987654321",
            "1700000000000",
            "1700000000123456",
            "2024-03-01T12:00:00.000Z",
            "2024-03-01",
            "12:30:45",
            "550e8400-e29b-41d4-a716-446655440000",
            "550E8400-E29B-41D4-A716-446655440000",
            "12345678-1234-1234-1234-123456789012",
            "19.99",
            "1,299.00",
            "$ 1 299.99",
            "4111111111111112",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
            "127.0.0.1",
            "::1",
            "pkg@1.2.3",
            "@alice",
            "v1.2.3",
            "a1b2c3d4e5f6",
            "DE89370400440532013001",
            "sha256:0123456789abcdef",
            "build 4.5.6.7",
            "ver=3.10.12.1&x=1",
            "Version: 10.0.19041.1",
            "/assets/app-1.2.3.4.js",
            "/static/1.2.3.4.css",
        ] {
            assert_eq!(kinds(v), vec![], "{v}");
            assert_eq!(pii().value(Some("id"), v), v, "{v}");
        }
    }

    #[test]
    fn look_alikes_keep_the_shape_and_are_consistent() {
        let mut p = pii();
        let card = p.text("4111 1111 1111 1111").into_owned();
        assert_ne!(card, "4111 1111 1111 1111");
        assert!(card.starts_with('4') && card.len() == 19, "{card}");
        assert_eq!(card.as_bytes()[4], b' ');
        assert!(luhn_valid(&card), "{card}");
        // The same card without separators: the same digits.
        let bare = p.text("4111111111111111").into_owned();
        assert_eq!(bare, card.replace(' ', ""));
        assert_eq!(kinds(&card).len(), 1, "a look-alike card is still a card");

        let email = p.text("Alice0@corp.example").into_owned();
        assert!(
            email.starts_with("user") && email.ends_with("@example.test"),
            "{email}"
        );
        assert_eq!(p.text("alice0@corp.example"), email, "case does not matter");
        assert_eq!(
            p.text("alice0%40corp.example"),
            email.replace('@', "%40"),
            "nor the encoding"
        );

        let phone = p.text("(415) 555-2671").into_owned();
        assert_ne!(phone, "(415) 555-2671");
        assert_eq!(phone.len(), 14);
        assert_eq!(&phone[..2], "(4");
        assert_eq!((&phone[4..6], &phone[9..10]), (") ", "-"));

        let ip = p.text("203.0.113.7").into_owned();
        assert!(ip.starts_with("10."), "{ip}");
        assert!(ip.parse::<std::net::Ipv4Addr>().is_ok());
        let ip6 = p.text("2001:db8:85a3::8a2e:370:7334").into_owned();
        assert!(ip6.starts_with("2001:db8:"), "{ip6}");

        let iban = p.text("DE89 3704 0044 0532 0130 00").into_owned();
        assert_ne!(iban, "DE89 3704 0044 0532 0130 00");
        assert!(iban.starts_with("DE") && iban.len() == 27, "{iban}");
        assert_eq!(
            kinds(&iban),
            vec![(iban.as_str(), Kind::Iban)],
            "checksum valid"
        );

        // Another model: another key, other look-alikes.
        let other = Pii::with_key([8; 32], &[])
            .text("alice0@corp.example")
            .into_owned();
        assert_ne!(other, email);
        let counts = p.counts();
        assert_eq!(counts["card"], 2);
        assert_eq!(counts["email"], 3);
    }

    #[test]
    fn named_fields_are_replaced_whole() {
        let mut p = pii();
        assert!(p.is_field("first_name") && p.is_field("billingAddress"));
        assert!(p.is_field("X-User-Email") && p.is_field("DOB") && p.is_field("loyaltyNo"));
        assert!(!p.is_field("address_id") && !p.is_field("name") && !p.is_field("gzip"));
        assert!(p.is_field("mobile") && !p.is_field("Sec-CH-UA-Mobile") && !p.is_field("timespan"));
        let name = p.value(Some("first_name"), "Alice").into_owned();
        assert_eq!(name.len(), 5);
        assert!(name.chars().next().unwrap().is_ascii_uppercase());
        assert_ne!(name, "Alice");
        assert_eq!(
            p.value(Some("last_name"), "Alice"),
            name,
            "by value, not field"
        );
        let ssn = p.value(Some("ssn"), "219-09-9999").into_owned();
        assert_eq!((ssn.len(), &ssn[3..4], &ssn[6..7]), (11, "-", "-"));
        let dob = p.value(Some("dob"), "1984-07-02").into_owned();
        let (y, rest) = dob.split_once('-').unwrap();
        let (m, d) = rest.split_once('-').unwrap();
        assert!((1940..2006).contains(&y.parse::<u32>().unwrap()), "{dob}");
        assert!((1..=12).contains(&m.parse::<u32>().unwrap()), "{dob}");
        assert!((1..=28).contains(&d.parse::<u32>().unwrap()), "{dob}");
        assert_eq!(
            p.value(Some("loyalty_no"), "X-1234"),
            p.value(Some("ssn"), "X-1234")
        );
        assert_eq!(p.value(Some("city"), "Paris"), "Paris");
        assert_eq!(p.counts()["field"], 6);
    }

    #[test]
    fn json_is_walked_with_field_names() {
        let mut p = pii();
        let mut v: Value = serde_json::from_str(
            r#"{"users":[{"id":7,"email":"a@b.example","phone":4155552671,
                "profile":{"last_name":"Smith","price":19.99}}],
                "by_email":{"a@b.example":{"n":1}}}"#,
        )
        .unwrap();
        p.json(&mut v, None);
        let u = &v["users"][0];
        assert_eq!(u["id"], 7);
        assert!(u["email"].as_str().unwrap().ends_with("@example.test"));
        assert!(u["phone"].is_u64() && u["phone"] != 4155552671u64);
        assert_ne!(u["profile"]["last_name"], "Smith");
        assert_eq!(u["profile"]["price"], 19.99);
        let keys: Vec<&String> = v["by_email"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![u["email"].as_str().unwrap()],
            "keys too, consistently"
        );
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
    }

    /// The filter before the scan rejects what it rejected before, and
    /// otherwise only values in which the scan finds nothing: over strings made of what the detectors look for
    /// (digits, separators, colons, capitals, `@`, `%40`) and some of
    /// each kind the scan finds, alone and inside other text.
    #[test]
    fn quick_reject_never_hides_what_find_finds() {
        use proptest::prelude::*;
        let pieces = [
            "0",
            "1",
            "4",
            "9",
            "12",
            "415",
            "2671",
            "4111111111111111",
            " ",
            "-",
            ".",
            "(",
            ")",
            "+",
            ":",
            "::",
            "a",
            "f",
            "Z",
            "DE",
            "GB",
            "NO",
            "@",
            "%40",
            "%",
            "%2F",
            "cafe",
            "x.io",
            "192.168.1.20",
            "2001:db8::7",
            "DE89 3704 0044 0532 0130 00",
            "+44 20 7946 0958",
            "(415) 555-2671",
            "06-12345678",
            "Chrome/120.0.0.0",
            "_",
            "/",
            "=",
        ];
        let strat = proptest::collection::vec(0..pieces.len(), 0..14)
            .prop_map(move |ix| ix.into_iter().map(|i| pieces[i]).collect::<String>());
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 4000,
            ..ProptestConfig::default()
        });
        runner
            .run(&strat, |v| {
                // What the old filter rejected (fewer than four digits,
                // no `@` or `%`) was never scanned: that stays so.
                let b = v.as_bytes();
                let old = b.iter().filter(|c| c.is_ascii_digit()).count() < 4
                    && !b.contains(&b'@')
                    && !b.contains(&b'%');
                if old {
                    prop_assert!(quick_reject(b), "{v:?}");
                } else if quick_reject(b) {
                    prop_assert!(find(&v).is_empty(), "{v:?} rejected, holds {:?}", kinds(&v));
                }
                Ok(())
            })
            .unwrap();
        for v in [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "12345",
            "2024-03-01",
            "page=17&q=item4242",
            "a%20b%2F1234",
        ] {
            assert!(quick_reject(v.as_bytes()), "{v}");
        }
        for v in [
            "1.2.3.4",
            "DE89370400440532013000",
            "fe80::1:2:3:4",
            "x%40y",
            "%cafe::beef:1",
        ] {
            assert!(!quick_reject(v.as_bytes()), "{v}");
        }
    }
}
