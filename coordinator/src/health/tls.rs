//! TLS for health requests: rustls with the `ring` provider, the system's roots plus
//! `backend.ca_file`, and failures told in words a person can act on.
//!
//! Certificates are verified by rustls' own WebPKI verifier over the platform's roots
//! (`rustls-platform-verifier`), built on the first https handshake rather than with the
//! client: loading the system's roots costs milliseconds that a loopback `http://` client
//! (every local `dev`) never needs. The verifier is wrapped only to remember the
//! certificate the server presented, since rustls' errors do not say who issued it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use super::cert::{self, CertInfo};

/// The crypto provider: `ring`, which builds in a fraction of the time of rustls' default
/// `aws-lc-rs`. Also installed as the process default, for anything that asks for one.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            // Fails only when one is installed already, which is as good.
            let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
            provider
        })
        .clone()
}

/// Whom a client trusts: the system's roots, plus the CAs of `backend.ca_file`.
#[derive(Debug)]
pub struct Trust {
    ca_file: Option<PathBuf>,
    verifier: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, String>>,
    /// The certificate the last https server presented.
    last_seen: Mutex<Option<CertificateDer<'static>>>,
    /// Why the last certificate was rejected, until someone asks.
    rejected: Mutex<Option<rustls::Error>>,
}

impl Trust {
    pub fn new(ca_file: Option<PathBuf>) -> Trust {
        Trust {
            ca_file,
            verifier: OnceLock::new(),
            last_seen: Mutex::new(None),
            rejected: Mutex::new(None),
        }
    }

    /// Why a certificate was rejected since the last call, if one was: a failure that
    /// does not go away by waiting, unlike a refused connection.
    pub fn take_rejection(&self) -> Option<rustls::Error> {
        self.rejected.lock().ok()?.take()
    }

    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// What the certificate the last https server presented says, if it could be read.
    pub fn last_seen(&self) -> Option<CertInfo> {
        let seen = self.last_seen.lock().ok()?;
        cert::read(seen.as_ref()?)
    }

    fn verifier(&self) -> Result<&Arc<rustls_platform_verifier::Verifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let extra = match &self.ca_file {
                    Some(path) => load_ca_file(path)?,
                    None => Vec::new(),
                };
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider())
                    .map(Arc::new)
                    .map_err(|err| match &self.ca_file {
                        Some(_) => format!("cannot use backend.ca_file: {err}"),
                        None => format!(
                            "{err}: install the system's CA certificates (ca-certificates) or set backend.ca_file"
                        ),
                    })
            })
            .as_ref()
            .map_err(|why| rustls::Error::General(why.clone()))
    }

    fn remember(&self, end_entity: &CertificateDer<'_>) {
        if let Ok(mut seen) = self.last_seen.lock() {
            *seen = Some(end_entity.clone().into_owned());
        }
    }
}

/// The CA certificates of a PEM file; an error that names the file and what is wrong.
pub fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let bytes = crate::user_file::read(path)
        .map_err(|err| format!("cannot read backend.ca_file {shown}: {err}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|err| format!("backend.ca_file {shown} is not valid PEM: {err}"))?;
    if certs.is_empty() {
        return Err(format!(
            "backend.ca_file {shown} holds no certificate (no -----BEGIN CERTIFICATE----- block)"
        ));
    }
    Ok(certs)
}

/// A rustls client configuration that verifies with `trust` and speaks HTTP/1.1.
pub fn client_config(trust: &Arc<Trust>) -> Result<rustls::ClientConfig, String> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| format!("TLS set-up failed: {err}"))?
        // "dangerous" is rustls' name for any verifier of one's own; this one delegates
        // every decision to rustls' WebPKI verifier and only records what it saw.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recording(trust.clone())))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The platform verifier, remembering each certificate it is shown.
#[derive(Debug)]
struct Recording(Arc<Trust>);

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0.remember(end_entity);
        let verdict = self.0.verifier().and_then(|verifier| {
            verifier.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        });
        if let (Err(error), Ok(mut rejected)) = (&verdict, self.0.rejected.lock()) {
            *rejected = Some(error.clone());
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The rustls error somewhere in an error's chain. tokio-rustls hides it inside an
/// `io::Error` (whose `source` skips it), and hyper-util's connect error may hold that
/// one as a boxed error, so each link is looked into both ways.
pub fn find_rustls_error<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(found) = err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .and_then(|inner| find_rustls_error(inner))
        {
            return Some(found);
        }
        next = err.source();
    }
    None
}

/// What a TLS failure means and what to do, in one line. `host` is the URL's host,
/// `seen` the certificate the server presented (if any), `now` seconds since the epoch.
pub fn explain(
    failure: &rustls::Error,
    host: &str,
    seen: Option<&CertInfo>,
    ca_file: Option<&Path>,
    now: i64,
) -> String {
    let issuer = seen.map_or_else(|| "an unknown issuer".into(), |c| format!("{:?}", c.issuer));
    let subject = seen.map_or_else(String::new, |c| format!(" ({})", c.subject));
    let validity = |c: &CertInfo| {
        format!(
            "valid from {} to {}",
            cert::format_time(c.not_before),
            cert::format_time(c.not_after)
        )
    };
    let error = match failure {
        rustls::Error::InvalidCertificate(error) => error,
        rustls::Error::InvalidMessage(_) => {
            return format!(
                "{host} answered in plain http, not TLS: use an http:// URL for it (backend.url)"
            );
        }
        other => return format!("the TLS handshake with {host} failed: {other}"),
    };
    match error {
        CertificateError::UnknownIssuer => match ca_file {
            None => format!(
                "the certificate of {host}{subject} was issued by {issuer}, which this machine does not trust: set backend.ca_file (env DEV_BACKEND_CA_FILE) to the CA that signed it"
            ),
            Some(path) => format!(
                "the certificate of {host}{subject} was issued by {issuer}, which neither the system's roots nor backend.ca_file ({}) trust: set backend.ca_file to the CA that signed it",
                path.display()
            ),
        },
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "the certificate of {host} is not valid for the name {host}; it is valid for {}: use one of those names in backend.url, or a certificate issued for {host}",
            presented
                .iter()
                .map(|name| shown_name(name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        CertificateError::NotValidForName => format!(
            "the certificate of {host}{subject} is not valid for the name {host}: use a name it was issued for in backend.url, or a certificate issued for {host}"
        ),
        CertificateError::ExpiredContext { not_after, .. } => format!(
            "the certificate of {host}{subject} expired on {} (it is {} now): renew it",
            cert::format_time(unix(*not_after)),
            cert::format_time(now)
        ),
        CertificateError::Expired => format!(
            "the certificate of {host}{subject} has expired ({}): renew it",
            seen.map_or_else(|| "dates unknown".into(), validity)
        ),
        CertificateError::NotValidYetContext { not_before, .. } => format!(
            "the certificate of {host}{subject} is not valid before {} (it is {} now): check this machine's clock, or wait",
            cert::format_time(unix(*not_before)),
            cert::format_time(now)
        ),
        CertificateError::NotValidYet => format!(
            "the certificate of {host}{subject} is not valid yet ({}): check this machine's clock",
            seen.map_or_else(|| "dates unknown".into(), validity)
        ),
        other => format!("the certificate of {host}{subject} was rejected: {other:?}"),
    }
}

/// What to do about a rejected certificate, in one line.
pub fn fix(failure: &rustls::Error, host: &str) -> String {
    match failure {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "set backend.ca_file (env DEV_BACKEND_CA_FILE) to the PEM file of the CA that signed the backend's certificate".into()
        }
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "use a host name the certificate is valid for in backend.url, or issue the backend a certificate for {host}"
        ),
        rustls::Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => "renew the backend's certificate".into(),
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => "check this machine's clock (and the backend's), or wait until the certificate is valid".into(),
        _ => "check the backend's TLS set-up (its certificate and chain)".into(),
    }
}

/// `other.test` for WebPKI's `DnsName("other.test")`; other forms as they come.
fn shown_name(name: &str) -> &str {
    name.split_once("(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"))
        .unwrap_or(name)
}

fn unix(time: UnixTime) -> i64 {
    i64::try_from(time.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tls_failure_says_what_to_do() {
        let seen = CertInfo {
            subject: "CN=api.test".into(),
            issuer: "CN=team dev CA".into(),
            not_before: 1_767_225_600,
            not_after: 1_769_904_000,
        };
        let ca = Path::new("certs/ca.pem");
        let now = 1_795_824_000;
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let mismatch =
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("127.0.0.1").expect("name"),
                presented: vec!["DnsName(\"other.test\")".into()],
            });
        let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_795_824_000)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_769_904_000)),
        });
        let plain = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        // (failure, ca_file, what the message must say)
        let cases: [(&rustls::Error, Option<&Path>, &[&str]); 5] = [
            (
                &unknown,
                None,
                &[
                    "issued by \"CN=team dev CA\"",
                    "set backend.ca_file",
                    "does not trust",
                ],
            ),
            (&unknown, Some(ca), &["nor backend.ca_file (certs/ca.pem)"]),
            (
                &mismatch,
                None,
                &["not valid for the name 127.0.0.1", "valid for other.test:"],
            ),
            (
                &expired,
                None,
                &[
                    "expired on 2026-02-01 00:00 UTC",
                    "it is 2026-11-28 00:00 UTC now",
                    "renew",
                ],
            ),
            (&plain, None, &["plain http, not TLS", "http:// URL"]),
        ];
        for (failure, ca_file, wanted) in cases {
            let text = explain(failure, "127.0.0.1", Some(&seen), ca_file, now);
            for part in wanted {
                assert!(text.contains(part), "{part:?} missing from {text:?}");
            }
        }
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("nope.pem");
        let err = load_ca_file(&missing).expect_err("missing");
        assert!(
            err.contains("cannot read backend.ca_file") && err.contains("nope.pem"),
            "{err}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let err = load_ca_file(&empty).expect_err("empty");
        assert!(err.contains("holds no certificate"), "{err}");
    }
}
