//! Path templates: the path of a request-target with its variable parts
//! (ids, tokens, dates, ...) replaced by typed placeholders, written into a
//! caller's fixed buffer without allocating.
//!
//! The rules, applied to each `/`-separated segment of the path (the query
//! and fragment are not part of a template):
//!
//! | placeholder | a segment that is (after percent-decoding) |
//! |---|---|
//! | `{int}`   | digits only: `42`, `0012` |
//! | `{uuid}`  | 8-4-4-4-12 hex digits with dashes, any case |
//! | `{date}`  | `YYYY-MM-DD` (month 01–12, day 01–31), alone or followed by `T` and a time (`2024-05-01T12:30:00Z`) |
//! | `{email}` | `local@domain.tld`: one `@`, a domain of two labels or more |
//! | `{hex}`   | 8 hex digits or more with at least one digit and one letter (`5f2b8c1e`, a SHA-1) |
//! | `{token}` | 16 characters or more of the base64 / base64url alphabet (letters, digits, `-_.~+/=`) with a digit, changing between small letters, capitals and digits at least once every four characters (API keys, JWTs, opaque ids); or any segment longer than 128 bytes |
//!
//! - A segment with a short extension (a dot, then 1–5 letters or digits with
//!   a letter) is templated on its stem: `123.json` → `{int}.json`; the
//!   token rule looks at the stem only (`main.4f3a9b2c.js` stays).
//! - Path parameters (`;` and what follows within a segment, as in
//!   `;jsessionid=…`) are dropped.
//! - Everything else is kept as sent, except percent-escapes of unreserved
//!   characters (letters, digits, `-._~`), which are decoded, and other
//!   escapes, whose hex digits are written in capitals: `%7e` and `~` are the
//!   same endpoint.
//! - An absolute-form target (`http://host/a`) contributes its path; `*`
//!   (OPTIONS) stays `*`.
//! - A template longer than the buffer is cut after its last whole segment
//!   that fits and ends in `/…`.
//!
//! Kept as words on purpose: `v1`, `api`, `v2`, `app.js`, slugs such as
//! `iphone15-pro-max-review` and camelCase such as `getUserById`.

/// The longest segment the rules look at, decoded; longer ones are `{token}`.
pub const SEGMENT_MAX: usize = 128;

/// What a template cut short ends with.
const CUT: &[u8] = "/…".as_bytes();

/// The smallest buffer `write` accepts.
pub const MIN_BUFFER: usize = 16;

/// What a variable segment was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Uuid,
    Date,
    Email,
    Hex,
    Token,
}

impl Kind {
    /// The placeholder written in its place.
    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Int => "{int}",
            Kind::Uuid => "{uuid}",
            Kind::Date => "{date}",
            Kind::Email => "{email}",
            Kind::Hex => "{hex}",
            Kind::Token => "{token}",
        }
    }
}

/// Write the template of `target` (a request-target as sent) into `out`;
/// returns its length. `out` must hold at least `MIN_BUFFER` bytes. The
/// result is UTF-8 when `target` is.
pub fn write(target: &str, out: &mut [u8]) -> usize {
    assert!(out.len() >= MIN_BUFFER, "template buffer too small");
    let path = path_of(target.as_bytes());
    let mut w = Out { buf: out, len: 0 };
    for (i, seg) in path.split(|&b| b == b'/').enumerate() {
        let boundary = w.len;
        let seg = &seg[..seg.iter().position(|&b| b == b';').unwrap_or(seg.len())];
        let fits = (i == 0 || w.put(b"/")) && segment(&mut w, seg);
        if !fits {
            // Back to the last segment boundary that leaves room for the mark.
            let mut end = boundary;
            while end + CUT.len() > w.buf.len() {
                end = w.buf[..end].iter().rposition(|&b| b == b'/').unwrap_or(0);
            }
            w.buf[end..end + CUT.len()].copy_from_slice(CUT);
            return end + CUT.len();
        }
    }
    w.len
}

/// The path of a request-target: without scheme and authority (absolute
/// form), query or fragment.
fn path_of(t: &[u8]) -> &[u8] {
    let starts = |p: &[u8]| t.len() >= p.len() && t[..p.len()].eq_ignore_ascii_case(p);
    let t = if starts(b"http://") || starts(b"https://") {
        let rest = &t[t.iter().position(|&b| b == b':').unwrap_or(0) + 3..];
        match rest.iter().position(|&b| matches!(b, b'/' | b'?' | b'#')) {
            Some(i) if rest[i] == b'/' => &rest[i..],
            _ => b"/",
        }
    } else {
        t
    };
    let end = t
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(t.len());
    &t[..end]
}

/// A bounded writer: `put` refuses what does not fit.
struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Out<'_> {
    fn put(&mut self, b: &[u8]) -> bool {
        if self.len + b.len() > self.buf.len() {
            return false;
        }
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
        true
    }
}

/// Write one segment (templated or literal); false when it does not fit.
fn segment(w: &mut Out, raw: &[u8]) -> bool {
    // Most segments are words: every rule needs a digit or an `@` (a UUID
    // could be letters only, but has 36 bytes), and escapes could hide one.
    if raw.len() <= SEGMENT_MAX
        && raw.len() != 36
        && !raw
            .iter()
            .any(|&b| b.is_ascii_digit() || b == b'@' || b == b'%')
    {
        return w.put(raw);
    }
    let mut buf = [0u8; SEGMENT_MAX];
    let Some(n) = decode(raw, &mut buf) else {
        return w.put(Kind::Token.placeholder().as_bytes());
    };
    let d = &buf[..n];
    if let Some(k) = classify_exact(d) {
        return w.put(k.placeholder().as_bytes());
    }
    match extension_dot(d) {
        Some(dot) => {
            if let Some(k) = classify(&d[..dot]) {
                return w.put(k.placeholder().as_bytes()) && w.put(&d[dot..]);
            }
        }
        None if is_token(d) => return w.put(Kind::Token.placeholder().as_bytes()),
        None => {}
    }
    literal(w, raw)
}

/// Percent-decode `raw` into `buf` (a `%` without two hex digits stays);
/// None when the result is longer than `buf`.
fn decode(raw: &[u8], buf: &mut [u8; SEGMENT_MAX]) -> Option<usize> {
    let (mut i, mut n) = (0, 0);
    while i < raw.len() {
        if n == buf.len() {
            return None;
        }
        match escape_at(raw, i) {
            Some(v) => {
                buf[n] = v;
                i += 3;
            }
            None => {
                buf[n] = raw[i];
                i += 1;
            }
        }
        n += 1;
    }
    Some(n)
}

/// The byte a `%XX` at `raw[i]` stands for.
fn escape_at(raw: &[u8], i: usize) -> Option<u8> {
    if raw[i] != b'%' || i + 2 >= raw.len() {
        return None;
    }
    Some(hex_val(raw[i + 1])? << 4 | hex_val(raw[i + 2])?)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Copy a literal segment, decoding escaped unreserved characters and
/// writing other escapes in capitals.
fn literal(w: &mut Out, raw: &[u8]) -> bool {
    let mut i = 0;
    while i < raw.len() {
        let ok = match escape_at(raw, i) {
            Some(v) if v.is_ascii_alphanumeric() || matches!(v, b'-' | b'.' | b'_' | b'~') => {
                i += 3;
                w.put(&[v])
            }
            Some(_) => {
                let e = [
                    b'%',
                    raw[i + 1].to_ascii_uppercase(),
                    raw[i + 2].to_ascii_uppercase(),
                ];
                i += 3;
                w.put(&e)
            }
            None => {
                i += 1;
                w.put(&raw[i - 1..i])
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Where a short extension starts (its dot), if the segment has one.
fn extension_dot(d: &[u8]) -> Option<usize> {
    let dot = d.iter().rposition(|&b| b == b'.')?;
    let ext = &d[dot + 1..];
    let ok = dot > 0
        && (1..=5).contains(&ext.len())
        && ext.iter().all(u8::is_ascii_alphanumeric)
        && ext.iter().any(u8::is_ascii_alphabetic);
    ok.then_some(dot)
}

/// The kind of a decoded segment, when a rule recognises it.
pub fn classify(d: &[u8]) -> Option<Kind> {
    classify_exact(d).or_else(|| is_token(d).then_some(Kind::Token))
}

/// `classify` without the token rule (which a segment with an extension
/// meets on its stem only: `main.4f3a9b2c.js` is not a token).
fn classify_exact(d: &[u8]) -> Option<Kind> {
    if d.is_empty() {
        None
    } else if d.iter().all(u8::is_ascii_digit) {
        Some(Kind::Int)
    } else if is_uuid(d) {
        Some(Kind::Uuid)
    } else if is_date(d) {
        Some(Kind::Date)
    } else if is_email(d) {
        Some(Kind::Email)
    } else if is_hex(d) {
        Some(Kind::Hex)
    } else {
        None
    }
}

fn is_uuid(d: &[u8]) -> bool {
    d.len() == 36
        && d.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Two or four digits from `d[at..]` as a number.
fn digits(d: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = d.get(at..at + n)?;
    s.iter().try_fold(0u32, |v, &b| {
        b.is_ascii_digit().then(|| v * 10 + (b - b'0') as u32)
    })
}

fn is_date(d: &[u8]) -> bool {
    let ymd = digits(d, 0, 4).is_some()
        && d.get(4) == Some(&b'-')
        && digits(d, 5, 2).is_some_and(|m| (1..=12).contains(&m))
        && d.get(7) == Some(&b'-')
        && digits(d, 8, 2).is_some_and(|m| (1..=31).contains(&m));
    if !ymd {
        return false;
    }
    match d.get(10) {
        None => true,
        Some(b'T' | b't') => {
            digits(d, 11, 2).is_some()
                && d[13..].iter().all(|&b| {
                    b.is_ascii_digit() || matches!(b, b':' | b'.' | b'+' | b'-' | b'Z' | b'z')
                })
        }
        Some(_) => false,
    }
}

fn is_email(d: &[u8]) -> bool {
    let Some(at) = d.iter().position(|&b| b == b'@') else {
        return false;
    };
    let (local, domain) = (&d[..at], &d[at + 1..]);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'\'')
        });
    let mut labels = 0;
    let domain_ok = domain.split(|&b| b == b'.').all(|l| {
        labels += 1;
        !l.is_empty()
            && l.len() <= 63
            && l.first() != Some(&b'-')
            && l.last() != Some(&b'-')
            && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let tld_ok = domain
        .rsplit(|&b| b == b'.')
        .next()
        .is_some_and(|t| t.len() >= 2 && t.iter().all(u8::is_ascii_alphabetic));
    local_ok && domain_ok && labels >= 2 && tld_ok
}

fn is_hex(d: &[u8]) -> bool {
    d.len() >= 8
        && d.iter().all(u8::is_ascii_hexdigit)
        && d.iter().any(u8::is_ascii_digit)
        && d.iter().any(u8::is_ascii_alphabetic)
}

/// Small letter, capital or digit (0, 1, 2); None for the separators.
fn class(b: u8) -> Option<u8> {
    match b {
        b'a'..=b'z' => Some(0),
        b'A'..=b'Z' => Some(1),
        b'0'..=b'9' => Some(2),
        _ => None,
    }
}

fn is_token(d: &[u8]) -> bool {
    if d.len() < 16
        || !d.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
        })
        || !d.iter().any(u8::is_ascii_digit)
    {
        return false;
    }
    // Changes of class between neighbouring letters and digits (separators
    // skipped): words change rarely, random characters often.
    let (mut prev, mut changes, mut chars) = (None, 0usize, 0usize);
    for c in d.iter().filter_map(|&b| class(b)) {
        if prev.is_some_and(|p| p != c) {
            changes += 1;
        }
        prev = Some(c);
        chars += 1;
    }
    changes * 4 >= chars.saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(target: &str) -> String {
        let mut buf = [0u8; 128];
        let n = write(target, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn int() {
        assert_eq!(t("/users/42"), "/users/{int}");
        assert_eq!(t("/users/0012/orders/7"), "/users/{int}/orders/{int}");
    }

    #[test]
    fn uuid() {
        assert_eq!(
            t("/orders/3F2504E0-4F89-11D3-9A0C-0305E82C3301/items"),
            "/orders/{uuid}/items"
        );
        assert_eq!(
            t("/o/3f2504e0-4f89-11d3-9a0c-0305e82c330"),
            "/o/{token}",
            "one digit short: not a UUID, still an opaque id"
        );
        assert_eq!(t("/o/3f2504e0-4f89"), "/o/3f2504e0-4f89");
    }

    #[test]
    fn date() {
        assert_eq!(t("/reports/2024-05-01"), "/reports/{date}");
        assert_eq!(t("/at/2024-05-01T12:30:00.5Z"), "/at/{date}");
        assert_eq!(t("/at/2024-05-01T12%3A30%3A00%2B02%3A00"), "/at/{date}");
        assert_eq!(t("/r/2024-13-01"), "/r/2024-13-01", "no month 13");
        assert_eq!(t("/r/2024-05-01x"), "/r/2024-05-01x");
    }

    #[test]
    fn email() {
        assert_eq!(
            t("/users/by-email/ann.lee+x@example.co.uk"),
            "/users/by-email/{email}"
        );
        assert_eq!(t("/users/ann%40example.com/keys"), "/users/{email}/keys");
        assert_eq!(t("/u/ann@localhost"), "/u/ann@localhost", "one label");
        assert_eq!(t("/u/@example.com"), "/u/@example.com");
    }

    #[test]
    fn hex() {
        assert_eq!(
            t("/files/2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
            "/files/{hex}"
        );
        assert_eq!(t("/objects/507f1f77bcf86cd799439011"), "/objects/{hex}");
        assert_eq!(t("/c/5f2b8c1e"), "/c/{hex}");
        assert_eq!(t("/c/5f2b8c1"), "/c/5f2b8c1", "seven digits");
        assert_eq!(t("/c/deadbeefcafe"), "/c/deadbeefcafe", "letters only");
        assert_eq!(t("/c/facade"), "/c/facade");
    }

    #[test]
    fn token() {
        assert_eq!(
            t(
                "/share/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            ),
            "/share/{token}"
        );
        assert_eq!(t("/keys/sk_live_4eC39HqLyjWDarjtT1zdp7dc"), "/keys/{token}");
        assert_eq!(t("/s/V1StGXR8_Z5jdHi6B-myT"), "/s/{token}", "a nanoid");
        assert_eq!(t("/s/aZ3kP9"), "/s/aZ3kP9", "short");
    }

    #[test]
    fn long_segment_is_a_token() {
        let long = format!("/blob/{}", "word-".repeat(30));
        assert_eq!(t(&long), "/blob/{token}");
    }

    #[test]
    fn extension() {
        assert_eq!(t("/exports/123.csv"), "/exports/{int}.csv");
        assert_eq!(t("/img/507f1f77bcf86cd799439011.webp"), "/img/{hex}.webp");
        assert_eq!(t("/static/app.js"), "/static/app.js");
        assert_eq!(t("/static/main.4f3a9b2c.js"), "/static/main.4f3a9b2c.js");
        assert_eq!(t("/d/2024-05-01.csv"), "/d/{date}.csv");
        assert_eq!(
            t("/t/2024-05-01T12:30:00.5Z"),
            "/t/{date}",
            "not an extension"
        );
        assert_eq!(t("/k/V1StGXR8_Z5jdHi6B-myT.png"), "/k/{token}.png");
    }

    #[test]
    fn words_are_kept() {
        for p in [
            "/v1/",
            "/api/v2/users",
            "/static/app.js",
            "/favicon.ico",
            "/api/v1/users/me/preferences",
            "/blog/iphone15-pro-max-review-2024",
            "/rpc/getUserAccountInformationById",
            "/oauth2/token",
            "/x86_64/packages",
            "/",
            "",
            "*",
        ] {
            assert_eq!(t(p), p);
        }
    }

    #[test]
    fn query_and_fragment_excluded() {
        assert_eq!(t("/search?q=42&page=2"), "/search");
        assert_eq!(t("/doc/7#section-2"), "/doc/{int}");
        assert_eq!(t("/?x=1"), "/");
    }

    #[test]
    fn absolute_form() {
        assert_eq!(t("http://api.example.com/users/42?x"), "/users/{int}");
        assert_eq!(t("HTTPS://api.example.com"), "/");
        assert_eq!(t("http://api.example.com?x=1"), "/");
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(t("/a%2Db/%7euser"), "/a-b/~user", "unreserved decoded");
        assert_eq!(t("/a%2fb/c%3a"), "/a%2Fb/c%3A", "others in capitals");
        assert_eq!(t("/100%"), "/100%", "a lone % is kept");
        assert_eq!(t("/50%zz"), "/50%zz");
        assert_eq!(t("/users/%34%32"), "/users/{int}", "classified decoded");
    }

    #[test]
    fn path_parameters_dropped() {
        assert_eq!(t("/cart;jsessionid=A1B2C3D4E5/items"), "/cart/items");
        assert_eq!(t("/users/42;v=1"), "/users/{int}");
    }

    #[test]
    fn cut_after_the_last_whole_segment() {
        let mut buf = [0u8; 32];
        let n = write("/alpha/beta/gamma/delta/epsilon/zeta", &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "/alpha/beta/gamma/delta/…"
        );
        let n = write("/alpha/beta/gamma/delta/epsil", &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "/alpha/beta/gamma/delta/epsil"
        );
        // A multi-byte character is never cut.
        let n = write("/ééééééééééééééééé", &mut buf);
        assert_eq!(std::str::from_utf8(&buf[..n]).unwrap(), "/…");
    }

    #[test]
    fn trailing_slash_and_empty_segments_kept() {
        assert_eq!(t("/users/42/"), "/users/{int}/");
        assert_eq!(t("//a"), "//a");
    }
}
