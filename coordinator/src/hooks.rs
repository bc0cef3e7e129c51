//! The git pre-commit hook that `install-hooks` writes and `doctor` looks for.

/// The line that marks a hook as ours: `install-hooks` only overwrites hooks with it.
pub const MARKER: &str = "# installed by `cargo xtask install-hooks`";

use std::path::{Path, PathBuf};

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
    /// A hook that we did not write was replaced (`--force`); its content is kept here.
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

/// Writes the pre-commit hook of the git checkout holding `start` (a worktree too:
/// the hooks folder comes from `git rev-parse --git-path hooks`). Idempotent; a hook
/// we did not write is only replaced with `force`, after a backup.
pub fn install(start: &Path, force: bool) -> Result<Installed, InstallError> {
    let dir = crate::doctor::hooks_dir(start).ok_or_else(|| InstallError {
        message: format!("{} is not in a git checkout", start.display()),
        fix: "run it inside the repository".into(),
    })?;
    let hook = dir.join("pre-commit");
    let wanted = script();
    let io = |err: std::io::Error| InstallError {
        message: format!("cannot write {}: {err}", hook.display()),
        fix: format!("make {} writable", dir.display()),
    };
    let existing = std::fs::read_to_string(&hook).ok();
    let outcome = match &existing {
        Some(text) if *text == wanted => return Ok(Installed::AlreadyInstalled(hook)),
        Some(text) if text.contains(MARKER) => Installed::Written(hook.clone()),
        Some(_) if !force => {
            return Err(InstallError {
                message: format!(
                    "{} exists and was not written by install-hooks; it was left as it is",
                    hook.display()
                ),
                fix: "add `cargo xtask pre-commit` to it yourself, or rerun with --force to replace it (a backup is kept)".into(),
            });
        }
        Some(text) => {
            let backup = dir.join("pre-commit.backup");
            crate::atomic::write(&backup, text.as_bytes()).map_err(io)?;
            Installed::Replaced {
                hook: hook.clone(),
                backup,
            }
        }
        None => Installed::Written(hook.clone()),
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    crate::atomic::write(&hook, wanted.as_bytes()).map_err(io)?;
    make_executable(&hook).map_err(io)?;
    Ok(outcome)
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
