//! Which failures `rmicro call` retries over gRPC, counted on both sides (the attempts
//! `-v` shows and the requests the server's `Debug.Stats` saw): a unary call on
//! Unavailable and on the codes named with `--retry-on`, and on nothing else; a stream
//! only while connecting — never once its first message was sent, even on a status
//! `--retry-on` names, and whether or not a reply came first.

use crate::support::{
    assert_exit, assert_stderr_has, fixture, json, root, run, run_in_registry, stderr, stdout,
    write_temp, Server,
};

/// A server of `proto` whose handlers file is `handlers`, kept in a directory of its own.
fn serve(proto: &str, handlers: &str, extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "handlers.json", handlers.as_bytes());
    let args = [&["--proto", proto, "--handlers", &path], extra].concat();
    (dir, Server::start(&args))
}

/// The requests `Debug.Stats` counted for `endpoint` (asked over mucp, which every
/// protocol's calls are counted with).
fn requests_seen(server: &Server, endpoint: &str) -> u64 {
    let stats = json(&server.run(&["stats", "-o", "json"]));
    let found = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no {endpoint} in {stats}"));
    found["requests"].as_u64().unwrap()
}

/// The `> attempt` lines of a `-v` call.
fn attempts(output: &std::process::Output) -> Vec<String> {
    stderr(output)
        .lines()
        .filter(|line| line.starts_with("> attempt"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_unary_call_is_retried_on_unavailable_and_the_retry_on_codes_only() {
    // (the first answer's status, --retry-on, the exit code, the attempts made)
    let cases: [(&str, Option<&str>, i32, u64); 5] = [
        ("NOT_FOUND", Some("NOT_FOUND"), 0, 2),
        ("NOT_FOUND", Some("DEADLINE_EXCEEDED,NOT_FOUND"), 0, 2),
        ("NOT_FOUND", None, 64 + 5, 1),
        ("NOT_FOUND", Some("ABORTED"), 64 + 5, 1),
        ("UNAVAILABLE", None, 0, 2),
    ];
    let proto = fixture("greeter.proto");
    for (status, retry_on, code, expected) in cases {
        let handlers = format!(
            r#"{{"Greeter.Hello": {{"sequence": [{{"error": {{"status": "{status}", "detail": "not yet"}}}}, {{"reply": {{"msg": "found"}}}}]}}}}"#
        );
        // A sequence counts per server process: a fresh one for each case.
        let (_dir, server) = serve(&proto, &handlers, &["--no-register"]);
        let address = format!("grpc://{}", server.address);
        let mut args = vec![
            "call",
            "--address",
            &address,
            "Greeter.Hello",
            "{}",
            "--retries",
            "1",
            "--backoff",
            "none",
            "-v",
        ];
        if let Some(codes) = retry_on {
            args.extend(["--retry-on", codes]);
        }
        let output = run(&args);
        let case = format!("{status} with --retry-on {retry_on:?}");
        assert_exit(&output, code);
        if code == 0 {
            assert_eq!(json(&output)["msg"], "found", "{case}");
        } else {
            assert_stderr_has(&output, "not yet");
        }
        assert_eq!(attempts(&output).len() as u64, expected, "{case}");
        assert_eq!(requests_seen(&server, "Greeter.Hello"), expected, "{case}");
    }
}

/// The interop echo schema, its streaming methods answered by the chat exec handler:
/// one reply per request, and a request `fail:CODE` ends the call with that status.
fn echo_args() -> (String, String) {
    let dir = root().join("interop/grpc");
    let chat = dir.join("chat_exec.py").to_string_lossy().into_owned();
    let handlers =
        format!(r#"{{"Echo.Count": {{"exec": ["{chat}"]}}, "Echo.Chat": {{"exec": ["{chat}"]}}}}"#);
    (
        dir.join("echo.proto").to_string_lossy().into_owned(),
        handlers,
    )
}

#[test]
fn a_stream_is_not_retried_once_its_first_message_was_sent() {
    // (method, request messages, the replies printed before the status)
    let cases = [
        // A bidirectional stream that got a reply, then a status it would be retried on.
        (
            "Echo.Chat",
            "{\"text\":\"a\"}\n{\"text\":\"fail:UNAVAILABLE\"}\n",
            "{\"text\":\"echo: a\"}\n",
        ),
        // A server stream that failed before any reply, after its request was sent.
        ("Echo.Count", "{\"text\":\"fail:UNAVAILABLE\"}", ""),
    ];
    let (proto, handlers) = echo_args();
    let (_dir, server) = serve(&proto, &handlers, &["--no-register"]);
    let address = format!("grpc://{}", server.address);
    for (method, requests, replies) in cases {
        let output = run(&[
            "call",
            "--address",
            &address,
            method,
            requests,
            "--retries",
            "2",
            "--retry-on",
            "UNAVAILABLE",
            "--backoff",
            "none",
            "-v",
        ]);
        assert_exit(&output, 64 + 14);
        assert_stderr_has(&output, "failing as asked");
        assert_eq!(stdout(&output), replies, "{method}");
        assert_eq!(
            attempts(&output),
            [format!("> attempt 1/3 to {}", server.address)]
        );
        assert_eq!(requests_seen(&server, method), 1, "{method}");
    }
}

#[test]
fn a_stream_that_cannot_connect_is_retried_on_the_next_node() {
    let registry = tempfile::tempdir().unwrap();
    let url = format!("file://{}", registry.path().display());
    let (proto, handlers) = echo_args();
    // Both nodes announce gRPC alone, so calls by name speak it.
    let node = [
        "--registry",
        &url,
        "--name",
        "echo",
        "--metadata",
        "protocols=grpc",
    ];
    let (_live_dir, live) = serve(&proto, &handlers, &node);
    let (_dead_dir, dead) = serve(&proto, &handlers, &node);
    let dead_address = dead.address.clone();
    drop(dead); // SIGKILL: its record stays, its port refuses
    let call = [
        "call",
        "--service",
        "echo",
        "--selector",
        "roundrobin",
        "--proto",
        &proto,
        "Echo.Chat",
        r#"{"text":"a"}"#,
        "--retries",
        "1",
        "--backoff",
        "none",
        "-v",
    ];
    // Round-robin turns alternate across processes, so one of two calls starts on the
    // dead node (and no call avoids it before it has refused one).
    let mut calls = 0;
    let started_dead = (0..2).find_map(|_| {
        let output = run_in_registry(&url, &call);
        calls += 1;
        assert_exit(&output, 0);
        assert_eq!(stdout(&output), "{\"text\":\"echo: a\"}\n");
        let tried = attempts(&output);
        tried[0].ends_with(&dead_address).then_some(tried)
    });
    let tried = started_dead.expect("no call started on the dead node");
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(tried[1].ends_with(&live.address), "{tried:?}");
    // Every call reached the live node once: the retry was the only second try.
    assert_eq!(requests_seen(&live, "Echo.Chat"), calls);
}
