//! The endpoint inventory: what was seen of each endpoint (exchanges seen
//! and traced, answers by status class, p50/p99 duration, first and last
//! seen), and its two forms: JSON Lines (one line per endpoint) and a table
//! for a terminal. Both list endpoints by exchanges seen, most first.
//!
//! A JSON line:
//!
//! ```text
//! {"method":"GET","host":"api.example.com","template":"/users/{int}","seen":812,"traced":9,
//!  "status":{"1xx":0,"2xx":790,"3xx":0,"4xx":20,"5xx":1,"other":0,"none":1},
//!  "p50_us":12288,"p99_us":81920,
//!  "first_seen":"2024-05-01T12:00:00.000000Z","last_seen":"2024-05-01T12:59:58.120000Z"}
//! ```
//!
//! (on one line). `other` counts status codes outside 100–599, `none`
//! exchanges that ended without a response; p50/p99 are null until a
//! response was seen and come from the sketch (`sketch.rs`: within 12.5%).

use std::io::{self, Write};

use super::sketch::Sketch;
use super::table::Table;
use crate::json::{json_str, put_u64, write_rfc3339};

/// Status classes, in the order of `Stats::status`.
pub const CLASSES: [&str; 7] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other", "none"];

/// The index in `Stats::status` of a final status (None: no response).
pub fn class_of(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => (s / 100 - 1) as usize,
        Some(_) => 5,
        None => 6,
    }
}

/// What was seen of one endpoint.
#[derive(Clone, Copy, Default, Debug)]
pub struct Stats {
    pub seen: u64,
    pub traced: u64,
    /// By `CLASSES`.
    pub status: [u64; 7],
    /// Request times (microseconds since 1970).
    pub first_us: u64,
    pub last_us: u64,
    /// From the request's first packet to the response's last.
    pub durations: Sketch,
}

impl Stats {
    /// An exchange's request, at `ts`.
    pub fn request(&mut self, ts: u64) {
        if self.seen == 0 || ts < self.first_us {
            self.first_us = ts;
        }
        self.last_us = self.last_us.max(ts);
        self.seen += 1;
    }

    /// The same exchange when it is done.
    pub fn finish(&mut self, status: Option<u16>, duration_us: Option<u64>, traced: bool) {
        self.status[class_of(status)] += 1;
        if let Some(d) = duration_us {
            self.durations.add(d);
        }
        self.traced += traced as u64;
    }
}

// SAFETY: integers and a `Sketch` (an array of u16): all zeroes is
// `Stats::default()`.
unsafe impl super::Zeroed for Stats {}

/// Put the slots in use in `order`, most seen first (ties by key, so the
/// order is stable); returns how many.
pub fn sort(order: &mut [u32], table: &Table, stats: &[Stats]) -> usize {
    let n = table.len();
    for (i, o) in order[..n].iter_mut().enumerate() {
        *o = i as u32;
    }
    order[..n].sort_unstable_by(|&a, &b| {
        let (ka, kb) = (table.key(a), table.key(b));
        stats[b as usize]
            .seen
            .cmp(&stats[a as usize].seen)
            .then_with(|| ka.host().cmp(kb.host()))
            .then_with(|| ka.template().cmp(kb.template()))
            .then_with(|| ka.method().cmp(kb.method()))
    });
    n
}

/// One JSON line for the endpoint in `slot`, appended to `out`.
pub fn json_line(out: &mut Vec<u8>, table: &Table, stats: &Stats, slot: u32) {
    let k = table.key(slot);
    out.extend_from_slice(b"{\"method\":");
    json_str(out, k.method());
    out.extend_from_slice(b",\"host\":");
    json_str(out, k.host());
    out.extend_from_slice(b",\"template\":");
    json_str(out, k.template());
    out.extend_from_slice(b",\"seen\":");
    put_u64(out, stats.seen);
    out.extend_from_slice(b",\"traced\":");
    put_u64(out, stats.traced);
    out.extend_from_slice(b",\"status\":{");
    for (i, (name, n)) in CLASSES.iter().zip(stats.status).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        put_u64(out, n);
    }
    out.push(b'}');
    for (name, q) in [(&b",\"p50_us\":"[..], 0.5), (b",\"p99_us\":", 0.99)] {
        out.extend_from_slice(name);
        match stats.durations.quantile(q) {
            Some(us) => put_u64(out, us),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"first_seen\":\"");
    write_rfc3339(out, stats.first_us);
    out.extend_from_slice(b"\",\"last_seen\":\"");
    write_rfc3339(out, stats.last_us);
    out.extend_from_slice(b"\"}\n");
}

/// Every endpoint as JSON Lines, most seen first. `order` has a slot per
/// endpoint; `line` is reused for each line.
pub fn write_jsonl(
    w: &mut dyn Write,
    table: &Table,
    stats: &[Stats],
    order: &mut [u32],
    line: &mut Vec<u8>,
) -> io::Result<()> {
    let n = sort(order, table, stats);
    for &slot in &order[..n] {
        line.clear();
        json_line(line, table, &stats[slot as usize], slot);
        w.write_all(line)?;
    }
    Ok(())
}

/// A duration for a person: `850us`, `12.3ms`, `1.25s`, `-` when unknown.
fn duration(w: &mut dyn Write, us: Option<u64>) -> io::Result<()> {
    match us {
        None => write!(w, "{:>8}", "-"),
        Some(us) if us < 1_000 => write!(w, "{:>6}us", us),
        Some(us) if us < 1_000_000 => write!(w, "{:>6.1}ms", us as f64 / 1e3),
        Some(us) => write!(w, "{:>7.2}s", us as f64 / 1e6),
    }
}

/// Bytes as text for the table (what is not UTF-8 as `?`), at most `max`
/// characters, padded to `width`.
fn text(w: &mut dyn Write, b: &[u8], width: usize) -> io::Result<()> {
    let mut n = 0;
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            let c = if c.is_control() { '?' } else { c };
            write!(w, "{c}")?;
            n += 1;
        }
        if !chunk.invalid().is_empty() {
            w.write_all(b"?")?;
            n += 1;
        }
    }
    for _ in n..width {
        w.write_all(b" ")?;
    }
    Ok(())
}

/// The readable table: one row per endpoint, most seen first.
///
/// ```text
///     SEEN  TRACED     2XX     3XX     4XX     5XX   OTHER    NONE      P50      P99  METHOD  HOST              TEMPLATE
///    18000      31   17990       0       0      10       0       0    1.1ms    3.2ms  GET     internal.example  /healthz
/// ```
/// OTHER is 1xx and codes outside 100–599; NONE, no response.
pub fn write_table(
    w: &mut dyn Write,
    table: &Table,
    stats: &[Stats],
    order: &mut [u32],
) -> io::Result<()> {
    let n = sort(order, table, stats);
    let width = |f: fn(&super::table::Key) -> &[u8], min: usize| {
        order[..n]
            .iter()
            .map(|&s| String::from_utf8_lossy(f(table.key(s))).chars().count())
            .fold(min, usize::max)
    };
    let (mw, hw) = (width(|k| k.method(), 6), width(|k| k.host(), 4));
    write!(
        w,
        "{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>9}{:>9}  ",
        "SEEN", "TRACED", "2XX", "3XX", "4XX", "5XX", "OTHER", "NONE", "P50", "P99"
    )?;
    text(w, b"METHOD", mw)?;
    w.write_all(b"  ")?;
    text(w, b"HOST", hw)?;
    w.write_all(b"  TEMPLATE\n")?;
    for &slot in &order[..n] {
        let s = &stats[slot as usize];
        let k = table.key(slot);
        write!(
            w,
            "{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8} ",
            s.seen,
            s.traced,
            s.status[1],
            s.status[2],
            s.status[3],
            s.status[4],
            s.status[0] + s.status[5],
            s.status[6]
        )?;
        duration(w, s.durations.quantile(0.5))?;
        w.write_all(b" ")?;
        duration(w, s.durations.quantile(0.99))?;
        w.write_all(b"  ")?;
        text(w, k.method(), mw)?;
        w.write_all(b"  ")?;
        text(w, k.host(), hw)?;
        w.write_all(b"  ")?;
        text(w, k.template(), 0)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::table::{Key, Table};
    use super::*;

    const T0: u64 = 1_714_564_800_000_000;

    fn sample() -> (Table, Vec<Stats>) {
        let mut t = Table::new(4);
        let mut st = vec![Stats::default(); 4];
        let mut ex = |t: &mut Table, m: &str, p: &str, ts: u64, status: Option<u16>, d: u64| {
            let f = t.find_or_insert(&Key::new(m, "api.example.com", p));
            let s = &mut st[f.slot as usize];
            s.request(ts);
            s.finish(status, status.map(|_| d), status == Some(500));
        };
        for i in 0..10 {
            ex(
                &mut t,
                "GET",
                &format!("/users/{i}"),
                T0 + i * 1_000_000,
                Some(200),
                12_000,
            );
        }
        ex(&mut t, "GET", "/users/3", T0 + 20_000_000, Some(404), 3_000);
        ex(&mut t, "POST", "/users", T0 + 5_000_000, Some(500), 900);
        ex(&mut t, "POST", "/users", T0 + 6_000_000, None, 0);
        ex(&mut t, "GET", "/health\"z", T0, Some(700), 90);
        (t, st)
    }

    #[test]
    fn classes() {
        assert_eq!(class_of(Some(101)), 0);
        assert_eq!(class_of(Some(204)), 1);
        assert_eq!(class_of(Some(308)), 2);
        assert_eq!(class_of(Some(404)), 3);
        assert_eq!(class_of(Some(599)), 4);
        assert_eq!(class_of(Some(600)), 5);
        assert_eq!(class_of(Some(99)), 5);
        assert_eq!(class_of(None), 6);
    }

    #[test]
    fn json_lines() {
        let (t, st) = sample();
        let mut out = Vec::new();
        let mut order = vec![0u32; 4];
        write_jsonl(&mut out, &t, &st, &mut order, &mut Vec::new()).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "{\"method\":\"GET\",\"host\":\"api.example.com\",\"template\":\"/users/{int}\",\
             \"seen\":11,\"traced\":0,\"status\":{\"1xx\":0,\"2xx\":10,\"3xx\":0,\"4xx\":1,\
             \"5xx\":0,\"other\":0,\"none\":0},\"p50_us\":11264,\"p99_us\":11264,\
             \"first_seen\":\"2024-05-01T12:00:00.000000Z\",\
             \"last_seen\":\"2024-05-01T12:00:20.000000Z\"}"
        );
        assert!(lines[1].starts_with("{\"method\":\"POST\""), "{}", lines[1]);
        assert!(lines[1].contains("\"traced\":1,"));
        assert!(lines[1].contains("\"5xx\":1,\"other\":0,\"none\":1}"));
        assert!(
            lines[2].contains("\"template\":\"/health\\\"z\""),
            "{}",
            lines[2]
        );
        assert!(lines[2].contains("\"other\":1"));
        for l in lines {
            serde_json::from_str::<serde_json::Value>(l).unwrap();
        }
    }

    #[test]
    fn table_for_a_terminal() {
        let (t, st) = sample();
        let mut out = Vec::new();
        let mut order = vec![0u32; 4];
        write_table(&mut out, &t, &st, &mut order).unwrap();
        let text = String::from_utf8(out).unwrap();
        let want = concat!(
            "    SEEN  TRACED     2XX     3XX     4XX     5XX   OTHER    NONE      P50      P99  METHOD  HOST             TEMPLATE\n",
            "      11       0      10       0       1       0       0       0   11.3ms   11.3ms  GET     api.example.com  /users/{int}\n",
            "       2       1       0       0       0       1       0       1    960us    960us  POST    api.example.com  /users\n",
            "       1       0       0       0       0       0       1       0     88us     88us  GET     api.example.com  /health\"z\n",
        );
        assert_eq!(text, want, "\n{text}");
    }

    #[test]
    fn an_empty_inventory_is_a_header() {
        let t = Table::new(2);
        let mut out = Vec::new();
        write_table(&mut out, &t, &[], &mut []).unwrap();
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
        let mut out = Vec::new();
        write_jsonl(&mut out, &t, &[], &mut [], &mut Vec::new()).unwrap();
        assert!(out.is_empty());
    }
}
