//! Capture files (pcap or pcapng), read through libpcap with a large stream
//! buffer; the source that ends.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::pcap_sys::Offline;
use super::{Batch, Frame, OpenError, Pace, Source};

/// The stdio buffer for capture files.
const FILE_BUFFER: usize = 1 << 20;

pub struct File {
    pcap: Offline,
    linktype: i32,
    name: String,
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
        let mut pcap = Offline::open(&c_path, FILE_BUFFER).map_err(cannot)?;
        if let Some(f) = filter {
            let bad = |why: String| OpenError::bad_filter(f, why);
            let c = CString::new(f).map_err(|_| bad("it holds a NUL byte".into()))?;
            pcap.pcap().set_filter(&c).map_err(bad)?;
        }
        Ok(File {
            linktype: pcap.pcap().datalink(),
            pcap,
            name: path.display().to_string(),
        })
    }
}

impl Source for File {
    /// Frames in place in libpcap's buffer; the end of the file ends the
    /// source.
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
        let mut pcap = self.pcap.pcap();
        match pcap.dispatch(self.linktype, max, f) {
            Ok(0) => Ok(Batch::End),
            Ok(n) => Ok(Batch::Frames(n)),
            Err(_) => match pcap.error() {
                // A file cut mid-record: what came before it counts.
                e if e.contains("truncated") => Ok(Batch::End),
                e => Err(format!("reading the file failed: {e}")),
            },
        }
    }

    fn pace(&self) -> Pace {
        Pace::Replay
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> i32 {
        self.linktype
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{Drops, OwnedFrame};

    /// A classic pcap file (Ethernet, microsecond times) holding `records`,
    /// each (seconds, microseconds, bytes); `cut` bytes left off its end.
    fn pcap_file(name: &str, records: &[(u32, u32, &[u8])], cut: usize) -> std::path::PathBuf {
        let mut b = Vec::new();
        for x in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
            b.extend_from_slice(&x.to_le_bytes());
        }
        for (s, us, data) in records {
            for x in [*s, *us, data.len() as u32, data.len() as u32] {
                b.extend_from_slice(&x.to_le_bytes());
            }
            b.extend_from_slice(data);
        }
        b.truncate(b.len() - cut);
        let p =
            std::env::temp_dir().join(format!("pcap-sensor-{}-{name}.pcap", std::process::id()));
        std::fs::write(&p, b).unwrap();
        p
    }

    /// Every frame of `f`, copied, in batches of `max`; and the batches.
    fn read_all(f: &mut File, max: usize) -> (Vec<OwnedFrame>, Vec<Batch>) {
        let (mut frames, mut batches) = (Vec::new(), Vec::new());
        loop {
            let b = f.dispatch(max, &mut |fr| frames.push(fr.into())).unwrap();
            batches.push(b);
            if b == Batch::End {
                return (frames, batches);
            }
        }
    }

    #[test]
    fn frames_in_batches_then_the_end() {
        let p = pcap_file(
            "batches",
            &[(1, 2, b"one"), (3, 4, b"two"), (5, 6, b"3")],
            0,
        );
        let mut f = File::open(&p, None).unwrap();
        assert_eq!((f.pace(), f.linktype()), (Pace::Replay, 1));
        assert_eq!(f.name(), p.display().to_string());
        let (frames, batches) = read_all(&mut f, 2);
        assert_eq!(batches, [Batch::Frames(2), Batch::Frames(1), Batch::End]);
        let want = |ts_us, data: &[u8]| OwnedFrame {
            ts_us,
            linktype: 1,
            data: data.to_vec(),
        };
        assert_eq!(
            frames,
            [
                want(1_000_002, b"one"),
                want(3_000_004, b"two"),
                want(5_000_006, b"3")
            ]
        );
        assert_eq!(frames[1].frame().data, b"two");
        assert_eq!(f.drops(), Drops::default());
        std::fs::remove_file(p).unwrap();
    }

    /// A file cut in the middle of a record ends there: the records before
    /// it count, no error.
    #[test]
    fn a_truncated_file_ends_after_its_whole_records() {
        let p = pcap_file("cut", &[(1, 0, b"whole"), (2, 0, b"cut short")], 4);
        let mut f = File::open(&p, None).unwrap();
        let (frames, batches) = read_all(&mut f, 10);
        assert_eq!(batches, [Batch::End]);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].data, b"whole");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn open_errors_say_what_and_whose() {
        let e = File::open(Path::new("/nonexistent/x.pcap"), None)
            .err()
            .unwrap();
        assert!(!e.usage());
        assert!(
            e.msg
                .starts_with("cannot read '/nonexistent/x.pcap': No such file"),
            "{}",
            e.msg
        );
        let p = pcap_file("filter", &[(1, 0, b"x")], 0);
        let e = File::open(&p, Some("tcp port")).err().unwrap();
        assert!(e.usage(), "{}", e.msg);
        assert!(e.msg.starts_with("bad --filter 'tcp port': "), "{}", e.msg);
        assert!(File::open(&p, Some("tcp port 80")).is_ok());
        std::fs::remove_file(p).unwrap();
    }

    /// What a fault injector does, in small: a source wrapping another one
    /// holds frames back as owned copies and hands them on later (here, each
    /// batch in reverse).
    struct Reversed<S> {
        inner: S,
        held: Vec<OwnedFrame>,
    }

    impl<S: Source> Source for Reversed<S> {
        fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
            let held = &mut self.held;
            let b = self.inner.dispatch(max, &mut |fr| held.push(fr.into()))?;
            let n = held.len();
            for o in held.drain(..).rev() {
                f(&o.frame());
            }
            Ok(if b == Batch::End { b } else { Batch::Frames(n) })
        }
        fn pace(&self) -> Pace {
            self.inner.pace()
        }
        fn name(&self) -> &str {
            self.inner.name()
        }
        fn linktype(&self) -> i32 {
            self.inner.linktype()
        }
    }

    #[test]
    fn a_wrapper_can_hold_frames_back() {
        let p = pcap_file("wrapped", &[(1, 0, b"a"), (2, 0, b"b"), (3, 0, b"c")], 0);
        let inner: Box<dyn Source> = Box::new(File::open(&p, None).unwrap());
        let mut w = Reversed {
            inner,
            held: Vec::new(),
        };
        let mut seen = Vec::new();
        let mut take = |fr: &Frame| seen.push(fr.data[0]);
        assert_eq!(w.dispatch(2, &mut take), Ok(Batch::Frames(2)));
        assert_eq!(w.dispatch(2, &mut take), Ok(Batch::Frames(1)));
        assert_eq!(w.dispatch(2, &mut take), Ok(Batch::End));
        assert_eq!(seen, b"bac");
        std::fs::remove_file(p).unwrap();
    }
}
