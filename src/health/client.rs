//! The command's side: connect to the abstract name without ever blocking
//! on a sensor that does not accept, and read its one line within a
//! deadline.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::{Ago, LINE, MAX_NAME};

/// Why no answer came.
#[derive(Debug)]
pub enum Unreached {
    /// Nothing listens on the name: no live sensor in this network namespace.
    NotRunning,
    /// The sensor's queue of questions is full: its loop has not accepted
    /// one for a long time.
    QueueFull,
    /// Connected, but no answer within the time given: the loop has not
    /// turned for that long.
    NoAnswer,
    /// The sensor closed the connection without a word.
    Empty,
    /// Anything else (the name too long, out of descriptors...).
    Io(io::Error),
}

impl Unreached {
    /// The reason, for the one line the command prints after `unhealthy: `.
    pub fn explain(&self, name: &str, waited: Duration) -> String {
        match self {
            Unreached::NotRunning => format!(
                "not running: nothing answers on @{name} in this network namespace (no live \
                 'pcap-sensor apidump' here, or it has exited: see its log)"
            ),
            Unreached::QueueFull => format!(
                "stalled: the sensor on @{name} accepts no more questions (its capture loop has \
                 not turned for a long time)"
            ),
            Unreached::NoAnswer => format!(
                "stalled: no answer on @{name} within {} (the capture loop has not turned for \
                 that long)",
                Ago(waited)
            ),
            Unreached::Empty => format!("the sensor on @{name} closed without an answer"),
            Unreached::Io(e) => format!("cannot ask the sensor on @{name}: {e}"),
        }
    }
}

/// Ask the sensor listening on abstract `name`: its line (without the newline).
pub fn ask(name: &str, wait: Duration) -> Result<String, Unreached> {
    let deadline = Instant::now() + wait;
    let fd = connect(name).map_err(|e| match e.raw_os_error() {
        Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => Unreached::NotRunning,
        Some(libc::EAGAIN) => Unreached::QueueFull,
        _ => Unreached::Io(e),
    })?;
    let mut s = UnixStream::from(fd);
    s.set_nonblocking(false).map_err(Unreached::Io)?;
    let mut buf = [0u8; LINE];
    let mut len = 0;
    while len < buf.len() && !buf[..len].contains(&b'\n') {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Unreached::NoAnswer);
        }
        s.set_read_timeout(Some(left)).map_err(Unreached::Io)?;
        match s.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Unreached::NoAnswer);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Unreached::Io(e)),
        }
    }
    let text = String::from_utf8_lossy(&buf[..len]);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return Err(Unreached::Empty);
    }
    Ok(line.to_string())
}

/// A stream socket connected to abstract `name`, without blocking: a full
/// queue of the listener is EAGAIN, not a wait (std's connect would wait).
pub(super) fn connect(name: &str) -> io::Result<OwnedFd> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the name must be 1 to {MAX_NAME} bytes"),
        ));
    }
    // SAFETY: socket() takes no pointers; a negative result is checked.
    let raw = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor socket() just returned, owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_un is plain data, for which all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // An abstract name: a NUL, then the name's bytes (not NUL-terminated).
    for (d, &b) in addr.sun_path[1..].iter_mut().zip(name.as_bytes()) {
        *d = b as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + 1 + name.len();
    // SAFETY: `addr` is a sockaddr_un that lives across the call and `len`
    // (at most its size: the name's length was checked) covers only its
    // initialised family and path bytes.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast::<libc::sockaddr>(),
            len as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}
