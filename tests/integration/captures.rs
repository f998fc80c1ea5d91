//! `rmicro call`'s mucp requests against the requests go-micro's own clients sent for the
//! same calls (`../shared/captures/go-micro`, go-micro v1.18 and v5.5 clients): a peer in
//! the test records the bytes rmicro sends, answers with the reply the capture holds for
//! that request, and the two requests are compared header by header and byte by byte.

use crate::support::{assert_exit, assert_stderr_has, peer, read_response, root, run, stdout};
use std::io::{Read, Write};
use std::path::PathBuf;

/// The captures live beside the repository (read-only, present on CI as well).
pub fn captures() -> PathBuf {
    root().join("../shared/captures/go-micro")
}

/// Decodes one of the capture's Python byte literals (`b'..'` or `b".."`, as `repr` writes
/// them: printable ASCII, `\t \n \r \\ \' \"` and `\xNN`).
pub fn python_bytes(literal: &str) -> Vec<u8> {
    let inner = literal
        .strip_prefix("b'")
        .and_then(|rest| rest.strip_suffix('\''))
        .or_else(|| {
            literal
                .strip_prefix("b\"")
                .and_then(|rest| rest.strip_suffix('"'))
        })
        .unwrap_or_else(|| panic!("not a byte literal: {literal}"));
    let mut bytes = Vec::with_capacity(inner.len());
    let mut rest = inner.bytes();
    while let Some(byte) = rest.next() {
        if byte != b'\\' {
            bytes.push(byte);
            continue;
        }
        let escaped = rest.next().expect("an escape is complete");
        bytes.push(match escaped {
            b't' => b'\t',
            b'n' => b'\n',
            b'r' => b'\r',
            b'\\' | b'\'' | b'"' => escaped,
            b'x' => {
                let hex = [rest.next().unwrap(), rest.next().unwrap()];
                u8::from_str_radix(std::str::from_utf8(&hex).unwrap(), 16).unwrap()
            }
            other => panic!("unexpected escape \\{} in {literal}", other as char),
        });
    }
    bytes
}

/// One direction (`C>S` or `S>C`) of one connection of a capture file, chunks joined.
pub fn captured(file: &str, connection: usize, direction: &str) -> Vec<u8> {
    let path = captures().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read the capture {}: {error}", path.display()));
    let mut bytes = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(marker) = line.strip_prefix("=== conn ") else {
            continue;
        };
        let literal = lines.next().expect("a byte literal follows each marker");
        let words: Vec<&str> = marker.split_whitespace().collect();
        if words[0] == connection.to_string() && words[1] == direction && words[2] != "EOF" {
            bytes.extend(python_bytes(literal));
        }
    }
    assert!(
        !bytes.is_empty(),
        "{file} has no {direction} bytes on conn {connection}"
    );
    bytes
}

/// An HTTP/1.1 message split into its start line, headers in wire order, and body.
#[derive(Debug)]
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Message {
    /// The first message of `bytes`; its body by `Content-Length`, which both clients send
    /// for a non-empty body (Go switches to chunked only for an empty one, spec §1.2).
    fn parse(bytes: &[u8]) -> Message {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a complete head");
        let head = std::str::from_utf8(&bytes[..end]).expect("the head is text");
        let mut lines = head.split("\r\n");
        let start = lines.next().unwrap().to_owned();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(": ").expect("name: value");
                (name.to_owned(), value.to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name == "Content-Length")
            .unwrap_or_else(|| panic!("no Content-Length: {head}"))
            .1
            .parse()
            .unwrap();
        let body = bytes[end + 4..end + 4 + length].to_vec();
        Message {
            start,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }

    /// The headers with what legitimately differs between two clients masked, checked
    /// first where it has a rule of its own. Everything else — names, values and order —
    /// must be equal: Go writes Host, User-Agent and the framing header first and then the
    /// rest sorted by name (`http.Header.Write`), which is fixed, so matching it exactly
    /// keeps rmicro's requests diffable against any go-micro capture.
    fn comparable(&self, host: &str) -> Vec<(String, String)> {
        self.headers
            .iter()
            // Only v1–v4.7 clients running inside a named service add it (the caller's own
            // name, spec §2.1); a command-line client has none.
            .filter(|(name, _)| name != "Micro-From-Service")
            .map(|(name, value)| {
                let masked = match name.as_str() {
                    "Host" => {
                        assert_eq!(value, host, "Host is the dialled address");
                        "<dialled address>"
                    }
                    // Go's default client name, rmicro/VERSION here; no server reads it.
                    "User-Agent" => "<client name>",
                    // A per-client sequence number (spec §2.1).
                    "Micro-Id" => {
                        assert!(value.parse::<u64>().is_ok(), "Micro-Id: {value}");
                        "<sequence number>"
                    }
                    "Content-Length" => {
                        assert_eq!(value, &self.body.len().to_string(), "Content-Length");
                        "<body length>"
                    }
                    _ => value,
                };
                (name.clone(), masked.to_owned())
            })
            .collect()
    }

    /// The body a server decodes. go-micro's JSON codec writes with `json.Encoder`, which
    /// appends a newline; its server decodes the first JSON value and ignores the rest
    /// (spec §2.4), and rmicro sends the user's JSON text as given (spec §2.5), so the
    /// newline is the one byte allowed to differ. Protobuf bodies must be identical.
    fn decoded_body(&self) -> &[u8] {
        if self.header("Content-Type") == Some("application/json") {
            self.body.strip_suffix(b"\n").unwrap_or(&self.body)
        } else {
            &self.body
        }
    }
}

/// `rmicro call ARGS` against a peer that records the request and answers with the reply
/// of the capture's `connection`; returns rmicro's output and request.
fn call_recorded(
    file: &str,
    connection: usize,
    args: &[&str],
) -> (std::process::Output, Message, String) {
    let reply = captured(file, connection, "S>C");
    let (address, recorded) = peer(move |mut stream| {
        let request = read_response(&mut stream);
        stream.write_all(&reply).unwrap();
        // One request on the connection: nothing else (no Debug.Endpoints first, the
        // schema is local) may follow before rmicro closes it.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert!(
            rest.is_empty(),
            "more after the call: {}",
            String::from_utf8_lossy(&rest)
        );
        request
    });
    let schema = captures().join("schema/job.proto");
    let mut full = vec!["call", "--address", &address, "-o", "json"];
    let schema = schema.to_string_lossy();
    full.extend(["--proto", &schema]);
    full.extend_from_slice(args);
    let output = run(&full);
    let request = Message::parse(&recorded.join().expect("the peer recorded a request"));
    (output, request, address)
}

#[test]
fn requests_match_go_micro_clients_json_and_protobuf() {
    // (capture, connection, the same call with rmicro, exit, reply printed / error shown)
    let cases: [(&str, usize, &[&str], i32, &str); 4] = [
        (
            "baseline-gm-gm.txt",
            0,
            &[
                "Job.CreateJob",
                r#"{"name":"nightly"}"#,
                "-H",
                "Tenant:acme",
            ],
            0,
            r#"{"code":200,"msg":"created nightly for acme","tasks":[{"id":"1","name":"nightly"}]}"#,
        ),
        (
            "baseline-gm-gm.txt",
            1,
            &[
                "Job.CreateJob",
                r#"{"name":"nightly","hosts":["a","b"]}"#,
                "--content-type",
                "protobuf",
            ],
            0,
            r#"{"code":200,"msg":"created nightly","tasks":[{"id":"1","name":"nightly","hosts":["a","b"]}]}"#,
        ),
        (
            "v5-gmclient-rmicro.txt",
            0,
            &["Job.CreateJob", r#"{"name":"x"}"#, "-H", "tenant:acme"],
            0,
            r#"{"code":200,"msg":"created for acme"}"#,
        ),
        (
            "v5-gmclient-rmicro.txt",
            1,
            &["Job.GetJob", r#"{"id":"8"}"#, "--content-type", "protobuf"],
            64 + 5,
            "NOT_FOUND: job not found",
        ),
    ];
    for (file, connection, args, exit, shown) in cases {
        let go = Message::parse(&captured(file, connection, "C>S"));
        let go_host = go.header("Host").unwrap().to_owned();
        let (output, rmicro, address) = call_recorded(file, connection, args);
        let context = format!("{file} conn {connection}");
        assert_eq!(rmicro.start, go.start, "{context}: request line");
        assert_eq!(rmicro.start, "POST / HTTP/1.1", "{context}");
        assert_eq!(
            rmicro.comparable(&address),
            go.comparable(&go_host),
            "{context}: headers"
        );
        assert_eq!(
            rmicro.decoded_body(),
            go.decoded_body(),
            "{context}: body\nrmicro: {:?}\ngo-micro: {:?}",
            String::from_utf8_lossy(&rmicro.body),
            String::from_utf8_lossy(&go.body)
        );
        assert_exit(&output, exit);
        if exit == 0 {
            assert_eq!(stdout(&output), format!("{shown}\n"), "{context}");
        } else {
            assert_stderr_has(&output, shown);
        }
    }
}

/// `rmicro call` on go-micro's `Job.Watch` (a bidirectional stream): its messages against
/// what go-micro's own client sent (baseline-gm-gm.txt conn 3), against a peer that
/// answers with the go-micro server's captured replies. Requests go out as stdin brings
/// them: the second only once the test has read the first reply.
#[test]
fn a_stream_matches_go_micro_clients_and_is_fed_as_stdin_arrives() {
    use std::io::BufRead;
    let go_sent = captured("baseline-gm-gm.txt", 3, "C>S");
    let go: Vec<Message> = split_messages(&go_sent);
    assert_eq!(go.len(), 4, "header message, m0, m1, EOS");
    let go_host = go[0].header("Host").unwrap().to_owned();
    let replies = split_raw(&captured("baseline-gm-gm.txt", 3, "S>C"));
    let (address, recorded) = peer(move |mut stream| {
        let mut seen = Vec::new();
        for index in 0..4 {
            let message = read_response(&mut stream);
            seen.push(message);
            // The go-micro server's answers to m0 and m1; its EOS after the client's.
            let answer: &[u8] = match index {
                1 => &replies[0],
                2 => &replies[1],
                3 => b"HTTP/1.1 200 OK\r\nMicro-Error: EOS\r\nMicro-Stream: 0\r\nContent-Length: 0\r\n\r\n",
                _ => b"",
            };
            stream.write_all(answer).unwrap();
        }
        seen
    });
    let schema = captures().join("schema/job-stream.proto");
    let mut child = crate::support::rmicro()
        .args([
            "call",
            "Job.Watch",
            "-d",
            "@-",
            "--address",
            &address,
            "-o",
            "json",
        ])
        .arg("--proto")
        .arg(&schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdin.write_all(b"{\"name\":\"m0\"}\n").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "{\"msg\":\"watch m0\"}\n");
    stdin.write_all(b"{\"name\":\"m1\"}\n").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "{\"code\":1,\"msg\":\"watch m1\"}\n");
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 0);
    let rmicro: Vec<Message> = recorded
        .join()
        .unwrap()
        .iter()
        .map(|bytes| Message::parse(bytes))
        .collect();
    for (index, (rmicro, go)) in rmicro.iter().zip(&go).enumerate() {
        assert_eq!(rmicro.start, go.start, "message {index}");
        assert_eq!(
            rmicro.comparable(&address),
            go.comparable(&go_host),
            "message {index}: headers"
        );
        assert_eq!(
            rmicro.decoded_body(),
            go.decoded_body(),
            "message {index}: body"
        );
    }
}

/// The raw HTTP/1.1 messages of a byte run; a chunked body (Go's empty one) taken as
/// `Content-Length: 0`, which is how rmicro frames an empty body.
pub fn split_raw(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a whole head")
            + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        if head.contains("Transfer-Encoding: chunked") {
            assert_eq!(&bytes[end..end + 5], b"0\r\n\r\n", "an empty chunked body");
            let head = head.replace("Transfer-Encoding: chunked", "Content-Length: 0");
            messages.push(head.into_bytes());
            bytes = &bytes[end + 5..];
            continue;
        }
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .map_or(0, |value| value.trim().parse().unwrap());
        messages.push(bytes[..end + length].to_vec());
        bytes = &bytes[end + length..];
    }
    messages
}

fn split_messages(bytes: &[u8]) -> Vec<Message> {
    split_raw(bytes)
        .iter()
        .map(|raw| Message::parse(raw))
        .collect()
}

/// go-micro's JSON dialect both ways (f-lowercamel.txt, e-rmicro-gm-shop.txt): a request
/// typed in proto3 JSON (lowerCamel keys, an enum's name, a quoted int64) goes out with
/// proto field names and numbers, which a go-micro server with plain Go structs reads;
/// the go-micro v1 server's reply (a oneof as `"Payment":{"Card":…}`, a Timestamp as
/// `{"seconds":…}`) is read.
#[test]
fn json_in_go_micros_dialect_both_ways() {
    let shop = root().join("proto-samples/shop.proto");
    let shop = shop.to_string_lossy();
    let call = |file: &str, args: &[&str]| {
        let reply = captured(file, 0, "S>C");
        let (address, recorded) = peer(move |mut stream| {
            let request = read_response(&mut stream);
            stream.write_all(&reply).unwrap();
            request
        });
        let mut full = vec![
            "call",
            "--address",
            &address,
            "--proto",
            &shop,
            "-o",
            "json",
        ];
        full.extend_from_slice(args);
        let output = run(&full);
        (output, Message::parse(&recorded.join().unwrap()))
    };
    let (output, request) = call(
        "f-lowercamel.txt",
        &[
            "Orders.PlaceOrder",
            r#"{"id":"o-3","totalCents":"5","status":"ORDER_STATUS_PENDING"}"#,
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        "{\"id\":\"o-3\",\"status\":1,\"total_cents\":5}\n"
    );
    assert_exit(&output, 0);
    let (output, _) = call(
        "e-rmicro-gm-shop.txt",
        &["Orders.GetOrder", r#"{"id":"o-1001"}"#],
    );
    assert_exit(&output, 0);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(shown["card"]["last4"], "4242", "{shown}");
    assert_eq!(shown["createdAt"], "2026-11-20T09:30:00Z", "{shown}");
    // 64-bit integers print as numbers, exactly (2^53 + 1 survives).
    assert_eq!(shown["totalCents"], 9007199254740993u64, "{shown}");
}

/// `call --content-type` with go-micro's other codecs sends what go-micro's client sent
/// (g-codecs-gomicro.txt, a go-micro v1 client) and reads the go-micro server's answers.
#[test]
fn go_micros_other_codecs_match_go_micro_clients() {
    for (connection, content_type) in [(0, "json-rpc"), (1, "proto-rpc"), (2, "grpc+json")] {
        let file = "g-codecs-gomicro.txt";
        let go = Message::parse(&captured(file, connection, "C>S"));
        let go_host = go.header("Host").unwrap().to_owned();
        let args = [
            "Job.CreateJob",
            r#"{"name":"nightly"}"#,
            "--content-type",
            content_type,
        ];
        let (output, rmicro, address) = call_recorded(file, connection, &args);
        assert_eq!(
            rmicro.comparable(&address),
            go.comparable(&go_host),
            "{content_type}: headers"
        );
        assert_eq!(rmicro.body, go.body, "{content_type}: body");
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            "{\"code\":200,\"msg\":\"created nightly\",\"tasks\":[{\"id\":\"1\",\"name\":\"nightly\"}]}\n",
            "{content_type}"
        );
    }
}

/// After rmicro's EOS, go-micro's server ends a stream in one of two ways besides its
/// own EOS: the handler returned the `io.EOF` its `Recv` gave (the error text `EOF`), or
/// the connection closes. Either is the stream's end, not a failure.
#[test]
fn a_stream_ends_cleanly_when_go_micro_answers_our_end_with_eof_or_a_close() {
    let replies = split_raw(&captured("baseline-gm-gm.txt", 3, "S>C"));
    for closes in [false, true] {
        let first = replies[0].clone();
        let (address, served) = peer(move |mut stream| {
            let _header = read_response(&mut stream);
            let _m0 = read_response(&mut stream);
            stream.write_all(&first).unwrap();
            let end = String::from_utf8_lossy(&read_response(&mut stream)).into_owned();
            if !closes {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nMicro-Error: EOF\r\nMicro-Stream: 0\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest);
            }
            end
        });
        let schema = captures().join("schema/job-stream.proto");
        let output = crate::support::output_with_stdin(
            {
                let mut command = crate::support::rmicro();
                command.args([
                    "call",
                    "Job.Watch",
                    "-d",
                    "@-",
                    "-a",
                    &address,
                    "-o",
                    "json",
                ]);
                command.arg("--proto").arg(&schema);
                command
            },
            b"{\"name\":\"m0\"}\n",
        );
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            "{\"msg\":\"watch m0\"}\n",
            "closes: {closes}"
        );
        assert!(served.join().unwrap().contains("Micro-Error: EOS"));
    }
}
