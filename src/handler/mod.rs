//! Handlers and the [`Router`] that maps `Service.Method` to them.
//!
//! Every protocol front end calls the same router (through `protocol::Dispatch`), so a
//! handler never knows which protocol carried a request. The router applies deadlines,
//! keeps per-endpoint statistics for `Debug.Stats` and the request journal for
//! `Debug.Requests`, and swaps in the rules of a reloaded handlers file atomically: a
//! call keeps the handlers it started with. Handlers: `stub` (rules from the handlers
//! file), `exec` (a command per request), `worker` (a command kept running), `debug`
//! (the built-in service), `builtin` (gRPC's server reflection and health, routed by
//! path only).

mod builtin;
mod debug;
mod exec;
mod journal;
mod matching;
mod proxy;
mod rules;
mod stats;
mod stub;
mod worker;

pub use debug::{debug_schema, PROTOCOLS};
pub use exec::ExecLimits;
pub use journal::{Journal, DEFAULT_SIZE as DEFAULT_JOURNAL_SIZE};
pub use proxy::{LookupFuture, Recorder, Refresh, Upstream, Upstreams};
pub use rules::HandlerRules;

use crate::codec;
use crate::codec::budget::Budget;
use crate::message::{Endpoint, Reply, ReplyExtras, Request, StreamCall};
use crate::protocol::{Dispatch, Lookup};
use crate::schema::{endpoint_name, Schema};
use crate::status::{Code, Status};
use prost_reflect::{DynamicMessage, MethodDescriptor, ServiceDescriptor};
use stats::Stats;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, Status>> + Send + 'a>>;
pub type StreamFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;

/// Answers requests for one endpoint.
pub trait Handler: Send + Sync {
    fn handle(&self, request: Request) -> HandlerFuture<'_>;

    /// Answers a streaming call: by default each turn's request (see [`in_turns`]) is
    /// answered by [`Handler::handle`].
    fn stream(&self, call: StreamCall) -> StreamFuture<'_> {
        Box::pin(in_turns(call, move |request, replies| async move {
            let reply = self.handle(request).await?;
            send_reply(&replies, reply).await
        }))
    }

    /// A short name for listings: `stub`, `exec`, `debug`, `empty`.
    fn kind(&self) -> &'static str;
}

/// Drives a streaming call turn by turn: each request is one turn, except in a client
/// stream (many requests, one reply), where the last request is the one turn once the
/// stream has ended (an empty request if none came). `answer` sends the turn's replies.
pub async fn in_turns<F, Answer>(call: StreamCall, mut answer: F) -> Result<(), Status>
where
    F: FnMut(Request, tokio::sync::mpsc::Sender<Reply>) -> Answer,
    Answer: Future<Output = Result<(), Status>>,
{
    let StreamCall {
        endpoint,
        metadata,
        deadline,
        mut requests,
        replies,
        context,
        ..
    } = call;
    let turn = |body| Request {
        endpoint: endpoint.clone(),
        metadata: metadata.clone(),
        body,
        deadline,
        context: context.clone(),
    };
    if endpoint.method.is_client_streaming() && !endpoint.method.is_server_streaming() {
        let mut last = None;
        while let Some(body) = requests.recv().await {
            last = Some(body);
        }
        let body = last.unwrap_or_else(|| DynamicMessage::new(endpoint.method.input()).into());
        return answer(turn(body), replies).await;
    }
    while let Some(body) = requests.recv().await {
        answer(turn(body), replies.clone()).await?;
    }
    Ok(())
}

/// Sends one reply of a stream; fails when the caller has gone.
pub async fn send_reply(
    replies: &tokio::sync::mpsc::Sender<Reply>,
    reply: Reply,
) -> Result<(), Status> {
    replies
        .send(reply)
        .await
        .map_err(|_| Status::new(Code::Cancelled, "the caller went away"))
}

/// Answers every request with the empty response message, or Unimplemented when strict.
struct EmptyHandler {
    reply: Result<Reply, Status>,
}

impl Handler for EmptyHandler {
    fn handle(&self, _request: Request) -> HandlerFuture<'_> {
        Box::pin(std::future::ready(self.reply.clone()))
    }

    fn kind(&self) -> &'static str {
        if self.reply.is_ok() {
            "empty"
        } else {
            "none"
        }
    }
}

/// How `serve` wants its router built.
pub struct RouterOptions {
    /// The service name (errors' origin id, the Debug service record).
    pub name: String,
    pub version: String,
    /// Unconfigured endpoints answer Unimplemented instead of the empty message.
    pub strict: bool,
    pub journal: Arc<Journal>,
    /// The memory decoded requests may hold at once (see `codec::budget`).
    pub decode_budget: usize,
    /// Unconfigured endpoints are passed on to this server (`serve --proxy`).
    pub proxy: Option<Arc<Upstream>>,
}

struct Route {
    endpoint: Arc<Endpoint>,
    /// gRPC's built-in services: routed by path, not part of the served schema.
    builtin: bool,
    /// An endpoint of the served schema (its handler comes from the handlers file and
    /// its calls go in the journal), not of the Debug service or a built-in one.
    served: bool,
}

/// The handler of each route, by route index.
type Handlers = Vec<Arc<dyn Handler>>;

/// Maps endpoints to handlers; shared by every connection of every protocol.
pub struct Router {
    /// The service in go-micro's registry shape, without nodes.
    record: serde_json::Value,
    name: String,
    routes: Vec<Route>,
    /// Service short name → method name → route index (go-micro routes on short names).
    index: HashMap<String, HashMap<String, usize>>,
    /// Full service name → method name → route index (gRPC and Connect route on paths).
    paths: HashMap<String, HashMap<String, usize>>,
    /// Swapped whole by a reload; a call holds the set it started with.
    handlers: RwLock<Arc<Handlers>>,
    strict: bool,
    proxy: Option<Arc<Upstream>>,
    stats: Arc<Stats>,
    journal: Arc<Journal>,
    budget: Budget,
}

impl Router {
    /// Builds routes for every method of `schema` plus the built-in Debug service.
    pub fn build(
        schema: &Schema,
        mut rules: HandlerRules,
        options: RouterOptions,
    ) -> anyhow::Result<Router> {
        let builtins = crate::protocol::grpc::builtin::methods();
        let debug_methods = debug_schema().methods();
        // Services rmicro serves itself are not taken from the schema (one read from an
        // upstream lists its reflection, health and Debug services too).
        let own_services: Vec<&str> = builtins
            .iter()
            .map(|(_, method)| method)
            .chain(&debug_methods)
            .map(|method| method.parent_service().full_name())
            .collect();
        let mut handlers: Vec<(MethodDescriptor, Box<dyn Handler>)> = schema
            .methods()
            .into_iter()
            .filter(|method| !own_services.contains(&method.parent_service().full_name()))
            .map(|method| {
                let handler = rules.take(&method).unwrap_or_else(|| {
                    unconfigured(&method, options.strict, options.proxy.as_ref())
                });
                (method, handler)
            })
            .collect();
        let listed: Vec<(&MethodDescriptor, &'static str)> = handlers
            .iter()
            .map(|(method, handler)| (method, handler.kind()))
            .chain(debug_methods.iter().map(|method| (method, "debug")))
            .collect();
        let stats = Arc::new(Stats::new(
            listed
                .iter()
                .map(|(method, _)| endpoint_name(method))
                .chain(builtins.iter().map(|(_, method)| builtin_name(method)))
                .collect(),
        ));
        let record = debug::service_record(&listed, &options);
        let served_count = handlers.len();
        let state = Arc::new(debug::DebugState::new(
            record.clone(),
            schema,
            stats.clone(),
            options.journal.clone(),
        ));
        handlers.extend(debug_methods.into_iter().map(|method| {
            let handler: Box<dyn Handler> =
                Box::new(debug::DebugHandler::new(&method, state.clone()));
            (method, handler)
        }));

        let mut served: Vec<ServiceDescriptor> = Vec::new();
        for (method, _) in &handlers {
            if !served.contains(method.parent_service()) {
                served.push(method.parent_service().clone());
            }
        }
        let served = Arc::new(served);

        let mut router = Router {
            record,
            name: options.name,
            routes: Vec::new(),
            index: HashMap::new(),
            paths: HashMap::new(),
            handlers: RwLock::new(Arc::new(Vec::new())),
            strict: options.strict,
            proxy: options.proxy.clone(),
            stats,
            journal: options.journal,
            budget: Budget::new(options.decode_budget),
        };
        let mut table: Handlers = Vec::new();
        for (position, (method, handler)) in handlers.into_iter().enumerate() {
            let service = method.parent_service().name().to_owned();
            let methods = router.index.entry(service.clone()).or_default();
            if methods.contains_key(method.name()) {
                anyhow::bail!(
                    "two services are called {service} (one is {}); mucp routes on the short name, so serve them separately",
                    method.parent_service().full_name()
                );
            }
            methods.insert(method.name().to_owned(), router.routes.len());
            let name = endpoint_name(&method);
            router.add(method, name, false, position < served_count);
            table.push(handler.into());
        }
        for (kind, method) in builtins {
            let handler = builtin::BuiltinHandler::new(kind, served.clone(), method.output());
            let name = builtin_name(&method);
            router.add(method, name, true, false);
            table.push(Arc::new(handler));
        }
        router.handlers = RwLock::new(Arc::new(table));
        Ok(router)
    }

    /// Takes over the rules of a reloaded handlers file (validated against the schema
    /// the router was built with): calls that start from now on get them, calls in
    /// flight finish with the old ones.
    pub fn reload(&self, mut rules: HandlerRules) {
        let mut table: Handlers = self.current().as_ref().clone();
        for (route, handler) in self.routes.iter().zip(table.iter_mut()) {
            if route.served {
                let method = &route.endpoint.method;
                *handler = match rules.take(method) {
                    Some(taken) => Arc::from(taken),
                    None => Arc::from(unconfigured(method, self.strict, self.proxy.as_ref())),
                };
            }
        }
        *self
            .handlers
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(table);
    }

    /// The handlers as they are now.
    fn current(&self) -> Arc<Handlers> {
        self.handlers
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn add(&mut self, method: MethodDescriptor, name: String, builtin: bool, served: bool) {
        let index = self.routes.len();
        self.paths
            .entry(method.parent_service().full_name().to_owned())
            .or_default()
            .insert(method.name().to_owned(), index);
        let endpoint = Arc::new(Endpoint {
            index,
            name,
            method,
        });
        self.routes.push(Route {
            endpoint,
            builtin,
            served,
        });
    }

    /// The service record (go-micro's registry shape, no nodes) that Debug.Endpoints
    /// returns and registries publish.
    pub fn service_record(&self) -> &serde_json::Value {
        &self.record
    }

    /// Endpoints with the kind of handler behind each, in route order (the built-in
    /// gRPC services aside).
    pub fn endpoints(&self) -> impl Iterator<Item = (&Endpoint, &'static str)> {
        let handlers = self.current();
        self.routes
            .iter()
            .zip(0..)
            .filter(|(route, _)| !route.builtin)
            .map(move |(route, index)| (route.endpoint.as_ref(), handlers[index].kind()))
    }
}

/// A built-in method's name in listings and statistics: its gRPC path without the slash
/// (v1 and v1alpha reflection share their short names).
fn builtin_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}

/// The handler of an endpoint without a rule: passed on with `--proxy`, else the empty
/// reply (Unimplemented when strict).
fn unconfigured(
    method: &MethodDescriptor,
    strict: bool,
    proxy: Option<&Arc<Upstream>>,
) -> Box<dyn Handler> {
    match proxy {
        Some(upstream) => Box::new(upstream.handler(method)),
        None => Box::new(empty_handler(method, strict)),
    }
}

fn empty_handler(method: &MethodDescriptor, strict: bool) -> EmptyHandler {
    let reply = if strict {
        Err(Status::new(
            Code::Unimplemented,
            format!(
                "{} has no handler (rmicro serve --strict)",
                endpoint_name(method)
            ),
        ))
    } else {
        Ok(Reply::Encoded(Arc::new(
            codec::encode_ahead(DynamicMessage::new(method.output()))
                .expect("an empty message has a JSON form"),
        )))
    };
    EmptyHandler { reply }
}

impl Dispatch for Router {
    fn lookup(&self, service: &str, method: &str) -> Lookup {
        self.find(&self.index, service, method)
    }

    fn lookup_path(&self, service: &str, method: &str) -> Lookup {
        self.find(&self.paths, service, method)
    }

    async fn call(&self, request: Request) -> Result<Reply, Status> {
        let index = request.endpoint.index;
        let arrival = self.arrival(
            &request.endpoint,
            &request.metadata,
            request.context.protocol,
            // A request that holds decode budget is not copied: that copy would be
            // outside the budget, and kept long after the call.
            || {
                (!request.body.is_leased()).then(|| match request.body.source() {
                    Some(source) => journal::Kept::Encoded(source.clone()),
                    None => journal::Kept::Message(DynamicMessage::clone(&request.body)),
                })
            },
        );
        let recording = Recording::start(
            &self.stats,
            &self.journal,
            index,
            arrival,
            request.context.reply.clone(),
        );
        let deadline = request.deadline;
        let handlers = self.current();
        let handling = handlers[index].handle(request);
        let result = within_deadline(deadline, handling, &self.routes[index].endpoint.name).await;
        recording.finish(result.as_ref().map(drop));
        result
    }

    async fn call_stream(&self, mut call: StreamCall) -> Result<(), Status> {
        let index = call.endpoint.index;
        let arrival = self
            .arrival(
                &call.endpoint,
                &call.metadata,
                call.context.protocol,
                || None,
            )
            .map(|arrival| journal::Arrival {
                first: Some(journal::tap_first(&mut call.requests)),
                ..arrival
            });
        let recording = Recording::start(
            &self.stats,
            &self.journal,
            index,
            arrival,
            call.context.reply.clone(),
        );
        let deadline = call.deadline;
        let handlers = self.current();
        let handling = handlers[index].stream(call);
        let result = within_deadline(deadline, handling, &self.routes[index].endpoint.name).await;
        recording.finish(result.as_ref().map(drop));
        result
    }

    fn origin(&self) -> &str {
        &self.name
    }

    fn budget(&self) -> &Budget {
        &self.budget
    }
}

impl Router {
    /// What the journal keeps of a call of a served endpoint, when it keeps calls.
    fn arrival(
        &self,
        endpoint: &Arc<Endpoint>,
        metadata: &crate::message::Metadata,
        protocol: &'static str,
        request: impl FnOnce() -> Option<journal::Kept>,
    ) -> Option<journal::Arrival> {
        (self.routes[endpoint.index].served && self.journal.is_on()).then(|| journal::Arrival {
            time: std::time::SystemTime::now(),
            protocol,
            endpoint: endpoint.clone(),
            metadata: metadata.clone(),
            request: request(),
            first: None,
        })
    }

    fn find(
        &self,
        index: &HashMap<String, HashMap<String, usize>>,
        service: &str,
        method: &str,
    ) -> Lookup {
        match index.get(service) {
            None => Lookup::NoService,
            Some(methods) => match methods.get(method) {
                Some(index) => Lookup::Found(self.routes[*index].endpoint.clone()),
                None => Lookup::NoMethod,
            },
        }
    }
}

/// One call's entry in `Debug.Stats` and the journal: recorded when it ends, or as a
/// failure (Cancelled) when it is dropped first (its caller went away).
struct Recording<'a> {
    stats: &'a Stats,
    journal: &'a Journal,
    index: usize,
    started: std::time::Instant,
    arrival: Option<journal::Arrival>,
    /// Where a handler notes the time it spent on another server.
    told: ReplyExtras,
    done: bool,
}

impl<'a> Recording<'a> {
    fn start(
        stats: &'a Stats,
        journal: &'a Journal,
        index: usize,
        arrival: Option<journal::Arrival>,
        told: ReplyExtras,
    ) -> Recording<'a> {
        Recording {
            stats,
            journal,
            index,
            started: std::time::Instant::now(),
            arrival,
            told,
            done: false,
        }
    }

    fn finish(mut self, result: Result<(), &Status>) {
        self.done = true;
        let elapsed = self.started.elapsed();
        let upstream = self.upstream();
        self.stats
            .record(self.index, elapsed, result.is_ok(), upstream);
        if let Some(arrival) = self.arrival.take() {
            let upstream = upstream.map(|(time, _)| time);
            self.journal.record(arrival, result, elapsed, upstream);
        }
    }
}

impl Recording<'_> {
    /// The time the handler noted it spent upstream (read in place: the extras' headers
    /// and trailers are not copied).
    fn upstream(&self) -> Option<(std::time::Duration, bool)> {
        let mut upstream = None;
        self.told.update(|extras| upstream = extras.upstream);
        upstream
    }
}

impl Drop for Recording<'_> {
    fn drop(&mut self) {
        if !self.done {
            let elapsed = self.started.elapsed();
            let upstream = self.upstream();
            self.stats.record(self.index, elapsed, false, upstream);
            if let Some(arrival) = self.arrival.take() {
                let gone = Status::new(Code::Cancelled, "the caller went away");
                let upstream = upstream.map(|(time, _)| time);
                self.journal.record(arrival, Err(&gone), elapsed, upstream);
            }
        }
    }
}

/// Runs `handling` to its end or to the caller's deadline, whichever is first.
async fn within_deadline<T>(
    deadline: Option<std::time::Instant>,
    handling: impl Future<Output = Result<T, Status>>,
    endpoint: &str,
) -> Result<T, Status> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), handling)
            .await
            .unwrap_or_else(|_| {
                Err(Status::deadline_exceeded(format!(
                    "{endpoint} did not finish before the caller's deadline"
                )))
            }),
        None => handling.await,
    }
}
