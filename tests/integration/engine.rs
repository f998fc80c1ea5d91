//! The call engine as a user drives it: streams fed from stdin as requests arrive and
//! printed as replies come (lock-step), the deadline running while stdin is open, Ctrl-C
//! cancelling the call on the wire, `--max-time` bounding retries, reflection of `grpc.*`
//! services, and metadata from a file.

use crate::support::{
    assert_exit, assert_stderr_has, json, rmicro, root, run, stderr, write_temp, Server,
};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// `rmicro serve` with the interop echo schema: Echo.Chat answers each request line at
/// once (an exec handler), Echo.Collect answers at the end of the client stream.
fn echo_server() -> Server {
    let dir = root().join("interop/grpc");
    Server::start(&[
        "--proto",
        &dir.join("echo.proto").to_string_lossy(),
        "--handlers",
        &dir.join("echo.handlers.json").to_string_lossy(),
        "--no-register",
    ])
}

/// `rmicro call -a grpc://ADDR ENDPOINT -d @- ARGS` with stdin and stdout piped.
fn streaming_call(server: &Server, endpoint: &str, args: &[&str]) -> Child {
    rmicro()
        .args([
            "call",
            "-a",
            &format!("grpc://{}", server.address),
            endpoint,
        ])
        .args(["-d", "@-", "-o", "json"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rmicro runs")
}

/// Kills `pid` after `limit` unless the test is over, so a hang fails instead of waiting.
fn watchdog(pid: u32, limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        // SAFETY: kill(2) on a child of this test; harmless if it has exited.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
}

#[test]
fn a_bidi_stream_plays_lock_step_request_after_reply() {
    let server = echo_server();
    let mut child = streaming_call(&server, "echo.v1.Echo/Chat", &[]);
    watchdog(child.id(), Duration::from_secs(30));
    let mut stdin = child.stdin.take().unwrap();
    let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
    for round in 0..4 {
        // Request n+1 is written only after reply n was read: a client that waited for
        // EOF before sending would hang here.
        writeln!(stdin, "{{\"text\":\"ping {round}\"}}").unwrap();
        stdin.flush().unwrap();
        let line = replies
            .next()
            .unwrap_or_else(|| panic!("no reply {round}"))
            .unwrap();
        let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(reply["text"], format!("echo: ping {round}"), "{line}");
    }
    drop(stdin); // EOF half-closes the call
    assert!(replies.next().is_none());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_client_stream_held_open_past_the_timeout_exits_68() {
    let server = echo_server();
    let mut child = streaming_call(&server, "echo.v1.Echo/Collect", &["--timeout", "700ms"]);
    watchdog(child.id(), Duration::from_secs(30));
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{{\"text\":\"a\"}}").unwrap();
    let started = Instant::now();
    // stdin stays open: the deadline must end the call anyway.
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    assert_exit(&output, 68);
    assert_stderr_has(&output, "no reply within 700ms (--timeout)");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// A one-connection HTTP/2 server that answers one gRPC call with one message, keeps the
/// stream open, and reports the reason the client ended it with.
fn cancel_witness() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (seen, reason) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            let (request, mut respond) = connection.accept().await.unwrap().unwrap();
            tokio::spawn(async move { while connection.accept().await.is_some() {} });
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut send = respond.send_response(response, false).unwrap();
            // SayReply { text: "first" }.
            send.send_data(
                bytes::Bytes::from_static(b"\0\0\0\0\x07\x0a\x05first"),
                false,
            )
            .unwrap();
            let mut body = request.into_body();
            let ended = loop {
                match body.data().await {
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => break format!("{:?}", error.reason()),
                    None => break "end of stream".to_owned(),
                }
            };
            let _ = seen.send(ended);
        });
    });
    (address, reason)
}

#[test]
fn ctrl_c_mid_stream_cancels_the_call_on_the_wire_and_exits_130() {
    let (address, reason) = cancel_witness();
    let proto = root().join("interop/grpc/echo.proto");
    let mut child = rmicro()
        .args([
            "call",
            "-a",
            &format!("grpc://{address}"),
            "echo.v1.Echo/Chat",
        ])
        .args([
            "--proto",
            &proto.to_string_lossy(),
            "-d",
            "@-",
            "-o",
            "json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    watchdog(child.id(), Duration::from_secs(30));
    let stdin = child.stdin.take().unwrap();
    let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = replies.next().expect("the first reply").unwrap();
    assert_eq!(json_line(&first)["text"], "first");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    drop(stdin);
    assert_exit(&output, 130);
    assert_stderr_has(&output, "interrupted");
    let ended = reason
        .recv_timeout(Duration::from_secs(10))
        .expect("the server saw the stream end");
    assert_eq!(ended, "Some(CANCEL)");
}

fn json_line(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))
}

#[test]
fn max_time_bounds_the_whole_call_retries_and_backoff_included() {
    let server = Server::greeter(&[]);
    // Each attempt times out after 300 ms (the rule waits 400 ms) and 408 is retried;
    // without --max-time four attempts would run for 1.5 s.
    let output = server.run(&[
        "call",
        "Greeter.Hello",
        r#"{"name":"slow"}"#,
        "--timeout",
        "300ms",
        "--retries",
        "3",
        "--backoff",
        "constant:100ms",
        "--max-time",
        "650ms",
        "-v",
    ]);
    assert_exit(&output, 68);
    assert_stderr_has(&output, "--max-time 650ms");
    let log = stderr(&output);
    assert!(!log.contains("> attempt 4/4"), "{log}");
    assert!(log.contains("> attempt 2/4"), "{log}");
}

#[test]
fn reflection_lists_grpc_packages_and_the_call_reaches_them() {
    let server = Server::start(&[
        "--proto",
        &crate::support::fixture("grpc_testing.proto"),
        "--no-register",
    ]);
    let grpc = format!("grpc://{}", server.address);
    let listed = run(&["list", "-a", &grpc]);
    assert_exit(&listed, 0);
    let table = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(table.contains("TestService.EmptyCall"), "{table}");
    assert!(!table.contains("ServerReflectionInfo"), "{table}");
    let called = run(&[
        "call",
        "-a",
        &grpc,
        "grpc.testing.TestService/EmptyCall",
        "{}",
    ]);
    assert_exit(&called, 0);
    assert_eq!(json(&called), serde_json::json!({}));
}

#[test]
fn headers_come_from_a_file_for_the_call_with_h_or_rpc_header() {
    let server = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "headers", b"# secrets\nx-tenant: acme\n\n");
    let grpc = format!("grpc://{}", server.address);
    for flag in ["-H", "--rpc-header"] {
        let output = run(&[
            "call",
            "-a",
            &grpc,
            "echo.v1.Echo/Say",
            r#"{"text":"x"}"#,
            flag,
            &format!("@{file}"),
            "-v",
        ]);
        assert_exit(&output, 0);
        assert_eq!(json(&output)["text"], "tenant acme", "{flag}");
        assert_stderr_has(&output, "> x-tenant: acme");
    }
    let missing = run(&[
        "call",
        "-a",
        &grpc,
        "echo.v1.Echo/Say",
        "{}",
        "-H",
        "@/no/such",
    ]);
    assert_exit(&missing, 2);
    assert_stderr_has(&missing, "cannot read headers from /no/such");
}

#[test]
fn health_asks_grpc_health_and_every_registered_node() {
    let server = echo_server();
    let grpc = format!("grpc://{}", server.address);
    let serving = run(&["health", "-a", &grpc]);
    assert_exit(&serving, 0);
    assert_eq!(json(&serving), serde_json::json!({"status": "SERVING"}));
    // As grpc-go's health server, Check of an unknown service is NOT_FOUND.
    let unknown = run(&["health", "-a", &grpc, "no.Such"]);
    assert_exit(&unknown, 69);

    // Every node of a registered service, one row each; one dead node fails the check.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let a = crate::nodes::job_node(&url, "checked");
    let _b = crate::nodes::job_node(&url, "checked");
    let table = crate::support::run_in_registry(&url, &["health", "--service", "checked"]);
    assert_exit(&table, 0);
    let text = crate::support::stdout(&table);
    assert_eq!(text.matches("ok").count(), 2, "{text}");
    assert!(text.contains(&a.address), "{text}");
    let pid = a.pid();
    // SAFETY: kill(2) on a child of this test; the registry keeps its record for its TTL.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let down =
        crate::support::run_in_registry(&url, &["health", "--service", "checked", "-o", "json"]);
    assert_exit(&down, 1);
    assert_stderr_has(&down, "1 of 2 nodes are not serving");
    let rows: Vec<serde_json::Value> = crate::support::stdout(&down)
        .lines()
        .map(json_line)
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.iter().filter(|row| row["serving"] == true).count(), 1);
    drop(a);
}

/// The same call over every client protocol × every schema source, one at a time and in
/// a batch (the engine under both): a table, as grpcurl runs its tests.
#[test]
fn one_call_over_every_protocol_and_schema_source() {
    let server = Server::job(&["--no-register"]);
    let proto = crate::support::sample("job.proto");
    let set = crate::support::sample("job.pb");
    let sources: [(&str, Vec<&str>); 3] = [
        ("--proto", vec!["--proto", &proto]),
        ("--descriptor-set", vec!["--descriptor-set", &set]),
        // The server's: Debug.Endpoints (mucp), reflection (gRPC); JSON-RPC is schema-less.
        ("server", vec![]),
    ];
    let expected = serde_json::json!({"code": 200, "msg": "created"});
    for scheme in ["mucp", "jsonrpc", "grpc"] {
        let address = format!("{scheme}://{}", server.address);
        for (source, flags) in &sources {
            let context = format!("{scheme} with the schema from {source}");
            let mut args = vec!["call", "-a", &address, "Job.CreateJob", r#"{"name":"x"}"#];
            args.extend(flags);
            let output = run(&args);
            assert_exit(&output, 0);
            assert_eq!(json(&output), expected, "{context}");

            let mut batch = rmicro();
            batch
                .args(["call", "-a", &address, "Job.CreateJob", "--batch"])
                .args(flags);
            let output =
                crate::support::output_with_stdin(batch, b"{\"name\":\"a\"}\n{\"name\":\"b\"}\n");
            assert_exit(&output, 0);
            let lines: Vec<serde_json::Value> = crate::support::stdout(&output)
                .lines()
                .map(json_line)
                .collect();
            assert_eq!(
                lines,
                vec![expected.clone(), expected.clone()],
                "{context}, --batch"
            );
        }
    }
}

/// The server's live child processes: its exec handlers and workers (not its reaper).
pub fn children(pid: u32) -> Vec<u32> {
    let reaper = crate::support::reaper_of(pid);
    crate::support::live_processes()
        .into_iter()
        .filter(|&(child, parent, _)| parent == pid && Some(child) != reaper)
        .map(|(child, _, _)| child)
        .collect()
}

#[test]
fn a_cancelled_stream_stops_its_exec_handler_and_reflection_is_counted() {
    let server = echo_server();
    let mut child = streaming_call(&server, "echo.v1.Echo/Chat", &[]);
    watchdog(child.id(), Duration::from_secs(30));
    let mut stdin = child.stdin.take().unwrap();
    let mut replies = BufReader::new(child.stdout.take().unwrap()).lines();
    writeln!(stdin, "{{\"text\":\"one\"}}").unwrap();
    let first = replies.next().expect("a reply").unwrap();
    assert_eq!(json_line(&first)["text"], "echo: one");
    assert_eq!(children(server.pid()).len(), 1, "the exec handler runs");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let give_up = Instant::now() + Duration::from_secs(10);
    while !children(server.pid()).is_empty() {
        assert!(
            Instant::now() < give_up,
            "the exec handler outlived its call"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);

    // The call fetched its schema by reflection: a router endpoint like any other.
    let stats = json(&run(&["stats", "-a", &server.address, "-o", "json"]));
    let reflection = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "grpc.reflection.v1.ServerReflection/ServerReflectionInfo")
        .unwrap_or_else(|| panic!("reflection is not in Debug.Stats: {stats}"))
        .clone();
    assert_eq!(reflection["requests"], 1, "{stats}");
}

#[test]
fn an_empty_listing_says_so_instead_of_printing_an_empty_table() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write_temp(
        dir.path(),
        "e.proto",
        b"syntax = \"proto3\";\npackage e;\nmessage M {}\n",
    );
    let output = run(&["list", "--proto", &proto]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "the schema has no services");
}

#[test]
fn health_stats_and_describe_find_their_server_in_the_registry_as_call_does() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let node = crate::nodes::job_node(&url, "lonely");
    // No --address, no --service: the registry's one service, every node of it.
    let health = crate::support::run_in_registry(&url, &["health"]);
    assert_exit(&health, 0);
    let table = crate::support::stdout(&health);
    assert!(
        table.contains(&node.address) && table.contains("ok"),
        "{table}"
    );
    let stats = crate::support::run_in_registry(&url, &["stats", "-o", "json"]);
    assert_exit(&stats, 0);
    assert!(json(&stats)["endpoints"].is_array());
    // describe by endpoint: the service that offers it.
    let described = crate::support::run_in_registry(&url, &["describe", "Job.CreateJob"]);
    assert_exit(&described, 0);
    crate::support::assert_stdout_has(&described, "job.Task");
}

#[test]
fn a_content_type_not_served_is_refused_before_the_request_body_ends() {
    let server = echo_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&server.address)
            .await
            .unwrap();
        let (client, connection) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(connection);
        let mut client = client.ready().await.unwrap();
        let request = http::Request::post(format!("http://{}/echo.v1.Echo/Say", server.address))
            .header("content-type", "application/xml")
            .body(())
            .unwrap();
        // The body is never ended, as a streaming client keeps it open.
        let (response, _body) = client.send_request(request, false).unwrap();
        tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("an answer while the body is still open")
            .unwrap()
            .status()
    });
    assert_eq!(status, 415);
}
