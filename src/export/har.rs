//! HAR 1.2 sink: one `log` document whose `entries` are written as traces
//! come, closed when the sensor stops. Opens in browser dev tools and Postman.

use std::io::{self, Write};
use std::time::Instant;

use super::{Next, Output, next};
use crate::json::{json_str, write_rfc3339};
use crate::view::{Body, Header, View, body_str};

pub struct Har {
    out: io::BufWriter<Box<dyn Write>>,
    entry: Vec<u8>,
    entries: u64,
}

impl Har {
    pub fn new(w: Box<dyn Write>) -> io::Result<Har> {
        let mut out = io::BufWriter::with_capacity(64 * 1024, w);
        write!(
            out,
            "{{\"log\":{{\"version\":\"1.2\",\"creator\":{{\"name\":\"pcap-sensor\",\"version\":\"{}\"}},\"entries\":[",
            crate::cli::VERSION
        )?;
        Ok(Har {
            out,
            entry: Vec::with_capacity(64 * 1024),
            entries: 0,
        })
    }
}

impl Output for Har {
    fn write(&mut self, v: &View) -> Next {
        self.entry.clear();
        entry(&mut self.entry, v, self.entries > 0);
        self.entries += 1;
        next(self.out.write_all(&self.entry))
    }

    fn reserved(&self) -> usize {
        self.out.capacity() + self.entry.capacity()
    }

    fn finish(&mut self, _deadline: Instant) -> io::Result<()> {
        self.out.write_all(b"\n]}}\n")?;
        self.out.flush()
    }
}

/// One HAR entry (with a leading comma when `more`).
fn entry(o: &mut Vec<u8>, v: &View, more: bool) {
    {
        if more {
            o.push(b',');
        }
        let ms = v.end_us.saturating_sub(v.start_us) as f64 / 1000.0;
        o.extend_from_slice(b"\n{\"startedDateTime\":\"");
        write_rfc3339(o, v.start_us);
        let _ = write!(o, "\",\"time\":{ms:.3},\"request\":{{\"method\":");
        let r = &v.req;
        json_str(o, r.method.as_bytes());
        // An absolute URL: scheme and authority from the Host header (else the server address).
        let mut url = Vec::with_capacity(64 + r.target.len());
        url.extend_from_slice(b"http://");
        match r.host {
            Some(h) => url.extend_from_slice(h),
            None => match v.server.0 {
                std::net::IpAddr::V6(a) => {
                    let _ = write!(url, "[{a}]:{}", v.server.1);
                }
                a => {
                    let _ = write!(url, "{a}:{}", v.server.1);
                }
            },
        }
        if r.target.starts_with(b"/") {
            url.extend_from_slice(r.target);
        } else if r.target.starts_with(b"http://") || r.target.starts_with(b"https://") {
            url.clear();
            url.extend_from_slice(r.target);
        } else {
            url.push(b'/');
            url.extend_from_slice(r.target);
        }
        o.extend_from_slice(b",\"url\":");
        json_str(o, &url);
        match r.odd_version {
            None => {
                let _ = write!(o, ",\"httpVersion\":\"HTTP/1.{}\"", r.version);
            }
            // A malformed request line's version as seen (HAR wants a string).
            Some(v) => {
                o.extend_from_slice(b",\"httpVersion\":");
                json_str(o, v.as_bytes());
            }
        }
        o.extend_from_slice(b",\"cookies\":[],\"headers\":");
        headers(o, r.headers);
        o.extend_from_slice(b",\"queryString\":[");
        if let Some(q) = r.query {
            for (i, pair) in q
                .split(|&b| b == b'&')
                .filter(|p| !p.is_empty())
                .enumerate()
            {
                if i > 0 {
                    o.extend_from_slice(b",");
                }
                let (n, val) = match pair.iter().position(|&b| b == b'=') {
                    Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                    None => (pair, &b""[..]),
                };
                o.extend_from_slice(b"{\"name\":");
                json_str(o, n);
                o.extend_from_slice(b",\"value\":");
                json_str(o, val);
                o.extend_from_slice(b"}");
            }
        }
        o.extend_from_slice(b"]");
        if r.body.size > 0 || !r.body.bytes.is_empty() {
            o.extend_from_slice(b",\"postData\":{\"mimeType\":");
            json_str(o, mime(r.headers));
            o.extend_from_slice(b",\"text\":");
            body_str(o, &r.body);
            if !r.body.text {
                o.extend_from_slice(b",\"comment\":\"base64\"");
            }
            o.extend_from_slice(b"}");
        }
        if r.body.omitted {
            // The sampler kept this request's head only (custom field: `_`).
            o.extend_from_slice(b",\"_bodyOmitted\":true");
        }
        let _ = write!(o, ",\"headersSize\":-1,\"bodySize\":{}", r.body.wire_size);
        if r.malformed {
            o.extend_from_slice(b",\"_malformed\":true");
        }
        o.push(b'}');
        match &v.resp {
            Some(p) => {
                let _ = write!(o, ",\"response\":{{\"status\":{},\"statusText\":", p.status);
                json_str(o, p.reason.as_bytes());
                let _ = write!(
                    o,
                    ",\"httpVersion\":\"HTTP/1.{}\",\"cookies\":[],\"headers\":",
                    p.version
                );
                headers(o, p.headers);
                content(o, &p.body, mime(p.headers));
                let _ = write!(
                    o,
                    ",\"redirectURL\":\"\",\"headersSize\":-1,\"bodySize\":{}}}",
                    p.body.wire_size
                );
            }
            None => {
                // No response was captured: HAR's shape for a request that got none.
                o.extend_from_slice(b",\"response\":{\"status\":0,\"statusText\":\"\",\"httpVersion\":\"\",\"cookies\":[],\"headers\":[],\"content\":{\"size\":0,\"mimeType\":\"x-unknown\"},\"redirectURL\":\"\",\"headersSize\":-1,\"bodySize\":-1,\"_error\":\"no response captured\"}");
            }
        }
        let _ = write!(
            o,
            ",\"cache\":{{}},\"timings\":{{\"send\":0,\"wait\":{ms:.3},\"receive\":0}},\"serverIPAddress\":\"{}\",\"connection\":\"{}\"}}",
            v.server.0, v.client.1
        );
    }
}

fn mime<'a>(hs: &[Header<'a>]) -> &'a [u8] {
    View::header(hs, "content-type").unwrap_or(b"application/octet-stream")
}

fn headers(o: &mut Vec<u8>, hs: &[Header<'_>]) {
    o.extend_from_slice(b"[");
    for (i, (n, v)) in hs.iter().enumerate() {
        if i > 0 {
            o.extend_from_slice(b",");
        }
        o.extend_from_slice(b"{\"name\":");
        json_str(o, n.as_bytes());
        o.extend_from_slice(b",\"value\":");
        json_str(o, v);
        o.extend_from_slice(b"}");
    }
    o.push(b']');
}

fn content(o: &mut Vec<u8>, b: &Body, mime: &[u8]) {
    let _ = write!(o, ",\"content\":{{\"size\":{},\"mimeType\":", b.size);
    json_str(o, mime);
    o.extend_from_slice(b",\"text\":");
    body_str(o, b);
    if !b.text {
        o.extend_from_slice(b",\"encoding\":\"base64\"");
    }
    o.push(b'}');
}
