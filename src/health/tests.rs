//! The name, the line, and both sides over real abstract sockets (names of
//! this test process only; no network).

use std::fmt::Write as _;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;

/// A name no other test (nor test run) uses.
fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "pcap-sensor-unit/{}/{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Wait (with a deadline) until `s` has a question, then serve it.
fn serve_when_asked(s: &Server, text: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = s.serve(|l| {
            let _ = l.write_str(text);
        });
        if n > 0 || Instant::now() > deadline {
            return n;
        }
        crate::source::wait(&[s.fd()], 100);
    }
}

#[test]
fn names() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(name_from(&env(&[])), "pcap-sensor/health");
    assert_eq!(
        name_from(&env(&[(
            "ECS_CONTAINER_METADATA_URI_V4",
            "http://169.254.170.2/v4/1f8e2a3c9b7d4e6fa0b1c2d3e4f50617-2785547837"
        )])),
        "pcap-sensor/health/1f8e2a3c9b7d4e6fa0b1c2d3e4f50617-2785547837"
    );
    assert_eq!(
        name_from(&env(&[(
            "ECS_CONTAINER_METADATA_URI",
            "http://169.254.170.2/v3/a b\n$c/"
        )])),
        "pcap-sensor/health/abc",
        "the last part, without the trailing slash and the characters a name does not need"
    );
    assert_eq!(
        name_from(&env(&[
            ("PCAP_SENSOR_HEALTH_SOCKET", "mine"),
            ("ECS_CONTAINER_METADATA_URI_V4", "http://x/v4/abc"),
        ])),
        "mine"
    );
    assert_eq!(
        name_from(&env(&[(
            "ECS_CONTAINER_METADATA_URI_V4",
            "http://x/v4/%%%"
        )])),
        "pcap-sensor/health"
    );
}

#[test]
fn durations() {
    let s = |d: Duration| Ago(d).to_string();
    assert_eq!(s(Duration::from_millis(850)), "850 ms");
    assert_eq!(s(Duration::from_millis(4240)), "4.2 s");
    assert_eq!(s(Duration::from_secs(12 * 60 + 5)), "12 min");
    assert_eq!(s(Duration::from_secs(3 * 3600 + 5 * 60 + 9)), "3 h 05 min");
}

#[test]
fn a_line_is_one_line_and_bounded() {
    let mut l = Line::new();
    let _ = write!(l, "healthy: a\nb\r\tc é");
    assert_eq!(l.as_str(), "healthy: a b  c é");
    let mut l = Line::new();
    for _ in 0..200 {
        let _ = l.write_str("é-");
    }
    l.end();
    assert!(l.bytes().len() <= LINE, "{}", l.bytes().len());
    assert_eq!(l.bytes().last(), Some(&b'\n'));
    assert!(std::str::from_utf8(l.bytes()).is_ok());
}

#[test]
fn question_and_answer() {
    let name = unique();
    let s = Server::open(&name).unwrap();
    assert_eq!(s.display_name(), format!("@{name}"));
    // Nobody asked: nothing is built, nothing answered.
    assert_eq!(s.serve(|_| panic!("no question: no answer to build")), 0);
    let asker = {
        let name = name.clone();
        std::thread::spawn(move || ask(&name, Duration::from_secs(10)))
    };
    assert_eq!(serve_when_asked(&s, "healthy: capturing on lo for 2 s"), 1);
    let got = asker.join().unwrap().unwrap();
    assert_eq!(got, "healthy: capturing on lo for 2 s");
    // The name is taken while the server lives, free after.
    let e = Server::open(&name).err().expect("the name is taken");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    drop(s);
    assert!(Server::open(&name).is_ok());
}

#[test]
fn nobody_listening_is_not_running() {
    let r = ask(&unique(), Duration::from_secs(5));
    assert!(matches!(r, Err(Unreached::NotRunning)), "{r:?}");
    let r = ask(&"x".repeat(MAX_NAME + 1), Duration::from_secs(5));
    assert!(matches!(r, Err(Unreached::Io(_))), "{r:?}");
}

/// A loop that does not turn never answers: the command gives up after the
/// time it was given (the deadline is the test's subject, not its timing).
#[test]
fn a_loop_that_does_not_turn_does_not_answer() {
    let name = unique();
    let _s = Server::open(&name).unwrap();
    let r = ask(&name, Duration::from_millis(200));
    assert!(matches!(r, Err(Unreached::NoAnswer)), "{r:?}");
    assert!(
        r.unwrap_err()
            .explain(&name, Duration::from_millis(200))
            .starts_with("stalled: no answer on @pcap-sensor-unit/")
    );
}

/// Questions nobody accepts fill the listener's queue ([`BACKLOG`]); the
/// next question is refused at once (EAGAIN), not waited on.
#[test]
fn a_full_queue_is_stalled_at_once() {
    let name = unique();
    let _s = Server::open(&name).unwrap();
    let mut held = Vec::new();
    loop {
        match super::client::connect(&name) {
            Ok(fd) => held.push(fd),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
                break;
            }
        }
        assert!(
            held.len() <= BACKLOG + 1,
            "the queue holds more than {BACKLOG}"
        );
    }
    let r = ask(&name, Duration::from_secs(5));
    assert!(matches!(r, Err(Unreached::QueueFull)), "{r:?}");
}

/// Clients that connect and never read: each turn answers at most
/// PER_TURN of them, one send each, and never waits.
#[test]
fn clients_that_never_read_cost_one_send() {
    let name = unique();
    let s = Server::open(&name).unwrap();
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    // Within the queue's length (a blocking connect would wait beyond it).
    let silent: Vec<UnixStream> = (0..PER_TURN + 5)
        .map(|_| UnixStream::connect_addr(&addr).unwrap())
        .collect();
    let mut built = 0;
    let mut answered = Vec::new();
    for _ in 0..4 {
        answered.push(s.serve(|l| {
            built += 1;
            let _ = l.write_str(&"x".repeat(LINE * 2));
        }));
    }
    assert_eq!(answered, [PER_TURN, 5, 0, 0]);
    assert_eq!(built, 2, "one line per turn with questions");
    drop(silent);
}
