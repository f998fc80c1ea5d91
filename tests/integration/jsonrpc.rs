//! JSON-RPC (Go's net/rpc/jsonrpc) on the shared port: the §10.8 lines and Go's handling
//! of bad input byte for byte over a raw socket, replies out of order on one connection,
//! and `rmicro call` over jsonrpc:// — single calls, errors, timeouts, `--batch`.
//! Go's own client and server are the peers of the interop suite (interop/run.sh).

use crate::support::{
    assert_exit, assert_stderr_has, assert_stdout_has, json, output_with_stdin, rmicro, stdout,
    Server,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw JSON-RPC connection: write lines, read reply lines.
struct Raw {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn open(server: &Server) -> Raw {
        let stream = server.connect();
        Raw {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// One write: a newline arriving after the server closed on the line would
    /// reset the connection and lose what the test reads next.
    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
    }

    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    fn exchange(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }

    /// True when the server closed the connection (EOF with nothing more sent).
    fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        matches!(self.reader.read_to_end(&mut rest), Ok(0))
    }
}

#[test]
fn vector_10_8_lines_are_go_byte_for_byte() {
    let server = Server::arith(&[]);
    let mut raw = Raw::open(&server);
    let cases = [
        (
            r#"{"method":"Arith.Fixed","params":[{"A":7,"B":8}],"id":0}"#,
            "{\"id\":0,\"result\":{\"value\":56},\"error\":null}\n",
        ),
        (
            r#"{"method":"Nope.X","params":[{"A":7,"B":0}],"id":2}"#,
            "{\"id\":2,\"result\":null,\"error\":\"rpc: can't find service Nope.X\"}\n",
        ),
        (
            r#"{"method":"Arith.Nope","params":[{"A":7,"B":0}],"id":3}"#,
            "{\"id\":3,\"result\":null,\"error\":\"rpc: can't find method Arith.Nope\"}\n",
        ),
        (
            r#"{"method":"NoDot","params":[{"A":7,"B":0}],"id":4}"#,
            "{\"id\":4,\"result\":null,\"error\":\"rpc: service/method request ill-formed: NoDot\"}\n",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(raw.exchange(request), expected, "reply to {request}");
    }
}

#[test]
fn ids_are_echoed_as_sent_and_bad_requests_keep_the_connection() {
    let server = Server::arith(&[]);
    let mut raw = Raw::open(&server);
    let cases = [
        // Any JSON value is an id; a missing one is null.
        (
            r#"{"method":"Arith.Fixed","params":[{"a":7,"b":8}],"id":"abc"}"#,
            "{\"id\":\"abc\",\"result\":{\"value\":56},\"error\":null}\n",
        ),
        (
            r#"{"method":"Arith.Fixed","params":[{"a":7,"b":8}]}"#,
            "{\"id\":null,\"result\":{\"value\":56},\"error\":null}\n",
        ),
        // Go ignores keys it does not know and matches field names in any case.
        (
            r#"{"Method":"Arith.Fixed","params":[{"A":7,"b":8,"C":1}],"id":1,"jsonrpc":"1.0"}"#,
            "{\"id\":1,\"result\":{\"value\":56},\"error\":null}\n",
        ),
        (
            r#"{"method":"Arith.Fixed","params":{"A":1},"id":2}"#,
            "{\"id\":2,\"result\":null,\"error\":\"json: cannot unmarshal object into Go value of type [1]interface {}\"}\n",
        ),
        (
            r#"{"method":"Arith.Fixed","id":3}"#,
            "{\"id\":3,\"result\":null,\"error\":\"jsonrpc: request body missing params\"}\n",
        ),
        (
            r#"{"params":[{}],"id":4}"#,
            "{\"id\":4,\"result\":null,\"error\":\"rpc: service/method request ill-formed: \"}\n",
        ),
        (
            r#"{"method":"Arith.Fixed","params":[5],"id":5}"#,
            "{\"id\":5,\"result\":null,\"error\":\"json: cannot unmarshal number into Go value of type arith.Args\"}\n",
        ),
        // A handler error travels as its text (Go's errors have no codes).
        (
            r#"{"method":"Arith.Fixed","params":[{"a":1,"b":2}],"id":6}"#,
            "{\"id\":6,\"result\":null,\"error\":\"only 7 × 8 is known\"}\n",
        ),
        // Empty params: the zero request.
        (
            r#"{"method":"Arith.Fixed","params":[],"id":7}"#,
            "{\"id\":7,\"result\":null,\"error\":\"only 7 × 8 is known\"}\n",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(raw.exchange(request), expected, "reply to {request}");
    }
    let reply = raw.exchange(r#"{"method":"Arith.Fixed","params":[{"a":"x"}],"id":8}"#);
    assert!(
        reply.starts_with(
            "{\"id\":8,\"result\":null,\"error\":\"json: cannot decode arith.Args: field `a`"
        ),
        "{reply}"
    );
    // Still the same connection.
    assert_eq!(
        raw.exchange(r#"{"method":"Arith.Fixed","params":[{"a":7,"b":8}],"id":9}"#),
        "{\"id\":9,\"result\":{\"value\":56},\"error\":null}\n"
    );
}

#[test]
fn an_undecodable_request_ends_the_connection_as_in_go_and_others_are_served() {
    let server = Server::arith(&[]);
    for garbage in [
        r#"{"method": }}"#,
        r#"{"method":42,"params":[{}],"id":1}"#,
        r#"[1,2]"#,
        r#"{"method":"Arith.Fixed","params":[{}],"id":1} 42"#,
    ] {
        let mut raw = Raw::open(&server);
        raw.send(garbage);
        if garbage.ends_with(" 42") {
            // The request before the scalar is still answered.
            assert!(raw.reply().starts_with("{\"id\":1,"), "{garbage}");
        }
        assert!(raw.is_closed(), "connection open after {garbage}");
    }
    // A value cut off by the client's EOF: no reply, no crash.
    let mut raw = Raw::open(&server);
    raw.writer
        .write_all(br#"{"method":"Arith.Fixed","par"#)
        .unwrap();
    raw.writer.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(raw.is_closed());
    let mut raw = Raw::open(&server);
    assert_eq!(
        raw.exchange(r#"{"method":"Arith.Fixed","params":[{"a":7,"b":8}],"id":1}"#),
        "{\"id\":1,\"result\":{\"value\":56},\"error\":null}\n"
    );
}

#[test]
fn a_request_over_the_size_limit_is_refused_with_a_reason_and_the_connection_closed() {
    let server = Server::arith(&["--max-message-size", "1K"]);
    let mut raw = Raw::open(&server);
    let padding = "x".repeat(2000);
    raw.send(&format!(
        r#"{{"method":"Arith.Fixed","params":[{{"a":7,"pad":"{padding}"}}],"id":1}}"#
    ));
    let reply = raw.reply();
    assert!(
        reply.starts_with("{\"id\":null,\"result\":null,\"error\":\"rpc: server cannot decode request: request larger than 1024 bytes"),
        "{reply}"
    );
    assert!(raw.is_closed());
}

#[test]
fn replies_leave_as_calls_complete_not_in_request_order() {
    let server = Server::arith(&[]);
    let mut raw = Raw::open(&server);
    // Slow answers after 300 ms; the Fixed call sent after it must overtake it.
    raw.send(r#"{"method":"Arith.Slow","params":[{}],"id":1}"#);
    raw.send(r#"{"method":"Arith.Fixed","params":[{"a":7,"b":8}],"id":2}"#);
    assert!(raw.reply().starts_with("{\"id\":2,"));
    assert_eq!(
        raw.reply(),
        "{\"id\":1,\"result\":{\"value\":1},\"error\":null}\n"
    );
}

#[test]
fn a_call_in_flight_at_sigterm_is_answered() {
    let server = Server::arith(&[]);
    let mut raw = Raw::open(&server);
    raw.send(r#"{"method":"Arith.Slow","params":[{}],"id":7}"#);
    std::thread::sleep(Duration::from_millis(100));
    let reader = std::thread::spawn(move || (raw.reply(), raw.is_closed()));
    let (status, _) = server.terminate();
    assert!(status.success());
    let (reply, closed) = reader.join().unwrap();
    assert_eq!(
        reply,
        "{\"id\":7,\"result\":{\"value\":1},\"error\":null}\n"
    );
    assert!(closed);
}

#[test]
fn call_over_jsonrpc_prints_the_result_and_maps_errors_to_exit_codes() {
    let server = Server::arith(&[]);
    let address = format!("jsonrpc://{}", server.address);
    let call = |args: &[&str]| {
        rmicro()
            .args(["call", "--address", &address])
            .args(args)
            .output()
            .unwrap()
    };
    // Schema-less: params[0] is DATA as written, the result printed as received.
    let output = call(&["Arith.Divide", r#"{"A":17,"B":5}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output), serde_json::json!({"quo": 3, "rem": 2}));

    let output = call(&["Arith.Divide", r#"{"A":1,"B":0}"#]);
    assert_exit(&output, 64 + 2); // a Go error string is Unknown
    assert_stderr_has(&output, "divide by zero");

    let output = call(&["Arith.Nope", "{}"]);
    assert_exit(&output, 64 + 12);
    assert_stderr_has(&output, "rpc: can't find method Arith.Nope");

    // With a schema, DATA is checked before anything is sent.
    let proto = crate::support::root().join("interop/jsonrpc/arith.proto");
    let output = call(&[
        "--proto",
        &proto.to_string_lossy(),
        "Arith.Multiply",
        r#"{"a":"seven"}"#,
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "does not fit arith.Args");
    let output = call(&[
        "--proto",
        &proto.to_string_lossy(),
        "arith.Arith/Multiply",
        r#"{"a":6,"b":7}"#,
    ]);
    assert_exit(&output, 0);
    assert_eq!(json(&output), serde_json::json!({"value": 42}));

    // --protocol says the same as the scheme; a contradiction is a usage error.
    let output = rmicro()
        .args(["call", "--protocol", "jsonrpc", "-a", &server.address])
        .args(["Arith.Fixed", r#"{"a":7,"b":8}"#])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let output = call(&["--protocol", "mucp", "Arith.Fixed", "{}"]);
    assert_exit(&output, 2);

    // Inspection goes through the Debug service over JSON-RPC too.
    let output = rmicro()
        .args(["list", "--output", "json", "-a", &address])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_stdout_has(&output, "Arith.Multiply");
}

#[test]
fn call_over_jsonrpc_times_out_and_retries() {
    let server = Server::arith(&[]);
    let output = rmicro()
        .args(["call", "-a", &format!("jsonrpc://{}", server.address)])
        .args([
            "--timeout",
            "100ms",
            "--retries",
            "1",
            "--backoff",
            "none",
            "-v",
        ])
        .args(["Arith.Slow", "{}"])
        .output()
        .unwrap();
    assert_exit(&output, 64 + 4);
    assert_stderr_has(&output, "attempt 2/2");
}

fn batch(server: &Server, scheme: &str, input: &str, extra: &[&str]) -> std::process::Output {
    let mut command = rmicro();
    command
        .args([
            "call",
            "--batch",
            "-a",
            &format!("{scheme}://{}", server.address),
        ])
        .args(extra);
    output_with_stdin(command, input.as_bytes())
}

#[test]
fn batch_answers_every_line_in_input_order_over_each_protocol() {
    let server = Server::arith(&[]);
    // The slow first line must still come out first.
    let mut input = String::from("{\"a\":0}\n");
    for n in 1..200 {
        input.push_str(&format!("{{\"a\":{n},\"b\":{}}}\n", n % 3));
    }
    for scheme in ["jsonrpc", "mucp"] {
        let output = batch(
            &server,
            scheme,
            &input.replace("{\"a\":0}", "{}"),
            &["Arith.Slow"],
        );
        assert_exit(&output, 0);
        // Arith.Slow's reply prints the same over both protocols (64-bit integers as
        // numbers).
        let slow = "{\"value\":1}";
        let printed = stdout(&output);
        assert_eq!(printed.lines().count(), 200, "{scheme}");
        for (n, line) in printed.lines().enumerate() {
            assert_eq!(line, slow, "{scheme}: line {}", n + 1);
        }
    }
    let lines = "{\"a\":7,\"b\":8}\n{\"a\":1}\n\nnot json\n{\"a\":7,\"b\":8}\n";
    // Over JSON-RPC the call is schema-less and the result is printed as Go's server sent
    // it (a number); over mucp it is read through the schema (int64 as a string). The
    // handler's INVALID_ARGUMENT travels over JSON-RPC as text only, so it is Unknown there.
    // A line that is not JSON fails locally: a message, no RPC status.
    let expected = [
        (
            "jsonrpc",
            64 + 2,
            serde_json::json!([
                {"value": 56},
                {"error": {"code": 2, "status": "UNKNOWN", "message": "only 7 × 8 is known"}},
                {"error": {"message": "the request is not valid JSON: expected ident at line 1 column 2"}},
                {"value": 56},
            ]),
        ),
        (
            "mucp",
            64 + 3,
            serde_json::json!([
                {"value": 56},
                {"error": {"code": 3, "status": "INVALID_ARGUMENT", "message": "only 7 × 8 is known"}},
                {"error": {"message": "the request is not valid JSON: expected ident at line 1 column 2"}},
                {"value": 56},
            ]),
        ),
    ];
    for (scheme, exit, replies) in expected {
        let output = batch(
            &server,
            scheme,
            lines,
            &["Arith.Fixed", "--concurrency", "3"],
        );
        assert_exit(&output, exit);
        let printed: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        // Blank lines are skipped: four replies for four requests.
        assert_eq!(serde_json::Value::from(printed), replies, "{scheme}");
        assert_stderr_has(&output, "2 of 4 calls failed; the first was line 2");
    }
}

/// A Go `net/rpc` server played by the test: records each request line it reads on the
/// one connection and answers `{"id":…,"result":A×B,"error":null}` as Go's server
/// writes it, until `lines` requests are answered; then nothing more may arrive.
fn recording_multiplier(lines: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    crate::support::peer(move |stream| {
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut seen = Vec::new();
        for _ in 0..lines {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let request: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line:?}"));
            let params = &request["params"][0];
            let product = params["A"].as_i64().unwrap() * params["B"].as_i64().unwrap();
            let reply = format!(
                "{{\"id\":{},\"result\":{product},\"error\":null}}\n",
                request["id"]
            );
            writer.write_all(reply.as_bytes()).unwrap();
            seen.push(line);
        }
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "", "more requests than expected");
        seen
    })
}

#[test]
fn call_sends_go_clients_request_line_with_ids_from_0() {
    // Go's jsonrpc client writes exactly this for Arith.Multiply(&Args{7, 8}) as its first
    // call (spec §10.8): keys in this order, compact, id 0, one newline.
    let (address, recorded) = recording_multiplier(1);
    let output = rmicro()
        .args(["call", "-a", &format!("jsonrpc://{address}")])
        .args(["Arith.Multiply", r#"{"A":7,"B":8}"#])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "56\n");
    assert_eq!(
        recorded.join().unwrap(),
        ["{\"method\":\"Arith.Multiply\",\"params\":[{\"A\":7,\"B\":8}],\"id\":0}\n"]
    );

    // --batch: three calls on the one connection, numbered 0, 1, 2 as Go's client numbers
    // its calls (they may be written in any order, being concurrent).
    let (address, recorded) = recording_multiplier(3);
    let mut command = rmicro();
    command.args(["call", "--batch", "-a", &format!("jsonrpc://{address}")]);
    command.arg("Arith.Multiply");
    let output = output_with_stdin(
        command,
        b"{\"A\":2,\"B\":3}\n{\"A\":4,\"B\":5}\n{\"A\":6,\"B\":7}\n",
    );
    assert_exit(&output, 0);
    assert_eq!(stdout(&output), "6\n20\n42\n");
    let mut sent: Vec<(u64, String)> = recorded
        .join()
        .unwrap()
        .iter()
        .map(|line| {
            let request: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                request["id"].as_u64().expect("a numeric id"),
                request["params"][0].to_string(),
            )
        })
        .collect();
    sent.sort();
    let ids: Vec<u64> = sent.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [0, 1, 2], "{sent:?}");
}
