//! The same bytes give the same events however they are cut: at every offset, at every pair
//! of nearby offsets (a header or field in three pieces), byte by byte, at random.

use super::{Got, Rng, conversation, conversation_events, read, read_cut, without_headers};

#[test]
fn whole_conversation() {
    let bytes = conversation();
    let got = read(&bytes);
    let frames = got.iter().filter(|g| matches!(g, Got::Frame(_))).count();
    assert_eq!(frames, 17);
    assert_eq!(without_headers(got), conversation_events());
}

#[test]
fn every_single_split() {
    let bytes = conversation();
    let whole = read(&bytes);
    for at in 0..=bytes.len() {
        let (got, consumed) = read_cut(&bytes, &[at]);
        assert_eq!(consumed, bytes.len(), "split at {at}");
        assert_eq!(got, whole, "split at {at}");
    }
}

#[test]
fn every_pair_of_nearby_splits() {
    let bytes = conversation();
    let whole = read(&bytes);
    for a in 0..=bytes.len() {
        for b in a..=(a + 12).min(bytes.len()) {
            let (got, consumed) = read_cut(&bytes, &[a, b]);
            assert_eq!(
                (consumed, &got),
                (bytes.len(), &whole),
                "splits at {a}, {b}"
            );
        }
    }
}

#[test]
fn byte_by_byte() {
    let bytes = conversation();
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    let (got, consumed) = read_cut(&bytes, &cuts);
    assert_eq!(consumed, bytes.len());
    assert_eq!(got, read(&bytes));
}

#[test]
fn random_splits() {
    let bytes = conversation();
    let whole = read(&bytes);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let mut cuts: Vec<usize> = (0..rng.below(30))
            .map(|_| rng.below(bytes.len() + 1))
            .collect();
        cuts.sort_unstable();
        let (got, consumed) = read_cut(&bytes, &cuts);
        assert_eq!((consumed, &got), (bytes.len(), &whole), "cuts {cuts:?}");
    }
}

#[test]
fn many_frames_in_one_segment() {
    let mut bytes = Vec::new();
    for i in 0..500u32 {
        bytes.extend(super::frame(super::DATA, 0, 2 * i + 1, &i.to_be_bytes()));
    }
    let got = without_headers(read(&bytes));
    assert_eq!(got.len(), 500);
    for (i, g) in got.iter().enumerate() {
        let i = i as u32;
        assert_eq!(*g, super::data(2 * i + 1, &i.to_be_bytes(), false));
    }
}
