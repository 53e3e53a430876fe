//! Frames held in memory, handed over in order as a recording would be: the
//! source tests and the fuzz harness build (from generated segments, say) to
//! drive the read path without a capture file. The sensor binary never uses
//! it.

use std::collections::VecDeque;

use super::{Batch, Frame, OwnedFrame, Pace, Source};

/// A recording in memory: its frames in capture order, then the end.
#[derive(Debug, Clone)]
pub struct Frames {
    frames: VecDeque<OwnedFrame>,
    linktype: i32,
    name: String,
}

impl Frames {
    /// `frames` (each of link type `linktype`), under the name `name`.
    pub fn new(
        name: impl Into<String>,
        linktype: i32,
        frames: impl IntoIterator<Item = OwnedFrame>,
    ) -> Frames {
        Frames {
            frames: frames.into_iter().collect(),
            linktype,
            name: name.into(),
        }
    }

    /// Frames not handed over yet.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl Source for Frames {
    /// Up to `max` frames; `End` once none is left.
    fn dispatch(&mut self, max: usize, f: &mut dyn FnMut(&Frame)) -> Result<Batch, String> {
        if self.frames.is_empty() {
            return Ok(Batch::End);
        }
        let n = max.max(1).min(self.frames.len());
        for fr in self.frames.drain(..n) {
            f(&fr.frame());
        }
        Ok(Batch::Frames(n))
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

    fn frame(ts_us: u64, data: &[u8]) -> OwnedFrame {
        OwnedFrame {
            ts_us,
            linktype: 12,
            data: data.to_vec(),
        }
    }

    #[test]
    fn frames_in_batches_then_the_end() {
        let mut s = Frames::new(
            "mem",
            12,
            [frame(1, b"a"), frame(2, b"bb"), frame(3, b"ccc")],
        );
        assert_eq!(
            (s.pace(), s.linktype(), s.name()),
            (Pace::Replay, 12, "mem")
        );
        let mut got = Vec::new();
        let mut batches = Vec::new();
        loop {
            let b = s
                .dispatch(2, &mut |f| got.push(OwnedFrame::from(f)))
                .unwrap();
            batches.push(b);
            if b == Batch::End {
                break;
            }
        }
        assert_eq!(batches, [Batch::Frames(2), Batch::Frames(1), Batch::End]);
        assert_eq!(got, [frame(1, b"a"), frame(2, b"bb"), frame(3, b"ccc")]);
        assert!(s.is_empty());
    }
}
