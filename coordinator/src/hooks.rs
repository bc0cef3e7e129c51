//! The git pre-commit hook that `install-hooks` writes and `doctor` looks for.

/// The line that marks a hook as ours: `install-hooks` only overwrites hooks with it.
pub const MARKER: &str = "# installed by `cargo xtask install-hooks`";
