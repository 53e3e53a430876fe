//! Real HTTP/2 and gRPC peers on loopback for the tests, each started with a deadline, its
//! port reported, killed on drop, and every client exchange recorded on the client side
//! (an [`Exchange`]) so that traces can be matched against what the client really did:
//!
//! - [`Nghttpd`]: `nghttpd --no-tls` serving a folder of known files on a free port;
//! - [`h2load`]: `h2load -n N -c C -m M` (C connections, M streams in flight each);
//! - [`H2App`]: the hypercorn ASGI app (tests/support/h2_app.py; prior knowledge,
//!   `Upgrade: h2c`, trailers), which also records what it saw; [`curl_h2`]: `curl
//!   --http2-prior-knowledge` or `curl --http2` against it;
//! - [`GrpcServer`] and [`GrpcClient`] (tests/support/h2_grpc.py): raw-bytes handlers, and
//!   one client channel driven line by line, so a test can make calls before the sensor
//!   starts and more (on the same connection) after;
//! - [`Tcpdump`]: a capture of the peer's port with exact ends and marks
//!   (tests/support/h2_tcpdump.py), for tshark's truth;
//! - [`Watch`]: the sensor capturing `-i lo` with a BPF filter on the peer's port (and on a
//!   sentinel HTTP/1.1 server: once the sentinel's trace is out, every packet before it has
//!   been through the sensor, so a test fails fast and for the right reason when HTTP/2
//!   traces are missing).
//!
//! The python peers run with the venv python of [`h2_python`] (hypercorn, grpcio); the
//! clients' runners (h2_clients.py) and tcpdump's with python3. Nothing sleeps to
//! synchronise: a line on a pipe, or a poll (nghttpd announces nothing; its port is polled).

use super::h2_expect::Exchange;
use super::live::{Finished, Sensor, Server, curl};
use super::process::{
    LISTEN_DEADLINE, TempDir, free_port, line_channel, remaining, run_with_deadline, script,
    spawn_listening,
};
use super::require::{h2_python, python3, require_root, require_tool};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long a client run, a call or a server record may take.
pub const PEER_DEADLINE: Duration = Duration::from_secs(60);
/// How long the sensor gets to print the sentinel's trace once the traffic has ended.
pub const SENTINEL_DEADLINE: Duration = Duration::from_secs(30);

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads JSON lines from `rx` into `seen` until it holds `n`, or panics after the deadline.
fn read_json_lines(rx: &Receiver<String>, seen: &mut Vec<Value>, n: usize, what: &str) {
    let deadline = Instant::now() + PEER_DEADLINE;
    while seen.len() < n {
        match rx.recv_timeout(remaining(deadline)) {
            Ok(line) => seen.push(
                serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("{what}: not a JSON line ({e}): {line:?}")),
            ),
            Err(e) => panic!(
                "{what}: {} of {n} records within {PEER_DEADLINE:?} ({e})",
                seen.len()
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// nghttpd and h2load

/// `nghttpd --no-tls -a 127.0.0.1 -d WWW PORT`, WWW written by `h2_clients.py www`.
pub struct Nghttpd {
    child: Child,
    pub port: u16,
    pub www: TempDir,
    /// File name (under /) → size.
    pub files: BTreeMap<String, u64>,
}

impl Nghttpd {
    /// Starts it on a free port and polls the port until it accepts (nghttpd prints nothing
    /// when it is ready); tries another port when it exits (the port was taken meanwhile).
    pub fn start() -> Nghttpd {
        require_tool("nghttpd", "nghttp2-server");
        let www = TempDir::new("h2-www");
        let dir = www.path("www");
        let out = run_with_deadline(
            Command::new(python3())
                .arg(script("h2_clients.py"))
                .arg("www")
                .arg(&dir),
            PEER_DEADLINE,
        );
        assert!(out.status.success(), "h2_clients.py www failed");
        let files: BTreeMap<String, u64> =
            serde_json::from_slice(&out.stdout).expect("h2_clients.py www prints JSON");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("nghttpd")
                .args(["--no-tls", "-a", "127.0.0.1", "-d"])
                .arg(&dir)
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start nghttpd");
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + LISTEN_DEADLINE;
            while Instant::now() < deadline {
                if !matches!(child.try_wait(), Ok(None)) {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                    return Nghttpd {
                        child,
                        port,
                        www,
                        files,
                    };
                }
                // A poll: nghttpd has no line to wait for.
                std::thread::sleep(Duration::from_millis(20));
            }
            kill(&mut child);
        }
        panic!("nghttpd did not listen on any of 5 free ports within {LISTEN_DEADLINE:?} each");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn dir(&self) -> PathBuf {
        self.www.path("www")
    }
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// `h2load -n N -c C -m M URL...` (through h2_clients.py): one exchange per request; `www`
/// is the folder served, for the response sizes.
pub fn h2load(n: usize, c: usize, m: usize, urls: &[String], www: &Path) -> Vec<Exchange> {
    require_tool("h2load", "nghttp2-client");
    let mut cmd = Command::new(python3());
    cmd.arg(script("h2_clients.py"))
        .arg("h2load")
        .arg("--www")
        .arg(www)
        .args([n, c, m].map(|x| x.to_string()))
        .args(urls);
    client_run(&mut cmd, "h2_clients.py h2load")
}

fn client_run(cmd: &mut Command, what: &str) -> Vec<Exchange> {
    let out = run_with_deadline(cmd, PEER_DEADLINE);
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Exchange::parse_lines(&String::from_utf8_lossy(&out.stdout))
}

// ---------------------------------------------------------------------------------------
// hypercorn and curl

/// The hypercorn app (tests/support/h2_app.py) on a free port.
pub struct H2App {
    child: Child,
    rx: Receiver<String>,
    pub port: u16,
    /// What the server saw, one record per request (see h2_app.py).
    pub seen: Vec<Value>,
}

impl H2App {
    pub fn start() -> H2App {
        let mut cmd = Command::new(h2_python());
        cmd.arg("-u")
            .arg(script("h2_app.py"))
            .args(["--bind", "127.0.0.1"])
            .stdin(Stdio::null());
        let (child, rx, port) = spawn_listening(&mut cmd, "h2_app.py (hypercorn)");
        H2App {
            child,
            rx,
            port,
            seen: Vec::new(),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits for the server's records of `n` requests.
    pub fn wait_seen(&mut self, n: usize) -> &[Value] {
        read_json_lines(&self.rx, &mut self.seen, n, "h2_app.py");
        &self.seen
    }
}

impl Drop for H2App {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// How curl speaks HTTP/2 to a cleartext server.
#[derive(Clone, Copy, Debug)]
pub enum CurlMode {
    /// `--http2-prior-knowledge`: the client preface at once (one connection per request:
    /// curl 7.88 breaks a reused prior-knowledge connection).
    Prior,
    /// `--http2`: `Upgrade: h2c` on the first request, the rest on the upgraded connection.
    Upgrade,
}

/// Runs curl (through h2_clients.py) with `requests`, a JSON list of {"method", "path",
/// "headers", "body_size"}: one exchange per request.
pub fn curl_h2(mode: CurlMode, base: &str, requests: &Value) -> Vec<Exchange> {
    require_tool("curl", "curl");
    let mode = match mode {
        CurlMode::Prior => "prior",
        CurlMode::Upgrade => "upgrade",
    };
    let mut cmd = Command::new(python3());
    cmd.arg(script("h2_clients.py"))
        .args(["curl", mode, base, &requests.to_string()]);
    client_run(&mut cmd, "h2_clients.py curl")
}

// ---------------------------------------------------------------------------------------
// gRPC

/// The grpcio server of tests/support/h2_grpc.py on a free port.
pub struct GrpcServer {
    child: Child,
    rx: Receiver<String>,
    pub port: u16,
    /// What the server saw, one record per handled call (see h2_grpc.py).
    pub seen: Vec<Value>,
}

impl GrpcServer {
    pub fn start() -> GrpcServer {
        let mut cmd = Command::new(h2_python());
        cmd.arg("-u")
            .arg(script("h2_grpc.py"))
            .args(["server", "--bind", "127.0.0.1"])
            .stdin(Stdio::null());
        let (child, rx, port) = spawn_listening(&mut cmd, "h2_grpc.py server");
        GrpcServer {
            child,
            rx,
            port,
            seen: Vec::new(),
        }
    }

    /// Waits for the server's records of `n` handled calls (a call to a method it does not
    /// have is not handled: no record).
    pub fn wait_seen(&mut self, n: usize) -> &[Value] {
        read_json_lines(&self.rx, &mut self.seen, n, "h2_grpc.py server");
        &self.seen
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// One grpcio channel (tests/support/h2_grpc.py client), driven a command at a time.
pub struct GrpcClient {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    /// The phase the next calls are recorded with (see [`GrpcClient::phase`]).
    phase: Option<u64>,
    /// Every call made so far, in order.
    pub calls: Vec<Exchange>,
}

impl GrpcClient {
    /// Opens the channel to 127.0.0.1:`port` and waits until it is connected.
    pub fn connect(port: u16) -> GrpcClient {
        let mut child = Command::new(h2_python())
            .arg("-u")
            .arg(script("h2_grpc.py"))
            .args(["client", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start h2_grpc.py client");
        let stdin = child.stdin.take();
        let rx = line_channel(child.stdout.take().unwrap());
        match rx.recv_timeout(PEER_DEADLINE) {
            Ok(l) if l == "ready" => {}
            other => {
                kill(&mut child);
                panic!("h2_grpc.py client: expected \"ready\", got {other:?}");
            }
        }
        GrpcClient {
            child,
            stdin,
            rx,
            phase: None,
            calls: Vec::new(),
        }
    }

    /// Records the next calls with this phase (1: before the sensor started, 2: after).
    pub fn phase(&mut self, phase: u64) {
        self.phase = Some(phase);
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("client stdin");
        writeln!(stdin, "{line}").expect("write to h2_grpc.py client");
        stdin.flush().unwrap();
    }

    /// Makes one call (a command of h2_grpc.py: "unary hello", "fail 14", ...) and returns
    /// what the client saw once it has ended.
    pub fn call(&mut self, command: &str) -> Exchange {
        self.send(command);
        let line = self
            .rx
            .recv_timeout(PEER_DEADLINE)
            .unwrap_or_else(|e| panic!("h2_grpc.py client: no record of {command:?} ({e})"));
        let mut v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("h2_grpc.py client: not JSON ({e}): {line:?}"));
        if let Some(p) = self.phase {
            v["phase"] = p.into();
        }
        v["command"] = command.into();
        let ex = Exchange::from_json(&v);
        self.calls.push(ex.clone());
        ex
    }

    /// Closes the channel (its connection ends) and waits for the client to exit.
    pub fn close(mut self) -> Vec<Exchange> {
        self.send("quit");
        match self.rx.recv_timeout(PEER_DEADLINE) {
            Ok(l) if l.contains("\"closed\"") => {}
            other => panic!("h2_grpc.py client: expected the closed line, got {other:?}"),
        }
        drop(self.stdin.take());
        let _ = self.child.wait();
        std::mem::take(&mut self.calls)
    }
}

impl Drop for GrpcClient {
    fn drop(&mut self) {
        drop(self.stdin.take());
        kill(&mut self.child);
    }
}

// ---------------------------------------------------------------------------------------
// tcpdump

/// tcpdump on lo for one port (tests/support/h2_tcpdump.py), with marks.
pub struct Tcpdump {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    pub path: PathBuf,
}

impl Tcpdump {
    /// Starts capturing `port` into `path` and waits until tcpdump listens; `mid`: also
    /// write the packets from the last mark on there when stopping.
    pub fn start(path: &Path, port: u16, mid: Option<&Path>) -> Tcpdump {
        require_root("tcpdump on lo");
        require_tool("tcpdump", "tcpdump");
        let mut cmd = Command::new(python3());
        cmd.arg("-u")
            .arg(script("h2_tcpdump.py"))
            .arg(path)
            .arg(port.to_string());
        if let Some(m) = mid {
            cmd.arg("--mid-out").arg(m);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start h2_tcpdump.py");
        let stdin = child.stdin.take();
        let rx = line_channel(child.stdout.take().unwrap());
        match rx.recv_timeout(PEER_DEADLINE) {
            Ok(l) if l == "capturing" => {}
            other => {
                kill(&mut child);
                panic!("h2_tcpdump.py: expected \"capturing\", got {other:?}");
            }
        }
        Tcpdump {
            child,
            stdin,
            rx,
            path: path.to_path_buf(),
        }
    }

    fn command(&mut self, line: &str, want: &str) -> u64 {
        let stdin = self.stdin.as_mut().expect("tcpdump helper stdin");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        match self.rx.recv_timeout(PEER_DEADLINE) {
            Ok(l) if l.starts_with(want) => l[want.len()..].trim().parse().unwrap(),
            other => panic!("h2_tcpdump.py: expected {want:?}, got {other:?}"),
        }
    }

    /// Marks the capture: every packet so far is written. Returns the number the next
    /// packet will have (where a capture started now would begin).
    pub fn mark(&mut self) -> u64 {
        self.command("mark", "mark ")
    }

    /// Stops with every packet written; returns how many.
    pub fn stop(mut self) -> u64 {
        let n = self.command("stop", "stopped ");
        let _ = self.child.wait();
        n
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        drop(self.stdin.take());
        kill(&mut self.child);
    }
}

// ---------------------------------------------------------------------------------------
// The sensor watching a peer

/// The sensor capturing `-i lo --filter 'tcp port PEER or tcp port SENTINEL'`, and the
/// sentinel HTTP/1.1 server (tests/support/live_server.py).
pub struct Watch {
    sensor: Sensor,
    sentinel: Server,
    pub port: u16,
}

/// What the sensor printed about the peer's port once it has stopped.
pub struct Watched {
    pub fin: Finished,
    /// The traces whose server is the peer (the sentinel's left out).
    pub traces: Vec<Value>,
}

impl Watch {
    /// Starts the sentinel server and the sensor (waits for its "capturing on" line).
    pub fn start(port: u16) -> Watch {
        require_root("live capture on lo");
        let sentinel = Server::start("127.0.0.1");
        let filter = format!("tcp port {port} or tcp port {}", sentinel.port);
        let sensor = Sensor::start(&["-i", "lo", "--filter", &filter]);
        Watch {
            sensor,
            sentinel,
            port,
        }
    }

    /// Once the peer's traffic has ended: one HTTP/1.1 request to the sentinel, its trace
    /// awaited (every packet before it has then been read), then SIGINT; the sensor must
    /// exit 0. Returns what it printed about the peer.
    pub fn finish(mut self) -> Watched {
        curl(&["-o", "/dev/null", &self.sentinel.url("/text/sentinel")]);
        self.sensor.wait_target("/text/sentinel", SENTINEL_DEADLINE);
        let fin = self.sensor.stop(libc::SIGINT);
        fin.assert_exit_0();
        let traces = fin
            .traces
            .iter()
            .filter(|t| t["server"]["port"] == self.port)
            .cloned()
            .collect();
        Watched { fin, traces }
    }
}
