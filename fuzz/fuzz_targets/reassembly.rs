//! cargo-fuzz target `reassembly`: see `harness::reassembly` for the input format and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::reassembly(data));
