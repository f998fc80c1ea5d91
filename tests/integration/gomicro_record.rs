//! A go-micro service known by its registry record alone: no schema file, and a server
//! without `Debug.Endpoints` (spec §4.5). The record is the one go-micro v1 itself
//! registered (`mdns/gomicro-announce-wjobB.hex` in the captures, its TXT inflated), in
//! an embedded registry of the test's own, its node pointed at a peer that answers as the
//! go-micro v1 server of the captures did: `Debug.Endpoints` with its router's error,
//! `Job.Watch` as its stream (`baseline-gm-gm.txt`), and a plain request to `Job.Watch`
//! not at all (go-micro's stream handler waits for the first request for ever).

use crate::captures::{captured, captures};
use crate::support::{
    assert_exit, assert_stderr_has, json, output_with_stdin, rmicro, stdout, watch_m0_m1,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The service record go-micro v1 announced in mDNS (`wjob`, endpoints with their Go types,
/// `Job.Watch` with `"stream":"true"`), as a registry record with one node at `address`.
fn go_micro_record(address: &str) -> serde_json::Value {
    let hex = std::fs::read_to_string(captures().join("mdns/gomicro-announce-wjobB.hex")).unwrap();
    let bytes: Vec<u8> = (0..hex.trim().len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&hex.trim()[index..index + 2], 16).unwrap())
        .collect();
    let packet = simple_dns::Packet::parse(&bytes).unwrap();
    let txt: String = packet
        .answers
        .iter()
        .chain(&packet.additional_records)
        .find_map(|record| match &record.rdata {
            simple_dns::rdata::RData::TXT(txt) => Some(txt.clone()),
            _ => None,
        })
        .expect("the announcement has a TXT record")
        .iter_raw()
        .map(|(key, value)| {
            let mut string = String::from_utf8(key.to_vec()).unwrap();
            if let Some(value) = value {
                string.push('=');
                string.push_str(std::str::from_utf8(value).unwrap());
            }
            string
        })
        .collect();
    let compressed: Vec<u8> = (0..txt.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&txt[index..index + 2], 16).unwrap())
        .collect();
    let mut inflated = String::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .read_to_string(&mut inflated)
        .unwrap();
    let payload: serde_json::Value = serde_json::from_str(&inflated).unwrap();
    assert_eq!(payload["Service"], "wjob");
    serde_json::json!({
        "name": payload["Service"],
        "version": payload["Version"],
        "metadata": null,
        "endpoints": payload["Endpoints"],
        "nodes": [{
            "id": "wjob-4d0761bc-b11c-4050-890f-87d0c916bd9c",
            "address": address,
            "metadata": payload["Metadata"],
        }],
    })
}

/// An embedded registry of the test's own holding the go-micro record.
/// A go-micro peer, and a registry (in the directory given back) whose record names it.
fn recorded_peer() -> (GoMicroPeer, tempfile::TempDir, String) {
    let peer = GoMicroPeer::start();
    let dir = tempfile::tempdir().unwrap();
    let registry = registry_with_record(dir.path(), &peer.address);
    (peer, dir, registry)
}

fn registry_with_record(dir: &Path, address: &str) -> String {
    let service = dir.join("wjob");
    std::fs::create_dir_all(&service).unwrap();
    let path = service.join("wjob-4d0761bc-b11c-4050-890f-87d0c916bd9c.json");
    std::fs::write(&path, go_micro_record(address).to_string()).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
    format!("file://{}", dir.display())
}

/// One HTTP/1.1 message as raw bytes (its body by `Content-Length`); `None` at the end.
fn read_message(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    let mut byte = [0u8; 1];
    while !message.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => message.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&message).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map_or(0, |value| value.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    message.extend(body);
    Some(message)
}

/// A peer answering as the captures' go-micro v1 server: every message it is sent, as
/// text, in the order of arrival.
struct GoMicroPeer {
    address: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl GoMicroPeer {
    fn start() -> GoMicroPeer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        // The go-micro v1 server's answers: its router's error for Debug.Endpoints, and
        // to the stream's two requests.
        let no_endpoints = captured("d2-rmicro-stream-gm.txt", 2, "S>C");
        let replies = crate::captures::split_raw(&captured("baseline-gm-gm.txt", 3, "S>C"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (log, no_endpoints, replies) =
                    (log.clone(), no_endpoints.clone(), replies.clone());
                std::thread::spawn(move || {
                    let (mut opened, mut answered) = (false, 0);
                    while let Some(message) = read_message(&mut stream) {
                        let text = String::from_utf8_lossy(&message).into_owned();
                        log.lock().unwrap().push(text.clone());
                        let answer: Vec<u8> = if text.contains("Micro-Endpoint: Debug.Endpoints") {
                            no_endpoints.clone()
                        } else if !text.contains("Micro-Stream:") {
                            // A plain request to the stream handler: it waits for ever.
                            continue;
                        } else if text.contains("Micro-Error: EOS") {
                            b"HTTP/1.1 200 OK\r\nMicro-Error: EOS\r\nMicro-Stream: 0\r\nContent-Length: 0\r\n\r\n".to_vec()
                        } else if !opened {
                            // The stream's header message: go-micro drops its body.
                            opened = true;
                            continue;
                        } else if text.contains("Content-Type: application/protobuf") {
                            // The same replies in protobuf: job.Response{msg}, {code, msg}.
                            answered += 1;
                            let body: &[u8] = match answered % 2 {
                                1 => b"\x12\x08watch m0",
                                _ => b"\x08\x01\x12\x08watch m1",
                            };
                            let mut reply = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/protobuf\r\nMicro-Stream: 0\r\n\r\n",
                                body.len()
                            )
                            .into_bytes();
                            reply.extend_from_slice(body);
                            reply
                        } else {
                            answered += 1;
                            replies[(answered - 1) % 2].clone()
                        };
                        if stream.write_all(&answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        GoMicroPeer { address, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// The messages the peer saw for `endpoint`.
fn messages_to<'a>(seen: &'a [String], endpoint: &str) -> Vec<&'a String> {
    let header = format!("Micro-Endpoint: {endpoint}");
    seen.iter()
        .filter(|message| message.contains(&header))
        .collect()
}

/// Item: a stream endpoint is never sent as a plain POST. With no schema and no
/// `Debug.Endpoints`, the record's `"stream":"true"` makes `call` open a go-micro stream,
/// by `--service` and by an address registered in the registry alike; stdin is fed as a
/// stream's requests.
#[test]
fn a_stream_endpoint_known_from_its_registry_record_is_called_as_a_stream() {
    for by_name in [true, false] {
        let (peer, _dir, registry) = recorded_peer();
        let target = match by_name {
            true => ["--service", "wjob"],
            false => ["--address", &peer.address],
        };
        let output = watch_m0_m1(
            &[
                &["--registry", &registry],
                &target[..],
                &["--timeout", "10s", "-v"],
            ]
            .concat(),
        );
        assert_exit(&output, 0);
        assert_eq!(
            stdout(&output),
            "{\"msg\":\"watch m0\"}\n{\"code\":1,\"msg\":\"watch m1\"}\n",
            "by name: {by_name}"
        );
        assert_stderr_has(&output, "schema from the registry record of wjob");
        let seen = peer.seen();
        let watch = messages_to(&seen, "Job.Watch");
        assert_eq!(watch.len(), 4, "header message, m0, m1, EOS: {watch:#?}");
        for message in &watch {
            assert!(message.contains("Micro-Stream: "), "{message}");
            // The registered name goes out as go-micro's client sends it.
            assert!(message.contains("Micro-Service: wjob\r\n"), "{message}");
        }
        assert!(watch[1].ends_with("{\"name\":\"m0\"}"), "{}", watch[1]);
        assert!(watch[3].contains("Micro-Error: EOS"), "{}", watch[3]);
    }
}

/// Without a record (nothing registered there), the same call is a plain POST, as
/// nothing tells rmicro otherwise; when go-micro's stream handler then never answers, the
/// timeout says what would have made it a stream.
#[test]
fn a_schema_less_call_that_times_out_says_how_a_stream_would_be_known() {
    let peer = GoMicroPeer::start();
    let dir = tempfile::tempdir().unwrap();
    let registry = format!("file://{}", dir.path().display());
    let output = call_once(&[
        "Job.Watch",
        r#"{"name":"m0"}"#,
        "-a",
        &peer.address,
        "--registry",
        &registry,
    ]);
    assert_exit(&output, 68);
    assert_stderr_has(
        &output,
        "if Job.Watch streams, a go-micro server waits for ever on a plain request",
    );
    assert_stderr_has(&output, "--service NAME");
    // With the record saying the endpoint is unary, a timeout is only a timeout.
    let registry = registry_with_record(dir.path(), &peer.address);
    let output = call_once(&[
        "Job.DeleteJob",
        "--service",
        "wjob",
        "--registry",
        &registry,
    ]);
    assert_exit(&output, 68);
    assert!(
        !crate::support::stderr(&output).contains("streams"),
        "{}",
        crate::support::stderr(&output)
    );
    let seen = peer.seen();
    let plain = messages_to(&seen, "Job.DeleteJob");
    assert_eq!(plain.len(), 1, "{seen:#?}");
    assert!(
        plain
            .iter()
            .all(|message| !message.contains("Micro-Stream")),
        "{plain:#?}"
    );
}

/// `bench` shares call's plan: it refuses a stream endpoint over mucp the record names,
/// instead of timing out plain requests; so does `call --batch`, which makes unary calls.
#[test]
fn bench_and_batch_refuse_a_stream_endpoint_its_registry_record_names() {
    let (peer, _dir, registry) = recorded_peer();
    let output = crate::support::run(&[
        "bench",
        "Job.Watch",
        "--service",
        "wjob",
        "--registry",
        &registry,
        "-n",
        "1",
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        "Job.Watch is a streaming method (its registry record says so)",
    );
    let mut command = rmicro();
    command.args([
        "call",
        "Job.Watch",
        "--batch",
        "--service",
        "wjob",
        "--registry",
        &registry,
    ]);
    let output = output_with_stdin(command, b"{\"name\":\"m0\"}\n");
    assert_exit(&output, 2);
    assert_stderr_has(&output, "--batch makes unary calls, and Job.Watch streams");
    assert!(
        messages_to(&peer.seen(), "Job.Watch").is_empty(),
        "{:#?}",
        peer.seen()
    );
}

/// Item: `list` and `describe` of a go-micro server with no schema show its registry
/// record — endpoints, field names and Go types as go-micro recorded them (protobuf-go's
/// internals left out), the stream flag — and say that is where they come from.
#[test]
fn list_and_describe_fall_back_on_the_registry_record() {
    let (peer, _dir, registry) = recorded_peer();
    let output = crate::support::run(&[
        "list",
        "-a",
        &peer.address,
        "--registry",
        &registry,
        "-o",
        "json",
    ]);
    assert_exit(&output, 0);
    assert_stderr_has(
        &output,
        "has no Debug.Endpoints; shown from the registry record of wjob",
    );
    let rows = json(&output);
    let kinds: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["endpoint"].as_str().unwrap().to_owned(),
                row["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("Job.Watch".into(), "stream".into())),
        "{rows}"
    );
    assert!(
        kinds.contains(&("Job.CreateJob".into(), "unary".into())),
        "{rows}"
    );
    assert_eq!(rows[1]["request"], "Task", "{rows}");

    // By name, and with no target at all (the one service offering the endpoint).
    for target in [vec!["--service", "wjob"], vec![]] {
        let mut args = vec!["describe", "Job.CreateJob", "--registry", &registry];
        args.extend(target.iter().copied());
        let output = crate::support::run(&args);
        assert_exit(&output, 0);
        let text = stdout(&output);
        assert!(
            text.starts_with("Job.CreateJob (unary)\n  request:  Task\n    id         string\n"),
            "{text}"
        );
        assert!(
            text.contains("    hosts      []string\n    remark     string\n  response: Response\n"),
            "{text}"
        );
        assert!(text.contains("    tasks  []Task\n"), "{text}");
        assert!(
            !text.contains("MessageState") && !text.contains("unknownFields"),
            "{text}"
        );
        assert!(
            text.contains("has no Debug.Endpoints; this is from the registry record of wjob"),
            "{text}"
        );
    }
    let output = crate::support::run(&[
        "describe",
        "Job.Watch",
        "--service",
        "wjob",
        "--registry",
        &registry,
        "-o",
        "json",
    ]);
    assert_exit(&output, 0);
    let described = json(&output);
    assert_eq!(described["endpoints"][0]["kind"], "stream", "{described}");
    assert_eq!(
        described["endpoints"][0]["request"]["type"], "Context",
        "{described}"
    );
    assert!(described["source"]
        .as_str()
        .unwrap()
        .starts_with("the registry record of wjob"));
    // A handler's every endpoint; a name the record lacks, with the closest.
    let output = crate::support::run(&[
        "describe",
        "Job",
        "--service",
        "wjob",
        "--registry",
        &registry,
    ]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output).matches(" (unary)\n").count(),
        4,
        "{}",
        stdout(&output)
    );
    let output = crate::support::run(&[
        "describe",
        "Job.Wach",
        "--service",
        "wjob",
        "--registry",
        &registry,
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "has no endpoint Job.Wach");
    assert_stderr_has(&output, "Job.Watch");
    // What a record cannot give.
    let output = crate::support::run(&[
        "describe",
        "Job.Watch",
        "--service",
        "wjob",
        "--registry",
        &registry,
        "-o",
        "proto",
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "no .proto to show");
}

/// `serve --proxy service:NAME` shares call's client: with a schema it passes a go-micro
/// stream on as a stream to the node the record names; without one it says that a
/// go-micro service's record cannot stand in for a schema.
#[test]
fn a_proxy_to_a_go_micro_service_by_name_passes_streams_on_as_streams() {
    let (peer, dir, registry) = recorded_peer();
    let output =
        crate::support::run(&["serve", "--proxy", "service:wjob", "--registry", &registry]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        "has no Debug.Endpoints to read its schema from (a go-micro service?",
    );
    let proto = captures().join("schema/job-stream.proto");
    let proto = proto.to_string_lossy();
    let proxy = crate::support::Server::start(&[
        "--proxy",
        "service:wjob",
        "--registry",
        &registry,
        "--proto",
        &proto,
        "--name",
        "wjob-proxy",
    ]);
    let output = watch_m0_m1(&["--proto", &proto, "-a", &proxy.address]);
    assert_exit(&output, 0);
    assert_eq!(
        stdout(&output),
        "{\"msg\":\"watch m0\"}\n{\"code\":1,\"msg\":\"watch m1\"}\n"
    );
    let seen = peer.seen();
    let watch = messages_to(&seen, "Job.Watch");
    assert_eq!(watch.len(), 4, "header message, m0, m1, EOS: {watch:#?}");
    assert!(
        watch
            .iter()
            .all(|message| message.contains("Micro-Stream: ")),
        "{watch:#?}"
    );
    assert!(
        !proxy.log().contains("says the registry record"),
        "{}",
        proxy.log()
    );
    // A schema that has the record's stream endpoint unary is warned of at start.
    let stream_proto = std::fs::read_to_string(captures().join("schema/job-stream.proto")).unwrap();
    let unary = stream_proto.replace(
        "rpc Watch(stream Task) returns (stream Response);",
        "rpc Watch(Task) returns (Response);",
    );
    let unary = crate::support::write_temp(dir.path(), "unary.proto", unary.as_bytes());
    let proxy = crate::support::Server::start(&[
        "--proxy",
        "service:wjob",
        "--registry",
        &registry,
        "--proto",
        &unary,
        "--name",
        "wjob-proxy",
    ]);
    assert!(
        proxy.log().contains("Job.Watch streams, says the registry record of wjob, but the schema given has it unary"),
        "{}",
        proxy.log()
    );
    // And so does call, going by name.
    let output = call_once(&[
        "Job.Watch",
        r#"{"name":"m0"}"#,
        "--proto",
        &unary,
        "--service",
        "wjob",
        "--registry",
        &registry,
    ]);
    assert_exit(&output, 68);
    assert_stderr_has(
        &output,
        "Job.Watch streams, says the registry record of wjob, but the schema given has it unary",
    );
}

/// `rmicro call ARGS`, one attempt of at most 300 ms.
fn call_once(args: &[&str]) -> std::process::Output {
    crate::support::run(&[&["call"], args, &["--timeout", "300ms", "--retries", "0"]].concat())
}
