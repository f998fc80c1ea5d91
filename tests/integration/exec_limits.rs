//! Bounds on exec handlers (issue: hardening, "exec without bounds"): what a handler
//! prints is capped at `--max-message-size` (the reply, or each line of a stream), and a
//! handler's whole process group dies with its call, after a successful reply too. The handlers are
//! `tests/fixtures/exec_bounds.sh`, which records each run in a directory.

use crate::support::{
    assert_exit, assert_stderr_has, fixture, group_is_gone, json, peak_rss_kib, root, run,
    wait_until, write_temp, Server,
};

/// A server of the interop echo schema whose endpoints run `exec_bounds.sh MODE DIR ARG`,
/// one `(endpoint, mode, arg, extra rule fields)` each; its directory holds the records.
struct ExecServer {
    server: Server,
    dir: tempfile::TempDir,
}

impl ExecServer {
    fn start(rules: &[(&str, &str, &str, &str)], flags: &[&str]) -> ExecServer {
        let dir = tempfile::tempdir().unwrap();
        let script = fixture("exec_bounds.sh");
        let records = dir.path().join("runs");
        std::fs::create_dir(&records).unwrap();
        let records = records.to_string_lossy();
        let rules: Vec<String> = rules
            .iter()
            .map(|(endpoint, mode, arg, extra)| {
                format!(r#""{endpoint}": {{"exec": ["{script}", "{mode}", "{records}", "{arg}"], "timeout": "60s"{extra}}}"#)
            })
            .collect();
        let handlers = write_temp(
            dir.path(),
            "handlers.json",
            format!("{{{}}}", rules.join(",\n")).as_bytes(),
        );
        let proto = root().join("interop/grpc/echo.proto");
        let mut args = vec![
            "--proto",
            proto.to_str().unwrap(),
            "--handlers",
            &handlers,
            "--no-register",
        ];
        args.extend(flags);
        ExecServer {
            server: Server::start(&args),
            dir,
        }
    }

    /// The process groups of the runs started so far (each run's shell leads one).
    fn started(&self) -> Vec<i32> {
        let mut groups: Vec<i32> = std::fs::read_dir(self.dir.path().join("runs"))
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_prefix("start.")?.parse().ok()
            })
            .collect();
        groups.sort();
        groups
    }

    /// Waits for run number `n` (counted from 1) to start; returns its process group.
    fn nth_run(&self, n: usize) -> i32 {
        wait_until(&format!("exec run {n} to start"), || {
            self.started().len() >= n
        });
        let started = self.started();
        assert_eq!(started.len(), n, "more runs than calls: {started:?}");
        *started.iter().max().unwrap()
    }

    /// Waits until every process of `group` has gone (the handler and its grandchildren).
    #[track_caller]
    fn assert_group_dies(&self, group: i32, after: &str) {
        wait_until(
            &format!("exec process group {group} to die {after}"),
            || group_is_gone(group),
        );
    }
}

#[test]
fn a_handler_printing_past_the_message_size_is_killed_and_the_caller_told() {
    // Each handler prints 200 MB: the server holds at most 64 KiB of it.
    const PRINTED: &str = "200000000";
    let server = ExecServer::start(
        &[
            ("Echo.Say", "flood", PRINTED, ""),
            ("Echo.Count", "long-line", PRINTED, ""),
            ("Echo.Collect", "stderr-flood", PRINTED, ""),
        ],
        &["--max-message-size", "64KiB"],
    );
    let mucp = server.server.address.as_str();
    let grpc = format!("grpc://{mucp}");
    let cases: &[(&[&str], i32, &str)] = &[
        // A unary reply over mucp and over gRPC: ResourceExhausted (exit 64 + 8).
        (
            &["call", "-a", mucp, "Echo.Say", "{}"],
            72,
            "more than 65536 bytes",
        ),
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Say", "{}"],
            72,
            "more than 65536 bytes",
        ),
        // One line of a stream.
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Count", "{}"],
            72,
            "a line longer than 65536 bytes",
        ),
        // stderr is not a reply: only its tail is kept, for the Internal error it makes.
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Collect", "-d", "@-"],
            77,
            "exited with status 1: eee",
        ),
    ];
    for (n, (args, code, words)) in cases.iter().enumerate() {
        let output = run(args);
        assert_exit(&output, *code);
        assert_stderr_has(&output, words);
        if *code == 72 {
            assert_stderr_has(&output, "--max-message-size");
        }
        let group = server.nth_run(n + 1);
        server.assert_group_dies(group, "after its call");
    }
    // Unbounded, each call costs 200 MB or more; bounded, a few MB. The margin is wide.
    let peak = peak_rss_kib(server.server.pid());
    assert!(peak < 100 * 1024, "the server's peak RSS is {peak} KiB");
    // And it still serves.
    let output = server.server.run(&["call", "Debug.Health", "{}"]);
    assert_exit(&output, 0);
}

#[test]
fn a_successful_calls_leftover_grandchildren_are_killed() {
    let server = ExecServer::start(&[("Echo.Say", "leftover", "", "")], &[]);
    // One grandchild holds stdout open: the reply is what was printed when the handler
    // exited, without waiting for it.
    let output = server
        .server
        .run(&["call", "Echo.Say", "{}", "--timeout", "20s"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["text"], "done");
    let group = server.nth_run(1);
    server.assert_group_dies(group, "after its handler replied and exited");
}
