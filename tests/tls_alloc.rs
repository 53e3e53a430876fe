//! Reading what cannot be read allocates nothing: a counting global
//! allocator around the ClientHello reader and the unread tables (issue 20),
//! over the recorded ClientHellos (tests/data/tls/), the same bytes cut at
//! every byte, and enough distinct servers and ports to make both tables
//! evict.
//!
//! A test binary of its own, with a single test, so that nothing else
//! allocates meanwhile.

use pcap_sensor::tls::client_hello::parse;
use pcap_sensor::unread::Unread;
use pcap_sensor::wire::Addr;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

const HELLOS: [&[u8]; 4] = [
    include_bytes!("data/tls/curl.bin"),
    include_bytes!("data/tls/openssl-alpn.bin"),
    include_bytes!("data/tls/openssl-tls12.bin"),
    include_bytes!("data/tls/openssl-noname.bin"),
];

#[test]
fn reading_hellos_and_keeping_the_tables_allocates_nothing() {
    // The tables are made (and live) before counting starts, as the
    // tracker's counters are made at start-up.
    let mut u = Box::new(Unread::default());
    let before = allocations();
    let mut named = 0;
    for (i, hello) in HELLOS.iter().enumerate() {
        for cut in 0..=hello.len() {
            if let Ok(h) = parse(&hello[..cut]) {
                named += usize::from(h.name().is_some());
            }
        }
        // 40 servers x 20 ports: more than either table holds.
        for k in 0..800u32 {
            let client = (Addr::v4([10, 1, (k >> 8) as u8, k as u8]), 40000);
            let server = (
                Addr::v4([10, 2, i as u8, (k % 40) as u8]),
                443 + (k % 20) as u16,
            );
            u.tls(hello, client, server);
            u.http2(server);
            u.other([client, server], Some(0));
        }
    }
    let got = allocations() - before;
    assert!(named > 0);
    assert_eq!(got, 0, "allocations while reading hellos and counting");
    // (Formatting the log lines allocates, once per stats line: not counted.)
    assert!(u.encrypted().is_some() && u.ports().is_some());
}
