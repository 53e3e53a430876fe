//! RFC 7541 Appendix C.2 to C.6: every example block, its decoded fields and the dynamic
//! table after it (entries, sizes, total), with and without Huffman coding, with eviction.
//! The data was extracted by a script from the RFC's XML source.

use super::super::Decoder;
use super::super::table::{Held, Lookup};
use super::{Got, decode, decoder, hex};

struct Example {
    section: &'static str,
    block: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// Newest first: (size, name, value).
    table: &'static [(u64, &'static str, &'static str)],
    table_size: u64,
}

fn check(d: &mut Decoder<Vec<u8>>, ex: &Example) {
    let got = decode(d, &hex(ex.block)).unwrap_or_else(|e| panic!("{}: {e}", ex.section));
    let never = ex.section.contains("Never");
    let want: Vec<Got> = (ex.fields.iter())
        .map(|(n, v)| Got::Field {
            name: Some(n.as_bytes().into()),
            value: Some(v.as_bytes().into()),
            never,
        })
        .collect();
    assert_eq!(got, want, "{}", ex.section);
    let table = d.table();
    assert_eq!(table.len(), ex.table.len(), "{}", ex.section);
    assert_eq!(table.size(), ex.table_size, "{}", ex.section);
    for (i, &(size, name, value)) in ex.table.iter().enumerate() {
        let Lookup::Entry { name: n, value: v } = table.lookup(i as u32 + 1) else {
            panic!("{}: no entry {}", ex.section, i + 1)
        };
        let bytes = |h: Held| match h {
            Held::Stored { at, len } => {
                let (a, b) = table.bytes(at, len);
                [a, b].concat()
            }
            Held::Unknown(..) => panic!("{}: unknown part", ex.section),
        };
        assert_eq!(bytes(n), name.as_bytes(), "{}", ex.section);
        assert_eq!(bytes(v), value.as_bytes(), "{}", ex.section);
        assert_eq!(
            32 + name.len() as u64 + value.len() as u64,
            size,
            "{}",
            ex.section
        );
    }
    assert!(d.holds_all_entries(), "{}", ex.section);
}

#[test]
fn c2_representations_each_on_a_new_connection() {
    for ex in &C2 {
        let mut d = decoder(4096);
        d.start(4096);
        check(&mut d, ex);
    }
}

#[test]
fn c3_requests_without_huffman() {
    let mut d = decoder(4096);
    d.start(4096);
    C3.iter().for_each(|ex| check(&mut d, ex));
}

#[test]
fn c4_requests_with_huffman() {
    let mut d = decoder(4096);
    d.start(4096);
    C4.iter().for_each(|ex| check(&mut d, ex));
}

/// SETTINGS_HEADER_TABLE_SIZE is 256 in C.5 and C.6, which makes them evict.
#[test]
fn c5_responses_without_huffman_with_eviction() {
    let mut d = decoder(4096);
    d.start(256);
    C5.iter().for_each(|ex| check(&mut d, ex));
}

#[test]
fn c6_responses_with_huffman_with_eviction() {
    let mut d = decoder(4096);
    d.start(256);
    C6.iter().for_each(|ex| check(&mut d, ex));
}

/// The same responses through a table of exactly 256 bytes: our memory is the limit, and it
/// holds everything the encoder does.
#[test]
fn c5_c6_in_a_table_of_exactly_their_size() {
    for examples in [&C5, &C6] {
        let mut d = decoder(256);
        d.start(256);
        examples.iter().for_each(|ex| check(&mut d, ex));
    }
}

/// C.2: Header Field Representation Examples.
const C2: [Example; 4] = [
    Example {
        section: "C.2.1 Literal Header Field with Indexing",
        block: "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        fields: &[("custom-key", "custom-header")],
        table: &[(55, "custom-key", "custom-header")],
        table_size: 55,
    },
    Example {
        section: "C.2.2 Literal Header Field without Indexing",
        block: "040c 2f73 616d 706c 652f 7061 7468",
        fields: &[(":path", "/sample/path")],
        table: &[],
        table_size: 0,
    },
    Example {
        section: "C.2.3 Literal Header Field Never Indexed",
        block: "1008 7061 7373 776f 7264 0673 6563 7265 74",
        fields: &[("password", "secret")],
        table: &[],
        table_size: 0,
    },
    Example {
        section: "C.2.4 Indexed Header Field",
        block: "82",
        fields: &[(":method", "GET")],
        table: &[],
        table_size: 0,
    },
];

/// C.3: Request Examples without Huffman Coding.
const C3: [Example; 3] = [
    Example {
        section: "C.3.1 First Request",
        block: "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        table: &[(57, ":authority", "www.example.com")],
        table_size: 57,
    },
    Example {
        section: "C.3.2 Second Request",
        block: "8286 84be 5808 6e6f 2d63 6163 6865",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        table: &[
            (53, "cache-control", "no-cache"),
            (57, ":authority", "www.example.com"),
        ],
        table_size: 110,
    },
    Example {
        section: "C.3.3 Third Request",
        block: "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
        fields: &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        table: &[
            (54, "custom-key", "custom-value"),
            (53, "cache-control", "no-cache"),
            (57, ":authority", "www.example.com"),
        ],
        table_size: 164,
    },
];

/// C.4: Request Examples with Huffman Coding.
const C4: [Example; 3] = [
    Example {
        section: "C.4.1 First Request",
        block: "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ],
        table: &[(57, ":authority", "www.example.com")],
        table_size: 57,
    },
    Example {
        section: "C.4.2 Second Request",
        block: "8286 84be 5886 a8eb 1064 9cbf",
        fields: &[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ],
        table: &[
            (53, "cache-control", "no-cache"),
            (57, ":authority", "www.example.com"),
        ],
        table_size: 110,
    },
    Example {
        section: "C.4.3 Third Request",
        block: "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
        fields: &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ],
        table: &[
            (54, "custom-key", "custom-value"),
            (53, "cache-control", "no-cache"),
            (57, ":authority", "www.example.com"),
        ],
        table_size: 164,
    },
];

/// C.5: Response Examples without Huffman Coding.
const C5: [Example; 3] = [
    Example {
        section: "C.5.1 First Response",
        block: "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        fields: &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (63, "location", "https://www.example.com"),
            (65, "date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            (52, "cache-control", "private"),
            (42, ":status", "302"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.5.2 Second Response",
        block: "4803 3330 37c1 c0bf",
        fields: &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (42, ":status", "307"),
            (63, "location", "https://www.example.com"),
            (65, "date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            (52, "cache-control", "private"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.5.3 Third Response",
        block: "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
        fields: &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ],
        table: &[
            (
                98,
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
            (52, "content-encoding", "gzip"),
            (65, "date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        table_size: 215,
    },
];

/// C.6: Response Examples with Huffman Coding.
const C6: [Example; 3] = [
    Example {
        section: "C.6.1 First Response",
        block: "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
        fields: &[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (63, "location", "https://www.example.com"),
            (65, "date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            (52, "cache-control", "private"),
            (42, ":status", "302"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.6.2 Second Response",
        block: "4883 640e ffc1 c0bf",
        fields: &[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ],
        table: &[
            (42, ":status", "307"),
            (63, "location", "https://www.example.com"),
            (65, "date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            (52, "cache-control", "private"),
        ],
        table_size: 222,
    },
    Example {
        section: "C.6.3 Third Response",
        block: "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        fields: &[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ],
        table: &[
            (
                98,
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
            (52, "content-encoding", "gzip"),
            (65, "date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ],
        table_size: 215,
    },
];
