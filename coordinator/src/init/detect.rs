//! What `init` reads from an app to write its `dev.toml`: the frontend's dev script
//! (Vite, webpack, Next; its port and strict-port flag), the `.env*` file that holds the
//! backend's address, the FastAPI app object, its health route, and how the backend's
//! packages are declared.
//!
//! It reads files only (no program is run), so every conclusion is a guess about
//! text; each one is said as found (read as written) or guessed (a default or a
//! heuristic), and what a person should look at is listed to check.

use std::path::{Path, PathBuf};

/// Folders never searched: installed packages, build output, the tooling itself.
use super::dev_server::{DevServer, dev_server, flag_value, frontend_command, vite_major};
use super::shown_path;

const SKIPPED: &[&str] = &[
    "node_modules",
    "target",
    "__pycache__",
    "dist",
    "build",
    "site-packages",
    "xtask",
    "coordinator",
];

/// The `.env` files a frontend reads in development, the one that wins first (Vite's
/// and Create React App's order).
const ENV_FILES: &[&str] = &[
    ".env.development.local",
    ".env.local",
    ".env.development",
    ".env",
];

/// What was read from the app, and the `dev.toml` it makes.
#[derive(Debug, Clone, Default)]
pub struct Detected {
    pub found: Vec<String>,
    pub guessed: Vec<String>,
    pub check: Vec<String>,
    /// The venv folder, relative to the app.
    pub venv: String,
    /// Lines the frontend config must have (path, lines): a file created when the app
    /// has none.
    pub env_lines: Option<(PathBuf, String)>,
    /// Files dev creates for each run that `.gitignore` must ignore (relative to the app).
    pub ignore_files: Vec<String>,
    backend: Vec<(&'static str, String)>,
    frontend: Vec<(&'static str, String)>,
}

/// The FastAPI app object: the file, and `module:attribute` with its `--app-dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AppObject {
    file: PathBuf,
    target: String,
    app_dir: PathBuf,
}

/// The frontend's dev server, from `package.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Frontend {
    dir: PathBuf,
    tool: &'static str,
    command: Vec<String>,
    port: u16,
}

/// The key of the frontend config that holds the backend's address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EnvKey {
    file: PathBuf,
    key: String,
    port: u16,
    /// A URL (`http://localhost:8000`), not a bare port.
    url: bool,
    /// What follows the port in the URL (`/api`).
    path: String,
}

/// Reads `app` (an absolute folder).
pub fn detect(app: &Path) -> Detected {
    let mut d = Detected::default();
    let files = walk(app);
    let frontend = frontend(app, &files, &mut d);
    let env_key = env_key(app, frontend.as_ref());
    let port = env_key.as_ref().map(|k| k.port);
    backend(app, &files, port, &mut d);
    if let Some(frontend) = &frontend {
        frontend_config(frontend, env_key.as_ref(), port.unwrap_or(8000), &mut d);
    }
    d
}

/// The files of the app (relative), skipping installed packages and hidden folders.
fn walk(app: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![(app.to_path_buf(), 0)];
    while let Some((folder, depth)) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let venv = path.join("pyvenv.cfg").exists();
                let skipped = name.starts_with('.') || SKIPPED.contains(&name.as_str()) || venv;
                if !skipped && depth < 5 {
                    folders.push((path, depth + 1));
                }
            } else if let Ok(relative) = path.strip_prefix(app) {
                found.push(relative.to_path_buf());
            }
        }
    }
    // Shallow files first, then by name: the app's own `main.py` before a test's.
    found.sort_by_key(|p| (p.components().count(), p.clone()));
    found
}

/// `dir/name` as the app-relative text dev.toml takes.
fn join(dir: &Path, name: &str) -> String {
    shown_path(&dir.join(name))
}

/// The first `package.json` (shallowest) with a `dev`, `start` or `serve` script.
fn frontend(app: &Path, files: &[PathBuf], d: &mut Detected) -> Option<Frontend> {
    for manifest in files.iter().filter(|p| p.ends_with("package.json")) {
        let Ok(text) = std::fs::read_to_string(app.join(manifest)) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            d.check.push(format!(
                "{}: not valid JSON, not read",
                shown_path(manifest)
            ));
            continue;
        };
        let scripts = &json["scripts"];
        let Some((script, body)) = ["dev", "start", "serve"]
            .iter()
            .find_map(|name| Some((*name, scripts[*name].as_str()?)))
        else {
            continue;
        };
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        let server = dev_server(body);
        let own_port = server.and_then(|s| flag_value(body, s.port_flag));
        let port = own_port
            .or_else(|| vite_config_port(app, &dir, files))
            .unwrap_or(server.map_or(5173, |s| s.port));
        let tool = server.map_or("an unknown dev server", |s| s.name);
        d.found.push(format!(
            "frontend: {tool}, the `{script}` script of {} (`{body}`), port {port}",
            shown_path(manifest)
        ));
        frontend_notes(app, &dir, (script, body), server, own_port.is_some(), d);
        if tool == "Vite" && vite_major(&json).is_some_and(|major| major >= 8) {
            d.check.push(
                "Vite 8 runs one dev server per project: for a second `cargo xtask dev` in this checkout, add \"--bypass-lock\" to frontend.command".into(),
            );
        }
        return Some(Frontend {
            command: frontend_command(&dir, script, server),
            dir,
            tool,
            port,
        });
    }
    d.check.push(
        "no package.json with a dev script: no frontend configured; run `cargo xtask dev --no-frontend`, or set [frontend] command".into(),
    );
    None
}

/// What to check about the frontend's dev server.
fn frontend_notes(
    app: &Path,
    dir: &Path,
    (script, body): (&str, &str),
    server: Option<&DevServer>,
    own_port: bool,
    d: &mut Detected,
) {
    match server {
        None => d.check.push(format!(
            "the `{script}` script (`{body}`) is not Vite, webpack or Next: make it listen on $FRONTEND_PORT"
        )),
        Some(server) if server.strict_flag.is_none() => d.check.push(format!(
            "{} has no strict-port flag: dev checks the port before it starts it",
            server.name
        )),
        Some(_) => {}
    }
    if let (Some(server), true) = (server, own_port) {
        d.check.push(format!(
            "the `{script}` script sets its own port: remove that flag, dev passes `{} <port>`",
            server.port_flag
        ));
    }
    if !app.join(dir).join("node_modules").is_dir() {
        d.check.push(format!(
            "{} has no node_modules: run `npm install` there before `cargo xtask dev`",
            shown_path(dir)
        ));
    }
}

/// `server: { port: 3000 }` in `vite.config.*`, read as text.
fn vite_config_port(app: &Path, dir: &Path, files: &[PathBuf]) -> Option<u16> {
    let config = files.iter().find(|p| {
        p.parent() == Some(dir)
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vite.config."))
    })?;
    let text = std::fs::read_to_string(app.join(config)).ok()?;
    let at = text.find("port:")?;
    let digits: String = text[at + 5..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The `.env*` key holding the backend's address: a loopback URL or a `*PORT` number,
/// in the frontend's folder first, from the file that wins first.
fn env_key(app: &Path, frontend: Option<&Frontend>) -> Option<EnvKey> {
    let mut dirs = Vec::new();
    if let Some(frontend) = frontend {
        dirs.push(frontend.dir.clone());
    }
    dirs.push(PathBuf::new());
    let mut best: Option<(u8, EnvKey)> = None;
    for dir in &dirs {
        for name in ENV_FILES {
            let file = dir.join(name);
            let Ok(text) = std::fs::read_to_string(app.join(&file)) else {
                continue;
            };
            for line in text.lines() {
                let Some(key) = env_line(&file, line) else {
                    continue;
                };
                // Keys that name the backend beat other URLs; a URL beats a bare port.
                let upper = key.key.to_ascii_uppercase();
                let named = ["API", "BACKEND", "SERVER"]
                    .iter()
                    .any(|word| upper.contains(word));
                let score = u8::from(named) * 2 + u8::from(key.url);
                if best.as_ref().is_none_or(|(b, _)| score > *b) {
                    best = Some((score, key));
                }
            }
        }
        if best.is_some() {
            break;
        }
    }
    best.map(|(_, key)| key)
}

/// One `.env` line read as a backend address, if it is one.
fn env_line(file: &Path, line: &str) -> Option<EnvKey> {
    let line = line.trim();
    let line = line.strip_prefix("export ").unwrap_or(line);
    if line.starts_with('#') {
        return None;
    }
    let (key, value) = line.split_once('=')?;
    let key = key.trim();
    let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    let upper = key.to_ascii_uppercase();
    if let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|scheme| value.strip_prefix(scheme))
    {
        let rest = ["localhost:", "127.0.0.1:", "[::1]:", "0.0.0.0:"]
            .iter()
            .find_map(|host| rest.strip_prefix(host))?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        return Some(EnvKey {
            file: file.to_path_buf(),
            key: key.to_owned(),
            port: digits.parse().ok()?,
            url: true,
            path: rest[digits.len()..].to_owned(),
        });
    }
    let frontend_own = upper == "PORT" || upper.contains("FRONTEND") || upper == "VITE_PORT";
    if upper.ends_with("PORT") && !frontend_own {
        return Some(EnvKey {
            file: file.to_path_buf(),
            key: key.to_owned(),
            port: value.parse().ok()?,
            url: false,
            path: String::new(),
        });
    }
    None
}

fn frontend_config(frontend: &Frontend, key: Option<&EnvKey>, port: u16, d: &mut Detected) {
    d.frontend.push(("command", toml_array(&frontend.command)));
    d.frontend.push(("port", frontend.port.to_string()));
    let Some(key) = key else {
        let prefix = if frontend.tool == "Vite" { "VITE_" } else { "" };
        let file = frontend.dir.join(".env.development.local");
        d.guessed.push(format!(
            "frontend config: no .env with a loopback URL or port; {} is made with {prefix}BACKEND_PORT and {prefix}BACKEND_URL",
            shown_path(&file)
        ));
        d.check.push(format!(
            "have the frontend read the backend's address from {prefix}BACKEND_URL in {}",
            shown_path(&file)
        ));
        d.frontend
            .push(("config_file", toml_string(&shown_path(&file))));
        d.frontend
            .push(("port_key", toml_string(&format!("{prefix}BACKEND_PORT"))));
        d.frontend
            .push(("url_key", toml_string(&format!("{prefix}BACKEND_URL"))));
        d.env_lines = Some((
            file,
            format!(
                "# Written by `cargo xtask init`; `cargo xtask dev` keeps these at the backend it runs.\n\
                 {prefix}BACKEND_PORT={port}\n{prefix}BACKEND_URL=http://127.0.0.1:{port}\n"
            ),
        ));
        return;
    };
    // Vite reads `.env.development.local` over `.env.development` and `.env`: dev writes
    // there, for each run (it creates the file and removes it after), and the committed
    // file keeps the default address, untouched, as a plain `npm run dev` reads it.
    let committed = key
        .file
        .file_name()
        .is_some_and(|name| !name.to_string_lossy().ends_with(".local"));
    let config_file = if frontend.tool == "Vite" && committed {
        let local = key.file.with_file_name(".env.development.local");
        d.guessed.push(format!(
            "frontend.config_file = {}: Vite reads it over {}, which keeps its default; dev writes it for each run and removes it after",
            shown_path(&local),
            shown_path(&key.file)
        ));
        d.ignore_files.push(shown_path(&local));
        local
    } else {
        key.file.clone()
    };
    d.frontend
        .push(("config_file", toml_string(&shown_path(&config_file))));
    if key.url {
        // dev replaces only the address of a URL value (scheme, path and quoting stay),
        // so the app's own key is the one to keep in step: nothing is added to its file.
        d.found.push(format!(
            "frontend config: {} in {} (http://...:{})",
            key.key,
            shown_path(&key.file),
            key.port
        ));
        d.frontend.push((
            "port_key",
            format!(
                "{}  # a URL: dev replaces its host and port, the rest stays",
                toml_string(&key.key)
            ),
        ));
    } else {
        d.found.push(format!(
            "frontend config: {}={} in {}",
            key.key,
            key.port,
            shown_path(&key.file)
        ));
        d.frontend.push(("port_key", toml_string(&key.key)));
    }
}

fn backend(app: &Path, files: &[PathBuf], port: Option<u16>, d: &mut Detected) {
    let object = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .find_map(|p| app_object(app, p));
    let Some(object) = object else {
        d.check.push(
            "no `app = FastAPI(...)` found: set [backend] command to the backend's start command"
                .into(),
        );
        d.venv = ".venv".into();
        return;
    };
    d.found.push(format!(
        "backend: the FastAPI app `{}` in {}",
        object.target,
        shown_path(&object.file)
    ));
    let mut command: Vec<String> = ["python", "-m", "uvicorn", object.target.as_str()]
        .map(str::to_owned)
        .to_vec();
    if !object.app_dir.as_os_str().is_empty() {
        command.extend(["--app-dir".to_owned(), shown_path(&object.app_dir)]);
    }
    command.extend(["--host", "{host}", "--port", "{port}"].map(str::to_owned));
    d.backend.push(("command", toml_array(&command)));
    d.backend.push((
        "port",
        port.map_or_else(
            || "8000  # guessed: uvicorn's default".to_owned(),
            |port| format!("{port}  # found: the frontend config's port"),
        ),
    ));
    health(app, files, &object, d);
    dependencies(app, &object, d);
    let watched = if object.app_dir.as_os_str().is_empty() {
        "**/*.py".to_owned()
    } else {
        join(&object.app_dir, "**/*.py")
    };
    d.backend.push(("watch", toml_array(&[watched])));
    let mut ignore: Vec<String> = [".venv", "__pycache__", ".git", "*.swp", "*~", ".#*", "4913"]
        .map(str::to_owned)
        .to_vec();
    ignore.push("node_modules".into());
    d.backend.push(("watch_ignore", toml_array(&ignore)));
}

/// `name = FastAPI(` in `file`: the app object, importable from its `--app-dir`.
fn app_object(app: &Path, file: &Path) -> Option<AppObject> {
    let text = std::fs::read_to_string(app.join(file)).ok()?;
    let name = text.lines().find_map(|line| {
        let (name, rest) = line.split_once('=')?;
        let name = name.split(':').next()?.trim();
        let is_ident = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !line.starts_with(char::is_whitespace);
        (is_ident && rest.trim_start().starts_with("FastAPI(")).then(|| name.to_owned())
    })?;
    // The module path: up through the folders that are packages (`__init__.py`).
    let mut parts = vec![file.file_stem()?.to_string_lossy().into_owned()];
    let mut dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    while !dir.as_os_str().is_empty() && app.join(&dir).join("__init__.py").is_file() {
        parts.insert(0, dir.file_name()?.to_string_lossy().into_owned());
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    Some(AppObject {
        file: file.to_path_buf(),
        target: format!("{}:{name}", parts.join(".")),
        app_dir: dir,
    })
}

/// The health route (`@app.get("/health")` and the usual names), else a GET route that
/// exists, read with `status-code`.
fn health(app: &Path, files: &[PathBuf], object: &AppObject, d: &mut Detected) {
    let under =
        |p: &&PathBuf| p.extension().is_some_and(|e| e == "py") && p.starts_with(&object.app_dir);
    let mut routes: Vec<(String, String, PathBuf)> = Vec::new();
    for file in files.iter().filter(under) {
        let Ok(text) = std::fs::read_to_string(app.join(file)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if let Some(path) = get_route(line) {
                let body = lines[i + 1..]
                    .iter()
                    .take_while(|l| !l.trim_start().starts_with('@'))
                    .take(20)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n");
                routes.push((path, body, file.clone()));
            }
        }
    }
    let preferred = [
        "/health",
        "/healthz",
        "/api/health",
        "/_health",
        "/livez",
        "/readyz",
        "/ping",
    ];
    let chosen = preferred
        .iter()
        .find_map(|want| routes.iter().find(|(path, ..)| path == want))
        .or_else(|| routes.iter().find(|(path, ..)| path.contains("health")));
    if let Some((path, body, file)) = chosen {
        d.found
            .push(format!("health route: GET {path} in {}", shown_path(file)));
        d.backend.push(("health_path", toml_string(path)));
        let text = ["PlainTextResponse", "Response(", "return \"", "return '"]
            .iter()
            .any(|sign| body.contains(sign));
        if text {
            d.found.push(format!(
                "{path} answers text: health_format = \"status-code\""
            ));
            d.backend
                .push(("health_format", toml_string("status-code")));
        }
        if let Some(service) = quoted_after(body, "\"service\":") {
            d.backend.push(("service", toml_string(&service)));
        }
        return;
    }
    let fallback = routes
        .iter()
        .map(|(path, ..)| path.clone())
        .find(|path| !path.contains('{'))
        .unwrap_or_else(|| "/openapi.json".to_owned());
    d.guessed.push(format!(
        "no health route: GET {fallback} with health_format = \"status-code\" (any 2xx is ready)"
    ));
    d.check.push(format!(
        "add a health route (GET /health answering {{\"status\": \"ok\"}}) and set backend.health_path; {fallback} only says the server answers"
    ));
    d.backend.push((
        "health_path",
        format!(
            "{}  # guessed: no health route found",
            toml_string(&fallback)
        ),
    ));
    d.backend
        .push(("health_format", toml_string("status-code")));
}

/// The path of `@name.get("/path")` (or `api_route`), if the line is one.
fn get_route(line: &str) -> Option<String> {
    let line = line.trim();
    let rest = line.strip_prefix('@')?;
    let (_, call) = rest.split_once('.')?;
    let args = call
        .strip_prefix("get(")
        .or_else(|| call.strip_prefix("api_route("))?;
    let quote = args.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let path = args[1..].split(quote).next()?;
    path.starts_with('/').then(|| path.to_owned())
}

/// The string after `marker` in `text` (`"service": "shop"` gives `shop`).
fn quoted_after(text: &str, marker: &str) -> Option<String> {
    let rest = text[text.find(marker)? + marker.len()..].trim_start();
    let inner = rest.strip_prefix('"')?;
    Some(inner.split('"').next()?.to_owned())
}

/// How the backend's packages are declared: the nearest `pyproject.toml` or
/// `requirements*.txt` from the app object's folder up.
fn dependencies(app: &Path, object: &AppObject, d: &mut Detected) {
    let mut dir = object.file.parent().map(Path::to_path_buf);
    while let Some(here) = dir {
        if let Some(requirements) = declared_in(app, &here, d) {
            let venv = ["/.venv", "/venv"]
                .iter()
                .map(|name| {
                    format!("{}{name}", shown_path(&here))
                        .trim_start_matches("./")
                        .to_owned()
                })
                .find(|venv| app.join(venv).join("pyvenv.cfg").is_file());
            d.venv = venv.unwrap_or_else(|| join(&here, ".venv"));
            d.backend.push(("requirements", toml_string(&requirements)));
            d.backend.push(("venv", toml_string(&d.venv.clone())));
            return;
        }
        dir = here.parent().map(Path::to_path_buf);
    }
    d.venv = join(&object.app_dir, ".venv");
    d.check.push(
        "no pyproject.toml or requirements.txt found: set backend.requirements (dev skips the sync without one)".into(),
    );
    d.backend.push(("venv", toml_string(&d.venv.clone())));
}

/// The declaration in `dir`, if there is one, said as found.
fn declared_in(app: &Path, dir: &Path, d: &mut Detected) -> Option<String> {
    let pyproject = app.join(dir).join("pyproject.toml");
    let lock = ["uv.lock", "poetry.lock"]
        .into_iter()
        .find(|lock| app.join(dir).join(lock).is_file());
    let project = std::fs::read_to_string(&pyproject)
        .ok()
        .and_then(|text| crate::pyproject::parse(&text, "pyproject.toml").ok());
    let requirements = app.join(dir).join("requirements.txt");
    let (chosen, how) = match (lock, &project, requirements.is_file()) {
        (Some(lock), ..) if pyproject.is_file() => (
            join(dir, "pyproject.toml"),
            format!(
                "{} ({})",
                join(dir, lock),
                if lock == "uv.lock" {
                    "uv sync --frozen"
                } else {
                    "Poetry"
                }
            ),
        ),
        (_, _, true) => (join(dir, "requirements.txt"), "pip".to_owned()),
        (_, Some(_), false) => (
            join(dir, "pyproject.toml"),
            "its PEP 621 [project] dependencies".to_owned(),
        ),
        _ => return None,
    };
    if let Some(project) = &project
        && !project
            .dependencies
            .iter()
            .any(|dep| dep.contains("uvicorn"))
        && !std::fs::read_to_string(&requirements).is_ok_and(|t| t.contains("uvicorn"))
    {
        d.check.push(format!(
            "uvicorn is not among the dependencies in {}: the backend command runs it",
            shown_path(dir)
        ));
    }
    d.found
        .push(format!("backend packages: {chosen}, installed with {how}"));
    if let Some(project) = project.filter(|p| !p.optional.is_empty()) {
        let names: Vec<String> = project
            .optional
            .keys()
            .map(|k| format!("\"{k}\""))
            .collect();
        d.check.push(format!(
            "{} has optional dependencies ({}): set backend.extras = [{}] to install them too",
            join(dir, "pyproject.toml"),
            names.join(", "),
            names.join(", ")
        ));
    }
    Some(chosen)
}

fn toml_string(text: &str) -> String {
    format!("{text:?}")
}

fn toml_array(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|item| toml_string(item))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Detected {
    /// The `dev.toml` for what was found.
    pub fn dev_toml(&self) -> String {
        let mut out = String::from(
            "# Written by `cargo xtask init` from what it found in this app: check it with\n\
             # `cargo xtask dev --print-config` and `cargo xtask doctor`. Every key and its default\n\
             # are in the tooling's README (\"Configuration: dev.toml\").\n",
        );
        for (section, entries) in [("backend", &self.backend), ("frontend", &self.frontend)] {
            if entries.is_empty() {
                continue;
            }
            out.push_str(&format!("\n[{section}]\n"));
            for (key, value) in entries {
                out.push_str(&format!("{key} = {value}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_servers_and_their_flags_are_read_from_scripts() {
        let name = |script: &str| dev_server(script).map(|s| s.name);
        let major = |json: &str| vite_major(&serde_json::from_str(json).expect("valid JSON"));
        assert_eq!(major(r#"{"devDependencies": {"vite": "^8.3.4"}}"#), Some(8));
        assert_eq!(major(r#"{"dependencies": {"vite": "~7.0.0"}}"#), Some(7));
        assert_eq!(major(r#"{"dependencies": {"react": "19"}}"#), None);
        assert_eq!(name("vite"), Some("Vite"));
        assert_eq!(name("vite --port 3001 --open"), Some("Vite"));
        assert_eq!(name("next dev"), Some("Next"));
        assert_eq!(
            name("webpack serve --mode development"),
            Some("webpack-dev-server")
        );
        assert_eq!(name("node_modules/.bin/vite --open"), Some("Vite"));
        assert_eq!(name("node server.js"), None);
        assert_eq!(flag_value("vite --port 3001", "--port"), Some(3001));
        assert_eq!(flag_value("vite --port=3001", "--port"), Some(3001));
        assert_eq!(flag_value("next dev -p 4000", "-p"), Some(4000));
        assert_eq!(flag_value("next dev", "-p"), None);
        assert_eq!(
            frontend_command(Path::new("web"), "dev", dev_server("vite")),
            [
                "npm",
                "--prefix",
                "web",
                "run",
                "dev",
                "--",
                "--port",
                "{frontend_port}",
                "--strictPort",
                "--host",
                "127.0.0.1"
            ]
        );
        assert_eq!(
            frontend_command(Path::new(""), "start", None),
            ["npm", "run", "start"]
        );
    }

    #[test]
    fn env_lines_name_a_loopback_url_or_a_port() {
        let file = Path::new(".env");
        let key = |line: &str| env_line(file, line).map(|k| (k.key, k.port, k.url, k.path));
        let url = |k: &str, port, path: &str| Some((k.to_owned(), port, true, path.to_owned()));
        assert_eq!(
            key("VITE_API_URL=http://localhost:8000"),
            url("VITE_API_URL", 8000, "")
        );
        assert_eq!(
            key("export API=\"http://127.0.0.1:9000/api\""),
            url("API", 9000, "/api")
        );
        assert_eq!(
            key("API_PORT=8001"),
            Some(("API_PORT".into(), 8001, false, String::new()))
        );
        assert_eq!(key("API=https://example.com:443"), None, "not loopback");
        assert_eq!(key("PORT=3000"), None, "the frontend's own port");
        assert_eq!(key("# API_PORT=8001"), None);
    }

    #[test]
    fn routes_and_app_objects_are_read_from_python_lines() {
        assert_eq!(
            get_route("@app.get(\"/health\")").as_deref(),
            Some("/health")
        );
        assert_eq!(
            get_route("  @router.get('/healthz', tags=[\"ops\"])").as_deref(),
            Some("/healthz")
        );
        assert_eq!(get_route("@app.post(\"/health\")"), None);
        assert_eq!(get_route("@app.get(PATH)"), None);
        assert_eq!(
            quoted_after(
                "return {\"status\": \"ok\", \"service\": \"shop\"}",
                "\"service\":"
            )
            .as_deref(),
            Some("shop")
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let app = dir.path();
        std::fs::create_dir_all(app.join("src/shop")).expect("folders");
        std::fs::write(app.join("src/shop/__init__.py"), "").expect("write");
        std::fs::write(
            app.join("src/shop/main.py"),
            "from fastapi import FastAPI\n\napi: FastAPI = FastAPI(title=\"x\")\n",
        )
        .expect("write");
        assert_eq!(
            app_object(app, Path::new("src/shop/main.py")),
            Some(AppObject {
                file: "src/shop/main.py".into(),
                target: "shop.main:api".into(),
                app_dir: "src".into(),
            })
        );
        std::fs::write(app.join("other.py"), "def f():\n    app = FastAPI()\n").expect("write");
        assert_eq!(
            app_object(app, Path::new("other.py")),
            None,
            "not at module level"
        );
    }
}
