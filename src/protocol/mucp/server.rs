//! The mucp server front end: one task per HTTP/1.1 connection, requests answered in
//! order, replies shaped byte for byte as a go-micro server shapes them (spec §1.4, §4):
//! status always `200 OK`, headers = the connection's first request echoed and overlaid
//! with the message's own, sorted; errors in `Micro-Error`. Requests to another path than
//! `/` are the Connect protocol's, answered by `protocol::connect`.

use super::parse_timeout;
use crate::codec::{self, Codec};
use crate::message::{Metadata, Request};
use crate::protocol::connect::{self, ConnectRequest};
use crate::protocol::cors::Cors;
use crate::protocol::http1::{HttpConnection, HttpMessage, Phase, ReadError};
use crate::protocol::wire::{self, Wire};
use crate::protocol::{caller_metadata, stopping, Dispatch, Lookup};
use crate::status::{http_status_text, Code, Status};
use bytes::Bytes;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

/// mucp's own request headers: routing, the request id and the deadline (spec §1.2).
const MUCP_RESERVED: [&str; 7] = [
    "micro-id",
    "micro-service",
    "micro-endpoint",
    "micro-method",
    "micro-stream",
    "timeout",
    "accept",
];

/// Headers of the first request that are never echoed back (spec §1.4; Go keeps `Host`
/// out of its header map).
const NOT_ECHOED: [&str; 4] = ["Host", "Content-Length", "Transfer-Encoding", "Trailer"];

/// What one request produced, before it is written as an HTTP response.
enum Outcome {
    Reply {
        content_type: &'static str,
        body: Bytes,
    },
    Error(String),
    UnsupportedContentType(String),
}

/// Serves mucp requests on one connection until the peer closes it, sends
/// `Connection: close`, or `shutdown` turns true while the connection is idle.
pub async fn serve_connection<S, D>(
    mut connection: HttpConnection<S>,
    dispatch: &D,
    cors: &Cors,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let mut echo: Option<Vec<(String, String)>> = None;
    let mut out = Vec::with_capacity(1024);
    loop {
        let read = tokio::select! {
            read = connection.read_request() => read,
            _ = stopping(&mut shutdown) => {
                // Draining: a request that has begun to arrive is still served.
                if !connection.has_partial_message() && !connection.read_ready().await {
                    return;
                }
                connection.read_request().await
            }
        };
        let message = match read {
            Ok(message) => message,
            Err(ReadError::Closed | ReadError::Io(_) | ReadError::TimedOut(Phase::Idle)) => return,
            Err(error @ (ReadError::TooLarge { .. } | ReadError::Truncated { .. })) => {
                // The body cannot be read past this point, so the connection ends here.
                let code = error.http_status();
                let status = Status {
                    http_code: Some(code),
                    ..Status::new(Code::from_http(code.into()), error.to_string())
                };
                let value = micro_error(status, dispatch.origin());
                out.clear();
                let overlay = [
                    ("Connection", "close"),
                    ("Micro-Error", value.as_str()),
                    ("X-Micro-Error", value.as_str()),
                ];
                write_response(&mut out, echo.as_deref().unwrap_or_default(), &overlay, b"");
                if connection.write_all(&out).await.is_ok() {
                    connection.linger().await;
                }
                return;
            }
            Err(error) => {
                // Framing that cannot be trusted, or a request too slow: plain HTTP, as
                // Go's server answers these, and the connection closed.
                let code = error.http_status();
                let reason = match &error {
                    ReadError::Malformed(reason) => reason.clone(),
                    error => error.to_string(),
                };
                let text = http_status_text(code);
                let reply = format!(
                    "HTTP/1.1 {code} {text}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n{code} {text}: {reason}"
                );
                if connection.write_all(reply.as_bytes()).await.is_ok() {
                    connection.linger().await;
                }
                return;
            }
        };
        if let Some(request) = connect_request(&message, connection.max_body()) {
            let header = |name: &str| request.header(name);
            if Cors::is_preflight(request.method, header) {
                let answer = cors.preflight(header);
                out.clear();
                let text = http_status_text(answer.status);
                out.extend_from_slice(
                    format!("HTTP/1.1 {} {text}\r\nContent-Length: 0\r\n", answer.status)
                        .as_bytes(),
                );
                for (name, value) in answer.headers {
                    out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                if connection.write_all(&out).await.is_err() || closes(&message) {
                    return;
                }
                continue;
            }
            let extra = cors.reply_headers(request.header("origin"));
            // Enveloped forms: Connect streams and gRPC-Web (gRPC itself needs HTTP/2, and
            // is answered 415 by the unary form).
            if let Some((codec, wire)) =
                Wire::of(request.content_type).filter(|(_, wire)| *wire != Wire::Grpc)
            {
                let writer = connection.writer();
                let stopping = shutdown.clone();
                let served =
                    wire::serve_http1(dispatch, request, codec, wire, &extra, stopping, writer)
                        .await;
                if served.is_err() || closes(&message) {
                    return;
                }
                continue;
            }
            out.clear();
            // A client that leaves drops its call (an exec handler's processes die).
            let mut reply = tokio::select! {
                biased;
                reply = connect::serve(dispatch, request) => reply,
                _ = connection.closed() => return,
            };
            reply.headers.extend(extra);
            reply.write_http1(&mut out);
            if connection.write_all(&out).await.is_err() || closes(&message) {
                return;
            }
            continue;
        }
        let echo = echo.get_or_insert_with(|| echoed_headers(&message));
        let close_after = closes(&message);
        let request_id = message.header("Micro-Id").map(str::to_owned);
        let outcome = tokio::select! {
            biased;
            outcome = handle(dispatch, &message) => outcome,
            _ = connection.closed() => return,
        };

        // Shutting down: this reply is the connection's last, and says so, so that a
        // keep-alive client opens a new connection for its next call instead of sending
        // it into one about to close.
        let last = (*shutdown.borrow()).then_some(("Connection", "close"));
        out.clear();
        match &outcome {
            Outcome::Reply { content_type, body } => {
                let mut overlay = Vec::with_capacity(4);
                overlay.extend(last);
                if !body.is_empty() {
                    overlay.push(("Content-Type", *content_type));
                }
                if let Some(id) = &request_id {
                    overlay.push(("Micro-Id", id.as_str()));
                    overlay.push(("X-Micro-Id", id.as_str()));
                }
                write_response(&mut out, echo, &overlay, body);
            }
            Outcome::Error(value) => {
                // Errors carry the current request's headers (spec §3.2).
                let mut overlay: Vec<(&str, &str)> = message
                    .headers
                    .iter()
                    .filter(|(name, _)| !NOT_ECHOED.contains(&name.as_str()))
                    .map(|(name, value)| (name.as_str(), value.as_str()))
                    .collect();
                overlay.push(("Micro-Error", value));
                overlay.push(("X-Micro-Error", value));
                if last.is_some() {
                    overlay.retain(|(name, _)| !name.eq_ignore_ascii_case("Connection"));
                    overlay.extend(last);
                }
                write_response(&mut out, echo, &overlay, b"");
            }
            Outcome::UnsupportedContentType(content_type) => {
                let body = format!("unsupported Content-Type: {content_type}");
                let mut overlay = vec![("Content-Type", "text/plain")];
                overlay.extend(last);
                write_response(&mut out, echo, &overlay, body.as_bytes());
            }
        }
        if connection.write_all(&out).await.is_err() || close_after {
            return;
        }
        if last.is_some() {
            connection.linger().await;
            return;
        }
    }
}

/// The Connect protocol's view of a request to another path than mucp's `/`.
fn connect_request(message: &HttpMessage, max_message_size: usize) -> Option<ConnectRequest<'_>> {
    let (method, target) = message
        .request_line()
        .filter(|(_, path)| connect::is_connect_path(path))?;
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    Some(ConnectRequest {
        method,
        path,
        query,
        content_type: message.header("Content-Type").unwrap_or(""),
        headers: message
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect(),
        body: &message.body,
        max_message_size,
    })
}

/// The client asked to close the connection after this request.
fn closes(message: &HttpMessage) -> bool {
    message
        .header("Connection")
        .is_some_and(|value| value.eq_ignore_ascii_case("close"))
}

/// Routes, decodes and dispatches one request (spec §2.3, §4.1–§4.2).
async fn handle<D: Dispatch>(dispatch: &D, message: &HttpMessage) -> Outcome {
    let content_type = message
        .header("Content-Type")
        .unwrap_or("application/protobuf");
    let Some(codec) = Codec::from_content_type(content_type) else {
        return Outcome::UnsupportedContentType(content_type.to_owned());
    };
    let endpoint_name = [
        "Micro-Endpoint",
        "X-Micro-Endpoint",
        "Micro-Method",
        "X-Micro-Method",
    ]
    .iter()
    .find_map(|name| message.header(name))
    .unwrap_or("");
    let mut parts = endpoint_name.split('.');
    let (Some(service), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Outcome::Error(format!(
            "rpc: service/endpoint request ill-formed: {endpoint_name}"
        ));
    };
    let endpoint = match dispatch.lookup(service, method) {
        Lookup::Found(endpoint) => endpoint,
        Lookup::NoService => return Outcome::Error(format!("rpc: can't find service {service}")),
        Lookup::NoMethod => return Outcome::Error(format!("rpc: can't find method {method}")),
    };
    let error = |status: Status| Outcome::Error(micro_error(status, dispatch.origin()));
    if message.header("Micro-Stream").is_some() || crate::schema::is_streaming(&endpoint.method) {
        return error(Status::new(
            Code::Unimplemented,
            format!("{endpoint_name} streams; rmicro does not serve mucp streams yet"),
        ));
    }
    if message.header("Micro-Topic").is_some() {
        return error(Status::new(
            Code::Unimplemented,
            "rmicro does not take broker events",
        ));
    }
    let body = match codec::decode(codec, &endpoint.method.input(), &message.body) {
        Ok(body) => body,
        Err(reason) => return error(Status::invalid_argument(reason)),
    };
    let deadline = message
        .header("Timeout")
        .and_then(parse_timeout)
        .map(|timeout| Instant::now() + timeout);
    let metadata: Metadata = caller_metadata(
        message
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        &MUCP_RESERVED,
    );
    let request = Request {
        endpoint,
        metadata,
        body,
        deadline,
    };
    match dispatch
        .call(request)
        .await
        .and_then(|reply| codec::encode_reply(codec, &reply).map_err(Status::internal))
    {
        Ok(body) => Outcome::Reply {
            content_type: codec.content_type(),
            body,
        },
        Err(status) => error(status),
    }
}

/// The `Micro-Error` value for a status: go-micro error JSON, with this server as the
/// origin when the status names none, and CR/LF turned into spaces as Go's header writer
/// does.
fn micro_error(status: Status, origin: &str) -> String {
    let status = if status.id.is_empty() {
        status.with_id(origin)
    } else {
        status
    };
    status.to_micro_json().replace(['\r', '\n'], " ")
}

fn echoed_headers(first: &HttpMessage) -> Vec<(String, String)> {
    first
        .headers
        .iter()
        .filter(|(name, _)| !NOT_ECHOED.contains(&name.as_str()))
        .cloned()
        .collect()
}

/// Writes `HTTP/1.1 200 OK` with the echoed headers overlaid by `overlay` (Go's `Set`),
/// sorted by name; `Content-Length` first, or last when the body is empty (spec §1.4).
fn write_response(
    out: &mut Vec<u8>,
    echo: &[(String, String)],
    overlay: &[(&str, &str)],
    body: &[u8],
) {
    let mut headers: Vec<(&str, &str)> = echo
        .iter()
        .filter(|(name, _)| !overlay.iter().any(|(key, _)| key == name))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .chain(overlay.iter().copied())
        .collect();
    headers.sort_by(|a, b| a.0.cmp(b.0));
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    if !body.is_empty() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if body.is_empty() {
        out.extend_from_slice(b"Content-Length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}
