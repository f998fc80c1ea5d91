//! What one HTTP/2 connection can make `rmicro serve` hold (issue: hardening). A client
//! that never opens its receive window gets nothing and costs next to nothing: a stream
//! handler (a stub's server stream, an exec command, the built-in reflection service)
//! waits for window instead of the server buffering its replies, the server goes on
//! answering everyone else, and the waiting calls end once that client goes away. One
//! that grants every window and reads nothing from its socket gets 64 KiB queued a
//! stream, not the whole reply. A header block that decodes past the header-list limit
//! is refused: 431 and its stream reset when a little past it, the connection closed
//! (GOAWAY) when HPACK makes 8 KB on the wire decode to 16 MB; the server goes on. Each
//! test reads the server's RSS from /proc and prints its figures.

use crate::engine::children;
use crate::grpc_wire::{frame, ok_reply, read_streams, request_fields, Seen};
use crate::h2_frames::{self, encode_integer, literal};
use crate::support::{assert_exit, json, root, run, write_temp, Server};
use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use std::time::{Duration, Instant};

/// How much the server's RSS may grow under each attack here: unbounded, each costs
/// hundreds of MB; bounded, a few.
const RSS_BOUND_KIB: u64 = 50 * 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().strip_suffix("kB"))
        .map(|kib| kib.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status: {status}"))
}

/// The highest RSS seen over `period`, sampled every 50 ms. (The clients here need not
/// be driven meanwhile: the server has nothing it may send them.)
fn peak_rss(pid: u32, period: Duration) -> u64 {
    let end = Instant::now() + period;
    let mut peak = rss_kib(pid);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        peak = peak.max(rss_kib(pid));
    }
    peak
}

#[track_caller]
fn assert_rss_bounded(what: &str, baseline: u64, peak: u64) {
    eprintln!("{what}: server RSS {baseline} KiB before, {peak} KiB at peak");
    assert!(
        peak.saturating_sub(baseline) < RSS_BOUND_KIB,
        "{what}: the server's RSS grew from {baseline} KiB to {peak} KiB"
    );
}

/// Prints 2,000 replies of 1 KiB as fast as the pipe takes them, then exits.
const FLOOD_EXEC: &str = r#"#!/bin/sh
line=$(printf '{"text":"%01000d"}' 0)
i=0
while [ $i -lt 2000 ]; do echo "$line"; i=$((i + 1)); done
"#;

/// `rmicro serve` of interop/grpc's echo.proto, its handlers file in `dir`: `Echo.Count`
/// streams 64 replies of 16 KiB (1 MiB per call), `Echo.Chat` runs [`FLOOD_EXEC`] (2 MB
/// per call).
fn echo_server(dir: &std::path::Path) -> Server {
    let text = "x".repeat(16 * 1024);
    let replies: Vec<_> = (0..64)
        .map(|index| serde_json::json!({"text": text, "index": index}))
        .collect();
    let handlers = serde_json::json!({
        "Echo.Count": {"reply": replies},
        "Echo.Chat": {"exec": ["./flood.sh"], "timeout": "120s"},
        "Echo.Say": {"reply": {"text": "still here"}},
    });
    let handlers = write_temp(dir, "flood.handlers.json", handlers.to_string().as_bytes());
    let script = write_temp(dir, "flood.sh", FLOOD_EXEC.as_bytes());
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let proto = root().join("interop/grpc/echo.proto");
    Server::start(&[
        "--proto",
        &proto.to_string_lossy(),
        "--handlers",
        &handlers,
        "--no-register",
    ])
}

/// The server answers a unary call on a connection of its own.
#[track_caller]
fn still_answers(server: &Server) {
    let address = format!("grpc://{}", server.address);
    let output = run(&[
        "call",
        "--address",
        &address,
        "Echo.Say",
        r#"{"text":"hi"}"#,
    ]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["text"], "still here");
}

/// The calls of `endpoint` that have ended, and how many of them failed, as
/// `Debug.Stats` counts them (its JSON leaves out zeros, and endpoints without calls).
fn calls_ended(server: &Server, endpoint: &str) -> (u64, u64) {
    let stats = json(&server.run(&["stats", "-o", "json"]));
    let found = stats["endpoints"]
        .as_array()
        .unwrap_or_else(|| panic!("no endpoints in {stats}"))
        .iter()
        .find(|entry| entry["endpoint"] == endpoint);
    let number = |name: &str| found.map_or(0, |entry| entry[name].as_u64().unwrap_or(0));
    (number("requests"), number("errors"))
}

/// Waits until the server has `count` child processes (exec commands) left.
#[track_caller]
fn wait_for_children(pid: u32, count: usize, failure: &str) {
    let started = Instant::now();
    while children(pid).len() != count {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{failure}: {:?}",
            children(pid)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A client connection whose streams' receive windows are 0 and stay so: it never takes
/// a byte of reply data.
async fn stalled_client(address: &str) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(0)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

const GRPC: &str = "application/grpc";
/// Connect's streaming form, whose streams the server answers like gRPC's.
const CONNECT_STREAM: &str = "application/connect+proto";

/// Opens a call of `path` in the protocol of `content_type`, sending `body` and ending
/// the request when `end`.
async fn open_call(
    client: &mut SendRequest<Bytes>,
    content_type: &str,
    path: &str,
    body: &[u8],
    end: bool,
) -> (ResponseFuture, SendStream<Bytes>) {
    let mut ready = client.clone().ready().await.unwrap();
    let request = http::Request::post(format!("http://rmicro.test{path}"))
        .header("content-type", content_type)
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = ready.send_request(request, false).unwrap();
    send.send_data(Bytes::copy_from_slice(body), end).unwrap();
    (response, send)
}

#[test]
fn stream_handlers_wait_for_a_window_the_client_never_opens_and_end_with_it() {
    const COUNTS: usize = 300;
    const CONNECT_COUNTS: usize = 100;
    const CHATS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path());
    let pid = server.pid();
    let runtime = runtime();
    let baseline = rss_kib(pid);
    // 300 gRPC and 100 Connect calls of Echo.Count {count: 1}, and 4 of Echo.Chat, on one
    // connection: 408 MB of replies if the server buffered them.
    let calls = runtime.block_on(async {
        let mut client = stalled_client(&server.address).await;
        let mut calls = Vec::new();
        // CountRequest {count: 1}; SayRequest {text: "hi"}.
        let count = frame(b"\x08\x01", false);
        let calls_to_open = [
            (GRPC, "/echo.v1.Echo/Count", COUNTS, count.clone()),
            (CONNECT_STREAM, "/echo.v1.Echo/Count", CONNECT_COUNTS, count),
            (
                GRPC,
                "/echo.v1.Echo/Chat",
                CHATS,
                frame(b"\x0a\x02hi", false),
            ),
        ];
        for (content_type, path, times, request) in calls_to_open {
            for _ in 0..times {
                calls.push(open_call(&mut client, content_type, path, &request, true).await);
            }
        }
        // Every call has begun answering (its headers came) before the RSS is read.
        let mut begun = Vec::new();
        for (response, send) in calls {
            let response = tokio::time::timeout(Duration::from_secs(30), response)
                .await
                .expect("the reply's headers come whatever the window")
                .unwrap();
            assert_eq!(response.status(), 200);
            begun.push((response, send));
        }
        begun
    });
    let peak = peak_rss(pid, Duration::from_secs(2));
    assert_rss_bounded(
        "400 Echo.Count (300 gRPC, 100 Connect) and 4 exec Echo.Chat streams, zero window",
        baseline,
        peak,
    );
    still_answers(&server);
    // The handlers wait: no stub call has ended, and each exec command is still running,
    // stopped by its full pipe.
    assert_eq!(calls_ended(&server, "Echo.Count"), (0, 0));
    assert_eq!(
        children(pid).len(),
        CHATS,
        "exec commands paused, not finished"
    );

    // Two exec calls reset: they end at once, their commands killed; the client goes
    // away: its other calls end with it.
    let mut calls = calls;
    runtime.block_on(async {
        for (_, send) in calls.iter_mut().rev().take(2) {
            send.send_reset(h2::Reason::CANCEL);
        }
        // The connection task writes the resets out meanwhile.
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    wait_for_children(pid, CHATS - 2, "exec commands outlived their reset calls");
    drop(calls);
    drop(runtime);
    wait_for_children(pid, 0, "exec commands outlived their client");
    eprintln!("after the client closed: {} KiB", rss_kib(pid));
    still_answers(&server);
}

#[test]
fn a_client_that_grants_every_window_and_reads_nothing_holds_little_per_stream() {
    const INITIAL_WINDOW_SIZE: u16 = 0x4; // RFC 9113 §6.5.2
    const MAX_WINDOW: u32 = (1 << 31) - 1;
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path());
    let pid = server.pid();
    let baseline = rss_kib(pid);
    // Every window as large as it goes, 300 calls of Echo.Count, and not a byte read:
    // what the server may send waits in its own buffers once the socket's are full.
    let mut connection = h2_frames::Connection::open(&server.address);
    connection.settings(&[(INITIAL_WINDOW_SIZE, MAX_WINDOW)]);
    connection.window_update(0, MAX_WINDOW - 65_535);
    for stream in (0..300).map(|n| 1 + 2 * n) {
        connection.headers(stream, &request_fields("/echo.v1.Echo/Count"), false);
        connection.data(stream, &frame(b"\x08\x01", false), true);
    }
    let peak = peak_rss(pid, Duration::from_secs(3));
    assert_rss_bounded("300 Echo.Count streams, socket unread", baseline, peak);
    still_answers(&server);
}

#[test]
fn reflection_waits_for_a_window_the_client_never_opens() {
    const QUESTIONS: usize = 4 << 20; // bytes of questions the client would send
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path());
    let pid = server.pid();
    let runtime = runtime();
    let baseline = rss_kib(pid);
    // ServerReflectionRequest {file_containing_symbol: "echo.v1.Echo"}: 19 bytes framed,
    // answered with echo.proto's descriptor, some 30 times as large.
    let question = frame(b"\x22\x0cecho.v1.Echo", false);
    let batch = Bytes::from(question.repeat(1000));
    let (taken, _call) = runtime.block_on(async {
        let mut client = stalled_client(&server.address).await;
        let path = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        let (response, mut send) = open_call(&mut client, GRPC, path, &[], false).await;
        // Questions go out as the server's window lets them: once the server stops
        // reading them, the window stays shut and the client stops.
        let mut taken = 0;
        let mut pending = Bytes::new();
        while taken < QUESTIONS {
            if pending.is_empty() {
                pending = batch.clone();
            }
            send.reserve_capacity(pending.len());
            let granted = std::future::poll_fn(|context| send.poll_capacity(context));
            match tokio::time::timeout(Duration::from_secs(2), granted).await {
                Ok(Some(Ok(granted))) => {
                    let piece = pending.split_to(granted.min(pending.len()));
                    taken += piece.len();
                    send.send_data(piece, false).unwrap();
                }
                Ok(other) => panic!("the reflection stream broke: {other:?}"),
                Err(_) => break, // the server takes no more
            }
        }
        (taken, (response, send))
    });
    let peak = peak_rss(pid, Duration::from_secs(2));
    eprintln!("the server took {taken} bytes of reflection questions");
    assert_rss_bounded("one zero-window reflection stream", baseline, peak);
    still_answers(&server);
}

/// A request header block with a 4,000-byte value added to the dynamic table (RFC 7541
/// §6.2.1), then referenced `references` times (§6.1) at one byte each: 4,000 of them
/// make 8 KB on the wire decode to 16 MB.
fn amplified_block(path: &str, references: usize) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in request_fields(path) {
        literal(&mut block, name, value);
    }
    block.push(0x40); // literal with incremental indexing, new name
    for text in ["x-big", &"a".repeat(4000)] {
        encode_integer(&mut block, text.len(), 7, 0);
        block.extend(text.as_bytes());
    }
    block.extend(std::iter::repeat_n(0x80 | 62, references)); // the newest entry
    block
}

/// GOAWAY's code for a peer that sends too much (RFC 9113 §7).
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[test]
fn a_header_block_that_decodes_past_the_limit_is_refused_and_the_server_goes_on() {
    const HELLO: &str = "/greeter.Greeter/Hello";
    let server = Server::greeter(&["--no-register"]);
    let pid = server.pid();
    let baseline = rss_kib(pid);
    // 16 connections, each with a request of 16 MB of headers left open (256 MB if the
    // server kept them): h2 closes a connection whose block is that far past the limit.
    let mut connections: Vec<_> = (0..16)
        .map(|_| {
            let mut connection = h2_frames::Connection::open(&server.address);
            connection.header_block(1, &amplified_block(HELLO, 4000), false);
            connection
        })
        .collect();
    let peak = peak_rss(pid, Duration::from_secs(2));
    assert_rss_bounded("16 header blocks of 16 MB", baseline, peak);
    for connection in &mut connections {
        assert_eq!(
            connection.next(),
            h2_frames::Event::GoAway {
                code: ENHANCE_YOUR_CALM
            }
        );
    }

    // A block a little past the limit (4,000 bytes five times) is answered 431 (Request
    // Header Fields Too Large); the same connection then serves a request of ordinary size.
    let mut connection = h2_frames::Connection::open(&server.address);
    connection.header_block(1, &amplified_block(HELLO, 5), false);
    let seen = read_streams(&mut connection, &[1]);
    let refused = Seen {
        headers: vec![(":status".into(), "431".into())],
        ended: true,
        ..Seen::default()
    };
    assert_eq!(seen[0], refused);
    // …and its stream reset, as h2 does (the request's body is not wanted).
    let reset = h2_frames::Event::Reset {
        stream: 1,
        code: h2_frames::PROTOCOL_ERROR,
    };
    assert_eq!(connection.next(), reset);
    connection.headers(3, &request_fields(HELLO), false);
    connection.data(3, &frame(b"\x0a\x04John", false), true);
    let seen: Vec<Seen> = read_streams(&mut connection, &[3]);
    assert_eq!(seen[0], ok_reply(b"\x0a\x0aHello John"), "stream 3");
    let output = server.run(&["call", "Greeter.Hello", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
}
