//! Keeping `rmicro serve`'s node in a registry (spec §4.6): register at start-up
//! (before the server says it is listening, so scripts can rely on the record),
//! re-register every third of the TTL, deregister on shutdown. A registry that is down
//! or goes away gets a warning and retries with backoff; serving never stops for it.

use crate::handler::PROTOCOLS;
use crate::registry::record::{Node, Service};
use crate::registry::{node_id, Registry};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

pub struct Registration {
    registry: Registry,
    service: Service,
    ttl: Duration,
}

impl Registration {
    /// The record for this server: the router's service record plus one node at
    /// `address` with go-micro's node metadata, rmicro's `protocols`, and `extra`.
    pub fn new(
        registry: Registry,
        record: &serde_json::Value,
        address: String,
        extra: BTreeMap<String, String>,
        ttl: Duration,
    ) -> anyhow::Result<Registration> {
        let mut service: Service = serde_json::from_value(record.clone())?;
        let mut metadata: BTreeMap<String, String> = [
            ("broker", "http"),
            ("protocol", "mucp"),
            ("registry", registry.kind()),
            ("server", "mucp"),
            ("transport", "http"),
            ("protocols", PROTOCOLS),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        metadata.extend(extra);
        service.nodes = vec![Node {
            id: node_id(&service.name),
            address,
            metadata,
        }];
        Ok(Registration {
            registry,
            service,
            ttl,
        })
    }

    pub fn node_id(&self) -> &str {
        &self.service.nodes[0].id
    }

    pub fn describe(&self) -> String {
        self.registry.describe()
    }

    /// One registration attempt; a failure is warned about, not returned.
    pub async fn register(&self) -> bool {
        match self.registry.register(&self.service, self.ttl).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(
                    "cannot register in {}: {error:#}; still serving, retrying",
                    self.registry.describe()
                );
                false
            }
        }
    }

    /// Re-registers every `ttl / 3` until dropped; after a failure, sooner, with backoff.
    pub async fn keep_registered(&self, mut registered: bool) {
        let interval = self.ttl / 3;
        let mut failures = u32::from(!registered);
        loop {
            let wait = if registered {
                interval
            } else {
                (Duration::from_millis(250) * 2u32.pow(failures.min(6))).min(interval)
            };
            tokio::time::sleep(wait).await;
            let was_failing = failures > 0;
            registered = self.register().await;
            failures = if registered { 0 } else { failures + 1 };
            if registered && was_failing {
                tracing::warn!("registered in {} again", self.registry.describe());
            }
        }
    }

    pub async fn deregister(&self) {
        if let Err(error) = self.registry.deregister(&self.service).await {
            tracing::warn!(
                "cannot deregister from {}: {error:#}",
                self.registry.describe()
            );
        }
    }
}

/// The address to publish for a listener: its own, or for a wildcard listener the
/// address this host would use for outgoing traffic (no packet is sent), else loopback.
pub fn advertised_address(bound: SocketAddr) -> String {
    if !bound.ip().is_unspecified() {
        return bound.to_string();
    }
    let outgoing = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|socket| {
            socket.connect((Ipv4Addr::new(10, 255, 255, 255), 9))?;
            socket.local_addr()
        })
        .map(|local| local.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    SocketAddr::new(outgoing, bound.port()).to_string()
}
