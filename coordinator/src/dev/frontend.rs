//! Starting the frontend (or `dev -- <cmd>`), and the environment both children get.

use super::frontend_ready;
use super::outcome::{DevOptions, Flow, fail_with};
use super::supervise::Processes;
use super::this_run::ThisRun;
use crate::config::Config;
use crate::process::{self, ProcessSpec};
use crate::report::Cause;
use crate::runlog::{Origin, RunLog};
use crate::signals::Shutdown;

/// Starts the frontend (or `dev -- <cmd>`) and, when it is a server, waits until it
/// serves (see [`frontend_ready`]).
pub(super) async fn start_frontend(
    config: &Config,
    options: &DevOptions,
    log: &RunLog,
    shutdown: &mut Shutdown,
    this_run: &mut ThisRun,
    processes: &mut Processes,
) -> Flow<()> {
    // Placeholders are for `frontend.command`; `dev -- <cmd>` is passed as typed.
    let argv: Vec<String> = match &options.frontend_command {
        Some(command) => command.clone(),
        None => config.expanded(&config.frontend.command),
    };
    let spec = ProcessSpec {
        origin: Origin::Frontend,
        argv: argv.clone(),
        cwd: config.root.clone(),
        env: child_env(config, log),
        foreground: true,
        ready_line: None,
    };
    match process::spawn(&spec, log) {
        Ok(mut running) => {
            log.info(&format!(
                "started frontend pid {}: {}",
                running.pid(),
                crate::text::shell_command(&argv)
            ));
            // `dev -- <cmd>` is a command, as the summary says.
            let role = if options.frontend_command.is_some() {
                "command"
            } else {
                "frontend"
            };
            this_run.started(role, &running, &argv);
            let ready = frontend_ready::wait_frontend(config, &mut running, log, shutdown).await;
            processes.frontend = Some(running);
            processes.command.clone_from(&options.frontend_command);
            ready.map_continue(|url| processes.frontend_url = url)
        }
        Err(err) => Flow::Break(fail_with(
            log,
            &format!(
                "could not start the frontend `{}`: {err}",
                crate::text::shell_command(&argv)
            ),
            vec![],
            vec![Cause {
                cause: format!("`{}` is not installed or not on PATH", argv[0]),
                fix: "install it, or correct `frontend.command` in dev.toml".into(),
            }],
        )),
    }
}

/// The environment the children get (README, `cargo xtask dev`), for every child. Their output reaches the
/// terminal through a pipe, so when `dev` writes colour there they are told to as well.
pub(super) fn child_env(config: &Config, log: &RunLog) -> Vec<(String, String)> {
    let backend = &config.backend;
    let mut env = vec![
        ("BACKEND_HOST".into(), backend.host.clone()),
        ("BACKEND_PORT".into(), backend.port.to_string()),
        ("BACKEND_URL".into(), config.backend_url()),
        ("CORRELATION_ID".into(), log.correlation_id().to_owned()),
        ("PYTHONUNBUFFERED".into(), "1".into()),
    ];
    if log.colour().stdout {
        env.push(("FORCE_COLOR".into(), "1".into()));
        env.push(("CLICOLOR_FORCE".into(), "1".into()));
    }
    // The frontend's address: where it listens, and the origin the backend allows.
    if let (Some(port), Some(url)) = (config.frontend.port, config.frontend_url()) {
        env.push(("FRONTEND_HOST".into(), config.frontend.host.clone()));
        env.push(("FRONTEND_PORT".into(), port.to_string()));
        env.push(("FRONTEND_URL".into(), url));
    }
    env.push(("FRONTEND_ORIGINS".into(), config.frontend.origins.join(" ")));
    // Each `[process.NAME]` with a port: `REDIS_PORT`, `REDIS_URL`.
    for process in &config.processes {
        if let (Some(port), Some(url)) = (process.port, process.url()) {
            let prefix = process.env_prefix();
            env.push((format!("{prefix}_PORT"), port.to_string()));
            env.push((format!("{prefix}_URL"), url));
        }
    }
    env
}

/// What starting the frontend and the processes around it needs of the run.
pub(super) struct Starting<'a> {
    pub(super) config: &'a Config,
    pub(super) options: &'a DevOptions,
    pub(super) client: &'a crate::health::HealthClient,
    pub(super) log: &'a RunLog,
    pub(super) shutdown: &'a mut Shutdown,
    pub(super) this_run: &'a mut ThisRun,
}

impl Starting<'_> {
    /// The `[process.NAME]`s due before the frontend (`first`), the frontend (unless
    /// `--no-frontend`), then those that wait for it (`after`; not started, and said so,
    /// without a frontend). What started joins `processes`, so that a failure stops it.
    pub(super) async fn frontend_and_processes(
        &mut self,
        first: &[usize],
        after: &[usize],
        processes: &mut Processes,
    ) -> Flow<()> {
        let (config, log) = (self.config, self.log);
        super::extra::start_extras(
            first,
            config,
            self.client,
            log,
            self.shutdown,
            self.this_run,
            processes,
        )
        .await?;
        if self.options.no_frontend {
            if !after.is_empty() {
                let names: Vec<&str> = after
                    .iter()
                    .map(|i| config.processes[*i].name.as_str())
                    .collect();
                log.info(&format!(
                    "--no-frontend: not starting {}, which waits for the frontend",
                    names.join(", ")
                ));
            }
            return Flow::Continue(());
        }
        start_frontend(
            config,
            self.options,
            log,
            self.shutdown,
            self.this_run,
            processes,
        )
        .await?;
        super::extra::start_extras(
            after,
            config,
            self.client,
            log,
            self.shutdown,
            self.this_run,
            processes,
        )
        .await
    }
}
