//! Asking the `micro.` zone (spec §6.2): one query of PTR questions sent to the mDNS
//! group on every multicast interface from an ephemeral socket; responders answer
//! unicast to it; every answer that arrives within the window is gathered.

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

/// The records of every answer to PTR questions for `names` within `window`, one list per
/// answer (a name like a shared host name only makes sense within its own answer).
pub async fn ask(
    names: &[String],
    interfaces: &[Interface],
    window: Duration,
) -> anyhow::Result<Vec<Vec<Record>>> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into())?;
    socket.set_nonblocking(true)?;
    let socket = UdpSocket::from_std(socket.into())?;
    let query = wire::query(names)?;
    let mut failure = None;
    let mut sent = false;
    for interface in interfaces {
        let result = match SockRef::from(&socket).set_multicast_if_v4(&interface.address) {
            Ok(()) => socket.send_to(&query, GROUP).await.map(drop),
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
    if let (false, Some(failure)) = (sent, failure) {
        return Err(failure);
    }
    let deadline = Instant::now() + window;
    let mut answers = Vec::new();
    let mut buffer = vec![0; 65536];
    while let Ok(received) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buffer)).await
    {
        let (length, _) = received.context("cannot receive mDNS answers")?;
        answers.extend(wire::response_records(&buffer[..length]));
    }
    Ok(answers)
}
