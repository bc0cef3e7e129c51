//! `[process.NAME]` (issue 21): the Electron main process after the frontend, a real
//! Redis before the backend, `after` cycles, and a `kill -9` of dev with processes up.
//! Electron itself cannot be installed here (its postinstall downloads a binary from
//! outside the registries): `tests/fixtures/electron-standin/main.js` stands in for its
//! main process. Redis is Debian's `redis-server`, installed by `.ci/run`.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::reference_app::{redis_sets, reference_python};
use crate::support::{
    Checkout, KillOnDrop, fake_backend, free_port, held_port, http_get, pid_alive, processes_with,
    repo_root, wait_until,
};

const LONG: Duration = Duration::from_secs(60);

/// The pid in the line `started <name> pid <pid>` (the last one said).
fn started_pid(output: &str, name: &str) -> u32 {
    let marker = format!("started {name} pid ");
    output
        .lines()
        .rev()
        .find_map(|line| line.split(&marker).nth(1))
        .and_then(|rest| rest.split([':', ' ']).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no `{marker}` line:\n{output}"))
}

/// Where in `output` the first line holding `needle` is.
fn position(output: &str, needle: &str) -> usize {
    output
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in:\n{output}"))
}

/// A path as a TOML string.
fn quoted(path: &std::path::Path) -> String {
    serde_json::to_string(&path.display().to_string()).unwrap()
}

#[test]
fn the_electron_main_starts_once_the_frontend_serves_with_both_moved_urls_and_its_exit_ends_the_run()
 {
    let checkout = Checkout::new();
    // Both configured ports are taken: dev moves both (--yes), and the main process
    // must be told where they really are.
    let (_backend_holder, backend_wanted) = held_port();
    let (_frontend_holder, frontend_wanted) = held_port();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"python3\", {fake}]\nport = {backend_wanted}\nstartup_timeout = \"10s\"\n\n\
             [frontend]\ncommand = [\"node\", {server}]\nport = {frontend_wanted}\n\n\
             [dev]\nshutdown_grace = \"2s\"\n\n\
             [process.electron]\ncommand = [\"node\", {standin}]\nafter = [\"frontend\"]\nends_run = true\n",
            fake = quoted(&fake_backend()),
            server = quoted(&repo_root().join("frontend/server.js")),
            standin = quoted(&repo_root().join("tests/fixtures/electron-standin/main.js")),
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--yes"]);
    dev.expect_line("electron-standin: backend ", LONG);
    dev.expect_line("up in ", LONG);
    let output = dev.output();
    let frontend_port: u16 = output
        .split("frontend ready: http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no frontend ready line:\n{output}"));
    let backend_port: u16 = output
        .split("frontend ready: ")
        .nth(1)
        .and_then(|rest| rest.split("(backend http://127.0.0.1:").nth(1))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no backend URL:\n{output}"));
    assert_ne!(frontend_port, frontend_wanted, "{output}");
    assert_ne!(backend_port, backend_wanted, "{output}");
    // Started only once the frontend served, and given the URLs as they were settled.
    assert!(
        position(&output, "frontend ready:") < position(&output, "started electron pid"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "[electron] electron-standin: loaded http://127.0.0.1:{frontend_port} (HTTP 200)"
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "[electron] electron-standin: backend http://127.0.0.1:{backend_port}/health (HTTP 200)"
        )),
        "{output}"
    );
    assert!(
        output.contains("electron http://") || output.contains("electron node "),
        "{output}"
    );
    let pids = [
        started_pid(&output, "backend"),
        started_pid(&output, "frontend"),
        started_pid(&output, "electron"),
    ];
    let _guards: Vec<KillOnDrop> = pids.iter().map(|pid| KillOnDrop(*pid)).collect();

    // The window is closed: the main process exits 0, and so does the run, with
    // everything stopped.
    kill(Pid::from_raw(pids[2] as i32), Signal::SIGTERM).unwrap();
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("electron-standin: window closed"),
        "{output}"
    );
    assert!(
        output.contains("electron exited (exit code 0): stopping"),
        "{output}"
    );
    for pid in pids {
        assert!(!pid_alive(pid), "pid {pid} left running:\n{output}");
    }
}

/// The reference backend's `/health` on `port`, when it answers.
fn health(port: u16) -> Option<serde_json::Value> {
    let (_, body) = http_get(port, "/health", "dev-21-redis")?;
    serde_json::from_str(&body).ok()
}

#[test]
fn redis_starts_before_the_backend_on_a_moved_port_and_comes_back_when_killed() {
    let checkout = Checkout::new();
    // 6379 as a developer's machine has it: taken (here, by the test).
    let (_holder, redis_wanted) = held_port();
    let backend_port = free_port();
    // The README's recipe, as a team copies it, with the test's port for 6379.
    let recipe = crate::real_frontends::readme_recipe("redis");
    assert!(recipe.contains("after = [\"redis\"]"), "{recipe}");
    let recipe = recipe
        .replace("[backend]\nafter = [\"redis\"]\n", "")
        .replace("port = 6379\n", &format!("port = {redis_wanted}\n"));
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [{python}, {main}]\nport = {backend_port}\nafter = [\"redis\"]\n\
             retry_delay = \"2s\"\naccept_degraded = true\nwatch = []\n\n\
             [frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n\
             [dev]\nshutdown_grace = \"2s\"\n\n{recipe}",
            python = quoted(&reference_python()),
            main = quoted(&repo_root().join("backend/main.py")),
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--yes"]);
    dev.expect_line("up in ", Duration::from_secs(120));
    let output = dev.output();
    let redis_port: u16 = output
        .split("redis: using port ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("redis did not move:\n{output}"));
    assert_ne!(redis_port, redis_wanted);
    assert!(
        position(&output, "redis ready in") < position(&output, "started backend pid"),
        "{output}"
    );
    let redis = started_pid(&output, "redis");
    let _redis_guard = KillOnDrop(redis);
    // The backend was given REDIS_URL with the moved port: its cache is that Redis.
    let status_is = |wanted: &str| {
        let mut last = None;
        let seen = wait_until(LONG, || {
            last = health(backend_port);
            last.as_ref().is_some_and(|body| body["status"] == wanted)
        });
        assert!(seen, "never {wanted}: {last:?}\n{}", dev.output());
        last.unwrap()
    };
    let body = status_is("healthy");
    assert_eq!(body["services"]["cache"]["status"], "ok", "{body}");
    assert!(
        redis_sets(redis_port) >= 1,
        "the cache check did not reach Redis"
    );

    // Redis dies: the backend is degraded while it is down, and healthy once dev has
    // started it again, on the same port.
    kill(Pid::from_raw(redis as i32), Signal::SIGKILL).unwrap();
    let body = status_is("degraded");
    assert_eq!(body["services"]["cache"]["status"], "error", "{body}");
    dev.expect_line("restarting redis in", LONG);
    let body = status_is("healthy");
    assert_eq!(body["services"]["cache"]["status"], "ok", "{body}");
    let output = dev.output();
    let again = started_pid(&output, "redis");
    assert_ne!(again, redis, "{output}");
    let _again_guard = KillOnDrop(again);
    assert!(output.contains("[redis]"), "{output}");

    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(!pid_alive(again), "redis left running:\n{}", dev.output());
    assert!(crate::support::is_free_port(redis_port));
}

#[test]
fn a_cycle_in_after_is_a_config_error_naming_it() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &[],
        "after = [\"redis\"]",
        "\n[process.redis]\ncommand = [\"redis-server\"]\nafter = [\"worker\"]\n\n\
         [process.worker]\ncommand = [\"sleep\", \"1\"]\nafter = [\"backend\"]\n",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("`after` makes a cycle: backend → redis → worker → backend"),
        "{output}"
    );
    let (status, output) = checkout.run(&["dev", "--print-config"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
}

#[test]
fn after_a_kill_9_of_dev_the_next_run_stops_every_process_it_left() {
    let checkout = Checkout::new();
    // The process's shell says it is up and waits on a `sleep` in its group: the
    // parent-death signal reaches the shell only, so the `sleep` is what a killed dev
    // leaves behind (the guardian is off: this is the next run's clean-up). The shell's
    // own command line says `$((3600 + 17))`, so only the `sleep` reads `sleep 3617`.
    checkout.fake_config(
        &[],
        "",
        "guardian = false\n\n[process.worker]\ncommand = [\"sh\", \"-c\", \"echo worker up; sleep $((3600 + 17)); echo done\"]\n\
         ready = { log = \"^worker up\" }\n",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("worker ready in", LONG);
    dev.expect_line("up in ", LONG);
    let backend = started_pid(&dev.output(), "backend");
    let _backend_guard = KillOnDrop(backend);
    let sleeping = || processes_with("sleep 3617");
    assert_eq!(sleeping().len(), 1, "{}", dev.output());
    let _guards: Vec<KillOnDrop> = sleeping().into_iter().map(KillOnDrop).collect();
    dev.signal(Signal::SIGKILL);
    dev.wait(LONG);
    assert_eq!(
        sleeping().len(),
        1,
        "the worker's sleep outlives a killed dev"
    );

    let mut next = checkout.spawn(&["dev", "--no-sync"]);
    next.expect_line("did not exit cleanly", LONG);
    next.expect_line("worker ready in", LONG);
    next.expect_line("up in ", LONG);
    // The old one is stopped; the new run's own worker runs.
    assert_eq!(sleeping().len(), 1, "{}", next.output());
    assert!(!pid_alive(backend) || backend == started_pid(&next.output(), "backend"));
    next.signal(Signal::SIGTERM);
    assert_eq!(next.wait(LONG).code(), Some(0), "{}", next.output());
    assert!(
        wait_until(LONG, || sleeping().is_empty()),
        "left running:\n{}",
        next.output()
    );
}

#[test]
fn print_config_shows_each_process_key_with_its_line_and_the_start_order() {
    let checkout = Checkout::new();
    let (_holder, taken) = held_port();
    checkout.fake_config(
        &[],
        "after = [\"redis\"]",
        &format!(
            "\n[process.redis]\ncommand = [\"redis-server\", \"--port\", \"{{redis.port}}\", \"--save\", \"\"]\n\
             port = {taken}\nscheme = \"redis\"\n\n\
             [process.electron]\ncommand = [\"node\", \"main.js\", \"{{redis.url}}\"]\nafter = [\"frontend\"]\nends_run = true\n"
        ),
    );
    let (status, output) = checkout.run(&["dev", "--print-config"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    for line in [
        "process.redis.command".to_owned(),
        format!("process.redis.port         = {taken}"),
        "process.redis.ready        = \"port\"".to_owned(),
        "process.electron.ends_run  = true".to_owned(),
        "process.electron.restart   = \"on-failure\"".to_owned(),
        format!("process.redis.command runs redis-server --port {taken} --save ''"),
        format!("process.electron.command runs node main.js redis://127.0.0.1:{taken}"),
        format!("process.redis.port {taken}: "),
        "start order: redis, backend, frontend, electron".to_owned(),
    ] {
        assert!(output.contains(&line), "no {line:?} in:\n{output}");
    }
    // Each key names the line it came from; an unset key says it is the default.
    let port_line = output
        .lines()
        .find(|line| line.starts_with("process.redis.port "))
        .unwrap();
    assert!(port_line.contains("# dev.toml:"), "{port_line}");
    let host_line = output
        .lines()
        .find(|line| line.starts_with("process.redis.host "))
        .unwrap();
    assert!(host_line.ends_with("# default"), "{host_line}");
}

#[test]
fn with_a_remote_backend_the_processes_start_and_stop_too() {
    let checkout = Checkout::new();
    let _backend = checkout.outside_backend(&[]);
    // Not the checkout's path: the guardian's command line names that (its log file).
    let marker = format!("remote-worker-{}", checkout.port);
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nurl = \"http://127.0.0.1:{}\"\n\n[frontend]\ncommand = [\"sleep\", \"3600\"]\nport = false\n\n\
             [dev]\nshutdown_grace = \"2s\"\n\n\
             [process.worker]\ncommand = [\"sh\", \"-c\", \"echo up; sleep 3600; echo {marker}\"]\nready = {{ log = \"^up$\" }}\n",
            checkout.port
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("worker ready in", LONG);
    dev.expect_line("up in ", LONG);
    assert_eq!(processes_with(&marker).len(), 1, "{}", dev.output());
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(
        wait_until(LONG, || processes_with(&marker).is_empty()),
        "{}",
        dev.output()
    );
}

#[test]
fn a_process_that_fails_to_start_is_reported_with_its_stderr_and_the_run_id_and_nothing_is_left() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &[],
        "after = [\"worker\"]",
        "\n[process.worker]\ncommand = [\"sh\", \"-c\", \"echo 'worker: cannot open queue.db' >&2; exit 3\"]\n\
         ready = { log = \"^ready$\" }\n",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(1), "{output}");
    let id = dev.correlation_id();
    for line in [
        "worker: retrying in 100ms (attempt 2 of 3)",
        "error: worker `sh -c ",
        "` did not become ready",
        "it exited (exit code 3) before it was ready",
        "its last stderr lines:",
        "    worker: cannot open queue.db",
        "or correct `process.worker` in dev.toml",
        &format!("correlation id: {id}"),
    ] {
        assert!(output.contains(line), "no {line:?} in:\n{output}");
    }
    // The backend waits for the worker: it never started.
    assert!(!output.contains("started backend pid"), "{output}");
    assert!(!pid_alive(started_pid(&output, "worker")), "{output}");
}

#[test]
fn a_process_with_restart_never_stays_down_and_the_run_goes_on() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &[],
        "",
        "\n[process.once]\ncommand = [\"sh\", \"-c\", \"echo up; exec sleep 3613\"]\nready = { log = \"^up$\" }\nrestart = \"never\"\n",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("up in ", LONG);
    let once = started_pid(&dev.output(), "once");
    kill(Pid::from_raw(once as i32), Signal::SIGTERM).unwrap();
    dev.expect_line(
        "once exited (signal 15 (SIGTERM)): not restarted (restart = \"never\")",
        LONG,
    );
    assert!(
        dev.try_status().is_none(),
        "the run goes on:\n{}",
        dev.output()
    );
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert_eq!(dev.output().matches("started once pid").count(), 1);
    // Its output is in the run's log file, named by its process.
    let logs = crate::support::run_logs(&checkout);
    assert!(logs.contains(" STDOUT [once] up"), "{logs}");
}

/// A server on `SICK_PORT` whose `/ok` answers 200 while `sick` does not exist in its
/// folder, and 500 while it does.
const SICK_SERVER: &str = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 500 if os.path.exists('sick') else 200
        self.send_response(code); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['SICK_PORT'])), H).serve_forever()
"#;

#[test]
fn a_process_ready_by_http_is_probed_and_restarted_when_it_stops_answering() {
    let checkout = Checkout::new();
    let port = free_port();
    let command = serde_json::to_string(&["python3", "-c", SICK_SERVER]).unwrap();
    checkout.fake_config(
        &[],
        "liveness_interval = \"200ms\"\nliveness_failures = 2",
        &format!(
            "\n[process.sick]\ncommand = {command}\nport = {port}\nready = {{ http = \"/ok\" }}\n"
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--message-format", "json"]);
    let first = {
        assert!(
            wait_until(LONG, || dev.stderr().contains("up in ")),
            "{}",
            dev.output()
        );
        started_pid(&dev.output(), "sick")
    };
    checkout.write("sick", "");
    dev.expect_line(
        "sick stopped answering GET /ok (2 probes in a row): restarting it",
        LONG,
    );
    dev.expect_line("restarting sick in", LONG);
    std::fs::remove_file(checkout.file("sick")).unwrap();
    dev.expect_line("sick ready again in", LONG);
    let again = started_pid(&dev.output(), "sick");
    assert_ne!(again, first);
    assert!(!pid_alive(first));
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    assert!(!pid_alive(again));
    // The events of the process are those of the schema, named by its role.
    let events = crate::schema::events(&dev.stdout());
    let of = |kind: &str| {
        events
            .iter()
            .filter(|e| e["event"] == kind && e["role"] == "sick")
            .count()
    };
    assert_eq!(of("process-started"), 2, "{events:?}");
    assert!(of("ready") >= 1, "{events:?}");
    assert_eq!(of("restarting"), 1, "{events:?}");
    assert!(of("port-chosen") == 1, "{events:?}");
}

#[test]
fn a_missing_program_is_reported_at_once_and_a_daemonizing_command_is_named() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &[],
        "",
        "\n[process.ghost]\ncommand = [\"no-such-program-21\", \"x\"]\n",
    );
    let started = std::time::Instant::now();
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("could not start ghost"), "{output}");
    assert!(!output.contains("retrying"), "{output}");
    assert!(started.elapsed() < Duration::from_secs(5), "{output}");

    // A command that leaves its server in the background and exits 0 once it serves
    // (however long the server takes to start on a busy machine).
    let port = free_port();
    let checkout = Checkout::new();
    let wait = format!(
        "import socket, time\nwhile True:\n    try:\n        socket.create_connection(('127.0.0.1', {port})).close(); break\n    except OSError:\n        time.sleep(0.02)"
    );
    checkout.write("wait.py", &wait);
    checkout.fake_config(
        &[],
        "",
        &format!(
            "\n[process.daemon]\ncommand = [\"sh\", \"-c\", \"python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & python3 wait.py\"]\nport = {port}\n"
        ),
    );
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains(&format!("while its port {port} still answered"))
            && output.contains("the command forks into the background"),
        "{output}"
    );
    assert!(
        wait_until(LONG, || crate::support::is_free_port(port)),
        "what it left runs on:\n{output}"
    );
}

#[test]
fn while_a_restarted_process_starts_the_backend_and_signals_are_still_seen() {
    let checkout = Checkout::new();
    // Ready on its first start; after a restart it never says it is ready again.
    checkout.fake_config(
        &[],
        "",
        "\n[process.slow]\ncommand = [\"sh\", \"-c\", \"if [ -e again ]; then echo hung; exec sleep 3619; fi; touch again; echo up; exec sleep 3619\"]\n\
         ready = { log = \"^up$\" }\nstartup_timeout = \"60s\"\n",
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("up in ", LONG);
    let slow = started_pid(&dev.output(), "slow");
    let backend = started_pid(&dev.output(), "backend");
    let _guards = [KillOnDrop(slow), KillOnDrop(backend)];
    kill(Pid::from_raw(slow as i32), Signal::SIGKILL).unwrap();
    dev.expect_line("[slow] hung", LONG);
    // The backend's crash is seen now, not after the 60 s the restart may take.
    kill(Pid::from_raw(backend as i32), Signal::SIGKILL).unwrap();
    dev.expect_line("exited while running", Duration::from_secs(15));
    dev.expect_line("backend ready in", Duration::from_secs(15));
    dev.signal(Signal::SIGTERM);
    let status = dev.wait(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "{}", dev.output());
    assert!(processes_with("sleep 3619").is_empty(), "{}", dev.output());
}
