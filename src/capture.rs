//! Packet sources: live libpcap handles (non-blocking, polled) or a file.

use std::os::fd::AsRawFd;
use std::path::Path;

use pcap::{Active, Capture, Offline};

use crate::decode::dlt;

/// One captured frame, borrowed from libpcap's buffer.
pub struct Frame<'a> {
    pub ts_us: u64,
    pub linktype: i32,
    pub data: &'a [u8],
}

/// A failure the user must hear about: the message, and the exit code.
#[derive(Debug)]
pub struct OpenError {
    pub msg: String,
    pub usage: bool,
}

fn ts_us(tv: &libc::timeval) -> u64 {
    (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64
}

pub struct Live {
    pub name: String,
    cap: Capture<Active>,
    linktype: i32,
}

pub struct File {
    cap: Capture<Offline>,
    linktype: i32,
}

/// What one call to `next` produced.
pub enum Next<'a> {
    Frame(Frame<'a>),
    /// Nothing ready now (live) — poll, then try again.
    Idle,
    /// End of the file.
    End,
}

fn bad_filter(filter: &str, e: pcap::Error) -> OpenError {
    OpenError {
        msg: format!(
            "bad --filter '{filter}': {e} (BPF syntax, e.g. --filter 'tcp port 8080 and not port 8888')"
        ),
        usage: true,
    }
}

impl Live {
    pub fn open(
        name: &str,
        filter: Option<&str>,
        snaplen: u32,
        buffer_mb: u32,
    ) -> Result<Live, OpenError> {
        let fail = |e: pcap::Error| OpenError {
            msg: format!(
                "cannot capture on '{name}': {e} (capture needs root or CAP_NET_RAW; list interfaces with 'ip link')"
            ),
            usage: false,
        };
        let cap = Capture::from_device(name)
            .map_err(fail)?
            .snaplen(snaplen as i32)
            .promisc(false)
            .timeout(100)
            .buffer_size((buffer_mb as i32).saturating_mul(1 << 20))
            .open()
            .map_err(fail)?;
        let mut cap = cap.setnonblock().map_err(fail)?;
        if let Some(f) = filter {
            cap.filter(f, true).map_err(|e| bad_filter(f, e))?;
        }
        let linktype = cap.get_datalink().0;
        if !dlt::supported(linktype) {
            return Err(OpenError {
                msg: format!(
                    "interface '{name}' has link type {} which is not supported",
                    linktype
                ),
                usage: false,
            });
        }
        Ok(Live {
            name: name.to_string(),
            cap,
            linktype,
        })
    }

    pub fn fd(&self) -> i32 {
        self.cap.as_raw_fd()
    }

    pub fn read(&mut self) -> Result<Next<'_>, String> {
        match self.cap.next_packet() {
            Ok(p) => Ok(Next::Frame(Frame {
                ts_us: ts_us(&p.header.ts),
                linktype: self.linktype,
                data: p.data,
            })),
            Err(pcap::Error::TimeoutExpired) => Ok(Next::Idle),
            Err(pcap::Error::NoMorePackets) => Ok(Next::Idle),
            Err(e) => Err(format!("capture on '{}' failed: {e}", self.name)),
        }
    }

    /// (packets dropped by the kernel, dropped by the interface)
    pub fn drops(&mut self) -> (u64, u64) {
        match self.cap.stats() {
            Ok(s) => (s.dropped as u64, s.if_dropped as u64),
            Err(_) => (0, 0),
        }
    }
}

impl File {
    pub fn open(path: &Path, filter: Option<&str>) -> Result<File, OpenError> {
        let mut cap = Capture::from_file(path).map_err(|e| OpenError {
            msg: format!(
                "cannot read '{}': {e} (expected a pcap or pcapng file)",
                path.display()
            ),
            usage: false,
        })?;
        if let Some(f) = filter {
            cap.filter(f, true).map_err(|e| bad_filter(f, e))?;
        }
        let linktype = cap.get_datalink().0;
        Ok(File { cap, linktype })
    }

    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    pub fn read(&mut self) -> Result<Next<'_>, String> {
        match self.cap.next_packet() {
            Ok(p) => Ok(Next::Frame(Frame {
                ts_us: ts_us(&p.header.ts),
                linktype: self.linktype,
                data: p.data,
            })),
            Err(pcap::Error::NoMorePackets) => Ok(Next::End),
            // A file cut mid-record: what came before it counts.
            Err(pcap::Error::PcapError(e)) if e.contains("truncated") => Ok(Next::End),
            Err(e) => Err(format!("reading the file failed: {e}")),
        }
    }
}

/// Wait until one of `fds` is readable, a signal arrives, or `timeout_ms` passes.
pub fn wait(fds: &[i32], timeout_ms: i32) {
    let mut p = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 16];
    let n = fds.len().min(p.len());
    for (slot, &fd) in p.iter_mut().zip(fds) {
        slot.fd = fd;
        slot.events = libc::POLLIN;
    }
    // SAFETY: `p` holds `n` initialised pollfd entries.
    unsafe {
        libc::poll(p.as_mut_ptr(), n as libc::nfds_t, timeout_ms);
    }
}
