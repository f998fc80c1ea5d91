//! The types every layer shares: [`Metadata`], the server-side [`Request`] / [`Reply`],
//! [`StreamCall`] and [`Endpoint`]. Protocol front ends build these; handlers consume
//! them, never knowing which protocol carried them. Depends only on `status`,
//! prost-reflect and tokio's channels and semaphores.

use bytes::Bytes;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// Request or response metadata: header-like pairs, names compared case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    pub fn new() -> Metadata {
        Metadata(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Sets a name's one value, replacing those it had.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.remove(&name);
        self.0.push((name, value.into()));
    }

    /// Drops every value of a name.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(key, _)| !key.eq_ignore_ascii_case(name));
    }

    /// Appends a pair (several values per name are kept, in order).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

impl Extend<(String, String)> for Metadata {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, pairs: I) {
        self.0.extend(pairs);
    }
}

impl IntoIterator for Metadata {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, String)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Metadata {
        Metadata(pairs.into_iter().collect())
    }
}

/// One method a server offers, by its go-micro name (`Job.CreateJob`).
#[derive(Debug)]
pub struct Endpoint {
    /// Position in the router's table, so a front end's lookup finds the handler directly.
    pub index: usize,
    /// go-micro name: `Service.Method`.
    pub name: String,
    pub method: MethodDescriptor,
}

/// A decoded request as a handler sees it.
#[derive(Debug)]
pub struct Request {
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    pub body: Decoded,
    pub deadline: Option<Instant>,
    pub context: CallContext,
}

/// How a call came in, and what its reply carries besides its messages: the same for
/// every turn of a stream.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// The front end that carried it: `mucp`, `jsonrpc`, `grpc`, `connect` or `grpc-web`.
    pub protocol: &'static str,
    /// The request's compression: `identity` or `gzip`.
    pub encoding: &'static str,
    pub reply: ReplyExtras,
}

impl CallContext {
    pub fn new(protocol: &'static str, encoding: &'static str) -> CallContext {
        CallContext {
            protocol,
            encoding,
            reply: ReplyExtras::default(),
        }
    }
}

/// The reply's headers, trailers and compression, set by the handler while it answers
/// and read by the front end: headers and compression when the first message (or the
/// error) goes out, trailers at the end. Protocols without trailers (mucp) send only
/// the headers; JSON-RPC sends neither.
#[derive(Clone, Debug, Default)]
pub struct ReplyExtras(Arc<std::sync::Mutex<Extras>>);

#[derive(Clone, Debug, Default)]
pub struct Extras {
    pub headers: Metadata,
    pub trailers: Metadata,
    /// `Some(true)` gzips the replies, `Some(false)` never does; `None` follows the
    /// request (gRPC) or the protocol's default.
    pub gzip: Option<bool>,
    /// For a handler that called another server (a proxy): how long that took and
    /// whether it succeeded, which the router records beside the call's own time.
    pub upstream: Option<(std::time::Duration, bool)>,
}

impl ReplyExtras {
    /// Changes the extras (a handler adding its headers).
    pub fn update(&self, change: impl FnOnce(&mut Extras)) {
        change(
            &mut self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }

    /// What the handler has set so far.
    pub fn get(&self) -> Extras {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The bytes a request message was decoded from, in their codec.
#[derive(Clone, Debug)]
pub enum Source {
    Protobuf(Bytes),
    Json(Bytes),
}

/// A request message, with its hold on the server's decode budget when it took any (see
/// `codec::budget`): the hold lasts as long as the message.
#[derive(Debug)]
pub struct Decoded {
    message: DynamicMessage,
    /// The bytes it was decoded from, and their codec: a proxy passes protobuf on as it
    /// came (unknown fields included) instead of encoding the message again, and the
    /// journal keeps them rather than a copy of the message.
    source: Option<Source>,
    _lease: Option<OwnedSemaphorePermit>,
}

impl Decoded {
    pub fn new(message: DynamicMessage, lease: Option<OwnedSemaphorePermit>) -> Decoded {
        Decoded {
            message,
            source: None,
            _lease: lease,
        }
    }

    pub fn with_source(mut self, source: Source) -> Decoded {
        self.source = Some(source);
        self
    }

    /// The bytes the message was decoded from.
    pub fn source(&self) -> Option<&Source> {
        self.source.as_ref()
    }

    /// The protobuf bytes the message came as, if it came as protobuf.
    pub fn protobuf(&self) -> Option<&Bytes> {
        match &self.source {
            Some(Source::Protobuf(bytes)) => Some(bytes),
            _ => None,
        }
    }
}

impl Decoded {
    /// Whether the message holds a share of the decode budget: it decodes to far more
    /// than its bytes, so nothing should keep copies of it (the request journal does not).
    pub fn is_leased(&self) -> bool {
        self._lease.is_some()
    }
}

impl From<DynamicMessage> for Decoded {
    fn from(message: DynamicMessage) -> Decoded {
        Decoded::new(message, None)
    }
}

impl std::ops::Deref for Decoded {
    type Target = DynamicMessage;

    fn deref(&self) -> &DynamicMessage {
        &self.message
    }
}

/// A call whose requests or replies stream (gRPC): requests arrive on `requests` until
/// the caller's stream ends (one request when only replies stream); replies go to
/// `replies` as they are made.
#[derive(Debug)]
pub struct StreamCall {
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    pub deadline: Option<Instant>,
    pub requests: tokio::sync::mpsc::Receiver<Decoded>,
    pub replies: tokio::sync::mpsc::Sender<Reply>,
    /// Becomes true when the server begins to shut down (health's Watch says so).
    pub stopping: tokio::sync::watch::Receiver<bool>,
    pub context: CallContext,
}

/// A reply message: built per request, or encoded once at start-up (static stubs).
#[derive(Clone, Debug)]
pub enum Reply {
    Message(DynamicMessage),
    Encoded(Arc<EncodedMessage>),
    /// A message of `descriptor` as protobuf bytes, never decoded (a proxy's reply from
    /// upstream): a protobuf caller gets the bytes as they came, a JSON one their JSON.
    Protobuf {
        bytes: Bytes,
        descriptor: prost_reflect::MessageDescriptor,
    },
}

/// A message with its encodings made ahead of time, one per codec.
#[derive(Debug)]
pub struct EncodedMessage {
    pub message: DynamicMessage,
    pub json: Bytes,
    pub protobuf: Bytes,
}
