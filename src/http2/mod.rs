//! HTTP/2 (RFC 9113) over cleartext TCP, as the byte-level pieces a connection layer drives,
//! each in fixed memory the caller places:
//! - [`preface`]: the client connection preface;
//! - [`frame`]: frames read push style from one direction's bytes, and frame boundaries found
//!   without the preface (mid-connection, after a gap);
//! - [`BlockAssembler`] (in `block`): header block fragments joined into a caller's buffer;
//! - [`hpack`]: header blocks decoded against a dynamic table, mid-connection too;
//! - [`grpc`]: gRPC's message framing, path, status and content type;
//! - [`conn`]: a connection as the sensor reads it, over those pieces: streams become
//!   exchanges.
//!
//! Per direction: bytes → [`frame::FrameReader`] → fragments → [`BlockAssembler`] → blocks →
//! [`hpack::Decoder`] (every block of the direction, in order), DATA pieces → the stream's
//! body (and [`grpc::MessageCounter`]).

pub mod conn;
pub mod frame;
pub mod grpc;
pub mod hpack;
pub mod preface;

mod block;

pub use block::{Assembled, BlockAssembler, BlockOf};
