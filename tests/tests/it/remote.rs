//! A backend `dev` does not start (`backend.url`): a real TLS server (the fake backend
//! with a certificate made here by `rcgen`, signed by a CA made here), an unknown issuer,
//! `backend.ca_file`, a certificate for another name, another service, and a remote
//! backend that stops answering. Nothing is spawned and no venv is made in this mode.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::support::{Checkout, Running, fake_backend};

const RUN: Duration = Duration::from_secs(60);

/// A CA and a leaf it signed, written as PEM files into `dir`: `ca.pem`, `leaf.pem`,
/// `leaf.key`. The leaf is valid for `names`.
fn certificates(dir: &Path, names: &[&str]) {
    certificates_valid(dir, names, None);
}

/// As [`certificates`], with the leaf valid only in `years` (first, last) when given.
fn certificates_valid(dir: &Path, names: &[&str], years: Option<(i32, i32)>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "dev test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf = CertificateParams::new(names).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "fake backend");
    if let Some((first, last)) = years {
        leaf.not_before = rcgen::date_time_ymd(first, 1, 1);
        leaf.not_after = rcgen::date_time_ymd(last, 1, 1);
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf_cert.pem()).unwrap();
    std::fs::write(dir.join("leaf.key"), leaf_key.serialize_pem()).unwrap();
}

/// The fake backend serving https with the checkout's `certs/leaf.*` on its port.
fn tls_backend(checkout: &Checkout, args: &[&str]) -> Running {
    let certs = checkout.file("certs");
    let mut command = Command::new("python3");
    command
        .arg(fake_backend())
        .arg("--tls-cert")
        .arg(certs.join("leaf.pem"))
        .arg("--tls-key")
        .arg(certs.join("leaf.key"))
        .args(args)
        .current_dir(checkout.path())
        .env("BACKEND_PORT", checkout.port.to_string());
    let backend = Running::spawn(command);
    backend.expect_line("fake: listening on https://", Duration::from_secs(30));
    backend
}

/// A `dev.toml` for a backend at `url`. Its command would leave `spawned` behind and its
/// requirements would make a venv, if remote mode ever ran or synced anything.
fn remote_config(checkout: &Checkout, url: &str, extra: &str) {
    let timeout = if extra.contains("startup_timeout") {
        ""
    } else {
        "startup_timeout = \"10s\"\n"
    };
    checkout.write("backend/requirements.txt", "requests\n");
    checkout.write(
        "frontend/config.json",
        "{\n  \"backend\": {\n    \"host\": \"127.0.0.1\",\n    \"port\": 1\n  }\n}\n",
    );
    checkout.write(
        "dev.toml",
        &format!(
            "[backend]\ncommand = [\"sh\", \"-c\", \"touch spawned; sleep 3600\"]\nurl = \"{url}\"\n\
             {timeout}{extra}\n\n[frontend]\ncommand = [\"sleep\", \"3600\"]\n\
             port = false\n\n[dev]\nshutdown_grace = \"2s\"\n"
        ),
    );
}

fn assert_nothing_started(checkout: &Checkout) {
    assert!(
        !checkout.file("spawned").exists(),
        "the backend command ran"
    );
    assert!(
        !checkout.file("backend/.venv").exists(),
        "a venv was made in remote mode"
    );
}

#[test]
fn an_https_backend_signed_by_an_unknown_ca_names_the_issuer_and_backend_ca_file() {
    let checkout = Checkout::new();
    certificates(&checkout.file("certs"), &["localhost", "127.0.0.1"]);
    let _backend = tls_backend(&checkout, &[]);
    remote_config(
        &checkout,
        &format!("https://127.0.0.1:{}", checkout.port),
        "",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("issued by \"CN=dev test CA\""), "{output}");
    assert!(output.contains("set backend.ca_file"), "{output}");
    assert!(output.contains("correlation id: dev-"), "{output}");
    assert_nothing_started(&checkout);
}

#[test]
fn with_ca_file_the_command_gets_the_https_url_and_the_frontend_config_its_port() {
    let checkout = Checkout::new();
    certificates(&checkout.file("certs"), &["localhost", "127.0.0.1"]);
    let backend = tls_backend(&checkout, &["--workspace", "/srv/elsewhere"]);
    let url = format!("https://127.0.0.1:{}", checkout.port);
    remote_config(&checkout, &url, "ca_file = \"certs/ca.pem\"");
    // `frontend.url_key`: the whole URL too, so that the frontend learns the scheme.
    let toml = std::fs::read_to_string(checkout.file("dev.toml")).unwrap();
    checkout.write(
        "dev.toml",
        &toml.replace("port = false", "port = false\nurl_key = \"backend.url\""),
    );
    checkout.write(
        "frontend/config.json",
        "{\"backend\": {\"host\": \"127.0.0.1\", \"port\": 1, \"url\": null}}\n",
    );
    let (status, output) = checkout.run(
        &[
            "dev",
            "--",
            "sh",
            "-c",
            "echo BACKEND_URL=$BACKEND_URL; tr -d ' \\n' < frontend/config.json; echo",
        ],
        RUN,
    );
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains(&format!("BACKEND_URL={url}\n")), "{output}");
    assert!(
        output.contains(&format!(
            "{{\"backend\":{{\"host\":\"127.0.0.1\",\"port\":{},\"url\":\"{url}\"}}}}",
            checkout.port
        )),
        "{output}"
    );
    assert!(
        output.contains("runs from /srv/elsewhere"),
        "a note, not a refusal:\n{output}"
    );
    let id = output
        .split_whitespace()
        .find(|word| word.starts_with("dev-"))
        .unwrap()
        .to_owned();
    assert!(
        backend
            .output()
            .contains(&format!("GET /health correlation_id={id} -> 200")),
        "the server saw the correlation id {id}:\n{}",
        backend.output()
    );
    assert_nothing_started(&checkout);
}

#[test]
fn a_certificate_for_another_name_gives_the_names_it_is_valid_for() {
    let checkout = Checkout::new();
    certificates(&checkout.file("certs"), &["api.other.test"]);
    let _backend = tls_backend(&checkout, &[]);
    remote_config(
        &checkout,
        &format!("https://127.0.0.1:{}", checkout.port),
        "ca_file = \"certs/ca.pem\"",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("not valid for the name 127.0.0.1"),
        "{output}"
    );
    assert!(output.contains("valid for api.other.test"), "{output}");
    assert_nothing_started(&checkout);
}

#[test]
fn a_remote_backend_of_another_service_is_refused() {
    let checkout = Checkout::new();
    let _backend = checkout.outside_backend(&["--service", "billing"]);
    remote_config(
        &checkout,
        &format!("http://127.0.0.1:{}/", checkout.port),
        "",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("billing"), "{output}");
    assert!(output.contains("demo-backend"), "{output}");
    assert_nothing_started(&checkout);
}

#[test]
fn https_spoken_to_a_plain_http_port_is_said_in_one_line() {
    let checkout = Checkout::new();
    let _backend = checkout.outside_backend(&[]);
    remote_config(
        &checkout,
        &format!("https://127.0.0.1:{}", checkout.port),
        "startup_timeout = \"2s\"",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("answered in plain http, not TLS"),
        "{output}"
    );
}

#[test]
fn a_remote_backend_that_stops_answering_is_reported_not_restarted() {
    let checkout = Checkout::new();
    let mut backend = checkout.outside_backend(&[]);
    remote_config(
        &checkout,
        &format!("http://127.0.0.1:{}", checkout.port),
        "liveness_interval = \"100ms\"\nliveness_failures = 2",
    );
    let mut dev = checkout.spawn(&["dev"]);
    dev.expect_line("ready in", RUN);
    backend.signal(Signal::SIGTERM);
    backend.wait(RUN);
    dev.expect_line("stopped answering", RUN);
    dev.expect_line("does not start or restart the backend", RUN);
    dev.signal(Signal::SIGTERM);
    assert_eq!(dev.wait(RUN).code(), Some(0), "{}", dev.output());
    assert!(!dev.output().contains("restarting"), "{}", dev.output());
    assert_nothing_started(&checkout);
}

#[test]
fn plain_http_spoken_to_an_https_port_is_said_in_one_line() {
    let checkout = Checkout::new();
    certificates(&checkout.file("certs"), &["localhost", "127.0.0.1"]);
    let _backend = tls_backend(&checkout, &[]);
    remote_config(
        &checkout,
        &format!("http://127.0.0.1:{}", checkout.port),
        "startup_timeout = \"2s\"",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("if that port speaks https, the URL must start with https://"),
        "{output}"
    );
}

/// `doctor --json` in the checkout; the check with `id`.
fn doctor_check(checkout: &Checkout, id: &str) -> serde_json::Value {
    let output = checkout.command(&["doctor", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    crate::support::doctor_check(&report, id).clone()
}

#[test]
fn doctor_reports_each_layer_of_a_remote_backend_with_its_own_fix() {
    let checkout = Checkout::new();
    certificates(&checkout.file("certs"), &["localhost", "127.0.0.1"]);
    let _backend = tls_backend(&checkout, &[]);
    let url = format!("https://localhost:{}", checkout.port);
    remote_config(&checkout, &url, "");
    let untrusted = doctor_check(&checkout, "backend-remote");
    assert_eq!(untrusted["status"], "error", "{untrusted}");
    let summary = untrusted["summary"].as_str().unwrap();
    assert!(
        summary.contains("issued by \"CN=dev test CA\""),
        "{untrusted}"
    );
    assert!(
        untrusted["fix"]
            .as_str()
            .unwrap()
            .contains("backend.ca_file"),
        "{untrusted}"
    );
    assert!(
        untrusted["data"]["dns"]["addresses"].is_array(),
        "{untrusted}"
    );
    assert!(untrusted["data"]["connect_ms"].is_number(), "{untrusted}");
    let health = doctor_check(&checkout, "backend-health");
    assert_eq!(
        health["status"], "skip",
        "no answer without the CA: {health}"
    );

    remote_config(&checkout, &url, "ca_file = \"certs/ca.pem\"");
    let trusted = doctor_check(&checkout, "backend-remote");
    assert_eq!(trusted["status"], "ok", "{trusted}");
    let tls = &trusted["data"]["tls"];
    assert_eq!(tls["issuer"], "CN=dev test CA", "{trusted}");
    assert_eq!(tls["subject"], "CN=fake backend", "{trusted}");
    assert!(
        tls["protocol"].as_str().unwrap().starts_with("TLSv1_"),
        "{trusted}"
    );
    assert!(tls["expires_in_days"].as_i64().unwrap() > 0, "{trusted}");
    let health = doctor_check(&checkout, "backend-health");
    assert_eq!(
        health["status"], "ok",
        "the URL and the CA are used: {health}"
    );
    assert_eq!(doctor_check(&checkout, "port")["status"], "skip");
}

#[test]
fn an_expired_certificate_is_reported_with_its_date() {
    let checkout = Checkout::new();
    certificates_valid(
        &checkout.file("certs"),
        &["localhost", "127.0.0.1"],
        Some((2019, 2020)),
    );
    let _backend = tls_backend(&checkout, &[]);
    remote_config(
        &checkout,
        &format!("https://127.0.0.1:{}", checkout.port),
        "ca_file = \"certs/ca.pem\"",
    );
    let (status, output) = checkout.run(&["dev", "--", "true"], RUN);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("expired on 2020-01-01 00:00 UTC"),
        "{output}"
    );
    assert!(output.contains("renew"), "{output}");
    assert_nothing_started(&checkout);
}
