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

/// Runs `git <args>` in `dir`; its stdout, or git's message (its stderr, or why it
/// could not run) as the error.
pub fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Cmd::new("git")
        .args(args)
        .dir(dir)
        .timeout(TIMEOUT)
        .run()
        .map_err(|err| err.to_string())?;
    if output.success() {
        Ok(output.stdout)
    } else {
        let stderr = output.stderr_text();
        let message = stderr.trim();
        Err(if message.is_empty() {
            format!("`git {}` exited with {}", args.join(" "), output.status)
        } else {
            message.to_owned()
        })
    }
}

/// [`run`], as text.
pub fn text(dir: &Path, args: &[&str]) -> Result<String, String> {
    run(dir, args).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// The hooks folder of the checkout holding `start` (shared by its worktrees), or
/// git's reason why there is none.
pub fn hooks_dir(start: &Path) -> Result<PathBuf, String> {
    let out = text(start, &["rev-parse", "--git-path", "hooks"])?;
    let path = PathBuf::from(out.trim());
    Ok(if path.is_absolute() {
        path
    } else {
        start.join(path)
    })
}

/// Whether git's error says there is no repository at all (as opposed to one it
/// refuses to use, e.g. for "dubious ownership").
pub fn is_not_a_repository(message: &str) -> bool {
    message.contains("not a git repository")
}
