//! `cargo xtask`: see `xtask::main`.

fn main() -> std::process::ExitCode {
    xtask::main()
}
