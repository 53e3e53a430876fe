//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: capture → decode → flow → http → policy → view → export.
//! The binary (`main.rs`) only parses arguments and calls `sensor`.

pub mod capture;
pub mod cli;
pub mod cpu;
pub mod decode;
pub mod ecs;
pub mod endpoint;
pub mod export;
pub mod flow;
pub mod head;
pub mod http;
pub mod http2;
pub mod log;
pub mod memcopy;
pub mod policy;
pub mod pool;
pub mod sensor;
pub mod stats;
pub mod trace;
pub mod view;
