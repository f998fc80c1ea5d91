//! `rmicro health [SERVICE]`: a gRPC server's `grpc.health.v1.Health/Check` (SERVICE is
//! the service asked about; none asks about the whole server), a mucp or JSON-RPC
//! server's `Debug.Health`; `--wait` polls until it is serving (for CI scripts), with a
//! spinner on a terminal. With `--service NAME` every node the registry has is checked
//! and shown as a node / address / status table, as `micro health` does; the exit code
//! is 0 only if every node is serving.

use super::args::{parse_duration, TargetArgs};
use super::inspect::{block_on, ignore, peer_error, ListFormat};
use crate::client::Client;
use crate::codec::Codec;
use crate::message::Metadata;
use crate::output;
use crate::protocol::grpc::builtin::{health_request, Health};
use crate::protocol::{CallError, CallHead};
use clap::Args;
use std::time::{Duration, Instant};

const POLL_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// gRPC: the service to ask about (the whole server when omitted).
    #[arg(
        value_name = "SERVICE",
        add = clap_complete::ArgValueCandidates::new(super::complete::grpc_services)
    )]
    checked: Option<String>,
    #[command(flatten)]
    target: TargetArgs,
    /// Keep trying until the server is healthy or this much time has passed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    wait: Option<Duration>,
    /// With --service: table (the default) or json.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ListFormat,
}

/// One server's answer: the status it reports, and whether that is healthy.
struct Checked {
    status: String,
    serving: bool,
}

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let mut nodes = args.target.node_clients()?;
    let checked = args.checked.as_deref().unwrap_or("");
    let give_up = Instant::now() + args.wait.unwrap_or_default();
    let spinner = args.wait.and_then(|_| {
        output::spinner(match nodes.as_slice() {
            [(None, client)] => format!("waiting for {}", client.address()),
            _ => format!("waiting for {} nodes", nodes.len()),
        })
    });
    let metadata = args.target.reflect_metadata()?;
    let results = block_on(async {
        let mut results = Vec::new();
        for (_, client) in &mut nodes {
            results.push(wait_for(client, checked, &metadata, give_up).await);
        }
        results
    });
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    if let [(None, client)] = nodes.as_slice() {
        // One server: its status as JSON, a failure as the call's error.
        let checked = results.into_iter().next().expect("one result");
        let checked = checked.map_err(|error| peer_error(error, client.address()))?;
        output::print_json(&serde_json::json!({ "status": checked.status }), false)?;
        if !checked.serving {
            anyhow::bail!("{} reports status {:?}", client.address(), checked.status);
        }
        return Ok(());
    }
    let rows: Vec<(String, String, String, bool)> = nodes
        .iter()
        .zip(results)
        .map(|((node, client), result)| {
            let (status, serving) = match result {
                Ok(checked) => (checked.status, checked.serving),
                Err(error) => (format!("error: {error}"), false),
            };
            let node = node.clone().unwrap_or_default();
            (node, client.address().to_owned(), status, serving)
        })
        .collect();
    let unhealthy = rows.iter().filter(|row| !row.3).count();
    if args.output == ListFormat::Json {
        for (node, address, status, serving) in &rows {
            let line = serde_json::json!({"node": node, "address": address, "status": status, "serving": serving});
            output::print_json(&line, false)?;
        }
    } else {
        let rows = rows
            .into_iter()
            .map(|(node, address, status, _)| vec![node, address, status])
            .collect();
        output::print_table(&["NODE", "ADDRESS", "STATUS"], rows)?;
    }
    if unhealthy > 0 {
        anyhow::bail!("{unhealthy} of {} nodes are not serving", nodes.len());
    }
    Ok(())
}

/// Checks until the server is serving or `give_up` has passed; the last answer.
async fn wait_for(
    client: &mut Client,
    checked: &str,
    metadata: &Metadata,
    give_up: Instant,
) -> Result<Checked, CallError> {
    loop {
        let result = check(client, checked, metadata).await;
        let serving = matches!(&result, Ok(checked) if checked.serving);
        if serving || Instant::now() + POLL_INTERVAL >= give_up {
            return result;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn check(
    client: &mut Client,
    checked: &str,
    metadata: &Metadata,
) -> Result<Checked, CallError> {
    if !client.protocol().is_grpc_family() {
        let reply = client.call_debug("Debug.Health", &mut ignore).await?;
        let status = reply
            .get_field_by_name("status")
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        let serving = status == "ok";
        return Ok(Checked { status, serving });
    }
    let head = CallHead {
        service: "",
        endpoint: "Health.Check",
        path: "/grpc.health.v1.Health/Check",
        codec: Codec::Protobuf,
        metadata,
        timeout: None,
    };
    let reply = client
        .call(&head, &health_request(checked), &mut ignore)
        .await?;
    let health = Health::decode(&reply.body).map_err(CallError::Transport)?;
    Ok(Checked {
        status: health.name().to_owned(),
        serving: health == Health::Serving,
    })
}
