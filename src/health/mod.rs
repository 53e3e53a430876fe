//! `pcap-sensor health`: the container health check, and the sensor's side
//! of it.
//!
//! An ECS task's image has no shell, so its health check is
//! `["CMD", "./bin/init", "health"]`: this command, run in the sensor's own
//! container. It asks the running sensor over an **abstract unix socket**
//! (a name in the network namespace, not a file: it works with a
//! read-only root file system and leaves nothing behind). The containers of
//! a task share one network namespace, and abstract names are per
//! namespace; where several tasks share one (ECS `host` network mode), the
//! name is made per task from the container's metadata endpoint, which the
//! health check, run in the same container, sees too ([`socket_name`]).
//!
//! **Protocol.** The sensor listens (non-blocking) on the name; a client
//! connects and reads one line, then the sensor closes: `healthy: ...` or
//! `unhealthy: ...`, at most [`LINE`] bytes. The client sends nothing. The
//! command prints the line and exits 0 for `healthy`, 1 otherwise.
//!
//! **Alive and capturing.** The listener is polled with the capture
//! descriptors and answered by the read loop itself, once per turn, so an
//! answer *is* the proof that the loop turns. The loop answers `healthy`
//! while its capture handles are open and reading (no traffic is not a
//! failure: the text says how many packets came and when the last did);
//! `unhealthy` once capture has failed, or could not start, when the sensor
//! was told to stay up after such a failure (`apidump --keep-running`, what
//! the sidecar's definitions set): otherwise it exits and the command finds
//! no one (`not running`). A satellite outage is told in the text, and is
//! healthy: the capture goes on, traces wait in the queue, and a restart
//! would not bring the satellite back.
//!
//! **Stalled.** The loop turns at least every 100 ms when idle; a turn is
//! longer only while it sends a batch to the satellite (each attempt bounded
//! by 3 s). So: the loop is *stalled* when it has not turned for
//! [`STALL_SECS`] seconds, which the command sees as a question not answered
//! within that time (or not even accepted: the queue of questions is full).
//!
//! **Bounded work, no threads.** Each turn accepts at most [`PER_TURN`]
//! questions; each gets one line written in one non-blocking send (the
//! socket's buffer holds it whole) and is closed at once. No state is kept
//! per client and nothing ever waits on one, so a client that connects and
//! never reads costs one accept and one send. The line is built on the
//! stack: nothing is reserved for it.

mod client;
mod server;

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

pub use client::{Unreached, ask};
pub use server::{Line, Server};

/// Longest answer, in bytes (the rest of a longer text is cut).
pub const LINE: usize = 512;
/// Questions answered per loop turn at most.
pub const PER_TURN: usize = 8;
/// Questions that may wait for the loop; more are refused (a stalled loop).
pub const BACKLOG: usize = 16;
/// How long the command waits for an answer by default: the loop is
/// stalled when it has not turned for this long.
pub const STALL_SECS: f64 = 5.0;

/// Environment variable that names the socket explicitly (both sides read it).
pub const ENV_NAME: &str = "PCAP_SENSOR_HEALTH_SOCKET";
/// The name when nothing says otherwise.
pub const DEFAULT_NAME: &str = "pcap-sensor/health";
/// Longest abstract name (sun_path's 108 bytes, less the leading NUL).
pub const MAX_NAME: usize = 107;

/// The abstract socket's name (without the leading NUL): `$PCAP_SENSOR_HEALTH_SOCKET`;
/// else `pcap-sensor/health/ID`, ID being the last part of
/// `$ECS_CONTAINER_METADATA_URI_V4` (or `_URI`), which ECS sets per
/// container (the sensor and its health check share the container, so they
/// agree; two tasks on one host network do not); else `pcap-sensor/health`.
pub fn socket_name() -> String {
    name_from(&|k| std::env::var(k).ok())
}

fn name_from(env: &dyn Fn(&str) -> Option<String>) -> String {
    if let Some(n) = env(ENV_NAME).filter(|n| !n.is_empty()) {
        return n;
    }
    for var in [
        "ECS_CONTAINER_METADATA_URI_V4",
        "ECS_CONTAINER_METADATA_URI",
    ] {
        let Some(uri) = env(var) else { continue };
        let id: String = uri
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .take(64)
            .collect();
        if !id.is_empty() {
            return format!("{DEFAULT_NAME}/{id}");
        }
    }
    DEFAULT_NAME.to_string()
}

/// A duration as a person reads it: `850 ms`, `4.2 s`, `12 min`, `3 h 05 min`.
pub struct Ago(pub Duration);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs_f64();
        if s < 1.0 {
            write!(f, "{} ms", self.0.as_millis())
        } else if s < 60.0 {
            write!(f, "{s:.1} s")
        } else if s < 3600.0 {
            write!(f, "{} min", self.0.as_secs() / 60)
        } else {
            let m = self.0.as_secs() / 60;
            write!(f, "{} h {:02} min", m / 60, m % 60)
        }
    }
}

pub const HELP: &str = "\
pcap-sensor health: ask the sensor running in this network namespace whether it captures

usage: pcap-sensor health [--timeout SECS]

For the container health check of a task definition (the image has no shell):
  \"healthCheck\": {\"command\": [\"CMD\", \"./bin/init\", \"health\"], ...}

Prints one line and exits 0 when the sensor's capture loop answers that it is
capturing ('healthy: capturing on any for 2 h 05 min: ...'); exits 1 with the
reason otherwise: not running, capture failed or could not start (apidump
--keep-running stays up to say so), or stalled (no answer within --timeout: the
capture loop has not turned for that long). A satellite outage is reported in
the text but is healthy.

      --timeout SECS    how long to wait for the answer (default 5)
  -h, --help            this text

The sensor answers on the abstract unix socket @pcap-sensor/health, made per
container from $ECS_CONTAINER_METADATA_URI_V4 when ECS sets it; both sides use
$PCAP_SENSOR_HEALTH_SOCKET instead when it is set.
";

/// `pcap-sensor health ...` (the words after `health`).
pub fn main(args: &[OsString]) -> ExitCode {
    use lexopt::prelude::*;
    let mut timeout = STALL_SECS;
    let mut p = lexopt::Parser::from_args(args.iter().cloned());
    let usage = |m: String| {
        eprintln!("pcap-sensor: {m}");
        ExitCode::from(2)
    };
    loop {
        match p.next() {
            Ok(None) => break,
            Ok(Some(Short('h') | Long("help"))) => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            Ok(Some(Long("timeout"))) => {
                let v = match p.value() {
                    Ok(v) => v.to_string_lossy().into_owned(),
                    Err(e) => return usage(e.to_string()),
                };
                match v.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() && x > 0.0 && x <= 3600.0 => timeout = x,
                    _ => {
                        return usage(format!(
                            "--timeout expects seconds greater than 0, e.g. --timeout 5, but got '{v}'"
                        ));
                    }
                }
            }
            Ok(Some(other)) => {
                return usage(format!(
                    "{} (see 'pcap-sensor health --help')",
                    other.unexpected()
                ));
            }
            Err(e) => return usage(e.to_string()),
        }
    }
    let name = socket_name();
    let wait = Duration::from_secs_f64(timeout);
    let line = match ask(&name, wait) {
        Ok(line) => line,
        Err(why) => format!("unhealthy: {}", why.explain(&name, wait)),
    };
    println!("{line}");
    if line.starts_with("healthy") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests;
