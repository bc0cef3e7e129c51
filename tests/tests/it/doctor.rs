//! `doctor` on real state: each check driven to each of its statuses, the JSON schema,
//! and a snapshot of the human output.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use coordinator::config::Config;
use coordinator::runlog::RunLog;
use serde_json::Value;

use crate::support::{Checkout, Running};

const LONG: Duration = Duration::from_secs(30);

fn doctor(checkout: &Checkout, env: &[(&str, &str)]) -> (i32, Value) {
    let mut command = checkout.command(&["doctor", "--json"]);
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (output.status.code().unwrap(), json)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn status(checkout: &Checkout, id: &str, env: &[(&str, &str)]) -> (String, Value) {
    let (_, report) = doctor(checkout, env);
    let found = check(&report, id).clone();
    (found["status"].as_str().unwrap().to_owned(), found)
}

/// A checkout whose frontend config agrees with its backend port.
fn consistent(checkout: &Checkout) {
    checkout.fake_config(&[], "", "");
    checkout.write(
        "frontend/config.json",
        &format!(
            "{{\"backend\": {{\"host\": \"127.0.0.1\", \"port\": {}}}}}\n",
            checkout.port
        ),
    );
}

/// A directory holding only the named programs (as symlinks), for a PATH without the
/// others.
fn path_with(checkout: &Checkout, programs: &[&str]) -> String {
    let bin = checkout.file("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for program in programs {
        let found = coordinator::which::which(program).unwrap();
        std::os::unix::fs::symlink(found, bin.join(program)).unwrap();
    }
    bin.display().to_string()
}

#[test]
fn the_json_has_the_documented_shape() {
    let checkout = Checkout::new();
    consistent(&checkout);
    let (_, report) = doctor(&checkout, &[]);
    assert!(report["ok"].is_boolean());
    assert!(
        report["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("dev-")
    );
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "config",
            "python",
            "backend-deps",
            "node",
            "frontend-config",
            "port",
            "backend-health",
            "backend-remote",
            "git-hooks",
            "rust-tools",
            "runs"
        ]
    );
    for check in report["checks"].as_array().unwrap() {
        assert!(["ok", "warn", "error", "skip"].contains(&check["status"].as_str().unwrap()));
        assert!(check["summary"].is_string());
        assert!(check["details"].is_array());
        assert!(check["fix"].is_string() || check["fix"].is_null());
        assert!(check.get("data").is_some());
    }
}

#[test]
fn config_check_ok_warn_and_error() {
    let checkout = Checkout::new();
    assert_eq!(status(&checkout, "config", &[]).0, "warn", "no dev.toml");
    consistent(&checkout);
    assert_eq!(status(&checkout, "config", &[]).0, "ok");
    checkout.write("dev.toml", "[backend]\nport = 70000\n");
    let (code, report) = doctor(&checkout, &[]);
    assert_eq!(code, 1, "an error makes doctor exit 1");
    assert_eq!(report["ok"], false);
    let config = check(&report, "config");
    assert_eq!(config["status"], "error");
    assert!(
        config["details"][0]
            .as_str()
            .unwrap()
            .starts_with("dev.toml:2:8: invalid value 70000")
    );
    assert!(config["fix"].as_str().unwrap().contains("backend.port"));
}

#[test]
fn backend_deps_ok_changed_missing_wrong_version_no_venv_and_skip() {
    let checkout = Checkout::new();
    consistent(&checkout);
    assert_eq!(
        status(&checkout, "backend-deps", &[]).0,
        "skip",
        "no requirements"
    );
    checkout.write("backend/requirements.txt", "pip\n");
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "error", "{found}");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{found}"
    );

    // A real venv, synced the way `dev` syncs it (pip is in every venv: no download).
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-doctor");
    coordinator::venv::sync(&config.backend, &config.root, &checkout.file(".dev"), &log).unwrap();
    assert_eq!(status(&checkout, "backend-deps", &[]).0, "ok");

    checkout.write("backend/requirements.txt", "pip  # the installer\n");
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "warn", "{found}");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .contains("changed since the last sync")
    );

    checkout.write("backend/requirements.txt", "pip\nfastapi==0.162.5\n");
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "error");
    assert_eq!(
        found["data"]["missing"],
        serde_json::json!(["fastapi==0.162.5"])
    );

    checkout.write("backend/requirements.txt", "pip==0.1\n");
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "error");
    assert!(
        found["data"]["mismatched"][0]
            .as_str()
            .unwrap()
            .starts_with("pip==0.1 (installed ")
    );
}

#[test]
fn python_node_and_rust_tools_errors_when_missing_from_path() {
    let checkout = Checkout::new();
    consistent(&checkout);
    for id in ["python", "node", "rust-tools"] {
        assert_eq!(status(&checkout, id, &[]).0, "ok", "{id} on this machine");
    }
    let empty = path_with(&checkout, &[]);
    let env = [("PATH", empty.as_str())];
    let (_, report) = doctor(&checkout, &env);
    let python = check(&report, "python");
    assert_eq!(python["status"], "error");
    assert_eq!(python["details"][0], "`python3`: not found");
    assert_eq!(
        check(&report, "node")["status"],
        "skip",
        "the fake frontend is `sleep`"
    );
    assert_eq!(check(&report, "rust-tools")["status"], "error");
    assert_eq!(
        check(&report, "git-hooks")["status"],
        "skip",
        "no git on PATH"
    );

    // A frontend run by node makes a missing node an error; an old one too.
    checkout.write(
        "dev.toml",
        &std::fs::read_to_string(checkout.file("dev.toml"))
            .unwrap()
            .replace(
                r#"command = ["sleep", "3600"]"#,
                r#"command = ["node", "server.js"]"#,
            ),
    );
    assert_eq!(status(&checkout, "node", &env).0, "error");
    let old_node = checkout.file("bin/node");
    std::fs::write(&old_node, "#!/bin/sh\necho v16.20.0\n").unwrap();
    std::fs::set_permissions(&old_node, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (state, found) = status(&checkout, "node", &env);
    assert_eq!(state, "error");
    assert_eq!(found["summary"], "Node v16.20.0 is older than 18");
}

#[test]
fn frontend_config_on_8001_against_a_backend_on_8000_is_an_error_naming_both() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 8000\n");
    checkout.write(
        "frontend/config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}}\n",
    );
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "error");
    assert_eq!(
        found["summary"],
        "frontend/config.json says backend.port = 8001, but dev.toml says backend.port = 8000"
    );
    assert!(
        found["fix"]
            .as_str()
            .unwrap()
            .contains("set backend.port to 8000 in frontend/config.json")
    );

    checkout.write("frontend/config.json", "{\"backend\": {\"port\": 8000}}\n");
    assert_eq!(status(&checkout, "frontend-config", &[]).0, "ok");
    checkout.write("frontend/config.json", "{\"backend\": {\"port\": 8000,}}\n");
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "error");
    assert!(
        found["details"][0]
            .as_str()
            .unwrap()
            .starts_with("frontend/config.json:1:")
    );
    std::fs::remove_file(checkout.file("frontend/config.json")).unwrap();
    assert_eq!(status(&checkout, "frontend-config", &[]).0, "error");
}

#[test]
fn port_check_free_ours_stale_and_foreign_with_the_real_holder() {
    let checkout = Checkout::new();
    consistent(&checkout);
    let (state, found) = status(&checkout, "port", &[]);
    assert_eq!(state, "ok");
    assert_eq!(found["data"]["state"], "free");
    assert_eq!(found["data"]["suggested_port"], checkout.port);

    {
        let ours = checkout.outside_backend(&[]);
        let (state, found) = status(&checkout, "port", &[]);
        assert_eq!(
            (state.as_str(), &found["data"]["state"]),
            ("ok", &Value::from("ours"))
        );
        drop(ours);
    }
    {
        let stale = checkout.outside_backend(&["--never-healthy"]);
        let (state, found) = status(&checkout, "port", &[]);
        assert_eq!(state, "warn", "{found}");
        assert_eq!(found["data"]["holder"]["pid"], stale.pid());
    }
    let mut command = Command::new("python3");
    command.args([
        "-m",
        "http.server",
        &checkout.port.to_string(),
        "--bind",
        "127.0.0.1",
    ]);
    let server = Running::spawn(command);
    server.expect_line("Serving HTTP", LONG);
    let (state, found) = status(&checkout, "port", &[]);
    assert_eq!(state, "error", "{found}");
    let data = &found["data"];
    assert_eq!(data["port"], checkout.port);
    assert_eq!(data["state"], "foreign");
    assert_eq!(data["holder"]["pid"], server.pid(), "the holder's real pid");
    assert!(
        data["holder"]["cmdline"]
            .as_str()
            .unwrap()
            .contains("http.server")
    );
    assert!(data["holder"]["name"].is_string());
    assert!(data["suggested_port"].as_u64().unwrap() > u64::from(checkout.port));
}

#[test]
fn backend_health_skip_ok_warn_and_degraded_error() {
    let checkout = Checkout::new();
    consistent(&checkout);
    assert_eq!(status(&checkout, "backend-health", &[]).0, "skip");
    {
        let _healthy = checkout.outside_backend(&[]);
        let (state, found) = status(&checkout, "backend-health", &[]);
        assert_eq!(state, "ok");
        assert_eq!(found["data"]["services"]["database"]["status"], "ok");
    }
    {
        let _starting = checkout.outside_backend(&["--never-healthy"]);
        assert_eq!(status(&checkout, "backend-health", &[]).0, "warn");
    }
    let _degraded = checkout.outside_backend(&["--degraded", "database"]);
    let (code, report) = doctor(&checkout, &[]);
    assert_eq!(code, 1);
    let found = check(&report, "backend-health");
    assert_eq!(found["status"], "error");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .ends_with("is degraded: database (simulated failure)")
    );
    assert_eq!(
        found["data"]["services"]["database"]["error"],
        "simulated failure"
    );
}

#[test]
fn git_hooks_skip_warn_ok_and_foreign() {
    let checkout = Checkout::new();
    consistent(&checkout);
    assert_eq!(status(&checkout, "git-hooks", &[]).0, "skip");
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(checkout.path())
        .status();
    assert!(git.unwrap().success());
    let (state, found) = status(&checkout, "git-hooks", &[]);
    assert_eq!(state, "warn");
    assert_eq!(found["fix"], "cargo xtask install-hooks");
    checkout.write(".git/hooks/pre-commit", "#!/bin/sh\nmake lint\n");
    let (state, found) = status(&checkout, "git-hooks", &[]);
    assert_eq!(state, "warn");
    assert!(found["summary"].as_str().unwrap().contains("did not write"));
    checkout.write(
        ".git/hooks/pre-commit",
        &format!(
            "#!/bin/sh\n{}\nexec cargo xtask pre-commit\n",
            coordinator::hooks::MARKER
        ),
    );
    assert_eq!(status(&checkout, "git-hooks", &[]).0, "ok");
}

#[test]
fn human_output_snapshot() {
    let checkout = Checkout::new();
    let port = checkout.port;
    checkout.write(
        "dev.toml",
        &format!("[backend]\nport = {port}\n[frontend]\ncommand = [\"sleep\", \"1\"]\n"),
    );
    checkout.write(
        "frontend/config.json",
        &format!(
            "{{\"backend\": {{\"host\": \"127.0.0.1\", \"port\": {}}}}}\n",
            port + 1
        ),
    );
    let empty = path_with(&checkout, &[]);
    let mut command = checkout.command(&["doctor"]);
    // Without CARGO, `cargo` (for clippy) is looked up on the empty PATH too.
    command.env("PATH", &empty).env_remove("CARGO");
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    // Only what differs between runs is masked: the ports and the correlation id.
    let masked = text
        .replace(&(port + 1).to_string(), "<port+1>")
        .replace(&port.to_string(), "<port>");
    let masked = match masked.find("(correlation id ") {
        Some(i) => format!("{}(correlation id <id>)\n", &masked[..i]),
        None => masked,
    };
    let expected = "\
✓ config           dev.toml is valid
✗ python           no Python 3.10+ found
    `python3`: not found
    `python`: not found
    `py -3`: not found
    fix: install Python 3.10 or newer (https://www.python.org/downloads/) and make sure `python3` is on PATH
- backend-deps     no backend/requirements.txt
- node             node not found; the frontend does not use it
✗ frontend-config  frontend/config.json says backend.port = <port+1>, but dev.toml says backend.port = <port>
    the frontend would talk to a port the backend does not listen on
    fix: set backend.port to <port> in frontend/config.json (or run `cargo xtask dev`, which writes it)
✓ port             port <port> is free
- backend-health   no backend answers http://127.0.0.1:<port>/health
- backend-remote   no backend.url: dev starts the backend here
- git-hooks        not a git checkout
✗ rust-tools       missing: rustfmt, clippy
    fix: rustup component add rustfmt clippy
✓ runs             no dev run is live in this checkout

3 errors, 0 warnings (correlation id <id>)
";
    assert_eq!(masked, expected);
}

#[test]
fn frontend_config_mismatch_names_an_environment_override_as_the_source() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 8000\n");
    checkout.write("frontend/config.json", "{\"backend\": {\"port\": 8000}}\n");
    let (state, found) = status(&checkout, "frontend-config", &[("BACKEND_PORT", "8100")]);
    assert_eq!(state, "error");
    assert_eq!(
        found["summary"],
        "frontend/config.json says backend.port = 8000, but env BACKEND_PORT sets backend.port = 8100"
    );
}
