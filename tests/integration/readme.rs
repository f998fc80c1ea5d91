//! README.md's examples, run as the README shows them, so that the manual cannot go stale.
//!
//! How an example is picked up — to add one, write it this way in any section:
//! - Every fenced block tagged `console` in README.md is run, top to bottom, blocks in
//!   order (blocks tagged `sh`, `json` or anything else are not run: use `sh` for
//!   commands that must not run inside `cargo test` — benchmarks, installs, anything
//!   slow or needing more than the quick start). A console block is a list
//!   of commands, each on a line starting with `$ ` (a line ending in `\` continues on
//!   the next), run with `bash -c` in a temporary directory holding a link to the
//!   checkout's `proto-samples/` (so `proto-samples/job.proto` works as from the checkout,
//!   and files an example writes land in the temporary directory).
//! - The lines after a command, up to the next `$ ` line, blank line or `#` line, are
//!   its output: what it prints, stdout then stderr, compared line by line (trailing
//!   spaces aside). A command shown without output must only succeed.
//! - A command exits 0, unless its trailing comment says `# exit N` (e.g. `# exit 69`).
//! - `export NAME=VALUE` sets NAME for every later command.
//! - A command ending in ` &` is a server: it is started in the background, the run
//!   waits until it prints `listening on` on stderr (as `rmicro serve` does), and it is
//!   killed when the run ends.
//! - `cargo install --path .` is not run: the `rmicro` this test binary was built with
//!   is put first on PATH instead.
//!
//! Which servers the examples run against: the quick start's block starts them, before
//! every other example — the Job sample (mucp, gRPC, JSON-RPC and Connect) on
//! 127.0.0.1:8080, the Echo sample (gRPC streams) on 127.0.0.1:8081 and the Arith sample
//! (Go's net/rpc JSON-RPC example) on 127.0.0.1:1234. A section may start servers of its
//! own the same way (`$ rmicro serve … &`). Every `127.0.0.1:PORT` in the examples is
//! replaced by a free port (the same one for the same PORT, in commands and output
//! alike), so the run never meets another program's port; the embedded registry is a
//! directory of the run's own, and HOME a temporary directory.

use crate::support::root;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One `$ ` command of a console block.
#[derive(Debug)]
struct Example {
    /// README.md's line number, for the failure message.
    line: usize,
    command: String,
    output: Vec<String>,
    exit: i32,
}

/// The console blocks of `readme`, as examples.
fn examples(readme: &str) -> Vec<Example> {
    let mut examples: Vec<Example> = Vec::new();
    let mut in_console = false;
    let mut in_other = false;
    let mut taking_output = false;
    let mut lines = readme.lines().enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim_end();
        if let Some(tag) = trimmed.strip_prefix("```") {
            if in_console || in_other {
                (in_console, in_other) = (false, false);
            } else if tag.trim() == "console" {
                in_console = true;
            } else {
                in_other = true;
            }
            taking_output = false;
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(command) = trimmed.strip_prefix("$ ") {
            let mut command = command.to_owned();
            while command.ends_with('\\') {
                command.pop();
                match lines.next() {
                    Some((_, next)) => command.push_str(next.trim_end()),
                    None => break,
                }
            }
            let exit = expected_exit(&command);
            examples.push(Example {
                line: index + 1,
                command,
                output: Vec::new(),
                exit,
            });
            taking_output = true;
        } else if trimmed.is_empty() || trimmed.starts_with('#') {
            taking_output = false;
        } else if taking_output {
            if let Some(example) = examples.last_mut() {
                example.output.push(trimmed.to_owned());
            }
        }
    }
    examples
}

/// `# exit N` in a command's trailing comment.
fn expected_exit(command: &str) -> i32 {
    command
        .split_once(" #")
        .and_then(|(_, comment)| {
            let words: Vec<&str> = comment.split_whitespace().collect();
            words
                .windows(2)
                .find(|pair| pair[0] == "exit")
                .and_then(|pair| pair[1].trim_end_matches([',', ';', ')']).parse().ok())
        })
        .unwrap_or(0)
}

/// Every `127.0.0.1:PORT` of the examples, mapped to a free port.
fn free_ports(examples: &[Example]) -> BTreeMap<String, String> {
    let mut ports = BTreeMap::new();
    for example in examples {
        for text in std::iter::once(&example.command).chain(&example.output) {
            for (at, _) in text.match_indices("127.0.0.1:") {
                let digits: String = text[at + 10..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if digits.is_empty() || digits == "0" || ports.contains_key(&digits) {
                    continue;
                }
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port().to_string();
                ports.insert(digits, port);
            }
        }
    }
    ports
}

fn with_ports(text: &str, ports: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at + 10]);
        rest = &rest[at + 10..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        out.push_str(ports.get(&digits).unwrap_or(&digits));
        rest = &rest[digits.len()..];
    }
    out.push_str(rest);
    out
}

/// The servers the examples started, killed (their process groups) when the run ends.
struct Background(Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        for child in &mut self.0 {
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
        }
    }
}

#[test]
fn every_readme_example_runs_as_shown() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let examples = examples(&readme);
    assert!(
        examples.len() >= 20,
        "README.md has only {} console examples",
        examples.len()
    );
    let ports = free_ports(&examples);
    let work = tempfile::tempdir().unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_rmicro"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("HOME".into(), work.path().display().to_string()),
        (
            "RMICRO_REGISTRY".into(),
            format!("file://{}/registry", work.path().display()),
        ),
        ("NO_COLOR".into(), "1".into()),
    ];
    std::os::unix::fs::symlink(
        root().join("proto-samples"),
        work.path().join("proto-samples"),
    )
    .unwrap();
    let mut background = Background(Vec::new());
    let mut failures = Vec::new();
    for example in &examples {
        let command = with_ports(&example.command, &ports);
        let shell = command.split(" #").next().unwrap_or(&command).trim();
        if shell == "cargo install --path ." {
            continue;
        }
        if let Some(assignment) = shell.strip_prefix("export ") {
            let (name, value) = assignment
                .split_once('=')
                .unwrap_or_else(|| panic!("README.md:{}: export NAME=VALUE", example.line));
            env.push((name.to_owned(), value.trim_matches(['"', '\'']).to_owned()));
            continue;
        }
        let mut process = Command::new("bash");
        process
            .env_clear()
            .envs(env.iter().map(|(name, value)| (name, value)))
            .current_dir(work.path());
        if let Some(server) = shell.strip_suffix('&') {
            let mut child = process
                .args(["-c", &format!("exec {server}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stderr.take().unwrap());
            let started = Instant::now();
            let mut seen = String::new();
            while !seen.contains("listening on") {
                let mut line = String::new();
                if lines.read_line(&mut line).unwrap_or(0) == 0
                    || started.elapsed() > Duration::from_secs(20)
                {
                    panic!(
                        "README.md:{}: `{shell}` did not start: {seen}",
                        example.line
                    );
                }
                seen.push_str(&line);
            }
            // Keep reading its stderr so that it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines.lines() {});
            background.0.push(child);
            continue;
        }
        let output = process
            .args(["-c", shell])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let printed: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&output.stderr).lines())
            .map(|line| line.trim_end().to_owned())
            .collect();
        let wanted: Vec<String> = example
            .output
            .iter()
            .map(|line| with_ports(line, &ports))
            .collect();
        let exit = output.status.code().unwrap_or(-1);
        if exit != example.exit || (!wanted.is_empty() && printed != wanted) {
            failures.push(format!(
                "README.md:{}: $ {shell}\n  exit {exit} (README: {})\n  printed:\n    {}\n  README shows:\n    {}",
                example.line,
                example.exit,
                printed.join("\n    "),
                wanted.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} README examples do not run as shown (ports: {ports:?}):\n\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n\n")
    );
}

#[test]
fn examples_are_read_as_documented() {
    let readme = "text\n```sh\n$ not run\n```\n```console\n$ rmicro a \\\n  b   # exit 69\nline one\nline two\n\n$ c\n# comment\nnot output\n```\n";
    let examples = examples(readme);
    assert_eq!(examples.len(), 2, "{examples:?}");
    assert_eq!(examples[0].command, "rmicro a   b   # exit 69");
    assert_eq!(examples[0].exit, 69);
    assert_eq!(examples[0].output, ["line one", "line two"]);
    assert_eq!((examples[1].exit, examples[1].output.len()), (0, 0));
    let ports = BTreeMap::from([("8080".to_owned(), "5555".to_owned())]);
    assert_eq!(
        with_ports("a 127.0.0.1:8080/x 127.0.0.1:0", &ports),
        "a 127.0.0.1:5555/x 127.0.0.1:0"
    );
}
