//! `rmicro serve`: load the schema and handlers, build the router, bind, print the bound
//! address on stderr, serve until SIGINT/SIGTERM, drain, exit 0. While serving, the
//! handlers file is watched (and re-read on SIGHUP): a valid new file takes over, a
//! broken one is refused with its error logged and the old rules keep serving.

use super::args::{
    parse_duration, parse_size, RegistryArgs, Route, SchemaArgs, SelectorArg, TargetArgs, TlsArgs,
};
use crate::client::{Backoff, Client};
use crate::exit_code::UsageError;
use crate::handler::{
    ExecLimits, HandlerRules, Journal, LookupFuture, Recorder, Refresh, Router, RouterOptions,
    Upstream, Upstreams, DEFAULT_JOURNAL_SIZE,
};
use crate::message::Metadata;
use crate::protocol::cors::Cors;
use crate::protocol::grpc::server::Keepalive;
use crate::protocol::tls::ServerFiles;
use crate::protocol::Timeouts;
use crate::registration::{advertised_address, Registration};
use crate::schema::Schema;
use crate::server::{self, ServerOptions};
use anyhow::Context;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    /// Handlers file: JSON rules per endpoint (reply, match, error, delay, sequence, exec).
    /// Watched while serving (and re-read on SIGHUP): a valid new file takes over.
    #[arg(long, value_name = "FILE")]
    handlers: Option<PathBuf>,
    /// Calls the request journal keeps (Debug.Requests, `rmicro journal`), the oldest
    /// dropped first (also past 64 MiB of requests held); 0 keeps none.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_JOURNAL_SIZE)]
    journal_size: usize,
    /// Also append every journal entry to FILE as NDJSON.
    #[arg(long, value_name = "FILE")]
    journal: Option<PathBuf>,
    /// Answer endpoints without a handler with Unimplemented instead of an empty reply.
    #[arg(long)]
    strict: bool,
    /// Start even with no service to serve (no schema, or one without services): only the
    /// built-in Debug service answers.
    #[arg(long)]
    allow_empty: bool,
    /// Threads serving connections, each connection served on one of them for its life
    /// (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: Option<u64>,
    /// Address to listen on: HOST:PORT (port 0 picks a free port), or a unix socket,
    /// unix:///PATH (removed when the server stops).
    #[arg(
        short = 'a',
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:8080",
        env = "RMICRO_SERVER_ADDRESS"
    )]
    address: String,
    /// Service name (default: the schema's package).
    #[arg(long)]
    name: Option<String>,
    /// Service version, as published in the service record.
    #[arg(long = "version", value_name = "VERSION", default_value = "latest")]
    service_version: String,
    /// Largest request body accepted (e.g. 4MiB), and the most an exec handler may print
    /// (its reply, or one line of a stream).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    max_message_size: usize,
    /// Memory that decoded requests may hold at once, all connections together. A request
    /// that decodes to far more than its size (a long packed repeated field: 56 bytes per
    /// element) holds its share while it is handled; others wait for theirs within their
    /// deadline, and one that needs more than all of it gets ResourceExhausted.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_budget)]
    decode_budget: usize,
    /// Exec handler processes running at once, all endpoints together; later calls queue
    /// within their deadline [default: 4 per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    exec_concurrency: Option<u32>,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
    /// How long a client may take to send a request's head, from its first byte; a new
    /// connection's TLS handshake and first bytes count too. A head too slow gets 408 and
    /// the connection is closed (0 = no limit).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    header_timeout: Duration,
    /// How long a client may take to send a request's body once its head is in (for
    /// JSON-RPC, a whole request from its first byte); too slow gets 408 (0 = no limit).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    body_timeout: Duration,
    /// How long a kept-alive HTTP/1.1 or JSON-RPC connection may wait with no request in
    /// progress before it is closed (0 = no limit).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// How long a streamed HTTP/1.1 reply (Connect, gRPC-Web) may wait on a client that
    /// takes none of it before the call and the connection end (0 = no limit).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    write_timeout: Duration,
    /// How long an HTTP/2 (gRPC, Connect) connection may be silent before it is pinged
    /// (0 = never).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    keepalive_time: Duration,
    /// How long a pinged HTTP/2 peer may take to answer before its connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = parse_positive_duration)]
    keepalive_timeout: Duration,
    #[command(flatten)]
    registry: RegistryArgs,
    /// Do not register in any registry.
    #[arg(long, conflicts_with = "registry")]
    no_register: bool,
    /// Node metadata published in the registry (repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_metadata)]
    metadata: Vec<(String, String)>,
    /// The address published in the registry (default: the bound one; for 0.0.0.0, this host's outgoing address).
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// How long the registry keeps the record without a heartbeat (re-registered every third of it).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    register_ttl: Duration,
    /// Serve every protocol over TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Let browser pages from this origin call over Connect and gRPC-Web: CORS
    /// preflights are answered, and replies expose the status headers (repeatable;
    /// `scheme://host[:port]`, or `*` for any origin).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origin: Vec<String>,
    /// Require client certificates signed by this PEM CA (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    #[command(flatten)]
    proxy: ProxyArgs,
}

/// Passing calls on to another server (`--proxy`, and the handlers file's proxy rules).
#[derive(Args, Debug, Clone)]
struct ProxyArgs {
    /// Pass every endpoint without a rule of its own on to this server: grpc://, grpcs://,
    /// jsonrpc://, mucp://HOST:PORT, HOST:PORT (mucp) or service:NAME (its nodes from the
    /// registry). Without a schema flag, the schema is the upstream's (reflection, or its
    /// Debug.Endpoints).
    #[arg(id = "proxy", long = "proxy", value_name = "ADDR")]
    upstream: Option<String>,
    /// Each attempt of a proxied unary call, and the opening of a proxied stream, unless
    /// the caller's deadline comes sooner (an open stream lasts until its caller's deadline).
    #[arg(long = "proxy-timeout", value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    proxy_timeout: Duration,
    /// Timeout for opening a connection to the upstream.
    #[arg(long = "proxy-dial-timeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    proxy_dial_timeout: Duration,
    /// Extra attempts of a proxied call, on what `rmicro call --retries` retries.
    #[arg(long = "proxy-retries", value_name = "N", default_value_t = 0)]
    proxy_retries: u32,
    /// How often a service:NAME upstream's nodes are read again from the registry (at
    /// the next call, which goes on to the nodes read before), so that nodes that come
    /// are used and nodes that go are dropped.
    #[arg(long = "proxy-refresh", value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration)]
    proxy_refresh: Duration,
    /// Trust the upstream certificates this PEM CA signed (gRPC over TLS).
    #[arg(
        long = "proxy-cacert",
        value_name = "FILE",
        conflicts_with = "proxy_insecure"
    )]
    proxy_cacert: Option<PathBuf>,
    /// A PEM client certificate for the upstream (with --proxy-key).
    #[arg(long = "proxy-cert", value_name = "FILE", requires = "proxy_key")]
    proxy_cert: Option<PathBuf>,
    /// The PEM private key of --proxy-cert.
    #[arg(long = "proxy-key", value_name = "FILE", requires = "proxy_cert")]
    proxy_key: Option<PathBuf>,
    /// Do not check the upstream's certificate.
    #[arg(long = "proxy-insecure")]
    proxy_insecure: bool,
    /// The :authority sent upstream and the name its certificate must carry.
    #[arg(long = "proxy-authority", value_name = "HOST[:PORT]")]
    proxy_authority: Option<String>,
    /// Record every proxied exchange into FILE as a handlers file (added to what FILE
    /// holds; written on SIGHUP and at shutdown). `serve --handlers FILE` replays it.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// A reply header or trailer kept out of the recording (repeatable); authorization
    /// is always kept out.
    #[arg(long = "record-redact", value_name = "HEADER")]
    record_redact: Vec<String>,
}

impl ProxyArgs {
    /// The target flags `rmicro call` would have for `address`.
    fn target(
        &self,
        address: &str,
        registry: &RegistryArgs,
        max_message_size: usize,
    ) -> TargetArgs {
        let (address, service) = match address.strip_prefix("service:") {
            Some(name) => (None, Some(name.to_owned())),
            None => (Some(address.to_owned()), None),
        };
        TargetArgs {
            address,
            protocol: None,
            timeout: self.proxy_timeout,
            dial_timeout: self.proxy_dial_timeout,
            service,
            selector: SelectorArg::Random,
            registry: registry.clone(),
            tls: TlsArgs {
                cacert: self.proxy_cacert.clone(),
                cert: self.proxy_cert.clone(),
                key: self.proxy_key.clone(),
                insecure: self.proxy_insecure,
                authority: self.proxy_authority.clone(),
            },
            headers: Vec::new(),
            reflect_headers: Vec::new(),
            max_message_size,
        }
    }

    /// The upstream `address`, with retries and TLS as `rmicro call` has them; a
    /// `service:NAME` one follows the registry (`--proxy-refresh`).
    fn upstream(
        &self,
        address: &str,
        registry: &RegistryArgs,
        max_message_size: usize,
        recorder: Option<Arc<Recorder>>,
    ) -> anyhow::Result<Upstream> {
        let client = self.client(address, registry, max_message_size)?;
        let upstream = Upstream::new(client, address.to_owned(), recorder);
        let Some(name) = address.strip_prefix("service:") else {
            return Ok(upstream);
        };
        let target = self.target(address, registry, max_message_size);
        let options = self.call_options(&target);
        let name = name.to_owned();
        let lookup = move || -> LookupFuture {
            let (target, options, name) = (target.clone(), options.clone(), name.clone());
            Box::pin(async move {
                let services = target.registry()?.get_service(&name).await?;
                if services.is_empty() {
                    return Ok(None);
                }
                target
                    .client_for(Route::Registered(services), options)
                    .map(Some)
            })
        };
        Ok(upstream.following(Refresh {
            every: self.proxy_refresh,
            lookup: Box::new(lookup),
        }))
    }

    /// The clients the upstream's schema may be read through: one per node of a
    /// `service:NAME`, tried in turn.
    fn schema_clients(
        &self,
        address: &str,
        registry: &RegistryArgs,
        max_message_size: usize,
    ) -> anyhow::Result<Vec<(String, Client)>> {
        let target = self.target(address, registry, max_message_size);
        if address.starts_with("service:") {
            return Ok(target
                .node_clients()?
                .into_iter()
                .map(|(node, client)| {
                    let name = format!("node {} ({})", node.unwrap_or_default(), client.address());
                    (name, client)
                })
                .collect());
        }
        Ok(vec![(
            address.to_owned(),
            self.client(address, registry, max_message_size)?,
        )])
    }

    /// A client of `address`, with retries and TLS as `rmicro call` has them.
    fn client(
        &self,
        address: &str,
        registry: &RegistryArgs,
        max_message_size: usize,
    ) -> anyhow::Result<Client> {
        let target = self.target(address, registry, max_message_size);
        let route = target
            .route()?
            .context("a proxy address names the server")?;
        target.client_for(route, self.call_options(&target))
    }

    /// How upstream calls are made: with retries and TLS as `rmicro call` makes them, but
    /// `--proxy-timeout` bounds a stream's opening only (a stream lasts until its caller's
    /// deadline, without one for as long as its ends keep it open).
    fn call_options(&self, target: &TargetArgs) -> crate::client::CallOptions {
        crate::client::CallOptions {
            timeout_bounds_streams: false,
            ..target.call_options(self.proxy_retries, Backoff::Exponential)
        }
    }
}

/// Bounds each registry operation of the server (go-micro's etcd timeout).
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(5);

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        duration if duration.is_zero() => Err("must be more than 0".into()),
        duration => Ok(duration),
    }
}

fn parse_budget(text: &str) -> Result<usize, String> {
    match parse_size(text)? {
        0 => Err("the decode budget must be more than 0".into()),
        size => Ok(size),
    }
}

fn parse_metadata(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let open_files = raise_open_file_limit();
    // Accepting, signals, registration and reloads: connections are served on threads of
    // their own (`server::serve`).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let proxy = &args.proxy;
    let schema = match (args.schema.load()?, &proxy.upstream) {
        (Some(schema), Some(address)) if address.starts_with("service:") => {
            let target = proxy.target(address, &args.registry, args.max_message_size);
            check_streams(&runtime, &schema, &target);
            schema
        }
        (Some(schema), _) => schema,
        (None, Some(address)) => upstream_schema(
            &runtime,
            proxy.schema_clients(address, &args.registry, args.max_message_size)?,
            address,
        )?,
        (None, None) => Schema::from_pool(Default::default()),
    };
    if schema.is_empty() && !args.allow_empty {
        let problem = match (args.schema.sources().is_empty(), &proxy.upstream) {
            (true, None) => "no schema given".to_owned(),
            (true, Some(address)) => format!("{address} offers no service"),
            (false, _) => "the schema defines no service".to_owned(),
        };
        return Err(UsageError(format!(
            "nothing to serve: {problem}; pass --proto FILE or --descriptor-set FILE (--allow-empty serves only the Debug service)"
        ))
        .into());
    }
    let concurrency = args
        .exec_concurrency
        .map_or_else(ExecLimits::default_concurrency, |n| n as usize);
    let limits = ExecLimits::new(args.max_message_size, concurrency)
        .with_open_files(open_files)
        .with_reaper(crate::reaper::Reaper::of_this_executable());
    let mut redact = vec!["authorization".to_owned()];
    redact.extend(proxy.record_redact.iter().cloned());
    let recorder = proxy
        .record
        .as_deref()
        .map(|path| Recorder::open(path, &redact).map(Arc::new))
        .transpose()?;
    // Kept for reloads of the handlers file, whose proxy rules reuse the upstreams.
    let upstreams = Arc::new({
        let (proxy, registry) = (proxy.clone(), args.registry.clone());
        let recorder = recorder.clone();
        let size = args.max_message_size;
        let make = move |address: &str| -> anyhow::Result<Arc<Upstream>> {
            proxy
                .upstream(address, &registry, size, recorder.clone())
                .map(Arc::new)
        };
        Upstreams::new(make)
    });
    let fallback = proxy
        .upstream
        .as_deref()
        .map(|address| upstreams.get(address))
        .transpose()?;
    let rules = match &args.handlers {
        Some(path) => HandlerRules::load(path, &schema, &limits, &upstreams)?,
        None => HandlerRules::default(),
    };
    let name = args
        .name
        .clone()
        .or_else(|| schema.first_package().filter(|package| !package.is_empty()))
        .unwrap_or_else(|| "rmicro".into());
    let journal = Journal::new(args.journal_size, args.journal.as_deref())?;
    let router = Arc::new(Router::build(
        &schema,
        rules,
        RouterOptions {
            name: name.clone(),
            version: args.service_version.clone(),
            strict: args.strict,
            journal: Arc::new(journal),
            decode_budget: args.decode_budget,
            proxy: fallback,
        },
    )?);
    let endpoints = router.endpoints().count();
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            ServerFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.client_ca.clone(),
            }
            .config()?,
        ),
        _ => None,
    };
    let security = match (&tls, &args.client_ca) {
        (None, _) => "",
        (Some(_), None) => ", TLS",
        (Some(_), Some(_)) => ", mutual TLS",
    };
    let secure = tls.is_some();
    // Zero turns a timeout off, as in Go's http.Server.
    let limit = |timeout: Duration| Some(timeout).filter(|timeout| !timeout.is_zero());
    let options = ServerOptions {
        max_message_size: args.max_message_size,
        grace: args.grace,
        tls,
        timeouts: Timeouts {
            header: limit(args.header_timeout),
            body: limit(args.body_timeout),
            idle: limit(args.idle_timeout),
            write: limit(args.write_timeout),
        },
        cors: Arc::new(Cors::new(args.cors_origin.clone())),
        threads: crate::runtime::threads(args.threads),
        keepalive: Keepalive {
            interval: args.keepalive_time,
            timeout: args.keepalive_timeout,
        },
    };

    let registry = match args.no_register {
        true => None,
        false => Some(args.registry.registry(REGISTRY_TIMEOUT)?),
    };
    if args.register_ttl < Duration::from_secs(1) {
        return Err(UsageError("--register-ttl must be at least 1s".into()).into());
    }
    runtime.block_on(async {
        // Installed before anything is announced, so an early SIGTERM still drains and
        // deregisters instead of killing the process.
        let signals = ShutdownSignals::install()?;
        let saving = match &recorder {
            Some(recorder) => Some(tokio::spawn(save_on_hangup(recorder.clone(), signal(SignalKind::hangup())?))),
            None => None,
        };
        let listener = server::Listener::bind(&args.address).await?;
        let bound = listener.local_addr();
        let registration = match registry {
            None => None,
            Some(registry) => Some(Registration::new(
                registry,
                router.service_record(),
                match (&args.advertise, listener.tcp_addr()) {
                    (Some(advertise), _) => advertise.clone(),
                    (None, Some(bound)) => advertised_address(bound),
                    (None, None) => return Err(UsageError(format!("a server on {bound} can be registered only with --advertise ADDRESS, or not at all (--no-register)")).into()),
                },
                node_metadata(&args.metadata, secure),
                args.register_ttl,
            )?),
        };
        if let Some(path) = &args.handlers {
            let reload = Reload {
                schema,
                limits,
                upstreams,
            };
            tokio::spawn(watch_handlers(path.clone(), reload, router.clone()));
        }
        let registered = match &registration {
            Some(registration) => {
                let registered = registration.register().await;
                eprintln!(
                    "rmicro serve: node {} in {}",
                    registration.node_id(),
                    registration.describe()
                );
                registered
            }
            None => false,
        };
        eprintln!("rmicro serve: listening on {bound} (service {name}, {endpoints} endpoints, protocols: mucp, jsonrpc, grpc, connect, grpc-web{security})");
        if let Some(upstream) = &proxy.upstream {
            eprintln!("rmicro serve: endpoints without a rule go to {upstream}");
        }
        let shutdown = async {
            match &registration {
                Some(registration) => {
                    tokio::select! {
                        _ = signals.received() => {}
                        _ = registration.keep_registered(registered) => {}
                    }
                    registration.deregister().await;
                }
                None => signals.received().await,
            }
        };
        server::serve(listener, router, options, shutdown).await;
        if let (Some(recorder), Some(saving)) = (&recorder, saving) {
            saving.abort();
            save(recorder);
        }
        eprintln!("rmicro serve: stopped");
        Ok(())
    })
}

/// How often the handlers file is looked at for a change.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Reloads the handlers file when it changes (its modification time, size or contents)
/// and on SIGHUP. A file that does not load is refused with the error start-up would
/// give, and the rules serving go on.
/// What reloading the handlers file needs.
struct Reload {
    schema: Schema,
    limits: ExecLimits,
    upstreams: Arc<Upstreams<'static>>,
}

async fn watch_handlers(path: PathBuf, reload: Reload, router: Arc<Router>) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => Some(hangup),
        Err(error) => {
            tracing::warn!("cannot listen for SIGHUP: {error}");
            None
        }
    };
    let look = |path: &PathBuf| {
        let metadata = std::fs::metadata(path).ok();
        let stamp = metadata.map(|metadata| (metadata.modified().ok(), metadata.len()));
        (stamp, std::fs::read(path).ok())
    };
    let (mut stamp, mut contents) = look(&path);
    let mut ticks = tokio::time::interval(WATCH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let forced = tokio::select! {
            _ = ticks.tick() => false,
            _ = async {
                match &mut hangup {
                    Some(hangup) => hangup.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
        };
        let now = look(&path);
        if !forced && (now.0 == stamp || now.1 == contents) {
            stamp = now.0;
            continue;
        }
        stamp = now.0;
        contents = now.1;
        let loading = {
            let (path, schema, limits) =
                (path.clone(), reload.schema.clone(), reload.limits.clone());
            let upstreams = reload.upstreams.clone();
            tokio::task::spawn_blocking(move || {
                HandlerRules::load(&path, &schema, &limits, &upstreams)
            })
        };
        match loading.await {
            Ok(Ok(rules)) => {
                router.reload(rules);
                eprintln!("rmicro serve: handlers reloaded from {}", path.display());
            }
            Ok(Err(error)) => eprintln!(
                "rmicro serve: handlers not reloaded, the previous rules keep serving: {error:#}"
            ),
            Err(error) => tracing::warn!("the handlers reload failed: {error}"),
        }
    }
}

/// Writes the recording at every SIGHUP.
async fn save_on_hangup(recorder: Arc<Recorder>, mut hangup: Signal) {
    while hangup.recv().await.is_some() {
        save(&recorder);
    }
}

fn save(recorder: &Recorder) {
    match recorder.save() {
        Ok(count) => eprintln!(
            "rmicro serve: recorded {count} rule{} in {}",
            if count == 1 { "" } else { "s" },
            recorder.path().display()
        ),
        Err(error) => eprintln!("rmicro serve: {error:#}"),
    }
}

/// Warns of each endpoint that the upstream service's registry record registers as a go-micro
/// stream but the schema given has unary: the proxy would pass its calls on as plain
/// requests, which a go-micro stream handler never answers (spec §5). A registry that
/// cannot be read here warns of nothing.
fn check_streams(runtime: &tokio::runtime::Runtime, schema: &Schema, target: &TargetArgs) {
    let (Some(name), Ok(registry)) = (&target.service, target.registry()) else {
        return;
    };
    let Ok(services) = runtime.block_on(registry.get_service(name)) else {
        return;
    };
    let contradicted = services
        .iter()
        .flat_map(|service| service.rpc_endpoints())
        .filter(|endpoint| super::registered::schema_has_unary(schema, endpoint));
    for endpoint in contradicted {
        eprintln!(
            "rmicro serve: {} streams, says the registry record of {name}, but the schema given has it unary: its calls will go on as plain requests, which a go-micro stream handler never answers",
            endpoint.name
        );
    }
}

/// The upstream's schema, as `rmicro call` reads it: gRPC reflection, or Debug.Endpoints;
/// from the first of `clients` (a service's nodes) that gives it.
fn upstream_schema(
    runtime: &tokio::runtime::Runtime,
    clients: Vec<(String, Client)>,
    address: &str,
) -> anyhow::Result<Schema> {
    let mut failures = Vec::new();
    let mut without_debug = false;
    for (node, mut client) in clients {
        match runtime.block_on(client.fetch_endpoints(&Metadata::new(), None)) {
            Ok(Some((_, schema))) => {
                tracing::info!(
                    "the schema of {address}, from {node}: {} services",
                    schema.services().len()
                );
                return Ok(schema);
            }
            Ok(None) => without_debug = true,
            Err(error) => {
                tracing::warn!("cannot read the schema of {address} from {node}: {error}");
                failures.push(format!("{node}: {error}"));
            }
        }
    }
    if without_debug {
        // A go-micro service: its registry record names its endpoints and Go types, but
        // without field numbers no message could be passed on.
        return Err(UsageError(format!(
            "{address} has no Debug.Endpoints to read its schema from (a go-micro service? its registry record has names and Go types only): pass --proto or --descriptor-set"
        ))
        .into());
    }
    Err(anyhow::anyhow!(
        "cannot read the schema of the upstream {address}: {}",
        failures.join("; ")
    ))
}

/// Every connection holds a descriptor, and a soft limit of 1,024 is soon reached: it is
/// raised to the hard limit, as Go's runtime does at start-up. Returns the limits (soft,
/// hard) from before when it raised them: exec commands start with those, as Go's
/// os/exec gives children the original limit back.
fn raise_open_file_limit() -> Option<(libc::rlim_t, libc::rlim_t)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) and setrlimit(2) read and write the struct given, nothing else.
    let mut original = None;
    let raised = unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
            && limit.rlim_cur < limit.rlim_max
            && {
                original = Some((limit.rlim_cur, limit.rlim_max));
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0
            }
    };
    if raised {
        tracing::debug!("open-file limit raised to {}", limit.rlim_cur);
    }
    original.filter(|_| raised)
}

/// The user's node metadata, and go-micro's `secure=true` for a TLS server (callers then
/// use TLS).
fn node_metadata(given: &[(String, String)], secure: bool) -> BTreeMap<String, String> {
    let mut metadata: BTreeMap<String, String> = given.iter().cloned().collect();
    if secure {
        metadata.insert("secure".into(), "true".into());
    }
    metadata
}

/// SIGTERM and SIGINT, listened for from the moment they are installed.
struct ShutdownSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    async fn received(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        eprintln!("rmicro serve: shutting down, finishing in-flight requests");
    }
}
