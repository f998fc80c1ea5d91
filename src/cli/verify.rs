//! `rmicro verify`: whether a `rmicro serve`'s journal holds the calls a test expects —
//! of ENDPOINT, matching `--match` (a handlers file's match object, operators too),
//! exactly `--count` of them or `--at-least` (one by default). Exits 0 when it does and
//! 1 otherwise, printing the nearest calls the server did see.

use super::args::TargetArgs;
use super::journal;
use anyhow::bail;
use clap::Args;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The endpoint (Service.Method).
    endpoint: String,
    /// Only calls whose request matches this JSON object (as a rule's "match").
    #[arg(long = "match", value_name = "JSON")]
    matcher: Option<String>,
    /// Exactly N matching calls.
    #[arg(long, value_name = "N", conflicts_with = "at_least")]
    count: Option<usize>,
    /// At least N matching calls [default: 1].
    #[arg(long, value_name = "N")]
    at_least: Option<usize>,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let mut client = args.target.client(None)?;
    let found = journal::fetch(
        &mut client,
        Some(&args.endpoint),
        args.matcher.as_deref(),
        false,
    )?;
    let seen = found.requests.len();
    let (agrees, wanted) = match (args.count, args.at_least) {
        (Some(count), _) => (seen == count, format!("exactly {count}")),
        (None, at_least) => {
            let at_least = at_least.unwrap_or(1);
            (seen >= at_least, format!("at least {at_least}"))
        }
    };
    let what = match &args.matcher {
        Some(matcher) => format!("{} calls matching {matcher}", args.endpoint),
        None => format!("{} calls", args.endpoint),
    };
    if agrees {
        crate::output::print_raw(format!("ok: {seen} {what} (wanted {wanted})\n").as_bytes())?;
        return Ok(());
    }
    eprintln!("rmicro verify: {seen} {what}, wanted {wanted}");
    // What did come: the endpoint's calls that did not match, or else the latest of any.
    let nearest = found.nearest;
    if nearest.is_empty() {
        eprintln!("rmicro verify: the journal holds no other calls");
    } else {
        eprintln!("rmicro verify: the nearest calls the server saw:");
        for entry in &nearest {
            eprintln!("{entry}");
        }
    }
    bail!("the journal does not agree")
}
