//! The README's VS Code recipes hold against dev's real output: the background task's
//! patterns (JavaScript regular expressions, as VS Code runs them, through Node) find
//! the start and the end of a real start-up and a real `dev.toml` error; the launch
//! configuration attaches where the documented command listens.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Checkout, repo_root};

const LONG: Duration = Duration::from_secs(30);

/// The README's ```json block that contains `needle`, parsed.
fn readme_json(needle: &str) -> Value {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let block = readme
        .split("```json\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .find(|block| block.contains(needle))
        .unwrap_or_else(|| panic!("no json block with {needle:?} in the README"));
    serde_json::from_str(block).unwrap_or_else(|err| panic!("{err}:\n{block}"))
}

/// For each regular expression, the indexes of the lines it matches (JavaScript's
/// `RegExp`, as VS Code uses it).
fn matches(patterns: &[&str], lines: &[&str]) -> Vec<Vec<usize>> {
    let script = "let d = JSON.parse(require('fs').readFileSync(0, 'utf8'));\
        console.log(JSON.stringify(d.patterns.map(p => d.lines.flatMap((l, i) => new RegExp(p).test(l) ? [i] : []))));";
    let mut node = Command::new("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node is installed");
    let input = serde_json::json!({"patterns": patterns, "lines": lines});
    node.stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = node.wait_with_output().unwrap();
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn the_vscode_task_patterns_match_a_real_start_and_a_real_config_error() {
    let tasks = readme_json("beginsPattern");
    let task = &tasks["tasks"][0];
    assert_eq!(task["isBackground"], true);
    assert_eq!(task["command"], "cargo xtask dev");
    let matcher = &task["problemMatcher"];
    let begins = matcher["background"]["beginsPattern"].as_str().unwrap();
    let ends = matcher["background"]["endsPattern"].as_str().unwrap();
    let problem = matcher["pattern"]["regexp"].as_str().unwrap();

    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    let lines: Vec<&str> = output.lines().collect();
    let found = matches(&[begins, ends, problem], &lines);
    assert_eq!(found[0].len(), 1, "beginsPattern once:\n{output}");
    assert_eq!(found[1].len(), 1, "endsPattern once:\n{output}");
    assert!(found[0][0] < found[1][0], "{output}");
    assert!(lines[found[1][0]].starts_with("[dev] up in "), "{output}");
    // The backend's own ready line comes before, and is not the end.
    let ready = lines
        .iter()
        .position(|l| l.contains("backend ready in"))
        .unwrap();
    assert!(ready < found[1][0]);
    assert!(found[2].is_empty(), "no problem in a good run:\n{output}");

    checkout.write("dev.toml", "[backend]\nport = 8000\nport = 8001\n");
    let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    let lines: Vec<&str> = output.lines().collect();
    let found = matches(&[problem], &lines);
    assert_eq!(found[0].len(), 1, "{output}");
    let line = lines[found[0][0]];
    assert!(line.starts_with("dev.toml:3:"), "file and line: {line}");
}

#[test]
fn the_launch_configuration_attaches_where_the_documented_backend_listens() {
    let launch = readme_json("debugpy");
    let attach = &launch["configurations"][0];
    assert_eq!(attach["type"], "debugpy");
    assert_eq!(attach["request"], "attach");
    assert_eq!(
        attach["preLaunchTask"],
        readme_json("beginsPattern")["tasks"][0]["label"]
    );
    let port = attach["connect"]["port"].as_u64().unwrap();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!(
            "command = [\"python\", \"-m\", \"debugpy\", \"--listen\", \"127.0.0.1:{port}\", \"backend/main.py\"]"
        )),
        "the README's backend command listens on {port}"
    );
}
