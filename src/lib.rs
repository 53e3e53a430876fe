//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: source → wire → tcp → http1 → exchange → policy → view → export.
//! The binary (`main.rs`) only parses arguments and calls `sensor`.
//! What is seen but cannot be read (TLS, HTTP/2, other protocols) is told
//! apart by `tls` (the ClientHello's server name and ALPN) and kept in
//! `unread`'s fixed tables for the stats lines. `health` is the container
//! health check: `pcap-sensor health` asks the read loop, which answers.
//!
//! How `unsafe` is written, checked for the whole crate: every operation
//! in an unsafe block, also inside unsafe functions; every unsafe block
//! with a `// SAFETY:` comment saying why it holds; every public unsafe
//! function (and every public `#[target_feature]` function) with a
//! `# Safety` section saying what its caller must make sure of. Vector
//! routines live in `arch`.

#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

pub mod arch;
pub mod cli;
pub mod ecs;
pub mod endpoint;
pub mod exchange;
pub mod export;
pub mod health;
pub mod http1;
pub mod http2;
pub mod json;
pub mod log;
pub mod policy;
pub mod pool;
pub mod sensor;
pub mod source;
pub mod stats;
pub mod tcp;
pub mod tls;
pub mod unread;
pub mod url;
pub mod view;
pub mod wire;
