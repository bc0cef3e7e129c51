//! `cargo xtask`: see `xtask::main`.

fn main() -> color_eyre::Result<std::process::ExitCode> {
    xtask::main()
}
