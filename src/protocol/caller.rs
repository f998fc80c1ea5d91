//! The one abstraction of a client call, for every protocol: a [`Caller`] opens calls to
//! one address; a [`Stream`] is a call in flight — send request messages, half-close,
//! receive reply messages as they come, then the headers, trailers and final status.
//! Unary is the special case of one message each way ([`Caller::unary`]), as in tonic's
//! client. mucp and JSON-RPC calls are unary streams (one message each way); gRPC's,
//! Connect's and gRPC-Web's carry any number (one HTTP/2 caller with a `Wire` for the
//! three; Connect over HTTP/1.1 half-duplex). Attempts, retries and node selection live a
//! layer up, in `client`.

use super::grpc::client::{GrpcCaller, GrpcStream};
use super::http1_client::{Http1Caller, Http1Stream};
use super::jsonrpc::client::{JsonRpcCaller, JsonRpcStream};
use super::mucp::client::{MucpCaller, MucpStream};
use super::wire::Wire;
use super::{CallError, CallHead, Fields, Pairs, Protocol, RawReply, SecureDial, Target};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// How callers connect and send, whatever the protocol.
#[derive(Clone, Debug)]
pub struct Dialing {
    pub dial_timeout: Duration,
    pub max_message_size: usize,
    /// TLS for targets that want it (any protocol; its ALPN set per protocol).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The `:authority` sent and the name a server certificate must carry.
    pub authority: Option<String>,
    /// Request messages are gzipped (gRPC).
    pub gzip: bool,
}

/// Calls one address in one protocol, reusing its connection.
pub enum Caller {
    Mucp(MucpCaller),
    JsonRpc(JsonRpcCaller),
    /// gRPC, Connect and gRPC-Web over HTTP/2.
    Grpc(GrpcCaller),
    /// Connect over HTTP/1.1.
    ConnectHttp1(Http1Caller),
}

impl Caller {
    /// A caller of `target`; TLS is used when the target asks for it and `dialing` has it.
    pub fn new(target: &Target, dialing: &Dialing) -> Caller {
        let (address, dial, size) = (
            target.address.as_str(),
            dialing.dial_timeout,
            dialing.max_message_size,
        );
        // mucp over HTTPS (HTTP/1.1), JSON-RPC over a bare TLS socket (no ALPN).
        let secure = |alpn: &[&[u8]]| {
            let config = dialing.tls.as_ref().filter(|_| target.tls)?;
            Some(SecureDial::new(
                config,
                address,
                dialing.authority.as_deref(),
                alpn,
            ))
        };
        match target.protocol {
            Protocol::Mucp => {
                Caller::Mucp(MucpCaller::new(address, dial, size).secure(secure(&[b"http/1.1"])))
            }
            Protocol::JsonRpc => {
                Caller::JsonRpc(JsonRpcCaller::new(address, dial, size).secure(secure(&[])))
            }
            Protocol::Connect if target.http1 => Caller::ConnectHttp1(Http1Caller::new(
                address,
                dialing.clone(),
                secure(&[b"http/1.1"]),
            )),
            Protocol::Grpc | Protocol::Connect | Protocol::GrpcWeb => {
                let dialing = Dialing {
                    tls: dialing.tls.clone().filter(|_| target.tls),
                    ..dialing.clone()
                };
                let wire = match target.protocol {
                    Protocol::Connect => Wire::Connect,
                    Protocol::GrpcWeb => Wire::GrpcWeb { text: false },
                    _ => Wire::Grpc,
                };
                Caller::Grpc(GrpcCaller::new(address, dialing, wire))
            }
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self {
            Caller::Mucp(_) => Protocol::Mucp,
            Caller::JsonRpc(_) => Protocol::JsonRpc,
            Caller::Grpc(caller) => match caller.wire() {
                Wire::Grpc => Protocol::Grpc,
                Wire::Connect => Protocol::Connect,
                Wire::GrpcWeb { .. } => Protocol::GrpcWeb,
            },
            Caller::ConnectHttp1(_) => Protocol::Connect,
        }
    }

    pub fn address(&self) -> &str {
        match self {
            Caller::Mucp(caller) => caller.address(),
            Caller::JsonRpc(caller) => caller.address(),
            Caller::Grpc(caller) => caller.address(),
            Caller::ConnectHttp1(caller) => caller.address(),
        }
    }

    /// A caller for concurrent calls: mucp gets a connection of its own (one call at a
    /// time on each); JSON-RPC pipelines and HTTP/2 multiplexes on the shared one.
    pub fn worker(&self) -> Caller {
        match self {
            Caller::Mucp(caller) => Caller::Mucp(caller.worker()),
            Caller::JsonRpc(caller) => Caller::JsonRpc(caller.share()),
            Caller::Grpc(caller) => Caller::Grpc(caller.share()),
            Caller::ConnectHttp1(caller) => Caller::ConnectHttp1(caller.worker()),
        }
    }

    /// A caller of the same target on a connection of its own.
    pub fn detached(&self) -> Caller {
        match self {
            Caller::Mucp(caller) => Caller::Mucp(caller.worker()),
            Caller::JsonRpc(caller) => Caller::JsonRpc(caller.detached()),
            Caller::Grpc(caller) => Caller::Grpc(caller.detached()),
            Caller::ConnectHttp1(caller) => Caller::ConnectHttp1(caller.worker()),
        }
    }

    /// Connects now rather than at the first call (a no-op when connected), so a load
    /// run can tell up front that its server answers, and keep connecting out of its
    /// measurements.
    pub async fn connect(&mut self) -> Result<(), CallError> {
        match self {
            Caller::Mucp(caller) => caller.ensure_connected().await,
            Caller::JsonRpc(caller) => caller.ensure_connected().await,
            Caller::Grpc(caller) => caller.ensure_connected().await,
            Caller::ConnectHttp1(caller) => caller.ensure_connected().await,
        }
    }

    /// Whether concurrent calls share this caller's connection (HTTP/2, JSON-RPC), rather
    /// than each needing a [`Caller::worker`] of its own (mucp, Connect over HTTP/1.1).
    pub fn multiplexes(&self) -> bool {
        matches!(self, Caller::JsonRpc(_) | Caller::Grpc(_))
    }

    /// Opens a call. A connection failure here means nothing was sent.
    pub async fn open(&mut self, head: &CallHead<'_>) -> Result<Stream, CallError> {
        Ok(match self {
            Caller::Mucp(caller) => Stream::Mucp(caller.open_stream(head).await?),
            Caller::JsonRpc(caller) => Stream::JsonRpc(caller.open(head)),
            Caller::Grpc(caller) => Stream::Grpc(caller.open(head).await?),
            Caller::ConnectHttp1(caller) => Stream::ConnectHttp1(caller.open(head)),
        })
    }

    /// One request message, one reply message.
    pub async fn unary(&mut self, head: &CallHead<'_>, body: &[u8]) -> Exchange {
        match self {
            Caller::Grpc(caller) if caller.wire() == Wire::Connect => {
                return caller.unary_connect(head, body).await
            }
            Caller::ConnectHttp1(caller) => return caller.unary(head, body).await,
            _ => {}
        }
        let opened = match self {
            // A unary mucp call is a plain request on a pooled connection, not a stream.
            Caller::Mucp(caller) => Ok(Stream::Mucp(caller.open(head))),
            _ => self.open(head).await,
        };
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(error) => return Exchange::failed(error),
        };
        let outcome = exchange_one(&mut stream, body).await;
        let (headers, trailers) = stream.take_fields();
        Exchange {
            headers,
            trailers,
            outcome,
        }
    }
}

async fn exchange_one(stream: &mut Stream, body: &[u8]) -> Result<Bytes, CallError> {
    stream.send_last(Bytes::copy_from_slice(body)).await?;
    let mut reply = None;
    let mut count = 0;
    while let Some(message) = stream.receive().await? {
        count += 1;
        reply.get_or_insert(message);
    }
    match (reply, count) {
        (Some(reply), 1) => Ok(reply),
        (_, count) => Err(CallError::Transport(format!(
            "a unary call got {count} reply messages"
        ))),
    }
}

/// How a unary call ended: the headers and trailers that came, and the reply or error.
#[derive(Debug)]
pub struct Exchange {
    pub headers: Fields,
    pub trailers: Fields,
    pub outcome: Result<Bytes, CallError>,
}

impl Exchange {
    pub fn failed(error: CallError) -> Exchange {
        Exchange {
            headers: Fields::default(),
            trailers: Fields::default(),
            outcome: Err(error),
        }
    }

    pub fn into_reply(self) -> Result<RawReply, CallError> {
        let body = self.outcome?;
        Ok(RawReply {
            headers: self.headers.into_pairs(),
            trailers: self.trailers.into_pairs(),
            body,
        })
    }
}

/// The request side of a protocol whose calls carry one message each way (mucp,
/// JSON-RPC): the message is kept until its reply has come, so a receive dropped half-way
/// (in a select) can be asked again.
pub struct OneMessage {
    protocol: &'static str,
    body: Option<Bytes>,
    answered: bool,
}

impl OneMessage {
    pub fn new(protocol: &'static str) -> OneMessage {
        OneMessage {
            protocol,
            body: None,
            answered: false,
        }
    }

    pub fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        if self.body.is_some() {
            return Err(CallError::Transport(format!(
                "a {} call carries one request message",
                self.protocol
            )));
        }
        self.body = Some(message);
        Ok(())
    }

    /// The request to send (empty when none was given), or `None` once answered.
    pub fn pending(&self) -> Option<Bytes> {
        (!self.answered).then(|| self.body.clone().unwrap_or_default())
    }

    pub fn answered(&mut self) {
        self.answered = true;
    }
}

/// What [`Stream::progress`] saw first.
#[derive(Debug)]
pub enum Progress {
    /// The queued request message is on its way: another may be queued.
    Sent,
    /// The peer takes no more request messages (it has answered, or reset the call): the
    /// reply, still to be received, says how the call ended.
    SendClosed,
    /// A reply message, or `None` at the end of a successful call.
    Received(Option<Bytes>),
}

/// A call in flight.
pub enum Stream {
    Mucp(MucpStream),
    JsonRpc(JsonRpcStream),
    Grpc(GrpcStream),
    ConnectHttp1(Http1Stream),
}

impl Stream {
    /// Sends one request message (encoded in the call's codec), waiting for flow-control
    /// window where the protocol has one.
    pub async fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        match self {
            Stream::Mucp(stream) => stream.send(message).await,
            Stream::JsonRpc(stream) => stream.send(message),
            Stream::Grpc(stream) => stream.send(message).await,
            Stream::ConnectHttp1(stream) => stream.send(message),
        }
    }

    /// Sends the last request message and ends the request stream with it.
    pub async fn send_last(&mut self, message: Bytes) -> Result<(), CallError> {
        match self {
            Stream::Grpc(stream) => stream.send_last(message).await,
            _ => {
                self.send(message).await?;
                self.close_send()
            }
        }
    }

    /// Hands one request message to the stream without waiting for the peer to take it
    /// (`last` half-closes with it), for a caller that must receive while it sends — a
    /// proxy whose upstream reads its next request only once its reply was taken. The
    /// message goes out as the peer's flow-control window allows; [`Stream::progress`]
    /// says when it has, and only then should the next one be queued, so at most one
    /// message waits beyond the window.
    pub fn queue(&mut self, message: Bytes, last: bool) -> Result<(), CallError> {
        match self {
            Stream::Grpc(stream) => stream.queue(message, last),
            Stream::Mucp(stream) => stream.queue(message, last),
            Stream::JsonRpc(stream) => stream.send(message),
            Stream::ConnectHttp1(stream) => {
                stream.send(message)?;
                if last {
                    stream.close_send();
                }
                Ok(())
            }
        }
    }

    /// Whichever comes first: the message [`Stream::queue`] gave is on its way
    /// (`sending`: one was queued and not yet reported), or the next reply message (or
    /// the end). Cancel-safe.
    pub async fn progress(&mut self, sending: bool) -> Result<Progress, CallError> {
        match self {
            Stream::Grpc(stream) => stream.progress(sending).await,
            Stream::Mucp(stream) => stream.progress(sending).await,
            Stream::JsonRpc(_) | Stream::ConnectHttp1(_) if sending => Ok(Progress::Sent),
            _ => self.receive().await.map(Progress::Received),
        }
    }

    /// Ends the request stream (half-close).
    pub fn close_send(&mut self) -> Result<(), CallError> {
        match self {
            Stream::Mucp(stream) => {
                stream.close_send();
                Ok(())
            }
            Stream::JsonRpc(_) => Ok(()),
            Stream::Grpc(stream) => stream.finish(),
            Stream::ConnectHttp1(stream) => {
                stream.close_send();
                Ok(())
            }
        }
    }

    /// The next reply message; `None` at the end of a successful call, the status of a
    /// failed one as an error.
    pub async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        match self {
            Stream::Mucp(stream) => stream.receive().await,
            Stream::JsonRpc(stream) => stream.receive().await,
            Stream::Grpc(stream) => stream.next_message().await,
            Stream::ConnectHttp1(stream) => stream.receive().await,
        }
    }

    /// The reply headers, once they have come.
    pub fn headers(&self) -> Pairs {
        match self {
            Stream::Mucp(stream) => stream.headers().clone(),
            Stream::JsonRpc(_) => Pairs::new(),
            Stream::Grpc(stream) => stream.header_pairs(),
            Stream::ConnectHttp1(stream) => stream.headers().clone(),
        }
    }

    /// The reply headers and trailers of a call that has ended, moved out where they can
    /// be.
    fn take_fields(&mut self) -> (Fields, Fields) {
        match self {
            Stream::Grpc(stream) => stream.take_fields(),
            Stream::Mucp(stream) => (stream.take_headers(), Fields::default()),
            _ => (self.headers().into(), self.trailers().into()),
        }
    }

    /// The reply trailers, once the call has ended.
    pub fn trailers(&self) -> Pairs {
        match self {
            Stream::Mucp(_) | Stream::JsonRpc(_) => Pairs::new(),
            Stream::Grpc(stream) => stream.trailer_pairs(),
            Stream::ConnectHttp1(stream) => stream.trailers().clone(),
        }
    }

    /// Abandons the call, telling the server where the protocol can (gRPC: RST_STREAM
    /// CANCEL); mucp and JSON-RPC calls are abandoned by dropping them.
    pub fn cancel(&mut self) {
        match self {
            Stream::Grpc(stream) => stream.cancel(),
            Stream::ConnectHttp1(stream) => stream.cancel(),
            Stream::Mucp(_) | Stream::JsonRpc(_) => {}
        }
    }
}
