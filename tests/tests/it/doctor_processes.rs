//! `doctor`'s checks of `[process.NAME]` tables on real programs and ports:
//! `process-NAME` finds the command as a run would (on `PATH`, or a path from the
//! checkout root), `process-NAME-port` names the process holding the port.

use std::net::TcpListener;

use crate::doctor::status;
use crate::support::{Checkout, free_port};

/// A checkout with a backend on its port, no frontend server, and `[process.redis]`
/// with this command (TOML array) and these more lines.
fn with_redis(checkout: &Checkout, command: &str, more: &str) {
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\n\n[frontend]\ncommand = [\"sleep\", \"1\"]\nport = false\n\n\
             [process.redis]\ncommand = {command}\n{more}",
            checkout.port
        ),
    );
}

#[test]
fn process_command_is_found_on_path_or_from_the_checkout_root() {
    let checkout = Checkout::new();
    with_redis(
        &checkout,
        "[\"no-such-redis-5e1f\", \"--appendonly\", \"no\"]",
        "",
    );
    let (state, found) = status(&checkout, "process-redis", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(found["summary"], "`no-such-redis-5e1f` is not on PATH");
    assert_eq!(
        found["fix"],
        "install `no-such-redis-5e1f`, or correct `process.redis.command` in dev.toml"
    );
    assert_eq!(
        found["details"][0],
        "process.redis.command (dev.toml:9): `no-such-redis-5e1f --appendonly no`"
    );
    assert_eq!(found["data"]["path"], serde_json::Value::Null);

    with_redis(&checkout, "[\"node\", \"server.js\"]", "");
    let (state, found) = status(&checkout, "process-redis", &[]);
    assert_eq!(state, "ok", "{found}");
    assert!(
        found["data"]["path"].as_str().unwrap().ends_with("/node"),
        "{found}"
    );

    // A path is taken from the checkout root: missing, then not executable, then fine.
    with_redis(&checkout, "[\"bin/worker\"]", "");
    let (state, found) = status(&checkout, "process-redis", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        "`bin/worker` does not exist (a path is taken from the checkout root)"
    );
    checkout.write("bin/worker", "#!/bin/sh\nexit 0\n");
    let (state, found) = status(&checkout, "process-redis", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(found["summary"], "`bin/worker` is not executable");
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::Permissions::from_mode(0o755);
    std::fs::set_permissions(checkout.file("bin/worker"), executable).unwrap();
    let (state, found) = status(&checkout, "process-redis", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(found["summary"], "`bin/worker` is executable");
}

#[test]
fn process_port_held_names_the_holder_and_free_is_ok() {
    let checkout = Checkout::new();
    let port = free_port();
    let redis = "[\"redis-server\", \"--port\", \"{redis.port}\"]";
    with_redis(&checkout, redis, &format!("port = {port}\n"));
    let (state, found) = status(&checkout, "process-redis-port", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(found["summary"], format!("port {port} (redis's) is free"));
    assert_eq!(found["data"]["state"], "free");

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (state, found) = status(&checkout, "process-redis-port", &[]);
    assert_eq!(state, "error", "{found}");
    let summary = found["summary"].as_str().unwrap();
    let pid = std::process::id();
    assert!(
        summary.starts_with(&format!("port {port} is in use by `")),
        "{summary}"
    );
    assert!(summary.contains(&format!("(pid {pid}")), "{summary}");
    assert!(
        summary.ends_with("(redis's port, `process.redis.port`)"),
        "{summary}"
    );
    assert_eq!(found["data"]["holder"]["pid"], pid);
    assert_eq!(found["data"]["state"], "foreign");
    let fix = found["fix"].as_str().unwrap();
    assert!(
        fix.contains("run `cargo xtask dev --yes`, which takes a free port"),
        "{fix}"
    );
    assert!(
        fix.ends_with("or set another `process.redis.port` in dev.toml"),
        "{fix}"
    );
    drop(listener);

    // The backend's port is never a process's, free or not.
    with_redis(&checkout, redis, &format!("port = {}\n", checkout.port));
    let (state, found) = status(&checkout, "process-redis-port", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        format!(
            "port {} (redis's) is also the backend's port",
            checkout.port
        )
    );
    assert_eq!(found["fix"], "set another `process.redis.port` in dev.toml");
    assert_eq!(found["data"]["same_as"], "backend");

    // Without a port, there is no port check.
    with_redis(&checkout, redis, "");
    let (_, report) = crate::doctor::doctor(&checkout, &[]);
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .filter(|id| id.starts_with("process-"))
        .collect();
    assert_eq!(ids, ["process-redis"]);
}

#[test]
fn the_port_of_a_live_runs_own_process_is_ours() {
    use nix::sys::signal::Signal;
    let checkout = Checkout::new();
    let port = free_port();
    checkout.fake_config(
        &[],
        "",
        &format!(
            "\n[process.web]\ncommand = [\"python3\", \"-m\", \"http.server\", \"{{web.port}}\", \"--bind\", \"127.0.0.1\"]\nport = {port}\n"
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("up in ", std::time::Duration::from_secs(60));
    let (state, found) = status(&checkout, "process-web-port", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(found["data"]["state"], "ours", "{found}");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .contains("of the live dev run"),
        "{found}"
    );
    dev.signal(Signal::SIGTERM);
    assert_eq!(
        dev.wait(std::time::Duration::from_secs(30)).code(),
        Some(0),
        "{}",
        dev.output()
    );
}
