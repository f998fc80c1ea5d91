//! The gRPC server front end: one HTTP/2 connection (h2c) with a task per stream.
//! `/pkg.Service/Method` is routed to the router (unary calls straight to `call`,
//! streaming ones through `call_stream` with channels both ways), which serves the
//! built-in reflection and health services too. Deadlines come from `grpc-timeout`, metadata from
//! the headers; the status travels in `grpc-status`/`grpc-message` trailers (a
//! trailers-only response when no message was sent). Replies are gzipped when the request
//! was, and go out as the caller's flow-control window lets them: a handler whose caller
//! takes nothing waits (its bounded reply channel full) instead of the server buffering
//! its replies. A peer silent for a minute is pinged, and one that leaves the PING
//! unanswered is disconnected. A bad stream ends with its own status; the connection and
//! its other streams go on. The Connect protocol's streams and gRPC-Web (binary and
//! base64 text) share this machinery, with their own header names and a last envelope
//! carrying the status instead of trailers ([`Wire`], in `protocol::wire`); any other
//! content type goes to Connect's unary form (GET too), refused at once when that does
//! not serve it either. CORS preflights are answered here, and every reply to an allowed
//! origin carries its CORS headers.

use super::{field_value, frame, header_text, send_data, status_fields, Deframer};
use crate::codec::{self, Codec};
use crate::message::{CallContext, Endpoint, Metadata, ReplyExtras, Request, StreamCall};
use crate::protocol::connect::{self, ConnectRequest};
use crate::protocol::cors::Cors;
use crate::protocol::wire::{BodyDecoder, Wire};
use crate::protocol::{caller_metadata, decode_request, poll_once, route, stopping, Dispatch};
use crate::status::{Code, Status};
use bytes::Bytes;
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};

/// Flow-control windows: large enough that a 4 MiB message needs few updates.
const WINDOW: u32 = 1 << 20;
const MAX_STREAMS: u32 = 1024;
/// The reply data a stream may have queued for the connection to write, whatever window
/// the caller grants (h2's default is 400 KiB): 64 KiB as grpc-go's per-stream write
/// quota, four frames, so a caller that opens its window and reads nothing costs at most
/// MAX_STREAMS × 64 KiB plus one message a stream.
const MAX_QUEUED: usize = 64 * 1024;
/// The most a request's header block may decode to (names, values and 32 bytes a field,
/// RFC 9113 §6.5.2), HPACK being able to make 8 KB on the wire decode to 16 MB. 16 KiB
/// as hyper has it: twice what grpc-core and grpc-java take by default, so any metadata
/// they would serve passes, and with MAX_STREAMS at most 16 MiB of headers a
/// connection. h2 answers a larger block 431 and resets its stream, and closes the
/// connection (GOAWAY) past four times the limit.
const MAX_HEADER_LIST: u32 = 16 * 1024;
/// At shutdown, a connection is closed once every stream still running on it waits to
/// send (its client's flow-control window is exhausted, or its socket is not read) and
/// the server has written nothing to it for this long: a client that reads nothing does
/// not hold the server through `--grace`, while one that reads, however slowly, gets its
/// replies (each window it opens lets the server write). A stream whose handler is still
/// at work, or whose request is still arriving, keeps the connection open.
const STALLED: Duration = Duration::from_secs(2);
/// How often a draining connection looks whether it has stalled.
const STALL_CHECK: Duration = Duration::from_millis(250);

/// Keepalive, as grpc-go's: a connection the peer has sent nothing on for `interval`
/// (`--keepalive-time`, a minute by default; zero: never) is pinged, and one whose PING
/// gets no answer within `timeout` (`--keepalive-timeout`, 20 s as grpc-go's and hyper's)
/// is closed, its streams ended and their handlers dropped, so a peer that vanished
/// without a FIN, or reads nothing at all, does not hold its streams forever. grpc-go
/// waits 2 h of silence; a PING is 17 bytes, answered by the peer's HTTP/2 library, and a
/// peer that is reading (sending WINDOW_UPDATEs) or calling is never pinged.
#[derive(Clone, Copy, Debug)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(20),
        }
    }
}

/// Serves one HTTP/2 connection until the peer closes it, or leaves a PING unanswered;
/// on shutdown sends GOAWAY and lets the streams in flight finish.
pub async fn serve_connection<S, D>(
    io: S,
    dispatch: Arc<D>,
    max_message_size: usize,
    cors: Arc<Cors>,
    keepalive: Keepalive,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let heard = Arc::new(Heard::new());
    let activity = Arc::new(Activity::default());
    let io = Watched {
        io,
        heard: heard.clone(),
        wrote: activity.clone(),
    };
    let handshake = h2::server::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_concurrent_streams(MAX_STREAMS)
        .max_send_buffer_size(MAX_QUEUED)
        .max_header_list_size(MAX_HEADER_LIST)
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
    let unanswered = unanswered_ping(connection.ping_pong(), &heard, keepalive);
    tokio::pin!(unanswered);
    let mut stall_checks = tokio::time::interval(STALL_CHECK);
    let mut drain_began = heard.start;
    loop {
        tokio::select! {
            accepted = connection.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    // A request whose message came with its headers and a ready handler
                    // are answered here, batched with the others of this read.
                    let running = Running::start(&activity);
                    let mut stream = Box::pin(serve_stream(dispatch.clone(), request, respond, max_message_size, cors.clone(), for_streams.clone(), running));
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
            () = &mut unanswered => {
                tracing::debug!("no answer to a PING in {:?}: closing the connection", keepalive.timeout);
                return;
            }
            _ = stopping(&mut stopped), if !draining => {
                draining = true;
                drain_began = Instant::now();
                connection.graceful_shutdown();
            }
            _ = stall_checks.tick(), if draining => {
                if activity.stalled(drain_began, heard.start) {
                    tracing::warn!(
                        "closing an HTTP/2 connection at shutdown: its client has taken nothing for {STALLED:?} and every reply left waits on its flow-control window"
                    );
                    return;
                }
            }
        }
    }
}

/// What a connection's streams are doing, for the drain at shutdown: how many are
/// running, how many of those wait to send, and when the connection last wrote.
#[derive(Default)]
struct Activity {
    running: AtomicUsize,
    sending: AtomicUsize,
    /// Milliseconds from the connection's start (`Heard::start`).
    wrote: AtomicU64,
}

impl Activity {
    /// Nothing on the connection can move without its client: every running stream waits
    /// to send, and nothing was written for [`STALLED`] (counted from the drain's start).
    fn stalled(&self, drain_began: Instant, start: Instant) -> bool {
        let wrote = start + Duration::from_millis(self.wrote.load(Ordering::Relaxed));
        let quiet_since = wrote.max(drain_began);
        self.running.load(Ordering::Acquire) == self.sending.load(Ordering::Acquire)
            && quiet_since.elapsed() >= STALLED
    }

    fn wrote(&self, start: Instant) {
        let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.wrote.store(elapsed, Ordering::Relaxed);
    }
}

/// One running stream of a connection, counted in its [`Activity`] while alive.
struct Running(Arc<Activity>);

impl Running {
    fn start(activity: &Arc<Activity>) -> Running {
        activity.running.fetch_add(1, Ordering::AcqRel);
        Running(activity.clone())
    }

    /// Counts the stream as waiting to send while `sending` runs.
    async fn sending<T>(&self, sending: impl std::future::Future<Output = T>) -> T {
        self.0.sending.fetch_add(1, Ordering::AcqRel);
        let _done = Sent(&self.0);
        sending.await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Ends a stream's count as sending, also when its send is dropped.
struct Sent<'a>(&'a Activity);

impl Drop for Sent<'_> {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Pings the peer once it has been silent for `interval`; completes when a PING goes
/// unanswered for `timeout`. (A connection that breaks is ended by its own read, so this
/// never completes then.)
async fn unanswered_ping(ping_pong: Option<h2::PingPong>, heard: &Heard, keepalive: Keepalive) {
    let Some(mut ping_pong) = ping_pong.filter(|_| !keepalive.interval.is_zero()) else {
        return std::future::pending().await;
    };
    loop {
        let due = heard.last() + keepalive.interval;
        if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
            continue;
        }
        let pinged = ping_pong.ping(h2::Ping::opaque());
        match tokio::time::timeout(keepalive.timeout, pinged).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(_)) => return std::future::pending().await,
            Err(_) => return,
        }
    }
}

/// When the peer was last heard from: the time of the connection's last read.
struct Heard {
    start: Instant,
    /// Milliseconds from `start`.
    last: AtomicU64,
}

impl Heard {
    fn new() -> Heard {
        Heard {
            start: Instant::now(),
            last: AtomicU64::new(0),
        }
    }

    fn now(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }
}

/// A connection whose reads are noted in `heard`, and its writes in `wrote`.
struct Watched<S> {
    io: S,
    heard: Arc<Heard>,
    wrote: Arc<Activity>,
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(context, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote.wrote(self.heard.start);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(context, data);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote.wrote(self.heard.start);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(context)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buffer.filled().len();
        let read = Pin::new(&mut self.io).poll_read(context, buffer);
        if buffer.filled().len() > before {
            self.heard.now();
        }
        read
    }
}

async fn serve_stream<D: Dispatch>(
    dispatch: Arc<D>,
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    max_message_size: usize,
    cors: Arc<Cors>,
    stopped: watch::Receiver<bool>,
    running: Running,
) {
    let (parts, body) = request.into_parts();
    let header = |name: &str| header_text(&parts.headers, name);
    if Cors::is_preflight(parts.method.as_str(), header) {
        let answer = cors.preflight(header);
        let mut response = Response::builder().status(answer.status);
        for (name, value) in answer.headers {
            response = response.header(name, value);
        }
        let _ = respond.send_response(response.body(()).expect("a valid response"), true);
        return;
    }
    let extra = cors.reply_headers(header_text(&parts.headers, http::header::ORIGIN));
    let content_type = header_text(&parts.headers, CONTENT_TYPE).unwrap_or("");
    let Some((codec, wire)) = Wire::of(content_type) else {
        // The Connect protocol's unary form, or a refusal.
        return serve_connect(
            dispatch.as_ref(),
            &parts,
            body,
            respond,
            max_message_size,
            extra,
            &running,
        )
        .await;
    };
    let encoding = header_text(&parts.headers, wire.encoding_header()).unwrap_or("identity");
    let gzip = encoding == "gzip";
    let context = CallContext::new(wire.protocol(), if gzip { "gzip" } else { "identity" });
    let mut exchange = Exchange {
        respond,
        codec,
        wire,
        // Replies are compressed as the request was, as grpc-go does, unless the
        // handler says otherwise.
        gzip,
        body: None,
        extra,
        extras: context.reply.clone(),
        running,
    };
    let deadline = wire.timeout(header);
    let result = match (encoding, deadline) {
        (_, Err(status)) => Err(status),
        ("identity" | "gzip", Ok(timeout)) => {
            let incoming = Incoming {
                body,
                decoder: wire.decoder(),
                deframer: Deframer::new(max_message_size, gzip),
            };
            let call = Call {
                path: parts.uri.path(),
                metadata: metadata_of(&parts.headers, wire.reserved()),
                deadline: timeout.map(|timeout| Instant::now() + timeout),
                incoming,
                context,
            };
            call.serve(dispatch.as_ref(), &mut exchange, stopped).await
        }
        (other, Ok(_)) => Err(Status::new(
            Code::Unimplemented,
            format!(
                "grpc: Decompressor is not installed for {} \"{other}\"",
                wire.encoding_header().as_str()
            ),
        )),
    };
    exchange.finish(result).await;
}

/// The request side of one stream.
struct Call<'a> {
    path: &'a str,
    metadata: Metadata,
    deadline: Option<Instant>,
    incoming: Incoming,
    context: CallContext,
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
        let (codec, deadline) = (exchange.codec, self.deadline);
        let context = self.context;
        let calling = async {
            let input = endpoint.method.input();
            let body = decode_request(dispatch, codec, &input, &message, deadline).await?;
            drop(message);
            let request = Request {
                endpoint,
                metadata: self.metadata,
                body,
                deadline,
                context,
            };
            dispatch.call(request).await
        };
        // A caller that resets the stream (or whose connection ends) drops the call, and
        // its wait for the decode budget.
        let reply = tokio::select! {
            biased;
            reply = calling => reply?,
            _ = exchange.reset() => return Err(cancelled()),
        };
        let body = codec::encode_reply(exchange.codec, &reply).map_err(Status::internal)?;
        exchange.send(&body).await
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
        let (codec, deadline) = (exchange.codec, self.deadline);
        let mut incoming = self.incoming;
        let reading = async move {
            while let Some(message) = incoming.next_message().await? {
                let body = decode_request(dispatch, codec, &input, &message, deadline).await?;
                drop(message);
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
            context: self.context,
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
        // Replies go out as they come and the window allows; a caller that resets the
        // stream, or whose connection goes, ends the call at once, the handler dropped
        // with it (an exec handler's processes killed).
        let writing = async {
            loop {
                tokio::select! {
                    reply = reply_receiver.recv() => {
                        let Some(reply) = reply else { return Ok(()) };
                        let body = codec::encode_reply(codec, &reply).map_err(Status::internal)?;
                        exchange.send(&body).await?;
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

/// Answers a Connect unary request that came over HTTP/2; `extra` are headers for the
/// reply (CORS).
async fn serve_connect<D: Dispatch>(
    dispatch: &D,
    parts: &http::request::Parts,
    body: RecvStream,
    mut respond: SendResponse<Bytes>,
    max_message_size: usize,
    extra: Vec<(&'static str, String)>,
    running: &Running,
) {
    let content_type = header_text(&parts.headers, CONTENT_TYPE).unwrap_or("");
    // Refused from the headers alone: a client that keeps its body open (a stream in a
    // protocol not served here) must not wait for an answer.
    if let Some(mut refusal) = connect::ConnectReply::refusal(parts.method.as_str(), content_type) {
        refusal.headers.extend(extra);
        running
            .sending(send_connect_reply(&mut respond, refusal))
            .await;
        // Read what the client still sends, for a while, so that the stream ends cleanly
        // instead of being reset under a client that is still writing (RFC 9113 §8.1).
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            read_body(body, max_message_size),
        )
        .await;
        return;
    }
    let serving = read_body_and_serve(dispatch, parts, content_type, body, max_message_size);
    let reset = std::future::poll_fn(|context| respond.poll_reset(context));
    // A caller that resets the stream drops the call.
    let reply = tokio::select! {
        biased;
        reply = serving => reply,
        _ = reset => return,
    };
    let mut reply = reply.unwrap_or_else(|status| connect::ConnectReply::error(&status));
    reply.headers.extend(extra);
    running
        .sending(send_connect_reply(&mut respond, reply))
        .await;
}

async fn send_connect_reply(respond: &mut SendResponse<Bytes>, reply: connect::ConnectReply) {
    let mut response = Response::builder()
        .status(reply.status)
        .header(CONTENT_TYPE, reply.content_type);
    for (name, value) in &reply.headers {
        response = response.header(*name, value);
    }
    let mut response = response.body(()).expect("a valid response");
    add_headers(
        response.headers_mut(),
        reply
            .handler_headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    if let Ok(mut body) = respond.send_response(response, reply.body.is_empty()) {
        if !reply.body.is_empty() {
            let _ = send_data(&mut body, reply.body, true).await;
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
        query: parts.uri.query(),
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
    /// Base64 in gRPC-Web's text form.
    decoder: BodyDecoder,
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
                    self.deframer.push(&self.decoder.decode(&data)?);
                }
                Some(Err(error)) => {
                    return Err(Status::new(
                        Code::Cancelled,
                        format!("the request stream broke: {error}"),
                    ))
                }
                None if self.deframer.has_partial_message() || self.decoder.has_partial() => {
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

/// Why a reply could not be sent: the caller reset the stream or went away.
fn broken(error: Option<h2::Error>) -> Status {
    let why = error.map_or_else(
        || "the stream is closed".to_owned(),
        |error| error.to_string(),
    );
    Status::new(Code::Cancelled, format!("the caller went away: {why}"))
}

/// Adds a handler's headers (or trailers); a pair that is no valid HTTP field was
/// refused when the rule was loaded, or comes from an exec handler, and is left out.
pub(crate) fn add_headers<'a>(
    headers: &mut HeaderMap,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) {
    for (name, value) in pairs {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => tracing::warn!("reply header {name:?} is not a valid HTTP field; left out"),
        }
    }
}

/// `200 OK` with the protocol's content type (status 200 is `Response`'s default) and
/// `extra` headers.
fn grpc_response(wire: Wire, codec: Codec, extra: &[(&'static str, String)]) -> Response<()> {
    let mut response = Response::new(());
    let headers = response.headers_mut();
    headers.reserve(1 + extra.len());
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(wire.content_type(codec)),
    );
    for (name, value) in extra {
        // `from_bytes` lower-cases the name, as HTTP/2 wants it.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
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
    /// Headers for the reply (CORS).
    extra: Vec<(&'static str, String)>,
    /// The headers, trailers and compression the handler asks for.
    extras: ReplyExtras,
    running: Running,
}

impl Exchange {
    /// Sends one reply message as the caller's window lets it through: the handler
    /// waits, instead of the server holding replies the caller does not take.
    async fn send(&mut self, message: &[u8]) -> Result<(), Status> {
        let framed = self.wire.encode(frame(message, self.gzip));
        self.body().map_err(|error| broken(Some(error)))?;
        let Exchange { body, running, .. } = self;
        let body = body.as_mut().expect("the body was just made");
        running
            .sending(send_data(body, framed, false))
            .await
            .map_err(broken)
    }

    /// The reply's body, its headers sent first.
    fn body(&mut self) -> Result<&mut SendStream<Bytes>, h2::Error> {
        let body = match self.body.take() {
            Some(body) => body,
            None => {
                let mut response = grpc_response(self.wire, self.codec, &self.extra);
                let extras = self.extras.get();
                self.gzip = extras.gzip.unwrap_or(self.gzip);
                add_headers(response.headers_mut(), extras.headers.iter());
                if self.gzip {
                    response.headers_mut().insert(
                        self.wire.encoding_header(),
                        HeaderValue::from_static("gzip"),
                    );
                }
                self.respond.send_response(response, false)?
            }
        };
        Ok(self.body.insert(body))
    }

    /// Completes when the caller resets the stream.
    fn reset(&mut self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |context| match &mut self.body {
            Some(body) => body.poll_reset(context).map(drop),
            None => self.respond.poll_reset(context).map(drop),
        })
    }

    /// Ends the stream with the call's status: in trailers (gRPC), or in the body's
    /// last envelope (Connect's end-of-stream message, gRPC-Web's trailers).
    async fn finish(mut self, result: Result<(), Status>) {
        let extras = self.extras.get();
        if let Some(ending) = self.wire.ending(&result, &extras.trailers) {
            let ending = self.wire.encode(ending);
            let sent = match self.body() {
                Ok(_) => {
                    let Exchange { body, running, .. } = &mut self;
                    let body = body.as_mut().expect("the body was just made");
                    running
                        .sending(send_data(body, ending, true))
                        .await
                        .map_err(broken)
                }
                Err(error) => Err(broken(Some(error))),
            };
            if let Err(status) = sent {
                tracing::debug!(
                    "cannot finish a {} stream: {}",
                    self.wire.name(),
                    status.message
                );
            }
            return;
        }
        let mut trailers = HeaderMap::with_capacity(3 + extras.trailers.iter().count());
        add_headers(&mut trailers, extras.trailers.iter());
        for (name, value) in status_fields(&result) {
            if let Some(value) = field_value(value) {
                trailers.insert(name, value);
            }
        }
        if self.body.is_none() && !extras.headers.is_empty() {
            // Headers the handler set go out as headers even with no message, before the
            // trailers, as grpc-go sends them.
            if let Err(error) = self.body() {
                tracing::debug!("cannot send a gRPC stream's headers: {error}");
            }
        }
        let sent = match &mut self.body {
            Some(body) => body.send_trailers(trailers),
            None => {
                let mut response = grpc_response(self.wire, self.codec, &self.extra);
                response.headers_mut().extend(trailers);
                self.respond.send_response(response, true).map(drop)
            }
        };
        if let Err(error) = sent {
            tracing::debug!("cannot finish a gRPC stream: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Reply;
    use crate::protocol::Lookup;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    /// Serves nothing: these tests make no calls.
    struct NoServices;

    impl Dispatch for NoServices {
        fn lookup(&self, _: &str, _: &str) -> Lookup {
            Lookup::NoService
        }
        fn lookup_path(&self, _: &str, _: &str) -> Lookup {
            Lookup::NoService
        }
        async fn call(&self, _: Request) -> Result<Reply, Status> {
            Err(Status::new(Code::Unimplemented, "no services"))
        }
        async fn call_stream(&self, _: StreamCall) -> Result<(), Status> {
            Err(Status::new(Code::Unimplemented, "no services"))
        }
        fn origin(&self) -> &str {
            "test"
        }
        fn budget(&self) -> &crate::codec::budget::Budget {
            static BUDGET: std::sync::LazyLock<crate::codec::budget::Budget> =
                std::sync::LazyLock::new(|| crate::codec::budget::Budget::new(1 << 20));
            &BUDGET
        }
    }

    /// Pings after 100 ms of silence; the timeout is wide, so a loaded machine cannot
    /// miss it.
    const OFTEN: Keepalive = Keepalive {
        interval: Duration::from_millis(100),
        timeout: Duration::from_secs(5),
    };

    const PING: u8 = 0x6;
    const WINDOW_UPDATE: u8 = 0x8;
    const ACK: u8 = 0x1;

    /// A frame on stream 0.
    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags, 0, 0, 0, 0]);
        frame.extend(payload);
        frame
    }

    /// Serves one connection over an in-memory pipe; returns the peer's end, the client
    /// preface and empty SETTINGS sent.
    async fn serve(keepalive: Keepalive) -> (tokio::task::JoinHandle<()>, DuplexStream) {
        let (server_side, mut peer) = tokio::io::duplex(1 << 16);
        let (stop, stopped) = watch::channel(false);
        let served = tokio::spawn(async move {
            let _stop = stop; // not stopping: the sender lives as long as the connection
            serve_connection(
                server_side,
                Arc::new(NoServices),
                1 << 20,
                Arc::new(Cors::default()),
                keepalive,
                stopped,
            )
            .await
        });
        peer.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        peer.write_all(&frame(0x4, 0, &[])).await.unwrap();
        (served, peer)
    }

    /// Reads frames until `pings` PINGs have come or the server closes the connection,
    /// answering each PING on `answer` if given; returns the PINGs seen.
    async fn pings<W: AsyncWrite + Unpin>(
        reading: &mut (impl AsyncRead + Unpin),
        mut answer: Option<&mut W>,
        pings: usize,
    ) -> usize {
        let mut seen = 0;
        while seen < pings {
            let mut head = [0u8; 9];
            if reading.read_exact(&mut head).await.is_err() {
                break; // closed
            }
            let length = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; length];
            reading.read_exact(&mut payload).await.unwrap();
            let (kind, flags) = (head[3], head[4]);
            if kind == PING && flags & ACK == 0 {
                seen += 1;
                if let Some(answer) = answer.as_mut() {
                    answer.write_all(&frame(PING, ACK, &payload)).await.unwrap();
                }
            }
        }
        seen
    }

    #[tokio::test]
    async fn a_peer_that_leaves_a_ping_unanswered_is_disconnected() {
        let (served, end) = serve(OFTEN).await;
        let (mut reading, _writing) = tokio::io::split(end);
        let seen = pings(&mut reading, None::<&mut DuplexStream>, 100);
        let seen = tokio::time::timeout(Duration::from_secs(30), seen)
            .await
            .expect("the server closes the connection");
        assert_eq!(seen, 1, "one PING, then no other before the close");
        served.await.unwrap();
    }

    #[tokio::test]
    async fn a_peer_that_answers_pings_stays_connected() {
        let (served, end) = serve(OFTEN).await;
        let (mut reading, mut writing) = tokio::io::split(end);
        let seen = pings(&mut reading, Some(&mut writing), 5);
        let seen = tokio::time::timeout(Duration::from_secs(30), seen)
            .await
            .expect("the server pings the peer");
        assert_eq!(seen, 5);
        assert!(!served.is_finished(), "the connection was closed");
    }

    #[tokio::test]
    async fn a_peer_that_keeps_sending_is_not_pinged() {
        // Silence for 3 s would bring a PING; the peer sends a WINDOW_UPDATE every 50 ms
        // for 4 s.
        let keepalive = Keepalive {
            interval: Duration::from_secs(3),
            ..OFTEN
        };
        let (served, end) = serve(keepalive).await;
        let (mut reading, mut writing) = tokio::io::split(end);
        let talking = async {
            for _ in 0..80 {
                let update = frame(WINDOW_UPDATE, 0, &1u32.to_be_bytes());
                writing.write_all(&update).await.unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            () = talking => {}
            seen = pings(&mut reading, None::<&mut DuplexStream>, 1) => {
                panic!("pinged while talking ({seen} PING)")
            }
        }
        assert!(!served.is_finished(), "the connection was closed");
    }
}
