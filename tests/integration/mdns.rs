//! The mDNS registry on this host's multicast interface: two `rmicro serve` nodes under
//! one name (turns, failover, a dead node gone at once since nobody answers for it), a
//! clean shutdown, go-micro's `MICRO_REGISTRY=mdns`, and the clear error where no
//! interface can multicast. The wire format against an independent DNS implementation
//! and go-micro's TXT vector is checked by interop/test_mdns.py.

use crate::nodes::{job_node, node_count, two_nodes_under_one_name};
use crate::support::{assert_exit, assert_stderr_has, json, rmicro};
use std::process::Command;
use std::time::Duration;

/// A service name of this test run's own: every process on the host shares mDNS.
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn nodes_in_mdns_take_turns_fail_over_and_vanish_when_killed() {
    two_nodes_under_one_name("mdns", &unique("jobs"), Duration::from_secs(1));
}

#[test]
fn a_node_in_mdns_is_found_by_go_micros_variables_and_leaves_on_shutdown() {
    let name = unique("leaving");
    let node = job_node("mdns", &name);
    let output = rmicro()
        .args(["list", &name, "--output", "json"])
        .env_remove("RMICRO_REGISTRY")
        .env("MICRO_REGISTRY", "mdns")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let endpoints = json(&output);
    assert!(
        endpoints
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["endpoint"] == "Job.CreateJob"),
        "{endpoints}"
    );
    let (status, log) = node.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("in mDNS (domain micro."), "{log}");
    assert_eq!(node_count("mdns", &name), 0);
}

#[test]
fn without_a_multicast_interface_mdns_is_a_clear_error() {
    // A network namespace of its own holds only `lo`, down and without MULTICAST.
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net"])
        .arg(env!("CARGO_BIN_EXE_rmicro"))
        .args(["list", "--registry", "mdns"])
        .output()
        .expect("unshare (util-linux) runs");
    assert_exit(&output, 1);
    assert_stderr_has(&output, "no network interface is up with MULTICAST");
    assert_stderr_has(&output, "interfaces here: lo");
}

/// One mDNS packet a node's responder multicast, as go-micro's watcher (`mdns.Listen`,
/// spec §6.2) reads it: the entry of the packet's last record, complete once it has an
/// address, a port and TXT; its TTL that last record's (0: the node left).
#[derive(Debug)]
struct WatchedEntry {
    name: String,
    ttl: u32,
    complete: bool,
    /// The TXT payload decoded: go-micro's `{"Service","Version","Endpoints","Metadata"}`.
    txt: Option<serde_json::Value>,
}

fn watched_entry(packet: &simple_dns::Packet<'_>) -> Option<WatchedEntry> {
    use simple_dns::rdata::RData;
    // Records of one entry: the name, and the SRV targets aliased to it.
    let last = packet.answers.last()?;
    let name = last.name.to_string();
    let mut names = vec![name.clone()];
    let (mut port, mut address, mut txt) = (None, false, None);
    for record in &packet.answers {
        if let RData::SRV(srv) = &record.rdata {
            if record.name.to_string() == name {
                port = Some(srv.port);
                names.push(srv.target.to_string());
            }
        }
    }
    for record in &packet.answers {
        if !names.contains(&record.name.to_string()) {
            continue;
        }
        match &record.rdata {
            RData::A(_) | RData::AAAA(_) => address = true,
            RData::TXT(text) => {
                let joined: String = text
                    .iter_raw()
                    .map(|(key, value)| {
                        let mut part = String::from_utf8_lossy(key).into_owned();
                        if let Some(value) = value {
                            part.push('=');
                            part.push_str(&String::from_utf8_lossy(value));
                        }
                        part
                    })
                    .collect();
                txt = hex::decode(joined.trim()).ok().and_then(|zipped| {
                    let mut json = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::ZlibDecoder::new(&zipped[..]),
                        &mut json,
                    )
                    .ok()?;
                    serde_json::from_slice(&json).ok()
                });
                if txt.is_none() {
                    txt = Some(serde_json::Value::Null);
                }
            }
            _ => {}
        }
    }
    Some(WatchedEntry {
        name,
        ttl: last.ttl,
        complete: port.is_some_and(|port| port != 0) && address && txt.is_some(),
        txt: txt.filter(|value| !value.is_null()),
    })
}

#[test]
fn announcements_and_goodbyes_read_as_go_micros_watcher_reads_them() {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::net::{Ipv4Addr, SocketAddrV4};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    socket.set_reuse_address(true).unwrap();
    socket.set_reuse_port(true).unwrap();
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5353).into())
        .expect("the mDNS port, shared");
    socket
        .join_multicast_v4(&Ipv4Addr::new(224, 0, 0, 251), &Ipv4Addr::UNSPECIFIED)
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let socket: std::net::UdpSocket = socket.into();
    let name = unique("watched");
    let suffix = format!(".{name}.micro");
    // The entries of this node's packets, in arrival order, with their arrival time; and
    // the probes for it (queries claiming records in their authority section).
    let probes: std::cell::RefCell<Vec<(Duration, String, Vec<u16>)>> = Default::default();
    // The first announcement of the node as it came.
    let first: std::cell::RefCell<Option<Vec<u8>>> = Default::default();
    let collect = |until: std::time::Instant, seen: &mut Vec<(Duration, WatchedEntry)>| {
        let started = std::time::Instant::now();
        let mut buffer = vec![0u8; 65536];
        while std::time::Instant::now() < until {
            let Ok(length) = socket.recv(&mut buffer) else {
                continue;
            };
            let Ok(packet) = simple_dns::Packet::parse(&buffer[..length]) else {
                continue;
            };
            if !packet.has_flags(simple_dns::PacketFlag::RESPONSE)
                && !packet.name_servers.is_empty()
            {
                let question = packet
                    .questions
                    .first()
                    .map(|question| question.qname.to_string());
                if let Some(question) = question.filter(|name| name.ends_with(&suffix)) {
                    let claimed = packet
                        .name_servers
                        .iter()
                        .map(|record| u16::from(record.rdata.type_code()))
                        .collect();
                    probes
                        .borrow_mut()
                        .push((started.elapsed(), question, claimed));
                }
                continue;
            }
            if !packet.has_flags(simple_dns::PacketFlag::RESPONSE) || !packet.questions.is_empty() {
                continue;
            }
            if let Some(entry) = watched_entry(&packet) {
                if entry.name.ends_with(&suffix) || entry.name.starts_with(&format!("{name}.")) {
                    if entry.name.ends_with(&suffix) {
                        first
                            .borrow_mut()
                            .get_or_insert_with(|| buffer[..length].to_vec());
                    }
                    seen.push((started.elapsed(), entry));
                }
            }
        }
    };
    let started = std::time::Instant::now();
    let node = job_node("mdns", &name);
    let mut seen = Vec::new();
    // Up to 750 ms of probes, then the announcements over three seconds.
    collect(started + Duration::from_millis(5500), &mut seen);
    let announced: Vec<&WatchedEntry> = seen
        .iter()
        .map(|(_, entry)| entry)
        .filter(|entry| entry.name.ends_with(&suffix))
        .collect();
    assert!(
        announced.len() >= 3,
        "three announcements of the node: {seen:#?}"
    );
    for entry in &announced {
        assert!(entry.complete && entry.ttl > 0, "{entry:?}");
        let txt = entry.txt.as_ref().expect("the node's TXT decodes");
        assert_eq!(txt["Service"], name.as_str(), "{txt}");
        assert_eq!(txt["Metadata"]["protocol"], "mucp", "{txt}");
    }
    let times: Vec<Duration> = seen
        .iter()
        .filter(|(_, entry)| entry.name.ends_with(&suffix))
        .map(|(at, _)| *at)
        .collect();
    assert!(
        times[2] - times[0] >= Duration::from_millis(2500),
        "announced one and then two seconds apart: {times:?}"
    );
    // go-micro's three probes come first: its instance's name, claiming SRV (33) and TXT (16).
    let probes = probes.borrow().clone();
    assert_eq!(probes.len(), 3, "{probes:?}");
    for (at, question, claimed) in &probes {
        assert_eq!(question, &announced[0].name, "{probes:?}");
        assert_eq!(claimed, &[33, 16], "{probes:?}");
        assert!(
            *at <= times[0],
            "probed before the announcement: {probes:?} {times:?}"
        );
    }
    // A probe claiming the node's own SRV and TXT (its TXT is several 255-byte strings) is
    // its own, looped back: the responder does not answer it. A plain query for the same
    // name is answered, so the silence is the responder's choice, not a lost packet.
    let announcement = first
        .borrow()
        .clone()
        .expect("the first announcement's bytes");
    let announcement = simple_dns::Packet::parse(&announcement).unwrap();
    let instance = announced[0].name.clone();
    let claimed: Vec<_> = announcement
        .answers
        .iter()
        .filter(|record| {
            matches!(
                record.rdata,
                simple_dns::rdata::RData::SRV(_) | simple_dns::rdata::RData::TXT(_)
            )
        })
        .cloned()
        .collect();
    let txt_strings = claimed.iter().find_map(|record| match &record.rdata {
        simple_dns::rdata::RData::TXT(txt) => Some(txt.iter_raw().count()),
        _ => None,
    });
    assert!(
        txt_strings > Some(1),
        "a TXT of several strings: {txt_strings:?}"
    );
    let ask = |id: u16, claiming: &[simple_dns::ResourceRecord<'_>]| {
        let mut query = simple_dns::Packet::new_query(id);
        query.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked(&instance),
            simple_dns::QTYPE::TYPE(simple_dns::TYPE::PTR),
            simple_dns::QCLASS::CLASS(simple_dns::CLASS::IN),
            false,
        ));
        query.name_servers = claiming.to_vec();
        let asker = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        asker
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let bytes = query.build_bytes_vec_compressed().unwrap();
        let until = std::time::Instant::now() + Duration::from_millis(1500);
        let mut buffer = vec![0u8; 65536];
        // Asked three times (a datagram may be lost); any answer naming `id` counts.
        for _ in 0..3 {
            asker.send_to(&bytes, "224.0.0.251:5353").unwrap();
            let asked = std::time::Instant::now();
            while asked.elapsed() < Duration::from_millis(400) && std::time::Instant::now() < until
            {
                if let Ok(length) = asker.recv(&mut buffer) {
                    if simple_dns::Packet::parse(&buffer[..length])
                        .is_ok_and(|answer| answer.id() == id)
                    {
                        return true;
                    }
                }
            }
        }
        false
    };
    assert!(ask(4242, &[]), "a plain query for the node is answered");
    assert!(!ask(4343, &claimed), "the node's own probe is not answered");
    let (status, log) = node.terminate();
    assert!(status.success(), "{log}");
    let mut after = Vec::new();
    collect(
        std::time::Instant::now() + Duration::from_millis(700),
        &mut after,
    );
    let goodbye = after
        .iter()
        .map(|(_, entry)| entry)
        .find(|entry| entry.name.ends_with(&suffix))
        .unwrap_or_else(|| panic!("a goodbye for the node: {after:#?}"));
    assert!(goodbye.complete && goodbye.ttl == 0, "{goodbye:?}");
}
