//! DNS messages of the `micro.` mDNS zone (spec §6.2) as rmicro holds them: records with
//! owned names (no trailing dot), and their conversion to and from packets by simple-dns.

use anyhow::Context;
use simple_dns::rdata::{RData, A, AAAA, PTR, SRV, TXT};
use simple_dns::{
    CharacterString, Name, Packet, PacketFlag, Question, ResourceRecord, CLASS, QCLASS, QTYPE, TYPE,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};

/// go-micro's DNS domain for services (not `local`).
pub const DOMAIN: &str = "micro";
/// The IPv4 mDNS group and port.
pub const GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 251), 5353);
/// How long go-micro's responders say their records live.
pub const TTL: u32 = 120;

#[derive(Clone, Debug)]
pub enum Data {
    Ptr(String),
    Srv { port: u16, target: String },
    Txt(Vec<String>),
    Address(IpAddr),
}

/// A TXT's bytes, its strings one after the other.
fn joined(strings: &[String]) -> impl Iterator<Item = u8> + '_ {
    strings.iter().flat_map(|string| string.bytes())
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        match (self, other) {
            (Data::Ptr(mine), Data::Ptr(theirs)) => mine == theirs,
            (
                Data::Srv { port, target },
                Data::Srv {
                    port: their_port,
                    target: their_target,
                },
            ) => port == their_port && target == their_target,
            // A TXT is its strings joined: read back from the wire it is one string,
            // however many it was sent as (a node's is split into strings of 255 bytes).
            (Data::Txt(mine), Data::Txt(theirs)) => joined(mine).eq(joined(theirs)),
            (Data::Address(mine), Data::Address(theirs)) => mine == theirs,
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub name: String,
    pub ttl: u32,
    pub data: Data,
}

impl Record {
    pub fn new(name: impl Into<String>, data: Data) -> Record {
        Record {
            name: name.into(),
            ttl: TTL,
            data,
        }
    }

    pub fn is_named(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether a question of `qtype` asks for this record.
    pub fn answers(&self, qtype: QTYPE) -> bool {
        let wanted = match qtype {
            QTYPE::ANY => return true,
            QTYPE::TYPE(wanted) => wanted,
            _ => return false,
        };
        wanted
            == match self.data {
                Data::Ptr(_) => TYPE::PTR,
                Data::Srv { .. } => TYPE::SRV,
                Data::Txt(_) => TYPE::TXT,
                Data::Address(IpAddr::V4(_)) => TYPE::A,
                Data::Address(IpAddr::V6(_)) => TYPE::AAAA,
            }
    }

    fn to_wire(&self) -> anyhow::Result<ResourceRecord<'_>> {
        let data = match &self.data {
            Data::Ptr(target) => RData::PTR(PTR(dns_name(target)?)),
            Data::Srv { port, target } => RData::SRV(SRV {
                priority: 10,
                weight: 1,
                port: *port,
                target: dns_name(target)?,
            }),
            Data::Txt(strings) => {
                let mut txt = TXT::new();
                for string in strings {
                    txt.add_char_string(CharacterString::new(string.as_bytes())?);
                }
                RData::TXT(txt)
            }
            Data::Address(IpAddr::V4(address)) => RData::A(A::from(*address)),
            Data::Address(IpAddr::V6(address)) => RData::AAAA(AAAA::from(*address)),
        };
        Ok(ResourceRecord::new(
            dns_name(&self.name)?,
            CLASS::IN,
            self.ttl,
            data,
        ))
    }

    fn from_wire(record: &ResourceRecord<'_>) -> Option<Record> {
        let data = match &record.rdata {
            RData::PTR(PTR(target)) => Data::Ptr(target.to_string()),
            RData::SRV(srv) => Data::Srv {
                port: srv.port,
                target: srv.target.to_string(),
            },
            RData::TXT(txt) => Data::Txt(vec![String::try_from(txt.clone()).ok()?]),
            RData::A(a) => Data::Address(Ipv4Addr::from(a.clone()).into()),
            RData::AAAA(aaaa) => Data::Address(std::net::Ipv6Addr::from(aaaa.clone()).into()),
            _ => return None,
        };
        Some(Record {
            name: record.name.to_string(),
            ttl: record.ttl,
            data,
        })
    }
}

fn dns_name(text: &str) -> anyhow::Result<Name<'_>> {
    Name::new(text).with_context(|| format!("{text:?} is not a DNS name"))
}

/// A query with one PTR question per name, as go-micro asks (no unicast-response bit).
pub fn query(names: &[String]) -> anyhow::Result<Vec<u8>> {
    query_of(names, QTYPE::TYPE(TYPE::PTR))
}

/// A query with one question of `qtype` per name.
pub fn query_of(names: &[String], qtype: QTYPE) -> anyhow::Result<Vec<u8>> {
    let mut packet = Packet::new_query(0);
    for name in names {
        packet.questions.push(Question::new(
            dns_name(name)?,
            qtype,
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
    }
    Ok(packet.build_bytes_vec()?)
}

/// A probe, as go-micro's responder sends three before it announces (RFC 6762 §8.1): a
/// query for the instance `name` (PTR, as go-micro asks), the records it is about to
/// claim in the authority section.
pub fn probe(id: u16, name: &str, records: &[Record]) -> anyhow::Result<Vec<u8>> {
    let mut packet = Packet::new_query(id);
    packet.questions.push(Question::new(
        dns_name(name)?,
        QTYPE::TYPE(TYPE::PTR),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    for record in records {
        packet.name_servers.push(record.to_wire()?);
    }
    Ok(packet.build_bytes_vec_compressed()?)
}

/// The authority records of a query: what a probe claims.
pub fn claimed(packet: &Packet<'_>) -> Vec<Record> {
    packet
        .name_servers
        .iter()
        .filter_map(Record::from_wire)
        .collect()
}

/// A response carrying `records`, echoing `questions` (go-micro's clients drop replies
/// whose first question is not their own).
pub fn response(
    id: u16,
    questions: &[Question<'_>],
    records: &[Record],
) -> anyhow::Result<Vec<u8>> {
    let mut packet = Packet::new_reply(id);
    packet.set_flags(PacketFlag::AUTHORITATIVE_ANSWER);
    packet.questions = questions.to_vec();
    for record in records {
        packet.answers.push(record.to_wire()?);
    }
    Ok(packet.build_bytes_vec_compressed()?)
}

/// The records of a response (answers and additional section); `None` for a query or
/// for bytes that are not a DNS message.
pub fn response_records(bytes: &[u8]) -> Option<Vec<Record>> {
    let packet = Packet::parse(bytes).ok()?;
    if !packet.has_flags(PacketFlag::RESPONSE) {
        return None;
    }
    Some(
        packet
            .answers
            .iter()
            .chain(&packet.additional_records)
            .filter_map(Record::from_wire)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_read_back_says_what_it_claimed_even_with_a_txt_of_many_strings() {
        let txt: Vec<String> = ["a".repeat(255), "b".repeat(255), "c".repeat(40)].into();
        let claimed = vec![
            Record::new(
                "node-1.greeter.micro",
                Data::Srv {
                    port: 8080,
                    target: "node-1.greeter.micro".into(),
                },
            ),
            Record::new("node-1.greeter.micro", Data::Txt(txt.clone())),
        ];
        let bytes = probe(7, "node-1.greeter.micro", &claimed).unwrap();
        let read = super::claimed(&Packet::parse(&bytes).unwrap());
        assert_eq!(read.len(), 2);
        for record in &read {
            assert!(claimed.contains(record), "{record:?}");
        }
        // Read back, the TXT is one string, and still the same TXT.
        assert!(matches!(&read[1].data, Data::Txt(strings) if strings.len() == 1));
        assert_eq!(read[1].data, Data::Txt(vec![txt.concat()]));
        let other = Record::new("node-1.greeter.micro", Data::Txt(vec!["a".repeat(255)]));
        assert_ne!(other, read[1]);
    }

    #[test]
    fn a_response_echoes_the_question_and_reads_back() {
        let query_bytes = query(&["go.micro.srv.greeter.micro".into()]).unwrap();
        let asked = Packet::parse(&query_bytes).unwrap();
        assert!(!asked.has_flags(PacketFlag::RESPONSE));
        let records = vec![
            Record::new(
                "go.micro.srv.greeter.micro",
                Data::Ptr("node-1.go.micro.srv.greeter.micro".into()),
            ),
            Record::new(
                "node-1.go.micro.srv.greeter.micro",
                Data::Srv {
                    port: 8080,
                    target: "node-1.go.micro.srv.greeter.micro".into(),
                },
            ),
            Record::new(
                "node-1.go.micro.srv.greeter.micro",
                Data::Txt(vec!["ab".repeat(127) + "c", "de".into()]),
            ),
            Record::new(
                "node-1.go.micro.srv.greeter.micro",
                Data::Address(Ipv4Addr::new(10, 0, 0, 5).into()),
            ),
        ];
        let bytes = response(asked.id(), &asked.questions, &records).unwrap();
        let answered = Packet::parse(&bytes).unwrap();
        // The question section (after the 12-byte header) is the query's, byte for byte.
        let question = &query_bytes[12..];
        assert_eq!(&bytes[12..12 + question.len()], question);
        assert_eq!(answered.questions.len(), 1);
        assert!(answered.has_flags(PacketFlag::AUTHORITATIVE_ANSWER));
        let mut expected = records.clone();
        // TXT strings come back joined, as the payload is read.
        expected[2].data = Data::Txt(vec!["ab".repeat(127) + "cde"]);
        assert_eq!(response_records(&bytes).unwrap(), expected);
        assert_eq!(response_records(&query_bytes), None);
        assert_eq!(response_records(b"\x00\x01garbage"), None);
    }
}
