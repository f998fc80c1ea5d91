//! `rmicro health [--wait D]`: one `Debug.Health` call, or polling until the server
//! answers `ok` (for CI scripts), with a spinner on a terminal.

use super::args::{parse_duration, TargetArgs};
use super::inspect::{block_on, ignore, peer_error};
use crate::output;
use clap::Args;
use std::time::{Duration, Instant};

const POLL_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Args, Debug)]
pub struct HealthArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Keep trying until the server is healthy or this much time has passed.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    wait: Option<Duration>,
}

pub fn run(args: HealthArgs) -> anyhow::Result<()> {
    let mut client = args.target.client()?;
    let address = client.address().to_owned();
    let give_up = Instant::now() + args.wait.unwrap_or_default();
    let spinner = args
        .wait
        .and_then(|_| output::spinner(format!("waiting for {address}")));
    let status = block_on(async {
        loop {
            let result = client.call_debug("Debug.Health", &mut ignore).await;
            match result {
                Ok(reply) => {
                    return Ok(reply
                        .get_field_by_name("status")
                        .and_then(|value| value.as_str().map(str::to_owned))
                        .unwrap_or_default())
                }
                Err(error) if Instant::now() + POLL_INTERVAL >= give_up => {
                    return Err(peer_error(error, &address))
                }
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    });
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let status = status?;
    output::print_json(&serde_json::json!({ "status": status }), false)?;
    if status != "ok" {
        anyhow::bail!("{address} reports status {status:?}");
    }
    Ok(())
}
