//! What only the whole config can tell of the `[process.NAME]` tables: a command, a port
//! for a rule that waits on one, known names in `after` and no cycle, one variable name
//! per process, one port per process.

use super::super::{Config, Problem, Source};
use super::{ProcessConfig, Ready, start_order};

/// What only the whole config can tell: each process has a command, `ready = "port"` or
/// `{ http }` has a port, `after` names known processes and makes no cycle.
pub(in crate::config) fn check(config: &Config, problems: &mut Vec<Problem>) {
    let known: Vec<&str> = ["backend", "frontend"]
        .into_iter()
        .chain(config.processes.iter().map(|p| p.name.as_str()))
        .collect();
    for process in &config.processes {
        let name = &process.name;
        if process.command.is_empty() && !process.invalid.contains(&"command") {
            problems.push(Problem {
                location: process.at.clone(),
                message: format!("[process.{name}] has no `command`"),
                fix: format!(
                    r#"add `command = ["program", "arg"]` to [process.{name}], or remove the table"#
                ),
            });
        }
        if process.port.is_none() && matches!(process.ready, Ready::Port | Ready::Http(_)) {
            problems.push(Problem {
                location: at_key(process, "ready"),
                message: format!(
                    "`process.{name}.ready` waits on a port, but [process.{name}] has no `port`"
                ),
                fix: format!(
                    r#"give [process.{name}] a `port`, or set `ready = "started"` or `{{ log = "..." }}`"#
                ),
            });
        }
    }
    let afters = [
        (
            "backend.after",
            &config.backend.after,
            config.source("backend.after").clone(),
        ),
        (
            "frontend.after",
            &config.frontend.after,
            config.source("frontend.after").clone(),
        ),
    ]
    .into_iter()
    .map(|(key, after, source)| (key.to_owned(), after, source_location(&source)))
    .chain(config.processes.iter().map(|p| {
        (
            format!("process.{}.after", p.name),
            &p.after,
            at_key(p, "after"),
        )
    }));
    for (key, after, at) in afters {
        let own = key
            .trim_start_matches("process.")
            .trim_end_matches(".after");
        let others: Vec<&str> = known.iter().copied().filter(|n| *n != own).collect();
        for name in after.iter().filter(|n| !known.contains(&n.as_str())) {
            problems.push(Problem {
                location: at.clone(),
                message: format!("`{key}` names `{name}`, which is not a process of dev.toml"),
                fix: format!("name one of: {}", others.join(", ")),
            });
        }
    }
    check_names_and_ports(config, problems);
    if let Err(cycle) = start_order(config) {
        problems.push(Problem {
            location: config
                .file
                .as_deref()
                .map_or_else(|| "dev.toml".into(), |f| super::super::display_path(f, &config.root)),
            message: format!(
                "`after` makes a cycle: {} (each waits for the next; the frontend always waits for the backend)",
                cycle.join(" → ")
            ),
            fix: "remove one of these `after` entries".into(),
        });
    }
}

/// Two processes whose variables would have one name (`my-redis` and `my_redis` are both
/// `MY_REDIS_PORT`), and a process port that is already another process's.
fn check_names_and_ports(config: &Config, problems: &mut Vec<Problem>) {
    let mut ports: Vec<(u16, String)> = vec![(config.backend.port, "`backend.port`".into())];
    if let Some(port) = config.frontend.port {
        ports.push((port, "`frontend.port`".into()));
    }
    for (i, process) in config.processes.iter().enumerate() {
        let name = &process.name;
        if let Some(other) = config.processes[..i]
            .iter()
            .find(|p| p.env_prefix() == process.env_prefix())
        {
            problems.push(Problem {
                location: process.at.clone(),
                message: format!(
                    "[process.{name}] and [process.{}] would both set {}_PORT and {}_URL",
                    other.name,
                    process.env_prefix(),
                    process.env_prefix()
                ),
                fix: "rename one of them (`-` and `_` are the same in a variable's name)".into(),
            });
        }
        let Some(port) = process.port else {
            continue;
        };
        let key = format!("`process.{name}.port`");
        match ports.iter().find(|(p, _)| *p == port) {
            Some((_, other)) if config.backend.url.is_none() || !other.contains("backend") => {
                problems.push(Problem {
                    location: at_key(process, "port"),
                    message: format!("{key} is {port}, which is also {other}"),
                    fix: format!("give {key} a port of its own"),
                });
            }
            _ => ports.push((port, key)),
        }
    }
}

/// Where a key of a process was set, or its table.
fn at_key(process: &ProcessConfig, key: &str) -> String {
    match process.sources.get(key) {
        Some(source) => source_location(source),
        None => process.at.clone(),
    }
}

fn source_location(source: &Source) -> String {
    match source {
        Source::File { path, line } => format!("{}:{line}", path.display()),
        Source::Env(var) => format!("environment variable {var}"),
        other => other.to_string(),
    }
}
