//! JSON as Go's `encoding/json` reads it into a struct: keys match fields
//! case-insensitively (a Go client sends `{"A":7,"JobId":"x"}` for proto fields `a` and
//! `job_id`) and unknown keys are ignored. Used where Go programs are the peers (JSON-RPC).

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
                .for_each(|entry| adopt_go_field_names(&inner, entry));
        }
    } else if let Value::Array(items) = value {
        items
            .iter_mut()
            .for_each(|item| adopt_go_field_names(&message, item));
    } else {
        adopt_go_field_names(&message, value);
    }
}
