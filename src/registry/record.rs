//! go-micro's registry records (spec §4.6, §10.7): a service with its endpoints and nodes,
//! in the JSON shape every go-micro registry stores. Go writes `null` for empty maps and
//! lists; reading treats it as empty.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

pub type Metadata = BTreeMap<String, String>;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Option<Metadata>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub endpoints: Vec<EndpointRecord>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub nodes: Vec<Node>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    pub address: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub name: String,
    /// go-micro `Value` trees, kept as they are.
    #[serde(default)]
    pub request: serde_json::Value,
    #[serde(default)]
    pub response: serde_json::Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: Metadata,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Service {
    /// Endpoints that are RPC methods (go-micro lists subscribers as endpoints too).
    pub fn rpc_endpoints(&self) -> impl Iterator<Item = &EndpointRecord> {
        self.endpoints.iter().filter(|endpoint| {
            endpoint.metadata.get("subscriber").map(String::as_str) != Some("true")
        })
    }
}

impl Node {
    /// The protocols the node speaks: rmicro lists all of its port's in `protocols`;
    /// go-micro nodes name one in `protocol` (none means mucp's legacy envelopes).
    pub fn protocols(&self) -> Vec<&str> {
        match (
            self.metadata.get("protocols"),
            self.metadata.get("protocol"),
        ) {
            (Some(list), _) => list.split(',').map(str::trim).collect(),
            (None, Some(one)) => vec![one.as_str()],
            (None, None) => vec!["mucp"],
        }
    }
}

/// Merges records of one name into one service per version, nodes concatenated (as
/// go-micro's registries return them), sorted by version then node id.
pub fn group_by_version(records: impl IntoIterator<Item = Service>) -> Vec<Service> {
    let mut grouped: BTreeMap<(String, String), Service> = BTreeMap::new();
    for record in records {
        let key = (record.name.clone(), record.version.clone());
        match grouped.get_mut(&key) {
            Some(service) => service.nodes.extend(record.nodes),
            None => {
                grouped.insert(key, record);
            }
        }
    }
    let mut services: Vec<Service> = grouped.into_values().collect();
    for service in &mut services {
        service.nodes.sort_by(|a, b| a.id.cmp(&b.id));
    }
    services
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The etcd value of spec §10.7, exactly as go-micro v5/v6 writes it.
    pub const GO_MICRO_RECORD: &str = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Helloworld.Call"}],"nodes":[{"metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"},"id":"helloworld-4b2d4c5e-0000-4000-8000-000000000001","address":"10.0.0.5:36459"}]}"#;

    #[test]
    fn reads_the_record_go_micro_writes() {
        let service: Service = serde_json::from_str(GO_MICRO_RECORD).unwrap();
        assert_eq!(service.name, "helloworld");
        assert_eq!(service.metadata, None);
        assert_eq!(service.endpoints[0].name, "Helloworld.Call");
        assert_eq!(service.endpoints[0].request["values"][0]["name"], "name");
        assert_eq!(service.nodes[0].address, "10.0.0.5:36459");
        assert_eq!(service.nodes[0].protocols(), ["mucp"]);
        // And writes the same shape back: every key go-micro reads, same values.
        let written: serde_json::Value = serde_json::to_value(&service).unwrap();
        let original: serde_json::Value = serde_json::from_str(GO_MICRO_RECORD).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn nulls_read_as_empty() {
        let service: Service = serde_json::from_str(
            r#"{"name":"x","version":null,"endpoints":null,"nodes":[{"id":"a","address":"h:1","metadata":null}]}"#,
        )
        .unwrap();
        assert!(service.endpoints.is_empty());
        assert!(service.nodes[0].metadata.is_empty());
    }
}
