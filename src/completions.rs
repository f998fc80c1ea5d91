//! Completion scripts, rendered from the clap definition; the committed copies under
//! `completions/` are checked against these by a test.

use clap_complete::Shell;

pub fn render(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::command(), "rmicro", &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}

/// The file name a shell's script is committed under.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "rmicro.bash",
        Shell::Zsh => "_rmicro",
        Shell::Fish => "rmicro.fish",
        Shell::PowerShell => "_rmicro.ps1",
        Shell::Elvish => "rmicro.elv",
        _ => "rmicro.completion",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails when `completions/` is stale; `RMICRO_REGENERATE=1 cargo test completions` refreshes it.
    #[test]
    fn committed_completions_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell] {
            let path = dir.join(file_name(shell));
            let fresh = render(shell);
            if std::env::var_os("RMICRO_REGENERATE").is_some() {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &fresh).unwrap();
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == fresh,
                "{} is stale: run `RMICRO_REGENERATE=1 cargo test completions` and commit the result",
                path.display()
            );
        }
    }
}
