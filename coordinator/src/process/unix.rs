//! Unix process-group plumbing: signals to groups, the parent-death signal, and (on
//! Linux) naming the members of a group from `/proc`.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::errno::Errno;
use nix::sys::signal::{
    SigHandler, SigSet, SigmaskHow, Signal as NixSignal, killpg, pthread_sigmask, sigprocmask,
};
use nix::unistd::Pid;

#[derive(Debug, Clone, Copy)]
pub enum Signal {
    Terminate,
    Kill,
    /// SIGCONT: a stopped process handles SIGTERM only once it runs again.
    Continue,
}

/// A process that blocked a shutdown, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub name: String,
    pub cmdline: String,
}

impl ProcessInfo {
    /// `pid N (name) <what happened>` (or `pid N (name)` alone, for a list), then
    /// `: <command line>` when it has one (a process that exited meanwhile has none, and
    /// gets no dangling colon).
    pub fn said(&self, what: &str) -> String {
        let head = match what {
            "" => format!("pid {} ({})", self.pid, self.name),
            what => format!("pid {} ({}) {what}", self.pid, self.name),
        };
        match self.cmdline.as_str() {
            "" => head,
            cmdline => format!("{head}: {cmdline}"),
        }
    }
}

/// The effective uid of this process: whose sockets and processes count as this user's.
pub fn effective_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

impl Signal {
    fn nix(self) -> NixSignal {
        match self {
            Signal::Terminate => NixSignal::SIGTERM,
            Signal::Kill => NixSignal::SIGKILL,
            Signal::Continue => NixSignal::SIGCONT,
        }
    }
}

pub fn signal_group(pgid: u32, signal: Signal) {
    // ESRCH (the group is already gone) is the outcome we want, not an error.
    let _ = killpg(Pid::from_raw(pgid as i32), signal.nix());
}

/// Asks this process to stop as on SIGTERM: from a thread that has no way into the
/// run's event loop (the output writer finding stdout closed). The run's own signal
/// handling then stops what it started, as for any SIGTERM.
pub fn stop_self() {
    let _ = nix::sys::signal::kill(Pid::this(), NixSignal::SIGTERM);
}

pub fn signal_pid(pid: u32, signal: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid as i32), signal.nix());
}

/// True while `pid` exists. A zombie counts as gone: it has exited, and only its
/// parent (not us) can reap it.
pub fn pid_exists(pid: u32) -> bool {
    if nix::sys::signal::kill(Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z")
    })
}

/// True when no process (zombies included) is left in the group.
pub fn group_gone(pgid: u32) -> bool {
    killpg(Pid::from_raw(pgid as i32), None) == Err(Errno::ESRCH)
}

/// SIGTTOU and SIGTTIN, which a terminal sends to a background process group.
fn terminal_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(NixSignal::SIGTTOU);
    set.add(NixSignal::SIGTTIN);
    set
}

/// Blocks SIGTTOU and SIGTTIN in this thread and every thread it starts later: `dev`
/// hands the terminal to its foreground child, takes it back, and writes to it while
/// in a background group, and none of that may stop it. Children get them unblocked.
pub fn hold_terminal_signals() {
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&terminal_signals()), None);
}

/// Whether stdin is a terminal whose foreground group is ours: only then may a child
/// be given it (a `dev &` in the background must not steal it from the shell).
pub fn owns_terminal() -> bool {
    let stdin = std::io::stdin();
    std::io::IsTerminal::is_terminal(&stdin)
        && nix::unistd::tcgetpgrp(&stdin).is_ok_and(|fg| fg == nix::unistd::getpgrp())
}

/// Makes `pgid` the terminal's foreground group.
pub fn give_terminal(pgid: u32) {
    let _ = nix::unistd::tcsetpgrp(std::io::stdin(), Pid::from_raw(pgid as i32));
}

/// Makes our own group the terminal's foreground group again.
pub fn take_terminal_back() {
    let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpgrp());
}

/// Prepares a child between fork and exec: on Linux, SIGKILL when the coordinator dies,
/// however it dies; for the foreground child, the terminal (set by the child itself as
/// well as by the parent, so that neither order races); and the terminal signals that
/// `dev` blocks for itself unblocked again.
pub fn prepare_child(cmd: &mut tokio::process::Command, foreground: bool) {
    let parent = std::process::id();
    #[expect(
        unsafe_code,
        reason = "pre_exec runs between fork and exec; the closure only makes async-signal-safe calls (prctl, getppid, setpgid, tcsetpgrp, sigprocmask)"
    )]
    unsafe {
        cmd.pre_exec(move || {
            #[cfg(target_os = "linux")]
            {
                nix::sys::prctl::set_pdeathsig(NixSignal::SIGKILL)?;
                // The parent may have died between fork and prctl: then no signal comes.
                if nix::unistd::getppid().as_raw() as u32 != parent {
                    return Err(std::io::Error::other("the coordinator exited during spawn"));
                }
            }
            #[cfg(not(target_os = "linux"))]
            let _ = parent;
            if foreground {
                let me = nix::unistd::getpid();
                let _ = nix::unistd::setpgid(me, me);
                let _ = nix::unistd::tcsetpgrp(std::io::stdin(), me);
                // Ctrl-Z would stop the child while it holds the terminal, and nobody
                // would be left to resume it (dev is not a shell with `fg`): the
                // foreground child ignores it.
                let _ = nix::sys::signal::signal(NixSignal::SIGTSTP, SigHandler::SigIgn);
            }
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&terminal_signals()), None);
            Ok(())
        });
    }
}

/// Prepares the guardian between fork and exec (see `process::spawn_guardian`): a
/// session of its own, the termination signals ignored (an ignored signal stays
/// ignored across `exec`, so there is no moment at which one could kill it), the
/// terminal signals `dev` blocks for itself unblocked again, and (Linux) every
/// descriptor above stderr closed at `exec`: `dev` opens its own close-on-exec, but
/// what `dev` inherited (a jobserver's pipe, a CI runner's descriptors) would otherwise
/// be held by the guardian too. No parent-death signal.
pub fn prepare_guardian(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    #[expect(
        unsafe_code,
        reason = "pre_exec runs between fork and exec; the closure only makes async-signal-safe calls (setsid, sigaction, sigprocmask, close_range)"
    )]
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            // Close-on-exec rather than closed: std's own error pipe (already
            // close-on-exec) must stay open until the exec. A kernel without the flag
            // (before 5.11) leaves them as they are.
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            let _ = libc::close_range(
                3,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC as libc::c_int,
            );
            for signal in [
                NixSignal::SIGINT,
                NixSignal::SIGTERM,
                NixSignal::SIGHUP,
                NixSignal::SIGQUIT,
            ] {
                nix::sys::signal::signal(signal, SigHandler::SigIgn)?;
            }
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&terminal_signals()), None);
            Ok(())
        });
    }
}

/// The members of a process group, read from `/proc` (Linux); elsewhere only the
/// leader is named.
#[cfg(target_os = "linux")]
pub fn group_members(pgid: u32) -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members: Vec<ProcessInfo> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The name is in parentheses and may itself contain spaces and parentheses:
            // the fields after the last ')' are state, ppid, pgrp.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let pgrp: u32 = rest.split_whitespace().nth(2)?.parse().ok()?;
            (pgrp == pgid).then(|| ProcessInfo {
                pid,
                name,
                cmdline: cmdline(pid),
            })
        })
        .collect();
    members.sort_by_key(|info| info.pid);
    members
}

#[cfg(not(target_os = "linux"))]
pub fn group_members(pgid: u32) -> Vec<ProcessInfo> {
    vec![ProcessInfo {
        pid: pgid,
        name: String::new(),
        cmdline: String::new(),
    }]
}

#[cfg(target_os = "linux")]
fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0)
                .filter(|part| !part.is_empty())
                .map(|part| String::from_utf8_lossy(part).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub fn failed_status() -> ExitStatus {
    ExitStatus::from_raw(1 << 8)
}

pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => {
            let name = NixSignal::try_from(signal).map_or("unknown", NixSignal::as_str);
            format!("signal {signal} ({name})")
        }
        _ => status.to_string(),
    }
}

pub fn exit_code(status: ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        _ => 1,
    }
}

/// One row of the process table: enough to tell whose a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    /// Clock ticks after boot at which the process started: with the pid, it names a
    /// process for good (a pid number is reused, a pid with its start time is not).
    pub start_time: u64,
    pub zombie: bool,
}

/// Parses `/proc/<pid>/stat`. The name is in parentheses and may itself contain spaces
/// and parentheses, so the fields are counted after the last ')'.
#[cfg(target_os = "linux")]
fn entry(pid: u32) -> Option<Entry> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) pgrp(2) ... starttime(19).
    Some(Entry {
        pid,
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
        zombie: matches!(fields.first(), Some(&"Z") | Some(&"X")),
    })
}

#[cfg(not(target_os = "linux"))]
fn entry(_pid: u32) -> Option<Entry> {
    None
}

/// One row of the process table, if `pid` exists (Linux; `None` elsewhere).
pub fn table_entry(pid: u32) -> Option<Entry> {
    entry(pid)
}

/// The start time of `pid`, if it exists (Linux; `None` elsewhere).
pub fn start_time(pid: u32) -> Option<u64> {
    entry(pid).map(|entry| entry.start_time)
}

/// Every process this user can see (Linux; empty elsewhere).
pub fn table() -> Vec<Entry> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|dir| dir.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(entry)
        .collect()
}

/// Whether `pid` runs the same program file as this process (Linux: `/proc/<pid>/exe`;
/// a binary rebuilt since it started reads as `<path> (deleted)`, which still counts).
/// Elsewhere there is no such link, and the answer is yes.
#[cfg(target_os = "linux")]
pub fn runs_this_program(pid: u32) -> bool {
    let Ok(mine) = std::env::current_exe() else {
        return false;
    };
    let Ok(theirs) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
        return false;
    };
    let theirs = theirs.to_string_lossy();
    let theirs = theirs.strip_suffix(" (deleted)").unwrap_or(&theirs);
    let mine = mine.to_string_lossy();
    theirs == mine.strip_suffix(" (deleted)").unwrap_or(&mine)
}

#[cfg(not(target_os = "linux"))]
pub fn runs_this_program(_pid: u32) -> bool {
    true
}

/// Names a process for a message: its name and command line.
pub fn info(pid: u32) -> ProcessInfo {
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|name| name.trim_end().to_owned())
        .unwrap_or_default();
    #[cfg(target_os = "linux")]
    let cmdline = cmdline(pid);
    #[cfg(not(target_os = "linux"))]
    let cmdline = String::new();
    ProcessInfo { pid, name, cmdline }
}

/// Makes this process the "child subreaper" (Linux): a descendant whose parent exits
/// (a daemon that double-forks, a worker whose reloader died) is re-parented to us
/// rather than to init, so it can still be seen and stopped.
#[cfg(target_os = "linux")]
pub fn become_subreaper() -> bool {
    nix::sys::prctl::set_child_subreaper(true).is_ok()
}

#[cfg(not(target_os = "linux"))]
pub fn become_subreaper() -> bool {
    false
}

/// Reaps `pid` if it is our exited child (an adopted orphan: nobody else will).
pub fn reap(pid: u32) {
    use nix::sys::wait::{WaitPidFlag, waitpid};
    let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
}

#[cfg(test)]
mod tests {
    use super::ProcessInfo;

    #[test]
    fn a_killed_process_is_said_with_its_command_line_and_no_dangling_colon_without_one() {
        let mut info = ProcessInfo {
            pid: 7,
            name: "vite".into(),
            cmdline: "node vite --port 5173".into(),
        };
        assert_eq!(
            info.said("was killed"),
            "pid 7 (vite) was killed: node vite --port 5173"
        );
        assert_eq!(info.said(""), "pid 7 (vite): node vite --port 5173");
        info.cmdline.clear();
        assert_eq!(info.said("was killed"), "pid 7 (vite) was killed");
        assert_eq!(info.said(""), "pid 7 (vite)");
    }
}
