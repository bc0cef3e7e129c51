//! Keeping the backend's virtualenv in step with its `requirements.txt`.
//!
//! A sync runs when the venv is missing or when the requirements changed since the
//! last successful sync, which is recorded as a hash in a marker file inside the venv.
//! It uses `uv` when it is on `PATH` (much faster), else `python -m venv` and `pip`.
//! A lock file serialises concurrent syncs of one checkout (two `dev` runs, or tests).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{BackendConfig, display_path};
use crate::exec::{Cmd, ExecError};
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

/// One file of the requirements: the top file, or one it includes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementsFile {
    pub path: PathBuf,
    /// `None` when it cannot be read (pip will say so when it installs).
    pub text: Option<String>,
    /// Included with `-c`/`--constraint`: it limits versions, installs nothing.
    pub constraint: bool,
}

/// The requirements file and every file it includes with `-r`/`--requirement` or
/// `-c`/`--constraint` (paths relative to the including file, as pip reads them),
/// each once, in the order pip meets them.
pub fn requirement_files(top: &Path) -> Vec<RequirementsFile> {
    let mut files: Vec<RequirementsFile> = Vec::new();
    let mut queue = vec![(top.to_path_buf(), false)];
    while let Some((path, constraint)) = queue.pop() {
        if files.iter().any(|f| f.path == path) {
            continue;
        }
        let text = crate::user_file::read_to_string(&path).ok();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut included: Vec<(PathBuf, bool)> =
            crate::requirements::includes(text.as_deref().unwrap_or_default())
                .into_iter()
                .map(|(rest, is_constraint)| (dir.join(rest), constraint || is_constraint))
                .collect();
        files.push(RequirementsFile {
            path,
            text,
            constraint,
        });
        // A stack: reversed so the first include is read first.
        included.reverse();
        queue.extend(included);
    }
    files
}

/// What the sync would do now, without doing it (for `doctor`).
pub fn is_up_to_date(backend: &BackendConfig) -> bool {
    if !backend.requirements.exists() {
        return true;
    }
    venv_python(&backend.venv).exists()
        && crate::user_file::read_to_string(&backend.venv.join(MARKER)).ok()
            == Some(marker(&requirement_files(&backend.requirements)))
}

/// Makes the next sync run even if the requirements did not change (`dev --resync`):
/// the venv may have been changed by hand (`pip uninstall`).
pub fn forget_sync(backend: &BackendConfig) -> std::io::Result<()> {
    match std::fs::remove_file(backend.venv.join(MARKER)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
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
    if !backend.requirements.is_file() {
        log.info(&format!(
            "no {shown_req}: skipping the Python environment sync"
        ));
        return Ok(SyncOutcome::NoRequirements);
    }
    let _lock = lock(lock_dir)?;
    let wanted = marker(&requirement_files(&backend.requirements));
    let python = venv_python(&backend.venv);
    let created = !python.exists();
    if !created
        && crate::user_file::read_to_string(&backend.venv.join(MARKER)).ok() == Some(wanted.clone())
    {
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

/// How long creating the venv or installing into it may take: a cold install of
/// the reference backend downloads wheels, but a sync must still end.
const SYNC_TIMEOUT: Duration = Duration::from_secs(900);

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
        let create = match uv {
            Some(uv) => Cmd::new(uv)
                .args(["venv", "--quiet", "--python"])
                .arg(&interpreter.executable),
            None => Cmd::new(&interpreter.executable).args(["-m", "venv"]),
        };
        run(
            create.arg(venv),
            &format!("creating the virtualenv {}", venv.display()),
        )?;
    }
    let install = match uv {
        Some(uv) => Cmd::new(uv)
            .args(["pip", "install", "--quiet", "--python"])
            .arg(python)
            .arg("-r")
            .arg(requirements),
        None => Cmd::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(requirements),
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

fn run(cmd: Cmd, what: &str) -> Result<(), SyncError> {
    let shown = cmd.shown();
    let output = cmd.timeout(SYNC_TIMEOUT).run().map_err(|err| SyncError {
        what: format!("{what} failed: {err}"),
        command: shown.clone(),
        tail: match &err {
            ExecError::TimedOut { tail, .. } => tail.clone(),
            _ => Vec::new(),
        },
        fix: if err.is_not_found() {
            "check that the program exists and is executable".into()
        } else {
            format!("run `{shown}` by hand to see what it waits for")
        },
    })?;
    if output.success() {
        return Ok(());
    }
    let tail = output.tail();
    let text = format!("{}{}", output.stdout_text(), output.stderr_text());
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

/// The marker's content: a hash of every requirements file, includes too (FNV-1a,
/// stable across Rust versions, unlike `DefaultHasher`), so that editing an included
/// file resyncs.
fn marker(files: &[RequirementsFile]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (i, file) in files.iter().enumerate() {
        // The top file alone hashes as before, so existing venvs are not resynced.
        if i > 0 {
            feed(b"\0");
            feed(file.path.to_string_lossy().as_bytes());
            feed(b"\0");
        }
        feed(file.text.as_deref().unwrap_or("\0(unreadable)").as_bytes());
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
        let file = |text: &str| RequirementsFile {
            path: "r.txt".into(),
            text: Some(text.into()),
            constraint: false,
        };
        assert_eq!(
            marker(&[file("fastapi==1\n")]),
            marker(&[file("fastapi==1\n")])
        );
        assert_ne!(
            marker(&[file("fastapi==1\n")]),
            marker(&[file("fastapi==2\n")])
        );
        assert_ne!(
            marker(&[file("-r x\n"), file("a\n")]),
            marker(&[file("-r x\n"), file("b\n")])
        );
    }
}
