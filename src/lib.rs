//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: source → decode → flow → http → policy → view → export.
//! The binary (`main.rs`) only parses arguments and calls `sensor`.

pub mod cli;
pub mod cpu;
pub mod decode;
pub mod ecs;
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
pub mod source;
pub mod stats;
pub mod trace;
pub mod url;
pub mod view;
