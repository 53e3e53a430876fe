//! HPACK's static Huffman code (RFC 7541 §5.2, Appendix B): the code table as the RFC gives
//! it, and a decoder generated from it at compile time.
//!
//! The generator builds the code's binary tree (checking that the table is prefix-free,
//! complete and canonical, so a mistyped row stops the build), then a state machine that
//! consumes 4 bits per step: a state is an internal node of the tree (256 of them), and each
//! of its 16 steps says which node follows, which byte (if any) was completed on the way, and
//! whether the path since the last completed byte is valid padding. Every code is at least 5
//! bits long, so a step completes at most one byte. The table is 256 × 16 × 3 = 12 KiB of
//! read-only data.

use super::Error;

/// Appendix B: for each symbol 0..=255 and EOS (256), its code (aligned to the least
/// significant bit) and length in bits.
#[rustfmt::skip]
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), // 0..
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28), // 4..
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28), // 8..
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), // 12..
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28), // 16..
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28), // 20..
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), // 24..
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28), // 28..
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12), // 32..
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), // 36..
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11), // 40..
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6), // 44..
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), // 48..
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6), // 52..
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8), // 56..
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), // 60..
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7), // 64..
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7), // 68..
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), // 72..
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7), // 76..
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7), // 80..
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), // 84..
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13), // 88..
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6), // 92..
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), // 96..
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6), // 100..
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7), // 104..
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), // 108..
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5), // 112..
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7), // 116..
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), // 120..
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28), // 124..
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20), // 128..
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), // 132..
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23), // 136..
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23), // 140..
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), // 144..
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23), // 148..
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23), // 152..
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), // 156..
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22), // 160..
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21), // 164..
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), // 168..
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23), // 172..
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21), // 176..
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), // 180..
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22), // 184..
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23), // 188..
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), // 192..
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25), // 196..
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27), // 200..
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), // 204..
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27), // 208..
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24), // 212..
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), // 216..
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27), // 220..
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21), // 224..
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), // 228..
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25), // 232..
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23), // 236..
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), // 240..
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27), // 244..
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27), // 248..
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), // 252..
    (0x3fffffff, 30), // 256: EOS
];

/// The EOS symbol: never part of a string; its leading bits are the padding.
const EOS: u16 = 256;
/// A tree child that is a leaf (a symbol) rather than an internal node.
const LEAF: u16 = 0x8000;
/// Internal nodes of a complete binary tree with 257 leaves.
const NODES: usize = 256;

/// The code tree: `TREE[node][bit]` is an internal node index or `LEAF | symbol`. Node 0 is
/// the root, which is never a child, so 0 also marks "no child yet" while building.
const fn build_tree() -> [[u16; 2]; NODES] {
    let mut tree = [[0u16; 2]; NODES];
    let mut used = 1;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        assert!(
            len >= 5 && len <= 30 && (code >> len) == 0,
            "code out of range"
        );
        let mut node = 0;
        let mut bit = len;
        while bit > 1 {
            bit -= 1;
            let b = ((code >> bit) & 1) as usize;
            let child = tree[node][b];
            if child == 0 {
                assert!(used < NODES, "more internal nodes than a complete code has");
                tree[node][b] = used as u16;
                node = used;
                used += 1;
            } else {
                assert!(child & LEAF == 0, "a code is the prefix of another");
                node = child as usize;
            }
        }
        let b = (code & 1) as usize;
        assert!(tree[node][b] == 0, "a code is the prefix of another");
        tree[node][b] = LEAF | sym as u16;
        sym += 1;
    }
    // Complete: every internal node has both children (Kraft's sum is exactly 1).
    let mut node = 0;
    while node < NODES {
        assert!(
            tree[node][0] != 0 && tree[node][1] != 0,
            "the code is not complete"
        );
        node += 1;
    }
    tree
}

/// Checks that the codes are the canonical ones for their lengths (assigned in order of
/// length, then symbol), as Appendix B says: every row follows from the lengths alone.
const fn check_canonical() {
    let mut next: u32 = 0;
    let mut len = 1;
    while len <= 30 {
        let mut sym = 0;
        while sym < CODES.len() {
            if CODES[sym].1 as u32 == len {
                assert!(CODES[sym].0 == next, "a code is not the canonical one");
                next += 1;
            }
            sym += 1;
        }
        next <<= 1;
        len += 1;
    }
}

/// One 4-bit step of the decoder.
#[derive(Clone, Copy)]
struct Step {
    /// Node after the step.
    next: u8,
    /// The byte completed during the step, when `flags & EMIT`.
    byte: u8,
    flags: u8,
}

/// The step completed a byte.
const EMIT: u8 = 1;
/// The step reached EOS: the string is malformed.
const FAIL: u8 = 2;
/// The string may end after this step: the bits since the last completed byte are at most 7
/// ones (the start of EOS), or there are none.
const ACCEPT: u8 = 4;

const fn build_steps() -> [[Step; 16]; NODES] {
    check_canonical();
    let tree = build_tree();
    // For each node, whether the path from the root to it is 1^k with k <= 7.
    let mut accepting = [false; NODES];
    accepting[0] = true;
    let mut node = 0usize;
    let mut depth = 0;
    while depth < 7 {
        let child = tree[node][1];
        assert!(
            child & LEAF == 0,
            "the all-ones path is EOS's, longer than 7 bits"
        );
        node = child as usize;
        accepting[node] = true;
        depth += 1;
    }
    let mut steps = [[Step {
        next: 0,
        byte: 0,
        flags: 0,
    }; 16]; NODES];
    let mut state = 0;
    while state < NODES {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = Step {
                next: 0,
                byte: 0,
                flags: 0,
            };
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = tree[node][(nibble >> bit) & 1];
                if child & LEAF == 0 {
                    node = child as usize;
                } else if child & !LEAF == EOS {
                    step.flags |= FAIL;
                    node = 0;
                } else {
                    assert!(step.flags & EMIT == 0, "two bytes completed in one step");
                    step.flags |= EMIT;
                    step.byte = (child & !LEAF) as u8;
                    node = 0;
                }
            }
            step.next = node as u8;
            if accepting[node] {
                step.flags |= ACCEPT;
            }
            steps[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    steps
}

static STEPS: [[Step; 16]; NODES] = build_steps();

/// Decodes the Huffman string `input` into `out` and returns its decoded length. When that
/// length exceeds `out.len()`, the string is still checked to the end and its length
/// returned, but only the first `out.len()` bytes are written.
pub(crate) fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
    let mut state = 0usize;
    let mut last = ACCEPT;
    let mut seen = 0;
    let mut n = 0;
    for &byte in input {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = STEPS[state][nibble as usize];
            // Without a branch on EMIT (taken about every other step, unpredictably): the
            // byte is written at `n` every step and kept only when `n` moves past it.
            if let Some(slot) = out.get_mut(n) {
                *slot = step.byte;
            }
            n += usize::from(step.flags & EMIT);
            seen |= step.flags;
            last = step.flags;
            state = step.next as usize;
        }
    }
    if seen & FAIL != 0 {
        Err(Error::HuffmanEos)
    } else if last & ACCEPT == 0 {
        Err(Error::HuffmanPadding)
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::tests::encoder::huffman_encode as encode;

    fn dec(input: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = vec![0; input.len() * 8 / 5];
        let n = decode(input, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    #[test]
    fn rfc_appendix_c_strings() {
        let cases: [(&[u8], &[u8]); 6] = [
            (
                &[
                    0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
                ],
                b"www.example.com",
            ),
            (&[0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf], b"no-cache"),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f],
                b"custom-key",
            ),
            (
                &[0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf],
                b"custom-value",
            ),
            (&[0x64, 0x02], b"302"),
            (&[0xae, 0xc3, 0x77, 0x1a, 0x4b], b"private"),
        ];
        for (input, text) in cases {
            assert_eq!(dec(input).unwrap(), text);
            assert_eq!(encode(text), input);
        }
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(dec(&encode(&all)).unwrap(), all);
        for b in 0..=255u8 {
            for n in 1..=9 {
                let text = vec![b; n];
                assert_eq!(dec(&encode(&text)).unwrap(), text, "byte {b} x{n}");
            }
        }
        assert_eq!(dec(&[]).unwrap(), b"");
    }

    #[test]
    fn padding_rules() {
        // '0' is 00000 (5 bits): three bits of ones pad it to a byte.
        assert_eq!(dec(&[0b0000_0111]).unwrap(), b"0");
        // Padding with a zero bit in it is not EOS's prefix.
        assert_eq!(dec(&[0b0000_0101]), Err(Error::HuffmanPadding));
        // A whole byte of padding is more than 7 bits.
        assert_eq!(dec(&[0b0000_0111, 0xff]), Err(Error::HuffmanPadding));
        assert_eq!(dec(&[0xff]), Err(Error::HuffmanPadding));
        // 7 bits of padding after 'a' (00011, 5 bits) + '0' (5 bits) = 10 bits, 6 padding.
        assert_eq!(dec(&[0b0001_1000, 0b0011_1111]).unwrap(), b"a0");
        // A code cut short is not padding either: 11111110 starts 10-bit codes ('!' is
        // 11111110 00), and 11111000 is a whole code ('&').
        assert_eq!(dec(&[0b1111_1110]), Err(Error::HuffmanPadding));
        assert_eq!(dec(&[0b1111_1000]).unwrap(), b"&");
    }

    #[test]
    fn eos_is_an_error() {
        // EOS is 30 ones: four bytes of ones reach it.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(Error::HuffmanEos));
        // EOS after a byte, padded.
        assert_eq!(
            dec(&[0b0000_0111, 0xff, 0xff, 0xff, 0xfc]),
            Err(Error::HuffmanEos)
        );
    }

    #[test]
    fn short_output_counts_and_checks_to_the_end() {
        let input = encode(b"hello world");
        let mut out = [0u8; 4];
        assert_eq!(decode(&input, &mut out), Ok(11));
        assert_eq!(&out, b"hell");
        let mut bad = input.clone();
        bad.push(0xff);
        assert_eq!(decode(&bad, &mut out), Err(Error::HuffmanPadding));
        assert_eq!(decode(&input, &mut []), Ok(11));
    }
}
