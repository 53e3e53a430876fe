//! Named numbers of the protocol: SETTINGS identifiers (RFC 9113 §6.5.2, RFC 8441, RFC 9218)
//! and error codes (RFC 9113 §7).

/// SETTINGS parameter identifiers.
pub mod settings {
    /// The peer's HPACK encoder may use a dynamic table up to this size.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// Whether the sender accepts server push.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// Streams the sender lets its peer open at once.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// The sender's initial stream flow-control window.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// The largest frame payload the sender accepts: its peer's frames may be this long.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// Advisory limit on the size of header lists the sender accepts.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    /// RFC 8441: extended CONNECT (WebSockets over HTTP/2).
    pub const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
    /// RFC 9218: the sender ignores RFC 7540 priorities.
    pub const NO_RFC7540_PRIORITIES: u16 = 0x9;
}

/// The name of an RST_STREAM or GOAWAY error code, as RFC 9113 §7 spells it.
pub fn error_code_name(code: u32) -> Option<&'static str> {
    const NAMES: [&str; 14] = [
        "NO_ERROR",
        "PROTOCOL_ERROR",
        "INTERNAL_ERROR",
        "FLOW_CONTROL_ERROR",
        "SETTINGS_TIMEOUT",
        "STREAM_CLOSED",
        "FRAME_SIZE_ERROR",
        "REFUSED_STREAM",
        "CANCEL",
        "COMPRESSION_ERROR",
        "CONNECT_ERROR",
        "ENHANCE_YOUR_CALM",
        "INADEQUATE_SECURITY",
        "HTTP_1_1_REQUIRED",
    ];
    NAMES.get(usize::try_from(code).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_names() {
        assert_eq!(error_code_name(0), Some("NO_ERROR"));
        assert_eq!(error_code_name(0x8), Some("CANCEL"));
        assert_eq!(error_code_name(0xd), Some("HTTP_1_1_REQUIRED"));
        assert_eq!(error_code_name(0xe), None);
        assert_eq!(error_code_name(u32::MAX), None);
    }
}
