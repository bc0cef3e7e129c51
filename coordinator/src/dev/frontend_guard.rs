//! The frontend config as `dev` left it, restored on every way out of the run.
//!
//! A run that dies without cleaning up (SIGKILL, a power cut) would leave its temporary
//! port behind, and the next clean run would then "restore" that. So every write is also
//! saved in `.dev/frontend-config.pending.json` with the writer's pid, and the next run
//! undoes a leftover whose writer is gone (only if the file still holds what was written).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Config, display_path};
use crate::frontend_config::{self, Restore, Written};
use crate::runlog::RunLog;

pub(super) struct FrontendConfigGuard {
    log: RunLog,
    written: Option<Written>,
    shown: String,
    pending: PathBuf,
}

/// What is saved while a run has the frontend config changed.
#[derive(Serialize, Deserialize)]
struct Pending {
    pid: u32,
    written: Written,
}

impl FrontendConfigGuard {
    pub(super) fn new(config: &Config, log: &RunLog) -> Self {
        let pending = config.root.join(".dev/frontend-config.pending.json");
        recover_leftover(&pending, &config.root, log);
        FrontendConfigGuard {
            log: log.clone(),
            written: None,
            shown: String::new(),
            pending,
        }
    }

    /// Writes the backend's address into the frontend config, if it is not already
    /// there. The first write's "before" is what gets restored.
    pub(super) fn point(
        &mut self,
        config: &Config,
    ) -> Result<(), frontend_config::FrontendConfigError> {
        let path = &config.frontend.config_file;
        self.shown = display_path(path, &config.root);
        if !path.exists() {
            self.log.warn(&format!(
                "{} does not exist: not writing the backend port into it",
                self.shown
            ));
            return Ok(());
        }
        let host = crate::health::probe_host(&config.backend.host);
        let outcome = frontend_config::point_at(
            path,
            &self.shown,
            &config.frontend.port_key,
            host,
            config.backend.port,
        )?;
        if let frontend_config::Outcome::Written { changes, undo } = outcome {
            for change in changes {
                self.log.info(&format!(
                    "{}: {} {} -> {}",
                    self.shown, change.key, change.old, change.new
                ));
            }
            match &mut self.written {
                // A second write (the port was chosen again) keeps the first "before".
                Some(first) => first.rewritten(undo),
                None => self.written = Some(undo),
            }
            if let Some(written) = &self.written {
                let pending = Pending {
                    pid: std::process::id(),
                    written: written.clone(),
                };
                let saved = serde_json::to_vec(&pending)
                    .map_err(std::io::Error::other)
                    .and_then(|bytes| {
                        std::fs::create_dir_all(self.pending.parent().unwrap_or(&config.root))?;
                        crate::atomic::write(&self.pending, &bytes)
                    });
                if let Err(err) = saved {
                    self.log.warn(&format!(
                        "cannot save {} (a crash would leave the port behind): {err}",
                        self.pending.display()
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for FrontendConfigGuard {
    fn drop(&mut self) {
        let Some(written) = self.written.take() else {
            return;
        };
        match frontend_config::restore(&written) {
            frontend_config::Restore::Restored => {
                self.log.info(&format!("{}: restored", self.shown));
            }
            frontend_config::Restore::EditedMeanwhile => self.log.warn(&format!(
                "{}: edited since dev wrote it, so it was not restored",
                self.shown
            )),
            frontend_config::Restore::Failed(err) => {
                self.log
                    .warn(&format!("{}: could not restore: {err}", self.shown));
            }
        }
    }
}

/// Undoes the write of an earlier run that is gone without restoring it.
fn recover_leftover(pending: &std::path::Path, root: &std::path::Path, log: &RunLog) {
    let Ok(bytes) = std::fs::read(pending) else {
        return;
    };
    let Ok(left) = serde_json::from_slice::<Pending>(&bytes) else {
        let _ = std::fs::remove_file(pending);
        return;
    };
    if crate::process::pid_exists(left.pid) {
        // Another `dev` of this checkout is running and will restore it itself.
        return;
    }
    let shown = display_path(&left.written.path, root);
    match frontend_config::restore(&left.written) {
        Restore::Restored => log.warn(&format!(
            "{shown}: restored the value an earlier run (pid {}) left behind when it did not exit cleanly",
            left.pid
        )),
        Restore::EditedMeanwhile => log.warn(&format!(
            "{shown}: an earlier run (pid {}) did not exit cleanly, but the file was edited since, so it was left as it is",
            left.pid
        )),
        Restore::Failed(err) => log.warn(&format!("{shown}: could not restore: {err}")),
    }
    let _ = std::fs::remove_file(pending);
}
