//! The coordinator's configuration: built-in defaults < `dev.toml` < environment < flags.
//!
//! Every effective value remembers where it came from ([`Source`]), so that
//! `dev --print-config` can answer "why is the port 8001?", and every error points at
//! the file, line and column, or the variable, that set a bad value. All problems in a
//! file are reported at once rather than one per run.

mod display;
pub mod duration;
pub mod placeholder;
pub mod process;
mod setting;
mod size;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use process::{Node, ProcessConfig, Ready, Restart};
pub use setting::{Kind, SETTINGS, Setting, Value};

use crate::health::HealthFormat;
use toml::Spanned;
use toml::de::{DeString, DeTable, DeValue};

use crate::text::line_col;

/// The name of the config file, looked for from the current directory upwards.
pub const FILE_NAME: &str = "dev.toml";

/// The effective configuration of one run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The checkout: the folder holding `dev.toml`; relative paths are resolved against it.
    pub root: PathBuf,
    /// The `dev.toml` that was read, if there was one.
    pub file: Option<PathBuf>,
    pub backend: BackendConfig,
    pub frontend: FrontendConfig,
    pub dev: DevConfig,
    /// The `[process.NAME]` tables, in file order.
    pub processes: Vec<ProcessConfig>,
    sources: BTreeMap<&'static str, Source>,
    /// Keys whose given value was invalid (they keep their default).
    invalid: std::collections::BTreeSet<&'static str>,
}

#[derive(Debug, Clone)]
pub struct BackendConfig {
    pub command: Vec<String>,
    /// Processes that must be ready before it starts.
    pub after: Vec<String>,
    pub service: String,
    pub host: String,
    pub port: u16,
    pub health_path: String,
    /// How health answers are read.
    pub health_format: HealthFormat,
    pub startup_timeout: Duration,
    pub health_timeout: Duration,
    pub attempts: u32,
    pub retry_delay: Duration,
    pub accept_degraded: bool,
    /// Show the backend's access-log lines for health requests answered 2xx.
    pub show_health_logs: bool,
    pub requirements: PathBuf,
    pub venv: PathBuf,
    /// Optional dependencies of a `pyproject.toml` to install too (PEP 621 extras).
    pub extras: Vec<String>,
    /// Once ready, `GET health_path` this often.
    pub liveness_interval: Duration,
    /// This many failed liveness probes in a row: the backend is not alive.
    pub liveness_failures: u32,
    /// The cap of `retry_delay * 2^(k-1)`.
    pub max_retry_delay: Duration,
    /// Restarts in a row, each within a minute of becoming ready, before giving up.
    pub max_restarts: u32,
    /// Globs (relative to the checkout) whose change restarts the backend; empty: off.
    pub watch: Vec<String>,
    /// Names and globs that never restart it.
    pub watch_ignore: Vec<String>,
    /// Changes closer together than this are one change.
    pub watch_debounce: Duration,
    /// A backend `dev` does not start (remote or in a container): its base URL.
    pub url: Option<String>,
    /// Extra CA certificates (PEM) trusted for an https backend.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct FrontendConfig {
    pub command: Vec<String>,
    /// Processes that must be ready before it starts (besides the backend).
    pub after: Vec<String>,
    pub config_file: PathBuf,
    pub port_key: String,
    /// Where the frontend's own server listens (loopback).
    pub host: String,
    /// Its port; `None` when the frontend is not a server (`port = false`).
    pub port: Option<u16>,
    /// A path that must answer 2xx before the frontend counts as ready.
    pub ready_path: Option<String>,
    /// Where in the frontend config the backend's whole URL is written, if anywhere.
    pub url_key: Option<String>,
    /// How long the frontend gets to open its port.
    pub startup_timeout: Duration,
    /// Browser origins besides the frontend's own that may call the backend.
    pub origins: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DevConfig {
    /// How long stopped processes get between SIGTERM and SIGKILL.
    pub shutdown_grace: Duration,
    /// Where each run's log file goes.
    pub log_dir: PathBuf,
    /// The newest this many run logs are kept.
    pub keep_logs: u32,
    /// A run's log stops growing at this many bytes.
    pub max_log_size: u64,
    /// Start the guardian, which stops what `dev` started if `dev` is killed outright.
    pub guardian: bool,
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File { path: PathBuf, line: usize },
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// A value given on the command line, applied last.
#[derive(Debug, Clone)]
pub struct FlagValue {
    pub key: &'static str,
    pub flag: &'static str,
    pub value: Value,
}

/// One thing wrong with the configuration, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `dev.toml:4:8`, or `BACKEND_PORT`.
    pub location: String,
    pub message: String,
    pub fix: String,
}

/// The configuration could not be loaded: every problem found, each actionable.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
    /// No `dev.toml` anywhere from the start folder up: not a checkout at all.
    pub missing_file: bool,
}

impl ConfigError {
    fn new(problems: Vec<Problem>) -> ConfigError {
        ConfigError {
            problems,
            missing_file: false,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if self.missing_file {
                // The message names the folder already.
                write!(f, "{}\n  fix: {}", problem.message, problem.fix)?;
            } else {
                write!(
                    f,
                    "{}: {}\n  fix: {}",
                    problem.location, problem.message, problem.fix
                )?;
            }
        }
        Ok(())
    }
}

impl Config {
    /// Built-in defaults for a checkout at `root`: the reference app's layout.
    pub fn defaults(root: &Path) -> Config {
        let mut config = Config {
            root: root.to_path_buf(),
            file: None,
            backend: BackendConfig {
                command: vec!["python".into(), "backend/main.py".into()],
                after: Vec::new(),
                service: "demo-backend".into(),
                host: "127.0.0.1".into(),
                port: 8000,
                health_path: "/health".into(),
                health_format: HealthFormat::Auto,
                startup_timeout: Duration::from_secs(30),
                health_timeout: Duration::from_secs(5),
                attempts: 3,
                retry_delay: Duration::from_secs(2),
                accept_degraded: false,
                show_health_logs: false,
                requirements: root.join("backend/requirements.txt"),
                venv: root.join("backend/.venv"),
                extras: Vec::new(),
                liveness_interval: Duration::from_secs(2),
                liveness_failures: 3,
                max_retry_delay: Duration::from_secs(30),
                max_restarts: 5,
                watch: vec!["backend/**/*.py".into()],
                watch_ignore: [".venv", "__pycache__", ".git", "*.swp", "*~", ".#*", "4913"]
                    .map(str::to_owned)
                    .to_vec(),
                watch_debounce: Duration::from_millis(100),
                url: None,
                ca_file: None,
            },
            frontend: FrontendConfig {
                command: vec!["node".into(), "frontend/server.js".into()],
                after: Vec::new(),
                config_file: root.join("frontend/config.json"),
                port_key: "backend.port".into(),
                host: "127.0.0.1".into(),
                port: Some(5173),
                ready_path: None,
                url_key: None,
                startup_timeout: Duration::from_secs(30),
                origins: Vec::new(),
            },
            dev: DevConfig {
                shutdown_grace: Duration::from_secs(5),
                log_dir: root.join(".dev/logs"),
                keep_logs: 20,
                max_log_size: 50_000_000,
                guardian: true,
            },
            processes: Vec::new(),
            sources: BTreeMap::new(),
            invalid: Default::default(),
        };
        for setting in SETTINGS {
            config.sources.insert(setting.key, Source::Default);
        }
        config
    }

    /// Finds `dev.toml` from `start` upwards and loads every layer. Every problem is
    /// reported; none is ignored.
    pub fn load(
        start: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[FlagValue],
    ) -> Result<Config, ConfigError> {
        match Config::load_partial(start, env, flags)? {
            (config, None) => Ok(config),
            (_, Some(err)) => Err(err),
        }
    }

    /// [`Config::load`] that keeps going past invalid values: the config with every
    /// valid value applied (an invalid one keeps its default, see
    /// [`Config::is_invalid`]), and the problems found. `doctor` uses it, so that one
    /// typo does not make it check everything against the defaults. Fails only when
    /// there is no usable `dev.toml` at all.
    pub fn load_partial(
        start: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &[FlagValue],
    ) -> Result<(Config, Option<ConfigError>), ConfigError> {
        let (root, file) = Config::locate(start)?;
        let mut config = Config::defaults(&root);
        let mut problems = Vec::new();
        config.apply_file(&file, &mut problems);
        config.file = Some(file);
        config.apply_env(env, &mut problems);
        for flag in flags {
            config.apply(flag.key, flag.value.clone(), Source::Flag(flag.flag.into()));
        }
        config.check_whole(&mut problems);
        let err = (!problems.is_empty()).then(|| ConfigError::new(problems));
        Ok((config, err))
    }

    /// The checkout and its `dev.toml`: the nearest `dev.toml` from `start` upwards,
    /// as cargo finds `Cargo.toml`. The nearest entry of that name decides: a dangling
    /// symlink or a folder called `dev.toml` is an error, never a reason to use a
    /// parent's file.
    pub fn locate(start: &Path) -> Result<(PathBuf, PathBuf), ConfigError> {
        let found = start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| std::fs::symlink_metadata(candidate).is_ok());
        let Some(file) = found else {
            return Err(ConfigError {
                problems: vec![Problem {
                    location: start.display().to_string(),
                    message: format!("no {FILE_NAME} in {} or any parent", start.display()),
                    fix: format!(
                        "run it inside a checkout, or create {FILE_NAME} at the checkout root (see README.md)"
                    ),
                }],
                missing_file: true,
            });
        };
        let shown = file.display().to_string();
        let problem = |message: String, fix: String| {
            ConfigError::new(vec![Problem {
                location: shown.clone(),
                message,
                fix,
            }])
        };
        match std::fs::metadata(&file) {
            Ok(meta) if meta.is_dir() => {
                return Err(problem(
                    "is a folder, not a config file".into(),
                    format!(
                        "remove or rename the folder {shown}, or put the config file in its place"
                    ),
                ));
            }
            Ok(_) => {}
            Err(err) => {
                let target = std::fs::read_link(&file)
                    .map(|t| format!("a symlink to {}, which cannot be read", t.display()))
                    .unwrap_or_else(|_| "unreadable".to_owned());
                return Err(problem(
                    format!("is {target} ({err})"),
                    format!("point the link at an existing file, or remove {shown}"),
                ));
            }
        }
        let root = file.parent().unwrap_or(start).to_path_buf();
        Ok((root, file))
    }

    /// True when `key` was given an invalid value, or the file could not be read at
    /// all, and no later layer set it (it then holds its default): checks that depend
    /// on it should say so rather than use the default.
    pub fn is_invalid(&self, key: &str) -> bool {
        self.invalid.contains(key)
    }

    /// The defaults plus one `dev.toml` given as text, without environment or flags:
    /// what a commit contains (`pre-commit` checks the staged file, not the working tree).
    pub fn from_text(root: &Path, shown: &str, text: &str) -> Result<Config, ConfigError> {
        let mut config = Config::defaults(root);
        let mut problems = Vec::new();
        config.apply_text(shown, text, &mut problems);
        config.file = Some(root.join(shown));
        config.check_whole(&mut problems);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::new(problems))
        }
    }

    /// What only the whole config can tell: the placeholders of every command, and
    /// the processes' names, ports and order.
    fn check_whole(&self, problems: &mut Vec<Problem>) {
        placeholder::check(self, problems);
        process::check(self, problems);
    }

    /// Where the effective value of `key` came from.
    pub fn source(&self, key: &str) -> &Source {
        self.sources.get(key).unwrap_or(&Source::Default)
    }

    /// The backend's base URL: `backend.url` for a backend `dev` does not start, else on
    /// loopback even when the backend binds a wildcard.
    pub fn backend_url(&self) -> String {
        if let Some(url) = &self.backend.url {
            return url.clone();
        }
        let host = crate::health::probe_host(&self.backend.host);
        if host.contains(':') {
            format!("http://[{host}]:{}", self.backend.port)
        } else {
            format!("http://{host}:{}", self.backend.port)
        }
    }

    /// The configuration as a run uses it, once its ports are settled: the one place
    /// where the chosen ports (a free one instead of a taken one) replace the
    /// configured ones, so that URLs, placeholders and the children's environment all
    /// follow from the same values.
    pub fn with_ports(&self, backend: u16, frontend: Option<u16>) -> Config {
        let mut config = self.clone();
        config.backend.port = backend;
        config.frontend.port = frontend;
        config
    }

    /// The values of the command placeholders (see [`placeholder`]).
    pub fn placeholders(&self) -> Vec<(String, String)> {
        let mut values = vec![
            ("host".to_owned(), self.backend.host.clone()),
            ("port".to_owned(), self.backend.port.to_string()),
            ("url".to_owned(), self.backend_url()),
            (
                "frontend_port".to_owned(),
                self.frontend
                    .port
                    .map_or_else(String::new, |p| p.to_string()),
            ),
        ];
        for process in &self.processes {
            if let (Some(port), Some(url)) = (process.port, process.url()) {
                values.push((format!("{}.port", process.name), port.to_string()));
                values.push((format!("{}.url", process.name), url));
            }
        }
        values
    }

    /// `argv` with its placeholders filled in from this config's (settled) values: what
    /// runs, and what a message shows.
    pub fn expanded(&self, argv: &[String]) -> Vec<String> {
        let owned = self.placeholders();
        let values: Vec<(&str, String)> =
            owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        argv.iter()
            .map(|arg| placeholder::expand(arg, &values))
            .collect()
    }

    /// The frontend's base URL (`http://127.0.0.1:5173`), on loopback even when it binds
    /// a wildcard; `None` when the frontend is not a server.
    pub fn frontend_url(&self) -> Option<String> {
        let port = self.frontend.port?;
        let host = crate::health::probe_host(&self.frontend.host);
        Some(if host.contains(':') {
            format!("http://[{host}]:{port}")
        } else {
            format!("http://{host}:{port}")
        })
    }

    fn apply_file(&mut self, file: &Path, problems: &mut Vec<Problem>) {
        let shown = display_path(file, &self.root);
        let text = match crate::user_file::read_to_string(file) {
            Ok(text) => text,
            Err(err) => {
                self.invalid
                    .extend(SETTINGS.iter().map(|setting| setting.key));
                let fix = if err.kind() == std::io::ErrorKind::InvalidInput {
                    "replace it with a regular file"
                } else {
                    "make the file readable"
                };
                problems.push(Problem {
                    location: shown,
                    message: format!("cannot read the config file: {err}"),
                    fix: fix.into(),
                });
                return;
            }
        };
        self.apply_text(&shown, &text, problems);
    }

    /// The file layer from text: `shown` names it in messages and sources.
    fn apply_text(&mut self, shown: &str, text: &str, problems: &mut Vec<Problem>) {
        let table = match DeTable::parse(text) {
            Ok(table) => table,
            Err(err) => {
                // Nothing in the file can be read: no setting is known to be right,
                // so none may silently fall back to its default.
                self.invalid
                    .extend(SETTINGS.iter().map(|setting| setting.key));
                let at = err.span().map_or(0, |span| span.start);
                problems.push(Problem {
                    location: location(shown, text, at),
                    message: format!("invalid TOML: {}", err.message().trim()),
                    fix: format!("correct the syntax of {shown} at that position"),
                });
                return;
            }
        };
        let first_new = problems.len();
        for (section, body) in table.get_ref() {
            self.apply_section(shown, text, section, body, problems);
        }
        // The parsed table is not in file order: report top to bottom.
        problems[first_new..].sort_by_key(|p| position(&p.location));
    }

    /// One top-level entry of the file: a known section's settings, or a problem
    /// for an unknown section or a section that is not a table.
    fn apply_section(
        &mut self,
        shown: &str,
        text: &str,
        section: &Spanned<DeString<'_>>,
        body: &Spanned<DeValue<'_>>,
        problems: &mut Vec<Problem>,
    ) {
        let section_name = section.get_ref().as_ref();
        if section_name == "process" {
            let found = process::parse(shown, text, section, body, problems);
            self.processes.extend(found);
            return;
        }
        let keys: Vec<&str> = SETTINGS
            .iter()
            .filter_map(|s| s.key.strip_prefix(section_name)?.strip_prefix('.'))
            .collect();
        let DeValue::Table(entries) = body.get_ref() else {
            let message = if keys.is_empty() {
                format!("unknown key `{section_name}`")
            } else {
                format!("`{section_name}` must be a table ([{section_name}])")
            };
            problems.push(Problem {
                location: location(shown, text, section.span().start),
                message,
                fix: "the sections are [backend], [frontend], [dev] and [process.NAME]".into(),
            });
            return;
        };
        if keys.is_empty() {
            problems.push(Problem {
                location: location(shown, text, section.span().start),
                message: format!("unknown section [{section_name}]"),
                fix: "the sections are [backend], [frontend], [dev] and [process.NAME]".into(),
            });
            return;
        }
        for (key, value) in entries {
            let dotted = format!("{section_name}.{}", key.get_ref());
            let Some(setting) = setting::find(&dotted) else {
                problems.push(Problem {
                    location: location(shown, text, key.span().start),
                    message: format!("unknown key `{dotted}`"),
                    fix: format!("[{section_name}] accepts: {}", keys.join(", ")),
                });
                continue;
            };
            self.apply_entry(shown, text, setting, &dotted, value, problems);
        }
    }

    /// One known setting from the file: applied with its file and line as the
    /// source, or marked invalid with a problem saying what it expects.
    fn apply_entry(
        &mut self,
        shown: &str,
        text: &str,
        setting: &Setting,
        dotted: &str,
        value: &Spanned<DeValue<'_>>,
        problems: &mut Vec<Problem>,
    ) {
        let at = value.span().start;
        match setting.kind.parse_toml(value.get_ref()) {
            Some(parsed) => {
                let line = line_col(text, at).0;
                let source = Source::File {
                    path: PathBuf::from(shown),
                    line,
                };
                self.apply(setting.key, parsed, source);
            }
            None => {
                self.invalid.insert(setting.key);
                problems.push(Problem {
                    location: location(shown, text, at),
                    message: format!(
                        "invalid value {} for `{dotted}`: expected {}",
                        text[value.span()].trim(),
                        setting.kind.expected()
                    ),
                    fix: format!("set `{dotted}` to {}", setting.kind.expected()),
                });
            }
        }
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<Problem>) {
        for setting in SETTINGS {
            let name = match env_name(setting, env, problems) {
                Ok(Some(name)) => name,
                Ok(None) => continue,
                Err(()) => {
                    self.invalid.insert(setting.key);
                    continue;
                }
            };
            let Some(text) = env(name) else {
                continue;
            };
            match setting.kind.parse_text(&text) {
                Some(value) => self.apply(setting.key, value, Source::Env(name.into())),
                None => problems.push({
                    self.invalid.insert(setting.key);
                    Problem {
                        location: format!("environment variable {name}"),
                        message: format!(
                            "invalid value {text:?} for `{}`: expected {}",
                            setting.key,
                            setting.kind.expected()
                        ),
                        fix: format!("unset {name} or set it to {}", setting.kind.expected()),
                    }
                }),
            }
        }
    }

    /// Sets one validated value. Values were validated against the setting's [`Kind`],
    /// so a mismatch here is a bug in [`SETTINGS`], and is ignored rather than panicking.
    fn apply(&mut self, key: &'static str, value: Value, source: Source) {
        let root = self.root.clone();
        let path = |text: String| root.join(text);
        let b = &mut self.backend;
        match (key, value) {
            ("backend.command", Value::Argv(v)) => b.command = v,
            ("backend.after", Value::List(v)) => b.after = v,
            ("frontend.after", Value::List(v)) => self.frontend.after = v,
            ("backend.service", Value::Text(v)) => b.service = v,
            ("backend.host", Value::Text(v)) => b.host = v,
            ("backend.port", Value::Port(v)) => b.port = v,
            ("backend.health_path", Value::Text(v)) => b.health_path = v,
            ("backend.health_format", Value::HealthFormat(v)) => b.health_format = v,
            ("backend.startup_timeout", Value::Duration(v)) => b.startup_timeout = v,
            ("backend.health_timeout", Value::Duration(v)) => b.health_timeout = v,
            ("backend.attempts", Value::Count(v)) => b.attempts = v,
            ("backend.retry_delay", Value::Duration(v)) => b.retry_delay = v,
            ("backend.accept_degraded", Value::Bool(v)) => b.accept_degraded = v,
            ("backend.show_health_logs", Value::Bool(v)) => b.show_health_logs = v,
            ("backend.requirements", Value::Text(v)) => b.requirements = path(v),
            ("backend.venv", Value::Text(v)) => b.venv = path(v),
            ("backend.extras", Value::List(v)) => b.extras = v,
            ("backend.liveness_interval", Value::Duration(v)) => b.liveness_interval = v,
            ("backend.liveness_failures", Value::Count(v)) => b.liveness_failures = v,
            ("backend.max_retry_delay", Value::Duration(v)) => b.max_retry_delay = v,
            ("backend.max_restarts", Value::Count(v)) => b.max_restarts = v,
            ("backend.watch", Value::Globs(v)) => b.watch = v,
            ("backend.watch_ignore", Value::Globs(v)) => b.watch_ignore = v,
            ("backend.watch_debounce", Value::Duration(v)) => b.watch_debounce = v,
            ("backend.url", Value::Text(v)) => b.url = Some(v),
            ("backend.ca_file", Value::Text(v)) => b.ca_file = Some(path(v)),
            ("frontend.command", Value::Argv(v)) => self.frontend.command = v,
            ("frontend.config_file", Value::Text(v)) => self.frontend.config_file = path(v),
            ("frontend.port_key", Value::Text(v)) => self.frontend.port_key = v,
            ("frontend.host", Value::Text(v)) => self.frontend.host = v,
            ("frontend.port", Value::OptionalPort(v)) => self.frontend.port = v,
            ("frontend.ready_path", Value::Text(v)) => self.frontend.ready_path = Some(v),
            ("frontend.url_key", Value::Text(v)) => self.frontend.url_key = Some(v),
            ("frontend.startup_timeout", Value::Duration(v)) => self.frontend.startup_timeout = v,
            ("frontend.origins", Value::List(v)) => self.frontend.origins = v,
            ("dev.shutdown_grace", Value::Duration(v)) => self.dev.shutdown_grace = v,
            ("dev.log_dir", Value::Text(v)) => self.dev.log_dir = path(v),
            ("dev.keep_logs", Value::Count(v)) => self.dev.keep_logs = v,
            ("dev.max_log_size", Value::Bytes(v)) => self.dev.max_log_size = v,
            ("dev.guardian", Value::Bool(v)) => self.dev.guardian = v,
            _ => return,
        }
        // A valid value from a later layer (the environment, a flag) makes up for an
        // unreadable file.
        self.invalid.remove(key);
        self.sources.insert(key, source);
    }
}

/// Which variable sets `setting`: its own name, or its `DEV_<SECTION>_<KEY>` alias
/// (`DEV_BACKEND_PORT` for `BACKEND_PORT`), the scheme every other setting follows, so
/// a guessed name is never silently ignored. Both set to different values is an error.
fn env_name(
    setting: &Setting,
    env: &dyn Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) -> Result<Option<&'static str>, ()> {
    let alias = setting.alias;
    let (own, other) = (env(setting.env), alias.and_then(env));
    match (own, other, alias) {
        (Some(own), Some(other), Some(alias)) if own != other => {
            problems.push(Problem {
                location: format!("environment variables {} and {alias}", setting.env),
                message: format!("both set `{}`, to {own:?} and {other:?}", setting.key),
                fix: format!("unset one of them ({} is the usual name)", setting.env),
            });
            Err(())
        }
        (None, Some(_), Some(alias)) => Ok(Some(alias)),
        (Some(_), _, _) => Ok(Some(setting.env)),
        _ => Ok(None),
    }
}

/// A path relative to the checkout when it is inside it, for shorter messages.
pub fn display_path(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn location(shown: &str, text: &str, offset: usize) -> String {
    let (line, col) = line_col(text, offset);
    format!("{shown}:{line}:{col}")
}

/// `(line, column)` of a `file:line:col` location, for sorting.
fn position(location: &str) -> (usize, usize) {
    let mut parts = location.rsplitn(3, ':');
    let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
    (line, col)
}
