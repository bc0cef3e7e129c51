//! Finding executables on `PATH` without running them, through the `which` crate: it
//! asks the kernel whether this user may execute the file (`access(X_OK)`, so a file
//! with only someone else's execute bit is skipped) and tries `PATHEXT` on Windows
//! (`npm` is `npm.cmd` there).

use std::path::PathBuf;

/// The first `name` on `PATH` that this user can execute, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    ::which::which(name).ok()
}
