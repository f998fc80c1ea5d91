//! The JSON-RPC caller: Go's `jsonrpc.NewClient` behaviour (spec §9.2, §9.3). Ids count
//! from 0 per connection, requests are written whole under a lock and pipelined, and a
//! reader task hands each reply to the call with its id — so several callers (`share`)
//! can have calls in flight on one connection. A broken connection fails every call
//! waiting on it and is redialled by the next call. A call is unary: its
//! [`JsonRpcStream`] carries one request message and one reply (net/rpc has no streams).

use super::{Scanned, ValueScanner};
use crate::protocol::caller::OneMessage;
use crate::protocol::{dial_secure, SecureDial, Socket};
use crate::protocol::{foreign_reply, CallError, CallHead};
use crate::status::Status;
use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::io::{ReadHalf, WriteHalf};

type OwnedReadHalf = ReadHalf<Socket>;
type OwnedWriteHalf = WriteHalf<Socket>;
use tokio::sync::oneshot;

type Waiter = oneshot::Sender<Result<Bytes, CallError>>;

/// Calls one JSON-RPC server; clones made by [`JsonRpcCaller::share`] use the same connection.
#[derive(Clone)]
pub struct JsonRpcCaller {
    address: String,
    dial_timeout: Duration,
    max_message_size: usize,
    connection: Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>,
    /// Over a TLS socket.
    secure: Option<SecureDial>,
}

struct Connection {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    calls: Arc<Mutex<Calls>>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Calls waiting for their reply; once `broken` is set no call is added.
#[derive(Default)]
struct Calls {
    waiting: HashMap<u64, Waiter>,
    broken: bool,
}

impl Calls {
    fn fail_all(&mut self, error: impl Fn() -> CallError) {
        self.broken = true;
        for (_, waiter) in self.waiting.drain() {
            let _ = waiter.send(Err(error()));
        }
    }
}

/// Removes a call's entry when the call ends early (a timeout drops the future).
struct Registered<'a> {
    calls: &'a Mutex<Calls>,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.calls
            .lock()
            .expect("calls lock")
            .waiting
            .remove(&self.id);
    }
}

impl JsonRpcCaller {
    pub fn new(address: &str, dial_timeout: Duration, max_message_size: usize) -> JsonRpcCaller {
        JsonRpcCaller {
            address: address.to_owned(),
            dial_timeout,
            max_message_size,
            connection: Default::default(),
            secure: None,
        }
    }

    /// Calls over a TLS socket.
    pub fn secure(mut self, secure: Option<SecureDial>) -> JsonRpcCaller {
        self.secure = secure;
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Another handle whose calls share this one's connection.
    pub fn share(&self) -> JsonRpcCaller {
        self.clone()
    }

    /// Another caller of the same server, on a connection of its own.
    pub fn detached(&self) -> JsonRpcCaller {
        JsonRpcCaller::new(&self.address, self.dial_timeout, self.max_message_size)
            .secure(self.secure.clone())
    }

    /// Opens a call; the request goes out when its reply is asked for.
    pub fn open(&self, head: &CallHead<'_>) -> JsonRpcStream {
        JsonRpcStream {
            caller: self.clone(),
            method: head.endpoint.to_owned(),
            request: OneMessage::new("JSON-RPC"),
        }
    }

    /// Sends `params: [body]` and waits for the reply with the same id. The body must be
    /// JSON; the reply is the `result` value as received.
    async fn call(&self, method: &str, body: &[u8]) -> Result<Bytes, CallError> {
        let connection = self.connect().await?;
        let id = connection.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        {
            let mut calls = connection.calls.lock().expect("calls lock");
            if calls.broken {
                return Err(CallError::Transport("connection is shut down".into()));
            }
            calls.waiting.insert(id, sender);
        }
        let _registered = Registered {
            calls: &connection.calls,
            id,
        };
        let line = request_line(method, body, id);
        if let Err(error) = connection.writer.lock().await.write_all(&line).await {
            let text = format!("sending the request: {error}");
            connection
                .calls
                .lock()
                .expect("calls lock")
                .fail_all(|| CallError::Transport(text.clone()));
        }
        receiver
            .await
            .unwrap_or_else(|_| Err(CallError::Transport("connection is shut down".into())))
    }

    /// Connects now unless connected (calls connect when they need to).
    pub async fn ensure_connected(&self) -> Result<(), CallError> {
        self.connect().await.map(drop)
    }

    async fn connect(&self) -> Result<Arc<Connection>, CallError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            if !connection.calls.lock().expect("calls lock").broken {
                return Ok(connection.clone());
            }
        }
        let (reader, writer) = tokio::io::split(
            dial_secure(&self.address, self.dial_timeout, self.secure.as_ref()).await?,
        );
        let calls = Arc::new(Mutex::new(Calls::default()));
        let connection = Arc::new(Connection {
            writer: tokio::sync::Mutex::new(writer),
            calls: calls.clone(),
            next_id: AtomicU64::new(0),
            reader: tokio::spawn(read_replies(reader, calls, self.max_message_size)),
        });
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

fn request_line(method: &str, body: &[u8], id: u64) -> Vec<u8> {
    let method = serde_json::to_string(method).expect("strings serialise");
    let body = body.trim_ascii();
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    let mut line = Vec::with_capacity(48 + method.len() + body.len());
    line.extend_from_slice(b"{\"method\":");
    line.extend_from_slice(method.as_bytes());
    line.extend_from_slice(b",\"params\":[");
    line.extend_from_slice(body);
    line.extend_from_slice(format!("],\"id\":{id}}}\n").as_bytes());
    line
}

/// One JSON-RPC call: one request message, one reply.
pub struct JsonRpcStream {
    caller: JsonRpcCaller,
    method: String,
    request: OneMessage,
}

impl JsonRpcStream {
    pub fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        self.request.send(message)
    }

    /// The reply, on the first call (which sends the request); then `None`. Cancel-safe.
    pub async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        let Some(body) = self.request.pending() else {
            return Ok(None);
        };
        let reply = self.caller.call(&self.method, &body).await?;
        self.request.answered();
        Ok(Some(reply))
    }
}

/// Go's `clientResponse`.
#[derive(Deserialize)]
struct Response<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<serde_json::Value>,
}

async fn read_replies(
    mut reader: OwnedReadHalf,
    calls: Arc<Mutex<Calls>>,
    max_message_size: usize,
) {
    let mut input = BytesMut::with_capacity(8 * 1024);
    let mut scanner = ValueScanner::default();
    let failure = loop {
        match scanner.next_value(&mut input) {
            Scanned::Value(bytes) => match deliver(&bytes, &calls) {
                Ok(()) => continue,
                Err(error) => break error,
            },
            Scanned::NotContainer => break foreign_reply(&input, "JSON-RPC"),
            Scanned::Incomplete if scanner.pending() > max_message_size => {
                break CallError::Transport(format!(
                    "a reply is larger than {max_message_size} bytes"
                ))
            }
            Scanned::Incomplete => {}
        }
        input.reserve(8 * 1024);
        match reader.read_buf(&mut input).await {
            Ok(0) => {
                break CallError::HungUp(
                    "the server closed the connection before replying (unexpected EOF)".into(),
                )
            }
            Err(error) => break CallError::Transport(format!("reading the reply: {error}")),
            Ok(_) => {}
        }
    };
    calls
        .lock()
        .expect("calls lock")
        .fail_all(|| failure.clone());
}

/// Hands one reply to its call. An error here breaks the connection.
fn deliver(bytes: &[u8], calls: &Mutex<Calls>) -> Result<(), CallError> {
    let response: Response<'_> = serde_json::from_slice(bytes).map_err(|error| {
        CallError::Transport(format!(
            "the server's reply is not a JSON-RPC response: {error}"
        ))
    })?;
    let outcome = match &response.error {
        None | Some(serde_json::Value::Null) => {
            Ok(response.result.map_or(Bytes::from_static(b"null"), |raw| {
                Bytes::copy_from_slice(raw.get().as_bytes())
            }))
        }
        Some(serde_json::Value::String(text)) => {
            Err(CallError::Status(Status::from_micro_error(text)))
        }
        Some(other) => Err(CallError::Transport(format!("invalid error {other}"))),
    };
    let Some(id) = response.id else {
        // A reply to no request: the server's word on the whole connection.
        return Err(outcome.err().unwrap_or_else(|| {
            CallError::Transport("the server sent a result with a null id".into())
        }));
    };
    if let Some(waiter) = calls.lock().expect("calls lock").waiting.remove(&id) {
        let _ = waiter.send(outcome);
    }
    Ok(())
}
