//! Durations as people write them in `dev.toml` and the environment: `"500ms"`, `"2s"`,
//! `"1m"`, `"1h"`.
//!
//! A bare number is rejected on purpose: `startup_timeout = 30` could mean seconds or
//! milliseconds, and guessing wrong makes a timeout a thousand times off. So is anything
//! above zero but below a millisecond (`"0.5ms"`): every interval dev keeps is counted in
//! milliseconds, and such a value would show as `0s` and act as no wait at all (a
//! `liveness_interval` of it probes without pause). [`MAX`] caps every duration.

use std::time::Duration;

/// The longest duration any setting takes, named in the errors (`"24h"` itself is valid).
pub const MAX: &str = "24h";

/// Parses `"<integer><unit>"` with unit `ms`, `s`, `m` or `h` (also `1.5s`): zero, or
/// from 1 ms to [`MAX`].
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "ms" => number,
        "s" => number * 1_000.0,
        "m" | "min" => number * 60_000.0,
        "h" => number * 3_600_000.0,
        _ => return None,
    };
    if !millis.is_finite() || !(0.0..=24.0 * 3_600_000.0).contains(&millis) {
        return None;
    }
    if millis > 0.0 && millis < 1.0 {
        return None;
    }
    Some(Duration::from_micros((millis * 1_000.0).round() as u64))
}

/// The inverse of [`parse`] for display: whole seconds as `2s`, the rest as `500ms`.
pub fn format(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1_000) {
        format!("{}s", millis / 1_000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let cases = [
            ("500ms", Some(500)),
            ("2s", Some(2_000)),
            ("1.5s", Some(1_500)),
            ("1m", Some(60_000)),
            (" 30s ", Some(30_000)),
            ("30", None),
            ("s", None),
            ("2 hours", None),
            ("-1s", None),
            ("", None),
            ("0.5ms", None),
            ("0.999ms", None),
            ("1ms", Some(1)),
            ("0ms", Some(0)),
            ("0s", Some(0)),
            ("24h", Some(86_400_000)),
            ("1440m", Some(86_400_000)),
            ("24.5h", None),
            ("86401s", None),
        ];
        for (text, millis) in cases {
            assert_eq!(
                parse(text).map(|d| d.as_millis() as u64),
                millis,
                "parsing {text:?}"
            );
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["500ms", "2s", "90s"] {
            let parsed = parse(text).expect("valid duration");
            assert_eq!(format(parsed), text);
        }
    }
}
