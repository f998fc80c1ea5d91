//! `rmicro serve`: load the schema and handlers, build the router, bind, print the bound
//! address on stderr, serve until SIGINT/SIGTERM, drain, exit 0. While serving, the
//! handlers file is watched (and re-read on SIGHUP): a valid new file takes over, a
//! broken one is refused with its error logged and the old rules keep serving.

use super::args::{parse_duration, parse_size, RegistryArgs, SchemaArgs};
use crate::exit_code::UsageError;
use crate::handler::{
    ExecLimits, HandlerRules, Journal, Router, RouterOptions, DEFAULT_JOURNAL_SIZE,
};
use crate::protocol::cors::Cors;
use crate::protocol::grpc::server::Keepalive;
use crate::protocol::tls::ServerFiles;
use crate::protocol::Timeouts;
use crate::registration::{advertised_address, Registration};
use crate::schema::Schema;
use crate::server::{self, ServerOptions};
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
    let schema = args
        .schema
        .load()?
        .unwrap_or_else(|| Schema::from_pool(Default::default()));
    if schema.is_empty() && !args.allow_empty {
        let problem = match args.schema.sources().is_empty() {
            true => "no schema given".to_owned(),
            false => "the schema defines no service".to_owned(),
        };
        return Err(UsageError(format!(
            "nothing to serve: {problem}; pass --proto FILE or --descriptor-set FILE (--allow-empty serves only the Debug service)"
        ))
        .into());
    }
    let concurrency = args
        .exec_concurrency
        .map_or_else(ExecLimits::default_concurrency, |n| n as usize);
    let limits = ExecLimits::new(args.max_message_size, concurrency).with_open_files(open_files);
    let rules = match &args.handlers {
        Some(path) => HandlerRules::load(path, &schema, &limits)?,
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
        keepalive: Keepalive {
            interval: args.keepalive_time,
            timeout: args.keepalive_timeout,
        },
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
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
            tokio::spawn(watch_handlers(path.clone(), schema, limits, router.clone()));
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
        eprintln!("rmicro serve: stopped");
        Ok(())
    })
}

/// How often the handlers file is looked at for a change.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

/// Reloads the handlers file when it changes (its modification time, size or contents)
/// and on SIGHUP. A file that does not load is refused with the error start-up would
/// give, and the rules serving go on.
async fn watch_handlers(path: PathBuf, schema: Schema, limits: ExecLimits, router: Arc<Router>) {
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
            let (path, schema, limits) = (path.clone(), schema.clone(), limits.clone());
            tokio::task::spawn_blocking(move || HandlerRules::load(&path, &schema, &limits))
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
