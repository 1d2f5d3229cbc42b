//! HAR reader (HAR 1.1 and 1.2, and the HARP/JSONP wrapping).
//!
//! Streams `log.entries`: `split` finds each entry in 1 MiB chunks of
//! the file and it is parsed with serde_json from the chunk where it lies
//! whole, from a copy where it does not (a byte-at-a-time serde reader
//! capped ingest at ~35 MB/s), turned into an [`Exchange`] and handed to
//! the sink before the next one is read, so memory does not grow with the
//! number of entries. The entry's strings are borrowed from the chunk
//! (`raw`) and the exchange is refilled in place, so an entry costs few
//! allocations. The rest of the document (`log` without its entries) is
//! checked afterwards with serde `DeserializeSeed`s. Response bodies are
//! skipped without being copied, except small ones kept for the mock
//! server.
//!
//! Real exporters disagree on many details (see `fixtures/README.md`); the
//! reader accepts missing optional fields, `-1` timings, `null`s, numbers
//! written as strings, extra `_fields`, any time zone, and entries out of
//! time order. Entries that cannot be replayed are counted by reason.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::exchange::{Body, BodyKind, Exchange, Response};
use super::{IngestError, IngestStats};

mod raw;
mod split;

use raw::{RawEntry, RawNameValue, RawPostData, Text};

/// Request bodies longer than this are kept only as a size.
pub const MAX_REQUEST_BODY_TEXT: usize = 64 * 1024;
/// Response bodies whose HAR text is longer than this are not kept (only
/// their size): twice the model's cap on a decoded body
/// (`model::response::MAX_RESPONSE_BODY`, 1 MiB), which base64 text of a
/// body at the cap stays under.
pub const MAX_RESPONSE_BODY_KEPT: usize = 2 << 20;
/// Response headers kept per entry.
const MAX_RESPONSE_HEADERS: usize = 96;

/// Skip reasons, as shown by `inspect`.
pub mod reason {
    pub const DATA_URL: &str = "data: url";
    pub const BLOB_URL: &str = "blob: url";
    pub const EXTENSION_URL: &str = "browser extension url";
    pub const OTHER_SCHEME: &str = "non-http url";
    pub const WEBSOCKET: &str = "websocket";
    pub const NO_RESPONSE: &str = "no response";
    pub const INCOMPLETE: &str = "incomplete entry (no method or url)";
    pub const BAD_URL: &str = "invalid url";
    pub const BAD_METHOD: &str = "invalid method";
}

/// Reads a HAR document from `reader` and hands each replayable entry to
/// `sink` as an [`Exchange`].
pub fn read_har<R: Read>(
    path: &Path,
    reader: R,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<IngestStats, IngestError> {
    let mut reader = reader;
    let prefix = skip_prefix(path, &mut reader)?;
    let mut ctx = Ctx {
        client: format!("har:{}", file_label(path)),
        x: Exchange::default(),
        spare_headers: Vec::new(),
        spare_body: Vec::new(),
        stats: IngestStats::default(),
        sink,
        index: None,
        saw_log: false,
        saw_entries: false,
        missing_time: 0,
        last_ts: 0,
        fatal: None,
        model_json: false,
    };
    // Entries are cut out of the stream one at a time and parsed from a
    // slice (see `split`); the rest of the document is checked after.
    let mut splitter = split::Splitter::new();
    let mut on_entry = |piece: split::Piece<'_>| -> Result<split::Taken, IngestError> {
        let fatal =
            |index, message| IngestError::malformed(path, format!("entry {index}"), message);
        match piece {
            split::Piece::Open { index, text } => {
                // Parsed in place; anything but a whole entry (an error,
                // the chunk's end) is left to the copied path below, which
                // reports errors as it always has.
                let mut entries = serde_json::Deserializer::from_str(text).into_iter::<RawEntry>();
                let Some(Ok(entry)) = entries.next() else {
                    return Ok(None);
                };
                let end = entries.byte_offset();
                ctx.index = Some(index);
                ctx.handle(entry).map_err(|m| fatal(index, m))?;
                Ok(Some(end))
            }
            split::Piece::Entry {
                index,
                bytes,
                line,
                column,
            } => {
                ctx.index = Some(index);
                match serde_json::from_slice::<RawEntry>(bytes) {
                    Ok(entry) => ctx.handle(entry).map_err(|m| fatal(index, m)).map(|_| None),
                    Err(e) => Err(entry_error(path, index, line, column, &e)),
                }
            }
        }
    };
    splitter.run(&prefix, reader, &mut on_entry, &|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some((index, line, column)) = splitter.truncated_entry {
        // Parsing the partial entry gives serde_json's own description
        // (an EOF, or an earlier syntax error).
        if let Err(e) = serde_json::from_slice::<RawEntry>(splitter.partial_entry()) {
            return Err(entry_error(path, index, line, column, &e));
        }
        return Err(IngestError::malformed(
            path,
            format!("entry {index}, line {line} column {column}"),
            "the file ends in the middle of the JSON document (truncated export?); re-export the HAR",
        ));
    }
    ctx.index = None;
    let mut de = serde_json::Deserializer::from_slice(&splitter.rest);
    let result = RootSeed { ctx: &mut ctx }.deserialize(&mut de);
    if let Some((index, message)) = ctx.fatal.take() {
        return Err(IngestError::malformed(
            path,
            format!("entry {index}"),
            message,
        ));
    }
    if let Err(e) = result {
        return Err(json_error(path, &ctx, &e));
    }
    if !ctx.saw_log && ctx.model_json {
        return Err(IngestError::malformed(
            path,
            "top level",
            "this is an uncompressed replay model (\"format\": \"replay-model\"); model files are gzip-compressed: compress it with gzip, or record it again with `replay record CAPTURE -o MODEL`",
        ));
    }
    if !ctx.saw_log {
        return Err(IngestError::malformed(
            path,
            "top level",
            "not a HAR file: the top-level object has no \"log\" (a single entry or another JSON document?); export the whole HAR from the browser or proxy",
        ));
    }
    if !ctx.saw_entries {
        return Err(IngestError::malformed(
            path,
            "log",
            "not a HAR file: \"log\" has no \"entries\" array",
        ));
    }
    if ctx.missing_time > 0 {
        ctx.stats.warn(format!(
            "{}: {} entries had no usable startedDateTime; they were placed at the previous entry's time",
            path.display(),
            ctx.missing_time
        ));
    }
    Ok(ctx.stats)
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Skips a UTF-8 BOM and a HARP (JSONP) prefix like `onInputData(`.
/// Returns the bytes read past them that belong to the document.
fn skip_prefix<R: Read>(path: &Path, reader: &mut R) -> Result<Vec<u8>, IngestError> {
    let mut head = vec![0u8; 256];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(IngestError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    head.truncate(n);
    let mut start = 0;
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        start = 3;
    }
    let rest = &head[start..];
    let first = rest.iter().position(|b| !b.is_ascii_whitespace());
    if let Some(i) = first {
        let b = rest[i];
        if b.is_ascii_alphabetic() || b == b'_' || b == b'$' {
            // HARP: `callback({...});` — accept it, the trailing `);` is
            // never read because the document ends before it.
            let ident_end = rest[i..]
                .iter()
                .position(|c| {
                    !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$' || *c == b'.')
                })
                .map(|p| p + i);
            match ident_end {
                Some(p) if rest[p..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'(') => {
                    let paren = rest[p..].iter().position(|c| *c == b'(').unwrap_or(0) + p;
                    start += paren + 1;
                }
                _ => {
                    return Err(IngestError::malformed(
                        path,
                        format!("byte offset {}", start + i),
                        "not JSON: a HAR file must start with '{'",
                    ))
                }
            }
        }
    }
    Ok(head[start..].to_vec())
}

/// An error inside entry `index`, which starts at `line`/`column` of the
/// file: the position is given in the file's terms.
fn entry_error(
    path: &Path,
    index: u64,
    line: u64,
    column: u64,
    e: &serde_json::Error,
) -> IngestError {
    let (l, c) = if e.line() <= 1 {
        (line, column + e.column() as u64 - 1)
    } else {
        (line + e.line() as u64 - 1, e.column() as u64)
    };
    IngestError::malformed(
        path,
        format!("entry {index}, line {l} column {c}"),
        describe(e),
    )
}

fn describe(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Eof => {
            "the file ends in the middle of the JSON document (truncated export?); re-export the HAR".to_string()
        }
        serde_json::error::Category::Syntax => format!(
            "invalid JSON: {}; re-export the HAR, or fix the file at that spot",
            strip_position(e)
        ),
        serde_json::error::Category::Data => format!(
            "unexpected HAR content: {}; re-export the HAR, or fix the file at that spot",
            strip_position(e)
        ),
        serde_json::error::Category::Io => format!("read error: {}", strip_position(e)),
    }
}

fn json_error(path: &Path, ctx: &Ctx<'_>, e: &serde_json::Error) -> IngestError {
    let at = match (ctx.index, e.line()) {
        (Some(i), line) if line > 0 => {
            format!("entry {i}, line {line} column {}", e.column())
        }
        (Some(i), _) => format!("entry {i}"),
        (None, line) if line > 0 => format!("line {line} column {}", e.column()),
        (None, _) => "start of file".to_string(),
    };
    IngestError::malformed(path, at, describe(e))
}

/// serde_json appends " at line L column C"; the position is reported on
/// its own.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

struct Ctx<'s> {
    client: String,
    /// The exchange handed to the sink, refilled entry by entry so that
    /// its strings keep their allocations.
    x: Exchange,
    /// Header pairs and a response body buffer not in use by `x` just now.
    spare_headers: Vec<(String, String)>,
    spare_body: Vec<u8>,
    stats: IngestStats,
    sink: &'s mut dyn FnMut(&Exchange),
    /// Index of the entry being read, for error positions.
    index: Option<u64>,
    saw_log: bool,
    saw_entries: bool,
    missing_time: u64,
    last_ts: i64,
    /// An entry that makes the whole file unusable: (entry index, message).
    fatal: Option<(u64, String)>,
    /// The top level says `"format": "replay-model"`: a gunzipped model.
    model_json: bool,
}

struct RootSeed<'a, 's> {
    ctx: &'a mut Ctx<'s>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR document (a JSON object with \"log\")")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyBuf>()? {
            if key.0 == "log" {
                self.ctx.saw_log = true;
                map.next_value_seed(LogSeed { ctx: self.ctx })?;
            } else if key.0 == "format" {
                let v = map.next_value::<serde_json::Value>()?;
                self.ctx.model_json |= v.as_str() == Some(super::MODEL_FORMAT);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct LogSeed<'a, 's> {
    ctx: &'a mut Ctx<'s>,
}

impl<'de> DeserializeSeed<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the HAR \"log\" object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<KeyBuf>()? {
            if key.0 == "entries" {
                self.ctx.saw_entries = true;
                map.next_value_seed(EntriesSeed { ctx: self.ctx })?;
                self.ctx.index = None;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct EntriesSeed<'a, 's> {
    ctx: &'a mut Ctx<'s>,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the HAR \"entries\" array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        loop {
            self.ctx.index = Some(i);
            match seq.next_element::<RawEntry>()? {
                Some(entry) => {
                    if let Err(message) = self.ctx.handle(entry) {
                        // Reported by read_har with the entry index; this
                        // error only stops the parse.
                        self.ctx.fatal = Some((i, message.clone()));
                        return Err(de::Error::custom(message));
                    }
                }
                None => break,
            }
            i += 1;
        }
        Ok(())
    }
}

/// A map key read without allocating for the common short keys.
struct KeyBuf(String);

impl<'de> Deserialize<'de> for KeyBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(KeyBuf)
    }
}

// ---------------------------------------------------------------------------
// From the raw entry to an exchange.

/// Why an entry is not turned into an exchange.
enum Skip {
    /// Counted under this reason; reading goes on.
    Reason(&'static str),
    /// The file cannot be modelled (the message says why and what to do).
    Fatal(String),
}

impl From<&'static str> for Skip {
    fn from(reason: &'static str) -> Self {
        Skip::Reason(reason)
    }
}

/// Timestamps outside these years are a broken clock, not a capture: a
/// model spanning them would replay for decades (and their span in
/// nanoseconds can overflow `i64`).
pub const PLAUSIBLE_YEARS: std::ops::Range<i32> = 1970..2100;

impl Ctx<'_> {
    fn handle(&mut self, entry: RawEntry<'_>) -> Result<(), String> {
        self.stats.seen += 1;
        match self.convert(entry) {
            Ok(()) => {
                self.stats.kept += 1;
                (self.sink)(&self.x);
            }
            Err(Skip::Reason(reason)) => self.stats.skip(reason),
            Err(Skip::Fatal(message)) => return Err(message),
        }
        Ok(())
    }

    /// Fills `self.x` from the entry, or says why it is skipped.
    fn convert(&mut self, entry: RawEntry<'_>) -> Result<(), Skip> {
        let request = entry.request.ok_or(reason::INCOMPLETE)?;
        let url = request.url.as_deref().map(str::trim).unwrap_or("");
        let method = request.method.as_deref().map(str::trim).unwrap_or("");
        if url.is_empty() {
            return Err(reason::INCOMPLETE.into());
        }
        let (scheme, authority, target) = split_url(url)?;
        if method.is_empty() {
            return Err(reason::INCOMPLETE.into());
        }
        // Not a token (the fuzzer found "GET?"): no server would take it,
        // and the model file cannot hold it.
        if !crate::http1::is_token(method) {
            return Err(reason::BAD_METHOD.into());
        }
        if entry.websocket_messages.is_some() || scheme == "ws" || scheme == "wss" {
            return Err(reason::WEBSOCKET.into());
        }
        let x = &mut self.x;
        fill_headers(
            &mut x.headers,
            &mut self.spare_headers,
            &request.headers,
            usize::MAX,
        );
        let upgrade_ws = x
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("upgrade") && v.eq_ignore_ascii_case("websocket"));
        let response = entry.response.ok_or(reason::NO_RESPONSE)?;
        let status = response.status.unwrap_or(0.0);
        if status == 101.0 || upgrade_ws {
            return Err(reason::WEBSOCKET.into());
        }
        if !(100.0..=999.0).contains(&status) {
            // Chrome writes status 0 for aborted/blocked requests.
            return Err(reason::NO_RESPONSE.into());
        }

        let started = entry.started.as_deref().and_then(parse_datetime);
        if let Some(dt) = started {
            if !PLAUSIBLE_YEARS.contains(&chrono::Datelike::year(&dt)) {
                return Err(Skip::Fatal(format!(
                    "startedDateTime {:?} is outside the years {}-{}: the recording clock was wrong; fix or remove the entry, or re-export the HAR",
                    entry.started.as_deref().unwrap_or_default(),
                    PLAUSIBLE_YEARS.start,
                    PLAUSIBLE_YEARS.end - 1
                )));
            }
        }
        x.started_ns = match started.and_then(|dt| dt.and_utc().timestamp_nanos_opt()) {
            Some(ts) => ts,
            None => {
                self.missing_time += 1;
                self.last_ts
            }
        };
        self.last_ts = x.started_ns;

        x.body = request
            .post_data
            .and_then(|p| post_body(p, request.body_size));
        set(&mut x.method, method);
        x.method.make_ascii_uppercase();
        set(&mut x.scheme, scheme);
        set(&mut x.authority, authority);
        // "http://host?x" has an empty path; the request line says "/?x".
        x.target.clear();
        if target.starts_with('?') {
            x.target.push('/');
        }
        x.target.push_str(target);
        if x.client.as_deref() != Some(self.client.as_str()) {
            x.client = Some(self.client.clone());
        }
        match (&mut x.resource_type, entry.resource_type.as_deref()) {
            (Some(old), Some(new)) => {
                set(old, new);
                old.make_ascii_lowercase();
            }
            (slot, new) => *slot = new.map(str::to_ascii_lowercase),
        }
        x.damaged = false;
        x.body_unknown = false;
        let timings = entry.timings.unwrap_or_default();
        let r = x.response.get_or_insert_with(Response::default);
        r.status = status as u16;
        r.wait_ms = timings.wait.filter(|v| *v >= 0.0);
        r.total_ms = entry.time.filter(|v| *v >= 0.0).or_else(|| {
            let parts = [
                timings.blocked,
                timings.dns,
                timings.connect,
                timings.send,
                timings.wait,
                timings.receive,
            ];
            let known: Vec<f64> = parts
                .iter()
                .flatten()
                .copied()
                .filter(|v| *v >= 0.0)
                .collect();
            (!known.is_empty()).then(|| known.iter().sum())
        });
        let content = response.content;
        // `text/html; charset=utf-8` → `text/html`.
        let mime = content
            .as_ref()
            .and_then(|c| c.mime.as_deref())
            .unwrap_or("");
        set(&mut r.mime, mime.split(';').next().unwrap_or("").trim());
        r.mime.make_ascii_lowercase();
        r.body_size = content
            .as_ref()
            .and_then(|c| c.size)
            .filter(|v| plausible_size(*v))
            .or(response.body_size.filter(|v| plausible_size(*v)))
            .map(|v| v as u64);
        // Base64 text stays as it is: the model decodes what it keeps.
        if let Some(old) = r.body.take() {
            self.spare_body = old;
        }
        r.body_base64 = false;
        if let Some(c) = content {
            r.body_base64 = c.encoding.as_deref() == Some("base64");
            if let Some(text) = c.text.and_then(|t| t.text) {
                let mut body = std::mem::take(&mut self.spare_body);
                body.clear();
                body.extend_from_slice(text.as_bytes());
                r.body = Some(body);
            }
        }
        fill_headers(
            &mut r.headers,
            &mut self.spare_headers,
            &response.headers,
            MAX_RESPONSE_HEADERS,
        );
        Ok(())
    }
}

/// `dst = src`, keeping `dst`'s allocation.
fn set(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

/// Sets `dst` to the named headers of `raw` (a header without a name is
/// dropped, one without a value is empty), at most `max` of them, leaving
/// out HTTP/2 pseudo-headers (`:authority`, `:status`...), which are not
/// real headers. Pairs are reused from `dst` and `spare`, and `dst`'s
/// surplus goes to `spare`, so the strings keep their allocations.
fn fill_headers(
    dst: &mut Vec<(String, String)>,
    spare: &mut Vec<(String, String)>,
    raw: &Option<Vec<RawNameValue<'_>>>,
    max: usize,
) {
    let named = raw.iter().flatten().filter_map(|h| {
        let name = h.name.as_deref()?;
        (!name.starts_with(':') && !name.is_empty())
            .then(|| (name, h.value.as_deref().unwrap_or("")))
    });
    let mut n = 0;
    for (name, value) in named.take(max) {
        if n == dst.len() {
            dst.push(spare.pop().unwrap_or_default());
        }
        let pair = &mut dst[n];
        set(&mut pair.0, name);
        set(&mut pair.1, value);
        n += 1;
    }
    spare.extend(dst.drain(n..));
}

fn post_body(p: RawPostData<'_>, body_size: Option<f64>) -> Option<Body> {
    let mime = p.mime.0.map(Cow::into_owned).unwrap_or_default();
    let params: Vec<(String, String)> = p
        .params
        .unwrap_or_default()
        .into_iter()
        .filter_map(|nv| Some((nv.name.0?.into_owned(), owned(nv.value))))
        .collect();
    let (text, text_len) = match p.text {
        Some(t) => (t.text.map(Cow::into_owned), t.len),
        None => (None, 0),
    };
    let size = body_size
        .filter(|v| *v > 0.0 && plausible_size(*v))
        .map(|v| v as u64)
        .unwrap_or(text_len as u64);
    if text.as_deref().is_none_or(str::is_empty) && params.is_empty() && size == 0 {
        return None;
    }
    let lower = mime.to_ascii_lowercase();
    let kind = if lower.contains("json") {
        BodyKind::Json
    } else if lower.contains("x-www-form-urlencoded") || (!params.is_empty() && text.is_none()) {
        BodyKind::Form
    } else if lower.starts_with("text/")
        || lower.contains("xml")
        || lower.is_empty()
        || lower.starts_with("multipart/")
    {
        BodyKind::Text
    } else {
        BodyKind::Binary
    };
    Some(Body {
        mime,
        text,
        params,
        size,
        kind,
    })
}

/// The text, owned; empty when absent.
fn owned(t: Text<'_>) -> String {
    t.0.map(Cow::into_owned).unwrap_or_default()
}

/// Sizes are known when 0 ≤ size ≤ 1 TiB; HAR writes -1 for unknown, and a
/// larger value (1e300) is a broken exporter, also treated as unknown.
fn plausible_size(v: f64) -> bool {
    (0.0..=(1u64 << 40) as f64).contains(&v)
}

/// Splits an absolute URL into scheme, authority and origin-form target,
/// or returns the skip reason.
pub fn split_url(url: &str) -> Result<(&str, &str, &str), &'static str> {
    let colon = url.find(':').ok_or(reason::BAD_URL)?;
    let scheme = &url[..colon];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return Err(reason::BAD_URL);
    }
    let lower = scheme.to_ascii_lowercase();
    match lower.as_str() {
        "http" | "https" | "ws" | "wss" => {}
        "data" => return Err(reason::DATA_URL),
        "blob" => return Err(reason::BLOB_URL),
        "chrome-extension"
        | "moz-extension"
        | "safari-extension"
        | "safari-web-extension"
        | "ms-browser-extension" => return Err(reason::EXTENSION_URL),
        _ => return Err(reason::OTHER_SCHEME),
    }
    let rest = url[colon + 1..].strip_prefix("//").ok_or(reason::BAD_URL)?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop userinfo.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if authority.is_empty() {
        return Err(reason::BAD_URL);
    }
    let mut target = &rest[end..];
    if let Some(h) = target.find('#') {
        target = &target[..h];
    }
    if target.is_empty() {
        target = "/";
    }
    Ok((scheme_static(&lower), authority, target))
}

fn scheme_static(lower: &str) -> &'static str {
    match lower {
        "https" => "https",
        "ws" => "ws",
        "wss" => "wss",
        _ => "http",
    }
}

/// Parses an ISO 8601 / RFC 3339 timestamp with any time zone and any
/// number of fractional digits into Unix nanoseconds. A timestamp with no
/// zone is taken as UTC.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_datetime(s)?.and_utc().timestamp_nanos_opt()
}

/// Like [`parse_timestamp`], as a UTC date and time (any year chrono can
/// represent, so a year-3000 timestamp is seen as such, not as missing).
fn parse_datetime(s: &str) -> Option<chrono::NaiveDateTime> {
    let s = s.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(dt.naive_utc());
    }
    // Fractions longer than 9 digits (rare) or offsets without a colon.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = chrono::DateTime::parse_from_str(s, fmt) {
            return Some(dt.naive_utc());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<(Vec<Exchange>, IngestStats), IngestError> {
        let mut out = Vec::new();
        let stats = read_har(Path::new("t.har"), json.as_bytes(), &mut |x| {
            out.push(x.clone())
        })?;
        Ok((out, stats))
    }

    #[test]
    fn timestamps_with_zones_and_long_fractions() {
        let a = parse_timestamp("2019-07-30T14:09:02.123Z").unwrap();
        let b = parse_timestamp("2019-07-30T16:09:02.123+02:00").unwrap();
        assert_eq!(a, b);
        // Fiddler: 7 fractional digits.
        let c = parse_timestamp("2019-07-30T14:09:02.1230000Z").unwrap();
        assert_eq!(a, c);
        let d = parse_timestamp("2019-07-30T14:09:02.123").unwrap();
        assert_eq!(a, d);
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[test]
    fn urls_split_and_skip_reasons() {
        assert_eq!(
            split_url("https://a.example:8443/x/y?q=1#frag"),
            Ok(("https", "a.example:8443", "/x/y?q=1"))
        );
        assert_eq!(
            split_url("http://a.example"),
            Ok(("http", "a.example", "/"))
        );
        assert_eq!(
            split_url("http://a.example?x=1"),
            Ok(("http", "a.example", "?x=1"))
        );
        assert_eq!(
            split_url("data:image/png;base64,AAAA"),
            Err(reason::DATA_URL)
        );
        assert_eq!(split_url("blob:https://x/1"), Err(reason::BLOB_URL));
        assert_eq!(
            split_url("chrome-extension://abc/x.js"),
            Err(reason::EXTENSION_URL)
        );
        assert_eq!(split_url("about:blank"), Err(reason::OTHER_SCHEME));
        assert_eq!(split_url("not a url"), Err(reason::BAD_URL));
    }

    #[test]
    fn lenient_fields_and_skips() {
        let json = r#"{"log":{"version":"1.2","_x":1,"entries":[
          {"startedDateTime":"2020-01-01T00:00:01.000Z","time":"12.5",
           "request":{"method":"get","url":"http://h/a?b=1","headers":[{"name":":authority","value":"h"},{"name":"Accept","value":"*/*"}]},
           "response":{"status":200,"content":{"size":-1,"mimeType":"application/json; charset=utf-8","text":"{}"},"bodySize":2},
           "timings":{"wait":-1,"send":1}},
          {"startedDateTime":"2020-01-01T00:00:00.000Z","request":{"method":"GET","url":"data:x"},"response":{"status":200}},
          {"startedDateTime":"2020-01-01T00:00:00.000Z","request":{"method":"GET","url":"http://h/x"},"response":{"status":0}},
          {"startedDateTime":"2020-01-01T00:00:00.000Z","request":{"method":"GET","url":"http://h/x"}},
          {"request":{}},
          {"startedDateTime":null,"request":{"method":"POST","url":"http://h/f","postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"a","value":"1"}]}},"response":{"status":"201"}}
        ]}}"#;
        let (xs, stats) = read(json).unwrap();
        assert_eq!(xs.len(), 2);
        assert_eq!(stats.seen, 6);
        assert_eq!(stats.kept, 2);
        assert_eq!(stats.skipped[reason::DATA_URL], 1);
        assert_eq!(stats.skipped[reason::NO_RESPONSE], 2);
        assert_eq!(stats.skipped[reason::INCOMPLETE], 1);
        let a = &xs[0];
        assert_eq!(a.method, "GET");
        assert_eq!(a.target, "/a?b=1");
        assert_eq!(a.headers, vec![("Accept".to_string(), "*/*".to_string())]);
        let r = a.response.as_ref().unwrap();
        assert_eq!(r.mime, "application/json");
        assert_eq!(r.body_size, Some(2));
        assert_eq!(r.wait_ms, None);
        assert_eq!(r.total_ms, Some(12.5));
        assert_eq!(r.body.as_deref(), Some(&b"{}"[..]));
        let f = &xs[1];
        assert_eq!(f.response.as_ref().unwrap().status, 201);
        assert_eq!(
            f.started_ns, a.started_ns,
            "missing time takes the previous one"
        );
        let body = f.body.as_ref().unwrap();
        assert_eq!(body.kind, BodyKind::Form);
        assert_eq!(body.params, vec![("a".to_string(), "1".to_string())]);
        assert_eq!(stats.warnings.len(), 1);
    }

    #[test]
    fn errors_name_the_entry() {
        let json = r#"{"log":{"entries":[{"request":{"method":"GET","url":"http://h/"},"response":{"status":200}},
        {"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"headers":[{"name":"a","value":"b"}"#;
        let err = read(json).unwrap_err().to_string();
        assert!(err.contains("t.har"), "{err}");
        assert!(err.contains("entry 1"), "{err}");
        assert!(err.contains("truncated"), "{err}");

        let err = read(r#"{"log":{"entries":[{"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"headers":5}}]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 0"), "{err}");
        assert!(err.contains("unexpected HAR content"), "{err}");

        let err = read(r#"{"startedDateTime":"x","request":{}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no \"log\""), "{err}");
    }

    fn entry_at(ts: &str) -> String {
        format!(
            r#"{{"startedDateTime":"{ts}","request":{{"method":"GET","url":"http://h/"}},"response":{{"status":200}}}}"#
        )
    }

    /// Regression: entries dated 1900 or 3000 were accepted (a model
    /// spanning a century, replayed for a century by default), and 1700 +
    /// 2250 made `record` panic on i64 overflow.
    #[test]
    fn implausible_years_are_an_error_naming_the_entry() {
        for (bad, shown) in [
            ("1900-01-01T00:00:00Z", "1900"),
            ("3000-01-01T00:00:00Z", "3000"),
            ("1700-06-01T00:00:00+02:00", "1700"),
        ] {
            let json = format!(
                r#"{{"log":{{"entries":[{},{}]}}}}"#,
                entry_at("2020-01-01T00:00:00Z"),
                entry_at(bad)
            );
            let err = read(&json).unwrap_err().to_string();
            assert!(err.starts_with("t.har: "), "{err}");
            assert!(err.contains("(at entry 1)"), "{err}");
            assert!(err.contains(shown) && err.contains("1970-2099"), "{err}");
        }
        // The edges are fine.
        let json = format!(
            r#"{{"log":{{"entries":[{},{}]}}}}"#,
            entry_at("1970-01-01T00:00:00Z"),
            entry_at("2099-12-31T23:59:59Z")
        );
        assert_eq!(read(&json).unwrap().0.len(), 2);
    }

    /// Regression: a size of 1e300 became u64::MAX bytes in the model.
    #[test]
    fn absurd_sizes_are_unknown() {
        let json = r#"{"log":{"entries":[{"startedDateTime":"2020-01-01T00:00:00Z",
          "request":{"method":"POST","url":"http://h/","bodySize":1e300,"postData":{"mimeType":"text/plain","text":"abc"}},
          "response":{"status":200,"bodySize":-5,"content":{"size":1e300}}}]}}"#;
        let (xs, _) = read(json).unwrap();
        let r = xs[0].response.as_ref().unwrap();
        assert_eq!(r.body_size, None);
        assert_eq!(
            xs[0].body.as_ref().unwrap().size,
            3,
            "the text length stands in"
        );
    }

    /// A reader handing out `n` bytes at a time.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Entries parsed in place (whole in a chunk) and entries copied (cut
    /// by a chunk's end) give the same exchanges, counts and errors; the
    /// exchange handed to the sink is refilled entry by entry, so nothing
    /// may carry over from one entry to the next.
    #[test]
    fn entries_read_in_place_or_copied_are_the_same() {
        let entry = |url: &str, extra: &str| {
            format!(
                r#"{{"startedDateTime":"2020-01-01T00:00:01Z","request":{{"method":"get","url":"{url}","headers":[{{"name":"A","value":"1"}},{{"name":"B\u0041","value":"\"x\""}}]{extra}}},"response":{{"status":200,"headers":[{{"name":"C","value":"2"}}],"content":{{"mimeType":"Text/Plain; q=1","text":"aGk=","encoding":"base64"}}}},"_resourceType":"XHR"}}"#
            )
        };
        let doc = format!(
            r#"{{"log":{{"entries":[{},{},{{"request":{{}}}},{},{}]}}}}"#,
            entry("http://h/a?b=1", ""),
            entry(
                "https://h:8443?x",
                r#","postData":{"mimeType":"text/plain","text":"hi"}"#
            ),
            r#"{"startedDateTime":"2020-01-01T00:00:02Z","request":{"method":"GET","url":"http://h/c"},"response":{"status":204}}"#,
            entry("http://h/d", ""),
        );
        let read_with = |n: usize| {
            let mut out = Vec::new();
            let stats = read_har(Path::new("t.har"), Trickle(doc.as_bytes(), n), &mut |x| {
                out.push(x.clone())
            })
            .unwrap();
            (out, stats.seen, stats.kept, stats.skipped)
        };
        let whole = read_with(usize::MAX);
        assert_eq!((whole.0.len(), whole.1), (4, 5));
        assert_eq!(
            whole.0[0].headers[1],
            ("BA".to_string(), "\"x\"".to_string())
        );
        assert_eq!(whole.0[1].target, "/?x");
        assert_eq!(
            whole.0[1].body.as_ref().unwrap().text.as_deref(),
            Some("hi")
        );
        let plain = &whole.0[2];
        assert!(plain.headers.is_empty() && plain.body.is_none() && plain.resource_type.is_none());
        let r = plain.response.as_ref().unwrap();
        assert!(r.headers.is_empty() && r.body.is_none() && !r.body_base64 && r.mime.is_empty());
        let r = whole.0[3].response.as_ref().unwrap();
        assert_eq!(
            (r.mime.as_str(), r.body.as_deref(), r.body_base64),
            ("text/plain", Some(&b"aGk="[..]), true)
        );
        assert_eq!(whole.0[3].resource_type.as_deref(), Some("xhr"));
        for n in [1, 7, 100] {
            assert_eq!(read_with(n), whole, "{n} bytes at a time");
        }
        let bad = doc.replace(r#""status":204"#, r#""status":{}"#);
        let err = |n| {
            read_har(Path::new("t.har"), Trickle(bad.as_bytes(), n), &mut |_| {})
                .unwrap_err()
                .to_string()
        };
        assert!(
            err(usize::MAX).contains("entry 3, line 1 column"),
            "{}",
            err(usize::MAX)
        );
        assert_eq!(err(5), err(usize::MAX));
    }

    #[test]
    fn a_gunzipped_model_is_recognised() {
        let err = read(r#"{"format":"replay-model","version":1,"endpoints":[]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("uncompressed replay model"), "{err}");
        assert!(err.contains("gzip"), "{err}");
    }

    #[test]
    fn harp_wrapper_and_bom() {
        let json = "\u{feff}onInputData({\"log\":{\"entries\":[{\"request\":{\"method\":\"GET\",\"url\":\"http://h/\"},\"response\":{\"status\":204}}]}});";
        let (xs, _) = read(json).unwrap();
        assert_eq!(xs.len(), 1);
    }
}
