//! What really went over an HTTP/2 connection, independent of the sensor: tshark's decoding
//! of every HEADERS frame (tests/support/h2_tshark.py writes it as TSV), grouped into the
//! streams of each connection, and the recorded captures under tests/data/h2/ with their
//! truth, their client-side and server-side records (tests/data/h2/record_peers.py made
//! them; manifest.json says on which port).

use super::h2_expect::Exchange;
use super::process::{read_json, repo, run_with_deadline, script};
use super::require::{python3, require_tool};
use super::text::percent_decode;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One HEADERS frame's header block, as tshark decoded it.
#[derive(Clone, Debug)]
pub struct Block {
    pub frame: u64,
    /// Its place among the HEADERS frames of its packet, from 0.
    pub block: u64,
    pub tcp_stream: u64,
    pub src_port: u16,
    pub dst_port: u16,
    pub stream_id: u32,
    pub end_stream: bool,
    /// (name, value) in block order, pseudo-headers included.
    pub fields: Vec<(String, String)>,
}

/// Undoes h2_tshark.py's escapes (\\, \t, \r, \n).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// The blocks of an h2_tshark.py TSV, in capture order.
pub fn parse_tsv(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.splitn(9, '\t').collect();
        assert_eq!(f.len(), 9, "truth line {}: {line:?}", i + 1);
        let num = |k: usize| -> u64 {
            f[k].parse()
                .unwrap_or_else(|_| panic!("truth line {}: column {k} in {line:?}", i + 1))
        };
        let (frame, block) = (num(0), num(1));
        let field = (unescape(f[7]), unescape(f[8]));
        match out.last_mut() {
            Some(b) if b.frame == frame && b.block == block => b.fields.push(field),
            _ => out.push(Block {
                frame,
                block,
                tcp_stream: num(2),
                src_port: num(3) as u16,
                dst_port: num(4) as u16,
                stream_id: num(5) as u32,
                end_stream: num(6) == 1,
                fields: vec![field],
            }),
        }
    }
    out
}

/// One stream of one connection: its request, response and trailer blocks.
#[derive(Clone, Debug)]
pub struct StreamTruth {
    pub tcp_stream: u64,
    pub client_port: u16,
    pub server_port: u16,
    pub stream_id: u32,
    /// The first frame (of the capture the truth is about) with a block of this stream.
    pub first_frame: u64,
    /// None for the request an `Upgrade: h2c` turned into stream 1 (it was HTTP/1.1).
    pub request: Option<Vec<(String, String)>>,
    /// The block with `:status` (a trailers-only response's only block).
    pub response: Option<Vec<(String, String)>>,
    /// A later block of the server without `:status`.
    pub trailers: Option<Vec<(String, String)>>,
}

fn first<'a>(fields: &'a Option<Vec<(String, String)>>, name: &str) -> Option<&'a str> {
    fields
        .as_ref()?
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The fields that are not pseudo-headers.
pub fn regular(fields: &[(String, String)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|(n, _)| !n.starts_with(':'))
        .cloned()
        .collect()
}

impl StreamTruth {
    pub fn method(&self) -> Option<&str> {
        first(&self.request, ":method")
    }
    pub fn path(&self) -> Option<&str> {
        first(&self.request, ":path")
    }
    pub fn authority(&self) -> Option<&str> {
        first(&self.request, ":authority")
    }
    pub fn status(&self) -> Option<u16> {
        first(&self.response, ":status").and_then(|s| s.parse().ok())
    }
    pub fn content_type(&self) -> Option<&str> {
        first(&self.request, "content-type")
    }
    /// grpc-status from the trailers, else from a trailers-only response.
    pub fn grpc_status(&self) -> Option<i64> {
        first(&self.trailers, "grpc-status")
            .or_else(|| first(&self.response, "grpc-status"))
            .and_then(|s| s.parse().ok())
    }
    /// grpc-message, percent-decoded, where grpc-status is.
    pub fn grpc_message(&self) -> Option<String> {
        let block = if first(&self.trailers, "grpc-status").is_some() {
            &self.trailers
        } else {
            &self.response
        };
        first(block, "grpc-message").map(percent_decode)
    }
    /// One line, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "tcp stream {} (client port {}) h2 stream {}: {} {} -> {} grpc-status {:?}",
            self.tcp_stream,
            self.client_port,
            self.stream_id,
            self.method().unwrap_or("<HTTP/1.1 upgrade>"),
            self.path().unwrap_or("-"),
            self.status().map_or("-".into(), |s| s.to_string()),
            self.grpc_status()
        )
    }
}

/// The streams of every connection to `server_port`, in order of their first block.
pub fn streams(blocks: &[Block], server_port: u16) -> Vec<StreamTruth> {
    let mut out: Vec<StreamTruth> = Vec::new();
    for b in blocks {
        let from_client = b.dst_port == server_port;
        let client_port = if from_client { b.src_port } else { b.dst_port };
        let at = out
            .iter()
            .position(|s| s.tcp_stream == b.tcp_stream && s.stream_id == b.stream_id);
        let s = match at {
            Some(i) => &mut out[i],
            None => {
                out.push(StreamTruth {
                    tcp_stream: b.tcp_stream,
                    client_port,
                    server_port,
                    stream_id: b.stream_id,
                    first_frame: b.frame,
                    request: None,
                    response: None,
                    trailers: None,
                });
                out.last_mut().unwrap()
            }
        };
        let has_status = b.fields.iter().any(|(n, _)| n == ":status");
        if from_client {
            if s.request.is_none() {
                s.request = Some(b.fields.clone());
            }
        } else if has_status && s.response.is_none() {
            s.response = Some(b.fields.clone());
        } else if !has_status {
            s.trailers = Some(b.fields.clone());
        }
    }
    out
}

/// Runs tests/support/h2_tshark.py on a capture: the truth TSV as text.
pub fn tshark_truth(capture: &Path, port: u16, from_frame: Option<u64>, upgrade: bool) -> String {
    require_tool("tshark", "tshark");
    let mut cmd = Command::new(python3());
    cmd.arg(script("h2_tshark.py"))
        .arg(capture)
        .arg(port.to_string());
    if let Some(k) = from_frame {
        cmd.args(["--from-frame", &k.to_string()]);
    }
    if upgrade {
        cmd.arg("--upgrade");
    }
    let out = run_with_deadline(&mut cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "h2_tshark.py {} failed: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("truth TSV is UTF-8")
}

/// What a decoder that starts at frame `from_frame` of `capture` can know (h2_tshark.py
/// --knowable): tshark's TSV of the fields a mid-connection HPACK decoder can decode, frames
/// renumbered from `from_frame` as for [`tshark_truth`].
pub fn tshark_knowable(capture: &Path, port: u16, from_frame: u64) -> String {
    require_tool("tshark", "tshark");
    let mut cmd = Command::new(python3());
    cmd.arg(script("h2_tshark.py"))
        .arg(capture)
        .arg(port.to_string())
        .args(["--from-frame", &from_frame.to_string(), "--knowable"]);
    let out = run_with_deadline(&mut cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "h2_tshark.py --knowable {} failed: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("truth TSV is UTF-8")
}

/// A recorded capture under tests/data/h2/ and everything known about it.
pub struct Recorded {
    pub name: String,
    pub pcap: PathBuf,
    pub port: u16,
    /// Its entry in manifest.json.
    pub manifest: Value,
    /// NAME.tsv as committed.
    pub truth_text: String,
    pub truth: Vec<StreamTruth>,
    /// NAME.client.jsonl.
    pub client: Vec<Exchange>,
    /// NAME.server.jsonl (empty when the server records nothing: nghttpd).
    pub server: Vec<Value>,
}

/// The names record_peers.py records and tests/h2_captures.rs judges (its curl_policy is
/// read by tests/h2_policy.rs: the sensor redacts its secrets, so its headers are not the
/// wire's).
pub const RECORDED: [&str; 5] = [
    "h2load",
    "curl_prior",
    "curl_upgrade",
    "grpc_calls",
    "grpc_mid",
];

/// A file under tests/data/h2/.
pub fn data_file(name: &str) -> PathBuf {
    repo("tests/data/h2").join(name)
}

/// Loads a recorded capture by name (see RECORDED).
pub fn recorded(name: &str) -> Recorded {
    let manifest = read_json(&data_file("manifest.json"));
    let entry = manifest[name].clone();
    assert!(
        entry.is_object(),
        "tests/data/h2/manifest.json has no {name}: re-record with tests/data/h2/record_peers.py"
    );
    let port = entry["port"].as_u64().expect("manifest port") as u16;
    let read = |suffix: &str| std::fs::read_to_string(data_file(&format!("{name}{suffix}")));
    let truth_text = read(".tsv").unwrap_or_else(|e| panic!("{name}.tsv: {e}"));
    let client = read(".client.jsonl").unwrap_or_else(|e| panic!("{name}.client.jsonl: {e}"));
    let server = read(".server.jsonl").unwrap_or_default();
    Recorded {
        name: name.to_string(),
        pcap: data_file(&format!("{name}.pcap")),
        port,
        truth: streams(&parse_tsv(&truth_text), port),
        truth_text,
        client: Exchange::parse_lines(&client),
        server: server
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("server record is JSON"))
            .collect(),
        manifest: entry,
    }
}
