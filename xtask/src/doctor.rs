//! `cargo xtask doctor`.

use clap::Args;
use coordinator::doctor::{self, Context};
use coordinator::runlog::new_correlation_id;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the report as JSON (see README.md for the schema).
    #[arg(long)]
    json: bool,
    /// Show details of passing checks too.
    #[arg(long)]
    verbose: bool,
}

pub fn run(args: &DoctorArgs) -> u8 {
    let start = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let correlation_id = new_correlation_id();
    let context = match Context::load(&start, &|name| std::env::var(name).ok(), &correlation_id) {
        Ok(context) => context,
        // No usable dev.toml: nothing to check against (exit 2, as for `dev`).
        Err(err) => {
            if args.json {
                crate::print(&format!(
                    "{}\n",
                    doctor::unusable_config(&err, &correlation_id).to_json()
                ));
            }
            return crate::config_error(&err);
        }
    };
    let report = doctor::run(&context);
    if args.json {
        crate::print(&format!("{}\n", report.to_json()));
    } else {
        crate::print(&doctor::human(&report, args.verbose, doctor::use_colour()));
    }
    if report.ok {
        crate::exit::OK
    } else {
        crate::exit::FAILED
    }
}
