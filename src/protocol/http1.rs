//! HTTP/1.1 message framing for mucp, where each transport message is one HTTP message
//! (spec §1): reading requests and responses (Content-Length, chunked, or close-delimited
//! bodies) with httparse, and Go's header-name canonicalisation. No RPC meaning here.
//!
//! Reading is cancel-safe: bytes are consumed from the buffer only once a whole message
//! is there, so a reader can be raced against a shutdown signal.

use bytes::{Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

/// One HTTP message: headers with Go-canonical names, in arrival order, and the body.
#[derive(Debug)]
pub struct HttpMessage {
    pub start: StartLine,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
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
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("connection closed")]
    Closed,
    #[error("malformed HTTP message: {0}")]
    Malformed(String),
    #[error("message body of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    #[error("truncated message: the connection closed after {received} of {expected} body bytes")]
    Truncated { expected: usize, received: usize },
    #[error("{0}")]
    Io(#[from] io::Error),
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// A byte stream with a read buffer, speaking HTTP/1.1 messages.
pub struct HttpConnection<S> {
    stream: S,
    buffer: BytesMut,
    max_body: usize,
    at_eof: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConnection<S> {
    pub fn new(stream: S, max_body: usize) -> HttpConnection<S> {
        HttpConnection {
            stream,
            buffer: BytesMut::with_capacity(8 * 1024),
            max_body,
            at_eof: false,
        }
    }

    /// Wraps a stream whose first bytes were already read (protocol sniffing).
    pub fn with_buffered(stream: S, max_body: usize, buffered: BytesMut) -> HttpConnection<S> {
        HttpConnection {
            stream,
            buffer: buffered,
            max_body,
            at_eof: false,
        }
    }

    /// The largest body accepted.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// Bytes of a message that has started arriving but is not complete.
    pub fn has_partial_message(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// Reads whatever the peer has already sent without waiting; true when bytes came.
    /// Used when draining, so that a request already on its way is still served.
    pub async fn read_ready(&mut self) -> bool {
        // A zero timeout still polls the read once before it expires.
        match tokio::time::timeout(
            std::time::Duration::ZERO,
            self.stream.read_buf(&mut self.buffer),
        )
        .await
        {
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

    async fn read_message(&mut self, response: bool) -> Result<HttpMessage, ReadError> {
        loop {
            if !self.buffer.is_empty() {
                if let Some(message) = self.try_parse(response)? {
                    return Ok(message);
                }
            }
            if self.at_eof {
                return Err(self.eof_error(response));
            }
            if self.buffer.capacity() - self.buffer.len() < 4096 {
                self.buffer.reserve(8 * 1024);
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                self.at_eof = true;
            }
        }
    }

    fn eof_error(&self, response: bool) -> ReadError {
        if self.buffer.is_empty() {
            return ReadError::Closed;
        }
        // A close-delimited response body ends here; anything else is cut short.
        match parse_head(&self.buffer, response) {
            Ok(Some((head_len, _, _, Framing::Length(expected)))) => ReadError::Truncated {
                expected,
                received: self.buffer.len() - head_len,
            },
            Ok(Some(_)) => {
                ReadError::Malformed("the connection closed inside a chunked body".into())
            }
            Ok(None) => {
                ReadError::Malformed("the connection closed inside the message head".into())
            }
            Err(error) => error,
        }
    }

    /// Parses one whole message from the buffer, consuming it; `None` when more bytes are needed.
    fn try_parse(&mut self, response: bool) -> Result<Option<HttpMessage>, ReadError> {
        let Some((head_len, start, headers, framing)) = parse_head(&self.buffer, response)? else {
            if self.buffer.len() > MAX_HEAD {
                return Err(ReadError::Malformed(format!(
                    "message head larger than {MAX_HEAD} bytes"
                )));
            }
            return Ok(None);
        };
        let body = match framing {
            Framing::Length(length) => {
                if length > self.max_body {
                    return Err(ReadError::TooLarge {
                        size: length,
                        limit: self.max_body,
                    });
                }
                if self.buffer.len() < head_len + length {
                    return Ok(None);
                }
                let mut message = self.buffer.split_to(head_len + length);
                message.split_off(head_len).freeze()
            }
            Framing::Chunked => match decode_chunked(&self.buffer[head_len..], self.max_body)? {
                Some((consumed, body)) => {
                    let _ = self.buffer.split_to(head_len + consumed);
                    body
                }
                None => return Ok(None),
            },
            Framing::UntilClose => {
                if !self.at_eof {
                    if self.buffer.len() - head_len > self.max_body {
                        return Err(ReadError::TooLarge {
                            size: self.buffer.len() - head_len,
                            limit: self.max_body,
                        });
                    }
                    return Ok(None);
                }
                let mut message = self.buffer.split();
                message.split_off(head_len).freeze()
            }
        };
        Ok(Some(HttpMessage {
            start,
            headers,
            body,
        }))
    }
}

/// Length, status line or request line, headers, framing.
type Head = (usize, StartLine, Vec<(String, String)>, Framing);

fn parse_head(buffer: &[u8], response: bool) -> Result<Option<Head>, ReadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let malformed = |error: httparse::Error| ReadError::Malformed(error.to_string());
    let (head_len, status, raw_headers) = if response {
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(buffer).map_err(malformed)? {
            httparse::Status::Partial => return Ok(None),
            httparse::Status::Complete(length) => {
                let status = StartLine::Status(
                    parsed.code.unwrap_or(0),
                    parsed.reason.unwrap_or("").to_owned(),
                );
                (length, status, parsed.headers)
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
                (length, line, parsed.headers)
            }
        }
    };
    let mut headers = Vec::with_capacity(raw_headers.len());
    let mut framing = if response {
        Framing::UntilClose
    } else {
        Framing::Length(0)
    };
    for header in raw_headers.iter() {
        let value = std::str::from_utf8(header.value)
            .map_err(|_| ReadError::Malformed(format!("header {} is not UTF-8", header.name)))?;
        if header.name.eq_ignore_ascii_case("content-length") {
            if !matches!(framing, Framing::Chunked) {
                let length = value
                    .trim()
                    .parse()
                    .map_err(|_| ReadError::Malformed(format!("bad Content-Length {value:?}")))?;
                framing = Framing::Length(length);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
        }
        headers.push((canonical_header_name(header.name), value.to_owned()));
    }
    Ok(Some((head_len, status, headers, framing)))
}

/// Decodes a complete chunked body at the start of `data`: `(bytes consumed, body)`.
fn decode_chunked(data: &[u8], max_body: usize) -> Result<Option<(usize, Bytes)>, ReadError> {
    let mut body = Vec::new();
    let mut position = 0;
    loop {
        let (size_len, size) = match httparse::parse_chunk_size(&data[position..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(ReadError::Malformed("bad chunk size".into())),
        };
        position += size_len;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            loop {
                let Some(end) = data[position..].windows(2).position(|pair| pair == b"\r\n") else {
                    return Ok(None);
                };
                position += end + 2;
                if end == 0 {
                    return Ok(Some((position, body.into())));
                }
            }
        }
        if body.len().saturating_add(size) > max_body {
            return Err(ReadError::TooLarge {
                size: body.len().saturating_add(size),
                limit: max_body,
            });
        }
        if data.len() < position + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[position..position + size]);
        if &data[position + size..position + size + 2] != b"\r\n" {
            return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
        }
        position += size + 2;
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `micro-id` → `Micro-Id`. Names with bytes
/// outside the token set are returned unchanged, as Go does.
pub fn canonical_header_name(name: &str) -> String {
    let valid = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let mapped = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            mapped
        })
        .collect()
}

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

    #[test]
    fn canonicalises_like_go() {
        assert_eq!(canonical_header_name("micro-id"), "Micro-Id");
        assert_eq!(canonical_header_name("MICRO-ENDPOINT"), "Micro-Endpoint");
        assert_eq!(canonical_header_name("x-micro-error"), "X-Micro-Error");
        assert_eq!(canonical_header_name("bad name"), "bad name");
    }
}
