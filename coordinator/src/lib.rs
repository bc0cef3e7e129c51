//! The dev-process coordinator: everything `cargo xtask` does, as a library.
//!
//! See `ARCHITECTURE.md` at the repository root for the map and its invariants.

pub mod atomic;
pub mod backend;
pub mod config;
pub mod connect;
pub mod control;
pub mod detach;
pub mod dev;
pub mod doctor;
pub mod events;
pub mod exec;
pub mod frontend_config;
pub mod git;
pub mod guardian;
pub mod health;
pub mod holder;
pub mod hooks;
pub mod init;
pub mod ownership;
pub mod port;
pub mod precommit;
pub mod process;
pub mod progress;
pub mod prompt;
pub mod pyproject;
pub mod python;
pub mod ready;
pub mod report;
pub mod requirements;
pub mod runlog;
pub mod runs;
pub mod signals;
pub mod text;
pub mod user_file;
pub mod venv;
pub mod watch;
pub mod which;
