//! Wire protocols: framing, the server front end and the client caller of each.
//!
//! A front end turns bytes into a [`Request`] and hands it to a [`Dispatch`] (the router,
//! which lives in a higher layer); a caller sends one request to an address. Neither
//! knows about handlers, registries or the command line.

/// Implements `AsyncWrite` for a stream wrapper `$wrapper<S>` by passing every write to
/// its field `$field` (the wrappers here change only how their streams are read).
macro_rules! forward_writes {
    ($wrapper:ident, $field:ident) => {
        impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for $wrapper<S> {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                context: &mut std::task::Context<'_>,
                data: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$field).poll_write(context, data)
            }

            fn poll_write_vectored(
                mut self: std::pin::Pin<&mut Self>,
                context: &mut std::task::Context<'_>,
                data: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.$field).poll_write_vectored(context, data)
            }

            fn is_write_vectored(&self) -> bool {
                self.$field.is_write_vectored()
            }

            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                context: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$field).poll_flush(context)
            }

            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                context: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.$field).poll_shutdown(context)
            }
        }
    };
}

pub mod caller;
pub mod connect;
pub mod cors;
pub mod grpc;
pub mod http1;
pub mod http1_client;
pub mod jsonrpc;
pub mod mucp;
pub mod tls;
pub mod wire;

pub use caller::{Caller, Dialing, Progress, Stream};

use crate::codec::budget::{Budget, Refusal};
use crate::codec::Codec;
use crate::message::{Decoded, Endpoint, Metadata, Reply, Request, Source, StreamCall};
use crate::status::{Code, Status};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// How long a server waits for each part of a request; `None` waits for ever (a client's
/// connection, where the caller's own deadline applies).
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeouts {
    /// From a request's first byte to the end of its head; for a new connection, from
    /// its accepting, through the TLS handshake and the bytes that tell its protocol.
    pub header: Option<std::time::Duration>,
    /// From the end of a request's head to the end of its body (a JSON-RPC request: from
    /// its first byte to its end).
    pub body: Option<std::time::Duration>,
    /// Between requests on a kept-alive connection with nothing in flight.
    pub idle: Option<std::time::Duration>,
    /// How long one chunk of a streamed HTTP/1.1 reply (Connect, gRPC-Web) may wait on a
    /// client that takes none of it.
    pub write: Option<std::time::Duration>,
}

/// The wire protocols a caller can speak, named by their address schemes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Mucp,
    JsonRpc,
    Grpc,
    /// The Connect protocol over HTTP/2.
    Connect,
    /// gRPC-Web over HTTP/2.
    GrpcWeb,
}

impl Protocol {
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Mucp => "mucp",
            Protocol::JsonRpc => "jsonrpc",
            Protocol::Grpc => "grpc",
            Protocol::Connect => "connect",
            Protocol::GrpcWeb => "grpc-web",
        }
    }

    pub fn from_scheme(scheme: &str) -> Option<Protocol> {
        match scheme {
            "mucp" | "http" => Some(Protocol::Mucp),
            "jsonrpc" => Some(Protocol::JsonRpc),
            "grpc" => Some(Protocol::Grpc),
            "connect" => Some(Protocol::Connect),
            "grpc-web" | "grpcweb" => Some(Protocol::GrpcWeb),
            _ => None,
        }
    }

    /// gRPC, Connect and gRPC-Web: HTTP/2, gRPC's status codes, reflection, TLS.
    pub fn is_grpc_family(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::Connect | Protocol::GrpcWeb)
    }
}

/// Where a call goes: a protocol and `host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub protocol: Protocol,
    pub address: String,
    /// Over TLS (`grpcs://`, or a node registered as `secure`).
    pub tls: bool,
    /// Connect over HTTP/1.1 (`http://`) rather than HTTP/2.
    pub http1: bool,
}

impl Target {
    /// `scheme://host:port`, `host:port` (mucp) or `:port` (on 127.0.0.1); a unix
    /// socket as `unix:///PATH` (mucp, or the protocol `--protocol` names) or
    /// `PROTOCOL+unix:///PATH` (`grpc+unix:///run/app.sock`), its address then
    /// `unix:/PATH`; the error says what would be accepted.
    pub fn parse(given: &str) -> Result<Target, String> {
        let unknown = |scheme: &str| {
            format!(
                "unknown address scheme {scheme}:// (use mucp://, jsonrpc://, grpc://, grpcs://, connect://, grpc-web://, http:// or https:// (Connect over HTTP/1.1 or TLS) or unix:///PATH)"
            )
        };
        let http1 = given.starts_with("http://");
        let (protocol, tls, rest) = match given.split_once("://") {
            None => (Protocol::Mucp, false, given),
            Some(("http", rest)) => (Protocol::Connect, false, rest),
            Some(("grpcs", rest)) => (Protocol::Grpc, true, rest),
            Some(("https", rest)) => (Protocol::Connect, true, rest),
            Some((scheme, path)) if scheme == "unix" || scheme.ends_with("+unix") => {
                let protocol = match scheme.strip_suffix("+unix") {
                    None => Protocol::Mucp,
                    Some(name) => Protocol::from_scheme(name).ok_or_else(|| unknown(scheme))?,
                };
                if !path.starts_with('/') || path.len() < 2 {
                    return Err(format!(
                        "{given:?} names no socket: use {scheme}:///PATH (an absolute path)"
                    ));
                }
                return Ok(Target {
                    protocol,
                    address: format!("unix:{path}"),
                    tls: false,
                    http1: false,
                });
            }
            Some((scheme, rest)) => match Protocol::from_scheme(scheme) {
                Some(protocol) => (protocol, false, rest),
                None => return Err(unknown(scheme)),
            },
        };
        let rest = rest.trim_end_matches('/');
        if !rest.is_empty() && rest.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!(
                "address {given:?} has no host: use 127.0.0.1:{rest} (or :{rest})"
            ));
        }
        if rest.is_empty() || !rest.contains(':') {
            return Err(format!(
                "address {given:?} has no port: use HOST:PORT, e.g. {}:8080",
                if rest.is_empty() { "127.0.0.1" } else { rest }
            ));
        }
        let address = if rest.starts_with(':') {
            format!("127.0.0.1{rest}")
        } else {
            rest.to_owned()
        };
        Ok(Target {
            protocol,
            address,
            tls,
            http1,
        })
    }
}

/// The outcome of looking up `Service.Method`, with the distinctions go-micro reports.
pub enum Lookup {
    Found(Arc<Endpoint>),
    NoService,
    NoMethod,
}

/// What a protocol front end needs from the server: routing and calling.
pub trait Dispatch: Send + Sync + 'static {
    /// By go-micro's names: the service's short name (mucp, JSON-RPC).
    fn lookup(&self, service: &str, method: &str) -> Lookup;

    /// By gRPC's path: the service's full name (gRPC, Connect); gRPC's built-in services
    /// (reflection, health) are found here too.
    fn lookup_path(&self, service: &str, method: &str) -> Lookup;

    /// Runs the endpoint's handler; honours `request.deadline`.
    fn call(&self, request: Request) -> impl Future<Output = Result<Reply, Status>> + Send;

    /// Runs a streaming call's handler; honours `call.deadline`.
    fn call_stream(&self, call: StreamCall) -> impl Future<Output = Result<(), Status>> + Send;

    /// The origin id put into errors this server generates (its service name).
    fn origin(&self) -> &str;

    /// The memory decoded requests may hold at once, all connections together.
    fn budget(&self) -> &Budget;
}

/// Decodes a request message within the server's decode budget, waiting for its share
/// until `deadline`: bad bytes are InvalidArgument; a request that would take more memory
/// than the whole budget, or could not get its share by its deadline, ResourceExhausted
/// (gRPC's code for a message over a limit).
pub async fn decode_request(
    dispatch: &impl Dispatch,
    codec: Codec,
    input: &prost_reflect::MessageDescriptor,
    body: &bytes::Bytes,
    deadline: Option<std::time::Instant>,
) -> Result<Decoded, Status> {
    let lease = dispatch
        .budget()
        .lease(codec, input, body, deadline)
        .await
        .map_err(|refusal| refused(refusal, input))?;
    let message = crate::codec::decode(codec, input, body).map_err(Status::invalid_argument)?;
    let source = match codec {
        Codec::Protobuf => Source::Protobuf(body.clone()),
        Codec::Json => Source::Json(body.clone()),
    };
    Ok(Decoded::new(message, lease).with_source(source))
}

/// The status for a request the decode budget refused.
pub fn refused(refusal: Refusal, input: &prost_reflect::MessageDescriptor) -> Status {
    let message = match refusal {
        Refusal::TooLarge { needed, budget } => format!(
            "decoding this {} would take about {} of memory, more than the server's --decode-budget of {}",
            input.full_name(),
            megabytes(needed),
            megabytes(budget)
        ),
        Refusal::Busy { needed, budget } => format!(
            "this {} needs about {} of memory to decode, and the server's --decode-budget of {} stayed in use by other requests until the deadline",
            input.full_name(),
            megabytes(needed),
            megabytes(budget)
        ),
    };
    Status::new(Code::ResourceExhausted, message)
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Whether `name` (any case) is one of HTTP's own headers, never handler metadata
/// whatever the protocol, nor set by a rule.
pub fn is_transport_header(name: &str) -> bool {
    matches!(
        &*lowercase(name),
        "host"
            | "content-type"
            | "content-length"
            | "content-encoding"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "upgrade"
            | "accept-encoding"
            | "expect"
    )
}

/// A header name in lowercase, copied only when it has capitals (HTTP/2's never do).
fn lowercase(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().any(|byte| byte.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// Request headers as handlers see them, the same whatever the protocol: the caller's
/// own headers, names lowercased, without HTTP's transport headers and without the
/// protocol's own (`reserved`, lowercase: mucp's `micro-*` routing headers and `timeout`,
/// gRPC's `grpc-*`, Connect's `connect-*`). HTTP/2's names come lowercase already, so
/// most are compared and copied as they are.
pub fn caller_metadata<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    reserved: &[&str],
) -> Metadata {
    headers
        .into_iter()
        .filter_map(|(name, value)| {
            let name = lowercase(name);
            let left_out = is_transport_header(&name) || reserved.contains(&&*name);
            (!left_out).then(|| (name.into_owned(), value.to_owned()))
        })
        .collect()
}

/// The endpoint an HTTP path `/pkg.Service/Method` names (gRPC and Connect), with
/// grpc-go's texts when there is none.
pub fn route<D: Dispatch>(dispatch: &D, path: &str) -> Result<Arc<Endpoint>, Status> {
    let (service, method) = path
        .trim_start_matches('/')
        .rsplit_once('/')
        .ok_or_else(|| {
            Status::new(
                Code::Unimplemented,
                format!("malformed method name: {path:?}"),
            )
        })?;
    match dispatch.lookup_path(service, method) {
        Lookup::Found(endpoint) => Ok(endpoint),
        Lookup::NoMethod => Err(Status::new(
            Code::Unimplemented,
            format!("unknown method {method} for service {service}"),
        )),
        Lookup::NoService => Err(Status::new(
            Code::Unimplemented,
            format!("unknown service {service}"),
        )),
    }
}

/// What every caller needs to open a call.
#[derive(Clone, Copy)]
pub struct CallHead<'a> {
    /// The target's service name (`Micro-Service` in mucp; servers do not check it).
    pub service: &'a str,
    /// `Service.Method`.
    pub endpoint: &'a str,
    /// `/pkg.Service/Method` (gRPC's name for it).
    pub path: &'a str,
    pub codec: Codec,
    pub metadata: &'a Metadata,
    /// What is left of the call's time, sent to the server (mucp's `Timeout`, gRPC's
    /// `grpc-timeout`) so that it gives up when the caller does.
    pub timeout: Option<std::time::Duration>,
}

/// Header or trailer pairs as text, in the order they came.
pub type Pairs = Vec<(String, String)>;

/// Reply headers or trailers as they came, made [`Pairs`] only when read (a load run
/// reads none): HTTP/2's header map, an HTTP/1.1 head as it came, or the pairs of a
/// protocol read without either.
#[derive(Debug)]
pub enum Fields {
    Pairs(Pairs),
    Map(http::HeaderMap),
    /// An HTTP/1.1 head as it came (a mucp reply's).
    Head(http1::RawHead),
}

impl Default for Fields {
    fn default() -> Fields {
        Fields::Pairs(Pairs::new())
    }
}

impl From<Pairs> for Fields {
    fn from(pairs: Pairs) -> Fields {
        Fields::Pairs(pairs)
    }
}

impl Fields {
    /// Each name with its value, as they came, without making them text first. A value
    /// of HTTP/2's map that is not UTF-8 is left out (no gRPC metadata is: binary values
    /// are base64 in `-bin` headers).
    pub fn texts(&self) -> impl Iterator<Item = (&str, &str)> {
        let (pairs, map, head) = match self {
            Fields::Pairs(pairs) => (Some(pairs), None, None),
            Fields::Map(map) => (None, Some(map), None),
            Fields::Head(head) => (None, None, Some(head)),
        };
        let pairs = pairs
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.as_str(), value.as_str()));
        let map = map.into_iter().flat_map(|map| {
            map.iter().filter_map(|(name, value)| {
                Some((name.as_str(), std::str::from_utf8(value.as_bytes()).ok()?))
            })
        });
        pairs
            .chain(map)
            .chain(head.into_iter().flat_map(http1::RawHead::iter))
    }

    pub fn into_pairs(self) -> Pairs {
        match self {
            Fields::Pairs(pairs) => pairs,
            Fields::Map(map) => pairs_of(&map),
            Fields::Head(head) => head.pairs(),
        }
    }
}

/// Header or trailer names with their values as text (not UTF-8 read lossily).
pub fn pairs_of(headers: &http::HeaderMap) -> Pairs {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// A successful unary reply: its headers and trailers (none for JSON-RPC; mucp has only
/// headers) and its undecoded body.
#[derive(Debug, Default)]
pub struct RawReply {
    pub headers: Pairs,
    pub trailers: Pairs,
    pub body: bytes::Bytes,
}

/// Why a call through a caller failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum CallError {
    /// Dialling failed (refused, unreachable, dial timeout): nothing was sent.
    #[error("connection error: {0}")]
    Connect(String),
    /// The request may have been sent, but no well-formed reply came back.
    #[error("{0}")]
    Transport(String),
    /// The peer speaks another protocol; the text says which scheme to use.
    #[error("{0}")]
    WrongProtocol(String),
    /// The peer closed or reset the connection without any reply, as servers of another
    /// protocol do; the client probes it (`identify`) to say which one.
    #[error("{0}")]
    HungUp(String),
    /// The peer answered with an RPC error.
    #[error("{0}")]
    Status(Status),
}

impl CallError {
    /// The status a server passes on to its own caller when a call it made failed (a
    /// proxy): the peer's status as it came (its go-micro code kept), and Unavailable,
    /// naming `address`, when no status came back.
    pub fn into_status(self, address: &str) -> Status {
        match self {
            CallError::Status(status) => status,
            other => Status::new(Code::Unavailable, format!("upstream {address}: {other}")),
        }
    }
}

/// Polls a call once outside any task (a ready handler then costs no task); a call still
/// pending is spawned and polled again with its task's waker, which every future must
/// accept. `None` when the call panicked.
pub fn poll_once<F: Future>(call: Pin<&mut F>) -> Option<Poll<F::Output>> {
    let mut context = Context::from_waker(std::task::Waker::noop());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.poll(&mut context))).ok()
}

/// Completes once the server's stop flag is set (at once if it already is).
pub async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// `future`'s output, or `None` once `deadline` has passed.
pub async fn within<F: std::future::Future>(
    deadline: Option<std::time::Instant>,
    future: F,
) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), future).await.ok(),
        None => Some(future.await),
    }
}

/// Before a server closes a connection whose peer may still be sending: reads and drops
/// what comes, for a moment (at most 1 s and 4 MiB), so that closing with unread input
/// does not reset the connection and destroy replies the peer has not read yet. The
/// write side must be shut first, so that the peer sees the end and stops.
pub async fn drain<R: AsyncRead + Unpin>(read: &mut R) {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 8 * 1024];
    let mut left: usize = 4 * 1024 * 1024;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        while left > 0 {
            match read.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(count) => left = left.saturating_sub(count),
            }
        }
    })
    .await;
}

/// Opens a TCP connection for a caller, within `timeout`, with Nagle off.
pub async fn dial(address: &str, timeout: std::time::Duration) -> Result<Socket, CallError> {
    if let Some(path) = address.strip_prefix("unix:") {
        let stream = tokio::time::timeout(timeout, tokio::net::UnixStream::connect(path))
            .await
            .map_err(|_| {
                CallError::Connect(format!("dial unix {path}: timed out after {timeout:?}"))
            })?
            .map_err(|error| CallError::Connect(format!("dial unix {path}: {error}")))?;
        return Ok(Socket::Unix(stream));
    }
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(address))
        .await
        .map_err(|_| {
            CallError::Connect(format!("dial tcp {address}: timed out after {timeout:?}"))
        })?
        .map_err(|error| CallError::Connect(format!("dial tcp {address}: {error}")))?;
    let _ = stream.set_nodelay(true);
    Ok(Socket::Tcp(stream))
}

/// TLS for a caller's connections (mucp over HTTPS, JSON-RPC over a TLS socket): the
/// client configuration (its ALPN the protocol's) and the name the server's certificate
/// must carry.
#[derive(Clone, Debug)]
pub struct SecureDial {
    config: Arc<rustls::ClientConfig>,
    /// Why there is none when the address has no name a certificate can carry: the call
    /// then fails rather than go in the clear.
    name: Result<rustls::pki_types::ServerName<'static>, String>,
}

impl SecureDial {
    /// TLS to `address` (or `authority`, the name checked, when given) offering ALPN
    /// `alpn` (none when empty).
    pub fn new(
        config: &Arc<rustls::ClientConfig>,
        address: &str,
        authority: Option<&str>,
        alpn: &[&[u8]],
    ) -> SecureDial {
        let mut config = rustls::ClientConfig::clone(config);
        config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
        SecureDial {
            config: Arc::new(config),
            name: tls::server_name(authority.unwrap_or(address)),
        }
    }
}

/// Dials `address`, then shakes hands over TLS when `secure` says so.
pub async fn dial_secure(
    address: &str,
    timeout: std::time::Duration,
    secure: Option<&SecureDial>,
) -> Result<Socket, CallError> {
    // Boxed: a TLS handshake's state is kilobytes, and every call's future, which dials
    // when it finds no connection, would hold it and copy it as it moves.
    Box::pin(dial_secure_now(address, timeout, secure)).await
}

async fn dial_secure_now(
    address: &str,
    timeout: std::time::Duration,
    secure: Option<&SecureDial>,
) -> Result<Socket, CallError> {
    let socket = dial(address, timeout).await?;
    let Some(secure) = secure else {
        return Ok(socket);
    };
    let name = secure.name.clone().map_err(|error| {
        CallError::Transport(format!(
            "TLS to {address}: {error} (--authority sets the name)"
        ))
    })?;
    let connector = tokio_rustls::TlsConnector::from(secure.config.clone());
    let stream = tokio::time::timeout(timeout, connector.connect(name, socket))
        .await
        .map_err(|_| {
            CallError::Connect(format!(
                "TLS handshake with {address}: timed out after {timeout:?}"
            ))
        })?
        .map_err(|error| {
            let hint = if error.to_string().contains("UnknownIssuer") {
                " (trust its CA with --cacert FILE, or skip the check with --insecure)"
            } else if matches!(
                error.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) {
                " (the server closed the connection: it may not speak TLS)"
            } else {
                ""
            };
            CallError::Transport(format!("TLS handshake failed: {error}{hint}"))
        })?;
    Ok(Socket::Tls(Box::new(stream)))
}

/// A connection to a server or from a client: TCP or a unix socket, or TLS over one.
pub enum Socket {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
    Tls(Box<tokio_rustls::client::TlsStream<Socket>>),
}

macro_rules! each_socket {
    ($self:ident, $stream:ident => $body:expr) => {
        match $self.get_mut() {
            Socket::Tcp($stream) => $body,
            Socket::Unix($stream) => $body,
            Socket::Tls($stream) => $body,
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        each_socket!(self, stream => Pin::new(stream).poll_read(context, buffer))
    }
}

impl tokio::io::AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        each_socket!(self, stream => Pin::new(stream).poll_write(context, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        each_socket!(self, stream => Pin::new(stream).poll_write_vectored(context, data))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Socket::Tcp(stream) => stream.is_write_vectored(),
            Socket::Unix(stream) => stream.is_write_vectored(),
            Socket::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_socket!(self, stream => Pin::new(stream).poll_flush(context))
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        each_socket!(self, stream => Pin::new(stream).poll_shutdown(context))
    }
}

/// What a server was seen to speak by [`identify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spoken {
    JsonRpc,
    Http1,
    Http2,
    Tls,
}

impl Spoken {
    /// What to tell the user, for a call made in `protocol` to `address`; `None` when the
    /// server speaks what was tried (the hang-up had another cause).
    pub fn advice(self, protocol: Protocol, address: &str) -> Option<String> {
        match (self, protocol) {
            (Spoken::JsonRpc, Protocol::JsonRpc)
            | (Spoken::Http1, Protocol::Mucp | Protocol::Connect)
            | (Spoken::Http2, Protocol::Grpc | Protocol::Connect | Protocol::GrpcWeb) => None,
            (Spoken::JsonRpc, _) => Some(format!(
                "the server speaks Go net/rpc JSON-RPC: use jsonrpc://{address}"
            )),
            (Spoken::Http1, _) => Some(format!(
                "the server speaks HTTP/1.1, not HTTP/2 (a go-micro service? use mucp://{address})"
            )),
            (Spoken::Http2, _) => Some(format!(
                "the server speaks HTTP/2 (gRPC): use grpc://{address}"
            )),
            (Spoken::Tls, _) => Some(format!("the server speaks TLS: use grpcs://{address}")),
        }
    }
}

/// Finds out what the server at `address` speaks, for a call it hung up on: a fresh
/// connection carries a Go net/rpc JSON-RPC request for a method nobody has, and the
/// first bytes of the answer tell — JSON (net/rpc answers "can't find service"), an
/// HTTP/1 status line (or an HTTP/0.9 page), HTTP/2 frames (a gRPC server's SETTINGS or
/// GOAWAY) or a TLS alert. `None` when nothing came within `timeout`.
pub async fn identify(address: &str, timeout: std::time::Duration) -> Option<Spoken> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut stream = dial(address, timeout).await.ok()?;
        stream
            .write_all(b"{\"method\":\"rmicro.Probe\",\"params\":[null],\"id\":0}\n")
            .await
            .ok()?;
        let mut bytes = [0u8; 16];
        let count = stream.read(&mut bytes).await.ok()?;
        let bytes = &bytes[..count];
        match bytes {
            [b'{', ..] => Some(Spoken::JsonRpc),
            [b'H', b'T', b'T', b'P', b'/', ..] | [b'<', ..] => Some(Spoken::Http1),
            [0x15, 0x03, ..] => Some(Spoken::Tls),
            [0, _, _, 0x04 | 0x07, ..] => Some(Spoken::Http2),
            _ => None,
        }
    };
    tokio::time::timeout(timeout, probe).await.ok().flatten()
}

/// Explains a reply in another protocol than the caller's (`expected`), naming the
/// address scheme that would work, from the reply's first bytes.
pub fn foreign_reply(bytes: &[u8], expected: &str) -> CallError {
    let looks_http2 = bytes.len() >= 9 && bytes[0] == 0 && matches!(bytes[3], 0x04 | 0x07);
    CallError::WrongProtocol(if looks_http2 {
        "the server answered with HTTP/2 frames, so it is probably a gRPC server: use a grpc:// address".into()
    } else if bytes.first() == Some(&b'{') {
        "the server answered with JSON, so it is probably a Go net/rpc JSON-RPC server: use a jsonrpc:// address".into()
    } else if bytes.starts_with(b"HTTP/") {
        "the server answered with HTTP/1, so it probably speaks mucp: use a mucp:// address".into()
    } else {
        let shown: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            .escape_debug()
            .collect();
        format!("the server's reply is not {expected} (it began \"{shown}\"), so it speaks another protocol")
    })
}

/// An HTTP/2 client connection's stream whose writes wait one turn of the scheduler: the
/// first write after a flush lets the tasks already woken run first, so that the
/// requests they send (the next calls of a load, woken by the replies just read) go out
/// in the same write as what was ready before, such as the answer to the ping grpc-go
/// sends with its replies, instead of a write each. Under `rmicro bench` against grpc-go
/// this halved the writes per call (0.25 to 0.13, as h2load's) and cut the system time
/// of both; a call made alone waits a few microseconds more. (On the server side it cut
/// no measurable CPU and added that wait to every reply, so the server does not use it.)
pub struct Corked<S> {
    inner: S,
    turn: Turn,
}

/// Where a [`Corked`] stream is between two flushes.
enum Turn {
    /// The next write waits a turn first.
    Due,
    Waiting(Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
    /// Waited: writes go through until the next flush.
    Taken,
}

impl<S> Corked<S> {
    pub fn new(inner: S) -> Corked<S> {
        Corked {
            inner,
            turn: Turn::Due,
        }
    }

    fn wait_turn(&mut self, context: &mut Context<'_>) -> Poll<()> {
        if let Turn::Due = self.turn {
            self.turn = Turn::Waiting(Box::pin(tokio::task::yield_now()));
        }
        if let Turn::Waiting(waiting) = &mut self.turn {
            std::task::ready!(waiting.as_mut().poll(context));
            self.turn = Turn::Taken;
        }
        Poll::Ready(())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Corked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(context, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Corked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.wait_turn(context));
        Pin::new(&mut self.inner).poll_write(context, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.wait_turn(context));
        Pin::new(&mut self.inner).poll_write_vectored(context, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::task::ready!(Pin::new(&mut self.inner).poll_flush(context))?;
        self.turn = Turn::Due;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(context)
    }
}

/// A stream with the bytes already read from it (to recognise its protocol) put back in
/// front, for a front end that wants the whole stream.
pub struct Rewound<S> {
    prefix: bytes::Bytes,
    inner: S,
}

impl<S> Rewound<S> {
    pub fn new(prefix: bytes::Bytes, inner: S) -> Rewound<S> {
        Rewound { prefix, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.inner).poll_read(context, buf);
        }
        let count = self.prefix.len().min(buf.remaining());
        buf.put_slice(&self.prefix.split_to(count));
        Poll::Ready(Ok(()))
    }
}

forward_writes!(Rewound, inner);
