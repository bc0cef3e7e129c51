//! What a server's certificate says, for messages a person can act on: who it is for,
//! who issued it, and when it is valid.
//!
//! rustls verifies certificates but does not name the issuer of one it rejects, and
//! `doctor` shows subject, issuer and expiry. Those few fields sit at fixed places of an
//! X.509 certificate's DER, so a small reader here does it instead of an X.509 crate
//! (`x509-parser` would add `nom`, `asn1-rs` and its derive macros to the cold build).
//! It reads; it verifies nothing.

/// The fields of a certificate that messages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// `CN=localhost, O=dev` (the common name and organisation, when present).
    pub subject: String,
    pub issuer: String,
    /// Seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// `SEQUENCE`, and the attribute types shown: common name, organisation.
const SEQUENCE: u8 = 0x30;
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_O: &[u8] = &[0x55, 0x04, 0x0a];

/// Reads a DER certificate; `None` when it is not one this reader understands.
pub fn read(der: &[u8]) -> Option<CertInfo> {
    let (tag, certificate, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, tbs, _) = element(certificate)?;
    let mut rest = tbs;
    // The version is an explicit [0] tag, absent for v1 certificates.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    let (_, _serial, rest) = element(rest)?;
    let (_, _signature, rest) = element(rest)?;
    let (_, issuer, rest) = element(rest)?;
    let (_, validity, rest) = element(rest)?;
    let (_, subject, _) = element(rest)?;
    let (before_tag, before, after) = element(validity)?;
    let (after_tag, after, _) = element(after)?;
    Some(CertInfo {
        subject: name(subject),
        issuer: name(issuer),
        not_before: time(before_tag, before)?,
        not_after: time(after_tag, after)?,
    })
}

/// One DER element: (tag, contents, what follows).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count]
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return None;
    }
    Some((tag, &rest[..length], &rest[length..]))
}

/// `CN=..., O=...` of an X.501 name (a sequence of sets of type-and-value pairs).
fn name(mut rdns: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, set, rest)) = element(rdns) {
        rdns = rest;
        let Some((_, pair, _)) = element(set) else {
            continue;
        };
        let Some((_, oid, value)) = element(pair) else {
            continue;
        };
        let Some((_, text, _)) = element(value) else {
            continue;
        };
        let label = match oid {
            OID_CN => "CN",
            OID_O => "O",
            _ => continue,
        };
        parts.push(format!("{label}={}", String::from_utf8_lossy(text)));
    }
    if parts.is_empty() {
        "(no common name)".into()
    } else {
        parts.join(", ")
    }
}

/// `UTCTime` (tag 0x17, `YYMMDDHHMMSSZ`) or `GeneralizedTime` (0x18, four-digit year).
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            // RFC 5280: two-digit years 50-99 are 19xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        0x18 => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |i: usize| -> Option<i64> { rest.get(i..i + 2)?.parse().ok() };
    let days = days_from_civil(year, field(0)?, field(2)?);
    Some(days * 86_400 + field(4)? * 3600 + field(6)? * 60 + field(8)?)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar (Howard
/// Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `2026-11-28 05:12 UTC` for seconds since the epoch.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let era = (days + 719_468).div_euclid(146_097);
    let day_of_era = days + 719_468 - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60
    )
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_days() {
        // (date, seconds since the epoch)
        let cases = [
            ((1970, 1, 1), 0),
            ((2000, 2, 29), 951_782_400),
            ((2026, 11, 28), 1_795_824_000),
            ((2049, 12, 31), 2_524_521_600),
        ];
        for ((year, month, day), secs) in cases {
            assert_eq!(
                days_from_civil(year, month, day) * 86_400,
                secs,
                "{year}-{month}-{day}"
            );
            assert_eq!(
                format_time(secs),
                format!("{year:04}-{month:02}-{day:02} 00:00 UTC")
            );
        }
    }

    #[test]
    fn utc_and_generalized_times() {
        assert_eq!(time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(time(0x17, b"491231000000Z"), Some(2_524_521_600));
        assert_eq!(time(0x18, b"20491231000000Z"), Some(2_524_521_600));
        assert_eq!(time(0x17, b"7001010000Z"), None, "seconds missing");
        assert_eq!(time(0x04, b"700101000000Z"), None);
    }

    #[test]
    fn a_generated_certificate_is_read() {
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "leaf.test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "dev tests");
        params.not_before = rcgen::date_time_ymd(2026, 1, 2);
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        let info = read(cert.der()).expect("readable");
        assert_eq!(info.subject, "CN=leaf.test, O=dev tests");
        assert_eq!(info.issuer, info.subject, "self-signed");
        assert_eq!(format_time(info.not_before), "2026-01-02 00:00 UTC");
        assert_eq!(info.not_after, 2_524_521_600);
        assert_eq!(read(b"\x30\x03\x02\x01"), None, "cut short");
    }
}
