//! TCP connections.

pub mod assembler;
