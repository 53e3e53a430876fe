//! `:path` of a gRPC call, `/package.Service/Method`, split into service and method
//! ([`split_path`]). Paths of another shape (some implementations allow overriding it) give
//! None: the trace keeps the path, without a service and method.

/// The service and method of a gRPC `:path`, borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RpcPath<'a> {
    /// `package.Service` (the package part is optional).
    pub service: &'a [u8],
    /// `Method`.
    pub method: &'a [u8],
}

/// Splits `/service/method`: a leading `/`, exactly one more `/`, both parts non-empty, and
/// no query (`?`) or fragment (`#`).
pub fn split_path(path: &[u8]) -> Option<RpcPath<'_>> {
    let rest = path.strip_prefix(b"/")?;
    if rest.iter().any(|&b| matches!(b, b'?' | b'#')) {
        return None;
    }
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (service, method) = (&rest[..slash], &rest[slash + 1..]);
    if service.is_empty() || method.is_empty() || method.contains(&b'/') {
        return None;
    }
    Some(RpcPath { service, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "/google.pubsub.v2.PublisherService/CreateTopic",
                Some(("google.pubsub.v2.PublisherService", "CreateTopic")),
            ),
            (
                "/helloworld.Greeter/SayHello",
                Some(("helloworld.Greeter", "SayHello")),
            ),
            ("/Greeter/SayHello", Some(("Greeter", "SayHello"))),
            (
                "/grpc.health.v1.Health/Check",
                Some(("grpc.health.v1.Health", "Check")),
            ),
            ("/a/b", Some(("a", "b"))),
            ("/", None),
            ("//Method", None),
            ("/Service/", None),
            ("/Service", None),
            ("Service/Method", None),
            ("/a/b/c", None),
            ("/a/b?x=1", None),
            ("/a/b#f", None),
            ("", None),
        ];
        for &(path, want) in cases {
            let got = split_path(path.as_bytes()).map(|p| {
                (
                    std::str::from_utf8(p.service).unwrap(),
                    std::str::from_utf8(p.method).unwrap(),
                )
            });
            assert_eq!(got, want, "{path}");
        }
    }
}
