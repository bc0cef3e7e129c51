//! The guardian (issue 24): a `kill -9` of `dev`, or SIGKILL to its whole process group
//! as an editor's stop button sends, leaves nothing of the run within 2 s: no process
//! (a backend's grandchild, a frontend tree of a shell, a Node server and the child it
//! spawns), no port, no changed frontend config, no run record. Nor does closing the
//! terminal, or a SIGHUP or SIGTERM followed by SIGKILL while dev stops. A clean stop
//! leaves no guardian; killing the guardian alone changes nothing for the run.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::support::{
    Checkout, KillOnDrop, Running, free_port, http_get, is_free_port, pid_alive, read_pid,
    run_logs, wait_until,
};

const LONG: Duration = Duration::from_secs(30);

/// A Node server on `FRONTEND_PORT` that spawns a child of its own (same group, as a
/// dev server's workers are) and writes both pids once it listens.
const NODE_SERVER: &str = r#"const http = require("http");
const fs = require("fs");
const { spawn } = require("child_process");
const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
http.createServer((req, res) => res.end("ok")).listen(Number(process.env.FRONTEND_PORT), "127.0.0.1", () => {
  fs.writeFileSync("node.pids.tmp", `${process.pid} ${child.pid}\n`);
  fs.renameSync("node.pids.tmp", "node.pids");
});
"#;

/// What the frontend config holds before any run: not dev's port, with formatting of
/// its own that must come back byte for byte.
const ORIGINAL: &str =
    "{\n  \"backend\": {\"host\": \"127.0.0.1\",   \"port\": 8000},\n  \"title\": \"app\"\n}\n";

/// A checkout whose backend forks a grandchild into its group and whose frontend is a
/// tree of three processes: `sh` -> a Node server -> the child it spawns.
struct App {
    checkout: Checkout,
    frontend_port: u16,
    grace: &'static str,
    backend_args: &'static [&'static str],
}

impl App {
    fn new() -> App {
        App {
            checkout: Checkout::new(),
            frontend_port: free_port(),
            grace: "2s",
            backend_args: &[],
        }
    }

    fn write(&self) {
        let fake = crate::support::fake_backend().display().to_string();
        let mut backend = vec![
            "python3",
            &fake,
            "--spawn-grandchild",
            "grandchild.pid",
            "--pid-file",
            "backend.pid",
        ];
        backend.extend(self.backend_args);
        self.checkout.write(
            "dev.toml",
            &format!(
                "[backend]\ncommand = {}\nport = {}\nstartup_timeout = \"10s\"\n\n\
                 [frontend]\ncommand = [\"sh\", \"-c\", \"node server.js; true\"]\nport = {}\n\n\
                 [dev]\nshutdown_grace = \"{}\"\n",
                serde_json::to_string(&backend).unwrap(),
                self.checkout.port,
                self.frontend_port,
                self.grace,
            ),
        );
        self.checkout.write("server.js", NODE_SERVER);
        self.checkout.write("frontend/config.json", ORIGINAL);
    }

    /// `dev` (in a process group of its own when `own_group`: an editor starts it so),
    /// once the frontend serves; with every process of the run, each killed on drop
    /// should the test fail.
    fn start(&self, own_group: bool) -> (Running, Tree) {
        self.write();
        let mut command = self.checkout.command(&["dev", "--no-sync"]);
        if own_group {
            command.process_group(0);
        }
        let dev = Running::spawn(command);
        dev.expect_line("frontend ready:", LONG);
        let file = |name: &str| self.checkout.file(name);
        assert!(wait_until(LONG, || file("node.pids").exists()));
        let node = std::fs::read_to_string(file("node.pids")).unwrap();
        let mut node = node.split_whitespace().map(|p| p.parse::<u32>().unwrap());
        let shell: u32 = dev
            .expect_line("started frontend pid", LONG)
            .split("pid ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .unwrap()
            .parse()
            .unwrap();
        let pids = vec![
            ("backend", read_pid(&file("backend.pid")).unwrap()),
            (
                "backend's grandchild",
                read_pid(&file("grandchild.pid")).unwrap(),
            ),
            ("frontend shell", shell),
            ("node server", node.next().unwrap()),
            ("node's child", node.next().unwrap()),
            ("guardian", dev.guardian()),
        ];
        assert_ne!(
            std::fs::read_to_string(file("frontend/config.json")).unwrap(),
            ORIGINAL,
            "dev pointed the frontend config at its backend"
        );
        let guards = pids.iter().map(|(_, pid)| KillOnDrop(*pid)).collect();
        (
            dev,
            Tree {
                pids,
                _guards: guards,
            },
        )
    }

    /// What is left of the run: live processes, taken ports, a changed frontend
    /// config, run records. Empty when nothing is.
    fn left(&self, tree: &Tree) -> Vec<String> {
        let mut left: Vec<String> = tree
            .pids
            .iter()
            .filter(|(_, pid)| pid_alive(*pid))
            .map(|(role, pid)| format!("{role} (pid {pid})"))
            .collect();
        for port in [self.checkout.port, self.frontend_port] {
            if !is_free_port(port) {
                left.push(format!("port {port}"));
            }
        }
        let config = std::fs::read_to_string(self.checkout.file("frontend/config.json"));
        if config.as_deref().ok() != Some(ORIGINAL) {
            left.push(format!("frontend config: {config:?}"));
        }
        left.extend(records(&self.checkout));
        left
    }

    /// Asserts that nothing of the run is left within `within` of `since`.
    fn assert_nothing_left(&self, tree: &Tree, since: Instant, within: Duration, dev: &Running) {
        self.assert_nothing_left_quietly(tree, since, within, &dev.output());
    }

    /// [`App::assert_nothing_left`], with `output` as what dev printed.
    fn assert_nothing_left_quietly(
        &self,
        tree: &Tree,
        since: Instant,
        within: Duration,
        output: &str,
    ) {
        let mut left = Vec::new();
        let gone = wait_until(within.saturating_sub(since.elapsed()), || {
            left = self.left(tree);
            left.is_empty()
        });
        assert!(
            gone,
            "left {} ms after the kill: {left:#?}\ndev:\n{output}\nlog:\n{}",
            since.elapsed().as_millis(),
            run_logs(&self.checkout)
        );
    }
}

/// Every process of a run, by role, killed on drop should the test fail.
struct Tree {
    pids: Vec<(&'static str, u32)>,
    _guards: Vec<KillOnDrop>,
}

impl Tree {
    fn pid(&self, role: &str) -> u32 {
        self.pids.iter().find(|(r, _)| *r == role).unwrap().1
    }
}

fn records(checkout: &Checkout) -> Vec<String> {
    crate::runs::records(checkout)
        .into_iter()
        .map(|name| format!("run record {name}"))
        .collect()
}

#[test]
fn kill_9_of_dev_leaves_nothing_of_the_run_within_2_s() {
    let app = App::new();
    let (mut dev, tree) = app.start(false);
    dev.signal(Signal::SIGKILL);
    let killed = Instant::now();
    dev.wait(LONG);
    app.assert_nothing_left(&tree, killed, Duration::from_secs(2), &dev);
    let log = run_logs(&app.checkout);
    assert!(
        log.contains("dev ended without stopping cleanly: cleaning up after it")
            && log.contains("frontend/config.json: restored what was there before that run")
            && log.contains("removed the run's record"),
        "the guardian says what it did in the run's log:\n{log}"
    );
}

#[test]
fn sigkill_to_devs_whole_process_group_leaves_nothing_of_the_run_within_2_s() {
    // What an editor's stop button does: dev was started in a group of its own.
    let app = App::new();
    let (mut dev, tree) = app.start(true);
    killpg(Pid::from_raw(dev.pid() as i32), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    dev.wait(LONG);
    app.assert_nothing_left(&tree, killed, Duration::from_secs(2), &dev);
}

#[test]
fn a_signal_to_devs_group_then_sigkill_mid_stop_leaves_nothing_of_the_run() {
    // The terminal closing (SIGHUP), `systemd` ending a scope or `docker stop`
    // (SIGTERM to every process), each followed by SIGKILL before dev has finished
    // stopping: a backend that ignores SIGTERM keeps dev's stop waiting for its grace
    // period, and the SIGKILL lands in the middle. The guardian gets the signal first
    // (a signal to every process reaches them in some order): it must not die of it.
    for signal in [Signal::SIGHUP, Signal::SIGTERM] {
        let mut app = App::new();
        app.grace = "1s";
        app.backend_args = &["--ignore-sigterm"];
        let (mut dev, tree) = app.start(true);
        let group = Pid::from_raw(dev.pid() as i32);
        kill(Pid::from_raw(tree.pid("guardian") as i32), signal).unwrap();
        killpg(group, signal).unwrap();
        dev.expect_line("received: stopping what dev started", LONG);
        killpg(group, Signal::SIGKILL).unwrap();
        let killed = Instant::now();
        dev.wait(LONG);
        // The guardian's own grace period (1 s) for the backend that ignores SIGTERM.
        app.assert_nothing_left(&tree, killed, Duration::from_secs(5), &dev);
    }
}

#[test]
fn a_clean_ctrl_c_leaves_no_guardian() {
    let app = App::new();
    let (mut dev, tree) = app.start(false);
    let guardian = tree.pid("guardian");
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(
        !pid_alive(guardian),
        "the guardian {guardian} outlived a clean stop"
    );
    assert!(app.left(&tree).is_empty(), "{:?}", app.left(&tree));
    assert!(
        !run_logs(&app.checkout).contains("cleaning up after it"),
        "a clean stop leaves the guardian nothing to do"
    );
}

#[test]
fn a_run_whose_frontend_command_exits_leaves_no_guardian() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--", "sleep", "0.5"]);
    let guardian = dev.guardian();
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(!pid_alive(guardian), "the guardian {guardian} outlived dev");
}

#[test]
fn killing_the_guardian_alone_changes_nothing_for_the_run() {
    let app = App::new();
    let (mut dev, tree) = app.start(false);
    let guardian = tree.pid("guardian");
    kill(Pid::from_raw(guardian as i32), Signal::SIGKILL).unwrap();
    assert!(wait_until(LONG, || !pid_alive(guardian)));
    // The run goes on: every process lives, the backend answers, nothing is said.
    let before = dev.output();
    let (code, _) = http_get(app.checkout.port, "/health", "t").unwrap();
    assert_eq!(code, 200);
    for (role, pid) in &tree.pids {
        assert!(
            *role == "guardian" || pid_alive(*pid),
            "{role} (pid {pid}) died"
        );
    }
    assert!(dev.try_status().is_none(), "dev goes on");
    // And it stops as it always does.
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let after = dev.output();
    let stop = &after[before.len()..];
    for unexpected in ["WARN", "was killed", "guardian"] {
        assert!(!stop.contains(unexpected), "{unexpected:?} in:\n{stop}");
    }
    assert!(app.left(&tree).is_empty(), "{:?}", app.left(&tree));
}

#[test]
fn the_guardian_holds_no_port_no_terminal_and_no_file_of_the_run() {
    let app = App::new();
    let (dev, tree) = app.start(false);
    let guardian = tree.pid("guardian");
    let mut fds: Vec<(String, String)> = std::fs::read_dir(format!("/proc/{guardian}/fd"))
        .unwrap()
        .flatten()
        .map(|fd| {
            let target = std::fs::read_link(fd.path()).unwrap();
            (
                fd.file_name().to_string_lossy().into_owned(),
                target.display().to_string(),
            )
        })
        .collect();
    fds.sort();
    let shown = format!("{fds:?}");
    assert_eq!(fds.len(), 3, "only stdin, stdout and stderr: {shown}");
    assert!(
        fds[0].1.starts_with("pipe:"),
        "stdin is the pipe from dev: {shown}"
    );
    assert_eq!(fds[1].1, "/dev/null", "{shown}");
    assert_eq!(fds[2].1, "/dev/null", "{shown}");
    // A session (and so a process group) of its own: no signal to dev's group or
    // terminal reaches it.
    let stat = std::fs::read_to_string(format!("/proc/{guardian}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let (pgid, session) = (fields[2], fields[3]);
    assert_eq!(pgid, guardian.to_string(), "{stat}");
    assert_eq!(session, guardian.to_string(), "{stat}");
    drop(dev);
}

/// Runs `command` as the session leader of a new pseudo-terminal (as a shell in a
/// terminal window runs it), and closes the terminal once the output shows `needle`
/// and `file` exists, as closing the window does. Returns what the terminal got, then
/// `exit=<code>` (or `exit=hung`: killed 20 s after the close).
fn close_terminal_when(command: &std::process::Command, needle: &str, file: &Path) -> String {
    let driver = r#"
import os, pty, select, sys, time
needle, file, argv = sys.argv[1].encode(), sys.argv[2], sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
seen, deadline = b"", time.time() + 30
while time.time() < deadline and not (needle in seen and os.path.exists(file)):
    if not select.select([master], [], [], 0.01)[0]:
        continue
    try:
        chunk = os.read(master, 65536)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
os.close(master)
code, end = "hung", time.time() + 20
while time.time() < end:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        code = os.waitstatus_to_exitcode(status)
        break
    time.sleep(0.01)
else:
    os.kill(pid, 9)
sys.stdout.buffer.write(seen + f"\nexit={code}".encode())
"#;
    let mut driven = std::process::Command::new("python3");
    driven
        .arg("-c")
        .arg(driver)
        .arg(needle)
        .arg(file)
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        driven.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => driven.env(key, value),
            None => driven.env_remove(key),
        };
    }
    let output = driven.output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn closing_the_terminal_leaves_nothing_of_the_run() {
    // dev is the terminal's session leader and has given the terminal to the frontend:
    // closing it sends SIGHUP to dev and to the frontend's group; the guardian, in a
    // session of its own, gets nothing and is stood down.
    let app = App::new();
    app.write();
    let command = app.checkout.command(&["dev", "--no-sync"]);
    // Once the Node server has written its pids (just after its port opened).
    let pids = app.checkout.file("node.pids");
    let seen = close_terminal_when(&command, "frontend ready:", &pids);
    assert!(!seen.ends_with("exit=hung"), "{seen}");
    let id = seen
        .split("run dev-")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|rest| format!("dev-{rest}"))
        .unwrap();
    let file = |name: &str| app.checkout.file(name);
    let node = std::fs::read_to_string(file("node.pids")).unwrap();
    let mut pids: Vec<(&'static str, u32)> = vec![
        ("backend", read_pid(&file("backend.pid")).unwrap()),
        (
            "backend's grandchild",
            read_pid(&file("grandchild.pid")).unwrap(),
        ),
    ];
    for pid in node.split_whitespace() {
        pids.push(("node", pid.parse().unwrap()));
    }
    let tree = Tree {
        _guards: pids.iter().map(|(_, pid)| KillOnDrop(*pid)).collect(),
        pids,
    };
    let closed = Instant::now();
    app.assert_nothing_left_quietly(&tree, closed, Duration::from_secs(5), &seen);
    let guardians = crate::support::processes_with(&format!("__guardian {id}"));
    assert!(guardians.is_empty(), "guardian left: {guardians:?}\n{seen}");
}
