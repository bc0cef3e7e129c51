//! Linux: the listening sockets on a port from the kernel's `sock_diag` netlink
//! interface (what `ss` uses), then their owners from `/proc/<pid>/fd`.
//!
//! `/proc/net/tcp` would do too, but the kernel renders every socket into it, TIME_WAIT
//! included: on a busy machine (or after a test run) that alone takes 15-20 ms, while a
//! netlink dump filtered to LISTEN returns only the few listening sockets.

use std::collections::BTreeSet;

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket,
};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_DONE: u16 = 3;
const NLMSG_ERROR: u16 = 2;
const TCP_LISTEN: u32 = 10;
const IPPROTO_TCP: u8 = 6;
const NLMSG_HDR: usize = 16;

/// A listening TCP socket: its inode (to find the process) and owner uid (which the
/// kernel tells even when the process cannot be inspected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listening {
    pub inode: u64,
    pub uid: u32,
    /// The address it is bound to (`0.0.0.0` and `::` for every address).
    pub ip: std::net::IpAddr,
}

/// Every TCP socket listening on `port`, IPv4 and IPv6.
pub fn listening(port: u16) -> std::io::Result<Vec<Listening>> {
    Ok(listening_all()?
        .into_iter()
        .filter(|(p, _)| *p == port)
        .map(|(_, l)| l)
        .collect())
}

/// Every listening TCP socket of either family: `(port, socket)`.
pub fn listening_all() -> std::io::Result<Vec<(u16, Listening)>> {
    let mut found = Vec::new();
    for family in [libc_af_inet(), libc_af_inet6()] {
        found.extend(dump(family, 1 << TCP_LISTEN)?.into_iter().map(|end| {
            let listening = Listening {
                inode: end.inode,
                uid: end.uid,
                ip: end.local.ip(),
            };
            (end.local.port(), listening)
        }));
    }
    Ok(found)
}

/// One end of a TCP connection, as the kernel lists it: its addresses (an IPv4-mapped
/// IPv6 address as the IPv4 one), its owner's uid, and its inode (0 before it is
/// accepted and once its process closed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub local: std::net::SocketAddr,
    pub remote: std::net::SocketAddr,
    pub uid: u32,
    pub inode: u64,
    /// The TCP state (`TCP_ESTABLISHED` is 1).
    pub state: u8,
}

/// The states in which a connected socket still has its owner: established, and the
/// closing states of a socket its process has not let go of. A socket in `TIME_WAIT`
/// (also what an orphaned `FIN_WAIT2` becomes) or a handshake half done has none: the
/// kernel reports uid 0 for it.
pub const OWNED: [u8; 6] = [1, 4, 5, 8, 9, 11];

/// The socket inodes `pid` holds open (none when it cannot be inspected).
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| {
            let target = std::fs::read_link(fd.path()).ok()?;
            let inode = target
                .to_str()?
                .strip_prefix("socket:[")?
                .strip_suffix(']')?;
            inode.parse().ok()
        })
        .collect()
}

fn libc_af_inet() -> u8 {
    AddressFamily::Inet as i32 as u8
}

fn libc_af_inet6() -> u8 {
    AddressFamily::Inet6 as i32 as u8
}

/// One `SOCK_DIAG_BY_FAMILY` dump of the TCP sockets of `family` in `states` (a bit
/// per state).
fn dump(family: u8, states: u32) -> std::io::Result<Vec<End>> {
    // The socket id (ports, addresses) is left zero: no filter but the state.
    ask(family, states, NLM_F_REQUEST | NLM_F_DUMP, [0u8; 48])
}

/// The one TCP socket whose own address is `local` and whose peer is `remote`:
/// `Ok(None)` when the kernel has none. A lookup in its hash table, not a walk of every
/// connection (which is what a dump of connected sockets costs: about a millisecond per
/// family). An IPv4 pair is also looked for as IPv4-mapped IPv6 (a dual-stack socket's).
pub fn socket_of(
    local: std::net::SocketAddr,
    remote: std::net::SocketAddr,
) -> std::io::Result<Option<End>> {
    use std::net::{IpAddr, SocketAddr};
    let canonical = |addr: SocketAddr| SocketAddr::new(addr.ip().to_canonical(), addr.port());
    let (local, remote) = (canonical(local), canonical(remote));
    let mapped = |ip: IpAddr| match ip {
        IpAddr::V4(ip) => ip.to_ipv6_mapped().octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let plain = |ip: IpAddr| match ip {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    let mut tries = Vec::new();
    if local.is_ipv4() && remote.is_ipv4() {
        tries.push((libc_af_inet(), plain(local.ip()), plain(remote.ip())));
    }
    tries.push((libc_af_inet6(), mapped(local.ip()), mapped(remote.ip())));
    for (family, ours, theirs) in tries {
        // inet_diag_sockid: the ports (network order), the two addresses (16 bytes
        // each), the interface, and the cookie INET_DIAG_NOCOOKIE (whichever socket).
        let mut id = [0u8; 48];
        id[0..2].copy_from_slice(&local.port().to_be_bytes());
        id[2..4].copy_from_slice(&remote.port().to_be_bytes());
        id[4..4 + ours.len()].copy_from_slice(&ours);
        id[20..20 + theirs.len()].copy_from_slice(&theirs);
        id[40..48].copy_from_slice(&[0xff; 8]);
        match ask(family, u32::MAX, NLM_F_REQUEST, id) {
            // Only the socket asked for (the kernel may fall back to a listener).
            Ok(found) => {
                let exact = found
                    .into_iter()
                    .find(|end| end.local == local && end.remote == remote);
                if exact.is_some() {
                    return Ok(exact);
                }
            }
            Err(err) if err.raw_os_error() == Some(nix::libc::ENOENT) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// One `SOCK_DIAG_BY_FAMILY` request: a dump (`NLM_F_DUMP` in `flags`) or the one
/// socket `id` names.
fn ask(family: u8, states: u32, flags: u16, id: [u8; 48]) -> std::io::Result<Vec<End>> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )?;
    // nlmsghdr (16 bytes) + inet_diag_req_v2 (56 bytes), native endian as the kernel
    // expects.
    let mut request = Vec::with_capacity(72);
    request.extend_from_slice(&72u32.to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&flags.to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    request.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    request.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    request.extend_from_slice(&states.to_ne_bytes());
    request.extend_from_slice(&id);
    use std::os::fd::AsRawFd;
    sendto(
        fd.as_raw_fd(),
        &request,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut found = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let len = recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty())?;
        if len == 0 {
            return Ok(found);
        }
        let mut offset = 0;
        while offset + NLMSG_HDR <= len {
            let msg_len = u32_at(&buffer, offset) as usize;
            let kind = u16::from_ne_bytes([buffer[offset + 4], buffer[offset + 5]]);
            if msg_len < NLMSG_HDR || offset + msg_len > len {
                return Ok(found);
            }
            match kind {
                NLMSG_DONE => return Ok(found),
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(four(&buffer, offset + NLMSG_HDR));
                    return Err(std::io::Error::from_raw_os_error(-errno));
                }
                _ => {
                    // inet_diag_msg: family, state, timer, retrans (4 bytes), then the
                    // socket id whose first field is the source port in network order;
                    // uid at +64, inode at +68.
                    let body = offset + NLMSG_HDR;
                    if msg_len >= NLMSG_HDR + 72 {
                        let port = |at: usize| u16::from_be_bytes([buffer[at], buffer[at + 1]]);
                        // The addresses follow the two ports: source, then destination,
                        // 16 bytes each (4 used for IPv4), in network order.
                        // The reply's own family: a request for IPv4 may find a
                        // dual-stack IPv6 socket.
                        let v6 = buffer[body] == libc_af_inet6();
                        let ip = |at: usize| {
                            if v6 {
                                let mut octets = [0u8; 16];
                                octets.copy_from_slice(&buffer[at..at + 16]);
                                std::net::IpAddr::from(octets).to_canonical()
                            } else {
                                std::net::IpAddr::from(four(&buffer, at))
                            }
                        };
                        found.push(End {
                            local: (ip(body + 8), port(body + 4)).into(),
                            remote: (ip(body + 24), port(body + 6)).into(),
                            uid: u32_at(&buffer, body + 64),
                            inode: u64::from(u32_at(&buffer, body + 68)),
                            state: buffer[body + 1],
                        });
                    }
                }
            }
            // Messages are aligned to 4 bytes.
            offset += (msg_len + 3) & !3;
        }
        // The answer to a request for one socket has no end marker.
        if flags & NLM_F_DUMP == 0 {
            return Ok(found);
        }
    }
}

fn four(buffer: &[u8], at: usize) -> [u8; 4] {
    [buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]]
}

fn u32_at(buffer: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(four(buffer, at))
}

/// Whether `pid` holds any of `inodes` open (only a process this user may inspect).
pub fn holds(pid: u32, inodes: &[u64]) -> bool {
    let wanted: BTreeSet<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    holds_any(pid, &wanted)
}

fn holds_any(pid: u32, wanted: &BTreeSet<String>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|target| target.to_str().map(|t| wanted.contains(t)))
            .unwrap_or(false)
    })
}

/// The pids holding any of `inodes` open, from `/proc/<pid>/fd` (only the processes
/// this user may inspect).
pub fn owners(inodes: &[u64]) -> Vec<u32> {
    let wanted: BTreeSet<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if holds_any(pid, &wanted) {
            pids.push(pid);
        }
    }
    pids
}
