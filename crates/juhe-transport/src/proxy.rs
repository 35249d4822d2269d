//! `Proxy`: a proxy URL checked once, whose credentials never print.

use std::fmt;
use std::str::FromStr;

use crate::TransportError;

/// The protocol spoken to a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// `http://`: plain HTTP to the proxy, `CONNECT` through it.
    Http,
    /// `https://`: TLS to the proxy itself.
    Https,
    /// `socks5://`: SOCKS5, names resolved by the client.
    Socks5,
}

impl ProxyScheme {
    /// The URL scheme (`http`, `https`, `socks5`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Https => "https",
            ProxyScheme::Socks5 => "socks5",
        }
    }
}

/// A proxy URL, parsed and checked when made: `http://`, `https://` or `socks5://`, a host,
/// an optional port and optional `user:password@` credentials, nothing else. `Debug` and
/// `Display` show the credentials as `[redacted]`.
///
/// ```
/// use juhe_transport::{Proxy, ProxyScheme};
///
/// let proxy: Proxy = "http://user:secret@10.0.0.1:3128".parse()?;
/// assert_eq!(proxy.scheme(), ProxyScheme::Http);
/// assert_eq!((proxy.host(), proxy.port()), ("10.0.0.1", 3128));
/// assert_eq!(proxy.to_string(), "http://[redacted]@10.0.0.1:3128");
/// assert!(!format!("{proxy:?}").contains("secret"));
/// assert!(Proxy::parse("ftp://10.0.0.1").is_err());
/// # Ok::<(), juhe_transport::TransportError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    url: String,
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: bool,
}

impl Proxy {
    /// Parses a proxy URL. The port defaults to 80 (`http`), 443 (`https`) or 1080 (`socks5`).
    pub fn parse(url: &str) -> Result<Proxy, TransportError> {
        let invalid = |problem| TransportError::InvalidProxy { problem };
        let uri: http::Uri = url.trim().parse().map_err(|_| invalid("not a URL"))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => ProxyScheme::Http,
            Some("https") => ProxyScheme::Https,
            Some("socks5" | "socks5h") => ProxyScheme::Socks5,
            Some(_) => return Err(invalid("the scheme is not http, https or socks5")),
            None => return Err(invalid("no scheme (write http://host:port)")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.host().is_empty() {
            return Err(invalid("no host"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid("a proxy URL has no path or query"));
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            ProxyScheme::Http => 80,
            ProxyScheme::Https => 443,
            ProxyScheme::Socks5 => 1080,
        });
        Ok(Proxy {
            url: url.trim().to_owned(),
            scheme,
            host: authority.host().to_owned(),
            port,
            credentials: authority.as_str().contains('@'),
        })
    }

    /// The protocol.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The host name or address (without credentials).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (explicit or the scheme's default).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// True when the URL carries `user:password@` credentials.
    pub fn has_credentials(&self) -> bool {
        self.credentials
    }

    /// The URL as given, credentials included: for the backends only.
    #[cfg_attr(not(any(feature = "reqwest", feature = "ureq")), allow(dead_code))]
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl FromStr for Proxy {
    type Err = TransportError;

    fn from_str(url: &str) -> Result<Proxy, TransportError> {
        Proxy::parse(url)
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credentials = if self.credentials { "[redacted]@" } else { "" };
        let host = &self.host;
        // The scheme as written (lower case): `socks5h` stays `socks5h`.
        let scheme = self.url.split_once("://").map_or("", |(s, _)| s);
        write!(
            f,
            "{}://{credentials}{host}:{}",
            scheme.to_ascii_lowercase(),
            self.port
        )
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Proxy")
            .field(&format_args!("{self}"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_schemes_with_default_ports() {
        for (url, scheme, port) in [
            ("http://proxy.corp", ProxyScheme::Http, 80),
            ("HTTPS://proxy.corp/", ProxyScheme::Https, 443),
            ("socks5://127.0.0.1", ProxyScheme::Socks5, 1080),
            ("socks5h://127.0.0.1:9050", ProxyScheme::Socks5, 9050),
            ("http://[::1]:3128", ProxyScheme::Http, 3128),
        ] {
            let proxy = Proxy::parse(url).unwrap();
            assert_eq!((proxy.scheme(), proxy.port()), (scheme, port), "{url}");
            assert!(!proxy.has_credentials());
        }
    }

    #[test]
    fn refuses_what_is_not_a_proxy_url_without_echoing_it() {
        for url in [
            "",
            "::bad::",
            "proxy.corp:3128",
            "ftp://proxy.corp",
            "http://user:hunter2@proxy.corp/path",
            "http://proxy.corp/?q=1",
            "http://user:hunter2@:3128",
        ] {
            let err = Proxy::parse(url).unwrap_err();
            assert!(matches!(err, TransportError::InvalidProxy { .. }), "{url}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn credentials_never_print() {
        let proxy = Proxy::parse("socks5://alice:hunter2@10.1.2.3:1080").unwrap();
        assert!(proxy.has_credentials());
        assert_eq!(proxy.to_string(), "socks5://[redacted]@10.1.2.3:1080");
        assert!(!format!("{proxy:?}").contains("hunter2"));
        assert!(!format!("{proxy:?}").contains("alice"));
        assert_eq!(proxy.url(), "socks5://alice:hunter2@10.1.2.3:1080");
        // socks5h (the proxy resolves the name) shows as written, not as socks5.
        let remote = Proxy::parse("SOCKS5H://alice:hunter2@proxy.corp").unwrap();
        assert_eq!(remote.to_string(), "socks5h://[redacted]@proxy.corp:1080");
    }
}
