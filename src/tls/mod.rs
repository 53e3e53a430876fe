//! TLS, as far as a passive sensor can read it: the ClientHello's server
//! name and ALPN protocols (`client_hello`), and a small fixed table of the
//! encrypted servers seen, by connections (`names`). Nothing after the
//! hello is read: the traffic itself is encrypted.

pub mod client_hello;
pub mod names;

pub use client_hello::{ClientHello, NotHello};
pub use names::Names;
