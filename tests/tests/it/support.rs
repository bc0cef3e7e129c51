//! The test harness: temporary checkouts, free ports, the fake backend, and a handle on
//! a running `dev` whose output can be waited on.
//!
//! Rules it enforces: no fixed ports ([`free_port`]), no sleeping as synchronisation
//! ([`wait_until`] polls with a deadline), and every process it starts is killed when
//! its handle is dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The fake backend program (Python, stdlib only).
pub fn fake_backend() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake_backend.py")
}

/// The repository root (for tests of the reference app).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A port that is free on both loopback families right now, and that no other test of
/// this run is handed.
///
/// Ports come from below the kernel's ephemeral range, where no outgoing connection of
/// a concurrent test can take them between this call and the bind (a port from
/// `bind(0)` is in that range). They are handed out ten apart, so that the next free
/// port above one (what `dev --port auto` picks) is not another test's.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low: u32 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let (low, span) = (10_000u32, ephemeral_low.saturating_sub(10_100));
    let start = std::process::id() % span.max(1);
    for _ in 0..span / 10 {
        let n = NEXT.fetch_add(10, Ordering::Relaxed);
        let Ok(port) = u16::try_from(low + (start + n) % span) else {
            continue;
        };
        if is_free(port) {
            return port;
        }
    }
    // No range below the ephemeral ports: let the kernel choose.
    loop {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        if is_free(port) {
            return port;
        }
    }
}

/// A loopback port held by the test, as another program would hold it: one of
/// [`free_port`]'s, below the ephemeral range. A port from `bind(0)` is in that range,
/// and the next one above it, where `dev` moves, can be any outgoing connection's
/// source port at the moment the moved server binds it (a run failed so, once).
pub fn held_port() -> (TcpListener, u16) {
    loop {
        // Another test binary may take the port between the look and the bind.
        let port = free_port();
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            return (listener, port);
        }
    }
}

/// True when `port` can be bound on both loopback families.
pub fn is_free_port(port: u16) -> bool {
    is_free(port)
}

fn is_free(port: u16) -> bool {
    let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok();
    let v6 = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)));
    v4 && (v6.is_ok() || v6.is_err_and(|e| e.kind() == std::io::ErrorKind::AddrNotAvailable))
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    if kill(Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Reads a pid written by the fake backend (`--pid-file`, `--spawn-grandchild`).
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A temporary checkout: a folder with a `dev.toml`.
#[derive(Debug)]
pub struct Checkout {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Default for Checkout {
    fn default() -> Self {
        Self::new()
    }
}

impl Checkout {
    pub fn new() -> Checkout {
        Checkout {
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, content: &str) {
        let path = self.file(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// A `dev.toml` whose backend is the fake backend with `fake_args`, on this
    /// checkout's port, with short timings; `extra` lines go into `[backend]` (and
    /// replace the defaults here for the keys they set), `rest` after everything.
    pub fn fake_config(&self, fake_args: &[&str], extra: &str, rest: &str) {
        let mut command = vec!["python3".to_owned(), fake_backend().display().to_string()];
        command.extend(fake_args.iter().map(|a| (*a).to_owned()));
        let command = serde_json::to_string(&command).unwrap();
        let mut backend = vec![
            format!("command = {command}"),
            format!("port = {}", self.port),
        ];
        for default in ["startup_timeout = \"10s\"", "retry_delay = \"100ms\""] {
            let key = default.split(' ').next().unwrap();
            if !extra.lines().any(|line| line.starts_with(key)) {
                backend.push(default.to_owned());
            }
        }
        backend.extend(extra.lines().map(str::to_owned));
        self.write(
            "dev.toml",
            &format!(
                "[backend]\n{}\n\n[frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n\
                 [dev]\nshutdown_grace = \"2s\"\n{rest}",
                backend.join("\n")
            ),
        );
    }

    /// The fake backend started outside `dev` on this checkout's port, as someone else
    /// (or an earlier run) would; returns once it listens.
    pub fn outside_backend(&self, args: &[&str]) -> Running {
        let mut command = Command::new("python3");
        command
            .arg(fake_backend())
            .args(args)
            .current_dir(self.path())
            .env("BACKEND_PORT", self.port.to_string());
        let backend = Running::spawn(command);
        backend.expect_line("fake: listening", Duration::from_secs(30));
        backend
    }

    /// `dev-xtask` with `args`, run in this checkout with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        xtask_command(self.path(), args)
    }

    /// Starts `dev-xtask <args>` and collects its output.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::spawn(self.command(args))
    }

    /// Runs to completion and returns (status, combined output).
    pub fn run(&self, args: &[&str], timeout: Duration) -> (ExitStatus, String) {
        let mut running = self.spawn(args);
        let status = running.wait(timeout);
        (status, running.output())
    }
}

/// `dev-xtask` (the real CLI) with `args` in `dir`, without the caller's `BACKEND_*`,
/// `FRONTEND_*`, `DEV_*` and `CI` variables, and without colour.
pub fn xtask_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dev-xtask"));
    command.args(args).current_dir(dir).env("NO_COLOR", "1");
    for (name, _) in std::env::vars() {
        if ["BACKEND_", "FRONTEND_", "DEV_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || name == "CI"
        {
            command.env_remove(name);
        }
    }
    command
}

/// A running process whose stdout and stderr are collected line by line.
#[derive(Debug)]
pub struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The lines of stdout and of stderr, each apart.
    streams: [Arc<Mutex<Vec<String>>>; 2],
}

impl Running {
    pub fn spawn(mut command: Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let streams = [Arc::default(), Arc::default()];
        collect(stdout, Arc::clone(&lines), Arc::clone(&streams[0]));
        collect(stderr, Arc::clone(&lines), Arc::clone(&streams[1]));
        Running {
            child,
            lines,
            streams,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything printed so far, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// What it printed on stdout so far, one line each.
    pub fn stdout(&self) -> String {
        self.streams[0].lock().unwrap().join("\n")
    }

    /// What it printed on stderr so far, one line each.
    pub fn stderr(&self) -> String {
        self.streams[1].lock().unwrap().join("\n")
    }

    /// Waits until some line contains `needle`; panics with the output otherwise.
    pub fn expect_line(&self, needle: &str, timeout: Duration) -> String {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|l| l.contains(needle))
                .cloned();
            found.is_some()
        });
        found.unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", self.output()))
    }

    /// The correlation ID `dev` prints on its first line (`[dev] run dev-... in ...`).
    pub fn correlation_id(&self) -> String {
        let line = self.expect_line("[dev] run dev-", Duration::from_secs(30));
        line.split_whitespace().nth(2).unwrap().to_owned()
    }

    /// The pid of this `dev` run's guardian (its command line names the run).
    pub fn guardian(&self) -> u32 {
        let id = self.correlation_id();
        let needle = format!("__guardian {id}");
        let mut found = Vec::new();
        wait_until(Duration::from_secs(10), || {
            found = processes_with(&needle);
            !found.is_empty()
        });
        assert_eq!(found.len(), 1, "one guardian for {id}: {found:?}");
        found[0]
    }

    pub fn signal(&self, signal: Signal) {
        kill(Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// The exit status, if it has exited (and then the output it wrote last is in).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().unwrap()?;
        wait_until(Duration::from_secs(2), || {
            Arc::strong_count(&self.lines) == 1
        });
        Some(status)
    }

    /// Waits for the exit; panics (after killing it) with the output on timeout.
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let mut status = None;
        wait_until(timeout, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        match status {
            Some(status) => {
                // Let the reader threads drain what the process wrote last.
                wait_until(Duration::from_secs(2), || {
                    Arc::strong_count(&self.lines) == 1
                });
                status
            }
            None => {
                let _ = self.child.kill();
                panic!(
                    "still running after {timeout:?}; output:\n{}",
                    self.output()
                );
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM lets `dev` stop its own children; a plain kill would orphan them.
            let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM);
            if !wait_until(Duration::from_secs(10), || {
                matches!(self.child.try_wait(), Ok(Some(_)))
            }) {
                let _ = self.child.kill();
            }
        }
    }
}

fn collect(
    stream: impl Read + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
    own: Arc<Mutex<Vec<String>>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            own.lock().unwrap().push(line.clone());
            lines.lock().unwrap().push(line);
        }
    });
}

/// An HTTP response as [`get`] read it.
#[derive(Debug)]
pub struct Response {
    pub code: u16,
    /// The status line and headers, as sent.
    pub head: String,
    pub body: String,
}

/// The tests' one HTTP GET (HTTP/1.0, so that no server answers with chunked encoding
/// and the body is everything after the head): to `addr` with `headers` (a `Host` among them
/// replaces the default, `addr` itself), read to the end within 10 s. `None` when
/// nothing answers or the answer is not HTTP.
pub fn get(addr: std::net::SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<Response> {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut request = format!("GET {path} HTTP/1.0\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some(Response {
        code,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// [`get`] on 127.0.0.1:`port` with the correlation ID: `(status code, body)`, or
/// `None` when nothing answers.
pub fn http_get(port: u16, path: &str, correlation_id: &str) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let response = get(addr, path, &[("X-Correlation-ID", correlation_id)])?;
    Some((response.code, response.body))
}

/// The pids whose command line contains `needle` (arguments joined by spaces), for
/// "nothing left running" checks by the process table.
pub fn processes_with(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                line.contains(needle)
            })
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

/// Fake programs in `dir/bin` that hang (a shell that runs `sleep <seconds>`, so a
/// killed parent alone would leave the sleep behind). Returns the PATH to use: those
/// programs first, then the caller's PATH. Look for leftovers with
/// `processes_with(&format!("sleep {seconds}"))`; pick `seconds` unique to the test.
pub fn hanging_programs(dir: &Path, names: &[&str], seconds: u32) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("hanging-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in names {
        let path = bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\nsleep {seconds}\necho done\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Kills leftovers found by [`processes_with`] (after a failed assertion, so that a
/// failing test does not leave them running).
pub fn kill_all(pids: &[u32]) {
    for pid in pids {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
}

/// Kills `pid` when dropped, if it is still alive: for a process a test means to see
/// stopped by `dev`, so that a failing test does not leave it behind.
#[derive(Debug)]
pub struct KillOnDrop(pub u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if pid_alive(self.0) {
            let _ = kill(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
        }
    }
}

/// `command` run to its end on a new pseudo-terminal (Python's pty module), as from a
/// person's shell: `dev` sees a terminal and writes colour unless told not to. The one
/// pty driver of the tests:
///
/// ```text
/// Terminal::new(&command).run()                                  // stdin, stdout, stderr on it
/// Terminal::new(&command).session_leader().types_when("ready", "hello\n").run()
/// Terminal::new(&command).interrupts_when("[Y/n]").run()         // SIGINT to the process
/// ```
///
/// `run` returns everything the terminal received, bytes as written (decoded as UTF-8,
/// invalid bytes replaced), ending with `exit=<code>` (or `exit=hung`: killed 10 s after
/// the terminal went quiet or `timeout` passed).
#[derive(Debug)]
pub struct Terminal<'a> {
    command: &'a Command,
    timeout: Duration,
    session: bool,
    when: Option<(&'a str, Reaction<'a>)>,
}

#[derive(Debug)]
enum Reaction<'a> {
    Type(&'a str),
    Interrupt,
}

impl<'a> Terminal<'a> {
    pub fn new(command: &'a Command) -> Terminal<'a> {
        Terminal {
            command,
            timeout: Duration::from_secs(30),
            session: false,
            when: None,
        }
    }

    /// Run it as the session leader, so that the terminal is its controlling terminal
    /// (as in a real shell), not only its stdin and stdout.
    pub fn session_leader(mut self) -> Self {
        self.session = true;
        self
    }

    /// Type `text` once the output shows `needle`.
    pub fn types_when(mut self, needle: &'a str, text: &'a str) -> Self {
        self.when = Some((needle, Reaction::Type(text)));
        self
    }

    /// Send SIGINT to the process once the output shows `needle`.
    pub fn interrupts_when(mut self, needle: &'a str) -> Self {
        self.when = Some((needle, Reaction::Interrupt));
        self
    }

    pub fn run(self) -> String {
        let driver = r#"
import os, pty, signal, subprocess, sys, time
timeout, session, wait_for, action, argv = float(sys.argv[1]), sys.argv[2] == "session", sys.argv[3].encode(), sys.argv[4], sys.argv[5:]
if session:
    pid, master = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
else:
    master, slave = pty.openpty()
    pid = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True).pid
    os.close(slave)
seen, acted = b"", not wait_for
deadline = time.time() + timeout
while time.time() < deadline:
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if not acted and wait_for in seen:
        acted = True
        if action == "sigint":
            os.kill(pid, signal.SIGINT)
        else:
            os.write(master, action.encode())
code, end = "hung", time.time() + 10
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        break
    time.sleep(0.01)
else:
    os.kill(pid, signal.SIGKILL)
sys.stdout.buffer.write(seen)
sys.stdout.buffer.write(f"\nexit={code}".encode())
"#;
        let (needle, action) = match &self.when {
            None => ("", ""),
            Some((needle, Reaction::Type(text))) => (*needle, *text),
            Some((needle, Reaction::Interrupt)) => (*needle, "\x03sigint"),
        };
        let mut driven = Command::new("python3");
        driven
            .arg("-c")
            .arg(driver)
            .arg(self.timeout.as_secs_f64().to_string())
            .arg(if self.session { "session" } else { "stdio" })
            .arg(needle)
            .arg(action)
            .arg(self.command.get_program())
            .args(self.command.get_args());
        if let Some(dir) = self.command.get_current_dir() {
            driven.current_dir(dir);
        }
        for (key, value) in self.command.get_envs() {
            match value {
                Some(value) => driven.env(key, value),
                None => driven.env_remove(key),
            };
        }
        let output = driven.output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

/// The text of every run log in `checkout`'s `.dev/logs`, oldest name first.
pub fn run_logs(checkout: &Checkout) -> String {
    let Ok(entries) = std::fs::read_dir(checkout.file(".dev/logs")) else {
        return String::new();
    };
    let mut logs: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
        .collect();
    logs.sort();
    logs.iter()
        .map(|path| std::fs::read_to_string(path).unwrap_or_default())
        .collect()
}

/// `text` with what differs from run to run put in words, so that a report can be
/// asserted whole: the checkout's path (`<checkout>`), its port (`<port>`), correlation
/// IDs (`dev-<id>`), pids (`pid <pid>`) and milliseconds (`<n> ms`).
pub fn normalised(text: &str, checkout: &Checkout) -> String {
    let port = checkout.port.to_string();
    let text = text.replace(&checkout.path().display().to_string(), "<checkout>");
    let text = replace_numbers(&text, |before, number, after| {
        if before.ends_with("dev-") && after.starts_with('-') {
            // `dev-1796511039101-142c6e`: the digits, then `-` and the hex part.
            Some("<id>")
        } else if before.ends_with("pid ") {
            Some("<pid>")
        } else if after.starts_with(" ms") {
            Some("<n>")
        } else if number == port && (before.ends_with(':') || before.ends_with("port ")) {
            Some("<port>")
        } else {
            None
        }
    });
    // The correlation ID's hex part, after its digits became `<id>`.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("dev-<id>-") {
        out.push_str(&rest[..at + "dev-<id>".len()]);
        rest = rest[at + "dev-<id>-".len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
    }
    out.push_str(rest);
    out
}

/// Each run of digits in `text`, replaced by what `by(before, digits, after)` says.
fn replace_numbers(text: &str, by: impl Fn(&str, &str, &str) -> Option<&'static str>) -> String {
    let mut out = String::new();
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            let next = text[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&text[i..i + next]);
            i += next;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let number = &text[start..i];
        match by(&text[..start], number, &text[i..]) {
            Some(word) => out.push_str(word),
            None => out.push_str(number),
        }
    }
    out
}

#[test]
fn normalised_puts_what_differs_between_runs_in_words() {
    let checkout = Checkout::new();
    let text = format!(
        "run dev-1796511039101-142c6e in {}\nbackend pid 10926 on 127.0.0.1:{} (port {}) after 1002 ms; attempt 2 of 12",
        checkout.path().display(),
        checkout.port,
        checkout.port
    );
    assert_eq!(
        normalised(&text, &checkout),
        "run dev-<id> in <checkout>\nbackend pid <pid> on 127.0.0.1:<port> (port <port>) after <n> ms; attempt 2 of 12"
    );
}

/// An end-to-end run of `dev` against the fake backend in a fresh checkout, said as what
/// it is: `Dev::new().backend(&["--never-healthy"]).setting("attempts = 2").args(&["--",
/// "true"]).run()`. The config is [`Checkout::fake_config`]'s.
pub struct Dev {
    pub checkout: Checkout,
    fake: Vec<String>,
    settings: Vec<String>,
    args: Vec<String>,
    within: Duration,
}

/// How a [`Dev`] run ended: its status, stdout and stderr apart, and its log file.
pub struct Ran {
    pub checkout: Checkout,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub log: String,
}

impl Default for Dev {
    fn default() -> Self {
        Self::new()
    }
}

impl Dev {
    pub fn new() -> Dev {
        Dev {
            checkout: Checkout::new(),
            fake: Vec::new(),
            settings: Vec::new(),
            args: vec!["dev".into(), "--no-sync".into()],
            within: Duration::from_secs(30),
        }
    }

    /// A path in the checkout, for a flag (`--pid-file`).
    pub fn file(&self, relative: &str) -> String {
        self.checkout.file(relative).display().to_string()
    }

    /// The fake backend's flags.
    pub fn backend(mut self, flags: &[&str]) -> Dev {
        self.fake.extend(flags.iter().map(|f| (*f).to_owned()));
        self
    }

    /// A `[backend]` line (it replaces the default of its key).
    pub fn setting(mut self, line: &str) -> Dev {
        self.settings.push(line.to_owned());
        self
    }

    /// Arguments after `dev --no-sync`.
    pub fn args(mut self, args: &[&str]) -> Dev {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }

    /// How long the run may take (30 s unless said): longer fails the test.
    pub fn within(mut self, limit: Duration) -> Dev {
        self.within = limit;
        self
    }

    /// Runs it to the end.
    pub fn run(self) -> Ran {
        let fake: Vec<&str> = self.fake.iter().map(String::as_str).collect();
        self.checkout
            .fake_config(&fake, &self.settings.join("\n"), "");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let mut running = self.checkout.spawn(&args);
        let status = running.wait(self.within);
        Ran {
            status,
            stdout: running.stdout(),
            stderr: running.stderr(),
            log: run_logs(&self.checkout),
            checkout: self.checkout,
        }
    }
}

/// The check `id` of a `doctor --json` report; panics naming the report when it has none.
pub fn doctor_check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .expect("a doctor report has checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}
