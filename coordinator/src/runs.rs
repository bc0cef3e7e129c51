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
    /// `backend`, `frontend`, or `escaped` for a descendant that left its group.
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
}

/// One run's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub correlation_id: String,
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
}

impl Record {
    /// A record for this process.
    pub fn new(correlation_id: &str, log_file: Option<&Path>) -> Record {
        let pid = std::process::id();
        Record {
            correlation_id: correlation_id.to_owned(),
            pid,
            start_time: process::start_time(pid).unwrap_or_default(),
            started_unix_ms: unix_ms(),
            backend_port: None,
            frontend_port: None,
            backend: BackendUse::None,
            started: Vec::new(),
            frontend_config: None,
            log_file: log_file.map(Path::to_path_buf),
        }
    }

    /// Whether the `dev` process of this record still runs (same pid, same start time).
    pub fn is_live(&self) -> bool {
        process::pid_exists(self.pid) && process::start_time(self.pid) == Some(self.start_time)
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
}

/// Held while the folder is read or changed; released on drop.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Runs {
    pub fn of(root: &Path) -> Runs {
        Runs {
            dir: root.join(DIR),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the folder's lock (waits for another run's short critical section).
    pub fn lock(&self) -> std::io::Result<Lock> {
        std::fs::create_dir_all(&self.dir)?;
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        file.lock()?;
        Ok(Lock { _file: file })
    }

    fn path_of(&self, correlation_id: &str) -> PathBuf {
        self.dir.join(format!("{correlation_id}.json"))
    }

    /// Every readable record, oldest first. Unreadable files are skipped (a record is
    /// written atomically, so only a foreign file can be unreadable).
    pub fn list(&self, _lock: &Lock) -> Vec<Record> {
        self.read_all()
    }

    /// [`Runs::list`] without the lock, for a look that changes nothing (`doctor`).
    pub fn read_all(&self) -> Vec<Record> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut records: Vec<Record> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|ext| ext == "json"))
            .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
            .collect();
        records.sort_by_key(|r| (r.started_unix_ms, r.correlation_id.clone()));
        records
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
        crate::atomic::write_volatile(&self.path_of(&record.correlation_id), &bytes)
    }

    pub fn remove(&self, correlation_id: &str, _lock: &Lock) {
        let _ = std::fs::remove_file(self.path_of(correlation_id));
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
        let mut record = Record::new("dev-1-abc", None);
        assert!(record.is_live());
        record.start_time += 1;
        assert!(!record.is_live(), "another start time is another process");
    }
}
