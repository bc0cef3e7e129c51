//! The frontend's port and readiness under `dev`, with real sockets and real holders:
//! a taken port names its holder and is refused without a terminal, `--yes`,
//! `--frontend-port auto` and the prompt take the next free port, the clickable ready
//! line, `ready_path`, a frontend that never serves, and two runs in one checkout.

use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::ports::{http_server, on_pty};
use crate::support::{Checkout, free_port, http_get, pid_alive, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// A frontend that says what it was given, listens on `FRONTEND_PORT`, accepts one
/// connection (`dev`'s readiness check) and exits 0, so that `dev` ends on its own.
const ONE_SHOT: &str = r#"["python3", "-c", "import os, socket; print('frontend sees', os.environ['FRONTEND_URL'], 'port', os.environ['FRONTEND_PORT'], flush=True); s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((os.environ['FRONTEND_HOST'], int(os.environ['FRONTEND_PORT']))); s.listen(); s.accept()"]"#;

/// A frontend that serves the checkout over HTTP on `FRONTEND_PORT` until stopped.
const SERVING: &str =
    r#"["sh", "-c", "exec python3 -m http.server \"$FRONTEND_PORT\" --bind \"$FRONTEND_HOST\""]"#;

/// The fake backend, and `frontend` as the frontend on `port` with `extra` lines in
/// `[frontend]`.
fn with_frontend(checkout: &Checkout, frontend: &str, port: u16, extra: &str) {
    checkout.fake_config(&[], "", "");
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    let config = config.replace(
        "command = [\"sleep\", \"3600\"]\nport = false\n",
        &format!("command = {frontend}\nport = {port}\n{extra}"),
    );
    checkout.write("dev.toml", &config);
}

fn ready_line(frontend_port: u16, backend_port: u16) -> String {
    format!(
        "[dev] frontend ready: http://127.0.0.1:{frontend_port}/ (backend http://127.0.0.1:{backend_port}, run dev-"
    )
}

#[test]
fn a_taken_frontend_port_names_its_holder_and_is_refused_before_anything_starts() {
    let checkout = Checkout::new();
    let port = free_port();
    let holder = http_server(port);
    with_frontend(&checkout, ONE_SHOT, port, "");
    let mut command = checkout.command(&["dev", "--no-sync"]);
    command.env("CI", "1");
    let mut dev = crate::support::Running::spawn(command);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let named = format!("Port {port} is in use by `");
    let line = output
        .lines()
        .find(|line| line.contains(&named))
        .unwrap_or_else(|| panic!("no {named:?} in:\n{output}"));
    assert!(
        line.contains(&format!(
            "http.server {port} --bind 127.0.0.1` (pid {}, user ",
            holder.pid()
        )),
        "the holder's command, pid and user: {line}"
    );
    assert!(
        output.contains(
            "rerun with `cargo xtask dev --frontend-port auto` (or `--yes`) to use port "
        ),
        "{output}"
    );
    assert!(
        !output.contains("started backend"),
        "nothing starts: {output}"
    );
    assert!(pid_alive(holder.pid()), "a foreign holder is never stopped");
}

#[test]
fn yes_takes_the_next_free_frontend_port_and_the_ready_line_names_it() {
    let checkout = Checkout::new();
    let port = free_port();
    let holder = http_server(port);
    with_frontend(&checkout, ONE_SHOT, port, "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--yes"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    let chosen: u16 = output
        .lines()
        .find_map(|l| l.strip_prefix("[dev] frontend: using port "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no port change in:\n{output}"))
        .parse()
        .unwrap();
    assert!(chosen > port, "{output}");
    assert!(
        output.contains(&format!(
            "[frontend] frontend sees http://127.0.0.1:{chosen} port {chosen}"
        )),
        "FRONTEND_URL and FRONTEND_PORT carry the chosen port: {output}"
    );
    assert!(
        output.contains(&ready_line(chosen, checkout.port)),
        "{output}"
    );
    assert!(pid_alive(holder.pid()));
}

#[test]
fn frontend_port_auto_takes_the_next_free_port_and_the_prompt_offers_it() {
    let checkout = Checkout::new();
    let port = free_port();
    let _holder = http_server(port);
    with_frontend(&checkout, ONE_SHOT, port, "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--frontend-port", "auto"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("[dev] frontend: using port "), "{output}");
    assert!(output.contains("[dev] frontend ready: "), "{output}");

    let text = on_pty(&checkout, &["dev", "--no-sync"], Some("y"));
    assert!(text.contains("exit=0"), "{text}");
    assert!(text.contains("for the frontend instead? [Y/n]"), "{text}");
    assert!(text.contains("frontend ready: http://127.0.0.1:"), "{text}");
}

#[test]
fn a_free_frontend_port_is_kept_and_the_ready_line_follows_the_backend() {
    let checkout = Checkout::new();
    let port = free_port();
    with_frontend(&checkout, SERVING, port, "");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line(&ready_line(port, checkout.port), LONG);
    let output = dev.output();
    assert!(!output.contains("using port"), "{output}");
    assert!(
        output.find("backend ready in") < output.find("frontend ready"),
        "{output}"
    );
    let (code, _) = http_get(port, "/", "dev-1").expect("the frontend serves");
    assert_eq!(code, 200);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(wait_until(LONG, || TcpStream::connect((
        Ipv4Addr::LOCALHOST,
        port
    ))
    .is_err()));
}

#[test]
fn the_ready_path_must_answer_2xx_before_the_frontend_is_ready() {
    let checkout = Checkout::new();
    let port = free_port();
    with_frontend(&checkout, SERVING, port, "ready_path = \"/ready.txt\"\n");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    assert!(
        wait_until(LONG, || http_get(port, "/ready.txt", "dev-1")
            .is_some_and(|(code, _)| code == 404)),
        "{}",
        dev.output()
    );
    // dev has asked, and heard a 404, when its log says so.
    let logged_404 = || {
        std::fs::read_dir(checkout.file(".dev/logs"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                std::fs::read_to_string(entry.path())
                    .is_ok_and(|log| log.contains("/ready.txt answered HTTP 404"))
            })
    };
    assert!(wait_until(LONG, logged_404), "{}", dev.output());
    assert!(
        !dev.output().contains("frontend ready"),
        "not ready on a 404: {}",
        dev.output()
    );
    checkout.write("ready.txt", "ok\n");
    dev.expect_line(&ready_line(port, checkout.port), LONG);
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn a_frontend_that_never_opens_its_port_is_reported_with_its_stderr_and_stopped() {
    let checkout = Checkout::new();
    let frontend = r#"["sh", "-c", "echo $$ > frontend.pid; echo 'listening somewhere else' >&2; exec sleep 3600"]"#;
    with_frontend(
        &checkout,
        frontend,
        free_port(),
        "startup_timeout = \"1s\"\n",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("did not become ready"), "{output}");
    assert!(output.contains("did not open port"), "{output}");
    assert!(
        output.contains("  listening somewhere else"),
        "the stderr tail: {output}"
    );
    let pid = crate::support::read_pid(&checkout.file("frontend.pid")).unwrap();
    assert!(!pid_alive(pid), "the frontend is stopped");
    assert!(output.contains("stopping backend pid"), "{output}");
}

#[test]
fn a_frontend_that_exits_before_serving_is_reported_at_once() {
    let checkout = Checkout::new();
    let frontend = r#"["sh", "-c", "echo 'cannot find module vite' >&2; exit 3"]"#;
    with_frontend(&checkout, frontend, free_port(), "");
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("it exited (exit code 3) before serving"),
        "{output}"
    );
    assert!(output.contains("the frontend command failed"), "{output}");
    assert!(output.contains("  cannot find module vite"), "{output}");
}

#[test]
fn a_command_after_dash_dash_or_port_false_skips_the_frontend_port() {
    let checkout = Checkout::new();
    let port = free_port();
    let _holder = http_server(port);
    with_frontend(&checkout, ONE_SHOT, port, "");
    let mut command = checkout.command(&[
        "dev",
        "--no-sync",
        "--",
        "sh",
        "-c",
        "echo \"url=${FRONTEND_URL:-none}\"",
    ]);
    command.env("CI", "1");
    let mut dev = crate::support::Running::spawn(command);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("[frontend] url=none"), "{output}");
    assert!(!output.contains("in use by"), "{output}");
}

#[test]
fn a_second_full_run_reuses_the_backend_and_takes_the_next_frontend_port() {
    let checkout = Checkout::new();
    let port = free_port();
    with_frontend(&checkout, SERVING, port, "");
    let mut first = checkout.spawn(&["dev", "--no-sync"]);
    first.expect_line(&ready_line(port, checkout.port), LONG);
    let mut second = checkout.spawn(&["dev", "--no-sync", "--yes"]);
    // "reusing backend pid N", or with run records "reusing the backend of dev run ..."
    second.expect_line("[dev] reusing ", LONG);
    let line = second.expect_line("[dev] frontend ready: ", LONG);
    let output = second.output();
    assert!(
        output.contains(&format!("Port {port} is in use by")),
        "{output}"
    );
    assert!(!line.contains(&format!(":{port}/")), "{line}");
    assert!(
        line.contains(&format!("(backend http://127.0.0.1:{}", checkout.port)),
        "{line}"
    );
    second.signal(Signal::SIGINT);
    assert_eq!(second.wait(LONG).code(), Some(0), "{}", second.output());
    // The first run's frontend and backend are untouched by the second's exit.
    let (code, _) = http_get(port, "/", "dev-2").expect("the first frontend still serves");
    assert_eq!(code, 200);
    assert!(http_get(checkout.port, "/health", "dev-2").is_some());
    first.signal(Signal::SIGINT);
    assert_eq!(first.wait(LONG).code(), Some(0), "{}", first.output());
}

#[test]
fn a_frontend_port_held_on_ipv6_loopback_only_counts_as_taken() {
    let checkout = Checkout::new();
    let port = free_port();
    // Held by this test process: the holder named must be it.
    let Ok(_v6) = std::net::TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, port)) else {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    };
    with_frontend(&checkout, ONE_SHOT, port, "");
    let mut command = checkout.command(&["dev", "--no-sync"]);
    command.env("CI", "1");
    let mut dev = crate::support::Running::spawn(command);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let me = std::process::id();
    assert!(
        output.contains(&format!("Port {port} is in use by `"))
            && (output.contains(&format!("(pid {me}, "))
                || output.contains(&format!("(pid {me})"))),
        "the holder is this test process:\n{output}"
    );
}
