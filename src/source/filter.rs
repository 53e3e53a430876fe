//! Which BPF filter sources are opened with: the user's `--filter`, minus
//! the sensor's own export traffic to the satellite (resolved once, at
//! start), and what to do when a link type cannot take that.

use std::net::ToSocketAddrs;

use super::OpenError;
use crate::log;
use crate::url::Target;

/// The BPF filter to install: the user's, and the user's minus the sensor's
/// own export traffic (the two are the same without a satellite).
pub struct CaptureFilter {
    user: Option<String>,
    full: Option<String>,
}

impl CaptureFilter {
    /// From `--filter` and `--satellite-url`.
    pub fn new(filter: Option<&str>, satellite_url: Option<&str>) -> CaptureFilter {
        let user = filter.map(str::trim).filter(|f| !f.is_empty());
        CaptureFilter {
            user: user.map(str::to_string),
            full: effective_filter(user, satellite_url),
        }
    }

    /// The filter sources are opened with first.
    pub fn full(&self) -> Option<&str> {
        self.full.as_deref()
    }

    /// Open an input through `open` with the full filter. Some link types
    /// (NFLOG, e.g.) take no address filters: when the user's filter alone
    /// compiles, what fails is leaving out our own export traffic. A file
    /// holds none of that traffic, so it is read with the user's filter
    /// (saying so); a live capture would trace its own exports, so it stops
    /// with a message that says why. Returns the input and the filter in use.
    pub fn open<T>(
        &self,
        file: bool,
        open: impl Fn(Option<&str>) -> Result<T, OpenError>,
    ) -> Result<(T, Option<String>), OpenError> {
        let why = match open(self.full.as_deref()) {
            Ok(t) => return Ok((t, self.full.clone())),
            Err(OpenError {
                filter_why: Some(why),
                ..
            }) if self.full != self.user => why,
            Err(e) => return Err(e),
        };
        let t = open(self.user.as_deref())?;
        let full = self.full.as_deref().unwrap_or("");
        if !file {
            return Err(OpenError {
                msg: format!(
                    "libpcap cannot apply '{full}' on this link type ({why}), so the sensor's own export traffic to the satellite cannot be left out of the capture; capture on another interface"
                ),
                filter_why: None,
            });
        }
        log::warn(&format!(
            "libpcap cannot apply '{full}' on this file's link type ({why}); reading it without leaving out traffic to the satellite"
        ));
        Ok((t, self.user.clone()))
    }
}

/// The user's BPF filter (`user`) minus the sensor's own export traffic.
fn effective_filter(user: Option<&str>, satellite_url: Option<&str>) -> Option<String> {
    // The URL as the exporter's client reads it (the argument parser
    // checked that it does).
    let Some(t) = satellite_url.and_then(|u| Target::parse(u).ok()) else {
        return user.map(str::to_string);
    };
    let (host, port) = (t.host.as_str(), t.port);
    let own = match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let mut ips: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
            ips.sort();
            ips.dedup();
            if ips.is_empty() {
                format!("tcp port {port}")
            } else {
                format!("host ({}) and tcp port {port}", ips.join(" or "))
            }
        }
        Err(e) => {
            log::warn(&format!(
                "cannot resolve the satellite host '{host}' now ({e}); excluding all of tcp port {port} from capture"
            ));
            format!("tcp port {port}")
        }
    };
    Some(match user {
        Some(u) => format!("({u}) and not ({own})"),
        None => format!("not ({own})"),
    })
}
