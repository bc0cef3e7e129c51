//! The `cargo xtask` command line: parse flags, call the `coordinator` library, print,
//! and choose the exit code. No logic of its own lives here.
//!
//! It is a library (with a two-line `main.rs`) so that the end-to-end tests can build
//! the very same CLI as a fixture binary.

mod bench;
mod dev;
mod doctor;
mod hooks;
mod port;
#[cfg(test)]
mod tidy;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coordinator::config::{Config, ConfigError, FlagValue};

/// The exit codes (README "Exit codes"), decided here and nowhere else.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;

    /// How a `dev` run ends: 0 stopped cleanly, the frontend's (or `dev -- cmd`'s) own
    /// code, 1 failed, 2 misconfigured.
    pub fn of_dev(outcome: &coordinator::dev::DevOutcome) -> u8 {
        use coordinator::dev::DevOutcome;
        match outcome {
            DevOutcome::Stopped => OK,
            DevOutcome::FrontendExited(code) => u8::try_from(*code).unwrap_or(FAILED),
            DevOutcome::Failed(_) => FAILED,
            DevOutcome::Misconfigured(_) => USAGE,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Developer tooling for the Electron + FastAPI app"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start (or reuse) the backend, then the frontend, and supervise both until Ctrl-C.
    Dev(dev::DevArgs),
    /// Diagnose this machine and checkout: Python, packages, Node, ports, config, health.
    Doctor(doctor::DoctorArgs),
    /// Check what is about to be committed (what the git hook runs).
    PreCommit,
    /// Install the git pre-commit hook that runs `cargo xtask pre-commit`.
    InstallHooks(hooks::InstallArgs),
    /// Who holds a port, and the free port to use instead.
    Port(port::PortArgs),
    /// Measure the speed targets next to the tools people use today; writes BENCHMARKS.md.
    Bench(bench::BenchArgs),
}

/// Runs the CLI with the process's arguments and environment.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let code = match cli.command {
        Command::Dev(args) => dev::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::PreCommit => hooks::pre_commit(),
        Command::InstallHooks(args) => hooks::install(&args),
        Command::Port(args) => port::run(&args),
        Command::Bench(args) => bench::command(&args),
    };
    ExitCode::from(code)
}

/// Loads the configuration for the current directory, with flag overrides.
fn load_config(flags: &[FlagValue]) -> Result<Config, ConfigError> {
    let start = std::env::current_dir().unwrap_or_else(|_| ".".into());
    Config::load(&start, &|name| std::env::var(name).ok(), flags)
}

/// Writes `text` to stdout. A closed stdout (`dev --print-config | head -1`) is a
/// normal end for a reader that had enough, not a panic: the rest is dropped.
fn print(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Prints a configuration error and gives the usage exit code.
fn config_error(err: &ConfigError) -> u8 {
    if err.missing_file {
        eprintln!("error: {err}");
    } else {
        eprintln!("error: invalid configuration\n{err}");
    }
    exit::USAGE
}
