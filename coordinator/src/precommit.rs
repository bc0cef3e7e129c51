//! `pre-commit`: the checks the git hook runs, on what is about to be committed.
//!
//! Everything about ports is read from the index (`git show :path`), not the working
//! tree: a temporary port that `dev` wrote into the frontend config, unstaged, is not
//! part of the commit and must not fail it. Every failure is reported, not only the
//! first, and checks that a commit cannot affect are skipped, and named as skipped.

mod index;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::exec::Cmd;
use crate::frontend_config;
use index::{Change, ChangeKind, Index};

/// One reason the commit is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `frontend/src/api.js:12`, or a file name alone.
    pub location: String,
    pub message: String,
    pub fix: String,
}

/// What `pre-commit` found, ran and skipped. `ran` lists only checks that ran.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub ran: Vec<String>,
    pub skipped: Vec<String>,
    /// Where a file was read from, when it was not simply the staged file (a symlink).
    pub notes: Vec<String>,
}

/// `pre-commit` could not run at all (not a git checkout).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PreCommitError(pub String);

/// Extensions of frontend sources scanned for hard-coded backend addresses.
const SOURCE_EXTENSIONS: &[&str] = &[
    "js", "mjs", "cjs", "jsx", "ts", "tsx", "html", "json", "vue", "svelte", "toml",
];

/// A line with this marker may hard-code a loopback address (e.g. the frontend's own).
pub const ALLOW_MARKER: &str = "dev-allow-address";

/// Runs every check on the index of the git checkout holding `start`.
///
/// The projects checked are those whose `dev.toml` is in the index and that hold
/// `start` or a staged path (a monorepo with the project in `app/` is checked from the
/// root too). Without any `dev.toml`, in the index or from `start` up, it fails with
/// the same message as `dev`.
pub fn run(start: &Path) -> Result<Outcome, PreCommitError> {
    let top = crate::git::text(start, &["rev-parse", "--show-toplevel"])
        .map(|out| PathBuf::from(out.trim()))
        .map_err(|why| {
            PreCommitError(match why {
                crate::git::GitError::NotARepository(_) => {
                    format!("{} is not in a git checkout", start.display())
                }
                other => format!(
                    "git cannot read the checkout at {}: {other}",
                    start.display()
                ),
            })
        })?;
    let git_error = |err: crate::git::GitError| PreCommitError(err.to_string());
    let changes = index::staged_changes(&top).map_err(git_error)?;
    let staged: Vec<String> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Deleted)
        .map(|c| c.path.clone())
        .collect();
    let index = Index::load(&top).map_err(git_error)?;
    let mut outcome = Outcome::default();
    rust_checks(&top, &staged, &mut outcome);
    let here = relative_dir(&top, start);
    let projects = index.projects(&here, &changes);
    if projects.is_empty() && !index.project_dirs().is_empty() {
        // A monorepo commit outside every project (a root README): nothing to check.
        outcome.skipped.push(
            "dev.toml and ports (no project with a dev.toml is touched by this commit)".into(),
        );
    } else if projects.is_empty() {
        // Nothing committed: the working tree decides between "no checkout" (exit 2)
        // and "dev.toml not committed yet".
        match Config::locate(start) {
            Err(err) => return Err(PreCommitError(err.to_string())),
            Ok((_, file)) => outcome.skipped.push(format!(
                "dev.toml and ports ({} is not committed)",
                crate::config::display_path(&file, &top)
            )),
        }
    }
    for project in &projects {
        let Some(config) = staged_config(&top, &index, project, &mut outcome) else {
            continue;
        };
        ports(&top, &index, &config, &changes, &mut outcome);
    }
    python(&index, &staged, &mut outcome);
    Ok(outcome)
}

/// `start` relative to the checkout's top, `""` at the top.
fn relative_dir(top: &Path, start: &Path) -> String {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canonical(start)
        .strip_prefix(canonical(top))
        .map(|rel| rel.to_string_lossy().replace('\\', "/"))
        .unwrap_or_default()
}

/// How long `cargo fmt` and `cargo clippy` may take: clippy on a cold cache is slow,
/// but a hook must still end.
const CARGO_TIMEOUT: Duration = Duration::from_secs(900);

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
        let run = Cmd::new(&cargo)
            .args(args.iter().copied())
            .dir(top)
            .timeout(CARGO_TIMEOUT)
            .run();
        match run {
            Ok(out) if out.success() => {}
            Ok(out) => outcome.findings.push(Finding {
                location: "Rust sources".into(),
                message: format!("{name} failed:\n  | {}", out.tail().join("\n  | ")),
                fix: fix.into(),
            }),
            Err(err) => outcome.findings.push(Finding {
                location: "Rust sources".into(),
                message: format!("{name} could not run: {err}"),
                fix: "install the Rust toolchain (rustup component add rustfmt clippy)".into(),
            }),
        }
    }
}

/// The staged `dev.toml` of the project in `dir` (`""` or `app/`).
fn staged_config(top: &Path, index: &Index, dir: &str, outcome: &mut Outcome) -> Option<Config> {
    let path = format!("{dir}{}", crate::config::FILE_NAME);
    outcome.ran.push(format!("{path} valid"));
    let text = match index.read(&path) {
        Ok(Some(staged)) => {
            if let Some(note) = staged.note.clone() {
                outcome.notes.push(note);
            }
            staged.text()
        }
        Ok(None) => return None,
        Err(finding) => {
            outcome.findings.push(finding);
            return None;
        }
    };
    let root = top.join(dir.trim_end_matches('/'));
    match Config::from_text(&root, &path, &text) {
        Ok(mut config) => {
            config.file = Some(top.join(&path));
            Some(config)
        }
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

fn ports(top: &Path, index: &Index, config: &Config, changes: &[Change], outcome: &mut Outcome) {
    let port = config.backend.port;
    let shown = crate::config::display_path(&config.frontend.config_file, top);
    // `frontend.config_file = "../shared/config.json"` in `app/dev.toml` is
    // `shared/config.json` in the index.
    let config_file = index::normalise(&shown).unwrap_or(shown);
    let toml = crate::config::display_path(config.file.as_deref().unwrap_or(top), top);
    let key = &config.frontend.port_key;
    let check = format!("frontend config port in {config_file}");
    // Renaming or deleting the file dev.toml names breaks `dev` and the frontend:
    // that is an error, not a reason to skip the check.
    let gone = changes.iter().find(|c| {
        (c.kind == ChangeKind::Deleted && c.path == config_file)
            || c.from.as_deref() == Some(config_file.as_str())
    });
    if let Some(change) = gone {
        let what = match change.kind {
            ChangeKind::Deleted => "is deleted in this commit".to_owned(),
            _ => format!("is renamed to {} in this commit", change.path),
        };
        outcome.ran.push(check);
        outcome.findings.push(Finding {
            location: config_file.clone(),
            message: format!("{what}, but `frontend.config_file` in {toml} still names it"),
            fix: format!(
                "update `frontend.config_file` in {toml} and stage it, or undo the change: git restore --staged --worktree --source=HEAD -- {config_file}"
            ),
        });
    } else {
        match index.read(&config_file) {
            Ok(None) => outcome
                .skipped
                .push(format!("{check}: it is not committed")),
            Err(finding) => {
                outcome.ran.push(check);
                outcome.findings.push(finding);
            }
            Ok(Some(staged)) => {
                outcome.ran.push(check);
                if let Some(note) = staged.note.clone() {
                    outcome.notes.push(note);
                }
                let text = staged.text();
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
    }
    addresses(index, config, &config_file, &toml, changes, outcome);
}

/// Hard-coded backend addresses in the staged frontend sources: the files under the
/// folder that holds the frontend config, the config itself included (its other keys,
/// e.g. `VITE_API_URL=http://localhost:8001` in `frontend/.env`).
fn addresses(
    index: &Index,
    config: &Config,
    config_file: &str,
    toml: &str,
    changes: &[Change],
    outcome: &mut Outcome,
) {
    let port = config.backend.port;
    let folder = Path::new(config_file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let sources: Vec<&String> = changes
        .iter()
        .filter(|c| c.kind != ChangeKind::Deleted)
        .map(|c| &c.path)
        .filter(|p| folder.is_empty() || p.starts_with(&format!("{folder}/")))
        .filter(|p| is_frontend_source(p))
        .collect();
    let check = if folder.is_empty() {
        "hard-coded backend addresses".to_owned()
    } else {
        format!("hard-coded backend addresses in {folder}/")
    };
    if sources.is_empty() {
        outcome
            .skipped
            .push(format!("{check}: no frontend source staged"));
        return;
    }
    outcome.ran.push(check);
    for path in sources {
        let Ok(Some(staged)) = index.read(path) else {
            continue;
        };
        for (number, line) in staged.text().lines().enumerate() {
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

/// Sources by extension, and `.env` files by name (`.env`, `.env.local`, `app.env`).
fn is_frontend_source(path: &str) -> bool {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let extension = Path::new(path)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    SOURCE_EXTENSIONS.contains(&extension)
        || name == ".env"
        || name.starts_with(".env.")
        || name.ends_with(".env")
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

/// How long compiling the staged Python files may take.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(120);

/// Compiles each staged file from its staged bytes as the interpreter would run it
/// (the encoding from its PEP 263 line or UTF-8, decoded strictly), without writing
/// `.pyc` files. Prints one JSON list of `[path, line, message]`. Any exception of
/// `compile` is a finding, and a crash of the checker itself is one too (its status is
/// checked): a check that did not finish is never a pass.
const COMPILE_SCRIPT: &str = r#"
import io, json, sys, tokenize
found = []
for f in json.load(sys.stdin):
    path, data = f["path"], bytes.fromhex(f["hex"])
    try:
        try:
            encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        except SyntaxError as e:
            found.append([path, 1, "cannot be decoded: %s; save it as UTF-8 or declare its encoding (PEP 263)" % e.msg])
            continue
        try:
            data.decode(encoding)
        except UnicodeDecodeError as e:
            line = data[:e.start].count(b"\n") + 1
            found.append([path, line, "is not valid %s (%s); save it as UTF-8 or declare its encoding (PEP 263)" % (encoding, e.reason)])
            continue
        compile(data, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        found.append([path, e.lineno or 0, "does not compile: %s" % e.msg])
    except Exception as e:
        found.append([path, 0, "cannot be compiled: %s: %s" % (type(e).__name__, e)])
print(json.dumps(found))
"#;

fn python(index: &Index, staged: &[String], outcome: &mut Outcome) {
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
            let staged = index.read(path).ok()??;
            let hex: String = staged.bytes.iter().map(|b| format!("{b:02x}")).collect();
            Some(serde_json::json!({"path": path, "hex": hex}))
        })
        .collect();
    let cmd = Cmd::new(&interpreter)
        .args(["-c", COMPILE_SCRIPT])
        .stdin(serde_json::Value::from(sources).to_string().into_bytes())
        .timeout(COMPILE_TIMEOUT);
    let failed = |message: String, fix: String| Finding {
        location: "Python sources".into(),
        message,
        fix,
    };
    let by_hand = format!("{} -m py_compile <file>", interpreter.display());
    let output = match cmd.run() {
        Ok(output) => output,
        Err(err) => {
            outcome.findings.push(failed(
                format!("the compile check did not complete: {err}"),
                format!(
                    "try `{by_hand}` by hand; check the Python installation (`cargo xtask doctor`)"
                ),
            ));
            return;
        }
    };
    let parsed: Option<Vec<(String, u64, String)>> = serde_json::from_slice(&output.stdout).ok();
    match parsed {
        Some(found) if output.success() => {
            for (path, line, message) in found {
                outcome.findings.push(Finding {
                    location: if line == 0 {
                        path
                    } else {
                        format!("{path}:{line}")
                    },
                    message,
                    fix: "fix it, then stage the file".into(),
                });
            }
        }
        _ => outcome.findings.push(failed(
            format!(
                "the compile check crashed ({}), so the staged .py files are unchecked:\n  | {}",
                output.status,
                output.tail().join("\n  | ")
            ),
            format!("try `{by_hand}` by hand"),
        )),
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
