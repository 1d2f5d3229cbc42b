//! Link layer to TCP segment: strips the link header a capture's link type
//! names, then lets `etherparse` (lax mode, so snap-length-truncated packets
//! still yield their headers) slice VLAN tags, IPv4/IPv6 with extension
//! headers and TCP.
//!
//! Only TCP matters to HTTP/1.x; everything else is classified so the reader
//! can count it: UDP, IP fragments (counted, not reassembled: HTTP clients
//! and servers set DF and fragments on TCP are vanishingly rare), non-IP
//! frames and link types we do not know.

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// libpcap link-type numbers (<https://www.tcpdump.org/linktypes.html>).
pub mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    /// DLT_RAW as written by OpenBSD (12) and by others (14).
    pub const RAW_12: u16 = 12;
    pub const RAW_14: u16 = 14;
    pub const LOOP: u16 = 108;
    pub const RAW: u16 = 101;
    pub const C_HDLC: u16 = 104;
    pub const LINUX_SLL: u16 = 113;
    pub const IPV4: u16 = 228;
    pub const IPV6: u16 = 229;
    pub const NFLOG: u16 = 239;
    pub const LINUX_SLL2: u16 = 276;
}

/// One end of a connection: address (IPv4 mapped into IPv6) and port.
/// Ordered by address bytes, then port (what a derive would give).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Endpoint {
    pub ip: [u8; 16],
    pub port: u16,
}

// By hand, as whole words: every packet orders its two endpoints and hashes
// them, and the derived impls went byte by byte.
impl Ord for Endpoint {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Big-endian: the numbers compare like the bytes.
        (u128::from_be_bytes(self.ip), self.port).cmp(&(u128::from_be_bytes(other.ip), other.port))
    }
}

impl PartialOrd for Endpoint {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for Endpoint {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u128(u128::from_ne_bytes(self.ip));
        state.write_u16(self.port);
    }
}

impl Endpoint {
    fn v4(ip: [u8; 4], port: u16) -> Self {
        let mut a = [0u8; 16];
        a[10] = 0xff;
        a[11] = 0xff;
        a[12..].copy_from_slice(&ip);
        Endpoint { ip: a, port }
    }

    pub fn socket_addr(&self) -> std::net::SocketAddr {
        let v6 = std::net::Ipv6Addr::from(self.ip);
        match v6.to_ipv4_mapped() {
            Some(v4) => std::net::SocketAddr::from((v4, self.port)),
            None => std::net::SocketAddr::from((v6, self.port)),
        }
    }
}

/// A TCP segment as the reassembler needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment<'a> {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    /// The captured part of the payload.
    pub payload: &'a [u8],
    /// Payload bytes on the wire but not in the capture (snap length).
    pub missing: u32,
}

/// What one captured frame is, as far as HTTP ingest cares.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    Udp,
    Fragment,
    /// IP, but neither TCP nor UDP (ICMP, ...), or a TCP header cut short.
    OtherIp,
    /// ARP, LLDP, STP... or a frame too short for its link header.
    NonIp,
}

/// Decodes one frame of the given link type. `missing` is `origlen - caplen`.
pub fn decode(linktype: u16, frame: &[u8], missing: u32) -> Decoded<'_> {
    match fast_ipv4_tcp(linktype, frame) {
        Some(seg) => Decoded::Tcp(seg),
        None => decode_sliced(linktype, frame, missing),
    }
}

/// The common frame — complete, unfragmented IPv4 carrying TCP, behind
/// Ethernet without VLAN tags, loopback, Linux cooked capture or raw IP —
/// read directly. `None` for anything else (including every malformed or
/// truncated frame), which [`decode_sliced`] then reads; where this answers,
/// it agrees with it (see the tests).
fn fast_ipv4_tcp(linktype: u16, frame: &[u8]) -> Option<Segment<'_>> {
    use linktype::*;
    let ip = match linktype {
        ETHERNET if frame.get(12..14)? == [0x08, 0x00] => &frame[14..],
        LINUX_SLL if frame.get(14..16)? == [0x08, 0x00] => &frame[16..],
        LINUX_SLL2 if frame.get(0..2)? == [0x08, 0x00] => frame.get(20..)?,
        RAW | RAW_12 | RAW_14 | IPV4 => frame,
        NULL | LOOP => {
            let fam = frame.get(0..4)?;
            let fam = [fam[0], fam[1], fam[2], fam[3]];
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            let af = if linktype == LOOP { be } else { le.min(be) };
            if !matches!(af, 2 | 10 | 24 | 28 | 30) {
                return None;
            }
            &frame[4..]
        }
        _ => return None,
    };
    let h = ip.get(..20)?;
    let header_len = usize::from(h[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let fragment = u16::from_be_bytes([h[6], h[7]]) & 0x3fff; // MF flag and offset
    if h[0] >> 4 != 4
        || header_len < 20
        || total_len < header_len
        || total_len > ip.len()
        || fragment != 0
        || h[9] != 6
    {
        return None;
    }
    let tcp = &ip[header_len..total_len];
    let t = tcp.get(..20)?;
    let data_offset = usize::from(t[12] >> 4) * 4;
    if data_offset < 20 || data_offset > tcp.len() {
        return None;
    }
    let port = |i: usize| u16::from_be_bytes([t[i], t[i + 1]]);
    let word = |i: usize| u32::from_be_bytes([t[i], t[i + 1], t[i + 2], t[i + 3]]);
    let flags = t[13];
    Some(Segment {
        src: Endpoint::v4([h[12], h[13], h[14], h[15]], port(0)),
        dst: Endpoint::v4([h[16], h[17], h[18], h[19]], port(2)),
        seq: word(4),
        ack: word(8),
        syn: flags & 0x02 != 0,
        ack_flag: flags & 0x10 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        payload: &tcp[data_offset..],
        missing: 0,
    })
}

/// [`decode`] through etherparse: every link type, VLAN tags, IPv6,
/// extension headers, truncated and malformed frames.
fn decode_sliced(linktype: u16, frame: &[u8], missing: u32) -> Decoded<'_> {
    use linktype::*;
    let sliced = match linktype {
        ETHERNET => match LaxSlicedPacket::from_ethernet(frame) {
            Ok(p) if p.net.is_some() => p,
            Ok(p) => match p.ether_payload() {
                // PPPoE session: 6-byte PPPoE header, 2-byte PPP protocol.
                Some(e) if e.ether_type.0 == 0x8864 => return pppoe(e.payload, missing),
                _ => return Decoded::NonIp,
            },
            Err(_) => return Decoded::NonIp,
        },
        LINUX_SLL => match frame.get(14..16).zip(frame.get(16..)) {
            Some((proto, rest)) => from_ether_type(u16::from_be_bytes([proto[0], proto[1]]), rest),
            None => return Decoded::NonIp,
        },
        LINUX_SLL2 => match frame.get(0..2).zip(frame.get(20..)) {
            Some((proto, rest)) => from_ether_type(u16::from_be_bytes([proto[0], proto[1]]), rest),
            None => return Decoded::NonIp,
        },
        RAW | RAW_12 | RAW_14 | IPV4 | IPV6 => match LaxSlicedPacket::from_ip(frame) {
            Ok(p) => p,
            Err(_) => return Decoded::NonIp,
        },
        NULL | LOOP => {
            // 4-byte address family: host byte order for NULL, network for LOOP.
            let Some(fam) = frame.get(0..4) else {
                return Decoded::NonIp;
            };
            let fam = [fam[0], fam[1], fam[2], fam[3]];
            let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
            let af = if linktype == LOOP { be } else { le.min(be) };
            // AF_INET is 2 everywhere; AF_INET6 is 10, 24, 28 or 30 by OS.
            match af {
                2 | 10 | 24 | 28 | 30 => match LaxSlicedPacket::from_ip(&frame[4..]) {
                    Ok(p) => p,
                    Err(_) => return Decoded::NonIp,
                },
                _ => return Decoded::NonIp,
            }
        }
        C_HDLC => match frame.get(2..4).zip(frame.get(4..)) {
            Some((proto, rest)) => from_ether_type(u16::from_be_bytes([proto[0], proto[1]]), rest),
            None => return Decoded::NonIp,
        },
        NFLOG => match nflog_payload(frame) {
            Some(ip) => match LaxSlicedPacket::from_ip(ip) {
                Ok(p) => p,
                Err(_) => return Decoded::NonIp,
            },
            None => return Decoded::NonIp,
        },
        _ => return Decoded::NonIp,
    };
    transport(&sliced, missing)
}

fn from_ether_type(ether_type: u16, data: &[u8]) -> LaxSlicedPacket<'_> {
    LaxSlicedPacket::from_ether_type(EtherType(ether_type), data)
}

fn pppoe(data: &[u8], missing: u32) -> Decoded<'_> {
    // The PPP protocol field is 2 bytes, or 1 when compressed (PFC: an odd
    // first byte).
    let (proto, ip) = match data.get(6) {
        Some(&b) if b & 1 == 1 => (u16::from(b), data.get(7..)),
        Some(&b) => match data.get(7) {
            Some(&c) => (u16::from_be_bytes([b, c]), data.get(8..)),
            None => return Decoded::NonIp,
        },
        None => return Decoded::NonIp,
    };
    match (proto, ip) {
        (0x0021 | 0x0057, Some(ip)) => match LaxSlicedPacket::from_ip(ip) {
            Ok(p) => transport(&p, missing),
            Err(_) => Decoded::NonIp,
        },
        _ => Decoded::NonIp,
    }
}

/// NFLOG: 4-byte header, then TLVs (little-endian length and type, padded
/// to 4 bytes); type 9 holds the packet from its IP header on.
fn nflog_payload(frame: &[u8]) -> Option<&[u8]> {
    let mut pos = 4usize;
    loop {
        let tlv = frame.get(pos..pos.checked_add(4)?)?;
        let len = usize::from(u16::from_le_bytes([tlv[0], tlv[1]]));
        let kind = u16::from_le_bytes([tlv[2], tlv[3]]);
        if len < 4 {
            return None;
        }
        if kind == 9 {
            return frame.get(pos + 4..pos.checked_add(len)?);
        }
        pos = pos.checked_add(len.checked_add(3)? & !3)?;
    }
}

fn transport<'a>(p: &LaxSlicedPacket<'a>, missing: u32) -> Decoded<'a> {
    let Some(net) = &p.net else {
        return Decoded::NonIp;
    };
    let (src_ip, dst_ip, fragmented, missing) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            // Truncation is measured against the IPv4 total length, which
            // ignores link trailers (Ethernet padding, FCS).
            let declared = usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4);
            let missing = if pl.incomplete {
                u32::try_from(declared.saturating_sub(pl.payload.len())).unwrap_or(u32::MAX)
            } else {
                0
            };
            (
                Endpoint::v4(h.source(), 0),
                Endpoint::v4(h.destination(), 0),
                pl.fragmented,
                missing,
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let pl = v6.payload();
            let missing = if pl.incomplete { missing } else { 0 };
            (
                Endpoint {
                    ip: h.source(),
                    port: 0,
                },
                Endpoint {
                    ip: h.destination(),
                    port: 0,
                },
                pl.fragmented,
                missing,
            )
        }
    };
    if fragmented {
        return Decoded::Fragment;
    }
    match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => Decoded::Tcp(Segment {
            src: Endpoint {
                port: tcp.source_port(),
                ..src_ip
            },
            dst: Endpoint {
                port: tcp.destination_port(),
                ..dst_ip
            },
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            syn: tcp.syn(),
            ack_flag: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            missing,
        }),
        Some(TransportSlice::Udp(_)) => Decoded::Udp,
        _ => Decoded::OtherIp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 + TCP header (20 + 20 bytes) with the given payload.
    pub fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let total = 40 + payload.len();
        let mut v = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
            10,
            0,
            0,
            1,
            10,
            0,
            0,
            2,
        ];
        v.extend_from_slice(&[
            0x30, 0x39, 0, 80, 0, 0, 0, 7, 0, 0, 0, 9, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0,
        ]);
        v.extend_from_slice(payload);
        v
    }

    fn expect_tcp(d: Decoded<'_>) -> Segment<'_> {
        match d {
            Decoded::Tcp(s) => s,
            other => panic!("expected TCP, got {other:?}"),
        }
    }

    #[test]
    fn decodes_every_supported_link_type() {
        let ip = ipv4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&ip);
        let mut qinq = vec![0u8; 12];
        qinq.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00]);
        qinq.extend_from_slice(&ip);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(&ip);
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(&ip);
        let mut pfc = vec![0u8; 12];
        pfc.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x21]);
        pfc.extend_from_slice(&ip);
        let mut pppoe = vec![0u8; 12];
        pppoe.extend_from_slice(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 0, 0x00, 0x21]);
        pppoe.extend_from_slice(&ip);
        let mut nflog = vec![2, 0, 0, 0];
        nflog.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // some TLV
        nflog.extend_from_slice(&((4 + ip.len()) as u16).to_le_bytes());
        nflog.extend_from_slice(&[9, 0]);
        nflog.extend_from_slice(&ip);
        for (lt, frame) in [
            (linktype::ETHERNET, &eth),
            (linktype::ETHERNET, &qinq),
            (linktype::ETHERNET, &pppoe),
            (linktype::ETHERNET, &pfc),
            (linktype::LINUX_SLL, &sll),
            (linktype::LINUX_SLL2, &sll2),
            (linktype::NULL, &null),
            (linktype::LOOP, &lo),
            (linktype::RAW, &ip),
            (linktype::NFLOG, &nflog),
        ] {
            let s = expect_tcp(decode(lt, frame, 0));
            assert_eq!(
                (s.src.port, s.dst.port, s.seq, s.ack),
                (12345, 80, 7, 9),
                "link type {lt}"
            );
            assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n", "link type {lt}");
            assert_eq!(s.src.socket_addr().to_string(), "10.0.0.1:12345");
        }
    }

    /// Frames of every link type the fast path reads, around `ip`.
    fn framed(ip: &[u8]) -> Vec<(u16, Vec<u8>)> {
        let wrap = |head: &[u8]| [head, ip].concat();
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        vec![
            (linktype::ETHERNET, wrap(&eth)),
            (linktype::LINUX_SLL, wrap(&sll)),
            (linktype::LINUX_SLL2, wrap(&sll2)),
            (linktype::NULL, wrap(&2u32.to_le_bytes())),
            (linktype::NULL, wrap(&24u32.to_le_bytes())),
            (linktype::LOOP, wrap(&2u32.to_be_bytes())),
            (linktype::RAW, ip.to_vec()),
            (linktype::IPV4, ip.to_vec()),
        ]
    }

    #[test]
    fn endpoints_order_by_address_bytes_then_port() {
        let mut x: u64 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut eps: Vec<Endpoint> = (0..300)
            .map(|_| {
                let mut ip = [0u8; 16];
                for b in ip.iter_mut() {
                    *b = [0, 1, 0x7f, 0x80, 0xff][next() as usize % 5];
                }
                Endpoint {
                    ip,
                    port: [0, 1, 80, 65535][next() as usize % 4],
                }
            })
            .collect();
        eps.push(Endpoint::v4([10, 0, 0, 1], 80));
        eps.push(Endpoint::v4([10, 0, 0, 1], 81));
        for a in &eps {
            for b in &eps {
                assert_eq!(a.cmp(b), (a.ip, a.port).cmp(&(b.ip, b.port)), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn fast_path_reads_plain_ipv4_tcp() {
        let ip = ipv4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        for (lt, frame) in framed(&ip) {
            let fast = fast_ipv4_tcp(lt, &frame).unwrap_or_else(|| panic!("link type {lt}"));
            assert!(matches!(decode_sliced(lt, &frame, 0), Decoded::Tcp(s) if s == fast));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, ..Default::default() })]

        /// Wherever the fast path answers, etherparse answers the same:
        /// frames with bytes of the IP and TCP headers changed, cut short
        /// or padded, IP options, odd data offsets.
        #[test]
        fn fast_path_agrees_with_etherparse(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            edits in proptest::collection::vec((0usize..48, proptest::prelude::any::<u8>()), 0..4),
            cut in proptest::option::of(0usize..100),
            pad in 0usize..8,
            missing in 0u32..3,
        ) {
            let mut ip = ipv4_tcp(&payload);
            for (at, b) in edits {
                if let Some(x) = ip.get_mut(at) {
                    *x = b;
                }
            }
            ip.extend(std::iter::repeat_n(0u8, pad));
            if let Some(c) = cut {
                ip.truncate(c);
            }
            for (lt, frame) in framed(&ip) {
                if let Some(fast) = fast_ipv4_tcp(lt, &frame) {
                    let slow = decode_sliced(lt, &frame, missing);
                    proptest::prop_assert!(
                        matches!(slow, Decoded::Tcp(s) if s == fast),
                        "link type {}: fast {:?}, etherparse {:?}", lt, fast, slow
                    );
                }
            }
        }
    }

    #[test]
    fn truncated_payload_reports_missing_bytes() {
        let ip = ipv4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        let s = expect_tcp(decode(linktype::RAW, &ip[..45], 13));
        assert_eq!(s.payload, b"GET /");
        assert_eq!(s.missing, 13);
    }

    #[test]
    fn hostile_frames_do_not_panic() {
        for lt in [0, 1, 12, 101, 104, 108, 113, 228, 229, 239, 276, 9999] {
            for len in 0..64 {
                let junk: Vec<u8> = (0..len).map(|i| (i * 37 + lt as usize) as u8).collect();
                let _ = decode(lt, &junk, 0);
                let ff = vec![0xffu8; len];
                let _ = decode(lt, &ff, 0);
            }
        }
    }

    #[test]
    fn fragments_and_udp_are_classified() {
        let mut ip = ipv4_tcp(b"x");
        ip[6] = 0x20; // more fragments
        assert!(matches!(decode(linktype::RAW, &ip, 0), Decoded::Fragment));
        let mut udp = ipv4_tcp(b"");
        udp[9] = 17;
        udp.truncate(28);
        udp[2] = 0;
        udp[3] = 28;
        udp[24] = 0;
        udp[25] = 8;
        assert!(matches!(decode(linktype::RAW, &udp, 0), Decoded::Udp));
    }
}
