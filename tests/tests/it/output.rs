//! What a person sees: a child's colour reaches a terminal as written, and no escape
//! sequence (nor its escaped text) reaches anything else; a progress bar's `\r` never
//! splits or merges lines; the backend's access-log lines of health probes stay off the
//! terminal (the log file keeps them) while a failing answer's line is shown; and one
//! summary says what runs once the app is up.

use std::time::Duration;

use nix::sys::signal::Signal;

use std::net::{Ipv4Addr, TcpListener};

use crate::ports::http_server;
use crate::reference_app::reference_checkout;
use crate::support::{Checkout, Running, Terminal, free_port, read_pid, run_logs, wait_until};

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
    let text = Terminal::new(&command).run();
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
        let text = Terminal::new(&command).run();
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
    let text = Terminal::new(&command).run();
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

/// The number after `before` in the first line of `output` that has it.
fn number_after(output: &str, before: &str) -> u32 {
    let at = output
        .find(before)
        .unwrap_or_else(|| panic!("no {before:?} in:\n{output}"));
    let digits: String = output[at + before.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

/// The summary's lines: the one starting `up in`, and the two after it.
fn summary(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().collect();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|n| lines[*n].starts_with("[dev] up in "))
        .collect();
    assert_eq!(starts.len(), 1, "one summary per start:\n{output}");
    lines[starts[0]..(starts[0] + 3).min(lines.len())]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

#[test]
fn the_summary_names_the_real_ports_and_pids_once_and_why_the_backend_port_moved() {
    let checkout = Checkout::new();
    let pid_file = checkout.file("backend.pid").display().to_string();
    checkout.fake_config(&["--pid-file", &pid_file], "", "");
    let frontend_port = free_port();
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace(
            "command = [\"sleep\", \"3600\"]\nport = false",
            &format!(
                "command = [\"python3\", \"-m\", \"http.server\", \"--bind\", \"127.0.0.1\", \"{{frontend_port}}\"]\nport = {frontend_port}"
            ),
        ),
    );
    let holder = http_server(checkout.port);
    let dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto"]);
    dev.expect_line("Ctrl-C stops all", LONG);
    let output = dev.output();
    let lines = summary(&output);
    let port = number_after(&output, "using port ");
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    let frontend = number_after(&output, "started frontend pid ");
    let head = format!(
        "[dev] up in {} s: backend http://127.0.0.1:{port} (pid {backend}, started; {} is in use by ",
        lines[0]
            .trim_start_matches("[dev] up in ")
            .split(' ')
            .next()
            .unwrap(),
        checkout.port
    );
    assert!(lines[0].starts_with(&head), "{head}\n{output}");
    assert!(
        lines[0].contains(&format!(
            "http.server {} --bind 127.0.0.1` (pid {}, ",
            checkout.port,
            holder.pid()
        )),
        "the holder: {output}"
    );
    let indent = format!("[dev] {}", " ".repeat(head.find("backend").unwrap() - 6));
    assert_eq!(
        lines[1],
        format!("{indent}frontend http://127.0.0.1:{frontend_port}/ (pid {frontend})"),
        "{output}"
    );
    let id = output[output.find("run dev-").unwrap() + 4..]
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(
        lines[2],
        format!("{indent}log .dev/logs/{id}.log · run {id} · Ctrl-C stops all"),
        "{output}"
    );
}

#[test]
fn the_summary_after_a_start_moved_to_another_port_names_the_new_port_and_pid() {
    let checkout = Checkout::new();
    let pid_file = checkout.file("backend.pid").display().to_string();
    // The fake waits before binding; the test takes the port in that window.
    checkout.fake_config(&["--delay-ms", "1500", "--pid-file", &pid_file], "", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--port", "auto", "--", "true"]);
    dev.expect_line("started backend pid", LONG);
    let _thief = TcpListener::bind((Ipv4Addr::LOCALHOST, checkout.port)).unwrap();
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let output = dev.output();
    let lines = summary(&output);
    let port = number_after(&output, "using port ");
    let backend = read_pid(&checkout.file("backend.pid")).unwrap();
    assert!(
        lines[0].contains(&format!(
            "backend http://127.0.0.1:{port} (pid {backend}, started; {} was taken after it was chosen)",
            checkout.port
        )),
        "{output}"
    );
    assert!(lines[1].contains("command true (pid "), "{output}");
}

#[test]
fn print_config_shows_the_commands_as_they_would_run_and_what_the_port_policy_would_do() {
    let checkout = Checkout::new();
    let frontend_port = free_port();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"python\", \"app.py\", \"--port\", \"{{port}}\"]\nport = {}\n\
             venv = \"no-venv\"\n\n[frontend]\ncommand = [\"node\", \"ui.js\", \"{{url}}\", \
             \"{{frontend_port}}\"]\nport = {frontend_port}\n",
            checkout.port
        ),
    );
    let holder = http_server(checkout.port);
    let output = checkout
        .command(&["dev", "--print-config"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let python = coordinator::python::discover().unwrap().executable;
    let port = checkout.port;
    for line in [
        format!(
            "# backend.command runs  {} app.py --port {port}",
            coordinator::text::shell_command(&[python.display().to_string()])
        ),
        format!("# frontend.command runs node ui.js http://127.0.0.1:{port} {frontend_port}"),
        format!("# frontend.port {frontend_port}: free"),
    ] {
        assert!(stdout.lines().any(|l| l == line), "{line}\n{stdout}");
    }
    let backend = stdout
        .lines()
        .find(|l| l.starts_with(&format!("# backend.port {port}: port {port} is in use by ")))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        backend.contains(&format!("(pid {}, ", holder.pid())),
        "{backend}"
    );
    let next = number_after(backend, "`--port auto` would take ");
    assert!(next > u32::from(port), "{backend}");
    assert!(!checkout.file(".dev/logs").exists(), "nothing was started");
}

#[test]
fn a_reused_backend_is_said_so_and_after_a_take_over_the_summary_names_the_new_one() {
    let checkout = Checkout::new();
    let outside = checkout.outside_backend(&[]);
    checkout.fake_config(&[], "liveness_interval = \"100ms\"", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    let up = dev.expect_line("[dev] up in ", LONG);
    assert!(
        up.ends_with(&format!(
            "backend http://127.0.0.1:{} (pid {}, reused, started outside dev)",
            checkout.port,
            outside.pid()
        )),
        "{}",
        dev.output()
    );
    dev.expect_line("Ctrl-C stops what dev started", LONG);
    drop(outside);
    let now = dev.expect_line("[dev] running now: ", LONG);
    let output = dev.output();
    let pid = number_after(&output, "started backend pid ");
    assert!(
        now.ends_with(&format!(
            "backend http://127.0.0.1:{} (pid {pid}, started)",
            checkout.port
        )),
        "{output}"
    );
    dev.expect_line("Ctrl-C stops all", LONG);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}
