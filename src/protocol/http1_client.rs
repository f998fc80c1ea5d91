//! The Connect caller over HTTP/1.1 (`http://` URLs, as `buf curl` calls them): unary calls
//! in Connect's unary form, streams in its streaming form. HTTP/1.1 is half-duplex, so a
//! stream's request messages go out together once its request side is closed, and its
//! replies are read from the one response (chunked, each reply an envelope, the status in
//! the end-of-stream message) — server and client streams as Connect servers serve them
//! over HTTP/1.1; a bidirectional stream becomes half-duplex. One call at a time on a
//! kept-alive connection, which is closed after any failure.

use super::grpc::client::{connect_error, end_of_reply, gunzip, gzip, http_failure};
use super::grpc::{frame, Deframer, Envelope};
use super::http1::{HttpConnection, HttpMessage, ReadError};
use super::pairs_of;
use super::wire::Wire;
use super::{caller::Exchange, dial_secure, foreign_reply, CallError, CallHead, Dialing, Pairs};
use super::{SecureDial, Socket};
use crate::codec::Codec;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

type Connection = HttpConnection<Socket>;

/// Calls one Connect server over HTTP/1.1, reusing its connection between calls.
#[derive(Clone)]
pub struct Http1Caller {
    address: Arc<str>,
    dialing: Dialing,
    secure: Option<SecureDial>,
    idle: Arc<Mutex<Option<Connection>>>,
}

impl Http1Caller {
    pub fn new(address: &str, dialing: Dialing, secure: Option<SecureDial>) -> Http1Caller {
        Http1Caller {
            address: address.into(),
            dialing,
            secure,
            idle: Arc::default(),
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// A caller of the same server with a connection of its own.
    pub fn worker(&self) -> Http1Caller {
        Http1Caller::new(&self.address, self.dialing.clone(), self.secure.clone())
    }

    /// Opens this caller's connection now, unless it holds one already.
    pub async fn ensure_connected(&self) -> Result<(), CallError> {
        if self.idle.lock().expect("idle lock").is_some() {
            return Ok(());
        }
        let connection = self.dial().await?;
        *self.idle.lock().expect("idle lock") = Some(connection);
        Ok(())
    }

    fn host(&self) -> &str {
        match &self.dialing.authority {
            Some(authority) => authority,
            None if self.address.starts_with("unix:") => "localhost",
            None => &self.address,
        }
    }

    /// The request head up to its blank line, `content_type` and `extra` lines given.
    fn head(&self, head: &CallHead<'_>, content_type: &str, length: usize, extra: &str) -> String {
        let mut lines = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rmicro/{}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnect-Protocol-Version: 1\r\n{extra}",
            head.path,
            self.host(),
            env!("CARGO_PKG_VERSION"),
        );
        if let Some(timeout) = head.timeout {
            let (name, value) = Wire::Connect.timeout_header(timeout);
            let _ = write!(lines, "{name}: {value}\r\n");
        }
        for (name, value) in head.metadata.iter() {
            let _ = write!(lines, "{name}: {}\r\n", value.replace(['\r', '\n'], " "));
        }
        lines.push_str("\r\n");
        lines
    }

    /// A unary call in Connect's unary form.
    pub async fn unary(&mut self, head: &CallHead<'_>, body: &[u8]) -> Exchange {
        let content_type = match head.codec {
            Codec::Protobuf => "application/proto",
            Codec::Json => "application/json",
        };
        let (body, extra) = if self.dialing.gzip {
            (
                gzip(body),
                "Content-Encoding: gzip\r\nAccept-Encoding: gzip\r\n",
            )
        } else {
            (Bytes::copy_from_slice(body), "Accept-Encoding: gzip\r\n")
        };
        let mut request = self
            .head(head, content_type, body.len(), extra)
            .into_bytes();
        request.extend_from_slice(&body);
        let reply = match self.exchange(request).await {
            Ok(reply) => reply,
            Err(error) => return Exchange::failed(error),
        };
        let (code, _) = reply.status().unwrap_or_default();
        let limit = self.dialing.max_message_size;
        let mut body = reply.body.to_vec();
        if reply.header("Content-Encoding") == Some("gzip") {
            body = match gunzip(&body, limit) {
                Ok(body) => body,
                Err(error) => return Exchange::failed(error),
            };
        }
        let (headers, trailers): (Pairs, Pairs) = reply
            .headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .partition(|(name, _)| !name.starts_with("trailer-"));
        let trailers: Pairs = trailers
            .into_iter()
            .map(|(name, value)| (name["trailer-".len()..].to_owned(), value))
            .collect();
        let outcome = if code == 200 {
            Ok(Bytes::from(body))
        } else {
            Err(connect_error(status_code(code), &header_map(&reply), &body))
        };
        Exchange {
            headers: headers.into(),
            trailers: trailers.into(),
            outcome,
        }
    }

    /// Opens a stream in Connect's streaming form; its request goes out once its
    /// request side is closed.
    pub fn open(&self, head: &CallHead<'_>) -> Http1Stream {
        let gzip = self.dialing.gzip;
        let mut extra = String::from("Connect-Accept-Encoding: gzip\r\n");
        if gzip {
            extra.push_str("Connect-Content-Encoding: gzip\r\n");
        }
        let content_type = Wire::Connect.content_type(head.codec);
        // The length is filled in when the request is complete.
        let head = self.head(head, content_type, 0, &extra);
        Http1Stream {
            caller: self.clone(),
            head,
            messages: BytesMut::new(),
            gzip,
            closed: false,
            sending: None,
            deframer: None,
            done: false,
            headers: Pairs::new(),
            trailers: Pairs::new(),
        }
    }

    /// A new connection to the server.
    async fn dial(&self) -> Result<Connection, CallError> {
        let stream = dial_secure(
            &self.address,
            self.dialing.dial_timeout,
            self.secure.as_ref(),
        )
        .await?;
        Ok(HttpConnection::new(
            stream,
            self.dialing.max_message_size.saturating_mul(2).max(1 << 16),
        ))
    }

    async fn exchange(&self, request: Vec<u8>) -> Result<HttpMessage, CallError> {
        let taken = self.idle.lock().expect("idle lock").take();
        let mut connection = match taken {
            Some(connection) => connection,
            None => self.dial().await?,
        };
        connection
            .write_all(&request)
            .await
            .map_err(|error| CallError::Transport(format!("sending the request: {error}")))?;
        let reply = match connection.read_response().await {
            Ok(reply) => reply,
            Err(ReadError::Malformed(_)) => {
                return Err(foreign_reply(connection.unconsumed(), "Connect"))
            }
            Err(ReadError::Closed) => {
                return Err(CallError::Transport(
                    "the connection closed before a reply came".into(),
                ))
            }
            Err(error) => return Err(CallError::Transport(error.to_string())),
        };
        let closes = reply
            .header("Connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if !closes {
            *self.idle.lock().expect("idle lock") = Some(connection);
        }
        Ok(reply)
    }
}

fn status_code(code: u16) -> http::StatusCode {
    http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn header_map(reply: &HttpMessage) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// A Connect stream over HTTP/1.1.
pub struct Http1Stream {
    caller: Http1Caller,
    /// The request head, `Content-Length: 0` standing for the length to come.
    head: String,
    /// The request messages, enveloped.
    messages: BytesMut,
    gzip: bool,
    closed: bool,
    /// The exchange in flight (a task, so that a receive dropped half-way loses nothing).
    sending: Option<JoinHandle<Result<HttpMessage, CallError>>>,
    /// The reply's envelopes, once it has come.
    deframer: Option<Deframer>,
    done: bool,
    headers: Pairs,
    trailers: Pairs,
}

impl Http1Stream {
    pub fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        if self.closed {
            return Err(CallError::Transport(
                "the request side of the stream is closed".into(),
            ));
        }
        self.messages.extend_from_slice(&frame(&message, self.gzip));
        Ok(())
    }

    pub fn close_send(&mut self) {
        self.closed = true;
    }

    pub fn headers(&self) -> &Pairs {
        &self.headers
    }

    pub fn trailers(&self) -> &Pairs {
        &self.trailers
    }

    pub fn cancel(&mut self) {
        if let Some(sending) = self.sending.take() {
            sending.abort();
        }
        self.done = true;
    }

    /// The next reply message. Over HTTP/1.1 the request goes out once the request side
    /// is closed; until then this waits. Cancel-safe.
    pub async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        if self.done {
            return Ok(None);
        }
        if self.deframer.is_none() {
            if !self.closed {
                return std::future::pending().await;
            }
            let sending = self.sending.get_or_insert_with(|| {
                let head = self.head.replacen(
                    "Content-Length: 0\r\n",
                    &format!("Content-Length: {}\r\n", self.messages.len()),
                    1,
                );
                let mut request = head.into_bytes();
                request.extend_from_slice(&self.messages);
                let caller = self.caller.clone();
                tokio::spawn(async move { caller.exchange(request).await })
            });
            let reply = sending
                .await
                .map_err(|error| CallError::Transport(format!("the call failed: {error}")))?;
            self.sending = None;
            let reply = reply.inspect_err(|_| self.done = true)?;
            self.headers = pairs_of(&header_map(&reply));
            let (code, _) = reply.status().unwrap_or_default();
            let content_type = reply.header("Content-Type").unwrap_or("");
            if code != 200 {
                self.done = true;
                return Err(connect_error(
                    status_code(code),
                    &header_map(&reply),
                    &reply.body,
                ));
            }
            if !matches!(Wire::of(content_type), Some((_, Wire::Connect))) {
                self.done = true;
                return Err(http_failure(
                    status_code(code),
                    &header_map(&reply),
                    Wire::Connect,
                ));
            }
            let gzip = reply.header("Connect-Content-Encoding") == Some("gzip");
            let mut deframer = Deframer::new(self.caller.dialing.max_message_size, gzip)
                .ending_with(Wire::Connect.end_flag());
            deframer.push(&reply.body);
            self.deframer = Some(deframer);
        }
        let deframer = self.deframer.as_mut().expect("the reply has come");
        match deframer.next_envelope().map_err(CallError::Status)? {
            Some(Envelope::Message(message)) => Ok(Some(message)),
            Some(Envelope::End(ending)) => {
                self.done = true;
                let (trailers, result) = end_of_reply(Wire::Connect, &ending);
                self.trailers = pairs_of(&trailers);
                result.map(|()| None)
            }
            None => {
                self.done = true;
                Err(CallError::Transport(
                    "the Connect stream ended without its end-of-stream message".into(),
                ))
            }
        }
    }
}
