//! One small test per case: malformed blocks, size updates, eviction, an entry larger than
//! the table, the scratch buffer and the ring's wrap, hostile inputs.

use super::super::{Error, Event, Text, Unknown};
use super::encoder::{Encoder, Repr, huffman_encode, integer, string};
use super::{Got, decode, decode_with, decoder, field};

const RAW: (bool, bool) = (false, false);

/// A literal with incremental indexing and a new name, raw strings.
fn insert(name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x40];
    string(&mut out, name.as_bytes(), false);
    string(&mut out, value.as_bytes(), false);
    out
}

/// An indexed field.
fn index(i: usize) -> Vec<u8> {
    let mut out = Vec::new();
    integer(&mut out, 0x80, 7, i);
    out
}

fn unknown(never: bool) -> Got {
    Got::Field {
        name: None,
        value: None,
        never,
    }
}

#[test]
fn index_zero_is_an_error_and_the_table_is_forgotten() {
    let mut d = decoder(4096);
    d.start(4096);
    decode(&mut d, &insert("a", "1")).unwrap();
    assert_eq!(decode(&mut d, &[0x80]), Err(Error::IndexZero));
    assert_eq!(d.entries(), 0);
    assert!(!d.holds_all_entries());
    assert_eq!(d.encoder_max(), None);
    // What index 62 was is no longer known.
    assert_eq!(decode(&mut d, &index(62)), Ok(vec![unknown(false)]));
}

#[test]
fn name_index_zero_means_a_new_name() {
    let mut d = decoder(4096);
    d.start(4096);
    assert_eq!(decode(&mut d, &insert("x", "y")), Ok(vec![field("x", "y")]));
}

#[test]
fn truncated_blocks() {
    let cases: [&[u8]; 7] = [
        &[0xff],                               // index continues past the end
        &[0x41],                               // literal without its value
        &[0x40, 0x01, b'a'],                   // new name without a value
        &[0x40, 0x05, b'a', b'b'],             // string longer than the block
        &[0x04, 0x83, 0xff],                   // Huffman string longer than the block
        &[0x3f],                               // size update continues past the end
        &[0x04, 0x7f, 0xff, 0xff, 0xff, 0x0f], // string of ~256 MiB in a 6-byte block
    ];
    for block in cases {
        let mut d = decoder(4096);
        d.start(4096);
        assert_eq!(decode(&mut d, block), Err(Error::Truncated), "{block:02x?}");
    }
}

#[test]
fn integer_overflow() {
    let mut d = decoder(4096);
    d.start(4096);
    let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    assert_eq!(decode(&mut d, &huge), Err(Error::IntegerOverflow));
    let long = [0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    assert_eq!(decode(&mut d, &long), Err(Error::IntegerOverflow));
}

#[test]
fn huffman_errors() {
    let mut d = decoder(4096);
    // :path (index 4), value Huffman-coded: a byte of padding, then EOS.
    assert_eq!(
        decode(&mut d, &[0x04, 0x81, 0xff]),
        Err(Error::HuffmanPadding)
    );
    assert_eq!(
        decode(&mut d, &[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]),
        Err(Error::HuffmanEos)
    );
    // A Huffman name too.
    assert_eq!(
        decode(&mut d, &[0x00, 0x81, 0xfe, 0x00]),
        Err(Error::HuffmanPadding)
    );
}

#[test]
fn size_update_is_reported_and_evicts() {
    let mut d = decoder(4096);
    d.start(4096);
    for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        decode(&mut d, &insert(n, v)).unwrap();
    }
    // 0x3f 0x27 is 31 + 39 = 70: room for two 34-byte entries.
    let got = decode(&mut d, &[0x3f, 0x27, 0xbf]).unwrap();
    assert_eq!(got, vec![Got::Size(70), field("b", "2")]);
    assert_eq!(d.entries(), 2);
    assert_eq!(decode(&mut d, &index(64)), Err(Error::IndexOutOfRange));
}

#[test]
fn two_size_updates_then_fields() {
    let mut d = decoder(4096);
    d.start(4096);
    decode(&mut d, &insert("a", "1")).unwrap();
    // 0 empties the table, then back to 4096 (0x3f 0xe1 0x1f = 31 + 97 + 31 * 128).
    let got = decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]).unwrap();
    assert_eq!(
        got,
        vec![Got::Size(0), Got::Size(4096), field(":method", "GET")]
    );
    assert_eq!(d.entries(), 0);
    assert_eq!(decode(&mut d, &index(62)), Err(Error::IndexOutOfRange));
}

#[test]
fn size_update_after_a_field_is_an_error() {
    let mut d = decoder(4096);
    d.start(4096);
    assert_eq!(
        decode(&mut d, &[0x82, 0x20]),
        Err(Error::SizeUpdateAfterField)
    );
}

#[test]
fn size_update_to_4_gib_keeps_working_at_our_capacity() {
    let mut d = decoder(256);
    d.start(4096);
    // 2^32 itself does not fit the integer limit.
    assert_eq!(
        decode(&mut d, &[0x3f, 0xe1, 0xff, 0xff, 0xff, 0x0f]),
        Err(Error::IntegerOverflow)
    );
    d.start(4096);
    let got = decode(&mut d, &[0x3f, 0xe0, 0xff, 0xff, 0xff, 0x0f]).unwrap();
    assert_eq!(got, vec![Got::Size(u32::MAX)]);
    assert_eq!(d.encoder_max(), Some(u32::MAX));
    // Twenty entries: our 256 bytes keep the newest eight (256 / 32 slots); older ones are
    // unknown, not errors, since the encoder may still hold them.
    for i in 0..20 {
        decode(&mut d, &insert("name", &format!("value-{i:010}"))).unwrap();
    }
    assert_eq!(d.entries(), 8);
    assert!(!d.holds_all_entries());
    let got = decode(&mut d, &[0xbe, 0xc5, 0xc6]).unwrap();
    assert_eq!(got[0], field("name", "value-0000000019"));
    assert_eq!(got[1], field("name", "value-0000000012"));
    assert_eq!(got[2], unknown(false));
}

#[test]
fn eviction_is_oldest_first() {
    let mut d = decoder(4096);
    d.start(100);
    for (n, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        decode(&mut d, &insert(n, v)).unwrap();
    }
    assert_eq!(
        decode(&mut d, &[0xbe, 0xbf]),
        Ok(vec![field("c", "3"), field("b", "2")])
    );
    assert_eq!(decode(&mut d, &[0xc0]), Err(Error::IndexOutOfRange));
}

#[test]
fn entry_larger_than_the_table_empties_it() {
    let mut d = decoder(4096);
    d.start(100);
    decode(&mut d, &insert("a", "1")).unwrap();
    // 32 + 1 + 68 = 101 > 100: reported, not inserted, and the table is empty.
    let big = "v".repeat(68);
    assert_eq!(
        decode(&mut d, &insert("b", &big)),
        Ok(vec![field("b", &big)])
    );
    assert_eq!(d.entries(), 0);
    assert_eq!(decode(&mut d, &index(62)), Err(Error::IndexOutOfRange));
}

#[test]
fn index_past_the_table_from_the_start_is_an_error_mid_connection_unknown() {
    let mut d = decoder(4096);
    d.start(4096);
    assert_eq!(decode(&mut d, &index(62)), Err(Error::IndexOutOfRange));
    let mut d = decoder(4096);
    assert_eq!(decode(&mut d, &index(62)), Ok(vec![unknown(false)]));
    assert_eq!(decode(&mut d, &index(1000)), Ok(vec![unknown(false)]));
    // A literal whose name index is unknown: the value is still known.
    let mut block = Vec::new();
    integer(&mut block, 0x00, 4, 70);
    string(&mut block, b"v", true);
    let got = decode(&mut d, &block).unwrap();
    assert_eq!(
        got,
        vec![Got::Field {
            name: None,
            value: Some(b"v".to_vec()),
            never: false
        }]
    );
}

#[test]
fn never_indexed_fields_are_flagged() {
    let mut d = decoder(4096);
    d.start(4096);
    let mut e = Encoder::new(4096);
    let mut block = Vec::new();
    e.field(
        &mut block,
        b"x-secret",
        b"s1",
        Repr::Incremental,
        false,
        RAW,
    );
    // Same name from the dynamic table, never indexed, Huffman value.
    e.field(
        &mut block,
        b"x-secret",
        b"s2",
        Repr::Never,
        true,
        (false, true),
    );
    e.field(&mut block, b"authorization", b"s3", Repr::Never, true, RAW);
    e.field(&mut block, b"x-plain", b"p", Repr::Without, false, RAW);
    let got = decode(&mut d, &block).unwrap();
    let never = |n: &str, v: &str| Got::Field {
        name: Some(n.into()),
        value: Some(v.into()),
        never: true,
    };
    assert_eq!(
        got,
        vec![
            field("x-secret", "s1"),
            never("x-secret", "s2"),
            never("authorization", "s3"),
            field("x-plain", "p"),
        ]
    );
    assert_eq!(d.entries(), 1);
}

#[test]
fn huffman_string_longer_than_scratch_is_too_long_and_still_inserted() {
    let mut d = decoder(4096);
    d.start(4096);
    let long = "x".repeat(40);
    let mut block = Vec::new();
    let mut e = Encoder::new(4096);
    e.field(
        &mut block,
        b"k",
        long.as_bytes(),
        Repr::Incremental,
        false,
        (true, true),
    );
    e.field(
        &mut block,
        b"k2",
        b"v2",
        Repr::Incremental,
        false,
        (true, true),
    );
    let mut scratch = [0u8; 16];
    let got = decode_with(&mut d, &block, &mut scratch).unwrap();
    assert_eq!(
        got,
        vec![
            Got::Field {
                name: Some(b"k".to_vec()),
                value: None,
                never: false
            },
            field("k2", "v2")
        ]
    );
    // The entry keeps its place and its exact size; its value is unknown.
    assert_eq!(d.table().size(), (32 + 1 + 40) + (32 + 2 + 2));
    let mut unknowns = Vec::new();
    d.decode(&index(63), &mut [0; 64], |event| {
        if let Event::Field(f) = event {
            let why = match f.value {
                Text::Unknown(why) => Some(why),
                Text::Known(_) => None,
            };
            unknowns.push((f.name.known().map(<[u8]>::to_vec), why));
        }
    })
    .unwrap();
    assert_eq!(
        unknowns,
        vec![(Some(b"k".to_vec()), Some(Unknown::TooLong))]
    );
}

#[test]
fn raw_strings_need_no_scratch() {
    let mut d = decoder(4096);
    d.start(4096);
    let got = decode_with(&mut d, &insert("name", &"v".repeat(300)), &mut []).unwrap();
    assert_eq!(got, vec![field("name", &"v".repeat(300))]);
    // From the table, contiguous: no scratch either.
    let got = decode_with(&mut d, &index(62), &mut []).unwrap();
    assert_eq!(got, vec![field("name", &"v".repeat(300))]);
}

#[test]
fn entries_wrapping_the_ring_are_joined_in_scratch() {
    let mut d = decoder(64);
    d.start(4096);
    // 5 + 2 + 20 = 27 arena bytes each, 2 slots: the third replaces the first, starts at 54
    // and wraps.
    for i in 0..3 {
        decode(&mut d, &insert(&format!("k{i}"), &format!("{i:020}"))).unwrap();
    }
    assert_eq!(
        decode(&mut d, &index(62)),
        Ok(vec![field("k2", &format!("{:020}", 2))])
    );
    // Without scratch, the wrapped value cannot be handed out in one piece.
    let got = decode_with(&mut d, &index(62), &mut []).unwrap();
    assert_eq!(
        got,
        vec![Got::Field {
            name: Some(b"k2".to_vec()),
            value: None,
            never: false
        }]
    );
}

#[test]
fn thousands_of_tiny_headers() {
    let mut d = decoder(4096);
    d.start(4096);
    // 10 000 empty entries in one block: each is 32 bytes for HPACK, so 128 remain.
    let block: Vec<u8> = [0x40, 0x00, 0x00].repeat(10_000);
    let got = decode(&mut d, &block).unwrap();
    assert_eq!(got.len(), 10_000);
    assert!(got.iter().all(|g| *g == field("", "")));
    assert_eq!(d.entries(), 128);
    // 10 000 references to the oldest of them.
    let block = index(61 + 128).repeat(10_000);
    let got = decode(&mut d, &block).unwrap();
    assert_eq!(got.len(), 10_000);
    assert!(got.iter().all(|g| *g == field("", "")));
}

#[test]
fn every_prefix_of_valid_blocks_decodes_or_errors() {
    let mut e = Encoder::new(4096);
    let mut block = Vec::new();
    e.field(
        &mut block,
        b":path",
        b"/a/b/c",
        Repr::Incremental,
        true,
        (false, true),
    );
    e.field(
        &mut block,
        b"x-k",
        b"value",
        Repr::Incremental,
        false,
        (true, false),
    );
    e.field(&mut block, b"x-k", b"value", Repr::Indexed, false, RAW);
    e.field(
        &mut block,
        b"x-k",
        b"other",
        Repr::Never,
        true,
        (true, true),
    );
    for cut in 0..=block.len() {
        let mut d = decoder(4096);
        d.start(4096);
        let result = decode(&mut d, &block[..cut]);
        if cut == block.len() {
            assert!(result.is_ok());
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut d = decoder(128);
    let mut scratch = [0u8; 64];
    for round in 0..20_000 {
        if round % 3 == 0 {
            d.start(next() as u32 % 512);
        }
        let len = (next() % 40) as usize;
        let block: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = d.decode(&block, &mut scratch, |_| {});
    }
    // A Huffman-coded block of random symbols, to reach deep into the decoder too.
    let text: Vec<u8> = (0..200).map(|_| next() as u8).collect();
    assert!(huffman_encode(&text).len() > 100);
    let mut full = vec![0x00];
    string(&mut full, b"name", true);
    string(&mut full, &text, true);
    let got = decode(&mut d, &full).unwrap();
    assert_eq!(
        got,
        vec![Got::Field {
            name: Some(b"name".to_vec()),
            value: Some(text),
            never: false
        }]
    );
}

#[test]
fn size_update_mirrors_the_encoders_eviction() {
    let mut d = decoder(4096);
    d.start(4096);
    let mut e = Encoder::new(4096);
    let mut block = Vec::new();
    for i in 0..5 {
        e.field(
            &mut block,
            format!("k{i}").as_bytes(),
            b"v",
            Repr::Incremental,
            false,
            RAW,
        );
    }
    decode(&mut d, &block).unwrap();
    let mut block = Vec::new();
    e.size_update(&mut block, 100);
    assert_eq!(e.table.len(), 2);
    e.field(&mut block, b"k4", b"v", Repr::Indexed, false, RAW);
    e.field(&mut block, b"k3", b"v", Repr::Indexed, false, RAW);
    let got = decode(&mut d, &block).unwrap();
    assert_eq!(
        got,
        vec![Got::Size(100), field("k4", "v"), field("k3", "v")]
    );
    assert_eq!(d.entries(), 2);
    assert_eq!(decode(&mut d, &index(64)), Err(Error::IndexOutOfRange));
}
