//! ClientHellos recorded from curl and openssl on loopback
//! (tests/data/tls/record.sh), hellos built from RFC 8446 / 6066 / 7301
//! facts, the same bytes cut short, split over records and mutated, and
//! random bytes.

use super::*;

const CURL: &[u8] = include_bytes!("../../../tests/data/tls/curl.bin");
const OPENSSL_ALPN: &[u8] = include_bytes!("../../../tests/data/tls/openssl-alpn.bin");
const OPENSSL_TLS12: &[u8] = include_bytes!("../../../tests/data/tls/openssl-tls12.bin");
const OPENSSL_NONAME: &[u8] = include_bytes!("../../../tests/data/tls/openssl-noname.bin");

/// (bytes, name, ALPN list)
const RECORDED: &[(&[u8], Option<&str>, &str)] = &[
    (CURL, Some("payments.example.com"), "h2,http/1.1"),
    (OPENSSL_ALPN, Some("api.example.com"), "h2,http/1.1"),
    (OPENSSL_TLS12, Some("legacy.example.com"), ""),
    (OPENSSL_NONAME, None, ""),
];

fn name(h: &ClientHello) -> Option<&str> {
    h.name().map(|n| std::str::from_utf8(n).unwrap())
}

fn alpn(h: &ClientHello) -> &str {
    std::str::from_utf8(h.alpn()).unwrap()
}

// ---------------------------------------------------------------------------
// Building hellos

fn u16be(n: usize) -> [u8; 2] {
    (n as u16).to_be_bytes()
}

/// Handshake records of at most `max` payload bytes each, around `msg`.
fn records(msg: &[u8], max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for part in msg.chunks(max) {
        out.extend_from_slice(&[HANDSHAKE, 3, 1]);
        out.extend_from_slice(&u16be(part.len()));
        out.extend_from_slice(part);
    }
    out
}

/// The handshake message (type, 24-bit length, body).
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

/// A ClientHello body: TLS 1.2 legacy version, a zero random, a 32-byte
/// session id, two cipher suites, null compression, then `exts` (none
/// at all, not even the length, when `exts` is None).
fn hello_body(exts: Option<&[(u16, Vec<u8>)]>) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&[0; 32]);
    b.push(32);
    b.extend_from_slice(&[7; 32]);
    b.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
    b.extend_from_slice(&[1, 0]);
    if let Some(exts) = exts {
        let mut e = Vec::new();
        for (kind, data) in exts {
            e.extend_from_slice(&kind.to_be_bytes());
            e.extend_from_slice(&u16be(data.len()));
            e.extend_from_slice(data);
        }
        b.extend_from_slice(&u16be(e.len()));
        b.extend_from_slice(&e);
    }
    b
}

fn sni_ext(names: &[(u8, &[u8])]) -> (u16, Vec<u8>) {
    let mut list = Vec::new();
    for (kind, n) in names {
        list.push(*kind);
        list.extend_from_slice(&u16be(n.len()));
        list.extend_from_slice(n);
    }
    let mut d = u16be(list.len()).to_vec();
    d.extend_from_slice(&list);
    (EXT_SERVER_NAME, d)
}

fn alpn_ext(protos: &[&[u8]]) -> (u16, Vec<u8>) {
    let mut list = Vec::new();
    for p in protos {
        list.push(p.len() as u8);
        list.extend_from_slice(p);
    }
    let mut d = u16be(list.len()).to_vec();
    d.extend_from_slice(&list);
    (EXT_ALPN, d)
}

/// A whole hello in one record.
fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    records(
        &message(CLIENT_HELLO, &hello_body(Some(exts))),
        MAX_FRAGMENT,
    )
}

/// The handshake bytes of a recorded hello (its records' payloads).
fn payloads(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 5 <= b.len() {
        let n = u16::from_be_bytes([b[i + 3], b[i + 4]]) as usize;
        out.extend_from_slice(&b[i + 5..i + 5 + n]);
        i += 5 + n;
    }
    assert_eq!(i, b.len());
    out
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------
// Recorded hellos

#[test]
fn recorded_hellos_give_their_name_and_protocols() {
    for (b, want_name, want_alpn) in RECORDED {
        let h = parse(b).unwrap_or_else(|e| panic!("{want_name:?}: {e:?}"));
        assert!(h.complete, "{h:?}");
        assert_eq!(name(&h), *want_name, "{h:?}");
        assert_eq!(alpn(&h), *want_alpn, "{h:?}");
        assert!(!h.name_cut && !h.alpn_cut && !h.ech, "{h:?}");
        assert_eq!(message_type(b), Some(CLIENT_HELLO));
    }
}

/// Every prefix of a recorded hello: too short to tell, or what was read
/// before the cut, never something else; complete only when whole.
#[test]
fn recorded_hellos_cut_anywhere() {
    for (b, want_name, want_alpn) in RECORDED {
        for n in 0..b.len() {
            match parse(&b[..n]) {
                Err(NotHello::Short) => assert!(n < 6, "{want_name:?} cut at {n}"),
                Ok(h) => {
                    assert!(!h.complete, "{want_name:?} cut at {n}");
                    if let Some(got) = name(&h) {
                        assert_eq!(Some(got), *want_name, "cut at {n}");
                    }
                    assert!(want_alpn.starts_with(alpn(&h)), "cut at {n}: {h:?}");
                }
                Err(e) => panic!("{want_name:?} cut at {n}: {e:?}"),
            }
        }
    }
}

/// The name of curl's hello is found in its first 200 bytes: what a first
/// segment holds even when the hello is larger than one.
#[test]
fn a_first_segment_is_enough_for_the_name() {
    let h = parse(&CURL[..200]).unwrap();
    assert_eq!(name(&h), Some("payments.example.com"));
    assert!(!h.complete);
}

/// The same handshake message split over records of any size is read the
/// same (RFC 8446 §5.1 allows it; some clients split large hellos).
#[test]
fn hellos_split_over_records() {
    for (b, want_name, want_alpn) in RECORDED {
        let msg = payloads(b);
        for max in [1, 2, 3, 5, 7, 64, 100, 255, 511] {
            let split = records(&msg, max);
            let h = parse(&split).unwrap_or_else(|e| panic!("{want_name:?} by {max}: {e:?}"));
            assert!(h.complete, "{want_name:?} by {max}");
            assert_eq!(name(&h), *want_name, "by {max}");
            assert_eq!(alpn(&h), *want_alpn, "by {max}");
        }
    }
}

// ---------------------------------------------------------------------------
// Built from the RFCs

#[test]
fn names_are_lowered_and_the_first_host_name_wins() {
    let h = parse(&hello(&[sni_ext(&[
        (1, b"not-a-host-name"),
        (HOST_NAME, b"Payments.Example.COM"),
        (HOST_NAME, b"second.example.com"),
    ])]))
    .unwrap();
    assert_eq!(name(&h), Some("payments.example.com"));
    assert!(h.complete);
}

#[test]
fn long_names_and_protocol_lists_are_cut_and_marked() {
    let long = vec![b'a'; 300];
    let protos: Vec<Vec<u8>> = (0..20).map(|i| format!("proto-{i}").into_bytes()).collect();
    let protos: Vec<&[u8]> = protos.iter().map(Vec::as_slice).collect();
    let h = parse(&hello(&[sni_ext(&[(HOST_NAME, &long)]), alpn_ext(&protos)])).unwrap();
    assert!(h.complete);
    assert_eq!(h.name().unwrap(), &long[..MAX_NAME]);
    assert!(h.name_cut);
    assert!(h.alpn_cut);
    // Whole protocol names only.
    let got = alpn(&h);
    assert!(got.len() <= MAX_ALPN, "{got}");
    assert!(got.split(',').all(|p| p.starts_with("proto-")), "{got}");
    assert_eq!(got.split(',').count(), 6, "{got}");
}

#[test]
fn ech_and_other_extensions() {
    let h = parse(&hello(&[
        (0x000a, vec![0, 4, 0, 0x1d, 0, 0x17]),
        (EXT_ECH, vec![0; 40]),
        sni_ext(&[(HOST_NAME, b"public.example.net")]),
        (0x0015, vec![0; 100]),
        alpn_ext(&[b"h2"]),
    ]))
    .unwrap();
    assert!(h.ech && h.complete);
    assert_eq!(name(&h), Some("public.example.net"));
    assert_eq!(alpn(&h), "h2");
}

#[test]
fn hellos_without_extensions() {
    let b = records(&message(CLIENT_HELLO, &hello_body(None)), MAX_FRAGMENT);
    let h = parse(&b).unwrap();
    assert!(h.complete);
    assert_eq!((h.name(), h.alpn()), (None, &b""[..]));
    let b = records(&message(CLIENT_HELLO, &hello_body(Some(&[]))), MAX_FRAGMENT);
    assert!(parse(&b).unwrap().complete);
}

#[test]
fn other_messages_and_other_records() {
    let server_hello = records(&message(SERVER_HELLO, &[3, 3, 0, 0]), MAX_FRAGMENT);
    assert_eq!(
        parse(&server_hello).unwrap_err(),
        NotHello::Other(SERVER_HELLO)
    );
    assert_eq!(message_type(&server_hello), Some(SERVER_HELLO));
    // Application data, an alert, HTTP, SSL 2.
    for b in [
        &[23, 3, 3, 0, 5, 1, 2, 3, 4, 5][..],
        &[21, 3, 3, 0, 2, 2, 40],
        b"GET / HTTP/1.1\r\n",
        &[0x80, 0x2e, 0x01, 0x03, 0x01],
    ] {
        assert_eq!(parse(b).unwrap_err(), NotHello::NotHandshake, "{b:?}");
        assert_eq!(message_type(b), None);
    }
    for n in 0..6 {
        assert_eq!(parse(&CURL[..n]).unwrap_err(), NotHello::Short);
    }
}

#[test]
fn malformed_hellos() {
    let good = hello(&[sni_ext(&[(HOST_NAME, b"a.example")]), alpn_ext(&[b"h2"])]);
    assert!(parse(&good).unwrap().complete);
    let msg = payloads(&good);
    let malformed = |b: &[u8], what: &str| {
        assert_eq!(parse(b).unwrap_err(), NotHello::Malformed, "{what}");
    };
    // Record headers: a zero length, an oversized one, a record of another
    // type between two parts of the message, a version that is not 3.x.
    let mut b = records(&msg, 40);
    b[45] = 23; // the second record's type
    malformed(&b, "application data inside the hello");
    let mut b = records(&msg, 40);
    b[46] = 2;
    malformed(&b, "second record of version 2.x");
    let mut b = records(&msg, 40);
    b.splice(45..45, [HANDSHAKE, 3, 1, 0, 0]);
    malformed(&b, "an empty record");
    let mut b = good.clone();
    b[3..5].copy_from_slice(&u16be(MAX_FRAGMENT + 1));
    malformed(&b, "an oversized record");
    // Lengths of the message's own fields that do not fit their parent.
    let body_at = 5 + 4; // record header, message header
    let sid = body_at + 34;
    let mut b = good.clone();
    b[sid] = 33;
    malformed(&b, "a session id over 32 bytes");
    let cs = sid + 1 + 32;
    let mut b = good.clone();
    b[cs..cs + 2].copy_from_slice(&[0, 3]);
    malformed(&b, "an odd cipher suite length");
    let cm = cs + 2 + 4;
    let mut b = good.clone();
    b[cm] = 0;
    malformed(&b, "no compression method");
    let ext = cm + 2;
    let mut b = good.clone();
    b[ext + 1] += 1;
    malformed(&b, "extensions longer than the message");
    let mut b = good.clone();
    b[ext + 1] -= 1;
    malformed(&b, "extensions shorter than the message");
    // The first extension (server_name): its length, its list's length.
    let mut b = good.clone();
    b[ext + 2 + 3] += 1;
    malformed(&b, "server_name longer than its place");
    let mut b = good.clone();
    b[ext + 2 + 5] += 1;
    malformed(&b, "a name list longer than its extension");
    let mut b = good.clone();
    let host = ext + 2 + 4 + 2 + 1;
    b[host..host + 2].copy_from_slice(&[0, 0]);
    malformed(&b, "an empty host name");
}

// ---------------------------------------------------------------------------
// Hostile bytes

/// Every single-byte change of every recorded hello, and random ones: the
/// parser returns (whatever it says), within its input, without panicking.
#[test]
fn mutated_hellos_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (b, _, _) in RECORDED {
        let mut m = b.to_vec();
        for i in 0..m.len() {
            let keep = m[i];
            for v in [0u8, 1, 0x7f, 0x80, 0xff, keep ^ 1, keep.wrapping_add(1)] {
                m[i] = v;
                let _ = parse(&m);
                let _ = parse(&m[..i + 1]);
            }
            m[i] = keep;
        }
        for _ in 0..20_000 {
            let mut m = b.to_vec();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            let cut = rng.below(m.len() + 1);
            if let Ok(h) = parse(&m[..cut]) {
                assert!(h.name_len as usize <= MAX_NAME && h.alpn_len as usize <= MAX_ALPN);
            }
        }
    }
}

#[test]
fn random_bytes_after_a_record_header_never_panic() {
    let mut rng = Rng(42);
    let mut b = vec![0u8; 2048];
    for _ in 0..50_000 {
        let n = rng.below(b.len());
        for x in &mut b[..n] {
            *x = rng.next() as u8;
        }
        if n >= 6 {
            b[..3].copy_from_slice(&[HANDSHAKE, 3, 1]);
            b[5] = CLIENT_HELLO;
        }
        let _ = parse(&b[..n]);
        let _ = message_type(&b[..n]);
    }
}
