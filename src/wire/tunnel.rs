//! Tunnels the decoder looks inside: GRE (with ERSPAN and transparent
//! Ethernet) and the UDP encapsulations on their registered ports (VXLAN,
//! GTP-U, GRE-in-UDP, AYIYA, Teredo).

use super::ip::{IpProtocol, ipv4, ipv6};
use super::link::EtherType;
use super::{Segment, Skip, inner_ethernet, inner_ip, network};

/// A GRE header (RFC 2784/2890), checked once: version 0, and the optional
/// checksum, key and sequence fields inside the capture.
#[derive(Clone, Copy, Debug)]
pub struct GreHeader<'a> {
    flags: u8,
    protocol: EtherType,
    payload: &'a [u8],
}

impl<'a> GreHeader<'a> {
    const CHECKSUM: u8 = 0x80;
    const KEY: u8 = 0x20;
    const SEQUENCE: u8 = 0x10;
    const VERSION: u8 = 0x07;

    /// Version 1 (PPTP's enhanced GRE) carries PPP, not IP: NotTcp.
    pub fn new_checked(b: &'a [u8]) -> Result<GreHeader<'a>, Skip> {
        let Some(h) = b.first_chunk::<4>() else {
            return Err(Skip::NotTcp);
        };
        if h[1] & Self::VERSION != 0 {
            return Err(Skip::NotTcp);
        }
        let flags = h[0];
        let field = |bit: u8| if flags & bit != 0 { 4 } else { 0 };
        let len = 4 + field(Self::CHECKSUM) + field(Self::KEY) + field(Self::SEQUENCE);
        Ok(GreHeader {
            flags,
            protocol: EtherType(u16::from_be_bytes([h[2], h[3]])),
            payload: b.get(len..).ok_or(Skip::Malformed)?,
        })
    }
    pub fn protocol(&self) -> EtherType {
        self.protocol
    }
    pub fn has_sequence(&self) -> bool {
        self.flags & Self::SEQUENCE != 0
    }
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// GRE, including ERSPAN types I–III and transparent Ethernet.
pub(super) fn gre(b: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let g = GreHeader::new_checked(b)?;
    let rest = g.payload();
    match g.protocol() {
        EtherType::TEB => inner_ethernet(rest, depth),
        // ERSPAN type II has an 8-byte header (and a GRE sequence number);
        // type I has neither.
        EtherType::ERSPAN_II if g.has_sequence() => {
            inner_ethernet(rest.get(8..).ok_or(Skip::Malformed)?, depth)
        }
        EtherType::ERSPAN_II => inner_ethernet(rest, depth),
        EtherType::ERSPAN_III => {
            // 12 bytes, plus an 8-byte platform-specific subheader when the O flag says so.
            let h = rest.get(..12).ok_or(Skip::Malformed)?;
            let skip = if h[11] & 0x01 != 0 { 20 } else { 12 };
            inner_ethernet(rest.get(skip..).ok_or(Skip::Malformed)?, depth)
        }
        et => network(et, rest, depth),
    }
}

/// UDP ports of the tunnels the decoder follows.
mod port {
    pub const VXLAN: u16 = 4789;
    pub const GTP_U: u16 = 2152;
    pub const GRE_IN_UDP: u16 = 4754;
    pub const AYIYA: u16 = 5072;
    pub const TEREDO: u16 = 3544;
}

/// A UDP header, checked once: all 8 bytes captured.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    header: &'a [u8; 8],
    payload: &'a [u8],
}

impl<'a> UdpDatagram<'a> {
    pub fn new_checked(b: &'a [u8]) -> Result<UdpDatagram<'a>, Skip> {
        let (header, payload) = b.split_first_chunk().ok_or(Skip::Malformed)?;
        Ok(UdpDatagram { header, payload })
    }
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.header[0], self.header[1]])
    }
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// VXLAN's I flag: the VNI is valid.
const VXLAN_I: u8 = 0x08;

/// UDP tunnels on their registered ports (either end), in this order.
pub(super) fn udp(b: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let u = UdpDatagram::new_checked(b)?;
    let p = u.payload();
    let on = |port: u16| u.src_port() == port || u.dst_port() == port;
    if on(port::VXLAN) {
        // 8-byte header with the I flag, then Ethernet.
        if p.len() < 8 || p[0] & VXLAN_I == 0 {
            return Err(Skip::NotTcp);
        }
        inner_ethernet(&p[8..], depth)
    } else if on(port::GTP_U) {
        gtp_u(p, depth)
    } else if on(port::GRE_IN_UDP) {
        gre(p, depth)
    } else if on(port::AYIYA) {
        ayiya(p, depth)
    } else if on(port::TEREDO) {
        // IPv6, maybe after an origin indication (8 bytes, starting 0x0000).
        let rest = if p.starts_with(&[0, 0]) {
            p.get(8..).unwrap_or(&[])
        } else {
            p
        };
        match rest.first() {
            Some(v) if v >> 4 == 6 => ipv6(rest, depth),
            _ => Err(Skip::NotTcp),
        }
    } else {
        Err(Skip::NotTcp)
    }
}

/// AYIYA: identity of 2^idlen bytes and a signature of siglen words after
/// an 8-byte header; the next header is an IP protocol number.
fn ayiya(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if p.len() < 8 {
        return Err(Skip::Malformed);
    }
    let hlen = 8 + (1usize << (p[0] >> 4)) + (p[1] >> 4) as usize * 4;
    let rest = p.get(hlen..).ok_or(Skip::Malformed)?;
    match IpProtocol(p[3]) {
        IpProtocol::IPV4 => ipv4(rest, depth),
        IpProtocol::IPV6 => ipv6(rest, depth),
        _ => Err(Skip::NotTcp),
    }
}

/// GTP-U flags (first byte): version in the top 3 bits, then E, S, PN.
const GTP_VERSION_1: u8 = 1;
const GTP_EXTENSION: u8 = 0x04;
const GTP_ANY_OPTIONAL: u8 = 0x07;
/// GTP-U message type of user data (G-PDU).
const GTP_G_PDU: u8 = 0xff;

/// GTP-U (3GPP TS 29.281) G-PDU: a user IP packet after the header.
fn gtp_u(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if p.len() < 8 || p[0] >> 5 != GTP_VERSION_1 || p[1] != GTP_G_PDU {
        return Err(Skip::NotTcp);
    }
    let mut at = 8;
    if p[0] & GTP_ANY_OPTIONAL != 0 {
        // Sequence number, N-PDU number and next extension type.
        let mut next = *p.get(11).ok_or(Skip::Malformed)?;
        at = 12;
        while p[0] & GTP_EXTENSION != 0 && next != 0 {
            let len = *p.get(at).ok_or(Skip::Malformed)? as usize * 4;
            if len == 0 {
                return Err(Skip::Malformed);
            }
            next = *p.get(at + len - 1).ok_or(Skip::Malformed)?;
            at += len;
        }
    }
    inner_ip(p.get(at..).ok_or(Skip::Malformed)?, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gre_optional_fields_set_the_header_length() {
        let b = [
            0xb0, 0, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x45,
        ];
        let g = GreHeader::new_checked(&b).unwrap(); // checksum, key, sequence
        assert_eq!(g.protocol(), EtherType::IPV4);
        assert!(g.has_sequence());
        assert_eq!(g.payload(), &[0x45]);
        assert_eq!(
            GreHeader::new_checked(&b[..15]).unwrap_err(),
            Skip::Malformed
        );
        assert_eq!(
            GreHeader::new_checked(&[0, 1, 0x88, 0x0b]).unwrap_err(),
            Skip::NotTcp
        );
        assert_eq!(
            GreHeader::new_checked(&[0, 0, 8]).unwrap_err(),
            Skip::NotTcp
        );
    }

    #[test]
    fn udp_view_and_unknown_ports() {
        let mut b = [0u8; 9];
        b[0..2].copy_from_slice(&53u16.to_be_bytes());
        b[2..4].copy_from_slice(&4242u16.to_be_bytes());
        let u = UdpDatagram::new_checked(&b).unwrap();
        assert_eq!(
            (u.src_port(), u.dst_port(), u.payload().len()),
            (53, 4242, 1)
        );
        assert_eq!(
            UdpDatagram::new_checked(&b[..7]).unwrap_err(),
            Skip::Malformed
        );
        assert_eq!(udp(&b, 1).unwrap_err(), Skip::NotTcp);
    }

    #[test]
    fn gtp_u_extension_headers_are_walked() {
        // Version 1, PT, E flag; G-PDU; then seq/N-PDU/next-ext 0x85, one 4-byte extension.
        let mut p = vec![0x34, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x85, 1, 0, 0, 0];
        assert_eq!(gtp_u(&p, 1).unwrap_err(), Skip::NotTcp); // nothing inside
        p[12] = 0; // an extension of length 0
        assert_eq!(gtp_u(&p, 1).unwrap_err(), Skip::Malformed);
    }
}
