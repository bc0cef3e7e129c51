//! Health answers that can never become ready (issue 11, "health evidence"): each fails
//! the start in seconds, not after `startup_timeout`, with the evidence and the fix.
//!
//! `startup_timeout` is two minutes in these checkouts and the test waits one: without
//! the feature, `dev` would still be waiting when the test gives up.

use std::time::Duration;

use crate::support::Checkout;

/// Far beyond how long the test waits: reaching it means the feature is missing.
const PATIENT: &str = "startup_timeout = \"120s\"";
const WAIT: Duration = Duration::from_secs(60);

fn fails_fast(fake_args: &[&str]) -> String {
    fails_fast_with(fake_args, "")
}

fn fails_fast_with(fake_args: &[&str], extra: &str) -> String {
    let checkout = Checkout::new();
    checkout.fake_config(fake_args, &format!("{PATIENT}\n{extra}"), "");
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], WAIT);
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(
        output.contains("answered 3 times in a row in a way that cannot become ready"),
        "{output}"
    );
    assert!(output.contains("not retrying"), "{output}");
    assert_eq!(
        output.matches("started backend pid").count(),
        1,
        "one attempt only: {output}"
    );
    output
}

#[test]
fn a_redirecting_health_endpoint_fails_in_seconds_naming_the_location() {
    let output = fails_fast(&["--redirect", "/health/"]);
    for expected in [
        "last health response: HTTP 307, redirect to /health/ (not followed)",
        "fix: set `backend.health_path` to the path it redirects to (/health/)",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
}

#[test]
fn a_non_json_200_fails_in_seconds_quoting_the_body() {
    let output = fails_fast(&["--text-body", "all good here"]);
    for expected in [
        "last health response: HTTP 200, not JSON: \"all good here\"",
        "backend.health_format = \"status-code\"",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
}

#[test]
fn a_404_on_the_health_path_fails_in_seconds() {
    let output = fails_fast_with(&[], "health_path = \"/healthz\"");
    for expected in [
        "last health response: HTTP 404, nothing serves health on this path",
        "fix: set `backend.health_path` to the path of the backend's health endpoint",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
}

#[test]
fn the_wrong_service_fails_in_seconds_naming_both() {
    let output = fails_fast(&["--service", "billing"]);
    for expected in [
        "service \"billing\" answered, `backend.service` is \"demo-backend\"",
        "set `backend.service = \"billing\"`",
    ] {
        assert!(
            output.contains(expected),
            "missing {expected:?} in:\n{output}"
        );
    }
}

#[test]
fn a_text_health_endpoint_is_ready_with_the_status_code_format() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--text-body", "OK"],
        &format!("{PATIENT}\nhealth_format = \"status-code\""),
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], WAIT);
    assert_eq!(status.code(), Some(0), "{output}");
    assert!(output.contains("backend ready in"), "{output}");
}

#[test]
fn a_body_over_the_cap_fails_in_seconds_saying_so() {
    let output = fails_fast(&["--huge-body"]);
    let expected = "last health response: HTTP 200, body larger than 64 KiB: not read";
    assert!(
        output.contains(expected),
        "missing {expected:?} in:\n{output}"
    );
}

#[test]
fn a_stalled_body_is_told_from_no_answer() {
    let checkout = Checkout::new();
    checkout.fake_config(
        &["--stall-body"],
        "attempts = 1\nstartup_timeout = \"2s\"\nhealth_timeout = \"500ms\"",
        "",
    );
    let (status, output) = checkout.run(&["dev", "--no-sync", "--", "true"], WAIT);
    assert_eq!(status.code(), Some(1), "{output}");
    let expected =
        "last health response: HTTP 200: headers arrived, body did not within health_timeout";
    assert!(
        output.contains(expected),
        "missing {expected:?} in:\n{output}"
    );
}
