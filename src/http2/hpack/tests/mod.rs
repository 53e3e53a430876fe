//! Tests of the decoder as a whole: RFC 7541 Appendix C, one small test per case, the
//! mid-connection cases, and a model test against a reference encoder.

mod cases;
pub(crate) mod encoder;
mod midstream;
mod model;
mod rfc;

use super::{Decoder, Error, Event, Text, storage_len};

/// A decoded event, owned; `None` is an unknown name or value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Got {
    Field {
        name: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        never: bool,
    },
    Size(u32),
}

pub(crate) fn field(name: &str, value: &str) -> Got {
    Got::Field {
        name: Some(name.into()),
        value: Some(value.into()),
        never: false,
    }
}

pub(crate) fn decoder(capacity: usize) -> Decoder<Vec<u8>> {
    Decoder::new(vec![0; storage_len(capacity)], capacity).unwrap()
}

/// Decodes with a 64 KiB scratch buffer.
pub(crate) fn decode(d: &mut Decoder<Vec<u8>>, block: &[u8]) -> Result<Vec<Got>, Error> {
    decode_with(d, block, &mut [0; 64 * 1024])
}

pub(crate) fn decode_with(
    d: &mut Decoder<Vec<u8>>,
    block: &[u8],
    scratch: &mut [u8],
) -> Result<Vec<Got>, Error> {
    let mut got = Vec::new();
    d.decode(block, scratch, |event| {
        got.push(match event {
            Event::Field(f) => Got::Field {
                name: owned(f.name),
                value: owned(f.value),
                never: f.never_indexed,
            },
            Event::SizeUpdate(max) => Got::Size(max),
        })
    })?;
    Ok(got)
}

fn owned(text: Text<'_>) -> Option<Vec<u8>> {
    text.known().map(<[u8]>::to_vec)
}

/// Parses hex with spaces, as the RFC prints blocks.
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
