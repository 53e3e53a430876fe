//! Shared helpers for the live capture tests: start the sensor and wait for
//! its "capturing on" line, collect its JSON lines and its final stats, start
//! the python test server (on loopback or inside a network namespace), run
//! clients with hard deadlines.
//!
//! Nothing here sleeps to synchronise: every wait reads a pipe through a
//! channel with `recv_timeout` and a deadline.

#![allow(dead_code)] // each test crate uses a different subset

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SENSOR: &str = env!("CARGO_BIN_EXE_pcap-sensor");

/// How long the sensor gets to open its capture and say so.
pub const START_DEADLINE: Duration = Duration::from_secs(20);
/// How long the sensor gets to exit after SIGINT/SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(15);

/// Path of a file under tests/support/.
pub fn support(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// The test venv's python (PyPI opentelemetry-proto, haralyzer):
/// $PCAP_SENSOR_PY, else the venv build.sh creates at .cache/venv.
pub fn venv_python() -> PathBuf {
    let p = match std::env::var_os("PCAP_SENSOR_PY") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".cache/venv/bin/python"),
    };
    assert!(
        p.exists(),
        "no test venv python at {} (set PCAP_SENSOR_PY, or run ./build.sh test, \
         which creates .cache/venv with opentelemetry-proto and haralyzer)",
        p.display()
    );
    p
}

/// Live capture needs root. Under CI (env CI set) not being root is a test
/// failure; on a developer machine the test prints "skipped: needs root".
pub fn need_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("live capture tests need root (CI is set, so not skipping): run the tests as root");
    }
    eprintln!("skipped: needs root");
    false
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

fn send_signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid we spawned ourselves.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

// ---------------------------------------------------------------------------
// The sensor

/// A running `pcap-sensor apidump ... --out -`.
pub struct Sensor {
    child: Option<Child>,
    pub pid: u32,
    out_rx: Receiver<String>,
    err_rx: Receiver<String>,
    out_done: bool,
    err_done: bool,
    /// Every JSON line read so far, in order.
    pub traces: Vec<Value>,
    /// Every stderr line read so far, in order.
    pub stderr: Vec<String>,
}

/// What is left when the sensor has exited.
pub struct Finished {
    pub status: ExitStatus,
    pub traces: Vec<Value>,
    pub stderr: Vec<String>,
    /// key=value pairs of the `final stats` line.
    pub final_stats: BTreeMap<String, u64>,
}

impl Finished {
    pub fn stat(&self, key: &str) -> u64 {
        match self.final_stats.get(key) {
            Some(v) => *v,
            None => panic!(
                "final stats line has no '{key}'\nstderr:\n{}",
                self.stderr.join("\n")
            ),
        }
    }
}

impl Sensor {
    /// Starts `pcap-sensor apidump ARGS --out -` and waits (with a deadline)
    /// for its "capturing on" line.
    pub fn start(args: &[&str]) -> Sensor {
        Self::spawn(Command::new(SENSOR), args)
    }

    /// `start`, inside network namespace `ns` (`ip netns exec` runs the
    /// sensor itself, same process id).
    pub fn start_in_netns(ns: &str, args: &[&str]) -> Sensor {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, SENSOR]);
        Self::spawn(cmd, args)
    }

    fn spawn(mut cmd: Command, args: &[&str]) -> Sensor {
        let mut child = cmd
            .arg("apidump")
            .args(args)
            .args(["--out", "-"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SENSOR}: {e}"));
        let out_rx = line_channel(child.stdout.take().unwrap());
        let err_rx = line_channel(child.stderr.take().unwrap());
        let mut s = Sensor {
            pid: child.id(),
            child: Some(child),
            out_rx,
            err_rx,
            out_done: false,
            err_done: false,
            traces: Vec::new(),
            stderr: Vec::new(),
        };
        s.wait_stderr("capturing on", START_DEADLINE);
        s
    }

    /// Waits for a stderr line containing `needle`; returns it.
    pub fn wait_stderr(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(l) = self.stderr.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.err_rx.recv_timeout(remaining(deadline)) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no stderr line with '{needle}' from the sensor within {timeout:?}\n{}",
                        self.diagnostics()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.err_done = true;
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    panic!(
                        "sensor exited ({status:?}) before printing '{needle}'\n{}",
                        self.diagnostics()
                    )
                }
            }
        }
    }

    /// The N of "memory ceiling N bytes" (printed at start).
    pub fn memory_ceiling(&mut self) -> u64 {
        let line = self.wait_stderr("memory ceiling", START_DEADLINE);
        let rest = line.split("memory ceiling").nth(1).unwrap().trim_start();
        let n = rest.split_whitespace().next().unwrap_or("");
        n.parse()
            .unwrap_or_else(|_| panic!("cannot read the memory ceiling from {line:?}"))
    }

    fn drain_stderr(&mut self) {
        while let Ok(l) = self.err_rx.try_recv() {
            self.stderr.push(l);
        }
    }

    fn push_stdout(&mut self, line: String) {
        if line.trim().is_empty() {
            return;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(v) => self.traces.push(v),
            Err(e) => panic!(
                "sensor stdout line is not JSON ({e}): {line:?}\n{}",
                self.diagnostics()
            ),
        }
    }

    /// Waits until at least `n` traces were read; returns them all.
    pub fn wait_traces(&mut self, n: usize, timeout: Duration) -> &[Value] {
        self.wait_until(timeout, &format!("{n} traces"), |t| t.len() >= n);
        &self.traces
    }

    /// Waits until a trace with this request target was read; returns it.
    pub fn wait_target(&mut self, target: &str, timeout: Duration) -> Value {
        self.wait_until(timeout, &format!("a trace for {target}"), |t| {
            t.iter().any(|v| v["request"]["target"] == target)
        });
        self.traces
            .iter()
            .find(|v| v["request"]["target"] == target)
            .unwrap()
            .clone()
    }

    fn wait_until(&mut self, timeout: Duration, what: &str, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(&self.traces) {
            match self.out_rx.recv_timeout(remaining(deadline)) {
                Ok(line) => self.push_stdout(line),
                Err(RecvTimeoutError::Timeout) => {
                    self.drain_stderr();
                    panic!(
                        "sensor did not print {what} within {timeout:?} (got {})\n{}",
                        self.traces.len(),
                        self.diagnostics()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.out_done = true;
                    self.drain_stderr();
                    panic!(
                        "sensor closed stdout before printing {what}\n{}",
                        self.diagnostics()
                    )
                }
            }
        }
        self.drain_stderr();
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Peak resident set size so far (VmHWM of /proc/PID/status), in KiB.
    pub fn vm_hwm_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_else(|e| panic!("cannot read /proc/{}/status: {e}", self.pid));
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }

    /// Sends `sig` (SIGINT or SIGTERM), waits with a deadline for the sensor
    /// to close its pipes and exit, and returns everything it printed.
    pub fn stop(mut self, sig: libc::c_int) -> Finished {
        send_signal(self.pid, sig);
        let deadline = Instant::now() + STOP_DEADLINE;
        while !self.out_done {
            match self.out_rx.recv_timeout(remaining(deadline)) {
                Ok(line) => self.push_stdout(line),
                Err(RecvTimeoutError::Disconnected) => self.out_done = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        while !self.err_done {
            match self.err_rx.recv_timeout(remaining(deadline)) {
                Ok(line) => self.stderr.push(line),
                Err(RecvTimeoutError::Disconnected) => self.err_done = true,
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
        if !(self.out_done && self.err_done) {
            panic!(
                "sensor did not exit within {STOP_DEADLINE:?} of signal {sig}\n{}",
                self.diagnostics()
            );
        }
        let mut child = self.child.take().unwrap();
        // Both pipes are closed, so the process is exiting.
        let status = child.wait().expect("wait for the sensor");
        let final_line = self.stderr.iter().find(|l| l.contains("final stats"));
        let final_stats = match final_line {
            Some(l) => parse_stats(l),
            None => panic!(
                "no 'final stats' line on stderr (exit {status})\n{}",
                self.diagnostics()
            ),
        };
        Finished {
            status,
            traces: std::mem::take(&mut self.traces),
            stderr: std::mem::take(&mut self.stderr),
            final_stats,
        }
    }

    /// The sensor's stderr and a one-line summary of every trace, for
    /// failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("--- sensor stderr ({} lines):\n", self.stderr.len());
        for l in &self.stderr {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&format!("--- traces ({}):\n", self.traces.len()));
        for t in &self.traces {
            s.push_str(&summarize(t));
            s.push('\n');
        }
        s
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            if std::thread::panicking() {
                self.drain_stderr();
                eprintln!("{}", self.diagnostics());
            }
        }
    }
}

/// Parses the `key=value` words of a stats line (values that are not
/// integers are left out).
pub fn parse_stats(line: &str) -> BTreeMap<String, u64> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// One line per trace: method target -> status, sizes, endpoints.
pub fn summarize(t: &Value) -> String {
    let req = &t["request"];
    let resp = &t["response"];
    format!(
        "{} {} {} -> {} req_body_size={} resp_body_size={} resp_truncated={} client={}:{} server={}:{}",
        t["ts"],
        req["method"],
        req["target"],
        resp.get("status").unwrap_or(&Value::Null),
        req["body_size"],
        resp.get("body_size").unwrap_or(&Value::Null),
        resp.get("body_truncated").unwrap_or(&Value::Null),
        t["client"]["ip"],
        t["client"]["port"],
        t["server"]["ip"],
        t["server"]["port"],
    )
}

// ---------------------------------------------------------------------------
// The python test server (tests/support/live_server.py)

pub struct Server {
    child: Child,
    pub host: String,
    pub port: u16,
}

impl Server {
    /// Starts the server on `host` (e.g. 127.0.0.1) on a free port.
    pub fn start(host: &str) -> Server {
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg(support("live_server.py"));
        Self::spawn(cmd, host)
    }

    /// Starts the server inside network namespace `ns`, bound to `host`.
    pub fn start_in_netns(ns: &str, host: &str) -> Server {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, "python3", "-u"])
            .arg(support("live_server.py"));
        Self::spawn(cmd, host)
    }

    fn spawn(mut cmd: Command, host: &str) -> Server {
        let mut child = cmd
            .args(["--bind", host])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the python3 test server: {e}"));
        let rx = line_channel(child.stdout.take().unwrap());
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("test server did not say 'listening PORT' ({e})");
            }
        };
        let port = line
            .strip_prefix("listening ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the test server: {line:?}"));
        Server {
            child,
            host: host.to_string(),
            port,
        }
    }

    /// `http://HOST:PORT` + path.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{}", self.host, self.port, path)
    }

    /// The value curl and the python client put in the Host header.
    pub fn host_header(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The BPF filter for this server's traffic.
    pub fn filter(&self) -> String {
        format!("tcp port {}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes /bytes/N returns: PATTERN repeated, cut to n (mirrors
/// live_server.py).
pub fn pattern(n: usize) -> Vec<u8> {
    const PATTERN: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-\n";
    PATTERN.iter().copied().cycle().take(n).collect()
}

// ---------------------------------------------------------------------------
// Clients

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

/// Runs curl (`-sS --noproxy '*' --max-time 60` added) and returns its
/// stdout; panics with its stderr when it fails.
pub fn curl(args: &[&str]) -> String {
    curl_full(args).0
}

/// Like `curl`, and also returns curl's stderr (e.g. the `-v` lines).
pub fn curl_full(args: &[&str]) -> (String, String) {
    let out = run_with_deadline(
        Command::new("curl")
            .args(["-sS", "--noproxy", "*", "--max-time", "60"])
            .args(args),
        Duration::from_secs(90),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}): {stderr}",
        out.status
    );
    (stdout, stderr)
}

/// Runs tests/support/live_client.py with these arguments; returns stdout.
pub fn python_client(args: &[&str]) -> String {
    let out = run_with_deadline(
        Command::new("python3")
            .arg(support("live_client.py"))
            .args(args),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "live_client.py {args:?} failed: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `live_client.py flood`: N open connections, each holding a partial request.
pub struct Flood {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
}

impl Flood {
    /// Opens `n` connections and returns once all are open.
    pub fn open(host: &str, port: u16, n: usize) -> Flood {
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(support("live_client.py"))
            .args(["flood", host, &port.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start live_client.py flood");
        let stdin = child.stdin.take();
        let rx = line_channel(child.stdout.take().unwrap());
        let f = Flood { child, stdin, rx };
        let want = format!("ready {n}");
        match f.rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l == want => f,
            other => panic!("flood client: expected {want:?}, got {other:?}"),
        }
    }

    /// Resets every connection (RST, so the server sends nothing more on
    /// them) and waits for the client to say so.
    pub fn close(mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.write_all(b"close\n");
        }
        match self.rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l == "closed" => {}
            other => panic!("flood client: expected \"closed\", got {other:?}"),
        }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file removed on drop.
pub struct TempFile(pub PathBuf);

impl TempFile {
    pub fn new(tag: &str, contents: &[u8]) -> TempFile {
        let p =
            std::env::temp_dir().join(format!("pcap-sensor-live-{}-{tag}.bin", std::process::id()));
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

// ---------------------------------------------------------------------------
// Network namespace with a veth pair

/// A network namespace joined to the host by a veth pair:
/// host side `host_if` = `host_ip`/30, namespace side = `ns_ip`/30.
/// Dropping it (also when a test panics) deletes both.
pub struct NetNs {
    pub name: String,
    pub host_if: String,
    pub host_ip: String,
    pub ns_ip: String,
}

fn ip_cmd(args: &[&str]) {
    let out = run_with_deadline(Command::new("ip").args(args), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl NetNs {
    /// `tag` (0..=63) keeps the names and addresses of several namespaces
    /// of one test process apart; the process id keeps test runs apart.
    pub fn create(tag: u8) -> NetNs {
        assert!(tag < 64);
        let pid = std::process::id();
        let third = pid % 250;
        let ns = NetNs {
            name: format!("pslive{pid}t{tag}"),
            host_if: format!("psh{}t{tag}", pid % 1_000_000),
            host_ip: format!("10.213.{third}.{}", tag as u32 * 4 + 1),
            ns_ip: format!("10.213.{third}.{}", tag as u32 * 4 + 2),
        };
        let peer = format!("psn{}t{tag}", pid % 1_000_000);
        // The guard exists before the first command, so a failure half-way
        // still removes whatever was created.
        ip_cmd(&["netns", "add", &ns.name]);
        ip_cmd(&[
            "link",
            "add",
            &ns.host_if,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        ip_cmd(&["link", "set", &peer, "netns", &ns.name]);
        ip_cmd(&[
            "addr",
            "add",
            &format!("{}/30", ns.host_ip),
            "dev",
            &ns.host_if,
        ]);
        ip_cmd(&["link", "set", &ns.host_if, "up"]);
        ip_cmd(&[
            "-n",
            &ns.name,
            "addr",
            "add",
            &format!("{}/30", ns.ns_ip),
            "dev",
            &peer,
        ]);
        ip_cmd(&["-n", &ns.name, "link", "set", &peer, "up"]);
        ip_cmd(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl NetNs {
    /// Runs `args` inside the namespace (with a deadline).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).args(args);
        run_with_deadline(&mut cmd, Duration::from_secs(20))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Deleting the host end removes the pair; deleting the namespace
        // removes the rest. Errors are ignored (already gone).
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

// ---------------------------------------------------------------------------
// Trace helpers

/// First value of header `name` (case-insensitive) in a `[[name, value]]` list.
pub fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers.as_array()?.iter().find_map(|h| {
        let (n, v) = (h.get(0)?.as_str()?, h.get(1)?.as_str()?);
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// The headers as (name, value) pairs, in order.
pub fn header_pairs(headers: &Value) -> Vec<(String, String)> {
    headers
        .as_array()
        .unwrap_or_else(|| panic!("headers is not a list: {headers}"))
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap_or_default().to_string(),
                h[1].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The kept body bytes of a request or response object (utf8 or base64).
pub fn body_bytes(msg: &Value) -> Vec<u8> {
    let body = msg["body"].as_str().unwrap_or("");
    match msg["body_encoding"].as_str() {
        Some("base64") => base64_decode(body),
        Some("utf8") | None => body.as_bytes().to_vec(),
        Some(other) => panic!("unknown body_encoding {other:?}"),
    }
}

/// Standard base64 (with padding) decoder.
pub fn base64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 character {:?}", c as char),
        }
    }
    let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// A time as RFC 3339 UTC with microseconds: `2024-05-01T12:00:00.123456Z`.
pub fn rfc3339_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).expect("after 1970");
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// True if `s` has the shape `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn is_rfc3339_micros(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
