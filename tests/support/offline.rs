//! The sensor run to completion: reading a capture file (`apidump -r`) or
//! running a command, with a deadline and an environment cleared of every
//! variable the sensor reads, so the test's own environment cannot change a
//! result.

use super::process::{SENSOR, run_with_deadline};
use super::trace::final_stats;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// How long one offline sensor run may take (it reads a small pcap, and at
/// most flushes one batch to a local satellite).
pub const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// `bin ARGS` with an environment free of inherited LEVO_*, AWS_* and ECS_*
/// variables (the sensor's settings, region and ECS metadata), plus `env`.
pub fn sensor_command(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("LEVO_") || k.starts_with("AWS_") || k.starts_with("ECS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied());
    cmd
}

/// A finished `pcap-sensor ...` run.
pub struct Run {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stderr lines (empty ones left out).
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// JSON Lines on stdout (panics on a line that is not JSON).
    pub fn traces(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("stdout line is not JSON ({e}): {l:?}\n{}", self.describe())
                })
            })
            .collect()
    }

    /// key=value pairs of the `final stats` line (empty map when absent).
    pub fn final_stats(&self) -> BTreeMap<String, u64> {
        final_stats(self.stderr.lines()).unwrap_or_default()
    }

    /// Counter `key` of the final stats line; Err(description) when missing.
    pub fn stat(&self, key: &str) -> Result<u64, String> {
        self.final_stats()
            .get(key)
            .copied()
            .ok_or_else(|| format!("final stats has no '{key}'"))
    }

    /// The command line, environment, exit status and stderr, for messages.
    pub fn describe(&self) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "run: {} pcap-sensor {}\nexit: {}\nstderr:\n{}",
            env.join(" "),
            self.args.join(" "),
            self.status,
            self.stderr
        )
    }
}

/// Runs `pcap-sensor ARGS` (ARGS start with the subcommand) with
/// RUN_DEADLINE and only `env` among the variables the sensor reads.
pub fn run_sensor(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_sensor_within(args, env, RUN_DEADLINE)
}

/// `run_sensor` with another deadline.
pub fn run_sensor_within(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Run {
    let mut cmd = sensor_command(Path::new(SENSOR), args, env);
    let out = run_with_deadline(&mut cmd, deadline);
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `apidump -r PCAP EXTRA...` as one argument list.
pub fn apidump_args<'a>(pcap: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["apidump", "-r", pcap.to_str().unwrap()];
    v.extend_from_slice(extra);
    v
}
