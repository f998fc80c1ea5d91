//! Wire protocols: framing, the server front end and the client caller of each.
//!
//! A front end turns bytes into a [`Request`] and hands it to a [`Dispatch`] (the router,
//! which lives in a higher layer); a caller sends one request to an address. Neither
//! knows about handlers, registries or the command line.

pub mod http1;
pub mod mucp;

use crate::codec::Codec;
use crate::message::{Endpoint, Metadata, Reply, Request};
use crate::status::Status;
use std::future::Future;
use std::sync::Arc;

/// The outcome of looking up `Service.Method`, with the distinctions go-micro reports.
pub enum Lookup {
    Found(Arc<Endpoint>),
    NoService,
    NoMethod,
}

/// What a protocol front end needs from the server: routing and calling.
pub trait Dispatch: Send + Sync + 'static {
    fn lookup(&self, service: &str, method: &str) -> Lookup;

    /// Runs the endpoint's handler; honours `request.deadline`.
    fn call(&self, request: Request) -> impl Future<Output = Result<Reply, Status>> + Send;

    /// The origin id put into errors this server generates (its service name).
    fn origin(&self) -> &str;
}

/// One outgoing unary request, as every caller takes it.
pub struct OutgoingRequest<'a> {
    /// The target's service name (`Micro-Service` in mucp; servers do not check it).
    pub service: &'a str,
    /// `Service.Method`.
    pub endpoint: &'a str,
    pub codec: Codec,
    pub metadata: &'a Metadata,
    pub body: &'a [u8],
}

/// Why a call through a caller failed.
#[derive(Debug, thiserror::Error)]
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
    /// The peer answered with an RPC error.
    #[error("{0}")]
    Status(Status),
}

/// Completes once the server's stop flag is set (at once if it already is).
pub async fn stopping(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
