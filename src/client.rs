//! Calling a target — one address, or a service's nodes through a selector. This is the
//! one attempt loop of rmicro, for unary calls and for opening streams alike: each attempt
//! goes to the selector's current node, bounded by the per-attempt timeout and by what
//! is left of `--max-time`; a failure is retried with backoff on what the protocol's
//! rules retry (go-micro: codes 408 and 500 and connection failures, spec §3.4, §3.5;
//! gRPC: Unavailable, connection failures and `--retry-on`), each retry on the next node.
//! A stream is retried only while it is being opened: once a message may have been sent,
//! its failure is the caller's to report. Reports each attempt to an observer so the
//! command line can show them; never prints itself.

use crate::codec::{self, Codec};
use crate::handler::debug_schema;
use crate::message::Metadata;
use crate::protocol::caller::Exchange;
use crate::protocol::{CallError, CallHead, Caller, Dialing, Protocol, RawReply, Stream, Target};
use crate::registry::selector::Selector;
use crate::schema::Schema;
use crate::status::{Code, Status};
use prost_reflect::DynamicMessage;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Delay before each retry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backoff {
    /// go-micro's: attempt n waits ⌊n^e⌋ × 100 ms (0.1 s, 0.6 s, 1.9 s, …), capped at 2 min.
    Exponential,
    Constant(Duration),
    None,
}

impl Backoff {
    pub fn delay(self, attempt: u32) -> Duration {
        match self {
            Backoff::None => Duration::ZERO,
            _ if attempt == 0 => Duration::ZERO,
            Backoff::Constant(delay) => delay,
            Backoff::Exponential if attempt > 13 => Duration::from_secs(120),
            Backoff::Exponential => Duration::from_millis(
                f64::from(attempt).powf(std::f64::consts::E).floor() as u64 * 100,
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CallOptions {
    /// Per attempt; also sent to the server as the `Timeout` header.
    pub timeout: Duration,
    /// Whether `timeout` bounds an opened stream's whole life, as `rmicro call --timeout`
    /// does, or only its opening, as a proxy's `--proxy-timeout` does: a proxied stream
    /// lasts until its caller's deadline (what the upstream is told), and without one for
    /// as long as both ends keep it open.
    pub timeout_bounds_streams: bool,
    /// One bound on the whole call, retries and backoff included (`--max-time`).
    pub max_time: Option<Duration>,
    pub dial_timeout: Duration,
    /// Extra attempts after the first.
    pub retries: u32,
    pub backoff: Backoff,
    pub max_message_size: usize,
    /// gRPC status codes retried besides Unavailable (`--retry-on`).
    pub retry_on: Vec<Code>,
    /// TLS for targets that want it, and the `:authority` to send.
    pub tls: Option<ClientTls>,
    /// gRPC request messages are gzipped.
    pub gzip: bool,
    pub authority: Option<String>,
}

impl CallOptions {
    /// A caller of `target`, over TLS when it asks for it or a TLS flag was given.
    fn caller(&self, target: &Target) -> Caller {
        let dialing = Dialing {
            dial_timeout: self.dial_timeout,
            max_message_size: self.max_message_size,
            tls: self.tls.as_ref().map(|tls| tls.config.clone()),
            authority: self.authority.clone(),
            gzip: self.gzip,
        };
        let always = self.tls.as_ref().is_some_and(|tls| tls.always);
        let target = Target {
            tls: target.tls || always,
            ..target.clone()
        };
        Caller::new(&target, &dialing)
    }
}

/// The TLS a client's gRPC callers use.
#[derive(Clone, Debug)]
pub struct ClientTls {
    pub config: Arc<rustls::ClientConfig>,
    /// For every gRPC target (a TLS flag was given), not just `tls` ones.
    pub always: bool,
}

/// What the observer hears about each attempt.
pub enum AttemptEvent<'a> {
    Started {
        attempt: u32,
        attempts: u32,
        address: &'a str,
        /// The registry's node id, when the target came from a registry.
        node: Option<&'a str>,
    },
    Failed {
        attempt: u32,
        error: &'a CallError,
        elapsed: Duration,
        retry_in: Option<Duration>,
    },
    /// The attempt got its reply (a unary call) or its stream opened.
    Succeeded { attempt: u32, elapsed: Duration },
}

/// What an attempt does.
#[derive(Clone, Copy)]
enum Work<'a> {
    Unary(&'a CallHead<'a>, &'a [u8]),
    Open(&'a CallHead<'a>),
}

/// What a run of attempts ends with. A unary call's failure is inside its exchange
/// (moved once per call: boxing it would cost an allocation per call instead).
#[allow(clippy::large_enum_variant)]
enum Done {
    Unary(Exchange),
    Open(Box<OpenStream>),
}

/// A stream that opened, and the instant its call must end by: the attempt's timeout or
/// `--max-time`, whichever comes first, or — where the timeout bounds only the opening
/// ([`CallOptions::timeout_bounds_streams`]) — the deadline alone, none without one.
pub struct OpenStream {
    pub stream: Stream,
    pub deadline: Option<Instant>,
    /// Which flag set the deadline, for the message when it passes.
    pub bound: Bound,
}

/// Waits until `deadline`; without one, forever.
pub async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// The flag that bounds an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Timeout(Duration),
    MaxTime(Duration),
    /// The deadline of the call being passed on (a proxied call's caller's).
    Deadline,
}

impl Bound {
    /// The status of a call that ran into this bound.
    pub fn exceeded(self) -> CallError {
        CallError::Status(Status::deadline_exceeded(match self {
            Bound::Timeout(timeout) => format!(
                "no reply within {} (--timeout)",
                humantime::format_duration(timeout)
            ),
            Bound::MaxTime(max) => format!(
                "the call did not complete within --max-time {}",
                humantime::format_duration(max)
            ),
            Bound::Deadline => "the call did not complete within its caller's deadline".into(),
        }))
    }
}

/// A client bound to one target, or to the nodes of a service through a selector: each
/// call starts on the current node and each retry moves to the selector's next one.
pub struct Client {
    selector: Option<Selector>,
    /// One caller per candidate node (the one target when there is no selector).
    callers: Vec<Caller>,
    current: usize,
    /// Shared by its workers, as their callers' connections are.
    options: Arc<CallOptions>,
    /// When the next call must end by, besides the options' bounds (`within`).
    deadline: Option<Instant>,
}

impl Client {
    pub fn new(target: &Target, options: CallOptions) -> Client {
        Client {
            selector: None,
            callers: vec![options.caller(target)],
            current: 0,
            options: Arc::new(options),
            deadline: None,
        }
    }

    /// A client over the selector's nodes, starting on its first pick.
    pub fn with_selector(mut selector: Selector, options: CallOptions) -> Client {
        let callers = selector
            .candidates()
            .iter()
            .map(|candidate| options.caller(&candidate.target))
            .collect();
        Client {
            current: selector.pick(),
            selector: Some(selector),
            callers,
            options: Arc::new(options),
            deadline: None,
        }
    }

    /// Another client for concurrent calls (`--batch`), on the selector's next node.
    pub fn worker(&self) -> Client {
        let mut selector = self.selector.clone();
        Client {
            current: selector.as_mut().map_or(0, Selector::pick),
            selector,
            callers: self.callers.iter().map(Caller::worker).collect(),
            options: self.options.clone(),
            deadline: None,
        }
    }

    /// Another client of the same nodes on connections of its own (a load run's
    /// `--connections`); its workers share them as [`Client::worker`] says.
    pub fn detached(&self) -> Client {
        let mut selector = self.selector.clone();
        Client {
            current: selector.as_mut().map_or(0, Selector::pick),
            selector,
            callers: self.callers.iter().map(Caller::detached).collect(),
            options: self.options.clone(),
            deadline: None,
        }
    }

    /// Connects to every node now; fails only when none could be reached (a node
    /// that refused is marked, so the selector passes it over).
    pub async fn connect(&mut self) -> Result<(), CallError> {
        let mut failure = None;
        let mut connected = false;
        for (index, caller) in self.callers.iter_mut().enumerate() {
            match caller.connect().await {
                Ok(()) => connected = true,
                Err(error) => {
                    if let Some(selector) = &self.selector {
                        selector.failed(index);
                    }
                    failure.get_or_insert(error);
                }
            }
        }
        match (connected, failure) {
            (false, Some(error)) => Err(error),
            _ => Ok(()),
        }
    }

    /// The next call goes to the selector's next node, as go-micro selects per call.
    pub fn next_node(&mut self) {
        if let Some(selector) = &mut self.selector {
            self.current = selector.pick();
        }
    }

    /// Bounds the calls that follow by `deadline` too (a proxy passes on its caller's):
    /// attempts and backoff end by then, and each attempt sends what is left of it.
    pub fn within(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    pub fn protocol(&self) -> Protocol {
        self.callers[self.current].protocol()
    }

    pub fn address(&self) -> &str {
        self.callers[self.current].address()
    }

    /// Whether concurrent calls can share this client's connection ([`Caller::multiplexes`]).
    pub fn multiplexes(&self) -> bool {
        self.callers[self.current].multiplexes()
    }

    /// A unary call with retries: the last attempt's headers, trailers and outcome.
    pub async fn exchange(
        &mut self,
        head: &CallHead<'_>,
        body: &[u8],
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Exchange {
        match self.attempts(Work::Unary(head, body), observe).await {
            Ok(Done::Unary(exchange)) => exchange,
            Ok(Done::Open(_)) => unreachable!("a unary call ends with its exchange"),
            Err(error) => Exchange::failed(error),
        }
    }

    /// A unary call with retries.
    pub async fn call(
        &mut self,
        head: &CallHead<'_>,
        body: &[u8],
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<RawReply, CallError> {
        self.exchange(head, body, observe).await.into_reply()
    }

    /// Opens a stream, retrying connection failures while attempts remain.
    pub async fn open(
        &mut self,
        head: &CallHead<'_>,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<OpenStream, CallError> {
        match self.attempts(Work::Open(head), observe).await? {
            Done::Open(open) => Ok(*open),
            Done::Unary(_) => unreachable!("opening ends with a stream"),
        }
    }

    /// The attempt loop.
    async fn attempts(
        &mut self,
        work: Work<'_>,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<Done, CallError> {
        let max_time = self
            .options
            .max_time
            .map(|max| (Instant::now() + max, Bound::MaxTime(max)));
        let give_up = match (max_time, self.deadline) {
            (Some((at, _)), Some(deadline)) if deadline < at => Some((deadline, Bound::Deadline)),
            (None, Some(deadline)) => Some((deadline, Bound::Deadline)),
            (max_time, _) => max_time,
        };
        let mut attempt = 0;
        loop {
            let (timeout, bound) = self.attempt_time(give_up);
            if timeout.is_zero() {
                return Err(bound.exceeded());
            }
            self.start_attempt(attempt, observe);
            let started = Instant::now();
            let caller = &mut self.callers[self.current];
            // When the call must end by, which the server is told: the attempt's bound,
            // or for a stream that only opens within it, the whole call's (none without one).
            let opens_only = matches!(work, Work::Open(_)) && !self.options.timeout_bounds_streams;
            let ends = if opens_only {
                give_up
            } else {
                Some((started + timeout, bound))
            };
            let head = match work {
                Work::Unary(head, _) | Work::Open(head) => CallHead {
                    timeout: ends.map(|(at, _)| at.saturating_duration_since(started)),
                    ..*head
                },
            };
            let outcome: Result<Done, (CallError, Option<Exchange>)> = match work {
                Work::Unary(_, body) => {
                    let exchange = tokio::time::timeout(timeout, caller.unary(&head, body))
                        .await
                        .unwrap_or_else(|_| Exchange::failed(bound.exceeded()));
                    match &exchange.outcome {
                        Ok(_) => Ok(Done::Unary(exchange)),
                        Err(error) => Err((error.clone(), Some(exchange))),
                    }
                }
                Work::Open(_) => match tokio::time::timeout(timeout, caller.open(&head)).await {
                    Ok(Ok(stream)) => Ok(Done::Open(Box::new(OpenStream {
                        stream,
                        deadline: ends.map(|(at, _)| at),
                        bound: ends.map_or(bound, |(_, bound)| bound),
                    }))),
                    Ok(Err(error)) => Err((error, None)),
                    Err(_) => Err((bound.exceeded(), None)),
                },
            };
            let elapsed = started.elapsed();
            let (error, exchange) = match outcome {
                Ok(done) => {
                    observe(AttemptEvent::Succeeded {
                        attempt: attempt + 1,
                        elapsed,
                    });
                    return Ok(done);
                }
                Err(failed) => failed,
            };
            let retryable = match work {
                Work::Unary(..) => self.is_retryable(&error),
                Work::Open(_) => matches!(error, CallError::Connect(_)),
            };
            match self
                .retry_after_failure(attempt, &error, elapsed, retryable, give_up, observe)
                .await
            {
                Retry::Again => attempt += 1,
                Retry::GiveUp => {
                    return match exchange {
                        Some(mut exchange) => {
                            if let Err(error) = exchange.outcome {
                                exchange.outcome = Err(self.explain(error).await);
                            }
                            Ok(Done::Unary(exchange))
                        }
                        None => Err(self.explain(error).await),
                    }
                }
                Retry::OutOfTime(bound) => return Err(bound.exceeded()),
            }
        }
    }

    /// A hang-up, with what the server was seen to speak when that is another protocol
    /// (the usual cause: `grpc://` to a JSON-RPC server, a bare address to a gRPC one).
    async fn explain(&self, error: CallError) -> CallError {
        let CallError::HungUp(text) = error else {
            return error;
        };
        if self.options.tls.is_some() {
            // The probe speaks in the clear; over TLS the handshake has said TLS.
            return CallError::HungUp(text);
        }
        let caller = &self.callers[self.current];
        let timeout = self.options.dial_timeout.min(Duration::from_secs(1));
        // Boxed, as the probe is rare: every call's future would hold its state.
        match Box::pin(crate::protocol::identify(caller.address(), timeout)).await {
            Some(spoken) => match spoken.advice(caller.protocol(), caller.address()) {
                Some(advice) => {
                    // The protocol's own guess ("if the server speaks TLS …") gives way.
                    let text = text.split(" (if ").next().unwrap_or(&text);
                    CallError::WrongProtocol(format!("{text}; {advice}"))
                }
                None => CallError::HungUp(text),
            },
            None => CallError::HungUp(text),
        }
    }

    /// The time the next attempt has: `--timeout`, or less when `--max-time` ends sooner.
    fn attempt_time(&self, give_up: Option<(Instant, Bound)>) -> (Duration, Bound) {
        let timeout = (self.options.timeout, Bound::Timeout(self.options.timeout));
        match give_up {
            Some((at, bound)) => {
                let left = at.saturating_duration_since(Instant::now());
                if left < timeout.0 {
                    (left, bound)
                } else {
                    timeout
                }
            }
            None => timeout,
        }
    }

    fn is_retryable(&self, error: &CallError) -> bool {
        match self.protocol() {
            Protocol::Grpc | Protocol::Connect | Protocol::GrpcWeb => {
                is_retryable_grpc(error, &self.options.retry_on)
            }
            Protocol::Mucp | Protocol::JsonRpc => is_retryable(error),
        }
    }

    /// Attempt `attempt` (from 0) goes to the current node, after the first to the
    /// selector's next one; the observer hears where.
    fn start_attempt(&mut self, attempt: u32, observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send)) {
        if let (Some(selector), true) = (&mut self.selector, attempt > 0) {
            self.current = selector.pick();
        }
        let node = self
            .selector
            .as_ref()
            .map(|selector| selector.candidate(self.current).node_id.as_str());
        observe(AttemptEvent::Started {
            attempt: attempt + 1,
            attempts: self.options.retries + 1,
            address: self.callers[self.current].address(),
            node,
        });
    }

    /// After a failed attempt: a node that refused or dropped the call is avoided, the
    /// observer hears of the failure, and when `retryable` and attempts remain the
    /// backoff is waited out — unless `--max-time` would end first.
    async fn retry_after_failure(
        &mut self,
        attempt: u32,
        error: &CallError,
        elapsed: Duration,
        retryable: bool,
        give_up: Option<(Instant, Bound)>,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Retry {
        if let (
            Some(selector),
            CallError::Connect(_) | CallError::Transport(_) | CallError::HungUp(_),
        ) = (&self.selector, error)
        {
            selector.failed(self.current);
        }
        let retry_in = (attempt < self.options.retries && retryable)
            .then(|| self.options.backoff.delay(attempt + 1));
        let out_of_time = match (retry_in, give_up) {
            (Some(delay), Some((at, bound))) if Instant::now() + delay >= at => Some(bound),
            _ => None,
        };
        observe(AttemptEvent::Failed {
            attempt: attempt + 1,
            error,
            elapsed,
            retry_in: retry_in.filter(|_| out_of_time.is_none()),
        });
        match (retry_in, out_of_time) {
            (_, Some(bound)) => Retry::OutOfTime(bound),
            (None, None) => Retry::GiveUp,
            (Some(delay), None) => {
                tokio::time::sleep(delay).await;
                Retry::Again
            }
        }
    }

    /// Calls a method of the built-in Debug service (over protobuf where the protocol
    /// allows).
    pub async fn call_debug(
        &mut self,
        name: &str,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<DynamicMessage, CallError> {
        self.call_debug_with(name, &serde_json::json!({}), observe)
            .await
    }

    /// Calls a method of the built-in Debug service with a request (JSON, as
    /// `debug.proto` has it).
    pub async fn call_debug_with(
        &mut self,
        name: &str,
        request: &serde_json::Value,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<DynamicMessage, CallError> {
        let method = debug_schema()
            .resolve(name)
            .expect("a method of debug.proto");
        let request = codec::from_json_value(&method.input(), request)
            .map_err(|error| CallError::Transport(format!("{name} request: {error}")))?;
        let codec = match self.protocol() {
            Protocol::Mucp | Protocol::Grpc | Protocol::Connect | Protocol::GrpcWeb => {
                Codec::Protobuf
            }
            Protocol::JsonRpc => Codec::Json,
        };
        let body = codec::encode(codec, &request).map_err(CallError::Transport)?;
        let body: &[u8] = &body;
        let path = crate::schema::grpc_path(&method);
        let head = CallHead {
            service: "rmicro",
            endpoint: name,
            path: &path,
            codec,
            metadata: &Metadata::new(),
            timeout: None,
        };
        let reply = self.call(&head, body, observe).await?;
        codec::decode(codec, &method.output(), &reply.body)
            .map_err(|error| CallError::Transport(format!("{name} reply: {error}")))
    }

    /// The server's service record and schema: from gRPC reflection (with `metadata`), or
    /// from `Debug.Endpoints`; `None` when the server has no Debug service (a go-micro
    /// service, say).
    ///
    /// `service` narrows what reflection fetches to the service a call needs.
    pub async fn fetch_endpoints(
        &mut self,
        metadata: &Metadata,
        service: Option<&str>,
    ) -> Result<Option<(serde_json::Value, Schema)>, CallError> {
        let timeout = self.options.timeout;
        if let Caller::Grpc(caller) = &mut self.callers[self.current] {
            return match caller.reflect(metadata, service, timeout).await {
                Ok(schema) => Ok(Some((serde_json::Value::Null, schema))),
                Err(error) => Err(self.explain(error).await),
            };
        }
        let message = match self.call_debug("Debug.Endpoints", &mut |_| {}).await {
            Ok(message) => message,
            Err(CallError::Status(status))
                if matches!(status.code, Code::Unimplemented | Code::NotFound) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(error),
        };
        let set = message
            .get_field_by_name("file_descriptor_set")
            .and_then(|value| value.as_bytes().cloned())
            .unwrap_or_default();
        let schema = Schema::decode(&set)
            .map_err(|error| CallError::Transport(format!("Debug.Endpoints schema: {error:#}")))?;
        let record = message
            .get_field_by_name("service")
            .and_then(|value| value.as_message().map(codec::to_json_value))
            .transpose()
            .map_err(|error| CallError::Transport(format!("Debug.Endpoints service: {error}")))?;
        Ok(Some((record.unwrap_or_default(), schema)))
    }
}

/// What follows a failed attempt.
enum Retry {
    Again,
    GiveUp,
    /// Attempts remain, but `--max-time` ends before the next could start.
    OutOfTime(Bound),
}

/// go-micro ≤ v4.9 retries codes 408 and 500 — which covers its connection and transport
/// errors — and nothing else (spec §3.4).
fn is_retryable(error: &CallError) -> bool {
    match error {
        CallError::Connect(_) | CallError::Transport(_) | CallError::HungUp(_) => true,
        CallError::WrongProtocol(_) => false,
        CallError::Status(status) => matches!(status.micro_code(), 408 | 500),
    }
}

/// gRPC retries what never reached a server (Unavailable, connection failures) and the
/// codes the user names; never a status the server chose otherwise.
pub fn is_retryable_grpc(error: &CallError, retry_on: &[Code]) -> bool {
    match error {
        CallError::Connect(_) => true,
        CallError::Transport(_) | CallError::WrongProtocol(_) | CallError::HungUp(_) => false,
        CallError::Status(status) => {
            status.code == Code::Unavailable || retry_on.contains(&status.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_matches_go_micro() {
        let expected = [0, 100, 600, 1900, 4300, 7900, 13000, 19800];
        for (attempt, millis) in expected.iter().enumerate() {
            assert_eq!(
                Backoff::Exponential.delay(attempt as u32),
                Duration::from_millis(*millis),
                "attempt {attempt}"
            );
        }
        assert_eq!(Backoff::Exponential.delay(14), Duration::from_secs(120));
        assert_eq!(
            Backoff::Constant(Duration::from_millis(5)).delay(3),
            Duration::from_millis(5)
        );
        assert_eq!(Backoff::None.delay(3), Duration::ZERO);
    }

    #[test]
    fn retries_what_go_micro_retries() {
        assert!(is_retryable(&CallError::Connect("refused".into())));
        assert!(is_retryable(&CallError::Status(Status::deadline_exceeded(
            "x"
        ))));
        assert!(is_retryable(&CallError::Status(Status::internal("x"))));
        assert!(!is_retryable(&CallError::Status(Status::new(
            Code::NotFound,
            "x"
        ))));
        assert!(!is_retryable(&CallError::Status(Status::from_micro_error(
            "boom"
        ))));
        assert!(!is_retryable(&CallError::WrongProtocol("h2".into())));
    }
}
