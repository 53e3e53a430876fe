//! JSON Lines sink: one trace per line, to stdout or a file.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::http::{Emit, Ends, Exchange};
use crate::pool::Store;
use crate::trace::{self, Scratch};

pub struct JsonLines {
    out: BufWriter<Box<dyn Write>>,
    scratch: Scratch,
    /// Flush after every line (stdout: a person or a pipe is waiting).
    flush_each: bool,
    written: u64,
    limit: Option<u64>,
    error: Option<io::Error>,
}

impl JsonLines {
    /// `dest` is "-" for stdout or a file path (created or truncated).
    pub fn open(dest: &str, limit: Option<u64>) -> io::Result<JsonLines> {
        let (w, flush_each): (Box<dyn Write>, bool) = if dest == "-" {
            (Box::new(io::stdout()), true)
        } else {
            (Box::new(File::create(dest)?), false)
        };
        Ok(JsonLines {
            out: BufWriter::with_capacity(64 * 1024, w),
            scratch: Scratch::default(),
            flush_each,
            written: 0,
            limit,
            error: None,
        })
    }

    pub fn reserved(&self) -> usize {
        self.out.capacity() + self.scratch.reserved()
    }

    /// The `--count` limit is reached.
    pub fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.written >= l)
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn has_failed(&self) -> bool {
        self.error.is_some()
    }

    /// A write failed (e.g. the reader of stdout went away).
    pub fn take_error(&mut self) -> Option<io::Error> {
        self.error.take()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Emit for JsonLines {
    fn emit(&mut self, ex: &Exchange, ends: &Ends, store: &Store) {
        if self.full() || self.error.is_some() {
            return;
        }
        let r =
            trace::write_json(&mut self.out, ex, ends, store, &mut self.scratch).and_then(|_| {
                if self.flush_each {
                    self.out.flush()
                } else {
                    Ok(())
                }
            });
        match r {
            Ok(()) => self.written += 1,
            Err(e) => self.error = Some(e),
        }
    }
}
