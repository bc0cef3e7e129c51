//! Who listens on the backend's port: whether the answer to a health request can be
//! this `dev`'s own backend (another user's listener never is; an outsider's is not).
//! And what the port's opening brings: the first answer and the listener ([`Ask`]).

use std::cell::Cell;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use crate::health::first::{self, Sent};
use crate::health::{HealthClient, Probe};
use crate::holder::OtherEnd;

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
    /// The owner of the other end of the connection the answer being judged came on,
    /// when it is neither this user nor root: set anew for each answer
    /// ([`Listener::at_answer`]), since a process may accept a connection and close its
    /// listening socket.
    pub(super) answered_by: Option<u32>,
    /// Nobody held that other end when it was asked: the answer cannot be attributed.
    pub(super) gone: bool,
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
            answered_by: None,
            gone: false,
        }
    }

    /// Who listens when an answer reads ready, and who holds the other end of the
    /// connection it came on (`asked.by`). `asked.fresh`: the answer came on the
    /// opening connection, asked before `known` was looked up ([`Ask::on`]); that
    /// lookup names who could have accepted it, and a re-check could only add a
    /// listener that came later (and did not answer), so it is taken as it is. A later
    /// answer came on a connection of its own, asked later: the listening sockets are
    /// checked again ([`Listener::again`]).
    pub(super) fn at_answer(
        known: Option<Listener>,
        asked: Asked,
        (port, child, dev_pid): (u16, u32, u32),
    ) -> Listener {
        let known = known.unwrap_or_else(|| Listener::look(port, child, dev_pid));
        let mut current = if asked.fresh {
            known
        } else {
            known.again(port, child, dev_pid)
        };
        let me = crate::process::effective_uid();
        current.answered_by = match asked.by {
            OtherEnd::Held(uid) if uid != me && uid != 0 => Some(uid),
            _ => None,
        };
        current.gone = asked.by == OtherEnd::Gone;
        current
    }

    /// Why an answer on `port` cannot be this `dev`'s child's, from the sockets alone:
    /// another user's listener, another user's end of the connection it came on, or an
    /// end nobody held any more.
    pub(super) fn refused(&self, port: u16) -> Option<String> {
        if self.gone {
            return Some(format!(
                "port {port} answered on a connection nobody held any more when dev asked who did: asking again"
            ));
        }
        let uid = self.other_user.or(self.answered_by)?;
        Some(format!(
            "port {port} is answered by a process dev did not start: {}",
            crate::ownership::other_user(uid)
        ))
    }

    /// Still the same listening sockets (one netlink dump, a fraction of a
    /// millisecond): this; else looked up again.
    fn again(self, port: u16, child: u32, dev_pid: u32) -> Listener {
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

/// What the wait knows of the answer being judged: whether it came on the opening
/// connection, and the owner (uid) of the other end of the connection it came on, when
/// the kernel said.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    pub(super) fresh: bool,
    pub(super) by: OtherEnd,
}

/// What the port's opening brought: where it opened, who listens, and the first answer
/// when it was read there (`None`: the wait asks through the client).
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) at: SocketAddr,
    pub(super) listener: Listener,
    pub(super) answer: Option<Probe>,
    /// Who holds the other end of the connection the answer came on.
    pub(super) answered_by: OtherEnd,
    /// That connection, kept for the next request when it can carry one.
    pub(super) kept: Option<TcpStream>,
}

impl Opened {
    /// What is known of its answer (see [`Asked`]).
    pub(super) fn asked(&self) -> Asked {
        Asked {
            fresh: self.answer.is_some(),
            by: self.answered_by,
        }
    }

    /// The port opened at `at`, nothing asked yet (the asking thread panicked): the
    /// listener looked up here.
    pub(super) fn unasked(at: SocketAddr, port: u16, child: u32) -> Opened {
        Opened {
            at,
            listener: Listener::look(port, child, std::process::id()),
            answer: None,
            answered_by: OtherEnd::Unknown,
            kept: None,
        }
    }
}

/// The first health request, asked on the thread that found the port open, on the
/// connection that found it (`connect::first_open_then`): written at once, who listens
/// looked up while the backend prepares its answer (a socket table read that must not
/// sit between the ready answer and the frontend's start), then the answer read (see
/// `health::first`). Owned, for that thread.
#[derive(Clone)]
pub(super) struct Ask {
    client: HealthClient,
    /// The health URL, and the same on `[::1]` (`localhost` may be ::1 for a backend).
    urls: (String, String),
    v6: SocketAddr,
    correlation_id: String,
    /// The port, the child's pid, this `dev`'s pid.
    ids: (u16, u32, u32),
    /// When the port opened after `started` (the attempt's `WaitState`).
    opened: (Arc<OnceLock<Duration>>, Instant),
}

impl Ask {
    pub(super) fn new(
        plan: &super::Plan,
        child: u32,
        client: &HealthClient,
        correlation_id: &str,
        opened: (Arc<OnceLock<Duration>>, Instant),
    ) -> Ask {
        let v6 = SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), plan.port);
        let from = format!("//{}", plan.connect_addr);
        let v6_url = plan.health_url.replacen(&from, &format!("//{v6}"), 1);
        Ask {
            client: client.clone(),
            urls: (plan.health_url.clone(), v6_url),
            v6,
            correlation_id: correlation_id.to_owned(),
            ids: (plan.port, child, std::process::id()),
            opened,
        }
    }

    /// Asks on `stream`, which found the port open at `at` (blocking).
    pub(super) fn on(self, at: SocketAddr, stream: TcpStream) -> Opened {
        let _ = self.opened.0.set(self.opened.1.elapsed());
        let url = self.url(at);
        let (port, child, dev_pid) = self.ids;
        // Who holds the connection's other end, before the request is written (a real
        // server cannot have answered or closed it yet); then asked, looked up, read
        // (`Listener::at_answer` relies on that order).
        let answered_by = crate::holder::other_end(first::ends(&stream));
        let mut sent = self.client.send_on(stream, url, &self.correlation_id);
        let listener = Listener::look(port, child, dev_pid);
        let answer = sent.as_mut().and_then(Sent::answer);
        Opened {
            at,
            listener,
            answer,
            answered_by,
            kept: sent.and_then(Sent::into_kept),
        }
    }

    /// A health request after the first, at `at`: on the connection kept from the
    /// answer before, else on a new one of its own (`HealthClient::probe_kept`);
    /// `asked` then says who holds that connection's other end.
    pub(super) async fn again(
        &self,
        at: SocketAddr,
        asked: &Cell<Asked>,
        kept: &mut Option<TcpStream>,
    ) -> Probe {
        let url = self.url(at);
        let (probe, by, next) = self
            .client
            .probe_kept(
                url,
                &self.correlation_id,
                kept.take(),
                crate::holder::other_end,
            )
            .await;
        *kept = next;
        asked.set(Asked { fresh: false, by });
        probe
    }

    /// The health URL to ask at `at` from now on.
    fn url(&self, at: SocketAddr) -> &str {
        if at == self.v6 {
            &self.urls.1
        } else {
            &self.urls.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The other end of the answered connection decides as a listener of another user
    /// would: another user's is never the child's (root's is the exception, as for
    /// listeners), and it is judged anew for every answer.
    #[test]
    fn the_answers_other_end_is_judged_for_each_answer() {
        let me = crate::process::effective_uid();
        let other = if me == 65534 { 65533 } else { 65534 };
        let ids = (1, 0, std::process::id());
        let known = || Listener {
            inodes: Vec::new(),
            other_user: None,
            outsiders: None,
            answered_by: None,
            gone: false,
        };
        let asked = |by: OtherEnd| Asked { fresh: true, by };
        let judged = |by: OtherEnd| {
            let current = Listener::at_answer(Some(known()), asked(by), ids);
            (current.answered_by, current.gone)
        };
        assert_eq!(judged(OtherEnd::Held(other)), (Some(other), false));
        assert_eq!(judged(OtherEnd::Held(me)), (None, false));
        assert_eq!(judged(OtherEnd::Held(0)), (None, false));
        assert_eq!(judged(OtherEnd::Unknown), (None, false));
        // Closed before it was asked: nobody can be named, and it is not taken as ours.
        assert_eq!(judged(OtherEnd::Gone), (None, true));
        let mut stale = known();
        (stale.answered_by, stale.gone) = (Some(other), true);
        let again = Listener::at_answer(Some(stale), asked(OtherEnd::Held(me)), ids);
        assert!(!again.gone);
        assert_eq!(
            again.answered_by, None,
            "a verdict is not carried to the next answer"
        );
    }
}
