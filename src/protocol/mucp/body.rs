//! The bodies go-micro's codecs put in a mucp message, by `Content-Type` (spec §2.3–§2.4):
//! the plain codecs (`application/json`, `application/protobuf`), the raw one
//! (`application/octet-stream`: the message's protobuf bytes as they are), the legacy
//! envelopes (`application/json-rpc`, `application/proto-rpc`) and gRPC's framing inside
//! the mucp body (`application/grpc`, `+proto`, `+json`). Each wraps a message encoded by
//! one of [`Codec`]'s two encodings; this module only opens and builds the wrappings, for
//! the server front end and the caller alike. No transport, no schema.

use crate::codec::Codec;
use bytes::Bytes;

/// How a message sits in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The encoded message and nothing else (JSON with go-micro's trailing newline).
    Plain,
    /// `{"method":…,"params":[message],"id":"…"}` / `{"id":…,"result":…,"error":…}`.
    JsonRpc,
    /// Two netstrings (4-byte big-endian length, bytes): an envelope, then the message.
    ProtoRpc,
    /// gRPC's length prefix: a flag byte (0: not compressed), 4-byte big-endian length.
    Grpc,
}

/// A go-micro codec: the encoding of the message and its framing in the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyCodec {
    pub content_type: &'static str,
    pub codec: Codec,
    pub framing: Framing,
}

/// Every `Content-Type` go-micro's server and client know (`DefaultCodecs`, spec §2.3).
pub const CONTENT_TYPES: [&str; 8] = [
    "application/json",
    "application/protobuf",
    "application/octet-stream",
    "application/json-rpc",
    "application/proto-rpc",
    "application/grpc",
    "application/grpc+proto",
    "application/grpc+json",
];

/// A request body opened: the message's bytes, and what the envelope said.
#[derive(Debug, Default)]
pub struct Opened {
    pub message: Bytes,
    /// The envelope's request id (JSON-RPC's `id`, proto-rpc's `seq`).
    pub id: Option<String>,
    /// The envelope's `Service.Method` (legacy envelopes carry it).
    pub method: Option<String>,
}

impl BodyCodec {
    /// The codec `content_type` names, matched exactly as go-micro does. `legacy` is
    /// go-micro's "old protocol" (a request with no `Micro-Service`/`-Method`/`-Endpoint`):
    /// then JSON and protobuf bodies are the legacy envelopes' (spec §2.3).
    pub fn from_content_type(content_type: &str, legacy: bool) -> Option<BodyCodec> {
        let (content_type, codec, framing) = match (content_type, legacy) {
            ("application/json", false) => ("application/json", Codec::Json, Framing::Plain),
            ("application/json" | "application/json-rpc", _) => {
                ("application/json-rpc", Codec::Json, Framing::JsonRpc)
            }
            ("application/protobuf", false) => {
                ("application/protobuf", Codec::Protobuf, Framing::Plain)
            }
            ("application/octet-stream", false) => {
                ("application/octet-stream", Codec::Protobuf, Framing::Plain)
            }
            ("application/protobuf" | "application/proto-rpc" | "application/octet-stream", _) => {
                ("application/proto-rpc", Codec::Protobuf, Framing::ProtoRpc)
            }
            ("application/grpc", _) => ("application/grpc", Codec::Protobuf, Framing::Grpc),
            ("application/grpc+proto", _) => {
                ("application/grpc+proto", Codec::Protobuf, Framing::Grpc)
            }
            ("application/grpc+json", _) => ("application/grpc+json", Codec::Json, Framing::Grpc),
            _ => return None,
        };
        Some(BodyCodec {
            content_type,
            codec,
            framing,
        })
    }

    /// The plain codec of an encoding (`application/json`, `application/protobuf`).
    pub fn plain(codec: Codec) -> BodyCodec {
        BodyCodec {
            content_type: codec.content_type(),
            codec,
            framing: Framing::Plain,
        }
    }

    /// Opens a request body. An empty body is an empty message in every framing, as
    /// go-micro does not decode empty bodies.
    pub fn open_request(&self, body: &Bytes, max_message_size: usize) -> Result<Opened, String> {
        if body.is_empty() {
            return Ok(Opened::default());
        }
        match self.framing {
            Framing::Plain => Ok(Opened {
                message: body.clone(),
                ..Opened::default()
            }),
            Framing::Grpc => open_grpc(body, max_message_size).map(|message| Opened {
                message,
                ..Opened::default()
            }),
            Framing::JsonRpc => {
                #[derive(serde::Deserialize)]
                struct Envelope<'a> {
                    #[serde(default)]
                    method: String,
                    #[serde(borrow, default)]
                    params: Option<&'a serde_json::value::RawValue>,
                    #[serde(default)]
                    id: serde_json::Value,
                }
                let mut reader = serde_json::Deserializer::from_slice(body);
                let envelope: Envelope = serde::Deserialize::deserialize(&mut reader)
                    .map_err(|error| format!("invalid json-rpc request: {error}"))?;
                let params: Vec<&serde_json::value::RawValue> = match envelope.params {
                    Some(params) => serde_json::from_str(params.get())
                        .map_err(|error| format!("json-rpc params: {error}"))?,
                    None => Vec::new(),
                };
                Ok(Opened {
                    message: params
                        .first()
                        .map(|param| Bytes::copy_from_slice(param.get().as_bytes()))
                        .unwrap_or_default(),
                    // Go formats the id with %v: a string as it is, a number as a number.
                    id: Some(match envelope.id {
                        serde_json::Value::String(id) => id,
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    }),
                    method: Some(envelope.method),
                })
            }
            Framing::ProtoRpc => {
                let (envelope, rest) = netstring(body)?;
                let (message, _) = netstring(&rest)?;
                let envelope = envelope_fields(&envelope)?;
                Ok(Opened {
                    message,
                    id: Some(envelope.seq.to_string()),
                    method: Some(envelope.service_method),
                })
            }
        }
    }

    /// A request body for a message (the caller's side): go-micro's client envelopes,
    /// with `endpoint` and the request `id` where the framing carries them.
    pub fn wrap_request(&self, endpoint: &str, id: u64, message: &[u8]) -> Vec<u8> {
        match self.framing {
            Framing::Plain => message.to_vec(),
            Framing::Grpc => {
                crate::protocol::grpc::frame(self.grpc_message(message), false).to_vec()
            }
            Framing::JsonRpc => {
                let params = json_or_empty(message);
                let mut out = format!(
                    "{{\"method\":{},\"params\":[{params}],\"id\":\"{id}\"}}",
                    serde_json::Value::from(endpoint)
                )
                .into_bytes();
                out.push(b'\n');
                out
            }
            Framing::ProtoRpc => {
                // What go-micro v1's client writes: the method, and the seq as fixed64.
                let mut envelope = Vec::with_capacity(endpoint.len() + 12);
                put_bytes_field(&mut envelope, 1, endpoint.as_bytes());
                envelope.push(0x11);
                envelope.extend_from_slice(&id.to_le_bytes());
                let mut out = Vec::with_capacity(envelope.len() + message.len() + 8);
                put_netstring(&mut out, &envelope);
                put_netstring(&mut out, message);
                out
            }
        }
    }

    /// A reply body for an encoded message (the server's side), for request `id`.
    pub fn wrap_reply(&self, id: &str, message: &[u8]) -> Bytes {
        match self.framing {
            Framing::Plain => Bytes::copy_from_slice(message),
            Framing::Grpc => crate::protocol::grpc::frame(self.grpc_message(message), false),
            Framing::JsonRpc => {
                let result = json_or_empty(message);
                let mut out = format!(
                    "{{\"id\":{},\"result\":{result},\"error\":null}}",
                    serde_json::Value::from(id)
                )
                .into_bytes();
                out.push(b'\n');
                out.into()
            }
            Framing::ProtoRpc => proto_rpc_reply(id, "", message).into(),
        }
    }

    /// The body of an error reply: the legacy envelopes carry the error text too (with
    /// an empty id for JSON-RPC, as go-micro writes it); the other framings none.
    pub fn wrap_error(&self, id: &str, text: &str) -> Bytes {
        match self.framing {
            Framing::Plain | Framing::Grpc => Bytes::new(),
            Framing::JsonRpc => {
                let mut out = format!(
                    "{{\"id\":\"\",\"result\":null,\"error\":{}}}",
                    serde_json::Value::from(text)
                )
                .into_bytes();
                out.push(b'\n');
                out.into()
            }
            Framing::ProtoRpc => proto_rpc_reply(id, text, b"").into(),
        }
    }

    /// Opens a reply body (the caller's side): the message, or the error an envelope
    /// carries.
    pub fn open_reply(&self, body: &Bytes, max_message_size: usize) -> Result<Bytes, OpenError> {
        if body.is_empty() {
            return Ok(Bytes::new());
        }
        match self.framing {
            Framing::Plain => Ok(body.clone()),
            Framing::Grpc => open_grpc(body, max_message_size).map_err(OpenError::Malformed),
            Framing::JsonRpc => {
                #[derive(serde::Deserialize)]
                struct Envelope<'a> {
                    #[serde(borrow, default)]
                    result: Option<&'a serde_json::value::RawValue>,
                    #[serde(default)]
                    error: Option<String>,
                }
                let mut reader = serde_json::Deserializer::from_slice(body);
                let envelope: Envelope = serde::Deserialize::deserialize(&mut reader)
                    .map_err(|error| OpenError::Malformed(format!("json-rpc reply: {error}")))?;
                if let Some(error) = envelope.error.filter(|error| !error.is_empty()) {
                    return Err(OpenError::Peer(error));
                }
                Ok(envelope
                    .result
                    .map(|result| Bytes::copy_from_slice(result.get().as_bytes()))
                    .unwrap_or_default())
            }
            Framing::ProtoRpc => {
                let (envelope, rest) = netstring(body).map_err(OpenError::Malformed)?;
                let (message, _) = netstring(&rest).map_err(OpenError::Malformed)?;
                let envelope = envelope_fields(&envelope).map_err(OpenError::Malformed)?;
                if !envelope.error.is_empty() {
                    return Err(OpenError::Peer(envelope.error));
                }
                Ok(message)
            }
        }
    }

    /// go-micro's grpc codec writes JSON with `json.Marshal`: no newline.
    fn grpc_message<'a>(&self, message: &'a [u8]) -> &'a [u8] {
        match self.codec {
            Codec::Json => message.trim_ascii_end(),
            Codec::Protobuf => message,
        }
    }

    /// Headers a reply in this codec carries besides go-micro's own: gRPC's status, as
    /// go-micro's grpc codec sets it (13 for an error).
    pub fn reply_headers(&self, error: Option<&str>) -> Vec<(&'static str, String)> {
        match (self.framing, error) {
            (Framing::Grpc, None) => vec![("Grpc-Status", "0".into())],
            (Framing::Grpc, Some(text)) => vec![
                ("Grpc-Message", text.to_owned()),
                ("Grpc-Status", "13".into()),
            ],
            _ => Vec::new(),
        }
    }

    /// go-micro's server closes a connection after a gRPC-framed request (spec §2.4).
    pub fn closes_connection(&self) -> bool {
        self.framing == Framing::Grpc
    }
}

/// Why a reply body could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Malformed(String),
    /// The envelope carried the server's error.
    Peer(String),
}

/// JSON text without go-micro's trailing newline; `{}` for an empty message.
fn json_or_empty(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let text = text.trim_end();
    if text.is_empty() {
        "{}".into()
    } else {
        text.to_owned()
    }
}

fn open_grpc(body: &[u8], max_message_size: usize) -> Result<Bytes, String> {
    let mut deframer = crate::protocol::grpc::Deframer::new(max_message_size, false);
    deframer.push(body);
    match deframer.next_message() {
        Ok(Some(message)) if !deframer.has_partial_message() => Ok(message),
        Ok(_) => Err("the gRPC-framed body is not one whole message".into()),
        Err(status) => Err(status.message),
    }
}

/// A v1 proto-rpc reply: the envelope with all three fields (go-micro v1 writes them even
/// when empty: `service_method` "", `seq`, `error`), then the message.
fn proto_rpc_reply(id: &str, error: &str, message: &[u8]) -> Vec<u8> {
    let mut envelope = Vec::with_capacity(16 + error.len());
    put_bytes_field(&mut envelope, 1, b"");
    envelope.push(0x11);
    envelope.extend_from_slice(&id.parse::<u64>().unwrap_or(0).to_le_bytes());
    put_bytes_field(&mut envelope, 3, error.as_bytes());
    let mut out = Vec::with_capacity(envelope.len() + message.len() + 8);
    put_netstring(&mut out, &envelope);
    put_netstring(&mut out, message);
    out
}

fn put_netstring(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

fn put_bytes_field(out: &mut Vec<u8>, field: u8, data: &[u8]) {
    out.push(field << 3 | 2);
    prost::encoding::encode_varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

/// The first netstring of `data`, and what follows it.
fn netstring(data: &[u8]) -> Result<(Bytes, Bytes), String> {
    let Some((length, rest)) = data.split_first_chunk::<4>() else {
        return Err("the proto-rpc body ends inside a length".into());
    };
    let length = u32::from_be_bytes(*length) as usize;
    if rest.len() < length {
        return Err(format!(
            "the proto-rpc body ends inside a part of {length} bytes"
        ));
    }
    Ok((
        Bytes::copy_from_slice(&rest[..length]),
        Bytes::copy_from_slice(&rest[length..]),
    ))
}

/// proto-rpc's envelope (`codec/protorpc/envelope.proto`): request and response share
/// field numbers.
#[derive(Default)]
struct Envelope {
    service_method: String,
    seq: u64,
    error: String,
}

fn envelope_fields(mut data: &[u8]) -> Result<Envelope, String> {
    use prost::encoding::{decode_key, decode_varint, skip_field, DecodeContext, WireType};
    let bad = |error: prost::DecodeError| format!("invalid proto-rpc envelope: {error}");
    let mut envelope = Envelope::default();
    while !data.is_empty() {
        let (field, wire_type) = decode_key(&mut data).map_err(bad)?;
        match (field, wire_type) {
            (1 | 3, WireType::LengthDelimited) => {
                let length = decode_varint(&mut data).map_err(bad)? as usize;
                if data.len() < length {
                    return Err("invalid proto-rpc envelope: a field runs past its end".into());
                }
                let text = String::from_utf8_lossy(&data[..length]).into_owned();
                data = &data[length..];
                if field == 1 {
                    envelope.service_method = text;
                } else {
                    envelope.error = text;
                }
            }
            (2, WireType::SixtyFourBit) => {
                let Some((seq, rest)) = data.split_first_chunk::<8>() else {
                    return Err("invalid proto-rpc envelope: seq is cut short".into());
                };
                envelope.seq = u64::from_le_bytes(*seq);
                data = rest;
            }
            (2, WireType::Varint) => envelope.seq = decode_varint(&mut data).map_err(bad)?,
            (field, wire_type) => {
                skip_field(wire_type, field, &mut data, DecodeContext::default()).map_err(bad)?
            }
        }
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(content_type: &str) -> BodyCodec {
        BodyCodec::from_content_type(content_type, false).unwrap()
    }

    #[test]
    fn vector_10_6_proto_rpc() {
        let proto_rpc = codec("application/proto-rpc");
        let request = b"\x00\x00\x00\x0f\x0a\x0dGreeter.Hello\x00\x00\x00\x06\x0a\x04John";
        let opened = proto_rpc
            .open_request(&Bytes::from_static(request), 1 << 20)
            .unwrap();
        assert_eq!(opened.method.as_deref(), Some("Greeter.Hello"));
        assert_eq!(opened.id.as_deref(), Some("0"));
        assert_eq!(&opened.message[..], b"\x0a\x04John");
        // As go-micro v1 answers (g-codecs-gomicro.txt): all three envelope fields.
        assert_eq!(
            &proto_rpc.wrap_reply("0", b"\x0a\x02hi")[..],
            b"\x00\x00\x00\x0d\x0a\x00\x11\0\0\0\0\0\0\0\0\x1a\x00\x00\x00\x00\x04\x0a\x02hi"
        );
        let request = proto_rpc.wrap_request("Job.CreateJob", 1, b"\x12\x07nightly");
        assert_eq!(
            request,
            b"\x00\x00\x00\x18\n\rJob.CreateJob\x11\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\t\x12\x07nightly"
        );
        let error = proto_rpc.wrap_error("1", "boom");
        match proto_rpc.open_reply(&error, 1 << 20) {
            Err(OpenError::Peer(text)) => assert_eq!(text, "boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_rpc_envelopes() {
        let json_rpc = codec("application/json-rpc");
        let opened = json_rpc
            .open_request(
                &Bytes::from_static(
                    b"{\"method\":\"Job.CreateJob\",\"params\":[{\"name\":\"nightly\"}],\"id\":\"0\"}\n",
                ),
                1 << 20,
            )
            .unwrap();
        assert_eq!(&opened.message[..], br#"{"name":"nightly"}"#);
        assert_eq!(opened.id.as_deref(), Some("0"));
        assert_eq!(
            &json_rpc.wrap_reply("0", b"{\"msg\":\"x\"}\n")[..],
            b"{\"id\":\"0\",\"result\":{\"msg\":\"x\"},\"error\":null}\n"
        );
        assert_eq!(
            json_rpc.wrap_request("Job.CreateJob", 0, br#"{"name":"nightly"}"#),
            b"{\"method\":\"Job.CreateJob\",\"params\":[{\"name\":\"nightly\"}],\"id\":\"0\"}\n"
        );
        match json_rpc.open_reply(&json_rpc.wrap_error("0", "boom"), 1 << 20) {
            Err(OpenError::Peer(text)) => assert_eq!(text, "boom"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn legacy_and_grpc_content_types() {
        let legacy = BodyCodec::from_content_type("application/json", true).unwrap();
        assert_eq!(legacy.framing, Framing::JsonRpc);
        let legacy = BodyCodec::from_content_type("application/octet-stream", true).unwrap();
        assert_eq!(legacy.framing, Framing::ProtoRpc);
        let grpc_json = codec("application/grpc+json");
        assert_eq!(
            (grpc_json.codec, grpc_json.framing),
            (Codec::Json, Framing::Grpc)
        );
        let opened = grpc_json
            .open_request(&Bytes::from_static(b"\x00\x00\x00\x00\x02{}"), 1 << 20)
            .unwrap();
        assert_eq!(&opened.message[..], b"{}");
        assert!(grpc_json
            .open_request(&Bytes::from_static(b"\x00\x00\x00\x00\x09{}"), 1 << 20)
            .is_err());
        assert!(BodyCodec::from_content_type("text/xml", false).is_none());
        for content_type in CONTENT_TYPES {
            assert_eq!(codec(content_type).content_type, content_type);
        }
    }
}
