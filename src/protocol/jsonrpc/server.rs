//! The JSON-RPC server front end: behaves as Go's `rpc.ServeCodec` with
//! `jsonrpc.NewServerCodec` (spec §9). Each request runs as its own task and its reply is
//! written when it completes, so replies leave out of order. A request whose header cannot
//! be decoded ends the connection (after in-flight replies are sent), as in Go; every
//! other mistake is answered with Go's error text and the connection kept. Unlike Go, a
//! request must arrive whole within `--body-timeout` of its first byte, and a connection
//! with nothing in flight is closed after `--idle-timeout`.

use super::{ill_formed, json_kind, no_method, no_service, Scanned, ValueScanner, MISSING_PARAMS};
use crate::codec::{self, budget, Codec};
use crate::message::{CallContext, Decoded, Endpoint, Metadata, Request};
use crate::protocol::{drain, poll_once, refused, stopping, Dispatch, Lookup, Timeouts};
use crate::status::Status;
use bytes::{Bytes, BytesMut};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::{self, JoinSet};

/// Calls in flight on one connection before rmicro stops reading more.
const MAX_IN_FLIGHT: usize = 1024;

const HANDLER_PANICKED: &str = "rpc: the handler panicked";

/// Serves one connection whose first bytes (already read) are in `input`.
pub async fn serve_connection<S, D>(
    stream: S,
    peer: &str,
    mut input: BytesMut,
    dispatch: Arc<D>,
    max_message_size: usize,
    timeouts: Timeouts,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Dispatch,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut scanner = ValueScanner::default();
    let mut calls = JoinSet::new();
    // The request id of each running call, to answer even if its handler panics.
    let mut call_ids: HashMap<task::Id, Option<Bytes>> = HashMap::new();
    let mut output = Vec::with_capacity(4096);
    let mut reading = true;
    let mut last_read = false;
    // When the request being received began, and when the connection fell idle.
    let mut value_began: Option<Instant> = None;
    let mut idle_since: Option<Instant> = None;
    loop {
        while reading {
            let scanned = scanner.next_value(&mut input);
            if matches!(scanned, Scanned::Value(_)) {
                value_began = None;
            }
            match scanned {
                Scanned::Value(bytes) if bytes.len() > max_message_size => {
                    too_large(peer, max_message_size, &mut output);
                    reading = false;
                }
                Scanned::Value(bytes) => match parse_request(&bytes, dispatch.as_ref()) {
                    Parsed::Answer(line) => output.extend_from_slice(&line),
                    Parsed::Call { id, request } => {
                        let mut call = Box::pin(reply_line(dispatch.clone(), id.clone(), request));
                        // Stubs answer at once: no task, no wake-up across threads.
                        match poll_once(call.as_mut()) {
                            Some(Poll::Ready(line)) => output.extend_from_slice(&line),
                            Some(Poll::Pending) => {
                                let handle = calls.spawn(call);
                                call_ids.insert(handle.id(), id);
                            }
                            None => output
                                .extend_from_slice(&error_line(id.as_deref(), HANDLER_PANICKED)),
                        }
                    }
                    Parsed::Undecodable(reason) => {
                        tracing::warn!(
                            "closing the JSON-RPC connection from {peer}: rpc: server cannot decode request: {reason}"
                        );
                        reading = false;
                    }
                },
                Scanned::NotContainer => {
                    tracing::warn!("closing the JSON-RPC connection from {peer}: rpc: server cannot decode request: not a JSON object");
                    reading = false;
                }
                Scanned::Incomplete => {
                    if scanner.pending() > max_message_size {
                        too_large(peer, max_message_size, &mut output);
                        reading = false;
                    }
                    break;
                }
            }
        }
        if last_read {
            reading = false;
        }
        while let Some(finished) = calls.try_join_next_with_id() {
            take_reply(finished, &mut call_ids, &mut output);
        }
        if !output.is_empty() {
            if writer.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if !reading && calls.is_empty() {
            // Shutdown, or a request Go could not decode: end the replies, then read what
            // the client still sends for a moment, so that closing with unread input
            // does not reset the connection and destroy replies it has not read.
            let _ = writer.shutdown().await;
            drain(&mut reader).await;
            return;
        }
        input.reserve(8 * 1024);
        let now = Instant::now();
        // A request held back by the in-flight limit is not the client's delay.
        let receiving = reading && calls.len() < MAX_IN_FLIGHT && !input.is_empty();
        let idle = reading && input.is_empty() && calls.is_empty();
        value_began = value_began.or(Some(now)).filter(|_| receiving);
        idle_since = idle_since.or(Some(now)).filter(|_| idle);
        let deadline = match (value_began, idle_since) {
            (Some(began), _) => timeouts.body.map(|limit| began + limit),
            (None, Some(since)) => timeouts.idle.map(|limit| since + limit),
            (None, None) => None,
        };
        tokio::select! {
            read = reader.read_buf(&mut input), if reading && calls.len() < MAX_IN_FLIGHT => {
                if !matches!(read, Ok(n) if n > 0) {
                    // EOF, even inside a value: Go stops without a word. The client has
                    // gone, so its calls in flight go too (an exec handler's processes
                    // die), where Go would run them to write replies nobody reads.
                    return;
                }
            }
            Some(finished) = calls.join_next_with_id(), if !calls.is_empty() => {
                take_reply(finished, &mut call_ids, &mut output);
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                if let (Some(limit), Some(_)) = (timeouts.body, value_began) {
                    let message = format!("rpc: server cannot decode request: the request did not arrive within {limit:?} (--body-timeout)");
                    tracing::warn!("closing the JSON-RPC connection from {peer}: {message}");
                    output.extend_from_slice(&error_line(None, &message));
                }
                reading = false;
            }
            _ = stopping(&mut stopped), if reading => {
                // Requests the client already sent are still answered.
                // A zero timeout still polls the read once.
                let _ = tokio::time::timeout(Duration::ZERO, reader.read_buf(&mut input)).await;
                last_read = true;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Go has no size limit; rmicro says why it hangs up rather than buffer without end.
fn too_large(peer: &str, max_message_size: usize, output: &mut Vec<u8>) {
    let message = format!("rpc: server cannot decode request: request larger than {max_message_size} bytes (--max-message-size)");
    tracing::warn!("closing the JSON-RPC connection from {peer}: {message}");
    output.extend_from_slice(&error_line(None, &message));
}

/// Runs one call and returns its reply line.
async fn reply_line<D: Dispatch>(dispatch: Arc<D>, id: Option<Bytes>, pending: Pending) -> Vec<u8> {
    let request = match pending {
        Pending::Decoded(request) => request,
        Pending::Budgeted {
            endpoint,
            needed,
            bytes,
        } => {
            let input = endpoint.method.input();
            let lease = match dispatch.budget().take(needed, None).await {
                Ok(lease) => lease,
                Err(refusal) => {
                    return error_line(id.as_deref(), &refused(refusal, &input).message)
                }
            };
            // The header parsed when the request was read.
            let params = serde_json::from_slice::<Header<'_>>(&bytes)
                .ok()
                .and_then(|header| header.params);
            match decode_params(params, &input) {
                Ok(body) => Request {
                    endpoint,
                    metadata: Metadata::new(),
                    body: Decoded::new(body, Some(lease)),
                    deadline: None,
                    context: CallContext::new("jsonrpc", "identity"),
                },
                Err(message) => return error_line(id.as_deref(), &message),
            }
        }
    };
    match dispatch
        .call(request)
        .await
        .and_then(|reply| codec::encode_reply(Codec::Json, &reply).map_err(Status::internal))
    {
        Ok(json) => result_line(id.as_deref(), json.trim_ascii_end()),
        Err(status) => error_line(id.as_deref(), &status.message),
    }
}

fn take_reply(
    finished: Result<(task::Id, Vec<u8>), task::JoinError>,
    call_ids: &mut HashMap<task::Id, Option<Bytes>>,
    output: &mut Vec<u8>,
) {
    match finished {
        Ok((id, line)) => {
            call_ids.remove(&id);
            output.extend_from_slice(&line);
        }
        Err(error) => {
            let id = call_ids.remove(&error.id()).flatten();
            output.extend_from_slice(&error_line(id.as_deref(), HANDLER_PANICKED));
        }
    }
}

/// What one request value turned into.
enum Parsed {
    /// Answered at once with an error line.
    Answer(Vec<u8>),
    Call {
        id: Option<Bytes>,
        request: Pending,
    },
    /// Go cannot decode the header: the connection ends.
    Undecodable(String),
}

/// A call's request: decoded, or waiting for its share of the decode budget.
enum Pending {
    Decoded(Request),
    Budgeted {
        endpoint: Arc<Endpoint>,
        needed: usize,
        bytes: Bytes,
    },
}

fn parse_request(bytes: &Bytes, dispatch: &impl Dispatch) -> Parsed {
    let header = match serde_json::from_slice::<Header<'_>>(bytes) {
        Ok(header) => header,
        Err(error) => return Parsed::Undecodable(error.to_string()),
    };
    let id = header
        .id
        .map(|raw| Bytes::copy_from_slice(raw.get().as_bytes()));
    let service_method = header.method.unwrap_or_default();
    let endpoint = match service_method.rsplit_once('.') {
        None => Err(ill_formed(&service_method)),
        Some((service, method)) => match dispatch.lookup(service, method) {
            Lookup::Found(endpoint) => Ok(endpoint),
            Lookup::NoService => Err(no_service(&service_method)),
            Lookup::NoMethod => Err(no_method(&service_method)),
        },
    };
    let request = endpoint.and_then(|endpoint| {
        let input = endpoint.method.input();
        // A request that decodes to far more than its size waits for the decode budget
        // in its call, and is decoded there.
        if let Some(needed) = budget::cost(Codec::Json, &input, bytes) {
            return Ok(Pending::Budgeted {
                endpoint,
                needed,
                bytes: bytes.clone(),
            });
        }
        let body = decode_params(header.params, &input)?;
        Ok(Pending::Decoded(Request {
            endpoint,
            metadata: Metadata::new(),
            body: body.into(),
            deadline: None,
            context: CallContext::new("jsonrpc", "identity"),
        }))
    });
    match request {
        Ok(request) => Parsed::Call { id, request },
        Err(message) => Parsed::Answer(error_line(id.as_deref(), &message)),
    }
}

/// `params` must be an array; its first element is the request (Go's `[1]any` trick).
fn decode_params(
    params: Option<&RawValue>,
    input: &prost_reflect::MessageDescriptor,
) -> Result<prost_reflect::DynamicMessage, String> {
    let params = params.ok_or_else(|| MISSING_PARAMS.to_owned())?;
    let params: serde_json::Value =
        serde_json::from_str(params.get()).map_err(|error| format!("json: {error}"))?;
    let serde_json::Value::Array(items) = params else {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type [1]interface {{}}",
            json_kind(&params)
        ));
    };
    let value = items.into_iter().next().unwrap_or_default();
    match &value {
        serde_json::Value::Null => return Ok(prost_reflect::DynamicMessage::new(input.clone())),
        serde_json::Value::Object(_) => {}
        // Well-known types with a bare JSON form (wrappers such as StringValue read as the
        // value itself, Timestamp as a string, ListValue as an array): a Go client sends
        // the bare value for them (`"x"` for a string parameter).
        _ if codec::has_bare_json_form(input) => {}
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type {}",
                json_kind(other),
                input.full_name()
            ))
        }
    }
    codec::from_go_json_value(input, value)
        .map_err(|error| format!("json: cannot decode {}: {error}", input.full_name()))
}

/// The id as Go's encoder re-writes a `json.RawMessage`: whitespace between tokens
/// dropped, `<`, `>`, `&`, U+2028 and U+2029 escaped in strings; numbers kept as spelled.
fn go_compact(raw: &str) -> Bytes {
    if !raw
        .bytes()
        .any(|byte| byte.is_ascii_whitespace() || matches!(byte, b'<' | b'>' | b'&' | 0xE2))
    {
        return Bytes::copy_from_slice(raw.as_bytes());
    }
    let mut compact = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for character in raw.chars() {
        if in_string {
            match character {
                '<' => compact.push_str("\\u003c"),
                '>' => compact.push_str("\\u003e"),
                '&' => compact.push_str("\\u0026"),
                '\u{2028}' => compact.push_str("\\u2028"),
                '\u{2029}' => compact.push_str("\\u2029"),
                _ => compact.push(character),
            }
            match character {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !character.is_ascii_whitespace() {
            in_string = character == '"';
            compact.push(character);
        }
    }
    Bytes::from(compact)
}

fn result_line(id: Option<&[u8]>, result: &[u8]) -> Vec<u8> {
    let id = id.unwrap_or(b"null");
    let mut line = Vec::with_capacity(32 + id.len() + result.len());
    line.extend_from_slice(b"{\"id\":");
    line.extend_from_slice(id);
    line.extend_from_slice(b",\"result\":");
    line.extend_from_slice(result);
    line.extend_from_slice(b",\"error\":null}\n");
    line
}

fn error_line(id: Option<&[u8]>, message: &str) -> Vec<u8> {
    let id = id.unwrap_or(b"null");
    let message = go_compact(&serde_json::to_string(message).expect("strings serialise"));
    let mut line = Vec::with_capacity(40 + id.len() + message.len());
    line.extend_from_slice(b"{\"id\":");
    line.extend_from_slice(id);
    line.extend_from_slice(b",\"result\":null,\"error\":");
    line.extend_from_slice(&message);
    line.extend_from_slice(b"}\n");
    line
}

/// Go's `serverRequest`: keys matched case-insensitively, unknown keys ignored, `null`
/// the same as absent; a `method` that is not a string fails the whole header.
struct Header<'a> {
    method: Option<String>,
    params: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
}

impl<'de> serde::Deserialize<'de> for Header<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeaderVisitor)
    }
}

struct HeaderVisitor;

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = Header<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON-RPC request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let mut header = Header {
            method: None,
            params: None,
            id: None,
        };
        while let Some(key) = map.next_key::<HeaderKey>()? {
            match key {
                HeaderKey::Method => header.method = map.next_value()?,
                HeaderKey::Params => header.params = map.next_value()?,
                HeaderKey::Id => header.id = map.next_value()?,
                HeaderKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(header)
    }
}

enum HeaderKey {
    Method,
    Params,
    Id,
    Other,
}

impl<'de> serde::Deserialize<'de> for HeaderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = HeaderKey;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<HeaderKey, E> {
                Ok(if key.eq_ignore_ascii_case("method") {
                    HeaderKey::Method
                } else if key.eq_ignore_ascii_case("params") {
                    HeaderKey::Params
                } else if key.eq_ignore_ascii_case("id") {
                    HeaderKey::Id
                } else {
                    HeaderKey::Other
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::go_compact;

    #[test]
    fn ids_are_compacted_and_escaped_as_go_does() {
        // Go 1.19: `[1, {"x" : "<&>"}]` comes back as below; number spellings stay.
        assert_eq!(
            go_compact(r#" [1, {"x" : "<&> \" a"}, 1.50, 1e3]"#),
            r#"[1,{"x":"\u003c\u0026\u003e \" a"},1.50,1e3]"#
        );
        assert_eq!(go_compact("7"), "7");
    }
}
