//! JSON as Go's `encoding/json` reads it into a struct: keys match fields
//! case-insensitively (a Go client sends `{"A":7,"JobId":"x"}` for proto fields `a` and
//! `job_id`) and unknown keys are ignored. Used where Go programs are the peers (JSON-RPC,
//! and go-micro replies). Go's `encoding/json` on a generated struct also writes what
//! proto3 JSON spells otherwise, and go-micro ≤ v5.13 writes its replies that way (spec
//! §2.5): a oneof as its Go field holding its wrapper (`"Payment":{"Card":{…}}`), and a
//! Timestamp or Duration as its struct (`{"seconds":…,"nanos":…}`). Both are read.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::Value;

/// Reads `value` into a message of `desc` the way Go would fill the matching struct.
pub fn from_go_json_value(
    desc: &MessageDescriptor,
    mut value: Value,
) -> Result<DynamicMessage, String> {
    adopt_go_field_names(desc, &mut value);
    super::from_json_deserializer(
        desc,
        &value,
        &DeserializeOptions::new().deny_unknown_fields(false),
    )
}

/// Renames every key of `value` that names a field of `desc` only up to case (Go field
/// names, any capitalisation of the proto or JSON name) to that field's proto name.
fn adopt_go_field_names(desc: &MessageDescriptor, value: &mut Value) {
    let Value::Object(object) = value else {
        return;
    };
    if desc.full_name().starts_with("google.protobuf.") {
        return; // well-known types have their own JSON forms
    }
    unwrap_go_oneofs(desc, object);
    let mut renames = Vec::new();
    for (key, field_value) in object.iter_mut() {
        let Some(field) = field_for(desc, key) else {
            continue; // ignored, as Go ignores it
        };
        adopt_in_field(&field, field_value);
        if key != field.name() {
            renames.push((key.clone(), field));
        }
    }
    for (key, field) in renames {
        if let Some(field_value) = object.remove(&key) {
            object.insert(field.name().to_owned(), field_value);
        }
    }
}

fn field_for(desc: &MessageDescriptor, key: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(key)
        .or_else(|| desc.get_field_by_json_name(key))
        .or_else(|| {
            desc.fields().find(|field| {
                field.name().eq_ignore_ascii_case(key)
                    || field.json_name().eq_ignore_ascii_case(key)
            })
        })
}

fn adopt_in_field(field: &FieldDescriptor, value: &mut Value) {
    let Kind::Message(message) = field.kind() else {
        return;
    };
    if field.is_map() {
        if let (Kind::Message(inner), Value::Object(entries)) =
            (message.map_entry_value_field().kind(), value)
        {
            entries
                .values_mut()
                .for_each(|entry| adopt_message(&inner, entry));
        }
    } else if let Value::Array(items) = value {
        items
            .iter_mut()
            .for_each(|item| adopt_message(&message, item));
    } else {
        adopt_message(&message, value);
    }
}

/// A message value as Go wrote it made readable: a Timestamp or Duration struct in its
/// proto3 JSON string, other messages field by field.
fn adopt_message(desc: &MessageDescriptor, value: &mut Value) {
    let seconds_nanos = |value: &Value| {
        let Value::Object(object) = value else {
            return None;
        };
        let number = |key: &str| match object.get(key) {
            None => Some(0),
            Some(Value::Number(number)) => number.as_i64(),
            Some(Value::String(text)) => text.parse().ok(),
            Some(_) => None,
        };
        Some((number("seconds")?, i32::try_from(number("nanos")?).ok()?))
    };
    match desc.full_name() {
        "google.protobuf.Timestamp" => {
            if let Some((seconds, nanos)) = seconds_nanos(value) {
                *value = Value::String(prost_types::Timestamp { seconds, nanos }.to_string());
            }
        }
        "google.protobuf.Duration" => {
            if let Some((seconds, nanos)) = seconds_nanos(value) {
                *value = Value::String(prost_types::Duration { seconds, nanos }.to_string());
            }
        }
        _ => adopt_go_field_names(desc, value),
    }
}

/// `"Payment":{"Card":{…}}` (a oneof's Go field and its wrapper struct) → `"card":{…}`.
fn unwrap_go_oneofs(desc: &MessageDescriptor, object: &mut serde_json::Map<String, Value>) {
    for oneof in desc.oneofs() {
        let Some(key) = object
            .keys()
            .find(|key| key.eq_ignore_ascii_case(oneof.name()) && field_for(desc, key).is_none())
            .cloned()
        else {
            continue;
        };
        let Some(Value::Object(wrapper)) = object.get(&key) else {
            continue;
        };
        let chosen = wrapper.iter().find_map(|(name, inner)| {
            oneof
                .fields()
                .find(|field| {
                    field.name().eq_ignore_ascii_case(name)
                        || field.json_name().eq_ignore_ascii_case(name)
                })
                .map(|field| (field.name().to_owned(), inner.clone()))
        });
        if let Some((name, inner)) = chosen {
            object.remove(&key);
            object.insert(name, inner);
        }
    }
}
