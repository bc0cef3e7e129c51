//! Who listens on the backend's port: whether the answer to a health request can be
//! this `dev`'s own backend (another user's listener never is; an outsider's is not).

/// Who listens on the backend's port, as the socket table and the process table say:
/// looked up when the port opens, and again only when the listening sockets change.
#[derive(Debug)]
pub(super) struct Listener {
    /// The listening sockets' inodes when it was looked up.
    inodes: Vec<u64>,
    /// A listening socket's owner that is neither this user nor root.
    pub(super) other_user: Option<u32>,
    /// The holders, when none is this `dev`'s child or descends from this `dev`.
    pub(super) outsiders: Option<Vec<u32>>,
}

impl Listener {
    /// The socket table (one netlink dump), then the child's own open files; every
    /// process's only when the child holds none of the sockets (a backend that listens
    /// from a grandchild).
    pub(super) fn look(port: u16, child: u32, dev_pid: u32) -> Listener {
        let sockets = crate::holder::sockets(port);
        Listener::of(&sockets, child, dev_pid)
    }

    fn of(sockets: &crate::holder::Sockets, child: u32, dev_pid: u32) -> Listener {
        // Another user's listener is never the child this `dev` started, whatever it
        // answers (it cannot be inspected, so nothing else would tell). Root's is the
        // one exception: a container runtime's port proxy is root's, and root could
        // pose as anything anyway.
        let me = crate::process::effective_uid();
        let other_user = sockets
            .uids
            .iter()
            .copied()
            .find(|uid| *uid != me && *uid != 0);
        let outsiders = if sockets.held_by(child) {
            None
        } else {
            let holders = sockets.pids();
            let ours = holders.is_empty()
                || holders
                    .iter()
                    .any(|pid| crate::process::descends_from(*pid, dev_pid));
            (!ours).then(|| holders.to_vec())
        };
        Listener {
            inodes: sorted(sockets.inodes()),
            other_user,
            outsiders,
        }
    }

    /// Still the same listening sockets (one netlink dump, a fraction of a
    /// millisecond): this; else looked up again.
    pub(super) fn again(self, port: u16, child: u32, dev_pid: u32) -> Listener {
        let sockets = crate::holder::sockets(port);
        if sorted(sockets.inodes()) == self.inodes {
            self
        } else {
            Listener::of(&sockets, child, dev_pid)
        }
    }
}

fn sorted(inodes: &[u64]) -> Vec<u64> {
    let mut inodes = inodes.to_vec();
    inodes.sort_unstable();
    inodes
}
