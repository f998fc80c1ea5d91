//! HTTP/1.1 message framing for mucp, where each transport message is one HTTP message
//! (spec §1): reading requests and responses (Content-Length, chunked, or close-delimited
//! bodies) with httparse, `100 Continue` for a request that expects it, the server's read
//! timeouts, and Go's header-name canonicalisation. No RPC meaning here.
//!
//! Request framing is strict where a lenient reader would let a proxy in front and this
//! server disagree on where a request ends (request smuggling, RFC 9112 §6): Content-Length
//! with Transfer-Encoding, Content-Lengths that differ or are not plain digits, and a
//! Transfer-Encoding whose last coding is not exactly `chunked` are refused.
//!
//! Reading is incremental and cancel-safe: what has been parsed (a head, a body's chunks so
//! far) is kept in the connection, not in the reading future, so a reader can be raced
//! against a shutdown signal and resumed, and no byte is parsed twice.

use super::Timeouts;
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest message head; also the largest trailer section of a chunked body.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;
/// All chunk extensions of one body together (hyper's limit): nobody sends them, and
/// each one is a line the server must scan without keeping.
const MAX_CHUNK_EXTENSIONS: usize = 16 * 1024;
/// The longest chunk size: 16 hex digits fill a u64.
const MAX_CHUNK_SIZE_DIGITS: usize = 16;
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a connection is in reading a message, for its timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No byte of the next message yet.
    Idle,
    Head,
    Body,
}

/// One HTTP message: headers with Go-canonical names, in arrival order, and the body.
/// On a connection that keeps response heads raw ([`HttpConnection::raw_response_heads`])
/// a response's headers are in `raw` instead, made pairs only when asked for.
#[derive(Debug)]
pub struct HttpMessage {
    pub start: StartLine,
    pub headers: Vec<(String, String)>,
    pub raw: RawHead,
    pub body: Bytes,
}

/// A message head as it came: its bytes, and where each header's name and value lie in
/// them. A client reads one or two headers of a reply; the rest are made text (with
/// Go-canonical names) only if asked for.
#[derive(Clone, Debug, Default)]
pub struct RawHead {
    bytes: Bytes,
    fields: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
}

impl RawHead {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| self.bytes[key.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, value)| self.text(value.clone()))
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The headers as they came (names as sent), in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (self.text(name.clone()), self.text(value.clone())))
    }

    /// The headers with Go-canonical names, in arrival order.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(name, value)| (canonical_header_name(name), value.to_owned()))
            .collect()
    }

    /// Names are tokens and values were checked to be UTF-8 when the head was read.
    fn text(&self, range: std::ops::Range<usize>) -> &str {
        std::str::from_utf8(&self.bytes[range]).unwrap_or_default()
    }
}

/// A response's status code and reason, or a request's method and path.
#[derive(Debug)]
pub enum StartLine {
    Status(u16, String),
    Request { method: String, path: String },
}

impl HttpMessage {
    /// The status code and reason of a response.
    pub fn status(&self) -> Option<(u16, &str)> {
        match &self.start {
            StartLine::Status(code, reason) => Some((*code, reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The method and path of a request.
    pub fn request_line(&self) -> Option<(&str, &str)> {
        match &self.start {
            StartLine::Request { method, path } => Some((method, path)),
            StartLine::Status(..) => None,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .or_else(|| self.raw.get(name))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("connection closed")]
    Closed,
    #[error("malformed HTTP message: {0}")]
    Malformed(String),
    /// A head, or a chunked body's trailer section, over the head limit.
    #[error("{0}")]
    HeadTooLarge(String),
    /// A transfer coding other than chunked.
    #[error("{0}")]
    Unsupported(String),
    #[error("message body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("truncated message: the connection closed after {received} of {expected} body bytes")]
    Truncated { expected: usize, received: usize },
    #[error("{}", timed_out(*.0))]
    TimedOut(Phase),
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn timed_out(phase: Phase) -> &'static str {
    match phase {
        Phase::Idle => "the connection was idle too long",
        Phase::Head => "the request head did not arrive in time (--header-timeout)",
        Phase::Body => "the request body did not arrive in time (--body-timeout)",
    }
}

impl ReadError {
    /// The HTTP status a server answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            ReadError::HeadTooLarge(_) => 431,
            ReadError::Unsupported(_) => 501,
            ReadError::TooLarge { .. } => 413,
            ReadError::TimedOut(_) => 408,
            _ => 400,
        }
    }
}

/// A message whose head has been read, waiting for its body.
struct Pending {
    start: StartLine,
    headers: Vec<(String, String)>,
    raw: RawHead,
    body: Body,
    /// Bytes of `100 Continue` still to write: the client holds its body back until then.
    continue_left: usize,
}

/// How a message's body is delimited, and a chunked body's decoding state.
enum Body {
    Length(usize),
    Chunked(ChunkedBody),
    UntilClose,
}

/// A byte stream with a read buffer, speaking HTTP/1.1 messages.
pub struct HttpConnection<S> {
    stream: S,
    buffer: BytesMut,
    max_body: usize,
    at_eof: bool,
    /// Bytes at the front of `buffer` already searched for the end of a head.
    head_scanned: usize,
    pending: Option<Pending>,
    timeouts: Timeouts,
    /// The phase the running deadline was set for, and the deadline.
    deadline: Option<(Phase, Instant)>,
    /// The declared length of a request body refused for its size, still to come.
    refused_body: Option<usize>,
    /// Responses' heads are kept raw (`HttpMessage::raw`).
    raw_response_heads: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConnection<S> {
    pub fn new(stream: S, max_body: usize) -> HttpConnection<S> {
        HttpConnection::with_buffered(stream, max_body, BytesMut::with_capacity(8 * 1024))
    }

    /// Wraps a stream whose first bytes were already read (protocol sniffing).
    pub fn with_buffered(stream: S, max_body: usize, buffered: BytesMut) -> HttpConnection<S> {
        HttpConnection {
            stream,
            buffer: buffered,
            max_body,
            at_eof: false,
            head_scanned: 0,
            pending: None,
            timeouts: Timeouts::default(),
            deadline: None,
            refused_body: None,
            raw_response_heads: false,
        }
    }

    /// The timeouts reading is bounded by.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Bounds the reading of each request; the current phase's clock started at `since`
    /// (for a new connection: when it was accepted).
    pub fn set_timeouts(&mut self, timeouts: Timeouts, since: Instant) {
        self.timeouts = timeouts;
        let phase = self.phase();
        self.deadline = self.limit(phase).map(|limit| (phase, since + limit));
    }

    /// The largest body accepted.
    /// Keeps the heads of the responses read raw (`HttpMessage::raw`), for a client that
    /// reads few of their headers.
    pub fn raw_response_heads(mut self) -> HttpConnection<S> {
        self.raw_response_heads = true;
        self
    }

    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Bytes of a message that has started arriving but is not complete.
    pub fn has_partial_message(&self) -> bool {
        !self.buffer.is_empty() || self.pending.is_some()
    }

    /// Reads whatever the peer has already sent without waiting; true when bytes came.
    /// Used when draining, so that a request already on its way is still served.
    pub async fn read_ready(&mut self) -> bool {
        // A zero timeout still polls the read once before it expires.
        match tokio::time::timeout(Duration::ZERO, self.stream.read_buf(&mut self.buffer)).await {
            Ok(Ok(0)) => {
                self.at_eof = true;
                false
            }
            Ok(Ok(_)) => true,
            _ => false,
        }
    }

    /// Resolves when the peer closes the connection (EOF or an error), to race against a
    /// request's handling: a client that leaves takes its call with it, as hyper does by
    /// default (no HTTP/1 half-close). What the peer sends meanwhile (a pipelined request)
    /// stays buffered for the next read, up to a whole message; then it waits.
    pub async fn closed(&mut self) {
        while !self.at_eof {
            if self.buffer.len() > MAX_HEAD + self.max_body {
                std::future::pending::<()>().await;
            }
            self.buffer.reserve(4096);
            if !matches!(self.stream.read_buf(&mut self.buffer).await, Ok(1..)) {
                self.at_eof = true;
            }
        }
    }

    /// The bytes received but not yet consumed (to tell what a non-HTTP peer sent).
    pub fn unconsumed(&self) -> &[u8] {
        &self.buffer
    }

    pub async fn read_request(&mut self) -> Result<HttpMessage, ReadError> {
        self.read_message(false).await
    }

    pub async fn read_response(&mut self) -> Result<HttpMessage, ReadError> {
        self.read_message(true).await
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// The stream, for a response written piece by piece (a chunked stream of replies).
    pub fn writer(&mut self) -> &mut S {
        &mut self.stream
    }

    /// After a request refused for its declared `Content-Length`: reads and drops that
    /// body — at most `bound` bytes, within `time` — so that the client, which writes its
    /// whole request before it reads the answer, can finish and read the refusal, instead
    /// of meeting a reset. True when the whole body went (a client that waits for `100
    /// Continue` sends none, and there is nothing to drop).
    pub async fn discard_refused_body(&mut self, bound: usize, time: Duration) -> bool {
        let Some(mut left) = self.refused_body.take() else {
            return false;
        };
        if left > bound {
            return false;
        }
        let buffered = left.min(self.buffer.len());
        self.buffer.advance(buffered);
        left -= buffered;
        let mut sink = vec![0u8; 64 * 1024];
        let discard = async {
            while left > 0 {
                let want = left.min(sink.len());
                match self.stream.read(&mut sink[..want]).await {
                    Ok(0) | Err(_) => return false,
                    Ok(count) => left -= count,
                }
            }
            true
        };
        tokio::time::timeout(time, discard).await.unwrap_or(false)
    }

    /// Ends the connection after an error reply sent before the request was read whole:
    /// the reply is flushed and the write side shut, then what the client still sends is
    /// read and dropped for a moment, so that closing with unread input does not reset the
    /// connection and destroy the reply before the client reads it.
    pub async fn linger(mut self) {
        let _ = self.stream.shutdown().await;
        crate::protocol::drain(&mut self.stream).await;
    }

    async fn read_message(&mut self, response: bool) -> Result<HttpMessage, ReadError> {
        loop {
            if let Some(message) = self.advance(response)? {
                // The next message's clock starts when it is asked for.
                self.deadline = None;
                return Ok(message);
            }
            if self.pending.as_ref().is_some_and(|p| p.continue_left > 0) {
                self.write_continue().await?;
            }
            if self.at_eof {
                return Err(self.eof_error(response));
            }
            if self.buffer.capacity() - self.buffer.len() < 4096 {
                self.buffer.reserve(8 * 1024);
            }
            let phase = self.phase();
            let read = super::within(self.deadline(), self.stream.read_buf(&mut self.buffer))
                .await
                .ok_or(ReadError::TimedOut(phase))??;
            if read == 0 {
                self.at_eof = true;
            }
        }
    }

    /// Writes what is left of `100 Continue`, counting what went out, so a write that is
    /// cancelled half-way is finished by the next read rather than repeated.
    async fn write_continue(&mut self) -> Result<(), ReadError> {
        let phase = self.phase();
        let deadline = self.deadline();
        let write = async {
            while let Some(pending) = self.pending.as_mut().filter(|p| p.continue_left > 0) {
                let from = CONTINUE.len() - pending.continue_left;
                let written = self.stream.write(&CONTINUE[from..]).await?;
                if written == 0 {
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
                pending.continue_left -= written;
            }
            self.stream.flush().await
        };
        super::within(deadline, write)
            .await
            .ok_or(ReadError::TimedOut(phase))??;
        Ok(())
    }

    fn phase(&self) -> Phase {
        if self.pending.is_some() {
            Phase::Body
        } else if self.buffer.is_empty() {
            Phase::Idle
        } else {
            Phase::Head
        }
    }

    fn limit(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::Idle => self.timeouts.idle,
            Phase::Head => self.timeouts.header,
            Phase::Body => self.timeouts.body,
        }
    }

    /// The deadline of the current phase, started when the phase was first seen.
    fn deadline(&mut self) -> Option<Instant> {
        let phase = self.phase();
        if let Some((armed, deadline)) = self.deadline {
            if armed == phase {
                return Some(deadline);
            }
        }
        let deadline = Instant::now() + self.limit(phase)?;
        self.deadline = Some((phase, deadline));
        Some(deadline)
    }

    fn eof_error(&self, response: bool) -> ReadError {
        match &self.pending {
            Some(Pending {
                body: Body::Length(expected),
                ..
            }) => ReadError::Truncated {
                expected: *expected,
                received: self.buffer.len(),
            },
            Some(_) => ReadError::Malformed("the connection closed inside a chunked body".into()),
            None if self.buffer.is_empty() => ReadError::Closed,
            None => match parse_head(&self.buffer, response, false) {
                Err(error) => error,
                Ok(_) => {
                    ReadError::Malformed("the connection closed inside the message head".into())
                }
            },
        }
    }

    /// Parses what the buffer holds, consuming it; a whole message, or `None` when more
    /// bytes are needed.
    fn advance(&mut self, response: bool) -> Result<Option<HttpMessage>, ReadError> {
        if self.pending.is_none() && !self.read_head(response)? {
            return Ok(None);
        }
        let Some(pending) = self.pending.as_mut() else {
            return Ok(None);
        };
        let body = match &mut pending.body {
            Body::Length(length) => {
                if self.buffer.len() < *length {
                    return Ok(None);
                }
                self.buffer.split_to(*length).freeze()
            }
            Body::Chunked(chunked) => match chunked.advance(&mut self.buffer, self.max_body)? {
                Some(body) => body,
                None => return Ok(None),
            },
            Body::UntilClose => {
                if !self.at_eof {
                    if self.buffer.len() > self.max_body {
                        return Err(ReadError::TooLarge {
                            size: self.buffer.len(),
                            limit: self.max_body,
                        });
                    }
                    return Ok(None);
                }
                self.buffer.split().freeze()
            }
        };
        let Some(Pending {
            start,
            headers,
            raw,
            ..
        }) = self.pending.take()
        else {
            unreachable!("a body was read for a pending head");
        };
        Ok(Some(HttpMessage {
            start,
            headers,
            raw,
            body,
        }))
    }

    /// Parses and consumes a head once the buffer holds one; false when more bytes are
    /// needed. httparse runs only on the first bytes (to refuse a peer that is not HTTP at
    /// once) and when a blank line has arrived, so a head sent a byte at a time is not
    /// parsed again at every byte.
    fn read_head(&mut self, response: bool) -> Result<bool, ReadError> {
        // Blank lines before a request line are ignored (RFC 9112 §2.2).
        while self.head_scanned == 0 {
            if self.buffer.starts_with(b"\r\n") {
                self.buffer.advance(2);
            } else if self.buffer.starts_with(b"\n") {
                self.buffer.advance(1);
            } else {
                break;
            }
        }
        if self.buffer.is_empty() || self.buffer[..] == b"\r"[..] {
            return Ok(false);
        }
        // A head is parsed on its first look, then only once its blank line has come.
        let from = self.head_scanned.saturating_sub(2);
        let unfinished = self.head_scanned > 0 && !find_head_end(&self.buffer[from..]);
        self.head_scanned = self.buffer.len();
        if unfinished {
            return self.head_within_limit();
        }
        let raw = response && self.raw_response_heads;
        let Some((head_len, start, headers, fields, framing, expects_continue)) =
            parse_head(&self.buffer, response, raw)?
        else {
            return self.head_within_limit();
        };
        if head_len > MAX_HEAD {
            return Err(head_too_large());
        }
        let raw = if raw {
            RawHead {
                bytes: self.buffer.split_to(head_len).freeze(),
                fields,
            }
        } else {
            self.buffer.advance(head_len);
            RawHead::default()
        };
        self.head_scanned = 0;
        let body = match framing {
            Body::Length(length) if length > self.max_body => {
                self.refused_body = (!expects_continue).then_some(length);
                return Err(ReadError::TooLarge {
                    size: length,
                    limit: self.max_body,
                });
            }
            body => body,
        };
        let needs_body = !matches!(body, Body::Length(0));
        self.pending = Some(Pending {
            start,
            headers,
            raw,
            body,
            continue_left: if expects_continue && needs_body {
                CONTINUE.len()
            } else {
                0
            },
        });
        Ok(true)
    }

    fn head_within_limit(&self) -> Result<bool, ReadError> {
        match self.buffer.len() > MAX_HEAD {
            true => Err(head_too_large()),
            false => Ok(false),
        }
    }
}

fn head_too_large() -> ReadError {
    ReadError::HeadTooLarge(format!("message head larger than {MAX_HEAD} bytes"))
}

/// Whether `bytes` hold the blank line that ends a head (`\n\n` or `\n\r\n`).
fn find_head_end(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|two| two == b"\n\n") || bytes.windows(3).any(|three| three == b"\n\r\n")
}

/// Length, status line or request line, headers (or, kept raw, where they lie in the
/// head), framing, whether the client waits for `100 Continue`.
type Head = (
    usize,
    StartLine,
    Vec<(String, String)>,
    Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    Body,
    bool,
);

fn parse_head(buffer: &[u8], response: bool, raw: bool) -> Result<Option<Head>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let malformed = |error: httparse::Error| match error {
        httparse::Error::TooManyHeaders => {
            ReadError::HeadTooLarge(format!("more than {MAX_HEADERS} header fields"))
        }
        error => ReadError::Malformed(error.to_string()),
    };
    let (head_len, status, version, raw_headers) = if response {
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(buffer).map_err(malformed)? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(length) => {
                let status = StartLine::Status(
                    parsed.code.unwrap_or(0),
                    parsed.reason.unwrap_or("").to_owned(),
                );
                (length, status, parsed.version, parsed.headers)
            }
        }
    } else {
        let mut parsed = httparse::Request::new(&mut slots);
        match parsed.parse(buffer).map_err(malformed)? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(length) => {
                let line = StartLine::Request {
                    method: parsed.method.unwrap_or("").to_owned(),
                    path: parsed.path.unwrap_or("").to_owned(),
                };
                (length, line, parsed.version, parsed.headers)
            }
        }
    };
    let http_1_0 = version == Some(0);
    let (mut headers, mut fields) = (Vec::new(), Vec::new());
    if raw {
        fields.reserve(raw_headers.len());
    } else {
        headers.reserve(raw_headers.len());
    }
    let within = |part: &[u8]| {
        let from = part.as_ptr() as usize - buffer.as_ptr() as usize;
        from..from + part.len()
    };
    let mut expects_continue = false;
    let not_utf8 = |name: &str| ReadError::Malformed(format!("header {name} is not UTF-8"));
    for header in raw_headers.iter() {
        if raw {
            // Only responses are kept raw: no `Expect` to look for. Most values are ASCII,
            // told apart faster than UTF-8 is checked.
            if !header.value.is_ascii() {
                std::str::from_utf8(header.value).map_err(|_| not_utf8(header.name))?;
            }
            fields.push((within(header.name.as_bytes()), within(header.value)));
            continue;
        }
        let value = std::str::from_utf8(header.value).map_err(|_| not_utf8(header.name))?;
        if !response && !http_1_0 && header.name.eq_ignore_ascii_case("expect") {
            expects_continue |= value.trim().eq_ignore_ascii_case("100-continue");
        }
        headers.push((canonical_header_name(header.name), value.to_owned()));
    }
    let framing = framing(
        raw_headers.iter().map(|header| (header.name, header.value)),
        response,
        http_1_0,
    )?;
    Ok(Some((
        head_len,
        status,
        headers,
        fields,
        framing,
        expects_continue,
    )))
}

/// How the body of a message is delimited (RFC 9112 §6.3). A request whose framing two
/// readers could disagree on is refused rather than guessed at.
fn framing<'a>(
    headers: impl Iterator<Item = (&'a str, &'a [u8])>,
    response: bool,
    http_1_0: bool,
) -> Result<Body, ReadError> {
    let mut length: Option<u64> = None;
    let mut codings: Vec<String> = Vec::new();
    let mut transfer_encoding = false;
    // Values were checked to be UTF-8 as the head was read.
    let text = |value| std::str::from_utf8(value).unwrap_or_default();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("content-length") {
            let value = text(value);
            // A list of equal values may be taken as one (RFC 9110 §8.6); nothing else.
            for item in value.split(',') {
                let item = item.trim_matches([' ', '\t']);
                let parsed = Some(item)
                    .filter(|item| !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|item| item.parse::<u64>().ok())
                    .ok_or_else(|| ReadError::Malformed(format!("bad Content-Length {value:?}")))?;
                if length.is_some_and(|seen| seen != parsed) {
                    return Err(ReadError::Malformed(
                        "Content-Length values that differ".into(),
                    ));
                }
                length = Some(parsed);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            codings.extend(
                text(value)
                    .split(',')
                    .map(|coding| coding.trim_matches([' ', '\t']).to_ascii_lowercase())
                    .filter(|coding| !coding.is_empty()),
            );
        }
    }
    let chunked_last = codings.last().is_some_and(|coding| coding == "chunked");
    if !transfer_encoding {
        return Ok(match length {
            Some(length) => Body::Length(usize::try_from(length).unwrap_or(usize::MAX)),
            None if response => Body::UntilClose,
            None => Body::Length(0),
        });
    }
    if response {
        // Transfer-Encoding overrides Content-Length; without chunked last, the body runs
        // to the close (§6.3 items 3 and 4).
        return Ok(match chunked_last {
            true => Body::Chunked(ChunkedBody::default()),
            false => Body::UntilClose,
        });
    }
    let codings_text = || codings.join(", ");
    if length.is_some() {
        return Err(ReadError::Malformed(
            "both Transfer-Encoding and Content-Length".into(),
        ));
    }
    if http_1_0 {
        return Err(ReadError::Malformed(
            "Transfer-Encoding in an HTTP/1.0 request".into(),
        ));
    }
    if !chunked_last {
        return Err(ReadError::Malformed(format!(
            "Transfer-Encoding {:?} does not end in chunked",
            codings_text()
        )));
    }
    if codings.iter().filter(|coding| *coding == "chunked").count() > 1 {
        return Err(ReadError::Malformed(format!(
            "Transfer-Encoding {:?} applies chunked twice",
            codings_text()
        )));
    }
    if codings.len() > 1 {
        return Err(ReadError::Unsupported(format!(
            "transfer coding {:?} is not supported (only chunked)",
            codings_text()
        )));
    }
    Ok(Body::Chunked(ChunkedBody::default()))
}

/// A chunked body (RFC 9112 §7.1) decoded as its bytes arrive: each byte is looked at
/// once, data is moved out of the read buffer as it comes, and the size lines' extensions
/// and the trailer section (both dropped) are bounded.
#[derive(Default)]
struct ChunkedBody {
    state: ChunkState,
    body: BytesMut,
    /// Bytes at the front of the buffer already searched for the current line's end.
    scanned: usize,
    extensions: usize,
    trailers: usize,
}

#[derive(Default)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

impl ChunkedBody {
    fn advance(
        &mut self,
        buffer: &mut BytesMut,
        max_body: usize,
    ) -> Result<Option<Bytes>, ReadError> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let limit = MAX_CHUNK_SIZE_DIGITS
                        + MAX_CHUNK_EXTENSIONS.saturating_sub(self.extensions);
                    let Some(line) = self.line(buffer, limit, || {
                        ReadError::Malformed(format!(
                            "chunk size line too long (chunk extensions are limited to {MAX_CHUNK_EXTENSIONS} bytes per body)"
                        ))
                    })?
                    else {
                        return Ok(None);
                    };
                    let size = self.chunk_size(&line)?;
                    if size == 0 {
                        self.state = ChunkState::Trailers;
                        continue;
                    }
                    let total = (self.body.len() as u64).saturating_add(size);
                    if total > max_body as u64 {
                        return Err(ReadError::TooLarge {
                            size: usize::try_from(total).unwrap_or(usize::MAX),
                            limit: max_body,
                        });
                    }
                    self.state = ChunkState::Data(size);
                }
                ChunkState::Data(left) => {
                    if buffer.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(buffer.len());
                    self.body.extend_from_slice(&buffer[..take]);
                    buffer.advance(take);
                    self.state = match left - take as u64 {
                        0 => ChunkState::DataEnd,
                        left => ChunkState::Data(left),
                    };
                }
                ChunkState::DataEnd => {
                    if buffer.len() < 2 {
                        return Ok(None);
                    }
                    if &buffer[..2] != b"\r\n" {
                        return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
                    }
                    buffer.advance(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let limit = MAX_HEAD - self.trailers;
                    let Some(line) = self.line(buffer, limit, || {
                        ReadError::HeadTooLarge(format!(
                            "trailer section larger than {MAX_HEAD} bytes"
                        ))
                    })?
                    else {
                        return Ok(None);
                    };
                    // Trailer fields are read past, not kept: nothing here uses them.
                    self.trailers += line.len() + 2;
                    if line.is_empty() {
                        return Ok(Some(std::mem::take(&mut self.body).freeze()));
                    }
                }
            }
        }
    }

    /// Takes one CRLF-ended line off the buffer (without its CRLF); `None` until it is
    /// whole. A line longer than `limit` bytes is `too_long`; a bare CR or LF is malformed.
    fn line(
        &mut self,
        buffer: &mut BytesMut,
        limit: usize,
        too_long: impl Fn() -> ReadError,
    ) -> Result<Option<BytesMut>, ReadError> {
        let searched = buffer.len().min(limit + 2);
        let Some(end) = buffer[self.scanned..searched]
            .iter()
            .position(|&byte| byte == b'\n')
            .map(|at| self.scanned + at)
        else {
            self.scanned = searched;
            return match buffer.len() >= limit + 2 {
                true => Err(too_long()),
                false => Ok(None),
            };
        };
        self.scanned = 0;
        let mut line = buffer.split_to(end + 1);
        line.truncate(end);
        match line.split_last() {
            Some((b'\r', rest)) if !rest.contains(&b'\r') => line.truncate(end - 1),
            _ => {
                return Err(ReadError::Malformed(
                    "a bare CR or LF in chunked framing".into(),
                ))
            }
        }
        Ok(Some(line))
    }

    /// `1*HEXDIG [ BWS ";" extensions ]`, the extensions counted and ignored.
    fn chunk_size(&mut self, line: &[u8]) -> Result<u64, ReadError> {
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let bad = || {
            ReadError::Malformed(format!(
                "bad chunk size {:?}",
                line.escape_ascii().to_string()
            ))
        };
        if digits == 0 || digits > MAX_CHUNK_SIZE_DIGITS {
            return Err(bad());
        }
        let rest = &line[digits..];
        let extension = rest.trim_ascii_start();
        if !extension.is_empty() && extension[0] != b';' {
            return Err(bad());
        }
        self.extensions += rest.len();
        if self.extensions > MAX_CHUNK_EXTENSIONS {
            return Err(ReadError::Malformed(format!(
                "chunk extensions longer than {MAX_CHUNK_EXTENSIONS} bytes"
            )));
        }
        let digits = std::str::from_utf8(&line[..digits]).map_err(|_| bad())?;
        u64::from_str_radix(digits, 16).map_err(|_| bad())
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `micro-id` → `Micro-Id`. Names with bytes
/// outside the token set are returned unchanged, as Go does.
pub fn canonical_header_name(name: &str) -> String {
    // Every header of every call and reply comes here; most are canonical already (Go
    // sends them so), and are copied as they are.
    let (mut upper, mut token, mut canonical) = (true, true, true);
    for &byte in name.as_bytes() {
        token &= is_token(byte);
        canonical &= if upper {
            !byte.is_ascii_lowercase()
        } else {
            !byte.is_ascii_uppercase()
        };
        upper = byte == b'-';
    }
    if !token || canonical {
        return name.to_owned();
    }
    let mut upper = true;
    name.bytes()
        .map(|byte| {
            let mapped = if upper {
                byte.to_ascii_uppercase()
            } else {
                byte.to_ascii_lowercase()
            };
            upper = byte == b'-';
            char::from(mapped)
        })
        .collect()
}

/// A byte of an HTTP token (RFC 9110 §5.6.2), as a header name is made of.
fn is_token(byte: u8) -> bool {
    TOKEN[usize::from(byte)]
}

const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], max_body: usize) -> Result<HttpMessage, ReadError> {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        client.write_all(bytes).await.unwrap();
        drop(client);
        HttpConnection::new(server, max_body).read_request().await
    }

    #[tokio::test]
    async fn reads_content_length_and_chunked_bodies() {
        let message = read(
            b"POST / HTTP/1.1\r\nhost: x\r\nContent-Length: 3\r\n\r\nabc",
            100,
        )
        .await
        .unwrap();
        assert_eq!(&message.body[..], b"abc");
        assert_eq!(message.headers[0].0, "Host");
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(&read(chunked, 100).await.unwrap().body[..], b"abcde");
        let empty = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert!(read(empty, 100).await.unwrap().body.is_empty());
    }

    #[tokio::test]
    async fn reports_truncation_size_and_garbage() {
        let truncated = read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 100)
            .await
            .unwrap_err();
        assert!(
            matches!(
                truncated,
                ReadError::Truncated {
                    expected: 10,
                    received: 3
                }
            ),
            "{truncated}"
        );
        let large = read(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 100)
            .await
            .unwrap_err();
        assert!(
            matches!(
                large,
                ReadError::TooLarge {
                    size: 101,
                    limit: 100
                }
            ),
            "{large}"
        );
        assert!(matches!(
            read(b"\x00\x01garbage\r\n\r\n", 100).await.unwrap_err(),
            ReadError::Malformed(_)
        ));
        assert!(matches!(
            read(b"", 100).await.unwrap_err(),
            ReadError::Closed
        ));
    }

    const CHUNKED_HEAD: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";

    #[tokio::test]
    async fn chunk_lines_are_strict() {
        for (body, accepted) in [
            (&b"3 ;a=b\r\nabc\r\n0\r\n\r\n"[..], Some(&b"abc"[..])),
            (
                b"00000000000000C\r\n0123456789\r\n\r\n0\r\nX: y\r\n\r\n",
                Some(b"0123456789\r\n"),
            ),
            (b"3\nabc\r\n0\r\n\r\n", None),
            (b";x\r\nabc\r\n0\r\n\r\n", None),
            (b"3x\r\nabc\r\n0\r\n\r\n", None),
            (b"00000000000000003\r\nabc\r\n0\r\n\r\n", None),
            (b"3\r\nabcd\r\n0\r\n\r\n", None),
            (b"3\r\nabc\r\n0\r\nX: a\rb\r\n\r\n", None),
            (b"3\r\nabc\r\n0\r\n\n", None),
        ] {
            let mut request = CHUNKED_HEAD.to_vec();
            request.extend_from_slice(body);
            let result = read(&request, 100).await;
            let shown = body.escape_ascii().to_string();
            match accepted {
                Some(expected) => assert_eq!(&result.unwrap().body[..], expected, "{shown}"),
                None => assert!(
                    matches!(result, Err(ReadError::Malformed(_))),
                    "{shown}: {result:?}"
                ),
            }
        }
    }

    /// The bytes of a chunked body leave the read buffer as they arrive: the buffer never
    /// holds more than what came since the last parse, however long the body.
    #[tokio::test]
    async fn a_chunked_body_is_parsed_as_it_arrives() {
        let (mut client, server) = tokio::io::duplex(4096);
        let mut connection = HttpConnection::new(server, 1 << 20);
        let sending = async {
            client.write_all(CHUNKED_HEAD).await.unwrap();
            for _ in 0..200 {
                client.write_all(b"3e8\r\n").await.unwrap();
                client.write_all(&[b'x'; 1000]).await.unwrap();
                client.write_all(b"\r\n").await.unwrap();
            }
        };
        tokio::select! {
            read = connection.read_request() => panic!("no last chunk yet: {read:?}"),
            () = sending => {}
        }
        assert!(connection.has_partial_message());
        assert!(
            connection.unconsumed().len() <= 8 * 1024,
            "{} bytes kept unparsed",
            connection.unconsumed().len()
        );
        // The reading, cancelled, resumes where it stopped.
        let finishing = async {
            client
                .write_all(b"0\r\nTrailer: yes\r\n\r\n")
                .await
                .unwrap();
        };
        let (message, ()) = tokio::join!(connection.read_request(), finishing);
        assert_eq!(message.unwrap().body.len(), 200_000);
    }

    /// Requests sent one byte at a time, the reader cancelled between bytes, are read
    /// as when sent whole.
    #[tokio::test]
    async fn requests_arrive_a_byte_at_a_time() {
        let (mut client, server) = tokio::io::duplex(1);
        let mut connection = HttpConnection::new(server, 100);
        let bytes = b"\r\nPOST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nde\r\n0\r\n\r\n";
        let mut messages = Vec::new();
        for &byte in bytes.iter() {
            client.write_all(&[byte]).await.unwrap();
            if let Ok(read) =
                tokio::time::timeout(Duration::from_millis(1), connection.read_request()).await
            {
                messages.push(read.unwrap());
            }
        }
        let seen: Vec<_> = messages
            .iter()
            .map(|message| {
                (
                    message.request_line().unwrap().1.to_owned(),
                    message.body.clone(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("/a".to_owned(), Bytes::from("abc")),
                ("/b".to_owned(), Bytes::from("de"))
            ]
        );
    }

    #[tokio::test]
    async fn trailers_and_extensions_are_bounded() {
        let mut trailers = CHUNKED_HEAD.to_vec();
        trailers.extend_from_slice(b"0\r\n");
        for _ in 0..70 {
            trailers.extend_from_slice(format!("X: {}\r\n", "t".repeat(1000)).as_bytes());
        }
        trailers.extend_from_slice(b"\r\n");
        let error = read(&trailers, 100).await.unwrap_err();
        assert!(matches!(error, ReadError::HeadTooLarge(_)), "{error:?}");
        assert_eq!(error.http_status(), 431);

        let mut extension = CHUNKED_HEAD.to_vec();
        extension.extend_from_slice(
            format!("1;{}\r\nx\r\n0\r\n\r\n", "e".repeat(MAX_CHUNK_EXTENSIONS)).as_bytes(),
        );
        let error = read(&extension, 100).await.unwrap_err();
        assert!(matches!(error, ReadError::Malformed(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_response_head_kept_raw_reads_as_the_pairs_would() {
        let (mut server, client) = tokio::io::duplex(1 << 16);
        server
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nMicro-Id: 7\r\nx-micro-ERROR: \r\n\r\nok\
                  HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nmicro-error: EOS\r\n\r\n1\r\nx\r\n0\r\n\r\n",
            )
            .await
            .unwrap();
        let mut connection = HttpConnection::new(client, 1 << 20).raw_response_heads();
        let first = connection.read_response().await.unwrap();
        assert!(first.headers.is_empty());
        assert_eq!(first.status(), Some((200, "OK")));
        assert_eq!(first.header("Micro-Id"), Some("7"));
        assert_eq!(first.header("X-Micro-Error"), Some(""));
        assert_eq!(first.header("Content-Type"), None);
        assert_eq!(
            first.raw.pairs(),
            [
                ("Content-Length", "2"),
                ("Micro-Id", "7"),
                ("X-Micro-Error", "")
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
        assert_eq!(&first.body[..], b"ok");
        let second = connection.read_response().await.unwrap();
        assert_eq!(second.header("Micro-Error"), Some("EOS"));
        assert_eq!(&second.body[..], b"x");
        // A value that is not UTF-8 is refused as it is when the head is made text.
        server
            .write_all(b"HTTP/1.1 200 OK\r\nX-Bad: caf\xe9\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let error = connection.read_response().await.unwrap_err();
        assert!(
            error.to_string().contains("header X-Bad is not UTF-8"),
            "{error}"
        );
    }

    #[test]
    fn canonicalises_like_go() {
        assert_eq!(canonical_header_name("micro-id"), "Micro-Id");
        assert_eq!(canonical_header_name("MICRO-ENDPOINT"), "Micro-Endpoint");
        assert_eq!(canonical_header_name("x-micro-error"), "X-Micro-Error");
        assert_eq!(canonical_header_name("bad name"), "bad name");
        assert_eq!(canonical_header_name("Content-Type"), "Content-Type");
        assert_eq!(canonical_header_name("content-TYPE"), "Content-Type");
        assert_eq!(canonical_header_name("x--y"), "X--Y");
        assert_eq!(canonical_header_name("-a"), "-A");
    }
}
