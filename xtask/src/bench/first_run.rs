//! `cargo xtask bench --first-run`: what a new contributor waits for on a fresh machine,
//! from `git clone` to the `frontend ready:` line, with nothing cached (an empty
//! `CARGO_HOME`, so every crate is downloaded; empty pip and uv caches; no target folder,
//! no venv), and the cold `cargo build -p xtask` of a second clone with the registry warm.
//!
//! It clones the committed `HEAD` of this checkout (uncommitted changes are not in the
//! clone: the row says which commit it measured). The clone's `dev` runs on ports the
//! bench picks, in its own process group, and is stopped with SIGINT as a person would,
//! then killed with its group on every path.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::BenchError;
use super::measure::{Group, free_port};

/// How long the first run may take before the bench gives up on it.
const FIRST_RUN_LIMIT: Duration = Duration::from_secs(900);

/// The first run's phases, each from the start of `git clone`.
#[derive(Debug, Default)]
pub struct FirstRun {
    /// The commit measured.
    pub commit: String,
    /// `git clone` done.
    pub cloned: Option<Duration>,
    /// `dev`'s first line: downloads and build done.
    pub built: Option<Duration>,
    /// The venv created and its packages installed.
    pub synced: Option<Duration>,
    /// The `frontend ready:` line.
    pub ready: Option<Duration>,
    /// Cold `cargo build -p xtask` of another clone, registry warm.
    pub cold_build: Option<Duration>,
    /// Why a phase has no number, when it has none.
    pub failed: Option<String>,
}

/// Clones `root` twice into a temporary folder and times both runs.
pub fn measure(root: &Path, progress: &dyn Fn(&str)) -> Result<FirstRun, BenchError> {
    let scratch =
        tempfile::tempdir().map_err(|e| BenchError(format!("no temporary folder: {e}")))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut first = FirstRun {
        commit: head(root)?,
        ..FirstRun::default()
    };
    progress("first run: clone, an empty CARGO_HOME, cargo xtask dev until frontend ready");
    first_run(root, scratch.path(), &cargo, &mut first);
    progress("cold build: another clone, the registry warm, cargo build -p xtask");
    let clone = scratch.path().join("cold");
    if clone_into(root, &clone).is_ok() {
        let mut build = Command::new(&cargo);
        build
            .args(["build", "--quiet", "-p", "xtask"])
            .current_dir(&clone)
            .env_remove("CARGO_TARGET_DIR")
            // What a new user gets: the profile as committed, not a contributor's override.
            .env_remove("CARGO_INCREMENTAL")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let built_at = Instant::now();
        if matches!(Group::spawn(build).map(|mut g| g.wait(FIRST_RUN_LIMIT)), Ok(Some(s)) if s.success())
        {
            first.cold_build = Some(built_at.elapsed());
        }
    }
    Ok(first)
}

fn head(root: &Path) -> Result<String, BenchError> {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .map_err(|e| BenchError(format!("git rev-parse in {}: {e}", root.display())))?;
    if !out.status.success() {
        return Err(BenchError(format!(
            "{} is not a git checkout: --first-run clones its HEAD",
            root.display()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn clone_into(root: &Path, to: &Path) -> Result<(), BenchError> {
    let status = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(root)
        .arg(to)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| BenchError(format!("git clone: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(BenchError(format!("git clone {} failed", root.display())))
    }
}

/// The clone, then `cargo xtask dev` with nothing cached, to its `frontend ready:` line.
fn first_run(root: &Path, scratch: &Path, cargo: &str, first: &mut FirstRun) {
    let started = Instant::now();
    let clone = scratch.join("fresh");
    if let Err(err) = clone_into(root, &clone) {
        first.failed = Some(err.0);
        return;
    }
    first.cloned = Some(started.elapsed());
    let mut dev = Command::new(cargo);
    dev.args(["xtask", "dev"])
        .current_dir(&clone)
        .env_remove("CARGO_TARGET_DIR")
        // What a new user gets: the profile as committed, not a contributor's override.
        .env_remove("CARGO_INCREMENTAL")
        .env("CARGO_HOME", empty(scratch, "cargo-home"))
        .env("PIP_CACHE_DIR", empty(scratch, "pip-cache"))
        .env("UV_CACHE_DIR", empty(scratch, "uv-cache"))
        .env("BACKEND_PORT", free_port().to_string())
        .env("DEV_FRONTEND_PORT", free_port().to_string())
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The toolchain itself is not part of a fresh clone's cost: rustup's proxies find it
    // through RUSTUP_HOME, which stays as it is.
    let Ok(mut group) = Group::spawn(dev) else {
        first.failed = Some(format!("cannot start {cargo} xtask dev"));
        return;
    };
    let (sender, lines) = mpsc::channel::<(Instant, String)>();
    for pipe in [
        group
            .0
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        group
            .0
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let sender = sender.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if sender.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
    }
    drop(sender);
    let mut tail = Vec::new();
    while let Ok((at, line)) = lines.recv_timeout(FIRST_RUN_LIMIT.saturating_sub(started.elapsed()))
    {
        let since = at.duration_since(started);
        if first.built.is_none() && line.starts_with("[dev] ") {
            first.built = Some(since);
        }
        if first.synced.is_none() && line.contains(".venv") && line.contains("done") {
            first.synced = Some(since);
        }
        if line.contains("frontend ready: ") {
            first.ready = Some(since);
            break;
        }
        tail.push(line);
        if tail.len() > 20 {
            tail.remove(0);
        }
    }
    if first.ready.is_none() {
        first.failed = Some(format!(
            "no `frontend ready:` line within {} s; the last lines:\n{}",
            FIRST_RUN_LIMIT.as_secs(),
            tail.join("\n")
        ));
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(group.pid() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    group.wait(Duration::from_secs(15));
}

fn empty(scratch: &Path, name: &str) -> PathBuf {
    let dir = scratch.join(name);
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn secs(value: Option<Duration>) -> String {
    value.map_or_else(|| "n/a".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

/// The markdown section `--first-run` writes into `BENCHMARKS.md` (and the full bench
/// keeps as it is).
pub fn section(first: &FirstRun) -> String {
    let verdict = |value: Option<Duration>, target: u64| match value {
        Some(d) if d < Duration::from_secs(target) => "met",
        Some(_) => "**not met**",
        None => "n/a",
    };
    let mut out = format!("{BEGIN}\n## First run\n\n");
    out.push_str(&format!(
        "Written by `cargo xtask bench --first-run` (commit `{}`, {}).\n\n",
        first.commit,
        super::machine()
    ));
    out.push_str("| what | target | measured | met? |\n|---|---|---|---|\n");
    out.push_str(&format!(
        "| fresh clone -> `frontend ready` (empty `CARGO_HOME`: every crate downloaded; empty pip/uv caches) | under 90 s | {} (clone {}, downloads + build until dev's first line {}, venv {}) | {} |\n",
        secs(first.ready),
        secs(first.cloned),
        secs(first.built),
        secs(first.synced),
        verdict(first.ready, 90)
    ));
    out.push_str(&format!(
        "| cold `cargo build -p xtask` (fresh clone, registry warm) | under 50 s | {} | {} |\n",
        secs(first.cold_build),
        verdict(first.cold_build, 50)
    ));
    if let Some(why) = &first.failed {
        out.push_str(&format!("\nNot measured: {why}\n"));
    }
    out.push_str(&format!("{END}\n"));
    out
}

const BEGIN: &str = "<!-- first-run: begin -->";
const END: &str = "<!-- first-run: end -->";

/// The first-run section of an existing `BENCHMARKS.md`, to carry it over.
pub fn existing_section(markdown: &str) -> Option<&str> {
    let start = markdown.find(BEGIN)?;
    let end = markdown[start..].find(END)? + start + END.len();
    Some(&markdown[start..end])
}

/// `markdown` with its first-run section replaced by `section` (appended if it had none).
pub fn with_section(markdown: &str, section: &str) -> String {
    match existing_section(markdown) {
        Some(old) => markdown.replacen(old, section.trim_end(), 1),
        None => format!("{}\n\n{}", markdown.trim_end(), section),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_is_replaced_in_place_or_appended() {
        let first = FirstRun {
            commit: "abc".into(),
            ready: Some(Duration::from_secs(80)),
            cold_build: Some(Duration::from_secs(55)),
            ..FirstRun::default()
        };
        let section = section(&first);
        assert!(section.contains("| 80.0 s (clone n/a"), "{section}");
        assert!(section.contains("| 55.0 s | **not met** |"), "{section}");
        let appended = with_section("# Benchmarks\n\n| a |\n", &section);
        assert!(appended.starts_with("# Benchmarks\n\n| a |\n\n<!-- first-run: begin -->"));
        let replaced = with_section(&appended, &section.replace("abc", "def"));
        assert_eq!(replaced.matches(BEGIN).count(), 1, "{replaced}");
        assert!(replaced.contains("`def`") && !replaced.contains("`abc`"));
    }
}
