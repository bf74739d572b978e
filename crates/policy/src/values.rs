//! Typed values used by the Numeric, Date, IP and Binary condition operators
//! (IAM User Guide, "IAM JSON policy elements: Condition operators").

use std::net::IpAddr;

/// Parses a number the way the Numeric operators compare them (as numbers,
/// so `"10"` equals `"10.0"`).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("nan") || t.to_ascii_lowercase().contains("inf") {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str, min: i64, max: i64) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 10 {
        return None;
    }
    let v: i64 = s.parse().ok()?;
    (min..=max).contains(&v).then_some(v)
}

/// Parses a date: epoch seconds (`1700000000`, optionally fractional) or ISO
/// 8601 (`2020-01-01`, `2020-01-01T12:00Z`, `2020-01-01T12:00:00.5+02:00`,
/// `2020-01-01T12:00:00-0500`). A missing zone means UTC. Returns nanoseconds
/// since the Unix epoch.
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || int.len() > 18 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let secs: i128 = int.parse().ok()?;
        return Some(secs * 1_000_000_000 + frac_nanos(frac)?);
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?, 0, 9999)?;
    let m = dp.next().map_or(Some(1), |v| num(v, 1, 12))?;
    let d = dp.next().map_or(Some(1), |v| num(v, 1, 31))?;
    if dp.next().is_some() {
        return None;
    }
    let mut nanos: i128 = i128::from(days_from_civil(y, m, d)) * 86_400 * 1_000_000_000;
    if let Some(t) = time {
        // Split off the zone designator.
        let (clock, offset_secs) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0i64)
        } else if let Some(i) = t.rfind(['+', '-']) {
            let (c, z) = (&t[..i], &t[i..]);
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let z = &z[1..];
            let (hh, mm) = match z.split_once(':') {
                Some((h, m)) => (h, m),
                None if z.len() == 4 && z.is_ascii() => (&z[..2], &z[2..]),
                None => (z, "0"),
            };
            (c, sign * (num(hh, 0, 23)? * 3600 + num(mm, 0, 59)? * 60))
        } else {
            (t, 0)
        };
        let mut cp = clock.split(':');
        let hh = num(cp.next()?, 0, 23)?;
        let mm = cp.next().map_or(Some(0), |v| num(v, 0, 59))?;
        let (ss, frac) = match cp.next() {
            Some(sec) => {
                let (i, f) = sec.split_once('.').unwrap_or((sec, ""));
                (num(i, 0, 60)?, frac_nanos(f)?)
            }
            None => (0, 0),
        };
        if cp.next().is_some() {
            return None;
        }
        nanos += i128::from(hh * 3600 + mm * 60 + ss - offset_secs) * 1_000_000_000 + frac;
    }
    Some(nanos)
}

fn frac_nanos(f: &str) -> Option<i128> {
    if !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: String = f.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    digits.parse().ok()
}

/// An IPv4 or IPv6 network (IAM User Guide: "IP address condition operators";
/// a value without a prefix length is a single address, /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl IpNet {
    /// Parses `a.b.c.d[/n]` or `v6[/n]`.
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = canonical(a.parse::<IpAddr>().ok()?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => {
                if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let v: u8 = p.parse().ok()?;
                (v <= max).then_some(v)?
            }
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    /// Whether the network contains `ip` (different families never match).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Parses a request-context IP value (a bare address; a `/n` suffix is ignored).
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let a = s.split_once('/').map_or(s, |(a, _)| a);
    a.parse().ok()
}

/// Decodes standard base64 (padding optional).
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let e = parse_date("1970-01-01T00:00:00Z");
        assert_eq!(e, Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000_000_000));
        assert_eq!(parse_date("86400"), Some(86_400_000_000_000));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_date("1970-01-01T00:00:00-0100"),
            Some(3_600_000_000_000)
        );
        assert_eq!(
            parse_date("2020-01-01T00:00:00.5Z"),
            parse_date("1577836800.5")
        );
        assert_eq!(
            parse_date("2019-12-31T23:00Z").map(|n| n / 1_000_000_000),
            Some(1_577_833_200)
        );
        assert_eq!(parse_date("garbage"), None);
        assert_eq!(parse_date("2020-13-01"), None);
        // Non-ASCII zone designators must not panic on byte slicing.
        assert_eq!(parse_date("2020-01-01T00:00:00+a€"), None);
        assert_eq!(parse_date("2020-01-01T00:00:00-é"), None);
    }

    #[test]
    fn ips() {
        let n = IpNet::parse("203.0.113.0/24").unwrap();
        assert!(n.contains("203.0.113.9".parse().unwrap()));
        assert!(!n.contains("203.0.114.9".parse().unwrap()));
        assert!(
            IpNet::parse("10.0.0.1")
                .unwrap()
                .contains("10.0.0.1".parse().unwrap())
        );
        let v6 = IpNet::parse("2001:DB8:1234:5678::/64").unwrap();
        assert!(v6.contains("2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(IpNet::parse("1.2.3.4/33").is_none());
    }

    #[test]
    fn b64() {
        assert_eq!(
            base64_decode("QmluYXJ5VmFsdWU="),
            Some(b"BinaryValue".to_vec())
        );
        assert_eq!(base64_decode("!!"), None);
    }
}
