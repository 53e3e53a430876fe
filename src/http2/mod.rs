//! HTTP/2 (RFC 9113): for now only its header compression, [`hpack`].
//!
//! The framing layer (frames, streams, header-block assembly) comes later and feeds every
//! header block of a direction, in order, to that direction's [`hpack::Decoder`].

pub mod hpack;
