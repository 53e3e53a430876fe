//! The fuzz corpus, replayed on stable Rust in every `cargo test`.
//!
//! `fuzz/harness.rs` holds the checks of every cargo-fuzz target; this file
//! compiles the same harness and feeds it every saved input:
//! - `fuzz/seeds/<target>/`: the seed corpus, generated from real HTTP
//!   conversations (curl and python clients against python's http.server) by
//!   `fuzz/make_seeds.py`;
//! - `fuzz/regressions/<target>/`: every input a fuzzing run found to crash
//!   or break a check (`./build.sh fuzz` copies new ones there), so a bug
//!   that was found once stays fixed.
//!
//! Each input runs under `catch_unwind`; a target's test fails listing every
//! input that failed and why. To debug one input:
//! `cargo +nightly fuzz run TARGET fuzz/regressions/TARGET/FILE` (in fuzz/).

#[path = "../fuzz/harness.rs"]
mod harness;

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Files of `fuzz/<kind>/<target>/`, sorted (none when the folder is absent).
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let mut v: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| e.expect("read_dir entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic)".to_string()
    }
}

fn run_target(name: &str) -> harness::Target {
    harness::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no harness target {name}"))
        .1
}

/// Replays every seed and regression input of `target`.
fn replay(target: &str) {
    let f = run_target(target);
    let seeds = inputs("seeds", target);
    let regressions = inputs("regressions", target);
    assert!(
        !seeds.is_empty(),
        "no seeds in fuzz/seeds/{target}/ (run python3 fuzz/make_seeds.py)"
    );
    let mut failures = Vec::new();
    for p in seeds.iter().chain(&regressions) {
        let data = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
        if let Err(e) = panic::catch_unwind(AssertUnwindSafe(|| f(&data))) {
            let rel = p.strip_prefix(fuzz_dir()).unwrap_or(p);
            let msg = panic_message(e.as_ref());
            let msg: String = msg.chars().take(1500).collect();
            failures.push(format!("fuzz/{}: {msg}", rel.display()));
        }
    }
    eprintln!(
        "{target}: {} seeds, {} regression inputs, {} failed",
        seeds.len(),
        regressions.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} inputs of fuzz target {target} failed:\n{}",
        failures.len(),
        seeds.len() + regressions.len(),
        failures.join("\n\n")
    );
}

#[test]
fn decode_corpus() {
    replay("decode");
}

#[test]
fn pipeline_corpus() {
    replay("pipeline");
}

#[test]
fn reassembly_corpus() {
    replay("reassembly");
}

#[test]
fn faults_corpus() {
    replay("faults");
}

#[test]
fn http_split_corpus() {
    replay("http_split");
}

#[test]
fn chunked_corpus() {
    replay("chunked");
}

#[test]
fn gzip_corpus() {
    replay("gzip");
}

#[test]
fn json_corpus() {
    replay("json");
}

#[test]
fn otlp_corpus() {
    replay("otlp");
}

#[test]
fn client_hello_corpus() {
    replay("client_hello");
}

/// Every target has a test above, a cargo-fuzz binary in fuzz/Cargo.toml and
/// seeds; every folder under seeds/ and regressions/ names a target (a typo
/// would otherwise go unreplayed).
#[test]
fn targets_are_consistent() {
    let this = std::fs::read_to_string(file!())
        .or_else(|_| std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file!())))
        .expect("read this test's source");
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in harness::TARGETS {
        assert!(
            this.contains(&format!("replay(\"{name}\")")),
            "target {name} has no replay test"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "target {name} has no [[bin]] in fuzz/Cargo.toml"
        );
        assert!(
            fuzz_dir()
                .join("fuzz_targets")
                .join(format!("{name}.rs"))
                .is_file(),
            "no fuzz/fuzz_targets/{name}.rs"
        );
    }
    for kind in ["seeds", "regressions"] {
        let Ok(rd) = std::fs::read_dir(fuzz_dir().join(kind)) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(
                harness::TARGETS.iter().any(|(t, _)| *t == n),
                "fuzz/{kind}/{n} is not a fuzz target"
            );
        }
    }
}
