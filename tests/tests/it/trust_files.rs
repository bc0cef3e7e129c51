//! Issue 28 (part B): dev trusts nothing of the user's files and of the run records that
//! it did not make. It deletes only its own logs and records, checks a record (boot ID,
//! correlation ID, the one value it saved) before believing it, refuses a config file
//! that would block its read, never writes hooks outside the repository, keeps watching
//! a replaced folder, and keeps a config file's owner.

use std::time::Duration;

use crate::support::Checkout;

const LONG: Duration = Duration::from_secs(30);

#[test]
fn the_users_log_files_survive_pruning() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "log_dir = \"shared-logs\"\nkeep_logs = 3\n");
    let dir = checkout.file("shared-logs");
    std::fs::create_dir_all(&dir).unwrap();
    let mut theirs = vec!["server.log".to_owned()];
    theirs.extend((1..=25).map(|i| format!("app-{i}.log")));
    for name in &theirs {
        std::fs::write(dir.join(name), "the user's\n").unwrap();
    }
    // Five old logs of dev's own: all but the newest two go (the new run's makes three).
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for i in 0..5u64 {
        let path = dir.join(format!("dev-{}-00000{i}.log", 1_000 + i));
        std::fs::write(&path, "old\n").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(old + Duration::from_secs(i)).unwrap();
    }
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    for name in &theirs {
        assert!(dir.join(name).exists(), "{name} was deleted: {output}");
    }
    let mut ours: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("dev-"))
        .collect();
    ours.sort();
    assert_eq!(ours.len(), 3, "{ours:?}");
    assert!(ours.contains(&"dev-1003-000003.log".to_owned()), "{ours:?}");
    assert!(ours.contains(&"dev-1004-000004.log".to_owned()), "{ours:?}");
}

/// `dev --print-config` in `checkout` with `env` and `args`: (exit code, stdout, stderr).
fn print_config(checkout: &Checkout, env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut argv = vec!["dev", "--print-config"];
    argv.extend(args);
    let mut command = checkout.command(&argv);
    command.envs(env.iter().copied());
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_grouped_port_means_the_same_in_every_layer_and_another_base_in_none() {
    let checkout = Checkout::new();
    for (toml, env, args) in [
        ("[backend]\nport = 8_001\n", vec![], vec![]),
        ("", vec![("BACKEND_PORT", "8_001")], vec![]),
        ("", vec![("DEV_BACKEND_PORT", "8_001")], vec![]),
        ("", vec![], vec!["--port", "8_001"]),
    ] {
        checkout.write("dev.toml", toml);
        let (code, stdout, stderr) = print_config(&checkout, &env, &args);
        assert_eq!(code, 0, "{toml} {env:?} {args:?}: {stderr}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("backend.port"))
            .unwrap();
        assert!(line.contains("= 8001"), "{toml} {env:?} {args:?}: {line}");
    }
    for (toml, env, args) in [
        ("[backend]\nport = 0x1f41\n", vec![], vec![]),
        ("", vec![("BACKEND_PORT", "0x1f41")], vec![]),
        ("", vec![("BACKEND_PORT", "8__001")], vec![]),
        ("", vec![], vec!["--port", "+8001"]),
    ] {
        checkout.write("dev.toml", toml);
        let (code, _, stderr) = print_config(&checkout, &env, &args);
        assert_eq!(code, 2, "{toml} {env:?} {args:?}: {stderr}");
        assert!(stderr.contains("a port number from 1 to 65535"), "{stderr}");
    }
}

#[test]
fn durations_below_a_millisecond_are_refused_and_the_cap_is_named() {
    let checkout = Checkout::new();
    for (value, ok) in [
        ("0.5ms", false),
        ("24h", true),
        ("25h", false),
        ("1ms", true),
    ] {
        checkout.write(
            "dev.toml",
            &format!("[backend]\nliveness_interval = \"{value}\"\n"),
        );
        let (code, stdout, stderr) = print_config(&checkout, &[], &[]);
        if ok {
            assert_eq!(code, 0, "{value}: {stderr}");
            assert!(stdout.contains("backend.liveness_interval"), "{stdout}");
        } else {
            assert_eq!(code, 2, "{value}: {stdout}");
            assert!(
                stderr.contains(&format!("invalid value \"{value}\"")) && stderr.contains("to 24h"),
                "{value}: {stderr}"
            );
        }
    }
}

#[test]
fn a_missing_or_unexecutable_backend_program_is_reported_at_once_without_retries() {
    let checkout = Checkout::new();
    checkout.write("not-executable", "#!/bin/sh\nexit 0\n");
    for program in ["./no-such-program", "./not-executable"] {
        checkout.write(
            "dev.toml",
            &format!(
                "[backend]\ncommand = [\"{program}\"]\nport = {}\nattempts = 3\nretry_delay = \"5s\"\n\n\
                 [frontend]\ncommand = [\"true\"]\nport = false\n",
                checkout.port
            ),
        );
        let (status, output) = checkout.run(&["dev", "--no-sync"], LONG);
        assert_eq!(status.code(), Some(1), "{output}");
        assert!(!output.contains("retrying in"), "{output}");
        assert!(!output.contains("attempt 2"), "{output}");
        assert!(output.contains("not retrying"), "{output}");
    }
}

#[test]
fn the_frontend_configs_owner_and_group_survive_a_run() {
    use std::os::unix::fs::MetadataExt;
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    // A port other than the backend's, so that dev writes the file and restores it.
    let original = "{\n  \"backend\": {\"host\": \"127.0.0.1\", \"port\": 1}\n}\n";
    checkout.write("frontend/config.json", original);
    let config = checkout.file("frontend/config.json");
    // Tests run as root: the file belongs to someone else, as a user's file does
    // after `sudo cargo xtask dev`.
    std::os::unix::fs::chown(&config, Some(65534), Some(65534)).unwrap();
    let (status, output) = checkout.run(
        &[
            "dev",
            "--no-sync",
            "--",
            "sh",
            "-c",
            "stat -c 'owner while running: %u:%g' frontend/config.json; cat frontend/config.json",
        ],
        LONG,
    );
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        output.contains(&format!("\"port\": {}", checkout.port)),
        "dev wrote the file: {output}"
    );
    assert!(
        output.contains("owner while running: 65534:65534"),
        "{output}"
    );
    let meta = std::fs::metadata(&config).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534), "{output}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "{output}"
    );
}

fn mkfifo(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_fifo_as_a_config_file_is_refused_with_its_path_at_once() {
    // The frontend config: dev used to block on it holding both locks, deaf to Ctrl-C.
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    mkfifo(&checkout.file("frontend/config.json"));
    let started = std::time::Instant::now();
    // Were it read, the read would block for good: the deadline is the test's failure.
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    let took = started.elapsed();
    assert_ne!(status.code(), Some(0), "{output}");
    assert!(
        output.contains("frontend/config.json") && output.contains("FIFO"),
        "{output}"
    );
    eprintln!("a FIFO as frontend config refused after {took:?}");
    // The next run is not kept waiting by a lock the first one left.
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert!(
        output.contains("FIFO") && !output.contains("waiting"),
        "{output}"
    );
    assert_ne!(status.code(), Some(0), "{output}");

    // dev.toml itself.
    let other = Checkout::new();
    mkfifo(&other.file("dev.toml"));
    let (status, output) = other.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(2), "{output}");
    assert!(
        output.contains("dev.toml") && output.contains("FIFO"),
        "{output}"
    );
    let (status, output) = other.run(&["doctor"], LONG);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("FIFO"), "{output}");
}

/// The pid of a process that has exited: a dead run's `dev`.
fn dead_pid() -> u32 {
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    gone.wait().unwrap();
    pid
}

/// The start time `/proc/<pid>/stat` gives (what a record holds).
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn this_boot() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_owned()
}

/// A dead run's record as dev writes it, with `fields` replacing its defaults.
fn dead_record(id: &str, fields: serde_json::Value) -> String {
    let mut record = serde_json::json!({
        "correlation_id": id,
        "boot_id": this_boot(),
        "pid": dead_pid(),
        "start_time": 1,
        "started_unix_ms": 1,
        "backend_port": null,
        "frontend_port": null,
        "backend": {"kind": "none"},
        "started": [],
        "frontend_config": null,
        "log_file": null
    });
    for (key, value) in fields.as_object().unwrap() {
        record[key] = value.clone();
    }
    serde_json::to_string_pretty(&record).unwrap()
}

fn frontend_config(port: u16) -> String {
    format!("{{\n  \"backend\": {{\"host\": \"127.0.0.1\", \"port\": {port}}}\n}}\n")
}

#[test]
fn a_record_from_another_boot_signals_nothing_and_restores_only_its_own_write() {
    use std::os::unix::process::CommandExt;
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    // An unrelated program whose pid and start time the record names exactly, as the
    // same numbers can name anything after a reboot.
    let mut unrelated = std::process::Command::new("sleep")
        .arg("901")
        .process_group(0)
        .spawn()
        .unwrap();
    let _kill = crate::support::KillOnDrop(unrelated.id());
    let config = checkout.file("frontend/config.json");
    let (original, written) = (frontend_config(checkout.port), frontend_config(7));
    checkout.write("frontend/config.json", &written);
    let record = dead_record(
        "dev-1-00b007",
        serde_json::json!({
            "boot_id": "00000000-0000-0000-0000-000000000000",
            "backend": {"kind": "owned", "pid": unrelated.id()},
            "started": [{"role": "backend", "pid": unrelated.id(),
                         "start_time": start_time(unrelated.id()),
                         "group": true, "cmdline": "sleep 901"}],
            "frontend_config": {"path": config, "original": original.as_bytes(),
                                "written": written.as_bytes()},
        }),
    );
    checkout.write(".dev/runs/dev-1-00b007.json", &record);
    let (_, doctor) = checkout.run(&["doctor"], LONG);
    assert!(!doctor.contains(&unrelated.id().to_string()), "{doctor}");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(
        unrelated.try_wait().unwrap().is_none(),
        "signalled: {output}"
    );
    assert!(output.contains("before the last reboot"), "{output}");
    assert!(!output.contains("sleep 901"), "{output}");
    // The file held exactly what the record says dev wrote: its one value goes back.
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "{output}"
    );
}

#[test]
fn a_record_with_a_path_for_an_id_deletes_nothing_and_is_moved_aside_with_a_warning() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim.json");
    std::fs::write(&victim, "the user's\n").unwrap();
    let id = outside.path().join("victim").display().to_string();
    checkout.write(
        ".dev/runs/dev-1-0000aa.json",
        &dead_record(&id, serde_json::json!({})),
    );
    checkout.write(
        ".dev/runs/dev-2-0000bb.json",
        "{\"correlation_id\": \"dev-2-0",
    );
    checkout.write(".dev/runs/dev-3-0000cc.json", "");
    for _ in 0..2 {
        let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
        assert_eq!(status.code(), Some(0), "{output}");
        assert!(victim.exists(), "{output}");
    }
    let aside = checkout.file(".dev/runs/unreadable");
    for name in [
        "dev-1-0000aa.json",
        "dev-2-0000bb.json",
        "dev-3-0000cc.json",
    ] {
        assert!(aside.join(name).exists(), "{name}");
        assert!(
            !checkout.file(&format!(".dev/runs/{name}")).exists(),
            "{name}"
        );
    }
    // Said on the run that found them, naming each.
    let checkout2 = Checkout::new();
    checkout2.fake_config(&[], "", "");
    checkout2.write(".dev/runs/dev-2-0000bb.json", "garbage");
    let (_, output) = checkout2.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert!(
        output.contains(".dev/runs/unreadable/dev-2-0000bb.json") && output.contains("moved aside"),
        "{output}"
    );
}

#[test]
fn a_records_saved_original_is_restored_only_as_the_value_it_describes() {
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let config = checkout.file("frontend/config.json");
    let written = frontend_config(7);
    checkout.write("frontend/config.json", &written);
    let record = dead_record(
        "dev-1-00f00d",
        serde_json::json!({
            "frontend_config": {"path": config,
                                "original": b"totally different content, not JSON".as_slice(),
                                "written": written.as_bytes()},
        }),
    );
    checkout.write(".dev/runs/dev-1-00f00d.json", &record);
    let (status, output) =
        checkout.run(&["dev", "--no-sync", "--port", "auto", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    let now = std::fs::read_to_string(&config).unwrap();
    assert!(!now.contains("totally different"), "{output}");
    assert!(output.contains("not written back"), "{output}");
    // A record naming another file than the frontend config writes nothing there.
    let outside = tempfile::tempdir().unwrap();
    let other = outside.path().join("notes.json");
    std::fs::write(&other, "{\"backend\": {\"port\": 7}}").unwrap();
    let record = dead_record(
        "dev-2-00f00d",
        serde_json::json!({
            "frontend_config": {"path": other,
                                "original": b"{\"backend\": {\"port\": 8}}".as_slice(),
                                "written": b"{\"backend\": {\"port\": 7}}".as_slice()},
        }),
    );
    checkout.write(".dev/runs/dev-2-00f00d.json", &record);
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], LONG);
    assert_eq!(status.code(), Some(0), "{output}");
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "{\"backend\": {\"port\": 7}}",
        "{output}"
    );
}

#[test]
fn waiting_for_another_runs_lock_names_it_and_answers_ctrl_c() {
    use std::io::Write;
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    std::fs::create_dir_all(checkout.file(".dev/runs")).unwrap();
    for (lock, holder) in [
        (".lock", "dev-1-00aa11 4242"),
        (".start.lock", "dev-2-00bb22 4343"),
    ] {
        // Another run holds it (this test, as the kernel sees it), and wrote who it is.
        let mut file = std::fs::File::create(checkout.file(&format!(".dev/runs/{lock}"))).unwrap();
        file.lock().unwrap();
        writeln!(file, "{holder}").unwrap();
        let (id, pid) = holder.split_once(' ').unwrap();
        let mut dev = checkout.spawn(&["dev", "--no-sync", "--", "sleep", "60"]);
        dev.expect_line(&format!("waiting for dev run {id} (pid {pid})"), LONG);
        dev.signal(nix::sys::signal::Signal::SIGINT);
        let status = dev.wait(Duration::from_secs(10));
        assert_eq!(status.code(), Some(0), "{lock}: {}", dev.output());
        assert!(
            !dev.output().contains("started backend"),
            "{}",
            dev.output()
        );
        drop(file);
    }
}

#[test]
fn install_hooks_refuses_a_global_hooks_path_unless_forced_after_a_warning() {
    let repo = Checkout::new();
    let home = tempfile::tempdir().unwrap();
    let shared = home.path().join("global-hooks");
    let global = home.path().join("gitconfig");
    std::fs::write(
        &global,
        format!("[core]\n\thooksPath = {}\n", shared.display()),
    )
    .unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_CONFIG_GLOBAL", &global)
            .status()
            .unwrap();
        assert!(status.success());
    };
    git(&["init", "-q", "-b", "main"]);
    let install = |args: &[&str]| {
        let mut all = vec!["install-hooks"];
        all.extend_from_slice(args);
        let output = repo
            .command(&all)
            .env("GIT_CONFIG_GLOBAL", &global)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap(), text)
    };
    let (code, text) = install(&[]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("outside this repository") && text.contains("global"),
        "{text}"
    );
    assert!(text.contains("git config --local core.hooksPath"), "{text}");
    assert!(!shared.join("pre-commit").exists(), "{text}");
    let (code, text) = install(&["--force"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("warning:") && text.contains("every repository"),
        "{text}"
    );
    assert!(shared.join("pre-commit").exists(), "{text}");
    // The fix it names gives the repository its own folder: installed there.
    std::fs::remove_file(shared.join("pre-commit")).unwrap();
    let own = repo.file(".git/hooks");
    git(&[
        "config",
        "--local",
        "core.hooksPath",
        &own.display().to_string(),
    ]);
    let (code, text) = install(&[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        own.join("pre-commit").exists() && !shared.join("pre-commit").exists(),
        "{text}"
    );
}

#[test]
fn a_replaced_watched_folder_keeps_restarting_the_backend() {
    use crate::watch::{count, watched_checkout, write_app};
    let checkout = watched_checkout("");
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    dev.expect_line("watching backend/**/*.py", LONG);
    dev.expect_line("started frontend", LONG);
    // The folder itself replaced, as `mv backend backend.old` and a fresh copy do.
    std::fs::rename(checkout.file("backend"), checkout.file("backend.old")).unwrap();
    std::fs::create_dir(checkout.file("backend")).unwrap();
    write_app(&checkout, "the new folder");
    dev.expect_line("watch: backend ", LONG);
    dev.expect_line("changed: restarting the backend", LONG);
    assert!(crate::support::wait_until(LONG, || count(
        &dev,
        "backend ready again in"
    ) >= 1));
    // And every save after that still counts.
    for round in 2..=3 {
        let before = count(&dev, "changed: restarting the backend");
        write_app(&checkout, &format!("save {round}"));
        assert!(
            crate::support::wait_until(LONG, || count(&dev, "changed: restarting the backend")
                > before),
            "{}",
            dev.output()
        );
        assert!(crate::support::wait_until(LONG, || count(
            &dev,
            "backend ready again in"
        ) >= round));
    }
    // A save in the old folder is not a source any more.
    let before = count(&dev, "changed: restarting the backend");
    std::fs::write(checkout.file("backend.old/app.py"), "# old\n").unwrap();
    let restarted = crate::support::wait_until(Duration::from_secs(1), || {
        count(&dev, "changed: restarting the backend") > before
    });
    assert!(!restarted, "{}", dev.output());
    // Gone for a while, then made again: watched again.
    std::fs::rename(checkout.file("backend"), checkout.file("backend.older")).unwrap();
    dev.expect_line("watch: backend is gone", LONG);
    std::fs::create_dir(checkout.file("backend")).unwrap();
    let before = count(&dev, "changed: restarting the backend");
    write_app(&checkout, "made again");
    dev.expect_line("watch: backend is back", LONG);
    assert!(
        crate::support::wait_until(LONG, || count(&dev, "changed: restarting the backend")
            > before),
        "{}",
        dev.output()
    );
    dev.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn node_modules_target_and_dev_are_never_walked_unless_a_pattern_names_them() {
    use crate::watch::watched_checkout;
    let checkout = watched_checkout("");
    let text = std::fs::read_to_string(checkout.file("dev.toml"))
        .unwrap()
        .replace("watch = [\"backend/**/*.py\"]", "watch = [\"**/*.py\"]");
    checkout.write("dev.toml", &text);
    for top in [
        "node_modules",
        "frontend/node_modules",
        "target",
        ".dev/cache",
    ] {
        for i in 0..40 {
            std::fs::create_dir_all(checkout.file(&format!("{top}/pkg{i}/lib"))).unwrap();
        }
    }
    let mut dev = checkout.spawn(&["dev", "--no-sync"]);
    let line = dev.expect_line("watching **/*.py for changes (", LONG);
    let folders: usize = line
        .split("for changes (")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    // The checkout's own folders (the root, backend, frontend, .dev, .dev/logs, ...),
    // none of the 320 under the four.
    assert!(folders < 10, "{line}");
    dev.signal(nix::sys::signal::Signal::SIGINT);
    assert_eq!(dev.wait(LONG).code(), Some(0), "{}", dev.output());
}

#[test]
fn a_config_whose_owner_dev_may_not_keep_is_written_in_place_and_said_so() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let checkout = Checkout::new();
    checkout.fake_config(&[], "", "");
    let original = "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 1}}\n";
    checkout.write("frontend/config.json", original);
    let config = checkout.file("frontend/config.json");
    // dev runs as nobody; the file is root's, writable by all: nobody may write it but
    // not give a replacement root as its owner.
    let open = std::fs::Permissions::from_mode(0o777);
    std::fs::set_permissions(checkout.path(), open.clone()).unwrap();
    std::fs::set_permissions(checkout.file("frontend"), open).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_dev-xtask"))
        .args(["dev", "--no-sync", "--", "sh", "-c"])
        .arg("stat -c 'owner while running: %u:%g' frontend/config.json; cat frontend/config.json")
        .current_dir(checkout.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("\"port\": {}", checkout.port)),
        "{text}"
    );
    assert!(text.contains("owner while running: 0:0"), "{text}");
    assert!(
        text.contains("written in place rather than replaced atomically"),
        "{text}"
    );
    let meta = std::fs::metadata(&config).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "{text}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "{text}"
    );
}
