//! Garbage for the robustness tests: valid frames of every link type (to be cut and mutated)
//! and hostile TCP payloads (pieces of real conversations, heads too big for a window, absurd
//! lengths and chunk sizes, TLS and HTTP/2 openings, random bytes).

use crate::support::packet::{ACK, FIN, RST, SYN, dlt};
use crate::support::reasm::capture::frame_for;
use crate::support::reasm::conversation::{Conv, small_spec};
use crate::support::reasm::segments::Pkt;
use crate::support::rng::Rng;

/// A valid frame of link type `lt` and its TCP payload.
pub fn valid_frame(rng: &mut Rng, lt: i32) -> (Vec<u8>, Vec<u8>) {
    let v6 = match lt {
        dlt::IPV4 => false,
        dlt::IPV6 => true,
        _ => rng.chance(1, 2),
    };
    let mut spec = small_spec(rng.below(1000), rng);
    spec.v6 = v6;
    spec.linktype = lt;
    spec.variant = rng.below(256) as u8;
    let len = rng.pick(&[0, 1, 2, 100, 1400]);
    let p = Pkt {
        dir: rng.below(2),
        seq: rng.next() as u32,
        ack: rng.next() as u32,
        flags: rng.pick(&[ACK, SYN, SYN | ACK, FIN | ACK, RST, ACK | 0x08]),
        off: 0,
        data: rng.bytes(len),
        ts: 0,
    };
    (frame_for(&spec, &p), p.data)
}

/// Payload material: pieces of real conversations, hostile heads and bodies, random bytes.
pub fn garbage_payload(rng: &mut Rng, convs: &[Conv]) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"HTTP/1.1 200 Connection established\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.0 200 OK\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 30\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"HEAD /h HTTP/1.1\r\n\r\n",
        b"GET /a?b=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST /p HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
        b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        b"ffffffffffffffffffff\r\n",
        b"7fffffffffffffff\r\n",
        b"5;ext=\"a\"\r\nhello\r\n",
        b"0\r\nTrailer: x\r\n\r\n",
        b"0\r\n\r\n",
        b"\r\n",
        b"\n",
        b"GET",
        b" HTTP/1.1\r\n",
        b"X-Header: value\r\n",
        b"HTTP/1.",
        b"HTTP/1.1 999 Weird\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nX: \x80\x81\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
    ];
    let mut v = Vec::new();
    for _ in 0..rng.range(1, 4) {
        match rng.below(10) {
            0..=3 => v.extend_from_slice(rng.pick(PIECES)),
            4..=6 => {
                let c = &convs[rng.below(convs.len())];
                let st = &c.stream[rng.below(2)];
                let a = rng.below(st.len());
                let b = (a + rng.range(1, 3000)).min(st.len());
                v.extend_from_slice(&st[a..b]);
            }
            7 => {
                let n = rng.below(1500);
                v.extend(rng.bytes(n));
            }
            8 if rng.chance(1, 3) => {
                // A head too big for a window, or with too many headers.
                v.extend_from_slice(b"GET /big HTTP/1.1\r\n");
                if rng.chance(1, 2) {
                    v.extend_from_slice(b"X-Big: ");
                    v.resize(v.len() + rng.range(60_000, 70_000), b'a');
                    v.extend_from_slice(b"\r\n\r\n");
                } else {
                    for i in 0..300 {
                        v.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
                    }
                    v.extend_from_slice(b"\r\n");
                }
            }
            _ => {}
        }
    }
    if rng.chance(1, 4) {
        v.truncate(rng.below(v.len() + 1));
    }
    v.truncate(60_000);
    v
}
