//! What a hostile or careless client sends must get a precise error while the server goes
//! on serving everyone else (issue: hardening).

use crate::grpc::send_raw_grpc;
use crate::support::{assert_exit, assert_stderr_has, exchange, fixture, json, Server};
use std::io::{Read, Write};

/// Protobuf bodies of `wkt.Holder` that decode but have no JSON form, with the words the
/// refusal must contain.
const NO_JSON_FORM: &[(&str, &[u8])] = &[
    // at: Timestamp { seconds: 253402300800 } — year 10000, past RFC 3339's range.
    ("timestamp", b"\x0a\x07\x08\x80\x83\xd1\xff\xaf\x07"),
    // took: Duration { seconds: 315576000001 } — one second past the JSON range.
    ("duration", b"\x12\x07\x08\x81\x84\xd1\xff\xc9\x09"),
    // value: Value { number_value: NaN }.
    ("nan", b"\x1a\x09\x11\x00\x00\x00\x00\x00\x00\xf8\x7f"),
    // any: Any { type_url: "type.googleapis.com/no.Such" }.
    ("any", b"\x22\x1d\x0a\x1btype.googleapis.com/no.Such"),
];

fn wkt_server() -> Server {
    Server::start(&[
        "--proto",
        &fixture("wkt.proto"),
        "--handlers",
        &fixture("wkt.handlers.json"),
        "--no-register",
    ])
}

fn http1_post(path: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// The server answers a normal exec call, so it is alive and serving.
#[track_caller]
fn still_serving(server: &Server) {
    let output = server.run(&["call", "Wkt.Echo", r#"{"name":"after"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["name"], "after");
}

#[test]
fn a_request_without_a_json_form_is_invalid_argument_over_mucp_connect_and_grpc() {
    let server = wkt_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (what, body) in NO_JSON_FORM {
        // mucp: the go-micro error in Micro-Error, 400 (InvalidArgument).
        let mut stream = server.connect();
        let reply = exchange(
            &mut stream,
            &http1_post(
                "/",
                "Content-Type: application/protobuf\r\nMicro-Service: wkt\r\nMicro-Endpoint: Wkt.Echo\r\nMicro-Method: Wkt.Echo\r\n",
                body,
            ),
        );
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.contains("\"code\":400") && reply.contains("no JSON form"),
            "{what} over mucp: {reply}"
        );

        // Connect's unary form over HTTP/1.1: 400 invalid_argument.
        let reply = exchange(
            &mut stream,
            &http1_post("/wkt.Wkt/Echo", "Content-Type: application/proto\r\n", body),
        );
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.starts_with("HTTP/1.1 400") && reply.contains("invalid_argument"),
            "{what} over Connect: {reply}"
        );

        // gRPC, unary and a bidirectional stream into one exec process.
        let mut framed = vec![0, 0, 0, 0, body.len() as u8];
        framed.extend_from_slice(body);
        for path in ["/wkt.Wkt/Echo", "/wkt.Wkt/Chat"] {
            let (code, message) = runtime.block_on(send_raw_grpc(&server.address, path, &framed));
            assert_eq!(code, "3", "{what} over gRPC {path}: {message}");
            assert!(message.contains("no JSON form"), "{what}: {message}");
        }
        still_serving(&server);
    }
}

/// A mucp server that answers every request with `body` as protobuf.
fn protobuf_answerer(body: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            let mut request = vec![0u8; length];
            let _ = stream.read_exact(&mut request);
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            reply.extend_from_slice(body);
            let _ = stream.write_all(&reply);
        }
    });
    address
}

#[test]
fn a_reply_without_a_json_form_is_a_clear_local_error() {
    for (what, body) in NO_JSON_FORM {
        let address = protobuf_answerer(body);
        let proto = fixture("wkt.proto");
        let call = |extra: &[&str]| {
            let mut args = vec!["call", "--proto", &proto, "--address", &address];
            args.extend(["Wkt.Echo", "{}", "--content-type", "protobuf"]);
            args.extend(extra);
            crate::support::run(&args)
        };
        let output = call(&["--retries", "0"]);
        assert_exit(&output, 1);
        assert_stderr_has(&output, "no JSON form");
        // --output raw shows the body as received: nothing to convert.
        let raw = call(&["--output", "raw"]);
        assert_exit(&raw, 0);
        assert_eq!(raw.stdout, *body, "{what}");
    }
}
