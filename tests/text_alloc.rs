//! The terminal view allocates nothing per trace: a counting global
//! allocator around `export::text::Text` taking many traces (colours, the
//! width read from a file descriptor before each line, targets to escape
//! and to cut), and around `write_line` into a buffer reserved beforehand.
//!
//! A test binary of its own, with a single test, so that nothing else
//! allocates meanwhile.

use std::time::Instant;

use pcap_sensor::export::Output;
use pcap_sensor::export::text::{Style, Text, write_line};
use pcap_sensor::view::{Body, Req, Resp, View};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

fn body(size: u64, truncated: bool, decode_error: bool) -> Body<'static> {
    Body {
        bytes: b"",
        size,
        wire_size: size,
        truncated,
        decode_error,
        omitted: false,
        text: true,
    }
}

#[test]
fn lines_do_not_allocate() {
    // Everything is made here, before counting.
    let mut targets: Vec<Vec<u8>> = vec![
        b"/api/v1/users/12345?page=2".to_vec(),
        b"/\x1b[2J\xc2\x9b\xe2\x80\xae\\".to_vec(),
    ];
    targets.push([b"/long/".as_slice(), &[b'x'; 3000]].concat());
    targets.push([b"/esc/".as_slice(), &[0x9b; 500]].concat());
    let addrs = [
        ("10.1.0.1".parse().unwrap(), "10.1.0.2".parse().unwrap()),
        ("2001:db8::1".parse().unwrap(), "::1".parse().unwrap()),
    ];
    let views: Vec<View> = (0..16usize)
        .map(|i| {
            let target = &targets[i % targets.len()];
            let (c, s) = addrs[i % 2];
            View {
                start_us: 1_714_564_800_000_000 + i as u64 * 7_777_777,
                end_us: 1_714_564_800_000_000 + i as u64 * 9_999_999,
                client: (c, 40000 + i as u16),
                server: (s, 8080),
                req: Req {
                    method: ["GET", "POST", "PROPFINDPROPFINDPROPFIND"][i % 3],
                    target,
                    path: target,
                    query: None,
                    version: 1,
                    odd_version: None,
                    malformed: false,
                    host: None,
                    headers: &[],
                    body: body(i as u64 * 1000, i % 5 == 0, i % 7 == 0),
                },
                resp: (i % 4 != 3).then(|| Resp {
                    status: [200, 301, 404, 503, 101][i % 5],
                    reason: "",
                    version: 1,
                    headers: &[],
                    body: body((i as u64) << 20, i % 3 == 0, i % 2 == 0),
                }),
                h2: None,
            }
        })
        .collect();
    let styles = [
        Style {
            color: true,
            utf8: true,
            width: Some(120),
        },
        Style {
            color: false,
            utf8: false,
            width: Some(40),
        },
        Style {
            color: false,
            utf8: true,
            width: None,
        },
        Style {
            color: true,
            utf8: false,
            width: Some(60_000),
        },
    ];
    let mut buf = Vec::with_capacity(1 << 20);
    let devnull = std::fs::File::create("/dev/null").unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&devnull);
    let mut outputs: Vec<Text> = styles
        .iter()
        .map(|&st| Text::new(Box::new(std::io::sink()), st, Some(fd), true))
        .chain(std::iter::once(Text::new(
            Box::new(std::io::sink()),
            styles[0],
            None,
            false,
        )))
        .collect();

    let before = allocations();
    for round in 0..2000 {
        for v in &views {
            buf.clear();
            write_line(&mut buf, v, &styles[round % styles.len()]);
            for o in outputs.iter_mut() {
                assert!(o.write(v).is_continue());
            }
        }
    }
    for o in outputs.iter_mut() {
        o.finish(Instant::now()).unwrap();
    }
    let after = allocations();

    assert_eq!(after - before, 0, "allocations while writing lines");
    assert!(!buf.is_empty());
}
