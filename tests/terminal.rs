//! The terminal view (issue 19 item 5), as a person sees it: `apidump -r
//! CAPTURE` with stdout on a pseudo-terminal (tests/support/ecs_pty.py, a
//! terminal of 120 columns) prints one readable line per exchange, hostile
//! bytes escaped, long targets cut to the width, colours unless `NO_COLOR`;
//! the same command through a pipe (`| cat`) still prints JSON Lines, byte
//! for byte what `--out -` prints; `--format` chooses either way. One live
//! check (as root): a capture on loopback shows a curl request's line, and
//! Ctrl-C on the terminal stops it with the final counters.
//!
//! The expected lines are written here from the crafted capture's own
//! times, independently of the sensor's formatting code.

mod support;

use serde_json::{Value, json};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use support::live::Server;
use support::offline::{apidump_args, run_sensor};
use support::policy::{Conn, Times, msg, write_pcap};
use support::process::{SENSOR, TempDir, run_with_deadline, script};
use support::require::{python3, require_root, require_tool};

const COLUMNS: usize = 120;

/// The hostile target as sent: an 8-bit CSI written in UTF-8 (U+009B),
/// a right-to-left override (U+202E), a backslash; each char below is one
/// byte on the wire (the pcap writer encodes heads as Latin-1).
const HOSTILE_WIRE: &str = "/\u{c2}\u{9b}31m\u{e2}\u{80}\u{ae}evil\\x";
/// How the view must show it.
const HOSTILE_SHOWN: &str = "/\\xc2\\x9b31m\\xe2\\x80\\xaeevil\\\\x";

/// A capture of every kind of line: bodies both ways, a hostile target, a
/// body cut by --max-http-length 1000, an undecodable gzip body, a long
/// target, and (on a second connection) a request with no response.
fn capture(dir: &TempDir) -> (std::path::PathBuf, Vec<Times>) {
    let long = format!("/long/{}", "x".repeat(200));
    let ok = |body: &str| msg(&["HTTP/1.1 200 OK", "Content-Type: text/plain"], body);
    let get = |target: &str| msg(&[&format!("GET {target} HTTP/1.1"), "Host: api"], "");
    let conns = [
        Conn::new(vec![
            (
                msg(
                    &[
                        "POST /api/users?active=1 HTTP/1.1",
                        "Host: api",
                        "Content-Type: application/json",
                    ],
                    "{\"name\":\"x\"}",
                ),
                Some(msg(
                    &["HTTP/1.1 201 Created", "Content-Type: application/json"],
                    "{}",
                )),
            ),
            (
                get(HOSTILE_WIRE),
                Some(msg(&["HTTP/1.1 404 Not Found"], "nope")),
            ),
            (get("/big"), Some(ok(&"a".repeat(3000)))),
            (
                get("/gz"),
                Some(msg(
                    &["HTTP/1.1 200 OK", "Content-Encoding: gzip"],
                    "not gzip at all",
                )),
            ),
            (get(&long), Some(ok("ok"))),
        ]),
        Conn::new(vec![(get("/slow"), None)]),
    ];
    write_pcap(dir, "terminal.pcap", &conns)
}

/// `HH:MM:SS.mmm` (UTC) of a time in µs.
fn clock(us: u64) -> String {
    let s = us / 1_000_000 % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        us % 1_000_000 / 1000
    )
}

/// The lines a person must see, in order (colours taken out), from the
/// capture's times; the long target's line is checked on its own.
fn expected(t: &[Times]) -> Vec<String> {
    let head =
        |i: usize, port: u16| format!("{} 10.1.0.1:{port} → 10.1.0.2:8080", clock(t[i].request_us));
    let took = |i: usize| {
        let d = t[i].response_end_us.unwrap() - t[i].request_us;
        assert!(d < 1000, "the crafted exchanges take under a millisecond");
        format!("{d}µs")
    };
    vec![
        format!(
            "{} POST /api/users?active=1 201 {} req 12B resp 2B",
            head(0, 40000),
            took(0)
        ),
        format!(
            "{} GET {HOSTILE_SHOWN} 404 {} resp 4B",
            head(1, 40000),
            took(1)
        ),
        format!(
            "{} GET /big 200 {} resp 2.9KiB [truncated]",
            head(2, 40000),
            took(2)
        ),
        format!(
            "{} GET /gz 200 {} resp 15B [decode error]",
            head(3, 40000),
            took(3)
        ),
        format!("{} GET /slow [no response] 0µs", head(5, 40001)),
    ]
}

/// Runs `COMMAND` on a terminal of COLUMNS columns (stdout and stderr both
/// on it), answering nothing unless `steps` say; returns the transcript
/// (CR LF made LF) after checking the run ended with status 0.
fn on_terminal(steps: &Value, env: &[(&str, &str)], command: &[&str]) -> String {
    let dir = TempDir::new("terminal-pty");
    let steps_file = dir.path("steps.json");
    std::fs::write(&steps_file, steps.to_string()).unwrap();
    let mut cmd = Command::new(python3());
    cmd.arg(script("ecs_pty.py"))
        .arg(&steps_file)
        .args(["--columns", &COLUMNS.to_string(), "--"])
        .args(command)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .env("LANG", "C.UTF-8")
        .envs(env.iter().copied());
    let out = run_with_deadline(&mut cmd, Duration::from_secs(120));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ecs_pty.py printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let transcript = r["transcript"].as_str().unwrap().replace("\r\n", "\n");
    assert_eq!(r["failed_step"], Value::Null, "{transcript}");
    assert_eq!(r["status"], 0, "{transcript}");
    transcript
}

/// The transcript's lines that are not the sensor's log (stderr) lines.
fn trace_lines(transcript: &str) -> Vec<&str> {
    transcript
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("pcap-sensor:") && !l.starts_with("  "))
        .collect()
}

/// `line` without its SGR colour sequences; panics on any other escape or
/// control character, or any character a terminal could take for one.
fn uncoloured(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            assert_eq!(chars.next(), Some('['), "not an SGR sequence: {line:?}");
            loop {
                match chars.next() {
                    Some('m') => break,
                    Some(d) if d.is_ascii_digit() || d == ';' => {}
                    other => panic!("not an SGR sequence ({other:?}): {line:?}"),
                }
            }
            continue;
        }
        assert!(
            !c.is_control() && c != '\u{fffd}' && !('\u{202a}'..='\u{202e}').contains(&c),
            "{c:?} reached the terminal: {line:?}"
        );
        out.push(c);
    }
    out
}

#[test]
fn readable_lines_on_a_terminal_json_lines_through_a_pipe() {
    let dir = TempDir::new("terminal");
    let (pcap, times) = capture(&dir);
    let pcap_s = pcap.to_str().unwrap();
    let want = expected(&times);
    let cmd = [SENSOR, "apidump", "-r", pcap_s, "--max-http-length", "1000"];

    // No --out: a terminal gets the readable lines, in colour.
    let transcript = on_terminal(&json!([]), &[], &cmd);
    eprintln!("--- transcript\n{transcript}");
    let lines = trace_lines(&transcript);
    assert_eq!(lines.len(), 6, "{transcript}");
    let plain: Vec<String> = lines.iter().map(|l| uncoloured(l)).collect();
    let (long, rest): (Vec<&String>, Vec<&String>) =
        plain.iter().partition(|l| l.contains("/long/"));
    assert_eq!(rest, want.iter().collect::<Vec<_>>(), "{transcript}");
    // The long target is cut at its end so that the line fills the width.
    let long = long[0];
    assert_eq!(long.chars().count(), COLUMNS, "{long}");
    assert!(
        long.contains(" GET /long/xxxxxxxxxx") && long.contains("x… 200 "),
        "{long}"
    );
    // Colours: the time dim, statuses by class, flags yellow, no response red.
    for (needle, what) in [
        ("\u{1b}[2m", "dim time"),
        ("\u{1b}[32m200\u{1b}[0m", "2xx green"),
        ("\u{1b}[33m404\u{1b}[0m", "4xx yellow"),
        ("\u{1b}[33m[truncated]\u{1b}[0m", "flag yellow"),
        ("\u{1b}[31m[no response]\u{1b}[0m", "no response red"),
    ] {
        assert!(transcript.contains(needle), "{what}: {transcript}");
    }
    // The counters still come at the end, on stderr.
    assert!(
        transcript.contains("pcap-sensor: final stats"),
        "{transcript}"
    );

    // NO_COLOR: the same lines, no escape sequence at all.
    let transcript = on_terminal(&json!([]), &[("NO_COLOR", "1")], &cmd);
    assert!(!transcript.contains('\u{1b}'), "{transcript}");
    let lines = trace_lines(&transcript);
    assert_eq!(lines[..5], plain[..5], "{transcript}");

    // --format json on the terminal: JSON Lines.
    let mut json_cmd = cmd.to_vec();
    json_cmd.extend(["--format", "json"]);
    let transcript = on_terminal(&json!([]), &[], &json_cmd);
    for l in trace_lines(&transcript) {
        let t: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(t["request"]["target"].is_string(), "{l}");
    }

    // Through a pipe (| cat): JSON Lines, as `--out -` writes them.
    let args = apidump_args(&pcap, &["--max-http-length", "1000"]);
    let piped = run_sensor(&args, &[("LANG", "C.UTF-8")]);
    assert!(piped.status.success(), "{}", piped.describe());
    let traces = piped.traces();
    assert_eq!(traces.len(), 6, "{}", piped.describe());
    assert_eq!(traces[0]["request"]["target"], "/api/users?active=1");
    assert_eq!(traces[1]["request"]["target"], "/\u{9b}31m\u{202e}evil\\x");
    let mut with_out = args.clone();
    with_out.extend(["--out", "-"]);
    let explicit = run_sensor(&with_out, &[("LANG", "C.UTF-8")]);
    assert_eq!(piped.stdout, explicit.stdout, "no --out vs --out -");

    // --format text through a pipe: the same lines, no colour, nothing cut.
    let mut text_args = args.clone();
    text_args.extend(["--format", "text"]);
    let text = run_sensor(&text_args, &[("LANG", "C.UTF-8")]);
    assert!(text.status.success(), "{}", text.describe());
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert!(!text.stdout.contains('\u{1b}'), "{}", text.stdout);
    let long_whole = format!(" GET /long/{} 200 ", "x".repeat(200));
    assert!(lines[4].contains(&long_whole), "{}", lines[4]);
    let (_, rest): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.contains("/long/"));
    assert_eq!(rest, want, "{}", text.stdout);
    // Outside a UTF-8 locale: ASCII only.
    let ascii = run_sensor(&text_args, &[("LANG", "C")]);
    assert!(ascii.stdout.is_ascii(), "{}", ascii.stdout);
    assert!(
        ascii
            .stdout
            .contains(" 10.1.0.1:40000 -> 10.1.0.2:8080 POST ")
    );

    // --format text to a file.
    let file = dir.path("view.txt");
    let mut file_args = args.clone();
    let file_s = file.to_str().unwrap().to_string();
    file_args.extend(["--format", "text", "--out", &file_s]);
    let r = run_sensor(&file_args, &[("LANG", "C.UTF-8")]);
    assert!(
        r.status.success() && r.stdout.is_empty(),
        "{}",
        r.describe()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text.stdout);
}

/// A live capture on loopback seen on a terminal, as `./build.sh` runs it:
/// the line of a curl request appears, and Ctrl-C stops the sensor with its
/// final counters.
#[test]
fn live_capture_on_a_terminal() {
    require_root("live capture on loopback");
    require_tool("curl", "curl");
    let server = Server::start("127.0.0.1");
    let url = server.url("/bytes/5?terminal-check=1");
    let filter = server.filter();
    // Requests go on until the terminal shows one (before the sensor has
    // opened its capture they are simply not seen), and stop when this test
    // ends, however it ends.
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let done = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let client = {
        let done = done.0.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let _ = Command::new("curl")
                    .args([
                        "-sS",
                        "--noproxy",
                        "*",
                        "--max-time",
                        "5",
                        "-o",
                        "/dev/null",
                    ])
                    .arg(&url)
                    .status();
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let steps = json!([{
        "expect": "GET /bytes/5\\?terminal-check=1 (\u{1b}\\[32m)?200(\u{1b}\\[0m)? [^\\n]* resp 5B",
        "send": "\u{3}",
    }]);
    let transcript = on_terminal(
        &steps,
        &[],
        &[SENSOR, "apidump", "-i", "lo", "--filter", &filter],
    );
    drop(done);
    client.join().unwrap();
    eprintln!("--- transcript\n{transcript}");
    let line = trace_lines(&transcript)
        .into_iter()
        .map(uncoloured)
        .find(|l| l.contains("terminal-check"))
        .unwrap_or_else(|| panic!("no line for the request: {transcript}"));
    let client_to_server = format!(
        " → 127.0.0.1:{} GET /bytes/5?terminal-check=1 200 ",
        server.port
    );
    assert!(
        line.contains(" 127.0.0.1:") && line.contains(&client_to_server),
        "{line}"
    );
    assert!(line.ends_with(" resp 5B"), "{line}");
    assert!(
        transcript.contains("pcap-sensor: final stats"),
        "{transcript}"
    );
}
