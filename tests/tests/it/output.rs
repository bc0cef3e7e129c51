//! What a person sees: a child's colour reaches a terminal as written, and no escape
//! sequence (nor its escaped text) reaches anything else; a progress bar's `\r` never
//! splits or merges lines; the backend's access-log lines of health probes stay off the
//! terminal (the log file keeps them) while a failing answer's line is shown.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::reference_app::reference_checkout;
use crate::support::{Checkout, Running, on_terminal, run_logs, wait_until};

const LONG: Duration = Duration::from_secs(60);

/// What the new user ran: a child printing an SGR colour sequence.
const GREEN: &str = "printf '\\033[32mGREEN\\033[0m plain\\n'";

fn no_escapes(what: &str, text: &str) {
    assert!(
        !text.contains('\x1b'),
        "an escape sequence in {what}: {text:?}"
    );
    assert!(!text.contains("\\x1b"), "escaped text in {what}: {text:?}");
}

#[test]
fn a_childs_colour_reaches_a_terminal_byte_for_byte_and_the_log_file_gets_plain_text() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let mut command = checkout.command(&["dev", "--no-sync", "--", "sh", "-c", GREEN]);
    command.env_remove("NO_COLOR").env("TERM", "xterm-256color");
    let text = on_terminal(&command, LONG);
    assert!(text.contains("exit=0"), "{text}");
    assert!(text.contains("\x1b[32mGREEN\x1b[0m plain"), "{text:?}");
    assert!(!text.contains("\\x1b"), "{text:?}");
    let log = run_logs(&checkout);
    assert!(log.contains("[frontend] GREEN plain"), "{log}");
    no_escapes("the log file", &log);
}

#[test]
fn with_no_color_a_dumb_terminal_or_a_pipe_no_escape_sequence_is_shown() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let args = ["dev", "--no-sync", "--", "sh", "-c", GREEN];
    let no_color = checkout.command(&args);
    let mut dumb = checkout.command(&args);
    dumb.env_remove("NO_COLOR").env("TERM", "dumb");
    for (what, command) in [("NO_COLOR", no_color), ("TERM=dumb", dumb)] {
        let text = on_terminal(&command, LONG);
        assert!(text.contains("exit=0"), "{what}: {text}");
        assert!(text.contains("[frontend] GREEN plain"), "{what}: {text:?}");
        no_escapes(what, &text);
    }
    let mut piped = checkout.command(&args);
    piped.env_remove("NO_COLOR");
    let mut dev = Running::spawn(piped);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let output = dev.output();
    assert!(output.contains("[frontend] GREEN plain"), "{output}");
    no_escapes("a pipe", &output);
    let logs = run_logs(&checkout);
    assert_eq!(logs.matches("[frontend] GREEN plain").count(), 3, "{logs}");
    no_escapes("the log files", &logs);
}

#[test]
fn a_progress_bar_does_not_split_or_merge_into_another_processs_lines() {
    let checkout = Checkout::new();
    // The fake backend prints a line for every probe, every 50 ms: lines that arrive
    // while the progress bar is half-way.
    checkout.fake_config(&[], "liveness_interval = \"50ms\"", "");
    let script =
        "for i in 1 2 3 4 5 6 7 8; do printf \"progress $i/8\\r\"; sleep 0.1; done; echo done";
    let command = checkout.command(&["dev", "--no-sync", "--", "sh", "-c", script]);
    let text = on_terminal(&command, LONG);
    assert!(text.contains("exit=0"), "{text}");
    // A terminal ends each line with CR LF: any other CR would overwrite a row.
    let rows: Vec<&str> = text.split("\r\n").collect();
    assert!(rows.contains(&"[frontend] done"), "{text:?}");
    for row in &rows {
        assert!(
            !row.contains('\r'),
            "a carriage return inside a row: {row:?}"
        );
        // (dev's own line names the command, which says `progress`.)
        assert!(
            row.starts_with("[dev]") || !row.contains("progress"),
            "a partial line was written: {row:?}"
        );
    }
    let probes = rows
        .iter()
        .filter(|row| row.starts_with("[backend] fake: GET /health"))
        .count();
    assert!(probes >= 3, "{text:?}");
}

/// `dev --no-frontend` with `env`, until the log file holds `answers` 2xx access lines
/// of the fake backend, then stopped: (terminal output, log file).
fn probed(checkout: &Checkout, env: &[(&str, &str)], answers: usize) -> (String, String) {
    let _ = std::fs::remove_dir_all(checkout.file(".dev/logs"));
    let mut command = checkout.command(&["dev", "--no-sync", "--no-frontend"]);
    command.envs(env.iter().copied());
    let mut dev = Running::spawn(command);
    dev.expect_line("backend ready in", LONG);
    let ok = "\"GET /health HTTP/1.1\" 200";
    assert!(
        wait_until(LONG, || run_logs(checkout).matches(ok).count() >= answers),
        "{}",
        dev.output()
    );
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    (dev.output(), run_logs(checkout))
}

#[test]
fn health_probe_access_lines_stay_off_the_terminal_unless_asked_for_and_a_503_is_shown() {
    let checkout = Checkout::new();
    // http.server's access log (werkzeug's format); 503 "starting" for 300 ms first.
    checkout.fake_config(
        &["--access-log", "--unhealthy-ms", "300"],
        "liveness_interval = \"50ms\"",
        "",
    );
    let (ok, failed) = (
        "\"GET /health HTTP/1.1\" 200",
        "\"GET /health HTTP/1.1\" 503",
    );
    let (output, log) = probed(&checkout, &[], 10);
    assert!(!output.contains(ok), "{output}");
    assert!(log.matches(ok).count() >= 10, "{log}");
    assert!(
        output.contains(failed),
        "a failing answer is shown: {output}"
    );
    assert!(log.contains(failed), "{log}");
    for env in [
        ("DEV_BACKEND_SHOW_HEALTH_LOGS", "true"),
        ("RUST_LOG", "info,backend::health=info"),
    ] {
        let (output, _) = probed(&checkout, &[env], 3);
        assert!(output.contains(ok), "{env:?}: {output}");
    }
}

#[test]
fn the_reference_backend_under_liveness_probes_keeps_the_terminal_quiet_for_10_s() {
    let (checkout, _) = reference_checkout("");
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace("[backend]\n", "[backend]\nliveness_interval = \"250ms\"\n"),
    );
    // Its database in a folder of the test's: removing the folder degrades the backend.
    let db = checkout.file("db");
    std::fs::create_dir_all(&db).unwrap();
    let mut command = checkout.command(&["dev", "--no-sync", "--no-frontend"]);
    command.env("DEMO_DB_PATH", db.join("demo.sqlite"));
    let mut dev = Running::spawn(command);
    dev.expect_line("backend ready in", LONG);
    // 40 probes at 250 ms: 10 s of them, all answered 200 and in the log file.
    let (ok, probe) = ("GET /health 200", "[dev] liveness probe:");
    let counts = || {
        let log = run_logs(&checkout);
        (log.matches(probe).count(), log.matches(ok).count())
    };
    assert!(
        wait_until(LONG, || counts().0 >= 40),
        "{:?}\n{}",
        counts(),
        dev.output()
    );
    assert!(
        wait_until(Duration::from_secs(5), || {
            let (probes, answers) = counts();
            answers >= probes
        }),
        "every probe's line is in the log file: {:?}",
        counts()
    );
    let output = dev.output();
    assert!(!output.contains(ok), "{output}");
    // Degraded: the 503 answers' lines are shown.
    std::fs::remove_dir_all(&db).unwrap();
    dev.expect_line("GET /health 503", LONG);
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}
