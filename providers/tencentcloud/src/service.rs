//! The services we call and where they are reached.
use std::fmt;

use reqwest::Url;

use crate::error::{Error, Result};

/// A Tencent Cloud API service with the API version this crate's models follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Clb,
    Vpc,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::Clb, Service::Vpc];

    /// The name used in the host and the credential scope.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clb => "clb",
            Self::Vpc => "vpc",
        }
    }

    /// The `X-TC-Version` of every call to the service.
    pub fn version(self) -> &'static str {
        match self {
            Self::Clb => "2018-03-17",
            Self::Vpc => "2017-03-12",
        }
    }

    /// `https://{service}.tencentcloudapi.com/`.
    pub fn default_endpoint(self) -> Endpoint {
        Endpoint::parse(&format!("https://{}.tencentcloudapi.com/", self.name()))
            .expect("the built-in endpoint is a valid URL")
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a service is reached, with the host as it is signed: the URL's host, plus the port
/// when it is not the scheme's default (that is what the HTTP client sends as `Host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    url: Url,
    host: String,
}

impl Endpoint {
    /// Parses a full URL such as `https://clb.tencentcloudapi.com` or `http://127.0.0.1:9000`.
    /// The path must be `/`: the signature covers the path as `/`, whatever is sent.
    pub fn parse(url: &str) -> Result<Self> {
        let url = Url::parse(url).map_err(|e| Error::Config(format!("endpoint {url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "endpoint {url}: the scheme must be http or https"
            )));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(Error::Config(format!(
                "endpoint {url}: only scheme, host and port are allowed"
            )));
        }
        let name = url
            .host_str()
            .ok_or_else(|| Error::Config(format!("endpoint {url}: no host")))?;
        let host = match url.port() {
            Some(port) => format!("{name}:{port}"),
            None => name.to_string(),
        };
        Ok(Self { url, host })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `host[:port]`, as sent in `Host` and signed.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.url.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_host_includes_only_non_default_ports() {
        let cases = [
            ("https://clb.tencentcloudapi.com", "clb.tencentcloudapi.com"),
            (
                "https://clb.tencentcloudapi.com:443/",
                "clb.tencentcloudapi.com",
            ),
            ("http://127.0.0.1:9000", "127.0.0.1:9000"),
            ("http://localhost:80", "localhost"),
            ("http://[::1]:9000/", "[::1]:9000"),
        ];
        for (url, host) in cases {
            assert_eq!(Endpoint::parse(url).unwrap().host(), host, "{url}");
        }
        assert_eq!(
            Service::Vpc.default_endpoint().host(),
            "vpc.tencentcloudapi.com"
        );
    }

    #[test]
    fn rejects_paths_and_other_schemes() {
        for bad in ["ftp://x", "http://x/api", "http://x/?a=b", "not a url"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
