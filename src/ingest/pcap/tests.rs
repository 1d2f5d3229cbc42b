//! End-to-end tests of the pcap reader on captures built in memory: each
//! names the case it reproduces (reassembly, HTTP framing, containers).

use super::testutil::*;
use crate::ingest::IngestError;

const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
const OK5: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";

fn owned(v: &[(&str, &str, u16)]) -> Vec<(String, String, u16)> {
    v.iter()
        .map(|(m, t, s)| (m.to_string(), t.to_string(), *s))
        .collect()
}

#[test]
fn simple_exchange_has_timing_client_and_body() {
    let mut c = Conv::new(1000, 5000);
    c.handshake().c(GET).s(OK5).fin_both();
    let (v, stats) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    let e = &v[0];
    assert_eq!(e.started_ns, c.frames[2].ts);
    assert_eq!(e.client.as_deref(), Some("10.0.0.1:40000"));
    assert_eq!(e.authority, "x");
    assert_eq!(e.scheme, "http");
    let r = e.response.as_ref().unwrap();
    assert_eq!(r.body_size, Some(5));
    assert_eq!(r.body.as_deref(), Some(&b"hello"[..]));
    assert_eq!(r.mime, "text/plain");
    assert_eq!(r.wait_ms, Some(1.0));
    assert_eq!(r.total_ms, Some(1.0));
    assert!(!e.damaged);
    assert_eq!((stats.seen, stats.kept), (1, 1));
}

#[test]
fn out_of_order_retransmitted_and_overlapping_segments_reassemble() {
    let req = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
    let mut c = Conv::new(1000, 5000);
    c.handshake();
    let base = c.cseq;
    // Second half first, then the first half, then a retransmission and an
    // overlapping segment covering both.
    c.c_at(base + 30, ACK, &req[30..]);
    c.c_at(base, ACK, &req[..30]);
    c.c_at(base, ACK, &req[..30]);
    c.c_at(base + 20, ACK, &req[20..45]);
    c.cseq = base + req.len() as u32;
    c.s(OK5).fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("POST", "/p", 200)]));
    let body = v[0].body.as_ref().unwrap();
    assert_eq!(body.text.as_deref(), Some("0123456789"));
    assert_eq!(body.size, 10);
    assert!(!v[0].damaged);
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut c = Conv::new(u32::MAX - 10, u32::MAX - 3);
    c.handshake()
        .c(GET)
        .s(OK5)
        .c(b"GET /b HTTP/1.1\r\n\r\n")
        .s(OK5)
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(
        summary(&v),
        owned(&[("GET", "/a", 200), ("GET", "/b", 200)])
    );
    assert!(v.iter().all(|e| !e.damaged));
}

#[test]
fn pipelined_requests_pair_in_fifo_order() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nHEAD /3 HTTP/1.1\r\n\r\n")
        .s(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB")
        .s(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(
        summary(&v),
        owned(&[("GET", "/1", 200), ("GET", "/2", 404), ("HEAD", "/3", 200)])
    );
    let sizes: Vec<_> = v
        .iter()
        .map(|e| e.response.as_ref().unwrap().body_size)
        .collect();
    assert_eq!(sizes, [Some(1), Some(2), Some(0)]);
}

#[test]
fn chunked_response_with_trailers_split_across_segments() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(GET)
        .s(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhel")
        .s(b"lo\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n")
        .s(b"\r\n")
        .c(b"GET /next HTTP/1.1\r\n\r\n")
        .s(OK5)
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(
        summary(&v),
        owned(&[("GET", "/a", 200), ("GET", "/next", 200)])
    );
    let r = v[0].response.as_ref().unwrap();
    assert_eq!(r.body.as_deref(), Some(&b"hello world"[..]));
    assert_eq!(r.body_size, Some(11));
    assert_eq!(r.total_ms, Some(3.0));
}

#[test]
fn close_delimited_response_ends_at_fin() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(b"GET /old HTTP/1.0\r\n\r\n")
        .s(b"HTTP/1.0 200 OK\r\n\r\nsome ")
        .s(b"bytes")
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/old", 200)]));
    let r = v[0].response.as_ref().unwrap();
    assert_eq!(r.body_size, Some(10));
    assert!(!v[0].damaged);
}

#[test]
fn head_204_and_304_have_no_body() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(b"HEAD /h HTTP/1.1\r\n\r\n")
        .s(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        .c(b"GET /e HTTP/1.1\r\n\r\n")
        .s(b"HTTP/1.1 204 No Content\r\n\r\n")
        .c(b"GET /n HTTP/1.1\r\nIf-None-Match: x\r\n\r\n")
        .s(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n")
        .c(GET)
        .s(OK5)
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(
        summary(&v),
        owned(&[
            ("HEAD", "/h", 200),
            ("GET", "/e", 204),
            ("GET", "/n", 304),
            ("GET", "/a", 200)
        ])
    );
    assert!(v.iter().all(|e| !e.damaged));
}

#[test]
fn expect_100_continue_then_final_response() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .s(b"HTTP/1.1 100 Continue\r\n\r\n")
        .c(b"data")
        .s(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("PUT", "/u", 201)]));
    assert_eq!(v[0].body.as_ref().unwrap().size, 4);
    // Waiting time runs from the request's last byte (the body).
    assert_eq!(v[0].response.as_ref().unwrap().wait_ms, Some(1.0));
}

#[test]
fn midstream_pickup_starts_at_the_next_request_line() {
    let mut c = Conv::new(1, 1);
    // No handshake: the capture starts inside a request body, then a
    // response, then a whole exchange.
    c.c(b"tail of an earlier body\r\n")
        .s(b"ody of an earlier response")
        .c(GET)
        .s(OK5);
    let (v, stats) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    assert_eq!(v[0].client.as_deref(), Some("10.0.0.1:40000"));
    assert!(!stats.skipped.contains_key("non-http tcp"));
}

#[test]
fn gap_marks_the_exchange_damaged_and_resyncs() {
    let body = vec![b'x'; 3000];
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n".to_vec();
    resp.extend_from_slice(&body);
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET);
    let s0 = c.sseq;
    // The middle 1000 bytes of the response are never captured.
    c.s_at(s0, ACK, &resp[..1000]);
    c.s_at(s0 + 2000, ACK, &resp[2000..]);
    c.sseq = s0 + resp.len() as u32;
    // The client's next request acknowledges all of it.
    c.c(b"GET /after HTTP/1.1\r\n\r\n").s(OK5).fin_both();
    // A lost request head: the client's third request is cut in half.
    let (v, stats) = read_conv(&c);
    assert_eq!(
        summary(&v),
        owned(&[("GET", "/a", 200), ("GET", "/after", 200)])
    );
    assert!(v[0].damaged);
    assert_eq!(v[0].response.as_ref().unwrap().body_size, Some(3000));
    assert!(!v[1].damaged);
    assert!(
        stats.warnings.iter().any(|w| w.contains("damaged")),
        "{:?}",
        stats.warnings
    );
}

#[test]
fn gap_inside_a_request_head_resyncs_at_the_next_request() {
    let mut c = Conv::new(1, 1);
    c.handshake();
    let base = c.cseq;
    let lost = b"GET /lost HTTP/1.1\r\nHost: x\r\n\r\n";
    c.c_at(base, ACK, &lost[..5]);
    c.cseq = base + lost.len() as u32;
    c.c(b"GET /found HTTP/1.1\r\n\r\n");
    c.s_at(c.sseq, ACK, b""); // server acks everything
    let mut f = c.frames.pop().unwrap();
    f.data = tcp_frame(c.server, c.client, c.sseq, c.cseq, ACK, b"");
    c.frames.push(f);
    c.s(OK5).fin_both();
    let (v, stats) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/found", 200)]));
    assert_eq!(stats.skipped.get("damaged exchange"), Some(&1));
}

#[test]
fn tls_h2c_and_other_protocols_are_detected_and_counted() {
    let mut frames = Vec::new();
    for (port, first) in [
        (443u16, &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..]),
        (80, &b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"[..]),
        (25, &b"EHLO mail.example.com\r\n"[..]),
    ] {
        let mut c = Conv::new(1, 1);
        c.server.1 = port;
        c.client.1 = 50000 + port;
        c.handshake()
            .c(first)
            .s(b"whatever the server says")
            .fin_both();
        frames.extend(c.frames);
    }
    let (v, stats) = read(&pcap(&frames, false, false)).unwrap();
    assert!(v.is_empty());
    assert_eq!(stats.skipped.get("tls"), Some(&1));
    assert_eq!(stats.skipped.get("http/2"), Some(&1));
    assert_eq!(stats.skipped.get("non-http tcp"), Some(&1));
    assert!(stats.warnings.iter().any(|w| w.contains("cleartext")));
}

#[test]
fn http_on_an_odd_port_is_recognised_by_content() {
    let mut c = Conv::new(1, 1);
    c.server.1 = 22;
    c.handshake()
        .s(b"SSH-2.0-OpenSSH\r\n")
        .c(GET)
        .s(OK5)
        .fin_both();
    let (v, _) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    assert_eq!(v[0].authority, "x");
}

#[test]
fn snaplen_truncated_packets_are_counted_and_mark_damage() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET);
    let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'y', 2000));
    c.s(&big);
    // Cut the response frame at 100 bytes, as `tcpdump -s 100` would.
    let f = c.frames.last_mut().unwrap();
    f.data.truncate(100);
    c.c(b"GET /2 HTTP/1.1\r\n\r\n").s(OK5).fin_both();
    let (v, stats) = read_conv(&c);
    assert_eq!(stats.skipped.get("snaplen-truncated packets"), Some(&1));
    assert_eq!(
        summary(&v),
        owned(&[("GET", "/a", 200), ("GET", "/2", 200)])
    );
    assert!(v[0].damaged);
    assert_eq!(v[0].response.as_ref().unwrap().body_size, Some(2000));
    assert!(!v[1].damaged);
}

#[test]
fn both_byte_orders_and_nanosecond_timestamps() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5).fin_both();
    // A timestamp with nanoseconds that microseconds cannot hold.
    for f in &mut c.frames {
        f.ts += 123;
    }
    for (be, ns) in [(false, false), (true, false), (false, true), (true, true)] {
        let (v, _) = read(&pcap(&c.frames, be, ns)).unwrap();
        assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]), "be={be} ns={ns}");
        let want = if ns {
            c.frames[2].ts
        } else {
            c.frames[2].ts - 123
        };
        assert_eq!(v[0].started_ns, want, "be={be} ns={ns}");
    }
}

#[test]
fn pcapng_interfaces_have_their_own_link_type_and_resolution() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5).fin_both();
    // Interface 0: Ethernet, µs. Interface 1: raw IPv4, ns. Packets of the
    // one connection alternate between them.
    let packets: Vec<(u32, Frame)> = c
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut f = f.clone();
            f.ts += 7;
            if i % 2 == 1 {
                f.data.drain(..14);
                f.origlen -= 14;
                (1, f)
            } else {
                (0, f)
            }
        })
        .collect();
    let bytes = pcapng(&[(1, 6), (228, 9)], &packets);
    let (v, _) = read(&bytes).unwrap();
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    // Frame 2 (the request) is on interface 0 (µs): the 7 ns are lost.
    assert_eq!(v[0].started_ns, c.frames[2].ts);
    // Frame 3 (the response) is on interface 1 (ns): wait = 1 ms + 7 ns.
    assert_eq!(v[0].response.as_ref().unwrap().wait_ms, Some(1.000007));
}

/// pcapng timestamps are 64-bit with a resolution and offset per
/// interface, so they can name a time no capture was made at; recorded,
/// such a model would not load back (found by the pcap fuzz target).
#[test]
fn pcapng_packets_dated_after_2106_are_refused_with_their_position() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5).fin_both();
    let mut packets: Vec<(u32, Frame)> = c.frames.iter().map(|f| (0, f.clone())).collect();
    packets[2].1.ts = 5_000_000_000_000_000_000; // the year 2128
    let bytes = pcapng(&[(1, 9)], &packets);
    let e = read(&bytes).unwrap_err().to_string();
    assert!(e.contains("packet 3, byte offset"), "{e}");
    assert!(e.contains("outside the years 1970-2106"), "{e}");
    // Dated inside the range, the same capture reads.
    packets[2].1.ts = c.frames[2].ts;
    assert!(read(&pcapng(&[(1, 9)], &packets)).is_ok());
}

/// Legacy pcap's seconds are a u32 (up to 2106), but its fraction field
/// is not checked to be under a second: 4,294 extra seconds at most.
#[test]
fn legacy_packets_whose_fraction_carries_them_past_2106_are_refused() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5).fin_both();
    let mut bytes = pcap(&c.frames, false, false);
    // First record header after the 24-byte file header: ts_sec, ts_usec.
    bytes[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    let e = read(&bytes).unwrap_err().to_string();
    assert!(e.contains("packet 1, byte offset 24"), "{e}");
    assert!(e.contains("outside the years 1970-2106"), "{e}");
    // The last representable second, with a proper fraction, is fine.
    bytes[28..32].copy_from_slice(&999_999u32.to_le_bytes());
    assert!(read(&bytes).is_ok());
}

#[test]
fn truncated_final_block_warns_and_keeps_what_was_read() {
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5).fin_both();
    let mut bytes = pcap(&c.frames, false, false);
    bytes.truncate(bytes.len() - 10);
    let (v, stats) = read(&bytes).unwrap();
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    assert!(
        stats
            .warnings
            .iter()
            .any(|w| w.contains("truncated") && w.contains("byte offset")),
        "{:?}",
        stats.warnings
    );
}

#[test]
fn bad_magic_and_corrupt_headers_name_the_file_and_position() {
    let err = |bytes: &[u8]| match read(bytes) {
        Err(e @ IngestError::Malformed { .. }) => e.to_string(),
        other => panic!("expected an error, got {:?}", other.map(|r| r.0.len())),
    };
    let msg = err(b"this is not a capture file at all, not even close!");
    assert!(
        msg.contains("test.pcap") && msg.contains("byte offset 0"),
        "{msg}"
    );
    let msg = err(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]);
    assert!(
        msg.contains("test.pcap") && msg.contains("byte offset 0"),
        "{msg}"
    );
    // A pcapng packet that names an interface never described.
    let mut c = Conv::new(1, 1);
    c.handshake();
    let bytes = pcapng(&[], &[(3, c.frames[0].clone())]);
    let msg = err(&bytes);
    assert!(
        msg.contains("packet 1") && msg.contains("byte offset 28"),
        "{msg}"
    );
}

#[test]
fn empty_capture_and_garbage_after_packets() {
    let (v, stats) = read(&pcap(&[], false, false)).unwrap();
    assert!(v.is_empty() && stats.warnings.is_empty());
    let mut c = Conv::new(1, 1);
    c.handshake().c(GET).s(OK5);
    let mut bytes = pcap(&c.frames, false, false);
    // A record header claiming 3 GB: corrupt, not a reason to allocate.
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0xc0]);
    bytes.extend_from_slice(&[0u8; 64]);
    let (v, stats) = read(&bytes).unwrap();
    assert_eq!(summary(&v), owned(&[("GET", "/a", 200)]));
    assert!(!stats.warnings.is_empty());
}

#[test]
fn requests_without_response_are_kept_and_reported() {
    let mut c = Conv::new(1, 1);
    c.handshake()
        .c(GET)
        .c(b"POST /f HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
    let (v, stats) = read_conv(&c);
    assert_eq!(summary(&v), owned(&[("GET", "/a", 0), ("POST", "/f", 0)]));
    assert!(stats
        .warnings
        .iter()
        .any(|w| w.contains("without a response")));
}

#[test]
fn hostile_bytes_never_panic() {
    // Random-ish payloads on a connection, in both directions.
    let mut seed = 0x1234_5678u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for round in 0..40 {
        let mut c = Conv::new(next(), next());
        if round % 2 == 0 {
            c.handshake();
        }
        for _ in 0..8 {
            let len = (next() % 300) as usize;
            let mut data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if next() % 3 == 0 {
                let prefix: &[u8] = match next() % 4 {
                    0 => b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                    1 => b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                    2 => b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
                    _ => {
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n"
                    }
                };
                data.splice(0..0, prefix.iter().copied());
            }
            if next() % 2 == 0 {
                let seq = c.cseq.wrapping_add(next() % 64).wrapping_sub(32);
                c.c_at(seq, ACK, &data);
                c.cseq = c.cseq.wrapping_add(data.len() as u32);
            } else {
                let seq = c.sseq.wrapping_add(next() % 64).wrapping_sub(32);
                c.s_at(
                    seq,
                    ACK | if next() % 9 == 0 { FIN } else { 0 }
                        | if next() % 17 == 0 { RST } else { 0 },
                    &data,
                );
                c.sseq = c.sseq.wrapping_add(data.len() as u32);
            }
        }
        let bytes = pcap(&c.frames, false, false);
        let _ = read(&bytes);
        // And the container itself cut at every length near its start.
        for cut in [0, 5, 24, 30, 40, bytes.len() / 2] {
            let _ = read(&bytes[..cut.min(bytes.len())]);
        }
    }
}
