//! The cloud's endpoint: one POST/GET `/` for every service, answered in the cloud's envelope.
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::{self, SignedRequest};
use crate::config::{RegionConfig, Settings};
use crate::dispatch::{self, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::server::{Shared, lock};
use crate::state::{CloudState, RegionState};
use crate::tasks::Tasks;
use crate::util::now_ms;
use crate::validation;

/// How a request ends when it does not succeed.
enum Failure {
    Api(ApiError),
    /// An injected fault: close the connection without an answer.
    Drop,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let action = auth::header(&headers, "x-tc-action")
        .unwrap_or("")
        .to_string();
    let outcome = serve(&shared, &method, &uri, &headers, &body, &request_id).await;
    match outcome {
        Ok(mut response) => {
            if let Some(map) = response.as_object_mut() {
                map.insert("RequestId".into(), json!(request_id));
            }
            tracing::debug!(%action, %request_id, "ok");
            envelope(json!({ "Response": response }))
        }
        Err(Failure::Api(e)) => {
            tracing::debug!(%action, %request_id, code = %e.code, message = %e.message, "error");
            let error = json!({"Code": e.code, "Message": e.message});
            envelope(json!({"Response": {"Error": error, "RequestId": request_id}}))
        }
        Err(Failure::Drop) => {
            tracing::debug!(%action, %request_id, "dropping the connection (fault)");
            dropped()
        }
    }
}

/// Errors too are HTTP 200; the official SDK parses an error only when the Content-Type is
/// exactly `application/json`.
fn envelope(body: Value) -> Response {
    let mut response = body.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A response whose body fails before its first byte: the server then closes the connection
/// and the client sees it drop mid-request, as with a network fault.
fn dropped() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("fault: drop"))
    });
    Response::new(Body::from_stream(stream))
}

async fn serve(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    request_id: &str,
) -> Result<Value, Failure> {
    let is_get = method == Method::GET;
    let query = if is_get {
        uri.query().unwrap_or("")
    } else {
        ""
    };
    let payload: &[u8] = if is_get { b"" } else { body };
    let settings = lock(&shared.settings).clone();
    let signed = SignedRequest {
        method: method.as_str(),
        query,
        headers,
        payload,
    };
    let verified = auth::verify(
        &signed,
        &shared.config.credentials,
        settings.max_clock_skew_secs,
        now_ms() / 1000,
    )?;
    let action = auth::header(headers, "x-tc-action")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::missing_parameter("Action"))?;
    let spec = validation::service(&verified.service).ok_or_else(|| {
        ApiError::new(
            "InvalidAction",
            format!(
                "Service `{}` is not emulated (only clb and vpc are).",
                verified.service
            ),
        )
    })?;
    if !spec.actions.iter().any(|a| a == action) {
        let hint = match validation::service_of(action) {
            Some((other, _)) => format!(" (it belongs to service `{other}`)"),
            None => String::new(),
        };
        return Err(ApiError::new(
            "InvalidAction",
            format!(
                "The action `{action}` is invalid for service `{}`{hint}.",
                verified.service
            ),
        )
        .into());
    }
    let version = auth::header(headers, "x-tc-version")
        .ok_or_else(|| ApiError::missing_parameter("Version"))?;
    if version != spec.version {
        return Err(ApiError::new(
            "NoSuchVersion",
            format!(
                "The specified api version=`{version}` does not exist in service=`{}`.",
                verified.service
            ),
        )
        .into());
    }
    let region_name = auth::header(headers, "x-tc-region")
        .ok_or_else(|| ApiError::missing_parameter("Region"))?;
    let region_config = shared.config.region(region_name).ok_or_else(|| {
        ApiError::new(
            "UnsupportedRegion",
            format!("Region {region_name} is not supported."),
        )
    })?;

    lock(&shared.limiter).check(&verified.secret_id, action, Instant::now())?;
    let fired = lock(&shared.faults).fire(action);
    let mut fail_task = false;
    let mut after = None;
    if let Some(fired) = fired {
        if fired.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fired.latency_ms)).await;
        }
        if fired.after_apply {
            after = Some(fired);
        } else if fired.drop {
            return Err(Failure::Drop);
        } else if let Some(error) = fired.error {
            return Err(error.into());
        } else {
            fail_task = fired.fail_task;
        }
    }

    let params = parameters(action, is_get, uri, headers, body)?;
    validation::validate(action, &params)?;
    let call = Call {
        action,
        region_name,
        region_config,
        settings: &settings,
        request_id,
    };
    let result = call.run(shared, params, fail_task);
    // Describe calls may record ENIs too; the debounced save makes marking every call cheap.
    shared.mark_dirty();
    // An ambiguous write: done, but the client is not told so.
    if let Some(fired) = after
        && result.is_ok()
    {
        lock(&shared.faults).consume(fired.rule_id);
        if fired.drop {
            return Err(Failure::Drop);
        }
        if let Some(error) = fired.error {
            return Err(error.into());
        }
    }
    Ok(result?)
}

/// One validated call, ready to run against the state.
struct Call<'a> {
    action: &'a str,
    region_name: &'a str,
    region_config: &'a RegionConfig,
    settings: &'a Settings,
    request_id: &'a str,
}

impl Call<'_> {
    fn run(&self, shared: &Shared, params: Value, fail_task: bool) -> ApiResult<Value> {
        let now = now_ms();
        let mut state = lock(&shared.state);
        state.settle(now);
        let CloudState { regions, tasks } = &mut *state;
        let region = regions.entry(self.region_name.to_string()).or_default();
        if !fail_task {
            return self.dispatch(region, tasks, now, params);
        }
        // A task doomed to fail: run the call on copies to get its answer and its tasks, keep
        // only the tasks (marked failed) and the locks they hold, and drop the change itself.
        let mut region_copy = region.clone();
        let mut tasks_copy = tasks.clone();
        let result = self.dispatch(&mut region_copy, &mut tasks_copy, now, params)?;
        tasks.next_number = tasks_copy.next_number;
        for (id, mut task) in tasks_copy.by_id {
            if tasks.by_id.contains_key(&id) {
                continue;
            }
            task.failed = true;
            for lb_id in &task.resource_ids {
                if let Some(lb) = region.load_balancers.get_mut(lb_id) {
                    lb.busy_until_ms = lb.busy_until_ms.max(task.done_at_ms);
                }
            }
            tasks.by_id.insert(id, task);
        }
        Ok(result)
    }

    fn dispatch(
        &self,
        region: &mut RegionState,
        tasks: &mut Tasks,
        now: i64,
        params: Value,
    ) -> ApiResult<Value> {
        let mut ctx = Ctx {
            region,
            tasks,
            region_config: self.region_config,
            region_name: self.region_name,
            settings: self.settings,
            now_ms: now,
            request_id: self.request_id,
        };
        dispatch::call(&mut ctx, self.action, params)
    }
}

/// The action's parameters as one JSON object, from the body (POST) or the query (GET).
fn parameters(
    action: &str,
    is_get: bool,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> ApiResult<Value> {
    if is_get {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|e| {
            ApiError::invalid_parameter(format!("The query string is malformed: {e}"))
        })?;
        return validation::unflatten(action, &pairs);
    }
    let content_type = auth::header(headers, "content-type").unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(ApiError::invalid_parameter(format!(
            "Content-Type `{content_type}` is not supported with TC3-HMAC-SHA256; send application/json."
        )));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_parameter(format!("The request body is not valid JSON: {e}"))
    })
}
