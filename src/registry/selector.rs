//! Choosing a node for each attempt of a call (spec §7): go-micro's Random and
//! RoundRobin over the nodes of every version, moving to the next node on each retry —
//! and, unlike go-micro, avoiding a node that failed for a short, bounded time, across
//! processes (a marker file per address), unless every node is avoided.

use super::record::Service;
use crate::protocol::{Protocol, Target};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How long a node that refused or dropped a call is passed over.
pub const AVOID_FOR: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Random,
    RoundRobin,
}

/// A node that can be called, with the protocol rmicro will speak to it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub node_id: String,
    pub target: Target,
}

#[derive(Clone)]
pub struct Selector {
    candidates: Vec<Candidate>,
    /// Index of the next pick.
    next: usize,
    avoid: AvoidList,
}

impl Selector {
    /// Over every node of `services` speaking a protocol rmicro can call; `start` picks
    /// the first (a shared round-robin turn, or a random number).
    pub fn new(services: &[Service], start: u64, avoid: AvoidList) -> Result<Selector, String> {
        let mut candidates = Vec::new();
        let mut unusable = Vec::new();
        for service in services {
            for node in &service.nodes {
                let protocols = node.protocols();
                // A TLS node (go-micro's `secure`) is called over TLS whatever its
                // protocol: mucp over HTTPS, JSON-RPC over a TLS socket, gRPC over TLS.
                let tls = node
                    .metadata
                    .get("secure")
                    .is_some_and(|secure| secure == "true");
                match protocols
                    .iter()
                    .filter_map(|name| Protocol::from_scheme(name))
                    .next()
                {
                    Some(protocol) => candidates.push(Candidate {
                        node_id: node.id.clone(),
                        target: Target {
                            protocol,
                            address: node.address.clone(),
                            tls,
                            http1: false,
                        },
                    }),
                    None => unusable.push(format!("{} ({})", node.id, protocols.join(","))),
                }
            }
        }
        if candidates.is_empty() {
            return Err(if unusable.is_empty() {
                "none available: the service has no nodes".into()
            } else {
                format!(
                    "no node speaks a protocol this rmicro calls (mucp, jsonrpc, grpc, connect, grpc-web): {}",
                    unusable.join(", ")
                )
            });
        }
        let next = (start % candidates.len() as u64) as usize;
        Ok(Selector {
            candidates,
            next,
            avoid,
        })
    }

    /// The node for the next attempt: the one in turn, or the first after it that is not
    /// avoided.
    pub fn pick(&mut self) -> usize {
        let count = self.candidates.len();
        let chosen = (0..count)
            .map(|step| (self.next + step) % count)
            .find(|index| !self.avoid.contains(&self.candidates[*index].target.address))
            .unwrap_or(self.next % count);
        self.next = (chosen + 1) % count;
        chosen
    }

    pub fn candidate(&self, index: usize) -> &Candidate {
        &self.candidates[index]
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    pub fn failed(&self, index: usize) {
        self.avoid.add(&self.candidates[index].target.address);
    }
}

/// Addresses recently seen failing, shared by every process through marker files whose
/// modification time is the failure time.
#[derive(Clone)]
pub struct AvoidList {
    dir: PathBuf,
}

impl AvoidList {
    pub fn new(dir: PathBuf) -> AvoidList {
        AvoidList { dir }
    }

    fn marker(&self, address: &str) -> PathBuf {
        self.dir.join(address.replace(['/', ':'], "_"))
    }

    pub fn add(&self, address: &str) {
        // Best effort: avoidance only saves time, it is never needed for correctness.
        let _ = std::fs::create_dir_all(&self.dir);
        let _ = std::fs::write(self.marker(address), address);
    }

    pub fn contains(&self, address: &str) -> bool {
        std::fs::metadata(self.marker(address))
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|failed| SystemTime::now().duration_since(failed).ok())
            .is_some_and(|since| since < AVOID_FOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::record::Node;

    fn service(addresses: &[&str]) -> Service {
        Service {
            name: "job".into(),
            nodes: addresses
                .iter()
                .enumerate()
                .map(|(index, address)| Node {
                    id: format!("job-{index}"),
                    address: (*address).into(),
                    metadata: [("protocol".to_owned(), "mucp".to_owned())].into(),
                })
                .collect(),
            ..Service::default()
        }
    }

    #[test]
    fn turns_rotate_and_skip_avoided_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let avoid = AvoidList::new(dir.path().to_owned());
        let mut selector =
            Selector::new(&[service(&["a:1", "b:2", "c:3"])], 4, avoid.clone()).unwrap();
        let picks: Vec<usize> = (0..4).map(|_| selector.pick()).collect();
        assert_eq!(picks, [1, 2, 0, 1]);
        selector.failed(2);
        assert!(avoid.contains("c:3"));
        let picks: Vec<usize> = (0..3).map(|_| selector.pick()).collect();
        assert_eq!(picks, [0, 1, 0], "c:3 is passed over");
    }

    #[test]
    fn nodes_without_a_callable_protocol_are_named() {
        let mut nats = service(&["a:1"]);
        nats.nodes[0]
            .metadata
            .insert("protocol".into(), "nats".into());
        let error = Selector::new(&[nats], 0, AvoidList::new("/nonexistent".into()))
            .err()
            .unwrap();
        assert!(error.contains("job-0 (nats)"), "{error}");
    }
}
