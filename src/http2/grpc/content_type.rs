//! Which `content-type` values make a stream gRPC ([`content_type`]).
//!
//! gRPC proper sends `application/grpc`, optionally with a subtype suffix: `+proto`, `+json`
//! or a custom one. gRPC-Web (`application/grpc-web`, `application/grpc-web+proto`,
//! `application/grpc-web-text`, `...-text+proto`) is the same call model, but its trailers
//! travel in the body (a length-prefixed frame whose flag byte has bit 0x80 set) and the
//! `-text` variants base64 the whole body: they are told apart so that a caller counts
//! messages and reads the status only where it can.
//!
//! Media types are compared case-insensitively (RFC 9110 §8.3.1); parameters after `;` are
//! allowed (gRPC servers accept a prefix followed by `+` or `;`).

/// A gRPC flavour, by content type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// `application/grpc`, `application/grpc+proto`, `application/grpc+json`, ...: status in
    /// HTTP/2 trailers, messages in DATA.
    Grpc,
    /// `application/grpc-web[+subtype]`: messages in DATA, status in a body trailer frame
    /// (or in headers for a trailers-only response).
    GrpcWeb,
    /// `application/grpc-web-text[+subtype]`: the body is base64; messages cannot be counted
    /// without decoding it.
    GrpcWebText,
}

impl ContentType {
    /// Whether [`MessageCounter`](super::MessageCounter) can count this body's messages
    /// (everything but base64 bodies).
    pub fn counts_messages(self) -> bool {
        self != ContentType::GrpcWebText
    }
}

/// The gRPC flavour of a `content-type` value, or None for anything else. Every flavour is
/// gRPC for traces (`rpc.system` = `grpc`; service and method from `:path` alike).
pub fn content_type(value: &[u8]) -> Option<ContentType> {
    const BASE: &[u8] = b"application/grpc";
    let (head, rest) = value.split_at_checked(BASE.len())?;
    if !head.eq_ignore_ascii_case(BASE) {
        return None;
    }
    let (kind, rest) = if let Some(rest) = strip_prefix_ci(rest, b"-web-text") {
        (ContentType::GrpcWebText, rest)
    } else if let Some(rest) = strip_prefix_ci(rest, b"-web") {
        (ContentType::GrpcWeb, rest)
    } else {
        (ContentType::Grpc, rest)
    };
    match rest.first() {
        None | Some(b';' | b' ' | b'\t') => Some(kind),
        Some(b'+') if rest.len() > 1 => Some(kind),
        _ => None,
    }
}

fn strip_prefix_ci<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let (head, rest) = value.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        use ContentType::*;
        let cases: &[(&str, Option<ContentType>)] = &[
            ("application/grpc", Some(Grpc)),
            ("application/grpc+proto", Some(Grpc)),
            ("application/grpc+json", Some(Grpc)),
            ("application/grpc+thrift", Some(Grpc)),
            ("Application/GRPC", Some(Grpc)),
            ("application/grpc; charset=utf-8", Some(Grpc)),
            ("application/grpc;x=1", Some(Grpc)),
            ("application/grpc-web", Some(GrpcWeb)),
            ("application/grpc-web+proto", Some(GrpcWeb)),
            ("application/grpc-web-text", Some(GrpcWebText)),
            ("application/grpc-web-text+proto", Some(GrpcWebText)),
            ("application/grpc+", None),
            ("application/grpcx", None),
            ("application/grpc-webx", None),
            ("application/grpc-", None),
            ("application/grp", None),
            ("application/json", None),
            ("text/grpc", None),
            ("", None),
        ];
        for &(value, want) in cases {
            assert_eq!(content_type(value.as_bytes()), want, "{value}");
        }
        assert!(Grpc.counts_messages() && GrpcWeb.counts_messages());
        assert!(!GrpcWebText.counts_messages());
    }
}
