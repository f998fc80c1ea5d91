//! The command line: one file per subcommand turns its clap arguments into a plan and
//! runs it. Nothing below this layer sees clap or the terminal.

mod args;
mod batch;
mod bench;
mod call;
mod complete;
mod completions;
mod describe;
mod health;
mod help;
mod inspect;
mod journal;
mod list;
mod registered;
mod reply;
mod serve;
mod stats;
mod stream;
mod verify;

use clap::{Parser, Subcommand};

/// Call, serve and inspect go-micro and gRPC services.
#[derive(Parser, Debug)]
#[command(name = "rmicro", version, about, propagate_version = false)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the services of a schema, answered by the rules of a handlers file.
    #[command(after_help = help::SERVE)]
    Serve(serve::ServeArgs),
    /// Call one endpoint and print the reply as JSON.
    #[command(after_help = help::CALL)]
    Call(call::CallArgs),
    /// List a server's endpoints (or a local schema's).
    #[command(after_help = help::LIST)]
    List(list::ListArgs),
    /// Load-test an endpoint: calls in flight, a rate, a report with latency percentiles, thresholds for CI.
    #[command(after_help = help::BENCH)]
    Bench(bench::BenchArgs),
    /// Show the request and response layouts of an endpoint or message.
    #[command(after_help = help::DESCRIBE)]
    Describe(describe::DescribeArgs),
    /// Check a server's Debug.Health, optionally waiting until it answers.
    #[command(after_help = help::HEALTH)]
    Health(health::HealthArgs),
    /// Show a server's request statistics (Debug.Stats).
    #[command(after_help = help::STATS)]
    Stats(stats::StatsArgs),
    /// Show the calls a `rmicro serve` received (its request journal), or clear them.
    #[command(after_help = help::JOURNAL)]
    Journal(journal::JournalArgs),
    /// Check that a `rmicro serve` received the calls expected: exit 0 if so, 1 if not.
    #[command(after_help = help::VERIFY)]
    Verify(verify::VerifyArgs),
    /// Print a shell completion script.
    #[command(after_help = help::COMPLETIONS)]
    Completions(completions::CompletionsArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Call(args) => call::run(args),
        Command::List(args) => list::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Describe(args) => describe::run(args),
        Command::Health(args) => health::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Journal(args) => journal::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Completions(args) => completions::run(args),
    }
}

/// The clap command, for completion scripts.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
