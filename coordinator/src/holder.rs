//! Who holds a port: the listening socket's pid from the socket table (on Linux the
//! kernel's `sock_diag` netlink interface and `/proc`, see `holder/linux.rs`; elsewhere
//! the `listeners` crate), then its name, command line, user and uptime (`sysinfo`).
//!
//! Sockets of processes this user may not inspect (another user's, without root) have
//! no pid. The caller knows the port is taken, so an empty answer is reported as
//! "cannot be inspected", with the command that would tell, rather than guessed at.

#[cfg(target_os = "linux")]
mod linux;

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

/// A process listening on the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// The process name (cut to 15 characters by Linux; see `cmdline`).
    pub name: String,
    /// The full command line, or the name when it cannot be read.
    pub cmdline: String,
    pub user: Option<String>,
    pub uptime: Option<Duration>,
}

/// The outcome of a lookup on a port known to be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// One or more processes (a server on both families, or forked workers).
    Found(Vec<Holder>),
    /// The port is taken but no socket could be attributed to a process; the owner's
    /// user name when the kernel told it.
    Hidden { user: Option<String> },
}

impl Lookup {
    /// The first holder, if any.
    pub fn holder(&self) -> Option<&Holder> {
        match self {
            Lookup::Found(holders) => holders.first(),
            Lookup::Hidden { .. } => None,
        }
    }
}

/// Finds the processes with a TCP socket listening on `port` (any address).
pub fn lookup(port: u16) -> Lookup {
    let (pids, uid) = listening_pids(port);
    if pids.is_empty() {
        let user = uid.map(|uid| user_name(uid).unwrap_or_else(|| format!("uid {uid}")));
        return Lookup::Hidden { user };
    }
    Lookup::Found(describe(&pids.into_iter().collect::<Vec<_>>()))
}

/// The pids listening on `port` (no details: the quick question "whose socket is it?").
pub fn pids(port: u16) -> Vec<u32> {
    listening_pids(port).0.into_iter().collect()
}

/// The pids listening on `port`, and the uid owning the first listening socket.
fn listening_pids(port: u16) -> (BTreeSet<u32>, Option<u32>) {
    let (pids, uids) = listening_sockets(port);
    (pids, uids.into_iter().next())
}

/// The pids listening on `port`, and the distinct uids owning its listening sockets.
#[cfg(target_os = "linux")]
fn listening_sockets(port: u16) -> (BTreeSet<u32>, Vec<u32>) {
    let sockets = linux::listening(port).unwrap_or_default();
    let mut uids: Vec<u32> = Vec::new();
    for socket in &sockets {
        if !uids.contains(&socket.uid) {
            uids.push(socket.uid);
        }
    }
    let inodes: Vec<u64> = sockets.iter().map(|socket| socket.inode).collect();
    if inodes.is_empty() {
        return (BTreeSet::new(), uids);
    }
    (linux::owners(&inodes).into_iter().collect(), uids)
}

#[cfg(not(target_os = "linux"))]
fn listening_sockets(port: u16) -> (BTreeSet<u32>, Vec<u32>) {
    let pids = listeners::get_all()
        .map(|all| {
            all.into_iter()
                .filter(|l| {
                    l.protocol == listeners::Protocol::TCP
                        && l.state == listeners::SocketState::Listen
                        && l.socket.port() == port
                })
                .map(|l| l.process.pid)
                .collect()
        })
        .unwrap_or_default();
    (pids, Vec::new())
}

/// The TCP addresses on which any of `pids` listens (only processes this user may
/// inspect): where a server really serves, whatever port it was told.
#[cfg(target_os = "linux")]
pub fn listening_of(pids: &[u32]) -> Vec<SocketAddr> {
    let Ok(all) = linux::listening_all() else {
        return Vec::new();
    };
    let held: BTreeSet<u64> = pids
        .iter()
        .flat_map(|pid| linux::socket_inodes(*pid))
        .collect();
    let mut found: Vec<SocketAddr> = all
        .into_iter()
        .filter(|(_, socket)| held.contains(&socket.inode))
        .map(|(port, socket)| SocketAddr::new(socket.ip, port))
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(not(target_os = "linux"))]
pub fn listening_of(pids: &[u32]) -> Vec<SocketAddr> {
    let mut found: Vec<SocketAddr> = listeners::get_all()
        .map(|all| {
            all.into_iter()
                .filter(|l| {
                    l.protocol == listeners::Protocol::TCP
                        && l.state == listeners::SocketState::Listen
                        && pids.contains(&l.process.pid)
                })
                .map(|l| l.socket)
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.dedup();
    found
}

/// The addresses on which the process tree under `root` (itself included) listens: the
/// frontend's or the backend's own sockets, never a stranger's on the same port.
pub fn listening_of_tree(root: u32) -> Vec<SocketAddr> {
    let mut pids = vec![root];
    pids.extend(crate::process::descendants(root).iter().map(|e| e.pid));
    listening_of(&pids)
}

/// The name of the user `uid`, when the system knows it.
pub fn user_name(uid: u32) -> Option<String> {
    let users = Users::new_with_refreshed_list().ok()?;
    users
        .iter()
        .find(|user| **user.id() == uid)
        .map(|user| user.name().to_owned())
}

/// Name, command line, user and uptime of each pid that still exists.
pub fn describe(pids: &[u32]) -> Vec<Holder> {
    let Ok(mut system) = System::new() else {
        return pids.iter().map(|pid| bare(*pid)).collect();
    };
    let wanted: Vec<Pid> = pids.iter().map(|pid| Pid::from_u32(*pid)).collect();
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&wanted),
        true,
        ProcessRefreshKind::nothing()
            .without_tasks()
            .with_cmd(UpdateKind::Always)
            .with_user(UpdateKind::Always),
    );
    let users = Users::new_with_refreshed_list().ok();
    pids.iter()
        .map(|pid| {
            let Some(process) = system.process(Pid::from_u32(*pid)) else {
                return bare(*pid);
            };
            let name = process.name().to_string_lossy().into_owned();
            let cmd: Vec<String> = process
                .cmd()
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            let user = process.user_id().and_then(|uid| {
                users
                    .as_ref()
                    .and_then(|users| users.get_user_by_id(uid))
                    .map(|user| user.name().to_owned())
            });
            Holder {
                pid: *pid,
                cmdline: if cmd.is_empty() {
                    name.clone()
                } else {
                    cmd.join(" ")
                },
                name,
                user,
                uptime: Some(Duration::from_secs(process.run_time())),
            }
        })
        .collect()
}

/// What the operating system says about a listening process, for deciding whether it
/// is ours when its health answer does not say (see `ownership`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessFacts {
    pub holder: Holder,
    /// Its parent, grandparent, and so on up to pid 1, as far as they can be read.
    pub ancestors: Vec<u32>,
    pub cwd: Option<PathBuf>,
    pub cmd: Vec<String>,
}

/// What the socket table says about a port, and nothing more: who owns each listening
/// socket (the kernel tells the uid even when the process cannot be inspected) and,
/// when asked, which pids hold one. The pids cost a look at every process's open files,
/// so they are found only when needed, and "does pid P hold one?" looks at P's alone:
/// the reuse path pays for one netlink dump and one process.
#[derive(Debug, Default)]
pub struct Sockets {
    /// The distinct owners of the listening sockets. Empty where the platform does not
    /// tell (only Linux's `sock_diag` does here).
    pub uids: Vec<u32>,
    inodes: Vec<u64>,
    /// Elsewhere the pids are found by port (the `listeners` crate).
    #[cfg(not(target_os = "linux"))]
    port: u16,
    pids: std::cell::OnceCell<Vec<u32>>,
}

impl Sockets {
    /// Sockets with these owners and holders (tests, and platforms without inodes).
    pub fn known(uids: Vec<u32>, pids: Vec<u32>) -> Sockets {
        Sockets {
            uids,
            pids: std::cell::OnceCell::from(pids),
            ..Sockets::default()
        }
    }

    /// The listening sockets' inodes (empty where the platform does not tell): the same
    /// inodes mean the same sockets, so what was learnt of their holders still holds.
    pub fn inodes(&self) -> &[u64] {
        &self.inodes
    }

    /// The first owner that is not `uid`: a listener of another user.
    pub fn other_user(&self, uid: u32) -> Option<u32> {
        self.uids.iter().copied().find(|owner| *owner != uid)
    }

    /// The pids holding a listening socket (only those this user may inspect).
    pub fn pids(&self) -> &[u32] {
        self.pids.get_or_init(|| self.find_pids())
    }

    /// Whether `pid` holds one of the listening sockets.
    pub fn held_by(&self, pid: u32) -> bool {
        if let Some(pids) = self.pids.get() {
            return pids.contains(&pid);
        }
        self.holds(pid)
    }

    #[cfg(target_os = "linux")]
    fn find_pids(&self) -> Vec<u32> {
        if self.inodes.is_empty() {
            return Vec::new();
        }
        let mut pids = linux::owners(&self.inodes);
        pids.sort_unstable();
        pids
    }

    #[cfg(not(target_os = "linux"))]
    fn find_pids(&self) -> Vec<u32> {
        listening_sockets(self.port).0.into_iter().collect()
    }

    #[cfg(target_os = "linux")]
    fn holds(&self, pid: u32) -> bool {
        !self.inodes.is_empty() && linux::holds(pid, &self.inodes)
    }

    #[cfg(not(target_os = "linux"))]
    fn holds(&self, pid: u32) -> bool {
        self.pids().contains(&pid)
    }
}

/// Who holds the other end of one of `dev`'s connections, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtherEnd {
    /// Held by a socket of this uid (the uid of the listener that accepted it).
    Held(u32),
    /// Nobody holds it any more (closed, or only a handshake half done): whatever came
    /// on it cannot be attributed.
    Gone,
    /// The kernel was not asked or did not say (another platform, no `sock_diag`).
    #[default]
    Unknown,
}

/// Who holds the other end of this process's connection `ours` -> `theirs` (`None`:
/// its addresses are not known): who answers what `dev` asks on it, whether or not it
/// still listens (a process may accept a connection and close its listening socket;
/// the table of listeners then no longer shows it). Asked before the request is
/// written, when a real server cannot have answered or closed yet.
#[cfg(target_os = "linux")]
pub fn other_end(ends: Option<(SocketAddr, SocketAddr)>) -> OtherEnd {
    let Some((ours, theirs)) = ends else {
        return OtherEnd::Unknown;
    };
    match linux::socket_of(theirs, ours) {
        Ok(Some(end)) if linux::OWNED.contains(&end.state) => OtherEnd::Held(end.uid),
        Ok(_) => OtherEnd::Gone,
        Err(_) => OtherEnd::Unknown,
    }
}

/// [`other_end`] where the platform does not tell.
#[cfg(not(target_os = "linux"))]
pub fn other_end(_ends: Option<(SocketAddr, SocketAddr)>) -> OtherEnd {
    OtherEnd::Unknown
}

/// The listening sockets on `port` (their owners; the pids only when asked).
#[cfg(target_os = "linux")]
pub fn sockets(port: u16) -> Sockets {
    let found = linux::listening(port).unwrap_or_default();
    let mut uids: Vec<u32> = Vec::new();
    for socket in &found {
        if !uids.contains(&socket.uid) {
            uids.push(socket.uid);
        }
    }
    Sockets {
        uids,
        inodes: found.iter().map(|socket| socket.inode).collect(),
        pids: std::cell::OnceCell::new(),
    }
}

/// The listening sockets on `port`.
#[cfg(not(target_os = "linux"))]
pub fn sockets(port: u16) -> Sockets {
    Sockets {
        port,
        ..Sockets::default()
    }
}

/// The facts of each process listening on `port`; empty when none can be inspected.
pub fn facts(port: u16) -> Vec<ProcessFacts> {
    let (pids, _) = listening_pids(port);
    facts_of(&pids.into_iter().collect::<Vec<_>>())
}

/// The facts of each of `pids` that still exists.
pub fn facts_of(pids: &[u32]) -> Vec<ProcessFacts> {
    let holders = describe(pids);
    let Ok(mut system) = System::new() else {
        return holders
            .into_iter()
            .map(|holder| ProcessFacts {
                holder,
                ancestors: Vec::new(),
                cwd: None,
                cmd: Vec::new(),
            })
            .collect();
    };
    holders
        .into_iter()
        .map(|holder| {
            let pid = Pid::from_u32(holder.pid);
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&[pid]),
                true,
                ProcessRefreshKind::nothing()
                    .without_tasks()
                    .with_cmd(UpdateKind::Always)
                    .with_cwd(UpdateKind::Always),
            );
            let (cwd, cmd) = system.process(pid).map_or((None, Vec::new()), |process| {
                let cmd = process
                    .cmd()
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                (process.cwd().map(PathBuf::from), cmd)
            });
            let ancestors = ancestors(&mut system, pid);
            ProcessFacts {
                holder,
                ancestors,
                cwd,
                cmd,
            }
        })
        .collect()
}

/// The parent chain of `pid`, refreshing one process at a time (a full process scan
/// costs tens of milliseconds; a chain is a handful of reads).
fn ancestors(system: &mut System, pid: Pid) -> Vec<u32> {
    let mut chain = Vec::new();
    let mut current = pid;
    // Bounded: a chain longer than this is not a process tree anyone runs `dev` in.
    for _ in 0..64 {
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[current]),
            true,
            ProcessRefreshKind::nothing().without_tasks(),
        );
        let Some(parent) = system.process(current).and_then(|p| p.parent()) else {
            break;
        };
        if parent.as_u32() == 0 || chain.contains(&parent.as_u32()) {
            break;
        }
        chain.push(parent.as_u32());
        current = parent;
    }
    chain
}

fn bare(pid: u32) -> Holder {
    Holder {
        pid,
        name: String::new(),
        cmdline: String::new(),
        user: None,
        uptime: None,
    }
}

impl fmt::Display for Holder {
    /// "`python3 -m http.server 8000` (pid 4242, user alice, up 3 min)"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.cmdline.is_empty() {
            "an unknown command".to_owned()
        } else {
            printable(&self.cmdline)
        };
        write!(f, "`{what}` (pid {}", self.pid)?;
        if let Some(user) = &self.user {
            write!(f, ", user {}", printable(user))?;
        }
        if let Some(uptime) = self.uptime {
            write!(f, ", up {}", human_uptime(uptime))?;
        }
        f.write_str(")")
    }
}

/// A command line on one line: see [`crate::text::printable`].
pub use crate::text::printable;

/// What to say when the holder cannot be named.
pub fn hidden_hint(port: u16, user: Option<&str>) -> String {
    let whose = user.map_or_else(
        || "probably another user's".to_owned(),
        |user| format!("owned by {user}"),
    );
    format!(
        "a process that cannot be inspected ({whose}); `sudo ss -ltnp 'sport = :{port}'` names it"
    )
}

/// `42 s`, `3 min`, `2 h 5 min`, `4 days`.
pub fn human_uptime(uptime: Duration) -> String {
    let secs = uptime.as_secs();
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} days", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes_read_like_people_say_them() {
        assert_eq!(human_uptime(Duration::from_secs(42)), "42 s");
        assert_eq!(human_uptime(Duration::from_secs(180)), "3 min");
        assert_eq!(human_uptime(Duration::from_secs(7_500)), "2 h 5 min");
        assert_eq!(human_uptime(Duration::from_secs(400_000)), "4 days");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_socket_table_names_the_owner_and_the_holder_of_a_real_listener() {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .expect("bind a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let me = std::process::id();
        let sockets = sockets(port);
        assert_eq!(sockets.uids, [crate::process::effective_uid()]);
        assert!(sockets.held_by(me), "asked before the pids are read");
        assert!(!sockets.held_by(1), "init does not hold this test's socket");
        assert_eq!(sockets.pids(), [me]);
        assert!(sockets.held_by(me), "and after");
        drop(listener);
        let gone = super::sockets(port);
        assert!(gone.uids.is_empty() && gone.pids().is_empty());
    }

    #[test]
    fn holders_are_described_like_the_offer_says() {
        let holder = Holder {
            pid: 4242,
            name: "python3".into(),
            cmdline: "python3 -m http.server 8000".into(),
            user: Some("alice".into()),
            uptime: Some(Duration::from_secs(200)),
        };
        assert_eq!(
            holder.to_string(),
            "`python3 -m http.server 8000` (pid 4242, user alice, up 3 min)"
        );
        let odd = Holder {
            cmdline: "python3 -c pass\nfake line\x1b[2J".into(),
            ..holder
        };
        assert_eq!(
            odd.to_string(),
            "`python3 -c pass\\nfake line\\u{1b}[2J` (pid 4242, user alice, up 3 min)"
        );
    }
}
