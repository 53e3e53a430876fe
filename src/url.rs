//! Satellite URLs: `http[s]://host[:port][/path]`, read once. The argument
//! parser checks `--satellite-url` with it, the exporter's client connects to
//! what it gives, and the capture filter leaves out traffic to its host.

/// Where to send: from an `http[s]://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
    /// The Host header's value (as in the URL).
    pub authority: String,
}

/// Why a URL is not a satellite URL (for the message that says so).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BadUrl {
    /// Not `http(s)://host...` at all.
    Malformed,
    /// A port that is not a number from 0 to 65535.
    Port,
    /// `user:password@` in it.
    Credentials,
}

impl Target {
    /// An `http://` or `https://` URL with a valid port and no credentials.
    pub fn parse(url: &str) -> Result<Target, BadUrl> {
        use BadUrl::*;
        let scheme = |s: &str| {
            url.get(..s.len())
                .is_some_and(|u| u.eq_ignore_ascii_case(s))
        };
        let (tls, rest) = if scheme("http://") {
            (false, &url[7..])
        } else if scheme("https://") {
            (true, &url[8..])
        } else {
            return Err(Malformed);
        };
        let default_port = if tls { 443 } else { 80 };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(Credentials);
        }
        let port = |p: &str| p.parse().map_err(|_| Port);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(Malformed)?;
            match after {
                "" => (h, default_port),
                p => (h, port(p.strip_prefix(':').ok_or(Malformed)?)?),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, port(p)?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(Malformed);
        }
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        Ok(Target {
            tls,
            host: host.to_string(),
            port,
            path,
            authority: authority.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("http://sat:9999/v1/traces").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("sat", 9999, "/v1/traces")
        );
        assert_eq!(t.authority, "sat:9999");
        let t = Target::parse("HTTP://10.0.0.1/v1/traces?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("10.0.0.1", 80, "/v1/traces?x=1")
        );
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 8080, "/")
        );
        assert_eq!(t.authority, "[::1]:8080");
        assert!(!t.tls);
        let t = Target::parse("https://sat.example.com/v1/traces").unwrap();
        assert_eq!(
            (t.tls, t.host.as_str(), t.port, t.path.as_str()),
            (true, "sat.example.com", 443, "/v1/traces")
        );
        let t = Target::parse("HTTPS://[::1]:8443").unwrap();
        assert_eq!((t.tls, t.host.as_str(), t.port), (true, "::1", 8443));
        for bad in [
            "https://u:p@sat/v1/traces",
            "https://",
            "http://",
            "http://:80/",
            "http://sat:99999/",
            "http://sat:x/",
            "http://u:p@sat/",
            "http://[::1/",
            "ftp://sat/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
