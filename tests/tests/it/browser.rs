//! The reference page in a real browser (headless Chromium), always through the real
//! `cargo xtask dev` with the real reference backend: healthy with its three services,
//! unreachable and back (with the new pid) when the backend is killed and restarted,
//! the port chosen by `--port auto`, a degraded service named, a backend moved to
//! another port found again without a reload; and the README's screenshot.
//!
//! Two ways in, both without a DevTools client: `--dump-dom` (with a virtual-time
//! budget, so the page has polled) for what the page shows, and a live browser whose
//! console (`--enable-logging=stderr`) carries the page's `page: <state> ...` line at
//! every change, for what happens over time on one page that is never reloaded.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::ports::http_server;
use crate::reference_app::{reference_checkout, reference_python};
use crate::support::{Running, free_port, pid_alive, repo_root, wait_until};

const LONG: Duration = Duration::from_secs(90);

/// The browser: `CHROME`, else `chromium` (Debian's package) or Chrome on `PATH`.
/// Missing, the tests fail with the command that installs it: they never pass silently.
fn chrome() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROME") {
        return PathBuf::from(path);
    }
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| coordinator::which::which(name))
    .unwrap_or_else(|| {
        panic!(
            "the browser tests need headless Chromium: install it with \
                 `sudo apt-get install -y chromium` (Debian/Ubuntu), or point CHROME at a \
                 Chrome or Chromium binary"
        )
    })
}

/// Chromium, headless, with a fresh profile and nothing that reaches past loopback
/// (without the background-networking flags it waits on the closed network), in a
/// process group of its own so that every helper process goes with it.
fn chrome_command(profile: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(chrome());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=900,440",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .process_group(0);
    command
}

fn kill_group(pid: u32) {
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// A page open in a live browser, whose console lines are collected.
struct LivePage {
    browser: Running,
    _profile: tempfile::TempDir,
}

impl LivePage {
    fn open(url: &str) -> LivePage {
        let profile = tempfile::tempdir().unwrap();
        let command = chrome_command(profile.path(), &["--enable-logging=stderr", "--v=0", url]);
        LivePage {
            browser: Running::spawn(command),
            _profile: profile,
        }
    }

    /// Waits for the page's console line containing `needle`; returns the line.
    fn expect(&self, needle: &str, timeout: Duration) -> String {
        self.browser.expect_line(needle, timeout)
    }

    /// The page's own lines so far (`page: <state> <url> pid=<pid> | <message>`).
    fn page_lines(&self) -> Vec<String> {
        self.browser
            .output()
            .lines()
            .filter_map(|line| line.split_once("\"page: "))
            .map(|(_, rest)| format!("page: {}", rest.split("\", source:").next().unwrap_or(rest)))
            .collect()
    }
}

impl Drop for LivePage {
    fn drop(&mut self) {
        kill_group(self.browser.pid());
    }
}

/// Runs headless Chromium to the end with `args` and returns its stdout.
fn run_chrome(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = chrome_command(profile.path(), args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = sender.send(text);
    });
    let text = receiver.recv_timeout(LONG);
    kill_group(pid);
    let _ = child.wait();
    text.unwrap_or_else(|_| panic!("chromium {args:?} did not finish within {LONG:?}"))
}

/// The page's DOM after it has had `budget_ms` of (virtual) time to poll.
fn dump_dom(url: &str) -> String {
    run_chrome(&["--virtual-time-budget=3000", "--dump-dom", url])
}

/// `dev` in `checkout` until the frontend is ready; returns it with the frontend URL.
fn dev_until_ready(checkout: &crate::support::Checkout, args: &[&str]) -> (Running, String) {
    let mut all = vec!["dev", "--no-sync"];
    all.extend_from_slice(args);
    let dev = checkout.spawn(&all);
    let line = dev.expect_line("[dev] frontend ready: ", LONG);
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap()
        .to_owned();
    (dev, url)
}

fn stop(mut dev: Running) {
    dev.signal(Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

/// The pid in the last "started backend pid N" line.
fn backend_pid(dev: &Running) -> u32 {
    dev.output()
        .lines()
        .rev()
        .find_map(|line| line.split("started backend pid ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let at = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in:\n{dom}"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest.find("</").unwrap();
    &rest[start..end]
}

#[test]
fn the_page_shows_healthy_and_the_three_services() {
    let (checkout, _) = reference_checkout("");
    let (dev, url) = dev_until_ready(&checkout, &[]);
    let dom = dump_dom(&url);
    assert!(dom.contains("data-state=\"healthy\""), "{dom}");
    assert_eq!(text_of(&dom, "status"), "healthy");
    for service in ["cache", "database", "websocket"] {
        assert!(dom.contains(&format!("{service}: ok")), "{service}:\n{dom}");
    }
    assert_eq!(text_of(&dom, "pid"), backend_pid(&dev).to_string());
    let run = dev
        .output()
        .lines()
        .find_map(|line| line.strip_prefix("[dev] run "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_eq!(
        text_of(&dom, "run"),
        run,
        "the run's correlation ID is on the page"
    );
    // The page sends X-Correlation-ID, a non-simple header: the browser asked first.
    dev.expect_line("[backend] INFO correlation_id=- OPTIONS /health 200", LONG);

    // The README's picture, made by this very page: written to the repository only on
    // request, so that a test run leaves the checkout clean.
    let shot = match std::env::var_os("UPDATE_SCREENSHOT") {
        Some(_) => repo_root().join("docs/page-healthy.png"),
        None => checkout.file("page-healthy.png"),
    };
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    run_chrome(&[
        "--virtual-time-budget=3000",
        &format!("--screenshot={}", shot.display()),
        &url,
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG at {}", shot.display());
    stop(dev);
}

#[test]
fn a_killed_backend_shows_unreachable_then_healthy_again_with_the_new_pid() {
    let (checkout, _) = reference_checkout("");
    // The restart waits `retry_delay` (the page polls every second), so the page is
    // sure to find the backend gone before it is back.
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace("[backend]\n", "[backend]\nretry_delay = \"3s\"\n"),
    );
    let (dev, url) = dev_until_ready(&checkout, &[]);
    let first = backend_pid(&dev);
    let page = LivePage::open(&url);
    page.expect(
        &format!(
            "page: healthy http://127.0.0.1:{}/health pid={first}",
            checkout.port
        ),
        LONG,
    );

    nix::sys::signal::kill(Pid::from_raw(first as i32), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    let line = page.expect("page: unreachable", LONG);
    eprintln!(
        "unreachable shown {} ms after the kill",
        killed.elapsed().as_millis()
    );
    assert!(
        line.contains(&format!("http://127.0.0.1:{}/health", checkout.port)),
        "{line}"
    );
    assert!(line.contains("cargo xtask dev"), "what to do: {line}");

    assert!(
        wait_until(LONG, || backend_pid(&dev) != first),
        "{}",
        dev.output()
    );
    let second = backend_pid(&dev);
    page.expect(&format!("pid={second}"), LONG);
    let lines = page.page_lines();
    let last = lines.last().unwrap();
    assert!(last.starts_with("page: healthy "), "{lines:#?}");
    assert!(!pid_alive(first));
    drop(page);
    stop(dev);
}

#[test]
fn with_the_backend_port_held_and_port_auto_the_page_polls_the_chosen_port() {
    let (checkout, _) = reference_checkout("");
    let _holder = http_server(checkout.port);
    let (dev, url) = dev_until_ready(&checkout, &["--port", "auto"]);
    let chosen: u16 = dev
        .output()
        .lines()
        .find_map(|line| line.strip_prefix("[dev] using port "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let dom = dump_dom(&url);
    assert_eq!(
        text_of(&dom, "url"),
        format!("http://127.0.0.1:{chosen}/health")
    );
    assert_eq!(text_of(&dom, "status"), "healthy", "{dom}");
    stop(dev);
}

#[test]
fn a_degraded_service_is_named_on_the_page_with_its_error() {
    let (checkout, _) = reference_checkout("");
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace("[backend]\n", "[backend]\naccept_degraded = true\n"),
    );
    let mut command = checkout.command(&["dev", "--no-sync"]);
    command.env("DEMO_DB_PATH", checkout.file("missing-dir/demo.db"));
    let dev = Running::spawn(command);
    let line = dev.expect_line("[dev] frontend ready: ", LONG);
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap();
    let dom = dump_dom(url);
    assert!(dom.contains("data-state=\"degraded\""), "{dom}");
    let message = text_of(&dom, "message");
    assert!(message.starts_with("Failing: database ("), "{message}");
    assert!(
        message.contains("unable to open database file"),
        "{message}"
    );
    assert!(dom.contains("database: error"), "{dom}");
    assert!(dom.contains("cache: ok"), "{dom}");
    stop(dev);
}

#[test]
fn a_backend_moved_to_another_port_is_found_again_without_a_reload() {
    // The frontend server alone, its config.json pointing at a port nothing listens on,
    // then a real backend on another port and config.json rewritten, as a later run of
    // `dev` would: the open page must follow.
    let (checkout, frontend_port) = reference_checkout("");
    let (first, moved) = (free_port(), free_port());
    let config = |port: u16| {
        format!("{{\n  \"backend\": {{\"host\": \"127.0.0.1\", \"port\": {port}}}\n}}\n")
    };
    checkout.write("frontend/config.json", &config(first));
    let mut server = Command::new("node");
    server
        .arg("frontend/server.js")
        .current_dir(checkout.path())
        .env("FRONTEND_PORT", frontend_port.to_string())
        .env("CORRELATION_ID", "dev-5-moved");
    let server = Running::spawn(server);
    server.expect_line("frontend: serving", LONG);
    let page = LivePage::open(&format!("http://127.0.0.1:{frontend_port}/"));
    let line = page.expect("page: unreachable", LONG);
    assert!(line.contains(&format!(":{first}/health")), "{line}");
    assert!(line.contains("run dev-5-moved"), "the run's ID: {line}");

    let mut backend = Command::new(reference_python());
    backend
        .arg("backend/main.py")
        .current_dir(checkout.path())
        .env("BACKEND_PORT", moved.to_string())
        .env("FRONTEND_URL", format!("http://127.0.0.1:{frontend_port}"));
    let backend = Running::spawn(backend);
    checkout.write("frontend/config.json", &config(moved));
    page.expect(
        &format!(
            "page: healthy http://127.0.0.1:{moved}/health pid={}",
            backend.pid()
        ),
        LONG,
    );
    backend.expect_line("correlation_id=dev-5-moved GET /health 200", LONG);
}

#[test]
fn a_second_runs_page_reads_the_backend_it_reuses() {
    // Two full runs in one checkout: the second reuses the first one's backend, which
    // was started knowing only the first frontend's origin; it also allows the
    // frontends of this checkout's live runs, so both pages show it healthy.
    let (checkout, _) = reference_checkout("");
    let (first, first_url) = dev_until_ready(&checkout, &[]);
    let (second, second_url) = dev_until_ready(&checkout, &["--yes"]);
    assert!(
        second.output().contains("[dev] reusing "),
        "{}",
        second.output()
    );
    assert_ne!(first_url, second_url);
    let dom = dump_dom(&second_url);
    assert!(dom.contains("data-state=\"healthy\""), "{dom}");
    assert!(dump_dom(&first_url).contains("data-state=\"healthy\""));
    stop(second);
    stop(first);
}

#[test]
fn the_pages_health_poll_stays_off_the_terminal_and_is_in_the_log_file() {
    let (checkout, _) = reference_checkout("");
    // No liveness probes after ready: every later `GET /health` is the page's poll.
    let config = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &config.replace("[backend]\n", "[backend]\nliveness_interval = \"60m\"\n"),
    );
    let (dev, url) = dev_until_ready(&checkout, &[]);
    let page = LivePage::open(&url);
    page.expect("page: healthy", LONG);
    let polls = || {
        crate::support::run_logs(&checkout)
            .matches("GET /health 200")
            .count()
    };
    // The start's own probe or two, then one a second from the page.
    assert!(wait_until(LONG, || polls() >= 5), "{}", dev.output());
    let output = dev.output();
    assert!(!output.contains("GET /health 200"), "{output}");
    stop(dev);
}
