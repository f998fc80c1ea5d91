//! The mucp caller: sends one request per HTTP/1.1 message on a kept-alive connection and
//! reads exactly one reply, never pipelining (spec §1.5, §2.6). A connection that saw any
//! error — or whose exchange was abandoned (a timeout drops it mid-way) — is closed, as
//! go-micro's pool does: the connection is taken out of its slot for an exchange and put
//! back only after a clean one.
//!
//! A mucp call is unary: its [`MucpStream`] carries one request message and one reply
//! (go-micro's `Micro-Stream` streams are not spoken yet).

use crate::protocol::caller::OneMessage;
use crate::protocol::http1::{canonical_header_name, HttpConnection, ReadError};
use crate::protocol::Socket;
use crate::protocol::{
    dial_secure, foreign_reply, CallError, CallHead, Pairs, RawReply, SecureDial,
};
use crate::status::Status;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Connection = HttpConnection<Socket>;

/// Calls one mucp server, reusing its connection between calls.
#[derive(Clone)]
pub struct MucpCaller {
    address: Arc<str>,
    dial_timeout: Duration,
    max_message_size: usize,
    idle: Arc<Mutex<Option<Connection>>>,
    next_id: Arc<AtomicU64>,
    /// HTTPS, as go-micro's secure transport.
    secure: Option<SecureDial>,
}

impl MucpCaller {
    pub fn new(address: &str, dial_timeout: Duration, max_message_size: usize) -> MucpCaller {
        MucpCaller {
            address: address.into(),
            dial_timeout,
            max_message_size,
            idle: Arc::default(),
            next_id: Arc::default(),
            secure: None,
        }
    }

    /// Calls over HTTPS.
    pub fn secure(mut self, secure: Option<SecureDial>) -> MucpCaller {
        self.secure = secure;
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// A caller of the same server with a connection of its own (go-micro servers answer
    /// one request at a time per connection).
    pub fn worker(&self) -> MucpCaller {
        MucpCaller::new(&self.address, self.dial_timeout, self.max_message_size)
            .secure(self.secure.clone())
    }

    /// Opens a call; the request goes out when its reply is asked for.
    pub fn open(&self, head: &CallHead<'_>) -> MucpStream {
        MucpStream {
            caller: self.clone(),
            header_lines: self.header_lines(head),
            content_type: head.codec.content_type(),
            request: OneMessage::new("mucp"),
            headers: Pairs::new(),
        }
    }

    /// The header lines after `Content-Length`, shaped like go-micro's minimal request
    /// (spec §10.1): sorted by name, metadata in canonical form replacing a fixed header
    /// of the same name.
    fn header_lines(&self, head: &CallHead<'_>) -> String {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let content_type = head.codec.content_type();
        let mut headers: Vec<(String, String)> = vec![
            ("Accept".into(), content_type.into()),
            ("Content-Type".into(), content_type.into()),
            ("Micro-Endpoint".into(), head.endpoint.into()),
            ("Micro-Id".into(), id.to_string()),
            ("Micro-Method".into(), head.endpoint.into()),
            ("Micro-Service".into(), head.service.into()),
        ];
        if let Some(timeout) = head.timeout {
            headers.push(("Timeout".into(), timeout.as_nanos().to_string()));
        }
        for (name, value) in head.metadata.iter() {
            let name = canonical_header_name(name);
            headers.retain(|(existing, _)| *existing != name);
            headers.push((name, value.replace(['\r', '\n'], " ")));
        }
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines = String::with_capacity(512);
        for (name, value) in headers {
            let _ = write!(lines, "{name}: {value}\r\n");
        }
        lines.push_str("\r\n");
        lines
    }

    async fn exchange(&self, request: &[u8], content_type: &str) -> Result<RawReply, CallError> {
        let taken = self.idle.lock().expect("idle lock").take();
        let mut connection = match taken {
            Some(connection) => connection,
            None => HttpConnection::new(
                dial_secure(&self.address, self.dial_timeout, self.secure.as_ref()).await?,
                self.max_message_size,
            ),
        };
        let reply = exchange_on(&mut connection, request, content_type).await?;
        *self.idle.lock().expect("idle lock") = Some(connection);
        Ok(reply)
    }
}

async fn exchange_on(
    connection: &mut Connection,
    request: &[u8],
    content_type: &str,
) -> Result<RawReply, CallError> {
    connection
        .write_all(request)
        .await
        .map_err(|error| CallError::Transport(format!("sending the request: {error}")))?;
    let reply = match connection.read_response().await {
        Ok(reply) => reply,
        Err(ReadError::Malformed(_)) => {
            return Err(foreign_reply(connection.unconsumed(), "HTTP/1.1"))
        }
        Err(ReadError::Closed) => return Err(CallError::Transport(
            "the connection closed before a reply came (if the server is not mucp, use grpc:// or jsonrpc://)".into(),
        )),
        Err(error) => return Err(CallError::Transport(error.to_string())),
    };
    let (code, reason) = reply.status().unwrap_or_default();
    if code != 200 {
        // As go-micro's transport reports it: "<status line>: <body>" (spec §1.3).
        let body = String::from_utf8_lossy(&reply.body);
        return Err(CallError::Transport(format!(
            "{code} {reason}: {}",
            body.trim_end()
        )));
    }
    if let Some(error) = reply
        .header("Micro-Error")
        .filter(|value| !value.is_empty())
    {
        return Err(CallError::Status(Status::from_micro_error(error)));
    }
    if reply.header("Content-Type") == Some("text/plain") && content_type != "text/plain" {
        // A go-micro server refusing the codec answers in plain text (spec §2.3).
        return Err(CallError::Status(Status::from_micro_error(
            String::from_utf8_lossy(&reply.body).trim_end(),
        )));
    }
    Ok(RawReply {
        headers: reply.headers,
        trailers: Pairs::new(),
        body: reply.body,
    })
}

/// One mucp call: one request message, one reply.
pub struct MucpStream {
    caller: MucpCaller,
    header_lines: String,
    content_type: &'static str,
    request: OneMessage,
    headers: Pairs,
}

impl MucpStream {
    pub fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        self.request.send(message)
    }

    /// The reply, on the first call (which sends the request); then `None`. Cancel-safe.
    pub async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        let Some(body) = self.request.pending() else {
            return Ok(None);
        };
        let mut request = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nUser-Agent: rmicro/{}\r\nContent-Length: {}\r\n",
            self.caller.address,
            env!("CARGO_PKG_VERSION"),
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(self.header_lines.as_bytes());
        request.extend_from_slice(&body);
        let reply = self.caller.exchange(&request, self.content_type).await?;
        self.request.answered();
        self.headers = reply.headers;
        Ok(Some(reply.body))
    }

    pub fn headers(&self) -> &Pairs {
        &self.headers
    }
}
