//! Splits a HAR byte stream into its `log.entries` elements.
//!
//! serde_json's reader-based deserializer reads one byte at a time through
//! `io::Bytes`, which caps ingest at ~35 MB/s on files made of long base64
//! bodies. Instead a small scanner walks the stream in 64 KiB chunks —
//! jumping through strings with `memchr` — and cuts out each element of
//! `log.entries` as its own byte slice, which serde_json then parses from
//! a slice (its fast path). Memory is one chunk plus the largest entry.
//!
//! Everything outside the entries (creator, pages...) is kept as the
//! "rest" of the document with the entries array emptied and newlines
//! preserved, so the caller validates the document's shape with the same
//! visitor as before and line numbers in its errors stay right. The
//! scanner itself never judges syntax: serde_json does, on each piece.
//!
//! Most entries are not copied or scanned at all: an object entry that
//! starts in a chunk is first offered to the caller as the rest of the
//! chunk ([`Piece::Open`]), which parses it in place and says where it
//! ended. Only an entry that runs past the chunk (or that the caller could
//! not parse there, so that its error comes from the copied entry as
//! before) is scanned and copied.

use std::io::Read;

/// The document outside `log.entries` (creator, pages...) is held in
/// memory to be checked; this caps it so a huge non-HAR JSON file cannot
/// exhaust memory.
pub const MAX_REST: usize = 64 << 20;
/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// One element of `log.entries`.
pub enum Piece<'a> {
    /// The bytes of entry `index`, starting at `line`/`column` (1-based)
    /// in the file.
    Entry {
        index: u64,
        bytes: &'a [u8],
        line: u64,
        column: u64,
    },
    /// The text from the start of object entry `index` to the end of the
    /// chunk read (as far as it is UTF-8): the entry may end inside it or
    /// run past it. The callback parses it in place and returns how many
    /// bytes the entry took, or `None` when it could not (the entry is then
    /// copied and handed over as [`Piece::Entry`]).
    Open { index: u64, text: &'a str },
}

/// What the callback did with a piece: for [`Piece::Open`], the length of
/// the entry it handled there, or `None`; ignored for [`Piece::Entry`].
pub type Taken = Option<usize>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// An object: `expect_key` is true until its `:`.
    Object {
        expect_key: bool,
        role: Role,
    },
    Array {
        role: Role,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Log,
    Entries,
    Other,
}

pub struct Splitter {
    stack: Vec<Frame>,
    in_str: bool,
    escape: bool,
    /// Collecting a key at depth 1 or 2.
    key: Option<Vec<u8>>,
    /// The last key of the root object and of the log object.
    root_key: Vec<u8>,
    log_key: Vec<u8>,
    /// Capturing an entry: the stack depth its element lives at.
    capture: Option<usize>,
    /// Inside an object or array entry: its nesting depth. Only strings
    /// and brackets matter there, so it is scanned in bulk
    /// ([`Splitter::scan_entry`]), not byte by byte through `emit`.
    nested: Option<u32>,
    /// A scalar element is being captured (ends at `,`, `]` or space).
    scalar: bool,
    entry: Vec<u8>,
    index: u64,
    entry_line: u64,
    entry_column: u64,
    /// The document outside the entries.
    pub rest: Vec<u8>,
    line: u64,
    column: u64,
    /// The root value ended; later bytes (a HARP `);`) are ignored.
    pub done: bool,
    /// The stream ended inside an entry: its partial bytes.
    pub truncated_entry: Option<(u64, u64, u64)>,
}

impl Splitter {
    pub fn new() -> Splitter {
        Splitter {
            stack: Vec::new(),
            in_str: false,
            escape: false,
            key: None,
            root_key: Vec::new(),
            log_key: Vec::new(),
            capture: None,
            nested: None,
            scalar: false,
            entry: Vec::new(),
            index: 0,
            entry_line: 1,
            entry_column: 1,
            rest: Vec::new(),
            line: 1,
            column: 1,
            done: false,
            truncated_entry: None,
        }
    }

    /// Feeds the whole stream, calling `on_entry` for each entry. Returns
    /// the first error `on_entry` returns, or an I/O error.
    pub fn run<R: Read, E>(
        &mut self,
        prefix: &[u8],
        mut reader: R,
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
        io_err: &dyn Fn(std::io::Error) -> E,
    ) -> Result<(), E> {
        self.feed(prefix, on_entry)?;
        // Large chunks: an entry that straddles two is copied (see `Open`).
        let mut buf = vec![0u8; CHUNK];
        while !self.done {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            };
            self.feed(&buf[..n], on_entry)?;
            if self.rest.len() > MAX_REST {
                return Err(io_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "more than {} MiB of the document lies outside log.entries; a HAR export is never shaped like that",
                        MAX_REST >> 20
                    ),
                )));
            }
        }
        if let Some(depth) = self.capture {
            if self.scalar && self.stack.len() == depth && !self.in_str {
                // A scalar element right at the end: hand it over; the
                // rest of the document is then found truncated.
                self.finish_entry(on_entry)?;
            } else {
                self.truncated_entry = Some((self.index, self.entry_line, self.entry_column));
            }
        }
        Ok(())
    }

    /// The partial bytes of the entry the stream ended in.
    pub fn partial_entry(&self) -> &[u8] {
        &self.entry
    }

    fn emit(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let newlines = memchr::memchr_iter(b'\n', bytes).count() as u64;
        if self.capture.is_some() {
            self.entry.extend_from_slice(bytes);
        } else if self.stack.last()
            == Some(&Frame::Array {
                role: Role::Entries,
            })
        {
            // Separators between entries: keep the line structure only.
            self.rest
                .extend(std::iter::repeat_n(b'\n', newlines as usize));
        } else {
            self.rest.extend_from_slice(bytes);
        }
        if let Some(k) = self.key.as_mut() {
            if self.in_str {
                k.extend_from_slice(bytes);
            }
        }
        if newlines > 0 {
            self.line += newlines;
            let last = memchr::memrchr(b'\n', bytes).unwrap_or(0);
            self.column = (bytes.len() - last) as u64;
        } else {
            self.column += bytes.len() as u64;
        }
    }

    /// Scans an object or array entry at nesting `depth` (≥ 1) through
    /// `bytes`: how many bytes belong to it, and whether it ended there.
    /// Strings are skipped with `memchr`; the depth and the string state
    /// carry over to the next chunk.
    fn scan_entry(&mut self, bytes: &[u8], mut depth: u32) -> (usize, bool) {
        let mut k = 0;
        while k < bytes.len() {
            if self.in_str {
                if self.escape {
                    self.escape = false;
                    k += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &bytes[k..]) {
                    None => k = bytes.len(),
                    Some(p) => {
                        k += p;
                        if bytes[k] == b'\\' {
                            self.escape = true;
                        } else {
                            self.in_str = false;
                        }
                        k += 1;
                    }
                }
                continue;
            }
            let c = bytes[k];
            k += 1;
            match c {
                b'"' => self.in_str = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.nested = None;
                        return (k, true);
                    }
                }
                _ => {}
            }
        }
        self.nested = Some(depth);
        (k, false)
    }

    /// The part of `bytes` that belongs to the entry being scanned (at
    /// `depth`), taken; the entry is handed over when it ends there.
    /// Returns how many bytes were taken.
    fn entry_part<E>(
        &mut self,
        bytes: &[u8],
        depth: u32,
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
    ) -> Result<usize, E> {
        let (used, ended) = self.scan_entry(bytes, depth);
        self.take_entry_bytes(&bytes[..used]);
        if ended {
            self.finish_entry(on_entry)?;
        }
        Ok(used)
    }

    /// Bytes of the entry being captured: kept, and counted for the line
    /// and column of what follows.
    fn take_entry_bytes(&mut self, bytes: &[u8]) {
        self.entry.extend_from_slice(bytes);
        self.advance(bytes);
    }

    /// Counts `bytes`, just passed, for the line and column of what follows.
    fn advance(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            None => self.column += bytes.len() as u64,
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
                self.column = (bytes.len() - last) as u64;
            }
        }
    }

    fn start_capture(&mut self) {
        self.capture = Some(self.stack.len());
        self.entry.clear();
        self.entry_line = self.line;
        self.entry_column = self.column;
    }

    fn finish_entry<E>(
        &mut self,
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
    ) -> Result<(), E> {
        self.capture = None;
        self.scalar = false;
        let index = self.index;
        self.index += 1;
        on_entry(Piece::Entry {
            index,
            bytes: &self.entry,
            line: self.entry_line,
            column: self.entry_column,
        })
        .map(drop)
    }

    /// Offers the object entry starting at `chunk[i]` to the callback to
    /// parse in place; returns how many bytes it took, if it did.
    /// `valid` caches the chunk's longest UTF-8 prefix (checked once).
    fn open_entry<'c, E>(
        &mut self,
        chunk: &'c [u8],
        i: usize,
        valid: &mut Option<&'c str>,
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
    ) -> Result<Taken, E> {
        let valid = *valid.get_or_insert_with(|| match std::str::from_utf8(chunk) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&chunk[..e.valid_up_to()]).unwrap_or_default(),
        });
        // `chunk[i]` is `{`: a char boundary when it lies in the prefix.
        let Some(text) = valid.get(i..) else {
            return Ok(None);
        };
        let taken = on_entry(Piece::Open {
            index: self.index,
            text,
        })?;
        if let Some(n) = taken {
            self.index += 1;
            self.advance(&chunk[i..i + n]);
        }
        Ok(taken)
    }

    /// The role of the object or array that `c` (`{` or `[`) opens here.
    fn role_of(&self, c: u8) -> Role {
        match (self.stack.last(), c) {
            (None, b'{') => Role::Root,
            (
                Some(Frame::Object {
                    role: Role::Root, ..
                }),
                b'{',
            ) if self.root_key == b"log" => Role::Log,
            (
                Some(Frame::Object {
                    role: Role::Log, ..
                }),
                b'[',
            ) if self.log_key == b"entries" && self.capture.is_none() => Role::Entries,
            _ => Role::Other,
        }
    }

    fn feed<E>(
        &mut self,
        chunk: &[u8],
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
    ) -> Result<(), E> {
        let mut i = 0;
        let mut valid = None;
        while i < chunk.len() && !self.done {
            if let Some(depth) = self.nested {
                i += self.entry_part(&chunk[i..], depth, on_entry)?;
                continue;
            }
            if self.in_str {
                if self.escape {
                    self.escape = false;
                    self.emit(&chunk[i..i + 1]);
                    i += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    None => {
                        self.emit(&chunk[i..]);
                        i = chunk.len();
                    }
                    Some(k) => {
                        let j = i + k;
                        self.emit(&chunk[i..j]);
                        if chunk[j] == b'\\' {
                            self.escape = true;
                            self.emit(&chunk[j..j + 1]);
                        } else {
                            self.in_str = false;
                            self.emit(&chunk[j..j + 1]);
                            self.end_string(on_entry)?;
                        }
                        i = j + 1;
                    }
                }
                continue;
            }
            let c = chunk[i];
            // A scalar entry ends before a separator.
            if self.scalar
                && self.capture == Some(self.stack.len())
                && matches!(c, b',' | b']' | b' ' | b'\t' | b'\r' | b'\n')
            {
                self.finish_entry(on_entry)?;
            }
            let at_entries = self.capture.is_none()
                && self.stack.last()
                    == Some(&Frame::Array {
                        role: Role::Entries,
                    });
            match c {
                b'"' => {
                    if at_entries {
                        self.start_capture();
                    }
                    let key_here = matches!(
                        self.stack.last(),
                        Some(Frame::Object {
                            expect_key: true,
                            role: Role::Root | Role::Log
                        })
                    ) && self.capture.is_none();
                    self.emit(&chunk[i..i + 1]);
                    self.in_str = true;
                    if key_here {
                        self.key = Some(Vec::new());
                    }
                }
                b'{' | b'[' => {
                    if at_entries && c == b'{' {
                        if let Some(n) = self.open_entry(chunk, i, &mut valid, on_entry)? {
                            i += n;
                            continue;
                        }
                    }
                    if at_entries {
                        // An entry: scanned in bulk up to its end.
                        self.start_capture();
                        self.nested = Some(1);
                        self.take_entry_bytes(&chunk[i..i + 1]);
                        i += 1;
                        continue;
                    }
                    let role = self.role_of(c);
                    self.emit(&chunk[i..i + 1]);
                    self.stack.push(if c == b'{' {
                        Frame::Object {
                            expect_key: true,
                            role,
                        }
                    } else {
                        Frame::Array { role }
                    });
                }
                b'}' | b']' => {
                    if at_entries {
                        // The entries array closes: this byte is the rest's.
                        self.stack.pop();
                        self.emit(&chunk[i..i + 1]);
                    } else {
                        self.emit(&chunk[i..i + 1]);
                        self.stack.pop();
                    }
                    if self.capture == Some(self.stack.len()) && !self.scalar {
                        self.finish_entry(on_entry)?;
                    }
                    if self.stack.is_empty() {
                        self.done = true;
                    }
                }
                b':' => {
                    if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                        *expect_key = false;
                    }
                    self.emit(&chunk[i..i + 1]);
                }
                b',' => {
                    if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                        *expect_key = true;
                    }
                    self.emit(&chunk[i..i + 1]);
                }
                b' ' | b'\t' | b'\r' | b'\n' => self.emit(&chunk[i..i + 1]),
                _ => {
                    if at_entries {
                        self.start_capture();
                        self.scalar = true;
                    }
                    self.emit(&chunk[i..i + 1]);
                }
            }
            i += 1;
        }
        Ok(())
    }

    fn end_string<E>(
        &mut self,
        on_entry: &mut dyn FnMut(Piece<'_>) -> Result<Taken, E>,
    ) -> Result<(), E> {
        if let Some(k) = self.key.take() {
            match self.stack.last() {
                Some(Frame::Object {
                    role: Role::Root, ..
                }) => self.root_key = k,
                Some(Frame::Object {
                    role: Role::Log, ..
                }) => self.log_key = k,
                _ => {}
            }
        }
        // A string element of the entries array ends here.
        if self.capture == Some(self.stack.len()) && !self.scalar {
            self.finish_entry(on_entry)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(doc: &str) -> (Vec<String>, String) {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        s.run::<_, std::io::Error>(
            b"",
            doc.as_bytes(),
            &mut |piece| {
                if let Piece::Entry { bytes, .. } = piece {
                    out.push(String::from_utf8_lossy(bytes).into_owned());
                }
                Ok(None)
            },
            &|e| e,
        )
        .unwrap();
        (out, String::from_utf8_lossy(&s.rest).into_owned())
    }

    /// A reader handing out `n` bytes at a time: every chunk boundary
    /// falls somewhere inside an entry, a string or an escape.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// The entries with where each starts, and the rest, reading `doc`
    /// `n` bytes at a time. With `open`, entries are parsed in place where
    /// they lie whole in a chunk, as the HAR reader does.
    fn positions(doc: &str, n: usize, open: bool) -> (Vec<(String, u64, u64)>, String) {
        let mut s = Splitter::new();
        let mut out = Vec::new();
        s.run::<_, std::io::Error>(
            b"",
            Trickle(doc.as_bytes(), n),
            &mut |piece| match piece {
                Piece::Entry {
                    bytes,
                    line,
                    column,
                    ..
                } => {
                    out.push((String::from_utf8_lossy(bytes).into_owned(), line, column));
                    Ok(None)
                }
                Piece::Open { text, .. } if open => {
                    let mut values =
                        serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
                    let Some(Ok(_)) = values.next() else {
                        return Ok(None);
                    };
                    let end = values.byte_offset();
                    // Where it starts is not known here: 0, 0.
                    out.push((text[..end].to_string(), 0, 0));
                    Ok(Some(end))
                }
                Piece::Open { .. } => Ok(None),
            },
            &|e| e,
        )
        .unwrap();
        (out, String::from_utf8_lossy(&s.rest).into_owned())
    }

    #[test]
    fn entries_and_their_positions_do_not_depend_on_chunk_boundaries() {
        let doc = "{\"log\":{\"entries\":[\n  {\"a\":\"x\\\"}]{[\",\n   \"b\":[1,{\"c\":\"\\\\\"}]},\n  {\"d\":\"\n\"}, {}\n],\"pages\":[]}}";
        let whole = positions(doc, 1 << 16, false);
        assert_eq!(
            whole.0,
            vec![
                (
                    "{\"a\":\"x\\\"}]{[\",\n   \"b\":[1,{\"c\":\"\\\\\"}]}".to_string(),
                    2,
                    3
                ),
                ("{\"d\":\"\n\"}".to_string(), 4, 3),
                // After the newline inside "d"'s string: `"}, {}`.
                ("{}".to_string(), 5, 5),
            ]
        );
        assert_eq!(whole.1, "{\"log\":{\"entries\":[\n\n\n],\"pages\":[]}}");
        for n in [1, 2, 3, 5, 7, 1 << 16] {
            assert_eq!(positions(doc, n, false), whole, "{n} bytes at a time");
            // Parsed in place or copied, each entry is the same, and a
            // copied one after one parsed in place starts where it did.
            let (entries, rest) = positions(doc, n, true);
            assert_eq!(rest, whole.1, "{n} bytes at a time, parsed in place");
            assert_eq!(entries.len(), whole.0.len());
            for (got, want) in entries.iter().zip(&whole.0) {
                assert_eq!(got.0, want.0, "{n} bytes at a time, parsed in place");
                if got.1 != 0 {
                    assert_eq!(got, want, "{n} bytes at a time, parsed in place");
                }
            }
        }
    }

    /// Object entries that lie whole in a chunk are offered in place; an
    /// entry the callback does not take, and one cut by the chunk's end,
    /// are copied instead.
    #[test]
    fn whole_object_entries_are_offered_in_place() {
        let doc = "{\"log\":{\"entries\":[{\"a\":1},{\"b\":2}, 5, {\"skip\":3},{\"c\":4}]}}";
        for (n, offered, copied) in [(1 << 16, 4, 2), (1, 4, 5)] {
            let mut s = Splitter::new();
            let (mut open, mut copies) = (0, 0);
            s.run::<_, std::io::Error>(
                b"",
                Trickle(doc.as_bytes(), n),
                &mut |piece| match piece {
                    Piece::Open { text, .. } => {
                        open += 1;
                        // A chunk of one byte holds only the `{`.
                        let end = memchr::memchr(b'}', text.as_bytes());
                        Ok(end.filter(|_| !text.starts_with("{\"skip")).map(|e| e + 1))
                    }
                    Piece::Entry { .. } => {
                        copies += 1;
                        Ok(None)
                    }
                },
                &|e| e,
            )
            .unwrap();
            assert_eq!((open, copies), (offered, copied), "{n} bytes at a time");
        }
    }

    #[test]
    fn cuts_out_entries_and_keeps_the_rest() {
        let (es, rest) = pieces("{\"log\":{\"pages\":[{\"a\":1}],\"entries\":[{\"x\":\"}\\\"]\"},\n 5 ,\"s\",[1]],\"v\":1},\"z\":[]} );");
        assert_eq!(es, vec!["{\"x\":\"}\\\"]\"}", "5", "\"s\"", "[1]"]);
        assert_eq!(
            rest,
            "{\"log\":{\"pages\":[{\"a\":1}],\"entries\":[\n],\"v\":1},\"z\":[]}"
        );
    }
}
