//! `rmicro completions SHELL`: shell completion scripts from the clap definition.

use clap::Args;
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish or powershell.
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> anyhow::Result<()> {
    crate::output::print_raw(crate::completions::render(args.shell).as_bytes())?;
    Ok(())
}
