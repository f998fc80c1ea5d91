//! The process edge: parse the command line, run it, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `COMPLETE=bash rmicro` prints the shell's registration; the shell then asks for
    // each completion the same way. Neither returns here.
    clap_complete::CompleteEnv::with_factory(rmicro::cli::command).complete();
    init_logging();
    let cli = rmicro::cli::Cli::parse();
    match rmicro::cli::run(cli) {
        Ok(()) => ExitCode::from(rmicro::exit_code::SUCCESS),
        Err(error) if is_broken_pipe(&error) => ExitCode::from(rmicro::exit_code::SUCCESS),
        Err(error) => {
            eprintln!("rmicro: {error:#}");
            ExitCode::from(rmicro::exit_code::for_error(&error))
        }
    }
}

/// Logs go to stderr at the level in `RMICRO_LOG` (default: warnings).
fn init_logging() {
    let level = std::env::var("RMICRO_LOG")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(tracing::Level::WARN);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .without_time()
        .init();
}

/// Like ripgrep, a closed stdout (`rmicro call … | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
