//! The `cargo xtask` command line: parse flags, call the `coordinator` library, print,
//! and choose the exit code. No logic of its own lives here.
//!
//! It is a library (with a two-line `main.rs`) so that the end-to-end tests can build
//! the very same CLI as a fixture binary.

mod bench;
mod dev;
mod doctor;
mod guardian;
mod hooks;
mod init;
mod panic;
mod port;
mod status;
mod stop;
#[cfg(test)]
mod tidy;
mod wait;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use coordinator::config::{Config, ConfigError, FlagValue};

/// The exit codes (README lists them), decided here and nowhere else; an eyre
/// report out of `main` (a bug) exits with `FAILED`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    /// `status` and `stop`: no live run of this checkout.
    pub const NO_RUN: u8 = 3;

    /// `dev --detach` interrupted (Ctrl-C) while the run started: 0 when the run then
    /// stopped cleanly, as a Ctrl-C of `dev` itself, else 1.
    pub fn of_interrupted_start(code: Option<i32>) -> u8 {
        match code {
            Some(0) => OK,
            _ => FAILED,
        }
    }

    /// `status`: 0 when a run is up, 1 when runs are live but none is up yet, 3 when
    /// there is no live run.
    pub fn of_status(up: bool, live: bool) -> u8 {
        match (up, live) {
            (true, _) => OK,
            (false, true) => FAILED,
            (false, false) => NO_RUN,
        }
    }

    /// `stop`: 0 when every chosen run stopped, 1 when one is still stopping, 3 when no
    /// live run matched.
    pub fn of_stop(report: &coordinator::control::StopReport) -> u8 {
        if !report.still_running.is_empty() || !report.not_dev.is_empty() {
            FAILED
        } else if report.no_run.is_some() {
            NO_RUN
        } else {
            OK
        }
    }

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
    about = "Developer tooling for the Electron + FastAPI app",
    version,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start (or reuse) the backend, then the frontend, and supervise both until Ctrl-C.
    #[command(display_name = "cargo xtask dev")]
    Dev(dev::DevArgs),
    /// Diagnose this machine and checkout: Python, packages, Node, ports, config, health.
    #[command(display_name = "cargo xtask doctor")]
    Doctor(doctor::DoctorArgs),
    /// Check what is about to be committed (what the git hook runs).
    #[command(display_name = "cargo xtask pre-commit")]
    PreCommit,
    /// Install the git pre-commit hook that runs `cargo xtask pre-commit`.
    #[command(display_name = "cargo xtask install-hooks")]
    InstallHooks(hooks::InstallArgs),
    /// Install this tooling into an existing app: crates, cargo alias, dev.toml, .gitignore.
    #[command(display_name = "cargo xtask init")]
    Init(init::InitArgs),
    /// This checkout's live runs: processes, ports, URLs, health now, log file.
    #[command(display_name = "cargo xtask status")]
    Status(status::StatusArgs),
    /// Wait until this checkout's run is up (exit 0), or failed or stopped (exit 1).
    #[command(display_name = "cargo xtask wait")]
    Wait(wait::WaitArgs),
    /// Stop a run of this checkout as Ctrl-C does, and wait until it has stopped.
    #[command(display_name = "cargo xtask stop")]
    Stop(stop::StopArgs),
    /// Who holds a port, and the free port to use instead.
    #[command(display_name = "cargo xtask port")]
    Port(port::PortArgs),
    /// Measure the speed targets next to the tools people use today; writes BENCHMARKS.md.
    #[command(display_name = "cargo xtask bench")]
    Bench(bench::BenchArgs),
    /// Print a shell completion script for the `xtask` command to stdout.
    #[command(display_name = "cargo xtask completions")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Runs the CLI with the process's arguments and environment. An `Err` is a bug (a
/// hook that cannot be installed): what a user can fix is reported by each command.
pub fn main() -> color_eyre::Result<ExitCode> {
    // The guardian is dispatched before clap and the panic hook: it lives as long as
    // the `dev` run it guards, and every page either touches is its memory for that long.
    if let Some(code) = guardian::dispatch() {
        return Ok(ExitCode::from(code));
    }
    panic::install()?;
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return Ok(ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            }));
        }
    };
    let code = match cli.command {
        Command::Dev(args) => dev::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::PreCommit => hooks::pre_commit(),
        Command::InstallHooks(args) => hooks::install(&args),
        Command::Init(args) => init::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Wait(args) => wait::run(&args),
        Command::Stop(args) => stop::run(&args),
        Command::Port(args) => port::run(&args),
        Command::Bench(args) => bench::command(&args),
        Command::Completions { shell } => completions(shell),
    };
    Ok(ExitCode::from(code))
}

/// The name the completion scripts complete: the binary's own (`target/debug/xtask`),
/// which `alias xtask='cargo xtask'` makes a command of.
const COMPLETED_NAME: &str = "xtask";

/// `cargo xtask completions <shell>`: the script, on stdout.
fn completions(shell: clap_complete::Shell) -> u8 {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), COMPLETED_NAME, &mut script);
    print(&String::from_utf8_lossy(&script));
    exit::OK
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
    // The message quotes the file (a key, a value, a line of it): its control
    // characters are shown escaped.
    let shown = coordinator::text::printable_lines(&err.to_string());
    if err.missing_file {
        eprintln!("error: {shown}");
    } else {
        eprintln!("error: invalid configuration\n{shown}");
    }
    exit::USAGE
}
