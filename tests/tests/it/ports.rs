//! Port conflicts with real sockets: each kind of holder named with its real pid,
//! the refusal without a terminal, `--port auto`, `--yes`, the bind race, the frontend
//! config written and restored, and the prompt on a pseudo-terminal.

use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::reference_app::reference_python;
use crate::support::{Checkout, Running, Terminal, pid_alive, read_pid, repo_root, xtask_command};

const LONG: Duration = Duration::from_secs(30);

/// A frontend config next to the fake backend, as the reference app has it.
pub(crate) fn with_frontend_config(checkout: &Checkout, fake_args: &[&str]) -> String {
    let config = "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": PORT}\n}\n"
        .replace("PORT", &checkout.port.to_string());
    checkout.write("frontend/config.json", &config);
    checkout.fake_config(fake_args, "", "");
    config
}

pub(crate) fn http_server(port: u16) -> Running {
    let mut command = Command::new("python3");
    command
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(std::env::temp_dir());
    let server = Running::spawn(command);
    server.expect_line("Serving HTTP", LONG);
    server
}

#[test]
fn a_foreign_listener_is_named_with_its_real_pid_and_the_run_refused_without_a_terminal() {
    let checkout = Checkout::new();
    let server = http_server(checkout.port);
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    let expected = format!(
        "Port {port} is in use by `{cmd}` (pid {pid}, user ",
        port = checkout.port,
        cmd = format_args!("python3 -m http.server {} --bind 127.0.0.1", checkout.port)
            .to_string()
            .replace("python3", &server_exe(server.pid())),
        pid = server.pid()
    );
    assert!(
        output.contains(&expected),
        "expected {expected:?} in:\n{output}"
    );
    assert!(
        output.contains("rerun with `cargo xtask dev --port auto`"),
        "{output}"
    );
    assert!(!output.contains("started backend"), "{output}");
    assert!(
        pid_alive(server.pid()),
        "a foreign process is never stopped"
    );
}

/// Whether `output` names this test process as a holder: by pid with its details, or
/// by pid alone when they could not be read.
fn names_this_process(output: &str) -> bool {
    let me = std::process::id();
    output.contains(&format!("(pid {me}, ")) || output.contains(&format!("(pid {me})"))
}

/// The interpreter as the kernel records it in the command line (a pyenv shim execs
/// the real interpreter, keeping the pid).
fn server_exe(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let first = raw.split(|b| *b == 0).next().unwrap();
    String::from_utf8_lossy(first).into_owned()
}

#[test]
fn a_listener_on_ipv6_loopback_only_counts_as_taken() {
    let checkout = Checkout::new();
    // Held by this test process: the holder's pid must be ours.
    let Ok(_v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, checkout.port)) else {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    };
    assert!(
        TcpListener::bind((Ipv4Addr::LOCALHOST, checkout.port)).is_ok(),
        "a bind of 127.0.0.1 alone would call this port free"
    );
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        names_this_process(&output),
        "the holder is this test process:\n{output}"
    );
}

#[test]
fn our_stale_backend_is_offered_for_stopping_and_yes_stops_only_it() {
    let checkout = Checkout::new();
    let stale = checkout.outside_backend(&["--never-healthy"]);
    with_frontend_config(&checkout, &[]);
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!(
            "held by our own backend from this checkout (pid {}), but it is not ready",
            stale.pid()
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "`cargo xtask dev --yes` to stop pid {}",
            stale.pid()
        )),
        "{output}"
    );
    assert!(pid_alive(stale.pid()), "not stopped without consent");

    let (status, output) = checkout.run(&["dev", "--no-sync", "--yes", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!("stopping our stale backend pid {}", stale.pid())),
        "{output}"
    );
    assert!(!pid_alive(stale.pid()));
    assert!(output.contains("backend ready in"), "{output}");
    assert!(
        !output.contains("using port"),
        "it keeps the configured port: {output}"
    );
}

#[test]
fn port_auto_moves_off_our_stale_backend_without_stopping_it() {
    let checkout = Checkout::new();
    let stale = checkout.outside_backend(&["--never-healthy"]);
    with_frontend_config(&checkout, &[]);
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--port", "auto", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("using port"), "{output}");
    assert!(pid_alive(stale.pid()), "auto never stops anything");
}

#[test]
fn port_auto_picks_a_really_free_port_that_the_backend_and_frontend_config_use() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    let original = with_frontend_config(&checkout, &["--print-env"]);
    let (status, output) = checkout.run(
        &[
            "dev",
            "--no-sync",
            "--port",
            "auto",
            "--",
            "sh",
            "-c",
            "echo \"frontend sees $BACKEND_PORT\"; cat frontend/config.json",
        ],
        LONG,
    );
    assert_eq!(status.code(), Some(0), "{output}");
    let chosen: u16 = output
        .lines()
        .find_map(|l| l.strip_prefix("[frontend] frontend sees "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(chosen > checkout.port, "{output}");
    assert!(output.contains(&format!("using port {chosen} instead of {}", checkout.port)));
    assert!(
        output.contains(&format!("BACKEND_PORT={chosen}")),
        "the backend used it: {output}"
    );
    assert!(
        output.contains(&format!("backend port {chosen} open after"))
            || output.contains("backend ready in")
    );
    assert!(
        output.contains(&format!(
            "frontend/config.json: backend.port {} -> {chosen}",
            checkout.port
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!("\"port\": {chosen}")),
        "the frontend read it: {output}"
    );
    assert!(
        output.contains("frontend/config.json: restored"),
        "{output}"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        original,
        "restored byte for byte on exit"
    );
}

#[test]
fn an_edit_made_while_dev_runs_is_not_clobbered_on_exit() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    with_frontend_config(&checkout, &[]);
    let edited = "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 1234}}\n";
    let (status, output) = checkout.run(
        &[
            "dev",
            "--no-sync",
            "--port",
            "auto",
            "--",
            "sh",
            "-c",
            &format!(
                "printf '%s\\n' '{}' > frontend/config.json",
                edited.trim_end()
            ),
        ],
        LONG,
    );
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(
            "frontend/config.json: backend.port = 1234 was changed during the run, so it was left as it is"
        ),
        "{output}"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        edited
    );
}

#[test]
fn a_malformed_frontend_config_stops_dev_before_anything_starts() {
    let checkout = Checkout::new();
    let backend_pid = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &backend_pid], "", "");
    let broken = "{\"backend\": {\"port\": 8000,}}";
    checkout.write("frontend/config.json", broken);
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(output.contains("frontend/config.json:1:"), "{output}");
    assert!(output.contains("is not valid JSON"), "{output}");
    assert!(
        read_pid(&checkout.file("backend.pid")).is_none(),
        "no backend was started"
    );
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        broken
    );
}

#[test]
fn a_port_taken_between_choice_and_bind_is_chosen_again() {
    let checkout = Checkout::new();
    // The fake waits before binding; the test takes the port in that window.
    with_frontend_config(&checkout, &["--delay-ms", "1500"]);
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto", "--", "true"]);
    dev.expect_line("started backend pid", LONG);
    let _thief = TcpListener::bind((Ipv4Addr::LOCALHOST, checkout.port)).unwrap();
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("address already in use"), "{output}");
    assert!(
        output.contains(&format!(
            "port {} was taken after it was chosen: choosing again",
            checkout.port
        )),
        "{output}"
    );
    assert!(names_this_process(&output), "the thief is named: {output}");
    assert!(output.contains("using port"), "{output}");
    assert_eq!(output.matches("backend ready in").count(), 1, "{output}");
    assert_eq!(
        output.matches("failed: the backend exited").count(),
        1,
        "it did not fail the same way again: {output}"
    );
}

#[test]
fn a_listener_dev_did_not_start_answering_our_identity_while_the_child_starts_is_not_it() {
    // Same user this time (another user's is in trust.rs): a backend started by hand
    // from this checkout takes the port while the child dev started is still sleeping
    // before its bind. It answers exactly as the child would; only the process tree
    // (the listener does not descend from this dev) tells them apart.
    let checkout = Checkout::new();
    with_frontend_config(&checkout, &["--delay-ms", "2500"]);
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto", "--", "true"]);
    dev.expect_line("started backend pid", LONG);
    let outsider = checkout.outside_backend(&[]);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        pid_alive(outsider.pid()),
        "what dev did not start, it does not stop"
    );
    let taken = output
        .find("was taken after it was chosen")
        .unwrap_or_else(|| panic!("the outsider's answer was taken for the child's:\n{output}"));
    assert!(
        !output[..taken].contains("backend ready"),
        "the child was declared ready from the outsider's answer:\n{output}"
    );
    // Chosen again, the port holds a healthy backend of this checkout: reused, and
    // said to be one dev did not start.
    assert!(
        output.contains(&format!(
            "reusing backend pid {} on 127.0.0.1:{} (started outside dev)",
            outsider.pid(),
            checkout.port
        )),
        "{output}"
    );
}

#[test]
fn our_backend_from_another_checkout_is_not_reused() {
    // A copy of the reference backend in a temporary folder is "ours" by service, but
    // reports that folder as its workspace.
    let python = reference_python();
    let other = Checkout::new();
    std::fs::create_dir_all(other.file("backend")).unwrap();
    std::fs::copy(
        repo_root().join("backend/main.py"),
        other.file("backend/main.py"),
    )
    .unwrap();
    let mut command = Command::new(python);
    command
        .arg("backend/main.py")
        .current_dir(other.path())
        .env("BACKEND_PORT", other.port.to_string());
    let copy = Running::spawn(command);
    copy.expect_line("Uvicorn running", LONG);

    let mut checkout = Checkout::new();
    checkout.port = other.port;
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    let workspace = other.path().canonicalize().unwrap();
    assert!(
        output.contains(&format!("from another checkout ({})", workspace.display())),
        "{output}"
    );
    assert!(
        output.contains(&format!("(pid {}, ", copy.pid())),
        "{output}"
    );
    assert!(pid_alive(copy.pid()));
}

#[test]
fn a_holder_that_cannot_be_inspected_is_said_so_rather_than_guessed() {
    // Looking as an unprivileged user at a socket of root's: only root can do this.
    let setpriv = coordinator::which::which("setpriv");
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    if !root || setpriv.is_none() {
        eprintln!("skipped: needs root and setpriv to look as another user");
        return;
    }
    let port = crate::support::free_port();
    let _server = http_server(port);
    let mut command = xtask_command(Path::new("/"), &["port", &port.to_string()]);
    let program = command.get_program().to_owned();
    let mut as_nobody = Command::new(setpriv.unwrap());
    as_nobody
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program)
        .args(command.get_args())
        .current_dir("/");
    let _ = &mut command;
    let output = as_nobody.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Permission denied") {
        eprintln!("skipped: the unprivileged user cannot run the binary here: {stderr}");
        return;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "port {port} is in use by a process that cannot be inspected (owned by root); `sudo ss -ltnp 'sport = :{port}'` names it"
        )),
        "{text}"
    );
}

#[test]
fn sighup_restores_the_frontend_config_and_a_killed_run_is_undone_by_the_next() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    let original = with_frontend_config(&checkout, &[]);
    let on_disk = || std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap();

    let mut dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto"]);
    dev.expect_line("backend ready in", LONG);
    assert_ne!(on_disk(), original);
    dev.signal(nix::sys::signal::Signal::SIGHUP);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert_eq!(on_disk(), original, "restored on SIGHUP:\n{}", dev.output());

    // SIGKILL of dev and its guardian leaves no chance to restore: the next run undoes
    // the leftover first.
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto"]);
    dev.expect_line("backend ready in", LONG);
    let killed = dev.pid();
    let guardian = nix::unistd::Pid::from_raw(dev.guardian() as i32);
    nix::sys::signal::kill(guardian, nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(crate::support::wait_until(LONG, || {
        !crate::support::pid_alive(guardian.as_raw() as u32)
    }));
    dev.signal(nix::sys::signal::Signal::SIGKILL);
    dev.wait(LONG);
    assert_ne!(on_disk(), original, "a killed run cannot restore");
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--port", "auto", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("frontend/config.json: restored what was there before that run (dev run")
            && output.contains(&format!("(pid {killed}) did not exit cleanly)")),
        "{output}"
    );
    assert_eq!(on_disk(), original);
}

/// Drives `dev` on a pseudo-terminal, so that dev sees a terminal on stdin. When the
/// port prompt shows, it types `answer` (and Enter), or sends SIGINT for `None`.
/// Returns everything printed, ending with `exit=<code>` (or `exit=hung`).
pub(crate) fn on_pty(checkout: &Checkout, args: &[&str], answer: Option<&str>) -> String {
    let command = checkout.command(args);
    let prompt = "instead? [Y/n]";
    match answer {
        Some(answer) => {
            let typed = format!("{answer}\n");
            Terminal::new(&command).types_when(prompt, &typed).run()
        }
        None => Terminal::new(&command).interrupts_when(prompt).run(),
    }
}

#[test]
fn the_prompt_on_a_terminal_accepts_the_free_port() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    with_frontend_config(&checkout, &[]);
    let text = on_pty(&checkout, &["dev", "--no-sync", "--", "true"], Some("y"));
    assert!(text.contains("exit=0"), "{text}");
    assert!(
        text.contains(&format!("Port {} is in use by", checkout.port)),
        "{text}"
    );
    assert!(text.contains("Use port "), "{text}");
    assert!(text.contains("using port "), "{text}");
    assert!(text.contains("backend ready in"), "{text}");
}

#[test]
fn ctrl_c_at_the_prompt_stops_at_once() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    with_frontend_config(&checkout, &[]);
    // dev must stop without waiting for Enter, and start nothing.
    let text = on_pty(&checkout, &["dev", "--no-sync", "--", "true"], None);
    assert!(text.contains("exit=0"), "{text}");
    assert!(
        text.contains("SIGINT received at the prompt: stopping"),
        "{text}"
    );
    assert!(!text.contains("started backend"), "{text}");
}

#[test]
fn port_0_is_not_a_port_to_ask_about() {
    let output = xtask_command(Path::new("/"), &["port", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value '0'"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("is free"));
}

#[test]
fn a_privileged_port_as_a_normal_user_is_free_but_needs_root_not_held_by_a_hidden_process() {
    let setpriv = coordinator::which::which("setpriv");
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    if !root || setpriv.is_none() {
        eprintln!("skipped: needs root and setpriv to run as a normal user");
        return;
    }
    // A privileged port nothing listens on (checked as root, who may bind it).
    let Some(port) = (80..1024u16).find(|p| TcpListener::bind((Ipv4Addr::LOCALHOST, *p)).is_ok())
    else {
        eprintln!("skipped: no free privileged port");
        return;
    };
    let command = xtask_command(Path::new("/"), &["port", &port.to_string()]);
    let output = Command::new(setpriv.unwrap())
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command.get_program())
        .args(command.get_args())
        .current_dir("/")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("Permission denied") {
        eprintln!("skipped: the unprivileged user cannot run the binary here: {stderr}");
        return;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}{stderr}");
    assert!(
        text.contains(&format!(
            "port {port} is free, but this user may not listen on it"
        )),
        "{text}"
    );
    assert!(!text.contains("cannot be inspected"), "{text}");
}

#[test]
fn a_holder_whose_command_line_has_a_newline_is_printed_on_one_line() {
    let port = crate::support::free_port();
    let mut command = Command::new("python3");
    command.args([
        "-c",
        "import socket, sys\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen()\nprint('listening', flush=True)\nsys.stdin.read() if False else __import__('time').sleep(3600)\n",
        &port.to_string(),
        "first line\nsecond line",
    ]);
    let holder = Running::spawn(command);
    holder.expect_line("listening", LONG);
    let output = xtask_command(Path::new("/"), &["port", &port.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let held = text.lines().next().unwrap();
    assert!(held.contains("first line\\nsecond line"), "{text}");
    assert!(held.contains(&format!("(pid {}", holder.pid())), "{text}");
    assert_eq!(text.lines().count(), 2, "{text}");
}
