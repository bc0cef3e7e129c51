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
    match parse(std::env::args_os().skip(1).collect())? {
        Some((id, log)) => {
            coordinator::guardian::watch(
                &id,
                log.as_deref(),
                coordinator::dev::clean_up_as_guardian,
            );
            Some(crate::exit::OK)
        }
        None => {
            eprintln!(
                "error: usage: xtask {} <CORRELATION_ID> [--log PATH] (started by `dev`, not by hand)",
                coordinator::guardian::SUBCOMMAND
            );
            Some(crate::exit::USAGE)
        }
    }
}

/// `None`: not the guardian's command line; `Some(None)`: the guardian's, malformed.
fn parse(args: Vec<OsString>) -> Option<Option<(String, Option<PathBuf>)>> {
    let (first, rest) = args.split_first()?;
    if first != coordinator::guardian::SUBCOMMAND {
        return None;
    }
    let (id, log) = match rest {
        [id] => (id, None),
        [id, flag, log] if flag == "--log" => (id, Some(PathBuf::from(log))),
        _ => return Some(None),
    };
    let id = id
        .to_str()
        .filter(|id| coordinator::runlog::is_correlation_id(id));
    Some(id.map(|id| (id.to_owned(), log)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        line.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_guardians_command_line_is_taken() {
        assert_eq!(parse(args(&["dev", "--no-sync"])), None);
        assert_eq!(parse(args(&[])), None);
        assert_eq!(
            parse(args(&["__guardian", "dev-1-abcdef"])),
            Some(Some(("dev-1-abcdef".into(), None)))
        );
        assert_eq!(
            parse(args(&["__guardian", "dev-1-abcdef", "--log", "/tmp/x.log"])),
            Some(Some(("dev-1-abcdef".into(), Some("/tmp/x.log".into()))))
        );
        for bad in [
            &["__guardian"][..],
            &["__guardian", "../../etc"],
            &["__guardian", "dev-1-abcdef", "--log"],
            &["__guardian", "dev-1-abcdef", "--lag", "x"],
        ] {
            assert_eq!(parse(args(bad)), Some(None), "{bad:?}");
        }
    }
}
