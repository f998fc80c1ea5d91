//! The mucp server front end: one task per HTTP/1.1 connection, requests answered in
//! order, replies shaped byte for byte as a go-micro server shapes them (spec §1.4, §4):
//! status always `200 OK`, headers = the connection's first request echoed and overlaid
//! with the message's own, sorted; errors in `Micro-Error`. Every go-micro codec is
//! served (`body`); a go-micro stream (`Micro-Stream`, spec §5) holds the connection
//! while it runs, requests and replies flowing both ways at once. Requests to another
//! path than `/` are the Connect protocol's, answered by `protocol::connect`.

use super::body::{self, BodyCodec, Opened};
use super::parse_timeout;
use crate::codec;
use crate::message::{CallContext, Decoded, Endpoint, Extras, Metadata, Request, StreamCall};
use crate::protocol::connect::{self, ConnectRequest};
use crate::protocol::cors::Cors;
use crate::protocol::http1::{HttpConnection, HttpMessage, Phase, ReadError};
use crate::protocol::wire::{self, Wire};
use crate::protocol::{
    caller_metadata, decode_request, refused, stopping, Dispatch, Lookup, Timeouts,
};
use crate::status::{http_status_text, Code, Status};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
        /// The request's `Content-Type`, which the reply carries (spec §4.3).
        content_type: String,
        body: Bytes,
        extra: Vec<(&'static str, String)>,
        /// go-micro closes the connection after a gRPC-framed request (spec §2.4).
        close: bool,
    },
    Error {
        value: String,
        /// The legacy envelopes carry the error in the body too.
        body: Bytes,
        extra: Vec<(&'static str, String)>,
    },
    UnsupportedContentType(String),
}

/// The largest refused request body read and dropped so that its client can read the
/// refusal (spec §1.4: go-micro itself has no limit, so its clients send whatever they have).
const DISCARD_BOUND: usize = 64 * 1024 * 1024;

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
                    let time = connection
                        .timeouts()
                        .body
                        .unwrap_or(Duration::from_secs(30));
                    connection.discard_refused_body(DISCARD_BOUND, time).await;
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
                let write_timeout = connection.timeouts().write;
                let mut writer = wire::Bounded::new(connection.writer(), write_timeout);
                let stopping = shutdown.clone();
                let served = wire::serve_http1(
                    dispatch,
                    request,
                    codec,
                    wire,
                    &extra,
                    stopping,
                    &mut writer,
                )
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
        if message.header("Micro-Stream").is_some() && message.header("Micro-Error") == Some("EOS")
        {
            // The end of a stream that is not open (any more) is dropped (spec §4.1).
            if close_after {
                return;
            }
            continue;
        }
        let request_id = message.header("Micro-Id").map(str::to_owned);
        let context = CallContext::new("mucp", "identity");
        let outcome = match route(dispatch, &message, connection.max_body()) {
            Err(outcome) => outcome,
            Ok(routed) if routed.streams => {
                let stopping = shutdown.clone();
                match serve_stream(&mut connection, dispatch, &message, routed, echo, stopping)
                    .await
                {
                    Ok(()) if !close_after => continue,
                    _ => return,
                }
            }
            Ok(routed) => tokio::select! {
                biased;
                outcome = call(dispatch, &message, routed, context.clone()) => outcome,
                _ = connection.closed() => return,
            },
        };

        // Shutting down: this reply is the connection's last, and says so, so that a
        // keep-alive client opens a new connection for its next call instead of sending
        // it into one about to close.
        let last = (*shutdown.borrow()).then_some(("Connection", "close"));
        let extras = context.reply.get();
        let handler_headers = handler_headers(&extras, true);
        out.clear();
        let mut close_after = close_after;
        match &outcome {
            Outcome::Reply {
                content_type,
                body,
                extra,
                close,
            } => {
                close_after |= close;
                let mut overlay = Vec::with_capacity(4);
                overlay.extend(last);
                if !body.is_empty() {
                    overlay.push(("Content-Type", content_type.as_str()));
                }
                if let Some(id) = &request_id {
                    overlay.push(("Micro-Id", id.as_str()));
                    overlay.push(("X-Micro-Id", id.as_str()));
                }
                overlay.extend(extra.iter().map(|(name, value)| (*name, value.as_str())));
                overlay.extend(handler_headers.iter().copied());
                write_response(&mut out, echo, &overlay, body);
            }
            Outcome::Error { value, body, extra } => {
                let mut overlay = error_overlay(&message, value);
                overlay.extend(extra.iter().map(|(name, value)| (*name, value.as_str())));
                overlay.extend(handler_headers.iter().copied());
                if last.is_some() {
                    overlay.retain(|(name, _)| !name.eq_ignore_ascii_case("Connection"));
                    overlay.extend(last);
                }
                write_response(&mut out, echo, &overlay, body);
            }
            Outcome::UnsupportedContentType(content_type) => {
                // go-micro's shape (spec §2.3), with the error in `Micro-Error` as well,
                // so that no client reads the text as a reply.
                let body = format!("unsupported Content-Type: {content_type}");
                let status = Status {
                    http_code: Some(415),
                    ..Status::invalid_argument(format!(
                        "{body} (rmicro serves {})",
                        body::CONTENT_TYPES.join(", ")
                    ))
                };
                let value = micro_error(status, dispatch.origin());
                let mut overlay = vec![
                    ("Content-Type", "text/plain"),
                    ("Micro-Error", value.as_str()),
                    ("X-Micro-Error", value.as_str()),
                ];
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

/// The handler's headers for a reply message, as Go's Header().Set would set them. mucp
/// has no trailers, so on the call's last message (a unary reply, a stream's end) its
/// trailers follow as headers: a proxied gRPC reply's trailers reach a mucp caller, and a
/// recording of it replays the same.
fn handler_headers(extras: &Extras, last: bool) -> Vec<(&str, &str)> {
    let trailers = extras.trailers.iter().filter(|_| last);
    extras.headers.iter().chain(trailers).collect()
}

/// Errors carry the current request's headers and the error twice (spec §3.2).
fn error_overlay<'a>(message: &'a HttpMessage, value: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut overlay: Vec<(&str, &str)> = message
        .headers
        .iter()
        .filter(|(name, _)| !NOT_ECHOED.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    overlay.push(("Micro-Error", value));
    overlay.push(("X-Micro-Error", value));
    overlay
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

/// A request routed to its endpoint, its body opened from the codec's framing.
struct Routed {
    codec: BodyCodec,
    endpoint: Arc<Endpoint>,
    opened: Opened,
    /// A go-micro stream (`Micro-Stream`) to a streaming method.
    streams: bool,
}

/// Picks the codec, opens the body and finds the endpoint (spec §2.3, §4.1–§4.2).
fn route<D: Dispatch>(
    dispatch: &D,
    message: &HttpMessage,
    max_message_size: usize,
) -> Result<Routed, Outcome> {
    let content_type = message
        .header("Content-Type")
        .unwrap_or("application/protobuf");
    let routing = [
        "Micro-Endpoint",
        "X-Micro-Endpoint",
        "Micro-Method",
        "X-Micro-Method",
    ]
    .iter()
    .find_map(|name| message.header(name));
    // go-micro's "old protocol": no routing headers at all, the envelope names the method.
    let legacy = routing.is_none()
        && message.header("Micro-Service").is_none()
        && message.header("X-Micro-Service").is_none();
    let Some(codec) = BodyCodec::from_content_type(content_type, legacy) else {
        return Err(Outcome::UnsupportedContentType(content_type.to_owned()));
    };
    let fail = |id: &str, value: String| Outcome::Error {
        body: codec.wrap_error(id, &value),
        extra: codec.reply_headers(Some(&value)),
        value,
    };
    let header_id = message.header("Micro-Id").unwrap_or("");
    let opened = codec
        .open_request(&message.body, max_message_size)
        .map_err(|reason| {
            let status = Status::invalid_argument(reason);
            fail(header_id, micro_error(status, dispatch.origin()))
        })?;
    let id = opened.id.as_deref().unwrap_or(header_id);
    let endpoint_name = routing.or(opened.method.as_deref()).unwrap_or("");
    let mut parts = endpoint_name.split('.');
    let (Some(service), Some(method), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(fail(
            id,
            format!("rpc: service/endpoint request ill-formed: {endpoint_name}"),
        ));
    };
    let endpoint = match dispatch.lookup(service, method) {
        Lookup::Found(endpoint) => endpoint,
        Lookup::NoService => return Err(fail(id, format!("rpc: can't find service {service}"))),
        Lookup::NoMethod => return Err(fail(id, format!("rpc: can't find method {method}"))),
    };
    let error = |status: Status| fail(id, micro_error(status, dispatch.origin()));
    if message.header("Micro-Topic").is_some() {
        return Err(error(Status::new(
            Code::Unimplemented,
            "rmicro does not take broker events",
        )));
    }
    let streaming = crate::schema::is_streaming(&endpoint.method);
    let streams = streaming && message.header("Micro-Stream").is_some();
    if streaming && !streams {
        // go-micro would take this body as the stream's header message and wait for the
        // first request for ever (spec §5).
        return Err(error(Status::invalid_argument(format!(
            "{endpoint_name} {}",
            super::PLAIN_REQUEST_TO_STREAM
        ))));
    }
    Ok(Routed {
        codec,
        endpoint,
        opened,
        streams,
    })
}

/// Decodes and dispatches one unary request.
async fn call<D: Dispatch>(
    dispatch: &D,
    message: &HttpMessage,
    routed: Routed,
    context: CallContext,
) -> Outcome {
    let Routed {
        codec,
        endpoint,
        opened,
        ..
    } = routed;
    let id = opened
        .id
        .clone()
        .unwrap_or_else(|| message.header("Micro-Id").unwrap_or("").to_owned());
    let error = |status: Status| {
        let value = micro_error(status, dispatch.origin());
        Outcome::Error {
            body: codec.wrap_error(&id, &value),
            extra: codec.reply_headers(Some(&value)),
            value,
        }
    };
    let deadline = request_deadline(message);
    let input = endpoint.method.input();
    let body = match decode_request(dispatch, codec.codec, &input, &opened.message, deadline).await
    {
        Ok(body) => body,
        Err(status) => return error(status),
    };
    let request = Request {
        endpoint,
        metadata: request_metadata(message),
        body,
        deadline,
        context,
    };
    match dispatch
        .call(request)
        .await
        .and_then(|reply| codec::encode_reply(codec.codec, &reply).map_err(Status::internal))
    {
        Ok(body) => Outcome::Reply {
            content_type: message
                .header("Content-Type")
                .unwrap_or(codec.content_type)
                .to_owned(),
            body: codec.wrap_reply(&id, &body),
            extra: codec.reply_headers(None),
            close: codec.closes_connection(),
        },
        Err(status) => error(status),
    }
}

fn request_metadata(message: &HttpMessage) -> Metadata {
    caller_metadata(
        message
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
        &MUCP_RESERVED,
    )
}

fn request_deadline(message: &HttpMessage) -> Option<Instant> {
    message
        .header("Timeout")
        .and_then(parse_timeout)
        .map(|timeout| Instant::now() + timeout)
}

/// Serves a go-micro stream (spec §5) on this connection until the handler ends or the
/// client leaves: the first message only opens it (go-micro drops its body), each later
/// one with the same `Micro-Stream` is a request, `Micro-Error: EOS` ends the requests;
/// each reply goes out as its own message the moment it is made, and the stream ends with
/// `Micro-Error: EOS` or the handler's error. The end is sent also after the client's
/// own EOS (go-micro's server sends nothing then; a go-micro client has gone by then, and
/// an rmicro client that half-closed waits for it). `Err` when the connection is done.
async fn serve_stream<S, D>(
    connection: &mut HttpConnection<S>,
    dispatch: &D,
    first: &HttpMessage,
    routed: Routed,
    echo: &[(String, String)],
    stopping: watch::Receiver<bool>,
) -> Result<(), ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let Routed {
        codec, endpoint, ..
    } = routed;
    let stream_id = first.header("Micro-Stream").unwrap_or("").to_owned();
    let id = first.header("Micro-Id").unwrap_or("").to_owned();
    let content_type = first
        .header("Content-Type")
        .unwrap_or(codec.content_type)
        .to_owned();
    let names = ["Micro-Service", "Micro-Method", "Micro-Endpoint"]
        .map(|name| first.header(name).unwrap_or(&endpoint.name).to_owned());
    let input = endpoint.method.input();
    let (request_sender, requests) = tokio::sync::mpsc::channel(16);
    let (replies, mut reply_receiver) = tokio::sync::mpsc::channel(16);
    let context = CallContext::new("mucp", "identity");
    // The handler's headers go on every reply message, as they stand when it goes out.
    let extras = context.reply.clone();
    let calling = dispatch.call_stream(StreamCall {
        endpoint,
        metadata: request_metadata(first),
        deadline: request_deadline(first),
        requests,
        replies,
        stopping,
        context,
    });
    tokio::pin!(calling);
    // A stream waits on its client as long as it likes, as go-micro's server does.
    let timeouts = connection.timeouts();
    connection.set_timeouts(
        Timeouts {
            idle: None,
            ..timeouts
        },
        Instant::now(),
    );
    let mut sender = Some(request_sender);
    let mut pending: VecDeque<Decoded> = VecDeque::new();
    let mut requests_ended = false;
    let mut out = Vec::with_capacity(512);
    let write_reply = |out: &mut Vec<u8>, body: &[u8]| {
        let mut overlay: Vec<(&str, &str)> = vec![
            ("Micro-Service", &names[0]),
            ("Micro-Method", &names[1]),
            ("Micro-Endpoint", &names[2]),
            ("Micro-Stream", &stream_id),
            ("X-Micro-Service", &names[0]),
            ("X-Micro-Method", &names[1]),
            ("X-Micro-Endpoint", &names[2]),
        ];
        if !body.is_empty() {
            overlay.push(("Content-Type", &content_type));
        }
        if !id.is_empty() {
            overlay.push(("Micro-Id", &id));
            overlay.push(("X-Micro-Id", &id));
        }
        let extras = extras.get();
        overlay.extend(handler_headers(&extras, false));
        out.clear();
        write_response(out, echo, &overlay, body);
    };
    let result: Result<(), Status> = loop {
        if requests_ended && pending.is_empty() {
            // The handler's request stream ends once every request has gone in.
            sender = None;
        }
        let sending = sender.clone().filter(|_| !pending.is_empty());
        let can_send = sending.is_some();
        tokio::select! {
            biased;
            reply = reply_receiver.recv() => match reply {
                Some(reply) => match codec::encode_reply(codec.codec, &reply) {
                    Ok(body) => {
                        write_reply(&mut out, &codec.wrap_reply(&id, &body));
                        if connection.write_all(&out).await.is_err() {
                            return Err(());
                        }
                    }
                    Err(error) => break Err(Status::internal(error)),
                },
                None => break calling.await,
            },
            result = &mut calling => {
                // Replies the handler made before it ended still go out.
                while let Ok(reply) = reply_receiver.try_recv() {
                    if let Ok(body) = codec::encode_reply(codec.codec, &reply) {
                        write_reply(&mut out, &codec.wrap_reply(&id, &body));
                        if connection.write_all(&out).await.is_err() {
                            return Err(());
                        }
                    }
                }
                break result;
            }
            permit = async move { sending?.reserve_owned().await.ok() }, if can_send => {
                match permit {
                    Some(permit) => {
                        permit.send(pending.pop_front().expect("a request is pending"));
                    }
                    // The handler takes no more requests.
                    None => {
                        pending.clear();
                        sender = None;
                    }
                }
            }
            read = connection.read_request(), if pending.len() < 16 => {
                let message = match read {
                    Ok(message) => message,
                    // The client left: its call goes with it.
                    Err(_) => return Err(()),
                };
                if message.header("Micro-Stream") != Some(stream_id.as_str()) {
                    // go-micro multiplexes streams on a connection; its clients never do.
                    let value = micro_error(
                        Status::new(
                            Code::Unavailable,
                            "this connection carries a stream: rmicro takes one call at a time on it",
                        ),
                        dispatch.origin(),
                    );
                    out.clear();
                    write_response(&mut out, echo, &error_overlay(&message, &value), b"");
                    if connection.write_all(&out).await.is_err() {
                        return Err(());
                    }
                    continue;
                }
                if requests_ended {
                    continue;
                }
                if message.header("Micro-Error").is_some_and(|error| !error.is_empty()) {
                    // EOS, or the client's error: either way its requests are over.
                    requests_ended = true;
                    continue;
                }
                // The budget is not waited for here, where this loop also writes the
                // replies the handler's own budgeted requests may be waiting on.
                let decoded = codec
                    .open_request(&message.body, connection.max_body())
                    .map_err(Status::invalid_argument)
                    .and_then(|opened| {
                        let lease = dispatch
                            .budget()
                            .try_lease(codec.codec, &input, &opened.message)
                            .map_err(|refusal| refused(refusal, &input))?;
                        codec::decode(codec.codec, &input, &opened.message)
                            .map(|message| Decoded::new(message, lease))
                            .map_err(Status::invalid_argument)
                    });
                match decoded {
                    Ok(request) => pending.push_back(request),
                    Err(status) => break Err(status),
                }
            }
        }
    };
    connection.set_timeouts(timeouts, Instant::now());
    let value = match result {
        Ok(()) => "EOS".to_owned(),
        Err(status) => micro_error(status, dispatch.origin()),
    };
    out.clear();
    let mut overlay = error_overlay(first, &value);
    overlay.push(("Micro-Stream", &stream_id));
    let extras = extras.get();
    overlay.extend(handler_headers(&extras, true));
    write_response(&mut out, echo, &overlay, b"");
    connection.write_all(&out).await.map_err(|_| ())
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
