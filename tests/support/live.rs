//! The live capture helpers: the sensor capturing with `--out -` (its
//! "capturing on" line awaited, its JSON lines and final stats collected),
//! the python test server (on loopback or inside a network namespace),
//! clients (curl, tests/support/live_client.py) with hard deadlines, the
//! hostile peers (tests/support/hostile_peer.py), servers that are not
//! HTTP/1 (TLS by openssl s_server, HTTP/2 by nghttpd), a network namespace joined
//! to the host by a veth pair, and the memory the sensor may hold over the
//! ceiling it announces.
//!
//! Nothing here sleeps to synchronise: every wait reads a pipe through a
//! channel with `recv_timeout` and a deadline.

use super::process::{
    SENSOR, START_DEADLINE, STOP_DEADLINE, TempDir, free_port, line_channel, remaining,
    run_with_deadline, script, send_signal, spawn_listening, vm_hwm_kb,
};
use super::require::{python3, require_tool};
use super::trace::{final_stats, parse_memory_ceiling, stat, summarize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Peak RSS allowed on top of the "memory ceiling N bytes" the sensor
/// announces at start. The ceiling covers what the sensor sizes from its
/// flags: flow table, buffer pool, export queue and libpcap's packet ring
/// (its start line says "capture buffers ..."). The allowance covers the
/// rest, which no flag sizes: the touched pages of the binary (the tests run
/// the unoptimised debug build, whose text and debug sections are several
/// MiB), libc's and libpcap's own heap (interface list, compiled BPF
/// program), the stack and stdio buffers, the HTTP/TLS client's buffers, the
/// per-trace header lists. Measured idle: about 6 MiB above the ceiling's
/// untouched part; 8 MiB leaves room without hiding any buffering of a body
/// (the abuse in the tests is several times ceiling + allowance).
pub const RSS_ALLOWANCE_BYTES: u64 = 8 << 20;

/// The most memory a sensor announcing `ceiling` may hold: ceiling + allowance.
pub fn rss_limit_bytes(ceiling: u64) -> u64 {
    ceiling + RSS_ALLOWANCE_BYTES
}

/// Asserts a peak RSS (KiB) is under ceiling + allowance.
pub fn assert_peak_under_ceiling(peak_rss_kb: u64, ceiling: u64, what: &str) {
    let limit = rss_limit_bytes(ceiling);
    eprintln!(
        "{what}: peak RSS {peak_rss_kb} KiB, ceiling {ceiling} B, limit {limit} B ({} KiB)",
        limit / 1024
    );
    assert!(
        peak_rss_kb * 1024 <= limit,
        "{what}: peak RSS {peak_rss_kb} KiB is over the memory ceiling {ceiling} B + allowance \
         {RSS_ALLOWANCE_BYTES} B"
    );
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
    /// Counter `key` of the final stats line.
    pub fn stat(&self, key: &str) -> u64 {
        stat(&self.final_stats, key, &self.stderr)
    }

    /// Asserts exit status 0 (after the signal); the message carries stderr.
    pub fn assert_exit_0(&self) {
        assert!(
            self.status.success(),
            "sensor exit status {} after the signal, want 0\nstderr:\n{}",
            self.status,
            self.stderr.join("\n")
        );
    }
}

impl Sensor {
    /// Starts `pcap-sensor apidump ARGS --out -` and waits (with a deadline)
    /// for its "capturing on" line.
    pub fn start(args: &[&str]) -> Sensor {
        Self::spawn(Command::new(SENSOR), args)
    }

    /// `start` with these environment variables added (e.g. the health
    /// check's socket name).
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Sensor {
        let mut cmd = Command::new(SENSOR);
        cmd.envs(env.iter().copied());
        Self::spawn(cmd, args)
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
        self.wait_stderr_line(timeout, &format!("'{needle}'"), |l| l.contains(needle))
    }

    /// Waits for a stderr line for which `want` holds (`what` names it in a
    /// failure); returns it.
    pub fn wait_stderr_line(
        &mut self,
        timeout: Duration,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> String {
        if let Some(l) = self.stderr.iter().find(|l| want(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.err_rx.recv_timeout(remaining(deadline)) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no stderr line with {what} from the sensor within {timeout:?}\n{}",
                        self.diagnostics()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.err_done = true;
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    panic!(
                        "sensor exited ({status:?}) before printing {what}\n{}",
                        self.diagnostics()
                    )
                }
            }
        }
    }

    /// The N of "memory ceiling N bytes" (printed at start).
    pub fn memory_ceiling(&mut self) -> u64 {
        let line = self.wait_stderr("memory ceiling", START_DEADLINE);
        parse_memory_ceiling(&line)
            .unwrap_or_else(|| panic!("cannot read the memory ceiling from {line:?}"))
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
        vm_hwm_kb(self.pid)
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
        let final_stats = match final_stats(self.stderr.iter().map(String::as_str)) {
            Some(m) => m,
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
        let mut cmd = Command::new(python3());
        cmd.arg("-u").arg(script("live_server.py"));
        Self::spawn(cmd, host)
    }

    /// Starts the server inside network namespace `ns`, bound to `host`.
    pub fn start_in_netns(ns: &str, host: &str) -> Server {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, python3(), "-u"])
            .arg(script("live_server.py"));
        Self::spawn(cmd, host)
    }

    fn spawn(mut cmd: Command, host: &str) -> Server {
        cmd.args(["--bind", host]).stdin(Stdio::null());
        let (child, _, port) = spawn_listening(&mut cmd, "the python3 test server");
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
// Servers that are not HTTP/1: TLS (openssl s_server) and HTTP/2 cleartext
// (nghttpd)

/// `openssl s_server -www` on 127.0.0.1 with a self-signed certificate made
/// for `name`; killed on drop.
pub struct TlsServer {
    child: Child,
    _dir: TempDir,
    pub port: u16,
}

impl TlsServer {
    pub fn start(name: &str) -> TlsServer {
        require_tool("openssl", "openssl");
        let dir = TempDir::new("tls");
        let (key, cert) = (dir.path("key.pem"), dir.path("cert.pem"));
        let out = run_with_deadline(
            Command::new("openssl")
                .args([
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                ])
                .args(["-subj", &format!("/CN={name}")])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut child = Command::new("openssl")
            .args(["s_server", "-www", "-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::piped()) // s_server ends at EOF on its stdin
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start openssl s_server");
        let rx = line_channel(child.stdout.take().unwrap());
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            match rx.recv_timeout(remaining(deadline)) {
                Ok(l) if l.contains("ACCEPT") => break,
                Ok(_) => {}
                Err(e) => {
                    let _ = child.kill();
                    panic!("openssl s_server on port {port} did not say ACCEPT ({e})");
                }
            }
        }
        TlsServer {
            child,
            _dir: dir,
            port,
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nghttpd --no-tls` (HTTP/2 with prior knowledge only) on 127.0.0.1,
/// serving an empty folder; killed on drop.
pub struct H2cServer {
    child: Child,
    _dir: TempDir,
    pub port: u16,
}

impl H2cServer {
    pub fn start() -> H2cServer {
        require_tool("nghttpd", "nghttp2-server");
        let dir = TempDir::new("h2c");
        let port = free_port();
        let child = Command::new("nghttpd")
            .args(["--no-tls", "-a", "127.0.0.1", "-d"])
            .arg(&dir.0)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nghttpd");
        let mut s = H2cServer {
            child,
            _dir: dir,
            port,
        };
        // nghttpd says nothing when it listens: connect until it accepts.
        let deadline = Instant::now() + START_DEADLINE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("nghttpd on port {port} exited: {st}");
            }
            assert!(
                Instant::now() < deadline,
                "nghttpd does not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20)); // polling interval, not a synchronisation
        }
        s
    }
}

impl Drop for H2cServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------
// Clients

/// Runs curl (`-sS --noproxy '*' --max-time 60` added) and returns its
/// stdout; panics with its stderr when it fails.
pub fn curl(args: &[&str]) -> String {
    curl_full(args).0
}

/// Like `curl`, and also returns curl's stderr (e.g. the `-v` lines).
pub fn curl_full(args: &[&str]) -> (String, String) {
    require_tool("curl", "curl");
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
        Command::new(python3())
            .arg(script("live_client.py"))
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
        let mut child = Command::new(python3())
            .arg("-u")
            .arg(script("live_client.py"))
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

// ---------------------------------------------------------------------------
// Hostile peers (tests/support/hostile_peer.py)

/// A running tests/support/hostile_peer.py.
pub struct HostilePeer {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    what: String,
}

impl HostilePeer {
    /// Starts `hostile_peer.py ARGS` (MODE first).
    pub fn start(args: &[&str]) -> HostilePeer {
        let mut child = Command::new(python3())
            .arg("-u")
            .arg(script("hostile_peer.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start hostile_peer.py");
        let stdin = child.stdin.take();
        let rx = line_channel(child.stdout.take().unwrap());
        HostilePeer {
            child,
            stdin,
            rx,
            what: args.join(" "),
        }
    }

    /// Waits for the line starting with `word`; returns the rest of it.
    pub fn expect(&mut self, word: &str, timeout: Duration) -> String {
        match self.rx.recv_timeout(timeout) {
            Ok(l) if l.split_whitespace().next() == Some(word) => {
                l[word.len()..].trim().to_string()
            }
            other => panic!(
                "hostile_peer.py {}: expected '{word} ...' within {timeout:?}, got {other:?}",
                self.what
            ),
        }
    }

    /// The next stdout line, waiting until `deadline`.
    pub fn next_line(&self, deadline: Instant) -> Result<String, RecvTimeoutError> {
        self.rx.recv_timeout(remaining(deadline))
    }

    /// Lets a mode that holds its connections go on (to close them).
    pub fn release(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.write_all(b"go\n");
        }
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        require_tool("ip", "iproute2");
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
