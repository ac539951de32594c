//! The client: configuration, and one call = rate limit, sign, send, decode, retry.
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::credentials::CredentialsProvider;
use crate::error::{Error, Result};
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::retry::{Attempts, RetryConfig};
use crate::service::{Endpoint, Service};
use crate::signing::{CallMetadata, SigningInput};
use crate::tasks::TaskPollConfig;
use crate::transport::{self, Encoded, RequestMethod};

/// Told about every HTTP exchange (retries included): the action and its outcome, so the
/// caller can count cloud calls (e.g. Prometheus metrics) without this crate depending on it.
#[derive(Clone)]
pub struct CallObserver(Arc<ObserveFn>);

/// `(action, Ok(()) or the error's kind)`.
type ObserveFn = dyn Fn(&str, std::result::Result<(), crate::ErrorKind>) + Send + Sync;

impl CallObserver {
    pub fn new(
        observe: impl Fn(&str, std::result::Result<(), crate::ErrorKind>) + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(observe))
    }
}

impl std::fmt::Debug for CallObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallObserver")
    }
}

/// A Tencent Cloud API client. Cheap to clone: clones share the HTTP connection pool, the
/// credentials and the rate-limit buckets.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    credentials: CredentialsProvider,
    endpoints: HashMap<Service, Endpoint>,
    retry: RetryConfig,
    limiter: RateLimiter,
    language: Option<String>,
    method: RequestMethod,
    task_poll: TaskPollConfig,
    observer: Option<CallObserver>,
}

/// Builds a [`Client`]. Everything has a default except the credentials, which default to
/// the environment (`TENCENTCLOUD_SECRET_ID`, ...).
#[derive(Debug)]
pub struct ClientBuilder {
    credentials: Option<CredentialsProvider>,
    endpoints: HashMap<Service, String>,
    retry: RetryConfig,
    rate_limit: RateLimitConfig,
    timeout: Duration,
    connect_timeout: Duration,
    language: Option<String>,
    method: RequestMethod,
    task_poll: TaskPollConfig,
    http: Option<reqwest::Client>,
    observer: Option<CallObserver>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            credentials: None,
            endpoints: HashMap::new(),
            retry: RetryConfig::default(),
            rate_limit: RateLimitConfig::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            // Error messages end up in Kubernetes events and logs read by operators worldwide.
            language: Some("en-US".to_string()),
            method: RequestMethod::Post,
            task_poll: TaskPollConfig::default(),
            http: None,
            observer: None,
        }
    }
}

impl ClientBuilder {
    /// Observes every HTTP exchange; see [`CallObserver`].
    pub fn observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn credentials(mut self, credentials: CredentialsProvider) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Overrides where `service` is reached, e.g. `http://127.0.0.1:9000` for the emulator.
    /// Checked by [`ClientBuilder::build`].
    pub fn endpoint(mut self, service: Service, url: impl Into<String>) -> Self {
        self.endpoints.insert(service, url.into());
        self
    }

    /// The same endpoint for every service (the emulator serves them all on one port).
    pub fn endpoint_all(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        for service in Service::ALL {
            self.endpoints.insert(service, url.clone());
        }
        self
    }

    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    pub fn rate_limit(mut self, rate_limit: RateLimitConfig) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Timeout of one HTTP attempt (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// `X-TC-Language`: `en-US` (default), `zh-CN`, or `None` for the server's default.
    pub fn language(mut self, language: Option<String>) -> Self {
        self.language = language;
        self
    }

    pub fn request_method(mut self, method: RequestMethod) -> Self {
        self.method = method;
        self
    }

    pub fn task_poll(mut self, task_poll: TaskPollConfig) -> Self {
        self.task_poll = task_poll;
        self
    }

    /// Uses this HTTP client instead of building one (its timeouts then apply).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    pub fn build(self) -> Result<Client> {
        if self.retry.max_attempts == 0 {
            return Err(Error::Config(
                "retry.max_attempts must be at least 1".into(),
            ));
        }
        let credentials = match self.credentials {
            Some(c) => c,
            None => CredentialsProvider::from_env()?,
        };
        let mut endpoints = HashMap::new();
        for service in Service::ALL {
            let endpoint = match self.endpoints.get(&service) {
                Some(url) => Endpoint::parse(url)?,
                None => service.default_endpoint(),
            };
            endpoints.insert(service, endpoint);
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(concat!("dac-tencentcloud/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                credentials,
                endpoints,
                retry: self.retry,
                limiter: RateLimiter::new(self.rate_limit),
                language: self.language,
                method: self.method,
                task_poll: self.task_poll,
                observer: self.observer,
            }),
        })
    }
}

impl Client {
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub fn endpoint(&self, service: Service) -> &Endpoint {
        &self.inner.endpoints[&service]
    }

    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    pub fn rate_limit_config(&self) -> &RateLimitConfig {
        self.inner.limiter.config()
    }

    pub fn task_poll_config(&self) -> &TaskPollConfig {
        &self.inner.task_poll
    }

    /// Calls `action` of `service` in `region` (empty for region-less actions), retrying
    /// throttled, busy and transient failures as the [`RetryConfig`] says, and decodes the
    /// `Response` object into `Resp`.
    pub async fn call<Req, Resp>(
        &self,
        service: Service,
        action: &str,
        region: &str,
        req: &Req,
    ) -> Result<Resp>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let encoded = transport::encode(self.inner.method, req)?;
        let span = tracing::debug_span!(
            "tencentcloud",
            service = service.name(),
            action,
            region,
            attempt = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        async {
            let started = tokio::time::Instant::now();
            let mut attempts = Attempts::default();
            let mut attempt = 1;
            loop {
                tracing::Span::current().record("attempt", attempt);
                self.inner.limiter.acquire(action).await;
                let outcome = self.send_once(service, action, region, &encoded).await;
                if let Some(observer) = &self.inner.observer {
                    (observer.0)(action, outcome.as_ref().map(|_| ()).map_err(|e| e.kind()));
                }
                match outcome {
                    Ok((resp, request_id)) => {
                        tracing::Span::current().record("request_id", request_id.as_str());
                        tracing::debug!("call succeeded");
                        return Ok(resp);
                    }
                    Err(err) => {
                        if let Some(id) = err.request_id() {
                            tracing::Span::current().record("request_id", id);
                        }
                        if err.kind() == crate::ErrorKind::Busy {
                            attempts.busy += 1;
                        } else {
                            attempts.failed += 1;
                        }
                        attempts.elapsed = started.elapsed();
                        let Some(delay) = self.inner.retry.retry_delay(action, &err, &attempts)
                        else {
                            tracing::debug!(kind = %err.kind(), error = %err, "call failed");
                            return Err(err);
                        };
                        tracing::debug!(
                            kind = %err.kind(),
                            error = %err,
                            delay_ms = delay.as_millis() as u64,
                            "retrying"
                        );
                        tokio::time::sleep(delay).await;
                        attempt += 1;
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One signed HTTP exchange. Credentials are fetched per attempt so that a rotated Secret
    /// is picked up even in the middle of a retry sequence.
    async fn send_once<Resp: DeserializeOwned>(
        &self,
        service: Service,
        action: &str,
        region: &str,
        encoded: &Encoded,
    ) -> Result<(Resp, String)> {
        let creds = self.inner.credentials.current()?;
        let endpoint = self.endpoint(service);
        let input = SigningInput {
            method: encoded.method.as_str(),
            query: &encoded.query,
            content_type: encoded.content_type(),
            host: endpoint.host(),
            payload: &encoded.payload,
            service: service.name(),
            timestamp: chrono::Utc::now().timestamp(),
        };
        let meta = CallMetadata {
            action,
            version: service.version(),
            region,
            token: creds.token().map(|t| t.expose()),
            language: self.inner.language.as_deref(),
        };
        let mut url = endpoint.url().clone();
        if !encoded.query.is_empty() {
            url.set_query(Some(&encoded.query));
        }
        let method = match encoded.method {
            RequestMethod::Post => reqwest::Method::POST,
            RequestMethod::Get => reqwest::Method::GET,
        };
        let mut request = self.inner.http.request(method, url);
        for (name, value) in input.headers(&meta, creds.secret_id(), creds.secret_key().expose()) {
            request = request.header(name, value);
        }
        if encoded.method == RequestMethod::Post {
            request = request.body(encoded.payload.clone());
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(action, e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(action, e))?;
        let resp: serde_json::Value = transport::decode(action, status, &body)?;
        let request_id = resp
            .get("RequestId")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        let typed = serde_json::from_value(resp).map_err(|e| Error::Decode {
            action: action.to_string(),
            message: e.to_string(),
            request_id: Some(request_id.clone()),
        })?;
        Ok((typed, request_id))
    }
}

fn transport_error(action: &str, source: reqwest::Error) -> Error {
    Error::Transport {
        action: action.to_string(),
        // A refused connection or a request that could not even be built never reached the
        // server; anything later may have.
        not_sent: source.is_connect() || source.is_builder(),
        source,
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let endpoints: HashMap<_, _> = self
            .inner
            .endpoints
            .iter()
            .map(|(s, e)| (s.name(), e.url().as_str()))
            .collect();
        f.debug_struct("Client")
            .field("credentials", &self.inner.credentials)
            .field("endpoints", &endpoints)
            .field("method", &self.inner.method)
            .field("language", &self.inner.language)
            .field("retry", &self.inner.retry)
            .field("rate_limit", self.inner.limiter.config())
            .field("task_poll", &self.inner.task_poll)
            .finish()
    }
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tencent Cloud API client (clb {}, vpc {}; {})",
            self.endpoint(Service::Clb),
            self.endpoint(Service::Vpc),
            self.inner.credentials
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Credentials;

    #[test]
    fn debug_and_display_never_show_key_or_token() {
        let client = Client::builder()
            .credentials(CredentialsProvider::fixed(
                Credentials::new("AKIDvisible", "hidden-key-123").with_token("hidden-token-456"),
            ))
            .endpoint(Service::Clb, "http://127.0.0.1:9000")
            .build()
            .unwrap();
        for text in [
            format!("{client:?}"),
            format!("{client:#?}"),
            format!("{client}"),
        ] {
            assert!(!text.contains("hidden-key-123"), "{text}");
            assert!(!text.contains("hidden-token-456"), "{text}");
            assert!(text.contains("AKIDvisible"), "{text}");
            assert!(text.contains("127.0.0.1:9000"), "{text}");
        }
        let clone = client.clone();
        assert!(Arc::ptr_eq(&client.inner, &clone.inner));
    }

    #[test]
    fn endpoints_default_to_the_public_api_and_bad_ones_fail_the_build() {
        let creds = || CredentialsProvider::fixed(Credentials::new("a", "b"));
        let client = Client::builder().credentials(creds()).build().unwrap();
        assert_eq!(
            client.endpoint(Service::Vpc).host(),
            "vpc.tencentcloudapi.com"
        );
        let err = Client::builder()
            .credentials(creds())
            .endpoint(Service::Vpc, "http://x/path")
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    }
}
