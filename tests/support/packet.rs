//! Packets as bytes on the wire, built from the standards (not with the
//! sensor's code): TCP, IPv4 and IPv6 headers, and the link-layer header of
//! every link type the sensor reads, in the variants each takes (VLAN tags,
//! address families, radiotap, NFLOG TLVs...).
//!
//! Only `std`, so that a file outside tests/ (the fuzz harness) can include
//! this one with `#[path = "../tests/support/packet.rs"] mod packet;`.

use std::net::IpAddr;

/// TCP flag bits.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// Link-layer header types (the DLT_/LINKTYPE_ numbers of tcpdump.org's
/// list, as libpcap reports them on Linux).
pub mod dlt {
    pub const NULL: i32 = 0;
    pub const EN10MB: i32 = 1;
    pub const RAW: i32 = 12;
    pub const RAW_OPENBSD: i32 = 14;
    pub const LINKTYPE_RAW: i32 = 101;
    pub const C_HDLC: i32 = 104;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IEEE802_11_RADIO: i32 = 127;
    pub const ARCNET_LINUX: i32 = 129;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const NFLOG: i32 = 239;
    pub const LINUX_SLL2: i32 = 276;
}

/// The fields of a TCP header the sensor reads (the checksum stays 0: it is
/// not checked).
#[derive(Clone, Copy, Debug)]
pub struct TcpHeader {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

/// A TCP segment: the header (with NOP, NOP, timestamps options when
/// `opts`), then `payload`.
pub fn tcp_bytes(h: &TcpHeader, payload: &[u8], opts: bool) -> Vec<u8> {
    let hl = if opts { 32 } else { 20 };
    let mut t = vec![0u8; hl];
    t[0..2].copy_from_slice(&h.sport.to_be_bytes());
    t[2..4].copy_from_slice(&h.dport.to_be_bytes());
    t[4..8].copy_from_slice(&h.seq.to_be_bytes());
    t[8..12].copy_from_slice(&h.ack.to_be_bytes());
    t[12] = ((hl / 4) as u8) << 4;
    t[13] = h.flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    if opts {
        // NOP, NOP, timestamps
        t[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }
    t.extend_from_slice(payload);
    t
}

/// An IPv4 or IPv6 packet from `src` to `dst` carrying `tcp` (IPv6 with a
/// hop-by-hop header first when `hop_by_hop`).
pub fn ip_bytes(src: IpAddr, dst: IpAddr, tcp: &[u8], hop_by_hop: bool) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + tcp.len();
            let mut p = vec![0u8; 20];
            p[0] = 0x45;
            let tl = if total > 65535 { 0 } else { total as u16 };
            p[2..4].copy_from_slice(&tl.to_be_bytes());
            p[6] = 0x40;
            p[8] = 64;
            p[9] = 6;
            p[12..16].copy_from_slice(&s.octets());
            p[16..20].copy_from_slice(&d.octets());
            p.extend_from_slice(tcp);
            p
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let ext: &[u8] = if hop_by_hop {
                &[6, 0, 1, 4, 0, 0, 0, 0] // hop-by-hop: next=TCP, PadN
            } else {
                &[]
            };
            let plen = ext.len() + tcp.len();
            let mut p = vec![0u8; 40];
            p[0] = 0x60;
            p[4..6].copy_from_slice(&(plen as u16).to_be_bytes());
            p[6] = if hop_by_hop { 0 } else { 6 };
            p[7] = 64;
            p[8..24].copy_from_slice(&s.octets());
            p[24..40].copy_from_slice(&d.octets());
            p.extend_from_slice(ext);
            p.extend_from_slice(tcp);
            p
        }
        _ => unreachable!("mixed address families"),
    }
}

/// Wrap an IP packet in the link header of `lt`; `variant` picks among the forms each takes.
pub fn link_frame(lt: i32, ip: &[u8], variant: u8) -> Vec<u8> {
    let v6 = ip[0] >> 4 == 6;
    let et: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let mut f = Vec::with_capacity(ip.len() + 48);
    match lt {
        dlt::EN10MB => {
            f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
            match variant % 3 {
                0 => {}
                1 => f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]),
                _ => f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x07]),
            }
            f.extend_from_slice(&et);
        }
        dlt::LINUX_SLL => {
            f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
            f.extend_from_slice(&et);
        }
        dlt::LINUX_SLL2 => {
            f.extend_from_slice(&et);
            f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        }
        dlt::NULL => {
            let fam: u32 = if v6 {
                [10, 24, 28, 30][variant as usize % 4]
            } else {
                2
            };
            if variant & 4 == 0 {
                f.extend_from_slice(&fam.to_le_bytes());
            } else {
                f.extend_from_slice(&fam.to_be_bytes());
            }
        }
        dlt::LOOP => {
            let fam: u32 = if v6 { 24 } else { 2 };
            f.extend_from_slice(&fam.to_be_bytes());
        }
        dlt::RAW | dlt::RAW_OPENBSD | dlt::LINKTYPE_RAW | dlt::IPV4 | dlt::IPV6 => {}
        dlt::C_HDLC => {
            f.extend_from_slice(&[0x0f, 0x00]);
            f.extend_from_slice(&et);
        }
        dlt::ARCNET_LINUX => {
            if v6 {
                f.extend_from_slice(&[1, 2, 0, 0, 0xc4, 0, 0, 0]);
            } else if variant & 1 == 0 {
                f.extend_from_slice(&[1, 2, 0, 0, 240]);
            } else {
                f.extend_from_slice(&[1, 2, 0, 0, 212, 0, 0, 0]);
            }
        }
        dlt::NFLOG => {
            f.extend_from_slice(&[if v6 { 10 } else { 2 }, 0, 0, 1]);
            // NFULA_PREFIX "test\0" (length 9, padded to 12), then the packet (type 9).
            f.extend_from_slice(&[9, 0, 10, 0, b't', b'e', b's', b't', 0, 0, 0, 0]);
            let len = (4 + ip.len()) as u16;
            f.extend_from_slice(&len.to_le_bytes());
            f.extend_from_slice(&9u16.to_le_bytes());
        }
        dlt::IEEE802_11_RADIO => {
            f.extend_from_slice(&[0, 0, 8, 0, 0, 0, 0, 0]); // radiotap, no fields
            let qos = variant & 1 == 1;
            f.push(if qos { 0x88 } else { 0x08 }); // data frame
            f.push(0x01); // to DS
            f.extend_from_slice(&[0; 22]); // duration, 3 addresses, sequence control
            if qos {
                f.extend_from_slice(&[0, 0]);
            }
            f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0]);
            f.extend_from_slice(&et);
        }
        _ => panic!("no frame builder for link type {lt}"),
    }
    f.extend_from_slice(ip);
    f
}

/// Link types an IPv4 conversation is captured on.
pub const LINKS_V4: &[i32] = &[
    dlt::EN10MB,
    dlt::LINUX_SLL,
    dlt::LINUX_SLL2,
    dlt::NULL,
    dlt::LOOP,
    dlt::RAW,
    dlt::LINKTYPE_RAW,
    dlt::IPV4,
    dlt::C_HDLC,
    dlt::NFLOG,
    dlt::ARCNET_LINUX,
    dlt::IEEE802_11_RADIO,
];
/// Link types an IPv6 conversation is captured on.
pub const LINKS_V6: &[i32] = &[
    dlt::EN10MB,
    dlt::LINUX_SLL,
    dlt::LINUX_SLL2,
    dlt::NULL,
    dlt::LOOP,
    dlt::RAW,
    dlt::RAW_OPENBSD,
    dlt::IPV6,
    dlt::C_HDLC,
    dlt::NFLOG,
    dlt::ARCNET_LINUX,
    dlt::IEEE802_11_RADIO,
];

/// Every link type the sensor decodes.
pub const ALL_LINKS: &[i32] = &[
    dlt::NULL,
    dlt::EN10MB,
    dlt::RAW,
    dlt::RAW_OPENBSD,
    dlt::LOOP,
    dlt::LINKTYPE_RAW,
    dlt::C_HDLC,
    dlt::LINUX_SLL,
    dlt::IEEE802_11_RADIO,
    dlt::ARCNET_LINUX,
    dlt::IPV4,
    dlt::IPV6,
    dlt::NFLOG,
    dlt::LINUX_SLL2,
];
