//! The TCP header: a zero-copy view checked once, sequence numbers that
//! compare modulo 2^32, and the flags as a type.

use std::cmp::Ordering;
use std::ops::{Add, BitOr, BitOrAssign, Sub};

use super::Skip;

/// A TCP sequence (or acknowledgement) number.
///
/// Arithmetic wraps at 2^32, and so does the order: `a < b` when `b` is less
/// than 2^31 ahead of `a` (RFC 793's "sequence number arithmetic"). That
/// order is not transitive across the whole circle, hence `PartialOrd` only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct SeqNumber(pub u32);

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }
}

/// How far `self` is ahead of `other` (negative: behind), modulo 2^32.
impl Sub for SeqNumber {
    type Output = i32;
    #[inline]
    fn sub(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    #[inline]
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some((*self - *other).cmp(&0))
    }
}

/// The flag bits of a TCP header (its 14th byte, all eight bits kept).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct TcpFlags(u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);
    pub const URG: TcpFlags = TcpFlags(0x20);
    pub const ECE: TcpFlags = TcpFlags(0x40);
    pub const CWR: TcpFlags = TcpFlags(0x80);

    pub const fn from_bits(bits: u8) -> TcpFlags {
        TcpFlags(bits)
    }
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Are all of `f`'s bits set?
    #[inline]
    pub const fn contains(self, f: TcpFlags) -> bool {
        self.0 & f.0 == f.0
    }
}

impl BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, o: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | o.0)
    }
}

impl BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, o: TcpFlags) {
        self.0 |= o.0
    }
}

/// TCP option kinds the decoder looks at.
pub mod option {
    pub const END: u8 = 0;
    pub const NOP: u8 = 1;
    /// TCP MD5 signature (RFC 2385).
    pub const MD5: u8 = 19;
}

/// A TCP header and what was captured after it, checked once: the fixed
/// header is present and the data offset lies inside the capture.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    header: &'a [u8; TcpSegment::MIN_HEADER_LEN],
    /// The whole captured segment, from the header on.
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> TcpSegment<'a> {
    pub const MIN_HEADER_LEN: usize = 20;

    pub fn new_checked(buf: &'a [u8]) -> Result<TcpSegment<'a>, Skip> {
        let header = buf.first_chunk().ok_or(Skip::Malformed)?;
        let header_len = (header[12] >> 4) as usize * 4;
        if header_len < Self::MIN_HEADER_LEN || buf.len() < header_len {
            return Err(Skip::Malformed);
        }
        Ok(TcpSegment {
            header,
            buf,
            header_len,
        })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.header[0], self.header[1]])
    }
    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }
    #[inline]
    pub fn seq_number(&self) -> SeqNumber {
        let h = self.header;
        SeqNumber(u32::from_be_bytes([h[4], h[5], h[6], h[7]]))
    }
    /// The acknowledgement number field (meaningful when ACK is set).
    #[inline]
    pub fn ack_number(&self) -> SeqNumber {
        let h = self.header;
        SeqNumber(u32::from_be_bytes([h[8], h[9], h[10], h[11]]))
    }
    #[inline]
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.header[13])
    }
    /// Header length in bytes, options included (the data offset).
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The options: the header past its fixed part.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.buf[Self::MIN_HEADER_LEN..self.header_len]
    }
    /// The captured bytes after the header (trailing link padding included).
    #[inline]
    pub fn captured_payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..]
    }
}

/// Is TCP option `kind` present in `opts`?
pub fn has_option(opts: &[u8], kind: u8) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            option::END => return false,
            option::NOP => i += 1,
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

    #[test]
    fn seq_numbers_compare_across_the_wrap() {
        let a = SeqNumber(0xffff_fff0);
        let b = a + 0x20;
        assert_eq!(b, SeqNumber(0x10));
        assert!(a < b);
        assert!(b > a);
        assert!(a <= a);
        assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal));
        assert_eq!(b - a, 0x20);
        assert_eq!(a - b, -0x20);
        assert_eq!(b - 0x20u32, a);
        // Less than half the circle ahead is "after"; more is "before".
        assert!(SeqNumber(0) < SeqNumber(0x7fff_ffff));
        assert!(SeqNumber(0) > SeqNumber(0x8000_0001));
    }

    #[test]
    fn flags_are_bits() {
        let f = TcpFlags::SYN | TcpFlags::ACK;
        assert!(f.contains(TcpFlags::SYN) && f.contains(TcpFlags::ACK));
        assert!(!f.contains(TcpFlags::FIN) && !f.contains(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(f.bits(), 0x12);
        assert_eq!(TcpFlags::from_bits(0x12), f);
    }

    fn header(data_offset_words: u8, opts: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&1234u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&7u32.to_be_bytes());
        t[8..12].copy_from_slice(&9u32.to_be_bytes());
        t[12] = data_offset_words << 4;
        t[13] = 0x18;
        t.extend_from_slice(opts);
        t
    }

    #[test]
    fn segment_view_fields() {
        let mut b = header(6, &[1, 1, 19, 2]);
        b.extend_from_slice(b"hi");
        let s = TcpSegment::new_checked(&b).unwrap();
        assert_eq!((s.src_port(), s.dst_port()), (1234, 80));
        assert_eq!(
            (s.seq_number(), s.ack_number()),
            (SeqNumber(7), SeqNumber(9))
        );
        assert_eq!(s.flags(), TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(s.header_len(), 24);
        assert!(has_option(s.options(), option::MD5));
        assert_eq!(s.captured_payload(), b"hi");
    }

    #[test]
    fn segment_view_checks_the_data_offset() {
        assert_eq!(
            TcpSegment::new_checked(&header(5, &[])[..19]).unwrap_err(),
            Skip::Malformed
        );
        assert!(TcpSegment::new_checked(&header(4, &[])).is_err()); // below 20 bytes
        assert!(TcpSegment::new_checked(&header(6, &[1, 1])).is_err()); // options cut
        assert!(TcpSegment::new_checked(&header(6, &[1, 1, 1, 1])).is_ok());
    }

    #[test]
    fn options_walk_stops_at_end_and_bad_lengths() {
        assert!(!has_option(&[0, 19, 18], option::MD5)); // after END
        assert!(!has_option(&[2, 0, 19, 18], option::MD5)); // length < 2
        assert!(has_option(&[2, 4, 0, 0, 19, 18], option::MD5));
    }
}
