//! What the sensor saw but cannot read, kept so that it can say so: the
//! encrypted servers, by what their ClientHellos said (`tls::names`), and
//! the server ports of the connections that were not HTTP/1.x, with what
//! they looked like (TLS, HTTP/2, something else).
//!
//! Fixed tables kept with the counters (`Stats::unread`, about 6 KiB in
//! all, never more): the HTTP/1 parser calls in once per connection, when
//! it gives up on it, with the bytes that made it give up. The stats lines
//! name the top encrypted servers ([`Unread::encrypted`]); when a run saw
//! no HTTP at all, its advice names the ports ([`Unread::ports`]).
//!
//! The port table has [`PORTS`] entries; when it is full, a new port takes
//! the entry of the port with the fewest connections (the least recently
//! seen among equals), whose counts are dropped: the counts shown are
//! exact, and what the table no longer holds is said as "N more
//! connections on other ports".

use std::fmt::Write as _;

use crate::tls::client_hello::{self, NotHello, SERVER_HELLO};
use crate::tls::names::{Names, write_printable};
use crate::wire::Addr;

/// Entries of the port table.
pub const PORTS: usize = 16;
/// Servers named on a stats line.
pub const TOP: usize = 5;
/// Server names shown per port in the advice.
const NAMES_PER_PORT: usize = 3;

/// One end of a connection: its address and port.
pub type End = (Addr, u16);

/// What a connection that is not HTTP/1.x looked like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// TLS records (encrypted).
    Tls = 0,
    /// The HTTP/2 connection preface.
    Http2 = 1,
    /// Neither, nor HTTP/1.x.
    Other = 2,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Tls, Kind::Http2, Kind::Other];

    fn label(self) -> &'static str {
        match self {
            Kind::Tls => "TLS",
            Kind::Http2 => "HTTP/2",
            Kind::Other => "other",
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Port {
    port: u16,
    /// Connections by `Kind`.
    n: [u64; 3],
    /// When the latest connection came (the table's own clock).
    last: u64,
}

impl Port {
    fn total(&self) -> u64 {
        self.n.iter().sum()
    }
}

/// The tables.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    /// Encrypted servers by name and port.
    pub names: Names,
    ports: [Port; PORTS],
    used: usize,
    /// Connections recorded, by `Kind` (also those the port table dropped).
    seen: [u64; 3],
}

impl Unread {
    /// A connection whose first bytes from `from` to `to` are TLS records:
    /// a ClientHello names the server (`to`); a ServerHello means `from` is
    /// the server (the capture missed the hello); otherwise the lower port
    /// is taken for the server's.
    pub fn tls(&mut self, first: &[u8], from: End, to: End) {
        match client_hello::parse(first) {
            Ok(h) => {
                self.names.record(&h, to.0, to.1);
                self.port(to.1, Kind::Tls);
            }
            Err(NotHello::Other(SERVER_HELLO)) => self.port(from.1, Kind::Tls),
            Err(_) => self.port(from.1.min(to.1), Kind::Tls),
        }
    }

    /// A connection that opened with the HTTP/2 preface, sent to `to`.
    pub fn http2(&mut self, to: End) {
        self.port(to.1, Kind::Http2);
    }

    /// A connection that was neither HTTP/1.x, TLS nor HTTP/2. `client`:
    /// which of `ends` opened it, when its SYN was seen; else the lower
    /// port is taken for the server's.
    pub fn other(&mut self, ends: [End; 2], client: Option<usize>) {
        let server = match client {
            Some(c) => ends[1 - c.min(1)].1,
            None => ends[0].1.min(ends[1].1),
        };
        self.port(server, Kind::Other);
    }

    fn port(&mut self, port: u16, kind: Kind) {
        self.seen[kind as usize] += 1;
        let clock: u64 = self.seen.iter().sum();
        let i = match self.ports[..self.used].iter().position(|p| p.port == port) {
            Some(i) => i,
            None if self.used < PORTS => {
                self.used += 1;
                self.used - 1
            }
            None => {
                let (i, _) = self
                    .ports
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, p)| (p.total(), p.last))
                    .expect("PORTS > 0");
                i
            }
        };
        let p = &mut self.ports[i];
        if p.port != port || p.total() == 0 {
            *p = Port {
                port,
                ..Port::default()
            };
        }
        p.n[kind as usize] += 1;
        p.last = clock;
    }

    /// Connections recorded of `kind`.
    pub fn connections(&self, kind: Kind) -> u64 {
        self.seen[kind as usize]
    }

    /// The top encrypted servers for a stats line, `payments.example.com:443
    /// (12 connections, ALPN h2,http/1.1), ...`; None when no ClientHello
    /// was read.
    pub fn encrypted(&self) -> Option<String> {
        if self.names.is_empty() {
            return None;
        }
        let mut s = String::with_capacity(256);
        self.names.write_top(&mut s, TOP);
        Some(s)
    }

    /// The ports of the connections that could not be read, most
    /// connections first: `port 443: 12 TLS (payments.example.com,
    /// api.example.com), port 8080: 3 HTTP/2, ...`; None when there were none.
    pub fn ports(&self) -> Option<String> {
        if self.used == 0 {
            return None;
        }
        let mut order: [usize; PORTS] = std::array::from_fn(|i| i);
        let p = &self.ports;
        order[..self.used].sort_unstable_by_key(|&i| (std::cmp::Reverse(p[i].total()), p[i].port));
        let mut s = String::with_capacity(256);
        let mut shown = 0;
        for (j, &i) in order[..self.used].iter().enumerate() {
            let p = &self.ports[i];
            let _ = write!(s, "{}port {}: ", if j > 0 { ", " } else { "" }, p.port);
            let mut first = true;
            for k in Kind::ALL {
                let n = p.n[k as usize];
                if n == 0 {
                    continue;
                }
                let _ = write!(s, "{}{n} {}", if first { "" } else { " + " }, k.label());
                first = false;
                if k == Kind::Tls {
                    self.names_on(&mut s, p.port);
                }
            }
            shown += p.total();
        }
        let all: u64 = self.seen.iter().sum();
        if all > shown {
            let _ = write!(s, "; {} more on other ports", all - shown);
        }
        Some(s)
    }

    /// ` (a.example.com, b.example.com, ...)`: server names seen on `port`.
    fn names_on(&self, s: &mut String, port: u16) {
        let mut n = 0;
        self.names.each(|e| {
            if e.port != port || e.name.is_empty() {
                return;
            }
            n += 1;
            if n > NAMES_PER_PORT {
                if n == NAMES_PER_PORT + 1 {
                    s.push_str(", ...");
                }
                return;
            }
            s.push_str(if n == 1 { " (" } else { ", " });
            write_printable(s, e.name, b"-._*");
        });
        if n > 0 {
            s.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURL: &[u8] = include_bytes!("../tests/data/tls/curl.bin");
    const OPENSSL_ALPN: &[u8] = include_bytes!("../tests/data/tls/openssl-alpn.bin");

    fn end(last: u8, port: u16) -> End {
        (Addr::v4([10, 0, 0, last]), port)
    }

    #[test]
    fn what_each_connection_looked_like() {
        let mut u = Unread::default();
        assert_eq!((u.encrypted(), u.ports()), (None, None));
        for i in 0..12 {
            u.tls(CURL, end(1, 40000 + i), end(9, 443));
        }
        u.tls(OPENSSL_ALPN, end(1, 40100), end(9, 443));
        // The server's side first (a ServerHello), then records that are
        // neither: the port of the ServerHello's sender, then the lower.
        u.tls(
            &[22, 3, 3, 0, 4, SERVER_HELLO, 0, 0, 0],
            end(9, 8443),
            end(1, 40200),
        );
        u.tls(&[22, 3, 3, 0, 4, 11, 0, 0, 0], end(1, 40300), end(9, 8443));
        u.http2(end(9, 8080));
        u.http2(end(9, 8080));
        u.other([end(9, 5432), end(1, 40400)], Some(1));
        u.other([end(1, 80), end(9, 40500)], Some(0));
        u.other([end(1, 6379), end(9, 40600)], None);
        assert_eq!(u.connections(Kind::Tls), 15);
        assert_eq!(u.connections(Kind::Http2), 2);
        assert_eq!(u.connections(Kind::Other), 3);
        assert_eq!(
            u.encrypted().unwrap(),
            "payments.example.com:443 (12 connections, ALPN h2,http/1.1), \
             api.example.com:443 (1 connection, ALPN h2,http/1.1)"
        );
        assert_eq!(
            u.ports().unwrap(),
            "port 443: 13 TLS (payments.example.com, api.example.com), port 8080: 2 HTTP/2, \
             port 8443: 2 TLS, port 5432: 1 other, port 6379: 1 other, port 40500: 1 other"
        );
    }

    /// "About 6 KiB", as the module says: kept with the counters, by value.
    #[test]
    fn the_tables_are_small() {
        let n = std::mem::size_of::<Unread>();
        assert!((5 << 10..7 << 10).contains(&n), "{n} bytes");
    }

    #[test]
    fn a_full_port_table_says_how_many_it_dropped() {
        let mut u = Unread::default();
        for i in 0..PORTS as u16 {
            u.http2(end(9, 1000 + i));
            u.http2(end(9, 1000 + i));
        }
        u.tls(CURL, end(1, 40000), end(9, 443));
        u.tls(CURL, end(1, 40001), end(9, 443));
        u.tls(CURL, end(1, 40002), end(9, 443));
        let text = u.ports().unwrap();
        assert!(
            text.starts_with("port 443: 3 TLS (payments.example.com), port 1001: 2 HTTP/2"),
            "{text}"
        );
        // Port 1000 (fewest, oldest) made room for 443.
        assert!(!text.contains("port 1000:"), "{text}");
        assert!(text.ends_with("; 2 more on other ports"), "{text}");
    }
}
