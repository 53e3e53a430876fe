//! Endpoints: what an API's traffic is made of, and tracing all of it
//! under a rate limit (issue 19).
//!
//! An endpoint is (method, host, path template) (`template.rs` has the
//! rules).

pub mod inventory;
pub mod sampler;
pub mod sketch;
pub mod table;
pub mod template;
