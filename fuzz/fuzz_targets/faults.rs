//! cargo-fuzz target `faults`: see `harness::faults` for the input format and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::faults(data));
