//! End-to-end tests: one binary, one module per feature. They spawn real processes,
//! bind real loopback ports and speak real HTTP.

#![expect(clippy::unwrap_used, reason = "tests: a failed step should panic")]

mod bench;
mod browser;
mod cli;
mod config;
mod control;
mod doctor;
mod doctor_frontend;
mod doctor_processes;
mod editors;
mod events;
mod frontend;
mod frontend_config;
mod guardian;
mod health_answers;
mod init;
mod lifecycle;
mod output;
mod ports;
mod precommit;
mod pressure;
mod processes;

mod real_apps;
mod real_frontends;
mod reference_app;
mod remote;
mod runs;
mod schema;
mod support;
mod trust;
mod trust_files;
mod venv;
mod watch;
