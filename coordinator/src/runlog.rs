//! The run's correlation ID and log file.
//!
//! Every run gets an ID (`dev-<unix-ms>-<random>`). It names the log file, starts every
//! line written to that file, is given to children as `CORRELATION_ID`, is sent as
//! `X-Correlation-ID` with every health request, and ends every error report, so that
//! one `grep` finds a run in the terminal, the log file and the backend's own logs.

mod child;
mod layers;
mod writers;

pub use child::MAX_LINE;

use std::fs::File;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Whether `text` has the shape [`new_correlation_id`] gives: `dev-<digits>-<6 hex>`.
/// Only such a name is ever taken for one of dev's own files (a run log to prune, a run
/// record to read or remove): anything else in those folders is someone else's.
pub fn is_correlation_id(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("dev-") else {
        return false;
    };
    let Some((millis, random)) = rest.split_once('-') else {
        return false;
    };
    !millis.is_empty()
        && millis.len() <= 20
        && millis.bytes().all(|b| b.is_ascii_digit())
        && random.len() == 6
        && random
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Where a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Dev,
    Backend,
    Frontend,
    /// A `[process.NAME]`, by its name (names live for the whole run: see
    /// `dev/extra.rs`).
    Process(&'static str),
}

/// The run's log: lines go to the terminal with an `[origin]` prefix and to the log
/// file with a timestamp and the correlation ID. Cheap to clone.
///
/// It is a `tracing` subscriber (see [`layers`]): the methods here emit events, and so
/// does library code with `tracing::debug!` and friends while a run's dispatcher is the
/// default ([`RunLog::enter`]). `RUST_LOG` (default `info`) filters the terminal; the
/// file always gets `debug`, with the fields of the spans an event is in (the attempt,
/// the port).
///
/// The terminal is written by a thread of its own, through a bounded queue: a terminal
/// that does not keep up (a paused `less`, Ctrl-S, a slow pipe) never blocks the caller,
/// so signals, health waits and restarts go on, and children's pipes are always drained.
/// When the queue is full, lines are dropped from the terminal only (the file keeps
/// every line), and a note says how many once the terminal catches up.
#[derive(Debug, Clone)]
pub struct RunLog {
    inner: Arc<Inner>,
}

/// How many lines may wait for the terminal before lines are dropped from it.
const TERMINAL_QUEUE: usize = 2048;

#[derive(Debug)]
struct Inner {
    correlation_id: String,
    path: Option<PathBuf>,
    colour: Colour,
    dispatch: tracing::Dispatch,
    /// The run's root span: it carries the correlation ID.
    span: tracing::Span,
    terminal: SyncSender<Message>,
    /// `RUST_LOG`'s terminal filter, for children's lines (which bypass the layers).
    filter: tracing_subscriber::filter::Targets,
    dropped: Arc<AtomicU64>,
    health_path: Option<String>,
    /// When the log was made: the start of the run.
    started: std::time::Instant,
    /// `--message-format json`: the event thread's queue (unbounded: events are few, and
    /// a reader must never miss one).
    events: Option<std::sync::mpsc::Sender<Message>>,
}

/// What the terminal thread is asked to do.
#[derive(Debug)]
enum Message {
    Line {
        text: String,
        to_stderr: bool,
    },
    /// Answer on the channel once everything before this was written.
    Flush(std::sync::mpsc::Sender<()>),
}

/// Whether each stream gets colour: decided per stream, since `dev | tee out.txt`
/// pipes stdout while stderr is still a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    pub stdout: bool,
    pub stderr: bool,
}

impl Colour {
    /// `NO_COLOR` (any value) turns colour off, `CLICOLOR_FORCE` (not `0`) forces it on,
    /// `TERM=dumb` turns it off, otherwise each stream is coloured when it is a terminal.
    pub fn detect(env: &dyn Fn(&str) -> Option<String>) -> Colour {
        let off = Colour {
            stdout: false,
            stderr: false,
        };
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return off;
        }
        if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
            return Colour {
                stdout: true,
                stderr: true,
            };
        }
        if env("TERM").is_some_and(|term| term == "dumb") {
            return off;
        }
        Colour {
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }
}

/// Where a run's logs go and how much of them is kept.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// The newest this many run logs are kept (the new one included); `None` keeps all.
    pub keep: Option<usize>,
    /// A log file stops growing at this size, and says so once.
    pub max_size: u64,
    /// The backend's health path: its access-log lines for it, answered 2xx, are a
    /// probe's noise, kept off the terminal (the file has them).
    pub health_path: Option<String>,
    /// `backend.show_health_logs`: show those lines on the terminal after all.
    pub show_health_logs: bool,
    /// `--message-format json`: events as JSON lines on stdout ([`RunLog::event`]), and
    /// every line for people on stderr.
    pub events: bool,
    /// When writing to stdout fails because nothing reads it any more (a closed pipe),
    /// say so and call this (for `dev`, `process::stop_self`: stop as on SIGTERM). The
    /// log knows nothing of processes: the caller hands it what stopping means.
    pub on_stdout_closed: Option<fn()>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            keep: None,
            max_size: 50 * 1000 * 1000,
            health_path: None,
            show_health_logs: false,
            events: false,
            on_stdout_closed: None,
        }
    }
}

impl RunLog {
    /// Opens `<log_dir>/<correlation_id>.log`, keeping every older log. When the file
    /// cannot be created the run goes on with terminal output only, and says so once.
    pub fn create(log_dir: &Path, correlation_id: &str) -> RunLog {
        RunLog::create_with(log_dir, correlation_id, &LogOptions::default())
    }

    /// [`RunLog::create`], deleting the oldest run logs beyond `options.keep` first.
    pub fn create_with(log_dir: &Path, correlation_id: &str, options: &LogOptions) -> RunLog {
        let path = log_dir.join(format!("{correlation_id}.log"));
        if let Some(keep) = options.keep {
            prune(log_dir, keep.saturating_sub(1));
        }
        let opened = std::fs::create_dir_all(log_dir).and_then(|()| File::create(&path));
        RunLog::with_file(path, opened, correlation_id, options)
    }

    /// The log of a run that already has one, written after what is there: the
    /// guardian's lines go into the log of the run it guards. Nothing is pruned.
    pub fn append_to(path: &Path, correlation_id: &str) -> RunLog {
        let opened = File::options().create(true).append(true).open(path);
        RunLog::with_file(
            path.to_path_buf(),
            opened,
            correlation_id,
            &LogOptions::default(),
        )
    }

    fn with_file(
        path: PathBuf,
        opened: std::io::Result<File>,
        correlation_id: &str,
        options: &LogOptions,
    ) -> RunLog {
        let mut colour = Colour::detect(&|name| std::env::var(name).ok());
        if options.events {
            // Every line for people goes to stderr: its colour decision holds for all.
            colour.stdout = colour.stderr;
        }
        let (file, path, failure) = match opened {
            Ok(file) => (Some(file), Some(path), None),
            Err(err) => (None, None, Some(format!("{}: {err}", path.display()))),
        };
        let (terminal, queue) = sync_channel(TERMINAL_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let note = path.as_ref().map(|p| p.display().to_string());
        let counter = Arc::clone(&dropped);
        let prefix = layers::prefix(Origin::Dev, colour.stderr, tracing::Level::WARN);
        let all_to_stderr = options.events;
        let options_stop = options.on_stdout_closed;
        let events_prefix = prefix.clone();
        std::thread::spawn(move || {
            let mut gone = writers::StdoutGone::new(options_stop, &prefix);
            writers::write_terminal(
                &queue,
                &counter,
                &prefix,
                note.as_deref(),
                all_to_stderr,
                &mut gone,
            );
        });
        let events = options.events.then(|| {
            let (events, lines) = std::sync::mpsc::channel();
            let mut gone = writers::StdoutGone::new(options_stop, &events_prefix);
            std::thread::spawn(move || writers::write_events(&lines, &mut gone));
            events
        });
        let (filter, bad_filter) =
            layers::terminal_filter(std::env::var("RUST_LOG").ok(), options.show_health_logs);
        let dispatch = layers::dispatch(layers::Sinks {
            correlation_id: correlation_id.to_owned(),
            colour,
            filter: filter.clone(),
            terminal: terminal.clone(),
            dropped: Arc::clone(&dropped),
            file: file.map(|file| layers::LogFile::new(file, options.max_size)),
        });
        let span = tracing::dispatcher::with_default(&dispatch, || {
            tracing::info_span!("run", correlation_id = correlation_id)
        });
        let log = RunLog {
            inner: Arc::new(Inner {
                correlation_id: correlation_id.to_owned(),
                path,
                colour,
                dispatch,
                span,
                terminal,
                filter,
                dropped,
                health_path: options.health_path.clone(),
                started: std::time::Instant::now(),
                events,
            }),
        };
        if let Some(failure) = failure {
            log.warn(&format!(
                "cannot write the run's log file, terminal only: {failure}"
            ));
        }
        if let Some(bad) = bad_filter {
            log.warn(&format!(
                "RUST_LOG={bad:?} is not a filter such as `debug` or `warn,backend=info`: using `info`"
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

    /// How long ago the run's log was made (the run started).
    pub fn since_start(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The colour decision for the terminal streams.
    pub fn colour(&self) -> Colour {
        self.inner.colour
    }

    /// Makes this run's log the default `tracing` subscriber of the current thread
    /// (the runtime's: every task of the run) and enters the run's span, until the guard
    /// is dropped. Library code then logs with the `tracing` macros.
    pub fn enter(&self) -> Entered {
        let dispatch = tracing::dispatcher::set_default(&self.inner.dispatch);
        let span = self.inner.span.clone().entered();
        Entered {
            _span: span,
            _dispatch: dispatch,
        }
    }

    pub fn info(&self, message: &str) {
        self.emit(tracing::Level::INFO, message);
    }

    pub fn warn(&self, message: &str) {
        self.emit(tracing::Level::WARN, message);
    }

    pub fn error(&self, message: &str) {
        self.emit(tracing::Level::ERROR, message);
    }

    /// A line of a child's output (its bytes as read, line ending included): stdout to
    /// stdout, stderr to stderr. The terminal gets what a terminal would show of it
    /// ([`child::visible`]) as written when that stream shows colour, else as plain
    /// text; the file always gets plain text. The backend's access-log lines of health
    /// probes answered 2xx stay off the terminal unless asked for. Returns the plain
    /// text (for the evidence tail).
    pub fn child_line(&self, origin: Origin, raw: &[u8], is_stderr: bool) -> String {
        let shown = child::visible(raw);
        let text = child::plain(shown);
        let health = origin == Origin::Backend
            && self
                .inner
                .health_path
                .as_deref()
                .is_some_and(|path| child::is_health_ok(&text, path));
        let line = layers::ChildLine {
            origin,
            stderr: is_stderr,
            health,
        };
        if self
            .inner
            .filter
            .would_enable(line.target(), &tracing::Level::INFO)
        {
            let colour = if is_stderr {
                self.inner.colour.stderr
            } else {
                self.inner.colour.stdout
            };
            let prefix = layers::prefix(origin, colour, tracing::Level::INFO);
            let body = if colour {
                let raw = String::from_utf8_lossy(shown);
                // A colour left on must not run into the next line's prefix.
                let reset = if raw.contains('\x1b') { "\x1b[0m" } else { "" };
                format!("{raw}{reset}")
            } else {
                text.clone()
            };
            layers::queue_line(
                &self.inner.terminal,
                &self.inner.dropped,
                format!("{prefix} {body}\n"),
                is_stderr,
            );
        }
        tracing::dispatcher::with_default(&self.inner.dispatch, || {
            let _run = self.inner.span.enter();
            line.emit(&text);
        });
        text
    }

    /// A detail: always in the file, on the terminal with `RUST_LOG=debug`.
    pub fn file_only(&self, message: &str) {
        self.emit(tracing::Level::DEBUG, message);
    }

    /// Waits (at most `within`) until the terminal has every line queued so far: before
    /// the process exits, and before something is printed outside the log.
    pub fn flush(&self, within: Duration) {
        let (done, finished) = std::sync::mpsc::channel();
        if self.inner.terminal.try_send(Message::Flush(done)).is_ok() {
            let _ = finished.recv_timeout(within);
        }
        if let Some(events) = &self.inner.events {
            let (done, finished) = std::sync::mpsc::channel();
            if events.send(Message::Flush(done)).is_ok() {
                let _ = finished.recv_timeout(within);
            }
        }
    }

    /// Whether events are written (`--message-format json`).
    pub fn has_events(&self) -> bool {
        self.inner.events.is_some()
    }

    /// The `ready` event, from the places that say a process is ready (the backend's
    /// health wait, the remote backend's, the frontend's serve wait).
    pub fn ready(&self, role: &str, url: &str, elapsed: std::time::Duration) {
        self.event(&crate::events::Event::Ready {
            role: role.to_owned(),
            url: url.to_owned(),
            ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        });
    }

    /// Emits an event as a JSON line on stdout when asked for (`--message-format json`);
    /// the log file gets it too, as a detail. Never blocks.
    pub fn event(&self, event: &crate::events::Event) {
        let Some(events) = &self.inner.events else {
            return;
        };
        let line = event.line(self.correlation_id(), &timestamp());
        self.file_only(&format!("event {line}"));
        let _ = events.send(Message::Line {
            text: format!("{line}\n"),
            to_stderr: false,
        });
    }

    fn emit(&self, level: tracing::Level, message: &str) {
        tracing::dispatcher::with_default(&self.inner.dispatch, || {
            let _run = self.inner.span.enter();
            layers::event(level, message);
        });
    }
}

/// The guard of [`RunLog::enter`].
#[must_use = "the run's log is the default only while this lives"]
#[derive(Debug)]
pub struct Entered {
    _span: tracing::span::EnteredSpan,
    _dispatch: tracing::dispatcher::DefaultGuard,
}

impl Origin {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Origin::Dev => "dev",
            Origin::Backend => "backend",
            Origin::Frontend => "frontend",
            Origin::Process(name) => name,
        }
    }
}

/// Deletes the oldest of dev's own run logs in `dir` so that at most `keep` remain.
/// Only a regular file named `<correlation ID>.log` is a run log: `log_dir` may be a
/// folder the user shares with other programs, whose `*.log` files are not dev's to
/// delete.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| is_run_log(&e.file_name()))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if logs.len() <= keep {
        return;
    }
    // Oldest first; the name (which starts with the start time) breaks ties.
    logs.sort();
    let excess = logs.len() - keep;
    for (_, path) in logs.into_iter().take(excess) {
        let _ = std::fs::remove_file(path);
    }
}

/// Whether a file name is one dev gives a run log: `<correlation ID>.log`.
fn is_run_log(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .and_then(|name| name.strip_suffix(".log"))
        .is_some_and(is_correlation_id)
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
    fn colour_is_off_for_no_color_and_a_dumb_terminal_unless_forced() {
        let with = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Colour::detect(&move |name| {
                vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
            })
        };
        let off = Colour {
            stdout: false,
            stderr: false,
        };
        let on = Colour {
            stdout: true,
            stderr: true,
        };
        assert_eq!(with(&[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]), off);
        assert_eq!(with(&[("TERM", "dumb"), ("CLICOLOR_FORCE", "1")]), on);
        assert_eq!(with(&[("TERM", "dumb")]), off);
        assert_eq!(with(&[("CLICOLOR_FORCE", "1")]), on);
    }

    #[test]
    fn correlation_ids_have_the_documented_shape() {
        let id = new_correlation_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[0], "dev");
        assert!(parts[1].parse::<u128>().is_ok(), "{id}");
        assert_eq!(parts[2].len(), 6, "{id}");
        assert!(is_correlation_id(&id), "{id}");
    }

    #[test]
    fn only_dev_shaped_names_are_correlation_ids() {
        for good in ["dev-1-abcdef", "dev-1764000000000-0a1b2c"] {
            assert!(is_correlation_id(good), "{good}");
        }
        for bad in [
            "/tmp/victim",
            "../../victim",
            "dev-1-abcdeg",
            "dev-1-ABCDEF",
            "dev--abcdef",
            "dev-1-abcdef/x",
            "dev-1-abc",
            "server",
            "app-1",
            "",
        ] {
            assert!(!is_correlation_id(bad), "{bad}");
        }
        assert!(is_run_log("dev-12-00ff00.log".as_ref()));
        assert!(!is_run_log("server.log".as_ref()));
        assert!(!is_run_log("dev-12-00ff00.log.1".as_ref()));
    }
}
