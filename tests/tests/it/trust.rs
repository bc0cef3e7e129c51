//! What `dev` believes from outside, tested with hostile outsiders: another user's
//! listener answering exactly our identity, an answer naming an unrelated pid, control
//! characters in an answer's text, and our own live run's slow or degraded backend.

use std::process::Command;
use std::time::Duration;

use crate::support::{Checkout, KillOnDrop, Running, fake_backend, pid_alive};

const LONG: Duration = Duration::from_secs(60);

/// The Debian interpreter, which any user may run (`.ci/run` installs `python3`).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The checkout's canonical path: what our backend reports as `workspace`.
fn workspace(checkout: &Checkout) -> String {
    checkout
        .path()
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// The fake backend on the checkout's port, run as user `nobody` from `/`, answering
/// with `workspace`.
fn as_nobody(checkout: &Checkout, workspace: &str) -> Running {
    as_user(NOBODY, checkout, workspace)
}

const NOBODY: u32 = 65534;

/// `command` run as user `uid` (and its group), with its arguments, folder and
/// environment. The tests run as root (CI and this machine); `setpriv` is util-linux's.
fn setpriv(uid: u32, command: &Command) -> Command {
    let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    assert_eq!(
        me, 0,
        "this test starts processes as other users: run it as root"
    );
    let setpriv = coordinator::which::which("setpriv")
        .expect("setpriv (util-linux) is needed to start a process as another user");
    let mut as_user = Command::new(setpriv);
    as_user
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(command.get_program())
        .args(command.get_args());
    if let Some(dir) = command.get_current_dir() {
        as_user.current_dir(dir);
    }
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => as_user.env(name, value),
            None => as_user.env_remove(name),
        };
    }
    as_user
}

/// The fake backend on the checkout's port, run as user `uid` from `/`, answering with
/// `workspace`; with the system's interpreter, since another user may not run root's
/// (pyenv's).
fn as_user(uid: u32, checkout: &Checkout, workspace: &str) -> Running {
    let mut command = Command::new(SYSTEM_PYTHON);
    command
        .arg(fake_backend())
        .current_dir("/")
        .env("FAKE_WORKSPACE", workspace)
        .env("BACKEND_PORT", checkout.port.to_string());
    let impostor = Running::spawn(setpriv(uid, &command));
    impostor.expect_line("fake: listening", LONG);
    impostor
}

/// The fake backend started outside `dev` from a folder outside the checkout, with
/// nothing of the checkout on its command line, answering with `workspace`.
fn from_elsewhere(checkout: &Checkout, workspace: &str, args: &[&str]) -> Running {
    let mut command = Command::new("python3");
    command
        .arg(fake_backend())
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("FAKE_WORKSPACE", workspace)
        .env("BACKEND_PORT", checkout.port.to_string());
    let backend = Running::spawn(command);
    backend.expect_line("fake: listening", LONG);
    backend
}

#[test]
fn another_users_listener_answering_our_identity_is_never_reused_or_signalled() {
    let checkout = Checkout::new();
    let here = workspace(&checkout);
    let impostor = as_nobody(&checkout, &here);
    checkout.fake_config(&[], "", "");

    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(
        status.code(),
        Some(1),
        "refused without a terminal:\n{output}"
    );
    assert!(!output.contains("reusing"), "{output}");
    assert!(
        output.contains("runs as user nobody (uid 65534), not as user root (uid 0)"),
        "the message names the user:\n{output}"
    );
    assert!(
        !output.contains("--yes"),
        "stopping it is never offered:\n{output}"
    );

    let (status, output) = checkout.run(&["dev", "--no-sync", "--yes", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(!output.contains("reusing"), "{output}");
    assert!(!output.contains("stopping our stale"), "{output}");
    assert!(output.contains("using port"), "{output}");
    assert!(
        pid_alive(impostor.pid()),
        "another user's process is never signalled"
    );

    let (_, doctor) = checkout.run(&["doctor"], LONG);
    let port_line = doctor
        .lines()
        .find(|line| line.contains(" port "))
        .unwrap_or_else(|| panic!("no port line in:\n{doctor}"));
    assert!(port_line.starts_with('✗'), "{doctor}");
    assert!(port_line.contains("user nobody (uid 65534)"), "{doctor}");
    assert!(!doctor.contains("is our backend"), "{doctor}");
    assert!(
        doctor.contains("not ours: the process listening on the port runs as user nobody"),
        "backend-health agrees:\n{doctor}"
    );
}

#[test]
fn a_degraded_answer_naming_an_unrelated_pid_gets_nothing_unrelated_signalled() {
    let checkout = Checkout::new();
    let mut sleep = Command::new("sleep");
    sleep.arg("3613");
    let bystander = Running::spawn(sleep);
    let _bystander_guard = KillOnDrop(bystander.pid());
    let claimed = bystander.pid().to_string();
    let here = workspace(&checkout);
    let impostor = from_elsewhere(
        &checkout,
        &here,
        &["--degraded", "database", "--claim-pid", &claimed],
    );
    let _impostor_guard = KillOnDrop(impostor.pid());
    checkout.fake_config(&[], "", "");

    let (status, output) = checkout.run(&["dev", "--no-sync", "--yes", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        pid_alive(bystander.pid()),
        "the pid named in the answer:\n{output}"
    );
    assert!(
        pid_alive(impostor.pid()),
        "the listener is not ours: the socket table wins over the answer:\n{output}"
    );
    assert!(
        !output.contains(&format!("pid {claimed})")) && !output.contains("our own backend"),
        "the answer's pid is never shown as ours:\n{output}"
    );
    assert!(
        output.contains(&format!(
            "the pid in it ({claimed}) does not hold the port; the listener, pid {}",
            impostor.pid()
        )),
        "{output}"
    );
    assert!(output.contains("using port"), "{output}");
}

/// Text a hostile answer carries: a title change (OSC), a screen clear (CSI), a bell and
/// a carriage return that would overwrite the line.
const HOSTILE: &str = "/other\u{1b}]0;PWNED\u{7}\u{1b}[2J\rX";

/// Every control character but the line breaks the collector splits at.
fn raw_control(output: &str) -> Option<char> {
    output
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
}

#[test]
fn hostile_text_in_a_health_answer_reaches_no_output_raw() {
    // Another checkout's workspace, or another service, as dev's error line, the port
    // line and the holder's command line show them.
    for flag in ["--workspace", "--service"] {
        let checkout = Checkout::new();
        let other = from_elsewhere(&checkout, "/elsewhere", &[flag, HOSTILE]);
        checkout.fake_config(&[], "", "");
        let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
        assert_eq!(status.code(), Some(1), "{output}");
        let (_, doctor) = checkout.run(&["doctor", "--verbose"], LONG);
        let (_, port) = checkout.run(&["port"], LONG);
        for (what, text) in [("dev", &output), ("doctor", &doctor), ("port", &port)] {
            assert_eq!(raw_control(text), None, "{flag}, {what}:\n{text:?}");
            assert!(
                text.contains("\\u{1b}]0;PWNED"),
                "{flag}: {what} shows it escaped:\n{text}"
            );
        }
        let json = checkout.command(&["doctor", "--json"]).output().unwrap();
        let parsed: serde_json::Value =
            serde_json::from_slice(&json.stdout).expect("doctor --json stays JSON");
        assert!(parsed["checks"].is_array());
        assert!(
            !json
                .stdout
                .iter()
                .any(|b| *b == 0x1b || *b == 0x07 || *b == b'\r')
        );
        drop(other);
    }

    // Our own backend (by the answer and the socket table) whose failing service's error
    // is hostile: the warning, the error line and doctor's lines.
    let checkout = Checkout::new();
    let here = workspace(&checkout);
    let _stale = checkout.outside_backend(&[
        "--workspace",
        &here,
        "--degraded",
        "cache",
        "--error-text",
        HOSTILE,
    ]);
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("our own backend"), "{output}");
    let mut verbose = checkout.command(&["doctor", "--verbose"]);
    verbose.stdin(std::process::Stdio::null());
    let doctor = String::from_utf8_lossy(&verbose.output().unwrap().stdout).into_owned();
    for (what, text) in [("dev", &output), ("doctor", &doctor)] {
        assert_eq!(raw_control(text), None, "{what}:\n{text:?}");
        assert!(
            text.contains("\\u{1b}]0;PWNED"),
            "{what} shows it escaped:\n{text}"
        );
    }
    assert!(
        doctor.contains("cache: error (/other\\u{1b}]0;PWNED"),
        "{doctor}"
    );
}

#[test]
fn a_slow_health_answer_of_our_own_live_run_is_recognised_by_a_second_run_and_doctor() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--health-delay-ms", "1500"], "", "");
    let first = checkout.spawn(&["dev", "--no-sync"]);
    first.expect_line("backend ready in", LONG);

    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--port", "auto", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("reusing the backend of dev run"),
        "the second run reuses the first one's backend:\n{output}"
    );
    assert!(!output.contains("using port"), "{output}");
    assert!(!output.contains("started backend"), "{output}");

    let (_, doctor) = checkout.run(&["doctor"], LONG);
    let line = |id: &str| {
        doctor
            .lines()
            .find(|line| line.contains(&format!(" {id} ")))
            .unwrap_or_else(|| panic!("no {id} line in:\n{doctor}"))
            .to_owned()
    };
    assert!(line("port").starts_with('✓'), "{doctor}");
    assert!(line("port").contains("is our backend"), "{doctor}");
    assert!(line("backend-health").starts_with('✓'), "{doctor}");
}

#[test]
fn a_live_runs_backend_is_never_stopped_by_a_second_runs_yes() {
    // Degraded is ready for this config, not for the port's classification: without
    // the run record, the second run took it for our stale backend and stopped it.
    let checkout = Checkout::new();
    checkout.fake_config(&["--degraded", "cache"], "accept_degraded = true", "");
    let first = checkout.spawn(&["dev", "--no-sync"]);
    first.expect_line("backend ready in", LONG);
    let pid_line = first.expect_line("started backend pid", LONG);
    let backend: u32 = pid_line
        .split("started backend pid ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {pid_line:?}"));

    let (status, output) = checkout.run(&["dev", "--no-sync", "--yes", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        pid_alive(backend),
        "the live run's backend is not ours to stop:\n{output}"
    );
    assert!(!output.contains("stopping our stale backend"), "{output}");
    assert!(output.contains("live dev run"), "{output}");
    assert!(output.contains("using port"), "{output}");
}

#[test]
fn hostile_text_in_the_config_files_reaches_no_output_raw() {
    // A key of dev.toml (TOML escapes: raw control characters are a syntax error), and
    // a line of a frontend config that does not parse.
    let checkout = Checkout::new();
    checkout.fake_config(&[], "\"k\\u001b]0;PWNED\\u0007\\r\" = 1", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert_eq!(raw_control(&output), None, "{output:?}");
    assert!(output.contains("\\u{1b}]0;PWNED"), "{output}");

    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    std::fs::write(
        checkout.file("dev.toml"),
        std::fs::read_to_string(checkout.file("dev.toml"))
            .unwrap()
            .replace(
                "[frontend]\n",
                "[frontend]\nconfig_file = \"app.toml\"\nport_key = \"port\"\n",
            ),
    )
    .unwrap();
    checkout.write("app.toml", &format!("port = 1\n{HOSTILE} = = 2\n"));
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_ne!(status.code(), Some(0), "{output}");
    assert_eq!(raw_control(&output), None, "{output:?}");
}

#[test]
fn another_users_listener_is_never_taken_for_the_backend_dev_started() {
    // dev as nobody, the impostor as uid 65533: neither may inspect the other's process,
    // so only the socket's owner tells them apart. The child binds late; the impostor
    // takes the port first and answers exactly what the child would.
    let checkout = Checkout::new();
    std::os::unix::fs::chown(checkout.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    let here = workspace(&checkout);
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"{SYSTEM_PYTHON}\", \"{}\", \"--delay-ms\", \"4000\"]\n\
             port = {}\nstartup_timeout = \"20s\"\nretry_delay = \"100ms\"\n\n\
             [frontend]\ncommand = [\"true\"]\nport = false\n\n[dev]\nshutdown_grace = \"2s\"\n",
            fake_backend().display(),
            checkout.port
        ),
    );
    let dev = checkout.command(&["dev", "--no-sync", "--port", "auto", "--", "true"]);
    let mut dev = Running::spawn(setpriv(NOBODY, &dev));
    dev.expect_line("started backend pid", LONG);
    let impostor = as_user(65533, &checkout, &here);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(pid_alive(impostor.pid()), "{output}");
    let taken = output
        .find("was taken after it was chosen")
        .unwrap_or_else(|| panic!("the impostor's answer is not the child's:\n{output}"));
    let ready = output
        .find("backend ready in")
        .expect("ready on another port");
    assert!(taken < ready, "{output}");
    assert!(output.contains("using port"), "{output}");
}

/// A process of another user that accepts a connection and closes its listening socket
/// is gone from the listeners, and still named as who holds the other end of `dev`'s
/// connection (`holder::other_end`, which every answer of the backend's wait and the
/// classification are judged by); once it has answered and closed that end too, it is
/// gone, never root's or ours (the kernel reports uid 0 for a closed socket's remains).
#[test]
fn who_answers_is_named_after_its_listener_closed() {
    use coordinator::holder::{OtherEnd, other_end};
    use std::io::{Read, Write};
    let script = "import socket, time\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n\
        print('port', s.getsockname()[1], flush=True)\n\
        c, _ = s.accept(); s.close(); print('closed', flush=True)\n\
        c.recv(100); c.sendall(b'x'); c.close(); print('done', flush=True)\n\
        time.sleep(30)\n";
    let mut python = Command::new("/usr/bin/python3");
    python.args(["-c", script]).current_dir("/");
    let server = Running::spawn(setpriv(NOBODY, &python));
    let line = server.expect_line("port ", LONG);
    let port: u16 = line
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connects");
    server.expect_line("closed", LONG);
    let (ours, theirs) = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
    assert!(
        coordinator::holder::sockets(port).inodes().is_empty(),
        "the listener is closed"
    );
    assert_eq!(other_end(Some((ours, theirs))), OtherEnd::Held(NOBODY));
    // Our own end is ours; a connection that does not exist is gone.
    assert_eq!(other_end(Some((theirs, ours))), OtherEnd::Held(0));
    let elsewhere: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert_eq!(other_end(Some((ours, elsewhere))), OtherEnd::Gone);
    stream.write_all(b"?").expect("asks");
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).expect("answered");
    server.expect_line("done", LONG);
    let after = other_end(Some((ours, theirs)));
    assert!(
        matches!(after, OtherEnd::Gone | OtherEnd::Held(NOBODY)),
        "an end closed after answering is nobody's, or still its owner's: {after:?}"
    );
}
