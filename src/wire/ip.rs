//! IPv4 and IPv6 headers: zero-copy views checked once, the protocol numbers
//! by name, the IPv6 extension-header walk, and `Addr`.

use super::{Segment, Skip, transport};

/// An IP address stored as 16 bytes; IPv4 uses the v4-mapped form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Addr(pub [u8; 16]);

impl Addr {
    pub fn v4(b: [u8; 4]) -> Addr {
        let mut a = [0u8; 16];
        a[10] = 0xff;
        a[11] = 0xff;
        a[12..].copy_from_slice(&b);
        Addr(a)
    }
    pub fn is_v4(&self) -> bool {
        self.0[..10].iter().all(|&b| b == 0) && self.0[10] == 0xff && self.0[11] == 0xff
    }
    pub fn to_std(self) -> std::net::IpAddr {
        if self.is_v4() {
            std::net::IpAddr::V4(std::net::Ipv4Addr::new(
                self.0[12], self.0[13], self.0[14], self.0[15],
            ))
        } else {
            std::net::IpAddr::V6(std::net::Ipv6Addr::from(self.0))
        }
    }
}

/// An IP protocol number (IPv4's protocol field, IPv6's next header).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IpProtocol(pub u8);

impl IpProtocol {
    /// IPv6 hop-by-hop options.
    pub const HOP_BY_HOP: IpProtocol = IpProtocol(0);
    /// IPv4 in IP.
    pub const IPV4: IpProtocol = IpProtocol(4);
    pub const TCP: IpProtocol = IpProtocol(6);
    pub const UDP: IpProtocol = IpProtocol(17);
    /// IPv6 in IP.
    pub const IPV6: IpProtocol = IpProtocol(41);
    pub const IPV6_ROUTING: IpProtocol = IpProtocol(43);
    pub const IPV6_FRAGMENT: IpProtocol = IpProtocol(44);
    pub const GRE: IpProtocol = IpProtocol(47);
    /// Authentication header.
    pub const AH: IpProtocol = IpProtocol(51);
    pub const IPV6_DEST_OPTS: IpProtocol = IpProtocol(60);
    pub const MOBILITY: IpProtocol = IpProtocol(135);
    pub const HIP: IpProtocol = IpProtocol(139);
    pub const SHIM6: IpProtocol = IpProtocol(140);
}

/// An IPv4 header and what was captured after it, checked once: version 4,
/// a header length of at least 20 bytes that lies inside the capture.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    header: &'a [u8; Ipv4Packet::MIN_HEADER_LEN],
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> Ipv4Packet<'a> {
    pub const MIN_HEADER_LEN: usize = 20;
    /// Flags and fragment offset: More Fragments and the 13-bit offset.
    const MF_AND_OFFSET: u16 = 0x3fff;

    pub fn new_checked(buf: &'a [u8]) -> Result<Ipv4Packet<'a>, Skip> {
        let header: &[u8; 20] = buf.first_chunk().ok_or(Skip::Malformed)?;
        if header[0] >> 4 != 4 {
            return Err(Skip::Malformed);
        }
        let header_len = (header[0] & 0x0f) as usize * 4;
        if header_len < Self::MIN_HEADER_LEN || buf.len() < header_len {
            return Err(Skip::Malformed);
        }
        Ok(Ipv4Packet {
            header,
            buf,
            header_len,
        })
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The total length field (0 in packets captured before TCP segmentation offload).
    #[inline]
    pub fn total_len(&self) -> usize {
        u16::from_be_bytes([self.header[2], self.header[3]]) as usize
    }
    /// A fragment: More Fragments set, or a non-zero offset.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        u16::from_be_bytes([self.header[6], self.header[7]]) & Self::MF_AND_OFFSET != 0
    }
    #[inline]
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol(self.header[9])
    }
    #[inline]
    pub fn src_addr(&self) -> Addr {
        let h = self.header;
        Addr::v4([h[12], h[13], h[14], h[15]])
    }
    #[inline]
    pub fn dst_addr(&self) -> Addr {
        let h = self.header;
        Addr::v4([h[16], h[17], h[18], h[19]])
    }
    /// The captured bytes after the header.
    #[inline]
    pub fn captured_payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }
}

/// An IPv6 fixed header and what was captured after it, checked once:
/// version 6 and the whole 40-byte header present.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<'a> {
    header: &'a [u8; Ipv6Packet::HEADER_LEN],
    buf: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    pub const HEADER_LEN: usize = 40;

    pub fn new_checked(buf: &'a [u8]) -> Result<Ipv6Packet<'a>, Skip> {
        let header: &[u8; 40] = buf.first_chunk().ok_or(Skip::Malformed)?;
        if header[0] >> 4 != 6 {
            return Err(Skip::Malformed);
        }
        Ok(Ipv6Packet { header, buf })
    }

    /// The payload length field (0 for jumbograms and TSO captures).
    #[inline]
    pub fn payload_len(&self) -> usize {
        u16::from_be_bytes([self.header[4], self.header[5]]) as usize
    }
    #[inline]
    pub fn next_header(&self) -> IpProtocol {
        IpProtocol(self.header[6])
    }
    #[inline]
    pub fn src_addr(&self) -> Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.header[8..24]);
        Addr(a)
    }
    #[inline]
    pub fn dst_addr(&self) -> Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.header[24..40]);
        Addr(a)
    }
    /// The captured packet, fixed header included (extension headers are
    /// found by offset from its start).
    #[inline]
    pub fn buffer(&self) -> &'a [u8] {
        self.buf
    }
}

/// An IPv4 packet: TCP, or a tunnel to look inside.
pub(super) fn ipv4(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let ip = Ipv4Packet::new_checked(p)?;
    if ip.is_fragment() {
        return Err(Skip::Fragment);
    }
    // total == 0 happens with TSO-sized packets captured before segmentation.
    let total = match ip.total_len() {
        0 => p.len(),
        n => n,
    };
    if total < ip.header_len() {
        return Err(Skip::Malformed);
    }
    transport(
        ip.protocol(),
        ip.src_addr(),
        ip.dst_addr(),
        ip.captured_payload(),
        total - ip.header_len(),
        depth,
    )
}

/// Extension headers followed this far before giving up.
const MAX_EXTENSIONS: usize = 8;

/// An IPv6 packet: past its extension headers to TCP, or a tunnel.
pub(super) fn ipv6(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let ip = Ipv6Packet::new_checked(p)?;
    let p = ip.buffer();
    let mut next = ip.next_header();
    let mut at = Ipv6Packet::HEADER_LEN;
    // Payload length 0: jumbogram or TSO; take what was captured.
    let end_claimed = match ip.payload_len() {
        0 => p.len(),
        n => Ipv6Packet::HEADER_LEN + n,
    };
    for _ in 0..MAX_EXTENSIONS {
        match next {
            IpProtocol::TCP
            | IpProtocol::IPV4
            | IpProtocol::IPV6
            | IpProtocol::GRE
            | IpProtocol::UDP => {
                if end_claimed < at {
                    return Err(Skip::Malformed);
                }
                return transport(
                    next,
                    ip.src_addr(),
                    ip.dst_addr(),
                    &p[at.min(p.len())..],
                    end_claimed - at,
                    depth,
                );
            }
            IpProtocol::HOP_BY_HOP
            | IpProtocol::IPV6_ROUTING
            | IpProtocol::IPV6_DEST_OPTS
            | IpProtocol::MOBILITY
            | IpProtocol::HIP
            | IpProtocol::SHIM6 => {
                // Next header, then the length in 8-byte units, not counting the first 8.
                let h = p.get(at..at + 8).ok_or(Skip::Malformed)?;
                next = IpProtocol(h[0]);
                at += (h[1] as usize + 1) * 8;
            }
            IpProtocol::AH => {
                // Next header, then the length in 4-byte units, minus 2.
                let h = p.get(at..at + 8).ok_or(Skip::Malformed)?;
                next = IpProtocol(h[0]);
                at += (h[1] as usize + 2) * 4;
            }
            IpProtocol::IPV6_FRAGMENT => return Err(Skip::Fragment),
            _ => return Err(Skip::NotTcp),
        }
    }
    Err(Skip::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_header() -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&20u16.to_be_bytes());
        h[9] = 6;
        h[12..16].copy_from_slice(&[192, 0, 2, 1]);
        h[16..20].copy_from_slice(&[192, 0, 2, 2]);
        h
    }

    #[test]
    fn ipv4_view_fields() {
        let h = v4_header();
        let ip = Ipv4Packet::new_checked(&h).unwrap();
        assert_eq!(ip.header_len(), 20);
        assert_eq!(ip.total_len(), 20);
        assert_eq!(ip.protocol(), IpProtocol::TCP);
        assert!(!ip.is_fragment());
        assert_eq!(ip.src_addr().to_std().to_string(), "192.0.2.1");
        assert_eq!(ip.dst_addr().to_std().to_string(), "192.0.2.2");
        assert!(ip.captured_payload().is_empty());
    }

    #[test]
    fn ipv4_view_checks_version_and_header_length() {
        let mut h = v4_header();
        assert!(Ipv4Packet::new_checked(&h[..19]).is_err());
        h[0] = 0x65;
        assert!(Ipv4Packet::new_checked(&h).is_err()); // version 6
        h[0] = 0x44;
        assert!(Ipv4Packet::new_checked(&h).is_err()); // 16-byte header
        h[0] = 0x46;
        assert!(Ipv4Packet::new_checked(&h).is_err()); // options not captured
        h[6] = 0x20;
        h[0] = 0x45;
        assert!(Ipv4Packet::new_checked(&h).unwrap().is_fragment()); // MF
        h[6] = 0x40;
        assert!(!Ipv4Packet::new_checked(&h).unwrap().is_fragment()); // DF only
    }

    #[test]
    fn ipv6_view_fields() {
        let mut h = [0u8; 40];
        h[0] = 0x60;
        h[4..6].copy_from_slice(&8u16.to_be_bytes());
        h[6] = 17;
        h[23] = 1;
        h[39] = 2;
        let ip = Ipv6Packet::new_checked(&h).unwrap();
        assert_eq!(ip.payload_len(), 8);
        assert_eq!(ip.next_header(), IpProtocol::UDP);
        assert_eq!(ip.src_addr().to_std().to_string(), "::1");
        assert_eq!(ip.dst_addr().to_std().to_string(), "::2");
        assert!(Ipv6Packet::new_checked(&h[..39]).is_err());
        h[0] = 0x40;
        assert!(Ipv6Packet::new_checked(&h).is_err());
    }

    #[test]
    fn v4_mapped_addresses() {
        let a = Addr::v4([10, 0, 0, 1]);
        assert!(a.is_v4());
        assert!(!Addr([0; 16]).is_v4());
    }
}
