//! Is the backend on the port ours? The socket table first, then its health answer
//! when it says, else the operating system's facts about the listener.
//!
//! A listening socket owned by another user is never ours, whatever its answer says:
//! anyone on the machine can answer with our `service` and `workspace`. Then an answer
//! carrying `service` and `workspace` (the project's own health contract) decides, as
//! long as the socket table does not contradict it: a `pid` in the answer that is
//! neither a listener nor one of its descendants means the socket table decides
//! instead. Most real apps' health answers carry neither field, so then the process
//! that listens on the port (the socket table, not a pid in the body) decides: it is
//! ours when it descends from this `dev` process, or when its working directory or a
//! path on its command line lies inside this checkout (a backend started by hand from
//! here). Anything else is foreign. Every pid in a verdict is a listener's, never the
//! answer's. [`judge`], [`by_report`] and [`by_process`] are pure and table-tested;
//! [`decide`] gathers the facts.

use std::path::{Component, Path, PathBuf};

use crate::health::HealthReport;
use crate::holder::{self, ProcessFacts, Sockets};
use crate::text::printable;

/// Whether a backend is the one this checkout would start, and on what evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    Ours(Evidence),
    /// The answer names another service.
    OtherService(String),
    /// The answer names another checkout.
    OtherCheckout(String),
    /// The listening socket belongs to another user (this uid): never ours.
    OtherUser(u32),
    /// No identity in the answer, and the listener is not tied to this checkout: why.
    Foreign(String),
}

/// How ownership was decided, when the backend is ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// `service` and `workspace` in the health answer, not contradicted by the socket
    /// table; the listener's pid from the socket table, when it can be seen.
    Reported { pid: Option<u32> },
    /// The listener descends from this `dev` process.
    Descendant { pid: u32 },
    /// The listener's working directory is inside the checkout.
    WorkingDirectory { pid: u32, cwd: PathBuf },
    /// A path on the listener's command line is inside the checkout.
    CommandLine { pid: u32, arg: String },
}

impl Evidence {
    /// The stable id used in `doctor --json`.
    pub fn id(&self) -> &'static str {
        match self {
            Evidence::Reported { .. } => "health-report",
            Evidence::Descendant { .. } => "descendant",
            Evidence::WorkingDirectory { .. } => "working-directory",
            Evidence::CommandLine { .. } => "command-line",
        }
    }

    /// The listener's pid (from the socket table or the run record), when known.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Evidence::Reported { pid } => *pid,
            Evidence::Descendant { pid }
            | Evidence::WorkingDirectory { pid, .. }
            | Evidence::CommandLine { pid, .. } => Some(*pid),
        }
    }
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Evidence::Reported { .. } => {
                f.write_str("its health answer names this service and this checkout")
            }

            Evidence::Descendant { pid } => {
                write!(f, "the listener (pid {pid}) was started by this dev")
            }
            Evidence::WorkingDirectory { pid, cwd } => write!(
                f,
                "the listener (pid {pid}) runs in {}, inside this checkout",
                printable(&cwd.display().to_string())
            ),
            Evidence::CommandLine { pid, arg } => write!(
                f,
                "the listener (pid {pid}) runs {}, inside this checkout",
                printable(arg)
            ),
        }
    }
}

impl Ownership {
    /// One line for people: "ours: ..." or why not.
    pub fn describe(&self) -> String {
        match self {
            Ownership::Ours(evidence) => format!("ours: {evidence}"),
            Ownership::OtherService(service) => {
                format!("not ours: its health answer names service {service:?}")
            }
            Ownership::OtherCheckout(path) => format!(
                "not ours: its health answer names another checkout ({})",
                printable(path)
            ),
            Ownership::OtherUser(uid) => format!("not ours: {}", other_user(*uid)),
            Ownership::Foreign(why) => format!("not ours: {why}"),
        }
    }
}

/// Ownership from the answer's identity fields; `None` when it decides nothing (no
/// `workspace`, and no `service` or the right one), and the OS must.
pub fn by_report(report: &HealthReport, service: &str, workspace: &Path) -> Option<Ownership> {
    if let Some(reported) = &report.service
        && reported != service
    {
        return Some(Ownership::OtherService(reported.clone()));
    }
    let reported = report.workspace.as_deref()?;
    let same = Path::new(reported)
        .canonicalize()
        .ok()
        .zip(workspace.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    Some(if same {
        Ownership::Ours(Evidence::Reported { pid: None })
    } else {
        Ownership::OtherCheckout(reported.to_owned())
    })
}

/// Ownership from the listening processes' facts. `checkout` is canonical; `dev_pid`
/// is this process.
pub fn by_process(listeners: &[ProcessFacts], checkout: &Path, dev_pid: u32) -> Ownership {
    for facts in listeners {
        if let Some(evidence) = tie(facts, checkout, dev_pid) {
            return Ownership::Ours(evidence);
        }
    }
    let Some(first) = listeners.first() else {
        return Ownership::Foreign(
            "its health answer has no `service` or `workspace`, and the process listening on the port cannot be inspected".into(),
        );
    };
    let place = first.cwd.as_ref().map_or_else(
        || "an unknown folder".to_owned(),
        |cwd| printable(&cwd.display().to_string()),
    );
    Ownership::Foreign(format!(
        "its health answer has no `service` or `workspace`, and pid {} runs in {place}, outside this checkout",
        first.holder.pid
    ))
}

/// The evidence tying one listener to this `dev` or this checkout, strongest first.
fn tie(facts: &ProcessFacts, checkout: &Path, dev_pid: u32) -> Option<Evidence> {
    let pid = facts.holder.pid;
    if pid == dev_pid || facts.ancestors.contains(&dev_pid) {
        return Some(Evidence::Descendant { pid });
    }
    if let Some(cwd) = &facts.cwd
        && inside(cwd, checkout)
    {
        return Some(Evidence::WorkingDirectory {
            pid,
            cwd: cwd.clone(),
        });
    }
    for arg in &facts.cmd {
        // `--app-dir=/path` as well as `/path`.
        let value = arg.split_once('=').map_or(arg.as_str(), |(_, v)| v);
        let path = Path::new(value);
        if !path.is_absolute() {
            // Relative paths resolve against the working directory, already looked at.
            continue;
        }
        if inside(path, checkout) {
            return Some(Evidence::CommandLine {
                pid,
                arg: value.to_owned(),
            });
        }
    }
    None
}

/// Lexically inside: `..` never counts, so `/checkout/../elsewhere` is not inside.
fn inside(path: &Path, checkout: &Path) -> bool {
    path.starts_with(checkout)
        && !path
            .components()
            .any(|component| component == Component::ParentDir)
}

/// Who gave a ready answer while `dev` waits for the backend it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answerer {
    /// It carries identity and no other service (`None`: trusted, as the child is
    /// alive), or the listener is tied to this `dev` or checkout.
    Ours(Option<Evidence>),
    /// It names another service: not a backend this config starts.
    WrongService(String),
    /// An outside process answers on the port (the child could not bind it): why.
    Outsider(String),
    /// No listener can be inspected (another user's, a container proxy): nothing tells
    /// them apart.
    Unknown,
}

/// Decides [`Answerer`]: a `service` other than ours settles it; an answer with
/// identity is trusted (the child is alive, the caller watches it); without identity
/// the listeners decide, and are only looked up then (`listeners` costs a socket-table
/// read).
pub fn answerer(
    report: Option<&HealthReport>,
    service: &str,
    listeners: impl FnOnce() -> Vec<ProcessFacts>,
    checkout: &Path,
    dev_pid: u32,
) -> Answerer {
    if let Some(found) = report.and_then(|r| r.service.as_ref())
        && found != service
    {
        return Answerer::WrongService(found.clone());
    }
    if report.is_some_and(HealthReport::has_identity) {
        return Answerer::Ours(None);
    }
    let listeners = listeners();
    if listeners.is_empty() {
        return Answerer::Unknown;
    }
    match by_process(&listeners, checkout, dev_pid) {
        Ownership::Ours(evidence) => Answerer::Ours(Some(evidence)),
        other => Answerer::Outsider(other.describe()),
    }
}

/// "the process listening on the port runs as user nobody (uid 65534), not as user
/// root (uid 0) who runs dev; ...": why another user's listener is never ours.
pub fn other_user(uid: u32) -> String {
    let me = crate::process::effective_uid();
    let name = |uid: u32| match holder::user_name(uid) {
        Some(user) => format!("user {} (uid {uid})", printable(&user)),
        None => format!("uid {uid}"),
    };
    format!(
        "the process listening on the port runs as {}, not as {} who runs dev; anyone can answer health with this checkout's identity",
        name(uid),
        name(me)
    )
}

/// Who is judging: this `dev` process and its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judge {
    pub uid: u32,
    pub pid: u32,
}

impl Judge {
    /// This process.
    pub fn this_process() -> Judge {
        Judge {
            uid: crate::process::effective_uid(),
            pid: std::process::id(),
        }
    }
}

/// Ownership of the backend that gave `report`, on the socket table's evidence
/// (`sockets`) and the answer's. `checkout` is canonical; `descends(child, ancestor)`
/// tells whether a pid descends from another; `facts` reads the listeners' facts, only
/// when the answer does not decide (a process-table read the reuse path need not pay).
///
/// The socket table goes first: another user's listener is never ours. The answer's
/// identity then decides, unless its `pid` is neither a listener nor a listener's
/// descendant (an answer naming some other process): then the listener's own facts
/// decide, as for an answer without identity.
pub fn judge(
    report: &HealthReport,
    service: &str,
    checkout: &Path,
    sockets: &Sockets,
    judge: Judge,
    descends: impl Fn(u32, u32) -> bool,
    facts: impl FnOnce(&[u32]) -> Vec<ProcessFacts>,
) -> Ownership {
    if let Some(uid) = sockets.other_user(judge.uid) {
        return Ownership::OtherUser(uid);
    }
    match by_report(report, service, checkout) {
        Some(Ownership::Ours(_)) => {
            // The quick question first: the answer's pid holds the socket itself.
            if let Some(claimed) = report.pid
                && sockets.held_by(claimed)
            {
                return Ownership::Ours(Evidence::Reported { pid: Some(claimed) });
            }
            let pids = sockets.pids();
            match report.pid {
                Some(claimed)
                    if !pids.is_empty()
                        && !pids.iter().any(|listener| descends(claimed, *listener)) =>
                {
                    socket_wins(claimed, &facts(pids), checkout, judge.pid)
                }
                _ => Ownership::Ours(Evidence::Reported {
                    pid: pids.first().copied(),
                }),
            }
        }
        Some(decided) => decided,
        None => by_process(&facts(sockets.pids()), checkout, judge.pid),
    }
}

/// The answer names this checkout but a pid that does not hold the port: the listeners'
/// own facts decide (`listeners` is not empty).
fn socket_wins(
    claimed: u32,
    listeners: &[ProcessFacts],
    checkout: &Path,
    dev_pid: u32,
) -> Ownership {
    if let Some(evidence) = listeners
        .iter()
        .find_map(|facts| tie(facts, checkout, dev_pid))
    {
        return Ownership::Ours(evidence);
    }
    let Some(first) = listeners.first() else {
        return Ownership::Foreign(format!(
            "its health answer names this checkout, but the pid in it ({claimed}) does not hold the port, and the listener cannot be inspected"
        ));
    };
    let place = first.cwd.as_ref().map_or_else(
        || "an unknown folder".to_owned(),
        |cwd| printable(&cwd.display().to_string()),
    );
    Ownership::Foreign(format!(
        "its health answer names this checkout, but the pid in it ({claimed}) does not hold the port; the listener, pid {}, runs in {place}, outside this checkout",
        first.holder.pid
    ))
}

/// Ownership of the backend answering on `port`: the socket table, its answer, the OS.
pub fn decide(report: &HealthReport, service: &str, workspace: &Path, port: u16) -> Ownership {
    let checkout = workspace
        .canonicalize()
        .unwrap_or_else(|_| workspace.to_path_buf());
    judge(
        report,
        service,
        &checkout,
        &holder::sockets(port),
        Judge::this_process(),
        crate::process::descends_from,
        holder::facts_of,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::holder::Holder;

    fn report(service: Option<&str>, workspace: Option<&str>) -> HealthReport {
        HealthReport::healthy_with(service, workspace)
    }

    #[test]
    fn the_answer_decides_when_it_carries_identity() {
        let here = std::env::current_dir().expect("cwd");
        let here_text = here.display().to_string();
        let cases = [
            (
                report(Some("demo"), Some(&here_text)),
                Some(Ownership::Ours(Evidence::Reported { pid: None })),
            ),
            (
                report(Some("other"), Some(&here_text)),
                Some(Ownership::OtherService("other".into())),
            ),
            (
                report(Some("other"), None),
                Some(Ownership::OtherService("other".into())),
            ),
            (
                report(Some("demo"), Some("/elsewhere")),
                Some(Ownership::OtherCheckout("/elsewhere".into())),
            ),
            (
                report(None, Some("/elsewhere")),
                Some(Ownership::OtherCheckout("/elsewhere".into())),
            ),
            // Nothing said about the checkout: the OS decides.
            (report(Some("demo"), None), None),
            (report(None, None), None),
        ];
        for (report, expected) in cases {
            assert_eq!(by_report(&report, "demo", &here), expected, "{report:?}");
        }
    }

    fn listener(pid: u32, ancestors: &[u32], cwd: &str, cmd: &[&str]) -> ProcessFacts {
        ProcessFacts {
            holder: Holder {
                pid,
                name: "python3".into(),
                cmdline: cmd.join(" "),
                user: None,
                uptime: None,
            },
            ancestors: ancestors.to_vec(),
            cwd: Some(PathBuf::from(cwd)),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn the_os_decides_without_identity() {
        let checkout = Path::new("/src/shop");
        let dev = 100;
        let cases = [
            (
                listener(7, &[50, dev, 1], "/tmp", &["python3", "app.py"]),
                Some(Evidence::Descendant { pid: 7 }),
            ),
            (
                listener(7, &[1], "/src/shop/api", &["uvicorn", "main:app"]),
                Some(Evidence::WorkingDirectory {
                    pid: 7,
                    cwd: "/src/shop/api".into(),
                }),
            ),
            (
                listener(7, &[1], "/", &["python3", "/src/shop/app.py"]),
                Some(Evidence::CommandLine {
                    pid: 7,
                    arg: "/src/shop/app.py".into(),
                }),
            ),
            (
                listener(7, &[1], "/", &["gunicorn", "--chdir=/src/shop", "app"]),
                Some(Evidence::CommandLine {
                    pid: 7,
                    arg: "/src/shop".into(),
                }),
            ),
            (
                listener(7, &[1], "/src/shopping", &["python3", "app.py"]),
                None,
            ),
            (
                listener(7, &[1], "/tmp", &["python3", "/src/shop/../other/app.py"]),
                None,
            ),
            (listener(7, &[1], "/tmp", &["python3", "shop/app.py"]), None),
        ];
        for (facts, expected) in cases {
            let got = by_process(std::slice::from_ref(&facts), checkout, dev);
            match expected {
                Some(evidence) => assert_eq!(got, Ownership::Ours(evidence), "{facts:?}"),
                None => assert!(
                    matches!(&got, Ownership::Foreign(why) if why.contains("pid 7")),
                    "{facts:?} gave {got:?}"
                ),
            }
        }
        assert!(matches!(
            by_process(&[], checkout, dev),
            Ownership::Foreign(why) if why.contains("cannot be inspected")
        ));
    }

    #[test]
    fn the_socket_table_goes_before_the_answer() {
        // A real folder: the answer's `workspace` is compared canonically.
        let here = std::env::current_dir()
            .expect("cwd")
            .canonicalize()
            .expect("canonical cwd");
        let here_text = here.display().to_string();
        let me = Judge {
            uid: 1000,
            pid: 100,
        };
        let naming = |pid| HealthReport {
            pid: Some(pid),
            ..report(Some("demo"), Some(&here_text))
        };
        let outside = listener(7, &[1], "/tmp", &["python3", "app.py"]);
        let inside = listener(7, &[1], &here_text, &["python3", "app.py"]);
        let on = |facts: &ProcessFacts, uid: u32| {
            (
                Sockets::known(vec![uid], vec![facts.holder.pid]),
                facts.clone(),
            )
        };
        // Worker 8 descends from listener 7; 9 is unrelated.
        let descends = |child: u32, ancestor: u32| child == 8 && ancestor == 7;
        let judged = |report: &HealthReport, (sockets, facts): &(Sockets, ProcessFacts)| {
            judge(
                report,
                "demo",
                &here,
                sockets,
                me,
                descends,
                |pids: &[u32]| {
                    assert_eq!(pids, [facts.holder.pid]);
                    vec![facts.clone()]
                },
            )
        };
        let reported = Ownership::Ours(Evidence::Reported { pid: Some(7) });
        assert_eq!(judged(&naming(7), &on(&outside, 1000)), reported);
        assert_eq!(
            judged(&naming(8), &on(&outside, 1000)),
            reported,
            "a worker of the listener"
        );
        assert_eq!(
            judged(&report(Some("demo"), Some(&here_text)), &on(&outside, 1000)),
            reported,
            "no pid in the answer: the listener's"
        );
        // Another user's listener, whatever it answers and wherever it runs.
        assert_eq!(
            judged(&naming(7), &on(&inside, 65534)),
            Ownership::OtherUser(65534)
        );
        // An answer naming a pid that holds no socket: the listener's facts decide.
        assert!(matches!(
            judged(&naming(9), &on(&outside, 1000)),
            Ownership::Foreign(why) if why.contains("the pid in it (9) does not hold the port")
                && why.contains("pid 7")
        ));
        assert_eq!(
            judged(&naming(9), &on(&inside, 1000)),
            Ownership::Ours(Evidence::WorkingDirectory {
                pid: 7,
                cwd: here.clone()
            })
        );
    }

    #[test]
    fn a_ready_answer_while_starting_is_ours_only_on_evidence() {
        let checkout = Path::new("/src/shop");
        let dev = 100;
        let child = || vec![listener(7, &[dev, 1], "/tmp", &["python3", "app.py"])];
        let outsider = || vec![listener(9, &[1], "/tmp", &["python3", "other.py"])];
        let never = || -> Vec<ProcessFacts> { panic!("no lookup needed") };
        let named = report(Some("demo"), Some("/src/shop"));
        let other = report(Some("billing"), None);
        let plain = report(None, None);
        assert_eq!(
            answerer(Some(&named), "demo", never, checkout, dev),
            Answerer::Ours(None)
        );
        assert_eq!(
            answerer(Some(&other), "demo", never, checkout, dev),
            Answerer::WrongService("billing".into())
        );
        assert_eq!(
            answerer(Some(&plain), "demo", child, checkout, dev),
            Answerer::Ours(Some(Evidence::Descendant { pid: 7 }))
        );
        assert_eq!(
            answerer(None, "demo", child, checkout, dev),
            Answerer::Ours(Some(Evidence::Descendant { pid: 7 }))
        );
        assert!(matches!(
            answerer(Some(&plain), "demo", outsider, checkout, dev),
            Answerer::Outsider(why) if why.contains("pid 9")
        ));
        assert_eq!(
            answerer(Some(&plain), "demo", Vec::new, checkout, dev),
            Answerer::Unknown
        );
    }
}
