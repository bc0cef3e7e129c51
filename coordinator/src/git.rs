//! Asking git about the checkout: `pre-commit` reads the index through it, and
//! `install-hooks` and `doctor` ask it where the hooks live. Runs through
//! [`crate::exec`], so a git that hangs (a credential prompt, a slow filesystem) is
//! stopped at the deadline, and git's own error is kept: "dubious ownership" is not
//! "not a git checkout".

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::exec::Cmd;

/// Generous for a local git command on a big repository, short next to "forever".
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// For questions git answers from its config alone.
const QUICK: Duration = Duration::from_secs(5);

/// Git could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed (not found on PATH)")]
    NotInstalled,
    /// There is no repository here.
    #[error("{0}")]
    NotARepository(String),
    /// Anything else, in git's words (e.g. "detected dubious ownership").
    #[error("{0}")]
    Failed(String),
}

/// Runs `git <args>` in `dir`; its stdout, or git's message (its stderr, or why it
/// could not run) as the error.
pub fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    run_within(dir, args, TIMEOUT)
}

/// [`run`] with its own deadline.
pub fn run_within(dir: &Path, args: &[&str], timeout: Duration) -> Result<Vec<u8>, GitError> {
    let output = Cmd::new("git")
        .args(args)
        .dir(dir)
        .timeout(timeout)
        .run()
        .map_err(|err| {
            if err.is_not_found() {
                GitError::NotInstalled
            } else {
                GitError::Failed(err.to_string())
            }
        })?;
    if output.success() {
        return Ok(output.stdout);
    }
    let stderr = output.stderr_text();
    let message = stderr.trim();
    Err(if message.contains("not a git repository") {
        GitError::NotARepository(message.to_owned())
    } else if message.is_empty() {
        GitError::Failed(format!(
            "`git {}` exited with {}",
            args.join(" "),
            output.status
        ))
    } else {
        GitError::Failed(message.to_owned())
    })
}

/// [`run`], as text.
pub fn text(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    run(dir, args).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The hooks folder of the checkout holding `start` (shared by its worktrees), or
/// git's reason why there is none.
pub fn hooks_dir(start: &Path) -> Result<PathBuf, GitError> {
    // Instant when git works; short, because `doctor` asks within its per-check
    // deadline, and a check abandoned there could not stop its git.
    let out = run_within(start, &["rev-parse", "--git-path", "hooks"], QUICK)?;
    let out = String::from_utf8_lossy(&out);
    let path = PathBuf::from(out.trim());
    Ok(if path.is_absolute() {
        path
    } else {
        start.join(path)
    })
}
