//! `bench`: the speed targets of DESIGN section 11, measured next to the tools people
//! use today, in one run on one machine, and written to `BENCHMARKS.md`.
//!
//! It times the built binary directly; cargo's own up-to-date check, which every
//! `cargo xtask` pays, is measured and reported on its own row rather than hidden.
//! Peers (`wait-on`, `concurrently`) are installed with npm into `target/bench-peers`
//! when Node and npm are present; without them their cells say so. Never part of the
//! test suite's pass/fail: the suite only runs `--quick` to prove the bench works.

mod measure;
mod stats;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use measure::{Setup, Waiter};
use stats::Samples;

/// The peers' versions, as the shared harness pins them.
const PEERS: &[&str] = &["wait-on@9.5.1", "concurrently@9.2.5"];

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

/// Runs every measurement and returns the markdown report.
pub fn run(
    root: &Path,
    options: &BenchOptions,
    progress: &dyn Fn(&str),
) -> Result<String, BenchError> {
    let python = crate::python::discover()
        .map_err(|err| BenchError(format!("{err}; fix: {}", err.fix())))?
        .executable;
    let fake_backend = root.join("tests/fixtures/fake_backend.py");
    if !fake_backend.is_file() {
        return Err(BenchError(format!(
            "{} is missing: run the bench from this repository's checkout",
            fake_backend.display()
        )));
    }
    let scratch =
        tempfile::tempdir().map_err(|e| BenchError(format!("no temporary folder: {e}")))?;
    let peers = if options.quick {
        None
    } else {
        progress("installing the peers (wait-on, concurrently) with npm");
        install_peers(&root.join("target/bench-peers"))
    };
    let runs = if options.quick { 3 } else { 20 };
    let setup = Setup {
        exe: options.exe.clone(),
        python,
        fake_backend,
        scratch: scratch.path().to_path_buf(),
        peers,
        runs,
    };
    let peer_note = if setup.peers.is_some() {
        ""
    } else {
        " (peers not installed: no Node/npm, or --quick)"
    };

    progress("ready-detection latency: dev");
    let (ready_dev, ready_baseline) = match &options.baseline {
        None => (measure::ready_latency(&setup, Waiter::Dev), None),
        Some(exe) => {
            progress("  interleaved with the baseline binary, one run each in turn");
            let (current, baseline) = interleaved(&setup, exe);
            (current, Some((exe, baseline)))
        }
    };
    progress("ready-detection latency: concurrently + wait-on");
    let ready_peer = measure::ready_latency(&setup, Waiter::ConcurrentlyWaitOn);
    progress("ready-detection latency: a 1 s poll");
    let ready_poll = measure::ready_latency(&setup, Waiter::PollOneSecond);
    progress("frontend readiness: dev");
    let frontend_dev = measure::frontend_ready(&setup, false);
    progress("frontend readiness: wait-on tcp:");
    let frontend_peer = measure::frontend_ready(&setup, true);
    progress("reuse path");
    let reuse_dev = measure::reuse(&setup, false);
    let reuse_peer = measure::reuse(&setup, true);
    progress("holder lookup");
    let holder = measure::holder(&setup);
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
    let idle = measure::idle(&setup, window);
    let cargo = if options.quick {
        Samples::default()
    } else {
        progress("cargo's up-to-date check");
        let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cargo = Command::new(cargo_bin);
        cargo
            .args(["build", "--quiet", "-p", "xtask"])
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        measure::time_command(&mut cargo, 5)
    };

    let verdict = |value: Option<f64>, target: f64| match value {
        Some(v) if v <= target => "met",
        Some(_) => "**not met**",
        None => "n/a",
    };
    let mut table =
        String::from("| what | target | dev | peers, same run | met? |\n|---|---|---|---|---|\n");
    let both = match (ready_dev.pct(50.0), ready_dev.pct(90.0)) {
        (Some(a), Some(b)) if a <= 10.0 && b <= 20.0 => "met",
        (Some(_), Some(_)) => "**not met**",
        _ => "n/a",
    };
    table.push_str(&format!(
        "| backend ready -> `dev` starts the frontend (p50 / p90 / max, {} runs, backend ready after 300 ms + U[0, 1000) ms) | 10 / 20 ms | {} | `concurrently` + `wait-on`: {}; a 1 s poll: {}{peer_note} | {both} |\n",
        runs,
        ready_dev.summary(),
        ready_peer.summary(),
        ready_poll.summary(),
    ));
    if let Some((exe, baseline)) = &ready_baseline {
        table.push_str(&format!(
            "| the same, baseline binary `{}` (runs interleaved with the row above) | 10 / 20 ms | {} | | {} |\n",
            exe.display(),
            baseline.summary(),
            verdict(baseline.pct(50.0), 10.0)
        ));
    }
    table.push_str(&format!(
        "| frontend's port opens -> `dev` prints the frontend-ready line (p50 / p90 / max, frontend listening after 300 ms + U[0, 1000) ms) | 20 ms (p50) | {} | `wait-on tcp:` starts the next command: {}{peer_note} | {} |\n",
        frontend_dev.summary(),
        frontend_peer.summary(),
        verdict(frontend_dev.pct(50.0), 20.0)
    ));
    table.push_str(&format!(
        "| already-running backend: process start -> frontend started (p50 / p90 / max) | under 30 ms | {} | `wait-on` alone: {}{peer_note} | {} |\n",
        reuse_dev.summary(),
        reuse_peer.summary(),
        verdict(reuse_dev.pct(50.0), 30.0)
    ));
    let commands: Vec<String> = holder
        .commands
        .iter()
        .map(|(name, samples)| format!("{name}: {}", samples.median()))
        .collect();
    table.push_str(&format!(
        "| who holds port P, with the free alternative (p50) | under 10 ms | in process: {} | {} | {} |\n",
        holder.in_process.median(),
        commands.join("; "),
        verdict(holder.in_process.pct(50.0), 10.0)
    ));
    table.push_str(&format!(
        "| `doctor`, all checks, wall time (p50 / p90 / max) | under 300 ms | {} | | {} |\n",
        doctor.summary(),
        verdict(doctor.pct(50.0), 300.0)
    ));
    table.push_str(&format!(
        "| CPU of `dev` supervising an idle backend ({} s) | under 1% | {} | | {} |\n",
        window.as_secs(),
        idle.cpu_percent
            .map_or_else(|| "n/a".into(), |c| format!("{c:.2}%")),
        verdict(idle.cpu_percent, 1.0)
    ));
    table.push_str(&format!(
        "| peak memory (VmHWM) of `dev` | | {} | | |\n",
        idle.peak_rss_mb
            .map_or_else(|| "n/a".into(), |m| format!("{m:.1} MB"))
    ));
    table.push_str(&format!(
        "| cargo's own up-to-date check (`cargo build -p xtask`, nothing to do; paid by every `cargo xtask`, not in the rows above) | | {} | | |\n",
        cargo.summary()
    ));
    let mut report = String::from("# Benchmarks\n\n");
    report.push_str(
        "Written by `cargo xtask bench`; every number below is its output, none is edited by hand.\n\n",
    );
    report.push_str(&format!(
        "Reproduce: `cargo xtask bench` (binary timed: `{}`).\n\n",
        options.exe.display()
    ));
    report.push_str(&format!("Machine: {}\n\n", machine()));
    report.push_str(&table);
    report.push_str(
        "\nHow each row is measured:\n\n\
         - Ready detection: the fake backend (`tests/fixtures/fake_backend.py`) writes the instant it can first answer `/health`; `dev -- sh -c 'date +%s%N > mark'` writes the instant it starts the frontend; the latency is the difference (it includes about 1 ms to fork `date`). The peers wait for the same backend, started by the bench, and run the same mark command.\n\
         - Frontend ready: a frontend (a few lines of Python) opens `FRONTEND_PORT` after a random delay and writes the instant it listens; `dev` (fake backend, this frontend) is timed to the moment the bench reads its `frontend ready:` line from the pipe, `wait-on tcp:127.0.0.1:PORT && date +%s%N > mark` to its mark.\n\
         - Reuse: a fake backend of this checkout is already running; from spawning `dev` (or `wait-on`) to the mark.\n\
         - Holder: a port held by `python3 -m http.server`; in process is `port::who_holds` (socket table, process details, next free port); the commands are timed from spawn to exit.\n\
         - CPU: utime + stime of the `dev` process itself (not its children) over the window, after the backend is ready.\n",
    );
    if let Some(path) = &options.write {
        std::fs::write(path, &report)
            .map_err(|e| BenchError(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(report)
}

/// Ready detection of this binary and of `baseline`, one run of each in turn, so that
/// whatever else the machine does at the time weighs on both alike.
fn interleaved(setup: &Setup, baseline: &Path) -> (Samples, Samples) {
    let once = |exe: &Path| Setup {
        exe: exe.to_path_buf(),
        runs: 1,
        ..setup.clone()
    };
    let (mut current, mut before) = (Samples::default(), Samples::default());
    for _ in 0..setup.runs {
        current
            .0
            .extend(measure::ready_latency(&once(&setup.exe), Waiter::Dev).0);
        before
            .0
            .extend(measure::ready_latency(&once(baseline), Waiter::Dev).0);
    }
    (current, before)
}

/// Installs the peers with npm; `None` when Node or npm is missing or the install fails.
fn install_peers(dir: &Path) -> Option<PathBuf> {
    let bin = dir.join("node_modules/.bin");
    if bin.join("wait-on").exists() && bin.join("concurrently").exists() {
        return Some(bin);
    }
    crate::which::which("npm")?;
    std::fs::create_dir_all(dir).ok()?;
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(dir)
        .args(PEERS)
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .status()
        .ok()?;
    (status.success() && bin.join("wait-on").exists()).then_some(bin)
}

/// CPU model, cores, memory and kernel.
fn machine() -> String {
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
