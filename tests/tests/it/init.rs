//! `cargo xtask init` on real apps as people lay them out (issue 22): a Vite + FastAPI
//! app with `pyproject.toml` and `uv.lock`, an app with `requirements.txt` and a text
//! `/healthz`, and an app that already has a Cargo workspace (its Python packages in a
//! `pyproject.toml` without a lock). Each is copied from `tests/fixtures/apps/`, its
//! `.env` pointed at a free port, `init`ed, then brought up by `dev -- <probe>` (real
//! installs from PyPI into the app's own venv) and checked by `doctor --json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Running, free_port, http_get, processes_with, repo_root, xtask_command};

/// A cold venv with real installs, under the load of a shared machine.
const LONG: Duration = Duration::from_secs(600);

/// A copy of the fixture app `name` whose frontend `.env` files name `port` instead of
/// 8000 (as the app would on a machine where 8000 is taken).
struct App {
    _dir: tempfile::TempDir,
    path: PathBuf,
    port: u16,
}

impl App {
    fn copy(name: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        let port = free_port();
        copy_dir(&repo_root().join("tests/fixtures/apps").join(name), &path);
        for (file, bytes) in snapshot(&path) {
            let is_env = file
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".env");
            if is_env {
                let text = String::from_utf8(bytes).unwrap();
                std::fs::write(path.join(&file), text.replace("8000", &port.to_string())).unwrap();
            }
        }
        App {
            _dir: dir,
            path,
            port,
        }
    }

    fn init(&self, args: &[&str]) -> Output {
        let mut all = vec!["init", self.path.to_str().unwrap()];
        all.extend(args);
        xtask_command(&repo_root(), &all).output().unwrap()
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.path.join(file)).unwrap()
    }

    /// `dev -- probe.py FILE KEY PATH` in the app: its exit code and output.
    fn dev_probe(&self, file: &str, key: &str, path: &str) -> (Option<i32>, String) {
        let probe = repo_root().join("tests/fixtures/apps/probe.py");
        let mut dev = Running::spawn(xtask_command(
            &self.path,
            &[
                "dev",
                "--",
                "python3",
                probe.to_str().unwrap(),
                file,
                key,
                path,
            ],
        ));
        let status = dev.wait(LONG);
        (status.code(), dev.output())
    }

    fn doctor(&self) -> Value {
        let output = xtask_command(&self.path, &["doctor", "--json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_name() == "node_modules" {
            // Installed by `.ci/run`; the test that runs the frontend links it.
            continue;
        }
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` (relative path to bytes), without the venvs and `.dev/`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != ".venv" && name != ".dev" {
                    folders.push(path);
                }
            } else {
                let relative = path.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The checks of a doctor report that are errors, as `id: summary`.
fn errors(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "error")
        .map(|check| format!("{}: {}", check["id"], check["summary"]))
        .collect()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    crate::support::doctor_check(report, id)
}

/// Every file the app had before `init` is still there with the same bytes, except the
/// ones `init` may only add to, which must start with the app's bytes... or keep each
/// of the app's lines in order.
fn assert_app_bytes_kept(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) {
    for (file, bytes) in before {
        let now = after
            .get(file)
            .unwrap_or_else(|| panic!("{file:?} is gone"));
        if now == bytes {
            continue;
        }
        let (old, new) = (String::from_utf8_lossy(bytes), String::from_utf8_lossy(now));
        let mut new_lines = new.lines();
        for line in old.lines() {
            assert!(
                new_lines.any(|n| n == line),
                "{file:?}: the app's line {line:?} was changed:\n{new}"
            );
        }
    }
}

#[test]
fn a_vite_uv_app_is_initialised_and_brought_up_through_its_env_file() {
    let app = App::copy("vite-uv");
    let before = snapshot(&app.path);
    let output = app.init(&[]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    for line in [
        "found: frontend: Vite, the `dev` script of frontend/package.json (`vite`), port 5173",
        "found: backend: the FastAPI app `app.main:app` in backend/app/main.py",
        "found: health route: GET /health in backend/app/main.py",
        "found: backend packages: backend/pyproject.toml, installed with backend/uv.lock (uv sync --frozen)",
        "found: frontend config: VITE_API_URL in frontend/.env.development (http://...:",
        "check: frontend has no node_modules",
        "check: backend/pyproject.toml has optional dependencies (\"dev\"): set backend.extras = [\"dev\"] to install them too",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }
    let dev_toml = app.read("dev.toml");
    for line in [
        r#"command = ["python", "-m", "uvicorn", "app.main:app", "--app-dir", "backend", "--host", "{host}", "--port", "{port}"]"#,
        &format!("port = {}", app.port),
        r#"requirements = "backend/pyproject.toml""#,
        r#"command = ["npm", "--prefix", "frontend", "run", "dev", "--", "--port", "{frontend_port}", "--strictPort", "--host", "127.0.0.1"]"#,
        r#"config_file = "frontend/.env.development.local""#,
        r#"port_key = "VITE_API_URL"  # a URL: dev replaces its host and port, the rest stays"#,
    ] {
        assert!(dev_toml.contains(line), "no {line:?} in:\n{dev_toml}");
    }
    assert!(!dev_toml.contains("url_key"), "{dev_toml}");
    let installed = snapshot(&app.path);
    assert_app_bytes_kept(&before, &installed);
    // The app's .env is not written to: its URL key is the one dev keeps in step.
    assert_eq!(
        installed[Path::new("frontend/.env.development")],
        before[Path::new("frontend/.env.development")]
    );
    assert!(text(&app.init(&[])).contains("nothing to write"));
    assert_eq!(
        snapshot(&app.path),
        installed,
        "a second init changed a file"
    );
    let gitignore = app.read(".gitignore");
    assert!(
        gitignore.contains("/.dev/\n/backend/.venv/\n/target/\n"),
        "{gitignore}"
    );

    let (code, output) =
        app.dev_probe("frontend/.env.development.local", "VITE_API_URL", "/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("with uv"), "synced with uv sync: {output}");
    assert!(
        output.contains(&format!(
            "probe: http://127.0.0.1:{}/health 200 {{\"status\":\"ok\"}}",
            app.port
        )),
        "{output}"
    );
    let report = app.doctor();
    // The copy has no node_modules (the probe stands in for Vite): doctor says so, with
    // the lock file's install command.
    assert_eq!(
        errors(&report),
        ["\"node-deps\": \"frontend/package.json: 1 of 1 package not installed: vite\""],
        "{report:#}"
    );
    assert_eq!(check(&report, "node-deps")["fix"], "cd frontend && npm ci");
    // As the user does after `init`'s "check:" line: the packages installed (here the
    // fixture's own `npm ci`, which `.ci/run` made), and then doctor has no error.
    std::os::unix::fs::symlink(
        repo_root().join("tests/fixtures/apps/vite-uv/frontend/node_modules"),
        app.path.join("frontend/node_modules"),
    )
    .unwrap();
    let report = app.doctor();
    assert_eq!(errors(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(check(&report, "node-deps")["status"], "ok", "{report:#}");
    assert_eq!(check(&report, "backend-deps")["status"], "ok", "{report:#}");

    // A changed lock file changes the environment: doctor says so, and the next dev
    // resyncs (uv sync --frozen, from the lock as it now is).
    let lock = app.path.join("backend/uv.lock");
    let mut text = std::fs::read_to_string(&lock).unwrap();
    text.push_str("\n# relocked\n");
    std::fs::write(&lock, text).unwrap();
    let report = app.doctor();
    let deps = check(&report, "backend-deps");
    assert_eq!(deps["status"], "warn", "{deps}");
    assert!(
        deps["summary"]
            .as_str()
            .unwrap()
            .contains("backend/pyproject.toml or backend/uv.lock changed since the last sync"),
        "{deps}"
    );
    let (code, output) =
        app.dev_probe("frontend/.env.development.local", "VITE_API_URL", "/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("updating backend/.venv"), "{output}");
    assert_eq!(check(&app.doctor(), "backend-deps")["status"], "ok");
}

#[test]
fn a_requirements_app_with_a_text_healthz_is_initialised_idempotently() {
    let app = App::copy("requirements-healthz");
    let untouched = snapshot(&app.path);

    // --dry-run shows every write as a diff and writes nothing.
    let output = app.init(&["--dry-run"]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert_eq!(snapshot(&app.path), untouched, "--dry-run wrote something");
    assert!(!app.path.join("dev.toml").exists());
    for line in [
        "--- /dev/null\n+++ b/dev.toml\n",
        "+health_path = \"/healthz\"\n+health_format = \"status-code\"\n",
        "+++ b/xtask/Cargo.toml\n",
        "+++ b/.gitignore\n",
        "would write ",
    ] {
        assert!(said.contains(line), "no {line:?} in:\n{said}");
    }

    let output = app.init(&[]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("found: frontend config: API_PORT="), "{said}");
    assert!(
        said.contains("found: backend packages: server/requirements.txt, installed with pip"),
        "{said}"
    );
    let installed = snapshot(&app.path);
    assert_app_bytes_kept(&untouched, &installed);
    assert_eq!(
        installed[Path::new("web/.env")],
        untouched[Path::new("web/.env")]
    );

    // Twice: nothing to write, not a byte changed.
    let output = app.init(&[]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(said.contains("nothing to write"), "{said}");
    assert_eq!(
        snapshot(&app.path),
        installed,
        "a second init changed a file"
    );

    // An edit of the app's own dev.toml is kept, and named.
    let edited = format!("{}# my note\n", app.read("dev.toml"));
    std::fs::write(app.path.join("dev.toml"), &edited).unwrap();
    let said = text(&app.init(&[]));
    assert!(said.contains("kept: dev.toml: the app has it"), "{said}");
    assert_eq!(app.read("dev.toml"), edited);
    // So is an edit of a copied tooling file, named once for its crate.
    let main = format!("{}// changed here\n", app.read("xtask/src/main.rs"));
    std::fs::write(app.path.join("xtask/src/main.rs"), &main).unwrap();
    let said = text(&app.init(&[]));
    assert!(
        said.contains("kept: xtask/: 1 file differs from this tooling's; left as it is"),
        "{said}"
    );
    assert_eq!(app.read("xtask/src/main.rs"), main);

    let (code, output) = app.dev_probe("web/.env", "API_PORT", "/healthz");
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains(&format!(
            "probe: http://127.0.0.1:{}/healthz 200 ok",
            app.port
        )),
        "{output}"
    );
    let report = app.doctor();
    assert_eq!(errors(&report), Vec::<String>::new(), "{report:#}");
}

#[test]
fn an_app_with_a_cargo_workspace_gets_the_members_added() {
    let app = App::copy("cargo-workspace");
    let before = snapshot(&app.path);
    let output = app.init(&[]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(0), "{said}");
    assert!(
        said.contains("found: a Cargo workspace: adding the tooling crates to its members"),
        "{said}"
    );
    assert_eq!(
        app.read("Cargo.toml"),
        "[workspace]\nresolver = \"2\"\nmembers = [\n    \"crates/engine\",\n    \"xtask\",\n    \"coordinator\",\n]\n\n[workspace.package]\nedition = \"2021\"\n"
    );
    assert!(
        app.path.join("Cargo.lock").exists(),
        "without a lock of its own, the app gets the tooling's"
    );
    let installed = snapshot(&app.path);
    assert_app_bytes_kept(&before, &installed);
    assert!(text(&app.init(&[])).contains("nothing to write"));
    assert_eq!(
        snapshot(&app.path),
        installed,
        "a second init changed a file"
    );
    let dev_toml = app.read("dev.toml");
    for line in [
        r#"health_path = "/api/health""#,
        r#"service = "engine-api""#,
        r#"requirements = "api/pyproject.toml""#,
        r#"command = ["npm", "--prefix", "ui", "run", "dev", "--", "-p", "{frontend_port}", "-H", "127.0.0.1"]"#,
    ] {
        assert!(dev_toml.contains(line), "no {line:?} in:\n{dev_toml}");
    }

    let (code, output) = app.dev_probe("ui/.env.local", "NEXT_PUBLIC_API_URL", "/api/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(
        output.contains(&format!(
            "probe: http://127.0.0.1:{}/api/health 200 {{\"status\":\"ok\",\"service\":\"engine-api\"}}",
            app.port
        )),
        "{output}"
    );
    let report = app.doctor();
    assert_eq!(errors(&report), Vec::<String>::new(), "{report:#}");
    let deps = check(&report, "backend-deps");
    assert_eq!(
        deps["summary"], "2 requirements satisfied in api/.venv",
        "{deps}"
    );

    // A dependency added to pyproject.toml (and an extra chosen) resyncs.
    let pyproject = app.read("api/pyproject.toml").replace(
        "dependencies = [\"fastapi==0.162.5\", \"uvicorn==0.54.0\"]",
        "dependencies = [\"fastapi==0.162.5\", \"uvicorn==0.54.0\", \"six==1.17.0\"]",
    );
    std::fs::write(app.path.join("api/pyproject.toml"), pyproject).unwrap();
    let dev_toml = app
        .read("dev.toml")
        .replace("[frontend]", "extras = [\"dev\"]\n\n[frontend]");
    std::fs::write(app.path.join("dev.toml"), dev_toml).unwrap();
    let deps = check(&app.doctor(), "backend-deps").clone();
    assert_eq!(
        deps["status"], "error",
        "six and iniconfig are not installed: {deps}"
    );
    let (code, output) = app.dev_probe("ui/.env.local", "NEXT_PUBLIC_API_URL", "/api/health");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("updating api/.venv"), "{output}");
    let deps = check(&app.doctor(), "backend-deps").clone();
    assert_eq!(
        deps["summary"], "4 requirements satisfied in api/.venv",
        "{deps}"
    );
}

#[test]
fn a_root_cargo_toml_that_is_a_package_is_refused_and_nothing_is_written() {
    let app = App::copy("requirements-healthz");
    std::fs::write(
        app.path.join("Cargo.toml"),
        "[package]\nname = \"notes\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    assert_refused(
        &app,
        &[
            "Cargo.toml: is a package, not a workspace",
            "fix: move the package into a folder of its own",
        ],
    );

    let missing = app.path.join("no-such-app");
    let output = xtask_command(&repo_root(), &["init", missing.to_str().unwrap()])
        .output()
        .unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(said.contains("no-such-app: cannot be opened"), "{said}");
}

#[test]
fn an_xtask_folder_of_the_apps_own_is_refused() {
    let app = App::copy("cargo-workspace");
    std::fs::create_dir_all(app.path.join("xtask/src")).unwrap();
    std::fs::write(
        app.path.join("xtask/Cargo.toml"),
        "[package]\nname = \"xtask\"\n",
    )
    .unwrap();
    assert_refused(
        &app,
        &["the app has a `xtask/` of its own (not copied by `init`)"],
    );
}

/// `init` of `app` is refused: exit 2, each of `said` in what it printed, and not a
/// byte of the app changed.
fn assert_refused(app: &App, said: &[&str]) {
    let before = snapshot(&app.path);
    let output = app.init(&[]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    for line in said {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
    assert_eq!(
        snapshot(&app.path),
        before,
        "a refused init wrote something"
    );
}

#[test]
fn a_poetry_lock_without_poetry_is_a_clear_error() {
    let app = App::copy("cargo-workspace");
    std::fs::write(app.path.join("api/poetry.lock"), "# a Poetry lock file\n").unwrap();
    assert_eq!(app.init(&[]).status.code(), Some(0));
    // PATH without any folder that has a `poetry`.
    let path: Vec<String> = std::env::var("PATH")
        .unwrap()
        .split(':')
        .filter(|dir| !Path::new(dir).join("poetry").exists())
        .map(str::to_owned)
        .collect();
    let output = xtask_command(&app.path, &["dev", "--", "true"])
        .env("PATH", path.join(":"))
        .output()
        .unwrap();
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(
        said.contains("api/poetry.lock says the backend's packages are managed by Poetry, but `poetry` is not on PATH"),
        "{said}"
    );
    assert!(
        said.contains("fix: install Poetry (`pipx install poetry`"),
        "{said}"
    );
}

#[test]
fn a_uv_lock_without_uv_on_path_gets_uv_from_pypi_and_says_so() {
    let app = App::copy("vite-uv");
    assert_eq!(app.init(&[]).status.code(), Some(0));
    // A PATH with Python but without uv: the interpreter linked into a folder of its
    // own, and no folder that has a `uv`.
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let python = String::from_utf8(python.stdout).unwrap();
    let bin = app.path.parent().unwrap().join("python-only");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(python.trim(), bin.join("python3")).unwrap();
    let mut path = vec![bin.display().to_string()];
    path.extend(
        std::env::var("PATH")
            .unwrap()
            .split(':')
            .filter(|dir| !Path::new(dir).join("uv").exists())
            .map(str::to_owned),
    );
    let probe = repo_root().join("tests/fixtures/apps/probe.py");
    let mut command = xtask_command(
        &app.path,
        &[
            "dev",
            "--",
            "python3",
            probe.to_str().unwrap(),
            "frontend/.env.development.local",
            "VITE_API_URL",
            "/health",
        ],
    );
    command.env("PATH", path.join(":"));
    let mut dev = Running::spawn(command);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(
            "uv.lock needs uv, which is not on PATH: installing it from PyPI with pip into"
        ),
        "{output}"
    );
    assert!(app.path.join(".dev/tools/uv/bin/uv").is_file(), "{output}");
    assert!(output.contains("probe: http://127.0.0.1:"), "{output}");
}

#[test]
fn after_init_dev_runs_vite_which_serves_the_backend_address_dev_wrote() {
    let installed = repo_root().join("tests/fixtures/apps/vite-uv/frontend/node_modules");
    assert!(
        installed.join(".bin/vite").exists(),
        "Vite is not installed: run .ci/run (it runs `npm ci` in {})",
        installed.parent().unwrap().display()
    );
    let app = App::copy("vite-uv");
    std::os::unix::fs::symlink(&installed, app.path.join("frontend/node_modules")).unwrap();
    assert_eq!(app.init(&[]).status.code(), Some(0));
    let env_after_init = app.read("frontend/.env.development");
    let frontend_port = free_port();
    let mut command = xtask_command(&app.path, &["dev"]);
    command.env("FRONTEND_PORT", frontend_port.to_string());
    let mut dev = Running::spawn(command);
    dev.expect_line("frontend ready: http://127.0.0.1:", LONG);

    // Vite inlines the .env values into the page's module: the address dev wrote.
    let (code, body) = http_get(frontend_port, "/src/main.js", "init-test").unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(&format!(
            "\"VITE_API_URL\": \"http://127.0.0.1:{}\"",
            app.port
        )),
        "{body}"
    );
    let (code, body) = http_get(app.port, "/health", "init-test").unwrap();
    assert_eq!((code, body.as_str()), (200, "{\"status\":\"ok\"}"));
    // dev wrote Vite's `.local` file, never the committed one: git stays clean.
    assert_eq!(app.read("frontend/.env.development"), env_after_init);
    let gitignore = app.read(".gitignore");
    assert!(
        gitignore.contains("/frontend/.env.development.local\n"),
        "{gitignore}"
    );

    dev.signal(nix::sys::signal::Signal::SIGTERM);
    let status = dev.wait(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{}", dev.output());
    assert_eq!(app.read("frontend/.env.development"), env_after_init);
    assert!(
        !app.path.join("frontend/.env.development.local").exists(),
        "the file dev created for the run is removed after it"
    );
    let left = processes_with(app.path.to_str().unwrap());
    assert!(left.is_empty(), "left running: {left:?}\n{}", dev.output());
}

#[test]
fn in_the_app_cargo_xtask_builds_the_copied_tooling_which_brings_it_up() {
    let app = App::copy("requirements-healthz");
    assert_eq!(app.init(&[]).status.code(), Some(0));
    // `cargo xtask` as the app's developers run it: the copied crates, built by cargo
    // in the app (into a target folder kept between test runs, so only the first run
    // builds the dependencies).
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("init-app-target");
    let cargo_xtask = |args: &[&str]| {
        // At the lowest priority: the first run builds every dependency, on cores the
        // other tests share (their timings must not suffer from it).
        let mut command = std::process::Command::new("nice");
        command
            .args(["-n", "19"])
            .arg(&cargo)
            .arg("xtask")
            .args(args)
            .current_dir(&app.path)
            .env("CARGO_TARGET_DIR", &target)
            .env("NO_COLOR", "1")
            .env_remove("CI");
        for (name, _) in std::env::vars() {
            if ["BACKEND_", "FRONTEND_", "DEV_"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                command.env_remove(name);
            }
        }
        command
    };
    let probe = repo_root().join("tests/fixtures/apps/probe.py");
    let mut dev = Running::spawn(cargo_xtask(&[
        "dev",
        "--",
        "python3",
        probe.to_str().unwrap(),
        "web/.env",
        "API_PORT",
        "/healthz",
    ]));
    let status = dev.wait(Duration::from_secs(1800));
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!(
            "probe: http://127.0.0.1:{}/healthz 200 ok",
            app.port
        )),
        "{output}"
    );
    let doctor = cargo_xtask(&["doctor", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&doctor.stdout);
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(errors(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(doctor.status.code(), Some(0), "{report:#}");
}

/// Poetry from PyPI, installed with pip once per test run into its own venv (not on
/// the PATH of the other tests).
fn poetry_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("poetry-tool");
        let bin = venv.join("bin");
        if !bin.join("poetry").exists() {
            let run = |program: &Path, args: &[&str]| {
                let output = std::process::Command::new(program)
                    .args(args)
                    .output()
                    .unwrap();
                assert!(output.status.success(), "{}", text(&output));
            };
            run(
                Path::new("python3"),
                &["-m", "venv", venv.to_str().unwrap()],
            );
            run(
                &bin.join("python"),
                &[
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "poetry",
                ],
            );
        }
        bin
    })
    .clone()
}

#[test]
fn a_poetry_app_is_installed_with_poetry_into_its_venv() {
    let app = App::copy("poetry-app");
    let output = app.init(&[]);
    let said = text(&output);
    assert!(
        said.contains(
            "found: backend packages: api/pyproject.toml, installed with api/poetry.lock (Poetry)"
        ),
        "{said}"
    );
    let path = format!(
        "{}:{}",
        poetry_bin().display(),
        std::env::var("PATH").unwrap()
    );
    let probe = repo_root().join("tests/fixtures/apps/probe.py");
    let mut command = xtask_command(
        &app.path,
        &[
            "dev",
            "--",
            "python3",
            probe.to_str().unwrap(),
            "web/.env",
            "VITE_BACKEND_PORT",
            "/api/health",
        ],
    );
    command.env("PATH", &path);
    let mut dev = Running::spawn(command);
    let status = dev.wait(LONG);
    let output = dev.output();
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("creating api/.venv from api/poetry.lock (poetry install) with poetry"),
        "{output}"
    );
    assert!(
        output.contains("200 {\"status\":\"ok\",\"service\":\"engine-api\"}"),
        "{output}"
    );
    assert!(
        app.path.join("api/.venv/bin/uvicorn").exists(),
        "installed into the app's venv"
    );
    let report = app.doctor();
    assert_eq!(errors(&report), Vec::<String>::new(), "{report:#}");
}

#[test]
fn without_a_health_route_a_route_that_exists_is_used_with_status_code() {
    let app = App::copy("requirements-healthz");
    std::fs::write(
        app.path.join("server/main.py"),
        "from fastapi import FastAPI\n\napi = FastAPI()\n\n\n@api.get(\"/notes/{note_id}\")\n\
         def note(note_id: int):\n    return {\"id\": note_id}\n\n\n@api.get(\"/\")\n\
         def index():\n    return {\"app\": \"notes\"}\n",
    )
    .unwrap();
    let said = text(&app.init(&[]));
    assert!(
        said.contains("guessed: no health route: GET / with health_format = \"status-code\""),
        "{said}"
    );
    assert!(said.contains("check: add a health route"), "{said}");
    let dev_toml = app.read("dev.toml");
    assert!(
        dev_toml.contains("health_path = \"/\"  # guessed: no health route found\nhealth_format = \"status-code\"\n"),
        "{dev_toml}"
    );
    let (code, output) = app.dev_probe("web/.env", "API_PORT", "/");
    assert_eq!(code, Some(0), "{output}");
    assert!(output.contains("200 {\"app\":\"notes\"}"), "{output}");
}
