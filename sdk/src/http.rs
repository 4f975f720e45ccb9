//! Blocking HTTP client over wasi-http (feature `http`): the host decides which hosts are reachable.
//!
//! Written on the raw `wasi:http` bindings rather than an async client so that a request the host
//! refuses reports the host's error code (e.g. `HttpRequestDenied`) instead of the broken body pipe
//! that follows it.

use crate::types::PluginError;
use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::streams::StreamError;

/// An outgoing request; build with [`Request::get`] or [`Request::post`], then [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole response body.
    pub body: Vec<u8>,
}

/// Bodies are written and read in chunks of this size (wasi streams accept at most 4 KiB per blocking write).
const CHUNK: usize = 4096;

impl Request {
    /// A GET of `url` with a 10 s timeout.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url.into())
    }

    /// A POST to `url` with an empty body and a 10 s timeout.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url.into())
    }

    fn new(method: Method, url: String) -> Self {
        Request { method, url, headers: Vec::new(), body: Vec::new(), timeout: Duration::from_secs(10) }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Bounds connecting, the wait for the first byte, and each gap between body chunks.
    /// Enforced by the host's clock, so it works even when the plugin's clocks are frozen.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and reads the whole response. A malformed request is a permanent error;
    /// transport failures (refused, timed out, denied by the host) are retryable. Any status is `Ok`.
    pub fn send(self) -> Result<Response, PluginError> {
        let method = match self.method {
            Method::Get => "GET",
            _ => "POST",
        };
        let context = format!("{method} {}", self.url);
        self.send_inner().map_err(|e| match e {
            Failure::Invalid(why) => PluginError::permanent(format_args!("{context}: {why}")),
            Failure::Transport(why) => PluginError::retryable(format_args!("{context}: {why}")),
        })
    }

    fn send_inner(self) -> Result<Response, Failure> {
        let request = self.outgoing_request()?;
        let body = request.body().map_err(|()| Failure::Invalid("request body unavailable".into()))?;
        let pending = outgoing_handler::handle(request, Some(self.options())).map_err(Failure::code)?;
        let written = write_body(body, &self.body);
        pending.subscribe().block();
        // The response's error (e.g. the host denying the request) explains a failed body write better.
        let response = match pending.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(Failure::code(code)),
            _ => return Err(Failure::Transport("response future in an unexpected state".into())),
        };
        written?;
        read_response(response)
    }

    fn outgoing_request(&self) -> Result<OutgoingRequest, Failure> {
        let (scheme, authority, path) =
            split_url(&self.url).ok_or_else(|| Failure::Invalid("not an absolute URL".into()))?;
        // An explicit length keeps wasi-http from sending a chunked body (even with GET), which some servers refuse.
        let length = ("content-length".to_owned(), self.body.len().to_string().into_bytes());
        let entries: Vec<(String, Vec<u8>)> =
            self.headers.iter().map(|(k, v)| (k.clone(), v.clone().into_bytes())).chain([length]).collect();
        let headers = Fields::from_list(&entries).map_err(|e| Failure::Invalid(format!("header rejected: {e:?}")))?;
        let request = OutgoingRequest::new(headers);
        let rejected = |what: &str| Failure::Invalid(format!("{what} rejected"));
        request.set_method(&self.method).map_err(|()| rejected("method"))?;
        request.set_scheme(Some(&scheme)).map_err(|()| rejected("scheme"))?;
        request.set_authority(Some(authority)).map_err(|()| rejected("authority"))?;
        request.set_path_with_query(Some(path)).map_err(|()| rejected("path"))?;
        Ok(request)
    }

    fn options(&self) -> RequestOptions {
        let options = RequestOptions::new();
        let nanos = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        // Setters only fail when the host does not support a timeout; the host's call deadline still applies.
        let _ = options.set_connect_timeout(Some(nanos));
        let _ = options.set_first_byte_timeout(Some(nanos));
        let _ = options.set_between_bytes_timeout(Some(nanos));
        options
    }
}

enum Failure {
    Invalid(String),
    Transport(String),
}

impl Failure {
    fn code(code: ErrorCode) -> Self {
        Failure::Transport(format!("{code:?}"))
    }

    fn stream(error: StreamError) -> Self {
        match error {
            StreamError::LastOperationFailed(e) => Failure::Transport(e.to_debug_string()),
            StreamError::Closed => Failure::Transport("connection closed".into()),
        }
    }
}

/// `https://host:8443/a?b` → (Https, "host:8443", "/a?b").
fn split_url(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_owned()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() { "/" } else { path };
    (!authority.is_empty()).then_some((scheme, authority, path))
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Failure> {
    let stream = body.write().map_err(|()| Failure::Invalid("request body already written".into()))?;
    for chunk in bytes.chunks(CHUNK) {
        stream.blocking_write_and_flush(chunk).map_err(Failure::stream)?;
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(Failure::code)
}

fn read_response(response: IncomingResponse) -> Result<Response, Failure> {
    let status = response.status();
    let body = response.consume().map_err(|()| Failure::Transport("response body unavailable".into()))?;
    let stream = body.stream().map_err(|()| Failure::Transport("response body stream unavailable".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(CHUNK as u64 * 16) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(Failure::stream(e)),
        }
    }
    drop(stream);
    drop(IncomingBody::finish(body));
    Ok(Response { status, body: bytes })
}
