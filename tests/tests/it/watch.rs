//! Watch and reload: a saved source file restarts the backend (health-gated, once per
//! burst), a broken save is reported and waits for the next one, ignored files never
//! count, and command placeholders.

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::support::{Checkout, Running, fake_backend, pid_alive, read_pid, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// A frontend that reports its pid, then waits.
const FRONTEND: &str = r#"["python3", "-c", "import os, time; print('frontend-up pid', os.getpid(), flush=True); time.sleep(3600)"]"#;

/// A checkout whose backend is `backend/app.py`, a watched source that runs the fake
/// backend (so that breaking it breaks the backend, as a real edit would).
/// `extra` lines go into `[backend]` (a `retry_delay` there replaces the default).
pub(crate) fn watched_checkout(extra: &str) -> Checkout {
    let checkout = Checkout::new();
    write_app(&checkout, "");
    let retry_delay = if extra.lines().any(|line| line.starts_with("retry_delay")) {
        ""
    } else {
        "retry_delay = \"100ms\"\n"
    };
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"python3\", \"backend/app.py\"]\nport = {}\n\
             startup_timeout = \"10s\"\n{retry_delay}watch = [\"backend/**/*.py\"]\n\
             watch_debounce = \"50ms\"\n{extra}\n\
             [frontend]\ncommand = {FRONTEND}\nport = false\n\n[dev]\nshutdown_grace = \"2s\"\n",
            checkout.port
        ),
    );
    checkout
}

/// The watched source: it execs the fake backend (writing its pid to backend.pid).
pub(crate) fn write_app(checkout: &Checkout, comment: &str) {
    checkout.write(
        "backend/app.py",
        &format!(
            "# {comment}\nimport os, sys\nos.execv(sys.executable, [sys.executable, {:?}, \"--pid-file\", \"backend.pid\"])\n",
            fake_backend().display().to_string()
        ),
    );
}

/// The watched source as a backend that crashes (exit 4) 300 ms after its first start
/// listens; later starts keep running.
fn write_crashing_app(checkout: &Checkout) {
    checkout.write(
        "backend/app.py",
        &format!(
            "import os, sys\nos.execv(sys.executable, [sys.executable, {:?}, \"--pid-file\", \"backend.pid\", \"--die-after-ms\", \"300\", \"--state-file\", \"runs\"])\n",
            fake_backend().display().to_string()
        ),
    );
}

fn frontend_pid(dev: &Running) -> u32 {
    let line = dev.expect_line("[frontend] frontend-up pid", LONG);
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

pub(crate) fn count(dev: &Running, needle: &str) -> usize {
    dev.output().matches(needle).count()
}

#[test]
fn a_burst_of_saves_restarts_the_backend_once_or_twice_and_the_frontend_keeps_running() {
    let checkout = watched_checkout("");
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    let frontend = frontend_pid(&dev);
    dev.expect_line("watching backend/**/*.py", LONG);
    let first = read_pid(&checkout.file("backend.pid")).unwrap();
    for i in 0..20 {
        write_app(&checkout, &format!("save {i}"));
    }
    dev.expect_line("backend/app.py changed: restarting the backend", LONG);
    dev.expect_line("backend ready again in", LONG);
    // Look for a third restart for a while: there must be none.
    let too_many = wait_until(Duration::from_secs(2), || {
        count(&dev, "restarting the backend") > 2
    });
    assert!(!too_many, "{}", dev.output());
    assert!(wait_until(LONG, || count(&dev, "restarting the backend")
        == count(&dev, "backend ready again in")));
    let second = read_pid(&checkout.file("backend.pid")).unwrap();
    assert_ne!(first, second, "a new backend process");
    assert!(!pid_alive(first));
    let (code, body) = crate::support::http_get(checkout.port, "/health", "t").unwrap();
    assert_eq!(code, 200);
    assert!(body.contains(&format!("\"pid\": {second}")), "{body}");
    assert!(pid_alive(frontend), "the frontend keeps running");
    assert_eq!(count(&dev, "started frontend"), 1);
    stop(dev);
}

#[test]
fn a_save_during_the_backoff_after_a_crash_restarts_the_backend_at_once() {
    // A backoff long enough that a restart waiting it out fails the test.
    let checkout = watched_checkout("retry_delay = \"20s\"");
    write_crashing_app(&checkout);
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    let frontend = frontend_pid(&dev);
    dev.expect_line("watching backend/**/*.py", LONG);
    dev.expect_line("exited while running (exit code 4)", LONG);
    dev.expect_line(
        &format!("restarting the backend on port {} in 20s", checkout.port),
        LONG,
    );
    let saved = std::time::Instant::now();
    write_app(&checkout, "fixed");
    dev.expect_line("backend/app.py changed: restarting the backend", LONG);
    dev.expect_line("backend ready again in", LONG);
    assert!(
        saved.elapsed() < Duration::from_secs(10),
        "the restart waited for the backoff ({:?} after the save):\n{}",
        saved.elapsed(),
        dev.output()
    );
    let (code, _) = crate::support::http_get(checkout.port, "/health", "t").unwrap();
    assert_eq!(code, 200);
    assert!(pid_alive(frontend), "the frontend keeps running");
    assert_eq!(count(&dev, "started frontend"), 1);
    stop(dev);
}

fn stop(mut dev: Running) {
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn a_save_that_breaks_the_backend_is_reported_without_retries_and_a_fixing_save_brings_it_back() {
    let checkout = watched_checkout("");
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    let frontend = frontend_pid(&dev);
    dev.expect_line("watching backend/**/*.py", LONG);
    checkout.write("backend/app.py", "this is not python(\n");
    dev.expect_line("the backend did not become ready after 1 attempt", LONG);
    dev.expect_line("SyntaxError", LONG);
    dev.expect_line("waiting for the next change", LONG);
    let retried = wait_until(Duration::from_secs(2), || {
        dev.output().contains("attempt 2") || dev.output().contains("retrying in")
    });
    assert!(!retried, "a broken edit is not retried: {}", dev.output());
    write_app(&checkout, "fixed");
    dev.expect_line("backend ready again in", LONG);
    assert!(pid_alive(frontend), "the frontend keeps running");
    stop(dev);
}

#[test]
fn ignored_files_and_files_outside_watch_never_restart_the_backend() {
    let checkout = watched_checkout("");
    for dir in ["backend/.venv/lib", "backend/__pycache__", "frontend"] {
        std::fs::create_dir_all(checkout.file(dir)).unwrap();
    }
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("watching backend/**/*.py", LONG);
    dev.expect_line("started frontend", LONG);
    for file in [
        "backend/.venv/lib/site.py",
        "backend/__pycache__/app.py",
        "backend/.app.py.swp",
        "backend/app.py~",
        "backend/4913",
        "backend/notes.txt",
        "frontend/tool.py",
    ] {
        checkout.write(file, "x = 1\n");
    }
    let restarted = wait_until(Duration::from_secs(2), || {
        dev.output().contains("restarting the backend")
    });
    assert!(!restarted, "{}", dev.output());
    // The watcher works: a real source change does restart it.
    checkout.write("backend/new_module.py", "x = 1\n");
    dev.expect_line(
        "backend/new_module.py changed: restarting the backend",
        LONG,
    );
    stop(dev);
}

#[test]
fn no_watch_turns_watching_off() {
    let checkout = watched_checkout("");
    let dev = checkout.spawn(&["dev", "--no-sync", "--no-watch"]);
    dev.expect_line("started frontend", LONG);
    assert!(!dev.output().contains("watching"));
    write_app(&checkout, "changed");
    let restarted = wait_until(Duration::from_secs(2), || {
        dev.output().contains("restarting the backend")
    });
    assert!(!restarted, "{}", dev.output());
    stop(dev);
}

#[test]
fn placeholders_reach_the_command_and_an_unknown_one_is_a_config_error() {
    let checkout = Checkout::new();
    let command = serde_json::to_string(&[
        "sh",
        "-c",
        &format!(
            "echo \"port-arg=$0 url-arg=$1 literal={{{{port}}}}\"; exec python3 '{}'",
            fake_backend().display()
        ),
        "{port}",
        "{url}",
    ])
    .unwrap();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {command}\nport = {}\n\n[frontend]\ncommand = [\"true\"]\nport = false\n",
            checkout.port
        ),
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    let port = checkout.port;
    assert!(
        output.contains(&format!(
            "port-arg={port} url-arg=http://127.0.0.1:{port} literal={{port}}"
        )),
        "{output}"
    );

    checkout.write(
        "dev.toml",
        "[backend]\ncommand = [\"python\", \"main.py\", \"--port\", \"{prot}\"]\n",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("dev.toml:2: unknown placeholder `{prot}` in `backend.command`"),
        "{output}"
    );
}

#[test]
fn a_new_package_and_a_folder_removed_and_made_again_are_watched() {
    let checkout = watched_checkout("");
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("watching backend/**/*.py", LONG);
    dev.expect_line("started frontend", LONG);
    // A package arrives whole (as `git checkout` makes it): folder and file at once.
    std::fs::create_dir_all(checkout.file("backend/pkg/sub")).unwrap();
    std::fs::write(checkout.file("backend/pkg/sub/mod.py"), "x = 1\n").unwrap();
    dev.expect_line("changed: restarting the backend", LONG);
    assert!(wait_until(LONG, || count(&dev, "backend ready again in") == 1));
    // Removed: its sources are gone, which is a change.
    let before = count(&dev, "changed: restarting the backend");
    std::fs::remove_dir_all(checkout.file("backend/pkg")).unwrap();
    assert!(
        wait_until(LONG, || count(&dev, "changed: restarting the backend")
            > before),
        "{}",
        dev.output()
    );
    assert!(wait_until(LONG, || count(&dev, "backend ready again in") == 2));
    // Made again at the same path: still watched.
    std::fs::create_dir_all(checkout.file("backend/pkg")).unwrap();
    let before = count(&dev, "changed: restarting the backend");
    std::fs::write(checkout.file("backend/pkg/again.py"), "x = 2\n").unwrap();
    assert!(
        wait_until(LONG, || count(&dev, "changed: restarting the backend")
            > before),
        "{}",
        dev.output()
    );
    // Once that restart is done, the next save restarts it again.
    assert!(wait_until(LONG, || count(&dev, "backend ready again in") == 3));
    let before = count(&dev, "changed: restarting the backend");
    std::fs::write(checkout.file("backend/pkg/again.py"), "x = 3\n").unwrap();
    assert!(
        wait_until(LONG, || count(&dev, "changed: restarting the backend")
            > before),
        "{}",
        dev.output()
    );
    stop(dev);
}
