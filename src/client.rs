//! Calling a target — one address, or a service's nodes through a selector: one attempt
//! per try, each bounded by the per-attempt timeout, retried with backoff on what
//! go-micro retries (codes 408 and 500, connection failures — spec §3.4, §3.5), each
//! retry on the selector's next node, connections reused. Reports each attempt to an
//! observer so the command line can show them; never prints itself.

use crate::codec::{self, Codec};
use crate::handler::debug_schema;
use crate::message::Metadata;
use crate::protocol::grpc::client::{GrpcCaller, GrpcStream, Reach};
use crate::protocol::jsonrpc::client::JsonRpcCaller;
use crate::protocol::mucp::client::MucpCaller;
use crate::protocol::{CallError, OutgoingRequest, Protocol, RawReply, Target};
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
    pub dial_timeout: Duration,
    /// Extra attempts after the first.
    pub retries: u32,
    pub backoff: Backoff,
    pub max_message_size: usize,
    /// gRPC status codes retried besides Unavailable (`--retry-on`).
    pub retry_on: Vec<Code>,
    /// TLS for gRPC targets that want it, and the `:authority` to send.
    pub tls: Option<ClientTls>,
    /// gRPC request messages are gzipped.
    pub gzip: bool,
    pub authority: Option<String>,
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
    Succeeded {
        attempt: u32,
        elapsed: Duration,
        reply: &'a RawReply,
    },
}

/// One protocol's caller.
enum Caller {
    Mucp(MucpCaller),
    JsonRpc(JsonRpcCaller),
    Grpc(GrpcCaller),
}

impl Caller {
    fn address(&self) -> &str {
        match self {
            Caller::Mucp(caller) => caller.address(),
            Caller::JsonRpc(caller) => caller.address(),
            Caller::Grpc(caller) => caller.address(),
        }
    }

    async fn call(
        &mut self,
        request: &OutgoingRequest<'_>,
        timeout: Duration,
    ) -> Result<RawReply, CallError> {
        match self {
            Caller::Mucp(caller) => caller.call(request, Some(timeout)).await,
            Caller::JsonRpc(caller) => caller.call(request).await,
            Caller::Grpc(caller) => caller.call(request, timeout).await,
        }
    }

    /// After a timeout: a mucp connection is in an unknown state; a JSON-RPC one is not
    /// (a late reply finds no call with its id), nor an HTTP/2 one (the stream is reset).
    fn abandon(&mut self) {
        if let Caller::Mucp(caller) = self {
            caller.disconnect();
        }
    }

    fn new(target: &Target, options: &CallOptions) -> Caller {
        let (address, dial, size) = (
            target.address.as_str(),
            options.dial_timeout,
            options.max_message_size,
        );
        match target.protocol {
            Protocol::Mucp => Caller::Mucp(MucpCaller::new(address, dial, size)),
            Protocol::JsonRpc => Caller::JsonRpc(JsonRpcCaller::new(address, dial, size)),
            Protocol::Grpc => {
                let tls = options
                    .tls
                    .as_ref()
                    .filter(|tls| target.tls || tls.always)
                    .map(|tls| tls.config.clone());
                let reach = Reach {
                    tls,
                    authority: options.authority.clone(),
                };
                Caller::Grpc(GrpcCaller::new(address, dial, size, reach))
            }
        }
    }

    /// A caller for concurrent use: mucp opens its own connection (one call at a time
    /// on each), JSON-RPC and gRPC share this one's.
    fn worker(&self, options: &CallOptions) -> Caller {
        match self {
            Caller::Mucp(caller) => Caller::Mucp(MucpCaller::new(
                caller.address(),
                options.dial_timeout,
                options.max_message_size,
            )),
            Caller::JsonRpc(caller) => Caller::JsonRpc(caller.share()),
            Caller::Grpc(caller) => Caller::Grpc(caller.share()),
        }
    }
}

/// A client bound to one target, or to the nodes of a service through a selector: each
/// call starts on the current node and each retry moves to the selector's next one.
pub struct Client {
    selector: Option<Selector>,
    /// One caller per candidate node (the one target when there is no selector).
    callers: Vec<Caller>,
    current: usize,
    options: CallOptions,
}

impl Client {
    pub fn new(target: &Target, options: CallOptions) -> Client {
        Client {
            selector: None,
            callers: vec![Caller::new(target, &options)],
            current: 0,
            options,
        }
    }

    /// A client over the selector's nodes, starting on its first pick.
    pub fn with_selector(mut selector: Selector, options: CallOptions) -> Client {
        let callers = selector
            .candidates()
            .iter()
            .map(|candidate| Caller::new(&candidate.target, &options))
            .collect();
        Client {
            current: selector.pick(),
            selector: Some(selector),
            callers,
            options,
        }
    }

    /// Another client for concurrent calls (`--batch`), on the selector's next node.
    pub fn worker(&self) -> Client {
        let mut selector = self.selector.clone();
        Client {
            current: selector.as_mut().map_or(0, Selector::pick),
            selector,
            callers: self
                .callers
                .iter()
                .map(|caller| caller.worker(&self.options))
                .collect(),
            options: self.options.clone(),
        }
    }

    pub fn protocol(&self) -> Protocol {
        match self.callers[self.current] {
            Caller::Mucp(_) => Protocol::Mucp,
            Caller::JsonRpc(_) => Protocol::JsonRpc,
            Caller::Grpc(_) => Protocol::Grpc,
        }
    }

    pub fn address(&self) -> &str {
        self.callers[self.current].address()
    }

    /// Calls with retries. The error is the last attempt's.
    pub async fn call(
        &mut self,
        request: &OutgoingRequest<'_>,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<RawReply, CallError> {
        let mut attempt = 0;
        loop {
            self.start_attempt(attempt, observe);
            let started = Instant::now();
            let caller = &mut self.callers[self.current];
            let sending = caller.call(request, self.options.timeout);
            let result = match tokio::time::timeout(self.options.timeout, sending).await {
                Ok(result) => result,
                Err(_) => {
                    caller.abandon();
                    Err(CallError::Status(Status::deadline_exceeded(format!(
                        "no reply within {} (--timeout)",
                        humantime::format_duration(self.options.timeout)
                    ))))
                }
            };
            let elapsed = started.elapsed();
            match result {
                Ok(reply) => {
                    observe(AttemptEvent::Succeeded {
                        attempt: attempt + 1,
                        elapsed,
                        reply: &reply,
                    });
                    return Ok(reply);
                }
                Err(error) => {
                    let retryable = match self.protocol() {
                        Protocol::Grpc => is_retryable_grpc(&error, &self.options.retry_on),
                        _ => is_retryable(&error),
                    };
                    if !self
                        .retry_after_failure(&mut attempt, &error, elapsed, retryable, observe)
                        .await
                    {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Opens a gRPC call, attempt `*attempt` first; a connection failure moves to the
    /// next node and tries again while attempts remain (counted with the caller's).
    pub async fn open_stream(
        &mut self,
        path: &str,
        codec: Codec,
        metadata: &Metadata,
        attempt: &mut u32,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<GrpcStream, CallError> {
        loop {
            self.start_attempt(*attempt, observe);
            let started = Instant::now();
            let Caller::Grpc(caller) = &mut self.callers[self.current] else {
                return Err(CallError::WrongProtocol(format!(
                    "{} does not speak gRPC",
                    self.address()
                )));
            };
            match caller
                .open(
                    path,
                    codec,
                    metadata,
                    Some(self.options.timeout),
                    self.options.gzip,
                )
                .await
            {
                Ok(stream) => return Ok(stream),
                Err(error) => {
                    let retryable = matches!(error, CallError::Connect(_));
                    let elapsed = started.elapsed();
                    if !self
                        .retry_after_failure(attempt, &error, elapsed, retryable, observe)
                        .await
                    {
                        return Err(error);
                    }
                }
            }
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
    /// backoff is waited out and `attempt` advanced. `false`: give up.
    pub async fn retry_after_failure(
        &mut self,
        attempt: &mut u32,
        error: &CallError,
        elapsed: Duration,
        retryable: bool,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> bool {
        if let (Some(selector), CallError::Connect(_) | CallError::Transport(_)) =
            (&self.selector, error)
        {
            selector.failed(self.current);
        }
        let retry_in = (*attempt < self.options.retries && retryable)
            .then(|| self.options.backoff.delay(*attempt + 1));
        observe(AttemptEvent::Failed {
            attempt: *attempt + 1,
            error,
            elapsed,
            retry_in,
        });
        let Some(delay) = retry_in else {
            return false;
        };
        tokio::time::sleep(delay).await;
        *attempt += 1;
        true
    }

    /// gRPC codes retried besides Unavailable.
    pub fn retry_also_on(&mut self, codes: Vec<Code>) {
        self.options.retry_on = codes;
    }

    /// gRPC streams opened from now on send gzipped messages (`--compress gzip`).
    pub fn compress_requests(&mut self, gzip: bool) {
        self.options.gzip = gzip;
    }

    pub fn options(&self) -> &CallOptions {
        &self.options
    }

    /// Calls a method of the built-in Debug service (over protobuf where the protocol
    /// allows).
    pub async fn call_debug(
        &mut self,
        name: &str,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<DynamicMessage, CallError> {
        let method = debug_schema()
            .resolve(name)
            .expect("a method of debug.proto");
        let (codec, body): (Codec, &[u8]) = match self.protocol() {
            Protocol::Mucp | Protocol::Grpc => (Codec::Protobuf, b""),
            Protocol::JsonRpc => (Codec::Json, b"{}"),
        };
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let request = OutgoingRequest {
            service: "rmicro",
            endpoint: name,
            path: &path,
            codec,
            metadata: &Metadata::new(),
            body,
        };
        let reply = self.call(&request, observe).await?;
        codec::decode(codec, &method.output(), &reply.body)
            .map_err(|error| CallError::Transport(format!("{name} reply: {error}")))
    }

    /// The server's service record and schema from `Debug.Endpoints`; `None` when the
    /// server has no Debug service (a go-micro service, say).
    pub async fn fetch_endpoints(
        &mut self,
        observe: &mut (dyn FnMut(AttemptEvent<'_>) + Send),
    ) -> Result<Option<(serde_json::Value, Schema)>, CallError> {
        if let Caller::Grpc(caller) = &mut self.callers[self.current] {
            let schema = caller.reflect(self.options.timeout).await?;
            return Ok(Some((serde_json::Value::Null, schema)));
        }
        let message = match self.call_debug("Debug.Endpoints", observe).await {
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

/// go-micro ≤ v4.9 retries codes 408 and 500 — which covers its connection and transport
/// errors — and nothing else (spec §3.4).
fn is_retryable(error: &CallError) -> bool {
    match error {
        CallError::Connect(_) | CallError::Transport(_) => true,
        CallError::WrongProtocol(_) => false,
        CallError::Status(status) => matches!(status.micro_code(), 408 | 500),
    }
}

/// gRPC retries what never reached a server (Unavailable, connection failures) and the
/// codes the user names; never a status the server chose otherwise.
pub fn is_retryable_grpc(error: &CallError, retry_on: &[Code]) -> bool {
    match error {
        CallError::Connect(_) => true,
        CallError::Transport(_) | CallError::WrongProtocol(_) => false,
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
