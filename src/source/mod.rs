//! Where frames come from: capture files and live interfaces behind one
//! `Source` trait, so the sensor has one read loop.
//!
//! A source hands frames over in batches, in place in libpcap's buffer (a
//! `Frame` borrows it for the length of the callback). A recording (`File`)
//! is read as fast as it goes and ends; live handles (`Live`) never end and
//! are polled. A source that holds frames back (a test wrapper that reorders
//! or delays them, e.g.) keeps `OwnedFrame` copies and hands them on with
//! `OwnedFrame::frame`: `fault::FaultInjector` is that wrapper, for tests
//! and fuzzing, and `Frames` the recording in memory they feed it.

pub mod fault;
mod file;
mod filter;
mod live;
mod memory;
mod pcap_sys;

use std::os::fd::RawFd;

pub use file::File;
pub use filter::CaptureFilter;
pub use live::{Live, wait, wait_with};
pub use memory::Frames;

/// One captured frame, borrowed from libpcap's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Capture time, microseconds since the epoch.
    pub ts_us: u64,
    /// The source's link type (a DLT_ number).
    pub linktype: i32,
    /// The bytes captured (up to the snap length).
    pub data: &'a [u8],
}

/// A frame copied out of libpcap's buffer, to be handed over later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    pub ts_us: u64,
    pub linktype: i32,
    pub data: Vec<u8>,
}

impl OwnedFrame {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            ts_us: self.ts_us,
            linktype: self.linktype,
            data: &self.data,
        }
    }
}

impl From<&Frame<'_>> for OwnedFrame {
    fn from(f: &Frame<'_>) -> OwnedFrame {
        OwnedFrame {
            ts_us: f.ts_us,
            linktype: f.linktype,
            data: f.data.to_vec(),
        }
    }
}

/// What one `Source::dispatch` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// This many frames were handed over: 0 when none is ready (live).
    Frames(usize),
    /// The source has ended (frames may have been handed over in this call
    /// before it did); none will follow.
    End,
}

/// How a source delivers frames, which decides how the loop waits and
/// keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// A recording: read as fast as it can be, to its end; time is the
    /// frames' own.
    Replay,
    /// Frames come as they are captured: poll `fd` until they do; time is
    /// the wall clock.
    Live { fd: RawFd },
}

impl Pace {
    /// The descriptor to poll, for a live source.
    pub fn fd(self) -> Option<RawFd> {
        match self {
            Pace::Replay => None,
            Pace::Live { fd } => Some(fd),
        }
    }
}

/// Packets lost before they reached the sensor.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    /// Dropped by the kernel (the capture buffer was full).
    pub kernel: u64,
    /// Dropped by the interface or its driver.
    pub interface: u64,
}

/// A capture file or a live interface, as the read loop sees it.
pub trait Source {
    /// Hand up to `max` frames (at least 1) to `f`, in capture order.
    /// Err: why reading cannot go on, as the user reads it.
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String>;

    /// Replay, or live with the descriptor to poll.
    fn pace(&self) -> Pace;

    /// Packets lost so far (none for a file).
    fn drops(&mut self) -> Drops {
        Drops::default()
    }

    /// The interface's name, or the file's path.
    fn name(&self) -> &str;

    /// The link type of every frame (a DLT_ number).
    fn linktype(&self) -> i32;
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
        (**self).dispatch(max, f)
    }
    fn pace(&self) -> Pace {
        (**self).pace()
    }
    fn drops(&mut self) -> Drops {
        (**self).drops()
    }
    fn name(&self) -> &str {
        (**self).name()
    }
    fn linktype(&self) -> i32 {
        (**self).linktype()
    }
}

/// A source that cannot be opened: the message, and whose fault it is.
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

    /// A BPF filter libpcap refused, for `why`.
    fn bad_filter(filter: &str, why: impl std::fmt::Display) -> OpenError {
        OpenError {
            msg: format!(
                "bad --filter '{filter}': {why} (BPF syntax, e.g. --filter 'tcp port 8080 and not port 8888')"
            ),
            filter_why: Some(why.to_string()),
        }
    }
}
