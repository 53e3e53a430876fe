//! cargo-fuzz target `h2`: see `harness::h2` for the input and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::h2(data));
