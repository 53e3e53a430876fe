//! The synthetic API capture of issue 19 (`endpoints_mkpcap.py`, next to
//! this file): run the generator, read the truth it prints and the
//! exchanges it lists, and measure how much of that truth a set of traces
//! covers (endpoints, and (endpoint, 4xx/5xx) pairs).
//!
//! Used by tests/endpoint_sampling.rs (the sampler, library level) and meant
//! for the binary-level tests (the sensor reading the generated pcap with
//! `--rate-limit 100`): give `coverage` the (method, host, template, status)
//! of every trace, the template found through `Generated::template_of`.

#![allow(dead_code)] // each test crate uses a different subset

use super::process::{TempDir, run_with_deadline, script};
use super::require::python3;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// One generated exchange, in request order.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request's first packet and the response's last (µs since 1970).
    pub ts_us: u64,
    pub end_us: u64,
    pub method: String,
    pub host: String,
    /// The request-target as sent.
    pub target: String,
    /// The endpoint's template by the README's rules.
    pub template: String,
    pub status: u16,
    /// "health", "zipf" or "tail".
    pub kind: String,
}

pub struct Generated {
    /// What the generator printed (see its docstring).
    pub truth: Value,
    pub exchanges: Vec<Exchange>,
    /// The capture, when asked for.
    pub pcap: Option<PathBuf>,
}

/// An endpoint: (method, host, template).
pub type Endpoint = (String, String, String);

/// "4xx", "5xx" or None.
pub fn error_class(status: u16) -> Option<&'static str> {
    match status {
        400..=499 => Some("4xx"),
        500..=599 => Some("5xx"),
        _ => None,
    }
}

/// Runs the generator (`seed`, `minutes` of capture) into `dir`; with
/// `pcap`, writes the capture too.
pub fn generate(dir: &TempDir, seed: u64, minutes: f64, pcap: bool) -> Generated {
    let list = dir.path(&format!("exchanges-{seed}.jsonl"));
    let cap = dir.path(&format!("api-{seed}.pcap"));
    let mut cmd = Command::new(python3());
    cmd.arg(script("endpoints_mkpcap.py"))
        .args([
            "--seed",
            &seed.to_string(),
            "--minutes",
            &minutes.to_string(),
        ])
        .arg("--exchanges")
        .arg(&list);
    if pcap {
        cmd.arg("--out").arg(&cap);
    }
    let out = run_with_deadline(&mut cmd, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "endpoints_mkpcap.py: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: Value = serde_json::from_slice(&out.stdout).expect("the truth is JSON");
    let text = std::fs::read_to_string(&list).expect("read the exchanges");
    let exchanges = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("an exchange is JSON");
            let s = |k: &str| v[k].as_str().expect(k).to_string();
            let n = |k: &str| v[k].as_u64().expect(k);
            Exchange {
                ts_us: n("ts_us"),
                end_us: n("end_us"),
                method: s("method"),
                host: s("host"),
                target: s("target"),
                template: s("template"),
                status: n("status") as u16,
                kind: s("kind"),
            }
        })
        .collect();
    Generated {
        truth,
        exchanges,
        pcap: pcap.then_some(cap),
    }
}

impl Generated {
    /// Every endpoint of the truth with its counts: (exchanges, 4xx, 5xx).
    pub fn endpoints(&self) -> HashMap<Endpoint, (u64, u64, u64)> {
        self.truth["endpoint_list"]
            .as_array()
            .expect("endpoint_list")
            .iter()
            .map(|e| {
                let s = |k: &str| e[k].as_str().unwrap().to_string();
                let n = |k: &str| e[k].as_u64().unwrap();
                (
                    (s("method"), s("host"), s("template")),
                    (n("exchanges"), n("4xx"), n("5xx")),
                )
            })
            .collect()
    }

    /// Every (endpoint, error class) with at least one exchange.
    pub fn pairs(&self) -> BTreeSet<(Endpoint, &'static str)> {
        let mut p = BTreeSet::new();
        for (k, (_, e4, e5)) in self.endpoints() {
            if e4 > 0 {
                p.insert((k.clone(), "4xx"));
            }
            if e5 > 0 {
                p.insert((k, "5xx"));
            }
        }
        p
    }

    /// The template of a (method, host, target) the generator sent.
    pub fn template_of(&self) -> HashMap<(String, String, String), String> {
        self.exchanges
            .iter()
            .map(|x| {
                (
                    (x.method.clone(), x.host.clone(), x.target.clone()),
                    x.template.clone(),
                )
            })
            .collect()
    }
}

/// What a set of traces covers of the truth.
#[derive(Debug, Clone, Copy)]
pub struct Coverage {
    pub endpoints: usize,
    pub endpoints_traced: usize,
    pub pairs: usize,
    pub pairs_traced: usize,
}

impl Coverage {
    pub fn endpoint_share(&self) -> f64 {
        self.endpoints_traced as f64 / self.endpoints.max(1) as f64
    }
    pub fn pair_share(&self) -> f64 {
        self.pairs_traced as f64 / self.pairs.max(1) as f64
    }
}

/// Coverage of `traces`: (endpoint, status) of each trace.
pub fn coverage(g: &Generated, traces: Vec<(Endpoint, u16)>) -> Coverage {
    let all = g.endpoints();
    let pairs = g.pairs();
    let mut eps = BTreeSet::new();
    let mut ps = BTreeSet::new();
    for (e, status) in traces {
        if all.contains_key(&e) {
            eps.insert(e.clone());
        }
        if let Some(c) = error_class(status)
            && pairs.contains(&(e.clone(), c))
        {
            ps.insert((e.clone(), c));
        }
    }
    Coverage {
        endpoints: all.len(),
        endpoints_traced: eps.len(),
        pairs: pairs.len(),
        pairs_traced: ps.len(),
    }
}
