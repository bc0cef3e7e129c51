//! `cargo xtask bench`.

use clap::Args;
use coordinator::bench::{self, BenchOptions};
use coordinator::config::Config;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Three runs, no peers, and no BENCHMARKS.md: proves the bench works (the test suite uses it).
    #[arg(long)]
    quick: bool,
    /// Also time the ready detection of this other `xtask` binary (e.g. a build of an
    /// older commit), in the same run: before/after numbers from one machine and moment.
    #[arg(long, value_name = "EXE")]
    baseline: Option<std::path::PathBuf>,
}

pub fn run(args: &BenchArgs) -> u8 {
    let start = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let (root, _) = Config::locate(&start);
    let exe = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    let options = BenchOptions {
        quick: args.quick,
        write: (!args.quick).then(|| root.join("BENCHMARKS.md")),
        exe,
        baseline: args.baseline.clone(),
    };
    match bench::run(&root, &options, &|step| eprintln!("bench: {step}")) {
        Ok(report) => {
            println!("{report}");
            if let Some(path) = &options.write {
                eprintln!("bench: wrote {}", path.display());
            }
            crate::exit::OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            crate::exit::FAILED
        }
    }
}
