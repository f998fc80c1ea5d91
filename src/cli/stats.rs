//! `rmicro stats`: a server's `Debug.Stats` — process figures and per-endpoint requests,
//! errors and latency — as a table or `--output json`.

use super::args::TargetArgs;
use super::inspect::{call_debug, ListFormat};
use crate::{codec, output};
use clap::Args;

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
    let stats = codec::to_json_value(&call_debug(&mut client, "Debug.Stats")?)
        .map_err(|error| anyhow::anyhow!("cannot decode the reply: {error}"))?;
    if args.output == ListFormat::Json {
        return Ok(output::print_json(&stats, false)?);
    }
    let number = |value: &serde_json::Value| {
        value
            .as_str()
            .map(str::to_owned)
            .or_else(|| value.as_u64().map(|n| n.to_string()))
            .unwrap_or_else(|| "0".into())
    };
    let millis = |value: &serde_json::Value| format!("{:.2}", value.as_f64().unwrap_or(0.0));
    println!(
        "uptime {}s, memory {:.1} MiB, threads {}, requests {}, errors {}",
        number(&stats["uptime"]),
        number(&stats["memory"]).parse::<f64>().unwrap_or(0.0) / 1048576.0,
        number(&stats["threads"]),
        number(&stats["requests"]),
        number(&stats["errors"]),
    );
    let rows = stats["endpoints"]
        .as_array()
        .map(|endpoints| {
            endpoints
                .iter()
                .map(|endpoint| {
                    vec![
                        endpoint["endpoint"].as_str().unwrap_or_default().to_owned(),
                        number(&endpoint["requests"]),
                        number(&endpoint["errors"]),
                        millis(&endpoint["meanMs"]),
                        millis(&endpoint["p50Ms"]),
                        millis(&endpoint["p99Ms"]),
                        millis(&endpoint["maxMs"]),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    output::print_table(
        &[
            "ENDPOINT", "REQUESTS", "ERRORS", "MEAN MS", "P50 MS", "P99 MS", "MAX MS",
        ],
        rows,
    )?;
    Ok(())
}
