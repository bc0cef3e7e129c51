//! The record of the live `dev` runs of a checkout: one file per run in `.dev/runs/`.
//!
//! A run writes its record when it starts and removes it on every clean exit. The
//! record says which `dev` process it is (pid and start time, so that a reused pid is
//! never mistaken for it), its correlation ID and ports, the process groups and escaped
//! descendants it started, whose backend it uses, and the change it made to the
//! frontend config. Everything that spans runs reads it:
//!
//! - a later run finds the leftovers of a run that was killed outright and stops them,
//!   signalling only what the record proves was that run's;
//! - a second run names the first run whose backend it reuses, and takes over when that
//!   run stops;
//! - the frontend config ends as it was before the first of several overlapping runs
//!   started, whatever order they stop in (see [`crate::dev`]'s guard);
//! - `doctor` lists the live runs and flags the leftovers of dead ones.
//!
//! Every read-modify-write of the folder happens under one lock file, so two runs that
//! start or stop at the same moment see each other's records whole.
//!
//! A record is a file anyone who can write the checkout could have planted or left from
//! before a reboot, so it is checked before it is believed: its name and its
//! `correlation_id` must be one ID of dev's own shape (never a path); its `boot_id`
//! must be this boot's (pids and start times mean nothing across a reboot, so a record
//! of another boot is never live and proves no process its own); a file that is not
//! such a record is moved aside into `unreadable/`, never read again and never deleted.
//! What a record says about the frontend config is checked where it is used
//! (`dev::this_run`): the file must be this checkout's frontend config, and a write may
//! change only the values dev writes.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::process::{self, ProcessInfo, Target};

/// The folder of run records, relative to the checkout.
pub const DIR: &str = ".dev/runs";

/// A process a run started, named for good: pid plus start time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// `backend`, `frontend`, `command` (`dev -- <cmd>`), or `escaped` for a descendant
    /// that left its group.
    pub role: String,
    pub pid: u32,
    pub start_time: u64,
    /// Whether `pid` leads a process group of its own (every member is the run's).
    pub group: bool,
    pub cmdline: String,
}

/// Whose backend a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BackendUse {
    /// Not settled yet.
    None,
    /// The run started it (its pid is among `started`).
    Owned { pid: u32 },
    /// Someone else's: another run's (by correlation ID), or one started by hand.
    Reused {
        pid: Option<u32>,
        run: Option<String>,
    },
}

/// A change to the frontend config that a run depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    pub path: PathBuf,
    /// The file before the first of the overlapping runs changed it: what the last run
    /// to stop puts back.
    pub original: Vec<u8>,
    /// What the file holds while this run needs it.
    pub written: Vec<u8>,
    /// The file did not exist before the first run: it is removed rather than emptied.
    #[serde(default)]
    pub created: bool,
}

/// Where a live run is, for `status` and `wait` (a record without one is `starting`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Not up yet: syncing, settling ports, starting processes.
    #[default]
    Starting,
    /// The summary was said: every process is ready.
    Up,
    /// The run failed and is stopping what it started (the record goes with it).
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Starting => "starting",
            RunState::Up => "up",
            RunState::Failed => "failed",
        }
    }
}

pub use crate::events::Shown;

/// One run's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub correlation_id: String,
    /// The kernel's boot ID when the run started (`None`: from a platform without one,
    /// or from a dev before boot IDs were recorded, which is treated as another boot).
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The `dev` process, and its start time.
    pub pid: u32,
    pub start_time: u64,
    /// Wall-clock start, for uptimes.
    pub started_unix_ms: u64,
    pub backend_port: Option<u16>,
    pub frontend_port: Option<u16>,
    pub backend: BackendUse,
    pub started: Vec<Started>,
    pub frontend_config: Option<ConfigChange>,
    pub log_file: Option<PathBuf>,
    #[serde(default)]
    pub state: RunState,
    /// While starting: what the run waits for now (`wait` says it on a timeout).
    #[serde(default)]
    pub waiting_for: Option<String>,
    /// Once up: the summary's processes.
    #[serde(default)]
    pub processes: Vec<Shown>,
    /// Once failed: the failure report as people read it.
    #[serde(default)]
    pub failure: Option<String>,
}

impl Record {
    /// A record for this process.
    pub fn new(correlation_id: &str, log_file: Option<&Path>) -> Record {
        let pid = std::process::id();
        Record {
            correlation_id: correlation_id.to_owned(),
            boot_id: boot_id().map(str::to_owned),
            pid,
            start_time: process::start_time(pid).unwrap_or_default(),
            started_unix_ms: unix_ms(),
            backend_port: None,
            frontend_port: None,
            backend: BackendUse::None,
            started: Vec::new(),
            frontend_config: None,
            log_file: log_file.map(Path::to_path_buf),
            state: RunState::Starting,
            waiting_for: None,
            processes: Vec::new(),
            failure: None,
        }
    }

    /// Whether the `dev` process of this record still runs (this boot, same pid, same
    /// start time).
    pub fn is_live(&self) -> bool {
        self.is_this_boot()
            && process::pid_exists(self.pid)
            && process::start_time(self.pid) == Some(self.start_time)
    }

    /// Whether the record was written since the machine last booted. Only then do its
    /// pids and start times name processes: after a reboot the same numbers name
    /// whatever the new boot gave them to.
    pub fn is_this_boot(&self) -> bool {
        same_boot(boot_id(), self.boot_id.as_deref())
    }

    /// How long ago the run started.
    pub fn uptime(&self) -> Duration {
        Duration::from_millis(unix_ms().saturating_sub(self.started_unix_ms))
    }

    /// The backend pid if this run owns its backend.
    pub fn owned_backend(&self) -> Option<u32> {
        match self.backend {
            BackendUse::Owned { pid } => Some(pid),
            _ => None,
        }
    }

    /// Whether this run started the backend that serves `port`.
    pub fn owns_backend_on(&self, port: u16) -> bool {
        self.owned_backend().is_some() && self.backend_port == Some(port)
    }

    /// What of this (dead) run is still running, each as the target that stops it.
    /// Only what the record proves is the run's: a recorded process with the same start
    /// time, or a member of a recorded group whose leader is gone (the kernel never hands
    /// out a pid that is still in use as a group id) or is the recorded leader, started
    /// after the run itself.
    pub fn leftovers(&self) -> Vec<(Target, ProcessInfo)> {
        if !self.is_this_boot() {
            return Vec::new();
        }
        let table = process::table();
        let mut found: Vec<(Target, ProcessInfo)> = Vec::new();
        let mut add = |target: Target, pid: u32| {
            if !found.iter().any(|(_, info)| info.pid == pid) {
                found.push((target, process::info(pid)));
            }
        };
        for started in &self.started {
            let leader_now = table.iter().find(|e| e.pid == started.pid);
            let leader_is_ours = leader_now.is_some_and(|e| e.start_time == started.start_time);
            if let Some(leader) = leader_now.filter(|_| leader_is_ours)
                && !leader.zombie
            {
                let target = Target::Process {
                    pid: leader.pid,
                    start_time: leader.start_time,
                };
                add(target, leader.pid);
            }
            // A group id whose leader pid now names another program was re-created by
            // someone else: not ours.
            if !started.group || (leader_now.is_some() && !leader_is_ours) {
                continue;
            }
            for member in table.iter().filter(|e| {
                e.pgid == started.pid
                    && e.pid != started.pid
                    && !e.zombie
                    && e.start_time >= self.start_time
            }) {
                let target = Target::Process {
                    pid: member.pid,
                    start_time: member.start_time,
                };
                add(target, member.pid);
            }
        }
        found
    }
}

/// The runs folder of a checkout.
#[derive(Debug, Clone)]
pub struct Runs {
    dir: PathBuf,
    /// The run using it (`None`: a look from `doctor` or `port`), written into a lock
    /// file it takes so that a run waiting for it can say whom it waits for.
    me: Option<String>,
}

/// Held while the folder is read or changed; released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// The two lock files of the folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `.lock`: every short read-modify-write of the records.
    Records,
    /// `.start.lock`: held by a starting run until its frontend serves.
    Start,
}

impl Which {
    fn file_name(self) -> &'static str {
        match self {
            Which::Records => ".lock",
            Which::Start => ".start.lock",
        }
    }
}

/// Who holds a lock, as its holder wrote it into the lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub correlation_id: String,
    pub pid: u32,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dev run {} (pid {})", self.correlation_id, self.pid)
    }
}

/// How long [`Runs::lock`] waits for another run's critical section, which never reads
/// anything that can block (see [`crate::user_file`]): only a stopped (`SIGSTOP`) or
/// hung holder keeps it longer, and then the caller goes on without the lock.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(10);

impl Runs {
    pub fn of(root: &Path) -> Runs {
        Runs {
            dir: root.join(DIR),
            me: None,
        }
    }

    /// The folder as run `correlation_id` uses it.
    pub fn of_run(root: &Path, correlation_id: &str) -> Runs {
        Runs {
            me: Some(correlation_id.to_owned()),
            ..Runs::of(root)
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the folder's lock, waiting at most [`LOCK_PATIENCE`] for another run's
    /// short critical section; the error then names the holder. A run that can wait
    /// longer and must answer Ctrl-C meanwhile polls [`Runs::try_lock`] instead.
    pub fn lock(&self) -> std::io::Result<Lock> {
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        loop {
            match self.try_lock(Which::Records)? {
                Ok(file) => return Ok(Lock { _file: file }),
                Err(holder) if std::time::Instant::now() >= deadline => {
                    let who =
                        holder.map_or_else(|| "another dev run".to_owned(), |h| h.to_string());
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{who} has held {DIR}/.lock for over {}s",
                            LOCK_PATIENCE.as_secs()
                        ),
                    ));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// The records lock as a token, from a file [`Runs::try_lock`] returned.
    pub fn records_lock(file: File) -> Lock {
        Lock { _file: file }
    }

    /// Takes a lock file without waiting: the locked file (with this run written into
    /// it), or who holds it (`None` when it does not say).
    pub fn try_lock(&self, which: Which) -> std::io::Result<Result<File, Option<Holder>>> {
        use std::io::Write;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.dir.join(which.file_name());
        let mut file = crate::user_file::open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Err(holder_of(&path))),
            Err(std::fs::TryLockError::Error(err)) => return Err(err),
        }
        if let Some(me) = &self.me {
            // Best effort: a waiter that cannot read it says "another dev run".
            let _ = file
                .set_len(0)
                .and_then(|()| writeln!(file, "{me} {}", std::process::id()));
        }
        Ok(Ok(file))
    }

    /// The file of a record. Only ever called with an ID of dev's own shape, so the
    /// name cannot leave the folder.
    fn path_of(&self, correlation_id: &str) -> Option<PathBuf> {
        crate::runlog::is_correlation_id(correlation_id)
            .then(|| self.dir.join(format!("{correlation_id}.json")))
    }

    /// Every valid record, oldest first; what is not one is skipped.
    pub fn list(&self, _lock: &Lock) -> Vec<Record> {
        self.read_all()
    }

    /// [`Runs::list`], moving every `*.json` file that is not a valid record into
    /// `unreadable/` (a record is written atomically, so a truncated, empty or garbage
    /// one was never written whole by dev): returns the records and the files moved,
    /// as they are now named, for the caller to name in a warning.
    pub fn list_and_set_aside(&self, _lock: &Lock) -> (Vec<Record>, Vec<PathBuf>) {
        let (records, bad) = self.scan();
        let moved = bad.iter().filter_map(|path| self.set_aside(path)).collect();
        (records, moved)
    }

    /// [`Runs::list`] without the lock, for a look that changes nothing (`doctor`).
    pub fn read_all(&self) -> Vec<Record> {
        self.scan().0
    }

    /// The valid records, oldest first, and the `*.json` files that are not one.
    fn scan(&self) -> (Vec<Record>, Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return (Vec::new(), Vec::new());
        };
        let mut records = Vec::new();
        let mut bad = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            match read_record(&path) {
                Some(record) => records.push(record),
                None => bad.push(path),
            }
        }
        records.sort_by_key(|r: &Record| (r.started_unix_ms, r.correlation_id.clone()));
        (records, bad)
    }

    /// Moves a file that is not a record into `unreadable/` under a name not taken yet.
    fn set_aside(&self, path: &Path) -> Option<PathBuf> {
        let folder = self.dir.join("unreadable");
        std::fs::create_dir_all(&folder).ok()?;
        let name = path.file_name()?.to_string_lossy().into_owned();
        let free = (0..100u32)
            .map(|n| match n {
                0 => folder.join(&name),
                n => folder.join(format!("{name}.{n}")),
            })
            .find(|candidate| std::fs::symlink_metadata(candidate).is_err())?;
        std::fs::rename(path, &free).ok()?;
        Some(free)
    }

    /// The live run whose own backend is on `port` (held by one of `holders`), if any:
    /// "who holds it" is then "this checkout's dev run", not a stranger.
    pub fn backend_owner(&self, port: u16, holders: &[u32]) -> Option<Record> {
        self.read_all()
            .into_iter()
            .filter(Record::is_live)
            .find(|run| {
                run.owns_backend_on(port)
                    && run.owned_backend().is_some_and(|pid| {
                        holders
                            .iter()
                            .any(|holder| crate::process::descends_from(*holder, pid))
                    })
            })
    }

    /// Writes (or replaces) a record atomically.
    pub fn save(&self, record: &Record, _lock: &Lock) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(record).map_err(std::io::Error::other)?;
        let path = self.path_of(&record.correlation_id).ok_or_else(|| {
            std::io::Error::other(format!(
                "{:?} is not a correlation ID",
                record.correlation_id
            ))
        })?;
        crate::atomic::write_volatile(&path, &bytes)
    }

    /// Removes the record of `correlation_id` (an ID of any other shape names no record).
    pub fn remove(&self, correlation_id: &str, _lock: &Lock) {
        if let Some(path) = self.path_of(correlation_id) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The holder a lock file names (`<correlation ID> <pid>`), if it names one.
fn holder_of(path: &Path) -> Option<Holder> {
    let text = crate::user_file::read_to_string(path).ok()?;
    let (id, pid) = text.trim().split_once(' ')?;
    let holder = Holder {
        correlation_id: id.to_owned(),
        pid: pid.parse().ok()?,
    };
    crate::runlog::is_correlation_id(id).then_some(holder)
}

/// The record in `path`, if it is one: a regular file named `<correlation ID>.json`
/// holding a record of that ID.
fn read_record(path: &Path) -> Option<Record> {
    let stem = path.file_stem()?.to_str()?;
    if !crate::runlog::is_correlation_id(stem) {
        return None;
    }
    let bytes = crate::user_file::read(path).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    (record.correlation_id == stem).then_some(record)
}

/// This boot's ID (`/proc/sys/kernel/random/boot_id`), read once; `None` where the
/// platform has none.
pub fn boot_id() -> Option<&'static str> {
    static BOOT_ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    BOOT_ID
        .get_or_init(|| {
            let text =
                crate::user_file::read_to_string(Path::new("/proc/sys/kernel/random/boot_id"))
                    .ok()?;
            Some(text.trim().to_owned()).filter(|id| !id.is_empty())
        })
        .as_deref()
}

/// Whether a record of boot `then` is of boot `now`. Where the platform has no boot ID
/// (`now` is `None`), pid and start time are all there is; where it has one, a record
/// without one is from another boot, or from a dev too old to say.
fn same_boot(now: Option<&str>, then: Option<&str>) -> bool {
    match (now, then) {
        (None, _) => true,
        (Some(now), then) => then == Some(now),
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the frontend config should hold when a run that depended on `change` goes
/// away, given the changes of the runs still live on the same file (oldest first) and
/// what the file holds now. `None`: leave it as it is.
///
/// - It holds what this run or a live run wrote: the newest live run's content, or, when
///   none is left, the original from before the first run.
/// - It holds anything else: someone edited it; their edit wins.
pub fn settle<'a>(change: &'a ConfigChange, live: &[&'a ConfigChange], now: &[u8]) -> Settle<'a> {
    let ours = now == change.written.as_slice();
    let a_live_runs = live.iter().any(|c| c.written.as_slice() == now);
    if !ours && !a_live_runs {
        return Settle::EditedMeanwhile;
    }
    let wanted = match live.last() {
        Some(newest) => &newest.written,
        None => &change.original,
    };
    if wanted.as_slice() == now {
        Settle::Keep
    } else if live.is_empty() {
        Settle::Restore(wanted)
    } else {
        Settle::HandTo(wanted)
    }
}

/// The outcome of [`settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle<'a> {
    /// The file already holds what it should.
    Keep,
    /// Put the original back: no run needs the change any more.
    Restore(&'a [u8]),
    /// Write what a run that is still live needs.
    HandTo(&'a [u8]),
    /// Someone edited the file: leave it.
    EditedMeanwhile,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(original: &str, written: &str) -> ConfigChange {
        ConfigChange {
            path: PathBuf::from("config.json"),
            original: original.as_bytes().to_vec(),
            written: written.as_bytes().to_vec(),
            created: false,
        }
    }

    #[test]
    fn the_last_run_to_stop_restores_the_original() {
        let a = change("8000", "8010");
        // B started while A was live and wrote 8000 over A's 8010: it inherits A's
        // original.
        let b = change("8000", "8000");
        // A stops first: the file holds B's value and B is live: keep it.
        assert_eq!(settle(&a, &[&b], b"8000"), Settle::Keep);
        // Then B, alone: put the original back (already there).
        assert_eq!(settle(&b, &[], b"8000"), Settle::Keep);
        // B stops first: A is live, so the file goes back to A's port.
        assert_eq!(settle(&b, &[&a], b"8000"), Settle::HandTo(b"8010"));
        // Then A, alone: the original.
        assert_eq!(settle(&a, &[], b"8010"), Settle::Restore(b"8000"));
    }

    #[test]
    fn an_edit_by_a_person_wins() {
        let a = change("8000", "8001");
        assert_eq!(settle(&a, &[], b"9000"), Settle::EditedMeanwhile);
        assert_eq!(settle(&a, &[], b"8001"), Settle::Restore(b"8000"));
    }

    #[test]
    fn a_record_of_this_process_is_live_and_a_reused_pid_is_not() {
        let mut record = Record::new("dev-1-abcdef", None);
        assert!(record.is_live());
        record.start_time += 1;
        assert!(!record.is_live(), "another start time is another process");
    }

    #[test]
    fn a_record_of_another_boot_is_never_live() {
        let mut record = Record::new("dev-1-abcdef", None);
        assert!(boot_id().is_some(), "Linux has a boot ID");
        record.boot_id = Some("00000000-0000-0000-0000-000000000000".into());
        assert!(!record.is_live(), "same pid and start time, another boot");
        assert!(record.leftovers().is_empty());
        record.boot_id = None;
        assert!(
            !record.is_live(),
            "a record without a boot ID proves nothing"
        );
        assert!(same_boot(None, None) && same_boot(None, Some("a")));
        assert!(same_boot(Some("a"), Some("a")));
        assert!(!same_boot(Some("a"), Some("b")) && !same_boot(Some("a"), None));
    }

    #[test]
    fn only_files_named_and_holding_one_id_are_records() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let runs = Runs::of(dir.path());
        let lock = runs.lock().expect("the lock");
        let good = Record::new("dev-1-abcdef", None);
        runs.save(&good, &lock).expect("saved");
        let mut liar = Record::new("dev-2-abcdef", None);
        liar.correlation_id = "/tmp/victim".into();
        assert!(runs.save(&liar, &lock).is_err(), "no path from an ID");
        let write = |name: &str, text: &str| {
            std::fs::write(runs.dir().join(name), text).expect("written");
        };
        write("dev-3-abcdef.json", "");
        write("dev-4-abcdef.json", "{\"correlation_id\": \"dev-4");
        write(
            "dev-5-abcdef.json",
            &serde_json::to_string(&liar).expect("json"),
        );
        write("notes.json", "{}");
        let (records, moved) = runs.list_and_set_aside(&lock);
        assert_eq!(records, vec![good]);
        let mut names: Vec<String> = moved
            .iter()
            .map(|p| {
                p.file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "dev-3-abcdef.json",
                "dev-4-abcdef.json",
                "dev-5-abcdef.json",
                "notes.json"
            ]
        );
        assert!(
            moved
                .iter()
                .all(|p| p.starts_with(runs.dir().join("unreadable")))
        );
        assert_eq!(runs.list_and_set_aside(&lock).1, Vec::<PathBuf>::new());
    }
}
