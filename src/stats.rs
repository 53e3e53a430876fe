//! Counters: everything that is seen, kept or dropped is counted here and
//! reported on one line.

use std::fmt::Write as _;

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Every counter the sensor reports.
        #[derive(Debug, Default, Clone)]
        pub struct Stats {
            $(pub $name: u64,)*
            /// The spool's counters, with `--spool-dir`.
            pub spool: Option<SpoolStats>,
        }

        impl Stats {
            /// `key=value` pairs in a fixed order.
            pub fn line(&self) -> String {
                let mut s = String::with_capacity(512);
                for (k, v) in self.fields() {
                    let _ = write!(s, "{k}={v} ");
                }
                s.pop();
                s
            }

            /// (name, value) of every counter, in the same order: the
            /// spool's (when there is one) before the last, peak_rss_kb.
            pub fn fields(&self) -> Vec<(&'static str, u64)> {
                let mut f = vec![$( (stringify!($name), self.$name), )*];
                if let Some(sp) = &self.spool {
                    let last = f.len() - 1;
                    f.splice(last..last, sp.fields());
                }
                f
            }
        }
    };
}

counters!(
    packets,
    bytes,
    kernel_drops,
    if_drops,
    flows_opened,
    flows_evicted,
    flows_timed_out,
    traces,
    requests_without_response,
    orphan_responses,
    parse_errors,
    truncated_bodies,
    pool_exhausted,
    gaps,
    non_http_flows,
    tls_flows,
    http2_flows,
    tunnels,
    non_tcp,
    ip_fragments,
    malformed,
    snaplen_cut,
    filtered,
    rate_limited,
    decode_errors,
    exported,
    export_batches,
    export_failures,
    export_dropped,
    export_truncated,
    export_queued,
    metrics_failures,
    peak_rss_kb,
);

/// The disk spool's counters (`--spool-dir`), reported only when there is
/// one.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SpoolStats {
    /// Traces written to the spool (batches the satellite could not take).
    pub spooled: u64,
    /// Traces sent from the spool and accepted by the satellite (also in
    /// `exported`).
    pub replayed: u64,
    /// Traces deleted from the spool undelivered: the oldest, to stay within
    /// `--spool-mb` or a full disk, and those of corrupt files.
    pub spool_dropped: u64,
    /// Spool files found corrupt or cut short, deleted and skipped.
    pub spool_corrupt: u64,
    /// Bytes of files in the spool now.
    pub spool_bytes: u64,
}

impl SpoolStats {
    fn fields(&self) -> [(&'static str, u64); 5] {
        [
            ("spooled", self.spooled),
            ("replayed", self.replayed),
            ("spool_dropped", self.spool_dropped),
            ("spool_corrupt", self.spool_corrupt),
            ("spool_bytes", self.spool_bytes),
        ]
    }
}

impl Stats {
    /// Advice when a capture produced no HTTP at all.
    pub fn advice(&self) -> Option<String> {
        if self.traces > 0 {
            return None;
        }
        let mut why = Vec::new();
        if self.packets == 0 {
            why.push(
                "no packets were captured: check the interface (-i) and the --filter expression"
                    .to_string(),
            );
        } else if self.packets == self.non_tcp + self.ip_fragments + self.malformed {
            why.push("no TCP packets were seen: check the --filter expression".to_string());
        }
        if self.tls_flows > 0 {
            why.push(format!(
                "{} connection(s) carried TLS: encrypted HTTP cannot be read; capture where the traffic is plain HTTP (e.g. behind the load balancer)",
                self.tls_flows
            ));
        }
        if self.http2_flows > 0 {
            why.push(format!(
                "{} connection(s) spoke HTTP/2, which is not parsed",
                self.http2_flows
            ));
        }
        if self.non_http_flows > 0 {
            why.push(format!(
                "{} connection(s) carried something other than HTTP/1.x",
                self.non_http_flows
            ));
        }
        if why.is_empty() {
            why.push("TCP was seen but no complete HTTP/1.x request: check that the filter covers the service's port".to_string());
        }
        Some(why.join("; "))
    }
}

/// Peak resident set size of this process in KiB (VmHWM).
///
/// Not getrusage's ru_maxrss: Linux carries that across execve, so it can
/// report the size of whatever started the sensor.
pub fn peak_rss_kb() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
