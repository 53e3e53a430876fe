//! Captures that start mid-connection: the encoder holds entries the decoder never saw.
//! Static indices and our own insertions decode right, the rest is unknown, never wrong.

use super::super::Error;
use super::encoder::{Encoder, Repr};
use super::{Got, decode, decoder, field};

/// One field for [`block`]: name, value, representation, name by index when possible.
type Spec<'a> = (&'a str, &'a str, Repr, bool);

/// Encodes `fields` (Huffman values, raw names) as one block.
fn block(e: &mut Encoder, fields: &[Spec<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for &(name, value, repr, name_index) in fields {
        e.field(
            &mut out,
            name.as_bytes(),
            value.as_bytes(),
            repr,
            name_index,
            (false, true),
        );
    }
    out
}

const UNKNOWN: Got = Got::Field {
    name: None,
    value: None,
    never: false,
};

fn value_only(value: &str) -> Got {
    Got::Field {
        name: None,
        value: Some(value.into()),
        never: false,
    }
}

use Repr::{Incremental as Inc, Indexed as Idx, Without};

#[test]
fn static_and_our_own_insertions_decode_older_entries_are_unknown() {
    let mut e = Encoder::new(4096);
    let names = ["k0", "k1", "k2", "k3", "k4"];
    let before: Vec<Spec> = names.iter().map(|&n| (n, "old", Inc, false)).collect();
    block(&mut e, &before); // never seen by the decoder
    let mut d = decoder(4096);
    let got = decode(
        &mut d,
        &block(
            &mut e,
            &[
                (":method", "GET", Idx, false),
                ("k4", "old", Idx, false), // dynamic 1 for the encoder
                ("k0", "old", Idx, false), // dynamic 5
                ("new", "1", Inc, false),
            ],
        ),
    )
    .unwrap();
    assert_eq!(
        got,
        vec![field(":method", "GET"), UNKNOWN, UNKNOWN, field("new", "1")]
    );
    let got = decode(
        &mut d,
        &block(
            &mut e,
            &[("new", "1", Idx, false), ("k4", "old", Idx, false)],
        ),
    )
    .unwrap();
    assert_eq!(got, vec![field("new", "1"), UNKNOWN]);
    assert!(!d.holds_all_entries());
}

#[test]
fn insertion_with_an_unknown_name_keeps_later_indices_aligned() {
    let mut e = Encoder::new(4096);
    block(&mut e, &[("x-trace", "1", Inc, false)]);
    let mut d = decoder(4096);
    let got = decode(
        &mut d,
        &block(
            &mut e,
            &[("x-trace", "2", Inc, true), ("y", "3", Inc, false)],
        ),
    )
    .unwrap();
    // The name refers to an entry we never saw; the value is known.
    assert_eq!(got, vec![value_only("2"), field("y", "3")]);
    let got = decode(
        &mut d,
        &block(
            &mut e,
            &[
                ("y", "3", Idx, false),          // 62
                ("x-trace", "2", Idx, false),    // 63: our placeholder
                ("x-trace", "1", Idx, false),    // 64: before the capture
                ("x-trace", "4", Without, true), // name from 63, which we hold without name
            ],
        ),
    )
    .unwrap();
    assert_eq!(
        got,
        vec![field("y", "3"), value_only("2"), UNKNOWN, value_only("4")]
    );
}

/// The encoder's limit becomes known (a size update) while it holds an entry we never saw;
/// one of our entries has an unknown size. What is reported after its eviction.
#[test]
fn eviction_after_an_entry_of_unknown_size() {
    let old = "x-old-name-of-23-chars!";
    assert_eq!(old.len(), 23);
    let mut e = Encoder::new(4096);
    block(&mut e, &[(old, "o", Inc, false)]); // 56 bytes, never seen
    let mut d = decoder(4096);

    // Size update to 200 (the encoder keeps its 56-byte entry), then an entry named after it
    // with a 40-byte value: 95 bytes for the encoder, at least 72 for us.
    let v40 = "v".repeat(40);
    let mut b = Vec::new();
    e.size_update(&mut b, 200);
    b.extend(block(&mut e, &[(old, &v40, Inc, true)]));
    assert_eq!(
        decode(&mut d, &b).unwrap(),
        vec![Got::Size(200), value_only(&v40)]
    );
    // The old entry is index 63 for the encoder: unknown here, not an error.
    assert_eq!(
        decode(&mut d, &block(&mut e, &[(old, "o", Idx, false)])).unwrap(),
        vec![UNKNOWN]
    );
    assert!(!d.holds_all_entries());

    // A: 73 bytes. The encoder evicts its old entry (56 + 95 + 73 > 200). We hold 72 + 73 by
    // our count; 145 + 32 <= 200, so an older entry could still fit: not proven complete.
    let a40 = "a".repeat(40);
    let got = decode(&mut d, &block(&mut e, &[("a", &a40, Inc, false)])).unwrap();
    assert_eq!(got, vec![field("a", &a40)]);
    assert_eq!(e.table.len(), 2);
    assert!(!d.holds_all_entries());
    let got = decode(
        &mut d,
        &block(&mut e, &[("a", &a40, Idx, false), (old, &v40, Idx, false)]),
    );
    assert_eq!(got.unwrap(), vec![field("a", &a40), value_only(&v40)]);
    // What the encoder no longer has is unknown to us, not an error: we cannot prove it gone.
    let mut index_64 = Vec::new();
    super::encoder::integer(&mut index_64, 0x80, 7, 64);
    assert_eq!(decode(&mut d, &index_64).unwrap(), vec![UNKNOWN]);

    // B: 73 bytes. The encoder evicts the entry of unknown size (95 + 73 + 73 > 200); by our
    // lower bounds too (72 + 73 + 73 > 200): we drop it, and now hold all the encoder holds.
    let b40 = "b".repeat(40);
    let got = decode(&mut d, &block(&mut e, &[("b", &b40, Inc, false)])).unwrap();
    assert_eq!(got, vec![field("b", &b40)]);
    assert_eq!(d.entries(), 2);
    assert!(d.holds_all_entries());
    let got = decode(
        &mut d,
        &block(&mut e, &[("b", &b40, Idx, false), ("a", &a40, Idx, false)]),
    );
    assert_eq!(got.unwrap(), vec![field("b", &b40), field("a", &a40)]);
    assert_eq!(decode(&mut d, &index_64), Err(Error::IndexOutOfRange));
}

/// The encoder's limit is unknown and smaller than an entry: it empties its table and does
/// not insert; we cannot tell, append it, and still decode every valid reference right.
#[test]
fn entry_larger_than_an_unknown_limit() {
    let mut e = Encoder::new(100);
    block(&mut e, &[("p", "1", Inc, false)]);
    let mut d = decoder(4096);
    let big = "x".repeat(100);
    let got = decode(
        &mut d,
        &block(&mut e, &[("big", &big, Inc, false), ("y", "2", Inc, false)]),
    );
    assert_eq!(got.unwrap(), vec![field("big", &big), field("y", "2")]);
    assert_eq!(e.table.len(), 1);
    assert_eq!(d.entries(), 2); // "big" is held though the encoder never inserted it
    let got = decode(&mut d, &block(&mut e, &[("y", "2", Idx, false)]));
    assert_eq!(got.unwrap(), vec![field("y", "2")]);
}

/// What the field notes saw with grpcio: `:path`, `:authority`, `content-type`, `te` and
/// `user-agent` indexed by earlier calls. A repeated call shows only its static fields; a
/// method first called after the start decodes fully, and so do its later calls.
#[test]
fn grpc_calls_before_and_after_the_start() {
    fn call<'a>(path: &'a str, repeat: bool) -> Vec<Spec<'a>> {
        let how = if repeat { Idx } else { Inc };
        vec![
            (":method", "POST", Idx, false),
            (":scheme", "http", Idx, false),
            (":path", path, how, true),
            (":authority", "svc:50051", how, true),
            ("content-type", "application/grpc", how, true),
            ("te", "trailers", how, false),
            ("user-agent", "grpc-python/1.85", how, true),
        ]
    }
    let mut e = Encoder::new(4096);
    block(&mut e, &call("/pkg.Svc/Old", false));
    block(&mut e, &call("/pkg.Svc/Old", true));
    let mut d = decoder(4096);
    let got = decode(&mut d, &block(&mut e, &call("/pkg.Svc/Old", true))).unwrap();
    let mut want = vec![field(":method", "POST"), field(":scheme", "http")];
    want.extend([UNKNOWN; 5]);
    assert_eq!(got, want);

    // A new method: its path is a new literal; the other fields are still the old entries.
    let mut first = call("/pkg.Svc/New", true);
    first[2].2 = Inc;
    let got = decode(&mut d, &block(&mut e, &first)).unwrap();
    assert_eq!(got[2], field(":path", "/pkg.Svc/New"));
    assert_eq!(got[3..], [UNKNOWN; 4]);
    // Its next call refers to the path by index: known.
    let got = decode(&mut d, &block(&mut e, &call("/pkg.Svc/New", true))).unwrap();
    assert_eq!(got[2], field(":path", "/pkg.Svc/New"));

    // From the start of the connection, everything is known.
    let mut e = Encoder::new(4096);
    let mut d = decoder(4096);
    d.start(4096);
    for repeat in [false, true] {
        let got = decode(&mut d, &block(&mut e, &call("/pkg.Svc/Old", repeat))).unwrap();
        assert!(got.iter().all(|g| matches!(
            g,
            Got::Field {
                name: Some(_),
                value: Some(_),
                ..
            }
        )));
    }
}

/// A lost header block: the decoder is told to forget, and from there on behaves as a
/// capture started mid-connection.
#[test]
fn lost_block_then_forget() {
    let mut e = Encoder::new(4096);
    let mut d = decoder(4096);
    d.start(4096);
    decode(&mut d, &block(&mut e, &[("a", "1", Inc, false)])).unwrap();
    block(&mut e, &[("b", "2", Inc, false)]); // lost
    d.forget();
    let got = decode(
        &mut d,
        &block(
            &mut e,
            &[
                ("b", "2", Idx, false),
                ("a", "1", Idx, false),
                ("c", "3", Inc, false),
            ],
        ),
    )
    .unwrap();
    assert_eq!(got, vec![UNKNOWN, UNKNOWN, field("c", "3")]);
    // Without forgetting, index 62 would have said "a": wrong. With it, "c" is right.
    let got = decode(
        &mut d,
        &block(&mut e, &[("c", "3", Idx, false), ("b", "2", Idx, false)]),
    );
    assert_eq!(got.unwrap(), vec![field("c", "3"), UNKNOWN]);
}
