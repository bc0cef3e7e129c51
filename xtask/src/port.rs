//! `cargo xtask port [N]`: who holds a port, and the free port to use instead.

use clap::Args;
use coordinator::holder;
use coordinator::port;
use coordinator::runs::Runs;

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The port, 1 to 65535 (default: `backend.port` of the effective config).
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
}

pub fn run(args: &PortArgs) -> u8 {
    let config = crate::load_config(&[]);
    let port = match (args.port, &config) {
        (Some(port), _) => port,
        (None, Ok(config)) => config.backend.port,
        (None, Err(err)) => return crate::config_error(err),
    };
    if port::needs_privilege(port) {
        println!(
            "port {port} is free, but this user may not listen on it (ports below 1024 need root); use a port from 1024 up"
        );
        return crate::exit::FAILED;
    }
    match port::who_holds(port) {
        None => {
            println!("port {port} is free");
            crate::exit::OK
        }
        Some((lookup, next)) => {
            let holders = match &lookup {
                holder::Lookup::Found(holders) => holders
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                holder::Lookup::Hidden { user } => holder::hidden_hint(port, user.as_deref()),
            };
            println!("port {port} is in use by {holders}");
            let pids: Vec<u32> = lookup.holder().map(|h| h.pid).into_iter().collect();
            let owner = config
                .as_ref()
                .ok()
                .and_then(|config| Runs::of(&config.root).backend_owner(port, &pids));
            if let Some(run) = owner {
                println!(
                    "that is the backend of this checkout's dev run {} (dev pid {}): `cargo xtask dev` reuses it",
                    coordinator::text::printable(&run.correlation_id),
                    run.pid
                );
            }
            match next {
                Some(next) => println!("free instead: {next}"),
                None => println!("no free port found above {port}"),
            }
            crate::exit::FAILED
        }
    }
}
