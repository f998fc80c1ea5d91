//! `rmicro serve`: load the schema and handlers, build the router, bind, print the bound
//! address on stderr, serve until SIGINT/SIGTERM, drain, exit 0.

use super::args::{parse_duration, parse_size, SchemaArgs};
use crate::handler::{HandlerRules, Router, RouterOptions};
use crate::schema::Schema;
use crate::server::{self, ServerOptions};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    schema: SchemaArgs,
    /// Handlers file: JSON rules per endpoint (reply, match, error, delay, sequence, exec).
    #[arg(long, value_name = "FILE")]
    handlers: Option<PathBuf>,
    /// Answer endpoints without a handler with Unimplemented instead of an empty reply.
    #[arg(long)]
    strict: bool,
    /// Address to listen on; port 0 picks a free port.
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
    /// Largest request body accepted (e.g. 4MiB).
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse_size)]
    max_message_size: usize,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    grace: Duration,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let schema = args
        .schema
        .load()?
        .unwrap_or_else(|| Schema::from_pool(Default::default()));
    if schema.is_empty() {
        tracing::warn!("the schema has no services; serving only the Debug service");
    }
    let rules = match &args.handlers {
        Some(path) => HandlerRules::load(path, &schema)?,
        None => HandlerRules::default(),
    };
    let name = args
        .name
        .clone()
        .or_else(|| schema.first_package().filter(|package| !package.is_empty()))
        .unwrap_or_else(|| "rmicro".into());
    let router = Router::build(
        &schema,
        rules,
        RouterOptions {
            name: name.clone(),
            version: args.service_version.clone(),
            strict: args.strict,
        },
    )?;
    let endpoints = router.endpoints().count();
    let options = ServerOptions {
        max_message_size: args.max_message_size,
        grace: args.grace,
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.address).await.with_context(|| format!("cannot listen on {}", args.address))?;
        let bound = listener.local_addr()?;
        eprintln!("rmicro serve: listening on {bound} (service {name}, {endpoints} endpoints, protocols: mucp, jsonrpc)");
        server::serve(listener, Arc::new(router), options, shutdown_signal()).await;
        eprintln!("rmicro serve: stopped");
        Ok(())
    })
}

async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    eprintln!("rmicro serve: shutting down, finishing in-flight requests");
}
