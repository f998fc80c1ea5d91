//! Arguments shared by several subcommands: schema sources, the target server and its
//! timeouts, and the value parsers for durations and sizes.

use crate::client::{CallOptions, Client, ClientTls};
use crate::exit_code::UsageError;
use crate::message::Metadata;
use crate::protocol::tls::ClientFiles;
use crate::protocol::{Protocol, Target};
use crate::registry::record::Service;
use crate::registry::selector::{Selector, Strategy};
use crate::registry::Registry;
use crate::schema::{Schema, SchemaSources};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct SchemaArgs {
    /// A .proto file to compile (repeatable); imports are found through -I.
    #[arg(long = "proto", value_name = "FILE")]
    pub protos: Vec<PathBuf>,
    /// A directory to search for .proto imports (repeatable; default: each file's own directory).
    #[arg(short = 'I', long = "import-path", value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,
    /// A binary FileDescriptorSet (protoc --include_imports --descriptor_set_out, buf build).
    #[arg(long = "descriptor-set", value_name = "FILE")]
    pub descriptor_sets: Vec<PathBuf>,
}

impl SchemaArgs {
    pub fn sources(&self) -> SchemaSources {
        SchemaSources {
            protos: self.protos.clone(),
            include_dirs: self.include_dirs.clone(),
            descriptor_sets: self.descriptor_sets.clone(),
        }
    }

    /// The local schema, or `None` when no schema flag was given.
    pub fn load(&self) -> anyhow::Result<Option<Schema>> {
        let sources = self.sources();
        if sources.is_empty() {
            return Ok(None);
        }
        sources.load().map(Some)
    }
}

/// Schema export (`call`, `list`, `describe`), as grpcurl's `-protoset-out` and
/// `-proto-out-dir`.
#[derive(Args, Debug, Clone)]
pub struct SchemaOutArgs {
    /// Write the schema in use (from the files given, server reflection or Debug.Endpoints)
    /// to FILE as a binary FileDescriptorSet, imports included.
    #[arg(long, value_name = "FILE")]
    pub protoset_out: Option<PathBuf>,
    /// Write the schema in use as .proto files under DIR, each at its import path (the
    /// well-known types, which protoc has built in, are left out).
    #[arg(long, value_name = "DIR")]
    pub proto_out_dir: Option<PathBuf>,
}

impl SchemaOutArgs {
    /// Writes `schema` where asked; asked with no schema at all, says why there is none.
    pub fn write(&self, schema: Option<&Schema>) -> anyhow::Result<()> {
        if self.protoset_out.is_none() && self.proto_out_dir.is_none() {
            return Ok(());
        }
        let Some(schema) = schema else {
            anyhow::bail!("no schema to write: the server offers none (no reflection, no Debug.Endpoints); pass --proto or --descriptor-set");
        };
        schema.export(self.protoset_out.as_deref(), self.proto_out_dir.as_deref())
    }
}

#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// The registry: file://DIR (the embedded registry, default under $XDG_RUNTIME_DIR or /tmp) [env: RMICRO_REGISTRY; go-micro's MICRO_REGISTRY and MICRO_REGISTRY_ADDRESS too].
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
}

impl RegistryArgs {
    /// The registry; `timeout` bounds each of its operations (go-micro's etcd uses 5 s).
    pub fn registry(&self, timeout: Duration) -> anyhow::Result<Registry> {
        Registry::from_setting(self.registry.as_deref(), timeout)
    }
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// The server: HOST:PORT, mucp://, jsonrpc://, grpc:// or grpcs://HOST:PORT [env: RMICRO_ADDRESS, MICRO_PROXY_ADDRESS].
    #[arg(short = 'a', long, value_name = "ADDR")]
    pub address: Option<String>,
    /// The protocol to speak: mucp (go-micro's, the default), jsonrpc (Go's net/rpc JSON codec) or grpc (h2c); an address scheme says the same.
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol)]
    pub protocol: Option<Protocol>,
    /// Per-attempt timeout, also sent to the server as the Timeout header.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Timeout for opening the connection.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub dial_timeout: Duration,
    /// Call a service by name: its nodes come from the registry [env: MICRO_PROXY].
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "address",
        add = clap_complete::ArgValueCandidates::new(super::complete::services)
    )]
    pub service: Option<String>,
    /// How a node is picked: random (go-micro's default) or roundrobin (turns shared by every rmicro process on this machine).
    #[arg(long, value_enum, default_value = "random")]
    pub selector: SelectorArg,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Metadata sent as a header, to the call and to reflection (repeatable); @FILE reads
    /// `Name: value` lines from a file, so secrets stay off the command line.
    #[arg(short = 'H', long = "header", value_name = "KEY:VALUE")]
    pub headers: Vec<String>,
    /// Metadata for reflection requests only (repeatable; @FILE as for -H).
    #[arg(long = "reflect-header", value_name = "KEY:VALUE")]
    pub reflect_headers: Vec<String>,
    /// Largest reply message read (e.g. 256MiB); a larger one fails the call, never retried.
    /// The default takes what go-micro servers send: they have no limit of their own.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_message_size: usize,
}

/// TLS for gRPC calls; any of these flags means TLS (as `grpcs://` does).
#[derive(Args, Debug, Clone)]
pub struct TlsArgs {
    /// Trust the server certificates this PEM CA signed, instead of the system's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    pub cacert: Option<PathBuf>,
    /// A PEM client certificate, for mutual TLS (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The PEM private key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not check the server's certificate (the connection is still encrypted).
    #[arg(long)]
    pub insecure: bool,
    /// The :authority to send and the name the server's certificate must carry (default: the address).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub authority: Option<String>,
}

impl TlsArgs {
    fn wanted(&self) -> bool {
        self.cacert.is_some() || self.cert.is_some() || self.insecure
    }

    fn files(&self) -> ClientFiles {
        ClientFiles {
            cacert: self.cacert.clone(),
            identity: self.cert.clone().zip(self.key.clone()),
            insecure: self.insecure,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SelectorArg {
    Random,
    Roundrobin,
}

/// Where a command's calls go.
pub enum Route {
    Address(Target),
    Service(String),
    /// A service whose records were already read from the registry (every version).
    Registered(Vec<Service>),
}

impl TargetArgs {
    /// Where calls go, from the flags, else the environment (`RMICRO_ADDRESS`, and
    /// go-micro's `MICRO_PROXY_ADDRESS` and `MICRO_PROXY` as its `next()` reads them);
    /// `None` when nothing names a target.
    pub fn route(&self) -> anyhow::Result<Option<Route>> {
        if let Some(address) = &self.address {
            return Ok(Some(Route::Address(self.target(address)?)));
        }
        if let Some(service) = &self.service {
            return Ok(Some(Route::Service(service.clone())));
        }
        if let Some(address) =
            non_empty_env("RMICRO_ADDRESS").or_else(|| non_empty_env("MICRO_PROXY_ADDRESS"))
        {
            return Ok(Some(Route::Address(self.target(&address)?)));
        }
        Ok(non_empty_env("MICRO_PROXY").map(Route::Service))
    }

    /// A client for `route`: bound to its address, or over the service's nodes from the
    /// registry.
    pub fn client_for(&self, route: Route, mut options: CallOptions) -> anyhow::Result<Client> {
        let registry = self.registry()?;
        let services = match route {
            Route::Address(target) => {
                options.tls = self.client_tls(target.tls)?;
                return Ok(Client::new(&target, options));
            }
            Route::Registered(services) => services,
            Route::Service(name) => super::inspect::block_on(registry.find_service(&name))?,
        };
        let name = &services[0].name;
        let strategy = match self.selector {
            SelectorArg::Random => Strategy::Random,
            SelectorArg::Roundrobin => Strategy::RoundRobin,
        };
        let start = registry.first_pick(name, strategy)?;
        let selector = Selector::new(&services, start, registry.avoid_list())
            .map_err(|error| anyhow::anyhow!("service {name}: {error}"))?;
        let secure = selector.candidates().iter().any(|node| node.target.tls);
        options.tls = self.client_tls(secure)?;
        Ok(Client::with_selector(selector, options))
    }

    /// The TLS configuration, when a target needs it or a TLS flag asks for it.
    fn client_tls(&self, needed: bool) -> anyhow::Result<Option<ClientTls>> {
        if !needed && !self.tls.wanted() {
            return Ok(None);
        }
        Ok(Some(ClientTls {
            config: self.tls.files().config()?,
            always: self.tls.wanted(),
        }))
    }

    /// The registry, its operations bounded by `--dial-timeout`.
    pub fn registry(&self) -> anyhow::Result<Registry> {
        self.registry.registry(self.dial_timeout)
    }

    fn target(&self, given: &str) -> anyhow::Result<Target> {
        let target = parse_address(given)?;
        // `unix:///PATH` names a socket, not a protocol: --protocol chooses it.
        let explicit = given.contains("://") && !given.starts_with("unix://");
        let target = match self.protocol {
            Some(protocol) if explicit && protocol != target.protocol => {
                return Err(UsageError(format!(
                    "--protocol {} contradicts the address {given}",
                    protocol.scheme()
                ))
                .into())
            }
            Some(protocol) => Target { protocol, ..target },
            // TLS flags on a bare HOST:PORT: gRPC over TLS, as grpcurl assumes.
            None if !explicit && self.tls.wanted() => Target {
                protocol: Protocol::Grpc,
                ..target
            },
            None => target,
        };
        Ok(Target {
            tls: target.tls || self.tls.wanted(),
            ..target
        })
    }

    /// The metadata reflection requests carry: -H and --reflect-header.
    pub fn reflect_metadata(&self) -> anyhow::Result<Metadata> {
        parse_headers(self.headers.iter().chain(&self.reflect_headers))
    }

    pub fn call_options(&self, retries: u32, backoff: crate::client::Backoff) -> CallOptions {
        CallOptions {
            timeout: self.timeout,
            timeout_bounds_streams: true,
            max_time: None,
            dial_timeout: self.dial_timeout,
            retries,
            backoff,
            max_message_size: self.max_message_size,
            retry_on: Vec::new(),
            tls: None,
            gzip: false,
            authority: self.tls.authority.clone(),
        }
    }

    /// Where calls go (`route`); with no target at all, through the registry: the one
    /// registered service offering `endpoint` (with none, the registry's one service).
    pub fn route_or_registered(&self, endpoint: Option<&str>) -> anyhow::Result<Route> {
        match self.route()? {
            Some(route) => Ok(route),
            None => Ok(Route::Registered(service_offering(self, endpoint)?)),
        }
    }

    /// Like [`TargetArgs::route_or_registered`], with a service named by `--service` read
    /// from the registry already, so that its records serve the caller too (what a
    /// schema-less call learns of its endpoint, `registered`).
    pub fn registered_route(&self, endpoint: Option<&str>) -> anyhow::Result<Route> {
        Ok(match self.route_or_registered(endpoint)? {
            Route::Service(name) => Route::Registered(super::inspect::block_on(
                self.registry()?.find_service(&name),
            )?),
            route => route,
        })
    }

    /// A client for inspection commands (list, describe, health, stats), found as `call`
    /// finds its server: no retries.
    pub fn client(&self, endpoint: Option<&str>) -> anyhow::Result<Client> {
        let route = self.route_or_registered(endpoint)?;
        self.client_for(route, self.call_options(0, crate::client::Backoff::None))
    }

    /// One client per node when the route names a service (each with its node id), else
    /// the one client of the address; for commands that ask every node (`health`).
    pub fn node_clients(&self) -> anyhow::Result<Vec<(Option<String>, Client)>> {
        let route = self.route_or_registered(None)?;
        let options = self.call_options(0, crate::client::Backoff::None);
        let services = match route {
            Route::Address(target) => {
                let options = CallOptions {
                    tls: self.client_tls(target.tls)?,
                    ..options
                };
                return Ok(vec![(None, Client::new(&target, options))]);
            }
            Route::Registered(services) => services,
            Route::Service(name) => super::inspect::block_on(self.registry()?.find_service(&name))?,
        };
        let selector = Selector::new(&services, 0, self.registry()?.avoid_list())
            .map_err(|error| anyhow::anyhow!("service {}: {error}", services[0].name))?;
        let secure = selector.candidates().iter().any(|node| node.target.tls);
        let options = CallOptions {
            tls: self.client_tls(secure)?,
            ..options
        };
        Ok(selector
            .candidates()
            .iter()
            .map(|node| {
                (
                    Some(node.node_id.clone()),
                    Client::new(&node.target, options.clone()),
                )
            })
            .collect())
    }
}

/// With no target at all: the records of the one registered service that offers
/// `endpoint`, or with no endpoint, of the registry's one service.
fn service_offering(target: &TargetArgs, endpoint: Option<&str>) -> anyhow::Result<Vec<Service>> {
    let registry = target.registry()?;
    let services = super::inspect::block_on(registry.list_services())?;
    let mut names: Vec<&str> = services
        .iter()
        .filter(|service| {
            endpoint.is_none_or(|endpoint| {
                service
                    .rpc_endpoints()
                    .any(|offered| offered.name == endpoint)
            })
        })
        .map(|service| service.name.as_str())
        .collect();
    names.dedup();
    match names.as_slice() {
        [one] => {
            let one = (*one).to_owned();
            Ok(services.into_iter().filter(|service| service.name == one).collect())
        }
        [] => Err(UsageError(match endpoint {
            Some(endpoint) => format!(
                "no server given, and no service in {} offers {endpoint}: pass --address HOST:PORT or --service NAME",
                registry.describe()
            ),
            None => format!(
                "no server given, and {} has no service: pass --address HOST:PORT or --service NAME",
                registry.describe()
            ),
        })
        .into()),
        several => Err(UsageError(match endpoint {
            Some(endpoint) => format!(
                "{endpoint} is offered by several services in {}: {}; pick one with --service",
                registry.describe(),
                several.join(", ")
            ),
            None => format!(
                "no server given, and {} has several services: {}; pick one with --service NAME or give --address HOST:PORT",
                registry.describe(),
                several.join(", ")
            ),
        })
        .into()),
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn parse_protocol(text: &str) -> Result<Protocol, String> {
    Protocol::from_scheme(text).ok_or_else(|| "use mucp, jsonrpc, grpc, connect or grpcweb".into())
}

/// Metadata from `KEY:VALUE` arguments, or `@FILE` arguments naming files of `Name: value`
/// lines (blank lines and `#` comments skipped).
pub fn parse_headers<'a>(
    headers: impl IntoIterator<Item = &'a String>,
) -> anyhow::Result<Metadata> {
    let mut metadata = Metadata::new();
    let mut add = |header: &str, origin: &str| -> anyhow::Result<()> {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| UsageError(format!("header {header:?}{origin} is not KEY:VALUE")))?;
        metadata.push(name.trim(), value.trim());
        Ok(())
    };
    for header in headers {
        let Some(path) = header.strip_prefix('@') else {
            add(header, "")?;
            continue;
        };
        let text = std::fs::read_to_string(path)
            .map_err(|error| UsageError(format!("cannot read headers from {path}: {error}")))?;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                add(line, &format!(" (line {} of {path})", number + 1))?;
            }
        }
    }
    Ok(metadata)
}

/// An address as `Target::parse` reads it; its complaints are usage errors.
pub fn parse_address(given: &str) -> anyhow::Result<Target> {
    Target::parse(given).map_err(|error| UsageError(error).into())
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|error| format!("{error} (use e.g. 500ms, 5s, 1m)"))
}

/// Bytes, with an optional K/KiB/M/MiB suffix (powers of 1024).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size like 4194304 or 4MiB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("unknown size unit {unit:?} (use K or M)")),
    };
    Ok(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let address = |given| parse_address(given).unwrap().address;
        assert_eq!(address("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(address("mucp://localhost:9/"), "localhost:9");
        assert_eq!(address(":8080"), "127.0.0.1:8080");
        assert_eq!(
            parse_address("jsonrpc://h:1").unwrap(),
            Target {
                protocol: Protocol::JsonRpc,
                address: "h:1".into(),
                tls: false,
                http1: false,
            }
        );
        assert_eq!(
            parse_address("grpc://x:1").unwrap().protocol,
            Protocol::Grpc
        );
        let secure = parse_address("grpcs://x:1").unwrap();
        assert_eq!((secure.protocol, secure.tls), (Protocol::Grpc, true));
        let https = parse_address("https://x:1").unwrap();
        assert_eq!(
            (https.protocol, https.tls, https.http1),
            (Protocol::Connect, true, false)
        );
        let http = parse_address("http://x:1").unwrap();
        assert_eq!(
            (http.protocol, http.tls, http.http1),
            (Protocol::Connect, false, true)
        );
        assert_eq!(
            parse_address("grpc-web://x:1").unwrap().protocol,
            Protocol::GrpcWeb
        );
        let unix = parse_address("grpc+unix:///run/a.sock").unwrap();
        assert_eq!(
            (unix.protocol, unix.address.as_str()),
            (Protocol::Grpc, "unix:/run/a.sock")
        );
        assert_eq!(
            parse_address("unix:///run/a.sock").unwrap().protocol,
            Protocol::Mucp
        );
        assert!(parse_address("unix://relative").is_err());
        assert!(parse_address("ftp://x:1").is_err());
        assert!(parse_address("localhost").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4MiB"), Ok(4 * 1024 * 1024));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("lots").is_err());
    }
}
