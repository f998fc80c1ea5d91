//! gRPC between rmicro's own client and server on the shared port: a call with the schema
//! from reflection, listing, the max message size answered with RESOURCE_EXHAUSTED while
//! the server goes on serving, an unknown service, the envelope of a failed call, and
//! error details through gRPC and the Connect protocol.
//! Interop with Python's grpcio both ways is interop/test_grpc.py.

use crate::support::{assert_exit, assert_stderr_has, assert_stdout_has, json, run, Server};

fn grpc(server: &Server) -> String {
    format!("grpc://{}", server.address)
}

fn call(server: &Server, args: &[&str]) -> std::process::Output {
    run(&[&["call", "--address", &grpc(server)], args].concat())
}

#[test]
fn a_call_over_grpc_takes_its_schema_from_reflection() {
    let server = Server::greeter(&["--no-register"]);
    let output = call(&server, &["greeter.Greeter/Hello", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
    let output = run(&["list", "--address", &grpc(&server)]);
    assert_exit(&output, 0);
    assert_stdout_has(&output, "Helloworld.Call");
}

#[test]
fn an_oversized_message_is_resource_exhausted_and_serving_goes_on() {
    let server = Server::greeter(&["--no-register", "--max-message-size", "64"]);
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(100));
    let output = call(&server, &["Greeter.Hello", &big]);
    assert_exit(&output, 64 + 8);
    assert_stderr_has(&output, "larger than max (102 vs. 64)");
    let output = call(&server, &["Greeter.Hello", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
}

#[test]
fn an_unknown_service_is_unimplemented_with_an_envelope() {
    let server = Server::greeter(&["--no-register"]);
    let output = call(
        &server,
        &[
            "--proto",
            &crate::support::sample("job.proto"),
            "--output",
            "envelope",
            "Job.CreateJob",
            "{}",
        ],
    );
    assert_exit(&output, 64 + 12);
    let envelope = json(&output);
    assert_eq!(envelope["status"]["name"], "UNIMPLEMENTED");
    assert!(
        envelope["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("unknown service"),
        "{envelope}"
    );
    assert_eq!(envelope["messages"], serde_json::json!([]));
}

/// The greeter schema with a handlers file whose error carries `details`: the arguments
/// of `rmicro serve`, and the directory that holds the file.
fn details_args(details: &str) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let handlers = format!(
        r#"{{"Greeter.Hello": {{"error": {{"status": "NOT_FOUND", "detail": "nobody", "details": {details}}}}}}}"#
    );
    let path = crate::support::write_temp(dir.path(), "handlers.json", handlers.as_bytes());
    let proto = crate::support::fixture("greeter.proto");
    let args = ["--no-register", "--proto", &proto, "--handlers", &path];
    (dir, args.map(str::to_owned).to_vec())
}

#[test]
fn error_details_reach_grpc_and_connect_callers() {
    let (_dir, args) = details_args(
        r#"[{"@type": "google.rpc.ErrorInfo", "reason": "GONE", "domain": "rmicro.test"}]"#,
    );
    let server = Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let output = call(&server, &["Greeter.Hello", "{}", "--output", "envelope"]);
    assert_exit(&output, 64 + 5);
    assert_eq!(
        json(&output)["status"]["details"],
        serde_json::json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "GONE", "domain": "rmicro.test"}])
    );

    // The Connect protocol over HTTP/1.1 on the same port: the details as type and base64.
    let mut stream = server.connect();
    let reply = crate::support::exchange(
        &mut stream,
        b"POST /greeter.Greeter/Hello HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    let text = String::from_utf8(reply).unwrap();
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    let body: serde_json::Value =
        serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["message"], "nobody");
    assert_eq!(body["details"][0]["type"], "google.rpc.ErrorInfo");
    // ErrorInfo{reason: "GONE", domain: "rmicro.test"}, standard base64 without padding.
    assert_eq!(body["details"][0]["value"], "CgRHT05FEgtybWljcm8udGVzdA");
}

#[test]
fn an_error_detail_of_an_unknown_type_is_refused_at_start_up() {
    let (_dir, args) = details_args(r#"[{"@type": "acme.Nope"}]"#);
    // An address that cannot be bound: a server that wrongly started fails, not hangs.
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run(&[&["serve"], &args[..], &["--address", "256.0.0.1:0"]].concat());
    assert_exit(&output, 1);
    assert_stderr_has(&output, "unknown detail type acme.Nope");
}

#[test]
fn gzipped_requests_get_gzipped_replies() {
    let server = Server::greeter(&["--no-register"]);
    let output = call(
        &server,
        &[
            "Greeter.Hello",
            r#"{"name":"John"}"#,
            "--compress",
            "gzip",
            "-v",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
    assert_stderr_has(&output, "< grpc-encoding: gzip");
    let plain = call(&server, &["Greeter.Hello", r#"{"name":"John"}"#, "-v"]);
    assert_exit(&plain, 0);
    assert!(!crate::support::stderr(&plain).contains("grpc-encoding"));
}

/// Sends one gRPC request to `path` whose body is `body` (the length prefix included) and
/// returns the status and message the server ends the stream with.
pub async fn send_raw_grpc(address: &str, path: &str, body: &[u8]) -> (String, String) {
    let headers = [("content-type", "application/grpc")];
    let reply = crate::grpc_wire::exchange(address, path, &headers, body).await;
    let text = |name: &str| reply.ending()[name].to_str().unwrap().to_owned();
    (text("grpc-status"), text("grpc-message"))
}

const HELLO: &str = "/greeter.Greeter/Hello";

#[test]
fn a_truncated_message_or_frame_ends_only_its_own_stream() {
    let server = Server::greeter(&["--no-register"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A message that announces 100 bytes and ends after 3.
    let (code, message) = runtime.block_on(send_raw_grpc(
        &server.address,
        HELLO,
        &[0, 0, 0, 0, 100, 1, 2, 3],
    ));
    assert_eq!(code, "13");
    assert!(message.contains("ended inside a message"), "{message}");
    // A bad compressed flag.
    let (code, message) = runtime.block_on(send_raw_grpc(&server.address, HELLO, &[7, 0, 0, 0, 0]));
    assert_eq!(code, "13");
    assert!(message.contains("invalid compressed flag 7"), "{message}");

    // Raw bytes: the preface, SETTINGS, then a HEADERS frame that claims 50 bytes and
    // brings 5 before the connection closes.
    let mut raw = server.connect();
    std::io::Write::write_all(
        &mut raw,
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0\0\0\x32\x01\x04\0\0\0\x01abcde",
    )
    .unwrap();
    drop(raw);
    let output = call(&server, &["Greeter.Hello", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
}
