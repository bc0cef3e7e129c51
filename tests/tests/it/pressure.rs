//! Supervision under pressure: a terminal nobody reads, a backend that hangs, a crash
//! loop, a child that needs the terminal, and logs that pile up.

use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{Checkout, Terminal, pid_alive, read_pid, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// The text of the run's log file(s) in this checkout.
fn log_text(checkout: &Checkout) -> String {
    std::fs::read_dir(checkout.file(".dev/logs"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn sigint_stops_dev_at_once_while_its_stdout_is_a_full_pipe_and_the_backend_floods() {
    let checkout = Checkout::new();
    let backend = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--flood", "--pid-file", &backend], "", "");
    // Nobody ever reads these pipes: a paused `less`, Ctrl-S.
    let mut dev = checkout
        .command(&["dev", "--no-sync", "--no-frontend"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        wait_until(LONG, || log_text(&checkout).contains("backend ready in")),
        "{}",
        log_text(&checkout)
    );
    // Far more than a pipe holds (64 KiB) has been written since.
    assert!(wait_until(LONG, || log_text(&checkout)
        .matches("flood line")
        .count()
        > 20_000));
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(dev.id() as i32), Signal::SIGINT).unwrap();
    let sent = Instant::now();
    // shutdown_grace is 2 s in these configs.
    let stopped = wait_until(Duration::from_secs(3), || {
        matches!(dev.try_wait(), Ok(Some(_)))
    });
    let took = sent.elapsed();
    if !stopped {
        let _ = dev.kill();
    }
    assert!(
        stopped,
        "dev ignored SIGINT for {took:?} with a blocked stdout"
    );
    assert_eq!(dev.wait().unwrap().code(), Some(0));
    assert!(
        wait_until(Duration::from_secs(2), || !pid_alive(pid)),
        "the backend {pid} was left running"
    );
    assert!(log_text(&checkout).contains("SIGINT received"));
}

#[test]
fn a_backend_whose_health_hangs_after_ready_is_reported_and_restarted() {
    let checkout = Checkout::new();
    let state = checkout.file("runs").display().to_string();
    checkout.fake_config(
        &["--hang-after-ms", "500", "--state-file", &state],
        "liveness_interval = \"200ms\"\nliveness_failures = 3",
        "",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--no-frontend"]);
    dev.expect_line("backend ready in", LONG);
    // Hangs 500 ms after listening; then within 3 x 200 ms + 2 s it is declared dead.
    let line = dev.expect_line(
        "stopped answering: 3 health probes in a row failed",
        Duration::from_millis(500 + 600 + 2000),
    );
    assert!(line.contains("timed out"), "{line}");
    dev.expect_line("restarting the backend on port", LONG);
    assert!(
        wait_until(LONG, || dev.output().matches("backend ready in").count()
            == 2),
        "{}",
        dev.output()
    );
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn a_backend_that_dies_after_every_start_ends_in_exit_1_after_max_restarts_with_capped_delays() {
    let checkout = Checkout::new();
    // No state file: every run is "run 1", so every start dies 100 ms after listening.
    checkout.fake_config(
        &["--die-after-ms", "100"],
        "retry_delay = \"50ms\"\nmax_retry_delay = \"100ms\"\nmax_restarts = 3",
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    for (delay, restart) in [("50ms", 1), ("100ms", 2), ("100ms", 3)] {
        assert!(
            output.contains(&format!(
                "in {delay} (restart {restart} of at most 3 in a row)"
            )),
            "restart {restart} after {delay}:\n{output}"
        );
    }
    assert!(!output.contains("(restart 4 "), "{output}");
    assert!(output.contains("dev gave up after 3 restarts"), "{output}");
    assert!(output.contains("failure 4:"), "all the evidence: {output}");
    assert!(output.contains("correlation id: dev-"), "{output}");
    assert!(output.contains("stopping frontend pid"), "{output}");
}

/// Runs `dev <args>` as the session leader of a new pseudo-terminal (so the terminal is
/// its controlling terminal, as in a real shell). When the output shows `wait_for`, it
/// types `typed`. Returns everything printed, ending with `exit=<code>`.
fn in_terminal(checkout: &Checkout, args: &[&str], wait_for: &str, typed: &str) -> String {
    let command = checkout.command(args);
    Terminal::new(&command)
        .session_leader()
        .types_when(wait_for, typed)
        .run()
}

#[test]
fn under_a_terminal_dev_cmd_reads_a_line_typed_into_it_and_dev_stops_cleanly() {
    let checkout = Checkout::new();
    let backend = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &backend], "", "");
    let text = in_terminal(
        &checkout,
        &[
            "dev",
            "--no-sync",
            "--",
            "sh",
            "-c",
            "test -t 0 && echo stdin-is-a-terminal; read line; echo \"got:$line\"",
        ],
        "stdin-is-a-terminal",
        "hello there\n",
    );
    assert!(text.contains("[frontend] got:hello there"), "{text}");
    assert!(text.contains("exit=0"), "{text}");
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    assert!(!pid_alive(pid), "{text}");
}

#[test]
fn ctrl_c_typed_into_the_terminal_reaches_the_frontend_and_dev_stops_cleanly() {
    let checkout = Checkout::new();
    let backend = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &backend], "", "");
    // The frontend has the terminal, so the terminal's Ctrl-C (\x03) goes to it.
    let text = in_terminal(
        &checkout,
        &["dev", "--no-sync"],
        "started frontend pid",
        "\x03",
    );
    assert!(text.contains("exit=0"), "{text}");
    assert!(text.contains("Ctrl-C reached the frontend"), "{text}");
    let pid = read_pid(&checkout.file("backend.pid")).unwrap();
    assert!(!pid_alive(pid), "{text}");
}

#[test]
fn thirty_old_logs_become_twenty_and_a_log_stops_at_its_cap() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "keep_logs = 20\nmax_log_size = \"4KB\"\n");
    let logs = checkout.file(".dev/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for i in 0..30u64 {
        let path = logs.join(format!("dev-{}-0dd{i:03}.log", 1_000 + i));
        std::fs::write(&path, "old\n").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(old + Duration::from_secs(i)).unwrap();
    }
    let (status, output) = checkout.run(
        &[
            "dev",
            "--no-sync",
            "--",
            "sh",
            "-c",
            "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done",
        ],
        LONG,
    );
    assert_eq!(status.code(), Some(0), "{output}");
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 20, "{names:?}");
    assert!(
        !names
            .iter()
            .any(|n| n.contains("0dd000") || n.contains("0dd010")),
        "the oldest go: {names:?}"
    );
    let current = names.iter().find(|n| !n.contains("0dd")).unwrap();
    let text = std::fs::read_to_string(logs.join(current)).unwrap();
    assert!(text.len() < 4_000 + 300, "{} bytes", text.len());
    assert_eq!(text.matches("reached its cap").count(), 1, "{text}");
    assert!(
        output.contains("line 199"),
        "the terminal still shows everything"
    );
}

#[test]
fn the_log_file_has_no_colour_codes_when_the_terminal_gets_colour() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let mut command = checkout.command(&["dev", "--no-sync", "--", "true"]);
    command.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains('\x1b'),
        "the terminal does get colour"
    );
    let log = log_text(&checkout);
    assert!(log.contains("attempt{n=1"), "{log}");
    assert!(!log.contains('\x1b'), "{log}");
}
