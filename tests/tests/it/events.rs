//! `dev --message-format json`: the event stream of a start, a failed start, a crash and
//! restart, and a reload, each line checked against `schemas/events.schema.json`.

use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::schema;
use crate::support::{Checkout, Running, wait_until};
use crate::watch::{watched_checkout, write_app};

const LONG: Duration = Duration::from_secs(30);

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Every event of a run: one ID, and times that never go back.
fn one_run(events: &[Value]) {
    let id = &events[0]["correlation_id"];
    assert!(
        events.iter().all(|e| &e["correlation_id"] == id),
        "{events:?}"
    );
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

/// The events so far of a running `dev` (its JSON lines; the harness mixes the streams,
/// and every line for people starts with `[`).
fn events_of(dev: &Running) -> Vec<Value> {
    let json: Vec<String> = dev
        .output()
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(str::to_owned)
        .collect();
    schema::events(&json.join("\n"))
}

/// `dev --no-sync --message-format json` and `more`, run to its end: its exit code,
/// its events (each checked against the schema), and its stdout and stderr as text.
fn run_json(checkout: &Checkout, more: &[&str]) -> (Option<i32>, Vec<Value>, String, String) {
    let mut args = vec!["dev", "--no-sync", "--message-format", "json"];
    args.extend_from_slice(more);
    let output = checkout.command(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let events = schema::events(&stdout);
    (output.status.code(), events, stdout, stderr)
}

fn wait_for_events(dev: &Running, expected: &[&str]) -> Vec<Value> {
    let arrived = wait_until(LONG, || kinds(&events_of(dev)).len() >= expected.len());
    let events = events_of(dev);
    assert!(arrived, "{:?}\n{}", kinds(&events), dev.output());
    assert_eq!(kinds(&events), expected, "{}", dev.output());
    events
}

#[test]
fn a_successful_start_is_every_event_on_stdout_and_the_lines_for_people_on_stderr() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--pid-file", "backend.pid"], "", "");
    let (code, events, stdout, stderr) = run_json(&checkout, &["--", "true"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        kinds(&events),
        [
            "run-started",
            "port-chosen",
            "process-started",
            "ready",
            "process-started",
            "up",
            "stopped"
        ],
        "{stdout}"
    );
    one_run(&events);
    let backend = crate::support::read_pid(&checkout.file("backend.pid")).unwrap();
    let port = checkout.port;
    assert_eq!(events[1]["port"], port);
    assert_eq!(events[1]["why"], "configured");
    assert_eq!(events[2]["pid"], backend);
    assert_eq!(events[2]["attempt"], 1);
    assert_eq!(events[3]["url"], format!("http://127.0.0.1:{port}"));
    assert_eq!(events[5]["processes"][0]["pid"], backend);
    assert_eq!(events[4]["role"], "command");
    assert_eq!(events[4]["argv"], serde_json::json!(["true"]));
    assert_eq!(events[5]["processes"][1]["command"], "true");
    assert_eq!(events[6]["exit_code"], 0);
    assert!(stderr.contains("[dev] backend ready in "), "{stderr}");
    assert!(stderr.contains("[dev] up in "), "{stderr}");
}

#[test]
fn a_failed_start_ends_with_the_report_as_data() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--never-healthy"],
        "attempts = 1\nstartup_timeout = \"1s\"",
        "",
    );
    let (code, events, stdout, _) = run_json(&checkout, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        kinds(&events),
        [
            "run-started",
            "port-chosen",
            "process-started",
            "failed",
            "stopped"
        ],
        "{stdout}"
    );
    one_run(&events);
    let failed = &events[3];
    assert_eq!(
        failed["what"],
        "the backend did not become ready after 1 attempt"
    );
    assert!(!failed["causes"].as_array().unwrap().is_empty(), "{failed}");
    assert!(
        failed["report"]
            .as_str()
            .unwrap()
            .contains(failed["correlation_id"].as_str().unwrap()),
        "{failed}"
    );
    assert_eq!(events[4]["exit_code"], 1);
}

#[test]
fn a_crash_and_restart_is_unhealthy_restarting_and_a_second_start() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--die-after-ms", "300", "--state-file", "runs.txt"],
        "",
        "",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--message-format", "json"]);
    let events = wait_for_events(
        &dev,
        &[
            "run-started",
            "port-chosen",
            "process-started",
            "ready",
            "process-started",
            "up",
            "unhealthy",
            "restarting",
            "process-started",
            "ready",
        ],
    );
    assert!(
        events[6]["evidence"]
            .as_str()
            .unwrap()
            .contains("exit code 4"),
        "{}",
        events[6]
    );
    assert!(
        events[7]["reason"].as_str().unwrap().contains("exited"),
        "{}",
        events[7]
    );
    assert_eq!(events[8]["role"], "backend");
    assert_eq!(events[8]["attempt"], 2);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let events = events_of(&dev);
    assert_eq!(kinds(&events).last().unwrap(), "stopped");
    one_run(&events);
}

#[test]
fn a_reload_names_the_saved_file() {
    let checkout = watched_checkout("");
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--message-format", "json"]);
    wait_for_events(
        &dev,
        &[
            "run-started",
            "port-chosen",
            "process-started",
            "ready",
            "process-started",
            "up",
        ],
    );
    write_app(&checkout, "saved");
    let events = wait_for_events(
        &dev,
        &[
            "run-started",
            "port-chosen",
            "process-started",
            "ready",
            "process-started",
            "up",
            "reload",
            "process-started",
            "ready",
        ],
    );
    assert_eq!(events[6]["file"], "backend/app.py");
    assert_eq!(events[7]["attempt"], 2);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert_eq!(kinds(&events_of(&dev)).last().unwrap(), "stopped");
}

#[test]
fn a_reused_backend_and_a_moved_port_are_said_with_whose_and_why() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let first = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    first.expect_line("up in ", LONG);
    let first_id = first
        .expect_line("[dev] run dev-", LONG)
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    let (code, events, stdout, _) = run_json(&checkout, &["--", "true"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        kinds(&events),
        [
            "run-started",
            "port-chosen",
            "reused",
            "process-started",
            "up",
            "stopped"
        ],
        "{stdout}"
    );
    assert_eq!(events[2]["run"], first_id.as_str());
    assert_eq!(events[4]["processes"][0]["how"], "reused");
    assert_eq!(events[4]["processes"][0]["reused_from"], first_id.as_str());

    // A port held by a stranger: the run moves, and says why.
    let other = Checkout::new();
    other.fake_config(&[], "", "");
    let _holder = crate::ports::http_server(other.port);
    let output = other
        .command(&[
            "dev",
            "--no-sync",
            "--port",
            "auto",
            "--message-format",
            "json",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let events = schema::events(&stdout);
    let chosen = &events[1];
    assert_eq!(chosen["event"], "port-chosen");
    assert_ne!(chosen["port"], other.port);
    assert!(
        chosen["why"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} is in use by ", other.port)),
        "{chosen}"
    );
}

#[test]
fn dev_stops_what_it_started_when_the_reader_of_its_events_goes_away() {
    // `cargo xtask dev --message-format json | head -1`: once `head` has its line and
    // exits, nothing reads the events; dev stops as on SIGTERM (a program killed by
    // SIGPIPE would have ended too) instead of running on unseen.
    use std::io::BufRead;
    use std::process::Stdio;
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let mut command = checkout.command(&["dev", "--no-sync", "--message-format", "json"]);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut dev = command.spawn().expect("dev starts");
    let stdout = dev.stdout.take().expect("piped");
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first event");
    assert!(first.contains("\"event\":\"run-started\""), "{first}");
    // The reader is gone (the BufReader and the pipe's read end are dropped).
    let mut status = None;
    let ended = wait_until(LONG, || {
        status = dev.try_wait().expect("try_wait");
        status.is_some()
    });
    if !ended {
        let _ = dev.kill();
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut dev.stderr.take().expect("piped"), &mut stderr).ok();
    assert!(
        ended,
        "dev ran on with nobody reading its events:\n{stderr}"
    );
    assert!(
        stderr.contains(
            "stdout was closed (whatever read dev's output has ended): stopping what dev started"
        ),
        "{stderr}"
    );
    let left = crate::support::processes_with(checkout.path().to_str().unwrap());
    assert!(left.is_empty(), "left running: {left:?}\n{stderr}");
}
