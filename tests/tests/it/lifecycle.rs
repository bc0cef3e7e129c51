//! `dev`'s backend lifecycle against the fake backend: reuse, retries, the two-phase
//! wait, failure reports, supervision and shutdown. Every check of "nothing left
//! running" is by pid.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{Checkout, Dev, Running, normalised, pid_alive, read_pid, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// A frontend that reports its pid and the backend URL it was given, then waits.
const FRONTEND: &str = r#"["python3", "-c", "import os, time; print('frontend-up pid', os.getpid(), 'url', os.environ['BACKEND_URL'], flush=True); time.sleep(3600)"]"#;

fn with_frontend(checkout: &Checkout, fake_args: &[&str], extra: &str) {
    checkout.fake_config(fake_args, extra, "");
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    let config = config.replace(
        r#"command = ["sleep", "3600"]"#,
        &format!("command = {FRONTEND}"),
    );
    checkout.write("dev.toml", &config);
}

fn pid_file(checkout: &Checkout, name: &str) -> String {
    checkout.file(name).display().to_string()
}

#[test]
fn happy_path_starts_backend_then_frontend_and_stops_both_on_sigint() {
    let checkout = Checkout::new();
    let backend_pid = pid_file(&checkout, "backend.pid");
    with_frontend(&checkout, &["--pid-file", &backend_pid], "");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    let frontend_line = dev.expect_line("[frontend] frontend-up pid", LONG);
    let ready = dev.expect_line("backend ready in", LONG);
    let output = dev.output();
    assert!(
        output.find("backend ready in") < output.find("started frontend pid"),
        "the frontend starts only after the backend is ready:\n{output}"
    );
    assert!(
        frontend_line.contains(&format!("url http://127.0.0.1:{}", checkout.port)),
        "{frontend_line}"
    );
    assert!(ready.starts_with("[dev] "), "{ready}");
    // The correlation ID reaches the backend in the X-Correlation-ID header.
    let id_line = dev.expect_line("[dev] run dev-", LONG);
    let id = id_line.split_whitespace().nth(2).unwrap().to_owned();
    dev.expect_line(
        &format!("[backend] fake: GET /health correlation_id={id}"),
        LONG,
    );
    // ...and every line of the log file named after it carries it.
    let log = std::fs::read_to_string(checkout.file(&format!(".dev/logs/{id}.log"))).unwrap();
    assert!(log.lines().count() > 3);
    assert!(log.lines().all(|line| line.contains(&id)), "{log}");
    assert!(log.contains("[backend] fake: listening"), "{log}");

    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let frontend: u32 = frontend_line
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert!(pid_alive(backend) && pid_alive(frontend));
    dev.signal(Signal::SIGINT);
    let status = dev.wait(LONG);
    assert_eq!(status.code(), Some(0), "{}", dev.output());
    assert!(!pid_alive(backend), "backend {backend} survived");
    assert!(!pid_alive(frontend), "frontend {frontend} survived");
}

/// The first health request goes out on the connection that found the port open
/// (issue 26: no second connect on the ready path), and its answer is the one used: a
/// backend that serves only its first connection is ready. Without it the poll's
/// connection would be closed unused and the request, on a second connection, never
/// answered.
#[test]
fn the_first_answer_comes_on_the_connection_that_found_the_port_open() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--one-connection", "--delay-ms", "300"],
        "health_timeout = \"1s\"\nstartup_timeout = \"20s\"",
        "",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("backend ready in", LONG);
    assert_eq!(
        dev.output().matches("started backend pid").count(),
        1,
        "{}",
        dev.output()
    );
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn dev_cmd_gets_the_environment_and_its_exit_code_is_passed_through() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--print-env"], "", "");
    let (status, output) = checkout.run(
        &[
            "dev",
            "--no-sync",
            "--",
            "sh",
            "-c",
            "echo \"got $BACKEND_HOST $BACKEND_PORT $BACKEND_URL $CORRELATION_ID\"; exit 7",
        ],
        LONG,
    );
    assert_eq!(status.code(), Some(7), "{status:?}\n{output}");
    let port = checkout.port;
    assert!(
        output.contains(&format!(
            "got 127.0.0.1 {port} http://127.0.0.1:{port} dev-"
        )),
        "{output}"
    );
    // The backend got the same environment, plus PYTHONUNBUFFERED.
    assert!(
        output.contains(&format!("BACKEND_PORT={port}")) && output.contains("PYTHONUNBUFFERED=1"),
        "{output}"
    );
}

#[test]
fn reuses_our_healthy_backend_and_never_stops_it() {
    let checkout = Checkout::new();
    let outside = checkout.outside_backend(&[]);
    with_frontend(&checkout, &[], "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!(
            "reusing backend pid {} on 127.0.0.1:{} (started outside dev)",
            outside.pid(),
            checkout.port
        )),
        "{output}"
    );
    assert!(
        !output.contains("started backend"),
        "no second backend: {output}"
    );
    assert!(
        pid_alive(outside.pid()),
        "a reused backend is never stopped"
    );

    // Not on Ctrl-C either.
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("[frontend] frontend-up pid", LONG);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0));
    assert!(pid_alive(outside.pid()), "a reused backend survives Ctrl-C");
}

#[test]
fn a_healthy_backend_of_another_service_is_not_reused() {
    let checkout = Checkout::new();
    let outside = checkout.outside_backend(&["--service", "someone-else"]);
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("not our backend"), "{output}");
    assert!(output.contains("someone-else"), "{output}");
    assert!(!output.contains("started backend"), "{output}");
    assert!(
        pid_alive(outside.pid()),
        "what dev did not start, it does not stop"
    );
}

#[test]
fn crashes_twice_then_succeeds_on_the_third_try_with_backoff() {
    let checkout = Checkout::new();
    let state = pid_file(&checkout, "runs");
    checkout.fake_config(
        &["--crash-times", "2", "--state-file", &state],
        "retry_delay = \"300ms\"",
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("attempt 1 of 3 failed: the backend exited (exit code 3)"),
        "{output}"
    );
    assert!(
        output.contains("retrying in 300ms (attempt 2 of 3)"),
        "{output}"
    );
    assert!(
        output.contains("retrying in 600ms (attempt 3 of 3)"),
        "{output}"
    );
    assert!(output.contains("backend ready in"), "{output}");

    // The delays really happened: the log file's timestamps of each start.
    let log_path = std::fs::read_dir(checkout.file(".dev/logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log = std::fs::read_to_string(log_path).unwrap();
    let at = |needle: &str| -> Vec<f64> {
        log.lines()
            .filter(|l| l.contains(needle))
            .map(|l| seconds_of_day(l.split_whitespace().next().unwrap()))
            .collect()
    };
    let failed = at("failed: the backend exited");
    let started = at("started backend pid");
    assert_eq!((failed.len(), started.len()), (2, 3), "{log}");
    assert!(
        started[1] - failed[0] >= 0.3,
        "first backoff too short:\n{log}"
    );
    assert!(
        started[2] - failed[1] >= 0.6,
        "second backoff too short:\n{log}"
    );
}

/// `2026-11-27T21:39:38.123Z` -> seconds since midnight.
fn seconds_of_day(stamp: &str) -> f64 {
    let time = stamp.split('T').nth(1).unwrap().trim_end_matches('Z');
    let mut parts = time.split(':').map(|p| p.parse::<f64>().unwrap());
    parts.next().unwrap() * 3600.0 + parts.next().unwrap() * 60.0 + parts.next().unwrap()
}

#[test]
fn never_healthy_fails_with_the_full_report_and_leaves_nothing_running() {
    let dev = Dev::new();
    let (grandchild, backend) = (dev.file("grandchild.pid"), dev.file("backend.pid"));
    let ran = dev
        .backend(&["--never-healthy", "--spawn-grandchild", &grandchild])
        .backend(&["--pid-file", &backend])
        .setting("attempts = 2")
        .setting("startup_timeout = \"1s\"")
        .args(&["--", "true"])
        .run();
    assert_eq!(ran.status.code(), Some(1), "{}", ran.stderr);
    let report = &ran.stderr[ran.stderr.find("error: ").expect(&ran.stderr)..];
    assert_eq!(
        normalised(report.trim_end(), &ran.checkout),
        "error: the backend did not become ready after 2 attempts
evidence:
  attempt 1: not ready within 1s (the port opened but health never reported ready) after <n> ms
  attempt 2: not ready within 1s (the port opened but health never reported ready) after <n> ms
  last health response: HTTP 503, status \"starting\"
likely causes, most likely first:
  1. the backend listens but its health endpoint never reported healthy
     fix: check `backend.health_path` and the last health response above, or raise `backend.startup_timeout`
correlation id: dev-<id>
log file: <checkout>/.dev/logs/dev-<id>.log",
        "{}",
        ran.stderr
    );
    assert!(!ran.stdout.contains("started frontend"), "{}", ran.stdout);
    assert!(!ran.stderr.contains("started frontend"), "{}", ran.stderr);
    // The log file has the report too, whole.
    assert!(
        ran.log
            .contains("the backend did not become ready after 2 attempts"),
        "{}",
        ran.log
    );
    let backend = read_pid(&ran.checkout.file("backend.pid")).unwrap();
    let grandchild = read_pid(&ran.checkout.file("grandchild.pid")).unwrap();
    assert!(!pid_alive(backend), "backend {backend} survived");
    assert!(!pid_alive(grandchild), "grandchild {grandchild} survived");
}

#[test]
fn an_early_exit_fails_the_attempt_without_waiting_for_the_timeout() {
    let dev = Dev::new();
    let state = dev.file("runs");
    // The whole run must end long before the one-minute startup timeout.
    let ran = dev
        .backend(&["--crash-times", "5", "--state-file", &state])
        .setting("attempts = 1")
        .setting("startup_timeout = \"1m\"")
        .args(&["--", "true"])
        .within(Duration::from_secs(20))
        .run();
    let output = format!("{}\n{}", ran.stdout, ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "{output}");
    assert!(
        ran.stderr
            .contains("attempt 1: the backend exited (exit code 3) before it was ready"),
        "{output}"
    );
    assert!(
        output.contains("  | fake: simulated crash 1 of 5"),
        "stderr tail: {output}"
    );
    assert!(ran.stderr.contains("crashed during start-up"), "{output}");
}

#[test]
fn degraded_is_not_ready_unless_accepted() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--degraded", "database"],
        "attempts = 1\nstartup_timeout = \"1s\"",
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("the backend runs but reports degraded: database (simulated failure)"),
        "{output}"
    );
    assert!(
        output.contains("accept_degraded"),
        "the fix names the setting: {output}"
    );

    checkout.fake_config(
        &["--degraded", "database"],
        "attempts = 1\nstartup_timeout = \"1s\"\naccept_degraded = true",
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
}

fn shutdown_leaves_no_process(signal: Signal) {
    let checkout = Checkout::new();
    let grandchild = pid_file(&checkout, "grandchild.pid");
    let backend = pid_file(&checkout, "backend.pid");
    let frontend_child = pid_file(&checkout, "frontend-child.pid");
    checkout.fake_config(
        &["--spawn-grandchild", &grandchild, "--pid-file", &backend],
        "",
        "",
    );
    let mut dev = checkout.spawn(&[
        "dev",
        "--no-sync",
        "--",
        "sh",
        "-c",
        &format!("sleep 3600 & echo $! > {frontend_child}; echo frontend up; wait"),
    ]);
    dev.expect_line("[frontend] frontend up", LONG);
    let pids: Vec<u32> = ["backend.pid", "grandchild.pid", "frontend-child.pid"]
        .iter()
        .map(|name| read_pid(&checkout.file(name)).unwrap())
        .collect();
    assert!(pids.iter().all(|pid| pid_alive(*pid)));
    dev.signal(signal);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    for pid in pids {
        assert!(
            !pid_alive(pid),
            "pid {pid} survived {signal}:\n{}",
            dev.output()
        );
    }
}

#[test]
fn sigint_leaves_no_process_of_the_tree_alive() {
    shutdown_leaves_no_process(Signal::SIGINT);
}

#[test]
fn sigterm_leaves_no_process_of_the_tree_alive() {
    shutdown_leaves_no_process(Signal::SIGTERM);
}

#[test]
fn a_backend_ignoring_sigterm_is_killed_after_the_grace_and_named() {
    let checkout = Checkout::new();
    let backend = pid_file(&checkout, "backend.pid");
    checkout.fake_config(&["--ignore-sigterm", "--pid-file", &backend], "", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("started frontend", LONG);
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let output = dev.output();
    assert!(output.contains("fake: ignoring SIGTERM"), "{output}");
    assert!(
        output.contains(&format!(
            "pid {pid} (python3) was still running after the grace period and was killed"
        )),
        "{output}"
    );
    assert!(!pid_alive(pid));
}

/// A grace period far longer than the test's patience: only a kill ends the run in time.
fn with_long_grace(checkout: &Checkout) {
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace("shutdown_grace = \"2s\"", "shutdown_grace = \"5m\""),
    );
}

/// With a backend that ignores SIGTERM (pid in `backend.pid`) and a grace period far
/// longer than the test's patience: waits for `phase`, sends Ctrl-C, then a second one
/// once the backend ignored the first stop; dev must kill at once, saying `said`.
fn second_ctrl_c_kills_at_once(checkout: &Checkout, phase: &str, said: &str) {
    with_long_grace(checkout);
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line(phase, LONG);
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    dev.signal(Signal::SIGINT);
    dev.expect_line("fake: ignoring SIGTERM", LONG);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(dev.output().contains(said), "{}", dev.output());
    assert!(!pid_alive(pid));
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    let checkout = Checkout::new();
    let backend = pid_file(&checkout, "backend.pid");
    checkout.fake_config(&["--ignore-sigterm", "--pid-file", &backend], "", "");
    second_ctrl_c_kills_at_once(
        &checkout,
        "started frontend",
        "SIGINT again: killing everything now",
    );
}

/// A run whose backend exits (code 4) 300 ms after its first start is ready (later
/// starts keep running), restarted after `retry_delay`; the run and its frontend's pid.
fn crashing_backend_run(checkout: &Checkout, retry_delay: &str) -> (Running, u32) {
    let state = pid_file(checkout, "runs");
    with_frontend(
        checkout,
        &["--die-after-ms", "300", "--state-file", &state],
        &format!("retry_delay = \"{retry_delay}\""),
    );
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    let frontend_line = dev.expect_line("[frontend] frontend-up pid", LONG);
    let frontend: u32 = frontend_line
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    (dev, frontend)
}

#[test]
fn a_backend_crash_mid_run_is_reported_and_restarted_while_the_frontend_keeps_running() {
    let checkout = Checkout::new();
    let (mut dev, frontend) = crashing_backend_run(&checkout, "100ms");
    dev.expect_line(
        "exited while running (exit code 4); correlation id dev-",
        LONG,
    );
    dev.expect_line("  | fake: dying mid-run", LONG);
    dev.expect_line("restarting the backend on port", LONG);
    assert!(
        wait_until(LONG, || dev.output().matches("backend ready in").count()
            == 2),
        "{}",
        dev.output()
    );
    assert!(pid_alive(frontend), "the frontend keeps running");
    assert_eq!(dev.output().matches("started frontend").count(), 1);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0));
    assert!(!pid_alive(frontend));
}

#[test]
fn the_frontend_exiting_during_the_backoff_after_a_crash_ends_the_run_at_once() {
    let checkout = Checkout::new();
    // A backoff long enough that a supervisor waiting it out fails the test.
    let (mut dev, frontend) = crashing_backend_run(&checkout, "20s");
    dev.expect_line(
        &format!("restarting the backend on port {} in 20s", checkout.port),
        LONG,
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(frontend).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let killed = std::time::Instant::now();
    let stopped = wait_until(Duration::from_secs(1), || dev.try_status().is_some());
    assert!(
        stopped,
        "dev still runs {:?} after the frontend exited:\n{}",
        killed.elapsed(),
        dev.output()
    );
    let output = dev.output();
    assert!(output.contains("frontend exited ("), "{output}");
    assert_eq!(
        output.matches("backend ready in").count(),
        1,
        "no restart after the frontend exited:\n{output}"
    );
}

#[test]
fn the_backend_dies_with_dev_when_dev_is_killed_outright() {
    let checkout = Checkout::new();
    let backend = pid_file(&checkout, "backend.pid");
    checkout.fake_config(&["--pid-file", &backend], "", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("backend ready in", LONG);
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    // SIGKILL gives dev no chance to stop anything: only the parent-death signal can.
    dev.signal(Signal::SIGKILL);
    dev.wait(LONG);
    assert!(
        wait_until(Duration::from_secs(10), || !pid_alive(pid)),
        "backend {pid} outlived a killed dev"
    );
}

#[test]
fn sighup_leaves_no_process_of_the_tree_alive() {
    // The terminal closing (or an ssh session dropping) is a shutdown like Ctrl-C.
    shutdown_leaves_no_process(Signal::SIGHUP);
}

#[test]
fn a_second_ctrl_c_during_startup_kills_at_once() {
    let checkout = Checkout::new();
    let backend = pid_file(&checkout, "backend.pid");
    checkout.fake_config(
        &[
            "--ignore-sigterm",
            "--never-healthy",
            "--pid-file",
            &backend,
        ],
        "",
        "",
    );
    second_ctrl_c_kills_at_once(
        &checkout,
        "[backend] fake: listening",
        "stopped before the backend was ready",
    );
}

#[test]
fn a_reused_backend_started_by_hand_that_dies_is_reported_and_taken_over() {
    let checkout = Checkout::new();
    let outside = checkout.outside_backend(&[]);
    checkout.fake_config(&[], "", "");
    let outside_pid = outside.pid();
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("reusing backend pid", LONG);
    drop(outside);
    dev.expect_line(
        &format!("the reused backend (pid {}) on port", outside_pid),
        LONG,
    );
    dev.expect_line("taking over", LONG);
    dev.expect_line("backend ready in", LONG);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0));
}

#[test]
fn a_backend_whose_code_does_not_load_is_reported_at_once_without_retries() {
    // A syntax error runs the same way on every try: no backoff before the report.
    let checkout = Checkout::new();
    checkout.write("backend/main.py", "def broken(:\n    pass\n");
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"python3\", \"backend/main.py\"]\nport = {}\nretry_delay = \"5s\"\n\n\
             [frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n[dev]\nshutdown_grace = \"2s\"\n",
            checkout.port
        ),
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(
            "not retrying: `SyntaxError: invalid syntax` cannot change without an edit of the code"
        ),
        "{output}"
    );
    assert!(!output.contains("retrying in"), "{output}");
    assert!(!output.contains("attempt 2 of 3"), "{output}");
}
