//! `dev` with a real Vite app (the `vite-uv` fixture's Vite, installed from the npm
//! registry by `.ci/run` with `npm ci`): its `.env` URL rewritten and restored byte for
//! byte, per value, a missing `.env` created and removed, a stranger on its port never
//! announced, Vite on `::1`, Vite moving to another port on its own; and a backend that
//! binds another port than the one dev chose.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::support::{
    Checkout, Running, fake_backend, free_port, held_port, processes_with, repo_root,
};

const LONG: Duration = Duration::from_secs(60);

/// The `.env` file the app reads (Vite's template gitignores `*.local`).
const ENV: &str = ".env.development.local";

/// The fixture app's Vite, installed once by `.ci/run`.
fn installed_vite() -> PathBuf {
    let modules = repo_root().join("tests/fixtures/apps/vite-uv/frontend/node_modules");
    assert!(
        modules.join(".bin/vite").exists(),
        "Vite is not installed: run .ci/run (it runs `npm ci` in {})",
        modules.parent().unwrap().display()
    );
    modules
}

/// A checkout holding a Vite app (the fixture's sources, its `node_modules` linked, a
/// cache folder of its own) and a `dev.toml` whose backend is the fake backend.
struct ViteApp {
    checkout: Checkout,
    frontend_port: u16,
}

impl ViteApp {
    /// `frontend` is the `[frontend]` section after `command` (and `port`, set here).
    fn new(command: &[&str], frontend: &str) -> ViteApp {
        ViteApp::with_backend(command, frontend, &[])
    }

    fn with_backend(command: &[&str], frontend: &str, fake_args: &[&str]) -> ViteApp {
        let checkout = Checkout::new();
        let fixture = repo_root().join("tests/fixtures/apps/vite-uv/frontend");
        for file in ["package.json", "index.html", "src/main.js"] {
            let text = std::fs::read_to_string(fixture.join(file)).unwrap();
            checkout.write(file, &text);
        }
        // Vite's dependency cache in the app, not in the shared node_modules.
        checkout.write(
            "vite.config.js",
            "export default { cacheDir: '.vite-cache', clearScreen: false };\n",
        );
        std::os::unix::fs::symlink(installed_vite(), checkout.file("node_modules")).unwrap();
        let frontend_port = free_port();
        let mut backend = vec!["python3".to_owned(), fake_backend().display().to_string()];
        backend.extend(fake_args.iter().map(|a| (*a).to_owned()));
        checkout.write(
            "dev.toml",
            &format!(
                "[backend]\ncommand = {}\nport = {}\nstartup_timeout = \"20s\"\nretry_delay = \"100ms\"\n\n\
                 [frontend]\ncommand = {}\nport = {frontend_port}\nstartup_timeout = \"30s\"\n{frontend}\n\n\
                 [dev]\nshutdown_grace = \"2s\"\n",
                serde_json::to_string(&backend).unwrap(),
                checkout.port,
                serde_json::to_string(command).unwrap(),
            ),
        );
        ViteApp {
            checkout,
            frontend_port,
        }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.checkout.file(file)).unwrap()
    }

    /// `dev --no-sync`, waited on until the frontend is ready at `url`.
    fn up(&self, url: &str) -> Running {
        let dev = self.checkout.spawn(&["dev", "--no-sync"]);
        dev.expect_line(&format!("frontend ready: {url}"), LONG);
        dev
    }

    /// Ctrl-C's equivalent; the run must end cleanly and leave nothing of the app.
    fn stop(&self, mut dev: Running) -> String {
        dev.signal(Signal::SIGTERM);
        let status = dev.wait(LONG);
        let output = dev.output();
        assert_eq!(status.code(), Some(0), "{output}");
        let left = processes_with(self.checkout.path().to_str().unwrap());
        assert!(left.is_empty(), "left running: {left:?}\n{output}");
        output
    }

    /// What Vite serves as the page's module: the `.env` values inlined.
    fn module(&self, port: u16) -> String {
        get(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            "/src/main.js",
        )
    }
}

const STRICT: &[&str] = &[
    "node_modules/.bin/vite",
    "--port",
    "{frontend_port}",
    "--strictPort",
    "--host",
    "127.0.0.1",
];

/// [`crate::support::get`] (either family) as a browser on this machine asks; panics
/// unless it answers 200. The whole response, head and body.
fn get(addr: SocketAddr, path: &str) -> String {
    let response = crate::support::get(addr, path, &[("Host", "localhost")])
        .unwrap_or_else(|| panic!("nothing answers GET {path} at {addr}"));
    assert!(response.head.starts_with("HTTP/1.1 200"), "{response:?}");
    format!("{}\r\n\r\n{}", response.head, response.body)
}

#[test]
fn a_url_at_the_port_key_keeps_all_but_its_port_and_is_restored_byte_for_byte() {
    let app = ViteApp::new(
        STRICT,
        &format!("config_file = \"{ENV}\"\nport_key = \"VITE_API_URL\""),
    );
    let original = "# the API, read by src/main.js\nVITE_API_URL=\"http://127.0.0.1:8000/api\" # dev sets the port\r\nVITE_TITLE=shop\n";
    app.checkout.write(ENV, original);
    let url = format!("http://127.0.0.1:{}/", app.frontend_port);
    let dev = app.up(&url);
    let port = app.checkout.port;
    assert_eq!(
        app.read(ENV),
        original.replace("8000", &port.to_string()),
        "only the port changed"
    );
    let module = app.module(app.frontend_port);
    assert!(
        module.contains(&format!(
            "\"VITE_API_URL\": \"http://127.0.0.1:{port}/api\""
        )),
        "{module}"
    );
    let output = app.stop(dev);
    assert!(
        output.contains(&format!(
            "VITE_API_URL http://127.0.0.1:8000/api -> http://127.0.0.1:{port}/api"
        )),
        "{output}"
    );
    assert_eq!(app.read(ENV), original, "{output}");
}

#[test]
fn a_line_edited_during_a_run_is_kept_and_devs_values_are_put_back() {
    let app = ViteApp::new(
        STRICT,
        &format!(
            "config_file = \"{ENV}\"\nport_key = \"VITE_API_PORT\"\nurl_key = \"VITE_API_URL\""
        ),
    );
    let original = "VITE_API_PORT=8000\nVITE_API_URL=http://127.0.0.1:8000\n";
    app.checkout.write(ENV, original);
    let dev = app.up(&format!("http://127.0.0.1:{}/", app.frontend_port));
    let port = app.checkout.port;
    let written = app.read(ENV);
    assert_eq!(
        written,
        format!("VITE_API_PORT={port}\nVITE_API_URL=http://127.0.0.1:{port}\n")
    );
    // The user adds a line while dev runs.
    app.checkout.write(ENV, &format!("{written}VITE_FLAG=on\n"));
    let output = app.stop(dev);
    assert_eq!(
        app.read(ENV),
        format!("{original}VITE_FLAG=on\n"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "{ENV}: edited during the run: put back what dev changed (VITE_API_PORT, VITE_API_URL), kept the other edits"
        )),
        "{output}"
    );

    // A value the user changes is theirs: left, and named; dev's other value goes back.
    let dev = app.up(&format!("http://127.0.0.1:{}/", app.frontend_port));
    let written = app.read(ENV);
    app.checkout.write(
        ENV,
        &written.replace(&format!("VITE_API_PORT={port}"), "VITE_API_PORT=9999"),
    );
    let output = app.stop(dev);
    assert_eq!(
        app.read(ENV),
        format!("VITE_API_PORT=9999\nVITE_API_URL=http://127.0.0.1:8000\nVITE_FLAG=on\n"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "{ENV}: VITE_API_PORT = 9999 was changed during the run, so it was left as it is"
        )),
        "{output}"
    );
}

#[test]
fn a_missing_env_file_is_created_for_the_run_and_removed_after_it() {
    let app = ViteApp::new(
        STRICT,
        &format!("config_file = \"{ENV}\"\nport_key = \"VITE_API_URL\""),
    );
    let dev = app.up(&format!("http://127.0.0.1:{}/", app.frontend_port));
    let port = app.checkout.port;
    assert_eq!(
        app.read(ENV),
        format!("VITE_API_URL=http://127.0.0.1:{port}\n")
    );
    let module = app.module(app.frontend_port);
    assert!(
        module.contains(&format!("\"VITE_API_URL\": \"http://127.0.0.1:{port}\"")),
        "{module}"
    );
    let output = app.stop(dev);
    assert!(
        output.contains(&format!(
            "{ENV} does not exist (a fresh clone, or gitignored): created it for this run"
        )),
        "{output}"
    );
    assert!(
        output.contains(&format!("{ENV}: removed (dev created it for this run)")),
        "{output}"
    );
    assert!(!app.checkout.file(ENV).exists(), "{output}");
}

#[test]
fn a_stranger_on_the_frontend_port_is_never_announced_and_vite_moving_is_said_within_a_second() {
    // Vite starts only once the test holds its port: the race of a process that takes
    // the port just after dev checked it. Without --strictPort Vite moves on its own.
    let app = ViteApp::new(
        &[
            "sh",
            "-c",
            "until [ -e go ]; do sleep 0.01; done; exec node_modules/.bin/vite --port \"$FRONTEND_PORT\" --host 127.0.0.1",
        ],
        "",
    );
    let port = app.frontend_port;
    let dev = app.checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("started frontend pid", LONG);
    let stranger = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    app.checkout.write("go", "");
    let named = dev.expect_line("(FRONTEND_PORT) answers, but from", LONG);
    assert!(
        named.contains(&format!("pid {}", std::process::id())),
        "{named}\n{}",
        dev.output()
    );
    // Vite's own line says where it serves; dev says the same within a second.
    let vite_line = dev.expect_line("Local:", LONG);
    let seen = Instant::now();
    let moved = dev.expect_line("the frontend serves on port", LONG);
    let after = seen.elapsed();
    let served: u16 = vite_line
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a port in {vite_line:?}"));
    assert_ne!(served, port);
    assert!(
        moved.contains(&format!(
            "serves on port {served}, not on port {port} (FRONTEND_PORT)"
        )),
        "{moved}"
    );
    assert!(
        after < Duration::from_secs(1),
        "said {after:?} after Vite's own line"
    );
    dev.expect_line(&format!("frontend ready: http://127.0.0.1:{served}/"), LONG);
    let output = dev.output();
    assert!(
        output.contains(
            "fix: add `--strictPort` to `frontend.command`: the server then fails when its port is taken rather than move"
        ),
        "{output}"
    );
    assert!(
        !output.contains(&format!("frontend ready: http://127.0.0.1:{port}/")),
        "{output}"
    );
    assert!(app.module(served).contains("VITE"), "Vite serves there");
    app.stop(dev);
    drop(stranger);
}

#[test]
fn vite_on_ipv6_loopback_only_is_found_and_announced_there() {
    let app = ViteApp::new(
        &[
            "node_modules/.bin/vite",
            "--port",
            "{frontend_port}",
            "--strictPort",
            "--host",
            "::1",
        ],
        "",
    );
    let port = app.frontend_port;
    let dev = app.up(&format!("http://[::1]:{port}/"));
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "Vite listens on ::1 only"
    );
    let page = get(SocketAddr::from((Ipv6Addr::LOCALHOST, port)), "/");
    assert!(page.contains("<div id=\"app\">"), "{page}");
    app.stop(dev);
}

#[test]
fn a_backend_that_binds_another_port_is_named_and_not_retried() {
    let checkout = Checkout::new();
    let other = free_port();
    checkout.fake_config(&["--bind-port", &other.to_string()], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    let chosen = checkout.port;
    assert!(
        output.contains(&format!(
            "the backend binds port {other}, not port {chosen} that dev chose and gave it as BACKEND_PORT"
        )),
        "{output}"
    );
    assert!(output.contains("`{port}` in `backend.command`"), "{output}");
    assert!(!output.contains("attempt 2"), "no retry:\n{output}");
}

#[test]
fn a_backend_that_binds_a_taken_port_is_named_and_no_other_port_is_chosen() {
    let checkout = Checkout::new();
    let other = free_port();
    let _held = TcpListener::bind((Ipv4Addr::LOCALHOST, other)).unwrap();
    checkout.fake_config(&["--bind-port", &other.to_string()], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--port", "auto"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    let chosen = checkout.port;
    assert!(
        output.contains(&format!(
            "the backend binds port {other}, not port {chosen} that dev chose and gave it as BACKEND_PORT (it ignores it); port {other} is in use by another process"
        )),
        "{output}"
    );
    assert!(!output.contains("choosing again"), "{output}");
    assert!(!output.contains("attempt 2"), "no retry:\n{output}");
}

/// The `dev.toml` snippet of a README recipe (`# recipe: NAME` opens its block), so that
/// the README is what is tested.
pub fn readme_recipe(name: &str) -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme
        .find(&format!("```toml\n# recipe: {name}\n"))
        .unwrap_or_else(|| panic!("no recipe {name} in README.md"));
    let block = &readme[start + "```toml\n".len()..];
    block[..block.find("```").unwrap()].to_owned()
}

/// A checkout with a fixture's `frontend/` (its installed `node_modules` linked), the
/// fake backend, and the README's recipe as `[frontend]`, on a free frontend port.
fn recipe_app(fixture: &str, files: &[&str], recipe: &str, default_port: &str) -> ViteApp {
    let checkout = Checkout::new();
    let from = repo_root()
        .join("tests/fixtures/apps")
        .join(fixture)
        .join("frontend");
    assert!(
        from.join("node_modules/.package-lock.json").exists(),
        "{fixture} is not installed: run .ci/run (it runs `npm ci` in {})",
        from.display()
    );
    for file in files {
        checkout.write(
            &format!("frontend/{file}"),
            &std::fs::read_to_string(from.join(file)).unwrap(),
        );
    }
    std::os::unix::fs::symlink(
        from.join("node_modules"),
        checkout.file("frontend/node_modules"),
    )
    .unwrap();
    let frontend_port = free_port();
    let backend =
        serde_json::to_string(&["python3", &fake_backend().display().to_string()]).unwrap();
    let recipe = readme_recipe(recipe).replace(
        &format!("port = {default_port}\n"),
        &format!("port = {frontend_port}\nstartup_timeout = \"60s\"\n"),
    );
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {backend}\nport = {}\nstartup_timeout = \"20s\"\n\n{recipe}\n[dev]\nshutdown_grace = \"2s\"\n",
            checkout.port
        ),
    );
    ViteApp {
        checkout,
        frontend_port,
    }
}

#[test]
fn the_readme_electron_recipe_starts_the_main_process_once_vite_serves_on_the_moved_ports() {
    // An Electron app keeps its package.json at the root: the Vite fixture's files there,
    // its installed node_modules linked.
    let checkout = Checkout::new();
    let from = repo_root().join("tests/fixtures/apps/vite-uv/frontend");
    assert!(
        from.join("node_modules/.package-lock.json").exists(),
        "vite-uv is not installed: run .ci/run"
    );
    for file in ["package.json", "index.html", "src/main.js"] {
        checkout.write(file, &std::fs::read_to_string(from.join(file)).unwrap());
    }
    std::os::unix::fs::symlink(from.join("node_modules"), checkout.file("node_modules")).unwrap();
    checkout.write(
        "vite.config.js",
        "export default { cacheDir: '.vite-cache', clearScreen: false };\n",
    );
    // Electron cannot be installed here: the stand-in takes `npx electron .`'s place.
    let standin = repo_root().join("tests/fixtures/electron-standin/main.js");
    let recipe = readme_recipe("electron").replace(
        r#"["npx", "electron", "."]"#,
        &serde_json::to_string(&["node", &standin.display().to_string()]).unwrap(),
    );
    assert!(recipe.contains("electron-standin"), "{recipe}");
    // Both configured ports are taken: dev moves both (--yes).
    let (_backend_holder, backend_wanted) = held_port();
    let (_frontend_holder, frontend_wanted) = held_port();
    let recipe = recipe.replace(
        "port = 5173\n",
        &format!("port = {frontend_wanted}\nstartup_timeout = \"60s\"\n"),
    );
    let backend =
        serde_json::to_string(&["python3", &fake_backend().display().to_string()]).unwrap();
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = {backend}\nport = {backend_wanted}\nstartup_timeout = \"20s\"\n\n{recipe}\n[dev]\nshutdown_grace = \"2s\"\n"
        ),
    );
    let mut dev = checkout.spawn(&["dev", "--no-sync", "--yes"]);
    dev.expect_line("electron-standin: backend ", LONG);
    let output = dev.output();
    let port_after = |marker: &str| -> u16 {
        output
            .split(marker)
            .nth(1)
            .and_then(|rest| rest.split(['/', ',', ' ']).next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {marker:?} in:\n{output}"))
    };
    let frontend = port_after("frontend ready: http://127.0.0.1:");
    let backend = port_after("(backend http://127.0.0.1:");
    assert_ne!(frontend, frontend_wanted, "{output}");
    assert_ne!(backend, backend_wanted, "{output}");
    let started = output.find("started electron pid").unwrap();
    assert!(
        output.find("frontend ready:").unwrap() < started,
        "{output}"
    );
    for line in [
        format!("electron-standin: loaded http://127.0.0.1:{frontend} (HTTP 200)"),
        format!("electron-standin: backend http://127.0.0.1:{backend}/health (HTTP 200)"),
    ] {
        assert!(output.contains(&line), "no {line:?} in:\n{output}");
    }
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
    let left = processes_with(checkout.path().to_str().unwrap());
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn the_readme_vite_recipe_serves_the_backend_address_and_leaves_the_files_as_they_were() {
    let app = recipe_app(
        "vite-uv",
        &["package.json", "index.html", "src/main.js"],
        "vite",
        "5173",
    );
    // The committed default, as the README says; the `.local` file does not exist.
    app.checkout.write(
        "frontend/.env.development",
        "VITE_API_URL=http://127.0.0.1:8000\n",
    );
    app.checkout.write(
        "frontend/vite.config.js",
        "export default { cacheDir: '.vite-cache', clearScreen: false };\n",
    );
    let dev = app.checkout.spawn(&["dev", "--no-sync"]);
    let ready = dev.expect_line("frontend ready: http://", LONG);
    let port = app.checkout.port;
    let frontend = app.frontend_port;
    // Vite's `localhost` is 127.0.0.1 or ::1: the line names the one that serves.
    let addr: SocketAddr = if ready.contains("[::1]") {
        SocketAddr::from((Ipv6Addr::LOCALHOST, frontend))
    } else {
        assert!(
            ready.contains(&format!("http://127.0.0.1:{frontend}/")),
            "{ready}"
        );
        SocketAddr::from((Ipv4Addr::LOCALHOST, frontend))
    };
    let module = get(addr, "/src/main.js");
    assert!(
        module.contains(&format!("\"VITE_API_URL\": \"http://127.0.0.1:{port}\"")),
        "{module}"
    );
    let output = app.stop(dev);
    assert!(
        !app.checkout
            .file("frontend/.env.development.local")
            .exists(),
        "{output}"
    );
    assert_eq!(
        app.read("frontend/.env.development"),
        "VITE_API_URL=http://127.0.0.1:8000\n"
    );
}

#[test]
fn the_readme_webpack_recipe_serves_the_backend_address_and_restores_the_json() {
    let files = [
        "package.json",
        "webpack.config.js",
        "public/index.html",
        "src/index.js",
        "src/config.json",
    ];
    let app = recipe_app("webpack-json", &files, "webpack-dev-server", "8080");
    let original = app.read("frontend/src/config.json");
    let dev = app.up(&format!("http://127.0.0.1:{}/", app.frontend_port));
    let port = app.checkout.port;
    assert_eq!(
        app.read("frontend/src/config.json"),
        original.replace("8000", &port.to_string())
    );
    let bundle = get(
        SocketAddr::from((Ipv4Addr::LOCALHOST, app.frontend_port)),
        "/main.js",
    );
    assert!(
        bundle.contains(&format!("http://127.0.0.1:{port}")),
        "{bundle}"
    );
    let output = app.stop(dev);
    assert_eq!(app.read("frontend/src/config.json"), original, "{output}");
}

#[test]
fn a_backend_on_localhost_that_resolves_to_ipv6_loopback_is_found_and_ready() {
    let checkout = Checkout::new();
    checkout.fake_config(&["--listen-v6"], "host = \"localhost\"", "");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("backend ready in", LONG);
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, checkout.port)).is_err(),
        "the backend listens on ::1 only"
    );
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn vite_with_a_ready_path_of_its_page_is_ready_and_status_says_it_serves() {
    // Vite answers `/` with its page only to a request that accepts HTML (a browser's);
    // asked for JSON it answers 404. The frontend's `ready_path` and `status` ask as a
    // browser does.
    let app = ViteApp::new(STRICT, "ready_path = \"/\"");
    let port = app.frontend_port;
    let dev = app.up(&format!("http://127.0.0.1:{port}/"));
    // `frontend ready` comes just before the summary; the run is up (for `status`)
    // once the summary is said.
    dev.expect_line("up in ", LONG);
    let status = app
        .checkout
        .command(&["status"])
        .output()
        .expect("status runs");
    let said = String::from_utf8_lossy(&status.stdout).into_owned();
    assert_eq!(status.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!(
            "frontend http://127.0.0.1:{port}/ (pid {}, started): serving (HTTP 200)",
            dev_frontend_pid(&said)
        )),
        "{said}"
    );
    app.stop(dev);
}

/// The frontend's pid as `status` shows it.
fn dev_frontend_pid(status: &str) -> String {
    status
        .lines()
        .find_map(|line| line.trim().strip_prefix("frontend "))
        .and_then(|rest| rest.split("(pid ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .to_owned()
}
