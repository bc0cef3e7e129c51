//! `cargo xtask init <APP_DIR> [--dry-run]`: install the tooling into an existing app.

use std::path::{Path, PathBuf};

use clap::Args;
use coordinator::init;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The app's folder.
    app_dir: PathBuf,
    /// Show every write as a diff, and write nothing.
    #[arg(long)]
    dry_run: bool,
}

/// This repository: the tooling that is copied.
fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

pub fn run(args: &InitArgs) -> u8 {
    let plan = match init::plan(&source(), &args.app_dir) {
        Ok(plan) => plan,
        Err(err) => {
            eprintln!("error: {err}");
            return crate::exit::USAGE;
        }
    };
    let mut out = String::new();
    for (title, lines) in [
        ("found", &plan.found),
        ("guessed", &plan.guessed),
        ("kept", &plan.kept),
    ] {
        for line in lines {
            out.push_str(&format!("{title}: {line}\n"));
        }
    }
    if args.dry_run {
        for write in &plan.writes {
            out.push_str(&write.diff());
        }
    }
    let verb = if args.dry_run { "would write" } else { "wrote" };
    if plan.writes.is_empty() {
        out.push_str("nothing to write: the tooling is installed\n");
    } else {
        out.push_str(&format!(
            "{verb} {} file{} in {}:\n",
            plan.writes.len(),
            if plan.writes.len() == 1 { "" } else { "s" },
            plan.app.display()
        ));
        // The tooling crates' files, one line a crate; the app's own files one by one.
        let mut crates: Vec<(String, usize)> = Vec::new();
        for write in &plan.writes {
            let path = write.path.display().to_string();
            let top = path.split('/').next().unwrap_or_default();
            if ["xtask", "coordinator"].contains(&top) && path.contains('/') {
                match crates.iter_mut().find(|(name, _)| name == top) {
                    Some((_, n)) => *n += 1,
                    None => crates.push((top.to_owned(), 1)),
                }
                continue;
            }
            let how = if write.before.is_some() {
                "added to"
            } else {
                "new"
            };
            out.push_str(&format!("  {path} ({how})\n"));
        }
        for (name, n) in crates {
            out.push_str(&format!("  {name}/ ({n} files of the tooling)\n"));
        }
    }
    for line in &plan.check {
        out.push_str(&format!("check: {line}\n"));
    }
    if !args.dry_run {
        if let Err(err) = init::apply(&plan) {
            crate::print(&out);
            eprintln!("error: {err}");
            return crate::exit::FAILED;
        }
        // `dev` first: its first run builds the tooling and creates the venv, which
        // `doctor` would otherwise report missing (and a `doctor && dev` chain stop).
        out.push_str(&format!(
            "next: cd {} && cargo xtask dev\nthen: cargo xtask doctor (checks the machine and the app, with the venv dev made)\n",
            shown_for_shell(&plan.app)
        ));
    }
    crate::print(&out);
    crate::exit::OK
}

/// A path as a shell needs it quoted (a folder name with a space).
fn shown_for_shell(path: &std::path::Path) -> String {
    coordinator::text::shell_command(&[path.display().to_string()])
}
