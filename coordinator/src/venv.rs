//! Keeping the backend's virtualenv in step with its `requirements.txt`.
//!
//! A sync runs when the venv is missing or when the requirements changed since the
//! last successful sync, which is recorded as a hash in a marker file inside the venv.
//! It uses `uv` when it is on `PATH` (much faster), else `python -m venv` and `pip`.
//! A lock file serialises concurrent syncs of one checkout (two `dev` runs, or tests).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{BackendConfig, display_path};
use crate::progress::Step;
use crate::python::{self, venv_python};
use crate::runlog::RunLog;
use crate::which::which;

/// The marker file inside the venv.
pub const MARKER: &str = ".dev-sync";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The venv exists and the requirements have not changed.
    UpToDate,
    /// The venv was (re)synced; `created` when it did not exist.
    Synced { created: bool, tool: &'static str },
    /// There is no requirements file: nothing to sync.
    NoRequirements,
}

/// A failed sync: the command that failed, its output's tail, and the fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}\n  command: {command}\n{}\n  fix: {fix}", tail.iter().map(|l| format!("  | {l}")).collect::<Vec<_>>().join("\n"))]
pub struct SyncError {
    pub what: String,
    pub command: String,
    pub tail: Vec<String>,
    pub fix: String,
}

/// What the sync would do now, without doing it (for `doctor`).
pub fn is_up_to_date(backend: &BackendConfig) -> bool {
    let Ok(requirements) = std::fs::read(&backend.requirements) else {
        return true;
    };
    venv_python(&backend.venv).exists()
        && std::fs::read_to_string(backend.venv.join(MARKER)).ok() == Some(marker(&requirements))
}

/// Brings `backend.venv` up to date with `backend.requirements`.
pub fn sync(
    backend: &BackendConfig,
    root: &Path,
    lock_dir: &Path,
    log: &RunLog,
) -> Result<SyncOutcome, SyncError> {
    let shown_req = display_path(&backend.requirements, root);
    let shown_venv = display_path(&backend.venv, root);
    let Ok(requirements) = std::fs::read(&backend.requirements) else {
        log.info(&format!(
            "no {shown_req}: skipping the Python environment sync"
        ));
        return Ok(SyncOutcome::NoRequirements);
    };
    let _lock = lock(lock_dir)?;
    let wanted = marker(&requirements);
    let python = venv_python(&backend.venv);
    let created = !python.exists();
    if !created && std::fs::read_to_string(backend.venv.join(MARKER)).ok() == Some(wanted.clone()) {
        log.file_only(&format!("{shown_venv} is up to date with {shown_req}"));
        return Ok(SyncOutcome::UpToDate);
    }
    let uv = which("uv");
    let tool = if uv.is_some() { "uv" } else { "pip" };
    let step = Step::start(
        log,
        &format!(
            "{} {shown_venv} from {shown_req} with {tool}",
            if created { "creating" } else { "updating" }
        ),
    );
    let result = run_sync(backend, uv.as_deref(), created, &python);
    match result {
        Ok(()) => {
            write_marker(&backend.venv, &wanted)?;
            step.done("done");
            Ok(SyncOutcome::Synced { created, tool })
        }
        Err(err) => {
            step.failed();
            Err(err)
        }
    }
}

fn run_sync(
    backend: &BackendConfig,
    uv: Option<&Path>,
    created: bool,
    python: &Path,
) -> Result<(), SyncError> {
    let venv = &backend.venv;
    let requirements = &backend.requirements;
    if created {
        let interpreter = python::discover().map_err(|err| SyncError {
            what: format!("cannot create {}: {err}", venv.display()),
            command: String::new(),
            tail: Vec::new(),
            fix: err.fix(),
        })?;
        let mut create = match uv {
            Some(uv) => command(uv, ["venv", "--quiet", "--python"]),
            None => command(&interpreter.executable, ["-m", "venv"]),
        };
        if uv.is_some() {
            create.arg(&interpreter.executable);
        }
        create.arg(venv);
        run(
            create,
            &format!("creating the virtualenv {}", venv.display()),
        )?;
    }
    let install = match uv {
        Some(uv) => {
            let mut cmd = command(uv, ["pip", "install", "--quiet", "--python"]);
            cmd.arg(python).arg("-r").arg(requirements);
            cmd
        }
        None => {
            let mut cmd = command(
                python,
                [
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ],
            );
            cmd.arg(requirements);
            cmd
        }
    };
    run(
        install,
        &format!(
            "installing {} into {}",
            requirements.display(),
            venv.display()
        ),
    )
}

fn command<const N: usize>(program: &Path, args: [&str; N]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(std::process::Stdio::null());
    cmd
}

fn run(mut cmd: Command, what: &str) -> Result<(), SyncError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let output = cmd.output().map_err(|err| SyncError {
        what: format!("{what} failed: {err}"),
        command: shown.clone(),
        tail: Vec::new(),
        fix: "check that the program exists and is executable".into(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let tail = lines[lines.len().saturating_sub(20)..].to_vec();
    let offline = text.contains("No matching distribution") || text.contains("connection");
    Err(SyncError {
        what: format!("{what} failed ({})", output.status),
        command: shown,
        tail,
        fix: if offline {
            "check the network connection to the package index, or the pinned versions in the requirements file".into()
        } else {
            "read the output above; delete the venv folder to start it over, or run with --no-sync to skip the sync".into()
        },
    })
}

/// The marker's content: a hash of the requirements file (FNV-1a, stable across Rust
/// versions, unlike `DefaultHasher`).
fn marker(requirements: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in requirements {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("requirements-fnv1a64={hash:016x}\n")
}

fn write_marker(venv: &Path, content: &str) -> Result<(), SyncError> {
    crate::atomic::write(&venv.join(MARKER), content.as_bytes()).map_err(|err| SyncError {
        what: format!(
            "cannot record the sync in {}: {err}",
            venv.join(MARKER).display()
        ),
        command: String::new(),
        tail: Vec::new(),
        fix: format!("make {} writable", venv.display()),
    })
}

fn lock(dir: &Path) -> Result<File, SyncError> {
    let path: PathBuf = dir.join("venv-sync.lock");
    let file = std::fs::create_dir_all(dir)
        .and_then(|()| File::create(&path))
        .and_then(|file| file.lock().map(|()| file));
    file.map_err(|err| SyncError {
        what: format!("cannot lock {}: {err}", path.display()),
        command: String::new(),
        tail: Vec::new(),
        fix: format!("make {} writable", dir.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_changes_with_content() {
        assert_eq!(marker(b"fastapi==1\n"), marker(b"fastapi==1\n"));
        assert_ne!(marker(b"fastapi==1\n"), marker(b"fastapi==2\n"));
    }
}
