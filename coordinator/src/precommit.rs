//! `pre-commit`: the checks the git hook runs, on what is about to be committed.
//!
//! Everything about ports is read from the index (`git show :path`), not the working
//! tree: a temporary port that `dev` wrote into the frontend config, unstaged, is not
//! part of the commit and must not fail it. Every failure is reported, not only the
//! first, and checks that a commit cannot affect are skipped, and named as skipped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::frontend_config;

/// One reason the commit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `frontend/src/api.js:12`, or a file name alone.
    pub location: String,
    pub message: String,
    pub fix: String,
}

/// What `pre-commit` found, ran and skipped.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub ran: Vec<String>,
    pub skipped: Vec<String>,
}

/// `pre-commit` could not run at all (not a git checkout).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PreCommitError(pub String);

/// Extensions of frontend sources scanned for hard-coded backend addresses.
const SOURCE_EXTENSIONS: &[&str] = &["js", "mjs", "cjs", "jsx", "ts", "tsx", "html", "json"];

/// A line with this marker may hard-code a loopback address (e.g. the frontend's own).
pub const ALLOW_MARKER: &str = "dev-allow-address";

/// Runs every check on the index of the git checkout holding `start`.
pub fn run(start: &Path) -> Result<Outcome, PreCommitError> {
    let top = git(start, &["rev-parse", "--show-toplevel"])
        .map(|out| PathBuf::from(out.trim()))
        .map_err(|_| PreCommitError(format!("{} is not in a git checkout", start.display())))?;
    let staged: Vec<String> = git(
        &top,
        &[
            "diff",
            "--cached",
            "--name-only",
            "--diff-filter=ACMR",
            "-z",
        ],
    )
    .map_err(PreCommitError)?
    .split('\0')
    .filter(|p| !p.is_empty())
    .map(str::to_owned)
    .collect();
    let mut outcome = Outcome::default();
    rust_checks(&top, &staged, &mut outcome);
    let config = staged_config(&top, &mut outcome);
    if let Some(config) = &config {
        ports(&top, config, &staged, &mut outcome);
    }
    python(&top, &staged, &mut outcome);
    Ok(outcome)
}

fn rust_checks(top: &Path, staged: &[String], outcome: &mut Outcome) {
    let rust = staged
        .iter()
        .any(|p| p.ends_with(".rs") || p.ends_with("Cargo.toml") || p.ends_with("Cargo.lock"));
    if !rust {
        outcome
            .skipped
            .push("cargo fmt and clippy (no Rust file staged)".into());
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let checks: [(&str, &[&str], &str); 2] = [
        (
            "cargo fmt --check",
            &["fmt", "--all", "--check"],
            "run `cargo fmt --all`, then stage the result",
        ),
        (
            "cargo clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--quiet",
                "--",
                "-D",
                "warnings",
            ],
            "fix the warnings above (`cargo clippy --workspace --all-targets -- -D warnings`)",
        ),
    ];
    for (name, args, fix) in checks {
        outcome.ran.push(name.into());
        match Command::new(&cargo)
            .args(args)
            .current_dir(top)
            .stdin(Stdio::null())
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                let lines: Vec<&str> = text.lines().collect();
                let tail = lines[lines.len().saturating_sub(20)..].join("\n  | ");
                outcome.findings.push(Finding {
                    location: "Rust sources".into(),
                    message: format!("{name} failed:\n  | {tail}"),
                    fix: fix.into(),
                });
            }
            Err(err) => outcome.findings.push(Finding {
                location: "Rust sources".into(),
                message: format!("{name} could not run: {err}"),
                fix: "install the Rust toolchain (rustup component add rustfmt clippy)".into(),
            }),
        }
    }
}

/// The staged `dev.toml` (or the defaults when none is committed).
fn staged_config(top: &Path, outcome: &mut Outcome) -> Option<Config> {
    outcome.ran.push("dev.toml valid".into());
    let Some(text) = staged_text(top, crate::config::FILE_NAME) else {
        return Some(Config::defaults(top));
    };
    match Config::from_text(top, crate::config::FILE_NAME, &text) {
        Ok(config) => Some(config),
        Err(err) => {
            for problem in err.problems {
                outcome.findings.push(Finding {
                    location: problem.location,
                    message: problem.message,
                    fix: problem.fix,
                });
            }
            None
        }
    }
}

fn ports(top: &Path, config: &Config, staged: &[String], outcome: &mut Outcome) {
    let port = config.backend.port;
    let relative = |path: &Path| crate::config::display_path(path, top);
    let config_file = relative(&config.frontend.config_file);
    let toml = crate::config::FILE_NAME;
    outcome.ran.push("frontend config port".into());
    match staged_text(top, &config_file) {
        None => outcome.skipped.push(format!(
            "frontend config port ({config_file} is not committed)"
        )),
        Some(text) => {
            let key = &config.frontend.port_key;
            match frontend_config::read_text(&config.frontend.config_file, &config_file, &text, key) {
                Ok(Some(value)) if value == port.to_string() => {}
                Ok(Some(value)) => outcome.findings.push(Finding {
                    location: config_file.clone(),
                    message: format!(
                        "{key} = {value} in {config_file}, but backend.port = {port} in {toml}: the frontend would talk to a port the backend does not listen on"
                    ),
                    fix: format!(
                        "set {key} to {port} in {config_file} (or change backend.port in {toml}), then stage it; if `cargo xtask dev` wrote {value} temporarily, unstage it: git restore --staged {config_file}"
                    ),
                }),
                Ok(None) => outcome.findings.push(Finding {
                    location: config_file.clone(),
                    message: format!("has no `{key}`"),
                    fix: format!("add `{key}` = {port}, or set `frontend.port_key` in {toml}"),
                }),
                Err(err) => outcome.findings.push(Finding {
                    location: err.location,
                    message: err.message,
                    fix: err.fix,
                }),
            }
        }
    }
    // Frontend sources: the folder that holds the frontend config.
    let folder = Path::new(&config_file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let sources: Vec<&String> = staged
        .iter()
        .filter(|p| folder.is_empty() || p.starts_with(&format!("{folder}/")))
        .filter(|p| **p != config_file)
        .filter(|p| {
            Path::new(p.as_str())
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SOURCE_EXTENSIONS.contains(&e))
        })
        .collect();
    if sources.is_empty() {
        outcome
            .skipped
            .push("hard-coded backend addresses (no frontend source staged)".into());
        return;
    }
    outcome.ran.push("hard-coded backend addresses".into());
    for path in sources {
        let Some(text) = staged_text(top, path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            if line.contains(ALLOW_MARKER) {
                continue;
            }
            for (address, found) in loopback_addresses(line) {
                if found != port {
                    outcome.findings.push(Finding {
                        location: format!("{path}:{}", number + 1),
                        message: format!(
                            "hard-codes the backend address {address}, but backend.port = {port} in {toml}"
                        ),
                        fix: format!(
                            "read the address from {config_file} (or BACKEND_URL) instead; if this address is not the backend, add a `{ALLOW_MARKER}` comment on the line"
                        ),
                    });
                }
            }
        }
    }
}

/// `localhost:8001`, `127.0.0.1:8001`, `[::1]:8001`, `0.0.0.0:8001` in a line, with
/// the port.
pub fn loopback_addresses(line: &str) -> Vec<(String, u16)> {
    let mut found = Vec::new();
    for host in ["localhost:", "127.0.0.1:", "[::1]:", "0.0.0.0:"] {
        let mut rest = line;
        while let Some(at) = rest.find(host) {
            let after = &rest[at + host.len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(port) = digits.parse::<u16>() {
                found.push((format!("{host}{digits}"), port));
            }
            rest = after;
        }
    }
    found
}

fn python(top: &Path, staged: &[String], outcome: &mut Outcome) {
    let files: Vec<&String> = staged.iter().filter(|p| p.ends_with(".py")).collect();
    if files.is_empty() {
        outcome
            .skipped
            .push("Python compile check (no .py file staged)".into());
        return;
    }
    outcome.ran.push("Python compile check".into());
    let interpreter = match crate::python::discover() {
        Ok(found) => found.executable,
        Err(err) => {
            outcome.findings.push(Finding {
                location: "Python sources".into(),
                message: err.to_string(),
                fix: err.fix(),
            });
            return;
        }
    };
    let sources: Vec<serde_json::Value> = files
        .iter()
        .filter_map(|path| {
            Some(serde_json::json!({"path": path, "source": staged_text(top, path)?}))
        })
        .collect();
    // Compiles each staged file from its staged bytes (what py_compile does, without
    // writing .pyc files), and prints `path:line:col: message` per error.
    let script = "import json, sys\n\
        for f in json.load(sys.stdin):\n\
        \x20   try:\n\
        \x20       compile(f['source'], f['path'], 'exec')\n\
        \x20   except SyntaxError as e:\n\
        \x20       print(f\"{f['path']}:{e.lineno}:{e.offset}: {e.msg}\")\n";
    let child = Command::new(interpreter)
        .args(["-c", script])
        .current_dir(top)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let output = child.and_then(|mut child| {
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(serde_json::Value::from(sources).to_string().as_bytes())?;
        }
        child.wait_with_output()
    });
    match output {
        Ok(out) => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut parts = line.splitn(4, ':');
                let (path, row) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                let _col = parts.next();
                let message = parts.next().unwrap_or("").trim();
                outcome.findings.push(Finding {
                    location: format!("{path}:{row}"),
                    message: format!("does not compile: {message}"),
                    fix: "fix the syntax error, then stage the file".into(),
                });
            }
        }
        Err(err) => outcome.findings.push(Finding {
            location: "Python sources".into(),
            message: format!("the compile check could not run: {err}"),
            fix: "check the Python installation (`cargo xtask doctor`)".into(),
        }),
    }
}

/// The staged content of `path`, if it is in the index.
fn staged_text(top: &Path, path: &str) -> Option<String> {
    git(top, &["show", &format!(":{path}")]).ok()
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("git could not run: {err}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_loopback_addresses_with_ports() {
        assert_eq!(
            loopback_addresses("fetch('http://localhost:8001/api'); x = '127.0.0.1:80'"),
            vec![
                ("localhost:8001".to_owned(), 8001),
                ("127.0.0.1:80".to_owned(), 80)
            ]
        );
        assert_eq!(
            loopback_addresses("http://[::1]:9000/"),
            vec![("[::1]:9000".to_owned(), 9000)]
        );
        assert!(loopback_addresses("`http://127.0.0.1:${port}/`").is_empty());
        assert!(loopback_addresses("localhost is fine").is_empty());
    }
}
