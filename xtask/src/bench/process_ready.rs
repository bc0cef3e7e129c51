//! A `[process.NAME]`'s ready detection: its port opens -> `dev` starts what comes after
//! it. The same shape as the backend's row (ready -> the next command's `date`), so the
//! two are compared in one run: a process with a port is waited for by the backend's
//! own phase one (the 1 ms connect poll).

use std::process::Stdio;
use std::time::Duration;

use super::measure::{
    Group, LATE_FRONTEND, Setup, checkout, free_port, jitter, mark, read_ns, wait_ns, xtask,
};
use super::stats::Samples;

/// `[process.svc]` (a few lines of Python that open `SVC_PORT` after 300 ms + U[0, 1000)
/// ms and write the instant they listen), then `[process.mark]` (`after = ["svc"]`,
/// `date +%s%N > mark`), under `dev --no-frontend`, per run.
pub fn process_ready(setup: &Setup) -> Samples {
    let mut samples = Vec::new();
    for run in 0..setup.runs {
        let (port, svc_port) = (free_port(), free_port());
        let delay = (300 + jitter(run, 1000)).to_string();
        let listened = setup.scratch.join(format!("svc-listened-{svc_port}"));
        let marked = setup.scratch.join(format!("svc-mark-{svc_port}"));
        let dir = checkout(setup, &format!("process-{port}"), port, &[]);
        let svc = [
            setup.python.display().to_string(),
            "-c".into(),
            LATE_FRONTEND.replace("FRONTEND_PORT", "SVC_PORT"),
            delay,
            listened.display().to_string(),
        ];
        let mark = ["sh".to_owned(), "-c".into(), mark(&marked)];
        let (Ok(svc), Ok(mark)) = (serde_json::to_string(&svc), serde_json::to_string(&mark))
        else {
            continue;
        };
        let tables = format!(
            "\n[process.svc]\ncommand = {svc}\nport = {svc_port}\n\n[process.mark]\ncommand = {mark}\nafter = [\"svc\"]\nrestart = \"never\"\n"
        );
        let Ok(toml) = std::fs::read_to_string(dir.join("dev.toml")) else {
            continue;
        };
        if std::fs::write(dir.join("dev.toml"), toml + &tables).is_err() {
            continue;
        }
        let mut command = xtask(setup, &dir, &["dev", "--no-sync", "--no-frontend"]);
        command.stdout(Stdio::null());
        let Ok(mut group) = Group::spawn(command) else {
            continue;
        };
        let declared = wait_ns(&marked, Duration::from_secs(40));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(group.pid() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        group.wait(Duration::from_secs(10));
        if let (Some(declared), Some(opened)) = (declared, read_ns(&listened)) {
            samples.push((declared as f64 - opened as f64) / 1e6);
        }
    }
    Samples(samples)
}
