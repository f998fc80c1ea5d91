//! `rmicro list`: a server's endpoints from `Debug.Endpoints`, or a local schema's, as a
//! table (endpoint, request, response, kind, handler) or `--output json`; of a go-micro
//! server with no schema given, its registry record's. With no server and no schema, the
//! registry's services; `rmicro list SERVICE`, one service's endpoints from its registry
//! record.

use super::args::{SchemaArgs, SchemaOutArgs, TargetArgs};
use super::inspect::{block_on, fetch_schema, note_record_source, Found, ListFormat};
use super::registered;
use crate::output;
use crate::registry::record::Service;
use crate::registry::Registry;
use crate::schema::{endpoint_name, method_kind};
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often `list --watch` reads the registry.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Args, Debug)]
pub struct ListArgs {
    /// A registered service: list its endpoints from the registry record.
    #[arg(
        value_name = "SERVICE",
        id = "registered_service",
        add = clap_complete::ArgValueCandidates::new(super::complete::services)
    )]
    registered: Option<String>,
    #[command(flatten)]
    schema: SchemaArgs,
    #[command(flatten)]
    schema_out: SchemaOutArgs,
    #[command(flatten)]
    target: TargetArgs,
    /// With no target: keep following the registry, printing a line for each node that
    /// registers (+) or goes away (-).
    #[arg(long)]
    watch: bool,
    /// table (the default) or json.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ListFormat,
}

pub fn run(args: ListArgs) -> anyhow::Result<()> {
    if let Some(service) = &args.registered {
        return list_registered_endpoints(&args, service);
    }
    if args.schema.sources().is_empty() && args.target.route()?.is_none() {
        let registry = args.target.registry()?;
        let services = block_on(registry.list_services())?;
        list_services(&args, &registry, &services)?;
        return match args.watch {
            true => block_on(watch_services(&args, &registry, services)),
            false => Ok(()),
        };
    }
    let (schema, record) = match fetch_schema(&args.schema, &args.target, None)? {
        Found::Schema(schema, record) => (schema, record),
        Found::Record {
            registered,
            address,
        } => {
            args.schema_out.write(None)?;
            note_record_source(&address, &registered);
            return print(
                args.output,
                &registered_rows(&registered.services),
                &["endpoint", "version", "request", "response", "kind"],
            );
        }
    };
    args.schema_out.write(Some(&schema))?;
    let handler_of = |name: &str| -> String {
        record
            .as_ref()
            .and_then(|record| record["endpoints"].as_array())
            .and_then(|endpoints| endpoints.iter().find(|endpoint| endpoint["name"] == name))
            .and_then(|endpoint| endpoint["metadata"]["handler"].as_str())
            .unwrap_or("-")
            .to_owned()
    };
    let rows: Vec<serde_json::Value> = schema
        .methods()
        .iter()
        .map(|method| {
            let name = endpoint_name(method);
            json!({
                "endpoint": name,
                "full_name": method.full_name(),
                "request": method.input().full_name(),
                "response": method.output().full_name(),
                "kind": method_kind(method),
                "handler": handler_of(&name),
            })
        })
        .collect();
    if rows.is_empty() {
        // An empty table with exit 0 would read as "listed"; say what is missing.
        anyhow::bail!(match args.target.route()?.is_some() {
            true => "the server lists no services but reflection's own: pass --proto or --descriptor-set to read a schema",
            false => "the schema has no services",
        });
    }
    print(
        args.output,
        &rows,
        &["endpoint", "request", "response", "kind", "handler"],
    )
}

/// Rows as JSON, or as a table of the given keys (upper-cased as headers).
fn print(format: ListFormat, rows: &[serde_json::Value], keys: &[&str]) -> anyhow::Result<()> {
    match format {
        ListFormat::Json => output::print_json(&json!(rows), false)?,
        ListFormat::Table => {
            let cell = |value: &serde_json::Value| match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let headers: Vec<String> = keys.iter().map(|key| key.to_uppercase()).collect();
            output::print_table(
                &headers.iter().map(String::as_str).collect::<Vec<_>>(),
                rows.iter()
                    .map(|row| keys.iter().map(|key| cell(&row[key])).collect())
                    .collect(),
            )?;
        }
    }
    Ok(())
}

/// The registry's services: one row per name and version.
fn list_services(args: &ListArgs, registry: &Registry, services: &[Service]) -> anyhow::Result<()> {
    let rows: Vec<serde_json::Value> = services
        .iter()
        .map(|service| {
            let mut protocols: Vec<&str> = service
                .nodes
                .iter()
                .flat_map(|node| node.protocols())
                .collect();
            protocols.sort();
            protocols.dedup();
            json!({
                "service": service.name,
                "version": service.version,
                "nodes": service.nodes.len(),
                "addresses": service.nodes.iter().map(|node| node.address.as_str()).collect::<Vec<_>>().join(" "),
                "protocols": protocols.join(","),
                "endpoints": service.rpc_endpoints().count(),
            })
        })
        .collect();
    if rows.is_empty() && args.output == ListFormat::Table {
        eprintln!("no services in {}", registry.describe());
    }
    print(
        args.output,
        &rows,
        &[
            "service",
            "version",
            "nodes",
            "addresses",
            "protocols",
            "endpoints",
        ],
    )
}

/// Polls the registry and prints node changes until interrupted: one JSON object per
/// change with `--output json` (`{"event":"register"|"deregister","service",…}`), else
/// `+ service version node address`.
async fn watch_services(
    args: &ListArgs,
    registry: &Registry,
    listed: Vec<Service>,
) -> anyhow::Result<()> {
    let nodes = |services: Vec<Service>| -> BTreeMap<String, (String, String, String)> {
        services
            .into_iter()
            .flat_map(|service| {
                service.nodes.into_iter().map(move |node| {
                    let entry = (service.name.clone(), service.version.clone(), node.address);
                    (node.id, entry)
                })
            })
            .collect()
    };
    let mut known = nodes(listed);
    loop {
        tokio::time::sleep(WATCH_INTERVAL).await;
        let current = match registry.list_services().await {
            Ok(services) => nodes(services),
            Err(error) => {
                eprintln!("rmicro: {error:#}; still watching");
                continue;
            }
        };
        let gone = known.iter().filter(|(id, _)| !current.contains_key(*id));
        let added = current.iter().filter(|(id, _)| !known.contains_key(*id));
        let changes = gone
            .map(|entry| ("deregister", '-', entry))
            .chain(added.map(|entry| ("register", '+', entry)));
        for (event, sign, (id, (service, version, address))) in changes {
            match args.output {
                ListFormat::Json => output::print_json(
                    &json!({"event": event, "service": service, "version": version, "node": id, "address": address}),
                    false,
                )?,
                ListFormat::Table => {
                    output::print_raw(
                        format!("{sign} {service} {version} {id} {address}\n").as_bytes(),
                    )?;
                }
            }
        }
        known = current;
    }
}

/// One registered service's endpoints, from its registry record (every version).
fn list_registered_endpoints(args: &ListArgs, name: &str) -> anyhow::Result<()> {
    let registry = args.target.registry()?;
    let services = block_on(registry.find_service(name))?;
    print(
        args.output,
        &registered_rows(&services),
        &["endpoint", "version", "request", "response", "kind"],
    )
}

/// A row per endpoint of each version's record: its Go types and whether it streams.
fn registered_rows(services: &[Service]) -> Vec<serde_json::Value> {
    services
        .iter()
        .flat_map(|service| {
            service.rpc_endpoints().map(|endpoint| {
                json!({
                    "endpoint": endpoint.name,
                    "version": service.version,
                    "request": registered::type_name(&endpoint.request),
                    "response": registered::type_name(&endpoint.response),
                    "kind": registered::kind(endpoint),
                })
            })
        })
        .collect()
}
