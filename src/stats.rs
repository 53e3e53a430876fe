//! Counters: everything that is seen, kept or dropped is counted here and
//! reported on one line.

use std::fmt::Write as _;

use crate::unread::{Kind, Unread};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Every counter the sensor reports, and what it saw but could not
        /// read.
        #[derive(Debug, Default, Clone)]
        pub struct Stats {
            $(pub $name: u64,)*
            /// The spool's counters, with `--spool-dir`.
            pub spool: Option<SpoolStats>,
            /// The connections that were not HTTP/1.x: encrypted servers by
            /// name, ports by what they looked like (fixed tables).
            pub unread: Unread,
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
    malformed_requests,
    truncated_bodies,
    pool_exhausted,
    gaps,
    non_http_flows,
    tls_flows,
    http2_flows,
    h2_connections,
    h2_skipped,
    h2_streams,
    h2_resets,
    h2_headers_unknown,
    tunnels,
    non_tcp,
    ip_fragments,
    malformed,
    snaplen_cut,
    filtered,
    rate_limited,
    endpoints_known,
    endpoint_evictions,
    traces_new_endpoint,
    traces_new_error,
    traces_fair_share,
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
    /// Advice when a capture produced no HTTP at all: what was seen, and
    /// the fix to try. `filter` is the user's --filter, if any.
    pub fn advice(&self, filter: Option<&str>) -> Option<String> {
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
        // HTTP/2 connections are read unless every HTTP/2 slot was taken (h2_skipped).
        let unread = self.tls_flows + self.h2_skipped + self.non_http_flows;
        if let Some(ports) = self.unread.ports().filter(|_| unread > 0) {
            why.push(format!("{unread} connection(s) could not be read: {ports}"));
            if self.unread.connections(Kind::Tls) > 0 {
                why.push(
                    "TLS is encrypted: capture the plaintext hop instead, behind the load \
                     balancer or the TLS-terminating proxy (in an ECS task, the app \
                     container's own HTTP port)"
                        .to_string(),
                );
            }
            if self.unread.connections(Kind::Http2) > 0 {
                why.push(
                    "HTTP/2 connections past --max-h2-connections were not read: raise it \
                     (about 19 KiB each)"
                        .to_string(),
                );
            }
            if self.unread.connections(Kind::Other) > 0 {
                why.push(
                    "'other' is not HTTP (a database, a cache, a queue...): leave those ports \
                     out with --filter"
                        .to_string(),
                );
            }
            why.push(match filter {
                Some(f) => format!(
                    "if the service's plain-HTTP port is not among these, widen the filter \
                     (--filter '{f}')"
                ),
                None => "if the service's plain-HTTP port is not among these, check the \
                         interface (-i)"
                    .to_string(),
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Addr;

    #[test]
    fn advice_names_the_ports_and_the_fixes() {
        let mut st = Stats {
            packets: 40,
            ..Stats::default()
        };
        let end = |last: u8, port: u16| (Addr::v4([10, 0, 0, last]), port);
        st.tls_flows = 2;
        st.unread
            .tls(&[22, 3, 1, 0, 1, 11], end(1, 40000), end(9, 443));
        st.unread
            .tls(&[22, 3, 1, 0, 1, 11], end(1, 40001), end(9, 443));
        st.http2_flows = 1;
        st.h2_skipped = 1;
        st.unread.http2(end(9, 8080));
        assert_eq!(
            st.advice(Some("tcp port 443 or tcp port 8080")).unwrap(),
            "3 connection(s) could not be read: port 443: 2 TLS, port 8080: 1 HTTP/2; \
             TLS is encrypted: capture the plaintext hop instead, behind the load balancer \
             or the TLS-terminating proxy (in an ECS task, the app container's own HTTP \
             port); HTTP/2 connections past --max-h2-connections were not read: raise it \
             (about 19 KiB each); if the service's \
             plain-HTTP port is not among these, widen the filter (--filter 'tcp port 443 \
             or tcp port 8080')"
        );
        st.non_http_flows = 1;
        st.unread.other([end(9, 5432), end(1, 40002)], None);
        let a = st.advice(None).unwrap();
        assert!(
            a.contains("port 443: 2 TLS, port 5432: 1 other, port 8080: 1 HTTP/2;"),
            "{a}"
        );
        assert!(a.contains("'other' is not HTTP"), "{a}");
        assert!(a.ends_with("check the interface (-i)"), "{a}");
        st.traces = 1;
        assert_eq!(st.advice(None), None);
        let quiet = Stats::default();
        assert_eq!(
            quiet.advice(None).unwrap(),
            "no packets were captured: check the interface (-i) and the --filter expression"
        );
    }
}
