//! The Connect protocol (connectrpc.com/docs/protocol), its own front end on the shared
//! port. **Unary form**, for curl users: `POST /pkg.Service/Method` with `Content-Type:
//! application/json` or `application/proto`, the message as the whole body,
//! `Connect-Timeout-Ms` as the deadline, other headers as metadata, an optionally gzipped
//! body; the reply is the message with status 200, or a JSON error
//! `{"code","message","details"}` with the HTTP status Connect maps the code to. Served
//! over HTTP/1.1 (the mucp front end hands over requests to other paths than `/`) and
//! HTTP/2. **Streaming form** (`application/connect+proto` or `+json`, every stream kind,
//! over HTTP/2): enveloped messages both ways — the same 5-byte envelope as gRPC's — and,
//! instead of trailers, an end-of-stream message (flag 0x02) carrying the error. The
//! HTTP/2 stream machinery is shared with gRPC; what is Connect's — content types, header
//! names, the end-of-stream message — is here (and in `protocol::wire`, with the
//! streaming form over HTTP/1.1). **GET** (`?encoding=…&message=…`) for side-effect-free
//! methods. A request this front end does not serve is refused as soon as its headers
//! arrive.

use crate::codec::{self, details, Codec};
use crate::message::{CallContext, Extras, Metadata, Request};
use crate::protocol::{caller_metadata, decode_request, route, Dispatch};
use crate::status::{Code, Status};
use base64::Engine;
use bytes::Bytes;
use std::io::Read;
use std::time::{Duration, Instant};

/// Headers of the unary form that are Connect's own, not metadata for handlers.
const RESERVED: [&str; 2] = ["connect-protocol-version", "connect-timeout-ms"];

/// Headers of the streaming form that are Connect's own.
pub const STREAM_RESERVED: [&str; 4] = [
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
];

/// The codec of a streaming request's `Content-Type`.
pub fn stream_codec_of(content_type: &str) -> Option<Codec> {
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/connect+proto" => Some(Codec::Protobuf),
        "application/connect+json" => Some(Codec::Json),
        _ => None,
    }
}

pub fn stream_content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Protobuf => "application/connect+proto",
        Codec::Json => "application/connect+json",
    }
}

/// The end-of-stream message of the streaming form: flag 0x02, then `{}` for success
/// or `{"error":{…}}`, with the handler's trailers as `"metadata"`.
pub fn end_of_stream(result: &Result<(), Status>, trailers: &Metadata) -> Bytes {
    let mut json = match result {
        Ok(()) => serde_json::json!({}),
        Err(status) => serde_json::json!({ "error": error_json(status) }),
    };
    let mut metadata = serde_json::Map::new();
    for (name, value) in trailers.iter() {
        let values = metadata
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| serde_json::Value::Array(Vec::new()));
        if let serde_json::Value::Array(values) = values {
            values.push(value.into());
        }
    }
    if !metadata.is_empty() {
        json["metadata"] = serde_json::Value::Object(metadata);
    }
    let body = json.to_string();
    let mut message = Vec::with_capacity(5 + body.len());
    message.push(0x02);
    message.extend_from_slice(&(body.len() as u32).to_be_bytes());
    message.extend_from_slice(body.as_bytes());
    message.into()
}

/// A status as Connect's error object.
fn error_json(status: &Status) -> serde_json::Value {
    let mut error = serde_json::json!({ "code": code_name(status.code) });
    if !status.message.is_empty() {
        error["message"] = status.message.clone().into();
    }
    if !status.details.is_empty() {
        error["details"] = status
            .details
            .iter()
            .map(|detail| {
                serde_json::json!({
                    "type": details::type_name(&detail.type_url),
                    "value": details::base64_encode(&detail.value),
                })
            })
            .collect();
    }
    error
}

/// The codec of a Connect unary request's `Content-Type` (parameters ignored).
pub fn codec_of(content_type: &str) -> Option<Codec> {
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/json" => Some(Codec::Json),
        "application/proto" => Some(Codec::Protobuf),
        _ => None,
    }
}

/// Whether an HTTP/1 request is Connect's rather than mucp's: mucp always posts to `/`.
pub fn is_connect_path(path: &str) -> bool {
    path.len() > 1 && path.starts_with('/')
}

/// One unary request as it arrived.
pub struct ConnectRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// What followed `?` in the request target (Connect GET's parameters).
    pub query: Option<&'a str>,
    pub content_type: &'a str,
    /// Header names and values, in any case.
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
    pub max_message_size: usize,
}

impl ConnectRequest<'_> {
    /// A header's value, its name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// The deadline `Connect-Timeout-Ms` sets, if any.
    fn deadline(&self) -> Result<Option<Instant>, Status> {
        self.header("connect-timeout-ms")
            .map(|value| parse_timeout(value).map(|timeout| Instant::now() + timeout))
            .transpose()
    }
}

/// What to answer: an HTTP status, a content type and the body.
pub struct ConnectReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Bytes,
    /// More headers (CORS, `Allow`).
    pub headers: Vec<(&'static str, String)>,
    /// The handler's headers, its trailers among them as `Trailer-` headers (the unary
    /// form's trailers).
    pub handler_headers: Vec<(String, String)>,
}

impl ConnectReply {
    pub fn error(status: &Status) -> ConnectReply {
        ConnectReply {
            status: http_status(status.code),
            content_type: "application/json",
            body: error_json(status).to_string().into(),
            headers: Vec::new(),
            handler_headers: Vec::new(),
        }
    }

    /// The handler's headers and trailers, added to the reply, and its body gzipped
    /// when the handler asks for it.
    fn with_extras(mut self, extras: &Extras) -> ConnectReply {
        if extras.gzip == Some(true) && self.status == 200 {
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            if encoder.write_all(&self.body).is_ok() {
                if let Ok(gzipped) = encoder.finish() {
                    self.body = gzipped.into();
                    self.headers.push(("content-encoding", "gzip".into()));
                }
            }
        }
        self.handler_headers.extend(
            extras
                .headers
                .iter()
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
        self.handler_headers.extend(
            extras
                .trailers
                .iter()
                .map(|(name, value)| (format!("trailer-{name}"), value.to_owned())),
        );
        self
    }

    /// A request whose content type the Connect front end does not serve (415), or
    /// `None` when the unary form serves it; decided from the headers alone.
    pub fn refusal(method: &str, content_type: &str) -> Option<ConnectReply> {
        (method != "GET" && codec_of(content_type).is_none())
            .then(|| ConnectReply::unsupported(content_type))
    }

    fn unsupported(content_type: &str) -> ConnectReply {
        ConnectReply {
            status: 415,
            content_type: "text/plain",
            body: Bytes::from(format!(
                "unsupported Content-Type {content_type:?}: the Connect protocol takes application/json or application/proto (unary), application/connect+proto or +json (streams); gRPC application/grpc; gRPC-Web application/grpc-web(-text)"
            )),
            headers: Vec::new(),
            handler_headers: Vec::new(),
        }
    }

    /// The whole HTTP/1.1 response.
    pub fn write_http1(&self, out: &mut Vec<u8>) {
        let reason = crate::status::http_status_text(self.status);
        out.extend_from_slice(
            format!(
                "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                self.status,
                self.content_type,
                self.body.len()
            )
            .as_bytes(),
        );
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        write_http1_headers(
            out,
            self.handler_headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }
}

/// Serves one unary request.
pub async fn serve<D: Dispatch>(dispatch: &D, request: ConnectRequest<'_>) -> ConnectReply {
    let context = CallContext::new("connect", encoding_of(request.header("content-encoding")));
    if request.method == "GET" {
        return serve_get(dispatch, &request, context).await;
    }
    let Some(codec) = codec_of(request.content_type) else {
        return ConnectReply::unsupported(request.content_type);
    };
    let reply = match call(dispatch, &request, codec, context.clone()).await {
        Ok(body) => ConnectReply {
            status: 200,
            content_type: match codec {
                Codec::Json => "application/json",
                Codec::Protobuf => "application/proto",
            },
            body,
            headers: Vec::new(),
            handler_headers: Vec::new(),
        },
        Err(status) => ConnectReply::error(&status),
    };
    reply.with_extras(&context.reply.get())
}

/// A request's compression as handlers are told it.
pub fn encoding_of(header: Option<&str>) -> &'static str {
    match header {
        Some("gzip") => "gzip",
        _ => "identity",
    }
}

/// Writes each `name: value` line of a handler's headers, leaving out any that could
/// break the head (an exec handler's, not checked at start-up).
pub fn write_http1_headers<'a>(
    out: &mut Vec<u8>,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
) {
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            tracing::warn!("reply header {name:?} is not a valid HTTP field; left out");
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Connect GET, for side-effect-free unary methods (`idempotency_level =
/// NO_SIDE_EFFECTS`): `?encoding=json|proto&message=…`, the message percent-encoded, or
/// URL-safe base64 with `base64=1`, gzipped with `compression=gzip`; `connect=v1` may
/// come too. Other methods are answered 405, as connect-go does.
async fn serve_get<D: Dispatch>(
    dispatch: &D,
    request: &ConnectRequest<'_>,
    context: CallContext,
) -> ConnectReply {
    let query = request.query.unwrap_or("");
    let codec = match query_param(query, "encoding").as_deref() {
        Some(b"json") => Codec::Json,
        Some(b"proto") => Codec::Protobuf,
        Some(other) => {
            return ConnectReply::error(&Status::invalid_argument(format!(
                "unsupported encoding {:?} in a Connect GET (use json or proto)",
                String::from_utf8_lossy(other)
            )))
        }
        None => {
            return ConnectReply::error(&Status::invalid_argument(
                "a Connect GET names its encoding: ?encoding=json or proto",
            ))
        }
    };
    let endpoint = match route(dispatch, request.path) {
        Ok(endpoint) => endpoint,
        Err(status) => return ConnectReply::error(&status),
    };
    if crate::schema::is_streaming(&endpoint.method) || !has_no_side_effects(&endpoint.method) {
        return ConnectReply {
            headers: vec![("Allow", "POST".into())],
            status: 405,
            ..ConnectReply::error(&Status::new(
                Code::Unimplemented,
                format!(
                    "{} is not side-effect free (idempotency_level = NO_SIDE_EFFECTS): call it with POST",
                    request.path
                ),
            ))
        };
    }
    let get = async {
        let mut message = query_param(query, "message").unwrap_or_default();
        if query_param(query, "base64").as_deref() == Some(b"1") {
            let text = String::from_utf8_lossy(&message);
            message = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|error| {
                    Status::invalid_argument(format!("the message is not URL-safe base64: {error}"))
                })?;
        }
        match query_param(query, "compression").as_deref() {
            None | Some(b"identity") => {}
            Some(b"gzip") => message = gunzip(&message, request.max_message_size)?,
            Some(other) => {
                return Err(Status::new(
                    Code::Unimplemented,
                    format!(
                        "unsupported compression {:?} (use gzip or identity)",
                        String::from_utf8_lossy(other)
                    ),
                ))
            }
        }
        let deadline = request.deadline()?;
        let input = endpoint.method.input();
        let message = bytes::Bytes::from(message);
        let body = decode_request(dispatch, codec, &input, &message, deadline).await?;
        let reply = dispatch
            .call(Request {
                endpoint,
                metadata: caller_metadata(request.headers.iter().copied(), &RESERVED),
                body,
                deadline,
                context: context.clone(),
            })
            .await?;
        codec::encode_reply(codec, &reply).map_err(Status::internal)
    };
    let reply = match get.await {
        Ok(body) => ConnectReply {
            status: 200,
            content_type: match codec {
                Codec::Json => "application/json",
                Codec::Protobuf => "application/proto",
            },
            body,
            headers: Vec::new(),
            handler_headers: Vec::new(),
        },
        Err(status) => ConnectReply::error(&status),
    };
    reply.with_extras(&context.reply.get())
}

/// Whether a method is marked `option idempotency_level = NO_SIDE_EFFECTS`.
fn has_no_side_effects(method: &prost_reflect::MethodDescriptor) -> bool {
    const NO_SIDE_EFFECTS: i32 = 1;
    let options = method.options();
    matches!(
        options.get_field_by_name("idempotency_level").as_deref(),
        Some(prost_reflect::Value::EnumNumber(NO_SIDE_EFFECTS))
    )
}

/// A query parameter's value, percent-decoded (`+` is a space, as in forms).
fn query_param(query: &str, name: &str) -> Option<Vec<u8>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(key) == name.as_bytes()).then(|| percent_decode(value))
    })
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                decoded.push(byte);
                i += 3;
                continue;
            }
            (None, b'+') => decoded.push(b' '),
            (None, byte) => decoded.push(byte),
        }
        i += 1;
    }
    decoded
}

async fn call<D: Dispatch>(
    dispatch: &D,
    request: &ConnectRequest<'_>,
    codec: Codec,
    context: CallContext,
) -> Result<Bytes, Status> {
    if request.method != "POST" {
        return Err(Status::new(
            Code::Unimplemented,
            format!("{} is not served: use POST", request.method),
        ));
    }
    let endpoint = route(dispatch, request.path)?;
    if crate::schema::is_streaming(&endpoint.method) {
        return Err(Status::new(
            Code::Unimplemented,
            format!(
                "{} streams: call it with application/connect+proto or +json over HTTP/2 (or gRPC)",
                request.path
            ),
        ));
    }
    let deadline = request.deadline()?;
    let body = match request.header("content-encoding") {
        None | Some("identity") => request.body.to_vec(),
        Some("gzip") => gunzip(request.body, request.max_message_size)?,
        Some(other) => {
            return Err(Status::new(
                Code::Unimplemented,
                format!("unsupported Content-Encoding {other:?} (use gzip or identity)"),
            ))
        }
    };
    let body = bytes::Bytes::from(body);
    let message =
        decode_request(dispatch, codec, &endpoint.method.input(), &body, deadline).await?;
    drop(body);
    let metadata = caller_metadata(request.headers.iter().copied(), &RESERVED);
    let reply = dispatch
        .call(Request {
            endpoint,
            metadata,
            body: message,
            deadline,
            context,
        })
        .await?;
    codec::encode_reply(codec, &reply).map_err(Status::internal)
}

/// `Connect-Timeout-Ms`: at most 10 digits of milliseconds.
pub fn parse_timeout(value: &str) -> Result<Duration, Status> {
    value
        .parse::<u64>()
        .ok()
        .filter(|_| value.len() <= 10)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "Connect-Timeout-Ms {value:?} is not at most 10 digits"
            ))
        })
}

fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Status> {
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| Status::invalid_argument(format!("cannot gunzip the body: {error}")))?;
    if inflated.len() > limit {
        return Err(Status::new(
            Code::ResourceExhausted,
            format!("the body is larger than {limit} bytes once gunzipped"),
        ));
    }
    Ok(inflated)
}

/// Connect's code names: gRPC's in lower case, but `canceled` with one L.
pub fn code_name(code: Code) -> String {
    match code {
        Code::Cancelled => "canceled".into(),
        code => code.name().to_ascii_lowercase(),
    }
}

/// The HTTP status Connect sends each code with.
pub fn http_status(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unauthenticated => 401,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_and_mapped_as_connect_does() {
        assert_eq!(code_name(Code::Cancelled), "canceled");
        assert_eq!(code_name(Code::NotFound), "not_found");
        assert_eq!(code_name(Code::DeadlineExceeded), "deadline_exceeded");
        assert_eq!(http_status(Code::DeadlineExceeded), 504);
        assert_eq!(http_status(Code::FailedPrecondition), 400);
        assert_eq!(http_status(Code::Unimplemented), 501);
    }

    #[test]
    fn content_types_and_timeouts() {
        assert_eq!(
            codec_of("application/json; charset=utf-8"),
            Some(Codec::Json)
        );
        assert_eq!(codec_of("application/proto"), Some(Codec::Protobuf));
        assert_eq!(codec_of("application/grpc"), None);
        assert_eq!(parse_timeout("250").unwrap(), Duration::from_millis(250));
        assert!(parse_timeout("12345678901").is_err());
        assert!(parse_timeout("-1").is_err());
        assert!(is_connect_path("/echo.v1.Echo/Say"));
        assert!(!is_connect_path("/"));
    }
}
