//! gRPC status codes: `grpc-status` parsing ([`parse_status`]), the 17 codes and their names
//! ([`Code`]), which are server-side errors for OpenTelemetry, and the status a client sees
//! for a stream reset without trailers ([`status_from_reset`]).

/// The gRPC status codes (grpc/grpc doc/statuscodes.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Code {
    /// 0: success.
    Ok = 0,
    /// 1: cancelled, typically by the caller.
    Cancelled = 1,
    /// 2: unknown error.
    Unknown = 2,
    /// 3: the client specified an invalid argument.
    InvalidArgument = 3,
    /// 4: the deadline expired before the operation completed.
    DeadlineExceeded = 4,
    /// 5: some requested entity was not found.
    NotFound = 5,
    /// 6: the entity the client tried to create already exists.
    AlreadyExists = 6,
    /// 7: the caller may not execute the operation.
    PermissionDenied = 7,
    /// 8: some resource has been exhausted.
    ResourceExhausted = 8,
    /// 9: the system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// 10: the operation was aborted (a concurrency conflict).
    Aborted = 10,
    /// 11: the operation was attempted past the valid range.
    OutOfRange = 11,
    /// 12: the operation is not implemented or supported.
    Unimplemented = 12,
    /// 13: internal error.
    Internal = 13,
    /// 14: the service is currently unavailable.
    Unavailable = 14,
    /// 15: unrecoverable data loss or corruption.
    DataLoss = 15,
    /// 16: the request lacks valid authentication credentials.
    Unauthenticated = 16,
}

const CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

impl Code {
    /// The code numbered `n`, if gRPC defines it.
    pub fn from_u32(n: u32) -> Option<Code> {
        CODES.get(usize::try_from(n).ok()?).copied()
    }

    /// Its number.
    pub fn as_u32(self) -> u32 {
        self as u32
    }

    /// Its name as gRPC spells it (`OK`, `CANCELLED`, ..., `UNAUTHENTICATED`).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Whether a server span with this status is an error (OpenTelemetry semantic conventions
    /// for gRPC): UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS.
    /// The other codes describe the client's request. (On client spans every code but OK is
    /// an error.)
    pub fn is_server_error(self) -> bool {
        matches!(
            self,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        )
    }
}

/// Parses a `grpc-status` value: decimal ASCII digits, nothing else, at most 10 of them and
/// at most 2^32 − 1 (a status outside the 17 codes is kept as a number; see
/// [`Code::from_u32`]).
pub fn parse_status(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 10 {
        return None;
    }
    let mut n = 0u64;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

/// The status a gRPC client reports for a stream reset by the server (RST_STREAM error code)
/// before any trailers (PROTOCOL-HTTP2.md, "Errors"): REFUSED_STREAM → UNAVAILABLE, CANCEL →
/// CANCELLED, ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED, INADEQUATE_SECURITY →
/// PERMISSION_DENIED, STREAM_CLOSED → none, every other code (NO_ERROR included, and codes
/// RFC 9113 does not define) → INTERNAL.
pub fn status_from_reset(http2_code: u32) -> Option<Code> {
    Some(match http2_code {
        0x5 => return None,
        0x7 => Code::Unavailable,
        0x8 => Code::Cancelled,
        0xb => Code::ResourceExhausted,
        0xc => Code::PermissionDenied,
        _ => Code::Internal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        let names = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        for (n, name) in names.iter().enumerate() {
            let code = Code::from_u32(n as u32).unwrap();
            assert_eq!(code.as_u32(), n as u32);
            assert_eq!(code.name(), *name);
        }
        assert_eq!(Code::from_u32(17), None);
        assert_eq!(Code::from_u32(u32::MAX), None);
    }

    #[test]
    fn server_errors() {
        let errors: Vec<u32> = (0..17)
            .filter(|&n| Code::from_u32(n).unwrap().is_server_error())
            .collect();
        assert_eq!(errors, [2, 4, 12, 13, 14, 15]);
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Option<u32>)] = &[
            ("0", Some(0)),
            ("2", Some(2)),
            ("16", Some(16)),
            ("17", Some(17)),
            ("007", Some(7)),
            ("4294967295", Some(u32::MAX)),
            ("4294967296", None),
            ("99999999999", None),
            ("", None),
            (" 0", None),
            ("0 ", None),
            ("-1", None),
            ("+1", None),
            ("1a", None),
            ("OK", None),
        ];
        for &(value, want) in cases {
            assert_eq!(parse_status(value.as_bytes()), want, "{value:?}");
        }
    }

    #[test]
    fn reset_mapping() {
        let cases = [
            (0x0, Some(Code::Internal)),
            (0x1, Some(Code::Internal)),
            (0x2, Some(Code::Internal)),
            (0x5, None),
            (0x7, Some(Code::Unavailable)),
            (0x8, Some(Code::Cancelled)),
            (0xb, Some(Code::ResourceExhausted)),
            (0xc, Some(Code::PermissionDenied)),
            (0xff, Some(Code::Internal)),
        ];
        for (code, want) in cases {
            assert_eq!(status_from_reset(code), want, "{code:#x}");
        }
    }
}
