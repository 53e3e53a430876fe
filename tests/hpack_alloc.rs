//! Decoding HPACK header blocks allocates nothing: a counting global allocator around
//! `Decoder::decode` over RFC 7541's Huffman-coded requests (C.4) and responses with eviction
//! in a 256-byte table whose ring wraps (C.6), from the start and mid-connection.
//!
//! A test binary of its own, with a single test, so that nothing else allocates meanwhile.

use pcap_sensor::http2::hpack::{Decoder, Event, Text, storage_len};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// RFC 7541 C.4.1-C.4.3: requests with Huffman coding.
const REQUESTS: [&str; 3] = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

/// RFC 7541 C.6.1-C.6.3: responses with Huffman coding, evicting in a 256-byte table.
const RESPONSES: [&str; 3] = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e \
     919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 \
     821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed \
     4ee5 b106 3d50 07",
];

#[test]
fn decoding_header_blocks_does_not_allocate() {
    // Everything the decoder uses is reserved here, before counting.
    let requests: Vec<Vec<u8>> = REQUESTS.iter().map(|s| hex(s)).collect();
    let responses: Vec<Vec<u8>> = RESPONSES.iter().map(|s| hex(s)).collect();
    let mut big = Decoder::new(vec![0u8; storage_len(4096)].into_boxed_slice(), 4096).unwrap();
    let mut small = Decoder::new([0u8; storage_len(256)], 256).unwrap();
    let mut scratch = vec![0u8; 4096];
    let (mut fields, mut known, mut bytes) = (0usize, 0usize, 0usize);
    let mut count = |event: Event<'_>| {
        if let Event::Field(f) = event {
            fields += 1;
            if let (Text::Known(n), Text::Known(v)) = (f.name, f.value) {
                known += 1;
                bytes += n.len() + v.len();
            }
        }
    };

    let before = allocations();
    for _ in 0..100 {
        big.start(4096);
        for block in &requests {
            big.decode(block, &mut scratch, &mut count).unwrap();
        }
        small.start(256);
        for block in &responses {
            small.decode(block, &mut scratch, &mut count).unwrap();
        }
        // Mid-connection: the third request and response refer to entries never seen.
        big.forget();
        big.decode(&requests[2], &mut scratch, &mut count).unwrap();
        small.forget();
        small
            .decode(&responses[2], &mut scratch, &mut count)
            .unwrap();
        // Errors allocate nothing either.
        big.decode(&[0x80], &mut scratch, &mut count).unwrap_err();
    }
    let after = allocations();

    assert_eq!(after - before, 0, "allocations while decoding");
    assert_eq!(fields, 100 * (4 + 5 + 5 + 4 + 4 + 6 + 5 + 6));
    assert!(known < fields && bytes > 0, "{known} of {fields}");
}
