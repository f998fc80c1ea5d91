//! gRPC between rmicro's own client and server on the shared port: a call with the schema
//! from reflection, listing, the max message size answered with RESOURCE_EXHAUSTED while
//! the server goes on serving, an unknown service, and the envelope of a failed call.
//! Interop with Python's grpcio both ways is interop/test_grpc.py.

use crate::support::{assert_exit, assert_stderr_has, assert_stdout_has, json, Server};

fn grpc(server: &Server) -> String {
    format!("grpc://{}", server.address)
}

fn call(server: &Server, args: &[&str]) -> std::process::Output {
    crate::support::rmicro()
        .args(["call", "--address", &grpc(server)])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_call_over_grpc_takes_its_schema_from_reflection() {
    let server = Server::greeter(&["--no-register"]);
    let output = call(&server, &["greeter.Greeter/Hello", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
    let output = crate::support::rmicro()
        .args(["list", "--address", &grpc(&server)])
        .output()
        .unwrap();
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
