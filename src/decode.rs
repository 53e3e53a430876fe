//! Link, IP and TCP headers: a zero-copy view of one captured frame.
//!
//! `decode` checks every length once and returns a `Segment` whose payload
//! borrows the capture buffer, or the reason the frame is skipped.

/// libpcap DLT values the sensor understands.
pub mod dlt {
    pub const NULL: i32 = 0;
    pub const EN10MB: i32 = 1;
    pub const RAW: i32 = 12;
    pub const RAW_OPENBSD: i32 = 14;
    pub const LOOP: i32 = 108;
    pub const LINKTYPE_RAW: i32 = 101;
    pub const C_HDLC: i32 = 104;
    pub const LINUX_SLL: i32 = 113;
    pub const IEEE802_11_RADIO: i32 = 127;
    pub const ARCNET_LINUX: i32 = 129;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const NFLOG: i32 = 239;
    pub const LINUX_SLL2: i32 = 276;

    pub fn supported(linktype: i32) -> bool {
        matches!(
            linktype,
            NULL | EN10MB
                | RAW
                | RAW_OPENBSD
                | LOOP
                | LINKTYPE_RAW
                | C_HDLC
                | LINUX_SLL
                | IEEE802_11_RADIO
                | ARCNET_LINUX
                | IPV4
                | IPV6
                | NFLOG
                | LINUX_SLL2
        )
    }
}

const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86dd;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88a8;
const ETH_QINQ_OLD: u16 = 0x9100;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

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

/// One TCP segment, borrowed from the frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: Addr,
    pub dst: Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
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

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline]
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Decode one captured frame of the given link type.
pub fn decode(linktype: i32, frame: &[u8]) -> Result<Segment<'_>, Skip> {
    let (ethertype, rest) = link(linktype, frame)?;
    network(ethertype, rest, 0)
}

/// Tunnels inside tunnels are followed this deep.
const MAX_DEPTH: u8 = 3;

fn network(ethertype: u16, p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    match ethertype {
        ETH_IPV4 => ipv4(p, depth),
        ETH_IPV6 => ipv6(p, depth),
        _ => Err(Skip::NotTcp),
    }
}

/// What an IP header carries: TCP, or a tunnel to look inside.
fn transport<'a>(
    proto: u8,
    src: Addr,
    dst: Addr,
    seg: &'a [u8],
    claimed: usize,
    depth: u8,
) -> Result<Segment<'a>, Skip> {
    if proto == 6 {
        return tcp(src, dst, seg, claimed);
    }
    if depth >= MAX_DEPTH {
        return Err(Skip::NotTcp);
    }
    let inner = &seg[..seg.len().min(claimed)];
    match proto {
        4 => ipv4(inner, depth + 1),
        41 => ipv6(inner, depth + 1),
        47 => gre(inner, depth + 1),
        17 => udp(inner, depth + 1),
        _ => Err(Skip::NotTcp),
    }
}

/// An Ethernet frame inside a tunnel.
fn inner_ethernet(f: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    let (et, rest) = link(dlt::EN10MB, f)?;
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

/// GRE (RFC 2784/2890), including ERSPAN types I–III and transparent Ethernet.
fn gre(b: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if b.len() < 4 || b[1] & 0x07 != 0 {
        return Err(Skip::NotTcp); // too short, or version 1 (PPTP carries PPP)
    }
    let flags = b[0];
    let hlen = 4
        + if flags & 0x80 != 0 { 4 } else { 0 }
        + if flags & 0x20 != 0 { 4 } else { 0 }
        + if flags & 0x10 != 0 { 4 } else { 0 };
    let rest = b.get(hlen..).ok_or(Skip::Malformed)?;
    match be16(b, 2) {
        ETH_IPV4 => ipv4(rest, depth),
        ETH_IPV6 => ipv6(rest, depth),
        0x6558 => inner_ethernet(rest, depth),
        // ERSPAN type II has an 8-byte header (and a GRE sequence number);
        // type I has neither.
        0x88be if flags & 0x10 != 0 => inner_ethernet(rest.get(8..).ok_or(Skip::Malformed)?, depth),
        0x88be => inner_ethernet(rest, depth),
        0x22eb => {
            // ERSPAN type III: 12 bytes, plus 8 when the O flag says so.
            let h = rest.get(..12).ok_or(Skip::Malformed)?;
            let skip = if h[11] & 0x01 != 0 { 20 } else { 12 };
            inner_ethernet(rest.get(skip..).ok_or(Skip::Malformed)?, depth)
        }
        _ => Err(Skip::NotTcp),
    }
}

/// UDP tunnels on their registered ports: VXLAN, GTP-U, GRE-in-UDP, AYIYA, Teredo.
fn udp(b: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if b.len() < 8 {
        return Err(Skip::Malformed);
    }
    let (sp, dp) = (be16(b, 0), be16(b, 2));
    let p = &b[8..];
    let on = |port: u16| sp == port || dp == port;
    if on(4789) {
        // VXLAN: 8-byte header with the I flag, then Ethernet.
        if p.len() < 8 || p[0] & 0x08 == 0 {
            return Err(Skip::NotTcp);
        }
        inner_ethernet(&p[8..], depth)
    } else if on(2152) {
        gtp_u(p, depth)
    } else if on(4754) {
        gre(p, depth)
    } else if on(5072) {
        // AYIYA: identity of 2^idlen bytes and a signature of siglen words.
        if p.len() < 8 {
            return Err(Skip::Malformed);
        }
        let hlen = 8 + (1usize << (p[0] >> 4)) + (p[1] >> 4) as usize * 4;
        let rest = p.get(hlen..).ok_or(Skip::Malformed)?;
        match p[3] {
            4 => ipv4(rest, depth),
            41 => ipv6(rest, depth),
            _ => Err(Skip::NotTcp),
        }
    } else if on(3544) {
        // Teredo: IPv6, maybe after an origin indication (8 bytes).
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

/// GTP-U (3GPP TS 29.281) G-PDU: a user IP packet after the header.
fn gtp_u(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if p.len() < 8 || p[0] >> 5 != 1 || p[1] != 0xff {
        return Err(Skip::NotTcp);
    }
    let mut at = 8;
    if p[0] & 0x07 != 0 {
        // Sequence number, N-PDU number and next extension type.
        let mut next = *p.get(11).ok_or(Skip::Malformed)?;
        at = 12;
        while p[0] & 0x04 != 0 && next != 0 {
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

/// Strip the link header: returns the ethertype of what follows and the rest.
fn link(linktype: i32, f: &[u8]) -> Result<(u16, &[u8]), Skip> {
    match linktype {
        dlt::EN10MB => {
            if f.len() < 14 {
                return Err(Skip::Malformed);
            }
            ethertype_walk(be16(f, 12), &f[14..])
        }
        dlt::LINUX_SLL => {
            if f.len() < 16 {
                return Err(Skip::Malformed);
            }
            ethertype_walk(be16(f, 14), &f[16..])
        }
        dlt::LINUX_SLL2 => {
            if f.len() < 20 {
                return Err(Skip::Malformed);
            }
            ethertype_walk(be16(f, 0), &f[20..])
        }
        dlt::NULL | dlt::LOOP => {
            if f.len() < 4 {
                return Err(Skip::Malformed);
            }
            let raw = [f[0], f[1], f[2], f[3]];
            let family = if linktype == dlt::LOOP {
                u32::from_be_bytes(raw)
            } else {
                // Host byte order of the machine that wrote it: try both.
                let le = u32::from_le_bytes(raw);
                if le < 256 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                2 => Ok((ETH_IPV4, &f[4..])),
                // AF_INET6 differs by OS: Linux 10, BSDs 24, FreeBSD 28, macOS 30.
                10 | 24 | 28 | 30 => Ok((ETH_IPV6, &f[4..])),
                _ => Err(Skip::NotTcp),
            }
        }
        dlt::RAW | dlt::RAW_OPENBSD | dlt::LINKTYPE_RAW => match f.first().map(|b| b >> 4) {
            Some(4) => Ok((ETH_IPV4, f)),
            Some(6) => Ok((ETH_IPV6, f)),
            _ => Err(Skip::Malformed),
        },
        dlt::IPV4 => Ok((ETH_IPV4, f)),
        dlt::IPV6 => Ok((ETH_IPV6, f)),
        dlt::C_HDLC => {
            if f.len() < 4 {
                return Err(Skip::Malformed);
            }
            ethertype_walk(be16(f, 2), &f[4..])
        }
        dlt::ARCNET_LINUX => {
            // src, dst, offset[2], type, then (new-style framing) flag + seq[2].
            if f.len() < 5 {
                return Err(Skip::Malformed);
            }
            let (hdr, et) = match f[4] {
                240 => (5, ETH_IPV4),  // RFC 1051 IP
                212 => (8, ETH_IPV4),  // RFC 1201 IP
                0xc4 => (8, ETH_IPV6), // IPv6
                _ => return Err(Skip::NotTcp),
            };
            if f.len() < hdr {
                return Err(Skip::Malformed);
            }
            Ok((et, &f[hdr..]))
        }
        dlt::NFLOG => nflog(f),
        dlt::IEEE802_11_RADIO => radiotap(f),
        _ => Err(Skip::UnknownLink),
    }
}

/// Follow 802.1Q / QinQ tags to the inner ethertype.
fn ethertype_walk(mut et: u16, mut rest: &[u8]) -> Result<(u16, &[u8]), Skip> {
    for _ in 0..4 {
        match et {
            ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD => {
                if rest.len() < 4 {
                    return Err(Skip::Malformed);
                }
                et = be16(rest, 2);
                rest = &rest[4..];
            }
            _ => return Ok((et, rest)),
        }
    }
    Err(Skip::Malformed)
}

/// Linux NFLOG: 4-byte header, then TLVs (host byte order lengths); the packet is TLV type 9.
fn nflog(f: &[u8]) -> Result<(u16, &[u8]), Skip> {
    if f.len() < 4 {
        return Err(Skip::Malformed);
    }
    let et = match f[0] {
        2 => ETH_IPV4,
        10 => ETH_IPV6,
        _ => return Err(Skip::NotTcp),
    };
    let mut at = 4;
    while at + 4 <= f.len() {
        let len = u16::from_le_bytes([f[at], f[at + 1]]) as usize;
        let typ = u16::from_le_bytes([f[at + 2], f[at + 3]]);
        if len < 4 || at + len > f.len() {
            return Err(Skip::Malformed);
        }
        if typ == 9 {
            return Ok((et, &f[at + 4..at + len]));
        }
        at += (len + 3) & !3;
    }
    Err(Skip::NotTcp)
}

/// Radiotap + 802.11 data frame + LLC/SNAP.
fn radiotap(f: &[u8]) -> Result<(u16, &[u8]), Skip> {
    if f.len() < 8 {
        return Err(Skip::Malformed);
    }
    let rt_len = u16::from_le_bytes([f[2], f[3]]) as usize;
    if f.len() < rt_len + 24 {
        return Err(Skip::Malformed);
    }
    let w = &f[rt_len..];
    let fc0 = w[0];
    let fc1 = w[1];
    if (fc0 >> 2) & 0x3 != 2 {
        return Err(Skip::NotTcp); // management or control frame
    }
    if fc1 & 0x40 != 0 {
        return Err(Skip::NotTcp); // protected (encrypted) payload
    }
    let mut hdr = 24;
    if fc1 & 0x03 == 0x03 {
        hdr += 6; // four-address frame
    }
    let qos = fc0 & 0x80 != 0;
    if qos {
        hdr += 2;
        if fc1 & 0x80 != 0 {
            hdr += 4; // HT control
        }
    }
    if fc0 & 0x40 != 0 {
        return Err(Skip::NotTcp); // null-data subtype: no payload
    }
    let l = w.get(hdr..).ok_or(Skip::Malformed)?;
    if l.len() < 8 || l[0] != 0xaa || l[1] != 0xaa || l[2] != 0x03 {
        return Err(Skip::NotTcp);
    }
    Ok((be16(l, 6), &l[8..]))
}

fn ipv4(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return Err(Skip::Malformed);
    }
    let ihl = (p[0] & 0x0f) as usize * 4;
    if ihl < 20 || p.len() < ihl {
        return Err(Skip::Malformed);
    }
    let total = be16(p, 2) as usize;
    let frag = be16(p, 6);
    if frag & 0x3fff != 0 {
        return Err(Skip::Fragment); // MF set or non-zero offset
    }
    // total == 0 happens with TSO-sized packets captured before segmentation.
    let total = if total == 0 { p.len() } else { total };
    if total < ihl {
        return Err(Skip::Malformed);
    }
    let src = Addr::v4([p[12], p[13], p[14], p[15]]);
    let dst = Addr::v4([p[16], p[17], p[18], p[19]]);
    transport(p[9], src, dst, &p[ihl..], total - ihl, depth)
}

fn ipv6(p: &[u8], depth: u8) -> Result<Segment<'_>, Skip> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return Err(Skip::Malformed);
    }
    let plen = be16(p, 4) as usize;
    let mut next = p[6];
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src.copy_from_slice(&p[8..24]);
    dst.copy_from_slice(&p[24..40]);
    let mut at = 40;
    // plen == 0: jumbogram or TSO; take what was captured.
    let end_claimed = if plen == 0 { p.len() } else { 40 + plen };
    for _ in 0..8 {
        match next {
            6 | 4 | 41 | 47 | 17 => {
                if end_claimed < at {
                    return Err(Skip::Malformed);
                }
                return transport(
                    next,
                    Addr(src),
                    Addr(dst),
                    &p[at.min(p.len())..],
                    end_claimed - at,
                    depth,
                );
            }
            0 | 43 | 60 | 135 | 139 | 140 => {
                // hop-by-hop, routing, destination options, mobility, HIP, shim6
                if p.len() < at + 8 {
                    return Err(Skip::Malformed);
                }
                next = p[at];
                at += (p[at + 1] as usize + 1) * 8;
            }
            51 => {
                // authentication header: length in 4-byte units, minus 2
                if p.len() < at + 8 {
                    return Err(Skip::Malformed);
                }
                next = p[at];
                at += (p[at + 1] as usize + 2) * 4;
            }
            44 => return Err(Skip::Fragment),
            _ => return Err(Skip::NotTcp),
        }
    }
    Err(Skip::Malformed)
}

/// `seg` is what was captured from the TCP header on; `claimed` is its length per IP.
fn tcp(src: Addr, dst: Addr, seg: &[u8], claimed: usize) -> Result<Segment<'_>, Skip> {
    if seg.len() < 20 {
        return Err(Skip::Malformed);
    }
    let off = (seg[12] >> 4) as usize * 4;
    if off < 20 || seg.len() < off || claimed < off {
        return Err(Skip::Malformed);
    }
    let have_end = seg.len().min(claimed);
    let payload = &seg[off..have_end];
    let md5 = has_option(&seg[20..off], 19);
    Ok(Segment {
        src,
        dst,
        sport: be16(seg, 0),
        dport: be16(seg, 2),
        seq: be32(seg, 4),
        ack: be32(seg, 8),
        flags: seg[13],
        payload,
        missing: (claimed - have_end) as u32,
        md5,
    })
}

/// Is TCP option `kind` present in `opts`?
fn has_option(opts: &[u8], kind: u8) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return false,
            1 => i += 1,
            k => {
                if k == kind {
                    return true;
                }
                let len = *opts.get(i + 1).unwrap_or(&0) as usize;
                if len < 2 {
                    return false;
                }
                i += len;
            }
        }
    }
    false
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
        t[13] = ACK;
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
}
