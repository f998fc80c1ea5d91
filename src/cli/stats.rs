//! `rmicro stats`: a server's `Debug.Stats` (process figures, go-micro's shape) and, from
//! an rmicro server, `Debug.EndpointStats` (requests, errors and latency per endpoint,
//! and a proxied endpoint's upstream latency),
//! as a table or `--output json` (numbers as numbers).

use super::args::TargetArgs;
use super::inspect::{block_on, ignore, peer_error, ListFormat};
use crate::protocol::CallError;
use crate::{codec, output};
use clap::Args;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// table (the default) or json.
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: ListFormat,
}

pub fn run(args: StatsArgs) -> anyhow::Result<()> {
    let mut client = args.target.client(None)?;
    let address = client.address().to_owned();
    let (stats, own) = block_on(async {
        let stats = client.call_debug("Debug.Stats", &mut ignore).await?;
        // rmicro's own figures; a go-micro server has no such method, and shows only
        // what it reported.
        let own = match client.call_debug("Debug.EndpointStats", &mut ignore).await {
            Ok(message) => Some(message),
            Err(CallError::Status(_)) => None,
            Err(error) => return Err(error),
        };
        Ok((stats, own))
    })
    .map_err(|error| peer_error(error, &address))?;
    let as_json = |message: &prost_reflect::DynamicMessage| {
        codec::to_json_value_with_numbers(message)
            .map_err(|error| anyhow::anyhow!("cannot decode the reply: {error}"))
    };
    let mut stats = as_json(&stats)?;
    let own = own.as_ref().map(as_json).transpose()?;
    if let (Some(own), Some(object)) = (&own, stats.as_object_mut()) {
        for key in ["requests", "errors"] {
            object.insert(key.into(), own.get(key).cloned().unwrap_or(0.into()));
        }
        object.insert(
            "endpoints".into(),
            own.get("endpoints").cloned().unwrap_or_else(|| json!([])),
        );
    }
    if args.output == ListFormat::Json {
        return Ok(output::print_json(&stats, false)?);
    }
    let number = |value: &Value| value.as_u64().unwrap_or(0);
    let mut summary = vec![
        format!("uptime {}s", number(&stats["uptime"])),
        format!(
            "memory {:.1} MiB",
            number(&stats["memory"]) as f64 / 1048576.0
        ),
        format!("threads {}", number(&stats["threads"])),
    ];
    for key in ["requests", "errors"] {
        if own.is_some() || stats.get(key).is_some() {
            summary.push(format!("{key} {}", number(&stats[key])));
        }
    }
    output::print_raw(format!("{}\n", summary.join(", ")).as_bytes())?;
    let Some(endpoints) = stats["endpoints"].as_array() else {
        eprintln!("{address} reports no per-endpoint figures (it is not an rmicro server)");
        return Ok(());
    };
    let millis = |value: &Value| format!("{:.2}", value.as_f64().unwrap_or(0.0));
    let rows = endpoints
        .iter()
        .map(|endpoint| {
            vec![
                endpoint["endpoint"].as_str().unwrap_or_default().to_owned(),
                number(&endpoint["requests"]).to_string(),
                number(&endpoint["errors"]).to_string(),
                millis(&endpoint["meanMs"]),
                millis(&endpoint["p50Ms"]),
                millis(&endpoint["p99Ms"]),
                millis(&endpoint["maxMs"]),
                // A proxied endpoint's upstream share of its time.
                match endpoint.get("upstream") {
                    Some(upstream) => millis(&upstream["p50Ms"]),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    output::print_table(
        &[
            "ENDPOINT",
            "REQUESTS",
            "ERRORS",
            "MEAN MS",
            "P50 MS",
            "P99 MS",
            "MAX MS",
            "UPSTREAM P50 MS",
        ],
        rows,
    )?;
    Ok(())
}
