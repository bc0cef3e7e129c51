//! Health answers that can never become ready without a change to the app or the
//! config, with the evidence to show and the one-line fix: what lets `dev` give up in
//! seconds instead of waiting out `startup_timeout`; [`Streak`] counts them.

use super::Readiness;

/// An answer that cannot become ready without a change to the app or the config:
/// waiting longer cannot help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A 3xx: redirects are never followed.
    Redirect { code: u16, location: Option<String> },
    /// 404, 405 or 410: nothing serves health on this path.
    NotFound { code: u16 },
    /// A 2xx whose body is over the cap, when the format needs the body.
    TooLarge { code: u16 },
    /// A 2xx whose body is not JSON, when the format needs JSON.
    NotJson { code: u16, start: String },
    /// A 2xx JSON body nested deeper than [`MAX_DEPTH`] levels: valid JSON, but more
    /// than any health answer needs, and more than is read (each level costs stack).
    TooDeep { code: u16 },
    /// A 2xx JSON answer in no form `auto` knows.
    Unreadable { code: u16, start: String },
    /// A recognised answer naming another service than `backend.service`.
    WrongService { found: String, expected: String },
}

/// How deeply a health answer's JSON may nest: `serde_json`'s own limit, kept rather
/// than lifted (`disable_recursion_limit`), because a 64 KiB body could otherwise nest
/// 32,768 levels deep, each a frame on the stack of the thread that reads it.
pub const MAX_DEPTH: usize = 128;

/// The forms `auto` accepts, for messages.
pub const ACCEPTED: &str = r#"{"status": "healthy"|"degraded"|"starting"} (dev's contract), {"status": "pass"|"warn"|"fail"} (IETF health+json), {"status": "UP"|"DOWN"|"OUT_OF_SERVICE"} (Spring Boot), {"status": "ok"|"up"|"healthy"}"#;

impl Mismatch {
    /// What arrived, after `HTTP <code>, `.
    pub fn evidence(&self) -> String {
        match self {
            Mismatch::Redirect { location, .. } => match location {
                Some(location) => format!("redirect to {location} (not followed)"),
                None => "redirect without a Location (not followed)".into(),
            },
            Mismatch::NotFound { code } => format!("nothing serves health on this path ({code})"),
            Mismatch::TooLarge { .. } => "body larger than 64 KiB: not read".into(),
            Mismatch::NotJson { start, .. } => format!("not JSON: {start:?}"),
            Mismatch::TooDeep { .. } => {
                format!("JSON too deeply nested (more than {MAX_DEPTH} levels): not read")
            }
            Mismatch::Unreadable { start, .. } => {
                format!("JSON in no form `health_format = \"auto\"` reads: {start:?}")
            }
            Mismatch::WrongService { found, expected } => {
                format!("service {found:?} answered, `backend.service` is {expected:?}")
            }
        }
    }

    /// The status code, when the mismatch is about one answer's shape.
    pub fn code(&self) -> Option<u16> {
        match self {
            Mismatch::Redirect { code, .. }
            | Mismatch::NotFound { code }
            | Mismatch::TooLarge { code }
            | Mismatch::NotJson { code, .. }
            | Mismatch::TooDeep { code }
            | Mismatch::Unreadable { code, .. } => Some(*code),
            Mismatch::WrongService { .. } => None,
        }
    }

    /// The one-line fix.
    pub fn fix(&self) -> String {
        match self {
            Mismatch::Redirect { location, .. } => format!(
                "set `backend.health_path` to the path it redirects to{}: dev never follows redirects",
                location
                    .as_deref()
                    .map(|l| format!(" ({})", path_of(l)))
                    .unwrap_or_default()
            ),
            Mismatch::NotFound { .. } => {
                "set `backend.health_path` to the path of the backend's health endpoint".into()
            }
            Mismatch::TooLarge { .. } | Mismatch::TooDeep { .. } => {
                "make the health endpoint answer a small JSON document, or set `backend.health_format = \"status-code\"` to read only the status code".into()
            }
            Mismatch::NotJson { .. } => {
                "set `backend.health_format = \"status-code\"` (any 2xx is ready), or answer JSON such as {\"status\": \"ok\"}".into()
            }
            Mismatch::Unreadable { .. } => format!(
                "add a \"status\" field in one of the accepted forms ({ACCEPTED}), or set `backend.health_format = \"status-code\"`"
            ),
            Mismatch::WrongService { found, .. } => format!(
                "if this is your backend, set `backend.service = {found:?}` in dev.toml"
            ),
        }
    }
}

/// The path of a `Location` (absolute URL or path).
fn path_of(location: &str) -> &str {
    match location.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => location,
    }
}

/// Counts answers that can never become ready: the attempt gives up after
/// [`Streak::LIMIT`] identical ones in a row rather than waiting out `startup_timeout`.
#[derive(Debug, Default)]
pub struct Streak {
    last: Option<Mismatch>,
    count: u32,
}

impl Streak {
    pub const LIMIT: u32 = 3;

    /// Records one answer's readiness; returns the mismatch once it was seen `LIMIT`
    /// times in a row. Any other answer (not ready yet, a different mismatch) restarts
    /// the count.
    pub fn observe(&mut self, readiness: &Readiness) -> Option<&Mismatch> {
        let Readiness::Never(mismatch) = readiness else {
            *self = Streak::default();
            return None;
        };
        if self.last.as_ref() == Some(mismatch) {
            self.count += 1;
        } else {
            self.last = Some(mismatch.clone());
            self.count = 1;
        }
        if self.count >= Streak::LIMIT {
            self.last.as_ref()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_identical_mismatches_in_a_row_settle_it() {
        let redirect = |to: &str| {
            Readiness::Never(Mismatch::Redirect {
                code: 307,
                location: Some(to.into()),
            })
        };
        let waiting = Readiness::NotReady("HTTP 503".into());
        // (the readiness seen, whether the streak settles on it)
        let cases = [
            (&redirect("/a"), false),
            (&redirect("/a"), false),
            (&waiting, false),
            (&redirect("/a"), false),
            (&redirect("/b"), false),
            (&redirect("/b"), false),
            (&redirect("/b"), true),
            (&redirect("/b"), true),
        ];
        let mut streak = Streak::default();
        for (i, (seen, settles)) in cases.into_iter().enumerate() {
            assert_eq!(streak.observe(seen).is_some(), settles, "answer {i}");
        }
    }
}
