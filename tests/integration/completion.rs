//! Dynamic completion of names through a real bash: the script `COMPLETE=bash rmicro`
//! prints is sourced and its completion function called as bash calls it on TAB, for
//! endpoints from the schema flags on the line, from the server `-a` names, and service
//! names from the registry. (fish and zsh go through the same completer in rmicro.)

use crate::support::*;

/// COMPREPLY for the words of `line`, the last one being completed, with `env`.
fn complete(line: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let quoted: Vec<String> = line.iter().map(|word| format!("'{word}'")).collect();
    let script = format!(
        r#"source <(COMPLETE=bash "$RMICRO_BIN")
COMP_WORDS=({words})
COMP_CWORD={index}
COMP_TYPE=9
_clap_complete_rmicro rmicro "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        words = quoted.join(" "),
        index = line.len() - 1
    );
    let bin = env!("CARGO_BIN_EXE_rmicro");
    let dir = std::path::Path::new(bin).parent().unwrap();
    let command = rmicro();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = std::process::Command::new("bash");
    bash.env_clear()
        .env("PATH", path)
        .env("RMICRO_BIN", bin)
        .current_dir(root())
        .args(["-c", &script]);
    for (name, value) in env {
        bash.env(name, value);
    }
    // The test run's own registry, as `rmicro()` gives every other test.
    for (name, value) in command.get_envs() {
        if name == "RMICRO_REGISTRY" {
            bash.env(name, value.unwrap());
        }
    }
    let output = bash.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn endpoints_complete_from_the_schema_flags_on_the_line() {
    let proto = sample("job.proto");
    let got = complete(&["rmicro", "call", "--proto", &proto, "Job.C"], &[]);
    assert_eq!(got, ["Job.ChangeJob", "Job.CreateJob"]);
    let shop = sample("shop.proto");
    let got = complete(&["rmicro", "describe", "--proto", &shop, "shop.Orde"], &[]);
    assert!(got.contains(&"shop.Order".to_owned()), "{got:?}");
}

#[test]
fn endpoints_complete_from_the_server_and_services_from_the_registry() {
    let server = Server::job(&["--name", "jobcompletion"]);
    let got = complete(&["rmicro", "call", "-a", &server.address, "Job.D"], &[]);
    assert_eq!(got, ["Job.DeleteJob"]);
    let grpc = format!("grpc://{}", server.address);
    let got = complete(&["rmicro", "call", "-a", &grpc, "job.Job/G"], &[]);
    assert_eq!(got, ["job.Job/GetJob"]);
    let got = complete(&["rmicro", "call", "--service", "jobcompl"], &[]);
    assert_eq!(got, ["jobcompletion"]);
    let got = complete(&["rmicro", "list", "jobcompl"], &[]);
    assert_eq!(got, ["jobcompletion"]);
}

/// zsh and fish ask through the same entry point, with their own conventions (zsh an
/// index, fish the words up to the cursor); the names come back one a line.
#[test]
fn zsh_and_fish_get_the_same_names() {
    let shop = sample("shop.proto");
    let words = ["--", "rmicro", "describe", "--proto", &shop, "shop.Orde"];
    for (shell, index) in [("zsh", Some("4")), ("fish", None)] {
        let mut command = rmicro();
        command.env("COMPLETE", shell).args(words);
        if let Some(index) = index {
            command.env("_CLAP_COMPLETE_INDEX", index);
        }
        let output = command.output().unwrap();
        assert_exit(&output, 0);
        let printed = stdout(&output);
        // zsh's lines may carry a `:description`; fish's a tab and one.
        let names: Vec<&str> = printed
            .lines()
            .map(|line| line.split([':', '\t']).next().unwrap_or(line).trim())
            .collect();
        assert!(names.contains(&"shop.Order"), "{shell}: {names:?}");
        assert!(
            names.iter().all(|name| name.starts_with("shop.Orde")),
            "{shell}: {names:?}"
        );
    }
}
