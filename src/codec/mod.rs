//! Message bodies only: JSON ⇄ `DynamicMessage` ⇄ protobuf bytes, and the codec names
//! go-micro selects by `Content-Type` (spec §2.3–§2.5). No framing, no transport.
//! Depends on `message` and prost-reflect.

pub mod budget;
pub mod details;
mod go_json;

pub use go_json::from_go_json_value;

use crate::message::{EncodedMessage, Reply};
use bytes::Bytes;
use prost::Message as _;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions,
};

/// A body encoding, as named by go-micro's `Content-Type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Json,
    Protobuf,
}

impl Codec {
    /// go-micro matches the whole header value exactly (spec §2.3): no parameters.
    pub fn from_content_type(content_type: &str) -> Option<Codec> {
        match content_type {
            "application/json" => Some(Codec::Json),
            "application/protobuf" => Some(Codec::Protobuf),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Codec::Json => "application/json",
            Codec::Protobuf => "application/protobuf",
        }
    }
}

/// The JSON rmicro writes on the wire: proto field names, enums and 64-bit integers as
/// numbers, zero values omitted — what go-micro ≤ v5.13 writes, and what both its old
/// (jsonpb) and new (protojson) readers accept (spec §2.5).
fn wire_json() -> SerializeOptions {
    SerializeOptions::new()
        .use_proto_field_name(true)
        .use_enum_numbers(true)
        .stringify_64_bit_integers(false)
}

/// The JSON rmicro shows people and scripts: proto3 JSON (enum names, JSON field names)
/// with 64-bit integers as numbers, so that a reply prints the same whatever the protocol
/// carried it: Go's net/rpc (`encoding/json`) and go-micro write them as numbers, and a
/// schema-less JSON-RPC result is printed as sent. Wrappers print as their bare values.
fn display_json() -> SerializeOptions {
    SerializeOptions::new().stringify_64_bit_integers(false)
}

/// Whether the message's JSON form is not an object: the wrappers
/// (`google.protobuf.*Value`, read and printed as their bare values), `Value`,
/// `ListValue`, `Timestamp`, `Duration` and `FieldMask`.
pub fn has_bare_json_form(desc: &MessageDescriptor) -> bool {
    desc.full_name()
        .strip_prefix("google.protobuf.")
        .is_some_and(|name| {
            name.ends_with("Value") || matches!(name, "Timestamp" | "Duration" | "FieldMask")
        })
}

/// Decodes a request or reply body. An empty body is the empty message (go-micro does not
/// decode empty bodies, spec §2.4); JSON after the first value is ignored, as Go does.
pub fn decode(
    codec: Codec,
    desc: &MessageDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, String> {
    if body.is_empty() {
        return Ok(DynamicMessage::new(desc.clone()));
    }
    match codec {
        Codec::Json => {
            let mut deserializer = serde_json::Deserializer::from_slice(body);
            from_json_deserializer(desc, &mut deserializer, &DeserializeOptions::new())
        }
        Codec::Protobuf => DynamicMessage::decode(desc.clone(), body)
            .map_err(|error| format!("invalid protobuf {}: {error}", desc.full_name())),
    }
}

/// Decodes a reply from a peer: as [`decode`], but JSON read leniently, as Go and
/// go-micro's writers write it (field names in any case, go-micro's oneof and time forms).
pub fn decode_reply(
    codec: Codec,
    desc: &MessageDescriptor,
    body: &[u8],
) -> Result<DynamicMessage, String> {
    match codec {
        Codec::Json if !body.is_empty() => strict_json(desc, body).or_else(|_| {
            serde_json::from_slice(body)
                .map_err(|error| error.to_string())
                .and_then(|value| from_go_json_value(desc, value))
        }),
        codec => decode(codec, desc, body),
    }
}

/// JSON as protobuf writes it (every key a field's proto or JSON name), read straight from
/// the bytes, without the lenient reading's JSON tree or the error's field path: the
/// common reply, read cheaply (`rmicro bench` reads every one). What it reads, the lenient
/// reading reads as the same message: that one only renames a key to the proto name of
/// the field it names, unwraps oneofs under keys that name no field and rewrites
/// Timestamp and Duration objects, all of which this refuses. What this refuses goes to the
/// lenient reading, whose error is the one shown.
fn strict_json(desc: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, ()> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let message = DynamicMessage::deserialize_with_options(
        desc.clone(),
        &mut deserializer,
        &DeserializeOptions::new(),
    )
    .map_err(drop)?;
    deserializer.end().map_err(drop)?;
    Ok(message)
}

/// Parses JSON text into a message of `desc`, rejecting trailing data. Errors name the
/// field at fault (`field tags[1]: invalid type …`).
pub fn from_json_text(desc: &MessageDescriptor, text: &[u8]) -> Result<DynamicMessage, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let message = from_json_deserializer(desc, &mut deserializer, &DeserializeOptions::new())?;
    deserializer.end().map_err(|error| error.to_string())?;
    Ok(message)
}

/// Converts a JSON value (from a handlers file, an exec reply) into a message of `desc`.
pub fn from_json_value(
    desc: &MessageDescriptor,
    value: &serde_json::Value,
) -> Result<DynamicMessage, String> {
    from_json_deserializer(desc, value, &DeserializeOptions::new())
}

fn from_json_deserializer<'de, D>(
    desc: &MessageDescriptor,
    deserializer: D,
    options: &DeserializeOptions,
) -> Result<DynamicMessage, String>
where
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let mut track = serde_path_to_error::Track::new();
    let tracked = serde_path_to_error::Deserializer::new(deserializer, &mut track);
    DynamicMessage::deserialize_with_options(desc.clone(), tracked, options).map_err(|error| {
        let path = track.path().to_string();
        let error = error.to_string();
        let hint = unknown_field_hint(desc, &path, &error);
        if path == "." || path.is_empty() {
            format!("{error}{hint}")
        } else {
            format!("field `{path}`: {error}{hint}")
        }
    })
}

/// For prost-reflect's "unrecognized field name 'x'": the closest fields of the message at
/// `path` (`hosts[1].spec`), by proto and JSON name.
fn unknown_field_hint(desc: &MessageDescriptor, path: &str, error: &str) -> String {
    let Some(name) = error
        .strip_prefix("unrecognized field name '")
        .and_then(|rest| rest.split_once('\''))
        .map(|(name, _)| name)
    else {
        return String::new();
    };
    let mut message = desc.clone();
    for segment in path.split('.').filter(|segment| !segment.is_empty()) {
        let field_name = segment.split('[').next().unwrap_or(segment);
        let Some(field) = message
            .get_field_by_name(field_name)
            .or_else(|| message.get_field_by_json_name(field_name))
        else {
            return String::new();
        };
        match field.kind() {
            prost_reflect::Kind::Message(inner) if inner.is_map_entry() => {
                match inner.map_entry_value_field().kind() {
                    prost_reflect::Kind::Message(value) => message = value,
                    _ => return String::new(),
                }
            }
            prost_reflect::Kind::Message(inner) => message = inner,
            _ => return String::new(),
        }
    }
    let names: Vec<String> = message
        .fields()
        .flat_map(|field| [field.name().to_owned(), field.json_name().to_owned()])
        .collect();
    let suggestions = crate::suggest::closest(name, names.iter().map(String::as_str));
    match suggestions.is_empty() {
        true => format!(
            " ({} has {})",
            message.name(),
            match message.fields().len() {
                0 => "no fields".to_owned(),
                _ => message
                    .fields()
                    .map(|field| field.name().to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        ),
        false => crate::suggest::did_you_mean(&suggestions),
    }
}

/// Encodes a message for the wire. Protobuf always succeeds; JSON fails for a message that
/// decoded from protobuf but has no JSON form: a Timestamp or Duration out of range, a NaN
/// or infinity in a `google.protobuf.Value`, an `Any` of a type the schema lacks. Such
/// messages arrive from the network, so the error is the caller's to report, never a panic.
pub fn encode(codec: Codec, message: &DynamicMessage) -> Result<Vec<u8>, String> {
    match codec {
        Codec::Json => {
            let mut out = Vec::with_capacity(64);
            let mut serializer = serde_json::Serializer::new(&mut out);
            message
                .serialize_with_options(&mut serializer, &wire_json())
                .map_err(|error| no_json_form(message, error))?;
            out.push(b'\n');
            Ok(out)
        }
        Codec::Protobuf => Ok(message.encode_to_vec()),
    }
}

/// Encodes a handler's reply, reusing the ahead-of-time encoding when there is one.
pub fn encode_reply(codec: Codec, reply: &Reply) -> Result<Bytes, String> {
    match (reply, codec) {
        (Reply::Encoded(encoded), Codec::Json) => Ok(encoded.json.clone()),
        (Reply::Encoded(encoded), Codec::Protobuf) => Ok(encoded.protobuf.clone()),
        (Reply::Message(message), codec) => encode(codec, message).map(Bytes::from),
        (Reply::Protobuf { bytes, .. }, Codec::Protobuf) => Ok(bytes.clone()),
        (Reply::Protobuf { bytes, descriptor }, Codec::Json) => {
            decode(Codec::Protobuf, descriptor, bytes)
                .and_then(|message| encode(Codec::Json, &message))
                .map(Bytes::from)
        }
    }
}

/// Encodes a static message once for every codec.
pub fn encode_ahead(message: DynamicMessage) -> Result<EncodedMessage, String> {
    Ok(EncodedMessage {
        json: encode(Codec::Json, &message)?.into(),
        protobuf: message.encode_to_vec().into(),
        message,
    })
}

/// The message as a JSON value in the display form; fails as `encode` does.
pub fn to_json_value(message: &DynamicMessage) -> Result<serde_json::Value, String> {
    to_display_value(message, false)
}

/// The display form, with every field when `emit_defaults` (zero values, empty lists,
/// unset messages as null: `--emit-defaults`, grpcurl's `-emit-defaults`).
pub fn to_display_value(
    message: &DynamicMessage,
    emit_defaults: bool,
) -> Result<serde_json::Value, String> {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &display_json().skip_default_fields(!emit_defaults),
        )
        .map_err(|error| no_json_form(message, error))
}

/// The message as a JSON value in the display form, but with 64-bit integers as JSON
/// numbers (figures a script does arithmetic on).
pub fn to_json_value_with_numbers(message: &DynamicMessage) -> Result<serde_json::Value, String> {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &display_json().stringify_64_bit_integers(false),
        )
        .map_err(|error| no_json_form(message, error))
}

/// The message as a JSON value in the display form with every field, zero values too (a
/// recorded request matches only requests with the same zeros).
pub fn to_json_value_with_defaults(message: &DynamicMessage) -> Result<serde_json::Value, String> {
    message
        .serialize_with_options(
            serde_json::value::Serializer,
            &display_json().skip_default_fields(false),
        )
        .map_err(|error| no_json_form(message, error))
}

/// The message as a JSON value in the wire form (what exec handlers read on stdin); fails
/// as `encode` does.
pub fn to_wire_json_value(message: &DynamicMessage) -> Result<serde_json::Value, String> {
    message
        .serialize_with_options(serde_json::value::Serializer, &wire_json())
        .map_err(|error| no_json_form(message, error))
}

/// The message as templates see it (`{{request.…}}`): proto field names, enums by name,
/// 64-bit integers as numbers, and every field present, zero values too.
pub fn to_template_json_value(message: &DynamicMessage) -> serde_json::Value {
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .unwrap_or(serde_json::Value::Null)
}

fn no_json_form(message: &DynamicMessage, error: impl std::fmt::Display) -> String {
    format!(
        "{} has no JSON form: {error}",
        message.descriptor().full_name()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn pool() -> DescriptorPool {
        let source = r#"
            syntax = "proto3";
            package t;
            message Request { string name = 1; int64 big = 2; Kind kind = 3; repeated string tags = 4; }
            enum Kind { KIND_UNSPECIFIED = 0; KIND_A = 1; }
        "#;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), source).unwrap();
        protox::compile(["t.proto"], [dir.path()])
            .map(|set| DescriptorPool::from_file_descriptor_set(set).unwrap())
            .unwrap()
    }

    #[test]
    fn a_reply_read_strictly_is_the_message_the_lenient_reading_gives() {
        let desc = pool().get_message_by_name("t.Request").unwrap();
        let lenient =
            |body: &str| from_go_json_value(&desc, serde_json::from_str(body).unwrap()).unwrap();
        for body in [
            r#"{"name":"a","big":"12","kind":"KIND_A","tags":["x","y"]}"#,
            r#"{"name":"a","big":12,"kind":1,"tags":[]}"#,
            r#"{"name":null}"#,
            "{}",
        ] {
            let strict = strict_json(&desc, body.as_bytes()).unwrap();
            assert_eq!(strict, lenient(body), "{body}");
            assert_eq!(
                decode_reply(Codec::Json, &desc, body.as_bytes()).unwrap(),
                strict
            );
        }
        // Go's field names, and a field Go would ignore: only the lenient reading takes them.
        for body in [r#"{"Name":"a"}"#, r#"{"name":"a","extra":1}"#] {
            assert!(strict_json(&desc, body.as_bytes()).is_err(), "{body}");
            assert_eq!(
                decode_reply(Codec::Json, &desc, body.as_bytes()).unwrap(),
                lenient(body)
            );
        }
        // What neither reads fails with the lenient reading's error.
        let error = decode_reply(Codec::Json, &desc, br#"{"big":"x"}"#).unwrap_err();
        assert!(error.contains("field `big`"), "{error}");
    }

    #[test]
    fn vector_10_2_protobuf_body() {
        let desc = pool().get_message_by_name("t.Request").unwrap();
        let message = decode(Codec::Protobuf, &desc, b"\x0a\x04John").unwrap();
        assert_eq!(
            message.get_field_by_name("name").unwrap().as_str(),
            Some("John")
        );
        assert_eq!(encode(Codec::Protobuf, &message).unwrap(), b"\x0a\x04John");
    }

    #[test]
    fn undecoded_protobuf_replies_pass_as_they_came_or_as_json() {
        let descriptor = pool().get_message_by_name("t.Request").unwrap();
        let reply = Reply::Protobuf {
            bytes: Bytes::from_static(b"\x0a\x04John"),
            descriptor,
        };
        assert_eq!(
            &encode_reply(Codec::Protobuf, &reply).unwrap()[..],
            b"\x0a\x04John"
        );
        assert_eq!(
            &encode_reply(Codec::Json, &reply).unwrap()[..],
            b"{\"name\":\"John\"}\n"
        );
    }

    #[test]
    fn wire_json_is_the_old_go_micro_dialect() {
        let desc = pool().get_message_by_name("t.Request").unwrap();
        let message = decode(
            Codec::Json,
            &desc,
            br#"{"name":"John","big":"5","kind":"KIND_A"}"#,
        )
        .unwrap();
        assert_eq!(
            encode(Codec::Json, &message).unwrap(),
            b"{\"name\":\"John\",\"big\":5,\"kind\":1}\n"
        );
        assert_eq!(
            to_json_value(&message).unwrap(),
            serde_json::json!({"name":"John","big":5,"kind":"KIND_A"})
        );
    }

    #[test]
    fn json_errors_name_the_field() {
        let desc = pool().get_message_by_name("t.Request").unwrap();
        let error = from_json_text(&desc, br#"{"tags":["a",5]}"#).unwrap_err();
        assert!(error.contains("tags"), "{error}");
        let error = from_json_text(&desc, br#"{"nme":"x"}"#).unwrap_err();
        assert!(error.contains("nme"), "{error}");
        assert!(error.contains("did you mean name?"), "{error}");
        assert!(from_json_text(&desc, br#"{"name":"x"} trailing"#).is_err());
        assert!(decode(Codec::Json, &desc, b"{\"name\":\"x\"}\n").is_ok());
    }
}
