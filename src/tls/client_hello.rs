//! A TLS ClientHello read for what it says in the clear: the server name
//! (`server_name`, RFC 6066 §3) and the application protocols the client
//! offers (ALPN, RFC 7301).
//!
//! What is read: the bytes a client sent first on a connection. They must
//! start with a handshake record (content type 22, record version 3.x,
//! RFC 8446 §5.1) holding a ClientHello (handshake type 1, §4.1.2). A
//! handshake message may be split over several records, which must then
//! follow each other with nothing else in between (§5.1): they are read
//! across, as far as the bytes offered go. The body is read field by field
//! (legacy version, random, session id, cipher suites, compression
//! methods, then the extensions one by one), so a hello cut short by the
//! end of the bytes offered (a capture that holds only the first segment of
//! a large hello) still gives every extension that came before the cut;
//! [`ClientHello::complete`] says whether the whole message was there.
//!
//! Hostile bytes: every length is checked against the bytes left in its
//! enclosing structure and in the input, every loop consumes at least one
//! byte per turn, nothing is allocated and nothing panics. Names and
//! protocols are copied into fixed arrays (a name of more than
//! [`MAX_NAME`] bytes is cut and marked so) exactly as sent, except that
//! ASCII letters of the name are lowered (DNS names are case-insensitive);
//! making them printable is the reader's job (see `tls::names`).

/// Bytes of a server name kept: a DNS name has at most 253.
pub const MAX_NAME: usize = 253;
/// Bytes of the ALPN list kept, written as protocol names joined by commas
/// (`h2,http/1.1`).
pub const MAX_ALPN: usize = 48;

/// Largest record fragment allowed (TLSPlaintext.length, RFC 8446 §5.1).
const MAX_FRAGMENT: usize = 1 << 14;
/// Record content type of handshake messages.
const HANDSHAKE: u8 = 22;
/// Handshake message types (RFC 8446 §4).
pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
/// Extension types (IANA TLS ExtensionType registry).
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// Encrypted Client Hello (draft-ietf-tls-esni): the name read is then the
/// outer, public one.
const EXT_ECH: u16 = 0xfe0d;
/// NameType host_name in a ServerNameList.
const HOST_NAME: u8 = 0;

/// What a ClientHello said, as far as the bytes offered went.
#[derive(Clone, Copy)]
pub struct ClientHello {
    name: [u8; MAX_NAME],
    name_len: u8,
    /// The server name was longer than [`MAX_NAME`] and is cut.
    pub name_cut: bool,
    alpn: [u8; MAX_ALPN],
    alpn_len: u8,
    /// The ALPN list was longer than [`MAX_ALPN`] and is cut.
    pub alpn_cut: bool,
    /// The client offered Encrypted Client Hello: the real server name is
    /// encrypted, and the one read is the outer (public) name.
    pub ech: bool,
    /// The whole message was in the bytes offered.
    pub complete: bool,
}

impl Default for ClientHello {
    fn default() -> Self {
        ClientHello {
            name: [0; MAX_NAME],
            name_len: 0,
            name_cut: false,
            alpn: [0; MAX_ALPN],
            alpn_len: 0,
            alpn_cut: false,
            ech: false,
            complete: false,
        }
    }
}

impl std::fmt::Debug for ClientHello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHello")
            .field("name", &self.name().map(String::from_utf8_lossy))
            .field("name_cut", &self.name_cut)
            .field("alpn", &String::from_utf8_lossy(self.alpn()))
            .field("alpn_cut", &self.alpn_cut)
            .field("ech", &self.ech)
            .field("complete", &self.complete)
            .finish()
    }
}

impl ClientHello {
    /// The server name (`host_name` of the server_name extension), lower
    /// case, as far as kept; None when the client sent none (or the hello
    /// was cut before it).
    pub fn name(&self) -> Option<&[u8]> {
        (self.name_len > 0).then(|| &self.name[..self.name_len as usize])
    }

    /// The ALPN protocols offered, joined by commas; empty when none.
    pub fn alpn(&self) -> &[u8] {
        &self.alpn[..self.alpn_len as usize]
    }

    fn push_alpn(&mut self, p: &mut Reader, n: usize) -> Result<(), Stop> {
        let sep = usize::from(self.alpn_len > 0);
        let at = self.alpn_len as usize;
        if self.alpn_cut || at + sep + n > MAX_ALPN {
            self.alpn_cut = true;
            return p.skip(n);
        }
        if sep == 1 {
            self.alpn[at] = b',';
        }
        p.copy(&mut self.alpn[at + sep..at + sep + n])?;
        self.alpn_len = (at + sep + n) as u8;
        Ok(())
    }
}

/// Why the bytes gave no ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotHello {
    /// They do not start with a TLS handshake record.
    NotHandshake,
    /// A handshake record, but of another message (its type): a
    /// ServerHello when the server's side is the first seen.
    Other(u8),
    /// Too few bytes to tell (less than a record header and a message type).
    Short,
    /// A length that does not fit, a record of another kind in the middle
    /// of the message, a field out of its allowed range.
    Malformed,
}

/// Where reading stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The bytes offered ended.
    End,
    /// The bytes are not a well-formed handshake.
    Bad,
}

/// A reader over the payloads of consecutive handshake records.
struct Reader<'a> {
    b: &'a [u8],
    /// Next byte of `b` to read (a record header when `left` is 0).
    pos: usize,
    /// Bytes left in the current record's payload.
    left: usize,
}

impl Reader<'_> {
    /// Into the next record's payload when the current one is used up.
    fn fill(&mut self) -> Result<(), Stop> {
        if self.left > 0 {
            return Ok(());
        }
        let h = self.b.get(self.pos..self.pos + 5).ok_or(Stop::End)?;
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        if h[0] != HANDSHAKE || h[1] != 3 || len == 0 || len > MAX_FRAGMENT {
            return Err(Stop::Bad);
        }
        self.pos += 5;
        self.left = len;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, Stop> {
        self.fill()?;
        let v = *self.b.get(self.pos).ok_or(Stop::End)?;
        self.pos += 1;
        self.left -= 1;
        Ok(v)
    }

    fn u16(&mut self) -> Result<usize, Stop> {
        Ok(usize::from(self.u8()?) << 8 | usize::from(self.u8()?))
    }

    fn u24(&mut self) -> Result<usize, Stop> {
        Ok(self.u16()? << 8 | usize::from(self.u8()?))
    }

    /// Pass over `n` bytes.
    fn skip(&mut self, mut n: usize) -> Result<(), Stop> {
        while n > 0 {
            self.fill()?;
            let here = n.min(self.left).min(self.b.len() - self.pos);
            if here == 0 {
                return Err(Stop::End);
            }
            self.pos += here;
            self.left -= here;
            n -= here;
        }
        Ok(())
    }

    /// Fill `out` with the next bytes.
    fn copy(&mut self, out: &mut [u8]) -> Result<(), Stop> {
        let mut done = 0;
        while done < out.len() {
            self.fill()?;
            let here = (out.len() - done)
                .min(self.left)
                .min(self.b.len() - self.pos);
            if here == 0 {
                return Err(Stop::End);
            }
            out[done..done + here].copy_from_slice(&self.b[self.pos..self.pos + here]);
            self.pos += here;
            self.left -= here;
            done += here;
        }
        Ok(())
    }
}

/// Bytes left in a structure whose length was announced.
struct Left(usize);

impl Left {
    /// Take `n` of them: a structure inside must fit in its parent.
    fn take(&mut self, n: usize) -> Result<(), Stop> {
        self.0 = self.0.checked_sub(n).ok_or(Stop::Bad)?;
        Ok(())
    }
}

/// The handshake message type at the start of `b`, when `b` starts with a
/// handshake record (without reading further).
pub fn message_type(b: &[u8]) -> Option<u8> {
    let mut r = Reader { b, pos: 0, left: 0 };
    r.u8().ok()
}

/// Read the ClientHello at the start of `b` (the first bytes a client sent).
pub fn parse(b: &[u8]) -> Result<ClientHello, NotHello> {
    let mut r = Reader { b, pos: 0, left: 0 };
    let kind = match r.u8() {
        Ok(k) => k,
        Err(Stop::End) => return Err(NotHello::Short),
        // A handshake record header with a length out of range.
        Err(Stop::Bad) if b[0] == HANDSHAKE && b[1] == 3 => return Err(NotHello::Malformed),
        Err(Stop::Bad) => return Err(NotHello::NotHandshake),
    };
    if kind != CLIENT_HELLO {
        return Err(NotHello::Other(kind));
    }
    let mut h = ClientHello::default();
    match body(&mut r, &mut h) {
        Ok(()) => {
            h.complete = true;
            Ok(h)
        }
        // Cut by the end of the bytes offered: what was read stands.
        Err(Stop::End) => Ok(h),
        Err(Stop::Bad) => Err(NotHello::Malformed),
    }
}

/// The ClientHello's body, after its type.
fn body(r: &mut Reader, h: &mut ClientHello) -> Result<(), Stop> {
    let mut msg = Left(r.u24()?);
    // legacy_version (2) and random (32).
    msg.take(34)?;
    r.skip(34)?;
    // legacy_session_id<0..32>
    let n = r.u8()?.into();
    if n > 32 {
        return Err(Stop::Bad);
    }
    msg.take(1 + n)?;
    r.skip(n)?;
    // cipher_suites<2..2^16-2>
    let n = r.u16()?;
    if n < 2 || n % 2 != 0 {
        return Err(Stop::Bad);
    }
    msg.take(2 + n)?;
    r.skip(n)?;
    // legacy_compression_methods<1..2^8-1>
    let n = r.u8()?.into();
    if n < 1 {
        return Err(Stop::Bad);
    }
    msg.take(1 + n)?;
    r.skip(n)?;
    if msg.0 == 0 {
        // A hello of TLS 1.0-1.2 may end here: no extensions.
        return Ok(());
    }
    // extensions<8..2^16-1> (RFC 8446 gives 8 as the minimum; older
    // versions allow fewer, which a sensor need not refuse).
    let n = r.u16()?;
    msg.take(2 + n)?;
    if msg.0 != 0 {
        return Err(Stop::Bad);
    }
    let mut exts = Left(n);
    while exts.0 > 0 {
        exts.take(4)?;
        let kind = r.u16()? as u16;
        let len = r.u16()?;
        exts.take(len)?;
        match kind {
            EXT_SERVER_NAME => server_name(r, len, h)?,
            EXT_ALPN => alpn(r, len, h)?,
            _ => {
                h.ech |= kind == EXT_ECH;
                r.skip(len)?
            }
        }
    }
    Ok(())
}

/// The server_name extension's ServerNameList: the first host_name kept.
fn server_name(r: &mut Reader, len: usize, h: &mut ClientHello) -> Result<(), Stop> {
    let mut ext = Left(len);
    if len == 0 {
        // A server's empty answer; a client never sends one: tolerated.
        return Ok(());
    }
    let n = r.u16()?;
    ext.take(2 + n)?;
    if ext.0 != 0 {
        return Err(Stop::Bad);
    }
    let mut list = Left(n);
    while list.0 > 0 {
        list.take(3)?;
        let kind = r.u8()?;
        let n = r.u16()?;
        list.take(n)?;
        if n == 0 {
            return Err(Stop::Bad);
        }
        if kind != HOST_NAME || h.name_len > 0 {
            r.skip(n)?;
            continue;
        }
        let keep = n.min(MAX_NAME);
        r.copy(&mut h.name[..keep])?;
        h.name[..keep].make_ascii_lowercase();
        h.name_len = keep as u8;
        h.name_cut = keep < n;
        r.skip(n - keep)?;
    }
    Ok(())
}

/// The ALPN extension's ProtocolNameList, joined by commas.
fn alpn(r: &mut Reader, len: usize, h: &mut ClientHello) -> Result<(), Stop> {
    let mut ext = Left(len);
    let n = r.u16()?;
    ext.take(2 + n)?;
    if ext.0 != 0 || n < 2 {
        return Err(Stop::Bad);
    }
    let mut list = Left(n);
    while list.0 > 0 {
        list.take(1)?;
        let n = r.u8()?.into();
        list.take(n)?;
        if n == 0 {
            return Err(Stop::Bad);
        }
        h.push_alpn(r, n)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
