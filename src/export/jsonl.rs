//! JSON Lines sink: one trace per line, to stdout or a file.

use std::io::{self, Write};
use std::time::Instant;

use super::{Next, Output, next};
use crate::view::View;

mod format;
pub use format::write_json;

pub struct JsonLines {
    out: Box<dyn Write>,
    /// Whole lines waiting to be written (traces are built straight into it).
    buf: Vec<u8>,
    /// Flush after every line (stdout: a person or a pipe is waiting).
    flush_each: bool,
}

/// Lines are written out once this much has gathered.
const BATCH: usize = 64 * 1024;

impl JsonLines {
    pub fn new(out: Box<dyn Write>, flush_each: bool) -> JsonLines {
        JsonLines {
            out,
            // One batch plus a typical last line.
            buf: Vec::with_capacity(2 * BATCH),
            flush_each,
        }
    }

    fn line(&mut self, v: &View) -> io::Result<()> {
        write_json(&mut self.buf, v);
        if self.flush_each || self.buf.len() >= BATCH {
            self.drain()?;
        }
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
        let r = self.out.write_all(&self.buf);
        // Written or not, these lines are done with: the caller counts the error.
        self.buf.clear();
        r
    }
}

impl Output for JsonLines {
    fn write(&mut self, v: &View) -> Next {
        next(self.line(v))
    }

    fn reserved(&self) -> usize {
        self.buf.capacity()
    }

    fn finish(&mut self, _deadline: Instant) -> io::Result<()> {
        self.drain()?;
        self.out.flush()
    }
}
