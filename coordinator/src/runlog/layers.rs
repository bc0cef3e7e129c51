//! The `tracing` side of the run's log: how events are named, filtered, formatted and
//! written.
//!
//! Targets name the origin and the stream: `dev` (dev's own lines: info and debug to
//! stdout, warnings and errors to stderr), `backend::stdout`, `backend::stderr`,
//! `frontend::stdout`, `frontend::stderr`, and `backend::health::stdout` /
//! `backend::health::stderr` for the backend's access-log lines of health probes; any
//! other target (library code's `tracing::debug!`, named after its module) is dev's.
//! Two terminal layers, one per stream, so that colour is decided per stream, format
//! dev's own events with [`Prefixed`] (the `[dev]` prefix) into the bounded terminal
//! queue; children's lines reach that queue as bytes ([`queue_line`], from
//! `RunLog::child_line`), never as formatted fields, and go through `tracing` only to
//! the file layer, which formats with [`FileLine`] (time, correlation ID, level,
//! origin, the spans' fields).

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use super::{Colour, Message, Origin};

/// Emits one of dev's own events (its level decides its stream).
pub(super) fn event(level: Level, message: &str) {
    match level {
        Level::ERROR => tracing::error!(target: "dev", "{message}"),
        Level::WARN => tracing::warn!(target: "dev", "{message}"),
        Level::INFO => tracing::info!(target: "dev", "{message}"),
        Level::DEBUG => tracing::debug!(target: "dev", "{message}"),
        _ => tracing::trace!(target: "dev", "{message}"),
    }
}

/// A child's output line, as the run's log sees it: where it came from, its stream, and
/// whether it is the backend's access-log line for a health probe answered 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ChildLine {
    pub(super) origin: Origin,
    pub(super) stderr: bool,
    pub(super) health: bool,
}

/// The target that names the terminal filter's directives: `RUST_LOG=backend::health=info`.
pub(super) const HEALTH_TARGET: &str = "backend::health";

impl ChildLine {
    pub(super) fn target(self) -> &'static str {
        match (self.origin, self.health, self.stderr) {
            (Origin::Backend, true, false) => "backend::health::stdout",
            (Origin::Backend, true, true) => "backend::health::stderr",
            (Origin::Backend, false, false) => "backend::stdout",
            (Origin::Backend, false, true) => "backend::stderr",
            (Origin::Dev, _, _) => "dev",
            (Origin::Frontend, _, false) => "frontend::stdout",
            (Origin::Frontend, _, true) => "frontend::stderr",
            (Origin::Process(_), _, false) => "process::stdout",
            (Origin::Process(_), _, true) => "process::stderr",
        }
    }

    /// Emits `text` (already plain: no escape sequences) for the file layer only.
    pub(super) fn emit(self, text: &str) {
        // A process's targets are shared by all of them: its name goes in the line.
        let named;
        let text = match self.origin {
            Origin::Process(name) => {
                named = format!("[{name}] {text}");
                named.as_str()
            }
            _ => text,
        };
        macro_rules! at {
            ($target:literal) => {
                tracing::info!(target: $target, "{text}")
            };
        }
        match self.target() {
            "backend::health::stdout" => at!("backend::health::stdout"),
            "backend::health::stderr" => at!("backend::health::stderr"),
            "backend::stdout" => at!("backend::stdout"),
            "backend::stderr" => at!("backend::stderr"),
            "frontend::stdout" => at!("frontend::stdout"),
            "frontend::stderr" => at!("frontend::stderr"),
            "process::stdout" => at!("process::stdout"),
            "process::stderr" => at!("process::stderr"),
            _ => at!("dev"),
        }
    }
}

fn origin(target: &str) -> Origin {
    if target.starts_with("backend::") {
        Origin::Backend
    } else if target.starts_with("frontend::") {
        Origin::Frontend
    } else if target.starts_with("process::") {
        // The line names its process (see `ChildLine::emit`).
        Origin::Process("")
    } else {
        Origin::Dev
    }
}

/// Whether an event goes to stderr: a child's stderr, and dev's warnings and errors.
fn to_stderr(target: &str, level: &Level) -> bool {
    match origin(target) {
        Origin::Dev => *level <= Level::WARN,
        _ => target.ends_with("::stderr"),
    }
}

/// `[dev]`, in its colour when `colour`.
pub(super) fn prefix(origin: Origin, colour: bool, level: Level) -> String {
    let tag = origin.tag();
    if !colour {
        return format!("[{tag}]");
    }
    let code = match (origin, level) {
        (_, Level::ERROR) => "31",
        (_, Level::WARN) => "33",
        (Origin::Dev, _) => "36",
        (Origin::Backend, _) => "35",
        (Origin::Frontend, _) => "32",
        (Origin::Process(name), _) => process_colour(name),
    };
    format!("\x1b[{code}m[{tag}]\x1b[0m")
}

/// A `[process.NAME]`'s colour, by its name: the same in every run, and told apart
/// from the others' (blue, bright blue, bright magenta, bright cyan, bright green) and
/// from dev's cyan, the backend's magenta and the frontend's green.
fn process_colour(name: &str) -> &'static str {
    const COLOURS: [&str; 5] = ["34", "94", "95", "96", "92"];
    // FNV-1a: `redis` and `electron` differ (a byte sum gave them one colour).
    let hash = name.bytes().fold(2_166_136_261_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(16_777_619)
    });
    COLOURS[hash as usize % COLOURS.len()]
}

/// The terminal's filter from `RUST_LOG` (default `info`); the text when it is invalid.
/// The backend's health-probe access lines stay off the terminal unless `show_health`
/// (`backend.show_health_logs`) or `RUST_LOG` names `backend::health` itself: a plain
/// `RUST_LOG=debug` is asked for dev's own details, not for 30 probe lines a minute.
pub(super) fn terminal_filter(
    rust_log: Option<String>,
    show_health: bool,
) -> (Targets, Option<String>) {
    let default = Targets::new().with_default(LevelFilter::INFO);
    let (targets, bad) = match rust_log.filter(|text| !text.trim().is_empty()) {
        None => (default, None),
        Some(text) => match text.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(_) => (default, Some(text)),
        },
    };
    let named = targets
        .iter()
        .any(|(target, _)| target.starts_with(HEALTH_TARGET));
    if show_health || named {
        (targets, bad)
    } else {
        (targets.with_target(HEALTH_TARGET, LevelFilter::OFF), bad)
    }
}

/// What a run's subscriber writes to.
pub(super) struct Sinks {
    pub(super) correlation_id: String,
    pub(super) colour: Colour,
    pub(super) filter: Targets,
    pub(super) terminal: SyncSender<Message>,
    pub(super) dropped: Arc<AtomicU64>,
    pub(super) file: Option<LogFile>,
}

/// The run's subscriber: two terminal layers (stdout, stderr) and the file layer.
pub(super) fn dispatch(mut sinks: Sinks) -> tracing::Dispatch {
    let log_file = sinks.file.take();
    let file = tracing_subscriber::fmt::layer()
        .fmt_fields(PlainFields::default())
        .event_format(FileLine {
            correlation_id: sinks.correlation_id.clone(),
        })
        .with_writer(FileWriter(Arc::new(Mutex::new(log_file))))
        .with_ansi(false)
        .with_filter(LevelFilter::DEBUG);
    let subscriber = tracing_subscriber::registry()
        .with(terminal(&sinks, false))
        .with(terminal(&sinks, true))
        .with(file);
    tracing::Dispatch::new(subscriber)
}

/// The terminal layer of one stream: its own colour decision, `RUST_LOG`'s filter.
fn terminal<S>(sinks: &Sinks, stderr: bool) -> impl Layer<S> + use<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let writer = QueueWriter {
        queue: sinks.terminal.clone(),
        dropped: Arc::clone(&sinks.dropped),
        stderr,
    };
    let ansi = if stderr {
        sinks.colour.stderr
    } else {
        sinks.colour.stdout
    };
    tracing_subscriber::fmt::layer()
        .event_format(Prefixed)
        .with_writer(writer)
        .with_ansi(ansi)
        // Children's lines come as bytes (`queue_line`), not through these layers.
        .with_filter(filter_fn(move |meta| {
            origin(meta.target()) == Origin::Dev && to_stderr(meta.target(), meta.level()) == stderr
        }))
        .with_filter(sinks.filter.clone())
}

/// The message of an event, as text (other fields follow it as `key=value`).
fn message<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Result<String, fmt::Error>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let mut text = String::new();
    ctx.field_format()
        .format_fields(Writer::new(&mut text), event)?;
    Ok(text)
}

/// The terminal's format: `[origin] line`, one prefix per line of the message.
struct Prefixed;

impl<S, N> FormatEvent<S, N> for Prefixed
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let from = origin(meta.target());
        let prefix = prefix(from, writer.has_ansi_escapes(), *meta.level());
        for line in message(ctx, event)?.lines() {
            // dev's own lines carry text from outside (a health answer, a command line, a
            // file): its control characters are shown escaped. A child's output is its
            // own, and goes as it came.
            if from == Origin::Dev {
                writeln!(writer, "{prefix} {}", crate::text::printable(line))?;
            } else {
                writeln!(writer, "{prefix} {line}")?;
            }
        }
        Ok(())
    }
}

/// The file's format: `<time> <correlation id> <LEVEL> [origin] line  {span fields}`.
struct FileLine {
    correlation_id: String,
}

impl<S, N> FormatEvent<S, N> for FileLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut spans = String::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root().filter(|span| span.name() != "run") {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    spans.push_str(&format!(" {}{{{fields}}}", span.name()));
                }
            }
        }
        let level = match origin(meta.target()) {
            Origin::Dev => meta.level().as_str(),
            _ if meta.target().ends_with("::stderr") => "STDERR",
            _ => "STDOUT",
        };
        let stamp = super::timestamp();
        let tag = origin(meta.target()).tag();
        let tag = if tag.is_empty() {
            String::new()
        } else {
            format!("[{tag}] ")
        };
        for line in message(ctx, event)?.lines() {
            writeln!(
                writer,
                "{stamp} {} {level} {tag}{line}{spans}",
                self.correlation_id
            )?;
        }
        Ok(())
    }
}

/// The file layer's field formatter. A span's fields are formatted once per formatter
/// type and kept on the span: with the terminal's (coloured) formatter shared, the file
/// got the terminal's escape codes in `attempt{n=1}`. A type of its own keeps them apart.
#[derive(Default)]
struct PlainFields(tracing_subscriber::fmt::format::DefaultFields);

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        self.0.format_fields(writer, fields)
    }
}

/// Hands formatted lines to the terminal thread; never blocks.
#[derive(Clone)]
struct QueueWriter {
    queue: SyncSender<Message>,
    dropped: Arc<AtomicU64>,
    stderr: bool,
}

/// Hands `text` (whole lines) to the terminal thread without blocking. A full queue
/// means the terminal is behind: the lines are dropped from the terminal only (the file
/// layer has them), and counted.
pub(super) fn queue_line(
    queue: &SyncSender<Message>,
    dropped: &AtomicU64,
    text: String,
    to_stderr: bool,
) {
    let lines = text.lines().count().max(1) as u64;
    let message = Message::Line { text, to_stderr };
    if let Err(TrySendError::Full(_)) = queue.try_send(message) {
        dropped.fetch_add(lines, Ordering::Relaxed);
    }
}

impl Write for QueueWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        queue_line(&self.queue, &self.dropped, text, self.stderr);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for QueueWriter {
    type Writer = QueueWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The run's log file, which stops growing at its cap and says so once.
#[derive(Debug)]
pub(super) struct LogFile {
    file: File,
    written: u64,
    cap: u64,
    full: bool,
}

impl LogFile {
    pub(super) fn new(file: File, cap: u64) -> LogFile {
        LogFile {
            file,
            written: 0,
            cap,
            full: false,
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.full {
            return;
        }
        if self.written + bytes.len() as u64 > self.cap {
            self.full = true;
            // The cut line's own prefix (time, correlation ID) leads the note.
            let head: String = String::from_utf8_lossy(bytes)
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(
                self.file,
                "{head} WARN [dev] the log file reached its cap of {} bytes (dev.max_log_size): later lines are not written",
                self.cap
            );
            return;
        }
        self.written += bytes.len() as u64;
        let _ = self.file.write_all(bytes);
    }
}

/// The file layer's writer: one locked append per event.
#[derive(Clone)]
struct FileWriter(Arc<Mutex<Option<LogFile>>>);

impl Write for FileWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut guard) = self.0.lock()
            && let Some(file) = guard.as_mut()
        {
            file.append(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for FileWriter {
    type Writer = FileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_origins_from_targets() {
        let cases = [
            ("dev", Level::INFO, false, Origin::Dev),
            ("dev", Level::DEBUG, false, Origin::Dev),
            ("dev", Level::WARN, true, Origin::Dev),
            ("coordinator::backend", Level::DEBUG, false, Origin::Dev),
            ("backend::stdout", Level::INFO, false, Origin::Backend),
            ("backend::stderr", Level::INFO, true, Origin::Backend),
            ("frontend::stderr", Level::INFO, true, Origin::Frontend),
        ];
        for (target, level, stderr, who) in cases {
            assert_eq!(to_stderr(target, &level), stderr, "{target} {level}");
            assert_eq!(origin(target), who, "{target}");
        }
    }

    #[test]
    fn rust_log_filters() {
        let (filter, bad) = terminal_filter(None, false);
        assert!(bad.is_none());
        assert!(filter.would_enable("dev", &Level::INFO));
        assert!(!filter.would_enable("dev", &Level::DEBUG));
        let (filter, _) = terminal_filter(Some("warn,backend::stdout=info".into()), false);
        assert!(!filter.would_enable("dev", &Level::INFO));
        assert!(filter.would_enable("backend::stdout", &Level::INFO));
        let (_, bad) = terminal_filter(Some("dev=loudest".into()), false);
        assert_eq!(bad.as_deref(), Some("dev=loudest"));
    }

    #[test]
    fn health_probe_lines_are_off_the_terminal_unless_asked_for() {
        let health = ChildLine {
            origin: Origin::Backend,
            stderr: true,
            health: true,
        }
        .target();
        let shown = |rust_log: Option<&str>, show: bool| {
            terminal_filter(rust_log.map(str::to_owned), show)
                .0
                .would_enable(health, &Level::INFO)
        };
        assert!(!shown(None, false));
        assert!(!shown(Some("debug"), false));
        assert!(!shown(Some("backend=info"), false));
        assert!(shown(None, true));
        assert!(shown(Some("info,backend::health=info"), false));
        assert!(!shown(Some("info,backend::health=warn"), false));
        // The backend's other lines are untouched.
        let other = ChildLine {
            origin: Origin::Backend,
            stderr: true,
            health: false,
        };
        assert!(
            terminal_filter(None, false)
                .0
                .would_enable(other.target(), &Level::INFO)
        );
    }
}
