use super::*;

fn pairs(hs: &[Header<'_>]) -> Vec<(String, Vec<u8>)> {
    hs.iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect()
}

/// Headers of `head` as given: each line "name:value" (no parsing
/// rules, only the split at the first colon), pointing into `head`.
fn headers(head: &[u8]) -> Vec<Header<'_>> {
    let lines = head.split(|&c| c == b'\n').skip(1);
    lines
        .filter_map(|l| {
            let c = l.iter().position(|&c| c == b':')?;
            let name = std::str::from_utf8(&l[..c]).unwrap();
            Some(Header {
                name,
                value: &l[c + 1..],
            })
        })
        .collect()
}

/// What is written is read back, part for part: request and status
/// lines, empty parts, no headers, every header slot.
#[test]
fn round_trip() {
    let many: Vec<u8> = (0..MAX_HEADERS + 3)
        .flat_map(|k| format!("\nh{k}:{k}").into_bytes())
        .collect();
    let many = [b"GET / 1".as_slice(), &many].concat();
    // (head, method, target, version, odd version's offset and length)
    type Case<'a> = (&'a [u8], usize, usize, u8, Option<(usize, usize)>);
    let requests: &[Case] = &[
        (b"GET /a?b=c 1\nHost:x\nAccept:*/*", 3, 6, 1, None),
        (b"POST /p 0\nX-Empty:", 4, 2, 0, None),
        (b"M T 1", 1, 1, 1, None),
        (&many, 3, 1, 1, None),
        // Malformed lines: a version as seen, none at all.
        (b"GET / HTTP/1.\nHost:x", 3, 1, 0, Some((6, 7))),
        (b"get /HTTP/1.1\nHost:x", 3, 9, 0, Some((0, 0))),
        (&many, 3, 1, 0, Some((4, 1))),
    ];
    for &(head, m, t, version, odd) in requests {
        let odd_version = odd.map(|(at, n)| std::str::from_utf8(&head[at..at + n]).unwrap());
        let line = ReqLine {
            method: std::str::from_utf8(&head[..m]).unwrap(),
            target: std::str::from_utf8(&head[m + 1..m + 1 + t]).unwrap(),
            version,
            odd_version,
        };
        let hs = headers(head);
        let parts = Parts {
            start: StartLine::Request(line),
            headers: &hs,
        };
        let mut buf = Buf::uninit();
        let ix = index(&mut buf, head, &parts);
        let mut hb = uninit_headers();
        let (l2, hs2) = request(head, ix, &mut hb);
        assert_eq!(
            (l2.method, l2.target, l2.version, l2.odd_version),
            (line.method, line.target, line.version, line.odd_version)
        );
        let kept = hs.len().min(MAX_HEADERS);
        assert_eq!(pairs(hs2), pairs(&hs[..kept]));
        assert_eq!(ix.len(), LINE + COUNT + PER_HEADER * kept);
    }
    // (head, reason's offset and length, status, version)
    let responses: &[(&[u8], usize, usize, u16, u8)] = &[
        (b"1 200 OK\nContent-Type:application/json", 6, 2, 200, 1),
        (b"0 404 \nServer:s", 6, 0, 404, 0),
        (b"1 500 Internal \xc3\xa9rror", 6, 15, 500, 1),
    ];
    for &(head, at, len, status, version) in responses {
        let reason = std::str::from_utf8(&head[at..at + len]).unwrap();
        let hs = headers(head);
        let line = StatusLine {
            status,
            reason,
            version,
        };
        let parts = Parts {
            start: StartLine::Response(line),
            headers: &hs,
        };
        let mut buf = Buf::uninit();
        let ix = index(&mut buf, head, &parts);
        let mut hb = uninit_headers();
        let (s, hs2) = response(head, ix, &mut hb);
        assert_eq!((s.status, s.reason, s.version), (status, reason, version));
        assert_eq!(pairs(hs2), pairs(&hs));
    }
}

/// An HTTP/2 head: its index reads back as HTTP/1's do, its ext (written
/// with the head, then its end part in place) reads back whole, and an
/// HTTP/1 index has none.
#[test]
fn h2_ext_round_trip() {
    let head = b"POST /demo.Echo/Unary HTTP/2\r\ncontent-type: application/grpc\r\n:authority x:1";
    let hs = [Header {
        name: std::str::from_utf8(&head[30..42]).unwrap(),
        value: &head[44..60],
    }];
    let line = ReqLine {
        method: std::str::from_utf8(&head[..4]).unwrap(),
        target: std::str::from_utf8(&head[5..21]).unwrap(),
        version: 2,
        odd_version: None,
    };
    let parts = Parts {
        start: StartLine::Request(line),
        headers: &hs,
    };
    let ext = ExtHead {
        authority: Some(&head[head.len() - 3..]),
        stream: 13,
        unknown: 2,
        flags: flags::METHOD_UNKNOWN,
    };
    let mut buf = Buf::uninit();
    let mut ix = index_h2(&mut buf, head, &parts, &ext).to_vec();
    assert_eq!(ix.len(), LINE + COUNT + PER_HEADER + EXT_LEN);
    let mut hb = uninit_headers();
    let (l2, hs2) = request(head, &ix, &mut hb);
    assert_eq!(
        (l2.method, l2.target, l2.version),
        ("POST", "/demo.Echo/Unary", 2)
    );
    assert_eq!(pairs(hs2), pairs(&hs));
    let e = request_ext(head, &ix).unwrap();
    assert_eq!(
        (e.authority, e.stream, e.unknown, e.flags, e.end),
        (
            Some(&b"x:1"[..]),
            13,
            2,
            flags::METHOD_UNKNOWN,
            ExtEnd::default()
        )
    );
    let end = ExtEnd {
        flags: end::RESET | end::BY_SERVER | end::COUNTED,
        trailers_head: 40,
        trailers_index: 30,
        trailers_unknown: 1,
        messages: 3,
        code: 8,
    };
    let at = ext_end_at(ix.len());
    ix[at..].copy_from_slice(&end.bytes());
    assert_eq!(request_ext(head, &ix).unwrap().end, end);
    assert!(response_ext(head, &ix).is_none());
    // HTTP/1: no ext, whatever the index holds.
    let parts = Parts {
        start: StartLine::Request(ReqLine { version: 1, ..line }),
        headers: &hs,
    };
    let mut buf = Buf::uninit();
    let ix = index(&mut buf, head, &parts);
    assert!(request_ext(head, ix).is_none() && response_ext(head, ix).is_none());
    // A response's ext.
    let status = StatusLine {
        status: 200,
        reason: "",
        version: 2,
    };
    let parts = Parts {
        start: StartLine::Response(status),
        headers: &hs,
    };
    let mut buf = Buf::uninit();
    let ix = index_h2(
        &mut buf,
        head,
        &parts,
        &ExtHead {
            stream: 7,
            ..ExtHead::default()
        },
    );
    let mut hb = uninit_headers();
    let (s2, hs2) = response(head, ix, &mut hb);
    assert_eq!((s2.status, s2.version, hs2.len()), (200, 2, 1));
    let e = response_ext(head, ix).unwrap();
    assert_eq!((e.authority, e.stream), (None, 7));
}

/// A part that does not point into the head is written as empty.
#[test]
fn parts_outside_the_head_read_as_empty() {
    let head = b"GET / 1\nHost:x";
    let elsewhere = b"Other:y";
    let hs = [
        Header {
            name: "Other",
            value: &elsewhere[6..],
        },
        Header {
            name: std::str::from_utf8(&head[8..12]).unwrap(),
            value: &head[13..],
        },
    ];
    let line = ReqLine {
        method: "GET",
        target: std::str::from_utf8(&head[4..5]).unwrap(),
        version: 1,
        odd_version: None,
    };
    let parts = Parts {
        start: StartLine::Request(line),
        headers: &hs,
    };
    let mut buf = Buf::uninit();
    let ix = index(&mut buf, head, &parts);
    let mut hb = uninit_headers();
    let (l2, hs2) = request(head, ix, &mut hb);
    assert_eq!((l2.method, l2.target), ("", "/"));
    assert_eq!(
        pairs(hs2),
        [("".into(), vec![]), ("Host".into(), b"x".to_vec())]
    );
}

/// A damaged or short index gives empty parts, never a panic or a part
/// outside the head.
#[test]
fn short_or_damaged_index_reads_as_empty() {
    let head = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut hb = uninit_headers();
    let (line, hs) = request(head, &[], &mut hb);
    assert_eq!((line.method, line.target, hs.len()), ("", "", 0));
    let mut bad = vec![0xffu8; 40];
    bad[12] = 3; // three headers, all pointing past the head
    bad[13] = 0;
    let mut hb = uninit_headers();
    let (_, hs) = request(head, &bad, &mut hb);
    assert_eq!(hs.len(), 3);
    assert!(hs.iter().all(|h| h.name.is_empty()));
}
