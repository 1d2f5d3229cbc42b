//! Percent-encoding of URL parts as generated requests write them; the
//! model uses it too, to key a response sample by a query whose values
//! scrubbing replaced, the way a generated request would send it.

/// Bytes left as they are in a path segment (besides alphanumerics).
/// `%` stays: recorded path segments are already encoded.
pub const PATH_SAFE: &[u8] = b"-._~!$&'()*+,;=:@%";
/// Bytes left as they are in a query name or value.
pub const QUERY_SAFE: &[u8] = b"-._~!$'()*,;:@/";

/// Percent-encodes `v` into `out`, leaving `{{secret:NAME}}` placeholders
/// intact so the replayer can find them.
pub fn encode_into(out: &mut String, v: &str, safe: &[u8]) {
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"{{secret:") || bytes[i..].starts_with(b"{{produced:") {
            if let Some(end) = v[i..].find("}}") {
                out.push_str(&v[i..i + end + 2]);
                i += end + 2;
                continue;
            }
        }
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || safe.contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
        i += 1;
    }
}
