//! `resource.Quantity` as Go encodes it: the upstream webhook decodes each
//! pod into typed structs and re-encodes the containers it patches, so a
//! container's `resources` come out in Kubernetes' canonical form (`0.5`
//! becomes `500m`, `1.5Gi` becomes `1536Mi`), or unchanged where
//! apimachinery keeps the string it parsed.

/// How a quantity is written: the suffix family it was parsed with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    /// `Ki`, `Mi`, … (powers of 1024).
    BinarySi,
    /// `n`, `u`, `m`, ``, `k`, `M`, … (powers of 1000).
    DecimalSi,
    /// `e3`, `E-6`.
    DecimalExponent,
}

/// The parts `parseQuantityString` splits a quantity into.
struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn split(s: &str) -> Option<Parts<'_>> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    while pos < b.len() && b[pos] == b'0' {
        pos += 1;
    }
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let end = digits(pos);
    let num = if end == pos { "0" } else { &s[pos..end] };
    pos = end;
    let mut denom = "";
    if pos < b.len() && b[pos] == b'.' {
        let end = digits(pos + 1);
        denom = &s[pos + 1..end];
        pos = end;
    }
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && matches!(b[pos], b'-' | b'+') {
        pos += 1;
    }
    if digits(pos) != b.len() {
        return None;
    }
    Some(Parts {
        positive,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// `(base, exponent, format)` of a suffix (`quantitySuffixer.interpret`).
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let binary = |e| Some((2, e, Format::BinarySi));
    let decimal = |e| Some((10, e, Format::DecimalSi));
    match suffix {
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "" => decimal(0),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            // Exponents beyond any real quantity are left as written.
            let e: i32 = rest
                .parse()
                .ok()
                .filter(|e: &i32| e.unsigned_abs() <= 1000)?;
            Some((10, e, Format::DecimalExponent))
        }
    }
}

/// The quantity `s` as Go's `Quantity.MarshalJSON` writes it; `None` when
/// it is not a quantity.
pub(crate) fn canonical(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let p = split(s)?;
    let (base, exponent, mut format) = interpret(p.suffix)?;
    // Longer numbers than any quantity has are left as written.
    if p.num.len() + p.denom.len() > 36 {
        return None;
    }
    let digits = format!("{}{}", p.num, p.denom);
    // apimachinery's fast path keeps the string it parsed when it is
    // already canonical (its own tests of that are these).
    let (fast_precision, mut scale) = match format {
        Format::BinarySi if exponent >= 0 && p.denom.is_empty() => (
            15 - p.num.len() as i32 - (exponent as f32 * 3.0 / 10.0) as i32 - 1,
            0,
        ),
        Format::BinarySi => (-1, 0),
        _ => (18 - (p.num.len() + p.denom.len()) as i32, exponent),
    };
    if fast_precision >= 0 {
        scale -= p.denom.len() as i32;
        if scale >= -9
            && let Ok(value) = digits.parse::<i64>()
        {
            let mantissa: i64 = if format == Format::BinarySi {
                1i64 << exponent
            } else {
                1
            };
            if value.checked_mul(mantissa).is_some() {
                let reused = match format {
                    Format::BinarySi => exponent % 10 == 0 && value & 0x07 != 0,
                    _ => scale % 3 == 0 && !digits.ends_with("000") && !digits.starts_with('0'),
                };
                if reused {
                    return Some(s.to_string());
                }
            }
        }
    }
    // The exact value: `amount × 10^scale10`.
    let mut amount: i128 = digits.parse().ok()?;
    let mut scale10 = -(p.denom.len() as i32);
    if base == 2 {
        amount = amount.checked_mul(1i128.checked_shl(u32::try_from(exponent).ok()?)?)?;
    } else {
        scale10 += exponent;
    }
    // Non-zero values are rounded up (away from zero) to a nano.
    if scale10 < -9 {
        let div = 10i128.checked_pow(u32::try_from(-9 - scale10).ok()?)?;
        amount = amount.checked_add(div - 1)? / div;
        scale10 = -9;
    }
    if !p.positive {
        amount = -amount;
    }
    if amount == 0 {
        return Some("0".into());
    }
    if format == Format::BinarySi {
        // Small or fractional binary quantities are written in decimal.
        let whole = if scale10 >= 0 {
            amount.checked_mul(10i128.checked_pow(scale10 as u32)?)
        } else {
            let d = 10i128.checked_pow((-scale10) as u32)?;
            (amount % d == 0).then_some(amount / d)
        };
        match whole {
            Some(v) if !(-1024 < v && v < 1024) => {
                let (mut v, mut k) = (v, 0);
                while v % 1024 == 0 {
                    v /= 1024;
                    k += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].get(k)?;
                return Some(format!("{v}{suffix}"));
            }
            _ => format = Format::DecimalSi,
        }
    }
    while amount % 10 == 0 {
        amount /= 10;
        scale10 += 1;
    }
    while scale10.rem_euclid(3) != 0 {
        amount = amount.checked_mul(10)?;
        scale10 -= 1;
    }
    let suffix = match format {
        Format::DecimalExponent if scale10 == 0 => String::new(),
        Format::DecimalExponent => format!("e{scale10}"),
        _ => match scale10 {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => return None,
        }
        .to_string(),
    };
    Some(format!("{amount}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::canonical;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a pod spec holds, canonicalizing never panics.
        #[test]
        fn never_panics(
            s in "[+-]?[0-9]{0,40}(\\.[0-9]{0,40})?([eE][+-]?[0-9]{1,12}|[numkKMGTPE]i?)?",
            any in ".{0,40}",
        ) {
            let _ = canonical(&s);
            let _ = canonical(&any);
        }
    }

    /// apimachinery's canonical forms (its quantity_test.go cases).
    #[test]
    fn canonical_forms() {
        for (input, out) in [
            ("0", "0"),
            ("0m", "0"),
            ("0.5", "500m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("1.5", "1500m"),
            ("100m", "100m"),
            ("1", "1"),
            ("1000", "1k"),
            ("12000", "12k"),
            ("1500", "1500"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("123Mi", "123Mi"),
            ("512Mi", "512Mi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("0.5Ki", "512"),
            ("1Ki", "1Ki"),
            ("1G", "1G"),
            ("1e3", "1e3"),
            ("12e2", "1200"),
            ("0.1m", "100u"),
            ("0.0000000001", "1n"),
            ("-1", "-1"),
            ("-0.5", "-500m"),
            (" 2Gi ", "2Gi"),
            ("1.5Mi", "1536Ki"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(out), "{input}");
        }
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1Qi",
            "5e",
            "1 Gi",
            "10e2147483647",
            "1.5e-2147483648",
            "1234567890123456789012345678901234567890",
        ] {
            assert_eq!(canonical(bad), None, "{bad:?}");
        }
    }
}
