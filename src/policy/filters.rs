//! Which exchanges are kept, by where they go: host and path rules
//! (regular expressions, allow and deny), decided at the request.

use regex_lite::Regex;

/// Host and path rules.
pub struct Filters {
    host_allow: Vec<Regex>,
    path_allow: Vec<Regex>,
    host_deny: Vec<Regex>,
    path_deny: Vec<Regex>,
}

fn compile(v: &[String]) -> Vec<Regex> {
    // The command line checked every expression already.
    v.iter().filter_map(|r| Regex::new(r).ok()).collect()
}

impl Filters {
    pub fn new(
        host_allow: &[String],
        path_allow: &[String],
        host_deny: &[String],
        path_deny: &[String],
    ) -> Filters {
        Filters {
            host_allow: compile(host_allow),
            path_allow: compile(path_allow),
            host_deny: compile(host_deny),
            path_deny: compile(path_deny),
        }
    }

    /// `host` is the Host header without its port (or the server address);
    /// `path` is the request path without the query.
    pub fn pass(&self, host: &str, path: &str) -> bool {
        let any = |rs: &[Regex], s: &str| rs.iter().any(|r| r.is_match(s));
        (self.host_allow.is_empty() || any(&self.host_allow, host))
            && (self.path_allow.is_empty() || any(&self.path_allow, path))
            && !any(&self.host_deny, host)
            && !any(&self.path_deny, path)
    }
}

/// The Host header value without a port (`[v6]:port` keeps the brackets' content).
pub fn host_without_port(h: &str) -> &str {
    let h = h.trim();
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.contains(':') => {
            host
        }
        _ => h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = Filters::new(&["^api\\.".into()], &[], &[], &["^/health".into()]);
        assert!(f.pass("api.example.com", "/users"));
        assert!(!f.pass("www.example.com", "/users"));
        assert!(!f.pass("api.example.com", "/healthz"));
        assert_eq!(host_without_port("api.example.com:8080"), "api.example.com");
        assert_eq!(host_without_port("[::1]:80"), "::1");
        assert_eq!(host_without_port("::1"), "::1");
    }
}
