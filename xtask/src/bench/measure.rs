//! The individual measurements. Each one starts what it measures, and stops it: the
//! processes it spawns live in their own process groups and are killed on every path.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::stats::Samples;

/// Everything a measurement needs to know.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The `xtask` binary under test.
    pub exe: PathBuf,
    /// The real Python interpreter (not a shim), for the fake backend.
    pub python: PathBuf,
    pub fake_backend: PathBuf,
    /// Where runs write their files.
    pub scratch: PathBuf,
    /// `node_modules/.bin` of the installed peers, when there are peers.
    pub peers: Option<PathBuf>,
    pub runs: usize,
    /// Variables set for every `dev` the bench starts (`DEV_GUARDIAN=false` for the
    /// runs without the guardian).
    pub env: Vec<(String, String)>,
}

impl Setup {
    /// The same, with `dev`'s guardian turned off, for the "with vs without" rows.
    pub fn unguarded(&self) -> Setup {
        let mut env = self.env.clone();
        env.push(("DEV_GUARDIAN".into(), "false".into()));
        Setup {
            env,
            ..self.clone()
        }
    }
}

/// A child in its own process group, killed (group and all) when dropped.
pub struct Group(pub Child);

impl Group {
    pub fn spawn(mut command: Command) -> std::io::Result<Group> {
        command.process_group(0).stdin(Stdio::null());
        command.spawn().map(Group)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits for the exit up to `timeout`; `None` if it is still running.
    pub fn wait(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.0.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}

pub fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

pub(super) fn read_ns(path: &Path) -> Option<u128> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Polls for a file's timestamp up to `timeout`.
pub(super) fn wait_ns(path: &Path, timeout: Duration) -> Option<u128> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(ns) = read_ns(path) {
            return Some(ns);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// `sh -c 'date +%s%N > FILE'`: "the frontend started", as the peers' harness marks it.
pub(super) fn mark(file: &Path) -> String {
    format!("date +%s%N > '{}'", file.display())
}

/// A temporary checkout whose backend is the fake backend with `args`.
pub(super) fn checkout(setup: &Setup, name: &str, port: u16, args: &[String]) -> PathBuf {
    let dir = setup.scratch.join("checkouts").join(name);
    let _ = std::fs::create_dir_all(&dir);
    let mut command = vec![
        setup.python.display().to_string(),
        setup.fake_backend.display().to_string(),
    ];
    command.extend(args.iter().cloned());
    let command = serde_json::to_string(&command).unwrap_or_default();
    let toml = format!(
        "[backend]\ncommand = {command}\nport = {port}\nstartup_timeout = \"30s\"\n\n[frontend]\nconfig_file = \"none.json\"\n\n[dev]\nshutdown_grace = \"2s\"\n"
    );
    let _ = std::fs::write(dir.join("dev.toml"), toml);
    dir
}

pub(super) fn xtask(setup: &Setup, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(&setup.exe);
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("BACKEND_") || name.starts_with("FRONTEND_") || name.starts_with("DEV_")
        {
            command.env_remove(name);
        }
    }
    command.envs(setup.env.iter().map(|(k, v)| (k, v)));
    command
}

/// A pseudo-random delay in `[0, span)` ms, without a `rand` dependency.
pub(super) fn jitter(run: usize, span: u64) -> u64 {
    let mut x = (run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (now_ns() as u64);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x % span
}

/// Which waiter a ready-latency run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    Dev,
    ConcurrentlyWaitOn,
    PollOneSecond,
    /// A client that checks nothing (see [`floor`]): the floor of this machine.
    Floor,
}

/// Backend ready -> the waiter starts the next command, per run.
pub fn ready_latency(setup: &Setup, waiter: Waiter) -> Samples {
    let mut samples = Vec::new();
    for run in 0..setup.runs {
        let port = free_port();
        let delay = 300 + jitter(run, 1000);
        let ready = setup.scratch.join(format!("ready-{port}"));
        let marked = setup.scratch.join(format!("mark-{port}"));
        let fake_args = vec![
            "--delay-ms".to_owned(),
            delay.to_string(),
            "--ready-file".to_owned(),
            ready.display().to_string(),
        ];
        let url = format!("http://127.0.0.1:{port}/health");
        let mut backend = None;
        let waiter_command = match waiter {
            Waiter::Dev => {
                let dir = checkout(setup, &format!("ready-{port}"), port, &fake_args);
                let mut command = xtask(setup, &dir, &["dev", "--no-sync", "--", "sh", "-c"]);
                command.arg(mark(&marked));
                Some(command)
            }
            Waiter::ConcurrentlyWaitOn | Waiter::PollOneSecond | Waiter::Floor => {
                let mut fake = Command::new(&setup.python);
                fake.arg(&setup.fake_backend)
                    .args(&fake_args)
                    .env("BACKEND_PORT", port.to_string())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                backend = Group::spawn(fake).ok();
                if waiter == Waiter::Floor {
                    // In this process: the waiter's own start is not timed by any row.
                    floor(port, &marked);
                }
                let script = match waiter {
                    Waiter::Floor => Some("true".to_owned()),
                    // concurrently re-splits its command string: no quotes inside it.
                    Waiter::ConcurrentlyWaitOn => setup.peers.as_ref().map(|bin| {
                        format!(
                            "{0}/concurrently --raw \"{0}/wait-on {1} && date +%s%N > {2}\"",
                            bin.display(),
                            wait_on_url(&url),
                            marked.display()
                        )
                    }),
                    _ => Some(format!(
                        "'{}' -c \"{}\" && {}",
                        setup.python.display(),
                        POLL_1S.replace("URL", &url),
                        mark(&marked)
                    )),
                };
                script.map(|script| {
                    let mut command = Command::new("sh");
                    command
                        .args(["-c", &script])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null());
                    command
                })
            }
        };
        let Some(command) = waiter_command else {
            return Samples::default();
        };
        let Ok(mut group) = Group::spawn(command) else {
            continue;
        };
        let declared = wait_ns(&marked, Duration::from_secs(40));
        let became_ready = read_ns(&ready);
        group.wait(Duration::from_secs(10));
        drop(group);
        drop(backend);
        if let (Some(declared), Some(ready)) = (declared, became_ready) {
            samples.push((declared as f64 - ready as f64) / 1e6);
        }
    }
    Samples(samples)
}

/// The floor of the ready row on this machine: a client that checks nothing and does
/// the least a waiter can: a connect every 0.5 ms, one `GET` on the connection that
/// connected (the fake answers 200 as soon as it serves), then the mark's `sh`, spawned
/// as std spawns without a `pre_exec` (`posix_spawn`). No ownership, no parent-death
/// signal, no log.
fn floor(port: u16, marked: &Path) {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut stream = loop {
        if let Ok(stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            break stream;
        }
        if Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let request = format!("GET /health HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return;
    }
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        if length.is_some_and(|length| body.len() >= length) {
            if head.starts_with("http/1.1 200") {
                let _ = Command::new("sh")
                    .args(["-c", &mark(marked)])
                    .spawn()
                    .map(|mut sh| sh.wait());
            }
            return;
        }
    }
}

/// wait-on sends HEAD for `http://`, which FastAPI (and the fake backend, like it)
/// answers with 405 forever; `http-get://` is how a team must write it for this app.
fn wait_on_url(url: &str) -> String {
    url.replacen("http://", "http-get://", 1)
}

/// The naive "poll every second" waiter, as a team would write it.
const POLL_1S: &str = "import time, urllib.request as u\nwhile True:\n    try:\n        u.build_opener(u.ProxyHandler({})).open('URL', timeout=2); break\n    except Exception:\n        time.sleep(1)";

/// An already running backend: process start -> the frontend started.
pub fn reuse(setup: &Setup, peer: bool) -> Samples {
    let port = free_port();
    let dir = checkout(setup, &format!("reuse-{port}"), port, &[]);
    let mut fake = Command::new(&setup.python);
    fake.arg(&setup.fake_backend)
        .current_dir(&dir)
        .env("BACKEND_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let Ok(_backend) = Group::spawn(fake) else {
        return Samples::default();
    };
    if !wait_listening(port, Duration::from_secs(20)) {
        return Samples::default();
    }
    let url = format!("http://127.0.0.1:{port}/health");
    let mut samples = Vec::new();
    for run in 0..setup.runs {
        let marked = setup.scratch.join(format!("reuse-mark-{port}-{run}"));
        let command = if peer {
            let Some(bin) = &setup.peers else {
                return Samples::default();
            };
            let mut command = Command::new("sh");
            command
                .args([
                    "-c",
                    &format!(
                        "{}/wait-on {} && {}",
                        bin.display(),
                        wait_on_url(&url),
                        mark(&marked)
                    ),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            command
        } else {
            let mut command = xtask(setup, &dir, &["dev", "--no-sync", "--", "sh", "-c"]);
            command.arg(mark(&marked));
            command
        };
        let started = now_ns();
        let Ok(mut group) = Group::spawn(command) else {
            continue;
        };
        let declared = wait_ns(&marked, Duration::from_secs(20));
        group.wait(Duration::from_secs(10));
        if let Some(declared) = declared {
            samples.push((declared as f64 - started as f64) / 1e6);
        }
    }
    Samples(samples)
}

pub fn wait_listening(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Who holds a port held by `python3 -m http.server`: in process, and each command.
pub struct HolderTimes {
    pub in_process: Samples,
    pub commands: Vec<(String, Samples)>,
}

pub fn holder(setup: &Setup) -> HolderTimes {
    let port = free_port();
    let mut server = Command::new(&setup.python);
    server
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(&setup.scratch)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut times = HolderTimes {
        in_process: Samples::default(),
        commands: Vec::new(),
    };
    let Ok(_server) = Group::spawn(server) else {
        return times;
    };
    if !wait_listening(port, Duration::from_secs(20)) {
        return times;
    }
    for _ in 0..setup.runs {
        let started = Instant::now();
        let found = coordinator::port::who_holds(port);
        times
            .in_process
            .0
            .push(started.elapsed().as_secs_f64() * 1e3);
        debug_assert!(found.is_some());
    }
    let p = port.to_string();
    let mut commands: Vec<(String, Command)> = Vec::new();
    let mut ours = Command::new(&setup.exe);
    ours.args(["port", &p]);
    commands.push(("`cargo xtask port` (binary)".into(), ours));
    if coordinator::which::which("ss").is_some() {
        let mut ss = Command::new("ss");
        ss.args(["-ltnp", &format!("sport = :{port}")]);
        commands.push(("`ss -ltnp` (no alternative)".into(), ss));
    }
    if coordinator::which::which("lsof").is_some() {
        let mut lsof = Command::new("lsof");
        lsof.args(["-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN"]);
        commands.push(("`lsof` (no alternative)".into(), lsof));
    }
    for (name, mut command) in commands {
        command.stdout(Stdio::null()).stderr(Stdio::null());
        times
            .commands
            .push((name, time_command(&mut command, setup.runs)));
    }
    times
}

/// Wall time of a command from spawn to exit, `runs` times.
pub fn time_command(command: &mut Command, runs: usize) -> Samples {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        if command.status().is_ok() {
            samples.push(started.elapsed().as_secs_f64() * 1e3);
        }
    }
    Samples(samples)
}

/// `dev` supervising an idle backend: its own CPU share over `window`, and its peak
/// resident memory (VmHWM).
pub struct Idle {
    pub cpu_percent: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// The guardian's memory meanwhile: what is its own (USS: private pages, which go
    /// when it goes) and its resident set (RSS, which also counts the pages of the
    /// binary and the C library it shares with `dev`).
    pub guardian: Option<GuardianMemory>,
}

/// The guardian's memory, in MB.
#[derive(Debug, Clone, Copy)]
pub struct GuardianMemory {
    pub private_mb: f64,
    pub rss_mb: f64,
    pub peak_rss_mb: f64,
}

pub fn idle(setup: &Setup, window: Duration) -> Idle {
    let mut idle = Idle {
        cpu_percent: None,
        peak_rss_mb: None,
        guardian: None,
    };
    let port = free_port();
    let dir = checkout(setup, &format!("idle-{port}"), port, &[]);
    // Something to watch, as in a real checkout: idle CPU includes the watch.
    let _ = std::fs::create_dir_all(dir.join("backend/app"));
    let _ = std::fs::write(dir.join("backend/app/routes.py"), "x = 1\n");
    let command = xtask(setup, &dir, &["dev", "--no-sync", "--no-frontend"]);
    let Ok(mut dev) = Group::spawn(command) else {
        return idle;
    };
    if !wait_healthy(port, Duration::from_secs(30)) {
        return idle;
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = dev.pid();
    let before = cpu_ticks(pid);
    let started = Instant::now();
    std::thread::sleep(window);
    let after = cpu_ticks(pid);
    let elapsed = started.elapsed().as_secs_f64();
    if let (Some(before), Some(after)) = (before, after) {
        // Clock ticks are 1/100 s on every Linux this runs on (USER_HZ).
        idle.cpu_percent = Some((after - before) as f64 / 100.0 / elapsed * 100.0);
    }
    idle.peak_rss_mb = peak_rss_kb(pid).map(|kb| kb as f64 / 1024.0);
    idle.guardian = guardian_of(pid).and_then(guardian_memory);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    dev.wait(Duration::from_secs(10));
    idle
}

fn wait_healthy(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
                && response.lines().next().is_some_and(|l| l.contains(" 200 "))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The guardian `dev` (pid `dev`) started: its child whose command line says so.
fn guardian_of(dev: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    stat.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                });
            parent == Some(dev)
                && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                    raw.split(|b| *b == 0)
                        .any(|arg| arg == coordinator::guardian::SUBCOMMAND.as_bytes())
                })
        })
}

fn guardian_memory(pid: u32) -> Option<GuardianMemory> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let kb = |text: &str, key: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let private = kb(&rollup, "Private_Clean:")? + kb(&rollup, "Private_Dirty:")?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(GuardianMemory {
        private_mb: private as f64 / 1024.0,
        rss_mb: kb(&status, "VmRSS:")? as f64 / 1024.0,
        peak_rss_mb: kb(&status, "VmHWM:")? as f64 / 1024.0,
    })
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A frontend that opens `FRONTEND_PORT` after `argv[1]` ms, writes the instant it
/// listens to `argv[2]`, then accepts (and closes) connections until killed.
pub(super) const LATE_FRONTEND: &str = "import os, socket, sys, time\ntime.sleep(float(sys.argv[1]) / 1000)\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', int(os.environ['FRONTEND_PORT'])))\ns.listen(64)\nopen(sys.argv[2], 'w').write(str(time.time_ns()))\nwhile True:\n    s.accept()[0].close()";

/// The frontend's port opening -> `dev`'s "frontend ready" line (or, for the peer,
/// `wait-on tcp:` starting the next command), per run.
pub fn frontend_ready(setup: &Setup, peer: bool) -> Samples {
    let mut samples = Vec::new();
    for run in 0..setup.runs {
        let (port, frontend_port) = (free_port(), free_port());
        let delay = (300 + jitter(run, 1000)).to_string();
        let listened = setup.scratch.join(format!("listened-{frontend_port}"));
        let frontend = [
            setup.python.display().to_string(),
            "-c".into(),
            LATE_FRONTEND.into(),
            delay,
            listened.display().to_string(),
        ];
        let declared = if peer {
            let Some(bin) = &setup.peers else {
                return Samples::default();
            };
            peer_frontend_ready(&frontend, frontend_port, bin, &setup.scratch)
        } else {
            dev_frontend_ready(setup, port, frontend_port, &frontend)
        };
        if let (Some(declared), Some(opened)) = (declared, read_ns(&listened)) {
            samples.push((declared as f64 - opened as f64) / 1e6);
        }
    }
    Samples(samples)
}

/// `dev` with the late frontend: the instant its "frontend ready" line is read.
fn dev_frontend_ready(
    setup: &Setup,
    port: u16,
    frontend_port: u16,
    frontend: &[String],
) -> Option<u128> {
    let dir = checkout(setup, &format!("frontend-{port}"), port, &[]);
    let toml = std::fs::read_to_string(dir.join("dev.toml")).ok()?;
    let command = serde_json::to_string(frontend).ok()?;
    let toml = toml.replace(
        "[frontend]\n",
        &format!("[frontend]\ncommand = {command}\nport = {frontend_port}\n"),
    );
    std::fs::write(dir.join("dev.toml"), toml).ok()?;
    let mut command = xtask(setup, &dir, &["dev", "--no-sync"]);
    command.stdout(Stdio::piped());
    let mut group = Group::spawn(command).ok()?;
    let stdout = group.0.stdout.take()?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("frontend ready: ") {
                let _ = sender.send(now_ns());
            }
        }
    });
    let declared = receiver.recv_timeout(Duration::from_secs(40)).ok();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(group.pid() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    group.wait(Duration::from_secs(10));
    declared
}

/// The same late frontend, waited for by `wait-on tcp:` and the mark command.
fn peer_frontend_ready(
    frontend: &[String],
    frontend_port: u16,
    bin: &Path,
    scratch: &Path,
) -> Option<u128> {
    let (program, args) = frontend.split_first()?;
    let mut late = Command::new(program);
    late.args(args)
        .env("FRONTEND_PORT", frontend_port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _frontend = Group::spawn(late).ok()?;
    let marked = scratch.join(format!("frontend-mark-{frontend_port}"));
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            &format!(
                "{}/wait-on tcp:127.0.0.1:{frontend_port} && {}",
                bin.display(),
                mark(&marked)
            ),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut group = Group::spawn(command).ok()?;
    let declared = wait_ns(&marked, Duration::from_secs(40));
    group.wait(Duration::from_secs(10));
    declared
}
