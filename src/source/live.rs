//! Live capture on an interface: a non-blocking libpcap handle, polled by
//! the read loop; the source that never ends.

use std::os::fd::{AsRawFd, RawFd};

use pcap::{Active, Capture};

use super::pcap_sys::Pcap;
use super::{Batch, Drops, Frame, OpenError, Pace, Source};
use crate::wire::dlt;

pub struct Live {
    name: String,
    cap: Capture<Active>,
    linktype: i32,
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
            filter_why: None,
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
            cap.filter(f, true)
                .map_err(|e| OpenError::bad_filter(f, e))?;
        }
        let linktype = cap.get_datalink().0;
        if !dlt::supported(linktype) {
            return Err(OpenError {
                msg: format!(
                    "interface '{name}' has link type {} which is not supported",
                    linktype
                ),
                filter_why: None,
            });
        }
        Ok(Live {
            name: name.to_string(),
            cap,
            linktype,
        })
    }
}

impl Source for Live {
    /// Frames straight from the kernel's ring (pcap_dispatch; pcap_next_ex
    /// would copy each packet first): 0 when none is ready.
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
        // SAFETY: the capture's own open handle; `self` is borrowed while
        // it is used, and the capture is used from this thread only.
        let mut pcap = unsafe { Pcap::borrow(self.cap.as_ptr().cast()) };
        match pcap.dispatch(self.linktype, max, f) {
            Ok(n) => Ok(Batch::Frames(n)),
            // libpcap's NFLOG reader reports "nothing to read" on a
            // non-blocking handle as an error (recv's EAGAIN, set during this
            // call): no packet, not a failure. Only there: other readers fail
            // without setting errno (an interface gone down), so a leftover
            // EAGAIN must not hide their errors.
            Err(e) if self.linktype == dlt::NFLOG && e.errno == Some(libc::EAGAIN) => {
                Ok(Batch::Frames(0))
            }
            Err(_) => Err(format!(
                "capture on '{}' failed: {}",
                self.name,
                pcap.error()
            )),
        }
    }

    fn pace(&self) -> Pace {
        Pace::Live {
            fd: self.cap.as_raw_fd(),
        }
    }

    fn drops(&mut self) -> Drops {
        match self.cap.stats() {
            Ok(s) => Drops {
                kernel: s.dropped as u64,
                interface: s.if_dropped as u64,
            },
            Err(_) => Drops::default(),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> i32 {
        self.linktype
    }
}

/// Wait until one of `fds` is readable, a signal arrives, or `timeout_ms`
/// passes (at most 16 descriptors are watched).
pub fn wait(fds: &[RawFd], timeout_ms: i32) {
    wait_with(fds, None, timeout_ms)
}

/// [`wait`], and also until `writable` (a socket being connected) is
/// writable.
pub fn wait_with(fds: &[RawFd], writable: Option<RawFd>, timeout_ms: i32) {
    let mut p = [libc::pollfd {
        fd: -1,
        events: 0,
        revents: 0,
    }; 17];
    let mut n = fds.len().min(p.len() - 1);
    for (slot, &fd) in p.iter_mut().zip(&fds[..n]) {
        slot.fd = fd;
        slot.events = libc::POLLIN;
    }
    if let Some(fd) = writable {
        p[n] = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        n += 1;
    }
    // SAFETY: `p` holds `n` initialised pollfd entries.
    unsafe {
        libc::poll(p.as_mut_ptr(), n as libc::nfds_t, timeout_ms);
    }
}
