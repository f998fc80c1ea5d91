//! Dynamic completion of names (clap_complete's `COMPLETE=SHELL rmicro`): endpoints,
//! services and messages, from the schema flags on the line being completed, else the
//! server it names (`-a`, or `RMICRO_ADDRESS`: `Debug.Endpoints` or reflection), else
//! the registry (`--registry` or the environment's). A source that fails gives no
//! candidates; completion never prints an error.

use crate::client::{Backoff, CallOptions, Client};
use crate::message::Metadata;
use crate::protocol::{Protocol, Target};
use crate::registry::Registry;
use crate::schema::{endpoint_name, Schema, SchemaSources};
use clap_complete::engine::CompletionCandidate;
use std::path::PathBuf;
use std::time::Duration;

/// How long completion may wait on a server or registry: a shell waits for it.
const PATIENCE: Duration = Duration::from_millis(700);

/// The largest schema reply read (`--max-message-size`'s default).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// What the line being completed says about where names come from.
struct Line {
    sources: SchemaSources,
    address: Option<String>,
    protocol: Option<Protocol>,
    registry: Option<String>,
}

/// The words of the line being completed, as the shell scripts pass them after `--`,
/// read by the clap definition, leniently (the line is unfinished).
fn line() -> Line {
    let words: Vec<std::ffi::OsString> = std::env::args_os()
        .skip_while(|word| word != "--")
        .skip(1)
        .collect();
    let matches = super::command()
        .ignore_errors(true)
        .try_get_matches_from(&words)
        .ok();
    let sub = matches
        .as_ref()
        .and_then(|matches| matches.subcommand().map(|(_, sub)| sub.clone()));
    let many = |id: &str| -> Vec<PathBuf> {
        sub.as_ref()
            .and_then(|sub| sub.try_get_many::<PathBuf>(id).ok().flatten())
            .map(|values| values.cloned().collect())
            .unwrap_or_default()
    };
    let one = |id: &str| -> Option<String> {
        sub.as_ref()
            .and_then(|sub| sub.try_get_one::<String>(id).ok().flatten())
            .cloned()
    };
    Line {
        sources: SchemaSources {
            protos: many("protos"),
            include_dirs: many("include_dirs"),
            descriptor_sets: many("descriptor_sets"),
        },
        address: one("address").or_else(|| std::env::var("RMICRO_ADDRESS").ok()),
        protocol: sub
            .as_ref()
            .and_then(|sub| sub.try_get_one::<Protocol>("protocol").ok().flatten())
            .copied(),
        registry: one("registry"),
    }
}

/// The schema of the line's files, else of its server.
fn schema(line: &Line) -> Option<Schema> {
    if !line.sources.is_empty() {
        return line.sources.load().ok();
    }
    let mut target = Target::parse(line.address.as_deref()?).ok()?;
    if let Some(protocol) = line.protocol {
        target.protocol = protocol;
    }
    let options = CallOptions {
        timeout: PATIENCE,
        timeout_bounds_streams: true,
        max_time: Some(PATIENCE),
        dial_timeout: PATIENCE,
        retries: 0,
        backoff: Backoff::None,
        max_message_size: MAX_MESSAGE_SIZE,
        retry_on: Vec::new(),
        tls: None,
        gzip: false,
        authority: None,
    };
    let mut client = Client::new(&target, options);
    let fetched = super::inspect::block_on(client.fetch_endpoints(&Metadata::new(), None));
    fetched.ok().flatten().map(|(_, schema)| schema)
}

fn registry(line: &Line) -> Option<Vec<crate::registry::record::Service>> {
    let registry = Registry::from_setting(line.registry.as_deref(), PATIENCE).ok()?;
    super::inspect::block_on(registry.list_services()).ok()
}

fn candidates(names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    names.dedup();
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// `Service.Method` names (and `pkg.Service/Method` for gRPC servers).
pub fn endpoints() -> Vec<CompletionCandidate> {
    let line = line();
    if let Some(schema) = schema(&line) {
        let grpc = line.protocol == Some(Protocol::Grpc)
            || line
                .address
                .as_deref()
                .is_some_and(|address| address.starts_with("grpc"));
        return candidates(schema.methods().iter().flat_map(|method| {
            let mut names = vec![endpoint_name(method)];
            if grpc {
                names.push(
                    crate::schema::grpc_path(method)
                        .trim_start_matches('/')
                        .to_owned(),
                );
            }
            names
        }));
    }
    candidates(
        registry(&line)
            .unwrap_or_default()
            .iter()
            .flat_map(|service| {
                service
                    .rpc_endpoints()
                    .map(|endpoint| endpoint.name.clone())
            })
            .collect::<Vec<_>>(),
    )
}

/// Endpoints, services and messages, for `describe`.
pub fn symbols() -> Vec<CompletionCandidate> {
    let line = line();
    let Some(schema) = schema(&line) else {
        return endpoints();
    };
    let pool = schema.pool();
    candidates(
        schema
            .methods()
            .iter()
            .map(endpoint_name)
            .chain(
                schema
                    .services()
                    .iter()
                    .map(|service| service.full_name().to_owned()),
            )
            .chain(
                pool.all_messages()
                    .filter(|message| !message.is_map_entry())
                    .map(|message| message.full_name().to_owned()),
            )
            .collect::<Vec<_>>(),
    )
}

/// The registry's service names, for `--service` and `list SERVICE`.
pub fn services() -> Vec<CompletionCandidate> {
    candidates(
        registry(&line())
            .unwrap_or_default()
            .into_iter()
            .map(|service| service.name),
    )
}

/// gRPC service names of the line's schema or server, for `health SERVICE`.
pub fn grpc_services() -> Vec<CompletionCandidate> {
    let line = line();
    candidates(
        schema(&line)
            .map(|schema| {
                schema
                    .services()
                    .iter()
                    .map(|service| service.full_name().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    )
}
