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
