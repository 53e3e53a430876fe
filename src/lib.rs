//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: source → wire → tcp → http1 → exchange → policy → view → export.
//! The binary (`main.rs`) only parses arguments and calls `sensor`.

pub mod cli;
pub mod cpu;
pub mod ecs;
pub mod exchange;
pub mod export;
pub mod http1;
pub mod http2;
pub mod log;
pub mod memcopy;
pub mod policy;
pub mod pool;
pub mod sensor;
pub mod source;
pub mod stats;
pub mod tcp;
pub mod trace;
pub mod url;
pub mod view;
pub mod wire;
