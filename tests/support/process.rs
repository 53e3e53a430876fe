//! Processes, pipes, files and ports for the integration tests: where the
//! sensor binary and the python helpers are, reading a child's pipe line by
//! line with deadlines, running a command with a deadline, the CPU time and
//! peak memory of a process, temporary files and folders, free ports.
//!
//! Nothing here sleeps to synchronise: every wait reads a pipe through a
//! channel with `recv_timeout` and a deadline.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The sensor binary cargo built for these tests.
pub const SENSOR: &str = env!("CARGO_BIN_EXE_pcap-sensor");

/// How long the sensor gets to open its capture and say so.
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long the sensor gets to exit after SIGINT/SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(15);
/// How long a python helper gets to print "listening PORT".
pub const LISTEN_DEADLINE: Duration = Duration::from_secs(30);

/// A path inside the repository.
pub fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Path of a helper script under tests/support/.
pub fn script(name: &str) -> PathBuf {
    repo("tests/support").join(name)
}

/// A name no other call in this test process gets: `PID-tag-N`.
pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Reads a pipe line by line on a thread; lines (without the newline) arrive
/// on the channel, which disconnects at EOF.
pub fn line_channel<R: Read + Send + 'static>(r: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last() == Some(&b'\n') || buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// Time left before `deadline` (zero once it has passed).
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// kill(2) on a process this test started; false when it failed (the
/// process is gone).
pub fn send_signal(pid: u32, sig: libc::c_int) -> bool {
    // SAFETY: kill(2) has no memory preconditions; the pid is a child we
    // spawned ourselves.
    unsafe { libc::kill(pid as libc::pid_t, sig) == 0 }
}

/// Runs a command to completion with a deadline (killed and a panic after
/// it); returns its output.
pub fn run_with_deadline(cmd: &mut Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("waiting for {cmd:?}: {e}"),
        Err(_) => {
            send_signal(pid, libc::SIGKILL);
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// A JSON file, parsed (panics naming the file when it cannot be).
pub fn read_json(p: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// Starts a helper that prints "listening PORT" as its first stdout line
/// (stderr goes to the test's); returns it, the channel of its further
/// stdout lines, and the port. Stdin is whatever `cmd` says.
pub fn spawn_listening(cmd: &mut Command, what: &str) -> (Child, Receiver<String>, u16) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let rx = line_channel(child.stdout.take().unwrap());
    let line = match rx.recv_timeout(LISTEN_DEADLINE) {
        Ok(l) => l,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not say 'listening PORT' ({e})");
        }
    };
    let port = line
        .strip_prefix("listening ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line from {what}: {line:?}"));
    (child, rx, port)
}

/// A 127.0.0.1 port nothing listens on right now (bound, then closed).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// CPU time (user + system) a process has used so far, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/PID/stat");
    // Fields after the command name (which may contain spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / hz)
}

/// Peak resident set size so far (VmHWM of /proc/PID/status), in KiB.
pub fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("cannot read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// A folder under the system temp dir, `pcap-sensor-TAG-PID-N`, removed on
/// drop (unless env PCAP_SENSOR_KEEP_TMP is set, to look at its files by hand).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "pcap-sensor-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("PCAP_SENSOR_KEEP_TMP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file under the system temp dir, removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(tag: &str, contents: &[u8]) -> TempFile {
        let p = std::env::temp_dir().join(format!("pcap-sensor-{}.bin", unique(tag)));
        std::fs::write(&p, contents).expect("write temp file");
        TempFile(p)
    }

    /// `@PATH`, for curl --data-binary.
    pub fn at(&self) -> String {
        format!("@{}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
