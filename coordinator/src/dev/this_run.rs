//! This run's record in `.dev/runs/` (see [`crate::runs`]): written at the start, kept
//! up to date as processes start, and removed on every clean way out. Registering also
//! cleans up after runs that were killed outright: their leftover processes are stopped
//! and their frontend-config change is settled, before this run chooses a port.

use std::time::Duration;

use crate::config::{Config, display_path};
use crate::frontend_config;
use crate::process::{self, Running};
use crate::runlog::RunLog;
use crate::runs::{self, ConfigChange, Record, Runs, Settle, Started, Which};
use crate::signals::Shutdown;

pub(super) struct ThisRun {
    runs: Runs,
    record: Record,
    log: RunLog,
    /// How many times each role was started in this run (the events' `attempt`).
    starts: std::collections::BTreeMap<String, u32>,
}

impl ThisRun {
    /// Cleans up after dead runs, then records this one. Failing to write the record is
    /// not fatal (the run works; only cross-run care is lost), and is said once. Waiting
    /// for the folder's lock says whom it waits for, and a signal meanwhile ends the run.
    pub(super) async fn register(
        config: &Config,
        log: &RunLog,
        shutdown: &mut Shutdown,
    ) -> super::outcome::Flow<ThisRun> {
        let runs = Runs::of_run(&config.root, log.correlation_id());
        let record = Record::new(log.correlation_id(), log.path());
        let this = ThisRun {
            runs,
            record,
            log: log.clone(),
            starts: std::collections::BTreeMap::new(),
        };
        let Some(file) = wait_for(&this.runs, Which::Records, log, shutdown).await? else {
            log.warn(&format!(
                "runs of this checkout cannot see each other (see above: {} unusable)",
                runs::DIR
            ));
            return std::ops::ControlFlow::Continue(this);
        };
        let lock = Runs::records_lock(file);
        let (records, set_aside) = this.runs.list_and_set_aside(&lock);
        for moved in set_aside {
            log.warn(&format!(
                "{}: not a run record dev wrote (damaged, or not dev's): moved aside, never read again",
                display_path(&moved, &config.root)
            ));
        }
        let warn = |message: &str| log.warn(message);
        clean_up_dead(&this.runs, &lock, records, config, &warn, shutdown).await;
        if this.runs.save(&this.record, &lock).is_err() {
            log.warn(&format!(
                "cannot write this run's record in {}: a later run cannot clean up after it",
                runs::DIR
            ));
        }
        std::ops::ControlFlow::Continue(this)
    }

    /// Records that the run failed, with its report, before it stops what it started.
    pub(super) fn failed(&mut self, report: &str) {
        self.update(|record| {
            record.state = runs::RunState::Failed;
            record.waiting_for = None;
            record.failure = Some(report.to_owned());
        });
    }

    /// Changes the record in memory only: the next [`ThisRun::update`] writes it (the
    /// frontend's start, right after, on the path where every write costs).
    pub(super) fn change(&mut self, change: impl FnOnce(&mut Record)) {
        change(&mut self.record);
    }

    /// Changes the record and saves it.
    pub(super) fn update(&mut self, change: impl FnOnce(&mut Record)) {
        change(&mut self.record);
        if let Some(lock) = self.lock() {
            // Best effort: a record that cannot be written only loses cross-run care,
            // which `register` has already said.
            let _ = self.runs.save(&self.record, &lock);
        }
    }

    /// This run now owns the backend `running` (started, or started again): recorded.
    pub(super) fn owns_backend(&mut self, running: &Running) {
        let pid = running.pid();
        self.update(|record| record.backend = runs::BackendUse::Owned { pid });
    }

    /// The folder's lock, or `None` when it cannot be had: the caller then acts as a run
    /// alone (no record written, no other run's write built on; see ARCHITECTURE's
    /// invariant). A holder past the patience is named; an unusable folder was said at
    /// the start, so it goes to the file only.
    fn lock(&self) -> Option<runs::Lock> {
        match self.runs.lock() {
            Ok(lock) => Some(lock),
            Err(err) if err.kind() == std::io::ErrorKind::TimedOut => {
                self.log
                    .warn(&format!("{err}: going on as if this run were alone"));
                None
            }
            Err(err) => {
                self.log
                    .file_only(&format!("the runs lock cannot be used: {err}"));
                None
            }
        }
    }

    /// Waits (interruptibly) until no other run of this checkout is starting, then holds
    /// the start lock until the guard is dropped. `None` when the lock file cannot be
    /// used (said once; the run goes on without it).
    pub(super) async fn start_lock(
        &self,
        log: &RunLog,
        shutdown: &mut Shutdown,
    ) -> super::outcome::Flow<Option<std::fs::File>> {
        wait_for(&self.runs, Which::Start, log, shutdown).await
    }

    /// Records a process group this run started (replacing one of the same role).
    pub(super) fn started(&mut self, role: &str, running: &Running, argv: &[String]) {
        let entry = Started {
            role: role.to_owned(),
            pid: running.pid(),
            start_time: process::start_time(running.pid()).unwrap_or_default(),
            group: true,
            cmdline: argv.join(" "),
        };
        let pid = running.pid();
        let attempt = {
            let count = self.starts.entry(role.to_owned()).or_insert(0);
            *count += 1;
            *count
        };
        self.log.event(&crate::events::Event::ProcessStarted {
            role: role.to_owned(),
            pid,
            attempt,
            argv: argv.to_vec(),
        });
        let waiting_for = match role {
            "frontend" | "command" => format!("the {role} (pid {pid}) to start"),
            _ => format!("{role} (pid {pid}) to be ready").replacen("backend", "the backend", 1),
        };
        self.update(|record| {
            record.started.retain(|s| s.role != role);
            record.started.push(entry);
            if record.state == runs::RunState::Starting {
                record.waiting_for = Some(waiting_for);
            }
        });
    }

    /// Records descendants that left their group (a double fork into a session of its
    /// own), so that a later run can stop them if this one is killed outright.
    pub(super) fn note_escaped(&mut self) {
        let me = std::process::id();
        let known: Vec<u32> = self.record.started.iter().map(|s| s.pid).collect();
        let escaped: Vec<Started> = process::descendants(me)
            .into_iter()
            .filter(|e| !known.contains(&e.pid) && !known.contains(&e.pgid))
            .map(|e| Started {
                role: "escaped".into(),
                pid: e.pid,
                start_time: e.start_time,
                group: false,
                cmdline: process::info(e.pid).cmdline,
            })
            .collect();
        if !escaped.is_empty() {
            self.update(|record| record.started.extend(escaped));
        }
    }

    /// The other live runs, oldest first.
    pub(super) fn others(&self) -> Vec<Record> {
        let lock = self.lock();
        self.others_under(lock.as_ref())
    }

    /// The other live run whose own backend serves `port`, if one does.
    pub(super) fn backend_owner(&self, port: u16) -> Option<Record> {
        self.others()
            .into_iter()
            .find(|run| run.owns_backend_on(port))
    }

    /// [`ThisRun::others`] under a lock already held (none: no other run is known).
    fn others_under(&self, lock: Option<&runs::Lock>) -> Vec<Record> {
        lock.map_or_else(Vec::new, |lock| {
            self.runs
                .list(lock)
                .into_iter()
                .filter(|r| r.correlation_id != self.record.correlation_id && r.is_live())
                .collect()
        })
    }

    /// The settled ports, applied once: the run's config for them, and the frontend
    /// config pointed at the backend's port (recorded with it). Every place a port is
    /// settled (the start, a port taken after it was chosen, remote mode) comes here.
    pub(super) fn apply_ports(
        &mut self,
        config: &Config,
        backend: u16,
        frontend: Option<u16>,
    ) -> Result<Config, frontend_config::FrontendConfigError> {
        let config = config.with_ports(backend, frontend);
        self.point_frontend_config(&config, backend)?;
        Ok(config)
    }

    /// Points the frontend config at the backend, under the folder's lock, and records
    /// the change: the original is inherited from a live run whose write this one
    /// builds on, so that the last run to stop restores what was there before the first.
    fn point_frontend_config(
        &mut self,
        config: &Config,
        port: u16,
    ) -> Result<(), frontend_config::FrontendConfigError> {
        let path = &config.frontend.config_file;
        let shown = display_path(path, &config.root);
        let missing = !path.exists();
        if missing && frontend_config::Format::of(path) != Some(frontend_config::Format::Env) {
            self.log.warn(&format!(
                "{shown} does not exist: not writing the backend port into it"
            ));
            return Ok(());
        }
        let lock = self.lock();
        let others = self.others_under(lock.as_ref());
        let builds_on = |content: &[u8]| {
            others
                .iter()
                .rev()
                .filter_map(|r| r.frontend_config.as_ref())
                .find(|c| c.path == *path && c.written == content)
                .map(|c| (c.original.clone(), c.created))
        };
        let host = crate::health::probe_host(&config.backend.host);
        let url = config.backend_url();
        let url_key = config
            .frontend
            .url_key
            .as_deref()
            .map(|key| (key, url.as_str()));
        let outcome = frontend_config::point_at_with_url(
            path,
            &shown,
            &config.frontend.port_key,
            host,
            port,
            url_key,
        )?;
        if let frontend_config::Outcome::Written { undo, .. } = &outcome
            && undo.created
        {
            self.log.info(&format!(
                "{shown} does not exist (a fresh clone, or gitignored): created it for this run with only dev's keys; it is removed at exit unless you write to it"
            ));
        }
        let change = self.change_after(outcome, path, &shown, builds_on);
        self.record.frontend_config = change;
        // Saved with the change: `doctor` reads the two together.
        self.record.backend_port = Some(port);
        if let Some(lock) = &lock {
            let _ = self.runs.save(&self.record, lock);
        }
        Ok(())
    }

    /// The change this run now depends on, after pointing the frontend config: what it
    /// wrote (the original inherited from a live run whose write it builds on, or
    /// kept from its own first write), or a live run's write it found already right.
    fn change_after(
        &self,
        outcome: frontend_config::Outcome,
        path: &std::path::Path,
        shown: &str,
        builds_on: impl Fn(&[u8]) -> Option<(Vec<u8>, bool)>,
    ) -> Option<ConfigChange> {
        match outcome {
            frontend_config::Outcome::Written { changes, undo } => {
                for change in changes {
                    self.log.info(&format!(
                        "{shown}: {} {} -> {}",
                        change.key, change.old, change.new
                    ));
                }
                let (original, created) = match &self.record.frontend_config {
                    Some(mine) => (mine.original.clone(), mine.created),
                    None => builds_on(&undo.previous).unwrap_or((undo.previous, undo.created)),
                };
                Some(ConfigChange {
                    path: path.to_path_buf(),
                    original,
                    written: undo.written,
                    created,
                })
            }
            // Already right: if it is right because a live run wrote it, this run now
            // depends on that write too.
            frontend_config::Outcome::Unchanged => {
                let now = crate::user_file::read(path).unwrap_or_default();
                match (&self.record.frontend_config, builds_on(&now)) {
                    (Some(mine), _) => Some(ConfigChange {
                        written: now,
                        ..mine.clone()
                    }),
                    (None, Some((original, created))) => Some(ConfigChange {
                        path: path.to_path_buf(),
                        original,
                        written: now,
                        created,
                    }),
                    (None, None) => None,
                }
            }
        }
    }

    /// The clean way out: settles the frontend config with the runs still live and
    /// removes the record, in one critical section.
    pub(super) fn finish(self, config: &Config) {
        let lock = self.lock();
        if let Some(change) = &self.record.frontend_config {
            let others = self.others_under(lock.as_ref());
            let shown = display_path(&change.path, &config.root);
            let settled = settle_file(change, &others, config);
            for (warn, line) in said(&settled, &shown, config) {
                if warn {
                    self.log.warn(&line);
                } else {
                    self.log.info(&line);
                }
            }
        }
        if let Some(lock) = &lock {
            self.runs.remove(&self.record.correlation_id, lock);
        }
    }
}

impl crate::backend::OnSpawn for ThisRun {
    fn spawned(&mut self, running: &Running, argv: &[String]) {
        self.started("backend", running, argv);
    }
}

/// Waits for one of the folder's lock files, polling, so that a signal ends the wait
/// (a blocking `flock` would not answer Ctrl-C), and says once whom it waits for. `None`
/// when the lock file cannot be used (said; the run goes on without it).
async fn wait_for(
    runs: &Runs,
    which: Which,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> super::outcome::Flow<Option<std::fs::File>> {
    let mut said = false;
    loop {
        match runs.try_lock(which) {
            Ok(Ok(file)) => return std::ops::ControlFlow::Continue(Some(file)),
            Ok(Err(holder)) => {
                if !said {
                    let who = holder.map_or_else(
                        || "another dev run of this checkout".to_owned(),
                        |h| h.to_string(),
                    );
                    let doing = match which {
                        Which::Start => "starting",
                        Which::Records => "changing the run records",
                    };
                    log.info(&format!(
                        "waiting for {who}: it is {doing} (Ctrl-C to stop waiting)"
                    ));
                    said = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(20)) => {}
                    name = shutdown.next() => {
                        log.info(&format!("{name} received while waiting: stopping"));
                        return std::ops::ControlFlow::Break(super::outcome::DevOutcome::Stopped);
                    }
                }
            }
            Err(err) => {
                log.warn(&format!("cannot use the lock in {}: {err}", runs::DIR));
                return std::ops::ControlFlow::Continue(None);
            }
        }
    }
}

/// What [`settle_file`] decided.
#[derive(Debug)]
pub(crate) enum Settled {
    Keep,
    Restore,
    /// dev created the file for the run, and nobody wrote to it: removed.
    Removed,
    HandTo,
    /// Edited meanwhile while another live run depends on it: left for that run.
    EditedMeanwhile,
    /// Edited meanwhile: each value that still held dev's text got its old text back
    /// (`restored`), the values someone changed were left as set (`kept`: key, value).
    /// `created`: dev created the file, which stays because it was written to.
    PerValue {
        restored: Vec<String>,
        kept: Vec<(String, String)>,
        created: bool,
    },
    /// The record's change is not believed, so the file was left alone: why.
    NotBelieved(String),
}

/// The lines that say how the frontend config was settled: `(is a warning, line)`.
/// Every port dev chose that stays in the file is named, with its key and value.
pub(crate) fn said(
    settled: &std::io::Result<Settled>,
    shown: &str,
    config: &Config,
) -> Vec<(bool, String)> {
    let port = config.backend.port;
    match settled {
        Ok(Settled::Keep) => vec![],
        Ok(Settled::Restore) => vec![(false, format!("{shown}: restored"))],
        Ok(Settled::Removed) => vec![(
            false,
            format!("{shown}: removed (dev created it for this run)"),
        )],
        Ok(Settled::HandTo) => vec![(
            false,
            format!("{shown}: left at the port of the dev run that is still live"),
        )],
        Ok(Settled::EditedMeanwhile) => vec![(
            true,
            format!(
                "{shown}: edited since dev wrote it while another dev run still uses it: left as it is"
            ),
        )],
        Ok(Settled::PerValue {
            restored,
            kept,
            created,
        }) => {
            let mut lines = Vec::new();
            if !restored.is_empty() {
                lines.push((
                    false,
                    format!(
                        "{shown}: edited during the run: put back what dev changed ({}), kept the other edits",
                        restored.join(", ")
                    ),
                ));
            }
            for (key, value) in kept {
                lines.push((
                    true,
                    format!(
                        "{shown}: {key} = {} was changed during the run, so it was left as it is (dev.toml says backend.port = {port}): set it back by hand if that is not what you want",
                        crate::text::printable(value)
                    ),
                ));
            }
            if *created {
                lines.push((
                    false,
                    format!("{shown}: dev created it for this run, but it was written to meanwhile: kept"),
                ));
            }
            lines
        }
        Ok(Settled::NotBelieved(why)) => vec![(true, format!("{shown}: {why}"))],
        Err(err) => vec![(true, format!("{shown}: could not restore: {err}"))],
    }
}

/// Applies [`runs::settle`] to the file, believing a record (this run's, or another
/// run's read back from disk) only as far as it can be checked: the file must be this
/// checkout's frontend config, and what is written over it may differ from what it
/// holds only in the values dev writes ([`frontend_config::only_values_differ`]). A
/// file edited meanwhile is restored value by value ([`restore_per_value`]). The one
/// function that settles the frontend config: a clean exit, the next run after a crash
/// (and a guardian of the run) call it; [`said`] words its outcome.
pub(crate) fn settle_file(
    change: &ConfigChange,
    others: &[Record],
    config: &Config,
) -> std::io::Result<Settled> {
    let configured = &config.frontend.config_file;
    let same_file = change.path == *configured
        || std::fs::canonicalize(&change.path).ok() == std::fs::canonicalize(configured).ok()
            && configured.exists();
    if !same_file {
        return Ok(Settled::NotBelieved(format!(
            "a run record names {} as the frontend config, but `frontend.config_file` is {}: left alone",
            change.path.display(),
            display_path(configured, &config.root)
        )));
    }
    let live: Vec<&ConfigChange> = others
        .iter()
        .filter_map(|r| r.frontend_config.as_ref())
        .filter(|c| c.path == change.path)
        .collect();
    let now = match crate::user_file::read(&change.path) {
        // A file dev created and someone removed: nothing of dev's is left.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && change.created => {
            return Ok(Settled::Keep);
        }
        now => now?,
    };
    let decided = runs::settle(change, &live, &now);
    let (bytes, settled) = match decided {
        Settle::Keep if live.is_empty() && change.created && now.is_empty() => {
            std::fs::remove_file(&change.path)?;
            return Ok(Settled::Removed);
        }
        Settle::Keep => return Ok(Settled::Keep),
        Settle::EditedMeanwhile if live.is_empty() => {
            return restore_per_value(change, &now, config);
        }
        Settle::EditedMeanwhile => return Ok(Settled::EditedMeanwhile),
        Settle::Restore(bytes) => (bytes, Settled::Restore),
        Settle::HandTo(bytes) => (bytes, Settled::HandTo),
    };
    let url_key = config.frontend.url_key.as_deref();
    let port_key = &config.frontend.port_key;
    if !frontend_config::only_values_differ(&change.path, &now, bytes, port_key, url_key) {
        return Ok(Settled::NotBelieved(format!(
            "a run record's saved content differs from the file in more than `{port_key}`: not written back, left as it is"
        )));
    }
    if matches!(settled, Settled::Restore) && change.created && bytes.is_empty() {
        std::fs::remove_file(&change.path)?;
        return Ok(Settled::Removed);
    }
    crate::atomic::write(&change.path, bytes)?;
    Ok(settled)
}

/// Cleans up after the dead runs among `records` (read under `lock`): stops what each
/// left running, settles its frontend-config change and removes its record. The one way
/// a dead run is cleaned up, by the next run and by `cargo xtask stop`. Returns how many
/// dead runs there were.
pub(super) async fn clean_up_dead(
    runs: &Runs,
    lock: &runs::Lock,
    records: Vec<Record>,
    config: &Config,
    warn: &dyn Fn(&str),
    shutdown: &mut Shutdown,
) -> usize {
    let (live, dead): (Vec<Record>, Vec<Record>) = records.into_iter().partition(Record::is_live);
    for run in &dead {
        clean_up(run, &live, config, warn, shutdown).await;
        runs.remove(&run.correlation_id, lock);
    }
    dead.len()
}

/// The file was edited after dev wrote it and no other run depends on it: each value
/// that still holds dev's text gets its old text back, the rest stays as it is now
/// ([`frontend_config::restore_values`]). A file dev created is removed when nothing
/// but dev's lines was in it.
fn restore_per_value(
    change: &ConfigChange,
    now: &[u8],
    config: &Config,
) -> std::io::Result<Settled> {
    let keys = frontend_config::written_keys(
        &config.frontend.port_key,
        config.frontend.url_key.as_deref(),
    );
    let Some(done) = frontend_config::restore_values(
        &change.path,
        &change.original,
        &change.written,
        now,
        &keys,
    ) else {
        return Ok(Settled::NotBelieved(
            "edited since dev wrote it into something dev cannot read: left as it is".into(),
        ));
    };
    let empty = done.content.iter().all(u8::is_ascii_whitespace);
    if change.created && empty {
        std::fs::remove_file(&change.path)?;
        return Ok(Settled::Removed);
    }
    if done.content != now {
        crate::atomic::write(&change.path, &done.content)?;
    }
    Ok(Settled::PerValue {
        restored: done.restored,
        kept: done.kept,
        created: change.created,
    })
}

/// What the guardian of run `correlation_id` does once that run's `dev` ended without
/// standing it down: the clean-up the next run would do ([`clean_up`], the same code,
/// under the same lock), for this one run, at once; then the record goes. Returns what
/// it did, for the run's log.
pub(crate) async fn clean_up_after_guarded(
    config: &Config,
    correlation_id: &str,
    log: &RunLog,
    shutdown: &mut Shutdown,
) -> String {
    let runs = Runs::of_run(&config.root, correlation_id);
    // A run starting meanwhile waits for this lock ("waiting for dev run ..."), so it
    // finds the record gone rather than cleaning up the same run a second time.
    let lock = match runs.lock() {
        Ok(lock) => lock,
        Err(err) => return format!("left everything to the next dev run: {err}"),
    };
    let records = runs.list(&lock);
    let Some(run) = records.iter().find(|r| r.correlation_id == correlation_id) else {
        return "found no record of the run: nothing to do".into();
    };
    // The pipe closes while `dev` exits, a moment before its process is gone from the
    // process table; a live `dev` is never cleaned up after.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while run.is_live() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if run.is_live() {
        return format!(
            "dev (pid {}) is still running: nothing was touched",
            run.pid
        );
    }
    let live: Vec<Record> = records
        .iter()
        .filter(|r| r.correlation_id != correlation_id && r.is_live())
        .cloned()
        .collect();
    let stopped = clean_up(run, &live, config, &|line| log.warn(line), shutdown).await;
    runs.remove(correlation_id, &lock);
    format!(
        "stopped {stopped} process{}{}, removed the run's record",
        if stopped == 1 { "" } else { "es" },
        if run.frontend_config.is_some() {
            ", settled the frontend config"
        } else {
            ""
        }
    )
}

/// Stops what a dead run left running and settles its frontend-config change. Returns
/// how many processes it stopped.
async fn clean_up(
    run: &Record,
    live: &[Record],
    config: &Config,
    warn: &dyn Fn(&str),
    shutdown: &mut Shutdown,
) -> usize {
    if !run.is_this_boot() {
        warn(&format!(
            "dev run {} (pid {}) is from before the last reboot: nothing it names is signalled",
            run.correlation_id, run.pid
        ));
    }
    let leftovers = run.leftovers();
    if !leftovers.is_empty() {
        warn(&format!(
            "dev run {} (pid {}) did not exit cleanly and left {} process{} running: stopping {}",
            run.correlation_id,
            run.pid,
            leftovers.len(),
            if leftovers.len() == 1 { "" } else { "es" },
            if leftovers.len() == 1 { "it" } else { "them" },
        ));
        for (_, info) in &leftovers {
            warn(&format!("  {}", info.said("")));
        }
        let targets: Vec<process::Target> = leftovers.iter().map(|(t, _)| *t).collect();
        let grace = config.dev.shutdown_grace.min(Duration::from_secs(5));
        // A Ctrl-C meanwhile kills them at once rather than being ignored.
        let hurry = shutdown.hurry();
        let killed = process::terminate(&targets, grace, hurry, || {}).await;
        for info in killed {
            warn(&format!(
                "pid {} ({}) ignored SIGTERM and was killed",
                info.pid, info.name
            ));
        }
    }
    let Some(change) = &run.frontend_config else {
        return leftovers.len();
    };
    let shown = display_path(&change.path, &config.root);
    let settled = settle_file(change, live, config);
    let lines = match &settled {
        Ok(Settled::Restore) => vec![(
            false,
            format!("{shown}: restored what was there before that run"),
        )],
        Ok(Settled::HandTo) => vec![(
            false,
            format!("{shown}: set back to the port of the dev run that is still live"),
        )],
        _ => said(&settled, &shown, config),
    };
    for (_, line) in lines {
        warn(&format!(
            "{line} (dev run {} (pid {}) did not exit cleanly)",
            run.correlation_id, run.pid
        ));
    }
    leftovers.len()
}
