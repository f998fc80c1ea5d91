//! The etcd registry (spec §6.1) in go-micro's layout: key
//! `/micro/registry/<service>/<node id>`, value the go-micro record with that one node,
//! attached to a lease of the TTL. Spoken through etcd's v3 JSON gateway (plain HTTP/1.1
//! on the client port, etcd ≥ 3.4) with rmicro's own HTTP/1.1 framing, so no gRPC stack
//! is needed: keys and values are base64, 64-bit numbers are strings. Each heartbeat
//! grants a fresh lease and re-puts the key on it, so the record lives while the server
//! does and the old lease simply runs out.

use super::record::{group_by_version, Service};
use crate::protocol::http1::HttpConnection;
use anyhow::{anyhow, bail, Context};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;

const PREFIX: &str = "/micro/registry/";
const MAX_REPLY: usize = 64 * 1024 * 1024;

pub struct EtcdRegistry {
    endpoints: Vec<String>,
    /// Bounds each operation on one endpoint, connecting included.
    timeout: Duration,
}

impl EtcdRegistry {
    /// `host[:port][,host[:port]…]`; the port defaults to 2379.
    pub fn new(addresses: &str, timeout: Duration) -> EtcdRegistry {
        let endpoints = addresses
            .split(',')
            .map(|address| address.trim().trim_end_matches('/'))
            .filter(|address| !address.is_empty())
            .map(|address| match address.rsplit_once(':') {
                Some((_, port)) if port.parse::<u16>().is_ok() => address.to_owned(),
                _ => format!("{address}:2379"),
            })
            .collect::<Vec<_>>();
        EtcdRegistry {
            endpoints: if endpoints.is_empty() {
                vec!["127.0.0.1:2379".into()]
            } else {
                endpoints
            },
            timeout,
        }
    }

    pub fn describe(&self) -> String {
        format!("etcd at {}", self.endpoints.join(","))
    }

    pub async fn register(&self, service: &Service, ttl: Duration) -> anyhow::Result<()> {
        for node in &service.nodes {
            let record = Service {
                nodes: vec![node.clone()],
                ..service.clone()
            };
            let lease = self
                .post(
                    "/v3/lease/grant",
                    json!({"TTL": ttl.as_secs().max(2).to_string()}),
                )
                .await?;
            let id = lease["ID"]
                .as_str()
                .ok_or_else(|| anyhow!("etcd granted no lease: {lease}"))?
                .to_owned();
            self.post(
                "/v3/kv/put",
                json!({
                    "key": BASE64.encode(node_key(&service.name, &node.id)),
                    "value": BASE64.encode(serde_json::to_vec(&record)?),
                    "lease": id,
                }),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn deregister(&self, service: &Service) -> anyhow::Result<()> {
        for node in &service.nodes {
            let key = BASE64.encode(node_key(&service.name, &node.id));
            self.post("/v3/kv/deleterange", json!({"key": key})).await?;
        }
        Ok(())
    }

    pub async fn get_service(&self, name: &str) -> anyhow::Result<Vec<Service>> {
        let records = self.range(&format!("{PREFIX}{}/", escape(name))).await?;
        Ok(group_by_version(
            records.into_iter().filter(|record| record.name == name),
        ))
    }

    pub async fn list_services(&self) -> anyhow::Result<Vec<Service>> {
        Ok(group_by_version(self.range(PREFIX).await?))
    }

    /// Every record under `prefix`; values that are not records are warned about and
    /// skipped.
    async fn range(&self, prefix: &str) -> anyhow::Result<Vec<Service>> {
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().expect("prefixes end with /") += 1;
        let reply = self
            .post(
                "/v3/kv/range",
                json!({"key": BASE64.encode(prefix), "range_end": BASE64.encode(end)}),
            )
            .await?;
        let mut records = Vec::new();
        for kv in reply["kvs"].as_array().into_iter().flatten() {
            let key = kv["key"].as_str().and_then(|key| BASE64.decode(key).ok());
            let key = String::from_utf8_lossy(key.as_deref().unwrap_or_default()).into_owned();
            let parsed = kv["value"]
                .as_str()
                .and_then(|value| BASE64.decode(value).ok())
                .ok_or_else(|| "not base64".to_owned())
                .and_then(|bytes| {
                    serde_json::from_slice::<Service>(&bytes).map_err(|error| error.to_string())
                });
            match parsed {
                Ok(record) => records.push(record),
                Err(error) => tracing::warn!("ignoring the etcd record {key}: {error}"),
            }
        }
        Ok(records)
    }

    /// One gateway call, to the first endpoint that answers.
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let mut failure = None;
        for endpoint in &self.endpoints {
            let attempt = tokio::time::timeout(self.timeout, post_to(endpoint, path, &body));
            match attempt.await {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(error)) => failure = Some(error),
                Err(_) => {
                    failure = Some(anyhow!(
                        "etcd at {endpoint}: no answer within {:?}",
                        self.timeout
                    ))
                }
            }
        }
        Err(failure.expect("at least one endpoint"))
    }
}

async fn post_to(endpoint: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
    let stream = TcpStream::connect(endpoint)
        .await
        .with_context(|| format!("cannot reach etcd at {endpoint}"))?;
    let mut connection = HttpConnection::new(stream, MAX_REPLY);
    let body = serde_json::to_vec(body)?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {endpoint}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    connection
        .write_all(&request)
        .await
        .with_context(|| format!("etcd at {endpoint}"))?;
    let reply = connection.read_response().await.map_err(|error| {
        anyhow!("etcd at {endpoint} gave no HTTP answer ({error}): is it etcd 3.4 or later?")
    })?;
    let status = reply.status().map_or(0, |(code, _)| code);
    let value: Value = serde_json::from_slice(&reply.body).map_err(|_| {
        anyhow!(
            "etcd at {endpoint} answered {status} {:?}: is it etcd 3.4 or later?",
            String::from_utf8_lossy(&reply.body[..reply.body.len().min(80)])
        )
    })?;
    if status != 200 {
        bail!(
            "etcd at {endpoint}: {}",
            value["message"].as_str().unwrap_or("error")
        );
    }
    Ok(value)
}

/// go-micro's `nodePath`: `/` inside the service name or node id becomes `-`.
fn node_key(service: &str, node: &str) -> String {
    format!("{PREFIX}{}/{}", escape(service), escape(node))
}

fn escape(part: &str) -> String {
    part.replace('/', "-")
}
