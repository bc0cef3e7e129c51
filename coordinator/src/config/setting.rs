//! The table of settings: each key's environment variable, the kind of value it takes,
//! and the one parser per kind that the file, environment and flag layers all share.
//!
//! Keeping one table means a new setting is one line here plus one arm in
//! [`super::Config::apply`], and it is then loadable from every layer with the same
//! validation and the same error wording.

use std::time::Duration;

use toml::de::DeValue;

use super::duration;
pub use super::size::format_size;
use super::size::parse_size;
use crate::health::HealthFormat;

/// One configurable value.
#[derive(Debug)]
pub struct Setting {
    /// Dotted key as written in `dev.toml`: `backend.port`.
    pub key: &'static str,
    /// The environment variable that overrides it.
    pub env: &'static str,
    /// A second variable that overrides it (and wins over `env`), for a value whose
    /// plain name is also what a child reads: `DEV_FRONTEND_PORT` over `FRONTEND_PORT`.
    pub alias: Option<&'static str>,
    pub kind: Kind,
}

/// Every setting, in the order `--print-config` shows them.
pub const SETTINGS: &[Setting] = &[
    s("backend.command", "DEV_BACKEND_COMMAND", Kind::Argv),
    s("backend.after", "DEV_BACKEND_AFTER", Kind::Names),
    s("backend.service", "DEV_BACKEND_SERVICE", Kind::Text),
    // The names the frontend and backend already read; they also answer to the
    // `DEV_<SECTION>_<KEY>` name of the scheme (both set, and different, is an error).
    Setting {
        key: "backend.host",
        env: "BACKEND_HOST",
        alias: Some("DEV_BACKEND_HOST"),
        kind: Kind::Host,
    },
    Setting {
        key: "backend.port",
        env: "BACKEND_PORT",
        alias: Some("DEV_BACKEND_PORT"),
        kind: Kind::Port,
    },
    s(
        "backend.health_path",
        "DEV_BACKEND_HEALTH_PATH",
        Kind::HttpPath,
    ),
    s(
        "backend.health_format",
        "DEV_BACKEND_HEALTH_FORMAT",
        Kind::HealthFormat,
    ),
    s(
        "backend.startup_timeout",
        "DEV_BACKEND_STARTUP_TIMEOUT",
        Kind::Timeout,
    ),
    s(
        "backend.health_timeout",
        "DEV_BACKEND_HEALTH_TIMEOUT",
        Kind::Timeout,
    ),
    s("backend.attempts", "DEV_BACKEND_ATTEMPTS", Kind::Attempts),
    s(
        "backend.retry_delay",
        "DEV_BACKEND_RETRY_DELAY",
        Kind::Delay,
    ),
    s(
        "backend.accept_degraded",
        "DEV_BACKEND_ACCEPT_DEGRADED",
        Kind::Bool,
    ),
    s(
        "backend.show_health_logs",
        "DEV_BACKEND_SHOW_HEALTH_LOGS",
        Kind::Bool,
    ),
    s(
        "backend.requirements",
        "DEV_BACKEND_REQUIREMENTS",
        Kind::Path,
    ),
    s("backend.venv", "DEV_BACKEND_VENV", Kind::Path),
    s("backend.extras", "DEV_BACKEND_EXTRAS", Kind::Extras),
    s(
        "backend.liveness_interval",
        "DEV_BACKEND_LIVENESS_INTERVAL",
        Kind::Timeout,
    ),
    s(
        "backend.liveness_failures",
        "DEV_BACKEND_LIVENESS_FAILURES",
        Kind::Count,
    ),
    s(
        "backend.max_retry_delay",
        "DEV_BACKEND_MAX_RETRY_DELAY",
        Kind::Delay,
    ),
    s(
        "backend.max_restarts",
        "DEV_BACKEND_MAX_RESTARTS",
        Kind::Count,
    ),
    s("backend.watch", "DEV_BACKEND_WATCH", Kind::Globs),
    s(
        "backend.watch_ignore",
        "DEV_BACKEND_WATCH_IGNORE",
        Kind::Globs,
    ),
    s(
        "backend.watch_debounce",
        "DEV_BACKEND_WATCH_DEBOUNCE",
        Kind::Delay,
    ),
    s("backend.url", "DEV_BACKEND_URL", Kind::Url),
    s("backend.ca_file", "DEV_BACKEND_CA_FILE", Kind::Path),
    s("frontend.command", "DEV_FRONTEND_COMMAND", Kind::Argv),
    s("frontend.after", "DEV_FRONTEND_AFTER", Kind::Names),
    s(
        "frontend.config_file",
        "DEV_FRONTEND_CONFIG_FILE",
        Kind::Path,
    ),
    s("frontend.port_key", "DEV_FRONTEND_PORT_KEY", Kind::Text),
    s("frontend.host", "DEV_FRONTEND_HOST", Kind::Host),
    Setting {
        key: "frontend.port",
        env: "FRONTEND_PORT",
        alias: Some("DEV_FRONTEND_PORT"),
        kind: Kind::PortOrOff,
    },
    s(
        "frontend.ready_path",
        "DEV_FRONTEND_READY_PATH",
        Kind::HttpPath,
    ),
    s("frontend.url_key", "DEV_FRONTEND_URL_KEY", Kind::Text),
    s(
        "frontend.startup_timeout",
        "DEV_FRONTEND_STARTUP_TIMEOUT",
        Kind::Timeout,
    ),
    s("frontend.origins", "DEV_FRONTEND_ORIGINS", Kind::Origins),
    s("dev.shutdown_grace", "DEV_SHUTDOWN_GRACE", Kind::Delay),
    s("dev.log_dir", "DEV_LOG_DIR", Kind::Path),
    s("dev.keep_logs", "DEV_KEEP_LOGS", Kind::Count),
    s("dev.max_log_size", "DEV_MAX_LOG_SIZE", Kind::Size),
    s("dev.guardian", "DEV_GUARDIAN", Kind::Bool),
];

/// A backend base URL without its trailing `/`, so that `{url}{health_path}` is right;
/// `None` unless it is an `http` or `https` URL with a host and no query or fragment.
fn base_url(text: &str) -> Option<String> {
    let url = reqwest::Url::parse(text.trim()).ok()?;
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    fine.then(|| text.trim().trim_end_matches('/').to_owned())
}

const fn s(key: &'static str, env: &'static str, kind: Kind) -> Setting {
    Setting {
        key,
        env,
        alias: None,
        kind,
    }
}

/// Looks a dotted key up in [`SETTINGS`].
pub fn find(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// The shape a setting's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A program and its arguments: no shell is involved.
    Argv,
    Text,
    /// A loopback address: the coordinator only ever talks to this machine.
    Host,
    Port,
    /// A port, or `false`: the frontend is not a server.
    PortOrOff,
    /// Extra browser origins (`scheme://host[:port]`), possibly none.
    Origins,
    /// An HTTP path starting with `/`.
    HttpPath,
    /// A duration greater than zero.
    Timeout,
    /// A duration, zero allowed.
    Delay,
    /// A number of tries, 1 to 10.
    Attempts,
    /// A whole number from 1 to 10000.
    Count,
    /// A size in bytes with a unit: `"500KB"`, `"50MB"`, `"1GB"`.
    Size,
    /// A list of glob patterns, possibly empty.
    Globs,
    /// PEP 621 optional-dependency names (`["dev"]`), possibly none.
    Extras,
    /// Names of the run's processes (`["redis"]`), possibly none.
    Names,
    Bool,
    /// A path, relative to the checkout root unless absolute.
    Path,
    /// How health answers are read: `auto` or `status-code`.
    HealthFormat,
    /// The base URL of a backend `dev` does not start: `http://` or `https://`, a host,
    /// an optional port and path, no query.
    Url,
}

/// A validated value, ready to be applied to a [`super::Config`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Argv(Vec<String>),
    Text(String),
    Port(u16),
    /// `frontend.port`: `None` for `false`.
    OptionalPort(Option<u16>),
    List(Vec<String>),
    Duration(Duration),
    Count(u32),
    Bytes(u64),
    Globs(Vec<String>),
    Bool(bool),
    HealthFormat(HealthFormat),
}

impl Kind {
    /// What a valid value looks like, for error messages.
    pub fn expected(self) -> &'static str {
        match self {
            Kind::Argv => r#"a non-empty array of strings, e.g. ["python", "backend/main.py"]"#,
            Kind::Text => "a non-empty string",
            Kind::Host => r#"a loopback address such as "127.0.0.1" or "::1""#,
            Kind::Port => "a port number from 1 to 65535",
            Kind::PortOrOff => "a port number from 1 to 65535, or false (not a server)",
            Kind::Origins => {
                r#"an array of origins such as ["app://-", "http://localhost:3000"] (no path)"#
            }
            Kind::HttpPath => r#"a path starting with "/", e.g. "/health""#,
            Kind::Timeout => r#"a duration from 1ms to 24h such as "500ms", "30s" or "1m""#,
            Kind::Delay => r#""0s" or a duration from 1ms to 24h such as "500ms" or "2s""#,
            Kind::Attempts => "a whole number from 1 to 10",
            Kind::Count => "a whole number from 1 to 10000",
            Kind::Size => r#"a size such as "500KB", "50MB" or "1GB""#,
            Kind::Globs => {
                r#"an array of glob patterns, e.g. ["backend/**/*.py"] (or [] for none)"#
            }
            Kind::Extras => {
                r#"an array of optional-dependency names from pyproject.toml, e.g. ["dev"] (or [])"#
            }
            Kind::Names => r#"an array of process names, e.g. ["redis"] (or [] for none)"#,
            Kind::Bool => "true or false",
            Kind::Path => "a non-empty path string",
            Kind::HealthFormat => {
                r#""auto" (recognise the usual JSON health forms) or "status-code" (any 2xx is ready)"#
            }
            Kind::Url => {
                r#"an http:// or https:// base URL such as "https://gpu-box:8443" (no query or fragment)"#
            }
        }
    }

    /// Validates a value from `dev.toml`.
    pub fn parse_toml(self, value: &DeValue<'_>) -> Option<Value> {
        match (self, value) {
            (Kind::Argv, DeValue::Array(items)) => {
                let argv: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                argv_value(argv?)
            }
            (Kind::Globs, DeValue::Array(items)) => {
                let globs: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                globs_value(globs?)
            }
            (Kind::Extras | Kind::Names, DeValue::Array(items)) => {
                let names: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                self.names(names?)
            }
            (Kind::Port | Kind::Attempts | Kind::Count, DeValue::Integer(int)) => {
                // The one number syntax of every layer (see `decimal`): TOML's own hex,
                // octal and binary forms are refused, as the environment refuses them.
                (int.radix() == 10).then_some(())?;
                self.parse_number(decimal(int.as_str())?)
            }
            (Kind::Bool, DeValue::Boolean(flag)) => Some(Value::Bool(*flag)),
            (Kind::PortOrOff, DeValue::Integer(int)) => {
                (int.radix() == 10).then_some(())?;
                match Kind::Port.parse_number(decimal(int.as_str())?)? {
                    Value::Port(port) => Some(Value::OptionalPort(Some(port))),
                    _ => None,
                }
            }
            (Kind::PortOrOff, DeValue::Boolean(false)) => Some(Value::OptionalPort(None)),
            (Kind::Origins, DeValue::Array(items)) => {
                let origins: Option<Vec<String>> = items
                    .iter()
                    .map(|item| item.get_ref().as_str().map(str::to_owned))
                    .collect();
                origins_value(origins?)
            }
            (
                Kind::Argv
                | Kind::Globs
                | Kind::Extras
                | Kind::Names
                | Kind::Port
                | Kind::PortOrOff
                | Kind::Origins
                | Kind::Attempts
                | Kind::Count
                | Kind::Bool,
                _,
            ) => None,
            (_, DeValue::String(text)) => self.parse_text(text),
            _ => None,
        }
    }

    /// Validates a value from the environment or a flag, where everything is text.
    pub fn parse_text(self, text: &str) -> Option<Value> {
        match self {
            Kind::Argv => argv_value(parse_argv(text)?),
            Kind::Text | Kind::Path => {
                (!text.trim().is_empty()).then(|| Value::Text(text.to_owned()))
            }
            Kind::Host => is_loopback(text).then(|| Value::Text(text.to_owned())),
            Kind::HttpPath => text.starts_with('/').then(|| Value::Text(text.to_owned())),
            Kind::Port | Kind::Attempts | Kind::Count => self.parse_number(decimal(text.trim())?),
            Kind::Size => parse_size(text).map(Value::Bytes),
            Kind::Globs => globs_value(parse_argv(text)?),
            Kind::Extras | Kind::Names => self.names(parse_argv(text).unwrap_or_default()),
            Kind::PortOrOff => match text.trim() {
                "false" | "off" | "none" => Some(Value::OptionalPort(None)),
                number => match Kind::Port.parse_number(decimal(number)?)? {
                    Value::Port(port) => Some(Value::OptionalPort(Some(port))),
                    _ => None,
                },
            },
            Kind::Origins => origins_value(
                text.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|word| !word.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Kind::Timeout => duration::parse(text)
                .filter(|d| !d.is_zero())
                .map(Value::Duration),
            Kind::Delay => duration::parse(text).map(Value::Duration),
            Kind::HealthFormat => HealthFormat::parse(text).map(Value::HealthFormat),
            Kind::Url => base_url(text).map(Value::Text),
            Kind::Bool => match text.trim() {
                "true" | "1" | "yes" => Some(Value::Bool(true)),
                "false" | "0" | "no" => Some(Value::Bool(false)),
                _ => None,
            },
        }
    }

    /// A list of names: extras as PEP 685 allows them, processes as `dev.toml` does.
    fn names(self, names: Vec<String>) -> Option<Value> {
        match self {
            Kind::Names => names
                .iter()
                .all(|name| is_process_name(name))
                .then_some(Value::List(names)),
            _ => extras_value(names),
        }
    }

    fn parse_number(self, number: i64) -> Option<Value> {
        match self {
            Kind::Port => u16::try_from(number)
                .ok()
                .filter(|port| *port != 0)
                .map(Value::Port),
            Kind::Attempts => u32::try_from(number)
                .ok()
                .filter(|n| (1..=10).contains(n))
                .map(Value::Count),
            Kind::Count => u32::try_from(number)
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .map(Value::Count),
            _ => None,
        }
    }
}

/// Globs: any number (none turns watching off), each valid and non-empty.
fn globs_value(globs: Vec<String>) -> Option<Value> {
    let valid = |g: &String| !g.trim().is_empty() && glob::Pattern::new(g).is_ok();
    globs.iter().all(valid).then_some(Value::Globs(globs))
}

/// Extra names as PEP 685 allows them: letters and digits, with `-`, `_` or `.` inside.
fn extras_value(names: Vec<String>) -> Option<Value> {
    let valid = |name: &String| {
        let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        ends(name.chars().next())
            && ends(name.chars().last())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    names.iter().all(valid).then_some(Value::List(names))
}

/// A program (non-empty) and its arguments, which may be empty (`redis-server --save ""`).
fn argv_value(argv: Vec<String>) -> Option<Value> {
    argv.first()
        .is_some_and(|program| !program.is_empty())
        .then_some(Value::Argv(argv))
}

/// The one syntax of a whole number in every layer (`dev.toml`, the environment, flags):
/// decimal digits, which may be grouped by single underscores between digits as TOML
/// allows (`8_000`). No sign, no other base: `BACKEND_PORT=8_000` and `--port 8_000`
/// mean what `port = 8_000` means, and `0x1f40` means nothing anywhere.
fn decimal(text: &str) -> Option<i64> {
    let grouped_well = !text.starts_with('_') && !text.ends_with('_') && !text.contains("__");
    let digits_only = text.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    if text.is_empty() || !grouped_well || !digits_only {
        return None;
    }
    text.replace('_', "").parse().ok()
}

/// Origins as a browser sends them: `scheme://host[:port]`, no path, no wildcard (the
/// point of the list is to name exactly who may call the backend).
fn origins_value(origins: Vec<String>) -> Option<Value> {
    let valid = |origin: &String| {
        origin.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty() && !rest.is_empty() && !rest.contains(['/', '*', ' '])
        })
    };
    origins.iter().all(valid).then_some(Value::List(origins))
}

/// Environment form of an argv: a TOML array (`["python", "main.py"]`) when it starts
/// with `[`, else words split on whitespace (no quoting: use the array form for spaces).
fn parse_argv(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if text.starts_with('[') {
        let value = DeValue::parse(text).ok()?;
        let items = value.get_ref().as_array()?;
        items
            .iter()
            .map(|item| item.get_ref().as_str().map(str::to_owned))
            .collect()
    } else {
        Some(text.split_whitespace().map(str::to_owned).collect())
    }
}

/// Loopback, or a wildcard bind address (whose health is then probed on loopback).
fn is_loopback(host: &str) -> bool {
    let ip = |ip: std::net::IpAddr| ip.is_loopback() || ip.is_unspecified();
    host == "localhost" || host.parse().is_ok_and(ip)
}

/// A process's name (`[process.NAME]`, `after`): `a-z`, then `a-z`, `0-9`, `-` or `_`.
pub(super) fn is_process_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    name.starts_with(|c: char| c.is_ascii_lowercase()) && name.chars().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls_are_http_or_https_bases() {
        // (given, accepted as)
        let cases = [
            ("https://gpu-box:8443", Some("https://gpu-box:8443")),
            ("http://127.0.0.1:8000/", Some("http://127.0.0.1:8000")),
            (
                "https://api.example.test/v1/",
                Some("https://api.example.test/v1"),
            ),
            ("http://[::1]:9000", Some("http://[::1]:9000")),
            ("ftp://gpu-box", None),
            ("gpu-box:8443", None),
            ("https://gpu-box/health?x=1", None),
            ("https://user:secret@gpu-box", None),
            ("https://", None),
        ];
        for (given, expected) in cases {
            let parsed = Kind::Url.parse_text(given);
            assert_eq!(
                parsed,
                expected.map(|url| Value::Text(url.to_owned())),
                "{given}"
            );
        }
    }

    #[test]
    fn text_values_per_kind() {
        let cases: &[(Kind, &str, Option<Value>)] = &[
            (Kind::Port, "8000", Some(Value::Port(8000))),
            (Kind::Port, "8_000", Some(Value::Port(8000))),
            (Kind::Port, " 8000 ", Some(Value::Port(8000))),
            (Kind::Port, "8__000", None),
            (Kind::Port, "_8000", None),
            (Kind::Port, "8000_", None),
            (Kind::Port, "+8000", None),
            (Kind::Port, "0x1f40", None),
            (Kind::Port, "0", None),
            (Kind::Port, "70000", None),
            (Kind::Port, "abc", None),
            (
                Kind::Host,
                "127.0.0.1",
                Some(Value::Text("127.0.0.1".into())),
            ),
            (Kind::Host, "::1", Some(Value::Text("::1".into()))),
            (Kind::Host, "192.168.1.4", None),
            (Kind::Host, "example.com", None),
            (Kind::Attempts, "3", Some(Value::Count(3))),
            (Kind::Attempts, "0", None),
            (Kind::Timeout, "0s", None),
            (Kind::Delay, "0s", Some(Value::Duration(Duration::ZERO))),
            (Kind::Bool, "maybe", None),
            (Kind::HttpPath, "health", None),
            (
                Kind::Argv,
                r#"["python", "a b.py"]"#,
                Some(Value::Argv(vec!["python".into(), "a b.py".into()])),
            ),
            (
                Kind::Argv,
                "node server.js",
                Some(Value::Argv(vec!["node".into(), "server.js".into()])),
            ),
            (Kind::Argv, "  ", None),
            (Kind::Count, "0", None),
            (Kind::Count, "5", Some(Value::Count(5))),
            (Kind::Size, "50MB", Some(Value::Bytes(50_000_000))),
            (Kind::Size, "500 kb", Some(Value::Bytes(500_000))),
            (Kind::Size, "50", None),
            (Kind::Size, "0MB", None),
            (Kind::Globs, "[]", Some(Value::Globs(vec![]))),
            (
                Kind::Globs,
                r#"["app/**/*.py"]"#,
                Some(Value::Globs(vec!["app/**/*.py".into()])),
            ),
            (Kind::Globs, r#"["app/[.py"]"#, None),
            (
                Kind::HealthFormat,
                "status-code",
                Some(Value::HealthFormat(HealthFormat::StatusCode)),
            ),
            (Kind::HealthFormat, "json", None),
            (
                Kind::PortOrOff,
                "5173",
                Some(Value::OptionalPort(Some(5173))),
            ),
            (Kind::PortOrOff, "false", Some(Value::OptionalPort(None))),
            (Kind::PortOrOff, "0", None),
            (Kind::PortOrOff, "true", None),
            (
                Kind::Origins,
                "app://-, http://localhost:3000",
                Some(Value::List(vec![
                    "app://-".into(),
                    "http://localhost:3000".into(),
                ])),
            ),
            (Kind::Origins, "", Some(Value::List(vec![]))),
            (Kind::Origins, "*", None),
            (Kind::Origins, "http://a.example/path", None),
            (Kind::Origins, "localhost:3000", None),
        ];
        for (kind, text, expected) in cases {
            assert_eq!(&kind.parse_text(text), expected, "{kind:?} from {text:?}");
        }
    }

    #[test]
    fn every_env_name_is_unique() {
        for (i, a) in SETTINGS.iter().enumerate() {
            for b in &SETTINGS[i + 1..] {
                assert_ne!(a.env, b.env);
                assert_ne!(a.alias.unwrap_or(a.env), b.alias.unwrap_or(b.env));
                assert_ne!(a.key, b.key);
            }
            for b in SETTINGS {
                assert_ne!(Some(a.env), b.alias);
            }
        }
    }
}
