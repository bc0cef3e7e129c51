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

pub(crate) fn doctor(checkout: &Checkout, env: &[(&str, &str)]) -> (i32, Value) {
    let mut command = checkout.command(&["doctor", "--json"]);
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (output.status.code().unwrap(), json)
}

pub(crate) fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

pub(crate) fn status(checkout: &Checkout, id: &str, env: &[(&str, &str)]) -> (String, Value) {
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
            "frontend-port",
            "node-deps",
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
fn config_check_ok_and_error_and_exit_2_without_dev_toml() {
    let checkout = Checkout::new();
    let (code, report) = doctor(&checkout, &[]);
    assert_eq!(code, 2, "no dev.toml: {report}");
    let config = check(&report, "config");
    assert_eq!(config["status"], "error");
    assert!(
        config["summary"]
            .as_str()
            .unwrap()
            .starts_with("no dev.toml in "),
        "{config}"
    );
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
    let hook = checkout.file(".git/hooks/pre-commit");
    let executable = || {
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    checkout.write(".git/hooks/pre-commit", "#!/bin/sh\nmake lint\n");
    executable();
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
    executable();
    assert_eq!(status(&checkout, "git-hooks", &[]).0, "ok");
}

#[test]
fn human_output_snapshot() {
    let checkout = Checkout::new();
    let port = checkout.port;
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {port}\n[frontend]\ncommand = [\"sleep\", \"1\"]\nport = {}\n",
            port + 3
        ),
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
        .replace(&(port + 3).to_string(), "<port+3>")
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
✓ frontend-port    port <port+3> (the frontend's) is free
- node-deps        no package.json for the frontend
- backend-health   no backend answers http://127.0.0.1:<port>/health
- backend-remote   no backend.url: dev starts the backend here
- git-hooks        git is not installed
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

#[test]
fn one_typo_in_dev_toml_does_not_make_doctor_check_against_the_defaults() {
    let checkout = Checkout::new();
    consistent(&checkout);
    let toml = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &toml.replace("[backend]\n", "[backend]\nattemps = 3\n"),
    );
    let (code, report) = doctor(&checkout, &[]);
    assert_eq!(code, 1);
    let config = check(&report, "config");
    assert_eq!(config["status"], "error");
    assert!(
        config["details"][0]
            .as_str()
            .unwrap()
            .contains("unknown key `backend.attemps`"),
        "{config}"
    );
    let frontend = check(&report, "frontend-config");
    assert_eq!(
        frontend["status"], "ok",
        "the valid port is used: {frontend}"
    );
    assert_eq!(frontend["data"]["backend_port"], checkout.port);
    assert_eq!(check(&report, "port")["data"]["port"], checkout.port);

    // An invalid port itself: the checks that need it say so instead of using 8000.
    checkout.write(
        "dev.toml",
        &toml.replace(&format!("port = {}", checkout.port), "port = 70000"),
    );
    let (_, report) = doctor(&checkout, &[]);
    let frontend = check(&report, "frontend-config");
    assert_eq!(frontend["status"], "skip", "{frontend}");
    assert!(
        frontend["summary"]
            .as_str()
            .unwrap()
            .contains("no valid value for backend.port"),
        "{frontend}"
    );
    assert_eq!(check(&report, "port")["status"], "skip");

    // A file that does not parse gives no value at all: nothing is checked against the
    // defaults, unless a later layer gives the value.
    checkout.write("dev.toml", &toml.replacen("[backend]", "[backend", 1));
    let (_, report) = doctor(&checkout, &[]);
    assert_eq!(check(&report, "frontend-config")["status"], "skip");
    let port = checkout.port.to_string();
    let (_, report) = doctor(&checkout, &[("BACKEND_PORT", port.as_str())]);
    assert_eq!(
        check(&report, "port")["data"]["invalid"],
        serde_json::json!(["backend.host", "backend.health_path"]),
        "the environment gave the port: {report}"
    );
}

#[test]
fn a_hanging_python3_or_node_is_named_and_no_probe_outlives_doctor() {
    use crate::support::{hanging_programs, kill_all, processes_with};
    let checkout = Checkout::new();
    consistent(&checkout);
    let seconds = 200_000 + u32::from(checkout.port);
    let tools = path_with(&checkout, &["sleep", "git"]);
    let hanging = hanging_programs(checkout.path(), &["python3", "node"], seconds);
    let hanging_dir = hanging.split(':').next().unwrap();
    let path = format!("{hanging_dir}:{tools}");
    let started = std::time::Instant::now();
    let (_, report) = doctor(&checkout, &[("PATH", path.as_str())]);
    let took = started.elapsed();
    let left = processes_with(&format!("sleep {seconds}"));
    kill_all(&left);
    assert!(left.is_empty(), "left running after doctor: {left:?}");
    assert!(took < LONG, "{took:?}");
    let python = check(&report, "python");
    assert_eq!(python["status"], "error", "{python}");
    assert!(
        python["details"][0].as_str().unwrap().starts_with(
            "`python3`: did not answer within 3 s and was stopped; try `python3 --version` by hand"
        ),
        "{python}"
    );
    let node = check(&report, "node");
    assert_eq!(node["status"], "warn", "the frontend is `sleep`: {node}");
    assert_eq!(node["summary"], "node does not answer");
    assert!(
        node["details"][0]
            .as_str()
            .unwrap()
            .contains("try `node --version` by hand"),
        "{node}"
    );
}

#[test]
fn an_old_node_is_only_a_warning_when_the_frontend_does_not_use_node() {
    let checkout = Checkout::new();
    consistent(&checkout);
    let path = path_with(&checkout, &[]);
    let old_node = checkout.file("bin/node");
    std::fs::write(&old_node, "#!/bin/sh\necho v16.20.0\n").unwrap();
    std::fs::set_permissions(&old_node, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (state, found) = status(&checkout, "node", &[("PATH", path.as_str())]);
    assert_eq!(state, "warn", "{found}");
    assert_eq!(found["summary"], "Node v16.20.0 is older than 18");
}

#[test]
fn backend_deps_follows_includes_offers_a_fix_that_works_and_names_a_broken_interpreter() {
    let checkout = Checkout::new();
    consistent(&checkout);
    checkout.write("backend/requirements.txt", "-r base.txt\n");
    checkout.write("backend/base.txt", "pip\n");
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-doctor");
    coordinator::venv::sync(&config.backend, &config.root, &checkout.file(".dev"), &log).unwrap();
    assert_eq!(status(&checkout, "backend-deps", &[]).0, "ok");

    checkout.write("backend/base.txt", "pip\nfastapi==0.162.5\n");
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["data"]["missing"],
        serde_json::json!(["fastapi==0.162.5"])
    );
    assert!(
        found["fix"]
            .as_str()
            .unwrap()
            .starts_with("run `cargo xtask dev --resync`"),
        "{found}"
    );

    // The Python the venv was made from is gone.
    let broken = Checkout::new();
    consistent(&broken);
    broken.write("backend/requirements.txt", "pip\n");
    std::fs::create_dir_all(broken.file("backend/.venv/bin")).unwrap();
    std::fs::create_dir_all(broken.file("backend/.venv/lib/python3.99/site-packages")).unwrap();
    std::os::unix::fs::symlink(
        "/nonexistent/python3.99",
        broken.file("backend/.venv/bin/python"),
    )
    .unwrap();
    let (state, found) = status(&broken, "backend-deps", &[]);
    assert_eq!(state, "error", "{found}");
    assert!(
        found["summary"]
            .as_str()
            .unwrap()
            .contains("is a broken link"),
        "{found}"
    );
    assert!(
        found["fix"]
            .as_str()
            .unwrap()
            .starts_with("delete backend/.venv"),
        "{found}"
    );
}

#[test]
fn a_python3_that_exits_1_shows_its_stderr() {
    let checkout = Checkout::new();
    consistent(&checkout);
    let path = path_with(&checkout, &[]);
    let broken = checkout.file("bin/python3");
    std::fs::write(
        &broken,
        "#!/bin/sh\necho \"Fatal Python error: init_fs_encoding: failed to get the Python codec\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (state, found) = status(&checkout, "python", &[("PATH", path.as_str())]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["details"][0],
        "`python3`: exited with exit status: 1: Fatal Python error: init_fs_encoding: failed to get the Python codec"
    );
}

#[test]
fn the_port_fix_offers_a_picked_port_when_none_is_free_above() {
    // Nothing is free above 65535: the fix names an unused port the system picked, never
    // "(uses port )".
    let Ok(_held) = std::net::TcpListener::bind(("127.0.0.1", 65535)) else {
        eprintln!("skipped: port 65535 is taken on this machine");
        return;
    };
    let checkout = Checkout::new();
    checkout.write("dev.toml", "[backend]\nport = 65535\n");
    let (state, found) = status(&checkout, "port", &[]);
    assert_eq!(state, "error", "{found}");
    let fix = found["fix"].as_str().unwrap();
    let suggested = found["data"]["suggested_port"].as_u64().unwrap();
    assert!(suggested < 65535, "{found}");
    assert!(fix.contains(&format!("(uses port {suggested})")), "{fix}");
}

/// The requirement lines that a line-by-line, text-comparing reader misjudged, in a
/// real venv: `pip-compile --generate-hashes` continuations, a local version label,
/// `~=`, `==X.*`, a pre-release, and environment markers evaluated by the venv's own
/// interpreter. Installed versions are `*.dist-info` folders, which is what the check
/// reads (no download).
#[test]
fn backend_deps_judges_requirements_by_the_packaging_standards() {
    let checkout = Checkout::new();
    consistent(&checkout);
    checkout.write("backend/requirements.txt", "pip\n");
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-doctor");
    coordinator::venv::sync(&config.backend, &config.root, &checkout.file(".dev"), &log).unwrap();
    let site = std::fs::read_dir(checkout.file("backend/.venv/lib"))
        .unwrap()
        .map(|entry| entry.unwrap().path().join("site-packages"))
        .find(|path| path.is_dir())
        .unwrap();
    for installed in [
        "fastapi-0.162.5",
        "torch-2.1.0+cu121",
        "requests-3.0",
        "django-40.0",
        "pkg-1.0rc1",
    ] {
        std::fs::create_dir(site.join(format!("{installed}.dist-info"))).unwrap();
    }
    checkout.write(
        "backend/requirements.txt",
        "\
# pip-compile --generate-hashes output
pip
fastapi==0.162.5 \\
    --hash=sha256:0f0b5e3d5c1a1f3e1f8c5c7a4c4b8c9e2d3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b \\
    --hash=sha256:1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b
    # via -r requirements.in
torch==2.1.0
requests~=2.28
django==4.*
pkg>=1.0
tomli; python_version<\"3.11\"
absent-on-every-python; python_version >= \"3.10\"
",
    );
    let (state, found) = status(&checkout, "backend-deps", &[]);
    assert_eq!(state, "error", "{found}");
    // The venv was made from this interpreter: its version decides `tomli`.
    let python = coordinator::python::discover().unwrap();
    let mut missing = vec!["absent-on-every-python; python_version >= \"3.10\""];
    if python.version < (3, 11, 0) {
        missing.insert(0, "tomli; python_version<\"3.11\"");
    }
    assert_eq!(
        found["data"]["missing"],
        serde_json::json!(missing),
        "{found}"
    );
    assert_eq!(
        found["data"]["mismatched"],
        serde_json::json!([
            "requests~=2.28 (installed 3.0)",
            "django==4.* (installed 40.0)",
            "pkg>=1.0 (installed 1.0rc1)",
        ]),
        "{found}"
    );
    if python.version >= (3, 11, 0) {
        let details = found["details"].to_string();
        assert!(
            details.contains("not for this interpreter (markers): tomli"),
            "{found}"
        );
    }
}
