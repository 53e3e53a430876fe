//! A small blocking HTTP/1.1 client for the satellite, `http://` or
//! `https://` (TLS by rustls).
//!
//! One connection is kept alive from batch to batch (for TLS, so is the
//! session: one handshake per connection, not per batch); a request is
//! written with vectored writes straight from the caller's buffers (plain
//! HTTP never copies the batch; TLS encrypts it into its records); the
//! answer's head is read into a fixed buffer and parsed with httparse.
//!
//! Connections are made without waiting: [`Client::begin`] starts a
//! non-blocking connect and [`Client::poll`] says how it stands, so the
//! capture loop polls the socket with its packets and a satellite that is
//! down or unreachable (refused, or a blackholed address whose SYNs go
//! unanswered) never holds the capture thread. A request on an open
//! connection is bounded by the caller's deadline: write and read use socket
//! timeouts, on this thread (no helper threads). Name resolution is the one
//! step without a deadline of its own, so it is done only when a connection
//! has to be made and the cached addresses have all failed, at most every
//! [`RESOLVE_EVERY`] (less often while it fails, or when it was slow).

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::url::Target;

/// Room for an answer's head and the start of its body.
const ANSWER_ROOM: usize = 16 * 1024;
/// How many pieces a request body may come in.
pub const MAX_PARTS: usize = 7;
/// What a TLS connection holds at most: rustls's 64 KiB limits on unsent
/// plaintext and on unsent records, its received plaintext (16 KiB) and one
/// incoming record.
const TLS_ROOM: usize = 64 * 1024 + 64 * 1024 + 16 * 1024 + 18 * 1024;
/// Bodies up to this size are read to the end so the connection can be reused;
/// a larger one closes it.
const DRAIN_MAX: usize = 256 * 1024;
/// The satellite's name is resolved again at most this often while its
/// cached addresses fail (a resolver that does not answer blocks the capture
/// thread for its own timeout).
pub const RESOLVE_EVERY: Duration = Duration::from_secs(2);
/// The longest wait between resolutions that fail.
const RESOLVE_MAX: Duration = Duration::from_secs(60);

/// How a connection being made stands.
#[derive(Debug)]
pub enum Connect {
    /// Still under way (wait for its socket to become writable).
    Pending,
    /// Made: requests can be sent.
    Ready,
    /// Refused, unreachable, timed out, or the name did not resolve.
    Failed(io::Error),
}

/// A connect under way.
struct Pending {
    sock: TcpStream,
    addr: SocketAddr,
    deadline: Instant,
}

/// An answer: its status and the start of its body (as much as was read).
pub struct Answer<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

/// A connection to the satellite: plain TCP, or TLS over TCP.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    /// The socket underneath (for its timeouts).
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => t.get_ref(),
        }
    }

    /// Bound the next reads and writes (TLS reads may write, and writes
    /// read, while a handshake is under way).
    fn set_timeouts(&self, deadline: Instant) -> io::Result<()> {
        let left = Some(remaining(deadline)?);
        self.tcp().set_write_timeout(left)?;
        self.tcp().set_read_timeout(left)
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(t) => t.write(buf),
        }
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write_vectored(bufs),
            Conn::Tls(t) => t.write_vectored(bufs),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(t) => t.flush(),
        }
    }
}

/// Roots for `https://`: the bundled web roots and the system's (which
/// `--ca-cert` replaces through SSL_CERT_FILE), as minreq trusts them.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_trust_anchors(webpki_roots::TLS_SERVER_ROOTS.iter().map(|ta| {
        rustls::OwnedTrustAnchor::from_subject_spki_name_constraints(
            ta.subject,
            ta.spki,
            ta.name_constraints,
        )
    }));
    let mut added = 0;
    if let Ok(certs) = rustls_native_certs::load_native_certs() {
        for c in certs {
            // A system certificate rustls cannot take is no reason to stop.
            added += usize::from(roots.add(&rustls::Certificate(c.0)).is_ok());
        }
    }
    if added == 0
        && let Some(file) = std::env::var_os("SSL_CERT_FILE")
    {
        // --ca-cert (or the environment) named a file with nothing usable in
        // it: say so now, not as a certificate error at every attempt.
        crate::log::warn(&format!(
            "no PEM certificate could be read from '{}' (--ca-cert / SSL_CERT_FILE): only the bundled roots are trusted",
            std::path::Path::new(&file).display()
        ));
    }
    Arc::new(
        rustls::ClientConfig::builder()
            .with_safe_defaults()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

pub struct Client {
    target: Target,
    /// For `https://` targets, made with the client.
    tls: Option<Arc<rustls::ClientConfig>>,
    addrs: Vec<SocketAddr>,
    /// The next address of `addrs` to connect to; past the end: all were
    /// tried since they were resolved.
    next_addr: usize,
    /// No resolution before this.
    resolve_after: Option<Instant>,
    /// Resolutions that failed in a row.
    resolve_failures: u32,
    /// Why the last resolution gave no address.
    unresolved: Option<(io::ErrorKind, String)>,
    conn: Option<Conn>,
    /// `conn` has carried no request yet: an error on it is the satellite's,
    /// not a kept-alive connection it had closed.
    fresh: bool,
    pending: Option<Pending>,
    head: Vec<u8>,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(target: Target) -> Client {
        Client {
            tls: target.tls.then(tls_config),
            target,
            addrs: Vec::new(),
            next_addr: 0,
            resolve_after: None,
            resolve_failures: 0,
            unresolved: None,
            conn: None,
            fresh: false,
            pending: None,
            head: Vec::with_capacity(512),
            buf: vec![0; ANSWER_ROOM],
        }
    }

    /// An open connection that the server has not closed, as far as can be
    /// told without waiting (a kept-alive connection the server closed
    /// shows its end of file). One that has been closed, or that has bytes
    /// nobody asked for (plain HTTP), is let go; over TLS such bytes can be
    /// the server's session tickets, which rustls reads with the next answer.
    pub fn ready(&mut self) -> bool {
        let Some(c) = &self.conn else {
            return false;
        };
        let hup = libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
        let r = poll_one(
            c.tcp().as_raw_fd(),
            libc::POLLIN | libc::POLLRDHUP,
            Duration::ZERO,
        );
        let open = match r {
            Ok(r) => r & hup == 0 && (r & libc::POLLIN == 0 || matches!(c, Conn::Tls(_))),
            Err(_) => false,
        };
        if !open {
            self.conn = None;
        }
        open
    }

    /// Is a connection open (as last seen)?
    pub fn has_conn(&self) -> bool {
        self.conn.is_some()
    }

    /// Is a connect under way?
    pub fn connecting(&self) -> bool {
        self.pending.is_some()
    }

    /// The socket of the connect under way, for the capture loop to poll
    /// (writable: it is made or failed).
    pub fn pending_fd(&self) -> Option<RawFd> {
        self.pending.as_ref().map(|p| p.sock.as_raw_fd())
    }

    /// When the connect under way gives up.
    pub fn pending_deadline(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// Start connecting (without waiting) to the next cached address,
    /// resolving the name first when none is known or all have been tried,
    /// and resolution is due: at most every [`RESOLVE_EVERY`], doubling to a
    /// minute while it fails, and never more often than ten times as long as
    /// the last one took (a resolver that times out holds the capture
    /// thread). A connect already under way is left to go on. Err: the name
    /// did not resolve, or the connect failed at once (e.g. no route).
    pub fn begin(&mut self, deadline: Instant) -> io::Result<()> {
        if self.pending.is_some() {
            return Ok(());
        }
        self.conn = None;
        let tried = self.addrs.is_empty() || self.next_addr >= self.addrs.len();
        if tried && self.resolve_after.is_none_or(|t| Instant::now() >= t) {
            self.resolve();
        }
        if self.addrs.is_empty() {
            let (kind, msg) = self.unresolved.clone().unwrap_or((
                io::ErrorKind::NotFound,
                format!("{} has no address", self.target.host),
            ));
            return Err(io::Error::new(kind, msg));
        }
        let addr = self.addrs[self.next_addr % self.addrs.len()];
        self.next_addr += 1;
        let sock = start_connect(&addr)
            .map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))?;
        // Made at once or not, poll() finishes it: the socket is writable
        // once the connect is made or has failed.
        self.pending = Some(Pending {
            sock,
            addr,
            deadline,
        });
        Ok(())
    }

    /// How the connect under way stands, waiting for it up to `wait` (zero
    /// from the capture loop; the time left at shutdown).
    pub fn poll(&mut self, wait: Duration) -> Connect {
        let Some(p) = &self.pending else {
            return if self.conn.is_some() {
                Connect::Ready
            } else {
                Connect::Failed(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "no connection is being made",
                ))
            };
        };
        let wait = wait.min(p.deadline.saturating_duration_since(Instant::now()));
        let writable = match poll_one(p.sock.as_raw_fd(), libc::POLLOUT, wait) {
            Ok(revents) => revents != 0,
            Err(e) => return self.connect_failed(e),
        };
        if !writable {
            if Instant::now() >= p.deadline {
                return self.connect_failed(timed_out());
            }
            return Connect::Pending;
        }
        // Writable: made, or failed (SO_ERROR says which).
        match p.sock.take_error() {
            Ok(None) => {}
            Ok(Some(e)) | Err(e) => return self.connect_failed(e),
        }
        let p = self.pending.take().expect("a connect under way");
        let made = p
            .sock
            .set_nonblocking(false)
            .and_then(|()| p.sock.set_nodelay(true))
            .and_then(|()| self.wrap(p.sock));
        match made {
            Ok(conn) => {
                // The address that answered is the one tried first next time.
                if let Some(i) = self.addrs.iter().position(|a| *a == p.addr) {
                    self.addrs.swap(0, i);
                }
                self.next_addr = 0;
                self.conn = Some(conn);
                self.fresh = true;
                Connect::Ready
            }
            Err(e) => Connect::Failed(e),
        }
    }

    /// The connect under way failed with `e`: let it go, say where to.
    fn connect_failed(&mut self, e: io::Error) -> Connect {
        let p = self.pending.take().expect("a connect under way");
        let msg = format!("connect to {}: {}", p.addr, as_timeout_msg(&e));
        Connect::Failed(io::Error::new(as_timeout(e).kind(), msg))
    }

    /// Close the connection and give up a connect under way.
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.pending = None;
    }

    pub fn reserved(&self) -> usize {
        self.head.capacity() + self.buf.len() + if self.tls.is_some() { TLS_ROOM } else { 0 }
    }

    /// POST `body` (the concatenation of `parts`, at most MAX_PARTS of them)
    /// with the given extra header lines (each ending in CRLF), all of it
    /// before `deadline`.
    ///
    /// It needs an open connection ([`Client::begin`], [`Client::poll`]).
    /// An error of kind `NotConnected` means there is none (or the server had
    /// closed the kept-alive one before the request reached it): connect and
    /// send again; it is not the satellite failing.
    pub fn post(
        &mut self,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<Answer<'_>> {
        self.post_to(None, extra_headers, parts, deadline)
    }

    /// [`Client::post`] to `path` on the same server (None: the target's
    /// own path), e.g. the satellite's `/v1/metrics` beside `/v1/traces`.
    pub fn post_to(
        &mut self,
        path: Option<&str>,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<Answer<'_>> {
        let (status, from, to) = self.send(path, extra_headers, parts, deadline)?;
        Ok(Answer {
            status,
            body: &self.buf[from..to],
        })
    }

    /// [`Client::post`], connecting first (and waiting for it, within
    /// `deadline`) when needed: for callers that may block (shutdown,
    /// tests).
    pub fn post_blocking(
        &mut self,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<Answer<'_>> {
        self.post_blocking_to(None, extra_headers, parts, deadline)
    }

    /// [`Client::post_blocking`] to `path` (see [`Client::post_to`]).
    pub fn post_blocking_to(
        &mut self,
        path: Option<&str>,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<Answer<'_>> {
        let mut tries = 0;
        let (status, from, to) = loop {
            if !self.ready() {
                self.begin(deadline)?;
                if let Connect::Failed(e) = self.poll(remaining(deadline)?) {
                    return Err(e);
                }
                if self.conn.is_none() {
                    self.disconnect();
                    return Err(timed_out());
                }
            }
            tries += 1;
            match self.send(path, extra_headers, parts, deadline) {
                Err(e) if e.kind() == io::ErrorKind::NotConnected && tries < 2 => {}
                r => break r?,
            }
        };
        Ok(Answer {
            status,
            body: &self.buf[from..to],
        })
    }

    /// One request on the open connection: (status, body start and end in
    /// `buf`).
    fn send(
        &mut self,
        path: Option<&str>,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<(u16, usize, usize)> {
        assert!(
            parts.len() <= MAX_PARTS,
            "a request body in more than {MAX_PARTS} parts"
        );
        if self.conn.is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "no connection to the satellite",
            ));
        }
        let reused = !self.fresh;
        self.fresh = false;
        self.attempt(path, extra_headers, parts, deadline)
            .map_err(|e| {
                self.conn = None;
                if reused && stale(&e) {
                    // A kept-alive connection the server had already closed.
                    io::Error::new(
                        io::ErrorKind::NotConnected,
                        format!("the satellite had closed the kept-alive connection ({e})"),
                    )
                } else {
                    e
                }
            })
    }

    /// One try: (status, body start and end in `buf`).
    fn attempt(
        &mut self,
        path: Option<&str>,
        extra_headers: &str,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> io::Result<(u16, usize, usize)> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        self.head.clear();
        let t = &self.target;
        write!(
            self.head,
            "POST {} HTTP/1.1\r\nHost: {}\r\n{extra_headers}Content-Length: {len}\r\n\r\n",
            path.unwrap_or(&t.path),
            t.authority
        )?;
        let conn = self.conn.as_mut().unwrap();
        // The head, then the parts: on the stack (no allocation per request).
        let mut slices = [IoSlice::new(&[]); MAX_PARTS + 1];
        slices[0] = IoSlice::new(&self.head);
        for (slot, p) in slices[1..].iter_mut().zip(parts) {
            *slot = IoSlice::new(p);
        }
        write_all(conn, &mut slices[..parts.len() + 1], deadline)?;
        let (status, from, filled, keep) = read_answer(conn, &mut self.buf, deadline)?;
        if !keep {
            self.conn = None;
        }
        Ok((status, from, filled))
    }

    /// Resolve the satellite's name; when to do it again.
    fn resolve(&mut self) {
        let t0 = Instant::now();
        let t = &self.target;
        let found = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map(|a| a.collect::<Vec<SocketAddr>>());
        let took = t0.elapsed();
        match found {
            Ok(found) if !found.is_empty() => {
                self.addrs = found;
                self.next_addr = 0;
                self.unresolved = None;
                self.resolve_failures = 0;
            }
            Ok(_) => {
                self.unresolved = Some((
                    io::ErrorKind::NotFound,
                    format!("{} has no address", t.host),
                ));
                self.resolve_failures += 1;
            }
            Err(e) => {
                self.unresolved = Some((e.kind(), format!("cannot resolve {}: {e}", t.host)));
                self.resolve_failures += 1;
            }
        }
        let every = (RESOLVE_EVERY * (1 << self.resolve_failures.min(5))).min(RESOLVE_MAX);
        self.resolve_after = Some(Instant::now() + every.max(took * 10));
    }

    /// The connection over a made TCP socket: itself, or TLS over it (the
    /// handshake happens with the first request's bytes).
    fn wrap(&self, tcp: TcpStream) -> io::Result<Conn> {
        let Some(config) = &self.tls else {
            return Ok(Conn::Plain(tcp));
        };
        let name = rustls::ServerName::try_from(self.target.host.as_str()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: {e}", self.target.host),
            )
        })?;
        let tls = rustls::ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
    }
}

/// A socket address as the kernel takes it.
enum RawAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl RawAddr {
    fn new(a: &SocketAddr) -> RawAddr {
        match a {
            SocketAddr::V4(a) => RawAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => RawAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    fn family(&self) -> libc::c_int {
        match self {
            RawAddr::V4(_) => libc::AF_INET,
            RawAddr::V6(_) => libc::AF_INET6,
        }
    }

    fn ptr_len(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            RawAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            RawAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

/// Start a TCP connect to `addr` without waiting (std has no non-blocking
/// connect): the socket, non-blocking, connected or on its way.
fn start_connect(addr: &SocketAddr) -> io::Result<TcpStream> {
    let raw = RawAddr::new(addr);
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket(2) takes no pointers; the result is checked.
    let fd = unsafe { libc::socket(raw.family(), kind, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket just made and owned by nothing else; the
    // TcpStream owns it from here on (and closes it).
    let sock = unsafe { TcpStream::from_raw_fd(fd) };
    let (ptr, len) = raw.ptr_len();
    // SAFETY: `ptr` points to a sockaddr of `len` bytes of the socket's
    // family, alive for the call (`raw` outlives it).
    let r = unsafe { libc::connect(sock.as_raw_fd(), ptr, len) };
    if r == 0 {
        return Ok(sock);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // Under way (EINTR: a signal arrived, the connect goes on).
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok(sock),
        _ => Err(e),
    }
}

/// poll(2) one descriptor for `events`, waiting up to `wait`: the events
/// that are ready (0: none yet).
fn poll_one(fd: RawFd, events: libc::c_short, wait: Duration) -> io::Result<libc::c_short> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // Round up, so that a wait shorter than a millisecond still waits.
    let ms = wait.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int;
    loop {
        // SAFETY: `p` is one initialised pollfd, alive for the call.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n >= 0 {
            return Ok(if n == 0 { 0 } else { p.revents });
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Time left before `deadline` (an error once there is none).
fn remaining(deadline: Instant) -> io::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(timed_out())
    } else {
        Ok(left)
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

/// A connect error as the log says it ("timed out" for any timeout).
fn as_timeout_msg(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}

/// Did the server close a kept-alive connection before this request reached it?
fn stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// Socket timeouts surface as WouldBlock (or TimedOut).
fn as_timeout(e: io::Error) -> io::Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => timed_out(),
        _ => e,
    }
}

fn write_all(s: &mut Conn, mut bufs: &mut [IoSlice<'_>], deadline: Instant) -> io::Result<()> {
    // Advancing by nothing drops leading empty slices, so that "all written"
    // is "no slice left".
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        s.set_timeouts(deadline)?;
        match s.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(as_timeout(e)),
        }
    }
    // TLS holds back what it could not send yet.
    loop {
        s.set_timeouts(deadline)?;
        match s.flush() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r.map_err(as_timeout),
        }
    }
}

/// Read into `buf[filled..]`; 0 means the peer closed.
fn read_some(s: &mut Conn, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
    loop {
        s.set_timeouts(deadline)?;
        match s.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r.map_err(as_timeout),
        }
    }
}

/// A parsed answer head.
struct Head {
    status: u16,
    head_len: usize,
    content_length: Option<usize>,
    keep: bool,
}

/// Parse the head at the start of `b`: None while it is incomplete.
fn head(b: &[u8]) -> io::Result<Option<Head>> {
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut hs);
    let head_len = match resp.parse(b) {
        Ok(httparse::Status::Complete(h)) => h,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an HTTP answer ({e})"),
            ));
        }
    };
    let mut content_length = None;
    let mut keep = resp.version == Some(1);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            keep = false;
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep &= !h.value.eq_ignore_ascii_case(b"close");
        }
    }
    Ok(Some(Head {
        status: resp.code.unwrap_or(0),
        head_len,
        content_length,
        keep,
    }))
}

/// Read an answer: (status, body start, body end in `buf`, connection reusable).
fn read_answer(
    s: &mut Conn,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<(u16, usize, usize, bool)> {
    let mut filled = 0;
    loop {
        if filled > 0 {
            match head(&buf[..filled])? {
                // An interim answer (100 Continue): the real one follows.
                Some(h) if (100..200).contains(&h.status) => {
                    buf.copy_within(h.head_len..filled, 0);
                    filled -= h.head_len;
                    continue;
                }
                Some(h) => return finish(s, buf, h, filled, deadline),
                None if filled == buf.len() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "answer head larger than 16 KiB",
                    ));
                }
                None => {}
            }
        }
        let n = read_some(s, &mut buf[filled..], deadline)?;
        if n == 0 {
            // Closed before any answer: on a kept-alive connection, the server
            // had let it go (worth one more try); in the middle: a plain error.
            return Err(if filled == 0 {
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed without an answer",
                )
            } else {
                io::Error::other("connection closed in the middle of the answer")
            });
        }
        filled += n;
    }
}

/// After the head: read the body to its end when it is short and its length
/// known (so the connection can carry the next request); otherwise keep what
/// has arrived and let the connection go. What does not fit in `buf` is read
/// and thrown away.
fn finish(
    s: &mut Conn,
    buf: &mut [u8],
    h: Head,
    mut filled: usize,
    deadline: Instant,
) -> io::Result<(u16, usize, usize, bool)> {
    let (status, hlen) = (h.status, h.head_len);
    let Some(length) = h.content_length.filter(|&l| h.keep && l <= DRAIN_MAX) else {
        return Ok((status, hlen, filled, false));
    };
    let end = hlen + length;
    let mut read = filled;
    let mut discard = [0u8; 4096];
    while read < end {
        let room = if filled < buf.len() {
            &mut buf[filled..]
        } else {
            &mut discard[..]
        };
        let take = (end - read).min(room.len());
        let n = read_some(s, &mut room[..take], deadline)?;
        if n == 0 {
            return Ok((status, hlen, filled, false));
        }
        if filled < buf.len() {
            filled += n;
        }
        read += n;
    }
    // Bytes past the body: the server sent more than it said; do not reuse.
    Ok((status, hlen, filled.min(end), read <= end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    /// A real server on loopback, run by `serve` for each accepted connection;
    /// the channel gets one message per connection.
    fn server(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> (Target, mpsc::Receiver<()>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let serve = std::sync::Arc::new(serve);
        std::thread::spawn(move || {
            for c in l.incoming() {
                let c = c.unwrap();
                let _ = tx.send(());
                let serve = serve.clone();
                std::thread::spawn(move || serve(c));
            }
        });
        let t = Target::parse(&format!("http://127.0.0.1:{port}/v1/traces")).unwrap();
        (t, rx)
    }

    /// Read one request; returns its head and body.
    fn read_request(c: &mut TcpStream) -> Option<(String, Vec<u8>)> {
        let mut b = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(i) = b.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(b[..i + 4].to_vec()).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                while b.len() < i + 4 + len {
                    let n = c.read(&mut tmp).unwrap();
                    assert!(n > 0, "request cut short");
                    b.extend_from_slice(&tmp[..n]);
                }
                return Some((head, b[i + 4..i + 4 + len].to_vec()));
            }
            let n = c.read(&mut tmp).ok()?;
            if n == 0 {
                return None;
            }
            b.extend_from_slice(&tmp[..n]);
        }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn one_connection_carries_many_batches() {
        let (t, conns) = server(|mut c| {
            while let Some((head, body)) = read_request(&mut c) {
                assert!(head.starts_with("POST /v1/traces HTTP/1.1\r\n"), "{head}");
                let answer = format!(
                    "{}:{}",
                    body.len(),
                    body.iter().map(|&b| b as u64).sum::<u64>()
                );
                write!(
                    c,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
            }
        });
        let mut client = Client::new(t);
        let big = vec![7u8; 3 << 20];
        for round in 0..5 {
            let parts: [&[u8]; 3] = [b"[", &big[..round * 100_000], b"]"];
            let a = client
                .post_blocking("X-Test: 1\r\n", &parts, soon())
                .unwrap();
            assert_eq!(a.status, 200);
            let want = format!(
                "{}:{}",
                round * 100_000 + 2,
                round as u64 * 700_000 + 91 + 93
            );
            assert_eq!(std::str::from_utf8(a.body).unwrap(), want);
        }
        conns.recv().unwrap();
        assert!(conns.try_recv().is_err(), "a second connection was opened");
    }

    #[test]
    fn a_connection_the_server_closed_is_replaced() {
        // The server answers one request per connection, then closes it
        // without saying so (no Connection: close).
        let (t, conns) = server(|mut c| {
            if read_request(&mut c).is_some() {
                c.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
            }
        });
        let mut client = Client::new(t);
        for _ in 0..3 {
            let a = client.post_blocking("", &[b"{}"], soon()).unwrap();
            assert_eq!(a.status, 202);
        }
        for _ in 0..3 {
            conns.recv().unwrap();
        }
    }

    #[test]
    fn interim_answers_are_skipped_and_errors_keep_their_body() {
        let (t, _) = server(|mut c| {
            while read_request(&mut c).is_some() {
                c.write_all(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 9\r\n\r\ntry later")
                    .unwrap();
            }
        });
        let mut client = Client::new(t);
        let a = client.post_blocking("", &[b"{}"], soon()).unwrap();
        assert_eq!((a.status, a.body), (503, &b"try later"[..]));
    }

    #[test]
    fn a_server_that_never_answers_costs_the_deadline_only() {
        let (t, _) = server(|mut c| {
            let _ = read_request(&mut c);
            std::thread::sleep(Duration::from_secs(30));
        });
        let mut client = Client::new(t);
        let t0 = Instant::now();
        let e = client
            .post_blocking("", &[b"{}"], Instant::now() + Duration::from_millis(300))
            .err()
            .expect("no answer: an error");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    }

    #[test]
    fn refused_and_unresolvable_say_so() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let t = Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let e = Client::new(t)
            .post_blocking("", &[b"{}"], soon())
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        assert!(
            e.to_string()
                .contains(&format!("connect to 127.0.0.1:{port}")),
            "{e}"
        );
        let t = Target::parse("http://no-such-host.invalid:9/").unwrap();
        let e = Client::new(t)
            .post_blocking("", &[b"{}"], soon())
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("cannot resolve no-such-host.invalid"),
            "{e}"
        );
    }

    /// A name that does not resolve: said at once, and not resolved again
    /// before its time (4 s after a first failure), the error kept meanwhile.
    #[test]
    fn a_failed_resolution_is_not_retried_at_once() {
        let t = Target::parse("http://no-such-host.invalid:9/").unwrap();
        let mut c = Client::new(t);
        let e = c.begin(soon()).err().unwrap();
        assert!(
            e.to_string()
                .starts_with("cannot resolve no-such-host.invalid"),
            "{e}"
        );
        let after = c.resolve_after.expect("a time for the next resolution");
        assert!(after >= Instant::now() + RESOLVE_EVERY, "{after:?}");
        let again = c.begin(soon()).err().unwrap();
        assert_eq!(again.to_string(), e.to_string());
        assert_eq!(
            c.resolve_after,
            Some(after),
            "resolved again before its time"
        );
        assert!(!c.connecting());
    }

    /// A port nobody listens on: the connect fails, seen by poll, and
    /// nothing is left open.
    #[test]
    fn a_refused_connect_fails_without_a_request() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Client::new(Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
        assert!(!c.ready() && !c.connecting());
        c.begin(soon()).unwrap();
        match c.poll(Duration::from_secs(10)) {
            Connect::Failed(e) => {
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
                assert!(e.to_string().contains("connect to 127.0.0.1"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!c.connecting() && !c.ready() && c.pending_fd().is_none());
        let e = c.post("", &[b"{}"], soon()).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::NotConnected);
    }

    /// A listener whose accept queue is full drops SYNs without an answer,
    /// as a blackholed address does: the connect stays under way (poll with
    /// no wait says Pending instead of blocking) until its deadline, then
    /// fails as a timeout.
    #[test]
    fn a_blackholed_connect_stays_pending_until_its_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) on the listener's own open socket.
        assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0);
        let addr = l.local_addr().unwrap();
        // Fill the accept queue (backlog 0 holds one connection).
        let mut held = Vec::new();
        let mut c = loop {
            let mut c = Client::new(Target::parse(&format!("http://{addr}/")).unwrap());
            c.begin(soon()).unwrap();
            match c.poll(Duration::from_millis(500)) {
                Connect::Ready => held.push(c),
                Connect::Pending => break c,
                Connect::Failed(e) => panic!("{e}"),
            }
            assert!(held.len() < 8, "the accept queue never filled");
        };
        assert!(matches!(c.poll(Duration::ZERO), Connect::Pending));
        assert!(c.connecting() && c.pending_fd().is_some());
        c.disconnect();
        c.begin(Instant::now() + Duration::from_millis(200))
            .unwrap();
        match c.poll(Duration::from_secs(10)) {
            Connect::Failed(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(!c.connecting());
        drop(held);
    }

    /// A kept-alive connection the server closed is noticed before it is
    /// used (ready() is false), and a POST on it says NotConnected, not a
    /// failure of the satellite.
    #[test]
    fn a_closed_kept_alive_connection_is_not_a_failure() {
        let (t, conns) = server(|mut c| {
            if read_request(&mut c).is_some() {
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
            }
            // Closed here, without a word.
        });
        let mut client = Client::new(t);
        assert_eq!(
            client.post_blocking("", &[b"{}"], soon()).unwrap().status,
            200
        );
        conns.recv().unwrap();
        // Either ready() sees the close, or the POST does.
        if client.ready() {
            match client.post("", &[b"{}"], soon()) {
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::NotConnected, "{e}"),
                Ok(_) => panic!("an answer on a closed connection"),
            }
        }
        assert!(!client.ready());
    }
}
