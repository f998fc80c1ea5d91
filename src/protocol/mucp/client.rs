//! The mucp caller: sends one request per HTTP/1.1 message on a kept-alive connection and
//! reads exactly one reply, never pipelining (spec §1.5, §2.6). A connection that saw any
//! error is closed, as go-micro's pool does.

use crate::protocol::http1::{canonical_header_name, HttpConnection, ReadError};
use crate::protocol::{dial, foreign_reply, CallError, OutgoingRequest, RawReply};
use crate::status::Status;
use std::fmt::Write as _;
use std::time::Duration;
use tokio::net::TcpStream;

/// Calls one mucp server, reusing its connection between calls.
pub struct MucpCaller {
    address: String,
    dial_timeout: Duration,
    max_message_size: usize,
    connection: Option<HttpConnection<TcpStream>>,
    next_id: u64,
}

impl MucpCaller {
    pub fn new(address: &str, dial_timeout: Duration, max_message_size: usize) -> MucpCaller {
        MucpCaller {
            address: address.to_owned(),
            dial_timeout,
            max_message_size,
            connection: None,
            next_id: 0,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Drops the connection (after a timeout its state is unknown).
    pub fn disconnect(&mut self) {
        self.connection = None;
    }

    /// Sends `call`; `timeout` goes to the server as the `Timeout` header (nanoseconds).
    pub async fn call(
        &mut self,
        call: &OutgoingRequest<'_>,
        timeout: Option<Duration>,
    ) -> Result<RawReply, CallError> {
        let result = self.exchange(call, timeout).await;
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        call: &OutgoingRequest<'_>,
        timeout: Option<Duration>,
    ) -> Result<RawReply, CallError> {
        let request = self.encode_request(call, timeout);
        let connection = self.connect().await?;
        connection
            .write_all(&request)
            .await
            .map_err(|error| CallError::Transport(format!("sending the request: {error}")))?;
        let reply = match connection.read_response().await {
            Ok(reply) => reply,
            Err(ReadError::Malformed(_)) => return Err(foreign_reply(connection.unconsumed(), "HTTP/1.1")),
            Err(ReadError::Closed) => {
                return Err(CallError::Transport(
                    "the connection closed before a reply came (if the server is not mucp, use grpc:// or jsonrpc://)".into(),
                ))
            }
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
        if reply.header("Content-Type") == Some("text/plain")
            && call.codec.content_type() != "text/plain"
        {
            // A go-micro server refusing the codec answers in plain text (spec §2.3).
            return Err(CallError::Status(Status::from_micro_error(
                String::from_utf8_lossy(&reply.body).trim_end(),
            )));
        }
        Ok(RawReply {
            headers: reply.headers,
            body: reply.body,
        })
    }

    async fn connect(&mut self) -> Result<&mut HttpConnection<TcpStream>, CallError> {
        if self.connection.is_none() {
            let stream = dial(&self.address, self.dial_timeout).await?;
            self.connection = Some(HttpConnection::new(stream, self.max_message_size));
        }
        Ok(self.connection.as_mut().expect("connected above"))
    }

    /// The request bytes, shaped like go-micro's minimal request (spec §10.1).
    fn encode_request(&mut self, call: &OutgoingRequest<'_>, timeout: Option<Duration>) -> Vec<u8> {
        let id = self.next_id;
        self.next_id += 1;
        let mut head = String::with_capacity(512);
        let _ = write!(
            head,
            "POST / HTTP/1.1\r\nHost: {}\r\nUser-Agent: rmicro/{}\r\nContent-Length: {}\r\n",
            self.address,
            env!("CARGO_PKG_VERSION"),
            call.body.len()
        );
        let content_type = call.codec.content_type();
        let mut headers: Vec<(String, String)> = vec![
            ("Accept".into(), content_type.into()),
            ("Content-Type".into(), content_type.into()),
            ("Micro-Endpoint".into(), call.endpoint.into()),
            ("Micro-Id".into(), id.to_string()),
            ("Micro-Method".into(), call.endpoint.into()),
            ("Micro-Service".into(), call.service.into()),
        ];
        if let Some(timeout) = timeout {
            headers.push(("Timeout".into(), timeout.as_nanos().to_string()));
        }
        for (name, value) in call.metadata.iter() {
            let name = canonical_header_name(name);
            headers.retain(|(existing, _)| *existing != name);
            headers.push((name, value.replace(['\r', '\n'], " ")));
        }
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(call.body);
        bytes
    }
}
