//! Composition of `rmicro serve`: accepts connections on a bound listener, recognises the
//! protocol from the first bytes, hands the connection to that protocol's front end with
//! the shared router, and drains on shutdown — no new connections, idle ones closed,
//! in-flight requests finished within a bounded grace period.

use crate::handler::Router;
use crate::protocol::http1::HttpConnection;
use crate::protocol::stopping;
use crate::protocol::{grpc, jsonrpc, mucp, Rewound};
use bytes::BytesMut;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug)]
pub struct ServerOptions {
    /// Largest request body accepted, in bytes.
    pub max_message_size: usize,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub grace: Duration,
}

/// Serves until `shutdown` completes, then drains. Returns once every connection is done
/// or the grace period is over.
pub async fn serve(
    listener: TcpListener,
    router: Arc<Router>,
    options: ServerOptions,
    shutdown: impl Future<Output = ()>,
) {
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone(), options, stopped.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(options.grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "{} connection(s) still busy after the {:?} grace period; closing them",
            connections.len(),
            options.grace
        );
    }
}

/// The protocol a connection speaks, from its first bytes.
enum Sniffed {
    Mucp,
    Http2,
    JsonRpc,
}

/// `None` while the bytes so far could begin more than one protocol.
fn sniff(first: &[u8]) -> Option<Sniffed> {
    match first {
        // A JSON value: Go's jsonrpc clients send no leading whitespace.
        [b'{' | b'[', ..] => Some(Sniffed::JsonRpc),
        [b'P', b'R', b'I', ..] => Some(Sniffed::Http2),
        [_, _, _, ..] => Some(Sniffed::Mucp),
        _ => None,
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    router: Arc<Router>,
    options: ServerOptions,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let mut first = BytesMut::with_capacity(8 * 1024);
    let sniffed = loop {
        if let Some(sniffed) = sniff(&first) {
            break sniffed;
        }
        let read = tokio::select! {
            read = stream.read_buf(&mut first) => read,
            _ = stopping(&mut stopped), if first.is_empty() => return,
        };
        match read {
            Ok(0) | Err(_) if first.is_empty() => return,
            Ok(0) | Err(_) => break Sniffed::Mucp, // let the mucp front end answer the scraps
            Ok(_) => {}
        }
    };
    match sniffed {
        Sniffed::Mucp => {
            let connection = HttpConnection::with_buffered(stream, options.max_message_size, first);
            mucp::server::serve_connection(connection, router.as_ref(), stopped).await;
        }
        Sniffed::Http2 => {
            let stream = Rewound::new(first.freeze(), stream);
            grpc::server::serve_connection(stream, router, options.max_message_size, stopped).await
        }
        Sniffed::JsonRpc => {
            jsonrpc::server::serve_connection(
                stream,
                first,
                router,
                options.max_message_size,
                stopped,
            )
            .await
        }
    }
}
