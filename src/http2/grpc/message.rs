//! [`MessageCounter`]: gRPC's length-prefixed messages (a 1-byte flag, a 4-byte big-endian
//! length, the message) counted across the DATA pieces of one stream and direction, however
//! the pieces cut them, in 20 bytes.

/// Counts the messages of one direction of one stream. Offer it the stream's DATA pieces in
/// order with [`feed`](Self::feed). Flag bit 0 marks a compressed message; a frame whose flag
/// has bit 7 set is a gRPC-Web trailer frame, not a message. After a lost DATA piece the
/// counts are unknown: the caller stops using them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounter {
    /// The prefix being read: flag, then length bytes.
    prefix: [u8; 5],
    /// Prefix bytes read; 5 while inside a message.
    have: u8,
    /// Message bytes still to come.
    left: u32,
    messages: u32,
    compressed: u32,
    trailer_frames: u16,
}

impl MessageCounter {
    /// A counter at the start of a stream's DATA.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the next DATA piece; returns the messages it completed.
    pub fn feed(&mut self, mut data: &[u8]) -> u32 {
        let before = self.messages;
        loop {
            if self.have < 5 {
                let have = usize::from(self.have);
                let n = data.len().min(5 - have);
                self.prefix[have..have + n].copy_from_slice(&data[..n]);
                data = &data[n..];
                self.have += n as u8;
                if self.have < 5 {
                    break;
                }
                let p = self.prefix;
                self.left = u32::from_be_bytes([p[1], p[2], p[3], p[4]]);
            }
            let n = data.len().min(self.left as usize);
            data = &data[n..];
            self.left -= n as u32;
            if self.left > 0 {
                break;
            }
            self.complete();
            if data.is_empty() {
                break;
            }
        }
        self.messages - before
    }

    fn complete(&mut self) {
        let flag = self.prefix[0];
        if flag & 0x80 != 0 {
            self.trailer_frames = self.trailer_frames.saturating_add(1);
        } else {
            self.messages = self.messages.saturating_add(1);
            if flag & 0x01 != 0 {
                self.compressed = self.compressed.saturating_add(1);
            }
        }
        self.have = 0;
    }

    /// Complete messages so far.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// Complete messages so far whose compressed flag was set.
    pub fn compressed(&self) -> u32 {
        self.compressed
    }

    /// gRPC-Web trailer frames (flag bit 7) seen; not counted as messages.
    pub fn trailer_frames(&self) -> u32 {
        u32::from(self.trailer_frames)
    }

    /// Whether a message (or its prefix) has started and not ended: at END_STREAM, the last
    /// message was cut.
    pub fn in_message(&self) -> bool {
        self.have > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn one_piece() {
        let mut c = MessageCounter::new();
        let mut data = message(0, b"hello");
        data.extend(message(1, b"zipped"));
        data.extend(message(0, b""));
        assert_eq!(c.feed(&data), 3);
        assert_eq!(
            (c.messages(), c.compressed(), c.in_message()),
            (3, 1, false)
        );
    }

    #[test]
    fn every_split_counts_the_same() {
        let mut data = message(0, &[7; 40]);
        data.extend(message(0, b""));
        data.extend(message(1, b"abc"));
        data.extend(message(0x80, b"grpc-status:0\r\n"));
        data.extend(message(0, &[0; 300]));
        for a in 0..=data.len() {
            for b in (a..=data.len()).step_by(7) {
                let mut c = MessageCounter::new();
                let mut sum = 0;
                for piece in [&data[..a], &data[a..b], &data[b..]] {
                    sum += c.feed(piece);
                }
                assert_eq!((sum, c.messages()), (4, 4), "split {a}/{b}");
                assert_eq!((c.compressed(), c.trailer_frames()), (1, 1));
                assert!(!c.in_message());
            }
        }
    }

    #[test]
    fn byte_by_byte_and_cut() {
        let data = message(0, &[1; 1000]);
        let mut c = MessageCounter::new();
        for (i, b) in data.iter().enumerate() {
            let done = c.feed(std::slice::from_ref(b));
            assert_eq!(done, u32::from(i == data.len() - 1));
            assert_eq!(c.in_message(), i != data.len() - 1);
        }
        // A stream that ends inside a prefix or a body is seen as cut.
        let mut c = MessageCounter::new();
        c.feed(&data[..3]);
        assert!(c.in_message());
        c.feed(&data[3..500]);
        assert!(c.in_message());
        assert_eq!(c.messages(), 0);
        assert_eq!(c.feed(&[]), 0);
    }

    #[test]
    fn state_is_small() {
        let size = std::mem::size_of::<MessageCounter>();
        assert!(size <= 20, "{size} bytes");
    }

    #[test]
    fn huge_length_is_just_counted_down() {
        // A 4 GiB - 1 message: the counter only counts; nothing is buffered.
        let mut c = MessageCounter::new();
        c.feed(&[0, 0xff, 0xff, 0xff, 0xff]);
        c.feed(&[0; 4096]);
        assert!(c.in_message());
        assert_eq!(c.messages(), 0);
    }
}
