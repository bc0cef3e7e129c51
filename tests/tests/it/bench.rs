//! The benchmark in quick mode: it runs, measures every row, and writes nothing.
//! (Its numbers are not asserted against targets: timing on shared machines is noise.)

use std::time::Duration;

use crate::support::{Running, repo_root, xtask_command};

#[test]
fn bench_quick_measures_every_row() {
    let command = xtask_command(&repo_root(), &["bench", "--quick"]);
    let mut bench = Running::spawn(command);
    let status = bench.wait(Duration::from_secs(300));
    let output = bench.output();
    assert!(status.success(), "{output}");
    for row in [
        "| backend ready -> `dev` starts the frontend",
        "| frontend's port opens -> `dev` prints the frontend-ready line",
        "| already-running backend: process start -> frontend started",
        "| who holds port P, with the free alternative",
        "| `doctor`, all checks, wall time",
        "| CPU of `dev` supervising an idle backend",
        "| peak memory (VmHWM) of `dev`",
        "| backend ready -> `dev` starts the frontend, without the guardian",
        "| already-running backend: process start -> frontend started, without the guardian",
        "| memory of the guardian while `dev` runs",
    ] {
        let line = output
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in:\n{output}"));
        let dev_cell = line.split('|').nth(3).unwrap();
        assert!(!dev_cell.contains("n/a"), "{row} was not measured:\n{line}");
    }
    // The floor, a client that checks nothing, is measured in the same run as `dev`.
    let ready = output
        .lines()
        .find(|l| l.starts_with("| backend ready -> `dev` starts the frontend ("))
        .unwrap_or_default();
    let floor = ready
        .split("the floor, a client that checks nothing: ")
        .nth(1)
        .unwrap_or_default();
    let p50 = floor
        .split(' ')
        .next()
        .and_then(|p50| p50.parse::<f64>().ok());
    assert!(p50.is_some(), "the floor was not measured:\n{ready}");
    // Measured when the reference backend's venv exists (another test syncs it).
    assert!(
        output.contains("| save `backend/main.py` -> reference backend healthy again"),
        "{output}"
    );
}
