//! The git pre-commit hook that `install-hooks` writes and `doctor` looks for.

/// The line that marks a hook as ours: `install-hooks` only overwrites hooks with it.
pub const MARKER: &str = "# installed by `cargo xtask install-hooks`";

use std::path::{Path, PathBuf};

use crate::git::GitError;

/// The hook `install-hooks` writes.
pub fn script() -> String {
    format!(
        "#!/bin/sh\n{MARKER}\n# Runs the project's checks on what is about to be committed.\n# Skip once with `git commit --no-verify`.\nexec cargo xtask pre-commit\n"
    )
}

/// What `install` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    Written(PathBuf),
    AlreadyInstalled(PathBuf),
    /// Our hook was there but not executable (git ignores such a hook): mode repaired.
    MadeExecutable(PathBuf),
    /// A previous hook was replaced: a foreign one with `--force`, or an older or
    /// edited copy of ours. The previous file (or symlink) was moved to `backup`,
    /// byte for byte, so `mv backup hook` restores it.
    Replaced {
        hook: PathBuf,
        backup: PathBuf,
    },
}

/// Installing refused or failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}\n  fix: {fix}")]
pub struct InstallError {
    pub message: String,
    pub fix: String,
}

/// What is at the hook's path now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Missing,
    /// A symlink: never written through (its target may be a shared team script).
    Symlink {
        target: PathBuf,
    },
    /// A regular file (or anything else that is not a link), as bytes: a hook need
    /// not be UTF-8 text (a Latin-1 comment, a compiled program).
    File {
        bytes: Vec<u8>,
        executable: bool,
    },
}

impl Existing {
    pub fn at(hook: &Path) -> std::io::Result<Existing> {
        let meta = match std::fs::symlink_metadata(hook) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Existing::Missing);
            }
            Err(err) => return Err(err),
        };
        if meta.file_type().is_symlink() {
            return Ok(Existing::Symlink {
                target: std::fs::read_link(hook)?,
            });
        }
        Ok(Existing::File {
            bytes: crate::user_file::read(hook)?,
            executable: is_executable(&meta),
        })
    }

    /// Whether `install-hooks` wrote this file (it carries [`MARKER`]).
    pub fn is_ours(&self) -> bool {
        match self {
            Existing::File { bytes, .. } => bytes
                .windows(MARKER.len())
                .any(|window| window == MARKER.as_bytes()),
            Existing::Missing | Existing::Symlink { .. } => false,
        }
    }
}

/// The hook a person edits when husky (v9) manages the hooks: git runs the generated
/// `.husky/_/pre-commit`, which runs `.husky/pre-commit`. `None` without husky.
pub fn husky_hook(hooks_dir: &Path) -> Option<PathBuf> {
    let parent = hooks_dir.parent()?;
    let generated = hooks_dir.file_name()? == "_" && parent.file_name()? == ".husky";
    generated.then(|| parent.join("pre-commit"))
}

/// Whether a hook script runs the project's checks.
pub fn runs_pre_commit(bytes: &[u8]) -> bool {
    const COMMAND: &[u8] = b"cargo xtask pre-commit";
    bytes.windows(COMMAND.len()).any(|window| window == COMMAND)
}

/// Writes the pre-commit hook of the git checkout holding `start` (a worktree too:
/// the hooks folder comes from `git rev-parse --git-path hooks`). Idempotent. A hook
/// we did not write (a file of any content, or a symlink) is only replaced with
/// `force`, and then moved aside rather than overwritten. A hooks folder outside the
/// repository (a `core.hooksPath` from the global or system git config) serves every
/// repository that uses it: refused, or with `force` written after `warn` is told why.
pub fn install(
    start: &Path,
    force: bool,
    warn: &mut dyn FnMut(&str),
) -> Result<Installed, InstallError> {
    let dir = hooks_dir(start)?;
    if let Some(outside) = outside_repository(start, &dir) {
        if !force {
            return Err(InstallError {
                message: format!(
                    "{outside}; a hook written there would run for every repository that uses it, where `cargo xtask` does not exist"
                ),
                fix: format!(
                    "give this repository its own hooks folder with `git config --local core.hooksPath {}` and rerun, or add `cargo xtask pre-commit` to the shared hook yourself (--force writes there anyway)",
                    default_hooks_dir(start).unwrap_or_else(|| ".git/hooks".into())
                ),
            });
        }
        warn(&format!(
            "{outside}: --force writes the hook there, for every repository that uses it"
        ));
    }
    if let Some(husky) = husky_hook(&dir) {
        return husky_installed(&dir, husky);
    }
    let hook = dir.join("pre-commit");
    let wanted = script();
    let existing = Existing::at(&hook).map_err(|err| io_error(&dir, "read", &hook, err))?;
    match &existing {
        Existing::File { bytes, executable } if *bytes == wanted.as_bytes() => {
            return repair_mode(&dir, hook, *executable);
        }
        Existing::Missing => {}
        _ if existing.is_ours() || force => {}
        other => return Err(refusal(&hook, other)),
    }
    std::fs::create_dir_all(&dir).map_err(|err| io_error(&dir, "create", &dir, err))?;
    let backup = move_aside(&dir, &hook, &existing)?;
    let written =
        crate::atomic::write(&hook, wanted.as_bytes()).and_then(|()| make_executable(&hook));
    if let Err(err) = written {
        if let Some(backup) = &backup {
            // Put the previous hook back rather than leave none.
            let _ = std::fs::rename(backup, &hook);
        }
        return Err(io_error(&dir, "write", &hook, err));
    }
    Ok(match backup {
        Some(backup) => Installed::Replaced { hook, backup },
        None => Installed::Written(hook),
    })
}

/// The hooks folder of the checkout holding `start`, or why git cannot say.
fn hooks_dir(start: &Path) -> Result<PathBuf, InstallError> {
    crate::git::hooks_dir(start).map_err(|why| InstallError {
        fix: match why {
            GitError::NotARepository(_) => "run it inside the repository".into(),
            GitError::NotInstalled => "install git".into(),
            GitError::Failed(_) => "follow git's advice above, then rerun".into(),
        },
        message: format!(
            "cannot find the git hooks folder of {}: {why}",
            start.display()
        ),
    })
}

/// Why `dir` is not this repository's own hooks folder, if it is not: it lies neither
/// in the work tree nor in the git folder. `None` when it is ours, or when git cannot
/// say where the repository is (the install then fails on its own).
fn outside_repository(start: &Path, dir: &Path) -> Option<String> {
    let quick = std::time::Duration::from_secs(5);
    let ask = |args: &[&str]| -> Option<PathBuf> {
        let out = crate::git::run_within(start, args, quick).ok()?;
        let text = String::from_utf8_lossy(&out).trim().to_owned();
        let path = PathBuf::from(text);
        let path = if path.is_absolute() {
            path
        } else {
            start.join(path)
        };
        Some(existing_prefix(&path))
    };
    let roots: Vec<PathBuf> = [
        ask(&["rev-parse", "--show-toplevel"]),
        ask(&["rev-parse", "--git-common-dir"]),
        ask(&["rev-parse", "--absolute-git-dir"]),
    ]
    .into_iter()
    .flatten()
    .collect();
    if roots.is_empty() {
        return None;
    }
    let dir = existing_prefix(dir);
    if roots.iter().any(|root| dir.starts_with(root)) {
        return None;
    }
    let scope = crate::git::run_within(
        start,
        &[
            "config",
            "--show-scope",
            "--show-origin",
            "--get",
            "core.hooksPath",
        ],
        quick,
    )
    .ok()
    .map(|out| String::from_utf8_lossy(&out).trim().to_owned())
    .and_then(|text| {
        let mut words = text.split('\t');
        let scope = words.next()?.to_owned();
        let origin = words.next()?.trim_start_matches("file:").to_owned();
        Some(format!(" (set in the {scope} git config, {origin})"))
    })
    .unwrap_or_default();
    Some(format!(
        "the git hooks folder {} is outside this repository{scope}",
        dir.display()
    ))
}

/// `path` made absolute and free of links as far as it exists (the rest appended).
fn existing_prefix(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut here = path.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&here) {
            return missing
                .into_iter()
                .rev()
                .fold(real, |acc, part| acc.join(part));
        }
        match (here.file_name().map(ToOwned::to_owned), here.parent()) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                here = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The hooks folder git uses without `core.hooksPath`, as the fix names it.
fn default_hooks_dir(start: &Path) -> Option<String> {
    // The common folder: a worktree's hooks are its main checkout's.
    let out = crate::git::run_within(
        start,
        &["rev-parse", "--git-common-dir"],
        std::time::Duration::from_secs(5),
    )
    .ok()?;
    let git_dir = PathBuf::from(String::from_utf8_lossy(&out).trim());
    let git_dir = existing_prefix(&start.join(git_dir));
    Some(git_dir.join("hooks").display().to_string())
}

/// Husky manages `dir`: nothing is written (husky regenerates its folder, so a hook
/// written there would be lost, and replacing the generated one would stop husky's
/// other hooks). Installed only if the `husky` hook already runs the checks.
fn husky_installed(dir: &Path, husky: PathBuf) -> Result<Installed, InstallError> {
    if crate::user_file::read(&husky).is_ok_and(|bytes| runs_pre_commit(&bytes)) {
        return Ok(Installed::AlreadyInstalled(husky));
    }
    Err(InstallError {
        message: format!(
            "husky manages the git hooks here ({} is generated)",
            dir.join("pre-commit").display()
        ),
        fix: format!(
            "add the line `cargo xtask pre-commit` to {}",
            husky.display()
        ),
    })
}

/// Our hook, byte for byte, is already there: made executable if it is not.
fn repair_mode(dir: &Path, hook: PathBuf, executable: bool) -> Result<Installed, InstallError> {
    if executable {
        return Ok(Installed::AlreadyInstalled(hook));
    }
    make_executable(&hook).map_err(|err| io_error(dir, "make executable", &hook, err))?;
    Ok(Installed::MadeExecutable(hook))
}

/// The refusal to replace a hook (or symlink) that `install-hooks` did not write.
fn refusal(hook: &Path, existing: &Existing) -> InstallError {
    let what = match existing {
        Existing::Symlink { target } => {
            format!(
                "is a symlink to {} that install-hooks did not create",
                target.display()
            )
        }
        _ => "exists and was not written by install-hooks".to_owned(),
    };
    InstallError {
        message: format!("{} {what}; it was left as it is", hook.display()),
        fix: "add `cargo xtask pre-commit` to it yourself, or rerun with --force to replace it (the previous hook is moved aside, not deleted)".into(),
    }
}

/// Moves the previous hook (if any) to a free backup name, which it returns.
fn move_aside(
    dir: &Path,
    hook: &Path,
    existing: &Existing,
) -> Result<Option<PathBuf>, InstallError> {
    if *existing == Existing::Missing {
        return Ok(None);
    }
    // Moving (not copying) keeps the bytes, the mode and a symlink as a symlink; a
    // free name keeps every earlier backup too.
    let backup = free_backup_name(dir);
    std::fs::rename(hook, &backup).map_err(|err| io_error(dir, "move aside", hook, err))?;
    Ok(Some(backup))
}

/// A failed file operation on `path` while installing into the hooks folder `dir`.
fn io_error(dir: &Path, what: &str, path: &Path, err: std::io::Error) -> InstallError {
    InstallError {
        message: format!("cannot {what} {}: {err}", path.display()),
        fix: format!("make {} writable", dir.display()),
    }
}

/// `pre-commit.backup`, or `pre-commit.backup.N` for the first N not taken.
fn free_backup_name(dir: &Path) -> PathBuf {
    let first = dir.join("pre-commit.backup");
    let taken = |path: &Path| std::fs::symlink_metadata(path).is_ok();
    if !taken(&first) {
        return first;
    }
    (1..)
        .map(|n| dir.join(format!("pre-commit.backup.{n}")))
        .find(|path| !taken(path))
        .unwrap_or(first)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    // Git runs a hook only when it may execute it; the owner bit is what matters for
    // the person committing.
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

#[cfg(unix)]
fn make_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_: &Path) -> std::io::Result<()> {
    Ok(())
}
