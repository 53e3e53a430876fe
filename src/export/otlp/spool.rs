//! The disk spool (`--spool-dir`): batches the satellite cannot take now
//! wait in files instead of being dropped, and leave again, oldest first,
//! once it takes traces again, also after the sensor restarts.
//!
//! One file per batch, `DIR/<sequence number, 20 digits>.spool`, written
//! once from start to end and made durable before the batch counts as
//! spooled: the file's data is fsync'd, then the folder (its new name).
//! Per batch rather than per interval: a batch is spooled at most once per
//! `--trace-export-interval` or per `--max-batch-kb` of traces, only while
//! the satellite fails, so the syncs are few, and a batch counted as spooled
//! is on disk.
//!
//! A file is a 24-byte header, then the batch's spans as the export queue
//! holds them (each followed by a comma), without the resource's envelope
//! (the sensor that sends it adds its own):
//!
//! ```text
//! 0   8  magic "PSSPOOL1"
//! 8   4  traces in the batch           (little-endian)
//! 12  4  length of the spans in bytes  (little-endian)
//! 16  4  CRC-32 of the spans           (little-endian)
//! 20  4  CRC-32 of bytes 0..20         (little-endian)
//! 24     the spans
//! ```
//!
//! A file whose length, checksums or shape do not match (a crash in the
//! middle of a write, a full disk, damage) is counted (`spool_corrupt`; its
//! traces go to `spool_dropped` when its header is intact), deleted and
//! skipped. CRC-32 is flate2's (`flate2::Crc`, crc32fast underneath): the
//! gzip decoder already links it in, so it costs no code; a checksum guards
//! against accidents, not against someone forging files in the folder.
//!
//! Commit: a batch sent from the spool is deleted, and the folder fsync'd,
//! as soon as the satellite acknowledges it with a 2xx: a sensor that
//! restarts never sends an acknowledged batch again. The window left is
//! between the 2xx arriving and the unlink returning (one system call): a
//! kill or power loss exactly then sends that one batch twice.
//!
//! Memory does not depend on how many files there are: the spool knows the
//! oldest and the next sequence numbers, how many files and bytes it holds,
//! and has one read buffer (a header and `--max-batch-kb`), allocated when
//! it is first read. When its files would pass `--spool-mb` the oldest are
//! deleted (their traces counted in `spool_dropped`); when the disk fills up
//! first, the spool takes what fit as its limit until it is empty again.
//! A folder can serve one sensor at a time (an flock on `DIR/.lock`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::log;

const MAGIC: &[u8; 8] = b"PSSPOOL1";
/// Bytes before the spans.
pub const HEADER: usize = 24;
const SUFFIX: &str = ".spool";
const DIGITS: usize = 20;
/// After a write fails, the next is not tried before this (a disk that
/// fails every write would otherwise be tried on every tick).
const WRITE_PAUSE: Duration = Duration::from_secs(1);

/// What the spool counts.
#[derive(Default, Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    /// Traces written to the spool.
    pub spooled: u64,
    /// Traces from the spool the satellite accepted.
    pub replayed: u64,
    /// Traces deleted from the spool without being delivered: the oldest,
    /// to stay within `--spool-mb` or the disk; and those of corrupt files.
    pub dropped: u64,
    /// Files found corrupt or cut short, deleted and skipped.
    pub corrupt: u64,
}

/// The batch at the front of the spool, read into its buffer.
#[derive(Debug, Clone, Copy)]
struct Loaded {
    seq: u64,
    traces: u32,
    /// The file's size (header and spans).
    size: u64,
}

/// Conditions logged once each.
#[derive(Default)]
struct Said {
    full: bool,
    corrupt: bool,
    write: bool,
    delete: bool,
    large: bool,
}

pub struct Spool {
    dir: PathBuf,
    /// Held, with an flock, for as long as the spool is open.
    _lock: File,
    /// `--spool-mb` in bytes.
    limit: u64,
    /// The most bytes of files: `limit`, or less once the disk was found full.
    cap: u64,
    /// The sequence number of the oldest file there may be.
    first: u64,
    /// The sequence number of the next file written.
    next: u64,
    files: u64,
    bytes: u64,
    max_spans: usize,
    buf: Vec<u8>,
    loaded: Option<Loaded>,
    /// No write before this, after one failed.
    write_pause: Option<Instant>,
    counters: Counters,
    said: Said,
}

/// The header of a batch of `traces` whose spans are `spans`.
fn header(traces: u32, spans: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&traces.to_le_bytes());
    h[12..16].copy_from_slice(&(spans.len() as u32).to_le_bytes());
    h[16..20].copy_from_slice(&crc(spans).to_le_bytes());
    let own = crc(&h[..20]);
    h[20..24].copy_from_slice(&own.to_le_bytes());
    h
}

fn crc(b: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(b);
    c.sum()
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// A header's (traces, length of the spans, CRC of the spans), when it is
/// one.
fn parse_header(h: &[u8]) -> Option<(u32, usize, u32)> {
    if h.len() < HEADER || &h[..8] != MAGIC || le32(&h[20..24]) != crc(&h[..20]) {
        return None;
    }
    Some((le32(&h[8..12]), le32(&h[12..16]) as usize, le32(&h[16..20])))
}

/// The sequence number of a spool file's name.
fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// fsync a folder (its entries: a file made or deleted).
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Is this the error of a full disk (or quota)?
fn disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

impl Spool {
    /// Open (creating it if needed) the spool in `dir`, of at most `limit`
    /// bytes of files, for batches of at most `max_spans` bytes of spans.
    /// Err: why the folder cannot serve as a spool, as one line.
    pub fn open(dir: &Path, limit: u64, max_spans: usize) -> Result<Spool, String> {
        let shown = dir.display();
        let advice = "the spool needs a folder it can write (in a container with a read-only \
                      root file system, a volume: see the README's 'Satellite outages')";
        fs::create_dir_all(dir)
            .map_err(|e| format!("--spool-dir {shown}: cannot create it ({e}); {advice}"))?;
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(".lock"))
            .map_err(|e| format!("--spool-dir {shown}: cannot write there ({e}); {advice}"))?;
        // SAFETY: flock(2) on the open lock file's descriptor.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return Err(if e.kind() == io::ErrorKind::WouldBlock {
                format!(
                    "--spool-dir {shown} is in use by another pcap-sensor: give each its own folder"
                )
            } else {
                format!("--spool-dir {shown}: cannot lock it ({e})")
            });
        }
        // Creating a file is what the spool does: try it once now.
        let probe = dir.join(".probe");
        File::create(&probe)
            .and_then(|_| fs::remove_file(&probe))
            .map_err(|e| format!("--spool-dir {shown}: cannot write there ({e}); {advice}"))?;
        let mut s = Spool {
            dir: dir.to_path_buf(),
            _lock: lock,
            limit,
            cap: limit,
            first: 0,
            next: 0,
            files: 0,
            bytes: 0,
            max_spans,
            buf: Vec::new(),
            loaded: None,
            write_pause: None,
            counters: Counters::default(),
            said: Said::default(),
        };
        s.scan()
            .map_err(|e| format!("--spool-dir {shown}: cannot read it ({e})"))?;
        if s.files > 0 {
            log::info(&format!(
                "spool {shown}: {} batches ({} bytes) from an earlier run, sent first once the satellite takes traces",
                s.files, s.bytes
            ));
        }
        Ok(s)
    }

    /// Count the files, their bytes, the oldest and the newest.
    fn scan(&mut self) -> io::Result<()> {
        let (mut files, mut bytes, mut lo, mut hi) = (0u64, 0u64, u64::MAX, None::<u64>);
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let Some(seq) = e.file_name().to_str().and_then(seq_of) else {
                continue;
            };
            let Ok(m) = e.metadata() else {
                continue; // gone meanwhile
            };
            files += 1;
            bytes += m.len();
            lo = lo.min(seq);
            hi = Some(hi.map_or(seq, |h: u64| h.max(seq)));
        }
        self.files = files;
        self.bytes = bytes;
        match hi {
            Some(hi) => {
                self.first = lo;
                self.next = self.next.max(hi + 1);
            }
            None => self.first = self.next,
        }
        Ok(())
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:0DIGITS$}{SUFFIX}"))
    }

    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    /// Bytes of the files in the spool.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes it allocates at most (its read buffer), for the memory ceiling.
    pub fn reserved(&self) -> usize {
        HEADER + self.max_spans
    }

    /// Write a batch of `traces` (`spans`, as the queue holds them) as the
    /// newest file, deleting the oldest to stay within the limit. False: it
    /// could not be written (logged once; the batch stays with the caller),
    /// and for a second no write is tried.
    pub fn write(&mut self, traces: u32, spans: &[u8]) -> bool {
        if self.write_pause.is_some_and(|t| Instant::now() < t) {
            return false;
        }
        let need = (HEADER + spans.len()) as u64;
        for attempt in 0..2 {
            self.make_room(need);
            match self.write_file(traces, spans) {
                Ok(()) => {
                    self.next += 1;
                    self.files += 1;
                    self.bytes += need;
                    self.counters.spooled += traces as u64;
                    return true;
                }
                Err(e) if disk_full(&e) && attempt == 0 && self.files > 0 => {
                    // The disk is smaller than --spool-mb: what fit is the limit.
                    self.cap = self.bytes;
                    if !self.said.full {
                        self.said.full = true;
                        log::warn(&format!(
                            "spool {}: the disk is full at {} bytes ({e}): the oldest batches are dropped to make room (spool_dropped)",
                            self.dir.display(),
                            self.bytes
                        ));
                    }
                }
                Err(e) => {
                    self.write_pause = Some(Instant::now() + WRITE_PAUSE);
                    if !self.said.write {
                        self.said.write = true;
                        log::warn(&format!(
                            "spool {}: cannot write a batch ({e}): it stays in memory, where the oldest traces are dropped past --export-queue-mb",
                            self.dir.display()
                        ));
                    }
                    return false;
                }
            }
        }
        false
    }

    /// One file, all or nothing: what a failed write left is deleted.
    fn write_file(&mut self, traces: u32, spans: &[u8]) -> io::Result<()> {
        let path = self.path(self.next);
        let h = header(traces, spans);
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| {
                f.write_all(&h)?;
                f.write_all(spans)?;
                f.sync_data()
            })
            .and_then(|()| sync_dir(&self.dir));
        if written.is_err() {
            let _ = fs::remove_file(&path);
        }
        written
    }

    /// Delete the oldest files until `need` more bytes fit.
    fn make_room(&mut self, need: u64) {
        while self.files > 0 && self.bytes + need > self.cap {
            if !self.said.full {
                self.said.full = true;
                log::warn(&format!(
                    "spool {}: full ({} bytes, --spool-mb {}): the oldest batches are dropped to make room (spool_dropped)",
                    self.dir.display(),
                    self.bytes,
                    self.limit >> 20
                ));
            }
            let Some(seq) = self.oldest() else {
                break;
            };
            let path = self.path(seq);
            let mut h = [0u8; HEADER];
            let read = File::open(&path).and_then(|mut f| f.read_exact(&mut h));
            match read.ok().and_then(|()| parse_header(&h)) {
                Some((traces, _, _)) => self.counters.dropped += traces as u64,
                None => self.counters.corrupt += 1,
            }
            self.remove(seq);
        }
    }

    /// The sequence number of the oldest file (looked for again in the
    /// folder when files went missing).
    fn oldest(&mut self) -> Option<u64> {
        if self.files == 0 {
            return None;
        }
        if !self.path(self.first).exists() && (self.scan().is_err() || self.files == 0) {
            return None;
        }
        Some(self.first)
    }

    /// Delete file `seq` (the oldest) and forget it.
    fn remove(&mut self, seq: u64) {
        let path = self.path(seq);
        let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if let Err(e) = fs::remove_file(&path).and_then(|()| sync_dir(&self.dir))
            && !self.said.delete
        {
            self.said.delete = true;
            log::warn(&format!(
                "spool {}: cannot delete {} ({e}): a sensor started later may send it again",
                self.dir.display(),
                path.display()
            ));
        }
        self.files = self.files.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
        self.first = seq + 1;
        if self.loaded.is_some_and(|l| l.seq == seq) {
            self.loaded = None;
        }
        if self.files == 0 {
            // Empty: the disk may have room again.
            self.cap = self.limit;
            self.bytes = 0;
            self.first = self.next;
        }
    }

    /// The oldest batch: (traces, spans with their commas), read from its
    /// file. Corrupt files on the way are counted, deleted and skipped.
    pub fn front(&mut self) -> Option<(u32, &[u8])> {
        if self.loaded.is_none() {
            self.load();
        }
        let l = self.loaded?;
        Some((l.traces, &self.buf[HEADER..l.size as usize]))
    }

    fn load(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(HEADER + self.max_spans);
        }
        while let Some(seq) = self.oldest() {
            match self.read(seq) {
                Ok(l) => {
                    self.loaded = Some(l);
                    return;
                }
                Err(why) => {
                    match parse_header(&self.buf) {
                        Some((traces, _, _)) if why.is_none() => {
                            // Whole, but larger than this sensor's batches.
                            self.counters.dropped += traces as u64;
                            if !self.said.large {
                                self.said.large = true;
                                log::warn(&format!(
                                    "spool {}: {} holds a batch larger than --max-batch-kb (written with a larger one?): dropped (spool_dropped)",
                                    self.dir.display(),
                                    self.path(seq).display()
                                ));
                            }
                        }
                        header => {
                            self.counters.corrupt += 1;
                            if let Some((traces, _, _)) = header {
                                self.counters.dropped += traces as u64;
                            }
                            if !self.said.corrupt {
                                self.said.corrupt = true;
                                log::warn(&format!(
                                    "spool {}: {} is corrupt or cut short ({}): skipped (spool_corrupt)",
                                    self.dir.display(),
                                    self.path(seq).display(),
                                    why.unwrap_or("?")
                                ));
                            }
                        }
                    }
                    self.remove(seq);
                }
            }
        }
    }

    /// Read file `seq` into `buf`. Err(None): whole but too large for the
    /// buffer (its header is in `buf`); Err(Some(why)): corrupt (`buf` holds
    /// what could be read of it).
    fn read(&mut self, seq: u64) -> Result<Loaded, Option<&'static str>> {
        self.buf.clear();
        let mut f = File::open(self.path(seq)).map_err(|_| Some("cannot be opened"))?;
        let size = f.metadata().map_err(|_| Some("cannot be read"))?.len();
        let room = (HEADER + self.max_spans) as u64;
        let take = size.min(room) as usize;
        self.buf.resize(take, 0);
        f.read_exact(&mut self.buf[..take])
            .map_err(|_| Some("cannot be read"))?;
        let Some((traces, len, sum)) = parse_header(&self.buf) else {
            return Err(Some("bad header"));
        };
        if size != (HEADER + len) as u64 {
            return Err(Some("its length is not the header's"));
        }
        if size > room {
            return Err(None);
        }
        let spans = &self.buf[HEADER..];
        if traces == 0 || spans.last() != Some(&b',') || crc(spans) != sum {
            return Err(Some("checksum mismatch"));
        }
        Ok(Loaded { seq, traces, size })
    }

    /// The satellite accepted the front batch: delete its file (the commit:
    /// a restart does not send it again).
    pub fn commit(&mut self) {
        if let Some(l) = self.loaded.take() {
            self.counters.replayed += l.traces as u64;
            self.remove(l.seq);
        }
    }

    /// The satellite will never take the front batch (a 4xx): delete it;
    /// how many traces it held.
    pub fn reject(&mut self) -> u32 {
        match self.loaded.take() {
            Some(l) => {
                self.remove(l.seq);
                l.traces
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system's temporary one, removed at the end.
    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let d = std::env::temp_dir().join(format!(
                "pcap-sensor-spool-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&d);
            Dir(d)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn batch(tag: u8, n: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for i in 0..n {
            b.extend_from_slice(format!("{{\"span\":\"{}-{i}\"}},", tag as char).as_bytes());
        }
        b
    }

    fn files(d: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(SUFFIX))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn batches_come_back_oldest_first_and_survive_a_restart() {
        let d = Dir::new("order");
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        assert!(s.is_empty() && s.front().is_none());
        for (i, tag) in [b'a', b'b', b'c'].into_iter().enumerate() {
            assert!(s.write(i as u32 + 1, &batch(tag, i + 1)));
        }
        assert_eq!(files(&d.0).len(), 3);
        let (n, spans) = s.front().unwrap();
        assert_eq!((n, spans), (1, &batch(b'a', 1)[..]));
        s.commit();
        assert_eq!(s.counters().replayed, 1);
        drop(s);
        // A restart finds the two left, in order, and writes after them.
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        assert_eq!(files(&d.0).len(), 2);
        assert!(s.write(9, &batch(b'd', 1)));
        for (n, tag) in [(2, b'b'), (3, b'c'), (9, b'd')] {
            let (got_n, spans) = s.front().unwrap();
            let want = batch(tag, if tag == b'd' { 1 } else { n as usize });
            assert_eq!((got_n, spans), (n, &want[..]));
            s.commit();
        }
        assert!(s.is_empty() && s.front().is_none() && files(&d.0).is_empty());
        assert_eq!(s.bytes(), 0);
        assert_eq!(s.counters().replayed, 14);
    }

    #[test]
    fn a_full_spool_drops_its_oldest() {
        let d = Dir::new("full");
        let b = batch(b'x', 10);
        let size = (HEADER + b.len()) as u64;
        // Room for three files.
        let mut s = Spool::open(&d.0, 3 * size + 1, 4096).unwrap();
        for i in 0..5 {
            assert!(s.write(10 + i, &b));
        }
        assert_eq!(files(&d.0).len(), 3);
        assert_eq!(s.bytes(), 3 * size);
        assert_eq!(s.counters().dropped, 10 + 11);
        assert_eq!(s.counters().spooled, 10 + 11 + 12 + 13 + 14);
        assert_eq!(s.front().unwrap().0, 12);
    }

    #[test]
    fn corrupt_and_cut_files_are_counted_and_skipped() {
        let d = Dir::new("corrupt");
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        for (i, tag) in [b'a', b'b', b'c', b'd', b'e'].into_iter().enumerate() {
            assert!(s.write(i as u32 + 1, &batch(tag, 3)));
        }
        drop(s);
        let names = files(&d.0);
        let path = |i: usize| d.0.join(&names[i]);
        // b: cut short (a crash in the middle of a write): header intact.
        let len = fs::metadata(path(1)).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(path(1))
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        // c: one byte of the spans changed.
        let mut c = fs::read(path(2)).unwrap();
        c[HEADER + 2] ^= 1;
        fs::write(path(2), c).unwrap();
        // d: garbage, no header.
        fs::write(path(3), b"not a spool file at all").unwrap();
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        let mut got = Vec::new();
        while let Some((n, spans)) = s.front() {
            got.push((n, spans.to_vec()));
            s.commit();
        }
        assert_eq!(got, vec![(1, batch(b'a', 3)), (5, batch(b'e', 3))]);
        let c = s.counters();
        assert_eq!((c.corrupt, c.dropped, c.replayed), (3, 2 + 3, 6));
        assert!(files(&d.0).is_empty());
    }

    #[test]
    fn a_batch_larger_than_the_buffer_is_dropped() {
        let d = Dir::new("large");
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        assert!(s.write(7, &batch(b'l', 200)));
        assert!(s.write(1, &batch(b's', 1)));
        drop(s);
        let mut s = Spool::open(&d.0, 1 << 20, 100).unwrap();
        assert_eq!(s.front().unwrap().0, 1);
        assert_eq!((s.counters().dropped, s.counters().corrupt), (7, 0));
    }

    #[test]
    fn one_sensor_per_folder() {
        let d = Dir::new("lock");
        let _s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        let e = Spool::open(&d.0, 1 << 20, 4096).err().unwrap();
        assert!(e.contains("in use by another pcap-sensor"), "{e}");
    }

    #[test]
    fn a_gap_in_the_numbers_is_skipped() {
        let d = Dir::new("gap");
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        for tag in [b'a', b'b', b'c'] {
            assert!(s.write(1, &batch(tag, 1)));
        }
        drop(s);
        fs::remove_file(d.0.join(&files(&d.0)[1])).unwrap();
        let mut s = Spool::open(&d.0, 1 << 20, 4096).unwrap();
        assert_eq!(s.front().unwrap().1, &batch(b'a', 1)[..]);
        s.commit();
        assert_eq!(s.front().unwrap().1, &batch(b'c', 1)[..]);
        s.commit();
        assert!(s.front().is_none());
    }

    #[test]
    fn names_and_headers() {
        assert_eq!(seq_of("00000000000000000042.spool"), Some(42));
        for bad in [
            "42.spool",
            "0000000000000000004x.spool",
            ".lock",
            "00000000000000000042.tmp",
        ] {
            assert_eq!(seq_of(bad), None, "{bad}");
        }
        let h = header(3, b"abc,");
        assert_eq!(parse_header(&h), Some((3, 4, crc(b"abc,"))));
        let mut bad = h;
        bad[9] ^= 1;
        assert_eq!(parse_header(&bad), None);
        // CRC-32 (IEEE) of "123456789" is the standard check value.
        assert_eq!(crc(b"123456789"), 0xcbf4_3926);
    }
}
