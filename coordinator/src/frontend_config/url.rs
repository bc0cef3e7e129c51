//! A config value that is a URL (`VITE_API_URL=http://127.0.0.1:8000/api`): dev
//! points it at the backend by replacing only its port (and its host, when that names
//! another place), so that the scheme, user info, path, query and every other byte stay
//! as the app wrote them. A URL is never turned into a bare port number.

use std::ops::Range;

/// Where the address sits in a URL: the host's span (brackets included for IPv6) and
/// the port's digits, when there is a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parts {
    host: Range<usize>,
    /// The span of `:8000` (colon included), empty at the host's end when absent.
    port: Range<usize>,
}

/// The scheme of `value` when it is an absolute URL (`https`).
pub fn scheme(value: &str) -> Option<&str> {
    parse(value)?;
    value.split_once("://").map(|(scheme, _)| scheme)
}

/// The host and port of `value` when it is an absolute URL with an authority
/// (`scheme://host[:port]...`).
pub fn address(value: &str) -> Option<(String, Option<u16>)> {
    let parts = parse(value)?;
    let host = value[parts.host.clone()]
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = value
        .get(parts.port.clone())
        .and_then(|p| p.strip_prefix(':'))
        .and_then(|p| p.parse().ok());
    Some((host, port))
}

/// Whether `value` is such a URL.
pub fn is_url(value: &str) -> bool {
    parse(value).is_some()
}

/// `url` pointed at `host:port`: the port replaced (or added), the host replaced when it
/// is not `host` itself (`localhost` becomes `127.0.0.1`: Node 17+ may resolve
/// `localhost` to `::1`, where a backend on 127.0.0.1 is not). `None` when `url` is not
/// a URL.
pub fn with_address(url: &str, host: &str, port: u16) -> Option<String> {
    with_origin(url, None, host, port)
}

/// [`with_address`], and the scheme replaced too when one is given: the URL key's
/// value gets the backend's origin (an `https://` backend's scheme), its path kept.
pub fn with_origin(url: &str, scheme: Option<&str>, host: &str, port: u16) -> Option<String> {
    parse(url)?;
    let rescheme;
    let url = match scheme {
        Some(scheme) => {
            let (_, rest) = url.split_once("://")?;
            rescheme = format!("{scheme}://{rest}");
            rescheme.as_str()
        }
        None => url,
    };
    let parts = parse(url)?;
    let old_host = url[parts.host.clone()]
        .trim_start_matches('[')
        .trim_end_matches(']');
    let new_host = if old_host.eq_ignore_ascii_case(host) {
        url[parts.host.clone()].to_owned()
    } else if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Some(format!(
        "{}{new_host}:{port}{}",
        &url[..parts.host.start],
        &url[parts.port.end..]
    ))
}

/// Whether a URL's host names the place `host` is: the same name, or `localhost` for
/// a backend on loopback (a browser tries both families for it). What `doctor` accepts;
/// dev itself writes `host`.
pub fn same_place(url_host: &str, host: &str) -> bool {
    let loopback = ["127.0.0.1", "::1", "localhost"];
    url_host.eq_ignore_ascii_case(host)
        || url_host.eq_ignore_ascii_case("localhost") && loopback.contains(&host)
}

fn parse(value: &str) -> Option<Parts> {
    let colon = value.find("://")?;
    let scheme = &value[..colon];
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    if !scheme_ok {
        return None;
    }
    let start = colon + 3;
    let end = value[start..]
        .find(['/', '?', '#'])
        .map_or(value.len(), |i| start + i);
    let authority = &value[start..end];
    let host_start = start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_part = &value[host_start..end];
    let host_len = if host_part.starts_with('[') {
        host_part.find(']')? + 1
    } else {
        host_part.find(':').unwrap_or(host_part.len())
    };
    let host = host_start..host_start + host_len;
    if host.is_empty() {
        return None;
    }
    let rest = &value[host.end..end];
    let port = if rest.is_empty() {
        host.end..host.end
    } else if rest.starts_with(':') && rest[1..].chars().all(|c| c.is_ascii_digit()) {
        host.end..end
    } else {
        return None;
    };
    Some(Parts { host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_port_and_a_moved_host_change() {
        let cases = [
            (
                "http://127.0.0.1:8000",
                "127.0.0.1",
                8001,
                "http://127.0.0.1:8001",
            ),
            (
                "http://127.0.0.1:8000/api/v1?x=1#y",
                "127.0.0.1",
                8002,
                "http://127.0.0.1:8002/api/v1?x=1#y",
            ),
            (
                "http://localhost:8000/api",
                "127.0.0.1",
                8001,
                "http://127.0.0.1:8001/api",
            ),
            (
                "https://user:pw@gpu-box/api",
                "gpu-box",
                8443,
                "https://user:pw@gpu-box:8443/api",
            ),
            (
                "http://10.0.0.2:8000",
                "127.0.0.1",
                8000,
                "http://127.0.0.1:8000",
            ),
            ("http://[::1]:8000/", "::1", 9000, "http://[::1]:9000/"),
            ("http://127.0.0.1:8000", "::1", 9000, "http://[::1]:9000"),
            (
                "ws://127.0.0.1:8000/ws",
                "127.0.0.1",
                8001,
                "ws://127.0.0.1:8001/ws",
            ),
        ];
        for (url, host, port, expected) in cases {
            assert_eq!(
                with_address(url, host, port).as_deref(),
                Some(expected),
                "{url}"
            );
        }
    }

    #[test]
    fn what_is_not_a_url_is_left_to_the_caller() {
        for value in [
            "8000",
            "",
            "127.0.0.1:8000",
            "http://",
            "http://h:80x/",
            "1http://h",
        ] {
            assert_eq!(with_address(value, "127.0.0.1", 1), None, "{value}");
        }
        assert_eq!(
            address("http://[::1]:8000/api"),
            Some(("::1".into(), Some(8000)))
        );
        assert_eq!(address("https://gpu-box/"), Some(("gpu-box".into(), None)));
    }
}
