//! The framework of the reassembly properties (tests/reassembly.rs), in the order a case runs:
//!
//! - `conversation`: the generator, seeded HTTP/1.1 conversations on one connection;
//! - `segments`: a conversation cut into TCP segments, with the faults that belong to the
//!   generator (segment sizes, retransmissions), and hand-built segment lists;
//! - `capture`: the synthetic capture, segments as frames of any link type in a `Source`;
//! - `cases`: each fault kind as a capture (the fault injector of `pcap_sensor::source::fault`
//!   around the synthetic capture for the frame-level faults) and what must come out;
//! - `oracle`: the traces each exchange must give, and the checks of what came out;
//! - `shrink`: running cases, shrinking failing ones and reporting them;
//! - `garbage`: valid frames to cut and mutate, hostile payloads.

pub mod capture;
pub mod cases;
pub mod conversation;
pub mod garbage;
pub mod oracle;
pub mod segments;
pub mod shrink;
