//! Reading a file that someone else may have put there (`dev.toml`, the frontend config,
//! a requirements file, a run record) without ever blocking on it.
//!
//! `std::fs::read` on a FIFO waits for a writer, and on `/dev/stdin` or a terminal waits
//! for input, with no timeout and deaf to Ctrl-C (the read is a blocking system call on
//! the runtime's thread): a `frontend.config_file` pointing at one hung `dev` while it
//! held the runs lock, and every later run with it. So a file is opened with
//! `O_NONBLOCK` (which makes the open of a FIFO return at once), checked with `fstat`
//! on the opened descriptor (so that nothing can be swapped in between the check and
//! the read), and refused, with what it is, unless it is a regular file. Reads are also
//! capped: no config dev reads is anywhere near [`CAP`].

use std::io::Read;
use std::path::Path;

/// The largest file read: far above any config, far below what would hurt.
pub const CAP: u64 = 16 * 1024 * 1024;

/// The bytes of the regular file at `path` (a symlink is followed). A FIFO, a device, a
/// socket or a folder is an error of kind `InvalidInput` that says what it is, at once.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(what(&meta.file_type())));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(CAP)).unwrap_or(0));
    (&mut file).take(CAP + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > CAP {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MiB: not read", CAP / 1024 / 1024),
        ));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    String::from_utf8(read(path)?)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// Opens (creating it if need be) a lock file for writing, without blocking: a FIFO
/// or anything else but a regular file put in its place is refused.
pub fn open_lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::File::options();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|err| match err.raw_os_error() {
        #[cfg(unix)]
        Some(libc::ENXIO) => not_regular("a FIFO or a socket"),
        _ => err,
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(what(&meta.file_type())));
    }
    Ok(file)
}

#[cfg(unix)]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|err| match err.raw_os_error() {
            // Opening a Unix socket is refused by the kernel with ENXIO.
            Some(libc::ENXIO) => not_regular("a socket"),
            _ => err,
        })
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

fn not_regular(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("is {what}, not a regular file: not read"),
    )
}

fn what(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_and_a_folder_are_refused_at_once() {
        // A FIFO: `tests/it/trust_files.rs`, through the real `dev`.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let err = read(Path::new("/dev/zero")).expect_err("a device is refused");
        assert!(err.to_string().contains("character device"), "{err}");
        let err = read(dir.path()).expect_err("a folder is refused");
        assert!(err.to_string().contains("folder"), "{err}");
        #[cfg(unix)]
        {
            let socket = dir.path().join("socket");
            let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("a Unix socket");
            let err = read(&socket).expect_err("a socket is refused");
            assert!(err.to_string().contains("socket"), "{err}");
        }
        let file = dir.path().join("a.toml");
        std::fs::write(&file, "x = 1\n").expect("written");
        assert_eq!(read_to_string(&file).expect("read"), "x = 1\n");
    }
}
