//! `ProxyHandler`: passes a call on to another server (its upstream), in whatever
//! protocol that server speaks, through the one attempt loop of `client` — so retries,
//! backoff, TLS and node selection are those of `rmicro call`. The request's metadata goes
//! on (transport headers were left out by the front end), the caller's deadline goes on as
//! what is left of it, and the upstream's headers, trailers and status come back through
//! the front end the caller spoke: a status crosses protocols by its code (`status`'s
//! table), so a go-micro 404 reaches a gRPC caller as NOT_FOUND and the other way round.
//! Streams are passed on message by message where the upstream has them (gRPC, Connect,
//! gRPC-Web, go-micro's mucp streams); a streaming method proxied to JSON-RPC answers
//! Unimplemented.
//!
//! A [`Recorder`], when given, keeps every proxied exchange as a rule of a handlers file
//! (`serve --record FILE`), written when the server is told to save (SIGHUP, shutdown).

use super::{Handler, HandlerFuture, StreamFuture};
use crate::client::{AttemptEvent, Client};
use crate::codec::{self, details, Codec};
use crate::message::{CallContext, Metadata, Reply, Request, StreamCall};
use crate::protocol::{caller_metadata, within, CallHead, Fields, Progress, Protocol};
use crate::schema::{endpoint_name, grpc_path};
use crate::status::{Code, Status};
use anyhow::Context;
use bytes::Bytes;
use prost_reflect::{DynamicMessage, MessageDescriptor, MethodDescriptor};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Idle clients kept for reuse where a client holds one connection and makes one call at
/// a time (mucp, Connect over HTTP/1.1), so that concurrent calls each take one.
const IDLE_CLIENTS: usize = 256;

/// Reply headers that are the upstream protocol's own (or HTTP's), never passed back: the
/// front end the caller spoke sets its own.
const UPSTREAM_RESERVED: [&str; 21] = [
    "date",
    "server",
    // go-micro's HTTP transport echoes the request's headers into its reply.
    "user-agent",
    "accept",
    "micro-stream",
    "x-micro-method",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "micro-id",
    "x-micro-id",
    "micro-error",
    "x-micro-error",
    "micro-service",
    "x-micro-service",
    "micro-endpoint",
    "x-micro-endpoint",
    "micro-method",
    "timeout",
];

/// How a `service:NAME` upstream follows its registry: its nodes are read again once
/// `every` has passed since the last reading (at the next call, which does not wait for
/// it), so that nodes that come are used and nodes that go are dropped. `lookup` makes a
/// client over the nodes registered now (the selector `rmicro call` uses), `None` when
/// the service has none.
pub struct Refresh {
    pub every: Duration,
    pub lookup: Box<dyn Fn() -> LookupFuture + Send + Sync>,
}

pub type LookupFuture = Pin<Box<dyn Future<Output = anyhow::Result<Option<Client>>> + Send>>;

/// One upstream server: its address as given and a client for it, shared by every
/// endpoint proxied there.
pub struct Upstream {
    address: String,
    protocol: Protocol,
    /// Calls share one connection (gRPC, JSON-RPC), else each takes a client of its own.
    multiplexes: bool,
    /// Workers are made from it; it makes no calls itself. Replaced when a refresh reads
    /// the registry's nodes again.
    prototype: Mutex<Client>,
    /// gRPC and JSON-RPC: a client whose connection works, one per serving thread; every
    /// call on that thread shares it (HTTP/2 multiplexes, JSON-RPC pipelines), and its
    /// connection's task runs where the calls do.
    shared: PerThread<Shared>,
    /// mucp and Connect over HTTP/1.1: clients between calls, each with its connection.
    idle: Mutex<Vec<Client>>,
    recorder: Option<Arc<Recorder>>,
    refresh: Option<Refreshing>,
    /// How many times the nodes were read again: a client made before the last reading
    /// is not kept after its call.
    generation: AtomicU64,
}

/// A serving thread's shared upstream client, and the dial under way while it has none.
#[derive(Default)]
struct Shared {
    client: Option<Client>,
    /// `client` was put in by the dial, before any call: the first client back from a
    /// call replaces it, with what that call left ready for the next (its path's URI,
    /// its deadline's header).
    fresh: bool,
    /// Set while one call dials the connection the others will share: they wait for it
    /// rather than each dial one of their own (128 connections at the first burst of
    /// 128 calls, before).
    dialing: Option<Arc<Notify>>,
}

/// Ends a thread's dial of its shared connection when dropped: the calls waiting on it
/// go on, with the connection if it was made.
struct Dialed<'a>(&'a Mutex<Shared>);

impl Drop for Dialed<'_> {
    fn drop(&mut self) {
        if let Some(dialing) = lock(self.0).dialing.take() {
            dialing.notify_waiters();
        }
    }
}

struct Refreshing {
    refresh: Refresh,
    /// When the nodes were last read; `None` while a reading is under way.
    read_at: Mutex<Option<Instant>>,
    /// Set while the registry has no node of the service: the calls' status.
    vacant: Mutex<Option<String>>,
}

impl Upstream {
    /// An upstream reached through `client`; `address` names it in errors.
    pub fn new(client: Client, address: String, recorder: Option<Arc<Recorder>>) -> Upstream {
        Upstream {
            address,
            protocol: client.protocol(),
            multiplexes: client.multiplexes(),
            prototype: Mutex::new(client),
            shared: Default::default(),
            idle: Mutex::new(Vec::new()),
            recorder,
            refresh: None,
            generation: AtomicU64::new(0),
        }
    }

    /// Follows the registry as `refresh` says (a `service:NAME` upstream).
    pub fn following(mut self, refresh: Refresh) -> Upstream {
        self.refresh = Some(Refreshing {
            refresh,
            read_at: Mutex::new(Some(Instant::now())),
            vacant: Mutex::new(None),
        });
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// The handler that proxies `method` here.
    pub fn handler(self: &Arc<Self>, method: &MethodDescriptor) -> ProxyHandler {
        let service = method.parent_service();
        let package = service.parent_file().package_name().to_owned();
        ProxyHandler {
            upstream: self.clone(),
            service: if package.is_empty() {
                service.name().to_owned()
            } else {
                package
            },
            endpoint: endpoint_name(method),
            path: grpc_path(method),
            method: method.clone(),
            // Go's net/rpc speaks JSON only; protobuf is exact and cheaper elsewhere.
            codec: match self.protocol {
                Protocol::JsonRpc => Codec::Json,
                _ => Codec::Protobuf,
            },
        }
    }

    /// A client for one call, on the shared connection when there is one, and the
    /// generation of nodes it calls (for [`Upstream::put_back`]). With none yet on this
    /// thread, the first call dials it and the calls that come meanwhile wait for it
    /// (until their `deadline`); should that dial fail, each goes on with a client of its
    /// own, as its attempt loop would.
    async fn client(self: &Arc<Self>, deadline: Option<Instant>) -> Result<(Client, u64), Status> {
        if let Some(refreshing) = &self.refresh {
            self.refresh_when_due(refreshing);
            if let Some(vacant) = lock(&refreshing.vacant).as_ref() {
                return Err(Status::new(Code::Unavailable, vacant.clone()));
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        if !self.multiplexes {
            let idle = lock(&self.idle).pop();
            let client = idle.unwrap_or_else(|| lock(&self.prototype).worker());
            return Ok((client, generation));
        }
        let slot = self.shared.here();
        let waiting = {
            let mut shared = lock(slot);
            if let Some(client) = &shared.client {
                return Ok((client.worker(), generation));
            }
            match &shared.dialing {
                Some(dialing) => Some(dialing.clone()),
                None => {
                    shared.dialing = Some(Arc::new(Notify::new()));
                    None
                }
            }
        };
        if let Some(dialing) = waiting {
            let notified = dialing.notified();
            tokio::pin!(notified);
            // Registered before the check, so that the dial's end is not missed.
            notified.as_mut().enable();
            if lock(slot).dialing.is_some() {
                within(deadline, notified).await;
            }
            if let Some(client) = &lock(slot).client {
                return Ok((client.worker(), generation));
            }
            return Ok((lock(&self.prototype).worker(), generation));
        }
        // Ends the dial for the calls waiting, however this call ends (it may be dropped).
        let _dialed = Dialed(slot);
        let mut client = lock(&self.prototype).worker();
        let connected = matches!(within(deadline, client.connect()).await, Some(Ok(())));
        if connected && generation == self.generation.load(Ordering::Acquire) {
            let mut shared = lock(slot);
            if shared.client.is_none() {
                shared.client = Some(client.worker());
                shared.fresh = true;
            }
        }
        Ok((client, generation))
    }

    /// Reads the registry again, on a task of its own, when `every` has passed: the
    /// calls go on meanwhile to the nodes read before. A reading that fails keeps them.
    fn refresh_when_due(self: &Arc<Self>, refreshing: &Refreshing) {
        {
            let mut read_at = lock(&refreshing.read_at);
            match *read_at {
                Some(at) if at.elapsed() >= refreshing.refresh.every => *read_at = None,
                _ => return,
            }
        }
        let lookup = (refreshing.refresh.lookup)();
        let upstream = Arc::downgrade(self);
        tokio::spawn(async move {
            let read = lookup.await;
            let Some(upstream) = upstream.upgrade() else {
                return;
            };
            let Some(refreshing) = &upstream.refresh else {
                return;
            };
            match read {
                Ok(nodes) => {
                    *lock(&refreshing.vacant) = match nodes {
                        Some(client) => {
                            *lock(&upstream.prototype) = client;
                            None
                        }
                        None => Some(format!(
                            "upstream {}: the registry has no node of the service now",
                            upstream.address
                        )),
                    };
                    upstream.generation.fetch_add(1, Ordering::AcqRel);
                    // Connections to the nodes read before go with their clients.
                    upstream.shared.each(|shared| shared.client = None);
                    lock(&upstream.idle).clear();
                }
                Err(error) => tracing::warn!(
                    "{}: the registry could not be read again, the nodes known go on serving: {error:#}",
                    upstream.address
                ),
            }
            *lock(&refreshing.read_at) = Some(Instant::now());
        });
    }

    /// Takes a client back after its call: `reached` when the upstream answered (with a
    /// reply or a status), so that its connection works and is worth keeping.
    fn put_back(&self, (client, generation): (Client, u64), reached: bool) {
        if generation != self.generation.load(Ordering::Acquire) {
            return;
        }
        if self.multiplexes {
            let mut shared = lock(self.shared.here());
            match reached {
                true if shared.client.is_none() || shared.fresh => {
                    shared.client = Some(client);
                    shared.fresh = false;
                }
                true => {}
                // The next call dials again.
                false => shared.client = None,
            }
            return;
        }
        let mut idle = lock(&self.idle);
        if reached && idle.len() < IDLE_CLIENTS {
            idle.push(client);
        }
    }
}

/// The upstreams of a handlers file's proxy rules, one per address however many rules
/// name it; `connect` makes a new one (the command line knows how: registries, TLS).
type Connect<'a> = dyn Fn(&str) -> anyhow::Result<Arc<Upstream>> + Send + Sync + 'a;

pub struct Upstreams<'a> {
    connect: Box<Connect<'a>>,
    made: Mutex<HashMap<String, Arc<Upstream>>>,
}

impl<'a> Upstreams<'a> {
    pub fn new(
        connect: impl Fn(&str) -> anyhow::Result<Arc<Upstream>> + Send + Sync + 'a,
    ) -> Upstreams<'a> {
        Upstreams {
            connect: Box::new(connect),
            made: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, address: &str) -> anyhow::Result<Arc<Upstream>> {
        let mut made = self
            .made
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(upstream) = made.get(address) {
            return Ok(upstream.clone());
        }
        let upstream = (self.connect)(address)?;
        made.insert(address.to_owned(), upstream.clone());
        Ok(upstream)
    }
}

pub struct ProxyHandler {
    upstream: Arc<Upstream>,
    /// `Micro-Service` for a mucp upstream (servers do not check it).
    service: String,
    endpoint: String,
    path: String,
    method: MethodDescriptor,
    codec: Codec,
}

impl ProxyHandler {
    fn head<'a>(&'a self, metadata: &'a Metadata) -> CallHead<'a> {
        CallHead {
            service: &self.service,
            endpoint: &self.endpoint,
            path: &self.path,
            codec: self.codec,
            metadata,
            timeout: None,
        }
    }

    fn encode(&self, message: &DynamicMessage) -> Result<Bytes, Status> {
        codec::encode(self.codec, message)
            .map(Bytes::from)
            .map_err(Status::internal)
    }

    /// A reply from upstream; JSON as Go writes it (field names in any case) is accepted.
    fn decode(&self, output: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, Status> {
        codec::decode_reply(self.codec, output, body).map_err(|error| {
            Status::internal(format!(
                "upstream {} answered {} with a reply that does not fit {}: {error}",
                self.upstream.address,
                self.endpoint,
                output.full_name()
            ))
        })
    }

    /// A reply from upstream as the caller is sent it: protobuf passed on undecoded
    /// unless it is recorded (which needs it decoded; so does JSON).
    fn reply(&self, output: &MessageDescriptor, body: Bytes) -> Result<Reply, Status> {
        match (self.codec, &self.upstream.recorder) {
            (Codec::Protobuf, None) => Ok(Reply::Protobuf {
                bytes: body,
                descriptor: output.clone(),
            }),
            _ => self.decode(output, &body).map(Reply::Message),
        }
    }

    /// The status of a failed upstream call; one that never reached the upstream (or got
    /// no well-formed answer) is logged, as the caller may not report it.
    fn failed(&self, error: crate::protocol::CallError) -> Status {
        if !matches!(error, crate::protocol::CallError::Status(_)) {
            tracing::warn!("{} to {}: {error}", self.endpoint, self.upstream.address);
        }
        error.into_status(&self.upstream.address)
    }

    async fn unary(&self, mut request: Request) -> Result<Reply, Status> {
        // Protobuf goes on as it came, unknown fields included.
        let body = match (self.codec, request.body.protobuf()) {
            (Codec::Protobuf, Some(bytes)) => bytes.clone(),
            _ => self.encode(&request.body)?,
        };
        let metadata = passed_on(std::mem::take(&mut request.metadata));
        let (mut client, generation) = self.upstream.client(request.deadline).await?;
        client.within(request.deadline);
        let started = Instant::now();
        let exchange = client
            .exchange(&self.head(&metadata), &body, &mut trace)
            .await;
        let took = (started.elapsed(), exchange.outcome.is_ok());
        request
            .context
            .reply
            .update(|extras| extras.upstream = Some(took));
        self.upstream
            .put_back((client, generation), reached(&exchange.outcome));
        let headers = passed_back(exchange.headers);
        let trailers = passed_back(exchange.trailers);
        let result = match exchange.outcome {
            Ok(body) => self.reply(&self.method.output(), body),
            Err(error) => Err(self.failed(error)),
        };
        if let Some(recorder) = &self.upstream.recorder {
            let replies = match &result {
                Ok(Reply::Message(message)) => Ok(vec![message.clone()]),
                Ok(_) => Ok(Vec::new()),
                Err(status) => Err(status),
            };
            recorder.record(
                &self.method,
                &[(*request.body).clone()],
                replies
                    .as_ref()
                    .map(Vec::as_slice)
                    .map_err(|status| *status),
                &headers,
                &trailers,
            );
        }
        pass_back(&request.context, headers, trailers);
        result
    }

    async fn stream_call(&self, call: StreamCall) -> Result<(), Status> {
        if self.upstream.protocol == Protocol::JsonRpc {
            return Err(Status::new(
                Code::Unimplemented,
                format!(
                    "{} streams, and its upstream {} speaks {}, which has no streams",
                    self.endpoint,
                    self.upstream.address,
                    self.upstream.protocol.scheme()
                ),
            ));
        }
        let StreamCall {
            metadata,
            deadline,
            mut requests,
            replies,
            context,
            ..
        } = call;
        let metadata = passed_on(metadata);
        let (mut client, generation) = self.upstream.client(deadline).await?;
        client.within(deadline);
        let started = Instant::now();
        let opened = client.open(&self.head(&metadata), &mut trace).await;
        self.upstream
            .put_back((client, generation), reached(&opened));
        let mut stream = match opened {
            Ok(open) => open.stream,
            Err(error) => {
                let took = (started.elapsed(), false);
                context.reply.update(|extras| extras.upstream = Some(took));
                return Err(self.failed(error));
            }
        };
        let recording = self.upstream.recorder.is_some();
        let (mut sent, mut received) = (Vec::new(), Vec::new());
        let output = self.method.output();
        // A method without a request stream sends its one message with the half-close.
        let last_is_first = !self.method.is_client_streaming();
        let mut headers_passed = false;
        // Requests and replies move at once, each bounded: the next request is taken only
        // once the upstream has window for the last (one waits at most), the next reply
        // only once the caller has taken the last. Waiting on either alone could stall a
        // stream whose upstream reads its next request only after its reply was taken.
        let mut requests_open = true;
        let mut queued = false;
        // False once the upstream takes no more requests: its reply says why.
        let mut sending = true;
        let mut waiting: Option<Reply> = None;
        let result: Result<(), Status> = loop {
            tokio::select! {
                request = requests.recv(), if requests_open && !queued => match request {
                    Some(message) => {
                        let body = match self.encode(&message) {
                            Ok(body) => body,
                            Err(status) => break Err(status),
                        };
                        if recording {
                            sent.push((*message).clone());
                        }
                        requests_open = !last_is_first;
                        if sending {
                            match stream.queue(body, last_is_first) {
                                Ok(()) => queued = !last_is_first,
                                Err(error) => {
                                    tracing::debug!("{}: upstream took no more requests: {error}", self.endpoint);
                                    sending = false;
                                }
                            }
                        }
                    }
                    None => {
                        requests_open = false;
                        if sending {
                            sending = false;
                            // A failure means the upstream has ended the call: its reply says how.
                            if let Err(error) = stream.close_send() {
                                tracing::debug!("{}: upstream half-close: {error}", self.endpoint);
                            }
                        }
                    }
                },
                progress = stream.progress(queued), if waiting.is_none() => match progress {
                    Ok(Progress::Sent) => queued = false,
                    Ok(Progress::SendClosed) => (queued, sending) = (false, false),
                    Ok(Progress::Received(Some(body))) => {
                        if !headers_passed {
                            headers_passed = true;
                            pass_back(&context, passed_back(stream.headers().into()), Metadata::new());
                        }
                        let reply = match self.reply(&output, body) {
                            Ok(reply) => reply,
                            Err(status) => break Err(status),
                        };
                        if let (true, Reply::Message(message)) = (recording, &reply) {
                            received.push(message.clone());
                        }
                        waiting = Some(reply);
                    }
                    Ok(Progress::Received(None)) => break Ok(()),
                    Err(error) => break Err(self.failed(error)),
                },
                permit = replies.reserve(), if waiting.is_some() => match (permit, waiting.take()) {
                    (Ok(permit), Some(reply)) => permit.send(reply),
                    _ => {
                        stream.cancel();
                        break Err(Status::new(Code::Cancelled, "the caller went away"));
                    }
                },
            }
        };
        let took = (started.elapsed(), result.is_ok());
        context.reply.update(|extras| extras.upstream = Some(took));
        let headers = match headers_passed {
            true => Metadata::new(),
            false => passed_back(stream.headers().into()),
        };
        let trailers = passed_back(stream.trailers().into());
        if let Some(recorder) = &self.upstream.recorder {
            let outcome = match &result {
                Err(status) if received.is_empty() => Err(status),
                _ => Ok(received.as_slice()),
            };
            let all_headers: Metadata = passed_back(stream.headers().into());
            recorder.record(&self.method, &sent, outcome, &all_headers, &trailers);
        }
        pass_back(&context, headers, trailers);
        result
    }
}

impl Handler for ProxyHandler {
    fn handle(&self, request: Request) -> HandlerFuture<'_> {
        Box::pin(self.unary(request))
    }

    fn stream(&self, call: StreamCall) -> StreamFuture<'_> {
        Box::pin(self.stream_call(call))
    }

    fn kind(&self) -> &'static str {
        "proxy"
    }
}

/// A value for each thread that uses it: the threads that serve connections each keep
/// their own (the server gives each connection one thread for its life). Past
/// `THREAD_SLOTS` threads, they share slots in turn.
struct PerThread<T>([Mutex<T>; THREAD_SLOTS]);

const THREAD_SLOTS: usize = 16;

impl<T: Default> Default for PerThread<T> {
    fn default() -> Self {
        PerThread(std::array::from_fn(|_| Mutex::default()))
    }
}

impl<T> PerThread<T> {
    /// This thread's value.
    fn here(&self) -> &Mutex<T> {
        static THREADS: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            static SLOT: usize = THREADS.fetch_add(1, Ordering::Relaxed) as usize % THREAD_SLOTS;
        }
        &self.0[SLOT.with(|slot| *slot)]
    }

    /// Changes every thread's value.
    fn each(&self, mut change: impl FnMut(&mut T)) {
        self.0.iter().for_each(|slot| change(&mut lock(slot)));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// Whether a call's failure came from the upstream itself (a status), not from reaching it.
fn reached<T>(outcome: &Result<T, crate::protocol::CallError>) -> bool {
    matches!(outcome, Ok(_) | Err(crate::protocol::CallError::Status(_)))
}

fn trace(event: AttemptEvent<'_>) {
    if let AttemptEvent::Failed {
        attempt,
        error,
        retry_in,
        ..
    } = event
    {
        tracing::debug!("upstream attempt {attempt} failed: {error} (retry in {retry_in:?})");
    }
}

/// Gives the caller the upstream's headers and trailers (a mucp front end sends the
/// trailers as headers).
fn pass_back(context: &CallContext, headers: Metadata, trailers: Metadata) {
    context.reply.update(|extras| {
        extras.headers.extend(headers);
        extras.trailers.extend(trailers);
    });
}

/// The request metadata sent upstream: the caller's, but its `user-agent`, which the
/// upstream call has its own of.
fn passed_on(mut metadata: Metadata) -> Metadata {
    metadata.remove("user-agent");
    metadata
}

/// The upstream's reply headers or trailers as the caller gets them: without HTTP's
/// transport headers and the upstream protocol's own.
fn passed_back(fields: Fields) -> Metadata {
    caller_metadata(fields.texts(), &UPSTREAM_RESERVED)
}

/// How a recorded exchange ended: its replies, or its status.
type Outcome<'a> = Result<&'a [DynamicMessage], &'a Status>;

/// Proxied exchanges kept as handlers-file rules (`serve --record FILE`): per endpoint,
/// a rule matching the whole request with the reply (a list for a server stream) or the
/// error, and the reply's headers and trailers less the redacted ones. Rules already in
/// FILE are kept; a new exchange replaces a rule with the same `match`.
pub struct Recorder {
    path: PathBuf,
    /// Lowercased header names left out of the file.
    redact: Vec<String>,
    rules: Mutex<Map<String, Value>>,
}

impl Recorder {
    /// Reads FILE's rules when it exists, so a recording adds to it.
    pub fn open(path: &Path, redact: &[String]) -> anyhow::Result<Recorder> {
        let rules = match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str::<Map<String, Value>>(&text)
                .with_context(|| format!("{} is not a handlers file", path.display()))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()))
            }
        };
        Ok(Recorder {
            path: path.to_owned(),
            redact: redact
                .iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
            rules: Mutex::new(rules),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps one exchange: the requests sent, the replies received (or the status), and
    /// the reply's headers and trailers. A client stream is matched on its last request,
    /// as its rule is replayed; a bidirectional stream is kept as one rule per request
    /// when every request got one reply, else not at all (a rule cannot replay it).
    fn record(
        &self,
        method: &MethodDescriptor,
        requests: &[DynamicMessage],
        outcome: Outcome<'_>,
        headers: &Metadata,
        trailers: &Metadata,
    ) {
        let endpoint = endpoint_name(method);
        let turns: Vec<(Option<&DynamicMessage>, Outcome<'_>)> = match (
            method.is_client_streaming(),
            method.is_server_streaming(),
        ) {
            (true, true) => match outcome {
                Ok(replies) if replies.len() == requests.len() => requests
                    .iter()
                    .zip(replies.chunks(1))
                    .map(|(request, reply)| (Some(request), Ok(reply)))
                    .collect(),
                Err(status) if requests.len() <= 1 => vec![(requests.first(), Err(status))],
                _ => {
                    tracing::warn!(
                            "{endpoint}: not recorded: {} requests got {} replies, which no rule replays",
                            requests.len(),
                            outcome.map_or(0, <[_]>::len)
                        );
                    return;
                }
            },
            (true, false) => vec![(requests.last(), outcome)],
            _ => vec![(requests.first(), outcome)],
        };
        for (request, outcome) in turns {
            match self.rule(method, request, outcome, headers, trailers) {
                Ok(rule) => self.keep(&endpoint, rule),
                Err(error) => tracing::warn!("{endpoint}: not recorded: {error}"),
            }
        }
    }

    fn rule(
        &self,
        method: &MethodDescriptor,
        request: Option<&DynamicMessage>,
        outcome: Outcome<'_>,
        headers: &Metadata,
        trailers: &Metadata,
    ) -> Result<Value, String> {
        let mut rule = Map::new();
        if let Some(request) = request {
            rule.insert("match".into(), codec::to_json_value_with_defaults(request)?);
        }
        match outcome {
            Ok(replies) => {
                let replies = replies
                    .iter()
                    .map(codec::to_json_value)
                    .collect::<Result<Vec<_>, _>>()?;
                let reply = match (method.is_server_streaming(), replies.len()) {
                    (true, _) => Value::Array(replies),
                    (false, 1) => replies.into_iter().next().unwrap_or_default(),
                    (false, count) => return Err(format!("a unary call with {count} replies")),
                };
                rule.insert("reply".into(), reply);
            }
            Err(status) => {
                rule.insert("error".into(), error_json(status, method));
            }
        }
        for (key, pairs) in [("headers", headers), ("trailers", trailers)] {
            let kept: Map<String, Value> = pairs
                .iter()
                .filter(|(name, _)| !self.redact.contains(&name.to_ascii_lowercase()))
                .map(|(name, value)| (name.to_owned(), Value::from(value)))
                .collect();
            if !kept.is_empty() {
                rule.insert(key.into(), Value::Object(kept));
            }
        }
        Ok(Value::Object(rule))
    }

    /// Adds `rule` to the endpoint's list, in place of one with the same `match`.
    fn keep(&self, endpoint: &str, rule: Value) {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let list = rules
            .entry(endpoint.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(vec![list.take()]);
        }
        let Value::Array(list) = list else {
            unreachable!("made a list above")
        };
        list.retain(|kept| kept.get("match") != rule.get("match"));
        list.push(rule);
    }

    /// Writes the file (through a temporary file and a rename, so a reader never sees half
    /// of it): every endpoint's rules, those matching more fields first, so that a rule
    /// matching an empty request does not shadow the others. Returns the number of rules.
    pub fn save(&self) -> anyhow::Result<usize> {
        let mut rules = self
            .rules
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        let mut count = 0;
        for list in rules.values_mut() {
            if let Value::Array(list) = list {
                list.sort_by_key(|rule| {
                    std::cmp::Reverse(
                        rule.get("match")
                            .and_then(Value::as_object)
                            .map_or(0, |fields| fields.len() + 1),
                    )
                });
                count += list.len();
            } else {
                count += 1;
            }
        }
        let mut text = serde_json::to_string_pretty(&Value::Object(rules))?;
        text.push('\n');
        let temporary = self.path.with_extension("recording");
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(count)
    }
}

/// A status as a handlers file's `error`: its gRPC name, the go-micro code it came with
/// (so an exact 418 replays as 418), the message, origin id and details.
fn error_json(status: &Status, method: &MethodDescriptor) -> Value {
    let mut error = json!({ "status": status.code.name(), "detail": status.message });
    if let Some(code) = status.http_code {
        error["code"] = code.into();
    }
    if !status.id.is_empty() {
        error["id"] = status.id.clone().into();
    }
    if !status.details.is_empty() {
        error["details"] = status
            .details
            .iter()
            .map(|detail| details::to_json(detail, Some(method.parent_pool())))
            .collect();
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> MethodDescriptor {
        crate::handler::debug_schema()
            .resolve("Debug.Health")
            .unwrap()
    }

    fn request(method: &MethodDescriptor, service: &str) -> DynamicMessage {
        codec::from_json_value(&method.input(), &json!({ "service": service })).unwrap()
    }

    fn reply(method: &MethodDescriptor, status: &str) -> DynamicMessage {
        codec::from_json_value(&method.output(), &json!({ "status": status })).unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Metadata {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn recordings_add_to_the_file_replace_same_matches_and_redact() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recorded.json");
        std::fs::write(
            &path,
            r#"{"Other.Method": {"reply": {}}, "Debug.Health": [{"match": {"service": "old"}, "reply": {"status": "was"}}]}"#,
        )
        .unwrap();
        let recorder = Recorder::open(&path, &["Authorization".into(), "x-secret".into()]).unwrap();
        let method = health();
        let headers = pairs(&[("x-secret", "s"), ("x-kept", "k")]);
        let trailers = pairs(&[("authorization", "Bearer t"), ("x-served-by", "up")]);
        for (service, status) in [("old", "now"), ("", "empty"), ("new", "up")] {
            let replies = [reply(&method, status)];
            let requests = [request(&method, service)];
            recorder.record(&method, &requests, Ok(&replies), &headers, &trailers);
        }
        let failure = Status {
            http_code: Some(418),
            ..Status::new(Code::FailedPrecondition, "teapot")
        };
        recorder.record(
            &method,
            &[request(&method, "tea")],
            Err(&failure),
            &Metadata::new(),
            &Metadata::new(),
        );
        assert_eq!(recorder.save().unwrap(), 5);
        let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(saved["Other.Method"], json!({"reply": {}}));
        let rules = saved["Debug.Health"].as_array().unwrap();
        assert_eq!(rules.len(), 4, "{saved}");
        // The rule for "old" was replaced; zero values are matched too.
        assert_eq!(
            rules[0],
            json!({"match": {"service": "old"}, "reply": {"status": "now"},
                   "headers": {"x-kept": "k"}, "trailers": {"x-served-by": "up"}})
        );
        assert_eq!(rules[1]["match"], json!({"service": ""}));
        assert_eq!(
            rules[3],
            json!({"match": {"service": "tea"},
                   "error": {"status": "FAILED_PRECONDITION", "detail": "teapot", "code": 418}})
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("Bearer") && !text.contains("x-secret"),
            "{text}"
        );
    }
}
