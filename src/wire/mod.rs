//! Link, IP and TCP headers: a zero-copy view of one captured frame.
//!
//! `decode` is the one entry: it checks every length once and returns a
//! `Segment` whose payload borrows the capture buffer, or the reason the
//! frame is skipped. Each layer has its file: `link` (link types down to an
//! ethertype), `ip` (IPv4, IPv6), `tunnel` (GRE, UDP encapsulations), `tcp`
//! (the TCP header, sequence numbers, flags); this file walks from one to
//! the next.

pub mod ip;
pub mod link;
pub mod tcp;
pub mod tunnel;

pub use ip::{Addr, IpProtocol};
pub use link::{EtherType, dlt};
pub use tcp::{SeqNumber, TcpFlags};

use ip::{ipv4, ipv6};
use tcp::TcpSegment;

/// One TCP segment, borrowed from the frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: Addr,
    pub dst: Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: SeqNumber,
    /// The acknowledgement number field (meaningful when `flags` has ACK).
    pub ack: SeqNumber,
    pub flags: TcpFlags,
    pub payload: &'a [u8],
    /// Payload bytes the IP header promised but the capture did not keep (snaplen).
    pub missing: u32,
    /// Carries a TCP MD5 signature option (RFC 2385): hosts without a key drop such segments.
    pub md5: bool,
}

/// Why a frame produced no TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not IP, or IP but not TCP.
    NotTcp,
    /// An IP fragment (reassembly of fragments is not done).
    Fragment,
    /// Headers cut short or inconsistent.
    Malformed,
    /// A link type the decoder does not know.
    UnknownLink,
}

/// Decode one captured frame of the given link type.
pub fn decode(linktype: i32, frame: &[u8]) -> Result<Segment<'_>, Skip> {
    let (ethertype, rest) = link::link(linktype, frame)?;
    network(ethertype, rest, 0)
}

/// Tunnels inside tunnels are followed this deep.
const MAX_DEPTH: u8 = 3;

/// The network layer an ethertype names.
fn network(ethertype: EtherType, p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    match ethertype {
        EtherType::IPV4 => ipv4(p, depth),
        EtherType::IPV6 => ipv6(p, depth),
        _ => Err(Skip::NotTcp),
    }
}

/// What an IP header carries: TCP, or a tunnel to look inside. `seg` is what
/// was captured after the IP header(s); `claimed` is its length per IP.
fn transport<'a>(
    proto: IpProtocol,
    src: Addr,
    dst: Addr,
    seg: &'a [u8],
    claimed: usize,
    depth: u8,
) -> Result<Segment<'a>, Skip> {
    if proto == IpProtocol::TCP {
        return tcp(src, dst, seg, claimed);
    }
    if depth >= MAX_DEPTH {
        return Err(Skip::NotTcp);
    }
    let inner = &seg[..seg.len().min(claimed)];
    match proto {
        IpProtocol::IPV4 => ipv4(inner, depth + 1),
        IpProtocol::IPV6 => ipv6(inner, depth + 1),
        IpProtocol::GRE => tunnel::gre(inner, depth + 1),
        IpProtocol::UDP => tunnel::udp(inner, depth + 1),
        _ => Err(Skip::NotTcp),
    }
}

/// An Ethernet frame inside a tunnel.
fn inner_ethernet(f: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let (et, rest) = link::link(dlt::EN10MB, f)?;
    network(et, rest, depth)
}

/// Raw IP inside a tunnel: the version nibble says which.
fn inner_ip(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    match p.first().map(|b| b >> 4) {
        Some(4) => ipv4(p, depth),
        Some(6) => ipv6(p, depth),
        _ => Err(Skip::NotTcp),
    }
}

/// The TCP segment in `seg`, whose length per IP is `claimed`.
fn tcp(src: Addr, dst: Addr, seg: &[u8], claimed: usize) -> Result<Segment<'_>, Skip> {
    let t = TcpSegment::new_checked(seg)?;
    if claimed < t.header_len() {
        return Err(Skip::Malformed);
    }
    // Link padding past the IP length is not payload; bytes past the capture are missing.
    let have_end = seg.len().min(claimed);
    Ok(Segment {
        src,
        dst,
        sport: t.src_port(),
        dport: t.dst_port(),
        seq: t.seq_number(),
        ack: t.ack_number(),
        flags: t.flags(),
        payload: &seg[t.header_len()..have_end],
        missing: (claimed - have_end) as u32,
        md5: tcp::has_option(t.options(), tcp::option::MD5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let total = 20 + 20 + payload.len();
        let mut p = vec![0u8; total];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        p[6] = 0x40; // DF
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&1234u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&1000u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = TcpFlags::ACK.bits();
        t[20..].copy_from_slice(payload);
        p
    }

    #[test]
    fn ethernet_vlan_qinq() {
        let ip = ipv4_tcp(b"GET / HTTP/1.1\r\n\r\n");
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0xa8, 0, 1, 0x81, 0x00, 0, 2, 0x08, 0x00]);
        f.extend_from_slice(&ip);
        let s = decode(dlt::EN10MB, &f).unwrap();
        assert_eq!(s.sport, 1234);
        assert_eq!(s.dport, 80);
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(s.src.to_std().to_string(), "10.0.0.1");
    }

    #[test]
    fn ethernet_trailer_is_trimmed_by_ip_length() {
        let ip = ipv4_tcp(b"x");
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 5]); // padding / FCS
        assert_eq!(decode(dlt::EN10MB, &f).unwrap().payload, b"x");
    }

    #[test]
    fn fragments_and_udp_are_skipped() {
        let mut ip = ipv4_tcp(b"x");
        ip[6] = 0x20; // MF
        assert_eq!(decode(dlt::RAW, &ip).unwrap_err(), Skip::Fragment);
        let mut ip = ipv4_tcp(b"x");
        ip[9] = 17;
        assert_eq!(decode(dlt::RAW, &ip).unwrap_err(), Skip::NotTcp);
    }

    #[test]
    fn snaplen_cut_is_reported_as_missing() {
        let ip = ipv4_tcp(&[b'a'; 100]);
        let s = decode(dlt::RAW, &ip[..60]).unwrap();
        assert_eq!(s.payload.len(), 20);
        assert_eq!(s.missing, 80);
    }

    #[test]
    fn truncated_headers_are_malformed() {
        let ip = ipv4_tcp(b"");
        for n in 0..ip.len() {
            let r = decode(dlt::RAW, &ip[..n]);
            assert!(r.is_err(), "prefix {n} decoded");
        }
    }

    #[test]
    fn segment_fields_are_typed() {
        let p = ipv4_tcp(b"");
        let s = decode(dlt::RAW, &p).unwrap();
        assert_eq!(s.seq, SeqNumber(1000));
        assert_eq!(s.flags, TcpFlags::ACK);
    }

    #[test]
    fn tunnels_nest_three_deep_only() {
        // IPv4 in IPv4, `n` times, around the TCP packet.
        let wrap = |inner: &[u8]| {
            let mut p = ipv4_tcp(b"");
            p.truncate(20);
            p[9] = 4;
            p[2..4].copy_from_slice(&((20 + inner.len()) as u16).to_be_bytes());
            p.extend_from_slice(inner);
            p
        };
        let mut p = ipv4_tcp(b"in");
        for _ in 0..3 {
            p = wrap(&p);
        }
        assert_eq!(decode(dlt::RAW, &p).unwrap().payload, b"in");
        assert_eq!(decode(dlt::RAW, &wrap(&p)).unwrap_err(), Skip::NotTcp);
    }
}
