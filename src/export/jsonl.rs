//! JSON Lines sink: one trace per line, to stdout or a file.

use std::io::{self, Write};

use crate::trace;
use crate::view::View;

pub struct JsonLines {
    out: io::BufWriter<Box<dyn Write>>,
    line: Vec<u8>,
    /// Flush after every line (stdout: a person or a pipe is waiting).
    flush_each: bool,
}

impl JsonLines {
    pub fn new(w: Box<dyn Write>, flush_each: bool) -> JsonLines {
        JsonLines {
            out: io::BufWriter::with_capacity(64 * 1024, w),
            line: Vec::with_capacity(64 * 1024),
            flush_each,
        }
    }

    pub fn reserved(&self) -> usize {
        self.out.capacity() + self.line.capacity()
    }

    pub fn write(&mut self, v: &View) -> io::Result<()> {
        self.line.clear();
        trace::write_json(&mut self.line, v);
        self.out.write_all(&self.line)?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
