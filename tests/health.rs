//! `pcap-sensor health` against the real sensor capturing live on loopback
//! (issue 20): healthy while it captures, with what it saw; still healthy
//! (and still capturing) while clients that connect to the health socket
//! never read; stalled while the sensor is stopped (SIGSTOP); not running
//! once it has exited; a satellite outage told but healthy (with a spool,
//! the bytes it holds); a capture that cannot start, or fails, unhealthy
//! with its reason when the sensor was told to stay up (--keep-running), an
//! exit otherwise.
//!
//! Every sensor gets a socket name of its own (PCAP_SENSOR_HEALTH_SOCKET),
//! so the tests run in parallel in one network namespace. Needs root (live
//! capture, network namespaces), python3, curl, iproute2.

mod support;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use support::live::{NetNs, Sensor, Server, curl};
use support::process::{
    SENSOR, START_DEADLINE, STOP_DEADLINE, TempDir, line_channel, remaining, run_with_deadline,
    send_signal, unique,
};
use support::require::require_root;
use support::sat::{Mode, SatOpts, Satellite};

const ENV: &str = "PCAP_SENSOR_HEALTH_SOCKET";
/// How long a trace may take to show.
const TRACE_DEADLINE: Duration = Duration::from_secs(30);

/// `pcap-sensor health [--timeout SECS]` for the sensor named `name`: exit
/// code and the line it printed.
fn health(name: &str, timeout: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new(SENSOR);
    cmd.arg("health").env(ENV, name);
    if let Some(t) = timeout {
        cmd.args(["--timeout", t]);
    }
    let out = run_with_deadline(&mut cmd, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text.trim_end().to_string())
}

fn assert_healthy(name: &str) -> String {
    let (code, line) = health(name, None);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("healthy: capturing on lo for "), "{line}");
    line
}

/// A live sensor on loopback for `server`'s port, with a socket of its own.
fn sensor(server: &Server, name: &str, more: &[&str]) -> Sensor {
    let filter = server.filter();
    let mut args = vec!["-i", "lo", "--filter", &filter];
    args.extend_from_slice(more);
    let mut s = Sensor::start_env(&args, &[(ENV, name)]);
    s.wait_stderr(
        &format!("answering health checks ('pcap-sensor health') on @{name}"),
        START_DEADLINE,
    );
    s
}

#[test]
fn healthy_while_capturing_stalled_when_stopped_not_running_after() {
    require_root("live capture");
    let server = Server::start("127.0.0.1");
    let name = unique("health");
    let mut s = sensor(&server, &name, &[]);
    let line = assert_healthy(&name);
    assert!(line.contains(": no packets yet"), "{line}");

    curl(&["-o", "/dev/null", &server.url("/text/one")]);
    s.wait_target("/text/one", TRACE_DEADLINE);
    let line = assert_healthy(&name);
    assert!(line.contains(" packets, the last "), "{line}");
    assert!(line.contains(" dropped by the kernel"), "{line}");

    // Clients that connect and never read (as many as the socket's queue
    // takes): the loop answers each with one send and goes on capturing.
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let silent: Vec<UnixStream> = (0..12)
        .map(|_| UnixStream::connect_addr(&addr).unwrap())
        .collect();
    curl(&["-o", "/dev/null", &server.url("/text/two")]);
    s.wait_target("/text/two", TRACE_DEADLINE);
    assert_healthy(&name);

    // A loop that does not turn (the process stopped) does not answer.
    assert!(send_signal(s.pid, libc::SIGSTOP));
    let (code, line) = health(&name, Some("1"));
    assert!(send_signal(s.pid, libc::SIGCONT));
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with(&format!(
            "unhealthy: stalled: no answer on @{name} within 1.0 s"
        )),
        "{line}"
    );
    assert_healthy(&name);
    drop(silent);

    let fin = s.stop(libc::SIGTERM);
    fin.assert_exit_0();
    assert_eq!(fin.traces.len(), 2);
    let (code, line) = health(&name, None);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with(&format!(
            "unhealthy: not running: nothing answers on @{name}"
        )),
        "{line}"
    );
}

/// The satellite refuses connections: said in the answer, still healthy.
#[test]
fn a_satellite_outage_is_told_and_healthy() {
    require_root("live capture");
    let server = Server::start("127.0.0.1");
    let sat = Satellite::start(SatOpts {
        mode: Mode::Ok,
        down: true,
        tls: None,
    });
    let name = unique("health-sat");
    let url = sat.url();
    let mut s = sensor(
        &server,
        &name,
        &["--satellite-url", &url, "--trace-export-interval", "200ms"],
    );
    let line = assert_healthy(&name);
    assert!(
        line.ends_with(&format!("; satellite {url}: 0 traces delivered, 0 queued")),
        "{line}"
    );
    curl(&["-o", "/dev/null", &server.url("/text/queued")]);
    s.wait_target("/text/queued", TRACE_DEADLINE);
    s.wait_stderr("cannot deliver traces", TRACE_DEADLINE);
    let line = assert_healthy(&name);
    assert!(
        line.contains(&format!("; satellite {url} failing for ")),
        "{line}"
    );
    assert!(line.contains("Connection refused"), "{line}");
    assert!(line.ends_with(", 1 queued"), "{line}");
    s.stop(libc::SIGTERM).assert_exit_0();
}

/// The same outage with a spool: the traces set aside on disk are told too.
#[test]
fn a_satellite_outage_with_a_spool_tells_what_it_holds() {
    require_root("live capture");
    let server = Server::start("127.0.0.1");
    let sat = Satellite::start(SatOpts {
        mode: Mode::Ok,
        down: true,
        tls: None,
    });
    let name = unique("health-spool");
    let url = sat.url();
    let spool = TempDir::new("health-spool");
    let dir = spool.0.to_str().unwrap();
    let mut s = sensor(
        &server,
        &name,
        &[
            "--satellite-url",
            &url,
            "--trace-export-interval",
            "200ms",
            "--spool-dir",
            dir,
        ],
    );
    let line = assert_healthy(&name);
    assert!(
        line.ends_with(" 0 queued"),
        "no spool bytes while empty: {line}"
    );
    curl(&["-o", "/dev/null", &server.url("/text/spooled")]);
    s.wait_target("/text/spooled", TRACE_DEADLINE);
    // The batch falls due while the satellite is away and goes to the spool:
    // ask until the answer says so.
    let deadline = Instant::now() + TRACE_DEADLINE;
    let line = loop {
        let line = assert_healthy(&name);
        if line.contains("bytes spooled") || Instant::now() >= deadline {
            break line;
        }
    };
    assert!(
        line.contains(&format!("; satellite {url} failing for ")),
        "{line}"
    );
    let bytes: u64 = line
        .strip_suffix(" bytes spooled")
        .and_then(|l| l.rsplit(", ").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no spooled bytes at the end: {line}"));
    let on_disk: u64 = std::fs::read_dir(&spool.0)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".spool"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(bytes, on_disk, "{line}");
    s.stop(libc::SIGTERM).assert_exit_0();
}

/// `pcap-sensor apidump ARGS` without waiting for "capturing on" (which may
/// never come); its stderr lines on a channel. Killed when dropped.
struct Apidump {
    child: Child,
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Apidump {
    fn start(args: &[&str], name: &str) -> Apidump {
        let mut child = Command::new(SENSOR)
            .arg("apidump")
            .args(args)
            .env(ENV, name)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the sensor");
        let rx = line_channel(child.stderr.take().unwrap());
        Apidump {
            child,
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits for a stderr line containing `needle`.
    fn wait_line(&mut self, needle: &str) {
        let deadline = Instant::now() + START_DEADLINE;
        while !self.seen.iter().any(|l| l.contains(needle)) {
            match self.rx.recv_timeout(remaining(deadline)) {
                Ok(l) => self.seen.push(l),
                Err(e) => panic!(
                    "no line with {needle:?} ({e}); stderr:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the exit (polling, with a deadline); its code.
    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "the sensor did not exit");
            std::thread::sleep(Duration::from_millis(20)); // polling interval, not a synchronisation
        }
    }
}

impl Drop for Apidump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No such interface: without --keep-running the sensor exits 1 (nothing
/// to ask); with it, it stays up and the health check says why, until
/// SIGTERM, and then exits 1 as it would have.
#[test]
fn a_capture_that_cannot_start_is_unhealthy_with_its_reason() {
    require_root("live capture");
    let name = unique("health-nostart");
    let iface = "psnosuch0";
    let mut a = Apidump::start(&["-i", iface, "--out", "-"], &name);
    assert_eq!(a.wait_exit(), 1);
    let (code, line) = health(&name, None);
    assert_eq!(code, 1);
    assert!(line.starts_with("unhealthy: not running"), "{line}");

    let mut a = Apidump::start(&["-i", iface, "--out", "-", "--keep-running"], &name);
    a.wait_line("--keep-running: staying up");
    let (code, line) = health(&name, None);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with(&format!(
            "unhealthy: capture could not start: cannot capture on '{iface}': "
        )),
        "{line}"
    );
    assert!(a.is_running(), "it stays up");
    assert!(send_signal(a.child.id(), libc::SIGTERM));
    assert_eq!(a.wait_exit(), 1);
}

/// The interface goes away during capture (the host end of a veth pair into
/// a namespace of this test): with --keep-running the sensor reports its
/// last traces and counters as it always does, then stays up, unhealthy,
/// saying that capture failed.
#[test]
fn a_capture_that_fails_is_unhealthy_with_its_reason() {
    require_root("live capture, network namespaces");
    let ns = NetNs::create(7);
    let name = unique("health-fail");
    let mut a = Apidump::start(&["-i", &ns.host_if, "--out", "-", "--keep-running"], &name);
    a.wait_line("capturing on");
    let (code, line) = health(&name, None);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with(&format!("healthy: capturing on {} for ", ns.host_if)),
        "{line}"
    );
    let out = run_with_deadline(
        Command::new("ip").args(["link", "del", &ns.host_if]),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "ip link del: {out:?}");
    a.wait_line("--keep-running: staying up");
    assert!(
        a.seen.iter().any(|l| l.contains("final stats")),
        "{:#?}",
        a.seen
    );
    let (code, line) = health(&name, None);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.starts_with(&format!(
            "unhealthy: capture failed: capture on '{}' failed",
            ns.host_if
        )),
        "{line}"
    );
    assert!(a.is_running(), "it stays up");
    assert!(send_signal(a.child.id(), libc::SIGTERM));
    assert_eq!(a.wait_exit(), 1);
}
