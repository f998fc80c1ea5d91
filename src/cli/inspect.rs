//! What the commands that talk to a server share: getting a schema from the local flags
//! or the server, calling a Debug method, a runtime for one command, error mapping, and
//! the listing output formats.

use super::args::{SchemaArgs, TargetArgs};
use crate::client::{AttemptEvent, Client};
use crate::protocol::CallError;
use crate::schema::Schema;
use anyhow::anyhow;
use clap::ValueEnum;
use prost_reflect::DynamicMessage;

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// The local schema when schema flags are given and no server is, or when the server lists
/// nothing itself (go-micro has no `Debug.Endpoints`); otherwise the server's,
/// with its service record. With no target, the server is found in the registry as `call`
/// finds it (the service offering `endpoint`, or the registry's one service).
pub fn fetch_schema(
    schema: &SchemaArgs,
    target: &TargetArgs,
    endpoint: Option<&str>,
) -> anyhow::Result<(Schema, Option<serde_json::Value>)> {
    let local = schema.load()?;
    let wants_server = target.address.is_some() || target.service.is_some() || local.is_none();
    match local {
        Some(schema) if !wants_server => Ok((schema, None)),
        local => {
            let mut client = target.client(endpoint)?;
            let address = client.address().to_owned();
            let fetched = block_on(client.fetch_endpoints(&target.reflect_metadata()?, None))
                .map_err(|error| peer_error(error, &address))?;
            match (fetched, local) {
                (Some((record, remote)), local) => Ok((local.unwrap_or(remote), Some(record))),
                // A go-micro service lists nothing itself: the schema given is the one.
                (None, Some(local)) => Ok((local, None)),
                (None, None) => {
                    // go-micro v1–v4.7 has a Debug service, only without Endpoints.
                    let debug = block_on(client.call_debug("Debug.Health", &mut ignore)).is_ok();
                    Err(anyhow!(
                        "{address} {}, so it cannot list its endpoints (a go-micro service?); pass --proto or --descriptor-set to read a schema",
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
