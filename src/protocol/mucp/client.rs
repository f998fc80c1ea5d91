//! The mucp caller: sends one request per HTTP/1.1 message on a kept-alive connection and
//! reads exactly one reply, never pipelining (spec §1.5, §2.6). A connection that saw any
//! error — or whose exchange was abandoned (a timeout drops it mid-way) — is closed, as
//! go-micro's pool does: the connection is taken out of its slot for an exchange and put
//! back only after a clean one.
//!
//! A unary call's [`MucpStream`] carries one request message and one reply. A stream
//! (`open_stream`) is go-micro's (spec §5): a connection of its own, every message a whole
//! HTTP/1.1 message with `Micro-Stream`, requests and replies both ways at once, the ends
//! marked with `Micro-Error: EOS`.

use crate::codec::Codec;
use crate::message::Metadata;
use crate::protocol::caller::{OneMessage, Progress};
use crate::protocol::http1::{canonical_header_name, HttpConnection, RawHead, ReadError};
use crate::protocol::Socket;
use crate::protocol::{dial_secure, foreign_reply, CallError, CallHead, Fields, Pairs, SecureDial};
use crate::status::{Code, Status};
use bytes::{Bytes, BytesMut};
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

type Connection = HttpConnection<Socket>;

/// Calls one mucp server, reusing its connection between calls.
#[derive(Clone)]
pub struct MucpCaller {
    address: Arc<str>,
    /// Every request's first lines, up to `Content-Length: ` (its value comes per call).
    prefix: Arc<[u8]>,
    dial_timeout: Duration,
    max_message_size: usize,
    idle: Arc<Mutex<Option<Connection>>>,
    next_id: Arc<AtomicU64>,
    /// HTTPS, as go-micro's secure transport.
    secure: Option<SecureDial>,
    /// The last unary call's header lines: a load's calls differ in their id alone.
    lines: Arc<Mutex<Option<Arc<UnaryLines>>>>,
}

impl MucpCaller {
    pub fn new(address: &str, dial_timeout: Duration, max_message_size: usize) -> MucpCaller {
        MucpCaller {
            address: address.into(),
            prefix: format!(
                "POST / HTTP/1.1\r\nHost: {address}\r\nUser-Agent: rmicro/{}\r\nContent-Length: ",
                env!("CARGO_PKG_VERSION"),
            )
            .into_bytes()
            .into(),
            dial_timeout,
            max_message_size,
            idle: Arc::default(),
            next_id: Arc::default(),
            secure: None,
            lines: Arc::default(),
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

    /// Opens this caller's connection now, unless it holds one already.
    pub async fn ensure_connected(&self) -> Result<(), CallError> {
        if self.idle.lock().expect("idle lock").is_some() {
            return Ok(());
        }
        let connection = self.dial().await?;
        *self.idle.lock().expect("idle lock") = Some(connection);
        Ok(())
    }

    /// A new connection to the server; the replies' heads are kept raw, their headers made
    /// text only when asked for.
    async fn dial(&self) -> Result<Connection, CallError> {
        let socket = dial_secure(&self.address, self.dial_timeout, self.secure.as_ref()).await?;
        Ok(HttpConnection::new(socket, self.max_message_size).raw_response_heads())
    }

    /// Opens a unary call; the request goes out when its reply is asked for.
    pub fn open(&self, head: &CallHead<'_>) -> MucpStream {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        MucpStream::Unary(UnaryCall {
            caller: self.clone(),
            lines: self.unary_lines(head),
            id,
            content_type: head.codec.content_type(),
            request: OneMessage::new("mucp"),
            head: RawHead::default(),
            headers: OnceLock::new(),
        })
    }

    /// The header lines of a unary call of `head`: the last call's, when it was of the
    /// same head.
    fn unary_lines(&self, head: &CallHead<'_>) -> Arc<UnaryLines> {
        let mut last = self.lines.lock().expect("lines lock");
        if let Some(lines) = last.as_ref().filter(|lines| lines.made_for(head)) {
            return lines.clone();
        }
        let (text, id) = header_lines(head, 0, None, false);
        let lines = Arc::new(UnaryLines {
            service: head.service.to_owned(),
            endpoint: head.endpoint.to_owned(),
            codec: head.codec,
            timeout: head.timeout,
            metadata: head.metadata.clone(),
            id: id.as_ref().map(|digits| digits.start),
            text: match id {
                // The id's place, without the id.
                Some(digits) => [&text[..digits.start], &text[digits.end..]].concat(),
                None => text,
            },
        });
        *last = Some(lines.clone());
        lines
    }

    /// Opens a go-micro stream on a new connection (go-micro never pools a stream's), and
    /// sends its first message, which only opens it: go-micro's server drops its body, so
    /// it is the empty message, as go-micro's generated clients send (spec §5).
    pub async fn open_stream(&self, head: &CallHead<'_>) -> Result<MucpStream, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let connection = self.dial().await?;
        let mut stream = StreamCall {
            prefix: self.prefix.clone(),
            header_lines: header_lines(head, id, Some(id), false).0,
            end_lines: header_lines(head, id, Some(id), true).0,
            connection,
            outgoing: BytesMut::new(),
            headers: Pairs::new(),
            sent_end: false,
            ended: false,
        };
        let empty: &[u8] = match head.codec {
            Codec::Json => b"{}\n",
            Codec::Protobuf => b"",
        };
        stream.queue(empty, false);
        stream.flush().await?;
        Ok(MucpStream::Stream(Box::new(stream)))
    }
}

/// The header lines after `Content-Length`, shaped like go-micro's minimal request (spec
/// §10.1): sorted by name, metadata in canonical form replacing a fixed header of the
/// same name; a stream's messages carry `Micro-Stream` too, its last `Micro-Error: EOS`
/// (spec §10.4). Built borrowing what it can; with where `Micro-Id`'s value is in them,
/// unless metadata replaced it.
fn header_lines(
    head: &CallHead<'_>,
    id: u64,
    stream: Option<u64>,
    end: bool,
) -> (Vec<u8>, Option<std::ops::Range<usize>>) {
    let content_type = head.codec.content_type();
    let text = |text: &'static str| Value::Text(Cow::Borrowed(text));
    let mut headers: Vec<(Cow<'_, str>, Value<'_>)> = Vec::with_capacity(12);
    headers.extend([
        ("Accept".into(), text(content_type)),
        ("Content-Type".into(), text(content_type)),
        ("Micro-Endpoint".into(), Value::Text(head.endpoint.into())),
        ("Micro-Id".into(), Value::Number(id)),
        ("Micro-Method".into(), Value::Text(head.endpoint.into())),
        ("Micro-Service".into(), Value::Text(head.service.into())),
    ]);
    if let Some(stream) = stream {
        headers.push(("Micro-Stream".into(), Value::Number(stream)));
    }
    if end {
        headers.push(("Micro-Error".into(), text("EOS")));
    }
    if let Some(timeout) = head.timeout {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        headers.push(("Timeout".into(), Value::Number(nanos)));
    }
    for (name, value) in head.metadata.iter() {
        let name = canonical_header_name(name);
        headers.retain(|(existing, _)| *existing != name);
        let value = if value.contains(['\r', '\n']) {
            Cow::Owned(value.replace(['\r', '\n'], " "))
        } else {
            Cow::Borrowed(value)
        };
        headers.push((name.into(), Value::Text(value)));
    }
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let mut lines = Vec::with_capacity(256);
    let mut id_at = None;
    for (name, value) in &headers {
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        let start = lines.len();
        match value {
            Value::Text(text) => lines.extend_from_slice(text.as_bytes()),
            Value::Number(number) => push_decimal(&mut lines, *number),
        }
        if name == "Micro-Id" && matches!(value, Value::Number(_)) {
            id_at = Some(start..lines.len());
        }
        lines.extend_from_slice(b"\r\n");
    }
    lines.extend_from_slice(b"\r\n");
    (lines, id_at)
}

/// A unary call's header lines, made once for the calls of the same head (a load's), its
/// `Micro-Id` value left out and put in per call.
struct UnaryLines {
    service: String,
    endpoint: String,
    codec: Codec,
    timeout: Option<Duration>,
    metadata: Metadata,
    text: Vec<u8>,
    /// Where in `text` the id goes (`None`: metadata set `Micro-Id`).
    id: Option<usize>,
}

impl UnaryLines {
    fn made_for(&self, head: &CallHead<'_>) -> bool {
        self.timeout == head.timeout
            && self.codec == head.codec
            && self.endpoint == head.endpoint
            && self.service == head.service
            && self.metadata == *head.metadata
    }

    /// The lines of call `id`.
    fn write(&self, out: &mut Vec<u8>, id: u64) {
        match self.id {
            Some(at) => {
                out.extend_from_slice(&self.text[..at]);
                push_decimal(out, id);
                out.extend_from_slice(&self.text[at..]);
            }
            None => out.extend_from_slice(&self.text),
        }
    }
}

/// A header's value: text, or a number written as it goes out.
enum Value<'a> {
    Text(Cow<'a, str>),
    Number(u64),
}

/// `number` in decimal, without the formatting machinery (twice per call).
fn push_decimal(out: &mut Vec<u8>, mut number: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (number % 10) as u8;
        number /= 10;
        if number == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// A whole request message: `prefix` (up to `Content-Length: `), the body's length, the
/// header lines and the body, in one buffer (one write).
fn request(prefix: &[u8], lines: &[u8], body: &[u8]) -> Vec<u8> {
    request_with(
        prefix,
        lines.len(),
        |out| out.extend_from_slice(lines),
        body,
    )
}

/// [`request`], the header lines (about `lines` bytes) written by `write_lines`.
fn request_with(
    prefix: &[u8],
    lines: usize,
    write_lines: impl FnOnce(&mut Vec<u8>),
    body: &[u8],
) -> Vec<u8> {
    let mut request = Vec::with_capacity(prefix.len() + 48 + lines + body.len());
    request.extend_from_slice(prefix);
    push_decimal(&mut request, body.len() as u64);
    request.extend_from_slice(b"\r\n");
    write_lines(&mut request);
    request.extend_from_slice(body);
    request
}

impl MucpCaller {
    async fn exchange(
        &self,
        request: &[u8],
        content_type: &str,
    ) -> Result<(RawHead, Bytes), CallError> {
        let taken = self.idle.lock().expect("idle lock").take();
        let mut connection = match taken {
            Some(connection) => connection,
            None => self.dial().await?,
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
) -> Result<(RawHead, Bytes), CallError> {
    connection
        .write_all(request)
        .await
        .map_err(|error| CallError::Transport(format!("sending the request: {error}")))?;
    let reply = match connection.read_response().await {
        Ok(reply) => reply,
        Err(ReadError::Malformed(_)) => {
            return Err(foreign_reply(connection.unconsumed(), "HTTP/1.1"))
        }
        Err(ReadError::Closed) => {
            return Err(CallError::HungUp(
                "the connection closed before a reply came".into(),
            ))
        }
        Err(error @ ReadError::TooLarge { .. }) => return Err(too_large(error)),
        Err(error) => return Err(CallError::Transport(error.to_string())),
    };
    let (code, reason) = reply.status().unwrap_or_default();
    if code != 200 {
        // go-micro's server answers every message 200 (spec §1.4), so this is another
        // HTTP server (or a proxy before one). go-micro's transport reports "<status
        // line>: <body>" (§1.3); a web page as the body is noise, so one line is shown.
        return Err(CallError::Transport(not_go_micro(
            code,
            reason,
            reply.header("Content-Type"),
            &reply.body,
        )));
    }
    if let Some(error) = reply
        .header("Micro-Error")
        .filter(|value| !value.is_empty())
    {
        return Err(CallError::Status(refused_as_plain(
            Status::from_micro_error(error),
        )));
    }
    if reply.header("Content-Type") == Some("text/plain") && content_type != "text/plain" {
        // A go-micro server refusing the codec answers in plain text (spec §2.3).
        return Err(CallError::Status(Status::from_micro_error(
            String::from_utf8_lossy(&reply.body).trim_end(),
        )));
    }
    Ok((reply.raw, reply.body))
}

/// A mucp call in flight: unary, or a go-micro stream.
// A unary call, the common case, is kept inline; a stream, rarer and larger, is boxed.
#[allow(clippy::large_enum_variant)]
pub enum MucpStream {
    Unary(UnaryCall),
    Stream(Box<StreamCall>),
}

impl MucpStream {
    pub async fn send(&mut self, message: Bytes) -> Result<(), CallError> {
        match self {
            MucpStream::Unary(call) => call.request.send(message),
            MucpStream::Stream(stream) => {
                if stream.sent_end {
                    return Err(CallError::Transport(
                        "the stream's requests were already ended".into(),
                    ));
                }
                stream.queue(&message, false);
                stream.flush().await
            }
        }
    }

    /// One request message, written by the next `progress` or `receive`
    /// ([`Stream::queue`](crate::protocol::Stream::queue)).
    pub fn queue(&mut self, message: Bytes, last: bool) -> Result<(), CallError> {
        match self {
            MucpStream::Unary(call) => call.request.send(message)?,
            MucpStream::Stream(stream) => {
                if stream.sent_end {
                    return Err(CallError::Transport(
                        "the stream's requests were already ended".into(),
                    ));
                }
                stream.queue(&message, false);
            }
        }
        if last {
            self.close_send();
        }
        Ok(())
    }

    /// Writes what was queued (`sending`), else receives. Cancel-safe.
    pub async fn progress(&mut self, sending: bool) -> Result<Progress, CallError> {
        match self {
            MucpStream::Stream(stream) if sending => stream.flush().await.map(|()| Progress::Sent),
            MucpStream::Unary(_) if sending => Ok(Progress::Sent),
            _ => self.receive().await.map(Progress::Received),
        }
    }

    /// Ends the requests: a stream's `Micro-Error: EOS` goes out with the next receive
    /// (go-micro has no half-close of its own; its server's `Recv` then sees the end).
    pub fn close_send(&mut self) {
        if let MucpStream::Stream(stream) = self {
            if !stream.sent_end {
                stream.queue(b"", true);
                stream.sent_end = true;
            }
        }
    }

    /// The next reply; `None` at the end. Cancel-safe.
    pub async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        match self {
            MucpStream::Unary(call) => call.receive().await,
            MucpStream::Stream(stream) => stream.receive().await,
        }
    }

    pub fn headers(&self) -> &Pairs {
        match self {
            MucpStream::Unary(call) => call.headers.get_or_init(|| call.head.pairs()),
            MucpStream::Stream(stream) => &stream.headers,
        }
    }

    /// The reply headers, moved out (a call that has ended); a unary reply's still as
    /// they came, made text only if read.
    pub fn take_headers(&mut self) -> Fields {
        match self {
            MucpStream::Unary(call) => match call.headers.take() {
                Some(pairs) => Fields::Pairs(pairs),
                None => Fields::Head(std::mem::take(&mut call.head)),
            },
            MucpStream::Stream(stream) => Fields::Pairs(std::mem::take(&mut stream.headers)),
        }
    }
}

/// One unary mucp call: one request message, one reply.
pub struct UnaryCall {
    caller: MucpCaller,
    lines: Arc<UnaryLines>,
    id: u64,
    content_type: &'static str,
    request: OneMessage,
    /// The reply's head as it came, and its headers once asked for.
    head: RawHead,
    headers: OnceLock<Pairs>,
}

impl UnaryCall {
    /// The reply, on the first call (which sends the request); then `None`. Cancel-safe.
    async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        let Some(body) = self.request.pending() else {
            return Ok(None);
        };
        let (lines, id) = (&self.lines, self.id);
        let request = request_with(
            &self.caller.prefix,
            lines.text.len(),
            |out| lines.write(out, id),
            &body,
        );
        let (head, body) = self.caller.exchange(&request, self.content_type).await?;
        self.request.answered();
        (self.head, self.headers) = (head, OnceLock::new());
        Ok(Some(body))
    }
}

/// A go-micro stream on its own connection. Messages to send wait in `outgoing`, written
/// with `write_buf`, which keeps what it has not written: so a receive dropped half-way
/// (in a select) loses nothing and repeats nothing.
pub struct StreamCall {
    prefix: Arc<[u8]>,
    header_lines: Vec<u8>,
    /// The headers of the last message, with `Micro-Error: EOS`.
    end_lines: Vec<u8>,
    connection: Connection,
    outgoing: BytesMut,
    headers: Pairs,
    /// Our `Micro-Error: EOS` is queued or sent.
    sent_end: bool,
    /// The server's end came.
    ended: bool,
}

impl StreamCall {
    fn queue(&mut self, body: &[u8], end: bool) {
        let lines = if end {
            &self.end_lines
        } else {
            &self.header_lines
        };
        self.outgoing
            .extend_from_slice(&request(&self.prefix, lines, body));
    }

    async fn flush(&mut self) -> Result<(), CallError> {
        use tokio::io::AsyncWriteExt;
        while !self.outgoing.is_empty() {
            match self.connection.writer().write_buf(&mut self.outgoing).await {
                Ok(0) | Err(_) if self.ended => {
                    // The server ended the stream and left: nothing more goes out.
                    self.outgoing.clear();
                }
                Ok(0) => {
                    return Err(CallError::Transport(
                        "the server closed the stream's connection".into(),
                    ))
                }
                Ok(_) => {}
                Err(error) => {
                    return Err(CallError::Transport(format!(
                        "sending a stream message: {error}"
                    )))
                }
            }
        }
        Ok(())
    }

    async fn receive(&mut self) -> Result<Option<Bytes>, CallError> {
        if self.ended {
            return Ok(None);
        }
        self.flush().await?;
        let reply = match self.connection.read_response().await {
            Ok(reply) => reply,
            Err(ReadError::Malformed(_)) => {
                return Err(foreign_reply(self.connection.unconsumed(), "HTTP/1.1"))
            }
            // A server may close once our requests have ended (go-micro v5.1+ does on an
            // EOS it no longer expects): the stream is over.
            Err(ReadError::Closed) if self.sent_end && self.outgoing.is_empty() => {
                self.ended = true;
                return Ok(None);
            }
            Err(ReadError::Closed) => {
                return Err(CallError::Transport(
                    "the connection closed before the stream's end came".into(),
                ))
            }
            Err(error @ ReadError::TooLarge { .. }) => return Err(too_large(error)),
            Err(error) => return Err(CallError::Transport(error.to_string())),
        };
        let (code, reason) = reply.status().unwrap_or_default();
        if code != 200 {
            let body = String::from_utf8_lossy(&reply.body);
            return Err(CallError::Transport(format!(
                "{code} {reason}: {}",
                body.trim_end()
            )));
        }
        if self.headers.is_empty() {
            self.headers = reply.raw.pairs();
        }
        match reply
            .header("Micro-Error")
            .filter(|value| !value.is_empty())
        {
            Some("EOS") => {
                self.ended = true;
                Ok(None)
            }
            // A go-micro handler that returns the `io.EOF` its `Recv` gave it after our
            // EOS: its server sends the error's text, which is our own end coming back.
            Some("EOF") if self.sent_end => {
                self.ended = true;
                Ok(None)
            }
            Some(error) => {
                self.ended = true;
                Err(CallError::Status(Status::from_micro_error(error)))
            }
            None => Ok(Some(reply.body)),
        }
    }
}

/// `rmicro serve` refused a plain request because the endpoint streams: this client sent
/// one because no schema it had said so, and the error says what would.
fn refused_as_plain(mut status: Status) -> Status {
    if status.code == Code::InvalidArgument
        && status.message.contains(super::PLAIN_REQUEST_TO_STREAM)
    {
        status.message.push_str(
            "; rmicro sent a plain request, as no schema it had said the endpoint streams: \
             pass the server's (--proto or --descriptor-set)",
        );
    }
    status
}

/// A reply over `--max-message-size` came whole, from a server that answered: it is not
/// retried (the handler ran), and the error names the flag.
fn too_large(error: ReadError) -> CallError {
    CallError::Status(Status::new(
        Code::ResourceExhausted,
        format!("the reply is too large: {error} (raise --max-message-size)"),
    ))
}

/// One line for a non-200 answer: its status, and its body only when that is one short
/// line of text (an error page's HTML is not shown).
fn not_go_micro(code: u16, reason: &str, content_type: Option<&str>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let shown = match content_type.unwrap_or_default() {
        kind if kind.contains("html") || text.starts_with('<') => format!(" ({kind})"),
        _ if text.is_empty() || text.contains('\n') || text.len() > 160 => String::new(),
        _ => format!(": {text}"),
    };
    format!(
        "{code} {reason}{shown}: an HTTP server, but not a go-micro service (those answer 200 with Micro-* headers); check the address, or use grpc:// or jsonrpc://"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Metadata;

    #[test]
    fn a_request_is_go_micros_minimal_shape_with_metadata_in_place() {
        let mut metadata = Metadata::new();
        metadata.push("micro-id", "mine");
        metadata.push("x-trace", "a\r\nb");
        let head = CallHead {
            service: "job",
            endpoint: "Job.CreateJob",
            path: "/job.Job/CreateJob",
            codec: Codec::Json,
            metadata: &metadata,
            timeout: Some(Duration::from_millis(1500)),
        };
        let caller = MucpCaller::new("127.0.0.1:8080", Duration::from_secs(1), 1 << 20);
        let (lines, _) = header_lines(&head, 7, Some(7), true);
        let request = request(&caller.prefix, &lines, b"{}");
        assert_eq!(
            String::from_utf8(request).unwrap(),
            format!(
                "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: rmicro/{}\r\nContent-Length: 2\r\n\
                 Accept: application/json\r\nContent-Type: application/json\r\n\
                 Micro-Endpoint: Job.CreateJob\r\nMicro-Error: EOS\r\nMicro-Id: mine\r\n\
                 Micro-Method: Job.CreateJob\r\nMicro-Service: job\r\nMicro-Stream: 7\r\n\
                 Timeout: 1500000000\r\nX-Trace: a  b\r\n\r\n{{}}",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn unary_lines_are_made_once_per_head_and_carry_each_calls_id() {
        let caller = MucpCaller::new("127.0.0.1:8080", Duration::from_secs(1), 1 << 20);
        let (plain, mut mine) = (Metadata::new(), Metadata::new());
        mine.push("micro-id", "mine");
        let head = |metadata, timeout| CallHead {
            service: "job",
            endpoint: "Job.CreateJob",
            path: "/job.Job/CreateJob",
            codec: Codec::Json,
            metadata,
            timeout: Some(Duration::from_millis(timeout)),
        };
        let lines_of = |head: &CallHead<'_>, id| {
            let mut out = Vec::new();
            caller.unary_lines(head).write(&mut out, id);
            String::from_utf8(out).unwrap()
        };
        let first = caller.unary_lines(&head(&plain, 1500));
        assert!(Arc::ptr_eq(
            &first,
            &caller.unary_lines(&head(&plain, 1500))
        ));
        for (head, id) in [
            (head(&plain, 1500), 41),
            (head(&plain, 1500), 1_000_000_007),
            (head(&plain, 900), 3),
            (head(&mine, 900), 4),
        ] {
            let (expected, _) = header_lines(&head, id, None, false);
            assert_eq!(lines_of(&head, id), String::from_utf8(expected).unwrap());
        }
        assert!(lines_of(&head(&mine, 900), 5).contains("Micro-Id: mine\r\n"));
        assert!(!Arc::ptr_eq(
            &first,
            &caller.unary_lines(&head(&plain, 900))
        ));
    }

    #[test]
    fn decimals() {
        for number in [0, 7, 10, 99, 1_000_000_007, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, number);
            assert_eq!(out, number.to_string().into_bytes());
        }
    }
}
