//! Ownership across runs (`.dev/runs/`): a clean run leaves nothing behind, overlapping
//! runs cooperate and restore the frontend config in any order, a second run takes over
//! when the first stops, leftovers of a killed run are stopped by the next, a
//! daemonizing backend ends the run, and `doctor` sees live runs.

use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::ports::{http_server, with_frontend_config};
use crate::support::{Checkout, Running, fake_backend, pid_alive, read_pid, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// The names of the run records in the checkout's `.dev/runs`.
pub fn records(checkout: &Checkout) -> Vec<String> {
    std::fs::read_dir(checkout.file(".dev/runs"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default()
}

fn on_disk(checkout: &Checkout) -> String {
    std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap()
}

/// The correlation ID a run prints on its first line.
fn correlation_id(dev: &Running) -> String {
    let line = dev.expect_line("[dev] run dev-", LONG);
    line.split_whitespace().nth(2).unwrap().to_owned()
}

#[test]
fn a_clean_run_then_a_run_prints_no_warning_and_keeps_the_users_edit() {
    // Issue 17.1's exact sequence: a clean `--port auto` run, then the user moves the
    // project to that port for good; the next run must not "restore" the old port.
    let checkout = Checkout::new();
    let server = http_server(checkout.port);
    let original = with_frontend_config(&checkout, &[]);
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--port", "auto", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(on_disk(&checkout), original, "{output}");
    assert!(
        records(&checkout).is_empty(),
        "a clean exit leaves no record"
    );
    assert!(!checkout.file(".dev/frontend-config.pending.json").exists());
    let moved: u16 = output
        .lines()
        .find_map(|l| l.split("using port ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();

    // The user edits both files to the new port.
    let dev_toml = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &dev_toml.replace(
            &format!("port = {}", checkout.port),
            &format!("port = {moved}"),
        ),
    );
    let edited = original.replace(&checkout.port.to_string(), &moved.to_string());
    checkout.write("frontend/config.json", &edited);
    drop(server);
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    for warning in ["did not exit cleanly", "restored", "WARN", "edited since"] {
        assert!(!output.contains(warning), "{warning:?} in:\n{output}");
    }
    assert_eq!(on_disk(&checkout), edited, "the user's edit is kept");
}

/// Starts `dev --no-sync --no-frontend [--port P]` and waits until its backend is ready.
fn backend_run(checkout: &Checkout, port: Option<u16>) -> Running {
    let port = port.map(|p| p.to_string());
    let mut args = vec!["dev", "--no-sync", "--no-frontend"];
    if let Some(port) = &port {
        args.extend(["--port", port]);
    }
    let dev = checkout.spawn(&args);
    dev.expect_line("backend ready in", LONG);
    dev
}

fn stop(mut dev: Running) -> String {
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    dev.output()
}

#[test]
fn overlapping_runs_on_two_ports_restore_the_frontend_config_in_either_order() {
    for a_stops_first in [true, false] {
        let checkout = Checkout::new();
        let original = with_frontend_config(&checkout, &[]);
        let other = crate::support::free_port();
        let a = backend_run(&checkout, Some(other));
        assert!(on_disk(&checkout).contains(&other.to_string()));
        let b = backend_run(&checkout, None);
        assert!(on_disk(&checkout).contains(&checkout.port.to_string()));
        let (first, second, second_port) = if a_stops_first {
            (a, b, checkout.port)
        } else {
            (b, a, other)
        };
        stop(first);
        assert!(
            on_disk(&checkout).contains(&format!("\"port\": {second_port}")),
            "while a run is live the file holds its port:\n{}",
            on_disk(&checkout)
        );
        let output = stop(second);
        assert_eq!(
            on_disk(&checkout),
            original,
            "byte for byte after both (a first: {a_stops_first}):\n{output}"
        );
        assert!(records(&checkout).is_empty());
    }
}

#[test]
fn a_second_run_names_the_first_and_takes_over_when_it_stops() {
    let checkout = Checkout::new();
    let backend = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &backend], "", "");
    let first = backend_run(&checkout, None);
    let first_id = correlation_id(&first);
    let first_backend = read_pid(&checkout.file("backend.pid")).unwrap();
    // `port` says whose it is, as doctor does.
    let (_, said) = checkout.run(&["port"], LONG);
    assert!(
        said.contains(&format!(
            "that is the backend of this checkout's dev run {first_id}"
        )),
        "{said}"
    );
    let second = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    second.expect_line(&format!("reusing the backend of dev run {first_id}"), LONG);
    assert!(!second.output().contains("started outside dev"));
    let first_output = stop(first);
    assert!(!pid_alive(first_backend), "{first_output}");
    second.expect_line("taking over", LONG);
    second.expect_line("backend ready in", LONG);
    let new_backend = read_pid(&checkout.file("backend.pid")).unwrap();
    assert_ne!(new_backend, first_backend);
    assert!(pid_alive(new_backend));
    let (code, body) = crate::support::http_get(checkout.port, "/health", "t").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains(&format!("\"pid\": {new_backend}")), "{body}");
    stop(second);
    assert!(
        !pid_alive(new_backend),
        "the run that took over stops what it started"
    );
}

/// A `dev.toml` whose backend is `sh -c <script>`, where the script may use `$FAKE`.
fn shell_backend(checkout: &Checkout, script: &str) {
    let script = script.replace("$FAKE", &format!("python3 '{}'", fake_backend().display()));
    let command = serde_json::to_string(&["sh", "-c", &script]).unwrap();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {command}\nport = {}\nstartup_timeout = \"10s\"\nretry_delay = \"100ms\"\n\n\
             [frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n[dev]\nshutdown_grace = \"2s\"\n",
            checkout.port
        ),
    );
}

#[test]
fn kill_9_of_dev_and_its_guardian_leaves_a_grandchild_that_the_next_run_names_and_stops() {
    let checkout = Checkout::new();
    // `sh` is the process dev starts; the server is its child in the same group, which
    // the parent-death signal (sent to sh only) does not reach.
    shell_backend(&checkout, "$FAKE --pid-file worker.pid & wait");
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("backend ready in", LONG);
    let worker = read_pid(&checkout.file("worker.pid")).unwrap();
    // Should the test fail before the next run stops it, the worker goes anyway.
    let _worker_guard = crate::support::KillOnDrop(worker);
    // A kill -9 of both (what the guardian cannot cover): the next run's clean-up is
    // as it was before there was a guardian.
    let guardian = dev.guardian();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(guardian as i32), Signal::SIGKILL).unwrap();
    assert!(wait_until(LONG, || !pid_alive(guardian)));
    dev.signal(Signal::SIGKILL);
    dev.wait(LONG);
    assert!(pid_alive(worker), "the grandchild outlives a killed dev");

    let next = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    next.expect_line("did not exit cleanly", LONG);
    next.expect_line(&format!("pid {worker} "), LONG);
    next.expect_line("backend ready in", LONG);
    assert!(!pid_alive(worker), "the leftover is stopped");
    assert!(!next.output().contains("reusing"), "{}", next.output());
    let fresh = read_pid(&checkout.file("worker.pid")).unwrap();
    assert_ne!(fresh, worker);
    stop(next);
    assert!(!pid_alive(fresh));
}

#[test]
fn a_daemonizing_backend_ends_the_run_with_the_forking_named_and_nothing_left() {
    for script in [
        // A double fork into a session of its own.
        "setsid $FAKE --pid-file daemon.pid </dev/null >/dev/null 2>&1 &",
        // The same without setsid: the server stays in the group.
        "$FAKE --pid-file daemon.pid </dev/null >/dev/null 2>&1 &",
    ] {
        let checkout = Checkout::new();
        shell_backend(&checkout, script);
        let (status, output) = checkout.run(&["dev", "--no-sync", "--no-frontend"], LONG);
        assert_eq!(status.code(), Some(1), "{output}");
        assert!(output.contains("forks into the background"), "{output}");
        assert!(!output.contains("read the stderr lines above"), "{output}");
        assert!(
            output.matches("started backend pid").count() == 1,
            "no retry loop: {output}"
        );
        if let Some(daemon) = read_pid(&checkout.file("daemon.pid")) {
            assert!(
                wait_until(Duration::from_secs(5), || !pid_alive(daemon)),
                "the daemon {daemon} is left running:\n{output}"
            );
        }
        assert!(
            crate::support::is_free_port(checkout.port),
            "the port is released"
        );
    }
}

/// Pids whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|raw| String::from_utf8_lossy(&raw).contains(needle))
        })
        .filter(|pid| pid_alive(*pid))
        .collect()
}

#[test]
fn sigint_during_a_real_venv_creation_stops_the_installer_and_exits_0() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &[],
        "requirements = \"backend/requirements.txt\"\nvenv = \"backend/.venv\"",
        "",
    );
    // A real requirement, so that pip runs for a while after the venv exists.
    checkout.write("backend/requirements.txt", "six==1.16.0\n");
    let mut dev = checkout.spawn(&["dev", "--no-frontend"]);
    dev.expect_line("creating backend/.venv", LONG);
    let venv = checkout.file("backend/.venv").display().to_string();
    let dir = checkout.path().display().to_string();
    // Wait until the installer runs, so that the signal lands in the middle of it.
    wait_until(LONG, || !processes_mentioning(&venv).is_empty());
    dev.signal(Signal::SIGINT);
    let status = dev.wait(LONG);
    assert_eq!(status.code(), Some(0), "{}", dev.output());
    assert!(
        wait_until(Duration::from_secs(5), || processes_mentioning(&dir)
            .is_empty()),
        "installer processes left: {:?}\n{}",
        processes_mentioning(&dir),
        dev.output()
    );
    assert!(records(&checkout).is_empty());
}

#[test]
fn doctor_during_a_live_run_that_moved_the_port_lists_it_and_sees_no_error() {
    let checkout = Checkout::new();
    let _server = http_server(checkout.port);
    with_frontend_config(&checkout, &[]);
    let dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend", "--port", "auto"]);
    dev.expect_line("backend ready in", LONG);
    let id = correlation_id(&dev);
    let (_, output) = checkout.run(&["doctor", "--json"], LONG);
    let report: serde_json::Value = serde_json::from_str(&output).unwrap();
    let check = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    let frontend = check("frontend-config");
    assert_ne!(frontend["status"], "error", "{frontend}");
    // The configured port is held by an unrelated server: doctor looks at the run's.
    for id in ["port", "backend-health"] {
        let found = check(id);
        assert_ne!(found["status"], "error", "{found}");
    }
    assert_eq!(frontend["data"]["live_run"], id.as_str(), "{frontend}");
    let runs = check("runs");
    assert_eq!(
        runs["data"]["live"][0]["correlation_id"],
        id.as_str(),
        "{runs}"
    );
    assert_eq!(runs["data"]["live"][0]["pid"], dev.pid(), "{runs}");
    stop(dev);
}

#[test]
fn a_recorded_pid_reused_by_an_unrelated_program_is_never_signalled() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    // An unrelated program that happens to have a pid the dead run recorded, but with
    // another start time.
    let mut unrelated = Command::new("sleep").arg("3600").spawn().unwrap();
    let dead_dev = {
        let mut gone = Command::new("true").spawn().unwrap();
        let pid = gone.id();
        gone.wait().unwrap();
        pid
    };
    let record = serde_json::json!({
        "correlation_id": "dev-1-dead00",
        "pid": dead_dev,
        "start_time": 1,
        "started_unix_ms": 1,
        "backend_port": checkout.port,
        "frontend_port": null,
        "backend": {"kind": "owned", "pid": unrelated.id()},
        "started": [{"role": "backend", "pid": unrelated.id(), "start_time": 1,
                     "group": true, "cmdline": "python3 main.py"}],
        "frontend_config": null,
        "log_file": null
    });
    checkout.write(
        ".dev/runs/dev-1-dead00.json",
        &serde_json::to_string(&record).unwrap(),
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(pid_alive(unrelated.id()), "{output}");
    assert!(
        records(&checkout).is_empty(),
        "the dead run's record is cleaned up"
    );
    unrelated.kill().unwrap();
    unrelated.wait().unwrap();
}

#[test]
fn two_runs_started_at_the_same_moment_share_one_backend() {
    let checkout = Checkout::new();
    let backend = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &backend], "", "");
    let first = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    let second = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    assert!(
        wait_until(LONG, || {
            let (a, b) = (first.output(), second.output());
            (a.contains("backend ready in") || a.contains("reusing"))
                && (b.contains("backend ready in") || b.contains("reusing"))
        }),
        "first:\n{}\nsecond:\n{}",
        first.output(),
        second.output()
    );
    let outputs = [first.output(), second.output()];
    let started = outputs
        .iter()
        .filter(|o| o.contains("backend ready in"))
        .count();
    let reused = outputs
        .iter()
        .filter(|o| o.contains("reusing the backend of dev run"))
        .count();
    assert_eq!((started, reused), (1, 1), "{outputs:#?}");
    for output in &outputs {
        assert!(!output.contains("address already in use"), "{output}");
    }
    let second_output = stop(second);
    assert!(
        !second_output.contains("exited while running"),
        "{second_output}"
    );
    stop(first);
}
