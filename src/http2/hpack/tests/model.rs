//! Model test: the reference encoder turns random header lists into blocks, with random
//! representations, Huffman or not, size updates (some above our capacity), and entries
//! larger than the table. Decoded from the start with enough memory, every block gives back
//! exactly its list. Decoded with less memory, from a random later block, after a lost block,
//! or with a tiny scratch buffer, every name and value is either right or unknown, and no
//! valid block is an error.

use super::encoder::{Encoder, Repr};
use super::{Got, decode_with, decoder};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const NAMES: [&str; 14] = [
    ":path",
    ":method",
    ":authority",
    ":status",
    "content-type",
    "user-agent",
    "cookie",
    "date",
    "x-request-id",
    "grpc-status",
    "grpc-message",
    "te",
    "x-custom-header-with-a-long-name",
    "a",
];
const VALUES: [&str; 10] = [
    "",
    "0",
    "1",
    "GET",
    "/",
    "/pkg.Svc/Method",
    "application/grpc",
    "trailers",
    "gzip",
    "ok",
];

fn random_field(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let name = match rng.below(20) {
        0 => {
            let len = 1 + rng.below(12);
            rng.bytes(len)
        }
        _ => rng.pick(&NAMES).as_bytes().to_vec(),
    };
    let value = match rng.below(20) {
        0..=9 => rng.pick(&VALUES).as_bytes().to_vec(),
        10..=17 => {
            let len = rng.below(60);
            rng.bytes(len)
        }
        // Long values are one repeated byte: cheap to code, as long as random ones.
        18 => vec![b'a' + rng.below(26) as u8; 100 + rng.below(900)],
        // Sometimes larger than any table here: it empties the encoder's.
        _ => vec![b'a' + rng.below(26) as u8; 1000 + rng.below(8000)],
    };
    (name, value)
}

/// A block, what it encodes, and which of its events refer to a dynamic table entry.
struct Block {
    bytes: Vec<u8>,
    truth: Vec<Got>,
    dynamic: Vec<bool>,
}

/// One block; `settings` bounds the size updates.
fn random_block(rng: &mut Rng, e: &mut Encoder, settings: usize) -> Block {
    let mut block = Vec::new();
    let mut truth = Vec::new();
    let mut dynamic = Vec::new();
    if rng.percent(10) {
        for _ in 0..1 + rng.below(2) {
            let max = match rng.below(5) {
                0 => 0,
                1 => settings,
                2 => 4096.min(settings),
                _ => rng.below(settings + 1),
            };
            e.size_update(&mut block, max);
            truth.push(Got::Size(max as u32));
            dynamic.push(false);
        }
    }
    let count = if rng.percent(5) {
        40 + rng.below(200)
    } else {
        1 + rng.below(12)
    };
    for _ in 0..count {
        let (name, value) = if rng.percent(40) && !e.table.is_empty() {
            // Repeat an entry of the encoder's table, as real traffic does.
            e.table[rng.below(e.table.len())].clone()
        } else {
            random_field(rng)
        };
        let repr = if e.find(&name, &value).is_some() && rng.percent(60) {
            Repr::Indexed
        } else {
            match rng.below(10) {
                0..=5 => Repr::Incremental,
                6..=8 => Repr::Without,
                _ => Repr::Never,
            }
        };
        let huffman = (rng.percent(50), rng.percent(50));
        dynamic.push(repr == Repr::Indexed && e.find(&name, &value) > Some(61));
        e.field(&mut block, &name, &value, repr, rng.percent(70), huffman);
        truth.push(Got::Field {
            name: Some(name),
            value: Some(value),
            never: repr == Repr::Never,
        });
    }
    Block {
        bytes: block,
        truth,
        dynamic,
    }
}

/// A connection of `blocks` blocks.
fn connection(seed: u64, blocks: usize, settings: usize) -> Vec<Block> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut e = Encoder::new(4096.min(settings));
    (0..blocks)
        .map(|_| random_block(&mut rng, &mut e, settings))
        .collect()
}

/// Counts of fields, of names and values reported unknown, and of references to dynamic
/// entries fully known and not.
#[derive(Default, Debug)]
struct Tally {
    fields: usize,
    unknown: usize,
    dynamic_known: usize,
    dynamic_unknown: usize,
}

impl Tally {
    /// Both outcomes occur, for fields and for dynamic references: the test is not vacuous.
    fn assert_mixed(&self) {
        assert!(self.unknown > 0 && self.unknown < self.fields, "{self:?}");
        assert!(
            self.dynamic_known > 0 && self.dynamic_unknown > 0,
            "{self:?}"
        );
    }
}

/// Every known name and value equals the truth; the never-indexed flag and size updates too.
fn check_sound(got: &[Got], block: &Block, tally: &mut Tally, what: &str) {
    assert_eq!(got.len(), block.truth.len(), "{what}");
    for ((g, t), &dynamic) in got.iter().zip(&block.truth).zip(&block.dynamic) {
        if dynamic {
            match g {
                Got::Field {
                    name: Some(_),
                    value: Some(_),
                    ..
                } => tally.dynamic_known += 1,
                _ => tally.dynamic_unknown += 1,
            }
        }
        match (g, t) {
            (Got::Size(a), Got::Size(b)) => assert_eq!(a, b, "{what}"),
            (
                Got::Field {
                    name: gn,
                    value: gv,
                    never: g_never,
                },
                Got::Field {
                    name: Some(tn),
                    value: Some(tv),
                    never: t_never,
                },
            ) => {
                tally.fields += 1;
                for (got, truth) in [(gn, tn), (gv, tv)] {
                    match got {
                        Some(bytes) => assert_eq!(bytes, truth, "{what}: a wrong value"),
                        None => tally.unknown += 1,
                    }
                }
                assert_eq!(g_never, t_never, "{what}");
            }
            _ => panic!("{what}: {g:?} for {t:?}"),
        }
    }
}

const SEEDS: u64 = 150;
const BLOCKS: usize = 40;

#[test]
fn from_the_start_with_enough_memory_every_list_comes_back() {
    let mut scratch = vec![0; 64 * 1024];
    for seed in 0..SEEDS {
        // Encoder tables up to our capacity: 4096, or 65535 for a few.
        let settings = if seed % 10 == 0 { 65535 } else { 4096 };
        let mut d = decoder(settings);
        d.start(4096);
        for (i, block) in connection(seed, BLOCKS, settings).iter().enumerate() {
            let got = decode_with(&mut d, &block.bytes, &mut scratch)
                .unwrap_or_else(|e| panic!("seed {seed} block {i}: {e}"));
            assert_eq!(got, block.truth, "seed {seed} block {i}");
        }
    }
}

#[test]
fn less_memory_than_the_encoder_is_never_wrong() {
    let mut scratch = vec![0; 64 * 1024];
    let mut tally = Tally::default();
    for seed in 0..SEEDS {
        let mut d = decoder(if seed % 2 == 0 { 256 } else { 1024 });
        d.start(4096);
        for (i, block) in connection(seed, BLOCKS, 16384).iter().enumerate() {
            let what = format!("seed {seed} block {i}");
            let got = decode_with(&mut d, &block.bytes, &mut scratch).expect(&what);
            check_sound(&got, block, &mut tally, &what);
        }
    }
    tally.assert_mixed();
}

#[test]
fn from_a_random_later_block_is_never_wrong() {
    let mut scratch = vec![0; 64 * 1024];
    let mut tally = Tally::default();
    let mut rng = Rng(7);
    for seed in 0..SEEDS {
        let settings = [4096, 16384, 512][seed as usize % 3];
        let blocks = connection(seed, BLOCKS, settings);
        let start = 1 + rng.below(BLOCKS - 1);
        let mut d = decoder(4096);
        for (i, block) in blocks.iter().enumerate().skip(start) {
            let what = format!("seed {seed} from block {start}, block {i}");
            let got = decode_with(&mut d, &block.bytes, &mut scratch).expect(&what);
            check_sound(&got, block, &mut tally, &what);
        }
    }
    // Both outcomes occur: the test is not vacuous.
    tally.assert_mixed();
}

#[test]
fn after_a_lost_block_and_forget_is_never_wrong() {
    let mut scratch = vec![0; 64 * 1024];
    let mut tally = Tally::default();
    let mut rng = Rng(11);
    for seed in 0..SEEDS {
        let blocks = connection(seed, BLOCKS, 4096);
        let lost = rng.below(BLOCKS);
        let mut d = decoder(4096);
        d.start(4096);
        for (i, block) in blocks.iter().enumerate() {
            if i == lost {
                d.forget();
                continue;
            }
            let what = format!("seed {seed} lost {lost}, block {i}");
            let got = decode_with(&mut d, &block.bytes, &mut scratch).expect(&what);
            check_sound(&got, block, &mut tally, &what);
        }
    }
    tally.assert_mixed();
}

#[test]
fn tiny_scratch_is_never_wrong() {
    let mut tally = Tally::default();
    for seed in 0..SEEDS {
        let mut scratch = vec![0; (seed % 24) as usize];
        let mut d = decoder(4096);
        d.start(4096);
        for (i, block) in connection(seed, BLOCKS, 4096).iter().enumerate() {
            let what = format!("seed {seed} block {i}");
            let got = decode_with(&mut d, &block.bytes, &mut scratch).expect(&what);
            check_sound(&got, block, &mut tally, &what);
        }
    }
    tally.assert_mixed();
}
