//! Packet sources: live libpcap handles (non-blocking, polled) or a file.

use std::os::fd::AsRawFd;
use std::path::Path;

use pcap::{Active, Capture, Offline};

use crate::decode::dlt;

/// libpcap's per-packet header (struct pcap_pkthdr).
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

// From the libpcap the pcap crate links (its own bindings are private).
unsafe extern "C" {
    fn pcap_dispatch(
        p: *mut std::ffi::c_void,
        cnt: std::ffi::c_int,
        callback: extern "C" fn(*mut u8, *const PktHdr, *const u8),
        user: *mut u8,
    ) -> std::ffi::c_int;
    fn pcap_breakloop(p: *mut std::ffi::c_void);
    fn pcap_geterr(p: *mut std::ffi::c_void) -> *const std::ffi::c_char;
}

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

/// What one read of a file produced.
pub enum Next<'a> {
    Frame(Frame<'a>),
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

    /// Hand up to `max` packets to `f`, straight from the kernel's ring
    /// (pcap_dispatch; pcap_next_ex would copy each packet first). Returns
    /// how many there were: 0 when none is ready.
    pub fn dispatch(&mut self, max: i32, f: &mut dyn FnMut(&Frame)) -> Result<usize, String> {
        struct Ctx<'f> {
            f: &'f mut dyn FnMut(&Frame),
            linktype: i32,
            n: usize,
            panic: Option<Box<dyn std::any::Any + Send>>,
            pcap: *mut std::ffi::c_void,
        }
        extern "C" fn each(user: *mut u8, h: *const PktHdr, data: *const u8) {
            // SAFETY: `user` is the Ctx below, alive for the whole dispatch;
            // libpcap passes a valid header and `caplen` readable bytes.
            let ctx = unsafe { &mut *(user as *mut Ctx) };
            let h = unsafe { &*h };
            let frame = Frame {
                ts_us: ts_us(&h.ts),
                linktype: ctx.linktype,
                data: unsafe { std::slice::from_raw_parts(data, h.caplen as usize) },
            };
            ctx.n += 1;
            // A panic must not unwind through libpcap: carried over and resumed
            // once pcap_dispatch has returned.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.f)(&frame)));
            if let Err(e) = r {
                ctx.panic.get_or_insert(e);
                unsafe { pcap_breakloop(ctx.pcap) };
            }
        }
        let pcap = self.cap.as_ptr().cast::<std::ffi::c_void>();
        let mut ctx = Ctx {
            f,
            linktype: self.linktype,
            n: 0,
            panic: None,
            pcap,
        };
        // SAFETY: `pcap` is this capture's open handle; `ctx` outlives the call.
        let rc = unsafe { pcap_dispatch(pcap, max, each, (&mut ctx as *mut Ctx).cast()) };
        if let Some(p) = ctx.panic {
            std::panic::resume_unwind(p);
        }
        if rc == -1 {
            // SAFETY: pcap_geterr returns the handle's NUL-terminated message.
            let msg = unsafe { std::ffi::CStr::from_ptr(pcap_geterr(pcap)) };
            return Err(format!(
                "capture on '{}' failed: {}",
                self.name,
                msg.to_string_lossy()
            ));
        }
        Ok(ctx.n)
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
