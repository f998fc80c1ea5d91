//! What go-micro's clients sent to a go-micro server, replayed byte for byte to `rmicro
//! serve`, whose answers must be the go-micro server's (`../shared/captures/go-micro`):
//! every codec go-micro has, and a whole `Job.Watch` stream. The handlers file gives the
//! replies the captured go-micro handlers made.

use crate::captures::{captured, captures};
use crate::support::{assert_exit, exchange, fixture, is_closed, read_response, Server};
use std::io::Write;
use std::net::TcpStream;

fn job_server() -> Server {
    let proto = captures().join("schema/job-stream.proto");
    Server::start(&[
        "--proto",
        &proto.to_string_lossy(),
        "--handlers",
        &fixture("gomicro-job.handlers.json"),
        "--no-register",
    ])
}

/// The HTTP/1.1 messages of a byte run, each cut at its `Content-Length`.
fn messages(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a whole head")
            + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .map_or(0, |value| value.trim().parse().unwrap());
        messages.push(bytes[..end + length].to_vec());
        bytes = &bytes[end + length..];
    }
    messages
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_go_micro_codec_is_answered_as_go_micro_answers() {
    let server = job_server();
    // g-codecs-gomicro.txt: json-rpc, proto-rpc and grpc+json from a go-micro v1 client,
    // and the go-micro v1 server's answers.
    for connection in 0..3 {
        let request = captured("g-codecs-gomicro.txt", connection, "C>S");
        let expected = captured("g-codecs-gomicro.txt", connection, "S>C");
        let mut stream = server.connect();
        let reply = exchange(&mut stream, &request);
        assert_eq!(
            text(&reply),
            text(&expected),
            "conn {connection}: rmicro's answer differs from go-micro's"
        );
        if text(&request).contains("application/grpc") {
            // go-micro closes the connection after a gRPC-framed request.
            assert!(is_closed(&mut stream), "conn {connection} stays open");
        }
    }
}

#[test]
fn grpc_framing_and_raw_bytes_in_a_mucp_body() {
    let server = job_server();
    // The captured grpc+json request with the other gRPC subtypes and octet-stream: the
    // same message in protobuf (Task{name:"nightly"}).
    let request = text(&captured("g-codecs-gomicro.txt", 2, "C>S"));
    let proto_task = b"\x12\x07nightly";
    let proto_reply: &[u8] = b"\x08\xc8\x01\x12\x0fcreated nightly\x1a\x0c\n\x011\x12\x07nightly";
    for (content_type, framed) in [
        ("application/grpc", true),
        ("application/grpc+proto", true),
        ("application/octet-stream", false),
    ] {
        let mut body = Vec::new();
        if framed {
            body.extend_from_slice(&[0, 0, 0, 0, proto_task.len() as u8]);
        }
        body.extend_from_slice(proto_task);
        let head = request
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .replace("application/grpc+json", content_type)
            .replace(
                "Content-Length: 23",
                &format!("Content-Length: {}", body.len()),
            );
        let mut bytes = format!("{head}\r\n\r\n").into_bytes();
        bytes.extend_from_slice(&body);
        let reply = exchange(&mut server.connect(), &bytes);
        let mut expected_body = Vec::new();
        if framed {
            expected_body.extend_from_slice(&[0, 0, 0, 0, proto_reply.len() as u8]);
        }
        expected_body.extend_from_slice(proto_reply);
        assert!(
            reply.ends_with(&expected_body),
            "{content_type}: {}",
            text(&reply)
        );
        let head = text(&reply);
        assert!(
            head.contains(&format!("\r\nContent-Type: {content_type}\r\n")),
            "{head}"
        );
        assert_eq!(head.contains("\r\nGrpc-Status: 0\r\n"), framed, "{head}");
        assert!(!head.contains("Micro-Error"), "{head}");
    }
}

#[test]
fn a_go_micro_stream_is_served_as_go_micro_serves_it() {
    let server = job_server();
    // A go-micro v1 client's Job.Watch (bidirectional) with a go-micro v1 server.
    let sent = go_micro_watch_chunks();
    let answers = messages(&captured("baseline-gm-gm.txt", 3, "S>C"));
    assert_eq!(answers.len(), 2);
    let mut stream: TcpStream = server.connect();
    // The first chunk holds the stream's header message (its `{}` dropped) and m0.
    stream.write_all(&sent[0]).unwrap();
    assert_eq!(text(&read_response(&mut stream)), text(&answers[0]));
    stream.write_all(&sent[1]).unwrap();
    assert_eq!(text(&read_response(&mut stream)), text(&answers[1]));
    // The client's EOS: go-micro's server says no more; rmicro ends the stream with EOS
    // (a go-micro client has closed by then; an rmicro client that half-closed reads it).
    stream.write_all(&sent[2]).unwrap();
    let end = text(&read_response(&mut stream));
    assert!(end.contains("\r\nMicro-Error: EOS\r\n"), "{end}");
    assert!(end.contains("\r\nMicro-Stream: 0\r\n"), "{end}");
    assert!(end.ends_with("Content-Length: 0\r\n\r\n"), "{end}");

    // d-stream.txt conn 1: the same stream in protobuf, its header message chunked empty.
    let request = captured("d-stream.txt", 1, "C>S");
    let mut stream = server.connect();
    stream.write_all(&request).unwrap();
    let reply = read_response(&mut stream);
    assert!(
        reply.ends_with(b"\r\n\r\n\x12\x08watch m0"),
        "{}",
        text(&reply)
    );
    assert!(text(&reply).contains("\r\nX-Micro-Endpoint: Job.Watch\r\n"));
}

/// baseline-gm-gm.txt conn 3: a go-micro v1 client's Job.Watch stream, in the chunks it
/// sent: the header message with m0, then m1, then its EOS.
fn go_micro_watch_chunks() -> Vec<Vec<u8>> {
    let file = std::fs::read_to_string(captures().join("baseline-gm-gm.txt")).unwrap();
    let mut sent = Vec::new();
    let mut lines = file.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("=== conn 3 C>S") && !line.contains("EOF") {
            sent.push(crate::captures::python_bytes(lines.next().unwrap()));
        }
    }
    assert_eq!(sent.len(), 3, "the header message and m0, m1, then EOS");
    sent
}

/// A handler's reply headers go out on every message of a go-micro stream as they stand
/// when it goes out (set again at each turn), and its trailers, mucp having none, on the
/// stream's end: from stub rules (`headers`, `trailers`) and exec lines (`@headers`).
#[test]
fn handler_headers_go_out_on_mucp_stream_replies() {
    let dir = tempfile::tempdir().unwrap();
    let stub = crate::support::write_temp(
        dir.path(),
        "stub.handlers.json",
        br#"{"Job.Watch": {"headers": {"x-turn": "{{request.name}}"}, "trailers": {"x-last": "{{request.name}}"}, "reply": {"msg": "watch {{request.name}}"}}}"#,
    );
    let exec = crate::support::write_temp(
        dir.path(),
        "exec.handlers.json",
        br#"{"Job.Watch": {"exec": ["python3", "-c", "import json, sys\nfor line in sys.stdin:\n    name = json.loads(line)['name']\n    print(json.dumps({'msg': 'watch ' + name, '@headers': {'x-turn': name}, '@trailers': {'x-last': name}}), flush=True)"]}}"#,
    );
    let proto = captures().join("schema/job-stream.proto");
    let proto = proto.to_string_lossy();
    for handlers in [stub, exec] {
        let server = Server::start(&["--proto", &proto, "--handlers", &handlers, "--no-register"]);
        let sent = go_micro_watch_chunks();
        let mut stream: TcpStream = server.connect();
        let mut replies = Vec::new();
        for (chunk, turn) in sent[..2].iter().zip(["m0", "m1"]) {
            stream.write_all(chunk).unwrap();
            let reply = text(&read_response(&mut stream)).to_lowercase();
            assert!(
                reply.contains(&format!("\r\nx-turn: {turn}\r\n")),
                "{handlers}: {reply}"
            );
            // Trailers wait for the end.
            assert!(!reply.contains("x-last"), "{handlers}: {reply}");
            replies.push(reply);
        }
        assert!(
            replies[1].ends_with("{\"msg\":\"watch m1\"}\n"),
            "{}",
            replies[1]
        );
        stream.write_all(&sent[2]).unwrap();
        let end = text(&read_response(&mut stream)).to_lowercase();
        assert!(
            end.contains("\r\nmicro-error: eos\r\n"),
            "{handlers}: {end}"
        );
        assert!(end.contains("\r\nx-turn: m1\r\n"), "{handlers}: {end}");
        assert!(end.contains("\r\nx-last: m1\r\n"), "{handlers}: {end}");
    }
}

/// `rmicro call` with a schema that says an endpoint is unary, to an rmicro server whose
/// schema says it streams: the server's refusal reaches the user with what to do.
#[test]
fn a_plain_request_refused_because_the_endpoint_streams_says_to_pass_the_schema() {
    let server = job_server();
    let dir = tempfile::tempdir().unwrap();
    let stream_proto = std::fs::read_to_string(captures().join("schema/job-stream.proto")).unwrap();
    let unary = stream_proto.replace(
        "rpc Watch(stream Task) returns (stream Response);",
        "rpc Watch(Task) returns (Response);",
    );
    assert_ne!(unary, stream_proto);
    let proto = crate::support::write_temp(dir.path(), "job.proto", unary.as_bytes());
    let output = server.run(&["call", "Job.Watch", r#"{"name":"m0"}"#, "--proto", &proto]);
    assert_exit(&output, 67);
    crate::support::assert_stderr_has(&output, "Job.Watch streams: call it as a go-micro stream");
    crate::support::assert_stderr_has(&output, "no schema it had said the endpoint streams: pass the server's (--proto or --descriptor-set)");
}

#[test]
fn a_stream_endpoint_called_as_a_plain_request_is_refused_at_once() {
    let server = job_server();
    // d2-rmicro-stream-gm.txt: a plain POST to Job.Watch, on which go-micro waits for ever.
    let request = captured("d2-rmicro-stream-gm.txt", 0, "C>S");
    let reply = text(&exchange(&mut server.connect(), &request));
    assert!(
        reply.contains("Micro-Error: {\"id\":\"job\",\"code\":400,\"detail\":\"Job.Watch streams: call it as a go-micro stream"),
        "{reply}"
    );
}

/// go-micro's client writes a whole request before it reads the answer; a body over the
/// server's limit is read and dropped, so the client gets its 413 instead of a reset.
#[test]
fn a_request_over_the_limit_is_answered_413_and_the_client_reads_it() {
    let server = Server::greeter(&[]);
    // 12 MB: more than the 4 MiB a closing connection drains, which reset the client.
    for size in [12_000_000, 5_000_000] {
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(size));
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: {}\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nMicro-Id: 0\r\nMicro-Service: greeter\r\n\r\n{big}",
            big.len()
        );
        let mut stream = server.connect();
        stream
            .write_all(request.as_bytes())
            .expect("the whole body goes out");
        let reply = text(&read_response(&mut stream));
        assert!(
            reply.contains("\"code\":413") && reply.contains("exceeds the limit of 4194304 bytes"),
            "{reply}"
        );
        assert!(is_closed(&mut stream));
    }
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(5_000_000));

    // The same through rmicro's own client: the refusal, once.
    let dir = tempfile::tempdir().unwrap();
    let file = crate::support::write_temp(dir.path(), "big.json", big.as_bytes());
    let output = server.run(&["call", "Greeter.Hello", "-d", &format!("@{file}"), "-v"]);
    crate::support::assert_exit(&output, 64 + 8);
    crate::support::assert_stderr_has(&output, "exceeds the limit of 4194304 bytes");
    crate::support::assert_stderr_has(&output, "giving up");
}

/// A reply over 4 MiB from a server without limits (go-micro's) is read, once.
#[test]
fn a_reply_over_4_mib_is_read_once() {
    let body = format!("{{\"msg\":\"{}\"}}\n", "y".repeat(5 * 1024 * 1024));
    for (args, exit) in [(&[][..], 0), (&["--max-message-size", "1MiB"][..], 64 + 8)] {
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}",
            body.len()
        );
        let (address, served) = crate::support::peer(move |mut stream| {
            let mut requests = 0;
            loop {
                // One request per attempt; a retry would come on another connection.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match std::io::Read::read(&mut stream, &mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return requests,
                    }
                }
                let length: usize = String::from_utf8_lossy(&head)
                    .lines()
                    .find_map(|line| line.strip_prefix("Content-Length: "))
                    .map_or(0, |value| value.trim().parse().unwrap());
                let mut request_body = vec![0u8; length];
                std::io::Read::read_exact(&mut stream, &mut request_body).unwrap();
                requests += 1;
                if stream.write_all(reply.as_bytes()).is_err() {
                    return requests;
                }
            }
        });
        let proto = fixture("greeter.proto");
        let mut full = vec!["call", "Greeter.Hello", r#"{"name":"x"}"#, "-a", &address];
        full.extend(["--proto", &proto, "-v"]);
        full.extend_from_slice(args);
        let output = crate::support::run(&full);
        crate::support::assert_exit(&output, exit);
        if exit == 0 {
            assert!(crate::support::stdout(&output).len() > 5 * 1024 * 1024);
        } else {
            crate::support::assert_stderr_has(&output, "--max-message-size");
            crate::support::assert_stderr_has(&output, "giving up");
        }
        assert_eq!(served.join().unwrap(), 1, "{args:?}: the handler ran once");
    }
}

/// rmicro's client and server over a mucp stream, for each kind of stream handler: a
/// stub's reply list (for each request), and an exec command printing NDJSON as it reads.
#[test]
fn mucp_streams_reach_stub_and_exec_handlers() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = crate::support::write_temp(
        dir.path(),
        "watch.handlers.json",
        br#"{"Job.Watch": {"exec": ["python3", "-c", "import json, sys\nfor line in sys.stdin:\n    print(json.dumps({'msg': 'got ' + json.loads(line)['name']}), flush=True)"]}}"#,
    );
    let proto = captures().join("schema/job-stream.proto");
    let proto = proto.to_string_lossy();
    for (handlers, expected) in [
        (
            fixture("gomicro-job.handlers.json"),
            "{\"msg\":\"watch m0\"}\n{\"code\":1,\"msg\":\"watch m1\"}\n",
        ),
        (handlers, "{\"msg\":\"got m0\"}\n{\"msg\":\"got m1\"}\n"),
    ] {
        let server = Server::start(&["--proto", &proto, "--handlers", &handlers, "--no-register"]);
        let output =
            crate::support::watch_m0_m1(&["--proto", &proto, "--address", &server.address]);
        crate::support::assert_exit(&output, 0);
        assert_eq!(crate::support::stdout(&output), expected, "{handlers}");
    }
}

/// `Debug.Stats` as go-micro reads it: over JSON only the fields of go-micro v1's
/// `StatsResponse` (its strict reader refuses others, f7-stats-json.txt), over protobuf
/// v2+'s requests and errors too; rmicro's per-endpoint figures in `Debug.EndpointStats`.
#[test]
fn debug_stats_decode_with_go_micros_types() {
    let server = Server::job(&[]);
    assert_exit(&server.run(&["call", "Job.CreateJob"]), 0);
    let request = captured("f7-stats-json.txt", 0, "C>S");
    let reply = exchange(&mut server.connect(), &request);
    let body = &reply[reply.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let stats: serde_json::Value = serde_json::from_slice(body).unwrap();
    let v1 = ["timestamp", "started", "uptime", "memory", "threads", "gc"];
    for key in stats.as_object().unwrap().keys() {
        assert!(
            v1.contains(&key.as_str()),
            "{key} is not go-micro v1's: {stats}"
        );
    }
    assert!(
        stats["timestamp"].is_u64() && stats["memory"].as_u64().unwrap() > 0,
        "{stats}"
    );
    let shown = crate::support::json(&server.run(&["stats", "-o", "json"]));
    let create = &shown["endpoints"][0];
    assert_eq!(create["endpoint"], "Job.CreateJob", "{shown}");
    assert_eq!(create["requests"], 1, "{shown}");
    assert!(
        create["p50Ms"].as_f64() <= create["maxMs"].as_f64(),
        "{shown}"
    );
    assert!(shown["requests"].as_u64() >= Some(1), "{shown}");
}

/// Against a go-micro v1 server, `rmicro stats` shows what it reported, nothing more.
#[test]
fn stats_of_a_go_micro_server_show_only_what_it_reported() {
    // go-micro v1's Debug.Stats (timestamp, started, uptime, memory, threads) in
    // protobuf, and its router's answer for a method it lacks.
    let stats: &[u8] =
        b"\x08\xbd\xaf\xbb\xd8\x06\x10\xbb\xaf\xbb\xd8\x06\x18\x02\x20\x80\xe0\x9e\x04\x28\x03";
    let answer = move |head: &str| -> Vec<u8> {
        if head.contains("Micro-Endpoint: Debug.Stats") {
            let mut reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/protobuf\r\n\r\n",
                stats.len()
            )
            .into_bytes();
            reply.extend_from_slice(stats);
            reply
        } else {
            b"HTTP/1.1 200 OK\r\nMicro-Error: rpc: can't find method EndpointStats\r\nContent-Length: 0\r\n\r\n".to_vec()
        }
    };
    for json_output in [true, false] {
        let (address, served) = crate::support::peer(move |mut stream| {
            let mut answered = 0;
            while let Some(request) = read_request(&mut stream) {
                if stream.write_all(&answer(&request)).is_err() {
                    break;
                }
                answered += 1;
            }
            answered
        });
        let mut args = vec!["stats", "-a", &address];
        if json_output {
            args.extend(["-o", "json"]);
        }
        let output = crate::support::run(&args);
        assert_exit(&output, 0);
        let shown = crate::support::stdout(&output);
        if json_output {
            let value: serde_json::Value = serde_json::from_str(&shown).unwrap();
            assert_eq!(value["uptime"], 2, "{value}");
            assert_eq!(value["threads"], 3, "{value}");
            assert!(
                value.get("requests").is_none() && value.get("endpoints").is_none(),
                "{value}"
            );
        } else {
            assert!(
                shown.contains("uptime 2s") && shown.contains("threads 3"),
                "{shown}"
            );
            assert!(!shown.contains("requests"), "{shown}");
        }
        assert!(served.join().unwrap() >= 2);
    }
}

/// One request's head (its body, if any, read and dropped); `None` at the end.
fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match std::io::Read::read(stream, &mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = text(&head);
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    std::io::Read::read_exact(stream, &mut body).ok()?;
    Some(head)
}

/// A go-micro v1 service's Debug handler, on every connection: Health and Stats, no
/// Endpoints (go-micro's router answers with its plain-text error).
fn go_micro_v1_debug() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                while let Some(head) = read_request(&mut stream) {
                    let reply: &[u8] = if head.contains("Micro-Endpoint: Debug.Health") {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Type: application/protobuf\r\n\r\n\x0a\x02ok"
                    } else {
                        b"HTTP/1.1 200 OK\r\nMicro-Error: rpc: can't find method Endpoints\r\nContent-Length: 0\r\n\r\n"
                    };
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

#[test]
fn list_and_describe_a_go_micro_service_with_the_schema_given() {
    let address = go_micro_v1_debug();
    let proto = captures().join("schema/job.proto");
    let proto = proto.to_string_lossy();
    let listed = crate::support::run(&["list", "-a", &address, "--proto", &proto, "-o", "json"]);
    assert_exit(&listed, 0);
    let rows = crate::support::json(&listed);
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|row| row["endpoint"] == "Job.CreateJob"),
        "{rows}"
    );
    let described =
        crate::support::run(&["describe", "job.Task", "-a", &address, "--proto", &proto]);
    assert_exit(&described, 0);
    crate::support::assert_stdout_has(&described, "cronexpr");
    let refused = crate::support::run(&["list", "-a", &address]);
    assert_exit(&refused, 1);
    crate::support::assert_stderr_has(&refused, "has a Debug service but no Debug.Endpoints");
    crate::support::assert_stderr_has(&refused, "pass --proto or --descriptor-set");
}
