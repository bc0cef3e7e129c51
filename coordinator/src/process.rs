//! Starting and stopping the processes `dev` owns: the only module that spawns
//! long-running processes for `dev` (others run short commands to completion).
//!
//! Each child runs in its own process group (via `process-wrap`), so that stopping it
//! reaches every grandchild too (uvicorn workers, `npm` children); on Linux it also gets
//! a parent-death signal, so that it dies even if the coordinator is killed outright.
//! Because children no longer share the terminal's process group, a Ctrl-C reaches only
//! the coordinator, which forwards it by stopping each group ([`Running::stop`]).
//!
//! Frank note on pid reuse: a group is addressed by its leader's pid. The kernel does
//! not hand out a pid that is still in use as a process-group id, so signalling the
//! group is safe while any member lives; once all are gone `killpg` fails with `ESRCH`,
//! which is how [`Running::stop`] knows the tree is gone.

#[cfg(unix)]
#[path = "process/unix.rs"]
mod os;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{ChildWrapper, CommandWrap, ProcessGroup};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::time::{Instant, sleep};
use tracing::Instrument;

mod detached;

pub use detached::{Detached, spawn_detached};
pub use os::{Entry, ProcessInfo, stop_self};

use crate::runlog::{Origin, RunLog};
use crate::text::Tail;

pub use crate::text::TAIL_LINES;

/// What to start.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub origin: Origin,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// Added to (and overriding) the coordinator's own environment.
    pub env: Vec<(String, String)>,
    /// Give it the terminal: stdin, and the terminal's foreground group while it runs
    /// (so it can read input and gets Ctrl-C itself). Only when `dev` owns the terminal.
    pub foreground: bool,
    /// A line of its output (either stream) that [`Running::line_seen`] waits for.
    pub ready_line: Option<regex::Regex>,
}

/// A process group that `dev` started and therefore must stop.
#[derive(Debug)]
pub struct Running {
    origin: Origin,
    pid: u32,
    child: Box<dyn ChildWrapper>,
    status: Option<ExitStatus>,
    stderr_tail: Arc<Mutex<Tail>>,
    bind_conflict: Arc<AtomicBool>,
    /// The tasks copying stdout and stderr, to wait for their last lines.
    pumps: Vec<tokio::task::JoinHandle<()>>,
    stopped: bool,
    /// It has the terminal: take it back when it ends.
    foreground: bool,
    /// Set once a line matched [`ProcessSpec::ready_line`].
    seen: Arc<tokio::sync::watch::Sender<bool>>,
}

/// How a stop went.
#[derive(Debug, Clone)]
pub struct StopReport {
    pub origin: Origin,
    pub pid: u32,
    /// Processes still alive after the grace period (or when a second signal asked to
    /// hurry), which were then killed.
    pub killed: Vec<ProcessInfo>,
    /// A second signal cut the grace period short.
    pub hurried: bool,
}

impl StopReport {
    /// Logs the processes the stop had to kill, by pid and command line.
    pub fn log(&self, log: &RunLog) {
        let when = if self.hurried {
            "when the second signal came"
        } else {
            "after the grace period"
        };
        for info in &self.killed {
            log.warn(&info.said(&format!("was still running {when} and was killed")));
        }
    }
}

/// Spawns `spec` in a new process group, streaming its output into `log`.
pub fn spawn(spec: &ProcessSpec, log: &RunLog) -> std::io::Result<Running> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let foreground = spec.foreground && os::owns_terminal();
    tracing::debug!(
        "spawning {:?} in {} (own process group{})",
        spec.argv,
        spec.cwd.display(),
        if foreground {
            ", with the terminal"
        } else {
            ""
        }
    );
    // Its argv[0] stays the name it was given (`ps` and the run record show `sh -c ..`).
    let name = program;
    let program = crate::which::to_exec(program, &spec.cwd, &spec.env);
    let mut wrap = CommandWrap::with_new(program, |cmd| {
        cmd.arg0(name)
            .args(args)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(if foreground {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        os::prepare_child(cmd, foreground);
    });
    wrap.wrap(ProcessGroup::leader());
    let mut child = wrap.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the child was reaped before its pid was read"))?;
    if let Ok(mut leaders) = LEADERS.lock() {
        leaders.insert(pid);
    }
    if foreground {
        os::give_terminal(pid);
    }
    let stderr_tail = Arc::new(Mutex::new(Tail::default()));
    let bind_conflict = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(tokio::sync::watch::Sender::new(false));
    let watch_for = spec
        .ready_line
        .clone()
        .map(|regex| (regex, Arc::clone(&seen)));
    let mut pumps = Vec::new();
    if let Some(stdout) = child.stdout().take() {
        let evidence = Evidence {
            tail: None,
            bind_conflict: None,
            watch_for: watch_for.clone(),
        };
        pumps.push(tokio::spawn(
            pump(stdout, spec.origin, false, log.clone(), evidence).in_current_span(),
        ));
    }
    if let Some(stderr) = child.stderr().take() {
        let evidence = Evidence {
            tail: Some(Arc::clone(&stderr_tail)),
            bind_conflict: Some(Arc::clone(&bind_conflict)),
            watch_for,
        };
        pumps.push(tokio::spawn(
            pump(stderr, spec.origin, true, log.clone(), evidence).in_current_span(),
        ));
    }
    Ok(Running {
        origin: spec.origin,
        pid,
        child,
        status: None,
        stderr_tail,
        bind_conflict,
        pumps,
        stopped: false,
        foreground,
        seen,
    })
}

struct Evidence {
    tail: Option<Arc<Mutex<Tail>>>,
    bind_conflict: Option<Arc<AtomicBool>>,
    /// The line waited for, and where to say it came.
    watch_for: Option<(regex::Regex, Arc<tokio::sync::watch::Sender<bool>>)>,
}

/// Copies a child's output, line by line, to the terminal and the log file.
async fn pump(
    stream: impl AsyncRead + Unpin,
    origin: Origin,
    is_stderr: bool,
    log: RunLog,
    evidence: Evidence,
) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // A line is written whole when it ends (or at the cap, or at the end of the
        // stream): a progress bar's `\r` updates never split it or meet another line.
        let mut limited = (&mut reader).take(crate::runlog::MAX_LINE as u64);
        match limited.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = log.child_line(origin, &buf, is_stderr);
        let line = line.as_str();
        if let Some(flag) = &evidence.bind_conflict
            && crate::text::is_bind_conflict(line)
        {
            flag.store(true, Ordering::Relaxed);
        }
        if let Some(Ok(mut tail)) = evidence.tail.as_ref().map(|tail| tail.lock()) {
            tail.push(line);
        }
        if let Some((regex, seen)) = &evidence.watch_for
            && regex.is_match(line)
        {
            seen.send_replace(true);
        }
    }
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Waits until a line of its output matched [`ProcessSpec::ready_line`] (forever
    /// without one). Cancel-safe.
    pub fn line_seen(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut seen = self.seen.subscribe();
        async move {
            if seen.wait_for(|seen| *seen).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Waits for the group's leader to exit. Cancel-safe: it can lose a `select!`.
    pub async fn wait(&mut self) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let status = match self.child.wait().await {
            Ok(status) => status,
            // Waiting only fails when the child was already reaped elsewhere, which this
            // module never does; report it as a failure rather than hang.
            Err(_) => os::failed_status(),
        };
        self.status = Some(status);
        self.release_terminal();
        status
    }

    /// Whether it was given the terminal.
    pub fn has_terminal(&self) -> bool {
        self.foreground
    }

    fn release_terminal(&self) {
        if self.foreground {
            os::take_terminal_back();
        }
    }

    /// The leader's exit status, if it has exited (without waiting).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits (at most `within`) for the output copied so far to reach its end: a process
    /// can exit before its last lines are read, and those are the evidence. A grandchild
    /// that escaped the group could hold the pipes open forever, hence the bound.
    pub async fn drain_output(&mut self, within: Duration) {
        let pumps = std::mem::take(&mut self.pumps);
        let _ = tokio::time::timeout(within, async {
            for pump in pumps {
                let _ = pump.await;
            }
        })
        .await;
    }

    /// The last [`TAIL_LINES`] lines of stderr.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr_tail
            .lock()
            .map(|tail| tail.lines())
            .unwrap_or_default()
    }

    /// Whether the child said "address already in use".
    pub fn saw_bind_conflict(&self) -> bool {
        self.bind_conflict.load(Ordering::Relaxed)
    }

    /// Stops the whole group: SIGTERM, up to `grace` for every member to exit (or until
    /// `hurry` resolves: a second Ctrl-C), then SIGKILL for whatever is left, naming it.
    pub async fn stop(&mut self, grace: Duration, hurry: impl Future<Output = ()>) -> StopReport {
        self.stopped = true;
        let hurried = std::cell::Cell::new(false);
        let hurry = async {
            hurry.await;
            hurried.set(true);
        };
        let killed = terminate(&[Target::Group(self.pid)], grace, hurry, || {
            self.try_status();
        })
        .await;
        self.forget();
        self.release_terminal();
        StopReport {
            origin: self.origin,
            pid: self.pid,
            killed,
            hurried: hurried.get(),
        }
    }

    /// The one stop sequence for a process `dev` started and what it left behind: its
    /// group, then the processes it left outside the group (as [`Running::left_behind`]
    /// lists them when the stop begins), each SIGTERM, up to `grace`, SIGKILL; a `hurry`
    /// (a second signal) kills at once, the leftovers too. Then its last output is
    /// copied, for up to `drain` (not after a hurry). What had to be killed is logged.
    pub async fn stop_with_leftovers(
        &mut self,
        grace: Duration,
        hurry: impl Future<Output = ()>,
        drain: Duration,
        log: &RunLog,
    ) -> StopReport {
        let left = self.left_behind();
        let hurried = std::cell::Cell::new(false);
        let hurry = async {
            hurry.await;
            hurried.set(true);
        };
        tokio::pin!(hurry);
        let mut report = self.stop(grace, hurry.as_mut()).await;
        report.log(log);
        let targets: Vec<Target> = left
            .iter()
            .filter_map(|info| Target::process(info.pid))
            .collect();
        if report.hurried {
            terminate(&targets, grace, std::future::ready(()), || {}).await;
            return report;
        }
        if !targets.is_empty() {
            terminate(&targets, grace, hurry.as_mut(), || {}).await;
        }
        report.hurried = hurried.get();
        if !report.hurried {
            self.drain_output(drain).await;
        }
        report
    }

    /// Processes this group left behind when its leader exited: members of the group
    /// (a double fork without `setsid`) and, because `dev` is the child subreaper, the
    /// descendants that escaped into a session of their own.
    pub fn left_behind(&self) -> Vec<ProcessInfo> {
        let me = std::process::id();
        let table = os::table();
        let mut left: Vec<u32> = table
            .iter()
            .filter(|e| !e.zombie && e.pid != self.pid)
            .filter(|e| e.pgid == self.pid || (e.ppid == me && !is_leader(e.pid)))
            .filter(|e| !is_guardian(e.pid))
            .map(|e| e.pid)
            .collect();
        left.sort_unstable();
        left.into_iter().map(os::info).collect()
    }

    fn forget(&self) {
        if let Ok(mut leaders) = LEADERS.lock() {
            leaders.remove(&self.pid);
        }
    }
}

/// Something to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A process group this process started (addressed by its leader's pid).
    Group(u32),
    /// One process, by pid and start time: a pid number alone may have been reused by an
    /// unrelated program, so a process whose start time differs is never signalled.
    Process { pid: u32, start_time: u64 },
}

impl Target {
    /// `pid` as it is now (with its current start time), if it exists.
    pub fn process(pid: u32) -> Option<Target> {
        os::start_time(pid).map(|start_time| Target::Process { pid, start_time })
    }

    fn alive(self) -> bool {
        match self {
            Target::Group(pgid) => !os::group_gone(pgid),
            Target::Process { pid, start_time } => {
                os::pid_exists(pid) && os::start_time(pid) == Some(start_time)
            }
        }
    }

    fn signal(self, signal: os::Signal) {
        match self {
            Target::Group(pgid) => os::signal_group(pgid, signal),
            // Checked right before the signal: the window for a reuse is microseconds,
            // against the seconds or days of a check made when the pid was recorded.
            Target::Process { .. } if !self.alive() => {}
            Target::Process { pid, .. } => os::signal_pid(pid, signal),
        }
    }

    fn members(self) -> Vec<ProcessInfo> {
        match self {
            Target::Group(pgid) => os::group_members(pgid),
            Target::Process { pid, .. } if self.alive() => vec![os::info(pid)],
            Target::Process { .. } => Vec::new(),
        }
    }
}

/// The one way anything is stopped: SIGTERM to every target, up to `grace` for all of
/// them to be gone (or until `hurry` resolves: a second Ctrl-C), then SIGKILL for what is
/// left. Returns what had to be killed. `tick` runs at every poll (to reap a leader).
pub async fn terminate(
    targets: &[Target],
    grace: Duration,
    hurry: impl Future<Output = ()>,
    mut tick: impl FnMut(),
) -> Vec<ProcessInfo> {
    let mut gone = || {
        tick();
        reap_adopted();
        targets.iter().all(|target| !target.alive())
    };
    for target in targets {
        target.signal(os::Signal::Terminate);
        target.signal(os::Signal::Continue);
    }
    let deadline = Instant::now() + grace;
    tokio::pin!(hurry);
    loop {
        if gone() {
            return Vec::new();
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::select! {
            () = sleep(Duration::from_millis(10)) => {}
            () = &mut hurry => break,
        }
    }
    let killed: Vec<ProcessInfo> = targets.iter().flat_map(|t| t.members()).collect();
    for target in targets {
        target.signal(os::Signal::Kill);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && !gone() {
        sleep(Duration::from_millis(5)).await;
    }
    killed
}

/// Stops every process descended from this one that is still running: what escaped the
/// groups `dev` stopped (a daemon that double-forked into its own session comes back to
/// `dev` as the child subreaper). Returns what had to be killed.
pub async fn stop_descendants(
    grace: Duration,
    hurry: impl Future<Output = ()>,
) -> Vec<ProcessInfo> {
    let mut killed = Vec::new();
    // After a hurry (a second Ctrl-C), the later rounds kill at once; a finished future
    // is never polled again.
    let hurried = std::cell::Cell::new(false);
    let hurry = async {
        hurry.await;
        hurried.set(true);
    };
    tokio::pin!(hurry);
    // New processes can appear while the first ones stop: look again, a few times.
    for _ in 0..3 {
        let targets: Vec<Target> = descendants(std::process::id())
            .into_iter()
            .map(|e| Target::Process {
                pid: e.pid,
                start_time: e.start_time,
            })
            .collect();
        if targets.is_empty() {
            break;
        }
        let (grace, round_hurry) = if hurried.get() {
            (Duration::ZERO, None)
        } else {
            (grace, Some(&mut hurry))
        };
        let round_hurry = async {
            match round_hurry {
                Some(hurry) => hurry.await,
                None => std::future::pending().await,
            }
        };
        killed.extend(terminate(&targets, grace, round_hurry, || {}).await);
    }
    killed
}

/// The live processes below `root` in the process tree, without this run's guardian
/// (which must outlive the rest: see [`spawn_guardian`]).
pub fn descendants(root: u32) -> Vec<Entry> {
    let table = os::table();
    let mut found: Vec<Entry> = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for entry in table
            .iter()
            .filter(|e| e.ppid == parent && !e.zombie && !is_guardian(e.pid))
        {
            if !found.iter().any(|f| f.pid == entry.pid) {
                found.push(*entry);
                frontier.push(entry.pid);
            }
        }
    }
    found
}

/// Whether `pid` leads a group this process spawned (its exit is collected by its
/// `Running`, never by [`reap_adopted`]).
fn is_leader(pid: u32) -> bool {
    LEADERS.lock().is_ok_and(|leaders| leaders.contains(&pid))
}

/// The group leaders spawned and not yet stopped.
static LEADERS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// The pid of this run's guardian (0: none), which no stop of `dev`'s own may reach.
static GUARDIAN: AtomicU32 = AtomicU32::new(0);

/// Whether `pid` is this run's guardian.
fn is_guardian(pid: u32) -> bool {
    pid != 0 && GUARDIAN.load(Ordering::Relaxed) == pid
}

/// Starts the guardian (`argv`, run in `cwd`): the one process `dev` starts that must
/// outlive it, to stop what `dev` started if `dev` is killed outright. So, unlike every
/// other child, it gets a session (and process group) of its own, which a signal to
/// `dev`'s group or the terminal's hang-up never reaches; no parent-death signal; the
/// termination signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) ignored, so that a signal
/// sent to every process at once (`systemd` ending a scope, `docker stop`) leaves it to
/// `dev` to stop cleanly and to the guardian to finish if `dev` cannot; `stdin` (the
/// pipe whose other end only `dev` holds) as its only link to `dev`; and no terminal,
/// no output pipes and no other descriptor of `dev`'s (everything `dev` opens is
/// close-on-exec), so it holds no port, lock or pipe of anyone's. [`descendants`] and
/// [`Running::left_behind`] never name it, so `dev`'s own stops leave it alone.
///
/// `program` is what is executed, `arg0` what `ps` shows.
pub fn spawn_guardian(
    program: &std::path::Path,
    arg0: &std::ffi::OsStr,
    args: &[std::ffi::OsString],
    cwd: &std::path::Path,
    stdin: std::io::PipeReader,
) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(program);
    command
        .arg0(arg0)
        .args(args)
        .current_dir(cwd)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    os::prepare_guardian(&mut command);
    let child = command.spawn()?;
    GUARDIAN.store(child.id(), Ordering::Relaxed);
    Ok(child)
}

/// Reaps the exited orphans that were re-parented to us (we are the child subreaper):
/// nobody else will, and a zombie member keeps its group "alive" for `killpg`. Only
/// processes outside our own group that we did not spawn ourselves are touched, so a
/// short command's exit (in our group) or a leader's (waited for by its `Running`) is
/// never taken from its owner.
pub fn reap_adopted() {
    let me = std::process::id();
    let own_group = nix::unistd::getpgrp().as_raw() as u32;
    for entry in os::table() {
        if entry.zombie && entry.ppid == me && entry.pgid != own_group && !is_leader(entry.pid) {
            os::reap(entry.pid);
        }
    }
}

/// Blocks the signals a terminal sends to background groups, for this thread and the
/// threads it starts: call it first thing, before any thread exists.
pub fn hold_terminal_signals() {
    os::hold_terminal_signals();
}

/// Makes this process the child subreaper (Linux), so that descendants that escape
/// their group are re-parented to it and can be stopped. Returns whether it worked.
pub fn become_subreaper() -> bool {
    os::become_subreaper()
}

/// Every process this user can see, with parent, group and start time (Linux).
pub fn table() -> Vec<Entry> {
    os::table()
}

/// The effective uid of `dev`: a socket or process of another uid is another user's.
pub fn effective_uid() -> u32 {
    os::effective_uid()
}

/// Whether `pid` is `ancestor` or one of its descendants (walking up the parents).
pub fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut current = pid;
    for _ in 0..64 {
        if current == ancestor {
            return true;
        }
        match os::table_entry(current) {
            Some(entry) if entry.ppid != 0 && entry.ppid != current => current = entry.ppid,
            _ => return false,
        }
    }
    false
}

/// The start time of `pid` (clock ticks after boot), if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    os::start_time(pid)
}

/// Name and command line of `pid`.
pub fn info(pid: u32) -> ProcessInfo {
    os::info(pid)
}

impl Drop for Running {
    /// A last line of defence for early returns and panics: whatever was not stopped
    /// politely is killed, group and all.
    fn drop(&mut self) {
        if !self.stopped {
            os::signal_group(self.pid, os::Signal::Kill);
        }
        self.forget();
        self.release_terminal();
    }
}

/// Stops one process that `dev` did not start, by pid alone (its group is not ours to
/// signal): SIGTERM, up to `grace`, then SIGKILL. Only after the user confirmed it.
/// Returns whether the pid is gone.
pub async fn stop_pid(pid: u32, grace: Duration, hurry: impl Future<Output = ()>) -> bool {
    let Some(target) = Target::process(pid) else {
        return true;
    };
    terminate(&[target], grace, hurry, || {}).await;
    !target.alive()
}

/// Asks one process to stop as a Ctrl-C does: SIGTERM, and nothing after it (`cargo
/// xtask stop` to a live run's `dev`, which then stops what it started). A target whose
/// start time no longer matches is not signalled. Returns whether it was there to ask.
pub fn ask_to_stop(target: Target) -> bool {
    if !target.alive() {
        return false;
    }
    target.signal(os::Signal::Terminate);
    true
}

/// Whether `pid` runs this same program (so a run record naming it names a `dev`).
pub fn runs_this_program(pid: u32) -> bool {
    os::runs_this_program(pid)
}

/// True while `pid` exists and has not exited (a zombie counts as gone).
pub fn pid_exists(pid: u32) -> bool {
    os::pid_exists(pid)
}

/// A process's exit as people read it: `exit code 3` or `signal 9 (SIGKILL)`.
pub fn describe_status(status: ExitStatus) -> String {
    os::describe_status(status)
}

/// Whether the process was ended by SIGINT (a Ctrl-C on its terminal).
pub fn is_interrupt(status: ExitStatus) -> bool {
    os::exit_code(status) == 128 + 2 && status.code().is_none()
}

/// The code `dev` exits with when it passes a child's status through: the code, or
/// 128 + the signal number as shells do.
pub fn exit_code(status: ExitStatus) -> i32 {
    os::exit_code(status)
}

/// "pid 42 (`python3 app.py`)", for processes in a message.
pub fn named(processes: &[ProcessInfo]) -> String {
    processes
        .iter()
        .map(|p| {
            let what = if p.cmdline.is_empty() {
                &p.name
            } else {
                &p.cmdline
            };
            format!("pid {} (`{what}`)", p.pid)
        })
        .collect::<Vec<_>>()
        .join(", ")
}
