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
    Version,
    Help(&'static str),
}

/// Settings of `apidump`.
#[derive(Debug, Clone)]
pub struct ApidumpArgs {
    pub interfaces: Vec<String>,
    pub read_file: Option<PathBuf>,
    pub filter: Option<String>,
    pub out: Option<String>,
    pub count: Option<u64>,
    pub duration: Option<f64>,
    pub max_flows: u32,
    pub buffer_pool_mb: u32,
    pub max_http_length: u32,
    pub stream_timeout: f64,
    pub stats_interval: f64,
    pub snaplen: u32,
    pub pcap_buffer_mb: u32,
}

impl Default for ApidumpArgs {
    fn default() -> Self {
        ApidumpArgs {
            interfaces: Vec::new(),
            read_file: None,
            filter: None,
            out: None,
            count: None,
            duration: None,
            max_flows: 4096,
            buffer_pool_mb: 8,
            max_http_length: 1 << 20,
            stream_timeout: 10.0,
            stats_interval: 60.0,
            snaplen: 262_144,
            pcap_buffer_mb: 4,
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
  version    print the version
  help       this text; 'pcap-sensor help apidump' for a command's flags

examples:
  pcap-sensor apidump -r capture.pcap --out -
  pcap-sensor apidump -i any --filter 'tcp port 8080' --out -     (as root)
";

pub const APIDUMP_HELP: &str = "\
pcap-sensor apidump: capture HTTP/1.x exchanges and write one JSON line per exchange

usage: pcap-sensor apidump [-i IFACE]... | -r FILE  [FLAGS]

input:
  -i, --interface NAME        capture live on NAME (repeatable; default: any)
  -r, --read-file FILE        read a pcap or pcapng file instead
      --filter EXPR           BPF filter, e.g. 'tcp port 8080' (compiled by libpcap,
                              applied in the kernel on live capture)
      --snaplen BYTES         bytes kept per packet (default 262144; at least 65535)
      --pcap-buffer-mb N      kernel capture buffer (default 4)

output:
      --out DEST              '-' for stdout, or a file path (JSON Lines)
  -c, --count N               stop after N traces
      --duration SECS         stop a live capture after SECS seconds
      --stats-interval SECS   counters to stderr every SECS (default 60; 0 = only at exit)

limits (all memory is reserved at start-up):
      --max-flows N           TCP connections tracked at once (default 4096)
      --buffer-pool-mb N      memory for reassembly and kept message bytes (default 8)
      --max-http-length BYTES body bytes kept per message (default 1048576); the
                              rest is counted, not kept, and the trace says so
      --stream-timeout-seconds SECS
                              idle time before a connection is closed (default 10)

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
        "version" => Ok(Command::Version),
        "help" => match p.next()? {
            Some(Value(v)) if v == "apidump" => Ok(Command::Help(APIDUMP_HELP)),
            _ => Ok(Command::Help(MAIN_HELP)),
        },
        other => Err(UsageError(format!(
            "unknown command '{other}' (commands: apidump, version, help)"
        ))),
    }
}

fn parse_apidump(p: &mut lexopt::Parser) -> Result<Command, UsageError> {
    use lexopt::prelude::*;
    let mut a = ApidumpArgs::default();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help(APIDUMP_HELP)),
            Short('i') | Long("interface") => {
                a.interfaces.push(p.value()?.string()?);
            }
            Short('r') | Long("read-file") => a.read_file = Some(p.value()?.into()),
            Long("filter") => a.filter = Some(p.value()?.string()?),
            Long("out") => a.out = Some(p.value()?.string()?),
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
    if a.out.is_none() {
        return Err(UsageError(
            "nowhere to send traces: add --out - (print to the terminal) or --out FILE".into(),
        ));
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
