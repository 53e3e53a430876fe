//! Packet sources: live libpcap handles (non-blocking, polled) or a file.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use pcap::{Active, Capture};

use crate::decode::dlt;

/// libpcap's per-packet header (struct pcap_pkthdr).
#[repr(C)]
struct PktHdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

/// struct bpf_program.
#[repr(C)]
struct BpfProgram {
    len: c_uint,
    insns: *mut c_void,
}

// From the libpcap the pcap crate links (its own bindings are private).
unsafe extern "C" {
    fn pcap_dispatch(
        p: *mut c_void,
        cnt: c_int,
        callback: extern "C" fn(*mut u8, *const PktHdr, *const u8),
        user: *mut u8,
    ) -> c_int;
    fn pcap_breakloop(p: *mut c_void);
    fn pcap_geterr(p: *mut c_void) -> *const c_char;
    fn pcap_fopen_offline(fp: *mut libc::FILE, errbuf: *mut c_char) -> *mut c_void;
    fn pcap_datalink(p: *mut c_void) -> c_int;
    fn pcap_compile(
        p: *mut c_void,
        prog: *mut BpfProgram,
        filter: *const c_char,
        optimize: c_int,
        netmask: c_uint,
    ) -> c_int;
    fn pcap_setfilter(p: *mut c_void, prog: *mut BpfProgram) -> c_int;
    fn pcap_freecode(prog: *mut BpfProgram);
    fn pcap_close(p: *mut c_void);
}

/// pcap_dispatch with a Rust callback: (packets handed to `f`) or libpcap's
/// error message.
///
/// # Safety
/// `pcap` must be an open pcap_t.
unsafe fn dispatch(
    pcap: *mut c_void,
    linktype: i32,
    max: i32,
    f: &mut dyn FnMut(&Frame),
) -> Result<usize, String> {
    struct Ctx<'f> {
        f: &'f mut dyn FnMut(&Frame),
        linktype: i32,
        panic: Option<Box<dyn std::any::Any + Send>>,
        pcap: *mut c_void,
    }
    extern "C" fn each(user: *mut u8, h: *const PktHdr, data: *const u8) {
        // SAFETY: `user` is the Ctx below, alive for the whole dispatch;
        // libpcap passes a valid header and `caplen` readable bytes.
        let ctx = unsafe { &mut *(user as *mut Ctx) };
        // SAFETY: libpcap's header for this packet, valid during the call.
        let h = unsafe { &*h };
        let frame = Frame {
            ts_us: ts_us(&h.ts),
            linktype: ctx.linktype,
            // SAFETY: libpcap passes `caplen` readable bytes at `data`.
            data: unsafe { std::slice::from_raw_parts(data, h.caplen as usize) },
        };
        // A panic must not unwind through libpcap: carried over and resumed
        // once pcap_dispatch has returned.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.f)(&frame)));
        if let Err(e) = r {
            ctx.panic.get_or_insert(e);
            // SAFETY: the open handle this dispatch runs on.
            unsafe { pcap_breakloop(ctx.pcap) };
        }
    }
    let mut ctx = Ctx {
        f,
        linktype,
        panic: None,
        pcap,
    };
    // SAFETY: errno is this thread's; the caller's handle; `ctx` outlives
    // the call.
    let rc = unsafe {
        *libc::__errno_location() = 0;
        pcap_dispatch(pcap, max, each, (&mut ctx as *mut Ctx).cast())
    };
    let errno = std::io::Error::last_os_error().raw_os_error();
    if let Some(p) = ctx.panic {
        std::panic::resume_unwind(p);
    }
    match usize::try_from(rc) {
        // The number of packets handed over.
        Ok(n) => Ok(n),
        // libpcap's NFLOG reader reports "nothing to read" on a non-blocking
        // handle as an error (recv's EAGAIN, set during this call): no
        // packet, not a failure. Only there: other readers fail without
        // setting errno (an interface gone down), so a leftover EAGAIN must
        // not hide their errors.
        Err(_) if linktype == crate::decode::dlt::NFLOG && errno == Some(libc::EAGAIN) => Ok(0),
        // SAFETY: the caller's open handle.
        Err(_) => Err(unsafe { last_error(pcap) }),
    }
}

/// The handle's last error message.
///
/// # Safety
/// `pcap` must be an open pcap_t.
unsafe fn last_error(pcap: *mut c_void) -> String {
    // SAFETY: pcap_geterr returns the handle's NUL-terminated message.
    unsafe { CStr::from_ptr(pcap_geterr(pcap)) }
        .to_string_lossy()
        .into_owned()
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
    /// libpcap's reason, when the filter was refused.
    pub filter_why: Option<String>,
}

impl OpenError {
    /// The user's to fix (a refused filter: exit 2), not the machine's.
    pub fn usage(&self) -> bool {
        self.filter_why.is_some()
    }
}

fn ts_us(tv: &libc::timeval) -> u64 {
    (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64
}

pub struct Live {
    pub name: String,
    cap: Capture<Active>,
    linktype: i32,
}

/// A capture file, read through libpcap (pcap or pcapng) from a stdio stream
/// with a large buffer: musl's default of 1 KiB meant a read call for
/// almost every packet.
pub struct File {
    pcap: *mut c_void,
    linktype: i32,
    /// The stream's buffer; it must outlive the stream, which pcap_close closes.
    _buf: Box<[u8]>,
}

/// The stdio buffer for capture files.
const FILE_BUFFER: usize = 1 << 20;

fn bad_filter(filter: &str, e: impl std::fmt::Display) -> OpenError {
    OpenError {
        msg: format!(
            "bad --filter '{filter}': {e} (BPF syntax, e.g. --filter 'tcp port 8080 and not port 8888')"
        ),
        filter_why: Some(e.to_string()),
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
            cap.filter(f, true).map_err(|e| bad_filter(f, e))?;
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

    pub fn fd(&self) -> i32 {
        self.cap.as_raw_fd()
    }

    /// Hand up to `max` packets to `f`, straight from the kernel's ring
    /// (pcap_dispatch; pcap_next_ex would copy each packet first). Returns
    /// how many there were: 0 when none is ready.
    pub fn dispatch(&mut self, max: i32, f: &mut dyn FnMut(&Frame)) -> Result<usize, String> {
        let pcap = self.cap.as_ptr().cast::<c_void>();
        // SAFETY: `pcap` is this capture's open handle.
        unsafe { dispatch(pcap, self.linktype, max, f) }
            .map_err(|msg| format!("capture on '{}' failed: {msg}", self.name))
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
        let cannot = |why: String| OpenError {
            msg: format!(
                "cannot read '{}': {why} (expected a pcap or pcapng file)",
                path.display()
            ),
            filter_why: None,
        };
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| cannot("the path holds a NUL byte".into()))?;
        let mut buf = vec![0u8; FILE_BUFFER].into_boxed_slice();
        // SAFETY: plain libc and libpcap calls on pointers made here; the
        // buffer given to setvbuf lives in the File as long as the stream.
        unsafe {
            let fp = libc::fopen(c_path.as_ptr(), c"rb".as_ptr());
            if fp.is_null() {
                return Err(cannot(std::io::Error::last_os_error().to_string()));
            }
            libc::setvbuf(fp, buf.as_mut_ptr().cast(), libc::_IOFBF, buf.len());
            let mut errbuf = [0 as c_char; 256];
            let pcap = pcap_fopen_offline(fp, errbuf.as_mut_ptr());
            if pcap.is_null() {
                libc::fclose(fp);
                let why = CStr::from_ptr(errbuf.as_ptr())
                    .to_string_lossy()
                    .into_owned();
                return Err(cannot(why));
            }
            let file = File {
                pcap,
                linktype: pcap_datalink(pcap),
                _buf: buf,
            };
            if let Some(f) = filter {
                file.set_filter(f)?;
            }
            Ok(file)
        }
    }

    fn set_filter(&self, filter: &str) -> Result<(), OpenError> {
        let bad = |why: String| bad_filter(filter, why);
        let c = CString::new(filter).map_err(|_| bad("it holds a NUL byte".into()))?;
        let mut prog = BpfProgram {
            len: 0,
            insns: std::ptr::null_mut(),
        };
        // SAFETY: our open handle; the program is freed once installed (libpcap
        // keeps its own copy).
        unsafe {
            if pcap_compile(self.pcap, &mut prog, c.as_ptr(), 1, u32::MAX) != 0 {
                return Err(bad(last_error(self.pcap)));
            }
            let rc = pcap_setfilter(self.pcap, &mut prog);
            pcap_freecode(&mut prog);
            if rc != 0 {
                return Err(bad(last_error(self.pcap)));
            }
        }
        Ok(())
    }

    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// Hand up to `max` packets to `f`, in place in libpcap's buffer. Returns
    /// how many there were: 0 at the end of the file.
    pub fn dispatch(&mut self, max: i32, f: &mut dyn FnMut(&Frame)) -> Result<usize, String> {
        // SAFETY: our open handle.
        match unsafe { dispatch(self.pcap, self.linktype, max, f) } {
            Ok(n) => Ok(n),
            // A file cut mid-record: what came before it counts.
            Err(e) if e.contains("truncated") => Ok(0),
            Err(e) => Err(format!("reading the file failed: {e}")),
        }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once; this also closes the stream.
        unsafe { pcap_close(self.pcap) };
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
