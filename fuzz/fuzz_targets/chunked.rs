//! cargo-fuzz target `chunked`: see `harness::chunked` for the input format and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::chunked(data));
