//! `cargo xtask bench`: the speed targets, measured next to the tools people use today,
//! in one run on one machine, and written to `BENCHMARKS.md`.
//!
//! It lives in `xtask`, not in the `coordinator` library: it is a tool about the
//! product (it starts peers, times binaries, reaches into the test fixtures), not part
//! of it.
//!
//! It times the built binary directly; cargo's own up-to-date check, which every
//! `cargo xtask` pays, is measured and reported on its own row rather than hidden.
//! Peers (`wait-on`, `concurrently`) are installed with npm into `target/bench-peers`
//! when Node and npm are present; without them their cells say so. Never part of the
//! test suite's pass/fail: the suite only runs `--quick` to prove the bench works.

mod first_run;
mod measure;
mod process_ready;
mod reload;
mod stats;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Args;
use coordinator::config::Config;
use measure::{Setup, Waiter};
use stats::Samples;

/// The peers' versions, as the shared harness pins them.
const PEERS: &[&str] = &["wait-on@9.5.1", "concurrently@9.2.5"];

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Three runs, no peers, and no BENCHMARKS.md: proves the bench works (the test suite uses it).
    #[arg(long)]
    quick: bool,
    /// Also time the ready detection of this other `xtask` binary (e.g. a build of an
    /// older commit), in the same run: before/after numbers from one machine and moment.
    #[arg(long, value_name = "EXE")]
    baseline: Option<std::path::PathBuf>,
    /// Only the first run: a clone of HEAD with an empty CARGO_HOME timed to `frontend
    /// ready`, and a cold build with the registry warm (minutes; writes its own section
    /// of BENCHMARKS.md).
    #[arg(long, conflicts_with_all = ["quick", "baseline"])]
    first_run: bool,
}

/// `cargo xtask bench [--quick]`.
pub fn command(args: &BenchArgs) -> u8 {
    let start = std::env::current_dir().unwrap_or_else(|_| ".".into());
    // The bench measures its own temporary checkouts: a missing dev.toml only means
    // BENCHMARKS.md goes into the current folder.
    let root = Config::locate(&start).map_or_else(|_| start.clone(), |(root, _)| root);
    let exe = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    if args.first_run {
        return first_run_command(&root);
    }
    let options = BenchOptions {
        quick: args.quick,
        write: (!args.quick).then(|| root.join("BENCHMARKS.md")),
        exe,
        baseline: args.baseline.clone(),
    };
    match run(&root, &options, &|step| eprintln!("bench: {step}")) {
        Ok(report) => {
            println!("{report}");
            if let Some(path) = &options.write {
                eprintln!("bench: wrote {}", path.display());
            }
            crate::exit::OK
        }
        Err(err) => {
            eprintln!("error: {err}");
            crate::exit::FAILED
        }
    }
}

/// `cargo xtask bench --first-run`: measures, prints, and replaces the first-run section
/// of `BENCHMARKS.md` (the rest of the file is kept).
fn first_run_command(root: &Path) -> u8 {
    let measured = match first_run::measure(root, &|step| eprintln!("bench: {step}")) {
        Ok(measured) => measured,
        Err(err) => {
            eprintln!("error: {err}");
            return crate::exit::FAILED;
        }
    };
    let section = first_run::section(&measured);
    println!("{section}");
    let path = root.join("BENCHMARKS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
    if let Err(err) = std::fs::write(&path, first_run::with_section(&old, &section)) {
        eprintln!("error: cannot write {}: {err}", path.display());
        return crate::exit::FAILED;
    }
    eprintln!("bench: wrote the first-run section of {}", path.display());
    crate::exit::OK
}

#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Three runs, no peers, a one-second idle window, no cargo timing: proves it works.
    pub quick: bool,
    /// Where to write the report (`BENCHMARKS.md`), if anywhere.
    pub write: Option<PathBuf>,
    /// The `xtask` binary to time.
    pub exe: PathBuf,
    /// Another build of `xtask` (an older commit) whose ready detection is measured in
    /// the same run, for a before/after comparison on one machine at one time.
    pub baseline: Option<PathBuf>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BenchError(pub String);

/// Everything one bench run measured.
struct Measured {
    runs: usize,
    peer_note: &'static str,
    ready_dev: Samples,
    /// The same without the guardian (`DEV_GUARDIAN=false`), interleaved with `ready_dev`.
    ready_unguarded: Samples,
    /// The baseline binary's ready detection, interleaved with `ready_dev`'s runs.
    ready_baseline: Option<(PathBuf, Samples)>,
    ready_peer: Samples,
    ready_poll: Samples,
    /// A client that checks nothing: the machine's floor for the ready row.
    ready_floor: Samples,
    frontend_dev: Samples,
    frontend_peer: Samples,
    /// A `[process.NAME]`'s port opens -> the process after it starts.
    process_dev: Samples,
    reuse_dev: Samples,
    reuse_unguarded: Samples,
    reuse_peer: Samples,
    holder: measure::HolderTimes,
    doctor: Samples,
    window: Duration,
    idle: measure::Idle,
    reload: reload::Reload,
    cargo: Samples,
}

/// Runs every measurement and returns the markdown report.
pub fn run(
    root: &Path,
    options: &BenchOptions,
    progress: &dyn Fn(&str),
) -> Result<String, BenchError> {
    let scratch =
        tempfile::tempdir().map_err(|e| BenchError(format!("no temporary folder: {e}")))?;
    let setup = setup(root, options, scratch.path(), progress)?;
    let measured = measure_all(root, options, &setup, progress);
    let mut report = report(options, &measured);
    if let Some(path) = &options.write {
        // The first run is measured on its own (`--first-run`): its section is kept.
        let old = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(section) = first_run::existing_section(&old) {
            report = first_run::with_section(&report, section);
        }
        std::fs::write(path, &report)
            .map_err(|e| BenchError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(report)
}

/// What the measurements share: the binary, the interpreter, the fixture, the peers.
fn setup(
    root: &Path,
    options: &BenchOptions,
    scratch: &Path,
    progress: &dyn Fn(&str),
) -> Result<Setup, BenchError> {
    let python = coordinator::python::discover()
        .map_err(|err| BenchError(format!("{err}; fix: {}", err.fix())))?
        .executable;
    let fake_backend = root.join("tests/fixtures/fake_backend.py");
    if !fake_backend.is_file() {
        return Err(BenchError(format!(
            "{} is missing: run the bench from this repository's checkout",
            fake_backend.display()
        )));
    }
    let peers = if options.quick {
        None
    } else {
        progress("installing the peers (wait-on, concurrently) with npm");
        install_peers(&root.join("target/bench-peers"))
    };
    Ok(Setup {
        exe: options.exe.clone(),
        python,
        fake_backend,
        scratch: scratch.to_path_buf(),
        peers,
        runs: if options.quick { 3 } else { 20 },
        env: Vec::new(),
    })
}

fn measure_all(
    root: &Path,
    options: &BenchOptions,
    setup: &Setup,
    progress: &dyn Fn(&str),
) -> Measured {
    let runs = setup.runs;
    progress("ready-detection latency: dev, concurrently + wait-on, a 1 s poll");
    progress("  interleaved with the same binary without its guardian, one run each in turn");
    let mut compared = vec![setup.clone(), setup.unguarded()];
    if let Some(exe) = &options.baseline {
        progress("  and with the baseline binary");
        compared.push(Setup {
            exe: exe.clone(),
            ..setup.clone()
        });
    }
    let mut ready =
        interleaved(&compared, |one| measure::ready_latency(one, Waiter::Dev)).into_iter();
    let (ready_dev, ready_unguarded) = (
        ready.next().unwrap_or_default(),
        ready.next().unwrap_or_default(),
    );
    let ready_baseline = options
        .baseline
        .clone()
        .map(|exe| (exe, ready.next().unwrap_or_default()));
    let ready_peer = measure::ready_latency(setup, Waiter::ConcurrentlyWaitOn);
    let ready_poll = measure::ready_latency(setup, Waiter::PollOneSecond);
    let ready_floor = measure::ready_latency(setup, Waiter::Floor);
    progress("frontend readiness: dev, wait-on tcp:");
    let frontend_dev = measure::frontend_ready(setup, false);
    let frontend_peer = measure::frontend_ready(setup, true);
    progress("a [process.NAME]'s ready detection");
    let process_dev = process_ready::process_ready(setup);
    progress("reuse path");
    let mut reuse = interleaved(&compared[..2], |one| measure::reuse(one, false)).into_iter();
    let (reuse_dev, reuse_unguarded) = (
        reuse.next().unwrap_or_default(),
        reuse.next().unwrap_or_default(),
    );
    let reuse_peer = measure::reuse(setup, true);
    progress("holder lookup");
    let holder = measure::holder(setup);
    progress("doctor");
    let mut doctor = Command::new(&setup.exe);
    doctor
        .args(["doctor", "--json"])
        .current_dir(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let doctor = measure::time_command(&mut doctor, runs.min(10));
    progress("CPU and memory of dev supervising an idle backend");
    let window = Duration::from_secs(if options.quick { 1 } else { 5 });
    let idle = measure::idle(setup, window);
    progress("save -> healthy again: the backend's cold start, dev's watch, uvicorn --reload");
    let reload = reload::reload(setup, root, runs.min(10));
    let cargo = if options.quick {
        Samples::default()
    } else {
        progress("cargo's up-to-date check");
        cargo_check(root)
    };
    Measured {
        runs,
        peer_note: if setup.peers.is_some() {
            ""
        } else {
            " (peers not installed: no Node/npm, or --quick)"
        },
        ready_dev,
        ready_unguarded,
        ready_baseline,
        ready_peer,
        ready_poll,
        ready_floor,
        frontend_dev,
        frontend_peer,
        process_dev,
        reuse_dev,
        reuse_unguarded,
        reuse_peer,
        holder,
        doctor,
        window,
        idle,
        reload,
        cargo,
    }
}

/// `measure` of each setup (this binary, without its guardian, a baseline binary), one
/// run of each in turn, so that whatever else the machine does at the time weighs on
/// all alike.
fn interleaved(setups: &[Setup], measure: impl Fn(&Setup) -> Samples) -> Vec<Samples> {
    let mut samples = vec![Samples::default(); setups.len()];
    for _ in 0..setups.first().map_or(0, |s| s.runs) {
        for (setup, samples) in setups.iter().zip(&mut samples) {
            let once = Setup {
                runs: 1,
                ..setup.clone()
            };
            samples.0.extend(measure(&once).0);
        }
    }
    samples
}

/// `cargo build -p xtask` with nothing to do, five times.
fn cargo_check(root: &Path) -> Samples {
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let Ok(sh) = xshell::Shell::new() else {
        return Samples::default();
    };
    sh.change_dir(root);
    let mut cargo: Command = xshell::cmd!(sh, "{cargo_bin} build --quiet -p xtask").into();
    cargo.stdout(Stdio::null()).stderr(Stdio::null());
    measure::time_command(&mut cargo, 5)
}

fn verdict(value: Option<f64>, target: f64) -> &'static str {
    match value {
        Some(v) if v <= target => "met",
        Some(_) => "**not met**",
        None => "n/a",
    }
}

/// The markdown report: the table, then how each row is measured.
fn report(options: &BenchOptions, m: &Measured) -> String {
    let mut report = String::from("# Benchmarks\n\n");
    report.push_str(
        "Written by `cargo xtask bench`; every number below is its output, none is edited by hand.\n\n",
    );
    report.push_str(&format!(
        "Reproduce: `cargo xtask bench` (binary timed: `{}`).\n\n",
        options.exe.display()
    ));
    report.push_str(&format!("Machine: {}\n\n", machine()));
    report.push_str("| what | target | dev | peers, same run | met? |\n|---|---|---|---|---|\n");
    for row in latency_rows(m).into_iter().chain(other_rows(m)) {
        report.push_str(&row);
    }
    report.push_str(HOW);
    report
}

/// Ready detection's target (ms, p50 and p90): one loopback connect and one HTTP
/// exchange with Python are 1 to 2 ms; the rest is dev's own (DESIGN 12, issue 26).
const READY_P50: f64 = 5.0;
const READY_P90: f64 = 8.0;
/// The reuse path's target (ms, p50).
const REUSE_P50: f64 = 10.0;

fn latency_rows(m: &Measured) -> Vec<String> {
    let peer_note = m.peer_note;
    let both = match (m.ready_dev.pct(50.0), m.ready_dev.pct(90.0)) {
        (Some(a), Some(b)) if a <= READY_P50 && b <= READY_P90 => "met",
        (Some(_), Some(_)) => "**not met**",
        _ => "n/a",
    };
    let baseline = m.ready_baseline.as_ref().map(|(exe, samples)| {
        format!(
            "| the same, baseline binary `{}` (runs interleaved with the row above) | {READY_P50} / {READY_P90} ms | {} | | {} |\n",
            exe.display(),
            samples.summary(),
            verdict(samples.pct(50.0), READY_P50)
        )
    });
    let mut rows = vec![
        format!(
            "| backend ready -> `dev` starts the frontend (p50 / p90 / max, {} runs, backend ready after 300 ms + U[0, 1000) ms) | {READY_P50} / {READY_P90} ms | {} | `concurrently` + `wait-on`: {}; a 1 s poll: {}{peer_note}; the floor, a client that checks nothing: {} | {both} |\n",
            m.runs,
            m.ready_dev.summary(),
            m.ready_peer.summary(),
            m.ready_poll.summary(),
            m.ready_floor.summary(),
        ),
        format!(
            "| frontend's port opens -> `dev` prints the frontend-ready line (p50 / p90 / max, frontend listening after 300 ms + U[0, 1000) ms) | 20 ms (p50) | {} | `wait-on tcp:` starts the next command: {}{peer_note} | {} |\n",
            m.frontend_dev.summary(),
            m.frontend_peer.summary(),
            verdict(m.frontend_dev.pct(50.0), 20.0)
        ),
        format!(
            "| already-running backend: process start -> frontend started (p50 / p90 / max) | under {REUSE_P50} ms | {} | `wait-on` alone: {}{peer_note} | {} |\n",
            m.reuse_dev.summary(),
            m.reuse_peer.summary(),
            verdict(m.reuse_dev.pct(50.0), REUSE_P50)
        ),
        process_row(m),
        reload_row(&m.reload),
    ];
    rows.insert(
        3,
        guardian_row(
            "already-running backend: process start -> frontend started",
            &m.reuse_dev,
            &m.reuse_unguarded,
        ),
    );
    rows.insert(
        1,
        guardian_row(
            "backend ready -> `dev` starts the frontend",
            &m.ready_dev,
            &m.ready_unguarded,
        ),
    );
    if let Some(baseline) = baseline {
        rows.insert(1, baseline);
    }
    rows
}

/// A `[process.NAME]`'s ready detection: as fast as the backend's (its p50, this run).
fn process_row(m: &Measured) -> String {
    let met = match (m.process_dev.pct(50.0), m.ready_dev.pct(50.0)) {
        (Some(process), Some(backend)) if process <= backend => "met",
        (Some(_), Some(_)) => "**not met**",
        _ => "n/a",
    };
    format!(
        "| a `[process.NAME]`'s port opens -> `dev` starts the process after it (p50 / p90 / max, port open after 300 ms + U[0, 1000) ms) | no slower than the backend's row above (p50) | {} | the backend's: {} | {met} |\n",
        m.process_dev.summary(),
        m.ready_dev.summary(),
    )
}

/// The same latency without the guardian (`DEV_GUARDIAN=false`), its runs interleaved
/// with the row's: the guardian's cost is the difference at p50, under 2 ms.
fn guardian_row(what: &str, with: &Samples, without: &Samples) -> String {
    let (cost, met) = match (with.pct(50.0), without.pct(50.0)) {
        (Some(a), Some(b)) => (
            format!("; the guardian's cost at p50: {:+.1} ms", a - b),
            verdict(Some(a - b), 2.0),
        ),
        _ => (String::new(), "n/a"),
    };
    format!(
        "| {what}, without the guardian (`DEV_GUARDIAN=false`; runs interleaved with the row with it) | the guardian adds under 2 ms | {}{cost} | | {met} |\n",
        without.summary()
    )
}

/// Save -> healthy again: no slower than `uvicorn --reload` at p50, and under 150 ms
/// over the backend's own cold start.
fn reload_row(reload: &reload::Reload) -> String {
    let (dev, uvicorn, cold) = (
        reload.dev.pct(50.0),
        reload.uvicorn.pct(50.0),
        reload.cold.pct(50.0),
    );
    let met = match (dev, uvicorn, cold) {
        (Some(d), Some(u), Some(c)) if d <= u && d - c < 150.0 => "met",
        (Some(_), Some(_), Some(_)) => "**not met**",
        _ => "n/a",
    };
    let overhead = match (dev, cold) {
        (Some(d), Some(c)) => format!("; over the cold start: {:.1} ms", d - c),
        _ => String::new(),
    };
    let missing = reload
        .missing
        .as_ref()
        .map_or_else(String::new, |why| format!(" ({why})"));
    format!(
        "| save `backend/main.py` -> reference backend healthy again from a new process (p50 / p90 / max, 10 saves) | no slower than `uvicorn --reload` (p50), under 150 ms over the backend's cold start | {}{overhead} | `uvicorn --reload`: {}; the backend's own cold start: {}{missing} | {met} |\n",
        reload.dev.summary(),
        reload.uvicorn.summary(),
        reload.cold.summary(),
    )
}

fn other_rows(m: &Measured) -> Vec<String> {
    let commands: Vec<String> = m
        .holder
        .commands
        .iter()
        .map(|(name, samples)| format!("{name}: {}", samples.median()))
        .collect();
    vec![
        format!(
            "| who holds port P, with the free alternative (p50) | under 10 ms | in process: {} | {} | {} |\n",
            m.holder.in_process.median(),
            commands.join("; "),
            verdict(m.holder.in_process.pct(50.0), 10.0)
        ),
        format!(
            "| `doctor`, all checks, wall time (p50 / p90 / max) | under 300 ms | {} | | {} |\n",
            m.doctor.summary(),
            verdict(m.doctor.pct(50.0), 300.0)
        ),
        format!(
            "| CPU of `dev` supervising an idle backend ({} s; liveness probes every 2 s, watching `backend/**/*.py`) | under 1% | {} | | {} |\n",
            m.window.as_secs(),
            m.idle
                .cpu_percent
                .map_or_else(|| "n/a".into(), |c| format!("{c:.2}%")),
            verdict(m.idle.cpu_percent, 1.0)
        ),
        format!(
            "| peak memory (VmHWM) of `dev` | | {} | | |\n",
            m.idle
                .peak_rss_mb
                .map_or_else(|| "n/a".into(), |mb| format!("{mb:.1} MB"))
        ),
        guardian_memory_row(m.idle.guardian),
        format!(
            "| cargo's own up-to-date check (`cargo build -p xtask`, nothing to do; paid by every `cargo xtask`, not in the rows above) | | {} | | |\n",
            m.cargo.summary()
        ),
    ]
}

/// The guardian's memory while `dev` runs: its own pages (USS) against the 2 MB
/// target; its RSS also counts the binary's pages it shares with `dev`.
fn guardian_memory_row(memory: Option<measure::GuardianMemory>) -> String {
    match memory {
        Some(m) => format!(
            "| memory of the guardian while `dev` runs: its own (USS: private pages) / resident (RSS, with the pages of the binary and libc it shares with `dev`) / peak RSS | under 2 MB (its own) | {:.1} MB / {:.1} MB / {:.1} MB | | {} |\n",
            m.private_mb,
            m.rss_mb,
            m.peak_rss_mb,
            verdict(Some(m.private_mb), 2.0)
        ),
        None => "| memory of the guardian while `dev` runs: its own (USS: private pages) / resident (RSS, with the pages of the binary and libc it shares with `dev`) / peak RSS | under 2 MB (its own) | n/a | | n/a |\n".into(),
    }
}

const HOW: &str = "\nHow each row is measured:\n\n\
- Ready detection: the fake backend (`tests/fixtures/fake_backend.py`) writes the instant it can first answer `/health`; `dev -- sh -c 'date +%s%N > mark'` writes the instant it starts the frontend; the latency is the difference (it includes about 1 ms to fork `date`). The peers wait for the same backend, started by the bench, and run the same mark command. The floor is the least a waiter can do, in the bench's own process: a connect every 0.5 ms, one `GET` on the connection that connected, then the mark's `sh` spawned with `posix_spawn` (no ownership check, no parent-death signal, no log).\n\
- Frontend ready: a frontend (a few lines of Python) opens `FRONTEND_PORT` after a random delay and writes the instant it listens; `dev` (fake backend, this frontend) is timed to the moment the bench reads its `frontend ready:` line from the pipe, `wait-on tcp:127.0.0.1:PORT && date +%s%N > mark` to its mark.\n\
- Process ready: `[process.svc]` (a few lines of Python) opens its port after a random delay and writes the instant it listens; `[process.mark]` (`after = [\"svc\"]`) is `sh -c 'date +%s%N > mark'`, under `dev --no-frontend`; the latency is the difference, as for the backend's row (which also waits for an HTTP answer; this one for the port only).\n\
- Reuse: a fake backend of this checkout is already running; from spawning `dev` (or `wait-on`) to the mark.\n\
- Save -> healthy again: a copy of the reference backend (`backend/main.py`, the repository's venv) under `dev --no-frontend` and, separately, under `python -m uvicorn main:app --reload`; a comment is appended to `main.py` and the time runs until `/health` answers 200 from a new pid (polled every 5 ms). The cold start is the same backend started by hand until its `/health` answers.\n\
- Holder: a port held by `python3 -m http.server`; in process is `port::who_holds` (socket table, process details, next free port); the commands are timed from spawn to exit.\n\
- CPU: utime + stime of the `dev` process itself (not its children) over the window, after the backend is ready, with liveness probes and a watched `backend/` folder.\n\
- Guardian: the rows without it run the same `dev` with `DEV_GUARDIAN=false`, one run with and one without in turn; its memory is read from `/proc/<pid>/smaps_rollup` (`Private_Clean` + `Private_Dirty`) and `/proc/<pid>/status` of the guardian of the `dev` measured for CPU, at the end of the window.\n";

/// Installs the peers with npm; `None` when Node or npm is missing or the install fails.
fn install_peers(dir: &Path) -> Option<PathBuf> {
    let bin = dir.join("node_modules/.bin");
    if bin.join("wait-on").exists() && bin.join("concurrently").exists() {
        return Some(bin);
    }
    coordinator::which::which("npm")?;
    std::fs::create_dir_all(dir).ok()?;
    // A run-to-completion command with no deadline to keep: xshell's job (its error
    // names the command and keeps the output).
    let sh = xshell::Shell::new().ok()?;
    let peers = PEERS;
    let installed = xshell::cmd!(
        sh,
        "npm install --no-audit --no-fund --silent --prefix {dir} {peers...}"
    )
    .env("npm_config_update_notifier", "false")
    .quiet()
    .run();
    if let Err(err) = installed {
        eprintln!("bench: the peers could not be installed: {err}");
        return None;
    }
    bin.join("wait-on").exists().then_some(bin)
}

/// CPU model, cores, memory and kernel.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|m| m.split_whitespace().next()?.parse::<u64>().ok())
        .map_or_else(
            || "? GiB".into(),
            |kb| format!("{:.0} GiB", kb as f64 / 1_048_576.0),
        );
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    format!("{model}, {cores} cores, {memory}, Linux {kernel}")
}
