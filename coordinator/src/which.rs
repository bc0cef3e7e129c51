//! Finding executables on `PATH` without running them, through the `which` crate: it
//! asks the kernel whether this user may execute the file (`access(X_OK)`, so a file
//! with only someone else's execute bit is skipped) and tries `PATHEXT` on Windows
//! (`npm` is `npm.cmd` there).

use std::path::{Path, PathBuf};

/// The first `name` on `PATH` that this user can execute, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    ::which::which(name).ok()
}

/// The program a command started in `dir` runs for `name`, if this user can execute
/// it: a bare name is looked up on `PATH`, a path (`bin/worker`, `./run.sh`, `/usr/bin/env`)
/// is taken as it is, relative to `dir`, as the kernel takes it.
pub fn which_in(name: &str, dir: &Path) -> Option<PathBuf> {
    ::which::which_in(name, std::env::var_os("PATH"), dir).ok()
}
