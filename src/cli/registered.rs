//! What a service's registry record says about its endpoints, for when no schema does: a
//! go-micro server lists nothing itself (spec §4.5), so its record is all there is. The
//! record names each endpoint, says whether it streams (`metadata.stream`), and gives its
//! request and response as go-micro's reflection saw the Go types (`Value` trees, spec
//! §4.6): names and Go types, no field numbers. That is enough to list and describe an
//! endpoint, and to call a stream endpoint as a stream; not to encode protobuf.
//!
//! The records are those of the service a call goes to by name, or, for an address, those
//! of the services with a node at that address — read only when a call needs them, and
//! not over mDNS, where every lookup waits a browse window for answers.

use super::args::{Route, TargetArgs};
use crate::registry::record::{EndpointRecord, Service};
use crate::registry::Registry;
use crate::schema::Schema;
use serde_json::Value;

/// Where the records of a call's service come from.
pub enum Records {
    /// The route named the service: its records, every version.
    Known(Vec<Service>),
    /// An address: the registry is asked for the services with a node there.
    AtAddress { registry: Registry, address: String },
    /// Nothing to ask (an mDNS registry, another protocol).
    Unknown,
}

/// A service's records, and where they were read.
pub struct Registered {
    pub services: Vec<Service>,
    /// `the registry record of wjob in the embedded registry at …`.
    pub source: String,
}

impl Records {
    /// The records a call along `route` can fall back on.
    pub fn of(route: &Route, target: &TargetArgs) -> Records {
        match route {
            Route::Registered(services) => Records::Known(services.clone()),
            Route::Service(_) => Records::Unknown,
            Route::Address(address) => match target.registry() {
                Ok(Registry::Mdns(_)) | Err(_) => Records::Unknown,
                Ok(registry) => Records::AtAddress {
                    registry,
                    address: address.address.clone(),
                },
            },
        }
    }

    /// The records, read from the registry if need be; `None` when there are none. A
    /// registry that cannot be read here is no error: the call goes on without a record.
    pub async fn read(self) -> Option<Registered> {
        let (services, registry) = match self {
            Records::Unknown => return None,
            Records::Known(services) => (services, None),
            Records::AtAddress { registry, address } => {
                let listed = match registry.list_services().await {
                    Ok(listed) => listed,
                    Err(error) => {
                        tracing::debug!("no registry record for {address}: {error:#}");
                        return None;
                    }
                };
                let at =
                    |service: &Service| service.nodes.iter().any(|node| node.address == address);
                (listed.into_iter().filter(at).collect(), Some(registry))
            }
        };
        let name = services.first()?.name.clone();
        let mut names: Vec<&str> = services
            .iter()
            .map(|service| service.name.as_str())
            .collect();
        names.dedup();
        if names.len() > 1 {
            // Several services at one address: no record speaks for it alone.
            tracing::debug!("several services registered at one address: {names:?}");
            return None;
        }
        let source = match registry {
            Some(registry) => format!("the registry record of {name} in {}", registry.describe()),
            None => format!("the registry record of {name}"),
        };
        Some(Registered { services, source })
    }
}

impl Registered {
    /// The service's registered name (go-micro's `Micro-Service`).
    pub fn name(&self) -> &str {
        &self.services[0].name
    }

    /// The RPC endpoint `name` (`Job.Watch`), from the first version that has it.
    pub fn endpoint(&self, name: &str) -> Option<&EndpointRecord> {
        self.endpoints().find(|endpoint| endpoint.name == name)
    }

    /// Every RPC endpoint of every version, in the records' order.
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointRecord> {
        self.services.iter().flat_map(Service::rpc_endpoints)
    }
}

/// go-micro registers a stream endpoint with `"stream": "true"` (spec §4.6). The record
/// does not say which side streams, so rmicro treats it as bidirectional: go-micro's
/// stream framing is the same for all three kinds.
pub fn streams(endpoint: &EndpointRecord) -> bool {
    endpoint.metadata.get("stream").map(String::as_str) == Some("true")
}

/// Whether `schema` has unary the endpoint that `record` registers as a go-micro stream:
/// calls that follow the schema go as plain requests, which a go-micro stream handler
/// never answers (spec §5).
pub fn schema_has_unary(schema: &Schema, record: &EndpointRecord) -> bool {
    streams(record)
        && schema
            .resolve(&record.name)
            .is_ok_and(|method| !crate::schema::is_streaming(&method))
}

/// `stream` or `unary`, as the record says.
pub fn kind(endpoint: &EndpointRecord) -> &'static str {
    match streams(endpoint) {
        true => "stream",
        false => "unary",
    }
}

/// A `Value`'s Go type name (`Task`, `[]string`), `-` when the record has none.
pub fn type_name(value: &Value) -> &str {
    value["type"].as_str().unwrap_or("-")
}

/// The fields of a `Value` as the record has them, each with its own fields: the
/// internals protoc-gen-go puts in every message struct (`state`, `sizeCache`,
/// `unknownFields`, which go-micro's reflection records too, as `MessageState`, `int32`
/// and `unknownFields`) are left out, being no part of the message.
pub fn fields(value: &Value) -> Vec<&Value> {
    let internal = |field: &&Value| {
        let (name, kind) = (field["name"].as_str(), field["type"].as_str());
        matches!(
            (name, kind),
            (Some("MessageState"), Some("MessageState"))
                | (Some("int32"), Some("int32"))
                | (Some("unknownFields"), Some("[]uint8"))
        )
    };
    value["values"]
        .as_array()
        .map(|values| values.iter().filter(|field| !internal(field)).collect())
        .unwrap_or_default()
}

/// A `Value` tree as indented lines, `name  type` each (types aligned), its fields below it.
pub fn render_fields(value: &Value, depth: usize, text: &mut String) {
    use std::fmt::Write as _;
    let fields = fields(value);
    let name = |field: &Value| field["name"].as_str().unwrap_or("?").to_owned();
    let width = fields
        .iter()
        .map(|field| name(field).len())
        .max()
        .unwrap_or(0);
    for field in fields {
        let _ = writeln!(
            text,
            "{:indent$}{:width$}  {}",
            "",
            name(field),
            type_name(field),
            indent = 4 + 2 * depth
        );
        render_fields(field, depth + 1, text);
    }
}

/// A `Value` tree as JSON for scripts: `{"name","type","fields":[…]}`, protobuf-go's
/// internals left out as in [`fields`].
pub fn value_json(value: &Value) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("name".into(), value["name"].clone());
    object.insert("type".into(), value["type"].clone());
    let fields: Vec<Value> = fields(value).into_iter().map(value_json).collect();
    if !fields.is_empty() {
        object.insert("fields".into(), Value::Array(fields));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protobuf_internals_are_left_out() {
        // Job.CreateJob's request as go-micro v1 registered it (the captures' mDNS TXT).
        let task = json!({"name":"Task","type":"Task","values":[
            {"name":"MessageState","type":"MessageState","values":[{"name":"DoNotCopy","type":"DoNotCopy","values":null}]},
            {"name":"int32","type":"int32","values":null},
            {"name":"unknownFields","type":"[]uint8","values":null},
            {"name":"id","type":"string","values":null},
            {"name":"hosts","type":"[]string","values":null}]});
        let names: Vec<&str> = fields(&task)
            .iter()
            .map(|field| field["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["id", "hosts"]);
        let mut text = String::new();
        render_fields(&task, 0, &mut text);
        assert_eq!(text, "    id     string\n    hosts  []string\n");
    }
}
