//! `cargo xtask pre-commit` and `cargo xtask install-hooks`.

use std::time::Instant;

use clap::Args;
use coordinator::hooks::{self, Installed};
use coordinator::precommit;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Replace a pre-commit hook that install-hooks did not write (it is moved aside).
    #[arg(long)]
    force: bool,
}

fn here() -> std::path::PathBuf {
    std::env::current_dir().unwrap_or_else(|_| ".".into())
}

pub fn pre_commit() -> u8 {
    let started = Instant::now();
    let outcome = match precommit::run(&here()) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("error: {err}");
            return crate::exit::USAGE;
        }
    };
    for note in &outcome.notes {
        println!("pre-commit: {note}");
    }
    for skipped in &outcome.skipped {
        println!("pre-commit: skipped {skipped}");
    }
    let took = started.elapsed().as_millis();
    if outcome.findings.is_empty() {
        if outcome.ran.is_empty() {
            println!("pre-commit: ok (no check applied to what is staged; {took} ms)");
        } else {
            println!("pre-commit: ok ({}; {took} ms)", outcome.ran.join(", "));
        }
        return crate::exit::OK;
    }
    eprintln!(
        "pre-commit: {} problem{} in what is about to be committed:",
        outcome.findings.len(),
        if outcome.findings.len() == 1 { "" } else { "s" }
    );
    for finding in &outcome.findings {
        eprintln!(
            "\n{}: {}\n  fix: {}",
            finding.location, finding.message, finding.fix
        );
    }
    eprintln!("\n(commit anyway with `git commit --no-verify`; {took} ms)");
    crate::exit::FAILED
}

pub fn install(args: &InstallArgs) -> u8 {
    let mut warn = |warning: &str| eprintln!("warning: {warning}");
    match hooks::install(&here(), args.force, &mut warn) {
        Ok(Installed::Written(hook)) => println!("installed {}", hook.display()),
        Ok(Installed::AlreadyInstalled(hook)) => {
            println!("already installed: {}", hook.display());
        }
        Ok(Installed::MadeExecutable(hook)) => {
            println!("made {} executable (git ignored it)", hook.display());
        }
        Ok(Installed::Replaced { hook, backup }) => println!(
            "replaced {} (the previous hook was moved to {}; `mv {} {}` restores it)",
            hook.display(),
            backup.display(),
            backup.display(),
            hook.display()
        ),
        Err(err) => {
            eprintln!("error: {err}");
            return crate::exit::FAILED;
        }
    }
    crate::exit::OK
}
