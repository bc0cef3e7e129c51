//! Save -> backend healthy again, for the reference backend: `dev`'s own watch next to
//! `uvicorn --reload` on the same app, and the backend's own cold start (what any
//! restart has to pay) as the baseline for `dev`'s overhead.
//!
//! Each sample is the time from a save (a comment appended to `main.py`) until `/health`
//! answers 200 from a process with a new pid.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::measure::{Group, Setup, free_port};
use super::stats::Samples;

/// The three rows' samples, or why they could not be taken.
#[derive(Debug, Default)]
pub struct Reload {
    pub cold: Samples,
    pub dev: Samples,
    pub uvicorn: Samples,
    pub missing: Option<String>,
}

/// Measures all three, `runs` saves each.
pub fn reload(setup: &Setup, root: &Path, runs: usize) -> Reload {
    let python = coordinator::python::venv_python(&root.join("backend/.venv"));
    if !python.exists() {
        return Reload {
            missing: Some(
                "the reference backend's venv is missing (run `cargo xtask dev` once)".into(),
            ),
            ..Reload::default()
        };
    }
    let Some(app) = copy_app(setup, root) else {
        return Reload {
            missing: Some("cannot copy backend/main.py".into()),
            ..Reload::default()
        };
    };
    let cold = cold_starts(&python, &app, runs);
    let (dev, dev_missing) = saves(&app, runs, dev_under_watch(setup, &python, &app));
    let (uvicorn, uvicorn_missing) = saves(&app, runs, uvicorn_reload(&python, &app));
    let missing = [("dev", dev_missing), ("uvicorn --reload", uvicorn_missing)]
        .into_iter()
        .filter_map(|(who, why)| why.map(|why| format!("{who}: {why}")))
        .collect::<Vec<_>>();
    Reload {
        cold,
        dev,
        uvicorn,
        missing: (!missing.is_empty()).then(|| missing.join("; ")),
    }
}

/// A checkout of its own with the reference backend's `main.py`.
fn copy_app(setup: &Setup, root: &Path) -> Option<PathBuf> {
    let dir = setup.scratch.join("reload");
    std::fs::create_dir_all(dir.join("backend")).ok()?;
    std::fs::copy(root.join("backend/main.py"), dir.join("backend/main.py")).ok()?;
    Some(dir)
}

/// The backend started by hand until healthy, `runs` times.
fn cold_starts(python: &Path, app: &Path, runs: usize) -> Samples {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let port = free_port();
        let mut command = Command::new(python);
        command
            .arg("backend/main.py")
            .current_dir(app)
            .env("BACKEND_PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let started = Instant::now();
        let Ok(group) = Group::spawn(command) else {
            continue;
        };
        if health_pid(port, Duration::from_secs(30), None).is_some() {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        drop(group);
    }
    Samples(samples)
}

/// A running backend that restarts on a save: its group and port.
struct Watched {
    _group: Group,
    port: u16,
}

/// `cargo xtask dev --no-frontend` watching the app.
fn dev_under_watch(setup: &Setup, python: &Path, app: &Path) -> Option<Watched> {
    let port = free_port();
    let command =
        serde_json::to_string(&[python.display().to_string(), "backend/main.py".into()]).ok()?;
    let toml = format!(
        "[backend]\ncommand = {command}\nport = {port}\nstartup_timeout = \"30s\"\n\n[frontend]\nport = false\nconfig_file = \"none.json\"\n\n[dev]\nshutdown_grace = \"2s\"\n"
    );
    std::fs::write(app.join("dev.toml"), toml).ok()?;
    let mut command = Command::new(&setup.exe);
    command
        .args(["dev", "--no-sync", "--no-frontend"])
        .current_dir(app)
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let group = Group::spawn(command).ok()?;
    Some(Watched {
        _group: group,
        port,
    })
}

/// `python -m uvicorn main:app --reload` on the same app.
fn uvicorn_reload(python: &Path, app: &Path) -> Option<Watched> {
    let port = free_port();
    let mut command = Command::new(python);
    command
        .args([
            "-m",
            "uvicorn",
            "main:app",
            "--app-dir",
            "backend",
            "--reload",
        ])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(app)
        .env("BACKEND_PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let group = Group::spawn(command).ok()?;
    Some(Watched {
        _group: group,
        port,
    })
}

/// Saves `main.py` `runs` times; each sample ends when health answers from a new pid.
/// Says why when it could not measure every save.
fn saves(app: &Path, runs: usize, watched: Option<Watched>) -> (Samples, Option<String>) {
    let Some(watched) = watched else {
        return (Samples::default(), Some("could not be started".into()));
    };
    let main = app.join("backend/main.py");
    let mut samples = Vec::new();
    let Some(mut pid) = health_pid(watched.port, Duration::from_secs(60), None) else {
        return (Samples::default(), Some("never healthy within 60 s".into()));
    };
    for run in 0..runs {
        let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&main) else {
            break;
        };
        let saved = Instant::now();
        if writeln!(file, "# save {run}").is_err() {
            break;
        }
        drop(file);
        match health_pid(watched.port, Duration::from_secs(30), Some(pid)) {
            Some(new) => {
                samples.push(saved.elapsed().as_secs_f64() * 1000.0);
                pid = new;
            }
            None => {
                let why = format!("save {run}: no new process healthy within 30 s");
                return (Samples(samples), Some(why));
            }
        }
    }
    (Samples(samples), None)
}

/// Polls `/health` every 5 ms until it answers 200 from a pid other than `old`.
fn health_pid(port: u16, timeout: Duration, old: Option<u32>) -> Option<u32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(pid) = healthy_pid(port)
            && Some(pid) != old
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// The `pid` of a 200 health answer.
fn healthy_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    if !response.lines().next()?.contains(" 200 ") {
        return None;
    }
    let (_, body) = response.split_once("\r\n\r\n")?;
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    u32::try_from(value.get("pid")?.as_u64()?).ok()
}
