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

/// What to exec for a command's program: a bare name looked up on PATH here, once (the
/// child would otherwise try each PATH entry with a failed exec while dev waits for its
/// exec: tenths of a ms on the path from the backend's ready answer to the frontend's
/// start); a path, a name not found, or a command given its own PATH, as it is.
pub fn to_exec(name: &str, dir: &Path, env: &[(String, String)]) -> std::ffi::OsString {
    match which_in(name, dir) {
        Some(found) if !name.contains('/') && !env.iter().any(|(k, _)| k == "PATH") => {
            found.into_os_string()
        }
        _ => name.into(),
    }
}
