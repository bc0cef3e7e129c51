//! `pre-commit` and `install-hooks` in temporary git repositories, a real `git commit`
//! through the installed hook, and the `pre-commit` framework from PyPI.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::support::{Checkout, repo_root, xtask_command};

/// A temporary git repository holding the reference layout.
struct Repo {
    checkout: Checkout,
}

impl Repo {
    fn new() -> Repo {
        let checkout = Checkout::new();
        let repo = Repo { checkout };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn path(&self) -> &Path {
        self.checkout.path()
    }

    fn git(&self, args: &[&str]) -> Output {
        let output = git_in(self.path(), args);
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Writes and stages a file.
    fn stage(&self, path: &str, content: &str) {
        self.checkout.write(path, content);
        self.git(&["add", path]);
    }

    /// A consistent project: backend on 8000, frontend config on 8000.
    fn consistent(&self) {
        self.stage("dev.toml", "[backend]\nport = 8000\n");
        self.stage(
            "frontend/config.json",
            "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}\n}\n",
        );
    }

    fn pre_commit(&self) -> (i32, String) {
        let output = xtask_command(self.path(), &["pre-commit"])
            .output()
            .unwrap();
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap(), text)
    }
}

fn git_in(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .output()
        .unwrap()
}

#[test]
fn a_clean_commit_passes_and_says_what_it_skipped() {
    let repo = Repo::new();
    repo.consistent();
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("skipped cargo fmt and clippy (no Rust file staged)"),
        "{output}"
    );
    assert!(
        output.contains("skipped Python compile check (no .py file staged)"),
        "{output}"
    );
    assert!(
        output.contains("pre-commit: ok (dev.toml valid, frontend config port"),
        "{output}"
    );
}

#[test]
fn a_staged_frontend_config_on_8001_against_8000_fails_naming_both_files_and_values() {
    let repo = Repo::new();
    repo.consistent();
    repo.stage(
        "frontend/config.json",
        "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}\n}\n",
    );
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(
            "frontend/config.json: backend.port = 8001 in frontend/config.json, but backend.port = 8000 in dev.toml"
        ),
        "{output}"
    );
    assert!(
        output.contains("fix: set backend.port to 8000 in frontend/config.json"),
        "{output}"
    );
}

#[test]
fn a_hard_coded_backend_address_fails_naming_file_and_line() {
    let repo = Repo::new();
    repo.consistent();
    repo.stage(
        "frontend/src/api.js",
        "// the API client\nconst API = 'http://localhost:8001/api';\nconst OK = 'http://127.0.0.1:8000';\nconst SELF = 'http://localhost:5173'; // dev-allow-address\n",
    );
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(
            "frontend/src/api.js:2: hard-codes the backend address localhost:8001, but backend.port = 8000 in dev.toml"
        ),
        "{output}"
    );
    assert_eq!(
        output.matches("hard-codes the backend address").count(),
        1,
        "{output}"
    );
}

#[test]
fn an_unstaged_temporary_port_does_not_fail_the_hook() {
    let repo = Repo::new();
    repo.consistent();
    repo.git(&["commit", "-q", "-m", "consistent"]);
    // What `dev --port auto` leaves in the working tree while it runs.
    repo.checkout.write(
        "frontend/config.json",
        "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}\n}\n",
    );
    repo.stage("README.md", "docs\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 0, "{output}");
}

#[test]
fn every_failure_is_reported_not_only_the_first() {
    let repo = Repo::new();
    repo.consistent();
    repo.stage("frontend/config.json", "{\"backend\": {\"port\": 8002}}\n");
    repo.stage("frontend/app.ts", "fetch('http://[::1]:9000/health')\n");
    repo.stage("backend/main.py", "def broken(:\n    pass\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("pre-commit: 3 problems"), "{output}");
    assert!(
        output.contains("backend.port = 8002 in frontend/config.json"),
        "{output}"
    );
    assert!(
        output.contains("frontend/app.ts:1: hard-codes the backend address [::1]:9000"),
        "{output}"
    );
    assert!(
        output.contains("backend/main.py:1: does not compile"),
        "{output}"
    );
}

#[test]
fn an_invalid_staged_dev_toml_fails_with_its_position() {
    let repo = Repo::new();
    repo.stage("dev.toml", "[backend]\nport = \"eighty\"\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("dev.toml:2:8: invalid value \"eighty\" for `backend.port`"),
        "{output}"
    );
}

#[test]
fn install_hooks_is_idempotent_and_never_clobbers_a_foreign_hook() {
    let repo = Repo::new();
    let install = |args: &[&str]| {
        let mut all = vec!["install-hooks"];
        all.extend_from_slice(args);
        let output = xtask_command(repo.path(), &all).output().unwrap();
        let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap(), text)
    };
    let hook = repo.path().join(".git/hooks/pre-commit");
    let (code, output) = install(&[]);
    assert_eq!(code, 0, "{output}");
    let written = std::fs::read_to_string(&hook).unwrap();
    assert!(written.contains("exec cargo xtask pre-commit"));
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o111,
        0o111
    );
    let (code, output) = install(&[]);
    assert_eq!(code, 0);
    assert!(output.starts_with("already installed"), "{output}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), written);

    let foreign = "#!/bin/sh\nmake lint\n";
    std::fs::write(&hook, foreign).unwrap();
    let (code, output) = install(&[]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("was not written by install-hooks"),
        "{output}"
    );
    assert!(output.contains("--force"), "{output}");
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        foreign,
        "left as it is"
    );

    let (code, output) = install(&["--force"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), written);
    let backup = repo.path().join(".git/hooks/pre-commit.backup");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), foreign);
}

#[test]
fn install_hooks_works_from_a_worktree() {
    let repo = Repo::new();
    repo.consistent();
    repo.git(&["commit", "-q", "-m", "first"]);
    let worktree = repo.path().join("wt");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        worktree.to_str().unwrap(),
        "-b",
        "side",
    ]);
    let output = xtask_command(&worktree, &["install-hooks"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Worktrees share the main repository's hooks.
    assert!(repo.path().join(".git/hooks/pre-commit").exists());
}

/// Makes `cargo xtask` in `dir` run the CLI under test: a cargo alias to an external
/// subcommand found on PATH (the hook itself runs `cargo xtask pre-commit` unchanged).
/// Returns the PATH to use.
fn cargo_xtask_shim(dir: &Path) -> String {
    let bin = dir.join(".shim");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("cargo-devxtask");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nshift\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_dev-xtask")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[alias]\nxtask = \"devxtask\"\n",
    )
    .unwrap();
    std::fs::write(dir.join(".git/info/exclude"), ".shim/\n.cargo/\n").unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_real_git_commit_is_blocked_by_the_installed_hook_when_ports_disagree() {
    let repo = Repo::new();
    let path = cargo_xtask_shim(repo.path());
    let installed = xtask_command(repo.path(), &["install-hooks"])
        .output()
        .unwrap();
    assert!(installed.status.success());
    repo.consistent();
    repo.stage(
        "frontend/config.json",
        "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}\n}\n",
    );
    let commit = |message: &str| {
        let mut command = Command::new("git");
        command
            .args(["commit", "-q", "-m", message])
            .current_dir(repo.path())
            .env("PATH", &path)
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid");
        command.output().unwrap()
    };
    let blocked = commit("ports disagree");
    let stderr = String::from_utf8_lossy(&blocked.stderr);
    assert!(
        !blocked.status.success(),
        "the commit went through: {stderr}"
    );
    assert!(
        stderr.contains("backend.port = 8001 in frontend/config.json"),
        "{stderr}"
    );
    let log = git_in(repo.path(), &["log", "--oneline"]);
    assert!(
        !log.status.success() || log.stdout.is_empty(),
        "nothing was committed"
    );

    repo.stage(
        "frontend/config.json",
        "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}\n}\n",
    );
    let passed = commit("ports agree");
    assert!(
        passed.status.success(),
        "{}",
        String::from_utf8_lossy(&passed.stderr)
    );
}

#[test]
fn the_pre_commit_framework_runs_the_local_hook() {
    let repo = Repo::new();
    let venv = repo.path().join(".venv-pre-commit");
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status();
    let pip = venv.join("bin/pip");
    let installed = created.is_ok_and(|s| s.success())
        && Command::new(&pip)
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "pre-commit",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("skipped: the pre-commit framework could not be installed from PyPI");
        return;
    }
    let path = cargo_xtask_shim(repo.path());
    std::fs::write(
        repo.path().join(".git/info/exclude"),
        ".shim/\n.cargo/\n.venv-pre-commit/\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(repo_root().join(".pre-commit-config.yaml")).unwrap();
    repo.stage(".pre-commit-config.yaml", &config);
    repo.consistent();
    let run = || {
        Command::new(venv.join("bin/pre-commit"))
            .args(["run", "--all-files"])
            .current_dir(repo.path())
            .env("PATH", &path)
            .env("PRE_COMMIT_HOME", repo.path().join(".pre-commit-cache"))
            .output()
            .unwrap()
    };
    let output = run();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Passed"), "{text}");

    repo.stage("frontend/config.json", "{\"backend\": {\"port\": 8001}}\n");
    let output = run();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("backend.port = 8001 in frontend/config.json"),
        "{text}"
    );
}

fn install_hooks(dir: &Path, args: &[&str]) -> (i32, String) {
    let mut all = vec!["install-hooks"];
    all.extend_from_slice(args);
    let output = xtask_command(dir, &all).output().unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), text)
}

#[test]
fn install_hooks_never_overwrites_a_foreign_hook_that_is_not_utf8() {
    let repo = Repo::new();
    let hook = repo.path().join(".git/hooks/pre-commit");
    // A Latin-1 comment ("café") and a byte that is never UTF-8.
    let foreign: &[u8] = b"#!/bin/sh\n# caf\xe9 \xff\nmake lint\n";
    std::fs::write(&hook, foreign).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o750)).unwrap();
    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("was not written by install-hooks"),
        "{output}"
    );
    assert_eq!(std::fs::read(&hook).unwrap(), foreign, "left byte for byte");

    let (code, output) = install_hooks(repo.path(), &["--force"]);
    assert_eq!(code, 0, "{output}");
    let backup = repo.path().join(".git/hooks/pre-commit.backup");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        foreign,
        "restorable byte for byte"
    );
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o750,
        "with its mode"
    );
    assert!(
        output.contains(&format!("mv {}", backup.display())),
        "{output}"
    );

    // A second forced install keeps the first backup too.
    std::fs::write(&hook, b"#!/bin/sh\n# second \xff\n").unwrap();
    let (code, output) = install_hooks(repo.path(), &["--force"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(std::fs::read(&backup).unwrap(), foreign);
    assert_eq!(
        std::fs::read(repo.path().join(".git/hooks/pre-commit.backup.1")).unwrap(),
        b"#!/bin/sh\n# second \xff\n"
    );
}

#[test]
fn install_hooks_force_replaces_a_symlinked_hook_never_the_team_script_it_points_to() {
    let repo = Repo::new();
    let team = repo.path().join("tools/team-hook.sh");
    let team_script = "#!/bin/sh\n# the team's shared checks\nexit 0\n";
    repo.checkout.write("tools/team-hook.sh", team_script);
    let hook = repo.path().join(".git/hooks/pre-commit");
    std::os::unix::fs::symlink(&team, &hook).unwrap();

    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("is a symlink to"), "{output}");
    assert_eq!(std::fs::read_link(&hook).unwrap(), team);

    let (code, output) = install_hooks(repo.path(), &["--force"]);
    assert_eq!(code, 0, "{output}");
    assert_eq!(
        std::fs::read_to_string(&team).unwrap(),
        team_script,
        "the link's target is untouched"
    );
    assert!(
        !std::fs::symlink_metadata(&hook)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&hook)
            .unwrap()
            .contains("cargo xtask pre-commit")
    );
    let backup = repo.path().join(".git/hooks/pre-commit.backup");
    assert_eq!(
        std::fs::read_link(&backup).unwrap(),
        team,
        "the old link is the backup"
    );
}

#[test]
fn a_hook_without_its_executable_bit_is_not_installed_until_install_hooks_repairs_it() {
    let repo = Repo::new();
    repo.consistent();
    let hook = repo.path().join(".git/hooks/pre-commit");
    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 0, "{output}");
    let written = std::fs::read(&hook).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o644)).unwrap();

    let doctor = xtask_command(repo.path(), &["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "git-hooks")
        .unwrap()
        .clone();
    assert_eq!(check["status"], "warn", "{check}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .contains("not executable"),
        "{check}"
    );

    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("made"), "{output}");
    assert_eq!(
        std::fs::metadata(&hook).unwrap().permissions().mode() & 0o111,
        0o111
    );
    assert_eq!(std::fs::read(&hook).unwrap(), written);
}

#[test]
fn pre_commit_outside_any_checkout_config_exits_2_naming_the_folder() {
    let repo = Repo::new();
    repo.stage("README.md", "docs\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("no dev.toml in"), "{output}");
    assert!(output.contains("or any parent"), "{output}");
}

#[test]
fn a_renamed_or_deleted_frontend_config_fails_and_is_not_listed_as_checked() {
    let repo = Repo::new();
    repo.consistent();
    repo.git(&["commit", "-q", "-m", "consistent"]);
    repo.git(&["mv", "frontend/config.json", "frontend/settings.json"]);
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("frontend/config.json: is renamed to frontend/settings.json in this commit, but `frontend.config_file` in dev.toml still names it"),
        "{output}"
    );

    repo.git(&["mv", "frontend/settings.json", "frontend/config.json"]);
    repo.git(&["rm", "-q", "frontend/config.json"]);
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("frontend/config.json: is deleted in this commit"),
        "{output}"
    );

    // Never committed: skipped, and the summary does not claim it.
    let fresh = Repo::new();
    fresh.stage("dev.toml", "[backend]\nport = 8000\n");
    let (code, output) = fresh.pre_commit();
    assert_eq!(code, 0, "{output}");
    assert!(
        output
            .contains("skipped frontend config port in frontend/config.json: it is not committed"),
        "{output}"
    );
    let summary = output
        .lines()
        .find(|l| l.starts_with("pre-commit: ok"))
        .unwrap();
    assert!(!summary.contains("frontend config port"), "{summary}");
}

#[test]
fn a_monorepo_project_in_a_subfolder_is_checked_from_the_root() {
    let repo = Repo::new();
    repo.stage("app/dev.toml", "[backend]\nport = 8000\n");
    repo.stage(
        "app/frontend/config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8001}}\n",
    );
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("app/frontend/config.json: backend.port = 8001 in app/frontend/config.json, but backend.port = 8000 in app/dev.toml"),
        "{output}"
    );
    // A commit outside every project (a root README) is not blocked for want of a
    // dev.toml at the root.
    repo.stage(
        "app/frontend/config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}}\n",
    );
    repo.git(&["commit", "-q", "-m", "app"]);
    repo.stage("README.md", "docs\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("no project with a dev.toml is touched"),
        "{output}"
    );
}

#[test]
fn a_symlinked_dev_toml_is_followed_in_the_index_not_parsed_as_its_link_text() {
    let repo = Repo::new();
    repo.stage("config/dev.toml", "[backend]\nport = 8000\n");
    std::os::unix::fs::symlink("config/dev.toml", repo.path().join("dev.toml")).unwrap();
    repo.git(&["add", "dev.toml"]);
    repo.stage(
        "frontend/config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}}\n",
    );
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("dev.toml is a symlink: read its target config/dev.toml from the index"),
        "{output}"
    );
    // The staged target decides, not the working tree.
    repo.stage("config/dev.toml", "[backend]\nport = 8001\n");
    repo.checkout
        .write("config/dev.toml", "[backend]\nport = 8000\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("but backend.port = 8001 in dev.toml"),
        "{output}"
    );
}

#[test]
fn python_files_that_python_rejects_fail_the_commit_latin1_and_memory_error() {
    let repo = Repo::new();
    repo.consistent();
    // Latin-1 bytes without an encoding line: `python3 file.py` and py_compile refuse.
    repo.checkout.write("backend/latin.py", "");
    std::fs::write(
        repo.path().join("backend/latin.py"),
        b"name = \"caf\xe9\"\n",
    )
    .unwrap();
    repo.git(&["add", "backend/latin.py"]);
    // A file that makes the compiler itself raise MemoryError.
    repo.stage(
        "backend/huge.py",
        &format!("x = {}1\n", "-".repeat(200_000)),
    );
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains(
            "backend/latin.py:1: cannot be decoded: invalid or missing encoding declaration"
        ),
        "{output}"
    );
    assert!(
        output.contains("backend/huge.py: cannot be compiled: MemoryError"),
        "{output}"
    );
}

#[test]
fn a_crash_of_the_python_compile_checker_fails_the_commit() {
    let repo = Repo::new();
    repo.consistent();
    repo.stage("backend/main.py", "print('fine')\n");
    // An interpreter that answers the version probe, then crashes on real work.
    let bin = repo.path().join("crashing-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("python3");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$2\" in\n  *sys.version_info*) echo 3.11.7; echo \"$0\"; exit 0;;\nesac\necho 'Fatal Python error: Segmentation fault' >&2\nexit 139\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(repo.path().join(".git/info/exclude"), "crashing-bin/\n").unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = xtask_command(repo.path(), &["pre-commit"])
        .env("PATH", path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("the compile check crashed"), "{text}");
    assert!(text.contains("Segmentation fault"), "{text}");
}

#[test]
fn a_hanging_python3_does_not_hang_the_commit_and_is_killed_with_its_children() {
    use crate::support::{Running, hanging_programs, kill_all, processes_with};
    let repo = Repo::new();
    repo.consistent();
    repo.stage("backend/main.py", "print('fine')\n");
    let seconds = 100_000 + u32::from(repo.checkout.port);
    let path = hanging_programs(repo.path(), &["python3", "python", "py"], seconds);
    std::fs::write(repo.path().join(".git/info/exclude"), "hanging-bin/\n").unwrap();
    let mut command = xtask_command(repo.path(), &["pre-commit"]);
    command.env("PATH", path);
    let mut running = Running::spawn(command);
    // Not `Running::wait`, which panics on timeout: the leftovers must be cleaned up
    // even when this fails.
    let mut status = None;
    crate::support::wait_until(std::time::Duration::from_secs(60), || {
        status = running.try_status();
        status.is_some()
    });
    let output = running.output();
    drop(running);
    let left = processes_with(&format!("sleep {seconds}"));
    kill_all(&left);
    let status = status.unwrap_or_else(|| panic!("pre-commit hangs:\n{output}"));
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("`python3`") && output.contains("did not answer within"),
        "{output}"
    );
    assert!(
        output.contains("try `python3 --version` by hand"),
        "{output}"
    );
    assert!(left.is_empty(), "left running: {left:?}");
}

#[test]
fn hard_coded_addresses_in_vue_svelte_and_env_files_and_the_config_itself_fail() {
    let repo = Repo::new();
    repo.stage(
        "dev.toml",
        "[backend]\nport = 8000\n\n[frontend]\nconfig_file = \"frontend/.env\"\nport_key = \"BACKEND_PORT\"\n",
    );
    repo.stage(
        "frontend/.env",
        "BACKEND_PORT=8000\nVITE_API_URL=http://localhost:8001\n",
    );
    repo.stage(
        "frontend/App.vue",
        "<script>fetch('http://localhost:8002/a')</script>\n",
    );
    repo.stage(
        "frontend/Page.svelte",
        "<script>fetch('http://127.0.0.1:8003/b')</script>\n",
    );
    repo.stage("frontend/.env.production", "API=http://[::1]:8004\n");
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 1, "{output}");
    for expected in [
        "frontend/.env:2: hard-codes the backend address localhost:8001",
        "frontend/App.vue:1: hard-codes the backend address localhost:8002",
        "frontend/Page.svelte:1: hard-codes the backend address 127.0.0.1:8003",
        "frontend/.env.production:1: hard-codes the backend address [::1]:8004",
    ] {
        assert!(output.contains(expected), "{expected}: {output}");
    }
}

#[test]
fn with_husky_the_fix_points_at_the_hook_people_edit_not_the_generated_one() {
    let repo = Repo::new();
    repo.consistent();
    repo.git(&["config", "core.hooksPath", ".husky/_"]);
    let generated = "#!/usr/bin/env sh\n. \"$(dirname \"$0\")/h\"\n";
    repo.checkout.write(".husky/_/pre-commit", generated);
    let generated_path = repo.path().join(".husky/_/pre-commit");
    std::fs::set_permissions(&generated_path, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.checkout.write(".husky/pre-commit", "npm test\n");

    let doctor = || {
        let output = xtask_command(repo.path(), &["doctor", "--json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "git-hooks")
            .unwrap()
            .clone()
    };
    let check = doctor();
    assert_eq!(check["status"], "warn", "{check}");
    assert_eq!(
        check["fix"],
        "add the line `cargo xtask pre-commit` to .husky/pre-commit"
    );

    for args in [&[][..], &["--force"]] {
        let (code, output) = install_hooks(repo.path(), args);
        assert_eq!(code, 1, "{output}");
        assert!(output.contains(".husky/pre-commit"), "{output}");
        assert_eq!(std::fs::read_to_string(&generated_path).unwrap(), generated);
    }

    repo.checkout
        .write(".husky/pre-commit", "npm test\ncargo xtask pre-commit\n");
    assert_eq!(doctor()["status"], "ok");
    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 0, "{output}");
    assert!(output.starts_with("already installed"), "{output}");
}

#[test]
fn git_refusing_a_repository_for_dubious_ownership_is_shown_not_called_no_checkout() {
    let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0;
    if !root {
        eprintln!("skipped: needs root to give the repository another owner");
        return;
    }
    let repo = Repo::new();
    repo.consistent();
    std::os::unix::fs::chown(repo.path(), Some(65534), Some(65534)).unwrap();
    let (code, output) = repo.pre_commit();
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("dubious ownership"), "{output}");
    assert!(!output.contains("is not in a git checkout"), "{output}");
    let (code, output) = install_hooks(repo.path(), &[]);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("dubious ownership"), "{output}");
    assert!(output.contains("follow git's advice"), "{output}");
    let doctor = xtask_command(repo.path(), &["doctor", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "git-hooks")
        .unwrap()
        .clone();
    assert_eq!(check["summary"], "git cannot read this checkout", "{check}");
    assert!(
        check["details"][0]
            .as_str()
            .unwrap()
            .contains("dubious ownership"),
        "{check}"
    );
}
