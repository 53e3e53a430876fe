//! pcap-sensor: HTTP/1.x API traffic from libpcap to traces.
//!
//! Data flows one way: capture → decode → flow → http → policy → view → export.
//! The binary (`main.rs`) only parses arguments and calls `sensor`.

pub mod arch;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod ecs;
pub mod export;
pub mod flow;
pub mod head;
pub mod http;
pub mod json;
pub mod log;
pub mod policy;
pub mod pool;
pub mod sensor;
pub mod stats;
pub mod view;
