//! What is kept and what is shown of it.
//!
//! An exchange is kept when its request passes the host and path rules
//! (`filters`) and then the rate limit (`rate`): the two parts of the admit
//! decision, taken at the request, before anything of the exchange is built.
//! What is kept is shown with secrets replaced (`redact`): header values,
//! query parameters and JSON body members whose names look like secrets
//! (`secret`).

mod filters;
mod rate;
mod redact;
pub(crate) mod secret;

pub use filters::{Filters, host_without_port};
pub use rate::RateLimit;
pub use redact::{
    REDACTED, header_value, redact_json, redact_json_upto, redact_query, secret_header,
};
pub use secret::{mentions_secret, secret_name};
