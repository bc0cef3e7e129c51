//! `xtask __guardian <ID> [--log PATH]`: the guardian of one `dev` run. Hidden: only
//! `dev` starts it (see `coordinator::guardian`), with the pipe from `dev` as stdin.
//!
//! Its arguments are read by hand, before clap and the panic hook are set up: it lives
//! as long as the run it guards, and what clap's parser and color-eyre touch would stay
//! in its memory for all that time (measured: see ARCHITECTURE.md's Decisions).

use std::ffi::OsString;
use std::path::PathBuf;

/// Runs the guardian when the command line is `__guardian <ID> [--log PATH]`; `None`
/// for every other command line.
pub fn dispatch() -> Option<u8> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != coordinator::guardian::SUBCOMMAND {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    let (id, log) = match rest.as_slice() {
        [id] => (id, None),
        [id, flag, log] if flag == "--log" => (id, Some(PathBuf::from(log))),
        _ => return Some(usage()),
    };
    let Some(id) = id.to_str() else {
        return Some(usage());
    };
    coordinator::guardian::watch(id, log.as_deref());
    Some(crate::exit::OK)
}

fn usage() -> u8 {
    eprintln!(
        "error: usage: xtask {} <CORRELATION_ID> [--log PATH] (started by `dev`, not by hand)",
        coordinator::guardian::SUBCOMMAND
    );
    crate::exit::USAGE
}
