//! The `tracing` side of the run's log: how events are named, filtered, formatted and
//! written.
//!
//! Targets name the origin and the stream: `dev` (dev's own lines: info and debug to
//! stdout, warnings and errors to stderr), `backend::stdout`, `backend::stderr`,
//! `frontend::stdout`, `frontend::stderr`; any other target (library code's
//! `tracing::debug!`, named after its module) is dev's. Two terminal layers, one per
//! stream, so that colour is decided per stream, format with [`Prefixed`] (the `[dev]`,
//! `[backend]`, `[frontend]` prefixes) into the bounded terminal queue; the file layer
//! formats with [`FileLine`] (time, correlation ID, level, origin, the spans' fields).

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

/// Emits one event for `origin` on its stream (the target must be a constant).
pub(super) fn event(origin: Origin, level: Level, stderr: bool, message: &str) {
    macro_rules! at {
        ($target:literal) => {
            match level {
                Level::ERROR => tracing::error!(target: $target, "{message}"),
                Level::WARN => tracing::warn!(target: $target, "{message}"),
                Level::INFO => tracing::info!(target: $target, "{message}"),
                Level::DEBUG => tracing::debug!(target: $target, "{message}"),
                _ => tracing::trace!(target: $target, "{message}"),
            }
        };
    }
    match (origin, stderr) {
        (Origin::Dev, _) => at!("dev"),
        (Origin::Backend, false) => at!("backend::stdout"),
        (Origin::Backend, true) => at!("backend::stderr"),
        (Origin::Frontend, false) => at!("frontend::stdout"),
        (Origin::Frontend, true) => at!("frontend::stderr"),
    }
}

fn origin(target: &str) -> Origin {
    if target.starts_with("backend::") {
        Origin::Backend
    } else if target.starts_with("frontend::") {
        Origin::Frontend
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
    };
    format!("\x1b[{code}m[{tag}]\x1b[0m")
}

/// The terminal's filter from `RUST_LOG` (default `info`); the text when it is invalid.
pub(super) fn terminal_filter(rust_log: Option<String>) -> (Targets, Option<String>) {
    let default = Targets::new().with_default(LevelFilter::INFO);
    match rust_log.filter(|text| !text.trim().is_empty()) {
        None => (default, None),
        Some(text) => match text.parse::<Targets>() {
            Ok(targets) => (targets, None),
            Err(_) => (default, Some(text)),
        },
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
        .with_filter(filter_fn(move |meta| {
            to_stderr(meta.target(), meta.level()) == stderr
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
        for line in message(ctx, event)?.lines() {
            writeln!(
                writer,
                "{stamp} {} {level} [{tag}] {line}{spans}",
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

impl Write for QueueWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let lines = text.lines().count().max(1) as u64;
        let message = Message::Line {
            text,
            to_stderr: self.stderr,
        };
        // A full queue means the terminal is behind: the line is dropped from the
        // terminal only (the file layer has it).
        if let Err(TrySendError::Full(_)) = self.queue.try_send(message) {
            self.dropped.fetch_add(lines, Ordering::Relaxed);
        }
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
        let (filter, bad) = terminal_filter(None);
        assert!(bad.is_none());
        assert!(filter.would_enable("dev", &Level::INFO));
        assert!(!filter.would_enable("dev", &Level::DEBUG));
        let (filter, _) = terminal_filter(Some("warn,backend::stdout=info".into()));
        assert!(!filter.would_enable("dev", &Level::INFO));
        assert!(filter.would_enable("backend::stdout", &Level::INFO));
        let (_, bad) = terminal_filter(Some("dev=loudest".into()));
        assert_eq!(bad.as_deref(), Some("dev=loudest"));
    }
}
