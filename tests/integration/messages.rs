//! The messages a newcomer meets first: each says what is wrong and what to do, in one or
//! two lines (a missing file, a port without host, a JSON syntax error, the protocol
//! actually seen, an HTTP server that is not go-micro, "did you mean", serve with no
//! schema).

use crate::support::*;
use std::io::{Read, Write};
use std::net::TcpListener;

/// Two lines at most: the message, and nothing else.
#[track_caller]
fn assert_short(output: &std::process::Output) {
    let text = stderr(output);
    assert!(text.lines().count() <= 2, "more than two lines: {text}");
}

#[test]
fn a_missing_proto_file_is_named_as_missing() {
    let output = run(&["describe", "--proto", "nope/missing.proto", "Job.CreateJob"]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "nope/missing.proto: no such file");
    assert!(
        !stderr(&output).contains("include path"),
        "{}",
        stderr(&output)
    );
    assert_short(&output);
}

#[test]
fn a_port_without_host_says_which_address_to_write() {
    let output = run(&["call", "-a", "8080", "Job.CreateJob", "{}"]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, "has no host: use 127.0.0.1:8080 (or :8080)");
    let output = run(&["call", "-a", "localhost", "Job.CreateJob", "{}"]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, "has no port: use HOST:PORT, e.g. localhost:8080");
}

#[test]
fn a_json_syntax_error_is_one_with_line_and_column() {
    let proto = sample("job.proto");
    for (data, wanted) in [
        (
            r#"{name:"x"}"#,
            "not valid JSON: key must be a string at line 1 column 2",
        ),
        (
            "{\"name\":\"x\",\n \"a\" 5}",
            "not valid JSON: expected `:` at line 2 column 6",
        ),
    ] {
        let output = run(&[
            "call",
            "--proto",
            &proto,
            "-a",
            "127.0.0.1:9",
            "Job.CreateJob",
            data,
        ]);
        assert_exit(&output, 1);
        assert_stderr_has(&output, wanted);
        assert!(!stderr(&output).contains("field"), "{}", stderr(&output));
        assert_short(&output);
    }
}

#[test]
fn an_unknown_field_gets_a_did_you_mean() {
    let proto = sample("job.proto");
    let output = run(&[
        "call",
        "--proto",
        &proto,
        "-a",
        "127.0.0.1:9",
        "Job.CreateJob",
        r#"{"nmae":"x"}"#,
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "unrecognized field name 'nmae'");
    assert_stderr_has(&output, "did you mean name?");
    // Nothing close: the message's fields are listed.
    let output = run(&[
        "call",
        "--proto",
        &proto,
        "-a",
        "127.0.0.1:9",
        "Job.CreateJob",
        r#"{"zzzzzz":1}"#,
    ]);
    assert_stderr_has(&output, "(Task has id, name,");
}

#[test]
fn an_unknown_service_gets_a_did_you_mean() {
    let server = Server::job(&["--name", "job"]);
    let output = run(&["call", "--service", "jobs", "Job.CreateJob", "{}"]);
    drop(server);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "service jobs not found");
    assert_stderr_has(&output, "did you mean");
    assert_stderr_has(&output, " job");
    assert_short(&output);
}

#[test]
fn serve_without_a_schema_refuses_to_start_unless_allowed() {
    let output = run(&["serve", "--address", "127.0.0.1:0", "--no-register"]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        "nothing to serve: no schema given; pass --proto FILE",
    );
    assert_stderr_has(&output, "--allow-empty");
    assert_short(&output);
    let server = Server::start(&["--allow-empty", "--no-register"]);
    let output = run(&["health", "-a", &server.address]);
    assert_exit(&output, 0);
}

/// A server of one connection at a time, answering each connection with `answer` of
/// what it read first (as a server of another protocol would), until the test ends.
fn foreign_server(answer: fn(&[u8]) -> Option<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let mut buf = [0u8; 4096];
                let count = stream.read(&mut buf).unwrap_or(0);
                if let Some(reply) = answer(&buf[..count]) {
                    let _ = stream.write_all(&reply);
                }
            });
        }
    });
    address
}

/// As Go's net/rpc JSON-RPC server: a JSON request gets a JSON reply, anything else a
/// closed connection.
fn jsonrpc_like(request: &[u8]) -> Option<Vec<u8>> {
    (request.first() == Some(&b'{')).then(|| {
        br#"{"id":0,"result":null,"error":"rpc: can't find service rmicro.Probe"}"#.to_vec()
    })
}

#[test]
fn a_hang_up_names_the_protocol_actually_seen() {
    let address = foreign_server(jsonrpc_like);
    for given in [format!("grpc://{address}"), address.clone()] {
        let output = run(&["call", "-a", &given, "Arith.Multiply", r#"{"A":7,"B":8}"#]);
        assert_exit(&output, 1);
        assert_stderr_has(
            &output,
            &format!("the server speaks Go net/rpc JSON-RPC: use jsonrpc://{address}"),
        );
        assert!(!stderr(&output).contains("grpcs://"), "{}", stderr(&output));
        assert_short(&output);
    }
}

#[test]
fn an_http_server_that_is_not_go_micro_is_one_line_with_its_status() {
    let address = foreign_server(|_| {
        let page = "<!DOCTYPE html>\n<html>\n<head><title>404</title></head>\n<body>\n<h1>Not Found</h1>\n</body>\n</html>\n";
        Some(
            format!(
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{page}",
                page.len()
            )
            .into_bytes(),
        )
    });
    let output = run(&["call", "-a", &address, "Job.CreateJob", "{}"]);
    assert_exit(&output, 1);
    assert_stderr_has(
        &output,
        "404 Not Found (text/html): an HTTP server, but not a go-micro service",
    );
    assert!(!stderr(&output).contains("<html>"), "{}", stderr(&output));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
}
