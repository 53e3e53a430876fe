//! cargo-fuzz target `http_split`: see `harness::http_split` for the input format and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::http_split(data));
