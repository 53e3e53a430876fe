//! HTTP/2 (RFC 9113) over cleartext TCP, as the byte-level pieces a connection layer drives,
//! each in fixed memory the caller places:
//! - [`preface`]: the client connection preface;
//! - [`frame`]: frames read push style from one direction's bytes, and frame boundaries found
//!   without the preface (mid-connection, after a gap);
//! - [`hpack`]: header blocks decoded against a dynamic table, mid-connection too.

pub mod frame;
pub mod hpack;
pub mod preface;
