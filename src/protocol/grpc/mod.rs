//! gRPC over HTTP/2 (h2c on the shared port): message framing (a compressed flag and a
//! 4-byte big-endian length before each message, gzip both ways), `grpc-timeout`, and
//! `grpc-message` percent-encoding. The server front end is `server` (reflection and
//! health built in), the caller `client`.

pub mod builtin;
pub mod client;
pub mod server;

use crate::codec::Codec;
use crate::protocol::wire::names;
use crate::status::{Code, Status};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::HeaderValue;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::time::Duration;

/// The length-prefix of every message.
const PREFIX: usize = 5;

/// The codec a gRPC `content-type` names: `application/grpc` (+proto) or +json.
pub fn codec_of(content_type: &str) -> Option<Codec> {
    let subtype = content_type.strip_prefix("application/grpc")?;
    match subtype.split(';').next().unwrap_or("") {
        "" | "+proto" => Some(Codec::Protobuf),
        "+json" => Some(Codec::Json),
        _ => None,
    }
}

pub fn content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "application/grpc",
        Codec::Json => "application/grpc+json",
    }
}

/// One message with its length prefix, gzipped (compressed flag set) when `gzip`.
pub fn frame(message: &[u8], gzip: bool) -> Bytes {
    if gzip {
        return frame_gzip(message);
    }
    let mut framed = BytesMut::with_capacity(PREFIX + message.len());
    framed.put_u8(0);
    framed.put_u32(message.len() as u32);
    framed.put_slice(message);
    framed.freeze()
}

/// One message gzipped, with the compressed flag and the compressed length.
fn frame_gzip(message: &[u8]) -> Bytes {
    let mut encoder =
        flate2::write::GzEncoder::new(vec![1, 0, 0, 0, 0], flate2::Compression::fast());
    encoder
        .write_all(message)
        .expect("writing to memory cannot fail");
    let mut framed = encoder.finish().expect("writing to memory cannot fail");
    let length = (framed.len() - PREFIX) as u32;
    framed[1..PREFIX].copy_from_slice(&length.to_be_bytes());
    framed.into()
}

/// The largest last message [`send_data`] sends without waiting for window.
const SMALL_LAST_MESSAGE: usize = 16 * 1024;

/// Sends `data` on an HTTP/2 stream as the peer's flow-control window lets it through,
/// in pieces of what h2 grants, ending the stream with the last piece when `end`. h2
/// buffers whatever `send_data` is given, window or not, so a peer that never opens its
/// window would make the sender hold every message: here the sender waits instead. When
/// the window is already open this completes without waiting (h2 assigns capacity
/// inside `reserve_capacity`). Fails with h2's error, or `None` when the stream can no
/// longer send (reset, or its connection gone).
pub async fn send_data(
    stream: &mut h2::SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
) -> Result<(), Option<h2::Error>> {
    // A small last message goes straight out (h2 holds it until the peer's window lets
    // it through): one message, so nothing grows, and no turn waiting for capacity.
    if end && data.len() <= SMALL_LAST_MESSAGE {
        return stream.send_data(data, true).map_err(Some);
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let granted = std::future::poll_fn(|context| stream.poll_capacity(context)).await;
        let granted = granted.ok_or(None)?.map_err(Some)?;
        let piece = data.split_to(granted.min(data.len()));
        let last = data.is_empty();
        stream.send_data(piece, end && last).map_err(Some)?;
        if last {
            return Ok(());
        }
    }
    // Nothing to send: an empty DATA frame needs no window.
    if end {
        stream.send_data(data, true).map_err(Some)?;
    }
    Ok(())
}

/// Splits length-prefixed messages off the bytes of a stream as they arrive.
pub struct Deframer {
    buffer: BytesMut,
    max_message_size: usize,
    /// The peer's `grpc-encoding` is gzip (so the compressed flag may be set).
    gzip: bool,
    /// The flag of the envelope that ends a reply stream in the protocol read (Connect's
    /// end-of-stream message 0x02, gRPC-Web's trailers 0x80), 0 when there is none.
    end_flag: u8,
}

/// What [`Deframer::next_envelope`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Envelope {
    Message(Bytes),
    /// The envelope that ends the stream, carrying its status (Connect, gRPC-Web).
    End(Bytes),
}

impl Deframer {
    pub fn new(max_message_size: usize, gzip: bool) -> Deframer {
        Deframer {
            buffer: BytesMut::new(),
            max_message_size,
            gzip,
            end_flag: 0,
        }
    }

    /// Envelopes flagged `flag` end the stream (see [`Deframer::next_envelope`]).
    pub fn ending_with(mut self, flag: u8) -> Deframer {
        self.end_flag = flag;
        self
    }

    /// The peer's `grpc-encoding`, once known (a reply's comes with its headers).
    pub fn accept_gzip(&mut self, gzip: bool) {
        self.gzip = gzip;
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// The next whole message, if one has arrived.
    pub fn next_message(&mut self) -> Result<Option<Bytes>, Status> {
        match self.next_envelope()? {
            None => Ok(None),
            Some(Envelope::Message(message)) => Ok(Some(message)),
            Some(Envelope::End(_)) => Err(Status::internal(
                "an end-of-stream message came in a request",
            )),
        }
    }

    /// The next whole envelope, if one has arrived: a message, or the one that ends the
    /// stream (its flag the one given to [`Deframer::ending_with`]; never gzipped here).
    pub fn next_envelope(&mut self) -> Result<Option<Envelope>, Status> {
        if self.buffer.len() < PREFIX {
            return Ok(None);
        }
        let compressed = self.buffer[0];
        let length =
            u32::from_be_bytes(self.buffer[1..PREFIX].try_into().expect("4 bytes")) as usize;
        if length > self.max_message_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "grpc: received message larger than max ({length} vs. {})",
                    self.max_message_size
                ),
            ));
        }
        if self.buffer.len() < PREFIX + length {
            return Ok(None);
        }
        self.buffer.advance(PREFIX);
        let message = self.buffer.split_to(length).freeze();
        if self.end_flag != 0 && compressed & self.end_flag != 0 {
            return match compressed & 1 {
                1 if self.gzip => self.inflate(&message).map(|end| Some(Envelope::End(end))),
                _ => Ok(Some(Envelope::End(message))),
            };
        }
        match (compressed, self.gzip) {
            (0, _) => Ok(Some(Envelope::Message(message))),
            (1, true) => self
                .inflate(&message)
                .map(|message| Some(Envelope::Message(message))),
            (1, false) => Err(Status::internal(
                "grpc: compressed flag set with identity or empty encoding",
            )),
            (flag, _) => Err(Status::internal(format!(
                "grpc: invalid compressed flag {flag}"
            ))),
        }
    }

    fn inflate(&self, message: &[u8]) -> Result<Bytes, Status> {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(message)
            .take(self.max_message_size as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|error| Status::internal(format!("grpc: cannot gunzip a message: {error}")))?;
        if inflated.len() > self.max_message_size {
            return Err(Status::new(
                Code::ResourceExhausted,
                format!(
                    "grpc: received message after decompression larger than max {}",
                    self.max_message_size
                ),
            ));
        }
        Ok(inflated.into())
    }

    /// Whether a message was cut off by the end of the stream.
    pub fn has_partial_message(&self) -> bool {
        !self.buffer.is_empty()
    }
}

/// `grpc-timeout`: at most 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The most precise `grpc-timeout` that fits in 8 digits.
pub fn format_timeout(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    for (unit, per) in [
        ("n", 1u128),
        ("u", 1_000),
        ("m", 1_000_000),
        ("S", 1_000_000_000),
    ] {
        if nanos / per < 100_000_000 {
            return format!("{}{unit}", nanos.div_ceil(per));
        }
    }
    format!("{}M", (nanos / 60_000_000_000).min(99_999_999))
}

/// The status fields that end a gRPC call (`grpc-status`, `grpc-message`,
/// `grpc-status-details-bin`): HTTP/2 trailers in gRPC, the trailer block at the end of
/// the body in gRPC-Web.
pub fn status_fields(
    result: &Result<(), Status>,
) -> impl Iterator<Item = (http::HeaderName, Cow<'static, str>)> {
    let (code, message) = match result {
        Ok(()) => (Code::Ok, ""),
        Err(status) => (status.code, status.message.as_str()),
    };
    // A code's digits are made once, not for every reply.
    const CODES: [&str; 17] = [
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
    ];
    let number = code as u16;
    let status = match CODES.get(usize::from(number)) {
        Some(digits) => Cow::Borrowed(*digits),
        None => Cow::Owned(number.to_string()),
    };
    let details = match result {
        Err(status) if !status.details.is_empty() => {
            let bytes = crate::codec::details::encode_status(code as i32, message, &status.details);
            Some((
                names::GRPC_STATUS_DETAILS,
                crate::codec::details::base64_encode(&bytes).into(),
            ))
        }
        _ => None,
    };
    let message =
        (!message.is_empty()).then(|| (names::GRPC_MESSAGE, percent_encode(message).into()));
    std::iter::once((names::GRPC_STATUS, status))
        .chain(message)
        .chain(details)
}

/// A header's value as text, looked up by `name`: a `HeaderName` constant where the
/// lookup is on every call (a `&str` is parsed first), or a `&str`.
pub fn header_text<K: http::header::AsHeaderName>(
    headers: &http::HeaderMap,
    name: K,
) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// A status field's value as HTTP/2 sends it: the digits of a code without a copy.
pub fn field_value(value: Cow<'static, str>) -> Option<HeaderValue> {
    match value {
        Cow::Borrowed(text) => Some(HeaderValue::from_static(text)),
        Cow::Owned(text) => HeaderValue::try_from(text).ok(),
    }
}

/// `grpc-message` encoding: bytes outside printable ASCII, and `%`, as `%XX`.
pub fn percent_encode(message: &str) -> String {
    let mut encoded = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..0x7f).contains(&byte) && byte != b'%' {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

pub fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| value.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_trip_in_at_most_eight_digits() {
        assert_eq!(parse_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_timeout("123456789m"), None);
        assert_eq!(parse_timeout("5x"), None);
        assert_eq!(parse_timeout(""), None);
        for timeout in [
            Duration::from_millis(300),
            Duration::from_secs(90),
            Duration::from_secs(86_400 * 400),
        ] {
            let text = format_timeout(timeout);
            assert!(text.len() <= 9, "{text}");
            assert!(
                parse_timeout(&text).unwrap() >= timeout.min(Duration::from_secs(99_999_999 * 60))
            );
        }
    }

    #[test]
    fn messages_are_deframed_across_chunks_and_limits_hold() {
        let mut deframer = Deframer::new(10, false);
        let framed = [frame(b"hello", false), frame(b"", false)].concat();
        deframer.push(&framed[..3]);
        assert_eq!(deframer.next_message().unwrap(), None);
        deframer.push(&framed[3..]);
        assert_eq!(deframer.next_message().unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(deframer.next_message().unwrap().unwrap(), &b""[..]);
        assert!(!deframer.has_partial_message());
        deframer.push(&frame(&[0; 11], false));
        assert_eq!(
            deframer.next_message().unwrap_err().code,
            Code::ResourceExhausted
        );
    }

    #[test]
    fn gzipped_messages_are_inflated_only_when_the_encoding_says_gzip() {
        let mut identity = Deframer::new(100, false);
        identity.push(&frame(b"hello", true));
        assert_eq!(identity.next_message().unwrap_err().code, Code::Internal);
        let mut gzip = Deframer::new(100, true);
        gzip.push(&[frame(b"hello", true), frame(b"plain", false)].concat());
        assert_eq!(gzip.next_message().unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(gzip.next_message().unwrap().unwrap(), &b"plain"[..]);
        // A bomb: small compressed, larger than the limit once inflated.
        gzip.push(&frame(&[0; 101], true));
        assert_eq!(
            gzip.next_message().unwrap_err().code,
            Code::ResourceExhausted
        );
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let text = "100% sure: naïve\r\n";
        let encoded = percent_encode(text);
        assert_eq!(encoded, "100%25 sure: na%C3%AFve%0D%0A");
        assert_eq!(percent_decode(&encoded), text);
    }
}
