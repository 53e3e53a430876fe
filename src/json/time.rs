//! Timestamps as RFC 3339 text (UTC), written by hand: one per trace, and
//! for the log and the AWS request signatures.

use super::num::pair;

/// Microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn write_rfc3339(out: &mut Vec<u8>, us: u64) {
    let secs = us / 1_000_000;
    let frac = us % 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = (yoe + era * 400 + if m <= 2 { 1 } else { 0 }) as u64;
    // Four digits of year (the low ones, as a fixed-width field must).
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    pair(&mut b, 0, y / 100);
    pair(&mut b, 2, y);
    pair(&mut b, 5, m as u64);
    pair(&mut b, 8, d as u64);
    pair(&mut b, 11, rem / 3600);
    pair(&mut b, 14, rem / 60 % 60);
    pair(&mut b, 17, rem % 60);
    pair(&mut b, 20, frac / 10_000);
    pair(&mut b, 22, frac / 100);
    pair(&mut b, 24, frac);
    out.extend_from_slice(&b);
}

#[cfg(test)]
mod tests {
    use super::super::s;
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(s(|o| write_rfc3339(o, 0)), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            s(|o| write_rfc3339(o, 1_709_251_199_123_456)),
            "2024-02-29T23:59:59.123456Z"
        );
        assert_eq!(
            s(|o| write_rfc3339(o, 951_868_800_000_001)),
            "2000-03-01T00:00:00.000001Z"
        );
        // Read back through the inverse formula (days from a civil date),
        // across leap days and centuries, at varied times of day.
        let days_from_civil = |y: i64, m: i64, d: i64| {
            let y = if m <= 2 { y - 1 } else { y };
            let era = y.div_euclid(400);
            let yoe = y - era * 400;
            let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
            era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
        };
        for day in (0..60_000u64).step_by(7) {
            let us = day * 86_400_000_000 + (day * 7_919_993_377) % 86_400_000_000;
            let t = s(|o| write_rfc3339(o, us));
            let num = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap();
            assert_eq!(t.len(), 27, "{t}");
            assert_eq!(
                days_from_civil(num(0..4), num(5..7), num(8..10)),
                day as i64,
                "{t}"
            );
            let secs = num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
            assert_eq!(
                (secs * 1_000_000 + num(20..26)) as u64,
                us % 86_400_000_000,
                "{t}"
            );
        }
    }
}
