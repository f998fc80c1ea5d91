//! What the commands that talk to a server share: getting a schema from the local flags
//! or the server, calling a Debug method, a runtime for one command, error mapping, and
//! the listing output formats.

use super::args::{SchemaArgs, TargetArgs};
use super::registered::{Records, Registered};
use crate::client::{AttemptEvent, Client};
use crate::protocol::{CallError, Protocol};
use crate::schema::Schema;
use anyhow::anyhow;
use clap::ValueEnum;
use prost_reflect::DynamicMessage;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// What `list` and `describe` show a server's endpoints from.
pub enum Found {
    /// A schema, with the server's service record when the server gave it.
    Schema(Schema, Option<serde_json::Value>),
    /// No schema anywhere: the service's registry record (names and Go types only).
    Record {
        registered: Registered,
        /// The server that lists nothing itself.
        address: String,
    },
}

/// The local schema when schema flags are given and no server is, or when the server lists
/// nothing itself (go-micro has no `Debug.Endpoints`); otherwise the server's, with its
/// service record; with neither, a mucp server's registry record (go-micro servers are
/// known by theirs alone, spec §4.5). With no target, the server is found in the registry
/// as `call` finds it (the service offering `endpoint`, or the registry's one service).
pub fn fetch_schema(
    schema: &SchemaArgs,
    target: &TargetArgs,
    endpoint: Option<&str>,
) -> anyhow::Result<Found> {
    let local = schema.load()?;
    let wants_server = target.address.is_some() || target.service.is_some() || local.is_none();
    match local {
        Some(schema) if !wants_server => Ok(Found::Schema(schema, None)),
        local => {
            let route = target.registered_route(endpoint)?;
            let records = Records::of(&route, target);
            let options = target.call_options(0, crate::client::Backoff::None);
            let mut client = target.client_for(route, options)?;
            let address = client.address().to_owned();
            let fetched = block_on(client.fetch_endpoints(&target.reflect_metadata()?, None))
                .map_err(|error| peer_error(error, &address))?;
            match (fetched, local) {
                (Some((record, remote)), local) => {
                    Ok(Found::Schema(local.unwrap_or(remote), Some(record)))
                }
                // A go-micro service lists nothing itself: the schema given is the one.
                (None, Some(local)) => Ok(Found::Schema(local, None)),
                (None, None) => {
                    if client.protocol() == Protocol::Mucp {
                        if let Some(registered) = block_on(records.read()) {
                            return Ok(Found::Record {
                                registered,
                                address,
                            });
                        }
                    }
                    // go-micro v1–v4.7 has a Debug service, only without Endpoints.
                    let debug = block_on(client.call_debug("Debug.Health", &mut ignore)).is_ok();
                    Err(anyhow!(
                        "{address} {}, so it cannot list its endpoints (a go-micro service?), and no registry record names it; pass --proto or --descriptor-set to read a schema, or --service NAME to read its registry record",
                        match debug {
                            true => "has a Debug service but no Debug.Endpoints (go-micro's has Health and Stats only)",
                            false => "has no Debug service",
                        }
                    ))
                }
            }
        }
    }
}

/// Says on stderr where a listing from a registry record comes from, and what it lacks.
pub fn note_record_source(found_at: &str, registered: &Registered) {
    eprintln!(
        "rmicro: {found_at} has no Debug.Endpoints; shown from {}: go-micro's names and Go types, no schema",
        registered.source
    );
}

/// Calls `Debug.<method>` on the target with a request (JSON, as debug.proto has it).
pub fn call_debug_with(
    client: &mut Client,
    method: &str,
    request: &serde_json::Value,
) -> anyhow::Result<DynamicMessage> {
    let address = client.address().to_owned();
    block_on(client.call_debug_with(method, request, &mut ignore))
        .map_err(|error| peer_error(error, &address))
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    // On a blocking thread of a runtime (serve's reload of its handlers file looking up
    // a proxy rule's service), on that runtime: registries whose clients keep tasks
    // (mDNS, etcd) need one that outlives the call.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        return runtime.block_on(future);
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}

pub fn ignore(_: AttemptEvent<'_>) {}

/// Peer errors stay `Status` (exit 64 + code); the rest are local failures (exit 1).
pub fn peer_error(error: CallError, address: &str) -> anyhow::Error {
    match error {
        CallError::Status(status) => anyhow::Error::new(status),
        other => anyhow!("{address}: {other}"),
    }
}
