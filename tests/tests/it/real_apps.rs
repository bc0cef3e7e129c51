//! Real apps with the health endpoints real apps have (issue 16): FastAPI answering
//! `{"status": "ok"}`, the IETF form, the Spring Boot form, and Flask with a plain-text
//! `/healthz`, each brought up end to end by `dev -- <cmd>`, their failing forms named,
//! and a plain-health backend started by hand reused from this checkout and refused
//! from another folder.
//!
//! The apps are in `tests/fixtures/apps/`; their packages are installed for the tests
//! only, into `target/tmp/fixture-venv`, by the same sync `dev` uses for `backend/.venv`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use coordinator::config::Config;
use coordinator::python::venv_python;
use coordinator::runlog::RunLog;
use serde_json::Value;

use crate::support::{Checkout, Running, pid_alive};

const LONG: Duration = Duration::from_secs(120);

/// The fixture venv's interpreter, synced once per test run (the sync takes a lock, so
/// concurrent test binaries are safe).
fn fixture_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
            let mut config = Config::defaults(tmp);
            config.backend.requirements = app("requirements.txt");
            config.backend.venv = tmp.join("fixture-venv");
            let log = RunLog::create(&tmp.join("fixture-logs"), "dev-0-fixtures");
            coordinator::venv::sync(&config.backend, tmp, tmp, &log)
                .unwrap_or_else(|err| panic!("syncing the fixture venv: {err}"));
            venv_python(&config.backend.venv)
        })
        .clone()
}

fn app(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/apps")
        .join(name)
}

/// A `dev.toml` running `app` with `args` from the fixture venv; `extra` goes into
/// `[backend]` (a `startup_timeout` there replaces the default one here).
fn app_config(checkout: &Checkout, name: &str, args: &[&str], extra: &str) {
    let timeout = if extra.contains("startup_timeout") {
        ""
    } else {
        "startup_timeout = \"60s\"\n"
    };
    let mut command = vec![
        fixture_python().display().to_string(),
        app(name).display().to_string(),
    ];
    command.extend(args.iter().map(|a| (*a).to_owned()));
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {}\nport = {}\n{timeout}retry_delay = \"100ms\"\n{extra}\n\n\
             [frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n[dev]\nshutdown_grace = \"2s\"\n",
            serde_json::to_string(&command).unwrap(),
            checkout.port
        ),
    );
}

/// `dev -- python3 -c <GET health and print it>`: the exit code and the output.
fn dev_reads_health(checkout: &Checkout, path: &str) -> (Option<i32>, String) {
    let script = format!(
        "import os, urllib.request as u\n\
         r = u.urlopen(os.environ['BACKEND_URL'] + '{path}')\n\
         print('frontend saw', r.status, r.read().decode())"
    );
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--", "python3", "-c", &script], LONG);
    (status.code(), output)
}

#[test]
fn fastapi_with_status_ok_comes_up() {
    let checkout = Checkout::new();
    app_config(&checkout, "fastapi_app.py", &["--form", "plain"], "");
    let (code, output) = dev_reads_health(&checkout, "/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("backend ready in"), "{output}");
    assert!(
        output.contains("frontend saw 200 {\"status\":\"ok\"}"),
        "{output}"
    );
}

#[test]
fn fastapi_with_status_error_is_named_with_its_error() {
    let checkout = Checkout::new();
    app_config(
        &checkout,
        "fastapi_app.py",
        &["--form", "plain", "--fail", "payments"],
        "attempts = 1\nstartup_timeout = \"3s\"",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(
            "last health response: HTTP 503, status \"error\", \"payments: connection refused (simulated)\""
        ),
        "{output}"
    );
}

#[test]
fn ietf_health_comes_up_and_its_failing_check_is_named() {
    let checkout = Checkout::new();
    app_config(&checkout, "fastapi_app.py", &["--form", "ietf"], "");
    let (code, output) = dev_reads_health(&checkout, "/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("\"status\":\"pass\""), "{output}");

    app_config(
        &checkout,
        "fastapi_app.py",
        &["--form", "ietf", "--fail", "payments"],
        "attempts = 1\nstartup_timeout = \"3s\"",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(
            "status \"fail\", failing: payments:connections (connection refused (simulated))"
        ),
        "{output}"
    );
}

#[test]
fn spring_style_health_comes_up_and_its_failing_component_is_named() {
    let checkout = Checkout::new();
    app_config(&checkout, "fastapi_app.py", &["--form", "spring"], "");
    let (code, output) = dev_reads_health(&checkout, "/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("\"status\":\"UP\""), "{output}");

    app_config(
        &checkout,
        "fastapi_app.py",
        &["--form", "spring", "--fail", "payments"],
        "attempts = 1\nstartup_timeout = \"3s\"",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("status \"DOWN\", failing: payments (connection refused (simulated))"),
        "{output}"
    );
}

#[test]
fn flask_text_healthz_comes_up_with_status_code_and_fails_fast_without() {
    let checkout = Checkout::new();
    let status_code = "health_path = \"/healthz\"\nhealth_format = \"status-code\"";
    app_config(&checkout, "flask_app.py", &[], status_code);
    let (code, output) = dev_reads_health(&checkout, "/healthz");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("frontend saw 200 OK"), "{output}");

    // Under `auto` the text can never be read: reported in seconds (startup_timeout is
    // two minutes and this waits one), with the body and the fix.
    app_config(
        &checkout,
        "flask_app.py",
        &[],
        "health_path = \"/healthz\"\nstartup_timeout = \"120s\"",
    );
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--", "true"], Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("HTTP 200, not JSON: \"OK\""), "{output}");
    assert!(
        output.contains("backend.health_format = \"status-code\""),
        "{output}"
    );

    app_config(
        &checkout,
        "flask_app.py",
        &["--unhealthy"],
        &format!("{status_code}\nattempts = 1\nstartup_timeout = \"3s\""),
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("last health response: HTTP 503, \"unavailable\""),
        "{output}"
    );
}

#[test]
fn fastapi_redirect_to_a_trailing_slash_fails_fast_naming_the_location() {
    let checkout = Checkout::new();
    app_config(
        &checkout,
        "fastapi_app.py",
        &["--slash"],
        "startup_timeout = \"120s\"",
    );
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--", "true"], Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{output}");
    let location = format!("http://127.0.0.1:{}/health/", checkout.port);
    assert!(
        output.contains(&format!("HTTP 307, redirect to {location} (not followed)")),
        "{output}"
    );
    assert!(output.contains("redirects to (/health/)"), "{output}");
}

/// The plain FastAPI app started by hand in `cwd`, on the checkout's port.
fn by_hand(checkout: &Checkout, cwd: &Path) -> Running {
    let mut command = Command::new(fixture_python());
    command
        .arg(app("fastapi_app.py"))
        .args(["--form", "plain"])
        .current_dir(cwd)
        .env("BACKEND_PORT", checkout.port.to_string());
    let backend = Running::spawn(command);
    backend.expect_line("Uvicorn running on", LONG);
    backend
}

#[test]
fn a_plain_backend_started_by_hand_here_is_reused_and_doctor_says_why() {
    let checkout = Checkout::new();
    app_config(&checkout, "fastapi_app.py", &["--form", "plain"], "");
    let outside = by_hand(&checkout, checkout.path());
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!("reusing backend pid {}", outside.pid())),
        "{output}"
    );
    assert!(!output.contains("started backend"), "{output}");
    assert!(
        pid_alive(outside.pid()),
        "a reused backend is never stopped"
    );

    let report = doctor_json(&checkout);
    let health = check(&report, "backend-health");
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["data"]["format"], "plain", "{health}");
    assert_eq!(health["data"]["ownership"]["ours"], true, "{health}");
    assert_eq!(
        health["data"]["ownership"]["decided_by"], "working-directory",
        "{health}"
    );
}

#[test]
fn a_plain_backend_started_by_hand_elsewhere_is_refused_with_its_pid() {
    let checkout = Checkout::new();
    app_config(&checkout, "fastapi_app.py", &["--form", "plain"], "");
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = by_hand(&checkout, elsewhere.path());
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("not our backend"), "{output}");
    assert!(
        output.contains(&format!("pid {}", outside.pid())),
        "{output}"
    );
    assert!(output.contains("outside this checkout"), "{output}");
    assert!(!output.contains("started backend"), "{output}");
    assert!(
        pid_alive(outside.pid()),
        "what dev did not start, it does not stop"
    );

    let report = doctor_json(&checkout);
    let health = check(&report, "backend-health");
    assert_eq!(health["data"]["ownership"]["ours"], false, "{health}");
    assert_eq!(
        health["data"]["ownership"]["decided_by"], "process",
        "{health}"
    );
}

fn doctor_json(checkout: &Checkout) -> Value {
    let output = checkout.command(&["doctor", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    crate::support::doctor_check(report, id)
}

#[test]
fn uvicorn_and_werkzeug_access_lines_of_health_stay_off_the_terminal_and_a_503_is_shown() {
    let checkout = Checkout::new();
    for (app, args, extra, ok) in [
        (
            "fastapi_app.py",
            &["--form", "plain"][..],
            "",
            "\"GET /health HTTP/1.1\" 200 OK",
        ),
        (
            "flask_app.py",
            &[],
            "health_path = \"/healthz\"\nhealth_format = \"status-code\"",
            "\"GET /healthz HTTP/1.1\" 200 -",
        ),
    ] {
        let _ = std::fs::remove_dir_all(checkout.file(".dev/logs"));
        app_config(&checkout, app, args, extra);
        // dev's own probes and the frontend's GET: both are health requests.
        let path = if app == "flask_app.py" {
            "/healthz"
        } else {
            "/health"
        };
        let (code, output) = dev_reads_health(&checkout, path);
        assert_eq!(code, Some(0), "{output}");
        assert!(!output.contains(ok), "{app}: {output}");
        let log = crate::support::run_logs(&checkout);
        assert!(log.matches(ok).count() >= 2, "{app}: {log}");
    }
    app_config(
        &checkout,
        "flask_app.py",
        &["--unhealthy"],
        "health_path = \"/healthz\"\nhealth_format = \"status-code\"\nattempts = 1\nstartup_timeout = \"2s\"",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("\"GET /healthz HTTP/1.1\" 503 -"),
        "{output}"
    );
}
