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
