//! The run's correlation ID and log file.
//!
//! Every run gets an ID (`dev-<unix-ms>-<random>`). It names the log file, starts every
//! line written to that file, is given to children as `CORRELATION_ID`, is sent as
//! `X-Correlation-ID` with every health request, and ends every error report, so that
//! one `grep` finds a run in the terminal, the log file and the backend's own logs.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh ID: milliseconds since the epoch plus 24 random bits.
pub fn new_correlation_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    // `RandomState` is seeded from the OS per process: enough to tell two runs that
    // start in the same millisecond apart without a `rand` dependency.
    let random = RandomState::new().hash_one(std::process::id()) & 0xff_ffff;
    format!("dev-{millis}-{random:06x}")
}

/// Where a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Dev,
    Backend,
    Frontend,
}

impl Origin {
    fn tag(self) -> &'static str {
        match self {
            Origin::Dev => "dev",
            Origin::Backend => "backend",
            Origin::Frontend => "frontend",
        }
    }
}

/// The run's log: lines go to the terminal with an `[origin]` prefix and to the log
/// file with a timestamp and the correlation ID. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RunLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    correlation_id: String,
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
    color: bool,
}

impl RunLog {
    /// Opens `<log_dir>/<correlation_id>.log`. When the file cannot be created the run
    /// goes on with terminal output only, and says so once.
    pub fn create(log_dir: &Path, correlation_id: &str) -> RunLog {
        let path = log_dir.join(format!("{correlation_id}.log"));
        let opened = std::fs::create_dir_all(log_dir).and_then(|()| File::create(&path));
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let (file, path, failure) = match opened {
            Ok(file) => (Some(file), Some(path), None),
            Err(err) => (None, None, Some(format!("{}: {err}", path.display()))),
        };
        let log = RunLog {
            inner: Arc::new(Inner {
                correlation_id: correlation_id.to_owned(),
                path,
                file: Mutex::new(file),
                color,
            }),
        };
        if let Some(failure) = failure {
            log.warn(&format!(
                "cannot write the run's log file, terminal only: {failure}"
            ));
        }
        log
    }

    pub fn correlation_id(&self) -> &str {
        &self.inner.correlation_id
    }

    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    pub fn info(&self, message: &str) {
        self.write(Origin::Dev, "INFO", message, false);
    }

    pub fn warn(&self, message: &str) {
        self.write(Origin::Dev, "WARN", message, true);
    }

    pub fn error(&self, message: &str) {
        self.write(Origin::Dev, "ERROR", message, true);
    }

    /// A line of a child's output: stdout to stdout, stderr to stderr.
    pub fn child_line(&self, origin: Origin, line: &str, is_stderr: bool) {
        let level = if is_stderr { "STDERR" } else { "STDOUT" };
        self.write(origin, level, line, is_stderr);
    }

    /// Only to the file: details that would clutter the terminal.
    pub fn file_only(&self, message: &str) {
        self.to_file(Origin::Dev, "DEBUG", message);
    }

    fn write(&self, origin: Origin, level: &str, message: &str, to_stderr: bool) {
        let tag = origin.tag();
        let prefix = if self.inner.color {
            let colour = match (origin, level) {
                (_, "ERROR") => "31",
                (_, "WARN") => "33",
                (Origin::Dev, _) => "36",
                (Origin::Backend, _) => "35",
                (Origin::Frontend, _) => "32",
            };
            format!("\x1b[{colour}m[{tag}]\x1b[0m")
        } else {
            format!("[{tag}]")
        };
        let mut text = String::new();
        for line in message.lines() {
            text.push_str(&format!("{prefix} {line}\n"));
        }
        // Terminal write errors (a closed pipe) must not end supervision: ignore them.
        if to_stderr {
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        } else {
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
        }
        self.to_file(origin, level, message);
    }

    fn to_file(&self, origin: Origin, level: &str, message: &str) {
        let Ok(mut guard) = self.inner.file.lock() else {
            return;
        };
        if let Some(file) = guard.as_mut() {
            let stamp = timestamp();
            for line in message.lines() {
                let _ = writeln!(
                    file,
                    "{stamp} {} {level} [{}] {line}",
                    self.inner.correlation_id,
                    origin.tag()
                );
            }
        }
    }
}

/// UTC time as `2026-11-27T21:39:38.123Z`, without a date-time dependency.
pub fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_784), (2026, 11, 27));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn correlation_ids_have_the_documented_shape() {
        let id = new_correlation_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], "dev");
        assert!(parts[1].parse::<u128>().is_ok(), "{id}");
        assert_eq!(parts[2].len(), 6, "{id}");
    }
}
