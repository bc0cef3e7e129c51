//! Running a short command to completion: the one place where `doctor`, `pre-commit`,
//! interpreter discovery and the venv sync run external programs (`python3`, `node`,
//! `git`, `cargo`, `pip`).
//!
//! Every run has a deadline. The program starts in its own process group, and on
//! timeout the whole group is killed (a `python3` wrapper script and the `sleep` it
//! started alike), so no probe outlives the command that started it. Errors name the
//! command as it could be typed by hand and keep the tail of its output.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use crate::text::TAIL_LINES;

/// A command to run to completion.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

/// What a finished command printed, and how it exited.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The last [`TAIL_LINES`] lines of stdout and stderr together.
    pub fn tail(&self) -> Vec<String> {
        let mut text = self.stdout_text();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.stderr_text());
        tail(&text)
    }
}

/// The command could not run, or did not finish in time.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("`{program}` was not found on PATH (command: {command})")]
    NotFound { program: String, command: String },
    #[error("`{command}` could not be started: {reason}")]
    Spawn { command: String, reason: String },
    /// The deadline passed; the command's process group was killed.
    #[error("`{command}` did not finish within {} s and was stopped{}", .timeout.as_secs_f32(), tail_suffix(.tail))]
    TimedOut {
        program: String,
        command: String,
        timeout: Duration,
        tail: Vec<String>,
    },
}

impl ExecError {
    /// The program, as it was asked for (`python3`).
    pub fn program(&self) -> &str {
        match self {
            ExecError::NotFound { program, .. } | ExecError::TimedOut { program, .. } => program,
            ExecError::Spawn { command, .. } => command.split(' ').next().unwrap_or(command),
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ExecError::NotFound { .. })
    }
}

fn tail_suffix(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its last output:\n  | {}", tail.join("\n  | "))
    }
}

/// The last [`TAIL_LINES`] lines of `text`.
pub fn tail(text: &str) -> Vec<String> {
    crate::text::Tail::of(text)
}

impl Cmd {
    /// `program` with a default deadline of 10 s.
    pub fn new(program: impl Into<OsString>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            envs: Vec::new(),
            stdin: None,
            timeout: Duration::from_secs(10),
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Cmd {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn dir(mut self, dir: &Path) -> Cmd {
        self.dir = Some(dir.to_path_buf());
        self
    }

    pub fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Cmd {
        self.envs.push((name.into(), value.into()));
        self
    }

    /// Bytes written to the program's stdin (else stdin is `/dev/null`).
    pub fn stdin(mut self, bytes: Vec<u8>) -> Cmd {
        self.stdin = Some(bytes);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    pub fn program(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// The command line as someone would type it (arguments with spaces quoted).
    pub fn shown(&self) -> String {
        let words: Vec<String> = std::iter::once(&self.program)
            .chain(&self.args)
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        crate::text::shell_command(&words)
    }

    /// Runs to completion, or kills the process group at the deadline. A non-zero exit
    /// is not an error here: the caller decides what the status means.
    pub fn run(&self) -> Result<Output, ExecError> {
        let shown = self.shown();
        let mut child = self
            .command()
            .spawn()
            .map_err(|err| self.spawn_error(&shown, &err))?;
        let pid = child.id();
        let deadline = Instant::now() + self.timeout;
        // Output is read on threads so that a chatty program never blocks on a full
        // pipe, and stdin is written on one so that a program that does not read it
        // cannot block us either.
        let readers = [
            child.stdout.take().map(|s| reader(Box::new(s))),
            child.stderr.take().map(|s| reader(Box::new(s))),
        ];
        if let (Some(pipe), Some(bytes)) = (child.stdin.take(), self.stdin.clone()) {
            feed(pipe, bytes);
        }
        let status = match wait_on_thread(child, self.timeout) {
            Ok(Ok(status)) => status,
            Ok(Err(err)) => {
                os::kill_group(pid);
                return Err(ExecError::Spawn {
                    command: shown,
                    reason: format!("waiting for it failed: {err}"),
                });
            }
            Err(_) => {
                // The waiting thread has not reaped the child, so its pid (and with it
                // the group id) cannot have been reused yet.
                os::kill_group(pid);
                return Err(self.timed_out(shown, readers));
            }
        };
        Ok(finish(status, readers, deadline, pid))
    }

    /// The process to spawn: piped output, stdin piped only when there are bytes to
    /// write, in a process group of its own.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        for (name, value) in &self.envs {
            command.env(name, value);
        }
        os::new_group(&mut command);
        command
    }

    /// Why the spawn failed: the program is not there, or it could not be started.
    fn spawn_error(&self, shown: &str, err: &std::io::Error) -> ExecError {
        match err.kind() {
            std::io::ErrorKind::NotFound => ExecError::NotFound {
                program: self.program(),
                command: shown.to_owned(),
            },
            _ => ExecError::Spawn {
                command: shown.to_owned(),
                reason: err.to_string(),
            },
        }
    }

    /// The timeout error, with the tail of what the (killed) command printed: the
    /// pipes get one more second to deliver it.
    fn timed_out(&self, shown: String, readers: [Option<Reader>; 2]) -> ExecError {
        let [out, err] = readers.map(|r| collect(r, Instant::now() + Duration::from_secs(1)));
        let mut text = String::from_utf8_lossy(&out).into_owned();
        text.push_str(&String::from_utf8_lossy(&err));
        ExecError::TimedOut {
            program: self.program(),
            command: shown,
            timeout: self.timeout,
            tail: tail(&text),
        }
    }
}

/// Writes `bytes` to the program's stdin on a thread of its own.
fn feed(mut pipe: std::process::ChildStdin, bytes: Vec<u8>) {
    std::thread::spawn(move || {
        // A program may exit without reading everything: a broken pipe is fine.
        let _ = pipe.write_all(&bytes);
    });
}

/// Waits for `child` on a thread, for at most `timeout`: `Err` when it is still
/// running then (the thread keeps waiting, so the child is reaped once it is killed).
fn wait_on_thread(
    mut child: std::process::Child,
    timeout: Duration,
) -> Result<std::io::Result<ExitStatus>, mpsc::RecvTimeoutError> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    receiver.recv_timeout(timeout)
}

/// The output of a command that exited with `status`.
fn finish(status: ExitStatus, readers: [Option<Reader>; 2], deadline: Instant, pid: u32) -> Output {
    // Something the program left behind in its group may still hold the pipes:
    // stop waiting for them at the deadline, and stop it.
    let [stdout, stderr] = readers.map(|r| read_until(r, deadline.max(Instant::now())));
    if stdout.is_none() || stderr.is_none() {
        // A member of the group still holds a pipe, so the group (and its id) is
        // still there to be killed.
        os::kill_group(pid);
    }
    let (stdout, stderr) = (stdout.unwrap_or_default(), stderr.unwrap_or_default());
    Output {
        status,
        stdout,
        stderr,
    }
}

type Reader = mpsc::Receiver<Vec<u8>>;

fn reader(mut stream: Box<dyn Read + Send>) -> Reader {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        let _ = sender.send(bytes);
    });
    receiver
}

/// Everything the stream gave, or `None` when it was still open at `until`.
fn read_until(reader: Option<Reader>, until: Instant) -> Option<Vec<u8>> {
    match reader {
        None => Some(Vec::new()),
        Some(r) => r
            .recv_timeout(until.saturating_duration_since(Instant::now()))
            .ok(),
    }
}

fn collect(reader: Option<Reader>, until: Instant) -> Vec<u8> {
    read_until(reader, until).unwrap_or_default()
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

#[cfg(unix)]
mod os {
    use std::os::unix::process::CommandExt;

    pub fn new_group(command: &mut std::process::Command) {
        command.process_group(0);
    }

    /// Kills every process left in the group (none, usually: then this does nothing).
    pub fn kill_group(pid: u32) {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[cfg(not(unix))]
mod os {
    pub fn new_group(_: &mut std::process::Command) {}
    pub fn kill_group(_: u32) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_shown_as_they_would_be_typed() {
        let cmd = Cmd::new("python3").args(["-c", "print('a b')", "x"]);
        assert_eq!(cmd.shown(), r#"python3 -c "print('a b')" x"#);
    }

    #[cfg(unix)]
    #[test]
    fn a_hanging_command_is_stopped_with_its_group_at_the_deadline() {
        let started = Instant::now();
        let err = Cmd::new("sh")
            .args(["-c", "echo started; sleep 30; echo never"])
            .timeout(Duration::from_millis(300))
            .run()
            .expect_err("it hangs");
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = err.to_string();
        assert!(
            text.starts_with(
                "`sh -c 'echo started; sleep 30; echo never'` did not finish within 0.3 s"
            ),
            "{text}"
        );
        assert!(text.contains("| started"), "{text}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = Cmd::new("no-such-program-5f2a").run().expect_err("missing");
        assert!(err.is_not_found());
        assert_eq!(err.program(), "no-such-program-5f2a");
    }

    #[cfg(unix)]
    #[test]
    fn stdin_is_passed_and_status_kept() {
        let out = Cmd::new("sh")
            .args(["-c", "cat; exit 3"])
            .stdin(b"hello".to_vec())
            .run()
            .expect("runs");
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.status.code(), Some(3));
    }
}
