//! The `cargo xtask` CLI as a fixture binary for the end-to-end tests.

fn main() -> std::process::ExitCode {
    xtask::main()
}
