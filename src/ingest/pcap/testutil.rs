//! Test helpers: build small captures in memory (Ethernet/IPv4/TCP frames,
//! pcap in either byte order and resolution, pcapng) and read them back.

use std::io::Cursor;
use std::path::Path;

use super::read_pcap_from;
use crate::ingest::{Exchange, IngestError, IngestStats};

pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

/// One captured frame: time (ns), bytes as captured, length on the wire.
#[derive(Clone)]
pub struct Frame {
    pub ts: i64,
    pub data: Vec<u8>,
    pub origlen: u32,
}

/// An Ethernet + IPv4 + TCP frame.
pub fn tcp_frame(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
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

/// A TCP conversation between a client and a server, one frame per call,
/// 1 ms apart, with sequence numbers tracked (and overridable).
pub struct Conv {
    pub client: ([u8; 4], u16),
    pub server: ([u8; 4], u16),
    pub cseq: u32,
    pub sseq: u32,
    pub ts: i64,
    pub frames: Vec<Frame>,
}

impl Conv {
    pub fn new(cisn: u32, sisn: u32) -> Self {
        Conv {
            client: ([10, 0, 0, 1], 40000),
            server: ([10, 0, 0, 2], 8080),
            cseq: cisn,
            sseq: sisn,
            ts: 1_700_000_000_000_000_000,
            frames: Vec::new(),
        }
    }

    fn push(&mut self, data: Vec<u8>) {
        self.ts += 1_000_000;
        let origlen = data.len() as u32;
        self.frames.push(Frame {
            ts: self.ts,
            data,
            origlen,
        });
    }

    pub fn handshake(&mut self) -> &mut Self {
        let f = tcp_frame(self.client, self.server, self.cseq, 0, SYN, b"");
        self.push(f);
        let f = tcp_frame(
            self.server,
            self.client,
            self.sseq,
            self.cseq.wrapping_add(1),
            SYN | ACK,
            b"",
        );
        self.push(f);
        self.cseq = self.cseq.wrapping_add(1);
        self.sseq = self.sseq.wrapping_add(1);
        self
    }

    /// Client sends `data` at its current sequence number.
    pub fn c(&mut self, data: &[u8]) -> &mut Self {
        let f = tcp_frame(
            self.client,
            self.server,
            self.cseq,
            self.sseq,
            ACK | PSH,
            data,
        );
        self.push(f);
        self.cseq = self.cseq.wrapping_add(data.len() as u32);
        self
    }

    /// Server sends `data` at its current sequence number.
    pub fn s(&mut self, data: &[u8]) -> &mut Self {
        let f = tcp_frame(
            self.server,
            self.client,
            self.sseq,
            self.cseq,
            ACK | PSH,
            data,
        );
        self.push(f);
        self.sseq = self.sseq.wrapping_add(data.len() as u32);
        self
    }

    /// A raw segment from the client (seq given; does not move `cseq`).
    pub fn c_at(&mut self, seq: u32, flags: u8, data: &[u8]) -> &mut Self {
        let f = tcp_frame(self.client, self.server, seq, self.sseq, flags, data);
        self.push(f);
        self
    }

    /// A raw segment from the server (seq given; does not move `sseq`).
    pub fn s_at(&mut self, seq: u32, flags: u8, data: &[u8]) -> &mut Self {
        let f = tcp_frame(self.server, self.client, seq, self.cseq, flags, data);
        self.push(f);
        self
    }

    pub fn fin_both(&mut self) -> &mut Self {
        let f = tcp_frame(
            self.server,
            self.client,
            self.sseq,
            self.cseq,
            FIN | ACK,
            b"",
        );
        self.push(f);
        let f = tcp_frame(
            self.client,
            self.server,
            self.cseq,
            self.sseq.wrapping_add(1),
            FIN | ACK,
            b"",
        );
        self.push(f);
        self
    }
}

/// Legacy pcap bytes (Ethernet link type).
pub fn pcap(frames: &[Frame], big_endian: bool, nanos: bool) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(262_144));
    out.extend_from_slice(&u32b(1));
    for f in frames {
        let sec = (f.ts / 1_000_000_000) as u32;
        let frac = (f.ts % 1_000_000_000) as u32;
        out.extend_from_slice(&u32b(sec));
        out.extend_from_slice(&u32b(if nanos { frac } else { frac / 1000 }));
        out.extend_from_slice(&u32b(f.data.len() as u32));
        out.extend_from_slice(&u32b(f.origlen));
        out.extend_from_slice(&f.data);
    }
    out
}

/// pcapng bytes (little endian): one section, the given interfaces
/// (link type, if_tsresol), packets as (interface, frame).
pub fn pcapng(interfaces: &[(u16, u8)], packets: &[(u32, Frame)]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    for &(lt, resol) in interfaces {
        let mut idb = Vec::new();
        idb.extend_from_slice(&lt.to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&0u32.to_le_bytes());
        // if_tsresol option (code 9, length 1), then end of options.
        idb.extend_from_slice(&[9, 0, 1, 0, resol, 0, 0, 0, 0, 0, 0, 0]);
        block(&mut out, 1, &idb);
    }
    for (iface, f) in packets {
        let resol = interfaces.get(*iface as usize).map_or(6, |i| i.1);
        let units = 10u128.pow(u32::from(resol));
        let raw = (f.ts as u128 * units / 1_000_000_000) as u64;
        let mut epb = Vec::new();
        epb.extend_from_slice(&iface.to_le_bytes());
        epb.extend_from_slice(&((raw >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(raw as u32).to_le_bytes());
        epb.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&f.origlen.to_le_bytes());
        epb.extend_from_slice(&f.data);
        epb.extend(std::iter::repeat_n(0u8, (4 - f.data.len() % 4) % 4));
        block(&mut out, 6, &epb);
    }
    out
}

/// Reads capture bytes; returns the exchanges sorted by start time.
pub fn read(bytes: &[u8]) -> Result<(Vec<Exchange>, IngestStats), IngestError> {
    let mut v = Vec::new();
    let stats = read_pcap_from(
        Path::new("test.pcap"),
        Cursor::new(bytes.to_vec()),
        &mut |e| v.push(e.clone()),
    )?;
    v.sort_by_key(|e| e.started_ns);
    Ok((v, stats))
}

/// Reads a conversation written as little-endian µs pcap.
pub fn read_conv(c: &Conv) -> (Vec<Exchange>, IngestStats) {
    read(&pcap(&c.frames, false, false)).unwrap_or_else(|e| panic!("{e}"))
}

/// (method, target, status) of each exchange.
pub fn summary(v: &[Exchange]) -> Vec<(String, String, u16)> {
    v.iter()
        .map(|e| {
            (
                e.method.clone(),
                e.target.clone(),
                e.response.as_ref().map_or(0, |r| r.status),
            )
        })
        .collect()
}
