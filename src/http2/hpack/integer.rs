//! HPACK integers (RFC 7541 §5.1): an N-bit prefix in the first byte, then base-128
//! continuation bytes, least significant group first.

use super::Error;

/// Continuation bytes accepted after the prefix: 5 carry 35 bits, enough for any value up to
/// 2^32 − 1 whatever the prefix; a longer encoding is an implementation limit (§5.1).
const MAX_CONTINUATION: usize = 5;

/// Decodes the integer whose first byte is `buf[*pos]`, keeping its low `prefix_bits` bits
/// (1..=8), and advances `*pos` past it. The value must fit in 32 bits.
pub(crate) fn decode(buf: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<u32, Error> {
    debug_assert!((1..=8).contains(&prefix_bits));
    let mask = ((1u16 << prefix_bits) - 1) as u8;
    let first = *buf.get(*pos).ok_or(Error::Truncated)?;
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        *pos += 1;
        return Ok(value as u32);
    }
    let mut at = *pos + 1;
    let mut shift = 0u32;
    for _ in 0..MAX_CONTINUATION {
        let byte = *buf.get(at).ok_or(Error::Truncated)?;
        at += 1;
        value += u64::from(byte & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(Error::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            *pos = at;
            return Ok(value as u32);
        }
        shift += 7;
    }
    Err(Error::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8], prefix: u8) -> Result<(u32, usize), Error> {
        let mut pos = 0;
        decode(bytes, &mut pos, prefix).map(|v| (v, pos))
    }

    #[test]
    fn rfc_c1_examples() {
        // C.1.1: 10 with a 5-bit prefix; C.1.2: 1337 with a 5-bit prefix; C.1.3: 42 at an
        // octet boundary. The bits above the prefix belong to the representation.
        assert_eq!(dec(&[0b111_01010], 5), Ok((10, 1)));
        assert_eq!(
            dec(&[0b000_11111, 0b1001_1010, 0b0000_1010], 5),
            Ok((1337, 3))
        );
        assert_eq!(dec(&[42], 8), Ok((42, 1)));
    }

    #[test]
    fn prefix_boundaries() {
        for prefix in 1..=8u8 {
            let max = (1u32 << prefix) - 1;
            // One below the prefix's maximum fits in the prefix.
            assert_eq!(dec(&[(max - 1) as u8], prefix), Ok((max - 1, 1)));
            // The maximum itself needs a continuation byte, even a zero one.
            assert_eq!(dec(&[max as u8, 0], prefix), Ok((max, 2)));
            assert_eq!(dec(&[max as u8, 1], prefix), Ok((max + 1, 2)));
            assert_eq!(dec(&[max as u8], prefix), Err(Error::Truncated));
        }
    }

    #[test]
    fn largest_and_overflow() {
        // 2^32 - 1 with a 5-bit prefix: 31 + 0xffff_ffe0.
        let rest = u32::MAX - 31;
        let mut bytes = vec![31u8];
        let mut r = rest;
        while r >= 128 {
            bytes.push((r as u8 & 0x7f) | 0x80);
            r >>= 7;
        }
        bytes.push(r as u8);
        assert_eq!(dec(&bytes, 5), Ok((u32::MAX, bytes.len())));
        // One more overflows.
        *bytes.last_mut().unwrap() += 1;
        assert_eq!(dec(&bytes, 5), Err(Error::IntegerOverflow));
        // A "4 GiB" size update (2^32) is refused, not wrapped.
        assert_eq!(
            dec(&[31, 0xe1, 0xff, 0xff, 0xff, 0x0f], 5),
            Err(Error::IntegerOverflow)
        );
    }

    #[test]
    fn endless_continuation_is_bounded() {
        // Zero groups with the continuation bit: value stays 0, but after 5 bytes it stops.
        let mut bytes = vec![0x7f];
        bytes.extend(std::iter::repeat_n(0x80, 1000));
        assert_eq!(dec(&bytes, 7), Err(Error::IntegerOverflow));
        // Five continuation bytes are still accepted.
        assert_eq!(dec(&[0x7f, 0x80, 0x80, 0x80, 0x80, 0x00], 7), Ok((127, 6)));
    }

    #[test]
    fn position_advances_only_on_success() {
        let buf = [0xff, 0x80, 0x0a, 0x0f];
        let mut pos = 1;
        assert_eq!(decode(&buf, &mut pos, 4), Ok(0));
        assert_eq!(pos, 2);
        assert_eq!(decode(&buf, &mut pos, 4), Ok(10));
        assert_eq!(decode(&buf, &mut pos, 4), Err(Error::Truncated));
        assert_eq!(pos, 3);
        let mut pos = 0;
        assert_eq!(decode(&[0xff], &mut pos, 8), Err(Error::Truncated));
        assert_eq!(pos, 0);
    }
}
