//! The shipped artefacts, run the way users run them (issue 3):
//! - the static musl binary (`$PCAP_SENSOR_STATIC`, built by `./build.sh`) has no dynamic
//!   dependencies and works in an empty root (chroot holding only the binary and a pcap):
//!   reading a pcap, and capturing live on the host's loopback;
//! - the FROM-scratch image (`$PCAP_SENSOR_IMAGE`, the OCI archive `./build.sh image` saves:
//!   an image index, of which these tests take the linux/amd64 image; tests/image_index.rs
//!   checks both platforms) holds nothing but `/bin/init`, and runs under podman + runc with
//!   the reference entrypoint shape `./bin/init apidump ... --out -`, capturing traffic on
//!   the container's own network namespace; with the health check of the sidecar's
//!   definition (`--health-cmd`), `podman healthcheck run` is healthy while it captures and
//!   unhealthy, with the reason, when capture cannot start (no NET_RAW, `--keep-running`).
//!
//! `./build.sh test` builds both and sets the variables; without them these tests fail, saying
//! to run it. They need root (chroot, packet capture, podman, nsenter), curl, python3 and
//! podman/runc, and fail naming whichever is missing (tests/support/require.rs).
//! The capture file is `$PCAP_CORPUS/corpus/zeek/http__get.pcap`, PCAP_CORPUS defaulting to
//! `../shared/pcaps` beside the repository.

mod support;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::process::{TempDir, line_channel, read_json, remaining, repo, send_signal};
use support::require::{corpus, image_archive, require_root, require_tool, static_binary};

/// How long any one step may take (start-up, a trace to appear, a clean exit).
const STEP: Duration = Duration::from_secs(20);
/// The issue's limit for the image.
const IMAGE_LIMIT: u64 = 4 * 1024 * 1024;
/// The corpus file every test reads: one GET with a 200 answer.
const GET_PCAP: &str = "zeek/http__get.pcap";
const GET_PATH: &str = "/download/CHANGES.bro-aux.txt";

// ---------------------------------------------------------------------------------------
// Processes and files

/// The lines a child writes to one of its pipes, read by a thread.
struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
    closed: bool,
}

impl Lines {
    fn new<R: Read + Send + 'static>(r: R) -> Lines {
        Lines {
            rx: line_channel(r),
            seen: Vec::new(),
            closed: false,
        }
    }

    /// Waits for the next line, until `deadline`; None at the deadline or end of stream.
    fn next_until(&mut self, deadline: Instant) -> Option<String> {
        if self.closed {
            return None;
        }
        match self.rx.recv_timeout(remaining(deadline)) {
            Ok(l) => {
                self.seen.push(l.clone());
                Some(l)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                None
            }
        }
    }

    /// Waits for a line containing `needle`; panics (showing `why` and what was seen) if
    /// none comes within STEP.
    fn wait_for(&mut self, needle: &str, why: &str) -> String {
        let deadline = Instant::now() + STEP;
        while let Some(l) = self.next_until(deadline) {
            if l.contains(needle) {
                return l;
            }
        }
        panic!(
            "{why}: no line containing {needle:?} within {STEP:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Everything up to the end of the stream (the writer has exited), or STEP.
    fn drain(&mut self) -> &[String] {
        let deadline = Instant::now() + STEP;
        while self.next_until(deadline).is_some() {}
        &self.seen
    }
}

/// A running child with its output pipes; killed when dropped.
struct Running {
    child: Child,
    out: Lines,
    err: Lines,
    what: String,
}

impl Running {
    fn start(cmd: &mut Command, what: &str) -> Running {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let out = Lines::new(child.stdout.take().unwrap());
        let err = Lines::new(child.stderr.take().unwrap());
        Running {
            child,
            out,
            err,
            what: what.to_string(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to exit (polling until STEP); its exit code.
    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st
                    .code()
                    .unwrap_or_else(|| panic!("{} killed: {st}", self.what));
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {STEP:?}; stderr:\n{}",
                self.what,
                self.err.seen.join("\n")
            );
            thread::sleep(Duration::from_millis(20)); // polling interval, not a synchronisation
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A python3 http.server serving `dir`, started with `prefix` (e.g. nsenter) in front;
/// returns it once it listens, with its port.
fn http_server(prefix: &[&str], bind: &str, port: u16, dir: &Path) -> (Running, u16) {
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    argv.extend(
        [
            "python3",
            "-u",
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            bind,
            "--directory",
            dir.to_str().unwrap(),
        ]
        .map(String::from),
    );
    let mut server = Running::start(Command::new(&argv[0]).args(&argv[1..]), "http.server");
    // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
    let line = server.out.wait_for("Serving HTTP on", "http.server start");
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (server, port)
}

fn curl(prefix: &[&str], url: &str) -> String {
    let mut argv: Vec<&str> = prefix.to_vec();
    argv.extend(["curl", "-sS", "--fail", "--max-time", "10", url]);
    run_ok(Command::new(argv[0]).args(&argv[1..]))
}

fn kill(pid: u32, sig: i32) {
    assert!(send_signal(pid, sig), "kill({pid}, {sig}) failed");
}

// ---------------------------------------------------------------------------------------
// Traces

fn parse_trace(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON trace ({e}): {line}"))
}

/// Waits for the next trace line on the sensor's stdout.
fn next_trace(sensor: &mut Running) -> Value {
    let deadline = Instant::now() + STEP;
    match sensor.out.next_until(deadline) {
        Some(l) => parse_trace(&l),
        None => panic!(
            "{}: no trace within {STEP:?}; stderr:\n{}",
            sensor.what,
            sensor.err.seen.join("\n")
        ),
    }
}

fn assert_get(trace: &Value, path: &str, body: Option<&str>) {
    let req = &trace["request"];
    let resp = &trace["response"];
    assert_eq!(req["method"], "GET", "{trace}");
    assert_eq!(req["path"], path, "{trace}");
    assert_eq!(resp["status"], 200, "{trace}");
    if let Some(body) = body {
        assert_eq!(resp["body"], body, "{trace}");
        assert_eq!(resp["body_size"], body.len(), "{trace}");
    }
}

/// SIGTERM (or `podman stop`) must end a capture cleanly: exit 0, the final stats line, and
/// no output beyond the `traces` lines already checked.
fn assert_clean_exit(sensor: &mut Running, traces: usize) {
    let code = sensor.wait_exit();
    let err = sensor.err.drain().join("\n");
    assert_eq!(code, 0, "{} exit code; stderr:\n{err}", sensor.what);
    assert!(err.contains("final stats"), "no final stats line:\n{err}");
    let out = sensor.out.drain();
    assert_eq!(out.len(), traces, "stdout: {out:?}");
}

// ---------------------------------------------------------------------------------------
// The static binary

#[test]
fn static_binary_has_no_dynamic_dependencies() {
    let bin = static_binary();
    require_tool("ldd", "libc-bin");
    require_tool("file", "file");
    require_tool("readelf", "binutils");
    let ldd = run(Command::new("ldd").arg(&bin));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ldd.stdout),
        String::from_utf8_lossy(&ldd.stderr)
    );
    assert!(
        said.trim() == "not a dynamic executable" || said.trim() == "statically linked",
        "ldd {}: {said}",
        bin.display()
    );
    let file = run_ok(Command::new("file").arg("-b").arg(&bin));
    assert!(
        file.contains("statically linked") || file.contains("static-pie linked"),
        "file: {file}"
    );
    assert!(file.contains("x86-64"), "file: {file}");
    let dynamic = run_ok(Command::new("readelf").arg("-d").arg(&bin));
    assert!(!dynamic.contains("(NEEDED)"), "readelf -d:\n{dynamic}");
    let version = run_ok(Command::new(&bin).arg("version"));
    assert!(
        version.contains(env!("CARGO_PKG_VERSION")),
        "version: {version}"
    );
}

/// An empty directory holding only the static binary (as /pcap-sensor) and `files`.
fn empty_root(bin: &Path, files: &[(&Path, &str)]) -> TempDir {
    let root = TempDir::new("root");
    fs::copy(bin, root.0.join("pcap-sensor")).unwrap();
    for (from, name) in files {
        fs::copy(from, root.0.join(name)).unwrap();
    }
    let mut names: Vec<String> = fs::read_dir(&root.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut want: Vec<String> = files.iter().map(|(_, n)| n.to_string()).collect();
    want.push("pcap-sensor".into());
    want.sort();
    assert_eq!(names, want);
    root
}

#[test]
fn static_binary_reads_a_pcap_in_an_empty_root() {
    let bin = static_binary();
    require_root("chroot");
    let root = empty_root(&bin, &[(&corpus(GET_PCAP), "get.pcap")]);
    let out = run_ok(Command::new("chroot").arg(&root.0).args([
        "/pcap-sensor",
        "apidump",
        "-r",
        "/get.pcap",
        "--out",
        "-",
    ]));
    let traces: Vec<Value> = out.lines().map(parse_trace).collect();
    assert_eq!(traces.len(), 1, "{out}");
    assert_get(&traces[0], GET_PATH, None);
    assert_eq!(traces[0]["server"]["port"], 80, "{}", traces[0]);

    // --out FILE works there too (the root is writable, nothing else is in it).
    run_ok(Command::new("chroot").arg(&root.0).args([
        "/pcap-sensor",
        "apidump",
        "-r",
        "/get.pcap",
        "--out",
        "/traces.jsonl",
    ]));
    let written = fs::read_to_string(root.0.join("traces.jsonl")).unwrap();
    assert_eq!(written, out);
}

#[test]
fn static_binary_captures_loopback_in_an_empty_root() {
    let bin = static_binary();
    require_root("chroot, packet capture");
    require_tool("python3", "python3");
    require_tool("curl", "curl");
    let root = empty_root(&bin, &[]);
    let site = TempDir::new("site");
    fs::write(site.0.join("hello.txt"), "hello from the host\n").unwrap();
    let (_server, port) = http_server(&[], "127.0.0.1", 0, &site.0);

    // The chroot shares the host's network namespace, so it sees the host's loopback.
    let filter = format!("tcp port {port}");
    let mut sensor = Running::start(
        Command::new("chroot").arg(&root.0).args([
            "/pcap-sensor",
            "apidump",
            "-i",
            "lo",
            "--filter",
            &filter,
            "--out",
            "-",
        ]),
        "sensor in chroot",
    );
    sensor.err.wait_for("capturing on lo", "sensor start");

    let url = format!("http://127.0.0.1:{port}/hello.txt");
    assert_eq!(curl(&[], &url), "hello from the host\n");
    let trace = next_trace(&mut sensor);
    assert_get(&trace, "/hello.txt", Some("hello from the host\n"));
    assert_eq!(trace["server"]["ip"], "127.0.0.1", "{trace}");
    assert_eq!(trace["server"]["port"], port, "{trace}");

    kill(sensor.pid(), libc::SIGTERM);
    assert_clean_exit(&mut sensor, 1);
}

// ---------------------------------------------------------------------------------------
// The image

/// The OCI archive unpacked: its manifest, config and the one layer's path.
struct OciImage {
    _dir: TempDir,
    config_digest: String,
    config: Value,
    layer: PathBuf,
    layer_size: u64,
}

fn blob(dir: &Path, digest: &str) -> PathBuf {
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("unexpected digest {digest}"));
    dir.join("blobs/sha256").join(hex)
}

/// The architecture of the image these tests run: this machine's (the tests run on amd64).
const ARCH: &str = "amd64";

fn unpack(archive: &Path) -> OciImage {
    let dir = TempDir::new("oci");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&dir.0)
            .arg("-xf")
            .arg(archive),
    );
    // index.json names one image index (linux/amd64 + linux/arm64, see tests/image_index.rs);
    // these tests take this machine's platform from it.
    let top = read_json(&dir.0.join("index.json"));
    let entries = top["manifests"].as_array().expect("index.json: manifests");
    assert_eq!(entries.len(), 1, "{top}");
    assert_eq!(
        entries[0]["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{top}"
    );
    let index = read_json(&blob(&dir.0, entries[0]["digest"].as_str().unwrap()));
    let manifests = index["manifests"]
        .as_array()
        .expect("image index: manifests");
    let mine: Vec<&Value> = manifests
        .iter()
        .filter(|m| m["platform"]["architecture"] == ARCH && m["platform"]["os"] == "linux")
        .collect();
    assert_eq!(mine.len(), 1, "one linux/{ARCH} image expected: {index}");
    let manifest = read_json(&blob(&dir.0, mine[0]["digest"].as_str().unwrap()));
    let layers = manifest["layers"].as_array().expect("manifest: layers");
    assert_eq!(
        layers.len(),
        1,
        "one layer (the binary) expected: {manifest}"
    );
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let config = read_json(&blob(&dir.0, &config_digest));
    let layer = blob(&dir.0, layers[0]["digest"].as_str().unwrap());
    let layer_size = layers[0]["size"].as_u64().unwrap();
    OciImage {
        _dir: dir,
        config_digest,
        config,
        layer,
        layer_size,
    }
}

#[test]
fn image_holds_only_the_static_binary() {
    let archive = image_archive();
    let bin = static_binary();
    require_tool("tar", "tar");
    let img = unpack(&archive);
    assert!(
        img.layer_size <= IMAGE_LIMIT,
        "layer: {} bytes",
        img.layer_size
    );

    let cfg = &img.config["config"];
    assert_eq!(
        cfg["Entrypoint"],
        serde_json::json!(["./bin/init"]),
        "{cfg}"
    );
    assert_eq!(cfg["Cmd"], serde_json::json!(["help"]), "{cfg}");
    assert_eq!(cfg["WorkingDir"], "/", "{cfg}");
    assert_eq!(img.config["architecture"], ARCH);
    assert_eq!(img.config["os"], "linux");
    let labels = &cfg["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.licenses"], "MIT",
        "{labels}"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION"),
        "{labels}"
    );
    assert!(
        labels["org.opencontainers.image.source"].is_string(),
        "{labels}"
    );

    // Nothing but /bin/init: no shell, no libc, no certificates.
    let listing = run_ok(Command::new("tar").arg("-tf").arg(&img.layer));
    let mut entries: Vec<&str> = listing
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/'))
        .filter(|l| !l.is_empty())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bin", "bin/init"], "layer holds:\n{listing}");

    // ... and /bin/init is the static binary these tests were given, executable.
    let out = TempDir::new("layer");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&out.0)
            .arg("-xf")
            .arg(&img.layer)
            .arg("bin/init"),
    );
    let init = out.0.join("bin/init");
    assert!(
        fs::read(&init).unwrap() == fs::read(&bin).unwrap(),
        "/bin/init differs from {}",
        bin.display()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&init).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "/bin/init mode {mode:o}");
}

/// Loads the archive into podman's storage; the image id (its config digest).
fn podman_load(archive: &Path) -> String {
    let img = unpack(archive);
    run_ok(
        Command::new("podman")
            .args(["load", "-q", "-i"])
            .arg(archive),
    );
    let id = img.config_digest.trim_start_matches("sha256:").to_string();
    let listed = run_ok(Command::new("podman").args(["image", "inspect", "-f", "{{.Id}}", &id]));
    assert_eq!(listed.trim(), id);
    id
}

/// `podman run` options for every container here: runc (crun cannot set rlimits in this
/// sandbox), the rlimits of a strict ECS task, and NET_RAW, which Docker and ECS grant by
/// default and podman does not.
const RUN_OPTS: [&str; 9] = [
    "--runtime",
    "runc",
    "--cap-add",
    "NET_RAW",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
    "--read-only",
];

/// A container name for this test run; the container is removed when dropped.
struct Container(String);

impl Container {
    fn new(what: &str) -> Container {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        Container(format!(
            "pcap-sensor-test-{what}-{}-{n}",
            std::process::id()
        ))
    }

    fn inspect(&self, format: &str) -> String {
        run_ok(Command::new("podman").args(["inspect", "-f", format, &self.0]))
            .trim()
            .to_string()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn image_prints_help_by_default() {
    let archive = image_archive();
    require_root("podman");
    require_tool("podman", "podman");
    require_tool("runc", "runc");
    let id = podman_load(&archive);
    let name = Container::new("help");
    let out = run(Command::new("podman")
        .args(["run", "--rm", "--name", &name.0])
        .args(RUN_OPTS)
        .arg(&id));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{}: {text}", out.status);
    assert!(text.contains("apidump"), "help text: {text}");
}

#[test]
fn image_captures_traffic_on_its_own_network() {
    let archive = image_archive();
    require_root("podman, packet capture, nsenter");
    require_tool("podman", "podman");
    require_tool("runc", "runc");
    require_tool("nsenter", "util-linux");
    require_tool("python3", "python3");
    require_tool("curl", "curl");
    let id = podman_load(&archive);
    let name = Container::new("capture");
    const PORT: u16 = 8080; // free: the container has a network namespace of its own

    // The reference task definition's shape: "entryPoint": ["./bin/init", "apidump", ...].
    let entrypoint = serde_json::json!([
        "./bin/init",
        "apidump",
        "-i",
        "any",
        "--filter",
        format!("tcp port {PORT}"),
        "--out",
        "-",
    ])
    .to_string();
    let mut sensor = Running::start(
        Command::new("podman")
            .args(["run", "--rm", "--name", &name.0])
            .args(RUN_OPTS)
            .args(["--entrypoint", &entrypoint])
            .arg(&id),
        "sensor container",
    );
    sensor.err.wait_for("capturing on any", "sensor start");
    let pid = name.inspect("{{.State.Pid}}");
    let ip = name.inspect("{{.NetworkSettings.IPAddress}}");
    assert!(pid.parse::<u32>().is_ok_and(|p| p > 0), "pid {pid:?}");
    assert!(
        ip.parse::<std::net::Ipv4Addr>().is_ok(),
        "container ip {ip:?}"
    );

    // An app in the container's network namespace (as a sidecar's neighbour in an awsvpc
    // task), called from inside that namespace (its loopback) and from the host (its eth0).
    let site = TempDir::new("site");
    fs::write(site.0.join("inside.txt"), "called from inside\n").unwrap();
    fs::write(site.0.join("outside.txt"), "called from the host\n").unwrap();
    let netns = ["nsenter", "-t", pid.as_str(), "-n"];
    let (_server, _) = http_server(&netns, "0.0.0.0", PORT, &site.0);

    let inside = format!("http://127.0.0.1:{PORT}/inside.txt");
    assert_eq!(curl(&netns, &inside), "called from inside\n");
    let trace = next_trace(&mut sensor);
    assert_get(&trace, "/inside.txt", Some("called from inside\n"));
    assert_eq!(trace["client"]["ip"], "127.0.0.1", "{trace}");
    assert_eq!(trace["server"]["port"], PORT, "{trace}");

    let outside = format!("http://{ip}:{PORT}/outside.txt");
    assert_eq!(curl(&[], &outside), "called from the host\n");
    let trace = next_trace(&mut sensor);
    assert_get(&trace, "/outside.txt", Some("called from the host\n"));
    assert_eq!(trace["server"]["ip"], ip.as_str(), "{trace}");
    assert_eq!(trace["server"]["port"], PORT, "{trace}");

    // `podman stop` sends SIGTERM to the container's PID 1, the sensor itself, as ECS does.
    run_ok(Command::new("podman").args(["stop", "-t", "15", &name.0]));
    assert_clean_exit(&mut sensor, 2);
}

// ---------------------------------------------------------------------------
// The health check (issue 20)

/// `podman run` options for the health check of the sidecar's definition
/// (deploy/ecs/pcap-sensor.json): its command, timeout, retries and start
/// period (`start_and_retries` replaces the last two). No timer
/// (`--health-interval disable`): `podman healthcheck run` is the check.
/// Podman 4.3 takes the command as a JSON array without ECS's leading "CMD",
/// which it adds (given "CMD", it splits the text at spaces instead);
/// `assert_health_config` checks that it stored ECS's command.
fn health_opts(start_and_retries: Option<(u64, u64)>) -> Vec<String> {
    let hc = &read_json(&repo("deploy/ecs/pcap-sensor.json"))["healthCheck"];
    let cmd = hc["command"].as_array().expect("healthCheck.command");
    assert_eq!(cmd[0], "CMD", "{hc}");
    let secs = |k: &str| {
        hc[k]
            .as_u64()
            .unwrap_or_else(|| panic!("healthCheck.{k}: {hc}"))
    };
    let (start, retries) = start_and_retries.unwrap_or((secs("startPeriod"), secs("retries")));
    vec![
        "--health-cmd".into(),
        Value::Array(cmd[1..].to_vec()).to_string(),
        "--health-interval".into(),
        "disable".into(),
        "--health-timeout".into(),
        format!("{}s", secs("timeout")),
        "--health-retries".into(),
        retries.to_string(),
        "--health-start-period".into(),
        format!("{start}s"),
    ]
}

/// The container's health check is the definition's command.
fn assert_health_config(c: &Container) {
    let hc = &read_json(&repo("deploy/ecs/pcap-sensor.json"))["healthCheck"];
    let got: Value = serde_json::from_str(&c.inspect("{{json .Config.Healthcheck}}")).unwrap();
    assert_eq!(got["Test"], hc["command"], "podman's health check: {got}");
}

/// `podman healthcheck run`: its exit code, and what the health command
/// printed (the last entry of the container's health log).
fn healthcheck_run(c: &Container) -> (i32, String, Value) {
    let out = run(Command::new("podman").args(["healthcheck", "run", &c.0]));
    let code = out.status.code().unwrap_or(-1);
    let state: Value = serde_json::from_str(&c.inspect("{{json .State.Health}}")).unwrap();
    let said = state["Log"]
        .as_array()
        .and_then(|l| l.last())
        .and_then(|e| e["Output"].as_str())
        .unwrap_or_else(|| panic!("no health log: {state}"))
        .trim()
        .to_string();
    (code, said, state)
}

/// The sidecar's shape: the image's entry point with apidump, capturing on
/// every interface of the container's network namespace, staying up when
/// capture cannot start (as the definitions' entry point says).
fn sidecar_entrypoint(port: u16) -> String {
    serde_json::json!([
        "./bin/init",
        "apidump",
        "-i",
        "any",
        "--filter",
        format!("tcp port {port}"),
        "--out",
        "-",
        "--keep-running",
    ])
    .to_string()
}

#[test]
fn image_health_check_is_healthy_while_capturing() {
    let archive = image_archive();
    require_root("podman, packet capture, nsenter");
    require_tool("podman", "podman");
    require_tool("runc", "runc");
    require_tool("nsenter", "util-linux");
    require_tool("python3", "python3");
    require_tool("curl", "curl");
    let id = podman_load(&archive);
    let name = Container::new("healthy");
    const PORT: u16 = 8080;
    let mut sensor = Running::start(
        Command::new("podman")
            .args(["run", "--rm", "--name", &name.0])
            .args(RUN_OPTS)
            .args(health_opts(None))
            .args(["--entrypoint", &sidecar_entrypoint(PORT)])
            .arg(&id),
        "sensor container",
    );
    sensor.err.wait_for("capturing on any", "sensor start");
    assert_health_config(&name);
    let (code, said, state) = healthcheck_run(&name);
    assert_eq!(code, 0, "{state}");
    assert_eq!(state["Status"], "healthy", "{state}");
    assert!(said.starts_with("healthy: capturing on any for "), "{said}");

    // Traffic in the container's namespace: the next answer counts it.
    let pid = name.inspect("{{.State.Pid}}");
    let site = TempDir::new("site");
    fs::write(site.0.join("hello.txt"), "hello\n").unwrap();
    let netns = ["nsenter", "-t", pid.as_str(), "-n"];
    let (_server, _) = http_server(&netns, "127.0.0.1", PORT, &site.0);
    assert_eq!(
        curl(&netns, &format!("http://127.0.0.1:{PORT}/hello.txt")),
        "hello\n"
    );
    let trace = next_trace(&mut sensor);
    assert_get(&trace, "/hello.txt", Some("hello\n"));
    let (code, said, state) = healthcheck_run(&name);
    assert_eq!(code, 0, "{state}");
    assert!(said.contains(" packets, the last "), "{said}");
    assert!(!said.contains("no packets yet"), "{said}");

    run_ok(Command::new("podman").args(["stop", "-t", "15", &name.0]));
    assert_clean_exit(&mut sensor, 1);
}

/// Without NET_RAW the capture cannot start; the sidecar stays up
/// (--keep-running) and its health check is unhealthy, saying why.
#[test]
fn image_health_check_is_unhealthy_when_capture_cannot_start() {
    let archive = image_archive();
    require_root("podman");
    require_tool("podman", "podman");
    require_tool("runc", "runc");
    let id = podman_load(&archive);
    let name = Container::new("no-net-raw");
    let opts: Vec<&str> = RUN_OPTS
        .iter()
        .copied()
        .filter(|o| *o != "--cap-add" && *o != "NET_RAW")
        .collect();
    let mut sensor = Running::start(
        Command::new("podman")
            .args(["run", "--rm", "--name", &name.0])
            .args(&opts)
            .args(["--cap-drop", "NET_RAW"])
            // Counted at once: no start period, unhealthy on the first failure.
            .args(health_opts(Some((0, 1))))
            .args(["--entrypoint", &sidecar_entrypoint(8080)])
            .arg(&id),
        "sensor container without NET_RAW",
    );
    let error = sensor
        .err
        .wait_for("cannot capture on 'any'", "the capture's failure");
    assert!(error.contains("Operation not permitted"), "{error}");
    sensor
        .err
        .wait_for("--keep-running: staying up", "the sensor staying up");
    assert_health_config(&name);
    let (code, said, state) = healthcheck_run(&name);
    assert_eq!(code, 1, "{state}");
    assert_eq!(state["Status"], "unhealthy", "{state}");
    assert!(
        said.starts_with("unhealthy: capture could not start: cannot capture on 'any': "),
        "{said}"
    );
    assert!(said.contains("CAP_NET_RAW"), "{said}");
    // Stopped, it exits as it would have without --keep-running: 1.
    run_ok(Command::new("podman").args(["stop", "-t", "15", &name.0]));
    assert_eq!(sensor.wait_exit(), 1);
}
