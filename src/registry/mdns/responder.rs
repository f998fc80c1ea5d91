//! `rmicro serve`'s mDNS responder (spec §6.2). It binds the mDNS port with address and
//! port reuse (so it shares the host with go-micro's responders and other rmicro
//! servers), joins the group on every multicast interface, and answers PTR, SRV, TXT,
//! A/AAAA and ANY questions for its nodes unicast to the querier, echoing the question
//! as go-micro's clients require. Nodes are announced when published and said goodbye to
//! (TTL 0) when withdrawn, in the packets go-micro's own responder sends: one per record
//! set — a node's, and its service's `_services` entry — each holding SRV, A/AAAA and
//! TXT, TXT last, for go-micro's watcher builds one entry per packet from its last record
//! (spec §6.2; `captures/go-micro/mdns`). As go-micro's responder does, a node is first
//! probed for — three queries for its instance name claiming its SRV and TXT, up to 250 ms
//! apart (RFC 6762 §8.1) — then announced three times, one then two seconds apart
//! (§8.3). go-micro acts on no conflict a probe could find, and neither does rmicro.

use super::interfaces::Interface;
use super::txt::Payload;
use super::wire::{self, Data, Record, DOMAIN, GROUP};
use crate::registry::record::{Node, Service};
use anyhow::Context;
use simple_dns::{Packet, PacketFlag, Question, QTYPE, TYPE};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// The port go-micro's `_services` records name (nothing listens there).
const SERVICES_PORT: u16 = 9999;

/// One published node: its records and the service-list records of its service.
struct Published {
    node_id: String,
    service: String,
    node_records: Vec<Record>,
    service_records: Vec<Record>,
}

pub struct Responder {
    socket: Arc<UdpSocket>,
    zone: Arc<Mutex<Vec<Published>>>,
    interfaces: Vec<Interface>,
    answering: JoinHandle<()>,
}

impl Responder {
    /// Binds the mDNS port and starts answering (on the current tokio runtime).
    pub fn start(interfaces: Vec<Interface>) -> anyhow::Result<Responder> {
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket
            .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, GROUP.port()).into())
            .with_context(|| format!("cannot bind UDP port {} for mDNS", GROUP.port()))?;
        for interface in &interfaces {
            socket
                .join_multicast_v4(GROUP.ip(), &interface.address)
                .with_context(|| format!("cannot join {} on {}", GROUP.ip(), interface.name))?;
        }
        socket.set_multicast_loop_v4(true)?;
        socket.set_nonblocking(true)?;
        let socket = Arc::new(UdpSocket::from_std(socket.into())?);
        let zone = Arc::new(Mutex::new(Vec::new()));
        let answering = tokio::spawn(answer_queries(socket.clone(), zone.clone()));
        Ok(Responder {
            socket,
            zone,
            interfaces,
            answering,
        })
    }

    /// Adds or refreshes the service's nodes; a node that is new or changed is announced.
    pub async fn publish(&self, service: &Service) -> anyhow::Result<()> {
        for node in &service.nodes {
            let published = Published {
                node_id: node.id.clone(),
                service: service.name.clone(),
                node_records: node_records(service, node)?,
                service_records: service_records(&service.name),
            };
            let announcements = [
                as_go_micro_sends(&published.node_records),
                as_go_micro_sends(&published.service_records),
            ];
            let changed = {
                let mut zone = self.zone.lock().expect("zone lock");
                match zone.iter_mut().find(|entry| entry.node_id == node.id) {
                    Some(entry) if entry.node_records == published.node_records => false,
                    Some(entry) => {
                        *entry = published;
                        true
                    }
                    None => {
                        zone.push(published);
                        true
                    }
                }
            };
            if changed {
                // The first probe goes out here, so that a network that takes no
                // multicast fails the registration; the rest follow on their own.
                let probe = probe(&announcements[0])?;
                send(&self.socket, &self.interfaces, &probe).await?;
                self.announce(node.id.clone(), probe, announcements);
            }
        }
        Ok(())
    }

    /// Probes twice more, then announces three times, one and then two seconds apart, as
    /// go-micro's `probe()` does, while the node is still published with the same records.
    fn announce(&self, node_id: String, probe: Vec<u8>, announcements: [Vec<Record>; 2]) {
        let (socket, zone) = (self.socket.clone(), self.zone.clone());
        let interfaces = self.interfaces.clone();
        tokio::spawn(async move {
            let current = || {
                zone.lock().expect("zone lock").iter().any(|entry| {
                    entry.node_id == node_id
                        && as_go_micro_sends(&entry.node_records) == announcements[0]
                })
            };
            let probe_pause = || std::time::Duration::from_millis(crate::registry::random() % 250);
            for _ in 0..2 {
                tokio::time::sleep(probe_pause()).await;
                if !current() {
                    return;
                }
                if let Err(error) = send(&socket, &interfaces, &probe).await {
                    tracing::debug!("mDNS probe: {error:#}");
                }
            }
            tokio::time::sleep(probe_pause()).await;
            for pause in [0, 1, 2] {
                tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
                if !current() {
                    return;
                }
                for packet in &announcements {
                    if let Err(error) = multicast(&socket, &interfaces, packet).await {
                        tracing::debug!("mDNS announcement: {error:#}");
                    }
                }
            }
        });
    }

    /// Removes the service's nodes and says goodbye to them (and to the service, when no
    /// other node of it is left here).
    pub async fn withdraw(&self, service: &Service) -> anyhow::Result<()> {
        let mut goodbyes = Vec::new();
        {
            let mut zone = self.zone.lock().expect("zone lock");
            for node in &service.nodes {
                if let Some(index) = zone.iter().position(|entry| entry.node_id == node.id) {
                    let removed = zone.remove(index);
                    goodbyes.push(as_go_micro_sends(&removed.node_records));
                    if !zone.iter().any(|entry| entry.service == removed.service) {
                        goodbyes.push(as_go_micro_sends(&removed.service_records));
                    }
                }
            }
        }
        for mut goodbye in goodbyes {
            for record in &mut goodbye {
                record.ttl = 0;
            }
            self.multicast(&goodbye).await?;
        }
        Ok(())
    }

    async fn multicast(&self, records: &[Record]) -> anyhow::Result<()> {
        multicast(&self.socket, &self.interfaces, records).await
    }
}

/// One record set as go-micro's responder announces it (its answer to ANY for the
/// instance): SRV, then the addresses, then TXT — last, where go-micro's watcher looks.
/// The PTR, which go-micro sends only in answers to questions, is left out.
fn as_go_micro_sends(records: &[Record]) -> Vec<Record> {
    let of = |wanted: fn(&Data) -> bool| records.iter().filter(move |record| wanted(&record.data));
    of(|data| matches!(data, Data::Srv { .. }))
        .chain(of(|data| matches!(data, Data::Address(_))))
        .chain(of(|data| matches!(data, Data::Txt(_))))
        .cloned()
        .collect()
}

/// The probe for a node: a query for its instance name, claiming the SRV and TXT it is
/// about to announce (as go-micro's), with a random id (as go-micro's `dns.Id()`).
fn probe(announced: &[Record]) -> anyhow::Result<Vec<u8>> {
    let claimed: Vec<Record> = announced
        .iter()
        .filter(|record| matches!(record.data, Data::Srv { .. } | Data::Txt(_)))
        .cloned()
        .collect();
    let instance = &claimed.first().context("a node has an SRV record")?.name;
    wire::probe(crate::registry::random() as u16, instance, &claimed)
}

/// Sends one packet of records unsolicited to the group on every interface.
async fn multicast(
    socket: &UdpSocket,
    interfaces: &[Interface],
    records: &[Record],
) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    send(socket, interfaces, &wire::response(0, &[], records)?).await
}

/// Sends one packet to the group on every interface.
async fn send(socket: &UdpSocket, interfaces: &[Interface], bytes: &[u8]) -> anyhow::Result<()> {
    for interface in interfaces {
        SockRef::from(socket).set_multicast_if_v4(&interface.address)?;
        socket
            .send_to(bytes, GROUP)
            .await
            .with_context(|| format!("cannot multicast on {}", interface.name))?;
    }
    Ok(())
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.answering.abort();
    }
}

async fn answer_queries(socket: Arc<UdpSocket>, zone: Arc<Mutex<Vec<Published>>>) {
    let mut buffer = vec![0; 65536];
    loop {
        let (length, from) = match socket.recv_from(&mut buffer).await {
            Ok(received) => received,
            Err(error) => {
                tracing::debug!("mDNS receive: {error}");
                continue;
            }
        };
        let Ok(packet) = Packet::parse(&buffer[..length]) else {
            continue;
        };
        if packet.has_flags(PacketFlag::RESPONSE) {
            continue;
        }
        let records = {
            let zone = zone.lock().expect("zone lock");
            let held: Vec<&Record> = zone
                .iter()
                .flat_map(|entry| entry.node_records.iter().chain(&entry.service_records))
                .collect();
            let claimed = wire::claimed(&packet);
            if !claimed.is_empty() && claimed.iter().all(|record| held.contains(&record)) {
                // Our own probe, looped back: nothing to defend.
                continue;
            }
            answers(&held, &packet.questions)
        };
        if records.is_empty() {
            continue;
        }
        match wire::response(packet.id(), &packet.questions, &records) {
            Ok(bytes) => {
                if let Err(error) = socket.send_to(&bytes, from).await {
                    tracing::debug!("mDNS answer to {from}: {error}");
                }
            }
            Err(error) => tracing::warn!("cannot build an mDNS answer: {error:#}"),
        }
    }
}

/// The records that answer `questions`: those asked for, plus everything about the
/// instances a PTR names (go-micro's responders send them in one answer section, and its
/// clients take an entry as complete once address, port and TXT are known).
fn answers(held: &[&Record], questions: &[Question<'_>]) -> Vec<Record> {
    let mut found: Vec<Record> = Vec::new();
    let mut add = |record: &Record| {
        if !found.contains(record) {
            found.push(record.clone());
        }
    };
    for question in questions {
        let name = question.qname.to_string();
        let mut direct: Vec<&Record> = named(held, &name)
            .filter(|record| record.answers(question.qtype))
            .collect();
        // go-micro's client re-asks an incomplete instance by name with a PTR question.
        if direct.is_empty() && question.qtype == QTYPE::TYPE(TYPE::PTR) {
            direct = named(held, &name).collect();
        }
        for record in direct {
            add(record);
            match &record.data {
                Data::Ptr(target) => named(held, target).for_each(&mut add),
                Data::Srv { target, .. } => named(held, target)
                    .filter(|record| matches!(record.data, Data::Address(_)))
                    .for_each(&mut add),
                _ => {}
            }
        }
    }
    found
}

fn named<'a>(held: &'a [&'a Record], name: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
    held.iter()
        .copied()
        .filter(move |record| record.is_named(name))
}

/// PTR `<service>.micro` → `<node id>.<service>.micro`, and for that instance SRV (its
/// own name as target, so go-micro clients need no host alias), TXT and A/AAAA.
fn node_records(service: &Service, node: &Node) -> anyhow::Result<Vec<Record>> {
    let address = node_address(&node.address)?;
    let instance = format!("{}.{}.{DOMAIN}", node.id, service.name);
    let payload = Payload {
        service: service.name.clone(),
        version: service.version.clone(),
        endpoints: service.endpoints.clone(),
        metadata: node.metadata.clone(),
    };
    Ok(vec![
        Record::new(
            format!("{}.{DOMAIN}", service.name),
            Data::Ptr(instance.clone()),
        ),
        Record::new(
            instance.clone(),
            Data::Srv {
                port: address.port(),
                target: instance.clone(),
            },
        ),
        Record::new(instance.clone(), Data::Txt(payload.encode())),
        Record::new(instance, Data::Address(address.ip())),
    ])
}

/// go-micro's service-list records: PTR `_services.micro` → `<service>._services.micro`,
/// with port 9999, address 0.0.0.0 and an empty TXT.
fn service_records(service: &str) -> Vec<Record> {
    let instance = format!("{service}._services.{DOMAIN}");
    vec![
        Record::new(format!("_services.{DOMAIN}"), Data::Ptr(instance.clone())),
        Record::new(
            instance.clone(),
            Data::Srv {
                port: SERVICES_PORT,
                target: instance.clone(),
            },
        ),
        Record::new(instance.clone(), Data::Txt(Vec::new())),
        Record::new(instance, Data::Address(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
    ]
}

/// The node's `host:port`, a host name resolved once.
fn node_address(address: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(parsed) = address.parse() {
        return Ok(parsed);
    }
    address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve node address {address}"))?
        .next()
        .with_context(|| format!("node address {address} resolves to nothing"))
}

/// For the fuzz targets (`--cfg fuzzing`): `bytes` as this responder reads a query, and
/// the answer it would build from a zone of one node.
#[cfg(fuzzing)]
pub fn fuzz_query(bytes: &[u8]) {
    let Ok(packet) = Packet::parse(bytes) else {
        return;
    };
    if packet.has_flags(PacketFlag::RESPONSE) {
        return;
    }
    let service = Service {
        name: "go.micro.srv.greeter".into(),
        version: "latest".into(),
        metadata: None,
        endpoints: Vec::new(),
        nodes: Vec::new(),
    };
    let node = Node {
        id: "node-1".into(),
        address: "10.0.0.5:8080".into(),
        metadata: Default::default(),
    };
    let mut zone = node_records(&service, &node).expect("a literal address");
    zone.extend(service_records(&service.name));
    let held: Vec<&Record> = zone.iter().collect();
    let records = answers(&held, &packet.questions);
    if !records.is_empty() {
        let _ = wire::response(packet.id(), &packet.questions, &records);
    }
}
