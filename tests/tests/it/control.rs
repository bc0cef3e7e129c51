//! Scripts, CI and editors: `dev --detach`, `status`, `wait` and `stop` against real
//! runs of the fake backend, as a CI script and a second terminal use them.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::ports::with_frontend_config;
use crate::support::{
    Checkout, KillOnDrop, fake_backend, http_get, pid_alive, read_pid, wait_until,
};

const LONG: Duration = Duration::from_secs(30);

fn records(checkout: &Checkout) -> usize {
    crate::runs::records(checkout).len()
}

#[test]
fn stop_and_status_with_no_live_run_exit_3_and_say_so() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
    assert!(
        output.contains("no live dev run in ") && output.contains(": nothing to stop"),
        "{output}"
    );
    let (status, output) = checkout.run(&["stop", "dev-1-abcdef"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
    assert!(
        output.contains("no live dev run dev-1-abcdef in "),
        "{output}"
    );
    let (status, output) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
    assert!(output.contains("no live dev run in "), "{output}");
    let (status, output) = checkout.run(&["status", "--json"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
    let json: serde_json::Value = serde_json::from_str(&output).unwrap();
    assert_eq!(json, serde_json::json!({"version": 1, "runs": []}));
}

#[test]
fn stop_stops_a_run_started_in_another_terminal_as_ctrl_c_does() {
    let checkout = Checkout::new();
    let original = with_frontend_config(&checkout, &["--pid-file", "backend.pid"]);
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("up in ", LONG);
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let _guard = KillOnDrop(backend);
    let (status, said) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "backend  http://127.0.0.1:{} (pid {backend}, started): healthy",
            checkout.port
        )),
        "{said}"
    );
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("stopped dev run dev-"), "{output}");
    // It was stopped as Ctrl-C stops it: a clean exit, its own stop said.
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(dev.output().contains("SIGTERM"), "{}", dev.output());
    assert!(!pid_alive(backend));
    assert_eq!(records(&checkout), 0);
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        original
    );
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
}

#[test]
fn stop_of_a_killed_run_stops_its_leftovers_as_the_next_run_would() {
    let checkout = Checkout::new();
    // `sh` is what dev starts; the server is its child in the same group, which the
    // parent-death signal (sent to sh only) does not reach.
    let script = format!(
        "python3 '{}' --pid-file backend.pid & wait",
        fake_backend().display()
    );
    let command = serde_json::to_string(&["sh", "-c", &script]).unwrap();
    // Without the guardian, which would otherwise clean up after the kill before `stop`
    // can (tests/it/guardian.rs tests that): this is the case of a run whose guardian
    // was killed too, or turned off.
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {command}\nport = {}\n\n[frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n[dev]\nguardian = false\n",
            checkout.port
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("up in ", LONG);
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let _guard = KillOnDrop(backend);
    // Killed outright: nothing of dev runs its clean-up.
    dev.signal(Signal::SIGKILL);
    dev.wait(LONG);
    assert!(pid_alive(backend), "the backend outlives a killed dev");
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(3), "no live run: {output}");
    assert!(output.contains("did not exit cleanly"), "{output}");
    assert!(output.contains(&format!("pid {backend} ")), "{output}");
    assert!(wait_until(LONG, || !pid_alive(backend)), "{output}");
    assert_eq!(records(&checkout), 0, "{output}");
}

#[test]
fn wait_after_a_detached_start_returns_once_a_slow_backend_is_ready() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--unhealthy-ms", "1500"], "", "");
    // `dev --detach &` in a script, then `wait`.
    let mut detach = checkout.spawn(&["dev", "--no-sync", "--no-frontend", "--detach"]);
    let (status, output) = checkout.run(&["wait", "--timeout", "60s"], LONG);
    assert_eq!(status.code(), Some(0), "{output}\n{}", detach.output());
    assert!(
        output.contains(&format!(
            "is up: backend http://127.0.0.1:{}",
            checkout.port
        )),
        "{output}"
    );
    let (code, body) = http_get(checkout.port, "/health", "t").unwrap();
    assert_eq!(code, 200, "ready when wait returns: {body}");
    assert_eq!(detach.wait(LONG).code(), Some(0), "{}", detach.output());
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
}

#[test]
fn wait_after_a_detached_start_of_a_backend_that_never_becomes_ready_exits_1_with_the_reason() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--never-healthy"],
        "attempts = 1\nstartup_timeout = \"2s\"",
        "",
    );
    let mut detach = checkout.spawn(&["dev", "--no-sync", "--no-frontend", "--detach"]);
    let (status, output) = checkout.run(&["wait", "--timeout", "60s"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("the backend did not become ready after 1 attempt"),
        "{output}"
    );
    assert_eq!(detach.wait(LONG).code(), Some(1), "{}", detach.output());
}

#[test]
fn wait_on_a_run_started_in_another_terminal() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--unhealthy-ms", "500"], "", "");
    let _dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    let (status, output) = checkout.run(&["wait"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(http_get(checkout.port, "/health", "t").unwrap().0, 200);
}

#[test]
fn wait_times_out_naming_what_it_waits_for() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["wait", "--timeout", "300ms"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(
            "error: timed out after 300ms: still waiting for a dev run of this checkout to start"
        ),
        "{output}"
    );
    // A run that is starting: what it waits for is named.
    checkout.fake_config(
        &["--pid-file", "backend.pid", "--unhealthy-ms", "60000"],
        "startup_timeout = \"60s\"",
        "",
    );
    let _dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    assert!(wait_until(LONG, || read_pid(&checkout.file("backend.pid")).is_some()));
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let (status, output) = checkout.run(&["wait", "--timeout", "500ms"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!(
            "to be up: it is waiting for the backend (pid {backend}) to be ready"
        )),
        "{output}"
    );
    let (status, output) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(1), "starting, not up: {output}");
    assert!(output.contains("): starting, for "), "{output}");
    let (status, output) = checkout.run(&["wait", "--timeout", "soon"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("invalid value \"soon\" for --timeout"),
        "{output}"
    );
}

/// A checkout with the fake backend (its pid in `backend.pid`), a frontend that serves
/// the checkout over HTTP, and a frontend config holding the backend port.
fn served_checkout(
    frontend_port: u16,
    fake_args: &[&str],
    backend_extra: &str,
) -> (Checkout, String) {
    let checkout = Checkout::new();
    let original = with_frontend_config(&checkout, &[]);
    let mut command = vec!["python3".to_owned(), fake_backend().display().to_string()];
    command.extend(fake_args.iter().map(|a| (*a).to_owned()));
    let command = serde_json::to_string(&command).unwrap();
    let frontend = r#"["sh", "-c", "exec python3 -m http.server \"$FRONTEND_PORT\" --bind \"$FRONTEND_HOST\""]"#;
    checkout.write("index.html", "<h1>the app</h1>\n");
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {command}\nport = {}\nretry_delay = \"100ms\"\n{backend_extra}\n\n\
             [frontend]\ncommand = {frontend}\nport = {frontend_port}\nconfig_file = \"frontend/config.json\"\n\n\
             [dev]\nshutdown_grace = \"2s\"\n",
            checkout.port
        ),
    );
    (checkout, original)
}

#[test]
fn a_ci_script_detaches_tests_the_app_reads_status_and_stops_leaving_nothing() {
    let frontend_port = crate::support::free_port();
    let (checkout, original) = served_checkout(
        frontend_port,
        &["--pid-file", "backend.pid"],
        "startup_timeout = \"10s\"",
    );
    // The script: start in the background...
    let (status, output) = checkout.run(&["dev", "--no-sync", "--detach"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let _guard = KillOnDrop(backend);
    assert!(
        output.contains(&format!(
            "backend http://127.0.0.1:{} (pid {backend}, started)",
            checkout.port
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!("frontend http://127.0.0.1:{frontend_port}/ (pid ")),
        "{output}"
    );
    let id = output
        .split("`cargo xtask stop ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap()
        .to_owned();
    assert!(output.contains(&format!("run {id} · ")), "{output}");
    // ...test the app: the page and the backend's health...
    let (code, page) = http_get(frontend_port, "/", &id).unwrap();
    assert_eq!((code, page.as_str()), (200, "<h1>the app</h1>\n"));
    let (code, _) = http_get(checkout.port, "/health", &id).unwrap();
    assert_eq!(code, 200);
    // ...ask what runs...
    let output = checkout.command(&["status", "--json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    crate::schema::validate(&crate::schema::load("status.schema.json"), &json).unwrap();
    let run = &json["runs"][0];
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["state"], "up");
    assert_eq!(run["processes"][0]["pid"], backend);
    assert_eq!(run["processes"][0]["port"], checkout.port);
    assert_eq!(run["processes"][0]["health"], "healthy");
    assert_eq!(run["processes"][1]["port"], frontend_port);
    assert_eq!(run["processes"][1]["health"], "serving (HTTP 200)");
    assert_eq!(run["frontend_config"]["value"], checkout.port.to_string());
    let dev = run["pid"].as_u64().unwrap() as u32;
    let frontend = run["processes"][1]["pid"].as_u64().unwrap() as u32;
    let _frontend_guard = KillOnDrop(frontend);
    assert!(pid_alive(dev) && pid_alive(frontend));
    // ...and stop it: nothing is left, the frontend config is as it was.
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!("stopped dev run {id} (pid {dev})")),
        "{output}"
    );
    for pid in [dev, backend, frontend] {
        assert!(!pid_alive(pid), "pid {pid} is left running");
    }
    assert!(crate::support::is_free_port(frontend_port));
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        original
    );
    assert_eq!(records(&checkout), 0);
    let (status, output) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
}

#[test]
fn a_detached_start_that_fails_returns_1_with_the_report_and_leaves_nothing_running() {
    let (checkout, original) = served_checkout(
        crate::support::free_port(),
        &["--pid-file", "backend.pid", "--never-healthy"],
        "attempts = 1\nstartup_timeout = \"1s\"",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--detach"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("error: the backend did not become ready after 1 attempt"),
        "{output}"
    );
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let _guard = KillOnDrop(backend);
    // When the command returns, not eventually.
    assert!(!pid_alive(backend), "the backend is left running");
    assert_eq!(records(&checkout), 0, "the run is gone");
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        original
    );
}

#[test]
fn a_record_naming_a_live_program_that_is_not_dev_stops_nothing() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let mut bystander = std::process::Command::new("sleep")
        .arg("3600")
        .spawn()
        .unwrap();
    let pid = bystander.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start_time: u64 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    // Everything a live run's record needs: this boot, the pid and its start time.
    let record = serde_json::json!({
        "correlation_id": "dev-1-0abcde", "boot_id": boot_id.trim(), "pid": pid,
        "start_time": start_time, "started_unix_ms": 1, "backend_port": null,
        "frontend_port": null, "backend": {"kind": "none"}, "started": [],
        "frontend_config": null, "log_file": null, "state": "up"
    });
    checkout.write(".dev/runs/dev-1-0abcde.json", &record.to_string());
    let (status, output) = checkout.run(&["stop", "--all"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!(
            "the record of dev run dev-1-0abcde names pid {pid}, which is not a dev process: not signalled"
        )),
        "{output}"
    );
    assert!(pid_alive(pid), "the bystander was signalled");
    let (status, output) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(3), "{output}");
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}

#[test]
fn ctrl_c_while_a_detached_run_starts_stops_it_and_leaves_nothing() {
    let (checkout, original) = served_checkout(
        crate::support::free_port(),
        &["--pid-file", "backend.pid", "--unhealthy-ms", "60000"],
        "startup_timeout = \"60s\"",
    );
    let mut detach = checkout.spawn(&["dev", "--no-sync", "--detach"]);
    assert!(
        wait_until(LONG, || read_pid(&checkout.file("backend.pid")).is_some()),
        "{}",
        detach.output()
    );
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let _guard = KillOnDrop(backend);
    detach.signal(Signal::SIGINT);
    assert_eq!(detach.wait(LONG).code(), Some(0), "{}", detach.output());
    assert!(
        detach
            .output()
            .contains("interrupted while the background run started: it stopped (exit 0)"),
        "{}",
        detach.output()
    );
    assert!(!pid_alive(backend), "the backend is left running");
    assert_eq!(records(&checkout), 0);
    assert_eq!(
        std::fs::read_to_string(checkout.file("frontend/config.json")).unwrap(),
        original
    );
}

#[test]
fn stop_with_two_live_runs_names_them_and_stop_all_stops_both() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let other_port = crate::support::free_port().to_string();
    let mut first = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    first.expect_line("up in ", LONG);
    let mut second = checkout.spawn(&["dev", "--no-sync", "--no-frontend", "--port", &other_port]);
    second.expect_line("up in ", LONG);
    let (status, output) = checkout.run(&["stop"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("error: 2 live dev runs in this checkout (dev-"),
        "{output}"
    );
    assert!(output.contains("cargo xtask stop --all"), "{output}");
    let (status, output) = checkout.run(&["status"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(output.matches("): up, for ").count(), 2, "{output}");
    let (status, output) = checkout.run(&["stop", "--all"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(
        output.matches("stopped dev run dev-").count(),
        2,
        "{output}"
    );
    assert_eq!(first.wait(LONG).code(), Some(0));
    assert_eq!(second.wait(LONG).code(), Some(0));
    assert_eq!(records(&checkout), 0);
}
