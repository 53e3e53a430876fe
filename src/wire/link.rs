//! Link layers: the libpcap link types the sensor reads (DLT values by name)
//! and how each one's header is stripped down to an ethertype and the
//! network-layer bytes.

use super::Skip;

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

/// What a link header says comes next (Ethernet's type field and its kin).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EtherType(pub u16);

impl EtherType {
    pub const IPV4: EtherType = EtherType(0x0800);
    pub const IPV6: EtherType = EtherType(0x86dd);
    /// 802.1Q VLAN tag.
    pub const VLAN: EtherType = EtherType(0x8100);
    /// 802.1ad QinQ service tag.
    pub const QINQ: EtherType = EtherType(0x88a8);
    /// The pre-standard QinQ tag.
    pub const QINQ_OLD: EtherType = EtherType(0x9100);
    /// Transparent Ethernet bridging (Ethernet inside GRE).
    pub const TEB: EtherType = EtherType(0x6558);
    /// ERSPAN types I and II.
    pub const ERSPAN_II: EtherType = EtherType(0x88be);
    /// ERSPAN type III.
    pub const ERSPAN_III: EtherType = EtherType(0x22eb);
}

#[inline]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A fixed-size link header whose protocol field is an ethertype at a fixed
/// offset: Ethernet, Linux cooked captures (SLL, SLL2), Cisco HDLC.
#[derive(Clone, Copy, Debug)]
pub struct LinkFrame<'a> {
    ethertype: EtherType,
    payload: &'a [u8],
}

impl<'a> LinkFrame<'a> {
    /// Ethernet II: destination, source, type.
    pub const ETHERNET: (usize, usize) = (14, 12);
    /// Linux cooked capture v1: packet type, address type and length, address, protocol.
    pub const SLL: (usize, usize) = (16, 14);
    /// Linux cooked capture v2: protocol first.
    pub const SLL2: (usize, usize) = (20, 0);
    /// Cisco HDLC: address, control, protocol.
    pub const C_HDLC: (usize, usize) = (4, 2);

    /// `(header length, offset of the ethertype)` as in the constants above.
    pub fn new_checked(f: &'a [u8], (len, at): (usize, usize)) -> Result<LinkFrame<'a>, Skip> {
        if f.len() < len {
            return Err(Skip::Malformed);
        }
        Ok(LinkFrame {
            ethertype: EtherType(be16(f, at)),
            payload: &f[len..],
        })
    }
    pub fn ethertype(&self) -> EtherType {
        self.ethertype
    }
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Address families of the BSD loopback header (DLT_NULL, DLT_LOOP).
mod af {
    pub const INET: u32 = 2;
    // AF_INET6 differs by OS: Linux 10, BSDs 24, FreeBSD 28, macOS 30.
    pub const INET6_LINUX: u32 = 10;
    pub const INET6_BSD: u32 = 24;
    pub const INET6_FREEBSD: u32 = 28;
    pub const INET6_DARWIN: u32 = 30;
}

/// ARCnet protocol IDs.
mod arcnet {
    /// RFC 1051 IP: 5-byte header.
    pub const IP_RFC1051: u8 = 240;
    /// RFC 1201 IP: 8-byte header (new-style framing).
    pub const IP_RFC1201: u8 = 212;
    pub const IPV6: u8 = 0xc4;
}

/// Strip the link header: returns the ethertype of what follows and the rest.
pub(super) fn link(linktype: i32, f: &[u8]) -> Result<(EtherType, &[u8]), Skip> {
    let fixed = |shape| {
        let l = LinkFrame::new_checked(f, shape)?;
        vlan_walk(l.ethertype(), l.payload())
    };
    match linktype {
        dlt::EN10MB => fixed(LinkFrame::ETHERNET),
        dlt::LINUX_SLL => fixed(LinkFrame::SLL),
        dlt::LINUX_SLL2 => fixed(LinkFrame::SLL2),
        dlt::NULL | dlt::LOOP => {
            let Some(&raw) = f.first_chunk::<4>() else {
                return Err(Skip::Malformed);
            };
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
                af::INET => Ok((EtherType::IPV4, &f[4..])),
                af::INET6_LINUX | af::INET6_BSD | af::INET6_FREEBSD | af::INET6_DARWIN => {
                    Ok((EtherType::IPV6, &f[4..]))
                }
                _ => Err(Skip::NotTcp),
            }
        }
        dlt::RAW | dlt::RAW_OPENBSD | dlt::LINKTYPE_RAW => match f.first().map(|b| b >> 4) {
            Some(4) => Ok((EtherType::IPV4, f)),
            Some(6) => Ok((EtherType::IPV6, f)),
            _ => Err(Skip::Malformed),
        },
        dlt::IPV4 => Ok((EtherType::IPV4, f)),
        dlt::IPV6 => Ok((EtherType::IPV6, f)),
        dlt::C_HDLC => fixed(LinkFrame::C_HDLC),
        dlt::ARCNET_LINUX => {
            // src, dst, offset[2], type, then (new-style framing) flag + seq[2].
            if f.len() < 5 {
                return Err(Skip::Malformed);
            }
            let (hdr, et) = match f[4] {
                arcnet::IP_RFC1051 => (5, EtherType::IPV4),
                arcnet::IP_RFC1201 => (8, EtherType::IPV4),
                arcnet::IPV6 => (8, EtherType::IPV6),
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

/// VLAN tags followed; a fourth is Malformed.
const MAX_TAGS: usize = 3;

/// Follow 802.1Q / QinQ tags to the inner ethertype.
fn vlan_walk(mut et: EtherType, mut rest: &[u8]) -> Result<(EtherType, &[u8]), Skip> {
    for _ in 0..=MAX_TAGS {
        match et {
            EtherType::VLAN | EtherType::QINQ | EtherType::QINQ_OLD => {
                // Priority and VLAN ID, then the next type.
                let Some((tag, inner)) = rest.split_first_chunk::<4>() else {
                    return Err(Skip::Malformed);
                };
                et = EtherType(u16::from_be_bytes([tag[2], tag[3]]));
                rest = inner;
            }
            _ => return Ok((et, rest)),
        }
    }
    Err(Skip::Malformed)
}

/// NFLOG TLV type of the logged packet.
const NFULA_PAYLOAD: u16 = 9;

/// Linux NFLOG: 4-byte header (address family first), then TLVs with
/// lengths in host byte order; the packet is the payload TLV.
fn nflog(f: &[u8]) -> Result<(EtherType, &[u8]), Skip> {
    if f.len() < 4 {
        return Err(Skip::Malformed);
    }
    let et = match f[0] as u32 {
        af::INET => EtherType::IPV4,
        af::INET6_LINUX => EtherType::IPV6,
        _ => return Err(Skip::NotTcp),
    };
    let mut at = 4;
    while at + 4 <= f.len() {
        let len = u16::from_le_bytes([f[at], f[at + 1]]) as usize;
        let typ = u16::from_le_bytes([f[at + 2], f[at + 3]]);
        if len < 4 || at + len > f.len() {
            return Err(Skip::Malformed);
        }
        if typ == NFULA_PAYLOAD {
            return Ok((et, &f[at + 4..at + len]));
        }
        at += (len + 3) & !3;
    }
    Err(Skip::NotTcp)
}

/// 802.11 frame control bits the decoder looks at.
mod fc {
    /// First byte: type (bits 2-3) 2 = data; subtype bit 0x40 = no data, 0x80 = QoS.
    pub const TYPE_SHIFT: u8 = 2;
    pub const TYPE_DATA: u8 = 2;
    pub const SUBTYPE_NULL: u8 = 0x40;
    pub const SUBTYPE_QOS: u8 = 0x80;
    /// Second byte: To DS and From DS both set = four-address frame.
    pub const TO_FROM_DS: u8 = 0x03;
    pub const PROTECTED: u8 = 0x40;
    /// Order bit: on a QoS frame, an HT control field follows.
    pub const ORDER: u8 = 0x80;
}

/// LLC/SNAP header before the ethertype: DSAP, SSAP, control, OUI.
const LLC_SNAP: [u8; 3] = [0xaa, 0xaa, 0x03];

/// Radiotap + 802.11 data frame + LLC/SNAP.
fn radiotap(f: &[u8]) -> Result<(EtherType, &[u8]), Skip> {
    if f.len() < 8 {
        return Err(Skip::Malformed);
    }
    let rt_len = u16::from_le_bytes([f[2], f[3]]) as usize;
    if f.len() < rt_len + 24 {
        return Err(Skip::Malformed);
    }
    let w = &f[rt_len..];
    let (fc0, fc1) = (w[0], w[1]);
    if (fc0 >> fc::TYPE_SHIFT) & 0x3 != fc::TYPE_DATA {
        return Err(Skip::NotTcp); // management or control frame
    }
    if fc1 & fc::PROTECTED != 0 {
        return Err(Skip::NotTcp); // encrypted payload
    }
    let mut hdr = 24;
    if fc1 & fc::TO_FROM_DS == fc::TO_FROM_DS {
        hdr += 6; // fourth address
    }
    if fc0 & fc::SUBTYPE_QOS != 0 {
        hdr += 2;
        if fc1 & fc::ORDER != 0 {
            hdr += 4; // HT control
        }
    }
    if fc0 & fc::SUBTYPE_NULL != 0 {
        return Err(Skip::NotTcp); // null-data subtype: no payload
    }
    let l = w.get(hdr..).ok_or(Skip::Malformed)?;
    if l.len() < 8 || l[..3] != LLC_SNAP {
        return Err(Skip::NotTcp);
    }
    Ok((EtherType(be16(l, 6)), &l[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_headers_give_type_and_rest() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x86, 0xdd, 0xaa]);
        let l = LinkFrame::new_checked(&f, LinkFrame::ETHERNET).unwrap();
        assert_eq!(l.ethertype(), EtherType::IPV6);
        assert_eq!(l.payload(), &[0xaa]);
        assert!(LinkFrame::new_checked(&f[..13], LinkFrame::ETHERNET).is_err());
        let mut sll2 = vec![0x08, 0x00];
        sll2.resize(20, 0);
        let (et, rest) = link(dlt::LINUX_SLL2, &sll2).unwrap();
        assert_eq!((et, rest.len()), (EtherType::IPV4, 0));
    }

    #[test]
    fn vlan_tags_are_followed_three_deep() {
        let tag = |next: u16| [0, 1, (next >> 8) as u8, next as u8];
        let mut b = Vec::new();
        for _ in 0..2 {
            b.extend_from_slice(&tag(0x8100));
        }
        b.extend_from_slice(&tag(0x0800));
        assert_eq!(vlan_walk(EtherType::VLAN, &b).unwrap().0, EtherType::IPV4);
        let mut b5 = tag(0x8100).to_vec();
        b5.extend_from_slice(&b);
        assert_eq!(vlan_walk(EtherType::VLAN, &b5), Err(Skip::Malformed));
        assert_eq!(vlan_walk(EtherType::QINQ, &b[..3]), Err(Skip::Malformed));
    }

    #[test]
    fn loopback_families_in_either_byte_order() {
        assert_eq!(link(dlt::NULL, &[2, 0, 0, 0]).unwrap().0, EtherType::IPV4);
        assert_eq!(link(dlt::NULL, &[0, 0, 0, 30]).unwrap().0, EtherType::IPV6);
        assert_eq!(link(dlt::LOOP, &[0, 0, 0, 24]).unwrap().0, EtherType::IPV6);
        assert_eq!(link(dlt::LOOP, &[0, 0, 0, 7]).unwrap_err(), Skip::NotTcp);
        assert_eq!(link(dlt::NULL, &[2, 0, 0]).unwrap_err(), Skip::Malformed);
        assert_eq!(link(-1, &[]).unwrap_err(), Skip::UnknownLink);
    }

    #[test]
    fn nflog_finds_the_payload_tlv() {
        let mut f = vec![2, 0, 0, 0];
        f.extend_from_slice(&[5, 0, 1, 0, 0xee, 0, 0, 0]); // 5-byte TLV, padded to 8
        f.extend_from_slice(&[6, 0, 9, 0, 0x45, 0]);
        let (et, rest) = link(dlt::NFLOG, &f).unwrap();
        assert_eq!((et, rest), (EtherType::IPV4, &[0x45, 0][..]));
        f[12] = 3; // a length below the TLV header
        assert_eq!(link(dlt::NFLOG, &f).unwrap_err(), Skip::Malformed);
    }
}
