//! Composition of `rmicro serve`: accepts connections on a bound listener, recognises the
//! protocol from the first bytes (under TLS, from the first decrypted bytes), hands the
//! connection to that protocol's front end with the shared router, and drains on shutdown
//! — no new connections, idle ones closed, in-flight requests finished within a bounded
//! grace period. A connection has `--header-timeout` from its accepting to the end of its
//! first request's head: the TLS handshake and protocol sniffing are inside it.
//!
//! Connections are served on threads of their own, one runtime each (`--threads`, see
//! [`crate::runtime`]): a connection and every task it starts stay on the thread it was
//! given, so no task of a call wakes another thread, and calls on different connections
//! run on different cores.

use crate::handler::Router;
use crate::protocol::cors::Cors;
use crate::protocol::http1::HttpConnection;
use crate::protocol::tls::HANDSHAKE_RECORD;
use crate::protocol::{grpc, jsonrpc, mucp, stopping, within, Rewound, Socket, Timeouts};
use crate::runtime::Lanes;
use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Largest request body accepted, in bytes.
    pub max_message_size: usize,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub grace: Duration,
    /// Every connection must be TLS (`--tls-cert`); `None` serves plaintext.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// How long a client may take over each part of a request, and sit idle.
    pub timeouts: Timeouts,
    /// The origins browsers may call from (`--cors-origin`).
    pub cors: Arc<Cors>,
    /// When a silent HTTP/2 peer is pinged, and how long its answer may take.
    pub keepalive: grpc::server::Keepalive,
    /// Threads serving connections (`serve --threads`).
    pub threads: usize,
}

/// How long a client may take over its TLS handshake when `--header-timeout` is off.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves until `shutdown` completes, then drains. Returns once every connection is done
/// or the grace period is over.
pub async fn serve(
    listener: Listener,
    router: Arc<Router>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let options = Arc::new(options);
    let grace = options.grace;
    let mut connections = JoinSet::new();
    let workers = match Lanes::start(options.threads, "rmicro-serve") {
        Ok(workers) => workers,
        Err(error) => {
            tracing::error!("cannot start the threads that serve connections: {error}");
            return;
        }
    };
    // Whether the last accept failed.
    let mut failing = false;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let peer = Arc::<str>::from(peer);
                    if std::mem::take(&mut failing) {
                        tracing::warn!("accepting connections again");
                    }
                    let (router, options, stopped) = (router.clone(), options.clone(), stopped.clone());
                    connections.spawn_on(async move {
                        // Taken up by the runtime of the thread that serves it.
                        match stream.into_socket() {
                            Ok(stream) => serve_connection(stream, peer, router, options, stopped).await,
                            Err(error) => tracing::debug!("cannot serve {peer}: {error}"),
                        }
                    }, workers.next());
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin,
                    // and say so once, not 50 times a second.
                    match failing {
                        false => tracing::warn!("accept failed: {error}; retrying every 20 ms"),
                        true => tracing::debug!("accept failed: {error}"),
                    }
                    failing = true;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    listener.close();
    let _ = stop.send(true);
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connection(s) still busy after the {:?} grace period; closing them",
            connections.len(),
            grace
        );
    }
}

/// An accepted connection on its way to the thread that serves it: off the accepting
/// runtime, not yet on the serving one.
enum Accepted {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Accepted {
    /// The connection registered with the runtime of the thread this is called on.
    fn into_socket(self) -> std::io::Result<Socket> {
        Ok(match self {
            Accepted::Tcp(stream) => Socket::Tcp(tokio::net::TcpStream::from_std(stream)?),
            Accepted::Unix(stream) => Socket::Unix(tokio::net::UnixStream::from_std(stream)?),
        })
    }
}

/// Where the server listens: a TCP port, or a unix socket (`unix:///PATH`), its file
/// removed when the server stops.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Binds `address`: `HOST:PORT`, or `unix:///PATH`. A socket file that no server
    /// answers on (left by one that died) is replaced; one that a live server holds is
    /// refused.
    pub async fn bind(address: &str) -> anyhow::Result<Listener> {
        let Some(path) = address.strip_prefix("unix://") else {
            let listener = TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address}"))?;
            return Ok(Listener::Tcp(listener));
        };
        let path = PathBuf::from(path);
        if !path.is_absolute() {
            anyhow::bail!("{address:?} names no socket: use unix:///PATH (an absolute path)");
        }
        if path.exists() {
            if tokio::net::UnixStream::connect(&path).await.is_ok() {
                anyhow::bail!(
                    "cannot listen on {address}: a server is already listening on that socket"
                );
            }
            let is_socket = std::fs::symlink_metadata(&path).is_ok_and(|metadata| {
                std::os::unix::fs::FileTypeExt::is_socket(&metadata.file_type())
            });
            if !is_socket {
                anyhow::bail!("cannot listen on {address}: the file exists and is not a socket");
            }
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
        }
        let listener =
            UnixListener::bind(&path).with_context(|| format!("cannot listen on {address}"))?;
        Ok(Listener::Unix(listener, path))
    }

    /// The address bound, as `rmicro serve` prints it.
    pub fn local_addr(&self) -> String {
        match self {
            Listener::Tcp(listener) => listener
                .local_addr()
                .map_or_else(|_| "?".into(), |address| address.to_string()),
            Listener::Unix(_, path) => format!("unix://{}", path.display()),
        }
    }

    /// The TCP address bound, if any (for the registry).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    async fn accept(&self) -> std::io::Result<(Accepted, String)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok((Accepted::Tcp(stream.into_std()?), peer.to_string()))
            }
            Listener::Unix(listener, path) => {
                let (stream, _) = listener.accept().await?;
                let peer = format!("unix:{}", path.display());
                Ok((Accepted::Unix(stream.into_std()?), peer))
            }
        }
    }

    /// Stops listening; a unix socket's file is removed.
    fn close(self) {
        if let Listener::Unix(listener, path) = self {
            drop(listener);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The protocol a connection speaks, from its first bytes.
enum Sniffed {
    Mucp,
    Http2,
    JsonRpc,
    Tls,
}

/// `None` while the bytes so far could begin more than one protocol.
fn sniff(first: &[u8]) -> Option<Sniffed> {
    match first {
        [HANDSHAKE_RECORD, ..] => Some(Sniffed::Tls),
        // A JSON value: Go's jsonrpc clients send no leading whitespace.
        [b'{' | b'[', ..] => Some(Sniffed::JsonRpc),
        [b'P', b'R', b'I', ..] => Some(Sniffed::Http2),
        [_, _, _, ..] => Some(Sniffed::Mucp),
        _ => None,
    }
}

/// Serves one accepted connection: in the clear, or after a TLS handshake when the server
/// has a certificate (a plaintext client is then refused).
async fn serve_connection(
    mut stream: Socket,
    peer: Arc<str>,
    router: Arc<Router>,
    options: Arc<ServerOptions>,
    mut stopped: watch::Receiver<bool>,
) {
    let accepted = Instant::now();
    let deadline = options.timeouts.header.map(|limit| accepted + limit);
    let Some(tls) = &options.tls else {
        return serve_stream(stream, &peer, router, &options, accepted, stopped).await;
    };
    let mut first = [0u8; 1];
    let peeked = tokio::select! {
        peeked = within(deadline, stream.read(&mut first)) => peeked,
        _ = stopping(&mut stopped) => return,
    };
    match peeked {
        Some(Ok(1)) => {}
        None => {
            tracing::debug!("{peer} sent nothing within --header-timeout");
            return;
        }
        Some(_) => return,
    }
    if first[0] != HANDSHAKE_RECORD {
        return refuse_plaintext(stream, peer, first[0]).await;
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
    let handshake_deadline = deadline.unwrap_or(accepted + TLS_HANDSHAKE_TIMEOUT);
    let stream = Rewound::new(Bytes::copy_from_slice(&first), stream);
    match within(Some(handshake_deadline), acceptor.accept(stream)).await {
        Some(Ok(stream)) => serve_stream(stream, &peer, router, &options, accepted, stopped).await,
        Some(Err(error)) => tracing::debug!("TLS handshake with {peer} failed: {error}"),
        None => tracing::debug!("TLS handshake with {peer} timed out"),
    }
}

/// A plaintext client of a TLS server: an HTTP/1 one is told so, as Go's servers do.
async fn refuse_plaintext(mut stream: Socket, peer: Arc<str>, first: u8) {
    tracing::debug!("refusing a plaintext connection from {peer}: this server speaks TLS");
    if first.is_ascii_uppercase() {
        let _ = stream
            .write_all(b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nClient sent an HTTP request to a TLS server.\n")
            .await;
        // Read what the client sent before closing, so that the close does not reset the
        // connection and lose the answer.
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// Recognises the protocol of a (possibly decrypted) stream and serves it.
async fn serve_stream<S>(
    mut stream: S,
    peer: &str,
    router: Arc<Router>,
    options: &ServerOptions,
    accepted: Instant,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadline = options.timeouts.header.map(|limit| accepted + limit);
    let mut first = BytesMut::with_capacity(8 * 1024);
    let sniffed = loop {
        if let Some(sniffed) = sniff(&first) {
            break sniffed;
        }
        let read = tokio::select! {
            read = within(deadline, stream.read_buf(&mut first)) => read,
            _ = stopping(&mut stopped), if first.is_empty() => return,
        };
        let Some(read) = read else {
            // Too slow to say which protocol it speaks: closed without a word, as Go's
            // server closes a connection whose request never began.
            tracing::debug!("{peer} did not begin a request within --header-timeout");
            return;
        };
        match read {
            Ok(0) | Err(_) if first.is_empty() => return,
            Ok(0) | Err(_) => break Sniffed::Mucp, // let the mucp front end answer the scraps
            Ok(_) => {}
        }
    };
    match sniffed {
        Sniffed::Mucp => {
            let mut connection =
                HttpConnection::with_buffered(stream, options.max_message_size, first);
            connection.set_timeouts(options.timeouts, accepted);
            mucp::server::serve_connection(connection, router.as_ref(), &options.cors, stopped)
                .await;
        }
        Sniffed::Http2 => {
            let stream = Rewound::new(first.freeze(), stream);
            let cors = options.cors.clone();
            grpc::server::serve_connection(
                stream,
                router,
                options.max_message_size,
                cors,
                options.keepalive,
                stopped,
            )
            .await
        }
        Sniffed::JsonRpc => {
            jsonrpc::server::serve_connection(
                stream,
                peer,
                first,
                router,
                options.max_message_size,
                options.timeouts,
                stopped,
            )
            .await
        }
        Sniffed::Tls => {
            tracing::debug!(
                "{peer} began a TLS handshake, but this server has no certificate (--tls-cert)"
            );
        }
    }
}
