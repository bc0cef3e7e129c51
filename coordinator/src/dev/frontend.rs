//! Starting the frontend (or `dev -- <cmd>`), and the `[process.NAME]` processes around it.

use super::frontend_ready;
use super::outcome::{Flow, child_env, fail_with};
use super::processes::Processes;
use super::run::Run;
use crate::config::Config;
use crate::process::{self, ProcessSpec};
use crate::report::Cause;
use crate::runlog::Origin;

/// Starts the frontend (or `dev -- <cmd>`) and, when it is a server, waits until it
/// serves (see [`frontend_ready`]).
pub(super) async fn start_frontend(
    config: &Config,
    run: &mut Run<'_>,
    processes: &mut Processes,
) -> Flow<()> {
    let (options, log) = (run.options, run.log);
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
            run.this_run.started(role, &running, &argv);
            let ready =
                frontend_ready::wait_frontend(config, &mut running, log, run.shutdown).await;
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

/// What starting the frontend and the processes around it needs of the run.
pub(super) struct Starting<'a, 'r> {
    pub(super) config: &'a Config,
    pub(super) client: &'a crate::health::HealthClient,
    pub(super) run: &'a mut Run<'r>,
}

impl Starting<'_, '_> {
    /// The `[process.NAME]`s due before the frontend (`first`), the frontend (unless
    /// `--no-frontend`), then those that wait for it (`after`; not started, and said so,
    /// without a frontend). What started joins `processes`, so that a failure stops it.
    pub(super) async fn frontend_and_processes(
        &mut self,
        first: &[usize],
        after: &[usize],
        processes: &mut Processes,
    ) -> Flow<()> {
        let (config, log) = (self.config, self.run.log);
        self.extras(first, processes).await?;
        if self.run.options.no_frontend {
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
        start_frontend(config, self.run, processes).await?;
        self.extras(after, processes).await
    }

    /// Starts the processes `indices` names, in turn (see [`super::extra::start_extras`]).
    async fn extras(&mut self, indices: &[usize], processes: &mut Processes) -> Flow<()> {
        let frontend_url = processes.frontend_url.clone();
        let mut cx = super::extra::Cx::of(self.config, self.client, self.run, frontend_url);
        super::extra::start_extras(indices, &mut cx, &mut processes.extras).await
    }
}
