//! The reference backend (real FastAPI + uvicorn in the repository's venv) and frontend.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use coordinator::config::Config;
use coordinator::python::venv_python;
use coordinator::runlog::RunLog;

use crate::support::{
    Checkout, Running, free_port, http_get, repo_root, wait_until, xtask_command,
};

/// The repository's `backend/.venv`, synced once per test run (the sync takes a lock, so
/// concurrent test binaries and a `dev` run are safe).
pub fn reference_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let env = HashMap::<String, String>::new();
            let config = Config::load(&repo_root(), &|n| env.get(n).cloned(), &[]).unwrap();
            let log = RunLog::create(&repo_root().join(".dev/logs"), "dev-0-tests");
            coordinator::venv::sync(
                &config.backend,
                &config.root,
                &config.root.join(".dev"),
                &log,
            )
            .unwrap_or_else(|err| panic!("syncing the reference venv: {err}"));
            venv_python(&config.backend.venv)
        })
        .clone()
}

fn start_backend(port: u16, extra_env: &[(&str, &str)]) -> Running {
    let mut command = Command::new(reference_python());
    command
        .arg("backend/main.py")
        .current_dir(repo_root())
        .env("BACKEND_HOST", "127.0.0.1")
        .env("BACKEND_PORT", port.to_string())
        .env("CORRELATION_ID", "dev-42-tests")
        .envs(extra_env.iter().copied());
    Running::spawn(command)
}

fn health(port: u16, correlation_id: &str) -> Option<(u16, serde_json::Value)> {
    let (code, body) = http_get(port, "/health", correlation_id)?;
    Some((code, serde_json::from_str(&body).ok()?))
}

#[test]
fn reference_backend_reports_healthy_with_real_checks() {
    let port = free_port();
    let backend = start_backend(port, &[]);
    let mut answer = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            answer = health(port, "dev-7-healthcheck");
            answer.is_some()
        }),
        "no health answer:\n{}",
        backend.output()
    );
    let (code, body) = answer.unwrap();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "demo-backend");
    assert_eq!(body["pid"], backend.pid());
    let workspace = PathBuf::from(body["workspace"].as_str().unwrap());
    assert_eq!(workspace, repo_root().canonicalize().unwrap());
    for service in ["cache", "database", "websocket"] {
        assert_eq!(body["services"][service]["status"], "ok", "{body}");
    }
    backend.expect_line("correlation_id=dev-7-healthcheck", Duration::from_secs(5));
    backend.expect_line("dev-42-tests", Duration::from_secs(5));
}

#[test]
fn reference_backend_is_degraded_when_its_database_fails() {
    let port = free_port();
    let backend = start_backend(port, &[("DEMO_DB_PATH", "/nonexistent-dir-7f3a/demo.db")]);
    let mut answer = None;
    assert!(
        wait_until(Duration::from_secs(30), || {
            answer = health(port, "dev-8-degraded");
            answer.is_some()
        }),
        "no health answer:\n{}",
        backend.output()
    );
    let (code, body) = answer.unwrap();
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["database"]["status"], "error");
    assert!(
        body["services"]["database"]["error"]
            .as_str()
            .unwrap()
            .len()
            > 3
    );
    assert_eq!(body["services"]["cache"]["status"], "ok");
    assert_eq!(body["services"]["websocket"]["status"], "ok");
}

/// Debian's `redis-server` on `port`, nothing saved to disk; returns once it accepts
/// connections. The test fails (never skips) where it is not installed: `.ci/run`
/// installs it.
fn start_redis(port: u16) -> Running {
    let mut command = Command::new("redis-server");
    command.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    let redis = Running::spawn(command);
    redis.expect_line("Ready to accept connections", Duration::from_secs(30));
    redis
}

/// How many `SET` commands Redis on `port` has run (`INFO commandstats`).
pub fn redis_sets(port: u16) -> u64 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("redis answers");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"INFO commandstats\r\n").unwrap();
    let mut answer = vec![0u8; 64 * 1024];
    let n = stream.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    answer
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn reference_backend_caches_in_redis_and_is_degraded_while_redis_is_down() {
    let redis_port = free_port();
    let redis = start_redis(redis_port);
    let port = free_port();
    let url = format!("redis://127.0.0.1:{redis_port}/0");
    let backend = start_backend(port, &[("REDIS_URL", &url)]);
    let answer = |wanted: &str| {
        let mut last = None;
        let seen = wait_until(Duration::from_secs(30), || {
            last = health(port, "dev-9-redis");
            last.as_ref()
                .is_some_and(|(_, body)| body["status"] == wanted)
        });
        assert!(seen, "never {wanted}: {last:?}\n{}", backend.output());
        last.unwrap()
    };
    let (code, body) = answer("healthy");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["services"]["cache"]["status"], "ok", "{body}");
    assert!(
        redis_sets(redis_port) >= 1,
        "the cache check did not reach Redis"
    );

    // Redis stops: the cache, and so the backend, is degraded, naming why.
    drop(redis);
    let (code, body) = answer("degraded");
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["services"]["cache"]["status"], "error", "{body}");
    let error = body["services"]["cache"]["error"].as_str().unwrap();
    assert!(error.contains("ConnectionError"), "{error}");
    assert_eq!(body["services"]["database"]["status"], "ok", "{body}");

    // Back on the same port: healthy again, without restarting the backend.
    let _redis = start_redis(redis_port);
    let (_, body) = answer("healthy");
    assert_eq!(body["pid"], backend.pid(), "{body}");
}

#[test]
fn reference_frontend_serves_the_page_and_its_config() {
    let port = free_port();
    let mut command = Command::new("node");
    command
        .arg("frontend/server.js")
        .current_dir(repo_root())
        .env("FRONTEND_PORT", port.to_string())
        .env("CORRELATION_ID", "dev-9-frontend");
    let frontend = Running::spawn(command);
    frontend.expect_line(
        "frontend: serving http://127.0.0.1:",
        Duration::from_secs(20),
    );
    let (code, page) = http_get(port, "/", "dev-9").unwrap();
    assert_eq!(code, 200);
    assert!(page.contains("/health"), "the page polls health");
    let (code, config) = http_get(port, "/config.json", "dev-9").unwrap();
    assert_eq!(code, 200);
    let on_disk = std::fs::read_to_string(repo_root().join("frontend/config.json")).unwrap();
    assert_eq!(config, on_disk);
    let (code, run) = http_get(port, "/run.json", "dev-9").unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        run, r#"{"correlation_id":"dev-9-frontend"}"#,
        "the run's ID for the page"
    );
}

#[test]
fn dev_brings_up_the_real_reference_backend_end_to_end() {
    reference_python();
    let port = free_port();
    let port_text = port.to_string();
    let probe = "fetch(process.env.BACKEND_URL + '/health').then(r => r.json()).then(j => { \
                 console.log('health says', j.status, j.service); process.exit(j.status === 'healthy' ? 0 : 5) })";
    let mut command = xtask_command(
        &repo_root(),
        &["dev", "--port", &port_text, "--", "node", "-e", probe],
    );
    // The request lines with dev's correlation ID are its health probes' (off the
    // terminal by default).
    command.env("DEV_BACKEND_SHOW_HEALTH_LOGS", "true");
    let mut dev = Running::spawn(command);
    let status = dev.wait(Duration::from_secs(120));
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("health says healthy demo-backend"),
        "{output}"
    );
    assert!(
        output.contains("[backend] INFO correlation_id=dev-"),
        "{output}"
    );
    assert!(output.contains("stopping backend pid"), "{output}");
}

/// A checkout holding a copy of the reference app (so that its backend reports this
/// checkout as its workspace and its `config.json` is this test's own), run with the
/// repository's synced venv; `frontend_extra` lines go into `[frontend]`. Returns the
/// checkout and the frontend's port.
pub fn reference_checkout(frontend_extra: &str) -> (Checkout, u16) {
    let python = reference_python();
    let venv = python.parent().and_then(|bin| bin.parent()).unwrap();
    let checkout = Checkout::new();
    for file in [
        "backend/main.py",
        "backend/requirements.txt",
        "frontend/server.js",
        "frontend/index.html",
        "frontend/config.json",
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        checkout.write(file, &text);
    }
    let frontend_port = free_port();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\nvenv = {:?}\nstartup_timeout = \"60s\"\n\n\
             [frontend]\nport = {frontend_port}\n{frontend_extra}\n\n\
             [dev]\nshutdown_grace = \"3s\"\n",
            checkout.port,
            venv.display().to_string(),
        ),
    );
    (checkout, frontend_port)
}

/// A raw `GET /health` with the given `Host` and extra headers (`Name: value\r\n`
/// lines): (status, lower-cased head).
fn raw_health(port: u16, host: &str, extra: &str) -> (u16, String) {
    let mut headers = vec![("Host", host)];
    headers.extend(extra.lines().filter_map(|line| line.split_once(": ")));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let response = crate::support::get(addr, "/health", &headers).unwrap();
    (response.code, response.head.to_ascii_lowercase())
}

#[test]
fn only_the_frontends_origins_may_call_the_real_backend_and_only_by_its_own_host() {
    let (checkout, frontend_port) = reference_checkout("origins = [\"app://-\"]");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("[dev] frontend ready: ", Duration::from_secs(90));
    let port = checkout.port;
    let own_host = format!("127.0.0.1:{port}");
    let frontend = format!("http://127.0.0.1:{frontend_port}");

    let (code, head) = raw_health(port, &own_host, "Origin: http://evil.example\r\n");
    assert_eq!(code, 200, "{head}");
    assert!(
        !head.contains("access-control-allow-origin"),
        "a foreign page must not read the answer:\n{head}"
    );
    let (code, head) = raw_health(port, &own_host, &format!("Origin: {frontend}\r\n"));
    assert_eq!(code, 200, "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {frontend}\r\n")),
        "the frontend's own origin (FRONTEND_URL):\n{head}"
    );
    let (_, head) = raw_health(port, &own_host, "Origin: app://-\r\n");
    assert!(
        head.contains("access-control-allow-origin: app://-"),
        "an extra origin from [frontend] origins:\n{head}"
    );
    let (code, head) = raw_health(port, &format!("evil.example:{port}"), "");
    assert_eq!(code, 400, "a DNS-rebinding Host is refused:\n{head}");
    let (code, _) = raw_health(port, &format!("localhost:{port}"), "");
    assert_eq!(code, 200, "loopback by name is the backend's own host");
    dev.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(
        dev.wait(Duration::from_secs(30)).code(),
        Some(0),
        "{}",
        dev.output()
    );
}

#[test]
fn a_second_runs_frontend_may_call_the_backend_it_reuses() {
    let (checkout, first_frontend) = reference_checkout("");
    let mut first = checkout.spawn(&["dev", "--no-sync"]);
    first.expect_line("[dev] frontend ready: ", Duration::from_secs(90));
    // The second run reuses the first one's backend and takes the next free frontend
    // port; the backend was started with only the first frontend's origin.
    let mut second = checkout.spawn(&["dev", "--no-sync", "--yes"]);
    let ready = second.expect_line("[dev] frontend ready: ", Duration::from_secs(90));
    assert!(second.output().contains("reusing the backend of dev run"));
    let second_frontend: u16 = ready
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(second_frontend, first_frontend);
    let port = checkout.port;
    let own_host = format!("127.0.0.1:{port}");
    let origin = format!("http://127.0.0.1:{second_frontend}");
    let (code, head) = raw_health(port, &own_host, &format!("Origin: {origin}\r\n"));
    assert_eq!(code, 200, "{head}");
    assert!(
        head.contains(&format!("access-control-allow-origin: {origin}\r\n")),
        "the second run's page may read health:\n{head}"
    );
    let (_, head) = raw_health(port, &own_host, "Origin: http://127.0.0.1:1\r\n");
    assert!(
        !head.contains("access-control-allow-origin"),
        "a port no live run serves its frontend on is not allowed:\n{head}"
    );
    for dev in [&mut second, &mut first] {
        dev.signal(nix::sys::signal::Signal::SIGINT);
        assert_eq!(dev.wait(Duration::from_secs(30)).code(), Some(0));
    }
}
