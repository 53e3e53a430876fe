//! Command line: one `Args` struct per subcommand, parsed by hand with lexopt.
//!
//! Every error names the flag and says what to type instead; the caller
//! prints it on one line and exits with code 2.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the user asked for.
#[derive(Debug)]
pub enum Command {
    Apidump(Box<ApidumpArgs>),
    /// `ecs ...`: the rest of the command line, parsed by `ecs::main`.
    Ecs(Vec<OsString>),
    /// `health ...`: the rest of the command line, parsed by `health::main`.
    Health(Vec<OsString>),
    Version,
    Help(&'static str),
}

/// Settings of `apidump`.
#[derive(Debug, Clone)]
pub struct ApidumpArgs {
    pub interfaces: Vec<String>,
    pub read_file: Option<PathBuf>,
    pub filter: Option<String>,
    /// `--out`: `-` (stdout) or a file; `-` when neither it nor a satellite is given.
    pub out: Option<String>,
    /// `--format`; None: text when `--out -` is a terminal, else JSON Lines.
    pub format: Option<Format>,
    pub count: Option<u64>,
    pub duration: Option<f64>,
    pub max_flows: u32,
    pub buffer_pool_mb: u32,
    pub max_http_length: u32,
    pub stream_timeout: f64,
    pub stats_interval: f64,
    pub snaplen: u32,
    pub pcap_buffer_mb: u32,
    pub satellite_url: Option<String>,
    pub levo_env: Option<String>,
    pub org_id: Option<String>,
    /// Traces per minute; 0 = no limit. None: the default (1000 with a
    /// satellite, no limit for local output only).
    pub rate_limit: Option<f64>,
    pub export_interval: f64,
    pub host_allow: Vec<String>,
    pub path_allow: Vec<String>,
    pub host_exclusions: Vec<String>,
    pub path_exclusions: Vec<String>,
    pub service_name: Option<String>,
    pub redact: bool,
    pub ca_cert: Option<PathBuf>,
    pub log_json: bool,
    pub shutdown_timeout: f64,
    pub export_queue_mb: u32,
    pub max_batch_kb: u32,
    /// Where batches the satellite cannot take wait (`--spool-dir`).
    pub spool_dir: Option<PathBuf>,
    /// The most MiB of files there (`--spool-mb`).
    pub spool_mb: u32,
    pub region: Option<String>,
    /// When capture cannot start or fails, stay up (idle) until stopped, so
    /// that `pcap-sensor health` can say why, instead of exiting.
    pub keep_running: bool,
}

/// How `--out` writes traces (`--format json|text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON Lines: one trace per line, bodies included.
    Json,
    /// One readable line per exchange, bodies left out (the terminal view).
    Text,
}

impl ApidumpArgs {
    /// Traces per minute in force (0 = no limit).
    pub fn effective_rate_limit(&self) -> f64 {
        match self.rate_limit {
            Some(r) => r,
            None if self.satellite_url.is_some() => 1000.0,
            None => 0.0,
        }
    }
}

impl Default for ApidumpArgs {
    fn default() -> Self {
        ApidumpArgs {
            interfaces: Vec::new(),
            read_file: None,
            filter: None,
            out: None,
            format: None,
            count: None,
            duration: None,
            max_flows: 4096,
            buffer_pool_mb: 8,
            max_http_length: 1 << 20,
            stream_timeout: 10.0,
            stats_interval: 60.0,
            snaplen: 262_144,
            pcap_buffer_mb: 8,
            satellite_url: None,
            levo_env: None,
            org_id: None,
            rate_limit: None,
            export_interval: 10.0,
            host_allow: Vec::new(),
            path_allow: Vec::new(),
            host_exclusions: Vec::new(),
            path_exclusions: Vec::new(),
            service_name: None,
            redact: true,
            ca_cert: None,
            log_json: false,
            shutdown_timeout: 5.0,
            export_queue_mb: 4,
            max_batch_kb: 1024,
            spool_dir: None,
            spool_mb: 256,
            region: None,
            keep_running: false,
        }
    }
}

/// A usage error: printed as one line, exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<lexopt::Error> for UsageError {
    fn from(e: lexopt::Error) -> Self {
        let hint = match &e {
            lexopt::Error::MissingValue { option: Some(o) } => {
                format!("{o} needs a value: type {o} VALUE (see --help)")
            }
            lexopt::Error::UnexpectedOption(o) => {
                format!("unknown flag '{o}' (see 'pcap-sensor apidump --help' for the flags)")
            }
            lexopt::Error::UnexpectedArgument(a) => format!(
                "unexpected argument '{}' (flags start with --; see --help)",
                a.to_string_lossy()
            ),
            lexopt::Error::UnexpectedValue { option, value } => format!(
                "{option} takes no value, but got '{}'",
                value.to_string_lossy()
            ),
            other => other.to_string(),
        };
        UsageError(hint)
    }
}

pub const MAIN_HELP: &str = "\
pcap-sensor: capture HTTP/1.x API traffic with libpcap and turn each exchange into a trace

usage: pcap-sensor <COMMAND> [FLAGS]

commands:
  apidump    capture (live or from a pcap file) and print or ship traces
  ecs        add the sensor to an ECS task: 'ecs container-definition', 'ecs add'
             ('pcap-sensor ecs --help')
  health     the container health check: asks the sensor running in this network
             namespace whether it captures ('pcap-sensor health --help')
  version    print the version
  help       this text; 'pcap-sensor help apidump' for a command's flags

examples:
  pcap-sensor apidump -r capture.pcap
  pcap-sensor apidump -i any --filter 'tcp port 8080'             (as root)
  pcap-sensor apidump -r capture.pcap | jq .request.target
";

pub const APIDUMP_HELP: &str = "\
pcap-sensor apidump: capture HTTP/1.x exchanges and write one JSON line per exchange
(on a terminal, one readable line)

usage: pcap-sensor apidump [-i IFACE]... | -r FILE  [FLAGS]

input:
  -i, --interface NAME        capture live on NAME (repeatable; default: any)
  -r, --read-file FILE        read a pcap or pcapng file instead
      --filter EXPR           BPF filter, e.g. 'tcp port 8080' (compiled by libpcap,
                              applied in the kernel on live capture)
      --snaplen BYTES         bytes kept per packet (default 262144; at least 65535)
      --pcap-buffer-mb N      kernel capture buffer (default 8)

output:
      --out DEST              '-' for stdout, or a file path: JSON Lines, or HAR 1.2
                              when the name ends in .har (default without a
                              satellite: '-')
      --format json|text      JSON Lines, or one readable line per exchange
                              (default: text when --out - is a terminal, else json)
  -c, --count N               stop after N traces
      --duration SECS         stop a live capture after SECS seconds
      --stats-interval SECS   counters to stderr every SECS (default 60; 0 = only at exit)
      --keep-running          if capture cannot start or fails, stay up (idle) until
                              stopped instead of exiting 1, so that 'pcap-sensor health'
                              (the container health check) reports why

satellite (OTLP/HTTP JSON, POST URL/v1/traces):
      --satellite-url URL     where to send traces, http(s)://host:port   [LEVO_SATELLITE_URL]
      --levo-env ENV          deployment environment, e.g. staging        [LEVO_ENV]
      --levoai-org-id ID      organisation id                             [LEVO_ORG_ID]
      --trace-export-interval DUR
                              how often batches are sent: 10, 10s, 1.0, 500ms (default 10s)
                                                                          [LEVO_TRACE_EXPORT_INTERVAL]
      --service-name NAME     service.name (default: the ECS task family)
      --ca-cert FILE          trust this PEM CA too (satellite behind a private CA)
      --export-queue-mb N     traces waiting for the satellite in memory (default 4;
                              oldest dropped)
      --spool-dir DIR         batches the satellite cannot take go to files in DIR
                              instead of being dropped, and are sent, oldest first,
                              when it is back (also after a restart)
      --spool-mb N            the most MiB of files in DIR (default 256; oldest dropped)
      --max-batch-kb N        send a batch early at this size (default 1024); a
                              trace larger than that has its bodies cut to fit
      --shutdown-timeout SECS bound on the final flush at SIGTERM (default 5)

policy (applied to every output):
      --rate-limit N          traces per minute (0 = no limit; default 1000 with a
                              satellite, no limit for --out alone)        [LEVO_RATE_LIMIT]
      --host-allow RE         keep only hosts matching RE (repeatable)    [LEVO_HOST_ALLOW_RE]
      --path-allow RE         keep only paths matching RE (repeatable)    [LEVO_PATH_ALLOW_RE]
      --host-exclusions RE    drop hosts matching RE (repeatable)         [LEVO_HOST_EXCLUSIONS_RE]
      --path-exclusions RE    drop paths matching RE (repeatable)         [LEVO_PATH_EXCLUSIONS_RE]
                              host = Host header without port (else the server IP);
                              path = path without the query
      --no-redact             keep secrets (credentials, cookies, tokens) in traces

limits (all memory is reserved at start-up):
      --max-flows N           TCP connections tracked at once (default 4096)
      --buffer-pool-mb N      memory for reassembly and kept message bytes (default 8)
      --max-http-length BYTES body bytes kept per message (default 1048576); the
                              rest is counted, not kept, and the trace says so
      --stream-timeout-seconds SECS
                              idle time before a connection is closed (default 10)

logging:
      --log-format text|json  stderr lines as text (default) or JSON objects

A flag wins over its environment variable [in brackets]; --filter also reads
LEVO_FILTER, and LEVO_AWS_REGION (or AWS_REGION) names the region.

  -h, --help                  this text
";

fn parse_num<T: std::str::FromStr>(flag: &str, v: OsString, what: &str) -> Result<T, UsageError> {
    let s = v.to_string_lossy().into_owned();
    s.trim().parse::<T>().map_err(|_| {
        UsageError(format!(
            "{flag} expects {what}, but got '{s}' (e.g. {flag} {})",
            example(what)
        ))
    })
}

fn example(what: &str) -> &'static str {
    match what {
        "seconds" => "10",
        _ => "100",
    }
}

fn parse_secs(flag: &str, v: OsString) -> Result<f64, UsageError> {
    let x: f64 = parse_num(flag, v, "seconds")?;
    if !x.is_finite() || x < 0.0 {
        return Err(UsageError(format!(
            "{flag} expects a number of seconds ≥ 0, e.g. {flag} 10"
        )));
    }
    Ok(x)
}

fn positive<T: PartialOrd + Default>(flag: &str, x: T) -> Result<T, UsageError> {
    if x <= T::default() {
        return Err(UsageError(format!(
            "{flag} must be greater than 0 (e.g. {flag} 100)"
        )));
    }
    Ok(x)
}

/// Parse the whole command line (without argv[0]).
pub fn parse<I>(args: I) -> Result<Command, UsageError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let first = match p.next()? {
        None => return Ok(Command::Help(MAIN_HELP)),
        Some(Short('h')) | Some(Long("help")) => return Ok(Command::Help(MAIN_HELP)),
        Some(Long("version")) | Some(Short('V')) => return Ok(Command::Version),
        Some(Value(v)) => v.to_string_lossy().into_owned(),
        Some(other) => return Err(other.unexpected().into()),
    };
    match first.as_str() {
        "apidump" => parse_apidump(&mut p),
        "ecs" => Ok(Command::Ecs(p.raw_args()?.collect())),
        "health" => Ok(Command::Health(p.raw_args()?.collect())),
        "version" => Ok(Command::Version),
        "help" => match p.next()? {
            Some(Value(v)) if v == "apidump" => Ok(Command::Help(APIDUMP_HELP)),
            _ => Ok(Command::Help(MAIN_HELP)),
        },
        other => Err(UsageError(format!(
            "unknown command '{other}' (commands: apidump, ecs, health, version, help)"
        ))),
    }
}

/// Durations as the reference product writes them: `10`, `10s`, `1.0`, `500ms`, `1m`.
pub fn parse_duration(flag: &str, v: &str) -> Result<f64, UsageError> {
    let t = v.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x * scale),
        _ => Err(UsageError(format!(
            "{flag} expects a duration greater than 0 such as 10s, 1.0 or 500ms, but got '{v}'"
        ))),
    }
}

/// A satellite URL our client takes (url.rs parses it), or a
/// message that says what is wrong with it.
fn check_url(flag: &str, u: &str) -> Result<String, UsageError> {
    use crate::url::{BadUrl, Target};
    let u = u.trim().trim_end_matches('/');
    let e = format!("e.g. {flag} http://levoai-satellite:9999");
    Target::parse(u).map(|_| u.to_string()).map_err(|why| {
        UsageError(match why {
            BadUrl::Credentials => {
                format!("{flag} '{u}': a user name or password in the URL is not supported ({e})")
            }
            BadUrl::Port => format!("{flag} '{u}' has a bad port ({e})"),
            BadUrl::Malformed => {
                format!("{flag} expects http(s)://host[:port], {e}, but got '{u}'")
            }
        })
    })
}

fn check_regex(flag: &str, re: String) -> Result<String, UsageError> {
    match regex_lite::Regex::new(&re) {
        Ok(_) => Ok(re),
        Err(e) => Err(UsageError(format!(
            "{flag} '{re}' is not a valid regular expression: {}",
            e.to_string().lines().last().unwrap_or("syntax error")
        ))),
    }
}

fn parse_format(v: &str) -> Result<Format, UsageError> {
    match v {
        "json" => Ok(Format::Json),
        "text" => Ok(Format::Text),
        _ => Err(UsageError(format!(
            "--format takes json or text, not '{v}' (text: one readable line per exchange)"
        ))),
    }
}

/// Where traces go without `--out`, and what `--format` may apply to. With
/// neither `--out` nor a satellite, traces go to stdout (as `tcpdump -r`
/// prints packets).
fn check_format(a: &mut ApidumpArgs) -> Result<(), UsageError> {
    if a.out.is_none() && a.satellite_url.is_none() {
        a.out = Some("-".into());
    }
    match (&a.out, a.format) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err(UsageError(
            "--format chooses how --out writes traces; add --out - to print them too".into(),
        )),
        (Some(o), Some(_)) if o.to_ascii_lowercase().ends_with(".har") => Err(UsageError(format!(
            "--format does not apply to --out '{o}', which is written as HAR (.har)"
        ))),
        _ => Ok(()),
    }
}

fn parse_rate(flag: &str, v: &str) -> Result<f64, UsageError> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(UsageError(format!(
            "{flag} expects traces per minute ≥ 0 (0 = no limit), e.g. {flag} 1000, but got '{v}'"
        ))),
    }
}

/// Settings that may come from the environment (a flag given later wins).
fn from_env(a: &mut ApidumpArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<(), UsageError> {
    if let Some(v) = env("LEVO_SATELLITE_URL") {
        a.satellite_url = Some(check_url("LEVO_SATELLITE_URL", &v)?);
    }
    a.levo_env = env("LEVO_ENV").or(a.levo_env.take());
    a.org_id = env("LEVO_ORG_ID").or(a.org_id.take());
    if let Some(v) = env("LEVO_RATE_LIMIT").or_else(|| env("LEVO_RATE_LIMIT_NUMBER")) {
        a.rate_limit = Some(parse_rate("LEVO_RATE_LIMIT", &v)?);
    }
    if let Some(v) = env("LEVO_TRACE_EXPORT_INTERVAL") {
        a.export_interval = parse_duration("LEVO_TRACE_EXPORT_INTERVAL", &v)?;
    }
    a.filter = env("LEVO_FILTER").or(a.filter.take());
    for (var, list) in [
        ("LEVO_HOST_ALLOW_RE", &mut a.host_allow),
        ("LEVO_PATH_ALLOW_RE", &mut a.path_allow),
        ("LEVO_HOST_EXCLUSIONS_RE", &mut a.host_exclusions),
        ("LEVO_PATH_EXCLUSIONS_RE", &mut a.path_exclusions),
    ] {
        if let Some(v) = env(var) {
            *list = vec![check_regex(var, v)?];
        }
    }
    a.region = env("LEVO_AWS_REGION").or_else(|| env("AWS_REGION"));
    Ok(())
}

fn parse_apidump(p: &mut lexopt::Parser) -> Result<Command, UsageError> {
    parse_apidump_env(p, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

fn parse_apidump_env(
    p: &mut lexopt::Parser,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut a = ApidumpArgs::default();
    from_env(&mut a, env)?;
    // Repeatable regex flags replace what the environment gave, as a whole.
    let mut seen_re = [false; 4];
    let mut spool_mb = false;
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(APIDUMP_HELP)),
            Short('i') | Long("interface") => {
                a.interfaces.push(p.value()?.string()?);
            }
            Short('r') | Long("read-file") => a.read_file = Some(p.value()?.into()),
            Long("filter") => a.filter = Some(p.value()?.string()?),
            Long("out") => a.out = Some(p.value()?.string()?),
            Long("format") => a.format = Some(parse_format(&p.value()?.string()?)?),
            Short('c') | Long("count") => {
                a.count = Some(positive(
                    "--count",
                    parse_num("--count", p.value()?, "a number")?,
                )?)
            }
            Long("duration") => a.duration = Some(parse_secs("--duration", p.value()?)?),
            Long("max-flows") => {
                a.max_flows = positive(
                    "--max-flows",
                    parse_num("--max-flows", p.value()?, "a number")?,
                )?
            }
            Long("buffer-pool-mb") => {
                a.buffer_pool_mb = positive(
                    "--buffer-pool-mb",
                    parse_num("--buffer-pool-mb", p.value()?, "a number")?,
                )?
            }
            Long("max-http-length") => {
                a.max_http_length = parse_num("--max-http-length", p.value()?, "a number")?
            }
            Long("stream-timeout-seconds") => {
                a.stream_timeout = parse_secs("--stream-timeout-seconds", p.value()?)?;
                if a.stream_timeout == 0.0 {
                    return Err(UsageError(
                        "--stream-timeout-seconds must be greater than 0 (e.g. 10)".into(),
                    ));
                }
            }
            Long("stats-interval") => {
                a.stats_interval = parse_secs("--stats-interval", p.value()?)?
            }
            Long("snaplen") => {
                let n: u32 = parse_num("--snaplen", p.value()?, "a number")?;
                if n < 65_535 {
                    return Err(UsageError(format!(
                        "--snaplen {n} would cut large (GRO/TSO) segments; use at least 65535"
                    )));
                }
                a.snaplen = n;
            }
            Long("satellite-url") => {
                a.satellite_url = Some(check_url("--satellite-url", &p.value()?.string()?)?)
            }
            Long("levo-env") => a.levo_env = Some(p.value()?.string()?),
            Long("levoai-org-id") => a.org_id = Some(p.value()?.string()?),
            Long("rate-limit") => {
                a.rate_limit = Some(parse_rate("--rate-limit", &p.value()?.string()?)?)
            }
            Long("trace-export-interval") => {
                a.export_interval =
                    parse_duration("--trace-export-interval", &p.value()?.string()?)?
            }
            Long(f @ ("host-allow" | "path-allow" | "host-exclusions" | "path-exclusions")) => {
                let (i, flag) = match f {
                    "host-allow" => (0, "--host-allow"),
                    "path-allow" => (1, "--path-allow"),
                    "host-exclusions" => (2, "--host-exclusions"),
                    _ => (3, "--path-exclusions"),
                };
                let re = check_regex(flag, p.value()?.string()?)?;
                let list = match i {
                    0 => &mut a.host_allow,
                    1 => &mut a.path_allow,
                    2 => &mut a.host_exclusions,
                    _ => &mut a.path_exclusions,
                };
                if !seen_re[i] {
                    list.clear();
                    seen_re[i] = true;
                }
                list.push(re);
            }
            Long("service-name") => a.service_name = Some(p.value()?.string()?),
            Long("no-redact") => a.redact = false,
            Long("keep-running") => a.keep_running = true,
            Long("ca-cert") => a.ca_cert = Some(p.value()?.into()),
            Long("log-format") => {
                let v = p.value()?.string()?;
                a.log_json = match v.as_str() {
                    "json" => true,
                    "text" => false,
                    _ => {
                        return Err(UsageError(format!(
                            "--log-format takes text or json, not '{v}'"
                        )));
                    }
                }
            }
            Long("shutdown-timeout") => {
                a.shutdown_timeout = parse_secs("--shutdown-timeout", p.value()?)?
            }
            Long("export-queue-mb") => {
                a.export_queue_mb = positive(
                    "--export-queue-mb",
                    parse_num("--export-queue-mb", p.value()?, "a number")?,
                )?
            }
            Long("spool-dir") => a.spool_dir = Some(p.value()?.into()),
            Long("spool-mb") => {
                spool_mb = true;
                a.spool_mb = positive(
                    "--spool-mb",
                    parse_num("--spool-mb", p.value()?, "a number")?,
                )?
            }
            Long("max-batch-kb") => {
                a.max_batch_kb = positive(
                    "--max-batch-kb",
                    parse_num("--max-batch-kb", p.value()?, "a number")?,
                )?
            }
            Long("pcap-buffer-mb") => {
                a.pcap_buffer_mb = positive(
                    "--pcap-buffer-mb",
                    parse_num("--pcap-buffer-mb", p.value()?, "a number")?,
                )?
            }
            Value(v) => {
                return Err(UsageError(format!(
                    "unexpected argument '{}' (to read a file type -r FILE; to set a filter type --filter 'EXPR')",
                    v.to_string_lossy()
                )));
            }
            other => return Err(other.unexpected().into()),
        }
    }
    if a.read_file.is_some() && !a.interfaces.is_empty() {
        return Err(UsageError(
            "-r/--read-file and -i/--interface cannot be used together: pick one input".into(),
        ));
    }
    if a.read_file.is_some() && a.duration.is_some() {
        return Err(UsageError(
            "--duration applies to live capture only; with -r the file is read to its end".into(),
        ));
    }
    if a.read_file.is_none() && a.interfaces.is_empty() {
        a.interfaces.push("any".into());
    }
    if a.spool_dir.is_some() && a.satellite_url.is_none() {
        return Err(UsageError(
            "--spool-dir keeps batches for the satellite: add --satellite-url URL".into(),
        ));
    }
    if spool_mb && a.spool_dir.is_none() {
        return Err(UsageError(
            "--spool-mb sizes the spool: add --spool-dir DIR".into(),
        ));
    }
    if a.spool_mb as u64 * (1 << 20) > i64::MAX as u64 {
        return Err(UsageError(format!(
            "--spool-mb {} is too large",
            a.spool_mb
        )));
    }
    check_format(&mut a)?;
    if let Some(ca) = &a.ca_cert
        && std::fs::metadata(ca).is_err()
    {
        return Err(UsageError(format!(
            "--ca-cert '{}' cannot be read (give a PEM file)",
            ca.display()
        )));
    }
    Ok(Command::Apidump(Box::new(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(args: &[&str]) -> String {
        match parse(args.iter().copied()) {
            Err(e) => e.0,
            Ok(c) => panic!("expected an error, got {c:?}"),
        }
    }

    #[test]
    fn defaults_to_any_interface() {
        match parse(["apidump", "--out", "-"]).unwrap() {
            Command::Apidump(a) => {
                assert_eq!(a.interfaces, vec!["any".to_string()]);
                assert_eq!(a.stream_timeout, 10.0);
            }
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn unknown_flag_is_named() {
        let e = err(&["apidump", "--bogus"]);
        assert!(e.contains("--bogus"), "{e}");
    }

    #[test]
    fn bad_number_says_what_to_type() {
        let e = err(&["apidump", "--out", "-", "--max-flows", "lots"]);
        assert!(e.contains("--max-flows") && e.contains("lots"), "{e}");
        let e = err(&["apidump", "--out", "-", "--stream-timeout-seconds", "-1"]);
        assert!(e.contains("--stream-timeout-seconds"), "{e}");
    }

    fn parse_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<ApidumpArgs, String> {
        let mut p = lexopt::Parser::from_args(args.iter().copied());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        match parse_apidump_env(&mut p, &lookup) {
            Ok(Command::Apidump(a)) => Ok(*a),
            Ok(c) => Err(format!("{c:?}")),
            Err(e) => Err(e.0),
        }
    }

    #[test]
    fn reference_entrypoint_words() {
        let a = parse_with_env(
            &[
                "--satellite-url",
                "http://sat:9999",
                "--levo-env",
                "staging",
                "--levoai-org-id",
                "org-1",
                "--rate-limit",
                "50.0",
                "--trace-export-interval",
                "1.0",
                "--stream-timeout-seconds",
                "1.0",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(a.satellite_url.as_deref(), Some("http://sat:9999"));
        assert_eq!(a.rate_limit, Some(50.0));
        assert_eq!(a.export_interval, 1.0);
        assert_eq!(a.stream_timeout, 1.0);
    }

    #[test]
    fn env_fills_and_flags_win() {
        let env = [
            ("LEVO_SATELLITE_URL", "http://a:1"),
            ("LEVO_RATE_LIMIT", "10"),
            ("LEVO_PATH_EXCLUSIONS_RE", "^/health"),
        ];
        let a = parse_with_env(&[], &env).unwrap();
        assert_eq!(a.satellite_url.as_deref(), Some("http://a:1"));
        assert_eq!(a.rate_limit, Some(10.0));
        assert_eq!(a.path_exclusions, vec!["^/health".to_string()]);
        let a = parse_with_env(
            &[
                "--rate-limit",
                "0",
                "--path-exclusions",
                "^/a",
                "--path-exclusions",
                "^/b",
            ],
            &env,
        )
        .unwrap();
        assert_eq!(a.rate_limit, Some(0.0));
        assert_eq!(
            a.path_exclusions,
            vec!["^/a".to_string(), "^/b".to_string()]
        );
    }

    #[test]
    fn durations() {
        for (v, want) in [
            ("10", 10.0),
            ("10s", 10.0),
            ("1.0", 1.0),
            ("500ms", 0.5),
            ("1m", 60.0),
        ] {
            assert_eq!(parse_duration("--x", v).unwrap(), want, "{v}");
        }
        for v in ["abc", "-1s", "0", ""] {
            assert!(parse_duration("--x", v).is_err(), "{v}");
        }
    }

    #[test]
    fn bad_satellite_values() {
        // Each gets the message that says what is wrong with it.
        for (u, says) in [
            ("ftp://x", "expects http(s)://host[:port]"),
            ("http://", "expects http(s)://host[:port]"),
            ("sat:9999", "expects http(s)://host[:port]"),
            ("http://[::1", "expects http(s)://host[:port]"),
            ("https://:443/", "expects http(s)://host[:port]"),
            ("http://h:notaport", "has a bad port"),
            ("https://h:99999/v1", "has a bad port"),
            (
                "https://user:pw@sat:9999",
                "user name or password in the URL",
            ),
        ] {
            let e = parse_with_env(&["--satellite-url", u], &[]).unwrap_err();
            assert!(
                e.contains("--satellite-url") && e.contains(says),
                "{u}: {e}"
            );
            assert!(e.contains("http://levoai-satellite:9999"), "{u}: {e}");
        }
        for u in ["http://sat", "HTTPS://sat:8443/base/", "http://[::1]:9999"] {
            assert!(parse_with_env(&["--satellite-url", u], &[]).is_ok(), "{u}");
        }
        let e = parse_with_env(&["--out", "-", "--rate-limit", "-5"], &[]).unwrap_err();
        assert!(e.contains("--rate-limit"), "{e}");
        let e = parse_with_env(&["--out", "-", "--host-allow", "("], &[]).unwrap_err();
        assert!(e.contains("--host-allow"), "{e}");
    }

    #[test]
    fn stdout_by_default_and_format() {
        // Neither --out nor a satellite: stdout, as tcpdump -r prints.
        let a = parse_with_env(&["-r", "x.pcap"], &[]).unwrap();
        assert_eq!(a.out.as_deref(), Some("-"));
        assert_eq!(a.format, None);
        // A satellite alone: no local output.
        let a = parse_with_env(&[], &[("LEVO_SATELLITE_URL", "http://s:1")]).unwrap();
        assert_eq!(a.out, None);
        for (args, want) in [
            (&["--format", "text"][..], Format::Text),
            (&["--format", "json", "--out", "-"][..], Format::Json),
            (&["--out", "t.txt", "--format", "text"][..], Format::Text),
        ] {
            let a = parse_with_env(args, &[]).unwrap();
            assert_eq!(a.format, Some(want), "{args:?}");
        }
        for (args, says) in [
            (&["--format", "yaml"][..], "json or text, not 'yaml'"),
            (&["--format", "text", "--out", "x.HAR"][..], "HAR"),
            (
                &["--format", "text", "--satellite-url", "http://s:1"][..],
                "add --out -",
            ),
        ] {
            let e = parse_with_env(args, &[]).unwrap_err();
            assert!(e.contains("--format") && e.contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn spool_flags() {
        let a = parse_with_env(
            &[
                "--satellite-url",
                "http://s:1",
                "--spool-dir",
                "/var/spool/x",
                "--spool-mb",
                "64",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            a.spool_dir.as_deref(),
            Some(std::path::Path::new("/var/spool/x"))
        );
        assert_eq!(a.spool_mb, 64);
        let a = parse_with_env(&["--satellite-url", "http://s:1"], &[]).unwrap();
        assert_eq!((a.spool_dir.is_none(), a.spool_mb), (true, 256));
        for (args, says) in [
            (&["--out", "-", "--spool-dir", "/x"][..], "--satellite-url"),
            (
                &["--satellite-url", "http://s:1", "--spool-mb", "8"],
                "--spool-dir",
            ),
            (
                &[
                    "--satellite-url",
                    "http://s:1",
                    "--spool-dir",
                    "/x",
                    "--spool-mb",
                    "0",
                ],
                "--spool-mb",
            ),
        ] {
            let e = parse_with_env(args, &[]).unwrap_err();
            assert!(e.contains(says), "{args:?}: {e}");
        }
    }

    #[test]
    fn small_snaplen_refused() {
        let e = err(&["apidump", "--out", "-", "--snaplen", "1500"]);
        assert!(e.contains("65535"), "{e}");
    }

    #[test]
    fn read_and_interface_conflict() {
        let e = err(&["apidump", "--out", "-", "-r", "x.pcap", "-i", "lo"]);
        assert!(e.contains("cannot be used together"), "{e}");
    }
}
