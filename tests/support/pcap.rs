//! Synthetic pcap captures: each [`Entry`] as one HTTP/1.1 exchange on
//! its own TCP connection (handshake, request, response, FIN), Ethernet +
//! IPv4 frames in a legacy little-endian pcap, microsecond resolution.

use super::har::Entry;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

type End = ([u8; 4], u16);

fn frame(src: End, dst: End, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = (40 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&dst.0);
    f.extend_from_slice(&src.1.to_be_bytes());
    f.extend_from_slice(&dst.1.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// The request of `e` as HTTP/1.1 bytes (`Host` from its URL).
fn request(e: &Entry) -> Vec<u8> {
    let rest = e.url.split_once("://").map_or(e.url.as_str(), |x| x.1);
    let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut r = format!("{} {} HTTP/1.1\r\nHost: {host}\r\n", e.method, target);
    for (n, v) in &e.headers {
        r += &format!("{n}: {v}\r\n");
    }
    let body = e.post.as_ref().map(|p| p.1.as_str()).unwrap_or("");
    if let Some((mime, text)) = &e.post {
        r += &format!("Content-Type: {mime}\r\nContent-Length: {}\r\n", text.len());
    }
    r += "\r\n";
    r += body;
    r.into_bytes()
}

fn response(e: &Entry) -> Vec<u8> {
    let body = e.response.as_deref().unwrap_or("{\"ok\":true}");
    format!(
        "HTTP/1.1 {} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        e.status,
        body.len()
    )
    .into_bytes()
}

/// A pcap of the entries, from November 2023, one connection each.
pub fn http_pcap(entries: &[Entry]) -> Vec<u8> {
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let client: End = ([10, 0, 0, 1], 40000 + i as u16);
        let server: End = ([10, 0, 0, 2], 80);
        let mut ts = 1_700_000_000_000_000_000i64 + e.at_ms as i64 * 1_000_000;
        let mut push = |f: Vec<u8>| {
            ts += 100_000;
            frames.push((ts, f));
        };
        let (mut c, mut s) = (1000u32, 5000u32);
        push(frame(client, server, c, 0, SYN, b""));
        push(frame(server, client, s, c + 1, SYN | ACK, b""));
        c += 1;
        s += 1;
        let req = request(e);
        push(frame(client, server, c, s, ACK | PSH, &req));
        c += req.len() as u32;
        let resp = response(e);
        push(frame(server, client, s, c, ACK | PSH, &resp));
        s += resp.len() as u32;
        push(frame(server, client, s, c, FIN | ACK, b""));
        push(frame(client, server, c, s + 1, FIN | ACK, b""));
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (ts, f) in frames {
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000 / 1000) as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    out
}
