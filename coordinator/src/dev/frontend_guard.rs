//! The frontend config as `dev` left it, restored on every way out of the run.

use crate::config::{Config, display_path};
use crate::frontend_config;
use crate::runlog::RunLog;

pub(super) struct FrontendConfigGuard {
    log: RunLog,
    written: Option<frontend_config::Written>,
    shown: String,
}

impl FrontendConfigGuard {
    pub(super) fn new(log: &RunLog) -> Self {
        FrontendConfigGuard {
            log: log.clone(),
            written: None,
            shown: String::new(),
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
