//! `--print-config`: each setting's effective value as the file would write it, and
//! where it came from.

use std::path::Path;

use super::{Config, SETTINGS, display_path, duration, setting};

impl Config {
    /// `--print-config`: each setting, its effective value and where it came from.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for setting in SETTINGS {
            let value = self.display_value(setting.key);
            let source = self.source(setting.key);
            let env = match setting.alias {
                Some(alias) => format!("{} or {alias}", setting.env),
                None => setting.env.to_owned(),
            };
            out.push_str(&format!(
                "{:<26} = {:<40} # {source} (env {env})\n",
                setting.key, value
            ));
        }
        for process in &self.processes {
            out.push_str(&process.describe());
        }
        out
    }

    pub(super) fn display_value(&self, key: &str) -> String {
        let b = &self.backend;
        let shown = |p: &Path| format!("{:?}", display_path(p, &self.root));
        let argv = |v: &[String]| format!("{v:?}");
        match key {
            "backend.command" => argv(&b.command),
            "backend.after" => format!("{:?}", b.after),
            "frontend.after" => format!("{:?}", self.frontend.after),
            "backend.service" => format!("{:?}", b.service),
            "backend.host" => format!("{:?}", b.host),
            "backend.port" => b.port.to_string(),
            "backend.health_path" => format!("{:?}", b.health_path),
            "backend.health_format" => format!("{:?}", b.health_format.name()),
            "backend.startup_timeout" => format!("{:?}", duration::format(b.startup_timeout)),
            "backend.health_timeout" => format!("{:?}", duration::format(b.health_timeout)),
            "backend.attempts" => b.attempts.to_string(),
            "backend.retry_delay" => format!("{:?}", duration::format(b.retry_delay)),
            "backend.accept_degraded" => b.accept_degraded.to_string(),
            "backend.show_health_logs" => b.show_health_logs.to_string(),
            "backend.requirements" => shown(&b.requirements),
            "backend.venv" => shown(&b.venv),
            "backend.extras" => format!("{:?}", b.extras),
            "backend.liveness_interval" => format!("{:?}", duration::format(b.liveness_interval)),
            "backend.liveness_failures" => b.liveness_failures.to_string(),
            "backend.max_retry_delay" => format!("{:?}", duration::format(b.max_retry_delay)),
            "backend.max_restarts" => b.max_restarts.to_string(),
            "backend.watch" => format!("{:?}", b.watch),
            "backend.watch_ignore" => format!("{:?}", b.watch_ignore),
            "backend.watch_debounce" => format!("{:?}", duration::format(b.watch_debounce)),
            "backend.url" => b
                .url
                .as_ref()
                .map_or_else(|| "(none: dev starts it)".into(), |url| format!("{url:?}")),
            "backend.ca_file" => b.ca_file.as_deref().map_or_else(|| "(none)".into(), shown),
            "frontend.command" => argv(&self.frontend.command),
            "frontend.config_file" => shown(&self.frontend.config_file),
            "frontend.port_key" => format!("{:?}", self.frontend.port_key),
            "frontend.host" => format!("{:?}", self.frontend.host),
            "frontend.port" => self
                .frontend
                .port
                .map_or_else(|| "false".into(), |port| port.to_string()),
            "frontend.ready_path" => self
                .frontend
                .ready_path
                .as_ref()
                .map_or_else(|| "(none)".into(), |path| format!("{path:?}")),
            "frontend.url_key" => self
                .frontend
                .url_key
                .as_ref()
                .map_or_else(|| "(none)".into(), |key| format!("{key:?}")),
            "frontend.startup_timeout" => {
                format!("{:?}", duration::format(self.frontend.startup_timeout))
            }
            "frontend.origins" => format!("{:?}", self.frontend.origins),
            "dev.shutdown_grace" => format!("{:?}", duration::format(self.dev.shutdown_grace)),
            "dev.log_dir" => shown(&self.dev.log_dir),
            "dev.keep_logs" => self.dev.keep_logs.to_string(),
            "dev.max_log_size" => format!("{:?}", setting::format_size(self.dev.max_log_size)),
            "dev.guardian" => self.dev.guardian.to_string(),
            _ => String::new(),
        }
    }
}

impl super::ProcessConfig {
    /// The lines `--print-config` shows for it.
    pub fn describe(&self) -> String {
        let key = |k: &str| format!("process.{}.{k}", self.name);
        let ready = match &self.ready {
            super::Ready::Port => "\"port\"".to_owned(),
            super::Ready::Started => "\"started\"".to_owned(),
            super::Ready::Http(path) => format!("{{ http = {path:?} }}"),
            super::Ready::Log(regex) => format!("{{ log = {regex:?} }}"),
        };
        let values = [
            ("command", format!("{:?}", self.command)),
            ("after", format!("{:?}", self.after)),
            ("host", format!("{:?}", self.host)),
            (
                "port",
                self.port
                    .map_or_else(|| "(none)".into(), |port| port.to_string()),
            ),
            ("scheme", format!("{:?}", self.scheme)),
            ("ready", ready),
            (
                "restart",
                match self.restart {
                    super::Restart::OnFailure => "\"on-failure\"".into(),
                    super::Restart::Never => "\"never\"".into(),
                },
            ),
            ("ends_run", self.ends_run.to_string()),
            (
                "startup_timeout",
                format!("{:?}", duration::format(self.startup_timeout)),
            ),
        ];
        let mut out = String::new();
        for (name, value) in values {
            let source = super::process::KEYS
                .iter()
                .find(|k| **k == name)
                .and_then(|k| self.sources.get(k))
                .unwrap_or(&super::Source::Default);
            out.push_str(&format!("{:<26} = {value:<40} # {source}\n", key(name)));
        }
        out
    }
}
