//! Raw-bytes tests: the test vectors of protocols/go-micro.md §10.1–§10.3 sent over a
//! plain TCP socket, replies compared byte for byte; keep-alive, chunked bodies and bad
//! input on the wire.

use crate::support::{exchange, is_closed, read_response, Server};
use std::io::Write;

/// §10.1 request, as a go-micro v4.6+ client sends it.
const JSON_CALL: &[u8] = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 16\r\nAccept: application/json\r\nContent-Type: application/json\r\nMicro-Endpoint: Helloworld.Call\r\nMicro-Id: 0\r\nMicro-Method: Helloworld.Call\r\nMicro-Service: helloworld\r\nTimeout: 5000000000\r\n\r\n{\"name\":\"John\"}\n";

/// §10.2 request.
const PROTO_CALL: &[u8] = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 6\r\nAccept: application/protobuf\r\nContent-Type: application/protobuf\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Id: 0\r\nMicro-Method: Greeter.Hello\r\nMicro-Service: greeter\r\nTimeout: 5000000000\r\n\r\n\n\x04John";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn vector_10_1_json_unary_call() {
    let server = Server::greeter(&[]);
    let reply = exchange(&mut server.connect(), JSON_CALL);
    // The §10.1 reply of a v4.10+ server, plus the X-Micro-Id that v1–v4.9 servers add.
    let expected = "HTTP/1.1 200 OK\r\nContent-Length: 21\r\nAccept: application/json\r\nContent-Type: application/json\r\nMicro-Endpoint: Helloworld.Call\r\nMicro-Id: 0\r\nMicro-Method: Helloworld.Call\r\nMicro-Service: helloworld\r\nTimeout: 5000000000\r\nUser-Agent: Go-http-client/1.1\r\nX-Micro-Id: 0\r\n\r\n{\"msg\":\"Hello John\"}\n";
    assert_eq!(text(&reply), expected);
}

#[test]
fn vector_10_2_protobuf_unary_call_is_byte_identical() {
    let server = Server::greeter(&[]);
    let reply = exchange(&mut server.connect(), PROTO_CALL);
    let expected: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nAccept: application/protobuf\r\nContent-Type: application/protobuf\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Id: 0\r\nMicro-Method: Greeter.Hello\r\nMicro-Service: greeter\r\nTimeout: 5000000000\r\nUser-Agent: Go-http-client/1.1\r\nX-Micro-Id: 0\r\n\r\n\n\nHello John";
    assert_eq!(text(&reply), text(expected));
}

#[test]
fn vector_10_3_handler_error_is_byte_identical() {
    let server = Server::greeter(&[]);
    let request = text(JSON_CALL)
        .replace("Content-Length: 16", "Content-Length: 15")
        .replace("{\"name\":\"John\"}\n", "{\"name\":\"bob\"}\n");
    let reply = exchange(&mut server.connect(), request.as_bytes());
    let error =
        r#"{"id":"helloworld","code":404,"detail":"user bob not found","status":"Not Found"}"#;
    let expected = format!("HTTP/1.1 200 OK\r\nAccept: application/json\r\nContent-Type: application/json\r\nMicro-Endpoint: Helloworld.Call\r\nMicro-Error: {error}\r\nMicro-Id: 0\r\nMicro-Method: Helloworld.Call\r\nMicro-Service: helloworld\r\nTimeout: 5000000000\r\nUser-Agent: Go-http-client/1.1\r\nX-Micro-Error: {error}\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(text(&reply), expected);
}

#[test]
fn vector_10_3_router_errors_are_go_micro_texts() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    for (endpoint, error) in [
        ("Foo.Bar", "rpc: can't find service Foo"),
        ("Greeter.Nope", "rpc: can't find method Nope"),
        (
            "helloworld.Helloworld.Call",
            "rpc: service/endpoint request ill-formed: helloworld.Helloworld.Call",
        ),
    ] {
        let request = text(JSON_CALL).replace("Helloworld.Call", endpoint);
        let reply = text(&exchange(&mut stream, request.as_bytes()));
        assert!(
            reply.contains(&format!("\r\nMicro-Error: {error}\r\n")),
            "{endpoint}: {reply}"
        );
        assert!(reply.ends_with("Content-Length: 0\r\n\r\n"), "{reply}");
    }
}

#[test]
fn vector_10_3_unsupported_content_type_from_curl() {
    let server = Server::greeter(&[]);
    let request = b"POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nContent-Type: text/xml\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: 4\r\n\r\n<x/>";
    let mut stream = server.connect();
    let reply = text(&exchange(&mut stream, request));
    // go-micro's answer, and the error in Micro-Error too, so that no client takes the
    // text for a reply (a go-micro client would read it as a frame or a success).
    assert!(
        reply.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 34\r\nAccept: */*\r\nContent-Type: text/plain\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Error: {\"id\":\"greeter\",\"code\":415,\"detail\":\"unsupported Content-Type: text/xml (rmicro serves application/json, "),
        "{reply}"
    );
    assert!(
        reply.ends_with("\r\nUser-Agent: curl/8.0\r\nX-Micro-Error: {\"id\":\"greeter\",\"code\":415,\"detail\":\"unsupported Content-Type: text/xml (rmicro serves application/json, application/protobuf, application/octet-stream, application/json-rpc, application/proto-rpc, application/grpc, application/grpc+proto, application/grpc+json)\",\"status\":\"Unsupported Media Type\"}\r\n\r\nunsupported Content-Type: text/xml"),
        "{reply}"
    );
    // The connection stays open, as go-micro's does.
    assert!(text(&exchange(&mut stream, PROTO_CALL)).ends_with("\n\nHello John"));
}

#[test]
fn debug_health_over_chunked_empty_protobuf_body() {
    let server = Server::greeter(&[]);
    let request = b"POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: Go-http-client/1.1\r\nTransfer-Encoding: chunked\r\nAccept: application/protobuf\r\nContent-Type: application/protobuf\r\nMicro-Endpoint: Debug.Health\r\nMicro-Id: 0\r\nMicro-Method: Debug.Health\r\nMicro-Service: greeter\r\n\r\n0\r\n\r\n";
    let reply = exchange(&mut server.connect(), request);
    assert!(reply.ends_with(b"\r\n\r\n\x0a\x02ok"), "{}", text(&reply));
    assert!(text(&reply).starts_with("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n"));
}

#[test]
fn debug_health_over_json_matches_go_micro() {
    let server = Server::greeter(&[]);
    let request = text(JSON_CALL)
        .replace("Helloworld.Call", "Debug.Health")
        .replace("Content-Length: 16", "Content-Length: 3")
        .replace("{\"name\":\"John\"}\n", "{}\n");
    let reply = text(&exchange(&mut server.connect(), request.as_bytes()));
    assert!(reply.ends_with("\r\n\r\n{\"status\":\"ok\"}\n"), "{reply}");
}

#[test]
fn keep_alive_sequence_echoes_the_first_request() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    let first = text(&exchange(&mut stream, JSON_CALL));
    assert!(first.ends_with("{\"msg\":\"Hello John\"}\n"));
    // Go clients send the next request on the same connection with the next id.
    let second_request = text(PROTO_CALL).replace("Micro-Id: 0", "Micro-Id: 1");
    let second = text(&exchange(&mut stream, second_request.as_bytes()));
    assert!(second.ends_with("\n\nHello John"), "{second}");
    // Headers are the first request's, overlaid with the message's own (spec §1.4).
    assert!(
        second.contains("\r\nMicro-Endpoint: Helloworld.Call\r\n"),
        "{second}"
    );
    assert!(
        second.contains("\r\nContent-Type: application/protobuf\r\n"),
        "{second}"
    );
    assert!(
        second.contains("\r\nMicro-Id: 1\r\n") && second.contains("\r\nX-Micro-Id: 1\r\n"),
        "{second}"
    );
    let third = text(&exchange(&mut stream, JSON_CALL));
    assert!(third.ends_with("{\"msg\":\"Hello John\"}\n"), "{third}");
}

#[test]
fn connection_close_is_honoured() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    let request = text(JSON_CALL).replace(
        "Timeout: 5000000000",
        "Connection: close\r\nTimeout: 5000000000",
    );
    assert!(
        text(&exchange(&mut stream, request.as_bytes())).ends_with("{\"msg\":\"Hello John\"}\n")
    );
    assert!(is_closed(&mut stream));
}

#[test]
fn malformed_json_and_wrong_types_are_errors_and_the_connection_survives() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    for (body, needle) in [
        ("{\"name\":", "EOF"),
        ("{\"name\":5}", "invalid type"),
        ("{\"nmae\":\"x\"}", "nmae"),
    ] {
        let request = text(JSON_CALL)
            .replace(
                "Content-Length: 16",
                &format!("Content-Length: {}", body.len()),
            )
            .replace("{\"name\":\"John\"}\n", body);
        let reply = text(&exchange(&mut stream, request.as_bytes()));
        let error = reply
            .lines()
            .find(|line| line.starts_with("Micro-Error: "))
            .unwrap_or_else(|| panic!("no error for {body}: {reply}"));
        assert!(
            error.contains("\"code\":400") && error.contains(needle),
            "{body}: {error}"
        );
    }
    assert!(text(&exchange(&mut stream, JSON_CALL)).ends_with("{\"msg\":\"Hello John\"}\n"));
}

#[test]
fn truncated_body_gets_an_error_and_others_are_still_served() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    let request = text(JSON_CALL).replace("Content-Length: 16", "Content-Length: 64");
    stream.write_all(request.as_bytes()).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let reply = text(&read_response(&mut stream));
    assert!(
        reply.contains("truncated message") && reply.contains("\"code\":400"),
        "{reply}"
    );
    assert!(is_closed(&mut stream));
    assert!(
        text(&exchange(&mut server.connect(), JSON_CALL)).ends_with("{\"msg\":\"Hello John\"}\n")
    );
}

#[test]
fn body_over_the_size_limit_is_refused() {
    let server = Server::greeter(&["--max-message-size", "1KiB"]);
    let mut stream = server.connect();
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(2000));
    let request = text(JSON_CALL)
        .replace(
            "Content-Length: 16",
            &format!("Content-Length: {}", big.len()),
        )
        .replace("{\"name\":\"John\"}\n", &big);
    let reply = text(&exchange(&mut stream, request.as_bytes()));
    assert!(
        reply.contains("\"code\":413") && reply.contains("exceeds the limit of 1024 bytes"),
        "{reply}"
    );
    assert!(
        text(&exchange(&mut server.connect(), JSON_CALL)).ends_with("{\"msg\":\"Hello John\"}\n")
    );
}

#[test]
fn garbage_gets_400_bad_request() {
    let server = Server::greeter(&[]);
    let mut stream = server.connect();
    let reply = text(&exchange(&mut stream, b"GARBAGE\x01\x02 nonsense\r\n\r\n"));
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(
        text(&exchange(&mut server.connect(), JSON_CALL)).ends_with("{\"msg\":\"Hello John\"}\n")
    );
}
