//! The mDNS registry (spec §6.2), go-micro's default: nodes are announced and browsed in
//! the `micro.` domain with go-micro's TXT encoding, so `rmicro list` finds go-micro
//! services started with default options and go-micro clients find `rmicro serve`.
//! IPv4 only. A record lives while its server answers: a node that stops answering is
//! gone at the next query.

mod browse;
mod interfaces;
mod responder;
mod txt;
mod wire;

use super::record::{group_by_version, Node, Service};
use anyhow::bail;
use interfaces::{multicast_interfaces, Interface};
use responder::Responder;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use txt::Payload;
use wire::{Data, Record, DOMAIN};

pub struct MdnsRegistry {
    interfaces: Vec<Interface>,
    responder: OnceLock<Responder>,
}

impl MdnsRegistry {
    /// Fails when no interface can multicast (mDNS cannot work there).
    pub fn new() -> anyhow::Result<MdnsRegistry> {
        let (interfaces, all) = multicast_interfaces()?;
        if interfaces.is_empty() {
            bail!(
                "mdns registry: no network interface is up with MULTICAST and IPv4 (interfaces here: {}); use etcd://HOST:PORT or the embedded registry",
                if all.is_empty() { "none".into() } else { all.join(", ") }
            );
        }
        Ok(MdnsRegistry {
            interfaces,
            responder: OnceLock::new(),
        })
    }

    pub fn describe(&self) -> String {
        let interfaces: Vec<String> = self
            .interfaces
            .iter()
            .map(|interface| format!("{} {}", interface.name, interface.address))
            .collect();
        format!("mDNS (domain {DOMAIN}. on {})", interfaces.join(", "))
    }

    pub async fn register(&self, service: &Service) -> anyhow::Result<()> {
        let responder = match self.responder.get() {
            Some(responder) => responder,
            None => {
                let started = Responder::start(self.interfaces.clone())?;
                self.responder.get_or_init(|| started)
            }
        };
        responder.publish(service).await
    }

    pub async fn deregister(&self, service: &Service) -> anyhow::Result<()> {
        match self.responder.get() {
            Some(responder) => responder.withdraw(service).await,
            None => Ok(()),
        }
    }

    pub async fn get_service(&self, name: &str) -> anyhow::Result<Vec<Service>> {
        let records = browse::ask(
            &[format!("{name}.{DOMAIN}")],
            &self.interfaces,
            browse::WINDOW,
        )
        .await?;
        let records = self.completed(name, records).await?;
        let nodes = nodes_of(name, &records);
        tracing::debug!("mDNS: service {name}: {} nodes answered", nodes.len());
        Ok(group_by_version(nodes))
    }

    /// The names under `_services.micro`, then the nodes of all of them in one query.
    pub async fn list_services(&self) -> anyhow::Result<Vec<Service>> {
        let listing = format!("_services.{DOMAIN}");
        let records = browse::ask(
            std::slice::from_ref(&listing),
            &self.interfaces,
            browse::WINDOW,
        )
        .await?;
        let suffix = format!("._services.{DOMAIN}");
        let names: BTreeSet<&str> = records
            .iter()
            .flatten()
            .filter(|record| record.ttl > 0 && record.is_named(&listing))
            .filter_map(|record| match &record.data {
                Data::Ptr(target) => strip_suffix(target, &suffix),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let questions: Vec<String> = names
            .iter()
            .map(|name| format!("{name}.{DOMAIN}"))
            .collect();
        let records = browse::ask(&questions, &self.interfaces, browse::WINDOW).await?;
        let mut services = Vec::new();
        for name in names {
            let records = self.completed(name, records.clone()).await?;
            services.extend(group_by_version(nodes_of(name, &records)));
        }
        Ok(services)
    }

    /// The answers, with what the instances of `name` they named but did not describe
    /// whole (an answer cut short, a responder that sends the PTR alone) asked for by
    /// the instances' names, as go-micro's client does; each such instance's records
    /// joined to the answer that named it.
    async fn completed(
        &self,
        name: &str,
        mut answers: Vec<Vec<Record>>,
    ) -> anyhow::Result<Vec<Vec<Record>>> {
        let domain = format!("{name}.{DOMAIN}");
        let mut incomplete = Vec::new();
        for (index, records) in answers.iter().enumerate() {
            for record in live(records, &domain) {
                if let Data::Ptr(instance) = &record.data {
                    if !is_described(instance, records)
                        && !incomplete.iter().any(|(_, i)| i == instance)
                    {
                        incomplete.push((index, instance.clone()));
                    }
                }
            }
        }
        if incomplete.is_empty() {
            return Ok(answers);
        }
        let instances: Vec<String> = incomplete
            .iter()
            .map(|(_, instance)| instance.clone())
            .collect();
        tracing::debug!("mDNS: asking for the incomplete entries {instances:?}");
        let more = browse::ask_instances(&instances, &self.interfaces, browse::WINDOW).await?;
        for (index, instance) in incomplete {
            let about: Vec<Record> = more
                .iter()
                .filter(|records| records.iter().any(|record| record.is_named(&instance)))
                .flatten()
                .cloned()
                .collect();
            answers[index].extend(about);
        }
        Ok(answers)
    }
}

/// Whether the records hold an instance's port, TXT and address.
fn is_described(instance: &str, records: &[Record]) -> bool {
    let Some(target) = live(records, instance).find_map(|record| match &record.data {
        Data::Srv { target, .. } => Some(target.as_str()),
        _ => None,
    }) else {
        return false;
    };
    live(records, instance).any(|record| matches!(record.data, Data::Txt(_)))
        && live(records, target).any(|record| matches!(record.data, Data::Address(_)))
}

/// The nodes of `name` the answers describe completely (address, port and TXT, each
/// node within one answer), one record per node; goodbyes (TTL 0), nodes of another
/// service and TXT that does not decode are left out, the last with a warning.
fn nodes_of(name: &str, answers: &[Vec<Record>]) -> Vec<Service> {
    let domain = format!("{name}.{DOMAIN}");
    let mut seen = BTreeSet::new();
    let mut services = Vec::new();
    for records in answers {
        for record in live(records, &domain) {
            let Data::Ptr(instance) = &record.data else {
                continue;
            };
            if seen.contains(instance.as_str()) {
                continue;
            }
            if let Some(service) = node_of(name, &domain, instance, records) {
                seen.insert(instance.as_str());
                services.push(service);
            }
        }
    }
    services
}

/// One node from the records of the answer that named it.
fn node_of(name: &str, domain: &str, instance: &str, records: &[Record]) -> Option<Service> {
    let (port, target) = live(records, instance).find_map(|record| match &record.data {
        Data::Srv { port, target } => Some((*port, target.as_str())),
        _ => None,
    })?;
    let txt = live(records, instance).find_map(|record| match &record.data {
        Data::Txt(strings) => Some(strings.concat()),
        _ => None,
    })?;
    let ip: IpAddr = live(records, target).find_map(|record| match record.data {
        Data::Address(ip) => Some(ip),
        _ => None,
    })?;
    let payload = Payload::decode(&txt)
        .inspect_err(|error| tracing::warn!("skipping mDNS node {instance}: {error:#}"))
        .ok()?;
    if payload.service != name {
        return None;
    }
    Some(Service {
        name: name.to_owned(),
        version: payload.version,
        metadata: None,
        endpoints: payload.endpoints,
        nodes: vec![Node {
            id: strip_suffix(instance, &format!(".{domain}"))?.to_owned(),
            address: SocketAddr::new(ip, port).to_string(),
            metadata: payload.metadata,
        }],
    })
}

/// The records about `owner` that are not goodbyes.
fn live<'a>(records: &'a [Record], owner: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
    records
        .iter()
        .filter(move |record| record.ttl > 0 && record.is_named(owner))
}

/// `text` without `suffix` (matched in any case, as DNS names are).
fn strip_suffix<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case(suffix) && cut > 0)
        .then(|| &text[..cut])
}

/// For the fuzz targets (`--cfg fuzzing`): `bytes` as the browser reads an answer (its
/// records, their TXT payloads, the nodes they describe) and as the responder reads a
/// query.
#[cfg(fuzzing)]
pub fn fuzz_packet(bytes: &[u8]) {
    if let Some(records) = wire::response_records(bytes) {
        for record in &records {
            if let Data::Txt(strings) = &record.data {
                let _ = Payload::decode(&strings.concat());
            }
        }
        let _ = nodes_of("go.micro.srv.greeter", &[records]);
    }
    responder::fuzz_query(bytes);
}

#[cfg(test)]
mod tests {
    use super::wire::GROUP;
    use super::*;
    use simple_dns::{Packet, PacketFlag, QTYPE};
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddrV4};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// A responder that answers the service's PTR question with the PTR alone, and
    /// describes the instance only when asked about it by name: the node is found.
    #[tokio::test]
    async fn an_incomplete_entry_is_asked_for_by_name() {
        let registry = MdnsRegistry::new().expect("a multicast interface");
        let name = format!("requery-{}", std::process::id());
        let service = format!("{name}.{DOMAIN}");
        let instance = format!("node-1.{service}");
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_reuse_port(true).unwrap();
        socket
            .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, GROUP.port()).into())
            .unwrap();
        for interface in &registry.interfaces {
            socket
                .join_multicast_v4(GROUP.ip(), &interface.address)
                .unwrap();
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let socket: std::net::UdpSocket = socket.into();
        let stop = Arc::new(AtomicBool::new(false));
        let payload = Payload {
            service: name.clone(),
            version: "latest".into(),
            endpoints: Vec::new(),
            metadata: [("protocol".to_owned(), "mucp".to_owned())].into(),
        };
        let thread = std::thread::spawn({
            let (stop, service, instance) = (stop.clone(), service.clone(), instance.clone());
            move || {
                let mut buffer = [0; 9000];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((length, from)) = socket.recv_from(&mut buffer) else {
                        continue;
                    };
                    let Ok(packet) = Packet::parse(&buffer[..length]) else {
                        continue;
                    };
                    let Some(question) = packet.questions.first() else {
                        continue;
                    };
                    let asked = question.qname.to_string();
                    let records = if asked == service {
                        vec![Record::new(service.clone(), Data::Ptr(instance.clone()))]
                    } else if asked == instance && question.qtype == QTYPE::ANY {
                        vec![
                            Record::new(
                                instance.clone(),
                                Data::Srv {
                                    port: 1234,
                                    target: instance.clone(),
                                },
                            ),
                            Record::new(
                                instance.clone(),
                                Data::Address(Ipv4Addr::LOCALHOST.into()),
                            ),
                            Record::new(instance.clone(), Data::Txt(payload.encode())),
                        ]
                    } else {
                        continue;
                    };
                    if packet.has_flags(PacketFlag::RESPONSE) {
                        continue;
                    }
                    let answer = wire::response(packet.id(), &packet.questions, &records);
                    let _ = socket.send_to(&answer.unwrap(), from);
                }
            }
        });
        let found = registry.get_service(&name).await.unwrap();
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        let nodes: Vec<&str> = found
            .iter()
            .flat_map(|service| service.nodes.iter().map(|node| node.address.as_str()))
            .collect();
        assert_eq!(nodes, ["127.0.0.1:1234"]);
    }
}
