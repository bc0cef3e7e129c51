//! The Python environment sync, on real virtualenvs.

use std::collections::HashMap;

use coordinator::config::Config;
use coordinator::python::venv_python;
use coordinator::runlog::RunLog;
use coordinator::venv::{self, MARKER, SyncOutcome};

use crate::support::Checkout;

#[test]
fn sync_creates_then_skips_then_redoes_when_requirements_change() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    // No package: the test is about when the sync runs, not about the index.
    checkout.write("backend/requirements.txt", "# no packages yet\n");
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-test");
    let lock_dir = checkout.file(".dev");
    let sync = || venv::sync(&config.backend, &config.root, &lock_dir, &log).unwrap();

    assert!(!venv::is_up_to_date(&config.backend));
    assert!(matches!(sync(), SyncOutcome::Synced { created: true, .. }));
    let python = venv_python(&config.backend.venv);
    assert!(python.exists(), "the venv has an interpreter");
    assert!(venv::is_up_to_date(&config.backend));
    let marker = config.backend.venv.join(MARKER);
    let marked = std::fs::metadata(&marker).unwrap().modified().unwrap();

    assert_eq!(sync(), SyncOutcome::UpToDate);
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        marked,
        "an up-to-date venv is not touched"
    );

    checkout.write("backend/requirements.txt", "# still none, but changed\n");
    assert!(!venv::is_up_to_date(&config.backend));
    assert!(matches!(sync(), SyncOutcome::Synced { created: false, .. }));
    assert!(venv::is_up_to_date(&config.backend));
}

#[test]
fn a_failed_install_is_reported_with_the_command_and_output() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    checkout.write(
        "backend/requirements.txt",
        "this is not a requirement ===\n",
    );
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-test");
    let err = venv::sync(&config.backend, &config.root, &checkout.file(".dev"), &log)
        .expect_err("an invalid requirement cannot install");
    let text = err.to_string();
    assert!(text.contains("installing"), "{text}");
    assert!(text.contains("requirements.txt"), "{text}");
    assert!(!err.tail.is_empty(), "the output is kept: {text}");
    assert!(
        !venv::is_up_to_date(&config.backend),
        "no marker after a failure"
    );
}

#[test]
fn without_a_requirements_file_there_is_nothing_to_sync() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-test");
    let outcome = venv::sync(&config.backend, &config.root, &checkout.file(".dev"), &log).unwrap();
    assert_eq!(outcome, SyncOutcome::NoRequirements);
    assert!(!config.backend.venv.exists());
}

#[test]
fn editing_an_included_requirements_file_resyncs_and_resync_forces_one() {
    let checkout = Checkout::new();
    checkout.write("dev.toml", "");
    checkout.write("backend/requirements.txt", "-r base.txt\n");
    checkout.write("backend/base.txt", "# no packages yet\n");
    let env = HashMap::<String, String>::new();
    let config = Config::load(checkout.path(), &|n| env.get(n).cloned(), &[]).unwrap();
    let log = RunLog::create(&checkout.file(".dev/logs"), "dev-1-test");
    let lock_dir = checkout.file(".dev");
    let sync = || venv::sync(&config.backend, &config.root, &lock_dir, &log).unwrap();
    assert!(matches!(sync(), SyncOutcome::Synced { created: true, .. }));
    assert_eq!(sync(), SyncOutcome::UpToDate);

    checkout.write("backend/base.txt", "# still none, but changed\n");
    assert!(!venv::is_up_to_date(&config.backend), "the include changed");
    assert!(matches!(sync(), SyncOutcome::Synced { created: false, .. }));
    assert_eq!(sync(), SyncOutcome::UpToDate);

    // `dev --resync`: the next sync runs although nothing changed.
    venv::forget_sync(&config.backend).unwrap();
    assert!(matches!(sync(), SyncOutcome::Synced { created: false, .. }));
}
