//! `[process.NAME]` tables: the processes beside the backend and the frontend (the
//! Electron main process, Redis, a worker), and the order `after` gives every process.
//!
//! A table is read from `dev.toml` only (no environment layer: a process is a shape of
//! the app, not a value a person overrides per shell), with the same parsers and the same
//! error wording as every other setting, each problem at its file, line and column.
//! [`check`] then checks what only the whole config can: known names in `after`, no
//! cycle, a port for `ready = "port"`. [`start_order`] is the order a run starts them in.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeString, DeValue};

use super::setting::{Kind, Value};
use super::{Problem, Source, location};

mod check;

use crate::text::line_col;
pub(super) use check::check;

/// The keys a `[process.NAME]` table accepts.
pub const KEYS: &[&str] = &[
    "command",
    "after",
    "host",
    "port",
    "scheme",
    "ready",
    "restart",
    "ends_run",
    "startup_timeout",
];

/// Names a process cannot have: the roles `dev` already gives a meaning.
const RESERVED: &[&str] = &["backend", "frontend", "command", "dev", "escaped"];

/// One `[process.NAME]`.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    pub name: String,
    pub command: Vec<String>,
    /// Names that must be ready before it starts.
    pub after: Vec<String>,
    pub host: String,
    /// Its port, managed as the backend's is; `None`: it has none.
    pub port: Option<u16>,
    /// The scheme of `<NAME>_URL`: `http` unless said (`redis` for Redis).
    pub scheme: String,
    pub ready: Ready,
    pub restart: Restart,
    /// Its exit ends the run (closing the Electron window ends the session).
    pub ends_run: bool,
    pub startup_timeout: Duration,
    /// Where each key was set.
    pub sources: BTreeMap<&'static str, Source>,
    /// Where its table starts, for problems of the whole table.
    pub at: String,
    /// Keys given an invalid value (a problem already says so).
    pub invalid: Vec<&'static str>,
}

/// When a process counts as ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ready {
    /// Its port accepts a connection.
    Port,
    /// At once, once started.
    Started,
    /// `GET path` on its port answers 2xx (and keeps answering: liveness).
    Http(String),
    /// A line of its output matches this regular expression.
    Log(String),
}

/// What happens when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Restarted with the backend's policy when it fails (a non-zero exit or a signal).
    OnFailure,
    Never,
}

/// A process of the run, as `after` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Backend,
    Frontend,
    /// `[process.NAME]`, by its index in [`super::Config::processes`].
    Process(usize),
}

impl ProcessConfig {
    fn new(name: &str, at: String) -> ProcessConfig {
        ProcessConfig {
            name: name.to_owned(),
            command: Vec::new(),
            after: Vec::new(),
            host: "127.0.0.1".into(),
            port: None,
            scheme: "http".into(),
            ready: Ready::Started,
            restart: Restart::OnFailure,
            ends_run: false,
            startup_timeout: Duration::from_secs(30),
            sources: BTreeMap::new(),
            at,
            invalid: Vec::new(),
        }
    }

    /// `REDIS` for `redis`, `ELECTRON_MAIN` for `electron-main`: the prefix of its
    /// `_PORT` and `_URL` variables.
    pub fn env_prefix(&self) -> String {
        self.name.to_ascii_uppercase().replace('-', "_")
    }

    /// `redis://127.0.0.1:6380`; `None` without a port.
    pub fn url(&self) -> Option<String> {
        let port = self.port?;
        let host = crate::health::probe_host(&self.host);
        Some(if host.contains(':') {
            format!("{}://[{host}]:{port}", self.scheme)
        } else {
            format!("{}://{host}:{port}", self.scheme)
        })
    }
}

/// The `[process]` section: one table per process, each key parsed as the other
/// settings are. Problems are pushed with their file, line and column.
pub(super) fn parse(
    shown: &str,
    text: &str,
    section: &Spanned<DeString<'_>>,
    body: &Spanned<DeValue<'_>>,
    problems: &mut Vec<Problem>,
) -> Vec<ProcessConfig> {
    let DeValue::Table(tables) = body.get_ref() else {
        problems.push(Problem {
            location: location(shown, text, section.span().start),
            message: "`process` must hold tables, one per process ([process.NAME])".into(),
            fix: "write each process as [process.NAME] with at least `command`".into(),
        });
        return Vec::new();
    };
    let mut out = Vec::new();
    // The parsed table is sorted by name: take the tables in file order.
    let mut tables: Vec<_> = tables.iter().collect();
    tables.sort_by_key(|(name, _)| name.span().start);
    for (name, table) in tables {
        let at = location(shown, text, name.span().start);
        let name = name.get_ref().as_ref();
        if let Some(message) = bad_name(name) {
            let fix = if RESERVED.contains(&name) {
                format!(
                    "pick another name; the {name} is configured in its own section ([backend], [frontend]), and a table [process] holds one table per process ([process.NAME])"
                )
            } else {
                "name it with lower-case letters, digits, `-` and `_`, starting with a letter (e.g. [process.redis])".into()
            };
            problems.push(Problem {
                location: at,
                message,
                fix,
            });
            continue;
        }
        let DeValue::Table(entries) = table.get_ref() else {
            problems.push(Problem {
                location: at,
                message: format!("`process.{name}` must be a table ([process.{name}])"),
                fix: format!("write [process.{name}] with at least `command`"),
            });
            continue;
        };
        let mut process = ProcessConfig::new(name, at);
        for (key, value) in entries {
            let key_name = key.get_ref().as_ref();
            let Some(known) = KEYS.iter().find(|k| **k == key_name) else {
                problems.push(Problem {
                    location: location(shown, text, key.span().start),
                    message: format!("unknown key `process.{name}.{key_name}`"),
                    fix: format!("[process.{name}] accepts: {}", KEYS.join(", ")),
                });
                continue;
            };
            let at = value.span().start;
            match apply(&mut process, known, value.get_ref()) {
                Ok(()) => {
                    let line = line_col(text, at).0;
                    process.sources.insert(
                        known,
                        Source::File {
                            path: PathBuf::from(shown),
                            line,
                        },
                    );
                }
                Err(expected) => {
                    // Said once: not also "has no `command`".
                    process.invalid.push(known);
                    problems.push(Problem {
                        location: location(shown, text, at),
                        message: format!(
                            "invalid value {} for `process.{name}.{key_name}`: expected {expected}",
                            text[value.span()].trim()
                        ),
                        fix: format!("set `process.{name}.{key_name}` to {expected}"),
                    });
                }
            }
        }
        if !process.sources.contains_key("ready") && process.port.is_some() {
            process.ready = Ready::Port;
        }
        out.push(process);
    }
    out
}

/// Why `name` cannot name a process, if it cannot.
fn bad_name(name: &str) -> Option<String> {
    if !super::setting::is_process_name(name) {
        return Some(format!("`{name}` is not a process name"));
    }
    RESERVED
        .contains(&name)
        .then(|| format!("`{name}` is a name dev gives its own processes"))
}

/// Sets one key; what a valid value looks like when it is not one.
fn apply(process: &mut ProcessConfig, key: &str, value: &DeValue<'_>) -> Result<(), &'static str> {
    let parsed = |kind: Kind| kind.parse_toml(value).ok_or(kind.expected());
    match key {
        "command" => {
            if let Value::Argv(argv) = parsed(Kind::Argv)? {
                process.command = argv;
            }
        }
        "after" => {
            if let Value::List(names) = parsed(Kind::Names)? {
                process.after = names;
            }
        }
        "host" => {
            if let Value::Text(host) = parsed(Kind::Host)? {
                process.host = host;
            }
        }
        "port" => {
            if let Value::Port(port) = parsed(Kind::Port)? {
                process.port = Some(port);
            }
        }
        "ends_run" => {
            if let Value::Bool(flag) = parsed(Kind::Bool)? {
                process.ends_run = flag;
            }
        }
        "startup_timeout" => {
            if let Value::Duration(timeout) = parsed(Kind::Timeout)? {
                process.startup_timeout = timeout;
            }
        }
        "scheme" => {
            const SCHEME: &str = r#"a URL scheme such as "http" or "redis""#;
            let scheme = value.as_str().ok_or(SCHEME)?;
            let valid = scheme.starts_with(|c: char| c.is_ascii_lowercase())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+.-".contains(c));
            if !valid {
                return Err(SCHEME);
            }
            process.scheme = scheme.to_owned();
        }
        "restart" => {
            const RESTART: &str = r#""on-failure" or "never""#;
            process.restart = match value.as_str() {
                Some("on-failure") => Restart::OnFailure,
                Some("never") => Restart::Never,
                _ => return Err(RESTART),
            };
        }
        "ready" => process.ready = ready(value)?,
        _ => {}
    }
    Ok(())
}

/// `"port"`, `"started"`, `{ http = "/path" }` or `{ log = "regex" }`.
fn ready(value: &DeValue<'_>) -> Result<Ready, &'static str> {
    const READY: &str =
        r#""port", "started", { http = "/path" } or { log = "a regular expression" }"#;
    const HTTP: &str = r#"{ http = "/path" }, a path starting with "/""#;
    const LOG: &str = r#"{ log = "..." }, a non-empty regular expression (Rust `regex` syntax: a literal "(" is written "\\(")"#;
    match value {
        DeValue::String(text) if text.as_ref() == "port" => Ok(Ready::Port),
        DeValue::String(text) if text.as_ref() == "started" => Ok(Ready::Started),
        DeValue::Table(table) if table.len() == 1 => {
            let (key, value) = table.iter().next().ok_or(READY)?;
            let text = value.get_ref().as_str();
            match (key.get_ref().as_ref(), text) {
                ("http", Some(path)) if path.starts_with('/') => Ok(Ready::Http(path.to_owned())),
                ("http", _) => Err(HTTP),
                ("log", Some(regex)) if !regex.is_empty() && regex::Regex::new(regex).is_ok() => {
                    Ok(Ready::Log(regex.to_owned()))
                }
                ("log", _) => Err(LOG),
                _ => Err(READY),
            }
        }
        _ => Err(READY),
    }
}

/// The name of a node, as `after` writes it.
pub fn node_name(config: &super::Config, node: Node) -> &str {
    match node {
        Node::Backend => "backend",
        Node::Frontend => "frontend",
        Node::Process(i) => &config.processes[i].name,
    }
}

/// What `node` waits for: its `after`, and the backend for the frontend. Unknown names
/// (a problem of their own) are left out.
fn waits_for(config: &super::Config, node: Node) -> Vec<Node> {
    let after = match node {
        Node::Backend => &config.backend.after,
        Node::Frontend => &config.frontend.after,
        Node::Process(i) => &config.processes[i].after,
    };
    let mut nodes: Vec<Node> = after.iter().filter_map(|name| find(config, name)).collect();
    if node == Node::Frontend && !nodes.contains(&Node::Backend) {
        nodes.push(Node::Backend);
    }
    nodes
}

/// The node `after` means by `name`.
pub fn find(config: &super::Config, name: &str) -> Option<Node> {
    match name {
        "backend" => Some(Node::Backend),
        "frontend" => Some(Node::Frontend),
        _ => config
            .processes
            .iter()
            .position(|p| p.name == name)
            .map(Node::Process),
    }
}

/// The order a run starts everything in: each after what it waits for; of those free to
/// start, processes first (in file order), then the backend, then the frontend, so that a
/// service nothing orders is up before the backend that may use it. A cycle is returned
/// as its chain of names (`backend → redis → backend`).
pub fn start_order(config: &super::Config) -> Result<Vec<Node>, Vec<String>> {
    let all: Vec<Node> = (0..config.processes.len())
        .map(Node::Process)
        .chain([Node::Backend, Node::Frontend])
        .collect();
    let mut order: Vec<Node> = Vec::new();
    while order.len() < all.len() {
        let next = all.iter().copied().find(|node| {
            !order.contains(node) && waits_for(config, *node).iter().all(|w| order.contains(w))
        });
        match next {
            Some(node) => order.push(node),
            None => return Err(cycle(config, &all, &order)),
        }
    }
    Ok(order)
}

/// A cycle among the nodes not yet ordered: follow what each waits for until a node
/// repeats.
fn cycle(config: &super::Config, all: &[Node], ordered: &[Node]) -> Vec<String> {
    let Some(mut node) = all.iter().copied().find(|n| !ordered.contains(n)) else {
        return Vec::new();
    };
    let mut path: Vec<Node> = Vec::new();
    while !path.contains(&node) {
        path.push(node);
        let Some(next) = waits_for(config, node)
            .into_iter()
            .find(|w| !ordered.contains(w))
        else {
            break;
        };
        node = next;
    }
    let start = path.iter().position(|n| *n == node).unwrap_or(0);
    let mut ring: Vec<Node> = path[start..].to_vec();
    // Told from the backend when it is in it: the process a reader knows first.
    if let Some(at) = ring.iter().position(|n| *n == Node::Backend) {
        ring.rotate_left(at);
    }
    ring.iter()
        .chain(ring.first())
        .map(|n| node_name(config, *n).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn load(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::from_text(std::path::Path::new("/app"), "dev.toml", text)
    }

    #[test]
    fn a_table_is_read_with_its_defaults_and_lines() {
        let config = load(
            "[process.redis]\ncommand = [\"redis-server\", \"--port\", \"{redis.port}\"]\nport = 6379\nscheme = \"redis\"\n",
        )
        .expect("a valid config");
        let redis = &config.processes[0];
        assert_eq!(redis.ready, Ready::Port);
        assert_eq!(redis.restart, Restart::OnFailure);
        assert_eq!(redis.url().as_deref(), Some("redis://127.0.0.1:6379"));
        assert_eq!(redis.env_prefix(), "REDIS");
        assert!(
            redis.describe().contains("dev.toml:3"),
            "{}",
            redis.describe()
        );
        let order = start_order(&config).expect("no cycle");
        assert_eq!(order, [Node::Process(0), Node::Backend, Node::Frontend]);
    }

    #[test]
    fn after_orders_and_a_cycle_is_named() {
        let config = load(
            "[process.electron]\ncommand = [\"node\", \"main.js\"]\nafter = [\"frontend\"]\n[process.worker]\ncommand = [\"w\"]\nafter = [\"backend\"]\n",
        )
        .expect("a valid config");
        assert_eq!(
            start_order(&config).expect("no cycle"),
            [
                Node::Backend,
                Node::Process(1),
                Node::Frontend,
                Node::Process(0)
            ]
        );
        let err = load(
            "[backend]\nafter = [\"redis\"]\n[process.redis]\ncommand = [\"r\"]\nafter = [\"electron\"]\n[process.electron]\ncommand = [\"e\"]\nafter = [\"frontend\"]\n",
        )
        .expect_err("an invalid config")
        .to_string();
        assert!(
            err.contains("backend → redis → electron → frontend → backend"),
            "{err}"
        );
    }

    #[test]
    fn bad_tables_name_file_line_and_fix() {
        let err = load(
            "[process.Redis]\ncommand = [\"r\"]\n[process.w]\nready = \"port\"\nrestart = \"always\"\nafter = [\"nope\"]\ncolour = 1\n",
        )
        .expect_err("an invalid config")
        .to_string();
        assert!(
            err.contains("dev.toml:1:10: `Redis` is not a process name"),
            "{err}"
        );
        assert!(
            err.contains("dev.toml:5:11: invalid value \"always\""),
            "{err}"
        );
        assert!(err.contains("unknown key `process.w.colour`"), "{err}");
        assert!(err.contains("[process.w] has no `command`"), "{err}");
        assert!(err.contains("has no `port`"), "{err}");
        assert!(err.contains("names `nope`"), "{err}");
    }

    #[test]
    fn tables_keep_file_order_and_clashing_names_or_ports_are_refused() {
        let config =
            load("[process.zeta]\ncommand = [\"z\"]\n[process.alpha]\ncommand = [\"a\"]\n")
                .expect("valid");
        let names: Vec<&str> = config.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["zeta", "alpha"]);
        let err = load(
            "[process.my-redis]\ncommand = [\"r\"]\nport = 8000\n[process.my_redis]\ncommand = [\"r\"]\n",
        )
        .expect_err("clashes")
        .to_string();
        assert!(err.contains("would both set MY_REDIS_PORT"), "{err}");
        assert!(
            err.contains("`process.my-redis.port` is 8000, which is also `backend.port`"),
            "{err}"
        );
        let err = load("[process.w]\ncommand = \"w\"\nready = { log = \"(\" }\n")
            .expect_err("invalid")
            .to_string();
        assert!(!err.contains("has no `command`"), "{err}");
        assert!(err.contains("a non-empty regular expression"), "{err}");
    }
}
