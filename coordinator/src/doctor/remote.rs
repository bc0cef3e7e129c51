//! `doctor`'s check of a backend at `backend.url`, one layer per line so that the layer
//! that fails is the one named, with its own fix: name resolution, the TCP connect, the
//! TLS handshake (protocol, certificate subject, issuer, days to expiry) and the health
//! answer. The handshake uses the health client's own TLS set-up ([`tls::client_config`])
//! and the answer the health client itself, so `doctor` and `dev` cannot disagree.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use super::{Check, Context, Status};
use crate::health::{self, HealthClient, Readiness, cert, tls};

const ID: &str = "backend-remote";
/// Each layer's own time limit: together well inside doctor's deadline per check.
const STEP: Duration = Duration::from_secs(2);
/// A certificate this close to its end gets a warning.
const EXPIRY_WARN_DAYS: i64 = 14;

/// The layers that worked, shown as details whatever happens later.
#[derive(Default)]
struct Layers {
    details: Vec<String>,
    data: serde_json::Map<String, serde_json::Value>,
    /// A layer that works but needs attention soon: (summary, fix).
    warning: Option<(String, String)>,
}

impl Layers {
    fn done(&mut self, detail: String, key: &str, value: serde_json::Value) {
        self.details.push(detail);
        self.data.insert(key.to_owned(), value);
    }

    /// The check, failed at this layer, with what worked before it.
    fn failed(self, status: Status, summary: String, fix: String) -> Check {
        self.into_check(status, summary).fix(fix)
    }

    /// The check when every layer worked (a warning, if one layer raised it).
    fn passed(mut self, summary: String) -> Check {
        match self.warning.take() {
            Some((warning, fix)) => self.into_check(Status::Warn, warning).fix(fix),
            None => self.into_check(Status::Ok, summary),
        }
    }

    fn into_check(self, status: Status, summary: String) -> Check {
        let mut check = Check::new(ID, status, summary).data(serde_json::Value::Object(self.data));
        for line in self.details {
            check = check.detail(line);
        }
        check
    }
}

pub(super) fn remote_backend(cx: &Context) -> Check {
    let Some(url) = cx.config.backend.url.clone() else {
        return Check::new(
            ID,
            Status::Skip,
            "no backend.url: dev starts the backend here",
        );
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(check(cx, &url)),
        Err(err) => Check::new(
            ID,
            Status::Error,
            format!("cannot start the async runtime: {err}"),
        ),
    }
}

async fn check(cx: &Context, url: &str) -> Check {
    let backend = &cx.config.backend;
    let mut layers = Layers::default();
    layers.data.insert("url".into(), json!(url));
    let Some((host, port, https)) = parts(url) else {
        return layers.failed(
            Status::Error,
            format!("backend.url {url:?} is not an http:// or https:// URL"),
            "correct backend.url".into(),
        );
    };
    let addr = match resolve(&host, port, &mut layers).await {
        Ok(addr) => addr,
        Err(check) => return *check,
    };
    let stream = match connect(addr, &mut layers).await {
        Ok(stream) => stream,
        Err(check) => return *check,
    };
    let trust = Arc::new(tls::Trust::new(backend.ca_file.clone()));
    if https && let Err(check) = handshake(stream, &host, &trust, &mut layers).await {
        return *check;
    }
    let client = HealthClient::with_trust(backend.health_timeout.min(STEP), trust);
    let health_url = format!("{url}{}", backend.health_path);
    let probe = client.probe(&health_url, &cx.correlation_id).await;
    let readiness = health::readiness(&probe, backend.health_format, backend.accept_degraded);
    let said = crate::health::describe_probe(&probe, Some(&readiness));
    layers.data.insert("health".into(), json!(said));
    if readiness == Readiness::Ready {
        layers.details.push(format!("health: {said}"));
        return layers.passed(format!("{url} answers and is ready"));
    }
    layers.failed(
        Status::Error,
        format!("{health_url}: {said}"),
        "the network path works; look at the backend itself (its log shows this run's correlation id)".into(),
    )
}

/// Host, port (the scheme's default when absent) and whether it is https.
fn parts(url: &str) -> Option<(String, u16, bool)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let host = parsed
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some((
        host,
        parsed.port_or_known_default()?,
        parsed.scheme() == "https",
    ))
}

async fn resolve(host: &str, port: u16, layers: &mut Layers) -> Result<SocketAddr, Box<Check>> {
    let started = Instant::now();
    let found = timeout(STEP, tokio::net::lookup_host((host, port))).await;
    let addrs: Vec<SocketAddr> = match found {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(err)) => {
            return Err(Box::new(
                std::mem::take(layers).failed(
                    Status::Error,
                    format!("cannot resolve {host}: {err}"),
                    "check the host name in backend.url, or this machine's DNS (/etc/hosts, VPN)"
                        .into(),
                ),
            ));
        }
        Err(_) => Vec::new(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(Box::new(std::mem::take(layers).failed(
            Status::Error,
            format!(
                "{host} resolves to no address (or not within {} s)",
                STEP.as_secs()
            ),
            "check the host name in backend.url, or this machine's DNS".into(),
        )));
    };
    let shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    layers.done(
        format!("dns: {host} -> {} ({ms:.1} ms)", shown.join(", ")),
        "dns",
        json!({"addresses": shown, "ms": ms}),
    );
    Ok(first)
}

async fn connect(addr: SocketAddr, layers: &mut Layers) -> Result<TcpStream, Box<Check>> {
    let started = Instant::now();
    let failure = match timeout(STEP, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            layers.done(
                format!("tcp: connected to {addr} in {ms:.1} ms"),
                "connect_ms",
                json!(ms),
            );
            return Ok(stream);
        }
        Ok(Err(err)) => err.to_string(),
        Err(_) => format!("no answer within {} s", STEP.as_secs()),
    };
    Err(Box::new(std::mem::take(layers).failed(
        Status::Error,
        format!("cannot connect to {addr}: {failure}"),
        "start the backend (for the compose file: `docker compose up -d`), and check the published port in backend.url and any firewall".into(),
    )))
}

async fn handshake(
    stream: TcpStream,
    host: &str,
    trust: &Arc<tls::Trust>,
    layers: &mut Layers,
) -> Result<(), Box<Check>> {
    let fail = |layers: &mut Layers, summary: String, fix: String| {
        Box::new(std::mem::take(layers).failed(Status::Error, summary, fix))
    };
    let config = tls::client_config(trust)
        .map_err(|why| fail(layers, why, "report this as a bug".into()))?;
    let name = ServerName::try_from(host.to_owned()).map_err(|err| {
        fail(
            layers,
            format!("{host} is not a valid TLS server name: {err}"),
            "correct backend.url".into(),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = Instant::now();
    let connection = match timeout(STEP, connector.connect(name, stream)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(err)) => {
            let (summary, fix) = match tls::find_rustls_error(&err) {
                Some(failure) => (
                    tls::explain(
                        failure,
                        host,
                        trust.last_seen().as_ref(),
                        trust.ca_file(),
                        cert::now(),
                    ),
                    tls::fix(failure, host),
                ),
                None => (
                    format!("the TLS handshake with {host} failed: {err}"),
                    "check that the port speaks https (or use http:// in backend.url)".into(),
                ),
            };
            return Err(fail(layers, summary, fix));
        }
        Err(_) => {
            return Err(fail(
                layers,
                format!("no TLS handshake with {host} within {} s", STEP.as_secs()),
                "check that the port speaks https (or use http:// in backend.url)".into(),
            ));
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let session = connection.get_ref().1;
    let protocol = session
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_owned();
    let info = session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|der| cert::read(der));
    let Some(info) = info else {
        layers.done(
            format!("tls: {protocol} in {ms:.1} ms"),
            "tls",
            json!({"protocol": protocol}),
        );
        return Ok(());
    };
    let days = (info.not_after - cert::now()).div_euclid(86_400);
    layers.done(
        format!(
            "tls: {protocol} in {ms:.1} ms; certificate {}, issued by {}, expires {} (in {days} days)",
            info.subject,
            info.issuer,
            cert::format_time(info.not_after)
        ),
        "tls",
        json!({"protocol": protocol, "subject": info.subject, "issuer": info.issuer, "expires_in_days": days}),
    );
    if days < EXPIRY_WARN_DAYS {
        layers.warning = Some((
            format!("the certificate of {host} expires in {days} days"),
            "renew the backend's certificate".into(),
        ));
    }
    Ok(())
}
