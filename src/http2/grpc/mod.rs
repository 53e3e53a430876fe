//! gRPC over HTTP/2 (grpc/grpc doc/PROTOCOL-HTTP2.md): what a passive reader of a call can
//! know from its headers, trailers and DATA, in memory the caller places.
//! - [`content_type`]: which `content-type` values make a stream gRPC;
//! - [`split_path`]: `:path` `/package.Service/Method` → service and method;
//! - [`MessageCounter`]: length-prefixed messages counted across DATA pieces, per stream and
//!   direction;
//! - [`parse_status`], [`Code`]: `grpc-status` from trailers (or a trailers-only response),
//!   the 17 codes' names, which of them are server-side errors for OpenTelemetry;
//! - [`percent_decode`]: `grpc-message`, into a caller's bounded buffer.

#![deny(missing_docs)]

mod content_type;
mod message;
mod path;
mod percent;
mod status;

pub use content_type::{ContentType, content_type};
pub use message::MessageCounter;
pub use path::{RpcPath, split_path};
pub use percent::{Decoded, percent_decode};
pub use status::{Code, parse_status, status_from_reset};
