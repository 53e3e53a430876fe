//! The satellite helpers (tests/satellite.rs, tests/faults.rs, and through
//! `policy::Satellite` tests/policy.rs): the test satellite
//! (tests/support/sat_server.py), the OTLP checkers for traces and for the
//! sensor's metrics (tests/support/sat_otlp_check.py and
//! sat_metrics_check.py, run with the venv python that has PyPI
//! opentelemetry-proto), a sensor runner that exports to a satellite
//! (no `--out`, chosen environment, measured stop time, periodic stats
//! lines), and a test CA for HTTPS.
//!
//! Nothing here sleeps to synchronise: every wait reads a pipe through a
//! channel with a deadline.

use super::offline::sensor_command;
use super::process::{
    SENSOR, START_DEADLINE, line_channel, remaining, run_with_deadline, script, send_signal,
    spawn_listening, unique, vm_hwm_kb,
};
use super::require::{python3, require_tool, venv_python};
use super::trace::{final_stats, parse_memory_ceiling, parse_stats, stat};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Time per export attempt the sensor may spend (its connect/read timeout).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// Slack on top of every time bound (process exit, scheduling on a busy CI
/// machine with tests running in parallel).
pub const MARGIN: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// The test satellite

/// How the satellite answers POST /v1/traces.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Ok,
    Fail500,
    /// Reads the request and never answers.
    Hang,
    /// 429 to the first K posts, then 200.
    TooManyThenOk(u32),
    Reject400,
}

pub struct SatOpts {
    pub mode: Mode,
    /// Bind but do not listen (connections refused) until `up()`.
    pub down: bool,
    /// (certificate chain PEM, key PEM): serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl SatOpts {
    pub fn mode(mode: Mode) -> SatOpts {
        SatOpts {
            mode,
            down: false,
            tls: None,
        }
    }
}

/// One request the satellite received (its stdout event line).
#[derive(Clone, Debug)]
pub struct Post {
    pub seq: u64,
    /// "200", "429", "500", "400", "404" or "hang".
    pub answer: String,
    /// Spans in the body, -1 when it is not OTLP-shaped JSON (0 for
    /// metrics).
    pub spans: i64,
    /// Its place among every post (traces and metrics) received, from 0.
    pub at: usize,
}

pub struct Satellite {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<String>,
    pub port: u16,
    scheme: &'static str,
    pub record: PathBuf,
    /// Where the metrics posts are recorded.
    pub metrics_record: PathBuf,
    /// Every request received so far (but the metrics posts).
    pub posts: Vec<Post>,
    /// Every POST of the sensor's metrics received so far.
    pub metrics_posts: Vec<Post>,
    /// Other event lines (tls-error ..., up, mode ...).
    pub other: Vec<String>,
}

impl Satellite {
    pub fn start(opts: SatOpts) -> Satellite {
        Self::start_with(opts, None, None)
    }

    /// A satellite that records, per post, only these span attributes
    /// (comma-separated) instead of the body: see `keys`.
    pub fn start_recording_keys(opts: SatOpts, keys: &str) -> Satellite {
        Self::start_with(opts, Some(keys), None)
    }

    /// A satellite that answers every metrics post with `answer`: a status,
    /// or "hang" (read, never answered); traces as `opts.mode` says.
    pub fn start_answering_metrics(opts: SatOpts, answer: &str) -> Satellite {
        Self::start_with(opts, None, Some(answer))
    }

    fn start_with(opts: SatOpts, keys: Option<&str>, metrics: Option<&str>) -> Satellite {
        let name = unique("rec");
        let record = std::env::temp_dir().join(format!("pcap-sensor-sat-{name}.jsonl"));
        let metrics_record =
            std::env::temp_dir().join(format!("pcap-sensor-sat-{name}.metrics.jsonl"));
        let _ = std::fs::remove_file(&record);
        let _ = std::fs::remove_file(&metrics_record);
        let mut cmd = Command::new(python3());
        cmd.arg("-u")
            .arg(script("sat_server.py"))
            .arg("--record")
            .arg(&record)
            .arg("--metrics-record")
            .arg(&metrics_record);
        if let Some(answer) = metrics {
            cmd.args(["--metrics-answer", answer]);
        }
        if let Some(k) = keys {
            cmd.args(["--record-keys", k]);
        }
        match opts.mode {
            Mode::Ok => cmd.args(["--mode", "ok"]),
            Mode::Fail500 => cmd.args(["--mode", "fail500"]),
            Mode::Hang => cmd.args(["--mode", "hang"]),
            Mode::TooManyThenOk(k) => cmd.args(["--mode", "429", "--fail-count", &k.to_string()]),
            Mode::Reject400 => cmd.args(["--mode", "400"]),
        };
        if opts.down {
            cmd.arg("--down");
        }
        let scheme = match &opts.tls {
            Some((cert, key)) => {
                cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
                "https"
            }
            None => "http",
        };
        cmd.stdin(Stdio::piped());
        let (mut child, rx, port) = spawn_listening(&mut cmd, "the test satellite");
        let stdin = child.stdin.take();
        Satellite {
            child,
            stdin,
            rx,
            port,
            scheme,
            record,
            metrics_record,
            posts: Vec::new(),
            metrics_posts: Vec::new(),
            other: Vec::new(),
        }
    }

    /// `http(s)://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    fn push(&mut self, line: String) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let at = self.posts.len() + self.metrics_posts.len();
        if w.len() == 4 && w[0] == "post" {
            self.posts.push(Post {
                seq: w[1].parse().unwrap(),
                answer: w[2].to_string(),
                spans: w[3].parse().unwrap(),
                at,
            });
        } else if w.len() == 3 && w[0] == "metrics" {
            self.metrics_posts.push(Post {
                seq: w[1].parse().unwrap(),
                answer: w[2].to_string(),
                spans: 0,
                at,
            });
        } else {
            self.other.push(line);
        }
    }

    /// Reads events until `done` holds, or panics after `timeout`.
    pub fn wait(&mut self, timeout: Duration, what: &str, done: impl Fn(&Satellite) -> bool) {
        match self.wait_until(Instant::now() + timeout, done) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => panic!(
                "satellite: no {what} within {timeout:?}; posts so far: {:?}; other: {:?}",
                self.posts, self.other
            ),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("satellite exited while waiting for {what}")
            }
        }
    }

    /// Reads events until `done` holds; Err when the deadline passes or the
    /// satellite exits first.
    pub fn wait_until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&Satellite) -> bool,
    ) -> Result<(), RecvTimeoutError> {
        while !done(self) {
            let line = self.rx.recv_timeout(remaining(deadline))?;
            self.push(line);
        }
        Ok(())
    }

    /// Spans in every post received, whatever the answer.
    pub fn received(&self) -> i64 {
        self.posts.iter().map(|p| p.spans.max(0)).sum()
    }

    /// Reads the events that have arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(l) = self.rx.try_recv() {
            self.push(l);
        }
    }

    /// Spans in posts answered 200.
    pub fn delivered(&self) -> i64 {
        self.posts
            .iter()
            .filter(|p| p.answer == "200")
            .map(|p| p.spans.max(0))
            .sum()
    }

    /// Waits until posts answered 200 carried at least `n` spans.
    pub fn wait_delivered(&mut self, n: i64, timeout: Duration) {
        self.wait(timeout, &format!("{n} delivered spans"), |s| {
            s.delivered() >= n
        });
    }

    /// Starts listening (the satellite was started with `down`, or `down`
    /// was called).
    pub fn up(&mut self) {
        self.command("up");
    }

    /// Stops listening as a redeploy would: connections refused, open ones
    /// shut down (see sat_server.py).
    pub fn down(&mut self) {
        self.command("down");
    }

    /// Sends `word` on stdin and waits for the satellite to print it back
    /// (once more than it had so far).
    fn command(&mut self, word: &str) {
        let before = self.other.iter().filter(|l| *l == word).count();
        let stdin = self.stdin.as_mut().expect("satellite stdin");
        writeln!(stdin, "{word}").unwrap_or_else(|e| panic!("tell the satellite '{word}': {e}"));
        stdin.flush().unwrap();
        self.wait(Duration::from_secs(10), &format!("'{word}'"), |s| {
            s.other.iter().filter(|l| *l == word).count() > before
        });
    }

    /// For a satellite started with `start_recording_keys`: every post, in
    /// arrival order, as (answer, one list of the recorded attribute values
    /// per span).
    pub fn keys(&mut self) -> Vec<(Value, Vec<Vec<Value>>)> {
        self.drain();
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("a record line is JSON");
                let spans = v["keys"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|k| k.as_array().cloned().unwrap_or_default())
                            .collect()
                    })
                    .unwrap_or_default();
                (v["answer"].clone(), spans)
            })
            .collect()
    }

    /// Runs the OTLP checker over everything recorded; panics with its
    /// report when a body is not valid OTLP/HTTP JSON.
    pub fn check(&mut self) -> Otlp {
        self.drain();
        self.try_check().unwrap_or_else(|report| {
            panic!("the satellite received bodies that are not OTLP/HTTP JSON:\n{report}")
        })
    }

    /// Runs the OTLP checker over everything recorded; Err: its report, when
    /// a body is not valid OTLP/HTTP JSON.
    pub fn try_check(&self) -> Result<Otlp, String> {
        if !self.record.exists() {
            return Ok(Otlp {
                posts: Vec::new(),
                spans: Vec::new(),
            });
        }
        let out = run_with_deadline(
            Command::new(venv_python())
                .arg(script("sat_otlp_check.py"))
                .arg(&self.record),
            Duration::from_secs(60),
        );
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        let v: Value = serde_json::from_slice(&out.stdout).expect("checker output is JSON");
        Ok(Otlp {
            posts: v["posts"].as_array().unwrap().clone(),
            spans: v["spans"].as_array().unwrap().clone(),
        })
    }
}

impl Satellite {
    /// Runs the metrics checker (sat_metrics_check.py) over every metrics
    /// post recorded: each body as plain JSON (see the script), in arrival
    /// order. Panics with its report when a body is not a valid OTLP/HTTP
    /// JSON ExportMetricsServiceRequest of the sensor's shape.
    pub fn check_metrics(&mut self) -> Vec<Value> {
        self.drain();
        if !self.metrics_record.exists() {
            return Vec::new();
        }
        let out = run_with_deadline(
            Command::new(venv_python())
                .arg(script("sat_metrics_check.py"))
                .arg(&self.metrics_record),
            Duration::from_secs(60),
        );
        assert!(
            out.status.success(),
            "the satellite received metrics that are not OTLP/HTTP JSON:\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("checker output is JSON");
        v["bodies"].as_array().unwrap().clone()
    }
}

impl Drop for Satellite {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.record);
        let _ = std::fs::remove_file(&self.metrics_record);
    }
}

/// What the checker made of the satellite's record.
pub struct Otlp {
    /// {"seq", "method", "path", "content_type", "content_encoding", "answer", "spans"}
    pub posts: Vec<Value>,
    /// Flattened spans, see sat_otlp_check.py.
    pub spans: Vec<Value>,
}

impl Otlp {
    /// Spans of posts answered 200.
    pub fn delivered(&self) -> Vec<&Value> {
        self.spans.iter().filter(|s| s["answer"] == 200).collect()
    }

    /// The one delivered span with this url.path (panics if none or several).
    pub fn by_path(&self, path: &str) -> &Value {
        let found: Vec<&Value> = self
            .delivered()
            .into_iter()
            .filter(|s| s["attributes"]["url.path"] == path)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "want exactly one delivered span with url.path {path}; spans: {}",
            self.summary()
        );
        found[0]
    }

    /// One line per span, for failure messages.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        for sp in &self.spans {
            let a = &sp["attributes"];
            s.push_str(&format!(
                "\n  post {} ({}): {} {} {}{} -> {}",
                sp["post"],
                sp["answer"],
                a["http.request.method"],
                a["server.address"],
                a["url.path"],
                a.get("url.query")
                    .map(|q| format!("?{}", q.as_str().unwrap_or("")))
                    .unwrap_or_default(),
                a.get("http.response.status_code").unwrap_or(&Value::Null)
            ));
        }
        s
    }
}

/// Asserts that every request the satellite got was a POST of JSON to
/// `path`.
pub fn assert_posts_shape(otlp: &Otlp, path: &str) {
    for p in &otlp.posts {
        assert_eq!(p["method"], "POST", "request to the satellite: {p}");
        assert_eq!(p["path"], path, "request to the satellite: {p}");
        let ct = p["content_type"].as_str().unwrap_or("");
        assert!(
            ct.split(';').next().unwrap().trim() == "application/json",
            "Content-Type must be application/json: {p}"
        );
    }
}

// ---------------------------------------------------------------------------
// The sensor, exporting to a satellite

/// A running `pcap-sensor apidump ARGS` (no `--out` added).
pub struct SatSensor {
    child: Option<Child>,
    pub pid: u32,
    err_rx: Receiver<String>,
    out_rx: Receiver<String>,
    /// Every stderr line read so far.
    pub stderr: Vec<String>,
    /// Every stdout line read so far.
    pub stdout: Vec<String>,
    err_done: bool,
    out_done: bool,
}

/// What is left when the sensor has exited.
pub struct SatFinished {
    pub status: ExitStatus,
    pub stderr: Vec<String>,
    pub stdout: Vec<String>,
    pub final_stats: BTreeMap<String, u64>,
    /// From the signal (or from the start, for `wait_exit`) to exit.
    pub elapsed: Duration,
}

impl SatFinished {
    pub fn stat(&self, key: &str) -> u64 {
        stat(&self.final_stats, key, &self.stderr)
    }

    /// Asserts a final counter; the message carries the sensor's stderr.
    pub fn assert_stat(&self, key: &str, want: u64) {
        let got = self.stat(key);
        assert!(
            got == want,
            "final stats {key}={got}, want {want}\nstderr:\n{}",
            self.stderr_text()
        );
    }

    /// Asserts a final counter is at least `min`.
    pub fn assert_stat_at_least(&self, key: &str, min: u64) {
        let got = self.stat(key);
        assert!(
            got >= min,
            "final stats {key}={got}, want at least {min}\nstderr:\n{}",
            self.stderr_text()
        );
    }

    pub fn assert_exit_0(&self) {
        assert!(
            self.status.success(),
            "sensor exit status {}, want 0\nstderr:\n{}",
            self.status,
            self.stderr.join("\n")
        );
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }
}

impl SatSensor {
    /// Starts the sensor; does not wait for anything.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> SatSensor {
        Self::spawn_bin(Path::new(SENSOR), args, env)
    }

    /// `spawn` with another build of the sensor (e.g. the static binary).
    pub fn spawn_bin(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> SatSensor {
        let mut args_all = vec!["apidump"];
        args_all.extend_from_slice(args);
        let mut child = sensor_command(bin, &args_all, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let out_rx = line_channel(child.stdout.take().unwrap());
        let err_rx = line_channel(child.stderr.take().unwrap());
        SatSensor {
            pid: child.id(),
            child: Some(child),
            err_rx,
            out_rx,
            stderr: Vec::new(),
            stdout: Vec::new(),
            err_done: false,
            out_done: false,
        }
    }

    /// Starts a live capture and waits for its "capturing on" line.
    pub fn start_live(args: &[&str], env: &[(&str, &str)]) -> SatSensor {
        Self::start_live_bin(Path::new(SENSOR), args, env)
    }

    /// `start_live` with another build of the sensor.
    pub fn start_live_bin(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> SatSensor {
        let mut s = Self::spawn_bin(bin, args, env);
        s.wait_stderr("capturing on", START_DEADLINE);
        s
    }

    fn drain(&mut self) {
        while let Ok(l) = self.err_rx.try_recv() {
            self.stderr.push(l);
        }
        while let Ok(l) = self.out_rx.try_recv() {
            self.stdout.push(l);
        }
    }

    /// Waits for a stderr line containing `needle`; returns it.
    pub fn wait_stderr(&mut self, needle: &str, timeout: Duration) -> String {
        self.wait_line(timeout, &format!("a stderr line with '{needle}'"), |l| {
            l.contains(needle)
        })
    }

    fn wait_line(&mut self, timeout: Duration, what: &str, want: impl Fn(&str) -> bool) -> String {
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
                    self.drain();
                    panic!(
                        "no {what} from the sensor within {timeout:?}\n{}",
                        self.diagnostics()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.err_done = true;
                    let status = self.child.as_mut().and_then(|c| c.wait().ok());
                    self.drain();
                    panic!(
                        "sensor exited ({status:?}) before {what}\n{}",
                        self.diagnostics()
                    )
                }
            }
        }
    }

    /// Waits for a periodic stats line (`pcap-sensor: stats ...`, needs
    /// `--stats-interval`) whose counters satisfy `want`; returns them.
    pub fn wait_stats(
        &mut self,
        timeout: Duration,
        what: &str,
        want: impl Fn(&BTreeMap<String, u64>) -> bool,
    ) -> BTreeMap<String, u64> {
        let line = self.wait_line(timeout, &format!("stats line with {what}"), |l| {
            is_periodic_stats(l) && want(&parse_stats(l))
        });
        parse_stats(&line)
    }

    /// The N of "memory ceiling N bytes".
    pub fn memory_ceiling(&mut self) -> u64 {
        let line = self.wait_stderr("memory ceiling", START_DEADLINE);
        parse_memory_ceiling(&line)
            .unwrap_or_else(|| panic!("cannot read the memory ceiling from {line:?}"))
    }

    /// Peak resident set size so far (VmHWM of /proc/PID/status), in KiB.
    pub fn vm_hwm_kb(&self) -> u64 {
        vm_hwm_kb(self.pid)
    }

    /// Sends `sig`, waits up to `bound` (+ MARGIN) for the exit, and
    /// returns what the sensor printed; panics if it is still running.
    pub fn stop(self, sig: libc::c_int, bound: Duration) -> SatFinished {
        let t0 = Instant::now();
        // The child has not been reaped: the pid is still ours.
        send_signal(self.pid, sig);
        self.finish(t0, bound + MARGIN, &format!("signal {sig}"))
    }

    /// Waits (for `-r FILE` runs) for the sensor to exit by itself.
    pub fn wait_exit(self, timeout: Duration) -> SatFinished {
        self.finish(Instant::now(), timeout, "the end of the file")
    }

    fn finish(mut self, t0: Instant, timeout: Duration, after: &str) -> SatFinished {
        let deadline = t0 + timeout;
        while !(self.err_done && self.out_done) {
            if !self.err_done {
                match self.err_rx.recv_timeout(remaining(deadline)) {
                    Ok(l) => self.stderr.push(l),
                    Err(RecvTimeoutError::Disconnected) => self.err_done = true,
                    Err(RecvTimeoutError::Timeout) => break,
                }
            } else {
                match self.out_rx.recv_timeout(remaining(deadline)) {
                    Ok(l) => self.stdout.push(l),
                    Err(RecvTimeoutError::Disconnected) => self.out_done = true,
                    Err(RecvTimeoutError::Timeout) => break,
                }
            }
        }
        // Pipes closed (or the deadline passed): wait for the exit on a
        // thread, within what is left of the bound.
        let mut child = self.child.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(remaining(deadline))
            .ok()
            .map(|r| r.expect("wait"));
        let elapsed = t0.elapsed();
        let Some(status) = status else {
            // The waiting thread has not reaped it (no status yet).
            send_signal(self.pid, libc::SIGKILL);
            self.drain();
            panic!(
                "sensor did not exit within {timeout:?} of {after}\n{}",
                self.diagnostics()
            );
        };
        self.drain();
        let final_stats = match final_stats(self.stderr.iter().map(String::as_str)) {
            Some(m) => m,
            None => panic!(
                "no 'final stats' line on stderr (exit {status})\n{}",
                self.diagnostics()
            ),
        };
        SatFinished {
            status,
            stderr: std::mem::take(&mut self.stderr),
            stdout: std::mem::take(&mut self.stdout),
            final_stats,
            elapsed,
        }
    }

    pub fn diagnostics(&self) -> String {
        format!(
            "--- sensor stderr ({} lines):\n{}\n--- sensor stdout: {} lines",
            self.stderr.len(),
            self.stderr.join("\n"),
            self.stdout.len()
        )
    }
}

impl Drop for SatSensor {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            if std::thread::panicking() {
                self.drain();
                eprintln!("{}", self.diagnostics());
            }
        }
    }
}

/// A periodic stats line (not the final one).
pub fn is_periodic_stats(line: &str) -> bool {
    line.contains("stats ") && !line.contains("final stats") && line.contains("traces=")
}

// ---------------------------------------------------------------------------
// A test CA and a server certificate for 127.0.0.1 / localhost (openssl CLI)

pub struct TestCa {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run_with_deadline(
        Command::new("openssl").current_dir(dir).args(args),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// A fresh CA (EC P-256) and a server certificate signed by it with
    /// subjectAltName IP:127.0.0.1 and DNS:localhost, valid for 2 days.
    pub fn create() -> TestCa {
        require_tool("openssl", "openssl");
        let dir = std::env::temp_dir().join(format!("pcap-sensor-ca-{}", unique("ca")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca = TestCa {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            dir,
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        a.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=pcap-sensor test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&ca.dir, &a);
        let mut a = vec!["req"];
        a.extend(ec);
        a.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(&ca.dir, &a);
        std::fs::write(
            ca.dir.join("server.ext"),
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        openssl(
            &ca.dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                "4242",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        ca
    }
}

impl Drop for TestCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
