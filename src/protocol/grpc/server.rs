//! The gRPC server front end: one HTTP/2 connection (h2c) with a task per stream.
//! `/pkg.Service/Method` is routed to the router (unary calls straight to `call`,
//! streaming ones through `call_stream` with channels both ways), which serves the
//! built-in reflection and health services too. Deadlines come from `grpc-timeout`, metadata from
//! the headers; the status travels in `grpc-status`/`grpc-message` trailers (a
//! trailers-only response when no message was sent). Replies are gzipped when the request
//! was. A bad stream ends with its own status; the connection and its other streams go
//! on. The Connect protocol's streams share this machinery, with its own header names and
//! an end-of-stream message instead of trailers ([`Wire`]; the Connect specifics live
//! in `protocol::connect`); any other content type goes to Connect's unary form, refused
//! at once when that does not serve it either.

use super::{codec_of, content_type, frame, parse_timeout, percent_encode, Deframer};
use crate::codec::{self, details, Codec};
use crate::message::{Endpoint, Metadata, Request, StreamCall};
use crate::protocol::connect::{self, ConnectRequest};
use crate::protocol::{caller_metadata, poll_once, route, stopping, Dispatch};
use crate::status::{Code, Status};
use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

/// Flow-control windows: large enough that a 4 MiB message needs few updates.
const WINDOW: u32 = 1 << 20;
const MAX_STREAMS: u32 = 1024;
/// Headers that are gRPC's own, not metadata for handlers.
const RESERVED: [&str; 3] = ["grpc-timeout", "grpc-encoding", "grpc-accept-encoding"];

/// Serves one HTTP/2 connection until the peer closes it; on shutdown sends GOAWAY and
/// lets the streams in flight finish.
pub async fn serve_connection<S, D>(
    io: S,
    dispatch: Arc<D>,
    max_message_size: usize,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let handshake = h2::server::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .handshake::<_, Bytes>(io);
    let mut connection = match handshake.await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!("HTTP/2 handshake failed: {error}");
            return;
        }
    };
    let for_streams = stopped.clone();
    let mut draining = false;
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    // A request whose message came with its headers and a ready handler
                    // are answered here, batched with the others of this read.
                    let mut stream = Box::pin(serve_stream(dispatch.clone(), request, respond, max_message_size, for_streams.clone()));
                    match poll_once(stream.as_mut()) {
                        Some(Poll::Ready(())) => {}
                        Some(Poll::Pending) => {
                            tokio::spawn(stream);
                        }
                        // The stream is reset; the connection and its other streams go on.
                        None => tracing::warn!("a gRPC handler panicked"),
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!("HTTP/2 connection ended: {error}");
                    return;
                }
                None => return,
            },
            _ = stopping(&mut stopped), if !draining => {
                draining = true;
                connection.graceful_shutdown();
            }
        }
    }
}

async fn serve_stream<D: Dispatch>(
    dispatch: Arc<D>,
    request: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    max_message_size: usize,
    stopped: watch::Receiver<bool>,
) {
    let (parts, body) = request.into_parts();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let content_type = header("content-type").unwrap_or("");
    let (codec, wire) = match (
        codec_of(content_type),
        connect::stream_codec_of(content_type),
    ) {
        (Some(codec), _) => (codec, Wire::Grpc),
        (None, Some(codec)) => (codec, Wire::Connect),
        // The Connect protocol's unary form, or a refusal.
        (None, None) => {
            return serve_connect(dispatch.as_ref(), &parts, body, respond, max_message_size).await
        }
    };
    let encoding = header(wire.encoding_header()).unwrap_or("identity");
    let gzip = encoding == "gzip";
    let mut exchange = Exchange {
        respond,
        codec,
        wire,
        // Replies are compressed as the request was, as grpc-go does.
        gzip,
        body: None,
    };
    let deadline = match wire {
        Wire::Grpc => Ok(header("grpc-timeout").and_then(parse_timeout)),
        Wire::Connect => header("connect-timeout-ms")
            .map(connect::parse_timeout)
            .transpose(),
    };
    let result = match (encoding, deadline) {
        (_, Err(status)) => Err(status),
        ("identity" | "gzip", Ok(timeout)) => {
            let incoming = Incoming {
                body,
                deframer: Deframer::new(max_message_size, gzip),
            };
            let call = Call {
                path: parts.uri.path(),
                metadata: metadata_of(&parts.headers, wire.reserved()),
                deadline: timeout.map(|timeout| Instant::now() + timeout),
                incoming,
            };
            call.serve(dispatch.as_ref(), &mut exchange, stopped).await
        }
        (other, Ok(_)) => Err(Status::new(
            Code::Unimplemented,
            format!(
                "grpc: Decompressor is not installed for {} \"{other}\"",
                wire.encoding_header()
            ),
        )),
    };
    exchange.finish(result);
}

/// The enveloped protocols this front end speaks: gRPC, and Connect's streaming form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Grpc,
    Connect,
}

impl Wire {
    fn encoding_header(self) -> &'static str {
        match self {
            Wire::Grpc => "grpc-encoding",
            Wire::Connect => "connect-content-encoding",
        }
    }

    /// Headers that are the protocol's own, not metadata for handlers.
    fn reserved(self) -> &'static [&'static str] {
        match self {
            Wire::Grpc => &RESERVED,
            Wire::Connect => &connect::STREAM_RESERVED,
        }
    }

    fn content_type(self, codec: Codec) -> &'static str {
        match self {
            Wire::Grpc => content_type(codec),
            Wire::Connect => connect::stream_content_type(codec),
        }
    }
}

/// The request side of one stream.
struct Call<'a> {
    path: &'a str,
    metadata: Metadata,
    deadline: Option<Instant>,
    incoming: Incoming,
}

impl Call<'_> {
    async fn serve<D: Dispatch>(
        self,
        dispatch: &D,
        exchange: &mut Exchange,
        stopped: watch::Receiver<bool>,
    ) -> Result<(), Status> {
        let endpoint = route(dispatch, self.path)?;
        if crate::schema::is_streaming(&endpoint.method) {
            self.serve_streaming(endpoint, dispatch, exchange, stopped)
                .await
        } else {
            self.serve_unary(endpoint, dispatch, exchange).await
        }
    }

    async fn serve_unary<D: Dispatch>(
        mut self,
        endpoint: Arc<Endpoint>,
        dispatch: &D,
        exchange: &mut Exchange,
    ) -> Result<(), Status> {
        let message = self.incoming.expect_one().await?;
        let body = codec::decode(exchange.codec, &endpoint.method.input(), &message)
            .map_err(Status::invalid_argument)?;
        let request = Request {
            endpoint,
            metadata: self.metadata,
            body,
            deadline: self.deadline,
        };
        // A caller that resets the stream (or whose connection ends) drops the call.
        let reply = tokio::select! {
            biased;
            reply = dispatch.call(request) => reply?,
            _ = exchange.reset() => return Err(cancelled()),
        };
        let body = codec::encode_reply(exchange.codec, &reply).map_err(Status::internal)?;
        exchange.send(&body)
    }

    async fn serve_streaming<D: Dispatch>(
        self,
        endpoint: Arc<Endpoint>,
        dispatch: &D,
        exchange: &mut Exchange,
        stopping: watch::Receiver<bool>,
    ) -> Result<(), Status> {
        let (request_sender, requests) = mpsc::channel(16);
        let (replies, mut reply_receiver) = mpsc::channel(16);
        let input = endpoint.method.input();
        let codec = exchange.codec;
        let mut incoming = self.incoming;
        let reading = async move {
            while let Some(message) = incoming.next_message().await? {
                let body =
                    codec::decode(codec, &input, &message).map_err(Status::invalid_argument)?;
                if request_sender.send(body).await.is_err() {
                    break; // the handler is done listening
                }
            }
            Ok::<(), Status>(())
        };
        let calling = dispatch.call_stream(StreamCall {
            endpoint,
            metadata: self.metadata,
            deadline: self.deadline,
            requests,
            replies,
            stopping,
        });
        let handling = async {
            tokio::pin!(calling, reading);
            let mut read = false;
            loop {
                tokio::select! {
                    result = &mut calling => return result,
                    result = &mut reading, if !read => match result {
                        Ok(()) => read = true,
                        Err(status) => return Err(status),
                    },
                }
            }
        };
        // Replies go out as they come; a caller that resets the stream ends the call at
        // once, the handler dropped with it (an exec handler's processes killed).
        let writing = async {
            loop {
                tokio::select! {
                    reply = reply_receiver.recv() => {
                        let Some(reply) = reply else { return Ok(()) };
                        let body = codec::encode_reply(codec, &reply).map_err(Status::internal)?;
                        exchange.send(&body)?;
                    }
                    _ = exchange.reset() => return Err(cancelled()),
                }
            }
        };
        tokio::pin!(handling, writing);
        tokio::select! {
            handled = &mut handling => handled.and(writing.await),
            written = &mut writing => match written {
                Ok(()) => handling.await,
                Err(status) => Err(status),
            },
        }
    }
}

fn cancelled() -> Status {
    Status::new(Code::Cancelled, "the caller cancelled the call")
}

fn metadata_of(headers: &HeaderMap, reserved: &[&str]) -> Metadata {
    caller_metadata(
        headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
        reserved,
    )
}

/// Answers a Connect unary request that came over HTTP/2.
async fn serve_connect<D: Dispatch>(
    dispatch: &D,
    parts: &http::request::Parts,
    body: RecvStream,
    mut respond: SendResponse<Bytes>,
    max_message_size: usize,
) {
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    // Refused from the headers alone: a client that keeps its body open (a stream in a
    // protocol not served here) must not wait for an answer.
    let refusal = connect::ConnectReply::refusal(content_type);
    let reply = match refusal {
        Some(refusal) => Ok(refusal),
        None => {
            let serving =
                read_body_and_serve(dispatch, parts, content_type, body, max_message_size);
            let reset = std::future::poll_fn(|context| respond.poll_reset(context));
            // A caller that resets the stream drops the call.
            tokio::select! {
                biased;
                reply = serving => reply,
                _ = reset => return,
            }
        }
    };
    let reply = match reply {
        Ok(reply) => reply,
        Err(status) => connect::ConnectReply::error(&status),
    };
    let response = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type)
        .body(())
        .expect("a valid response");
    if let Ok(mut body) = respond.send_response(response, reply.body.is_empty()) {
        if !reply.body.is_empty() {
            let _ = body.send_data(reply.body, true);
        }
    }
}

/// Reads a Connect unary request's body and answers it.
async fn read_body_and_serve<D: Dispatch>(
    dispatch: &D,
    parts: &http::request::Parts,
    content_type: &str,
    body: RecvStream,
    max_message_size: usize,
) -> Result<connect::ConnectReply, Status> {
    let bytes = read_body(body, max_message_size).await?;
    let request = ConnectRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        content_type,
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect(),
        body: &bytes,
        max_message_size,
    };
    Ok(connect::serve(dispatch, request).await)
}

/// A whole request body of at most `limit` bytes.
async fn read_body(mut body: RecvStream, limit: usize) -> Result<Vec<u8>, Status> {
    let mut bytes = Vec::new();
    while let Some(data) = body.data().await {
        let data = data
            .map_err(|error| Status::new(Code::Cancelled, format!("the request broke: {error}")))?;
        let _ = body.flow_control().release_capacity(data.len());
        if bytes.len() + data.len() > limit {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!("the request body is larger than {limit} bytes"),
            ));
        }
        bytes.extend_from_slice(&data);
    }
    Ok(bytes)
}

/// The request messages of a stream, as they arrive.
struct Incoming {
    body: RecvStream,
    deframer: Deframer,
}

impl Incoming {
    async fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some(message) = self.deframer.next_message()? {
                return Ok(Some(message));
            }
            match self.body.data().await {
                Some(Ok(data)) => {
                    let _ = self.body.flow_control().release_capacity(data.len());
                    self.deframer.push(&data);
                }
                Some(Err(error)) => {
                    return Err(Status::new(
                        Code::Cancelled,
                        format!("the request stream broke: {error}"),
                    ))
                }
                None if self.deframer.has_partial_message() => {
                    return Err(Status::internal("grpc: the request ended inside a message"))
                }
                None => return Ok(None),
            }
        }
    }

    /// The one request message of a unary call or a server stream.
    async fn expect_one(&mut self) -> Result<Bytes, Status> {
        self.next_message()
            .await?
            .ok_or_else(|| Status::internal("grpc: the request carried no message"))
    }
}

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");

/// `200 OK` with the protocol's content type (status 200 is `Response`'s default).
fn grpc_response(wire: Wire, codec: Codec) -> Response<()> {
    let mut response = Response::new(());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(wire.content_type(codec)),
    );
    response
}

/// The response side of one stream: headers on the first message, trailers at the end.
struct Exchange {
    respond: SendResponse<Bytes>,
    codec: Codec,
    wire: Wire,
    /// Reply messages are gzipped (`grpc-encoding: gzip`).
    gzip: bool,
    body: Option<SendStream<Bytes>>,
}

impl Exchange {
    fn send(&mut self, message: &[u8]) -> Result<(), Status> {
        let broken = |error: h2::Error| {
            Status::new(Code::Cancelled, format!("the caller went away: {error}"))
        };
        let body = match &mut self.body {
            Some(body) => body,
            None => {
                let mut response = grpc_response(self.wire, self.codec);
                if self.gzip {
                    response.headers_mut().insert(
                        HeaderName::from_static(self.wire.encoding_header()),
                        HeaderValue::from_static("gzip"),
                    );
                }
                self.body.insert(
                    self.respond
                        .send_response(response, false)
                        .map_err(broken)?,
                )
            }
        };
        body.send_data(frame(message, self.gzip), false)
            .map_err(broken)
    }

    /// Completes when the caller resets the stream.
    fn reset(&mut self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |context| match &mut self.body {
            Some(body) => body.poll_reset(context).map(drop),
            None => self.respond.poll_reset(context).map(drop),
        })
    }

    /// Ends the stream with the call's status: in trailers (gRPC), or in Connect's
    /// end-of-stream message.
    fn finish(mut self, result: Result<(), Status>) {
        if self.wire == Wire::Connect {
            let ending = connect::end_of_stream(&result);
            let sent = match &mut self.body {
                Some(body) => body.send_data(ending, true),
                None => self
                    .respond
                    .send_response(grpc_response(self.wire, self.codec), false)
                    .and_then(|mut body| body.send_data(ending, true)),
            };
            if let Err(error) = sent {
                tracing::debug!("cannot finish a Connect stream: {error}");
            }
            return;
        }
        let mut trailers = HeaderMap::new();
        let (code, message) = match &result {
            Ok(()) => (Code::Ok, ""),
            Err(status) => (status.code, status.message.as_str()),
        };
        trailers.insert(GRPC_STATUS, HeaderValue::from(code as u16));
        if !message.is_empty() {
            if let Ok(value) = HeaderValue::from_str(&percent_encode(message)) {
                trailers.insert(GRPC_MESSAGE, value);
            }
        }
        if let Err(status) = &result {
            if !status.details.is_empty() {
                let bytes = details::encode_status(code as i32, message, &status.details);
                if let Ok(value) = HeaderValue::from_str(&details::base64_encode(&bytes)) {
                    trailers.insert(GRPC_STATUS_DETAILS, value);
                }
            }
        }
        let sent = match &mut self.body {
            Some(body) => body.send_trailers(trailers),
            None => {
                let mut response = grpc_response(self.wire, self.codec);
                response.headers_mut().extend(trailers);
                self.respond.send_response(response, true).map(drop)
            }
        };
        if let Err(error) = sent {
            tracing::debug!("cannot finish a gRPC stream: {error}");
        }
    }
}
