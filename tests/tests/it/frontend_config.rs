//! The frontend-config writer on real files: every byte but the value survives.

use std::os::unix::fs::PermissionsExt;

use coordinator::frontend_config::{
    Change, Outcome, Restore, point_at, point_at_with_url, restore,
};

use crate::support::Checkout;

fn write_and_read(name: &str, before: &str, key: &str, port: u16) -> (Vec<Change>, String) {
    let checkout = Checkout::new();
    checkout.write(name, before);
    let path = checkout.file(name);
    let outcome = point_at(&path, name, key, "127.0.0.1", port).unwrap();
    let Outcome::Written { changes, .. } = outcome else {
        panic!("expected a write");
    };
    (changes, std::fs::read_to_string(path).unwrap())
}

#[test]
fn json_keeps_order_spacing_and_other_keys() {
    let before = r#"{
  "name": "demo",   "backend": {
      "port": 8000,
      "host": "localhost"  ,
      "nested": {"port": 1}
  },
  "z": [1,2,3]
}
"#;
    let (changes, after) = write_and_read("config.json", before, "backend.port", 8001);
    assert_eq!(
        after,
        r#"{
  "name": "demo",   "backend": {
      "port": 8001,
      "host": "127.0.0.1"  ,
      "nested": {"port": 1}
  },
  "z": [1,2,3]
}
"#
    );
    assert_eq!(
        changes,
        [
            Change {
                key: "backend.port".into(),
                old: "8000".into(),
                new: "8001".into()
            },
            Change {
                key: "backend.host".into(),
                old: "localhost".into(),
                new: "127.0.0.1".into()
            }
        ]
    );
}

#[test]
fn toml_keeps_comments_and_order() {
    let before = "# frontend settings\n[backend]\nhost = \"127.0.0.1\" # loopback\nport = 8000   # the API\n\n[ui]\ntheme = \"dark\"\n";
    let (_, after) = write_and_read("settings.toml", before, "backend.port", 8123);
    assert_eq!(
        after,
        "# frontend settings\n[backend]\nhost = \"127.0.0.1\" # loopback\nport = 8123   # the API\n\n[ui]\ntheme = \"dark\"\n"
    );
}

#[test]
fn env_replaces_the_line_or_appends_it() {
    let before = "# api\nexport BACKEND_PORT=8000 # keep me\nBACKEND_HOST=localhost\nOTHER=1\n";
    let (_, after) = write_and_read(".env", before, "BACKEND_PORT", 8002);
    assert_eq!(
        after,
        "# api\nexport BACKEND_PORT=8002 # keep me\nBACKEND_HOST=127.0.0.1\nOTHER=1\n"
    );
    let (changes, after) = write_and_read(".env", "OTHER=1", "BACKEND_PORT", 8003);
    assert_eq!(after, "OTHER=1\nBACKEND_PORT=8003\n");
    assert_eq!(changes[0].old, "(unset)");
}

#[test]
fn an_unchanged_file_is_not_rewritten() {
    let checkout = Checkout::new();
    checkout.write(
        "config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 8000}}",
    );
    let path = checkout.file("config.json");
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let outcome = point_at(&path, "config.json", "backend.port", "127.0.0.1", 8000).unwrap();
    assert!(matches!(outcome, Outcome::Unchanged));
    let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    assert_eq!(
        inode, after,
        "an atomic rewrite would have replaced the inode"
    );
}

#[test]
fn a_malformed_file_is_an_error_with_line_and_column_and_is_left_untouched() {
    let checkout = Checkout::new();
    let broken = "{\n  \"backend\": {\n    \"port\": 8000,\n  }\n}\n";
    checkout.write("frontend/config.json", broken);
    let path = checkout.file("frontend/config.json");
    let err = point_at(
        &path,
        "frontend/config.json",
        "backend.port",
        "127.0.0.1",
        8001,
    )
    .expect_err("trailing comma");
    assert_eq!(err.location, "frontend/config.json:4:3");
    assert!(err.message.contains("is not valid JSON"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);

    checkout.write("app.toml", "[backend\nport = 8000\n");
    let err = point_at(
        &checkout.file("app.toml"),
        "app.toml",
        "backend.port",
        "127.0.0.1",
        8001,
    )
    .expect_err("unclosed table");
    assert!(err.location.starts_with("app.toml:1:"), "{err}");
    assert!(err.message.contains("is not valid TOML"), "{err}");
}

#[test]
fn a_read_only_file_is_an_error_naming_it() {
    let checkout = Checkout::new();
    let content = "{\"backend\": {\"port\": 8000}}";
    checkout.write("config.json", content);
    let path = checkout.file("config.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err =
        point_at(&path, "config.json", "backend.port", "127.0.0.1", 8001).expect_err("read-only");
    assert_eq!(err.location, "config.json");
    assert!(err.message.contains("read-only"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    let leftovers: Vec<_> = std::fs::read_dir(checkout.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
}

#[test]
fn a_missing_key_is_an_error_naming_it() {
    let checkout = Checkout::new();
    checkout.write("config.json", "{\"api\": {\"port\": 8000}}");
    let err = point_at(
        &checkout.file("config.json"),
        "config.json",
        "backend.port",
        "127.0.0.1",
        8001,
    )
    .expect_err("no such key");
    assert!(err.message.contains("`backend.port`"), "{err}");
    assert!(err.fix.contains("frontend.port_key"), "{err}");
}

#[test]
fn restore_puts_back_the_old_bytes_unless_the_file_was_edited_meanwhile() {
    let checkout = Checkout::new();
    let before = "{ \"backend\": { \"port\": 8000 } }\n";
    checkout.write("config.json", before);
    let path = checkout.file("config.json");
    let Outcome::Written { undo, .. } =
        point_at(&path, "config.json", "backend.port", "127.0.0.1", 8005).unwrap()
    else {
        panic!("expected a write");
    };
    assert_eq!(restore(&undo), Restore::Restored);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

    let Outcome::Written { undo, .. } =
        point_at(&path, "config.json", "backend.port", "127.0.0.1", 8005).unwrap()
    else {
        panic!("expected a write");
    };
    std::fs::write(&path, "{ \"backend\": { \"port\": 9999 } }\n").unwrap();
    assert_eq!(restore(&undo), Restore::EditedMeanwhile);
    assert!(
        std::fs::read_to_string(&path).unwrap().contains("9999"),
        "the edit wins"
    );
}

#[test]
fn duplicate_keys_edit_the_occurrence_the_frontend_reads_the_last() {
    let (_, after) = write_and_read(
        "config.json",
        "{\"backend\": {\"port\": 1}, \"backend\": {\"port\": 8000}}\n",
        "backend.port",
        8001,
    );
    assert_eq!(
        after,
        "{\"backend\": {\"port\": 1}, \"backend\": {\"port\": 8001}}\n"
    );
    let (_, after) = write_and_read(
        ".env",
        "BACKEND_PORT=1\nBACKEND_PORT=8000\n",
        "BACKEND_PORT",
        8001,
    );
    assert_eq!(after, "BACKEND_PORT=1\nBACKEND_PORT=8001\n");
    let checkout = Checkout::new();
    checkout.write(".env", "BACKEND_PORT=1\nBACKEND_PORT=8000\n");
    let read = coordinator::frontend_config::read(&checkout.file(".env"), ".env", "BACKEND_PORT");
    assert_eq!(read.unwrap().as_deref(), Some("8000"));
}

#[test]
fn a_port_key_naming_an_object_or_table_is_refused_and_the_file_untouched() {
    for (name, before, key) in [
        (
            "config.json",
            "{\"backend\": {\"port\": 8000}}\n",
            "backend",
        ),
        ("config.toml", "[backend]\nport = 8000\n", "backend"),
        ("config.toml", "backend = { port = 8000 }\n", "backend"),
    ] {
        let checkout = Checkout::new();
        checkout.write(name, before);
        let path = checkout.file(name);
        let err = point_at(&path, name, key, "127.0.0.1", 8001).expect_err("not a scalar");
        assert!(err.message.starts_with("`backend` is "), "{err}");
        assert!(err.message.contains("not a port value"), "{err}");
        assert!(err.fix.contains("frontend.port_key"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }
}

#[test]
fn a_byte_order_mark_is_accepted_and_never_duplicates_the_env_line() {
    let (_, after) = write_and_read(
        "config.json",
        "\u{feff}{\"backend\": {\"port\": 8000}}\n",
        "backend.port",
        8001,
    );
    assert_eq!(after, "\u{feff}{\"backend\": {\"port\": 8001}}\n");
    let (changes, after) =
        write_and_read(".env", "\u{feff}BACKEND_PORT=8000\n", "BACKEND_PORT", 8001);
    assert_eq!(after, "\u{feff}BACKEND_PORT=8001\n");
    assert_eq!(changes[0].old, "8000");
}

#[test]
fn env_quotes_are_kept_and_comments_without_a_space_are_comments() {
    let (_, after) = write_and_read(
        ".env",
        "BACKEND_PORT=\"8000\"\nBACKEND_HOST='localhost'\n",
        "BACKEND_PORT",
        8001,
    );
    assert_eq!(after, "BACKEND_PORT=\"8001\"\nBACKEND_HOST='127.0.0.1'\n");
    let (changes, after) = write_and_read(".env", "BACKEND_PORT=8000#api\n", "BACKEND_PORT", 8001);
    assert_eq!(changes[0].old, "8000");
    assert_eq!(after, "BACKEND_PORT=8001#api\n");
}

#[test]
fn toml_integers_with_underscores_are_numbers() {
    let checkout = Checkout::new();
    checkout.write("config.toml", "[backend]\nport = 8_000\n");
    let read = coordinator::frontend_config::read(
        &checkout.file("config.toml"),
        "config.toml",
        "backend.port",
    );
    assert_eq!(read.unwrap().as_deref(), Some("8000"));
    checkout.write("dev.toml", "[backend]\nport = 8_100\n");
    let config = coordinator::config::Config::load(checkout.path(), &|_| None, &[]).unwrap();
    assert_eq!(config.backend.port, 8100);
}

#[test]
fn the_url_key_gets_the_whole_url_as_a_string_in_each_format() {
    let url = "https://gpu-box:8443";
    // (file, before, after)
    let cases = [
        (
            "config.json",
            "{\"backend\": {\"port\": 1, \"url\": null}}\n",
            "{\"backend\": {\"port\": 8443, \"url\": \"https://gpu-box:8443\"}}\n",
        ),
        (
            "config.toml",
            "[backend]\nport = 1 # kept\nurl = \"http://old\"\n",
            "[backend]\nport = 8443 # kept\nurl = \"https://gpu-box:8443\"\n",
        ),
        (
            ".env",
            "BACKEND_PORT=1\n",
            "BACKEND_PORT=8443\nBACKEND_URL=https://gpu-box:8443\n",
        ),
    ];
    for (name, before, after) in cases {
        let checkout = Checkout::new();
        checkout.write(name, before);
        let path = checkout.file(name);
        let (port_key, url_key) = if name == ".env" {
            ("BACKEND_PORT", "BACKEND_URL")
        } else {
            ("backend.port", "backend.url")
        };
        point_at_with_url(&path, name, port_key, "gpu-box", 8443, Some((url_key, url))).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "{name}");
    }
    let checkout = Checkout::new();
    checkout.write("config.json", "{\"backend\": {\"port\": 1}}\n");
    let err = point_at_with_url(
        &checkout.file("config.json"),
        "config.json",
        "backend.port",
        "gpu-box",
        8443,
        Some(("backend.url", url)),
    )
    .expect_err("no url key");
    assert!(err.to_string().contains("frontend.url_key"), "{err}");
}
