//! pcap and pcapng captures in, [`Exchange`]s out.
//!
//! Layout: this file is the container read loop (pcap-parser's streaming
//! `next` / `consume` / `refill` with a no-progress guard), [`link`] turns a
//! frame into a TCP segment, [`tcp`] reassembles both directions of each
//! connection and [`http`] frames HTTP/1.x messages and pairs them.
//!
//! Memory does not grow with the file: one read buffer, bounded buffers per
//! connection and idle eviction (see [`tcp`]). Exchanges are handed to the
//! sink when their response completes (or when their connection ends, for
//! requests without a response), so they are *not* in request order; the
//! model builder sorts by `started_ns`.
//!
//! What cannot be modelled is counted in [`IngestStats::skipped`]. Units by
//! reason: connections for `tls`, `http/2`, `non-http tcp`,
//! `upgraded connection`; packets for `udp`, `non-ip`, `other ip`,
//! `ip fragments`, `snaplen-truncated packets` (these are still used, the
//! missing bytes become a gap); messages for `damaged exchange` (a request
//! head lost to a gap) and `response without request`. Exchanges kept but
//! flagged `damaged`, or without a response, are reported as warnings.

pub mod http;
pub mod link;
pub mod tcp;

use std::fs::File;
use std::path::Path;

use pcap_parser::pcapng::{Block, EnhancedPacketBlock, SimplePacketBlock};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapBlock, PcapBlockOwned, PcapError, PcapHeader};

use super::{Exchange, IngestError, IngestStats};

/// Read buffer; grown (up to [`MAX_BLOCK`]) for a block that does not fit.
/// Small enough to stay in a core's L2 cache: each read is hashed and
/// parsed while the kernel's copy is still there, instead of going back to
/// memory for megabytes read earlier.
const BUFFER: usize = 256 << 10;
/// Largest block we accept; beyond that the file is called corrupt.
const MAX_BLOCK: usize = 32 << 20;

/// Where exchanges and counts go while reading.
pub struct Out<'s> {
    pub sink: &'s mut dyn FnMut(&Exchange),
    pub stats: &'s mut IngestStats,
    /// Exchanges emitted with `damaged` set.
    pub damaged: u64,
    /// Exchanges emitted without a response.
    pub no_response: u64,
    /// Finished exchange records whose buffers the next requests reuse.
    pub spares: http::Spares,
}

/// One pcapng interface: link type and timestamp units.
#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u16,
    /// Timestamp units per second.
    units: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

/// Reads a pcap or pcapng file and hands each HTTP exchange to `sink`.
pub fn read_pcap(path: &Path, sink: &mut dyn FnMut(&Exchange)) -> Result<IngestStats, IngestError> {
    let file = File::open(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_pcap_from(path, file, sink)
}

/// Like [`read_pcap`], from any reader (`path` only names it in messages).
pub fn read_pcap_from(
    path: &Path,
    input: impl std::io::Read,
    sink: &mut dyn FnMut(&Exchange),
) -> Result<IngestStats, IngestError> {
    let mut stats = IngestStats::default();
    let mut out = Out {
        sink,
        stats: &mut stats,
        damaged: 0,
        no_response: 0,
        spares: http::Spares::default(),
    };
    let mut tracker = tcp::Tracker::new();
    read_blocks(path, input, &mut tracker, &mut out)?;
    tracker.finish_all(&mut out);
    let (damaged, no_response) = (out.damaged, out.no_response);
    if damaged > 0 {
        stats.warn(format!(
            "{damaged} exchange(s) kept but marked damaged: the capture lost some of their bytes"
        ));
    }
    if no_response > 0 {
        stats.warn(format!(
            "{no_response} request(s) kept without a response (none in the capture)"
        ));
    }
    if stats.skipped.contains_key("tls") {
        stats.warn("TLS connections cannot be read; capture cleartext HTTP (e.g. behind the TLS terminator)");
    }
    Ok(stats)
}

/// The streaming read loop: next block, hand it on, consume; refill or
/// grow the buffer when a block does not fit, stop at the end of the file.
fn read_blocks(
    path: &Path,
    input: impl std::io::Read,
    tracker: &mut tcp::Tracker,
    out: &mut Out<'_>,
) -> Result<(), IngestError> {
    let mut reader = open_reader(path, input)?;
    let mut blocks = Blocks::new(path);
    let mut stalled = false;
    loop {
        let offset = reader.consumed();
        match reader.next() {
            Ok((len, block)) => {
                stalled = false;
                blocks.block(block, offset, tracker, out)?;
                // No shift here: refill() shifts the (small) unread rest
                // once the buffer runs dry, instead of moving up to half the
                // buffer every time the read position passes its middle.
                reader.consume_noshift(len);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                // No-progress guard: a refill that adds nothing means the
                // file ends inside a block.
                if stalled || reader.reader_exhausted() {
                    truncated(path, offset, blocks.packets, out);
                    break;
                }
                reader
                    .refill()
                    .map_err(|e| read_error(path, offset, e.to_string()))?;
                stalled = reader.reader_exhausted();
                if stalled && reader.data().is_empty() {
                    break;
                }
            }
            Err(PcapError::UnexpectedEof) => {
                truncated(path, offset, blocks.packets, out);
                break;
            }
            Err(PcapError::BufferTooSmall) => {
                grow(&mut *reader, path, offset, blocks.packets)?;
            }
            Err(e) => {
                corrupt_block(&e, path, offset, blocks.packets, out)?;
                break;
            }
        }
    }
    Ok(())
}

/// The reader, past the file header; a file that is not a capture at all
/// is an error at byte 0 saying what to check.
fn open_reader<'r>(
    path: &Path,
    input: impl std::io::Read + 'r,
) -> Result<Box<dyn PcapReaderIterator + 'r>, IngestError> {
    pcap_parser::create_reader(BUFFER, input).map_err(|e| {
        let msg = match e {
            PcapError::Eof => "the file is empty; check the capture finished writing".to_string(),
            PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                "the file ends inside the capture header (truncated); copy or export the capture again".to_string()
            }
            e => format!("not a valid pcap or pcapng header ({e}); check the file is a capture (tcpdump -w, Wireshark)"),
        };
        IngestError::malformed(path, "byte offset 0", msg)
    })
}

/// Doubles the read buffer for a block that does not fit, up to
/// [`MAX_BLOCK`]; beyond that the block length itself is taken as corrupt.
#[cold]
fn grow(
    reader: &mut dyn PcapReaderIterator,
    path: &Path,
    offset: usize,
    packets: u64,
) -> Result<(), IngestError> {
    let size = reader.data().len().saturating_mul(2).max(BUFFER * 2);
    if size > MAX_BLOCK || !reader.grow(size) {
        return Err(IngestError::malformed(
            path,
            format!("packet {}, byte offset {offset}", packets + 1),
            "a block larger than 32 MiB: the file is corrupt; export the capture again",
        ));
    }
    reader
        .refill()
        .map_err(|e| read_error(path, offset, e.to_string()))
}

/// A block that cannot be parsed: before the first packet the file is not
/// a usable capture (an error); after it, what was read is kept and the
/// rest is dropped with a warning.
#[cold]
fn corrupt_block(
    e: &dyn std::fmt::Display,
    path: &Path,
    offset: usize,
    packets: u64,
    out: &mut Out<'_>,
) -> Result<(), IngestError> {
    let msg = format!("corrupt block ({e})");
    if packets == 0 {
        return Err(IngestError::malformed(
            path,
            format!("byte offset {offset}"),
            format!("{msg}; check the file is a complete capture, or export it again"),
        ));
    }
    out.stats.warn(format!(
        "{}: {msg} at byte offset {offset} after packet {packets}; stopped reading there",
        path.display()
    ));
    Ok(())
}

/// What the read loop carries from one block to the next.
struct Blocks<'p> {
    path: &'p Path,
    /// Packets read so far, to name one in messages.
    packets: u64,
    /// Legacy pcap: one link type and resolution for the whole file.
    legacy: Interface,
    /// pcapng: the current section's interfaces, by id.
    interfaces: Vec<Interface>,
    /// The latest packet timestamp, for packets that carry none.
    last_ts: i64,
}

impl<'p> Blocks<'p> {
    fn new(path: &'p Path) -> Self {
        Blocks {
            path,
            packets: 0,
            legacy: Interface {
                linktype: 1,
                units: 1_000_000,
                offset: 0,
            },
            interfaces: Vec::new(),
            last_ts: 0,
        }
    }

    /// One block by kind: headers and interface descriptions update the
    /// state, packets go on to [`packet`].
    #[inline]
    fn block(
        &mut self,
        block: PcapBlockOwned<'_>,
        offset: usize,
        tracker: &mut tcp::Tracker,
        out: &mut Out<'_>,
    ) -> Result<(), IngestError> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => self.legacy_header(&h),
            PcapBlockOwned::Legacy(b) => self.legacy_packet(&b, offset, tracker, out)?,
            PcapBlockOwned::NG(Block::SectionHeader(_)) => self.interfaces.clear(),
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.interfaces.push(Interface {
                    linktype: idb.linktype.0 as u16,
                    units: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset: idb.ts_offset(),
                });
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                self.enhanced_packet(&epb, offset, tracker, out)?
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => self.simple_packet(&spb, tracker, out),
            PcapBlockOwned::NG(_) => {}
        }
        Ok(())
    }

    fn legacy_header(&mut self, h: &PcapHeader) {
        self.legacy.linktype = h.network.0 as u16;
        self.legacy.units = if h.is_nanosecond_precision() {
            1_000_000_000
        } else {
            1_000_000
        };
    }

    #[inline]
    fn legacy_packet(
        &mut self,
        b: &LegacyPcapBlock<'_>,
        offset: usize,
        tracker: &mut tcp::Tracker,
        out: &mut Out<'_>,
    ) -> Result<(), IngestError> {
        self.packets += 1;
        let legacy = self.legacy;
        let ts = i64::from(b.ts_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(frac_ns(u64::from(b.ts_usec), legacy.units));
        // u32 seconds end in 2106, but a fraction field at or
        // above one second can carry a packet past it.
        plausible(ts, self.path, self.packets, offset, || {
            (
                format!(
                    "{} s + {} units of 1/{} s",
                    b.ts_sec, b.ts_usec, legacy.units
                ),
                "the capture's clock",
            )
        })?;
        self.last_ts = ts;
        packet(
            legacy.linktype,
            ts,
            b.data,
            b.caplen,
            b.origlen,
            tracker,
            out,
        );
        Ok(())
    }

    #[inline]
    fn enhanced_packet(
        &mut self,
        epb: &EnhancedPacketBlock<'_>,
        offset: usize,
        tracker: &mut tcp::Tracker,
        out: &mut Out<'_>,
    ) -> Result<(), IngestError> {
        self.packets += 1;
        let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
            return Err(no_such_interface(
                self.path,
                self.packets,
                offset,
                epb.if_id,
            ));
        };
        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
        let ts = ng_ts(raw, iface);
        plausible(ts, self.path, self.packets, offset, || {
            (
                format!("{raw} units of 1/{} s, offset {} s", iface.units, iface.offset),
                "the interface's timestamp resolution or offset (if_tsresol, if_tsoffset) or the capture's clock",
            )
        })?;
        self.last_ts = ts;
        packet(
            iface.linktype,
            ts,
            epb.data,
            epb.caplen,
            epb.origlen,
            tracker,
            out,
        );
        Ok(())
    }

    #[inline]
    fn simple_packet(
        &mut self,
        spb: &SimplePacketBlock<'_>,
        tracker: &mut tcp::Tracker,
        out: &mut Out<'_>,
    ) {
        self.packets += 1;
        // No timestamp: the last one seen stands in.
        let iface = self.interfaces.first().copied().unwrap_or(self.legacy);
        let caplen = spb.data.len() as u32;
        packet(
            iface.linktype,
            self.last_ts,
            spb.data,
            caplen,
            spb.origlen,
            tracker,
            out,
        );
    }
}

#[cold]
fn no_such_interface(path: &Path, packets: u64, offset: usize, if_id: u32) -> IngestError {
    IngestError::malformed(
        path,
        format!("packet {packets}, byte offset {offset}"),
        format!(
            "packet names interface {if_id} but no such interface was described; the capture is corrupt: export it again"
        ),
    )
}

fn read_error(path: &Path, offset: usize, msg: String) -> IngestError {
    IngestError::malformed(
        path,
        format!("byte offset {offset}"),
        format!("read failed: {msg}"),
    )
}

fn truncated(path: &Path, offset: usize, packets: u64, out: &mut Out<'_>) {
    out.stats.warn(format!(
        "{}: the last block (at byte offset {offset}, after packet {packets}) is truncated; kept what was read",
        path.display()
    ));
}

/// A packet dated outside the years a capture can carry (the model could
/// not be loaded back) is an input error naming the packet; `describe`
/// gives its timestamp fields and what set them, only then.
fn plausible(
    ts: i64,
    path: &Path,
    packet: u64,
    offset: usize,
    describe: impl FnOnce() -> (String, &'static str),
) -> Result<(), IngestError> {
    if super::PLAUSIBLE_NS.contains(&ts) {
        return Ok(());
    }
    let (timestamp, culprit) = describe();
    Err(IngestError::malformed(
        path,
        format!("packet {packet}, byte offset {offset}"),
        format!(
            "its timestamp ({timestamp}) lies outside the years 1970-2106: {culprit} is wrong; fix the capture (e.g. editcap) or capture again"
        ),
    ))
}

/// A fraction of a second in `units` per second, as nanoseconds.
fn frac_ns(frac: u64, units: u64) -> i64 {
    if units == 1_000_000_000 {
        return frac as i64;
    }
    let ns = u128::from(frac) * 1_000_000_000 / u128::from(units.max(1));
    i64::try_from(ns).unwrap_or(i64::MAX)
}

fn ng_ts(raw: u64, iface: Interface) -> i64 {
    let units = iface.units.max(1);
    let secs = i64::try_from(raw / units).unwrap_or(i64::MAX);
    secs.saturating_add(iface.offset)
        .saturating_mul(1_000_000_000)
        .saturating_add(frac_ns(raw % units, units))
}

fn packet(
    linktype: u16,
    ts: i64,
    data: &[u8],
    caplen: u32,
    origlen: u32,
    tracker: &mut tcp::Tracker,
    out: &mut Out<'_>,
) {
    let missing = origlen.saturating_sub(caplen);
    if missing > 0 {
        out.stats.skip("snaplen-truncated packets");
    }
    match link::decode(linktype, data, missing) {
        link::Decoded::Tcp(seg) => tracker.segment(ts, &seg, out),
        link::Decoded::Udp => out.stats.skip("udp"),
        link::Decoded::Fragment => out.stats.skip("ip fragments"),
        link::Decoded::OtherIp => out.stats.skip("other ip"),
        link::Decoded::NonIp => out.stats.skip("non-ip"),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;
