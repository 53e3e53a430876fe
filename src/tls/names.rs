//! The encrypted servers seen: a fixed table of (server name, port) by
//! connections, from each TLS connection's ClientHello.
//!
//! [`SLOTS`] entries, reserved with the counters (no allocation, whatever
//! the traffic). An entry is a server name (SNI) and the server's port; a
//! hello without a name is kept under the server's address instead. Each
//! keeps the ALPN list of its latest hello and counts connections.
//!
//! Eviction (Space-Saving, Metwally, Agrawal and El Abbadi 2005): when the
//! table is full, a new name takes the entry with the fewest connections
//! (the least recently seen among equals) and starts from that count plus
//! one. So names that keep coming stay and one-off names pass through the
//! same entry; every name with more than 1/[`SLOTS`] of all TLS
//! connections is always in the table, and no count is ever below the
//! name's real one. A count that took over from replaced names is an upper
//! bound and is written with a `~`; the others are exact.

use std::fmt::Write as _;

use super::client_hello::{ClientHello, MAX_ALPN, MAX_NAME};
use crate::wire::Addr;

/// Entries of the table.
pub const SLOTS: usize = 16;

#[derive(Clone, Copy)]
struct Entry {
    /// The server name as kept (lower case); empty: `addr` names the server.
    name: [u8; MAX_NAME],
    name_len: u8,
    name_cut: bool,
    addr: Addr,
    port: u16,
    alpn: [u8; MAX_ALPN],
    alpn_len: u8,
    alpn_cut: bool,
    /// The latest hello offered Encrypted Client Hello.
    ech: bool,
    /// Connections counted (including `over`).
    conns: u64,
    /// Connections counted before this name took the entry (of the names it
    /// replaced): `conns - over` are surely this name's.
    over: u64,
    /// When the latest connection came (the table's own clock).
    last: u64,
}

const EMPTY: Entry = Entry {
    name: [0; MAX_NAME],
    name_len: 0,
    name_cut: false,
    addr: Addr([0; 16]),
    port: 0,
    alpn: [0; MAX_ALPN],
    alpn_len: 0,
    alpn_cut: false,
    ech: false,
    conns: 0,
    over: 0,
    last: 0,
};

impl Entry {
    fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }

    fn is(&self, name: &[u8], addr: Addr, port: u16) -> bool {
        self.port == port && self.name() == name && (!name.is_empty() || self.addr == addr)
    }
}

/// The table.
#[derive(Clone)]
pub struct Names {
    e: [Entry; SLOTS],
    used: usize,
    /// TLS connections recorded (the table's clock).
    seen: u64,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            e: [EMPTY; SLOTS],
            used: 0,
            seen: 0,
        }
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_top(&mut s, SLOTS);
        write!(f, "Names({s})")
    }
}

/// One entry, as read.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// The server name (lower case, as sent), empty when the hello had none.
    pub name: &'a [u8],
    /// The name was longer than kept.
    pub name_cut: bool,
    /// The server's address (of the latest connection) when there is no name.
    pub addr: Addr,
    pub port: u16,
    /// ALPN protocols of the latest hello, joined by commas.
    pub alpn: &'a [u8],
    pub alpn_cut: bool,
    pub ech: bool,
    /// Connections: exact unless `approximate`, then an upper bound.
    pub conns: u64,
    pub approximate: bool,
}

impl Names {
    /// A TLS connection to `addr`:`port` whose ClientHello said `h`.
    pub fn record(&mut self, h: &ClientHello, addr: Addr, port: u16) {
        self.seen += 1;
        let name = h.name().unwrap_or(&[]);
        let i = match self.e[..self.used]
            .iter()
            .position(|e| e.is(name, addr, port))
        {
            Some(i) => i,
            None => {
                let i = if self.used < SLOTS {
                    self.used += 1;
                    self.used - 1
                } else {
                    // The fewest connections, the least recent among equals.
                    let (i, _) = self
                        .e
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, e)| (e.conns, e.last))
                        .expect("SLOTS > 0");
                    i
                };
                let e = &mut self.e[i];
                let over = e.conns;
                *e = EMPTY;
                e.name[..name.len()].copy_from_slice(name);
                e.name_len = name.len() as u8;
                e.name_cut = h.name_cut;
                e.port = port;
                e.conns = over;
                e.over = over;
                i
            }
        };
        let e = &mut self.e[i];
        e.conns += 1;
        e.last = self.seen;
        e.addr = addr;
        let alpn = h.alpn();
        e.alpn[..alpn.len()].copy_from_slice(alpn);
        e.alpn_len = alpn.len() as u8;
        e.alpn_cut = h.alpn_cut;
        e.ech = h.ech;
    }

    /// TLS connections recorded.
    pub fn connections(&self) -> u64 {
        self.seen
    }

    /// True before any connection.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// The entries, most connections first (then the most recent), as
    /// positions into the table: a fixed array and its length.
    fn order(&self) -> ([u8; SLOTS], usize) {
        let mut o = [0u8; SLOTS];
        for (i, x) in o.iter_mut().enumerate() {
            *x = i as u8;
        }
        let e = &self.e;
        o[..self.used].sort_unstable_by_key(|&i| {
            let e = &e[i as usize];
            (std::cmp::Reverse(e.conns), std::cmp::Reverse(e.last))
        });
        (o, self.used)
    }

    fn seen(&self, i: u8) -> Seen<'_> {
        let e = &self.e[i as usize];
        Seen {
            name: e.name(),
            name_cut: e.name_cut,
            addr: e.addr,
            port: e.port,
            alpn: &e.alpn[..e.alpn_len as usize],
            alpn_cut: e.alpn_cut,
            ech: e.ech,
            conns: e.conns,
            approximate: e.over > 0,
        }
    }

    /// Calls `f` with the entries, most connections first.
    pub fn each(&self, mut f: impl FnMut(Seen<'_>)) {
        let (o, n) = self.order();
        for &i in &o[..n] {
            f(self.seen(i));
        }
    }

    /// The `k` entries with most connections, for a log line:
    /// `payments.example.com:443 (12 connections, ALPN h2,http/1.1), ...`,
    /// then how many more names and connections there are.
    pub fn write_top(&self, out: &mut String, k: usize) {
        let (o, n) = self.order();
        let mut shown = 0;
        for (j, &i) in o[..n.min(k)].iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            let s = self.seen(i);
            write_server(out, &s);
            out.push_str(" (");
            if s.name.is_empty() {
                out.push_str("no server name, ");
            }
            let _ = write!(
                out,
                "{}{} connection{}",
                if s.approximate { "~" } else { "" },
                s.conns,
                if s.conns == 1 { "" } else { "s" }
            );
            if !s.alpn.is_empty() {
                out.push_str(", ALPN ");
                write_printable(out, s.alpn, b"/.-_,");
                if s.alpn_cut {
                    out.push_str(",...");
                }
            }
            if s.ech {
                out.push_str(", ECH: the real name is encrypted");
            }
            out.push(')');
            shown += s.conns;
        }
        if n > k {
            let _ = write!(
                out,
                "; {} more server{} ({} connection{})",
                n - k,
                if n - k == 1 { "" } else { "s" },
                self.seen.saturating_sub(shown),
                if self.seen.saturating_sub(shown) == 1 {
                    ""
                } else {
                    "s"
                }
            );
        }
    }
}

/// `name:port`, or `address:port` (`[v6]:port`) for a hello without a name.
pub fn write_server(out: &mut String, s: &Seen<'_>) {
    if s.name.is_empty() {
        match s.addr.to_std() {
            std::net::IpAddr::V6(a) => {
                let _ = write!(out, "[{a}]");
            }
            a => {
                let _ = write!(out, "{a}");
            }
        }
    } else {
        write_printable(out, s.name, b"-._*");
        if s.name_cut {
            out.push_str("...");
        }
    }
    let _ = write!(out, ":{}", s.port);
}

/// Bytes as text for a log line: ASCII letters, digits and `also` as they
/// are, anything else (a hostile name's spaces, quotes, control bytes) as
/// `\xNN`.
pub fn write_printable(out: &mut String, b: &[u8], also: &[u8]) {
    for &c in b {
        if c.is_ascii_alphanumeric() || also.contains(&c) {
            out.push(c as char);
        } else {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::client_hello::parse;

    fn hello(name: Option<&str>, alpn: &[&str]) -> ClientHello {
        // A ClientHello built from RFC 8446 §4.1.2: legacy version, random,
        // empty session id, one suite, null compression, extensions.
        let mut exts = Vec::new();
        if let Some(n) = name {
            let n = n.as_bytes();
            let list_len = 3 + n.len();
            exts.extend_from_slice(&[0, 0]);
            exts.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
            exts.extend_from_slice(&(list_len as u16).to_be_bytes());
            exts.push(0);
            exts.extend_from_slice(&(n.len() as u16).to_be_bytes());
            exts.extend_from_slice(n);
        }
        if !alpn.is_empty() {
            let list: Vec<u8> = alpn
                .iter()
                .flat_map(|p| std::iter::once(p.len() as u8).chain(p.bytes()))
                .collect();
            exts.extend_from_slice(&[0, 16]);
            exts.extend_from_slice(&((list.len() + 2) as u16).to_be_bytes());
            exts.extend_from_slice(&(list.len() as u16).to_be_bytes());
            exts.extend_from_slice(&list);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut msg = vec![1, 0];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        rec.extend_from_slice(&msg);
        parse(&rec).unwrap()
    }

    fn v4(a: [u8; 4]) -> Addr {
        Addr::v4(a)
    }

    fn top(t: &Names, k: usize) -> String {
        let mut s = String::new();
        t.write_top(&mut s, k);
        s
    }

    #[test]
    fn counts_by_name_and_port() {
        let mut t = Names::default();
        let pay = hello(Some("payments.example.com"), &["h2", "http/1.1"]);
        for i in 0..12 {
            t.record(&pay, v4([10, 0, 0, i]), 443);
        }
        t.record(
            &hello(Some("api.example.com"), &[]),
            v4([10, 0, 1, 1]),
            8443,
        );
        t.record(
            &hello(Some("payments.example.com"), &["http/1.1"]),
            v4([10, 0, 0, 1]),
            8443,
        );
        t.record(&hello(None, &[]), v4([10, 0, 0, 7]), 443);
        t.record(&hello(None, &[]), v4([10, 0, 0, 7]), 443);
        t.record(&hello(None, &[]), v4([10, 0, 0, 8]), 443);
        assert_eq!(t.connections(), 17);
        assert_eq!(
            top(&t, 10),
            "payments.example.com:443 (12 connections, ALPN h2,http/1.1), \
             10.0.0.7:443 (no server name, 2 connections), \
             10.0.0.8:443 (no server name, 1 connection), \
             payments.example.com:8443 (1 connection, ALPN http/1.1), \
             api.example.com:8443 (1 connection)"
        );
        assert_eq!(
            top(&t, 2),
            "payments.example.com:443 (12 connections, ALPN h2,http/1.1), \
             10.0.0.7:443 (no server name, 2 connections); 3 more servers (3 connections)"
        );
    }

    /// Space-Saving: a full table lets a name that keeps coming in and
    /// never loses one that has more than 1/SLOTS of the connections.
    #[test]
    fn eviction_keeps_the_frequent_names() {
        let mut t = Names::default();
        let heavy = hello(Some("heavy.example.com"), &["h2"]);
        let late = hello(Some("late.example.com"), &[]);
        // The table fills with names seen 3 times each.
        for round in 0..3 {
            for i in 0..SLOTS {
                let h = hello(Some(&format!("early-{i}.example.com")), &[]);
                t.record(&h, v4([10, 0, 0, round]), 443);
            }
        }
        // Then heavy is one connection in 4 among 600 one-off names; late
        // comes after, one in 3 of the rest.
        for i in 0..600 {
            if i % 4 == 0 {
                t.record(&heavy, v4([10, 0, 0, 1]), 443);
            } else {
                let h = hello(Some(&format!("once-{i}.example.com")), &[]);
                t.record(&h, v4([10, 0, 0, 2]), 443);
            }
        }
        for i in 0..300 {
            if i % 3 == 0 {
                t.record(&late, v4([10, 0, 0, 1]), 443);
            } else {
                let h = hello(Some(&format!("later-{i}.example.com")), &[]);
                t.record(&h, v4([10, 0, 0, 2]), 443);
            }
        }
        let mut got = Vec::new();
        t.each(|s| {
            got.push((
                String::from_utf8_lossy(s.name).into_owned(),
                s.conns,
                s.approximate,
            ))
        });
        let find = |n: &str| got.iter().find(|g| g.0 == n).cloned();
        let (_, heavy_n, _) = find("heavy.example.com").expect("heavy stays");
        let (_, late_n, _) = find("late.example.com").expect("late gets in");
        assert!(heavy_n >= 150, "{got:?}");
        assert!(late_n >= 100, "{got:?}");
        // Counts never under-estimate, and sum to every connection seen.
        assert_eq!(got.iter().map(|g| g.1).sum::<u64>(), t.connections());
        assert_eq!(got.len(), SLOTS);
        assert!(top(&t, 3).contains('~'), "{}", top(&t, 3));
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut t = Names::default();
        let h = hello(Some("evil\nname \"x\"\u{7f}.example"), &["h2\r\n", "a,b"]);
        t.record(&h, v4([10, 0, 0, 1]), 443);
        assert_eq!(
            top(&t, 1),
            "evil\\x0aname\\x20\\x22x\\x22\\x7f.example:443 (1 connection, ALPN h2\\x0d\\x0a,a,b)"
        );
        let mut t = Names::default();
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        t.record(&hello(None, &[]), Addr(v6), 8443);
        assert_eq!(top(&t, 1), "[::1]:8443 (no server name, 1 connection)");
    }
}
