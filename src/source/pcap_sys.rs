//! The libpcap calls the pcap crate does not offer (its own bindings are
//! private): pcap_dispatch with a Rust callback (frames straight from
//! libpcap's buffer, no copy), capture files opened from our own stdio
//! stream, and filters on them. Every foreign call into libpcap outside the
//! pcap crate is here, behind two types: `Offline` owns a capture file's
//! handle, `Pcap` borrows an open one (live.rs borrows the pcap crate's).

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::marker::PhantomData;
use std::ptr::NonNull;

use super::Frame;

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

/// The callback pcap_dispatch calls for each packet.
type Handler = extern "C" fn(*mut u8, *const PktHdr, *const u8);

// From the libpcap the pcap crate links.
unsafe extern "C" {
    fn pcap_dispatch(p: *mut c_void, cnt: c_int, callback: Handler, user: *mut u8) -> c_int;
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

/// pcap_dispatch failed; its message is `Pcap::error`.
#[derive(Debug, Clone, Copy)]
pub struct DispatchFailed {
    /// errno as the call left it (cleared before it).
    pub errno: Option<i32>,
}

/// An open pcap_t, borrowed for `'a` (whoever opened it closes it).
pub struct Pcap<'a> {
    p: NonNull<c_void>,
    _open: PhantomData<&'a mut c_void>,
}

impl<'a> Pcap<'a> {
    /// # Safety
    /// `p` must be an open pcap_t that nothing closes or uses from another
    /// thread while the returned value lives.
    pub unsafe fn borrow(p: *mut c_void) -> Pcap<'a> {
        Pcap {
            p: NonNull::new(p).expect("a pcap_t"),
            _open: PhantomData,
        }
    }

    /// pcap_dispatch with a Rust callback: hands up to `max` packets (at
    /// least 1) to `f` as frames of `linktype`, in place in libpcap's buffer.
    /// Returns how many there were.
    pub fn dispatch(
        &mut self,
        linktype: i32,
        max: usize,
        f: &mut dyn FnMut(&Frame),
    ) -> Result<usize, DispatchFailed> {
        struct Ctx<'f> {
            f: &'f mut dyn FnMut(&Frame),
            linktype: i32,
            panic: Option<Box<dyn std::any::Any + Send>>,
            pcap: *mut c_void,
        }
        extern "C" fn each(user: *mut u8, h: *const PktHdr, data: *const u8) {
            // SAFETY: `user` is the Ctx below, alive and not otherwise
            // borrowed for the whole pcap_dispatch call that calls us.
            let ctx = unsafe { &mut *user.cast::<Ctx>() };
            // SAFETY: libpcap passes a valid header for this packet.
            let h = unsafe { &*h };
            // SAFETY: libpcap passes `caplen` readable bytes, which stay
            // unchanged until the callback returns.
            let data = unsafe { std::slice::from_raw_parts(data, h.caplen as usize) };
            let frame = Frame {
                ts_us: ts_us(&h.ts),
                linktype: ctx.linktype,
                data,
            };
            // A panic must not unwind through libpcap: carried over and resumed
            // once pcap_dispatch has returned.
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (ctx.f)(&frame)));
            if let Err(e) = r {
                ctx.panic.get_or_insert(e);
                // SAFETY: the handle pcap_dispatch is running on.
                unsafe { pcap_breakloop(ctx.pcap) };
            }
        }
        let mut ctx = Ctx {
            f,
            linktype,
            panic: None,
            pcap: self.p.as_ptr(),
        };
        let max = c_int::try_from(max).unwrap_or(c_int::MAX).max(1);
        // SAFETY: errno is this thread's own; the handle is open (Pcap's
        // contract) and `ctx` outlives the call, which is the only user of
        // the pointer to it.
        let rc = unsafe {
            *libc::__errno_location() = 0;
            pcap_dispatch(self.p.as_ptr(), max, each, (&raw mut ctx).cast())
        };
        let errno = std::io::Error::last_os_error().raw_os_error();
        if let Some(p) = ctx.panic {
            std::panic::resume_unwind(p);
        }
        usize::try_from(rc).map_err(|_| DispatchFailed { errno })
    }

    /// The handle's last error message.
    pub fn error(&self) -> String {
        // SAFETY: an open handle; pcap_geterr returns its NUL-terminated
        // message, copied here before any other call on it.
        unsafe { CStr::from_ptr(pcap_geterr(self.p.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    /// The link type of the handle's packets (a DLT_ number).
    pub fn datalink(&self) -> i32 {
        // SAFETY: an open handle.
        unsafe { pcap_datalink(self.p.as_ptr()) }
    }

    /// Compile `filter` and install it; libpcap's message when it cannot.
    pub fn set_filter(&mut self, filter: &CStr) -> Result<(), String> {
        let mut prog = BpfProgram {
            len: 0,
            insns: std::ptr::null_mut(),
        };
        let p = self.p.as_ptr();
        // SAFETY: an open handle and a NUL-terminated filter; on success the
        // program is ours to free (libpcap installs a copy of it).
        if unsafe { pcap_compile(p, &mut prog, filter.as_ptr(), 1, u32::MAX) } != 0 {
            return Err(self.error());
        }
        // SAFETY: an open handle and the program just compiled, freed once.
        let rc = unsafe {
            let rc = pcap_setfilter(p, &mut prog);
            pcap_freecode(&mut prog);
            rc
        };
        if rc != 0 {
            return Err(self.error());
        }
        Ok(())
    }
}

/// Microseconds since the epoch (times before it count as 0).
fn ts_us(tv: &libc::timeval) -> u64 {
    (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64
}

/// A capture file (pcap or pcapng) read by libpcap from a stdio stream with
/// a buffer of our size: musl's default of 1 KiB meant a read call for
/// almost every packet. Closed on drop.
pub struct Offline {
    p: NonNull<c_void>,
    /// The stream's buffer; it must outlive the stream, which pcap_close closes.
    _buf: Box<[u8]>,
}

impl Offline {
    /// Open `path` with a stream buffer of `buffer` bytes; why not, when it
    /// cannot be (the system's or libpcap's message).
    pub fn open(path: &CStr, buffer: usize) -> Result<Offline, String> {
        let mut buf = vec![0u8; buffer].into_boxed_slice();
        // SAFETY: NUL-terminated path and mode; the stream is checked below.
        let fp = unsafe { libc::fopen(path.as_ptr(), c"rb".as_ptr()) };
        if fp.is_null() {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let mut errbuf = [0 as c_char; 256];
        // SAFETY: a fresh stream and a buffer that lives in the Offline as
        // long as the stream (pcap_close closes it); libpcap writes at most
        // PCAP_ERRBUF_SIZE (256) bytes of message.
        let p = unsafe {
            libc::setvbuf(fp, buf.as_mut_ptr().cast(), libc::_IOFBF, buf.len());
            pcap_fopen_offline(fp, errbuf.as_mut_ptr())
        };
        match NonNull::new(p) {
            Some(p) => Ok(Offline { p, _buf: buf }),
            None => {
                // SAFETY: libpcap did not take the stream: ours to close, once;
                // it left a NUL-terminated message in `errbuf`.
                unsafe {
                    libc::fclose(fp);
                    Err(CStr::from_ptr(errbuf.as_ptr())
                        .to_string_lossy()
                        .into_owned())
                }
            }
        }
    }

    pub fn pcap(&mut self) -> Pcap<'_> {
        // SAFETY: our handle, open until drop; the borrow of `self` keeps it so.
        unsafe { Pcap::borrow(self.p.as_ptr()) }
    }
}

impl Drop for Offline {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once; this also closes the stream.
        unsafe { pcap_close(self.p.as_ptr()) };
    }
}
