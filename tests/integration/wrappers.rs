//! google.protobuf wrappers and 64-bit integers read and print the same whatever the
//! protocol: a wrapper as its bare value, an int64 as a JSON number (here one beyond
//! 2^53), over mucp, gRPC, Connect's unary form and JSON-RPC (schema-less and with the
//! schema), as request and as reply.

use crate::support::*;

#[test]
fn wrappers_and_int64_are_bare_values_over_every_protocol() {
    let server = Server::arith(&[]);
    let proto = root().join("interop/jsonrpc/arith.proto");
    let proto = proto.to_str().unwrap();
    let targets = [
        (server.address.clone(), None),
        (format!("grpc://{}", server.address), None),
        (format!("jsonrpc://{}", server.address), None),
        (format!("jsonrpc://{}", server.address), Some(proto)),
    ];
    for (target, schema) in targets {
        let mut args = vec!["call", "-a", &target];
        if let Some(proto) = schema {
            args.extend(["--proto", proto]);
        }
        let greet = run(&[&args[..], &["Arith.Greet", r#""gopher""#]].concat());
        assert_exit(&greet, 0);
        assert_eq!(stdout(&greet), "\"hello, gopher\"\n", "{target} {schema:?}");
        let square = run(&[&args[..], &["Arith.Square", "3000000000"]].concat());
        assert_exit(&square, 0);
        assert_eq!(
            stdout(&square),
            "9000000000000000000\n",
            "{target} {schema:?}"
        );
        // An int64 given as a string (proto3 JSON's canonical form) is read too, except
        // schema-less over JSON-RPC, where the text goes to the server as given.
        if !(target.starts_with("jsonrpc") && schema.is_none()) {
            let square = run(&[&args[..], &["Arith.Square", r#""3""#]].concat());
            assert_exit(&square, 0);
            assert_eq!(stdout(&square), "9\n", "{target} {schema:?}");
        }
    }
    // Connect's unary form, as curl would send it.
    let mut stream = server.connect();
    let reply = exchange(
        &mut stream,
        b"POST /arith.Arith/Greet HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n\"gopher\"",
    );
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.trim_end().ends_with("\"hello, gopher\""), "{reply}");
}
