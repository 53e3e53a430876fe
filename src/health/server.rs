//! The sensor's side: a non-blocking listener on the abstract name, polled
//! by the read loop with the capture descriptors, each question answered
//! with one line and closed at once.

use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use super::{BACKLOG, LINE, MAX_NAME, PER_TURN};

/// The listener.
pub struct Server {
    listener: UnixListener,
    name: String,
}

impl Server {
    /// Listen on abstract `name` (EADDRINUSE: another process in this
    /// network namespace has it).
    pub fn open(name: &str) -> io::Result<Server> {
        if name.is_empty() || name.len() > MAX_NAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the name must be 1 to {MAX_NAME} bytes"),
            ));
        }
        let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
        let listener = UnixListener::bind_addr(&addr)?;
        listener.set_nonblocking(true)?;
        // std listens with the system's largest queue; a short one bounds
        // what questions waiting on a stalled loop hold in the kernel, and
        // lets a client see at once that the loop accepts none (EAGAIN).
        // SAFETY: listen() on a socket this process owns and keeps open;
        // no pointers. Calling it again on a listening socket only sets
        // its queue length.
        if unsafe { libc::listen(listener.as_raw_fd(), BACKLOG as libc::c_int) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Server {
            listener,
            name: name.to_string(),
        })
    }

    /// The name, as `ss -x` shows abstract names: `@pcap-sensor/health`.
    pub fn display_name(&self) -> String {
        format!("@{}", self.name)
    }

    /// The descriptor to poll (readable when a question waits).
    pub fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Answer the questions waiting, at most [`PER_TURN`], each with the
    /// line `answer` writes (built once, only when there is a question).
    /// Returns how many were answered.
    pub fn serve(&self, answer: impl FnOnce(&mut Line)) -> usize {
        let mut line: Option<Line> = None;
        let mut answer = Some(answer);
        let mut n = 0;
        while n < PER_TURN {
            let Ok((mut client, _)) = self.listener.accept() else {
                // WouldBlock: no more questions (or a transient accept
                // error, left for the next turn).
                break;
            };
            n += 1;
            let line = line.get_or_insert_with(|| {
                let mut l = Line::new();
                if let Some(f) = answer.take() {
                    f(&mut l);
                }
                l.end();
                l
            });
            // One send into an empty socket buffer; a client that went away
            // or does not read is not waited for.
            if client.set_nonblocking(true).is_ok() {
                let _ = client.write(line.bytes());
            }
        }
        n
    }
}

/// One answer: a line of at most [`LINE`] bytes, built without allocating.
/// Longer text is cut; line breaks become spaces, so it stays one line.
pub struct Line {
    buf: [u8; LINE],
    len: usize,
}

impl Line {
    pub fn new() -> Line {
        Line {
            buf: [0; LINE],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 characters are ever written (see write_str).
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    /// The bytes to send (after `end`: with the newline).
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Close the line with a newline (the last byte is kept for it).
    pub(super) fn end(&mut self) {
        let at = self.len.min(LINE - 1);
        self.buf[at] = b'\n';
        self.len = at + 1;
    }
}

impl Default for Line {
    fn default() -> Self {
        Line::new()
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            let c = if c.is_control() { ' ' } else { c };
            let mut b = [0u8; 4];
            let b = c.encode_utf8(&mut b).as_bytes();
            // Room for the newline `end` adds.
            if self.len + b.len() > LINE - 1 {
                return Ok(());
            }
            self.buf[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        }
        Ok(())
    }
}
