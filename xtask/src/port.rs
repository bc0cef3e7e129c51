//! `cargo xtask port [N]`: who holds a port, and the free port to use instead.

use clap::Args;
use coordinator::holder;
use coordinator::port;

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The port, 1 to 65535 (default: `backend.port` of the effective config).
    #[arg(value_parser = clap::value_parser!(u16).range(1..))]
    port: Option<u16>,
}

pub fn run(args: &PortArgs) -> u8 {
    let port = match args.port {
        Some(port) => port,
        None => match crate::load_config(&[]) {
            Ok(config) => config.backend.port,
            Err(err) => return crate::config_error(&err),
        },
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
            match next {
                Some(next) => println!("free instead: {next}"),
                None => println!("no free port found above {port}"),
            }
            crate::exit::FAILED
        }
    }
}
