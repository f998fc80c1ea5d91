//! Asking the `micro.` zone (spec §6.2): one query of PTR questions sent to the mDNS
//! group on every multicast interface from an ephemeral socket; responders answer
//! unicast to it; every answer that arrives within the window is gathered. A window that
//! brought no answer at all is followed by the same query again (a datagram lost, or a
//! responder late on a loaded host), a few times at most: go-micro asks once, so with a
//! lost answer it finds nothing, while an answer in the first window ends the lookup
//! after that one window, as go-micro's does.

use super::interfaces::Interface;
use super::wire::{self, Record, GROUP};
use anyhow::Context;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

/// How long answers are awaited (go-micro's default query timeout).
pub const WINDOW: Duration = Duration::from_millis(100);

/// How many times in all a query is sent while no answer came.
const QUERIES: u32 = 3;

/// The records of every answer to PTR questions for `names`, one list per answer (a name
/// like a shared host name only makes sense within its own answer): those of the first
/// `window` that brought any, asking up to [`QUERIES`] times.
pub async fn ask(
    names: &[String],
    interfaces: &[Interface],
    window: Duration,
) -> anyhow::Result<Vec<Vec<Record>>> {
    Ok(
        ask_counting(&wire::query(names)?, names, interfaces, window)
            .await?
            .0,
    )
}

/// Everything about instances an answer named without describing them whole (go-micro's
/// client re-asks such an entry by name): ANY questions for their names, which go-micro's
/// responders and rmicro's answer with SRV, addresses and TXT.
pub async fn ask_instances(
    instances: &[String],
    interfaces: &[Interface],
    window: Duration,
) -> anyhow::Result<Vec<Vec<Record>>> {
    let query = wire::query_of(instances, simple_dns::QTYPE::ANY)?;
    Ok(ask_counting(&query, instances, interfaces, window).await?.0)
}

/// Sends `query` (about `names`) until an answer comes, and how many times it was sent.
async fn ask_counting(
    query: &[u8],
    names: &[String],
    interfaces: &[Interface],
    window: Duration,
) -> anyhow::Result<(Vec<Vec<Record>>, u32)> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into())?;
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let mut buffer = vec![0; 65536];
    let mut sent = 0;
    loop {
        send(&socket, query, interfaces).await?;
        sent += 1;
        let answers = gather(&socket, window, &mut buffer).await?;
        if !answers.is_empty() || sent == QUERIES {
            return Ok((answers, sent));
        }
        tracing::debug!("mDNS: no answer to {names:?} within {window:?}; asking again");
    }
}

/// Sends the query on every interface; an error only when it went out on none.
async fn send(socket: &UdpSocket, query: &[u8], interfaces: &[Interface]) -> anyhow::Result<()> {
    let mut failure = None;
    let mut sent = false;
    for interface in interfaces {
        let result = match SockRef::from(socket).set_multicast_if_v4(&interface.address) {
            Ok(()) => socket.send_to(query, GROUP).await.map(drop),
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => sent = true,
            Err(error) => {
                failure = Some(
                    anyhow::Error::new(error)
                        .context(format!("cannot send an mDNS query on {}", interface.name)),
                )
            }
        }
    }
    match (sent, failure) {
        (false, Some(failure)) => Err(failure),
        _ => Ok(()),
    }
}

/// The records of every answer that arrives within `window`.
async fn gather(
    socket: &UdpSocket,
    window: Duration,
    buffer: &mut [u8],
) -> anyhow::Result<Vec<Vec<Record>>> {
    let deadline = Instant::now() + window;
    let mut answers = Vec::new();
    while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv_from(buffer)).await {
        let (length, _) = received.context("cannot receive mDNS answers")?;
        answers.extend(wire::response_records(&buffer[..length]));
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::super::interfaces::multicast_interfaces;
    use super::super::wire::Data;
    use super::*;
    use simple_dns::{Packet, PacketFlag};
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::Arc;

    /// A responder sharing the mDNS port (address and port reuse, as `rmicro serve`'s
    /// does) that counts the queries for its one name and answers them unicast, but for
    /// the first `ignored`: a lost answer, made on purpose.
    struct Responder {
        name: String,
        queries: Arc<AtomicU32>,
        stop: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Responder {
        fn start(interfaces: &[Interface], ignored: u32) -> Responder {
            static NEXT: AtomicU32 = AtomicU32::new(0);
            // Every process on the host shares mDNS: a name of this test's own.
            let name = format!(
                "browse-{}-{}.micro",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
            socket.set_reuse_address(true).unwrap();
            socket.set_reuse_port(true).unwrap();
            socket
                .bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, GROUP.port()).into())
                .unwrap();
            for interface in interfaces {
                socket
                    .join_multicast_v4(GROUP.ip(), &interface.address)
                    .unwrap();
            }
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let socket: std::net::UdpSocket = socket.into();
            let (queries, stop) = (
                Arc::new(AtomicU32::new(0)),
                Arc::new(AtomicBool::new(false)),
            );
            let thread = std::thread::spawn({
                let (name, queries, stop) = (name.clone(), queries.clone(), stop.clone());
                move || {
                    let mut buffer = [0; 9000];
                    while !stop.load(Ordering::Relaxed) {
                        let Ok((length, from)) = socket.recv_from(&mut buffer) else {
                            continue;
                        };
                        let Ok(packet) = Packet::parse(&buffer[..length]) else {
                            continue;
                        };
                        let ours = packet
                            .questions
                            .iter()
                            .any(|question| question.qname.to_string().eq_ignore_ascii_case(&name));
                        if packet.has_flags(PacketFlag::RESPONSE) || !ours {
                            continue;
                        }
                        if queries.fetch_add(1, Ordering::SeqCst) < ignored {
                            continue;
                        }
                        let record = Record::new(name.clone(), Data::Ptr(format!("node.{name}")));
                        let answer = wire::response(packet.id(), &packet.questions, &[record]);
                        socket.send_to(&answer.unwrap(), from).unwrap();
                    }
                }
            });
            Responder {
                name,
                queries,
                stop,
                thread: Some(thread),
            }
        }

        /// The queries seen, once `expected` have come (the thread may lag on a loaded
        /// machine; the bound is only against a hang).
        fn queries(&self, expected: u32) -> u32 {
            let give_up = std::time::Instant::now() + Duration::from_secs(10);
            while self.queries.load(Ordering::SeqCst) < expected
                && std::time::Instant::now() < give_up
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            self.queries.load(Ordering::SeqCst)
        }
    }

    impl Drop for Responder {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(thread) = self.thread.take() {
                thread.join().unwrap();
            }
        }
    }

    fn interfaces() -> Vec<Interface> {
        let (interfaces, all) = multicast_interfaces().unwrap();
        assert!(
            !interfaces.is_empty(),
            "no multicast interface among {all:?}"
        );
        interfaces
    }

    /// A window the test's responder answers within even on a loaded machine, where the
    /// test needs it to (go-micro's 100 ms can close before its thread runs).
    const WIDE: Duration = Duration::from_secs(1);

    /// `ask` for the responder's name: the PTR names it answered with, and the queries sent.
    async fn lookup(
        responder: &Responder,
        interfaces: &[Interface],
        window: Duration,
    ) -> (Vec<String>, u32) {
        let names = std::slice::from_ref(&responder.name);
        let query = wire::query(names).unwrap();
        let (answers, sent) = ask_counting(&query, names, interfaces, window)
            .await
            .unwrap();
        let targets = answers
            .iter()
            .flatten()
            .filter_map(|record| match &record.data {
                Data::Ptr(target) if record.is_named(&responder.name) => Some(target.clone()),
                _ => None,
            })
            .collect();
        (targets, sent)
    }

    #[tokio::test]
    async fn an_answer_in_the_first_window_ends_the_lookup() {
        let interfaces = interfaces();
        let responder = Responder::start(&interfaces, 0);
        let (targets, sent) = lookup(&responder, &interfaces, WIDE).await;
        assert!(
            targets.contains(&format!("node.{}", responder.name)),
            "{targets:?}"
        );
        assert_eq!(sent, 1, "asked again after an answer");
        assert_eq!(responder.queries(1), 1);
    }

    #[tokio::test]
    async fn a_lost_answer_is_asked_for_again() {
        let interfaces = interfaces();
        let responder = Responder::start(&interfaces, 1);
        let (targets, sent) = lookup(&responder, &interfaces, WIDE).await;
        assert!(
            targets.contains(&format!("node.{}", responder.name)),
            "{targets:?}"
        );
        assert_eq!(sent, 2);
        assert_eq!(responder.queries(2), 2);
    }

    #[tokio::test]
    async fn silence_is_asked_about_a_few_times_then_nothing_is_found() {
        let interfaces = interfaces();
        let responder = Responder::start(&interfaces, u32::MAX);
        let (targets, sent) = lookup(&responder, &interfaces, WINDOW).await;
        assert_eq!(targets, Vec::<String>::new());
        // Three queries in all, as the README says.
        assert_eq!(sent, 3);
        assert_eq!(responder.queries(3), 3);
    }
}
