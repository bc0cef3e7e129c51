//! The `cargo xtask` CLI as a fixture binary for the end-to-end tests.

fn main() -> color_eyre::Result<std::process::ExitCode> {
    xtask::main()
}
