//! Keeping the backend's virtualenv in step with how its dependencies are declared.
//!
//! `backend.requirements` names a `requirements*.txt` (installed with `pip -r`), or a
//! `pyproject.toml` (its PEP 621 dependencies and `backend.extras`); beside a
//! `pyproject.toml`, a `uv.lock` means `uv sync --frozen` and a `poetry.lock` means
//! `poetry install` ([`Declared`]). A sync runs when the venv is missing or when any
//! file that decides the environment (includes and lock files too) changed since the
//! last successful sync, which is recorded as a hash in a marker file inside the venv.
//! Plain installs use `uv` when it is on `PATH` (much faster), else `python -m venv`
//! and `pip`. A lock file serialises concurrent syncs of one checkout (two `dev` runs,
//! or tests).

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

/// How the backend's dependencies are declared, and so how they are installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declared {
    /// A requirements file (`pip install -r`), with what it includes.
    Requirements(PathBuf),
    /// A `pyproject.toml` without a lock file: its PEP 621 dependencies (and extras),
    /// installed as requirement lines; the project itself is not built.
    Pyproject(PathBuf),
    /// `uv.lock` beside the `pyproject.toml`: `uv sync --frozen`.
    Uv { pyproject: PathBuf, lock: PathBuf },
    /// `poetry.lock` beside the `pyproject.toml`: `poetry install --no-root`.
    Poetry { pyproject: PathBuf, lock: PathBuf },
}

impl Declared {
    /// What `backend.requirements` names: a `pyproject.toml` (or a lock file, taken
    /// with the `pyproject.toml` beside it) is detected by name, and a lock file beside
    /// it decides the tool (`uv.lock` first); anything else is a requirements file, but
    /// a `requirements.txt` that does not exist beside a `pyproject.toml` that does
    /// means the `pyproject.toml`.
    pub fn of(backend: &BackendConfig) -> Declared {
        let path = &backend.requirements;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        // Left to detection: the default `requirements.txt` that is not there, beside a
        // `pyproject.toml` that is.
        let detected =
            name == "requirements.txt" && !path.exists() && dir.join("pyproject.toml").is_file();
        let pyproject = match name {
            "pyproject.toml" => path.clone(),
            "uv.lock" | "poetry.lock" => dir.join("pyproject.toml"),
            _ if detected => dir.join("pyproject.toml"),
            _ => return Declared::Requirements(path.clone()),
        };
        let (uv, poetry) = (dir.join("uv.lock"), dir.join("poetry.lock"));
        if name != "poetry.lock" && uv.is_file() {
            Declared::Uv {
                pyproject,
                lock: uv,
            }
        } else if name != "uv.lock" && poetry.is_file() {
            Declared::Poetry {
                pyproject,
                lock: poetry,
            }
        } else {
            Declared::Pyproject(pyproject)
        }
    }

    /// The file the declaration starts from (the one that must exist).
    pub fn main_file(&self) -> &Path {
        match self {
            Declared::Requirements(path) | Declared::Pyproject(path) => path,
            Declared::Uv { pyproject, .. } | Declared::Poetry { pyproject, .. } => pyproject,
        }
    }

    /// Every file that decides the environment: includes of a requirements file, and
    /// the lock file beside a `pyproject.toml`.
    pub fn files(&self) -> Vec<RequirementsFile> {
        let read = |path: &Path| RequirementsFile {
            path: path.to_path_buf(),
            text: std::fs::read_to_string(path).ok(),
            constraint: false,
        };
        match self {
            Declared::Requirements(path) => requirement_files(path),
            Declared::Pyproject(path) => vec![read(path)],
            Declared::Uv { pyproject, lock } | Declared::Poetry { pyproject, lock } => {
                vec![read(pyproject), read(lock)]
            }
        }
    }

    /// How it is installed, as people say it.
    pub fn describe(&self, root: &Path) -> String {
        match self {
            Declared::Requirements(path) => display_path(path, root),
            Declared::Pyproject(path) => format!("{} (PEP 621)", display_path(path, root)),
            Declared::Uv { lock, .. } => format!("{} (uv sync --frozen)", display_path(lock, root)),
            Declared::Poetry { lock, .. } => {
                format!("{} (poetry install)", display_path(lock, root))
            }
        }
    }

    /// Which installer reads it.
    fn tool(&self) -> &'static str {
        match self {
            Declared::Requirements(_) => "requirements",
            Declared::Pyproject(_) => "pyproject",
            Declared::Uv { .. } => "uv",
            Declared::Poetry { .. } => "poetry",
        }
    }

    /// The marker's content for this declaration and `extras`.
    fn marker(&self, extras: &[String]) -> String {
        let files = self.files();
        match self {
            // As before, so that venvs synced from a requirements file are not resynced.
            Declared::Requirements(_) => marker(&files),
            _ => {
                let mut tagged = vec![RequirementsFile {
                    path: PathBuf::new(),
                    text: Some(format!("{} extras={extras:?}", self.tool())),
                    constraint: false,
                }];
                tagged.extend(files);
                marker(&tagged)
            }
        }
    }
}

/// What the sync would do now, without doing it (for `doctor`).
pub fn is_up_to_date(backend: &BackendConfig) -> bool {
    let declared = Declared::of(backend);
    if !declared.main_file().exists() {
        return true;
    }
    venv_python(&backend.venv).exists()
        && crate::user_file::read_to_string(&backend.venv.join(MARKER)).ok()
            == Some(declared.marker(&backend.extras))
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
    let declared = Declared::of(backend);
    let shown_req = declared.describe(root);
    let shown_venv = display_path(&backend.venv, root);
    if !declared.main_file().is_file() {
        log.info(&format!(
            "no {}: skipping the Python environment sync",
            display_path(declared.main_file(), root)
        ));
        return Ok(SyncOutcome::NoRequirements);
    }
    let _lock = lock(lock_dir)?;
    let wanted = declared.marker(&backend.extras);
    let python = venv_python(&backend.venv);
    let created = !python.exists();
    if !created
        && crate::user_file::read_to_string(&backend.venv.join(MARKER)).ok() == Some(wanted.clone())
    {
        log.file_only(&format!("{shown_venv} is up to date with {shown_req}"));
        return Ok(SyncOutcome::UpToDate);
    }
    let tools = Tools::find(&declared, root, lock_dir, log)?;
    let step = Step::start(
        log,
        &format!(
            "{} {shown_venv} from {shown_req} with {}",
            if created { "creating" } else { "updating" },
            tools.name
        ),
    );
    let result = run_sync(backend, &declared, &tools, created, &python, root);
    match result {
        Ok(()) => {
            write_marker(&backend.venv, &wanted)?;
            step.done("done");
            Ok(SyncOutcome::Synced {
                created,
                tool: tools.name,
            })
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

/// The programs a sync runs.
struct Tools {
    name: &'static str,
    /// `uv`, when it is used.
    uv: Option<PathBuf>,
    poetry: Option<PathBuf>,
}

impl Tools {
    fn find(
        declared: &Declared,
        root: &Path,
        lock_dir: &Path,
        log: &RunLog,
    ) -> Result<Tools, SyncError> {
        match declared {
            Declared::Uv { .. } => Ok(Tools {
                name: "uv",
                uv: Some(match which("uv") {
                    Some(uv) => uv,
                    None => install_uv(lock_dir, log)?,
                }),
                poetry: None,
            }),
            Declared::Poetry { lock, .. } => match which("poetry") {
                Some(poetry) => Ok(Tools {
                    name: "poetry",
                    uv: None,
                    poetry: Some(poetry),
                }),
                None => Err(SyncError {
                    what: format!(
                        "{} says the backend's packages are managed by Poetry, but `poetry` is not on PATH",
                        display_path(lock, root)
                    ),
                    command: String::new(),
                    tail: Vec::new(),
                    fix: "install Poetry (`pipx install poetry`, or `python3 -m pip install --user poetry`), or point `backend.requirements` at a requirements file".into(),
                }),
            },
            _ => {
                let uv = which("uv");
                Ok(Tools {
                    name: if uv.is_some() { "uv" } else { "pip" },
                    uv,
                    poetry: None,
                })
            }
        }
    }
}

/// `uv` from PyPI, installed with pip into a venv of its own under `.dev/tools` (never
/// into the user's Python), once; a later run finds it there.
fn install_uv(lock_dir: &Path, log: &RunLog) -> Result<PathBuf, SyncError> {
    let venv = lock_dir.join("tools").join("uv");
    let bin = venv_python(&venv)
        .parent()
        .map(|bin| bin.join(if cfg!(windows) { "uv.exe" } else { "uv" }))
        .unwrap_or_default();
    if bin.is_file() {
        return Ok(bin);
    }
    let interpreter = python::discover().map_err(|err| SyncError {
        what: format!("uv is not on PATH and cannot be installed: {err}"),
        command: String::new(),
        tail: Vec::new(),
        fix: err.fix(),
    })?;
    let step = Step::start(
        log,
        &format!(
            "uv.lock needs uv, which is not on PATH: installing it from PyPI with pip into {}",
            venv.display()
        ),
    );
    let made = run(
        Cmd::new(&interpreter.executable)
            .args(["-m", "venv"])
            .arg(&venv),
        "creating a venv for uv",
    )
    .and_then(|()| {
        run(
            Cmd::new(venv_python(&venv)).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "uv",
            ]),
            "installing uv from PyPI",
        )
    });
    match made {
        Ok(()) => {
            step.done("done");
            Ok(bin)
        }
        Err(err) => {
            step.failed();
            Err(err)
        }
    }
}

fn run_sync(
    backend: &BackendConfig,
    declared: &Declared,
    tools: &Tools,
    created: bool,
    python: &Path,
    root: &Path,
) -> Result<(), SyncError> {
    let venv = &backend.venv;
    let interpreter = || {
        python::discover().map_err(|err| SyncError {
            what: format!("cannot create {}: {err}", venv.display()),
            command: String::new(),
            tail: Vec::new(),
            fix: err.fix(),
        })
    };
    if let (Declared::Uv { pyproject, .. }, Some(uv)) = (declared, &tools.uv) {
        let project = pyproject.parent().unwrap_or(root);
        let mut cmd = Cmd::new(uv)
            .args(["sync", "--frozen", "--quiet", "--project"])
            .arg(project)
            // Only a Python that is on this machine; never one downloaded.
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_PROJECT_ENVIRONMENT", venv);
        if created {
            cmd = cmd.arg("--python").arg(interpreter()?.executable);
        }
        for extra in &backend.extras {
            cmd = cmd.arg("--extra").arg(extra);
        }
        return run(cmd, &format!("uv sync of {}", display_path(project, root)));
    }
    if created {
        let interpreter = interpreter()?;
        let create = match &tools.uv {
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
    let install = match (declared, &tools.poetry) {
        (Declared::Poetry { pyproject, .. }, Some(poetry)) => {
            let project = pyproject.parent().unwrap_or(root);
            let mut cmd = Cmd::new(poetry)
                .args(["install", "--no-root", "--no-interaction", "--directory"])
                .arg(project)
                // Poetry installs into the active venv: this one.
                .env("VIRTUAL_ENV", venv);
            for extra in &backend.extras {
                cmd = cmd.arg("--extras").arg(extra);
            }
            cmd
        }
        (Declared::Pyproject(path), _) => {
            let shown = display_path(path, root);
            let lines = crate::pyproject::read(path, &shown)
                .and_then(|project| project.wanted(&backend.extras, &shown))
                .map_err(|err| SyncError {
                    what: format!("{}: {}", err.location, err.message),
                    command: String::new(),
                    tail: Vec::new(),
                    fix: err.fix,
                })?;
            if lines.is_empty() {
                return Ok(());
            }
            installer(tools.uv.as_deref(), python).args(lines)
        }
        _ => installer(tools.uv.as_deref(), python)
            .arg("-r")
            .arg(declared.main_file()),
    };
    run(
        install,
        &format!(
            "installing {} into {}",
            declared.describe(root),
            venv.display()
        ),
    )
}

/// `uv pip install` or `pip install` into the venv of `python`, arguments to follow.
fn installer(uv: Option<&Path>, python: &Path) -> Cmd {
    match uv {
        Some(uv) => Cmd::new(uv)
            .args(["pip", "install", "--quiet", "--python"])
            .arg(python),
        None => Cmd::new(python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]),
    }
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
    fn the_declaration_is_detected_from_the_files_beside_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut backend = crate::config::Config::defaults(dir.path()).backend;
        let at = |name: &str| dir.path().join("backend").join(name);
        let declared = |backend: &BackendConfig| Declared::of(backend);
        std::fs::create_dir_all(at("")).expect("folder");
        assert_eq!(
            declared(&backend),
            Declared::Requirements(at("requirements.txt"))
        );
        std::fs::write(at("pyproject.toml"), "[project]\n").expect("write");
        assert_eq!(
            declared(&backend),
            Declared::Pyproject(at("pyproject.toml"))
        );
        std::fs::write(at("poetry.lock"), "").expect("write");
        let poetry = Declared::Poetry {
            pyproject: at("pyproject.toml"),
            lock: at("poetry.lock"),
        };
        assert_eq!(declared(&backend), poetry);
        std::fs::write(at("uv.lock"), "").expect("write");
        let uv = Declared::Uv {
            pyproject: at("pyproject.toml"),
            lock: at("uv.lock"),
        };
        assert_eq!(declared(&backend), uv);
        backend.requirements = at("poetry.lock");
        assert_eq!(declared(&backend), poetry);
        std::fs::write(at("requirements.txt"), "").expect("write");
        backend.requirements = at("requirements.txt");
        assert_eq!(
            declared(&backend),
            Declared::Requirements(at("requirements.txt"))
        );
    }

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
