//! Error details: the `google.protobuf.Any` messages a status may carry (gRPC's
//! `grpc-status-details-bin`, Connect's `details`). Converts them from and to JSON with an
//! `@type`, resolving the type in the service's schema or among google.rpc's standard
//! details (embedded), and encodes and decodes the `google.rpc.Status` that carries them.

use prost::Message;
use prost_reflect::{DescriptorPool, MessageDescriptor};
use prost_types::Any;
use serde_json::{json, Value};
use std::sync::OnceLock;

const TYPE_PREFIX: &str = "type.googleapis.com/";

/// `google.rpc.Status`, the message behind `grpc-status-details-bin`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// The well-known types and google.rpc's status and standard error details, parsed once.
fn standard_pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::global();
        for (name, source) in [
            (
                "google/rpc/status.proto",
                include_str!("../../proto/google/rpc/status.proto"),
            ),
            (
                "google/rpc/error_details.proto",
                include_str!("../../proto/google/rpc/error_details.proto"),
            ),
        ] {
            let file =
                protox::file::File::from_source(name, source).expect("google.rpc protos parse");
            pool.add_file_descriptor_proto(file.file_descriptor_proto().clone())
                .expect("google.rpc protos are valid");
        }
        pool
    })
}

/// The full type name in a type URL (`type.googleapis.com/google.rpc.ErrorInfo`).
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

fn find(name: &str, schema: Option<&DescriptorPool>) -> Option<MessageDescriptor> {
    schema
        .and_then(|pool| pool.get_message_by_name(name))
        .or_else(|| standard_pool().get_message_by_name(name))
}

/// A detail from JSON: `{"@type": "google.rpc.ErrorInfo", "reason": …}` (a type URL or a
/// bare type name), its other fields as the message's proto3 JSON.
pub fn from_json(value: &Value, schema: Option<&DescriptorPool>) -> Result<Any, String> {
    let mut fields = value
        .as_object()
        .cloned()
        .ok_or("a detail is an object with an \"@type\"")?;
    let type_url = match fields.remove("@type") {
        Some(Value::String(type_url)) => type_url,
        _ => return Err("a detail needs \"@type\", e.g. \"google.rpc.ErrorInfo\"".into()),
    };
    let name = type_name(&type_url);
    let desc = find(name, schema).ok_or_else(|| {
        format!(
            "unknown detail type {name} (use a google.rpc error detail or a message of the schema)"
        )
    })?;
    let message = super::from_json_value(&desc, &Value::Object(fields))
        .map_err(|error| format!("detail {name}: {error}"))?;
    Ok(Any {
        type_url: format!("{TYPE_PREFIX}{name}"),
        value: message.encode_to_vec(),
    })
}

/// A detail as JSON with its `@type`; one of an unknown type as its type URL and base64
/// bytes.
pub fn to_json(detail: &Any, schema: Option<&DescriptorPool>) -> Value {
    let decoded = find(type_name(&detail.type_url), schema)
        .and_then(|desc| prost_reflect::DynamicMessage::decode(desc, detail.value.as_slice()).ok());
    match decoded.map(|message| super::to_json_value(&message)) {
        Some(Ok(Value::Object(fields))) => {
            let mut object = serde_json::Map::new();
            object.insert("@type".into(), detail.type_url.clone().into());
            object.extend(fields);
            Value::Object(object)
        }
        _ => json!({"@type": detail.type_url, "value": base64_encode(&detail.value)}),
    }
}

/// The bytes of `grpc-status-details-bin`.
pub fn encode_status(code: i32, message: &str, details: &[Any]) -> Vec<u8> {
    RpcStatus {
        code,
        message: message.to_owned(),
        details: details.to_vec(),
    }
    .encode_to_vec()
}

/// The details in the bytes of `grpc-status-details-bin`.
pub fn decode_status(bytes: &[u8]) -> Result<Vec<Any>, String> {
    RpcStatus::decode(bytes)
        .map(|status| status.details)
        .map_err(|error| format!("grpc-status-details-bin is not a google.rpc.Status: {error}"))
}

/// Base64 as gRPC and Connect send binary values: standard alphabet, no padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Base64 as peers send it: padded or not.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|error| format!("bad base64: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_details_round_trip_through_json_and_status_bytes() {
        let given = json!({"@type": "google.rpc.ErrorInfo", "reason": "STOCKOUT", "domain": "example.com", "metadata": {"zone": "a"}});
        let detail = from_json(&given, None).unwrap();
        assert_eq!(detail.type_url, "type.googleapis.com/google.rpc.ErrorInfo");
        let bytes = encode_status(5, "gone", std::slice::from_ref(&detail));
        let back = decode_status(&base64_decode(&base64_encode(&bytes)).unwrap()).unwrap();
        assert_eq!(back, vec![detail.clone()]);
        let shown = to_json(&back[0], None);
        assert_eq!(shown["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
        assert_eq!(shown["reason"], "STOCKOUT");
        assert_eq!(shown["metadata"]["zone"], "a");
    }

    #[test]
    fn unknown_types_and_bad_fields_are_named() {
        let error = from_json(&json!({"@type": "acme.Nope"}), None).unwrap_err();
        assert!(error.contains("acme.Nope"), "{error}");
        let error =
            from_json(&json!({"@type": "google.rpc.ErrorInfo", "reason": 5}), None).unwrap_err();
        assert!(error.contains("reason"), "{error}");
        let opaque = Any {
            type_url: "type.googleapis.com/acme.Nope".into(),
            value: vec![1, 2],
        };
        assert_eq!(to_json(&opaque, None)["value"], "AQI");
    }
}
