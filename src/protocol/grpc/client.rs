//! The gRPC caller: one HTTP/2 connection per target (h2c, or over TLS with ALPN h2),
//! multiplexed, opened on the first call. A call is a stream: request headers
//! (`te: trailers`, `grpc-timeout`, metadata), framed messages (gzipped on request), then
//! the reply's headers, messages (gzipped or not) and status trailers (or a
//! trailers-only reply). The schema of a server without local files comes from
//! its reflection service, v1 first and v1alpha when v1 is missing.

use super::builtin::{
    Answer, Question, ReflectionRequest, ReflectionResponse, REFLECTION_V1, REFLECTION_V1ALPHA,
};
use super::{frame, header_text, percent_decode, Deframer, Envelope};
use crate::codec::{details, Codec};
use crate::message::Metadata;
use crate::protocol::caller::{Exchange, Progress};
use crate::protocol::wire::{self, names, Wire};
use crate::protocol::{
    connect, dial, foreign_reply, pairs_of, tls, CallError, CallHead, Dialing, Fields, Pairs,
};
use crate::schema::Schema;
use crate::status::{Code, Status};
use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Request};
use prost::Message;
use prost_reflect::DescriptorPool;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

const USER_AGENT: &str = concat!("rmicro/", env!("CARGO_PKG_VERSION"));
/// The most a reply's header or trailer block may decode to (RFC 9113 §6.5.2): 1 MiB, 64
/// times what rmicro's server takes and far more than any status with details needs; h2
/// would take 16 MiB.
const MAX_HEADER_LIST: u32 = 1 << 20;

/// Calls one server over HTTP/2 (TLS when `dialing.tls` is set, else h2c) in one of the
/// enveloped protocols: gRPC, Connect (its unary form for unary calls, its streaming
/// form for streams) or gRPC-Web.
pub struct GrpcCaller {
    address: String,
    dialing: Dialing,
    wire: Wire,
    connection: Option<SendRequest<Bytes>>,
    /// The URI of the last path called (shared with the callers `share` makes, as is
    /// the next field, so that making one copies neither).
    uri: Option<Arc<(String, http::Uri)>>,
    /// The headers of the last kind of call made, copied for the next call of that kind:
    /// a copy costs less than the inserts, each of which hashes its name.
    fixed: Option<Arc<(CallKind, HeaderMap)>>,
}

/// What a call's own headers (all but its metadata) follow from.
#[derive(Clone, Copy, PartialEq)]
struct CallKind {
    /// Connect's unary form (else a stream: gRPC, a Connect stream or gRPC-Web).
    connect_unary: bool,
    codec: Codec,
    /// The request messages are gzipped.
    gzip: bool,
    timeout: Option<Duration>,
}

impl GrpcCaller {
    pub fn new(address: &str, dialing: Dialing, wire: Wire) -> GrpcCaller {
        GrpcCaller {
            address: address.to_owned(),
            dialing,
            wire,
            connection: None,
            uri: None,
            fixed: None,
        }
    }

    pub fn wire(&self) -> Wire {
        self.wire
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Another caller on the same connection (HTTP/2 multiplexes calls).
    pub fn share(&self) -> GrpcCaller {
        GrpcCaller {
            address: self.address.clone(),
            dialing: self.dialing.clone(),
            wire: self.wire,
            connection: self.connection.clone(),
            uri: self.uri.clone(),
            fixed: self.fixed.clone(),
        }
    }

    /// Another caller of the same server, on a connection of its own.
    pub fn detached(&self) -> GrpcCaller {
        GrpcCaller::new(&self.address, self.dialing.clone(), self.wire)
    }

    /// The `:authority` sent: `--authority`, else the address (`localhost` for a unix
    /// socket, as grpc-go sends).
    fn authority(&self) -> &str {
        match &self.dialing.authority {
            Some(authority) => authority,
            None if self.address.starts_with("unix:") => "localhost",
            None => &self.address,
        }
    }

    /// Connects now unless connected (calls connect when they need to).
    pub async fn ensure_connected(&mut self) -> Result<(), CallError> {
        self.connection().await.map(drop)
    }

    async fn connection(&mut self) -> Result<SendRequest<Bytes>, CallError> {
        if let Some(connection) = &self.connection {
            return Ok(connection.clone());
        }
        // Boxed: the dial's state (TCP, TLS and HTTP/2 handshakes, 4 KB) would otherwise
        // be in every call's future, and be copied as the call's future moves.
        let sender = Box::pin(self.dial()).await?;
        self.connection = Some(sender.clone());
        Ok(sender)
    }

    /// A new connection, its HTTP/2 handshake done.
    async fn dial(&self) -> Result<SendRequest<Bytes>, CallError> {
        let stream = dial(&self.address, self.dialing.dial_timeout).await?;
        let sender = match &self.dialing.tls {
            None => self.handshake(stream).await?,
            Some(config) => {
                let name = tls::server_name(self.authority()).map_err(CallError::Transport)?;
                let connector = tokio_rustls::TlsConnector::from(config.clone());
                let stream = tokio::time::timeout(
                    self.dialing.dial_timeout,
                    connector.connect(name, stream),
                )
                .await
                .map_err(|_| {
                    CallError::Connect(format!(
                        "TLS handshake with {}: timed out after {:?}",
                        self.address, self.dialing.dial_timeout
                    ))
                })?
                .map_err(|error| tls_failure(&error))?;
                self.handshake(stream).await?
            }
        };
        Ok(sender)
    }

    /// Starts HTTP/2 on a connected stream; its connection task runs on its own.
    async fn handshake<S>(&self, stream: S) -> Result<SendRequest<Bytes>, CallError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(1 << 20)
            .initial_connection_window_size(1 << 20)
            .max_header_list_size(MAX_HEADER_LIST)
            .handshake::<_, Bytes>(crate::protocol::Corked::new(stream))
            .await
            .map_err(|error| {
                CallError::Connect(format!("HTTP/2 handshake with {}: {error}", self.address))
            })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("HTTP/2 connection ended: {error}");
            }
        });
        Ok(sender)
    }

    /// Opens a call of `head.path` (`/pkg.Service/Method`), its messages gzipped when the
    /// caller was asked to.
    pub async fn open(&mut self, head: &CallHead<'_>) -> Result<GrpcStream, CallError> {
        self.open_with(head, self.dialing.gzip).await
    }

    async fn open_with(
        &mut self,
        head: &CallHead<'_>,
        gzip: bool,
    ) -> Result<GrpcStream, CallError> {
        let wire = self.wire;
        let kind = CallKind {
            connect_unary: false,
            codec: head.codec,
            gzip,
            timeout: head.timeout,
        };
        let request = self.request(head, kind)?;
        let (response, send) = self.send_request(request, false).await?;
        Ok(GrpcStream {
            send,
            wire,
            response: Some(response),
            body: None,
            deframer: Deframer::new(self.dialing.max_message_size, false)
                .ending_with(wire.end_flag()),
            gzip,
            hang_up_hint: match &self.dialing.tls {
                None => PLAINTEXT_HANG_UP,
                // Under TLS 1.3 the server checks the client after the handshake; its
                // alert may be lost to the reset that follows it.
                Some(config) if !config.client_auth_cert_resolver.has_certs() => {
                    "if the server wants a client certificate: --cert FILE --key FILE"
                }
                Some(_) => "",
            },
            headers: HeaderMap::new(),
            trailers: HeaderMap::new(),
            failure: None,
        })
    }

    /// A request to `head.path` with the headers of its kind and the call's metadata. Its
    /// URI is built once per path (a caller usually calls one), its headers once per kind.
    fn request(&mut self, head: &CallHead<'_>, kind: CallKind) -> Result<Request<()>, CallError> {
        let uri = match self.uri.as_deref() {
            Some((path, uri)) if path == head.path => uri.clone(),
            _ => {
                let scheme = if self.dialing.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                let uri =
                    http::Uri::try_from(format!("{scheme}://{}{}", self.authority(), head.path))
                        .map_err(unbuildable)?;
                self.uri = Some(Arc::new((head.path.to_owned(), uri.clone())));
                uri
            }
        };
        let mut request = Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = match self.fixed.as_deref() {
            Some((made, headers)) if *made == kind => headers.clone(),
            _ => {
                let headers = self.fixed_headers(kind);
                self.fixed = Some(Arc::new((kind, headers.clone())));
                headers
            }
        };
        let headers = request.headers_mut();
        for (name, value) in head.metadata.iter() {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(unbuildable)?;
            let value = HeaderValue::from_str(value).map_err(unbuildable)?;
            headers.append(name, value);
        }
        Ok(request)
    }

    /// The headers a call of `kind` sends besides its metadata: a stream's (gRPC's, a
    /// Connect stream's or gRPC-Web's), or those of Connect's unary form.
    fn fixed_headers(&self, kind: CallKind) -> HeaderMap {
        let CallKind {
            connect_unary,
            codec,
            gzip,
            timeout,
        } = kind;
        let gzip_value = || HeaderValue::from_static("gzip");
        let wire = self.wire;
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(USER_AGENT),
        );
        if connect_unary {
            let content_type = match codec {
                Codec::Protobuf => "application/proto",
                Codec::Json => "application/json",
            };
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(names::CONNECT_VERSION, HeaderValue::from_static("1"));
            headers.insert(http::header::ACCEPT_ENCODING, gzip_value());
            if gzip {
                headers.insert(http::header::CONTENT_ENCODING, gzip_value());
            }
        } else {
            let content_type = HeaderValue::from_static(wire.content_type(codec));
            headers.insert(CONTENT_TYPE, content_type);
            headers.insert(wire.accept_encoding_header(), gzip_value());
            let (name, value) = match wire {
                Wire::Grpc => (names::TE, "trailers"),
                Wire::Connect => (names::CONNECT_VERSION, "1"),
                Wire::GrpcWeb { .. } => (names::X_GRPC_WEB, "1"),
            };
            headers.insert(name, HeaderValue::from_static(value));
            if gzip {
                headers.insert(wire.encoding_header(), gzip_value());
            }
        }
        if let Some(timeout) = timeout {
            let (name, text) = wire.timeout_header(timeout);
            let value = HeaderValue::try_from(text).expect("a timeout is ASCII digits and a unit");
            headers.insert(name, value);
        }
        headers
    }

    /// Sends a request's headers on the connection (dialled if need be).
    async fn send_request(
        &mut self,
        request: Request<()>,
        end: bool,
    ) -> Result<(ResponseFuture, SendStream<Bytes>), CallError> {
        let mut sender = self
            .connection()
            .await?
            .ready()
            .await
            .map_err(|error| self.broken(error))?;
        sender
            .send_request(request, end)
            .map_err(|error| self.broken(error))
    }

    /// A unary call in the Connect protocol's unary form: the message as the body of a
    /// POST (`application/proto` or `application/json`), the reply as the body of a 200,
    /// an error as Connect's JSON with another status; trailers are `trailer-` headers.
    pub async fn unary_connect(&mut self, head: &CallHead<'_>, body: &[u8]) -> Exchange {
        match self.try_unary_connect(head, body).await {
            Ok(exchange) => exchange,
            Err(error) => Exchange::failed(error),
        }
    }

    async fn try_unary_connect(
        &mut self,
        head: &CallHead<'_>,
        body: &[u8],
    ) -> Result<Exchange, CallError> {
        let kind = CallKind {
            connect_unary: true,
            codec: head.codec,
            gzip: self.dialing.gzip,
            timeout: head.timeout,
        };
        let request = self.request(head, kind)?;
        let body = if kind.gzip {
            gzip(body)
        } else {
            Bytes::copy_from_slice(body)
        };
        let (response, mut send) = self.send_request(request, false).await?;
        super::send_data(&mut send, body, true)
            .await
            .map_err(|error| match error {
                Some(error) => send_failure(error),
                None => CallError::Transport("the server closed the request stream".into()),
            })?;
        let response = response.await.map_err(|error| no_reply(&error, ""))?;
        let (parts, mut reply) = response.into_parts();
        let limit = self.dialing.max_message_size;
        let mut bytes = Vec::new();
        while let Some(data) = reply.data().await {
            let data =
                data.map_err(|error| CallError::Transport(format!("the reply broke: {error}")))?;
            let _ = reply.flow_control().release_capacity(data.len());
            if bytes.len() + data.len() > limit {
                return Err(CallError::Status(Status::new(
                    Code::ResourceExhausted,
                    format!("the reply is larger than {limit} bytes"),
                )));
            }
            bytes.extend_from_slice(&data);
        }
        let gzipped = parts
            .headers
            .get(http::header::CONTENT_ENCODING)
            .is_some_and(|value| value == "gzip");
        if gzipped {
            bytes = gunzip(&bytes, limit)?;
        }
        let (headers, trailers): (Pairs, Pairs) = pairs_of(&parts.headers)
            .into_iter()
            .partition(|(name, _)| !name.starts_with("trailer-"));
        let trailers: Pairs = trailers
            .into_iter()
            .map(|(name, value)| (name["trailer-".len()..].to_owned(), value))
            .collect();
        let outcome = if parts.status == http::StatusCode::OK {
            Ok(Bytes::from(bytes))
        } else {
            Err(connect_error(parts.status, &parts.headers, &bytes))
        };
        Ok(Exchange {
            headers: headers.into(),
            trailers: trailers.into(),
            outcome,
        })
    }

    /// The connection failed: the next call dials again.
    fn broken(&mut self, error: h2::Error) -> CallError {
        self.connection = None;
        if error.is_io() || error.is_go_away() {
            CallError::Connect(format!("{}: {error}", self.address))
        } else {
            CallError::Transport(format!("{}: {error}", self.address))
        }
    }

    /// The server's schema from its reflection service (v1, else v1alpha): the files of
    /// every service it lists but reflection itself, with their dependencies. `metadata`
    /// goes with the requests (a server may want credentials for reflection too). A
    /// server with neither leaves rmicro without a schema — a local failure, as in
    /// grpcurl, not the reflection call's UNIMPLEMENTED, which would read as if the method
    /// called were missing.
    ///
    /// With `wanted` (a service name, full or short, from the endpoint a call names) only
    /// the files of the services it matches are fetched, as grpcurl does; when none match,
    /// every service's, so that the unknown name can be reported with suggestions.
    pub async fn reflect(
        &mut self,
        metadata: &Metadata,
        wanted: Option<&str>,
        timeout: Duration,
    ) -> Result<Schema, CallError> {
        let unimplemented = |result: &Result<Schema, CallError>| matches!(result, Err(CallError::Status(status)) if status.code == Code::Unimplemented);
        let v1 = self
            .reflect_with(REFLECTION_V1, metadata, wanted, timeout)
            .await;
        if !unimplemented(&v1) {
            return v1;
        }
        let v1alpha = self
            .reflect_with(REFLECTION_V1ALPHA, metadata, wanted, timeout)
            .await;
        if unimplemented(&v1alpha) {
            return Err(CallError::Transport(
                "the server has no reflection service (grpc.reflection.v1 or v1alpha) to read its schema from; pass --proto or --descriptor-set".into(),
            ));
        }
        v1alpha
    }

    async fn reflect_with(
        &mut self,
        service: &str,
        metadata: &Metadata,
        wanted: Option<&str>,
        timeout: Duration,
    ) -> Result<Schema, CallError> {
        let path = format!("/{service}/ServerReflectionInfo");
        let head = CallHead {
            service: "",
            endpoint: "",
            path: &path,
            codec: Codec::Protobuf,
            metadata,
            timeout: Some(timeout),
        };
        // Reflection's own requests are small and never gzipped.
        let mut stream = self.open_with(&head, false).await?;
        async fn ask(stream: &mut GrpcStream, question: Question) -> Result<(), CallError> {
            let request = ReflectionRequest {
                host: String::new(),
                question: Some(question),
            };
            stream.send(request.encode_to_vec().into()).await
        }
        ask(&mut stream, Question::ListServices(String::new())).await?;
        let names = match stream.reflection_answer().await? {
            Answer::Services(list) => list
                .service
                .into_iter()
                .map(|service| service.name)
                .collect::<Vec<_>>(),
            other => return Err(unexpected(other)),
        };
        // As grpcurl lists them: every service but reflection's own.
        let served: Vec<&String> = names
            .iter()
            .filter(|name| !name.starts_with("grpc.reflection."))
            .collect();
        let matching: Vec<&String> = match wanted {
            Some(wanted) => served
                .iter()
                .copied()
                .filter(|name| {
                    *name == wanted
                        || name
                            .strip_suffix(wanted)
                            .is_some_and(|package| package.ends_with('.'))
                })
                .collect(),
            None => Vec::new(),
        };
        let served = if matching.is_empty() {
            served
        } else {
            matching
        };
        // Every question at once, then the answers in order: one round trip for all the
        // files rather than one per service (reflection answers a stream in order).
        for name in &served {
            ask(&mut stream, Question::FileContainingSymbol((*name).clone())).await?;
        }
        stream.finish().ok();
        let mut files = Vec::new();
        for name in &served {
            match stream.reflection_answer().await? {
                Answer::FileDescriptors(found) => files.extend(found.file_descriptor_proto),
                Answer::Error(error) => {
                    return Err(CallError::Transport(format!(
                        "reflection has no file for {name}: {}",
                        error.error_message
                    )))
                }
                other => return Err(unexpected(other)),
            }
        }
        let protos = files
            .iter()
            .map(|bytes| prost_types::FileDescriptorProto::decode(bytes.as_slice()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| {
                CallError::Transport(format!("reflection sent a bad file descriptor: {error}"))
            })?;
        let mut pool = DescriptorPool::new();
        add_in_dependency_order(&mut pool, protos).map_err(|error| {
            CallError::Transport(format!("reflection sent an unusable schema: {error}"))
        })?;
        Ok(Schema::from_pool(pool))
    }
}

/// The likely cause of a hang-up in the clear, until a probe says more.
const PLAINTEXT_HANG_UP: &str = "if the server speaks TLS, use grpcs://";

/// A request that got no reply, with what to do about the usual causes.
fn no_reply(error: &h2::Error, hang_up_hint: &str) -> CallError {
    let hint = if error.reason() == Some(h2::Reason::FRAME_SIZE_ERROR) {
        // "HTTP/1…" read as a frame header is a frame of 4 MiB or more.
        " (the server did not answer in HTTP/2; if it speaks TLS, use grpcs://)".into()
    } else if error.to_string().contains("CertificateRequired") {
        " (the server wants a client certificate: --cert FILE --key FILE)".into()
    } else if error.is_io() && hang_up_hint == PLAINTEXT_HANG_UP {
        // In the clear, a server of another protocol hangs up like this: the client
        // probes it to say which (over TLS, the handshake has said it speaks TLS).
        return CallError::HungUp(format!("no reply: {error} ({hang_up_hint})"));
    } else if error.is_io() && !hang_up_hint.is_empty() {
        format!(" ({hang_up_hint})")
    } else {
        String::new()
    };
    CallError::Transport(format!("no reply: {error}{hint}"))
}

/// A failed TLS handshake, with what to do about the usual causes.
fn tls_failure(error: &std::io::Error) -> CallError {
    let text = error.to_string();
    let hint = if matches!(
        error.kind(),
        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
    ) {
        " (the server closed the connection: it may not speak TLS; for h2c use grpc://)"
    } else if text.contains("UnknownIssuer") {
        " (trust its CA with --cacert FILE, or skip the check with --insecure)"
    } else if text.contains("not valid for name") {
        " (the certificate names another host: --authority sets the name checked)"
    } else {
        ""
    };
    CallError::Transport(format!("TLS handshake failed: {text}{hint}"))
}

fn unexpected(answer: Answer) -> CallError {
    match answer {
        Answer::Error(error) => CallError::Transport(format!(
            "reflection error {}: {}",
            error.error_code, error.error_message
        )),
        _ => CallError::Transport("reflection answered another question".into()),
    }
}

/// Adds files so that each comes after the files it imports (reflection sends a file
/// before its dependencies).
fn add_in_dependency_order(
    pool: &mut DescriptorPool,
    mut pending: Vec<prost_types::FileDescriptorProto>,
) -> Result<(), prost_reflect::DescriptorError> {
    while !pending.is_empty() {
        let ready = pending.iter().position(|file| {
            file.dependency.iter().all(|dependency| {
                pool.get_file_by_name(dependency).is_some()
                    || !pending.iter().any(|other| other.name() == dependency)
            })
        });
        let file = pending.remove(ready.unwrap_or(0));
        if pool.get_file_by_name(file.name()).is_none() {
            pool.add_file_descriptor_proto(file)?;
        }
    }
    Ok(())
}

/// One call in flight.
pub struct GrpcStream {
    send: SendStream<Bytes>,
    wire: Wire,
    response: Option<ResponseFuture>,
    body: Option<RecvStream>,
    deframer: Deframer,
    /// Request messages are gzipped.
    gzip: bool,
    /// The likely cause when the server hangs up instead of answering.
    hang_up_hint: &'static str,
    headers: HeaderMap,
    trailers: HeaderMap,
    /// A Connect reply that is not 200: its status, and the error body read so far.
    failure: Option<(http::StatusCode, Vec<u8>)>,
}

impl GrpcStream {
    /// Sends one request message, as the server's flow-control window lets it through
    /// (a peer that reads slowly slows the sender instead of growing its buffer).
    pub async fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        self.send_ending(message, false).await
    }

    /// Sends the last request message and half-closes in the same DATA frame: a server
    /// may answer (and reset the stream with NO_ERROR) as soon as it has the message, so
    /// a half-close sent after it can find the stream gone.
    pub async fn send_last(&mut self, message: Bytes) -> Result<(), CallError> {
        self.send_ending(message, true).await
    }

    async fn send_ending(&mut self, message: Bytes, end: bool) -> Result<(), CallError> {
        let sent = super::send_data(&mut self.send, frame(&message, self.gzip), end).await;
        match sent {
            Ok(()) => Ok(()),
            Err(error) => {
                let error = match error {
                    Some(error) => send_failure(error),
                    None => {
                        CallError::Transport("the server closed the call's request stream".into())
                    }
                };
                Err(self.why_closed(error).await)
            }
        }
    }

    /// The reason a request stream could not be written: the reply's status or failure
    /// when one has come (it says more, e.g. a TLS alert), else `error`.
    async fn why_closed(&mut self, error: CallError) -> CallError {
        if self.response.is_none() && self.body.is_none() {
            return error;
        }
        match self.next_message().await {
            Err(reason) => reason,
            Ok(_) => error,
        }
    }

    /// Hands one request message to h2 without waiting for window: h2 keeps what the
    /// window does not let through yet ([`Stream::queue`](crate::protocol::Stream::queue)).
    pub fn queue(&mut self, message: Bytes, last: bool) -> Result<(), CallError> {
        self.send
            .send_data(frame(&message, self.gzip), last)
            .map_err(send_failure)?;
        if !last {
            // One byte beyond what waits: h2 grants it once all of that has window.
            self.send.reserve_capacity(1);
        }
        Ok(())
    }

    /// The queued message has its window (`sending`), or the next reply message came.
    /// Cancel-safe.
    pub async fn progress(&mut self, sending: bool) -> Result<Progress, CallError> {
        std::future::poll_fn(|context| {
            if sending {
                match self.send.poll_capacity(context) {
                    Poll::Ready(Some(Ok(_))) => return Poll::Ready(Ok(Progress::Sent)),
                    Poll::Ready(Some(Err(error))) => {
                        tracing::debug!("the request stream ended: {error}");
                        return Poll::Ready(Ok(Progress::SendClosed));
                    }
                    Poll::Ready(None) => return Poll::Ready(Ok(Progress::SendClosed)),
                    Poll::Pending => {}
                }
            }
            // `next_message` awaits only h2's futures, which keep the waker they were
            // polled with when dropped, and is cancel-safe: it may be made anew each poll.
            let receiving = std::pin::pin!(self.next_message());
            receiving
                .poll(context)
                .map(|received| received.map(Progress::Received))
        })
        .await
    }

    /// Ends the request stream (half-close).
    pub fn finish(&mut self) -> Result<(), CallError> {
        self.send
            .send_data(Bytes::new(), true)
            .map_err(send_failure)
    }

    /// Abandons the call: RST_STREAM with CANCEL, as gRPC clients cancel.
    pub fn cancel(&mut self) {
        self.send.send_reset(h2::Reason::CANCEL);
    }

    /// The reply headers, once they have come (at once for the first message).
    pub fn header_pairs(&self) -> Pairs {
        pairs_of(&self.headers)
    }

    pub fn trailer_pairs(&self) -> Pairs {
        pairs_of(&self.trailers)
    }

    /// The reply's headers and trailers, moved out (the call has ended).
    pub fn take_fields(&mut self) -> (Fields, Fields) {
        (
            Fields::Map(std::mem::take(&mut self.headers)),
            Fields::Map(std::mem::take(&mut self.trailers)),
        )
    }

    /// The next reply message; `None` at the end of a successful call; the status of a
    /// failed one as an error. Cancel-safe.
    pub async fn next_message(&mut self) -> Result<Option<Bytes>, CallError> {
        if self.failure.is_some() {
            return self.read_failure().await;
        }
        // Cancel-safe: the response future stays in place until it has completed, so a
        // caller may drop this future (in a select) and ask again.
        if let Some(pending) = self.response.as_mut() {
            let response = pending.await;
            self.response = None;
            let response = response.map_err(|error| no_reply(&error, self.hang_up_hint))?;
            let (parts, body) = response.into_parts();
            self.headers = parts.headers;
            let is_ours = header_text(&self.headers, CONTENT_TYPE)
                .and_then(Wire::of)
                .is_some_and(|(_, wire)| {
                    wire == self.wire
                        || matches!(
                            (wire, self.wire),
                            (Wire::GrpcWeb { .. }, Wire::GrpcWeb { .. })
                        )
                });
            if self.wire != Wire::Connect && self.headers.contains_key(names::GRPC_STATUS) {
                // Trailers-only: the status came with the headers.
                self.trailers = std::mem::take(&mut self.headers);
                return status_of(&self.trailers).map(|()| None);
            }
            if self.wire == Wire::Connect && parts.status != http::StatusCode::OK {
                self.failure = Some((parts.status, Vec::new()));
                self.body = Some(body);
                return self.read_failure().await;
            }
            if parts.status != http::StatusCode::OK || !is_ours {
                return Err(http_failure(parts.status, &self.headers, self.wire));
            }
            match self.headers.get(self.wire.encoding_header()).map(|value| value.as_bytes()) {
                None | Some(b"identity") => {}
                Some(b"gzip") => self.deframer.accept_gzip(true),
                Some(other) => {
                    return Err(CallError::Transport(format!(
                        "the reply is compressed with {}, which rmicro does not read (it asks for gzip)",
                        String::from_utf8_lossy(other)
                    )))
                }
            }
            self.body = Some(body);
        }
        let Some(body) = self.body.as_mut() else {
            return Ok(None);
        };
        loop {
            match self.deframer.next_envelope().map_err(CallError::Status)? {
                Some(Envelope::Message(message)) => return Ok(Some(message)),
                Some(Envelope::End(ending)) => {
                    self.body = None;
                    return self.ended(&ending).map(|()| None);
                }
                None => {}
            }
            match body.data().await {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    self.deframer.push(&data);
                }
                Some(Err(error)) => {
                    return Err(CallError::Transport(format!(
                        "the reply stream broke: {error}"
                    )))
                }
                None => break,
            }
        }
        if self.deframer.has_partial_message() {
            return Err(CallError::Transport(
                "the reply ended inside a message".into(),
            ));
        }
        if self.wire == Wire::Connect {
            self.body = None;
            return Err(CallError::Transport(
                "the Connect stream ended without its end-of-stream message".into(),
            ));
        }
        // gRPC's trailers; a gRPC-Web server may send HTTP/2 trailers too.
        self.trailers = body
            .trailers()
            .await
            .map_err(|error| CallError::Transport(format!("no trailers: {error}")))?
            .unwrap_or_default();
        self.body = None;
        status_of(&self.trailers).map(|()| None)
    }

    /// Reads a Connect reply's error body (up to 64 KiB) into `failure`, so that a
    /// receive dropped half-way (in a select) goes on where it was; then its status.
    async fn read_failure(&mut self) -> Result<Option<Bytes>, CallError> {
        while let (Some(body), Some((_, bytes))) = (self.body.as_mut(), self.failure.as_mut()) {
            if bytes.len() > 1 << 16 {
                break;
            }
            match body.data().await {
                Some(Ok(data)) => {
                    let _ = body.flow_control().release_capacity(data.len());
                    bytes.extend_from_slice(&data);
                }
                _ => break,
            }
        }
        self.body = None;
        let Some((status, bytes)) = self.failure.take() else {
            return Ok(None);
        };
        Err(connect_error(status, &self.headers, &bytes))
    }

    fn ended(&mut self, ending: &[u8]) -> Result<(), CallError> {
        let (trailers, result) = end_of_reply(self.wire, ending);
        self.trailers = trailers;
        result
    }
}

/// The envelope that ended a reply: gRPC-Web's trailers, or Connect's end-of-stream
/// message (`{"error":…,"metadata":…}`) — the trailers it carries and the call's status.
pub(crate) fn end_of_reply(wire: Wire, ending: &[u8]) -> (HeaderMap, Result<(), CallError>) {
    let mut trailers = HeaderMap::new();
    let mut add = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            trailers.append(name, value);
        }
    };
    if wire != Wire::Connect {
        for (name, value) in wire::parse_grpc_web_trailers(ending) {
            add(&name, &value);
        }
        let result = status_of(&trailers);
        return (trailers, result);
    }
    let json: serde_json::Value = match serde_json::from_slice(ending) {
        Ok(json) => json,
        Err(error) => {
            return (
                trailers,
                Err(CallError::Transport(format!(
                    "the end-of-stream message is not JSON: {error}"
                ))),
            )
        }
    };
    if let Some(metadata) = json.get("metadata").and_then(|value| value.as_object()) {
        for (name, values) in metadata {
            for value in values.as_array().into_iter().flatten() {
                add(name, value.as_str().unwrap_or_default());
            }
        }
    }
    let result = match json.get("error") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(error) => Err(CallError::Status(connect_status(error))),
    };
    (trailers, result)
}

impl GrpcStream {
    async fn reflection_answer(&mut self) -> Result<Answer, CallError> {
        let message = self
            .next_message()
            .await?
            .ok_or_else(|| CallError::Transport("reflection ended without an answer".into()))?;
        ReflectionResponse::decode(message)
            .map_err(|error| CallError::Transport(format!("bad reflection answer: {error}")))?
            .answer
            .ok_or_else(|| CallError::Transport("empty reflection answer".into()))
    }
}

/// A request `http` refuses to build: a metadata name or value, or a path, that is no
/// valid HTTP.
fn unbuildable(error: impl std::fmt::Display) -> CallError {
    CallError::Transport(format!("cannot build the request: {error}"))
}

fn send_failure(error: h2::Error) -> CallError {
    CallError::Transport(format!("cannot send a request message: {error}"))
}

/// The status in `grpc-status`/`grpc-message`; a missing status is an error too.
fn status_of(trailers: &HeaderMap) -> Result<(), CallError> {
    let text = |name: HeaderName| header_text(trailers, name);
    let Some(code) = text(names::GRPC_STATUS) else {
        return Err(CallError::Transport(
            "the reply ended without grpc-status".into(),
        ));
    };
    let code = code
        .parse::<usize>()
        .ok()
        .and_then(|number| Code::all().nth(number))
        .unwrap_or(Code::Unknown);
    if code == Code::Ok {
        return Ok(());
    }
    let message = text(names::GRPC_MESSAGE)
        .map(percent_decode)
        .unwrap_or_default();
    let details = match text(names::GRPC_STATUS_DETAILS) {
        Some(value) => details::base64_decode(value)
            .and_then(|bytes| details::decode_status(&bytes))
            .map_err(|error| CallError::Transport(format!("{code}: {message}; {error}")))?,
        None => Vec::new(),
    };
    Err(CallError::Status(Status {
        details,
        ..Status::new(code, message)
    }))
}

/// A Connect error: its JSON (`{"code","message","details"}`), or, when the body is not
/// that, the HTTP status mapped as Connect maps it.
pub(crate) fn connect_error(
    status: http::StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> CallError {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(error) if error.get("code").is_some() => CallError::Status(connect_status(&error)),
        _ => http_failure(status, headers, Wire::Connect),
    }
}

/// The status in a Connect error object.
fn connect_status(error: &serde_json::Value) -> Status {
    let text = |name: &str| {
        error
            .get(name)
            .and_then(|value| value.as_str())
            .unwrap_or("")
    };
    let code = Code::all()
        .find(|code| connect::code_name(*code) == text("code"))
        .unwrap_or(Code::Unknown);
    let details = error
        .get("details")
        .and_then(|value| value.as_array())
        .into_iter()
        .flatten()
        .filter_map(|detail| {
            let type_name = detail.get("type")?.as_str()?;
            let value = details::base64_decode(detail.get("value")?.as_str()?).ok()?;
            Some(prost_types::Any {
                type_url: format!("type.googleapis.com/{type_name}"),
                value,
            })
        })
        .collect();
    Status {
        details,
        ..Status::new(code, text("message"))
    }
}

pub(crate) fn gzip(bytes: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to memory cannot fail");
    encoder
        .finish()
        .expect("writing to memory cannot fail")
        .into()
}

pub(crate) fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, CallError> {
    use std::io::Read;
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| CallError::Transport(format!("cannot gunzip the reply: {error}")))?;
    if inflated.len() > limit {
        return Err(CallError::Status(Status::new(
            Code::ResourceExhausted,
            format!("the reply is larger than {limit} bytes once gunzipped"),
        )));
    }
    Ok(inflated)
}

/// A reply that is not in the caller's protocol: mapped as gRPC maps HTTP statuses,
/// naming what came.
pub(crate) fn http_failure(status: http::StatusCode, headers: &HeaderMap, wire: Wire) -> CallError {
    let content_type = header_text(headers, CONTENT_TYPE).unwrap_or("none");
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    if status == http::StatusCode::OK {
        return foreign_reply(content_type.as_bytes(), wire.name());
    }
    CallError::Status(Status::new(
        code,
        format!(
            "the server answered HTTP {status} (content-type {content_type}), not {}",
            wire.name()
        ),
    ))
}
