//! cargo-fuzz target `client_hello`: see `harness::client_hello` for the input and the checks.
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::client_hello(data));
