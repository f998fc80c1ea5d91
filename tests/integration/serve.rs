//! `rmicro serve` as a process: start-up, handler-file validation, --strict, and draining
//! on SIGTERM without dropping an accepted request.

use crate::support::{
    assert_exit, assert_stderr_has, exchange, fixture, read_response, rmicro, run, sample, stderr,
    write_temp, Server,
};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn prints_the_bound_address_and_answers_health() {
    let server = Server::job(&[]);
    assert!(
        server.address.starts_with("127.0.0.1:") && !server.address.ends_with(":0"),
        "{}",
        server.address
    );
    let output = server.run(&["health"]);
    assert_exit(&output, 0);
}

#[test]
fn unconfigured_endpoints_answer_empty_or_unimplemented_when_strict() {
    let proto = sample("actuator.proto");
    let lenient = Server::start(&["--proto", &proto]);
    let output = lenient.run(&["call", "Actuator.GetAllExecutorIP"]);
    assert_exit(&output, 0);
    assert_eq!(crate::support::json(&output), serde_json::json!({}));
    let strict = Server::start(&["--proto", &proto, "--strict"]);
    let output = strict.run(&["call", "Actuator.GetAllExecutorIP"]);
    assert_exit(&output, 76);
}

#[test]
fn bad_handler_files_are_refused_naming_file_endpoint_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let proto = sample("job.proto");
    let cases: [(&str, &str); 7] = [
        (
            r#"{"Job.CreateJbo": {"reply": {}}}"#,
            "did you mean Job.CreateJob",
        ),
        (
            r#"{"Job.CreateJob": {"reply": {"cod": 1}}}"#,
            "endpoint Job.CreateJob: reply: unrecognized field name 'cod'",
        ),
        (
            r#"{"Job.CreateJob": {"reply": {"code": "x"}}}"#,
            "field `code`",
        ),
        (
            r#"{"Job.CreateJob": {"match": {"nam": "x"}, "reply": {}}}"#,
            "job.Task has no field `nam`",
        ),
        (
            r#"{"Job.CreateJob": {"error": {"detail": "x"}}}"#,
            "give a go-micro \"code\"",
        ),
        (r#"{"Job.CreateJob": {"delay": "soon"}}"#, "delay"),
        (
            r#"{"Job.CreateJob": {"exec": ["./missing.sh"]}}"#,
            "missing.sh does not exist",
        ),
    ];
    for (contents, needle) in cases {
        let file = write_temp(dir.path(), "handlers.json", contents.as_bytes());
        let output = run(&[
            "serve",
            "--proto",
            &proto,
            "--handlers",
            &file,
            "--address",
            "127.0.0.1:0",
        ]);
        assert_exit(&output, 1);
        let message = stderr(&output);
        assert!(
            message.contains("handlers.json") && message.contains(needle),
            "{contents}: {message}"
        );
    }
}

#[test]
fn a_rule_list_falls_through_to_no_match() {
    let server = Server::greeter(&[]);
    let output = server.run(&["call", "Greeter.Hello", r#"{"name":"nobody"}"#]);
    assert_exit(&output, 69);
    assert_stderr_has(&output, "no rule for Greeter.Hello matched");
}

#[test]
fn sigterm_finishes_the_in_flight_request_then_exits_zero() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    // One exchange proves the connection is accepted; the next request is in flight.
    let health = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Debug.Health\r\nContent-Length: 2\r\n\r\n{}";
    exchange(&mut stream, health);
    let slow = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 15\r\n\r\n{\"name\":\"slow\"}";
    stream.write_all(slow).unwrap();
    let pid = server.pid();
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let reply = String::from_utf8(read_response(&mut stream)).unwrap();
    assert!(reply.ends_with("{\"msg\":\"Hello slow\"}\n"), "{reply}");
    let (status, log) = server.terminate();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("shutting down") && log.contains("stopped"),
        "{log}"
    );
}

#[test]
fn sigterm_with_a_short_grace_cuts_off_a_longer_request_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "handlers.json",
        br#"{"Greeter.Hello": {"delay": "30s", "reply": {"msg": "too late"}}}"#,
    );
    let proto = fixture("greeter.proto");
    let server = Server::start(&[
        "--proto",
        &proto,
        "--handlers",
        &handlers,
        "--grace",
        "300ms",
    ]);
    let mut stream = server.connect();
    // As above: the connection is accepted, and the slow request has reached the server
    // before SIGTERM (a request that has begun to arrive is served while draining).
    let health = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Debug.Health\r\nContent-Length: 2\r\n\r\n{}";
    exchange(&mut stream, health);
    let slow = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 2\r\n\r\n{}";
    stream.write_all(slow).unwrap();
    let started = Instant::now();
    let (status, log) = server.terminate();
    // 300 ms of grace; the default 10 s, or waiting for the 30 s delay, is far beyond this.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "exited after {took:?}: {log}"
    );
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("1 connection(s) still busy after the 300ms grace period; closing them"),
        "{log}"
    );
    // The cut-off caller gets no reply at all: the connection just ends.
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(String::from_utf8_lossy(&rest), "");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let server = Server::job(&[]);
    let output = run(&[
        "serve",
        "--proto",
        &fixture("greeter.proto"),
        "--address",
        &server.address,
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, &format!("cannot listen on {}", server.address));
}

#[test]
fn usage_errors_exit_2() {
    assert_exit(&run(&["call"]), 2);
    assert_exit(&run(&["serve", "--max-message-size", "lots"]), 2);
    let unknown_scheme = rmicro()
        .args(["call", "X.Y", "--address", "ftp://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_exit(&unknown_scheme, 2);
    assert_stderr_has(&unknown_scheme, "unknown address scheme ftp://");
}

/// The exec contract's environment (README): over each protocol an exec handler finds the
/// endpoint in go-micro's `Service.Method` form, the schema's full service name, the
/// caller's metadata as JSON, and the milliseconds left before it is killed — the rule's
/// `timeout` (2 s here) or the caller's deadline when that is sooner.
#[test]
fn exec_handlers_get_endpoint_service_metadata_and_deadline() {
    let server = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &fixture("env.handlers.json"),
    ]);
    // The deadline is taken when the request arrives and read moments later, so the time
    // left is just under the bound; half of it is a wide lower margin.
    let rule = (1000, 2000);
    let caller = (500, 1000);
    // (scheme, --timeout, whether the protocol carries metadata, deadline)
    let cases = [
        // The default --timeout of 5 s is later than the rule's 2 s.
        ("mucp", None, true, rule),
        ("mucp", Some("1s"), true, caller),
        ("grpc", None, true, rule),
        ("grpc", Some("1s"), true, caller),
        // Go's JSON-RPC carries neither a deadline nor metadata.
        ("jsonrpc", Some("1s"), false, rule),
    ];
    for (scheme, timeout, tenant, (above, at_most)) in cases {
        let mut command = rmicro();
        command
            .args(["call", "-a", &format!("{scheme}://{}", server.address)])
            .args(["Greeter.Hello", r#"{"name":"x"}"#, "-H", "Tenant:acme"]);
        if let Some(timeout) = timeout {
            command.args(["--timeout", timeout]);
        }
        let output = command.output().unwrap();
        let context = format!("{scheme} --timeout {timeout:?}");
        assert_exit(&output, 0);
        let msg = crate::support::json(&output)["msg"].clone();
        let env: serde_json::Value = serde_json::from_str(msg.as_str().unwrap()).unwrap();
        assert_eq!(env["RMICRO_ENDPOINT"], "Greeter.Hello", "{context}");
        assert_eq!(env["RMICRO_SERVICE"], "greeter.Greeter", "{context}");
        let left: u64 = env["RMICRO_DEADLINE_MS"]
            .as_str()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("{context}: RMICRO_DEADLINE_MS is no number: {env}"));
        assert!(
            above < left && left <= at_most,
            "{context}: {left} ms left, wanted ({above}, {at_most}]"
        );
        let metadata: serde_json::Value =
            serde_json::from_str(env["RMICRO_METADATA"].as_str().unwrap()).unwrap();
        // The same metadata whatever the protocol: the caller's own headers, names in
        // lower case, no transport or protocol headers (Host, Content-Type, Micro-*, te…).
        let expected = match tenant {
            true => {
                serde_json::json!({"tenant": "acme", "user-agent": format!("rmicro/{}", env!("CARGO_PKG_VERSION"))})
            }
            false => serde_json::json!({}),
        };
        assert_eq!(metadata, expected, "{context}");
    }
}

/// SIGTERM to the server behind `server.pid()`.
fn sigterm(server: &Server) {
    // SAFETY: kill(2) on a child of this test.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
}

#[test]
fn at_shutdown_every_json_rpc_request_read_is_answered_and_no_reset_destroys_replies() {
    let server = Server::arith(&["--no-register"]);
    let mut stream = server.connect();
    // Ten slow calls (300 ms each) in one write; the server has read them before SIGTERM.
    let requests: String = (0..10)
        .map(|id| format!("{{\"method\":\"Arith.Slow\",\"params\":[{{}}],\"id\":{id}}}\n"))
        .collect();
    stream.write_all(requests.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    sigterm(&server);
    std::thread::sleep(Duration::from_millis(50));
    // More input the server will not read: closing with it unread must not reset the
    // connection under the replies.
    let _ =
        stream.write_all(&b"{\"method\":\"Arith.Slow\",\"params\":[{}],\"id\":99}\n".repeat(100));
    let mut replies = Vec::new();
    let ended = stream.read_to_end(&mut replies);
    let text = String::from_utf8_lossy(&replies).into_owned();
    assert!(
        ended.is_ok(),
        "the connection was reset: {ended:?} after {text:?}"
    );
    let answered: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answered.len(), 10, "{text}");
    for reply in &answered {
        assert_eq!(reply["result"], serde_json::json!({"value": 1}), "{text}");
    }
}

#[test]
fn at_shutdown_a_mucp_keep_alive_reply_says_connection_close() {
    let server = Server::greeter(&["--no-register"]);
    let mut stream = server.connect();
    // The slow rule waits 400 ms: SIGTERM arrives while the call runs.
    let request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 15\r\n\r\n{\"name\":\"slow\"}";
    std::io::Write::write_all(&mut stream, request).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    sigterm(&server);
    let reply = String::from_utf8_lossy(&crate::support::read_response(&mut stream)).into_owned();
    assert!(reply.contains("Hello slow"), "{reply}");
    assert!(reply.contains("\r\nConnection: close\r\n"), "{reply}");
    assert!(crate::support::is_closed(&mut stream));
}
