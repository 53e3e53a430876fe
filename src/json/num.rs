//! Numbers and IP addresses as text, written by hand into the output (no
//! formatting machinery, no allocation): several per trace.

use std::net::IpAddr;

/// An address as text in a stack buffer (no allocation).
pub struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    pub fn new(ip: IpAddr) -> IpText {
        let mut buf = [0u8; 48];
        let len = match ip {
            IpAddr::V4(a) => {
                // The dotted quad by hand: formatting machinery costs more
                // than the rest of an address attribute.
                let mut n = 0;
                for o in a.octets() {
                    if o >= 100 {
                        buf[n] = b'0' + o / 100;
                        n += 1;
                    }
                    if o >= 10 {
                        buf[n] = b'0' + o / 10 % 10;
                        n += 1;
                    }
                    buf[n] = b'0' + o % 10;
                    buf[n + 1] = b'.';
                    n += 2;
                }
                n - 1
            }
            IpAddr::V6(a) => {
                use std::io::Write;
                let mut c = std::io::Cursor::new(&mut buf[..]);
                let _ = write!(c, "{a}");
                c.position() as usize
            }
        };
        IpText { buf, len }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// "00" to "99", for writing two digits at a time.
static PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut k = 0;
    while k < 100 {
        t[2 * k] = b'0' + (k / 10) as u8;
        t[2 * k + 1] = b'0' + (k % 10) as u8;
        k += 1;
    }
    t
};

/// The two digits of `v` (below 100) into `b[at..at + 2]`.
#[inline(always)]
pub(super) fn pair(b: &mut [u8], at: usize, v: u64) {
    let v = (v % 100) as usize;
    b[at..at + 2].copy_from_slice(&PAIRS[2 * v..2 * v + 2]);
}

/// Decimal digits of `n`.
pub fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while n >= 100 {
        i -= 2;
        pair(&mut buf, i, n % 100);
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        pair(&mut buf, i, n);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// The address as text: a dotted quad, or IPv6 as std writes it.
pub fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    out.extend_from_slice(IpText::new(ip).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::super::s;
    use super::*;

    #[test]
    fn numbers_and_addresses() {
        let mut p = 1u64;
        for _ in 0..20 {
            for n in [p - 1, p, p + 1, p.saturating_mul(7).saturating_add(3)] {
                assert_eq!(s(|o| put_u64(o, n)), n.to_string());
            }
            p = p.saturating_mul(10);
        }
        assert_eq!(s(|o| put_u64(o, u64::MAX)), u64::MAX.to_string());
        // Every octet value in every position, as std writes it.
        for o in 0..=255u8 {
            let ip = std::net::Ipv4Addr::new(o, 255 - o, o / 3, o % 10);
            assert_eq!(s(|w| put_ip(w, ip.into())), ip.to_string());
        }
        assert_eq!(s(|o| put_ip(o, "fe80::1".parse().unwrap())), "fe80::1");
    }
}
