//! `doctor`'s frontend checks on real files and ports: `frontend-config` with URL
//! values and every key dev writes, `frontend-port` naming the holder, `node-deps`
//! against a real `node_modules` (the Vite fixture's, installed by `.ci/run`).

use crate::doctor::status;
use crate::ports::http_server;
use crate::support::{Checkout, free_port, repo_root};

const ENV: &str = ".env.development.local";

/// A checkout whose frontend config is the `.env` file with these keys.
fn with_env_keys(checkout: &Checkout, keys: &str) {
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\n\n[frontend]\ncommand = [\"sleep\", \"1\"]\nport = false\nconfig_file = \"{ENV}\"\n{keys}\n",
            checkout.port
        ),
    );
}

#[test]
fn frontend_config_judges_a_url_by_host_and_port_and_checks_every_key() {
    let checkout = Checkout::new();
    let port = checkout.port;
    with_env_keys(&checkout, "port_key = \"VITE_API_URL\"");
    checkout.write(ENV, &format!("VITE_API_URL=http://127.0.0.1:{port}/api\n"));
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(
        found["summary"],
        format!("{ENV} VITE_API_URL = http://127.0.0.1:{port}/api, the backend's address")
    );

    // The wrong port: the fix is the URL with the right port, never a bare number.
    checkout.write(ENV, "VITE_API_URL=\"http://localhost:9999/api\"\n");
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        format!(
            "{ENV} says VITE_API_URL = http://localhost:9999/api, but dev.toml says backend.port = {port}"
        )
    );
    assert_eq!(
        found["fix"],
        format!(
            "set VITE_API_URL to http://127.0.0.1:{port}/api in {ENV} (or run `cargo xtask dev`, which writes it)"
        )
    );

    // Another host than the backend's.
    checkout.write(ENV, &format!("VITE_API_URL=http://10.1.2.3:{port}\n"));
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        format!(
            "{ENV} says VITE_API_URL = http://10.1.2.3:{port}, but the backend's host is 127.0.0.1"
        )
    );

    // Both keys are checked: a right port beside a wrong URL is an error.
    with_env_keys(
        &checkout,
        "port_key = \"VITE_API_PORT\"\nurl_key = \"VITE_API_URL\"",
    );
    checkout.write(
        ENV,
        &format!("VITE_API_PORT={port}\nVITE_API_URL=http://127.0.0.1:9999\n"),
    );
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        format!(
            "{ENV} says VITE_API_URL = http://127.0.0.1:9999, but dev.toml says backend.port = {port}"
        )
    );
    checkout.write(
        ENV,
        &format!("VITE_API_PORT={port}\nVITE_API_URL=http://127.0.0.1:{port}\n"),
    );
    assert_eq!(status(&checkout, "frontend-config", &[]).0, "ok");

    // A fresh clone of an app that gitignores it: dev creates it for each run.
    std::fs::remove_file(checkout.file(ENV)).unwrap();
    let (state, found) = status(&checkout, "frontend-config", &[]);
    assert_eq!(state, "warn", "{found}");
    assert_eq!(
        found["fix"],
        format!(
            "create it holding `VITE_API_URL=http://127.0.0.1:{port}` (it is gitignored, so each clone needs its own)"
        )
    );
}

#[test]
fn frontend_port_names_the_process_holding_it() {
    let checkout = Checkout::new();
    let frontend = free_port();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\n\n[frontend]\ncommand = [\"sleep\", \"1\"]\nport = {frontend}\n",
            checkout.port
        ),
    );
    let (state, found) = status(&checkout, "frontend-port", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(found["data"]["state"], "free");

    let holder = http_server(frontend);
    let (state, found) = status(&checkout, "frontend-port", &[]);
    assert_eq!(state, "error", "{found}");
    let summary = found["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "http.server {frontend} --bind 127.0.0.1` (pid {}",
            holder.pid()
        )),
        "{summary}"
    );
    assert_eq!(found["data"]["holder"]["pid"], holder.pid());
    assert_eq!(found["data"]["state"], "foreign");
    assert!(
        found["fix"]
            .as_str()
            .unwrap()
            .contains("`cargo xtask dev --frontend-port auto`"),
        "{found}"
    );

    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\n\n[frontend]\ncommand = [\"sleep\", \"1\"]\nport = false\n",
            checkout.port
        ),
    );
    assert_eq!(status(&checkout, "frontend-port", &[]).0, "skip");
}

#[test]
fn node_deps_finds_missing_packages_and_gives_the_install_command() {
    let checkout = Checkout::new();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\nport = {}\n\n[frontend]\ncommand = [\"npm\", \"--prefix\", \"web\", \"run\", \"dev\"]\nport = false\nconfig_file = \"web/.env\"\nport_key = \"VITE_API_PORT\"\n",
            checkout.port
        ),
    );
    assert_eq!(status(&checkout, "node-deps", &[]).0, "skip");
    let fixture = repo_root().join("tests/fixtures/apps/vite-uv/frontend");
    let manifest = std::fs::read_to_string(fixture.join("package.json")).unwrap();
    checkout.write("web/package.json", &manifest);

    let (state, found) = status(&checkout, "node-deps", &[]);
    assert_eq!(state, "error", "{found}");
    assert_eq!(
        found["summary"],
        "web/package.json: 1 of 1 package not installed: vite"
    );
    assert_eq!(found["fix"], "cd web && npm install");

    let lock = std::fs::read_to_string(fixture.join("package-lock.json")).unwrap();
    checkout.write("web/package-lock.json", &lock);
    assert_eq!(
        status(&checkout, "node-deps", &[]).1["fix"],
        "cd web && npm ci"
    );

    // The fixture's real install (`npm ci` by .ci/run).
    std::os::unix::fs::symlink(
        fixture.join("node_modules"),
        checkout.file("web/node_modules"),
    )
    .unwrap();
    let (state, found) = status(&checkout, "node-deps", &[]);
    assert_eq!(state, "ok", "{found}");
    assert_eq!(
        found["summary"],
        "web/package.json: its 1 package installed"
    );
}

#[test]
fn frontend_port_of_a_live_run_names_its_frontends_pid_and_devs() {
    let checkout = Checkout::new();
    let frontend = free_port();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"python3\", \"{}\"]\nport = {}\n\n\
             [frontend]\ncommand = [\"python3\", \"-m\", \"http.server\", \"{{frontend_port}}\", \"--bind\", \"127.0.0.1\"]\nport = {frontend}\n\n\
             [dev]\nshutdown_grace = \"2s\"\n",
            crate::support::fake_backend().display(),
            checkout.port
        ),
    );
    let dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("up in ", std::time::Duration::from_secs(30));
    let output = dev.output();
    let pid_of = |role: &str| -> String {
        output
            .lines()
            .find_map(|line| line.split(&format!("started {role} pid ")).nth(1))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .unwrap_or_else(|| panic!("no {role} pid in:\n{output}"))
            .to_owned()
    };
    let (state, found) = status(&checkout, "frontend-port", &[]);
    assert_eq!(state, "ok", "{found}");
    let summary = found["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!(
            "is the frontend (pid {}) of the live dev run",
            pid_of("frontend")
        )) && summary.contains(&format!("(dev pid {})", dev.pid())),
        "{summary}\n{output}"
    );
}
