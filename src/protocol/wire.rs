//! The enveloped protocols of the shared port — gRPC, the Connect protocol's streaming
//! form and gRPC-Web (binary, and base64 `grpc-web-text`) — and what differs among them:
//! content types, header names, and how a call's status travels (HTTP/2 trailers in
//! gRPC; a last envelope in the body in Connect, flag 0x02, and in gRPC-Web, flag 0x80).
//! Every one of them frames messages with the same 5-byte envelope. The HTTP/2 stream
//! machinery that serves them is `grpc::server`'s; their HTTP/1.1 form (Connect streams
//! and gRPC-Web, as browsers send them: the whole request body first) is here.

use crate::codec::{self, Codec};
use crate::message::{CallContext, Decoded, Extras, Metadata, Reply, Request, StreamCall};
use crate::protocol::connect::{self, ConnectRequest};
use crate::protocol::grpc::{self, Deframer};
use crate::protocol::{caller_metadata, refused, route, Dispatch};
use crate::status::{Code, Status};
use base64::Engine;
use bytes::Bytes;
use http::HeaderName;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Header names the calls look up or send on every call, made at compile time: a
/// lookup by `&str` parses the name first, and `HeaderName::from_static` outside a
/// constant checks it against the standard names.
pub mod names {
    use http::HeaderName;
    pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
    pub const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
    pub const GRPC_STATUS_DETAILS: HeaderName = HeaderName::from_static("grpc-status-details-bin");
    pub const GRPC_ENCODING: HeaderName = HeaderName::from_static("grpc-encoding");
    pub const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static("grpc-accept-encoding");
    pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");
    pub const TE: HeaderName = HeaderName::from_static("te");
    pub const X_GRPC_WEB: HeaderName = HeaderName::from_static("x-grpc-web");
    pub const CONNECT_ENCODING: HeaderName = HeaderName::from_static("connect-content-encoding");
    pub const CONNECT_ACCEPT_ENCODING: HeaderName =
        HeaderName::from_static("connect-accept-encoding");
    pub const CONNECT_TIMEOUT: HeaderName = HeaderName::from_static("connect-timeout-ms");
    pub const CONNECT_VERSION: HeaderName = HeaderName::from_static("connect-protocol-version");
}

/// gRPC-Web's own request headers (besides gRPC's), not metadata for handlers.
const GRPC_WEB_RESERVED: [&str; 5] = [
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "x-grpc-web",
    "x-user-agent",
];

/// Headers that are gRPC's own, not metadata for handlers.
const GRPC_RESERVED: [&str; 3] = ["grpc-timeout", "grpc-encoding", "grpc-accept-encoding"];

/// The flag of gRPC-Web's trailer envelope.
pub const GRPC_WEB_TRAILERS: u8 = 0x80;
/// The flag of Connect's end-of-stream envelope.
pub const CONNECT_END: u8 = 0x02;

/// An enveloped protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    Grpc,
    Connect,
    /// `text`: the body is base64 (`application/grpc-web-text`), for clients that cannot
    /// read binary bodies.
    GrpcWeb {
        text: bool,
    },
}

impl Wire {
    /// The codec and protocol a request's `Content-Type` names (parameters ignored).
    pub fn of(content_type: &str) -> Option<(Codec, Wire)> {
        // Nearly every call's, told without splitting.
        if content_type == "application/grpc" {
            return Some((Codec::Protobuf, Wire::Grpc));
        }
        let media = content_type.split(';').next().unwrap_or("").trim();
        if let Some(codec) = grpc_web_codec(media, "application/grpc-web-text") {
            return Some((codec, Wire::GrpcWeb { text: true }));
        }
        if let Some(codec) = grpc_web_codec(media, "application/grpc-web") {
            return Some((codec, Wire::GrpcWeb { text: false }));
        }
        if let Some(codec) = grpc::codec_of(media) {
            return Some((codec, Wire::Grpc));
        }
        connect::stream_codec_of(media).map(|codec| (codec, Wire::Connect))
    }

    /// The protocol as handlers are told it (`RMICRO_PROTOCOL`, the journal).
    pub fn protocol(self) -> &'static str {
        match self {
            Wire::Grpc => "grpc",
            Wire::Connect => "connect",
            Wire::GrpcWeb { .. } => "grpc-web",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Wire::Grpc => "gRPC",
            Wire::Connect => "Connect",
            Wire::GrpcWeb { .. } => "gRPC-Web",
        }
    }

    /// The header naming the messages' compression.
    pub fn encoding_header(self) -> HeaderName {
        match self {
            Wire::Grpc | Wire::GrpcWeb { .. } => names::GRPC_ENCODING,
            Wire::Connect => names::CONNECT_ENCODING,
        }
    }

    /// The header saying which compressions the sender reads.
    pub fn accept_encoding_header(self) -> HeaderName {
        match self {
            Wire::Grpc | Wire::GrpcWeb { .. } => names::GRPC_ACCEPT_ENCODING,
            Wire::Connect => names::CONNECT_ACCEPT_ENCODING,
        }
    }

    /// Headers that are the protocol's own, not metadata for handlers.
    pub fn reserved(self) -> &'static [&'static str] {
        match self {
            Wire::Grpc => &GRPC_RESERVED,
            Wire::Connect => &connect::STREAM_RESERVED,
            Wire::GrpcWeb { .. } => &GRPC_WEB_RESERVED,
        }
    }

    pub fn content_type(self, codec: Codec) -> &'static str {
        match (self, codec) {
            (Wire::Grpc, codec) => grpc::content_type(codec),
            (Wire::Connect, codec) => connect::stream_content_type(codec),
            (Wire::GrpcWeb { text: false }, Codec::Protobuf) => "application/grpc-web+proto",
            (Wire::GrpcWeb { text: false }, Codec::Json) => "application/grpc-web+json",
            (Wire::GrpcWeb { text: true }, Codec::Protobuf) => "application/grpc-web-text+proto",
            (Wire::GrpcWeb { text: true }, Codec::Json) => "application/grpc-web-text+json",
        }
    }

    /// The header carrying the caller's deadline.
    pub fn timeout_header_name(self) -> HeaderName {
        match self {
            Wire::Grpc | Wire::GrpcWeb { .. } => names::GRPC_TIMEOUT,
            Wire::Connect => names::CONNECT_TIMEOUT,
        }
    }

    /// The header carrying the caller's deadline, and its value for `timeout`.
    pub fn timeout_header(self, timeout: Duration) -> (HeaderName, String) {
        let value = match self {
            Wire::Grpc | Wire::GrpcWeb { .. } => grpc::format_timeout(timeout),
            Wire::Connect => timeout.as_millis().clamp(1, 9_999_999_999).to_string(),
        };
        (self.timeout_header_name(), value)
    }

    /// The deadline a request's headers set (`header` looks one up by lower-case name).
    /// An unreadable `grpc-timeout` is ignored, as grpc-go does; Connect's is an error.
    pub fn timeout<'a>(
        self,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Option<Duration>, Status> {
        let value = header(self.timeout_header_name().as_str());
        match self {
            Wire::Grpc | Wire::GrpcWeb { .. } => Ok(value.and_then(grpc::parse_timeout)),
            Wire::Connect => value.map(connect::parse_timeout).transpose(),
        }
    }

    /// The flag of the envelope that ends a reply stream; 0 in gRPC (trailers end it).
    pub fn end_flag(self) -> u8 {
        match self {
            Wire::Grpc => 0,
            Wire::Connect => CONNECT_END,
            Wire::GrpcWeb { .. } => GRPC_WEB_TRAILERS,
        }
    }

    /// The last envelope of a reply body, carrying the call's status and the handler's
    /// trailers; `None` in gRPC, whose status goes in HTTP/2 trailers.
    pub fn ending(self, result: &Result<(), Status>, trailers: &Metadata) -> Option<Bytes> {
        match self {
            Wire::Grpc => None,
            Wire::Connect => Some(connect::end_of_stream(result, trailers)),
            Wire::GrpcWeb { .. } => Some(grpc_web_trailers(result, trailers)),
        }
    }

    /// Reply bytes as they go on the wire: base64 in `grpc-web-text` (each piece padded
    /// on its own, as the spec allows).
    pub fn encode(self, data: Bytes) -> Bytes {
        match self {
            Wire::GrpcWeb { text: true } => base64::engine::general_purpose::STANDARD
                .encode(&data)
                .into(),
            _ => data,
        }
    }

    /// Reads the body bytes of this protocol as they arrive.
    pub fn decoder(self) -> BodyDecoder {
        BodyDecoder {
            text: self == Wire::GrpcWeb { text: true },
            pending: Vec::new(),
        }
    }
}

/// The codec of a gRPC-Web media type `base`, `base+proto` or `base+json`.
fn grpc_web_codec(media: &str, base: &str) -> Option<Codec> {
    match media.strip_prefix(base)? {
        "" | "+proto" => Some(Codec::Protobuf),
        "+json" => Some(Codec::Json),
        _ => None,
    }
}

/// One field of an HTTP/1 header block: `name:value` and CRLF.
fn push_field(block: &mut String, name: &str, value: &str) {
    block.push_str(name);
    block.push(':');
    block.push_str(value);
    block.push_str("\r\n");
}

/// gRPC-Web's trailer envelope: flag 0x80, then the status fields as an HTTP/1 header
/// block (lower-case names, CRLF after each).
pub fn grpc_web_trailers(result: &Result<(), Status>, trailers: &Metadata) -> Bytes {
    let mut block = String::new();
    let valid = trailers.iter().filter(|(name, value)| {
        http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok()
    });
    let status = grpc::status_fields(result);
    for (name, value) in valid {
        push_field(&mut block, name, value);
    }
    for (name, value) in status {
        push_field(&mut block, name.as_str(), &value);
    }
    let mut envelope = Vec::with_capacity(5 + block.len());
    envelope.push(GRPC_WEB_TRAILERS);
    envelope.extend_from_slice(&(block.len() as u32).to_be_bytes());
    envelope.extend_from_slice(block.as_bytes());
    envelope.into()
}

/// The fields of a gRPC-Web trailer block.
pub fn parse_grpc_web_trailers(block: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(block)
        .split("\r\n")
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

/// Turns a body as it arrives into envelope bytes: as it is, or base64-decoded in
/// `grpc-web-text`, whose padded pieces may follow one another (`...=` then more).
pub struct BodyDecoder {
    text: bool,
    /// Base64 characters short of a 4-character group.
    pending: Vec<u8>,
}

impl BodyDecoder {
    pub fn decode(&mut self, data: &[u8]) -> Result<Bytes, Status> {
        if !self.text {
            return Ok(Bytes::copy_from_slice(data));
        }
        self.pending
            .extend(data.iter().filter(|byte| !byte.is_ascii_whitespace()));
        let whole = self.pending.len() / 4 * 4;
        let mut decoded = Vec::with_capacity(whole / 4 * 3);
        for group in self.pending[..whole].chunks(4) {
            base64::engine::general_purpose::STANDARD
                .decode_vec(group, &mut decoded)
                .map_err(|error| {
                    Status::invalid_argument(format!(
                        "the grpc-web-text body is not base64: {error}"
                    ))
                })?;
        }
        self.pending.drain(..whole);
        Ok(decoded.into())
    }

    /// Whether base64 characters were left over at the end of the body.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// Serves a Connect streaming-form or gRPC-Web request that came over HTTP/1.1, whose
/// whole body has been read (HTTP/1.1 is half-duplex: a client stream is complete before
/// any reply): the request messages go to the handler, each reply leaves at once as a
/// chunk of a chunked response holding its envelope, and the protocol's ending envelope
/// closes it. `extra` are response headers to add (CORS). `Err` only when the connection
/// broke.
pub async fn serve_http1<D, W>(
    dispatch: &D,
    request: ConnectRequest<'_>,
    codec: Codec,
    wire: Wire,
    extra: &[(&str, String)],
    stopping: tokio::sync::watch::Receiver<bool>,
    out: &mut W,
) -> std::io::Result<()>
where
    D: Dispatch,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let gzip = request.header(wire.encoding_header().as_str()) == Some("gzip");
    let context = CallContext::new(wire.protocol(), if gzip { "gzip" } else { "identity" });
    let extras = context.reply.clone();
    // The head goes out with the first reply (or the ending), once the handler has set
    // its headers and compression.
    let mut reply = Replying {
        codec,
        wire,
        gzip,
        head: Some(extra),
        extras: extras.clone(),
    };
    let result = match prepare(dispatch, &request, codec, wire, gzip, stopping, context).await {
        Err(status) => Err(status),
        Ok(Prepared::Unary(call)) => match dispatch.call(call).await {
            Ok(answer) => reply.write(out, &answer).await?,
            Err(status) => Err(status),
        },
        Ok(Prepared::Stream(call, mut replies)) => {
            let calling = dispatch.call_stream(call);
            tokio::pin!(calling);
            loop {
                tokio::select! {
                    biased;
                    answer = replies.recv() => match answer {
                        Some(answer) => {
                            if let Err(status) = reply.write(out, &answer).await? {
                                break Err(status);
                            }
                        }
                        None => break calling.await,
                    },
                    result = &mut calling => {
                        // Replies the handler made before it ended still go out.
                        while let Ok(answer) = replies.try_recv() {
                            let _ = reply.write(out, &answer).await?;
                        }
                        break result;
                    }
                }
            }
        }
    };
    reply.head(out).await?;
    if let Some(ending) = wire.ending(&result, &extras.get().trailers) {
        write_chunk(out, &wire.encode(ending)).await?;
    }
    out.write_all(b"0\r\n\r\n").await
}

/// A writer whose writes fail (`TimedOut`) once one has made no progress for `limit`:
/// a streamed HTTP/1.1 reply whose client takes none of it ends, where HTTP/2 has its
/// keepalive PING to tell a vanished client from a slow one.
pub struct Bounded<'a, W> {
    inner: &'a mut W,
    limit: Option<Duration>,
    /// Running while a write waits.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<'a, W> Bounded<'a, W> {
    pub fn new(inner: &'a mut W, limit: Option<Duration>) -> Bounded<'a, W> {
        Bounded {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What a waiting write returns: pending, or the error once it waited too long.
    fn waiting<T>(&mut self, context: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let Some(limit) = self.limit else {
            return Poll::Pending;
        };
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(context) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the client took none of the reply for {limit:?} (--write-timeout)"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<W: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Bounded<'_, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut *self.inner).poll_write(context, data) {
            Poll::Pending => self.waiting(context),
            done => {
                self.stalled = None;
                done
            }
        }
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut *self.inner).poll_flush(context) {
            Poll::Pending => self.waiting(context),
            done => {
                self.stalled = None;
                done
            }
        }
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(context)
    }
}

/// How replies are written on an HTTP/1.1 response.
struct Replying<'a> {
    codec: Codec,
    wire: Wire,
    gzip: bool,
    /// The head's extra headers (CORS) until the head is sent.
    head: Option<&'a [(&'a str, String)]>,
    extras: crate::message::ReplyExtras,
}

impl Replying<'_> {
    /// Sends the head unless it has gone: the handler's headers and compression are
    /// known by then.
    async fn head<W: tokio::io::AsyncWrite + Unpin>(&mut self, out: &mut W) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let Some(extra) = self.head.take() else {
            return Ok(());
        };
        let extras: Extras = self.extras.get();
        self.gzip = extras.gzip.unwrap_or(self.gzip);
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nTransfer-Encoding: chunked\r\n",
            self.wire.content_type(self.codec)
        );
        if self.gzip {
            head.push_str(&format!("{}: gzip\r\n", self.wire.encoding_header()));
        }
        for (name, value) in extra {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut head = head.into_bytes();
        connect::write_http1_headers(&mut head, extras.headers.iter());
        head.extend_from_slice(b"\r\n");
        out.write_all(&head).await
    }

    /// One reply as a chunk holding its envelope; the inner error when it cannot be
    /// encoded.
    async fn write<W: tokio::io::AsyncWrite + Unpin>(
        &mut self,
        out: &mut W,
        reply: &Reply,
    ) -> std::io::Result<Result<(), Status>> {
        self.head(out).await?;
        match codec::encode_reply(self.codec, reply) {
            Ok(body) => {
                let envelope = self.wire.encode(grpc::frame(&body, self.gzip));
                write_chunk(out, &envelope).await.map(Ok)
            }
            Err(error) => Ok(Err(Status::internal(error))),
        }
    }
}

async fn write_chunk<W: tokio::io::AsyncWrite + Unpin>(
    out: &mut W,
    data: &[u8],
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    out.write_all(&chunk).await?;
    // Each reply as it is made, also through a buffering stream (TLS).
    out.flush().await
}

/// The call a whole HTTP/1.1 request asks for.
enum Prepared {
    Unary(Request),
    /// The streaming call, its request messages already in its channel, and the
    /// receiving end of its replies.
    Stream(StreamCall, tokio::sync::mpsc::Receiver<Reply>),
}

async fn prepare<D: Dispatch>(
    dispatch: &D,
    request: &ConnectRequest<'_>,
    codec: Codec,
    wire: Wire,
    gzip: bool,
    stopping: tokio::sync::watch::Receiver<bool>,
    context: CallContext,
) -> Result<Prepared, Status> {
    if request.method != "POST" {
        return Err(Status::new(
            Code::Unimplemented,
            format!("{} is not served: use POST", request.method),
        ));
    }
    let endpoint = route(dispatch, request.path)?;
    match request.header(wire.encoding_header().as_str()) {
        None | Some("identity" | "gzip") => {}
        Some(other) => {
            return Err(Status::new(
                Code::Unimplemented,
                format!(
                    "unsupported {} {other:?} (use gzip or identity)",
                    wire.encoding_header().as_str()
                ),
            ))
        }
    }
    let timeout = wire.timeout(|name| request.header(name))?;
    let deadline = timeout.map(|timeout| Instant::now() + timeout);
    let mut decoder = wire.decoder();
    let body = decoder.decode(request.body)?;
    if decoder.has_partial() {
        return Err(Status::invalid_argument(
            "the grpc-web-text body ends inside a base64 group",
        ));
    }
    let mut deframer = Deframer::new(request.max_message_size, gzip);
    deframer.push(&body);
    let mut framed: Vec<Bytes> = Vec::new();
    while let Some(message) = deframer.next_message()? {
        framed.push(message);
    }
    if deframer.has_partial_message() {
        return Err(Status::invalid_argument(
            "the request ended inside a message",
        ));
    }
    let input = endpoint.method.input();
    // The whole client stream is here: its share of the decode budget is taken at once.
    let leases = dispatch
        .budget()
        .lease_all(codec, &input, &framed, deadline)
        .await
        .map_err(|refusal| refused(refusal, &input))?;
    let mut messages = Vec::with_capacity(framed.len());
    for (message, lease) in framed.into_iter().zip(leases) {
        let decoded = codec::decode(codec, &input, &message).map_err(Status::invalid_argument)?;
        messages.push(Decoded::new(decoded, lease));
    }
    let metadata = caller_metadata(request.headers.iter().copied(), wire.reserved());
    if !crate::schema::is_streaming(&endpoint.method) {
        let count = messages.len();
        let (Some(body), 1) = (messages.pop(), count) else {
            return Err(Status::invalid_argument(format!(
                "a unary call takes one request message, not {count}"
            )));
        };
        return Ok(Prepared::Unary(Request {
            endpoint,
            metadata,
            body,
            deadline,
            context,
        }));
    }
    let (sender, requests) = tokio::sync::mpsc::channel(messages.len().max(1));
    for message in messages {
        let _ = sender.try_send(message);
    }
    let (replies, receiver) = tokio::sync::mpsc::channel(16);
    let call = StreamCall {
        endpoint,
        metadata,
        deadline,
        requests,
        replies,
        stopping,
        context,
    };
    Ok(Prepared::Stream(call, receiver))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_their_protocol() {
        assert_eq!(
            Wire::of("application/grpc-web"),
            Some((Codec::Protobuf, Wire::GrpcWeb { text: false }))
        );
        assert_eq!(
            Wire::of("application/grpc-web+json; charset=utf-8"),
            Some((Codec::Json, Wire::GrpcWeb { text: false }))
        );
        assert_eq!(
            Wire::of("application/grpc-web-text+proto"),
            Some((Codec::Protobuf, Wire::GrpcWeb { text: true }))
        );
        assert_eq!(
            Wire::of("application/grpc"),
            Some((Codec::Protobuf, Wire::Grpc))
        );
        assert_eq!(
            Wire::of("application/connect+json"),
            Some((Codec::Json, Wire::Connect))
        );
        assert_eq!(Wire::of("application/grpc-webx"), None);
        assert_eq!(Wire::of("application/json"), None);
    }

    #[test]
    fn grpc_web_trailers_are_a_header_block_in_an_envelope() {
        let ending = grpc_web_trailers(
            &Err(Status::new(Code::NotFound, "no 100%")),
            &Metadata::new(),
        );
        assert_eq!(ending[0], GRPC_WEB_TRAILERS);
        let block = &ending[5..];
        assert_eq!(
            u32::from_be_bytes(ending[1..5].try_into().unwrap()) as usize,
            block.len()
        );
        assert_eq!(
            parse_grpc_web_trailers(block),
            [
                ("grpc-status".to_owned(), "5".to_owned()),
                ("grpc-message".to_owned(), "no 100%25".to_owned())
            ]
        );
    }

    #[test]
    fn grpc_web_text_decodes_padded_pieces_split_anywhere() {
        let wire = Wire::GrpcWeb { text: true };
        let pieces = [
            wire.encode(Bytes::from_static(b"hello")),
            wire.encode(Bytes::from_static(b"web!")),
        ];
        let joined = pieces.concat();
        let mut decoder = wire.decoder();
        let mut decoded = Vec::new();
        for piece in joined.chunks(3) {
            decoded.extend_from_slice(&decoder.decode(piece).unwrap());
        }
        assert!(!decoder.has_partial());
        assert_eq!(decoded, b"helloweb!");
        assert!(wire.decoder().decode(b"!!!!").is_err());
    }
}
