//! Memory amplification per request (issue: hardening): a request can decode to far more
//! memory than its bytes — a packed repeated field of one-byte numbers takes a 56-byte
//! value per byte. The server's `--decode-budget` (64 MiB by default) bounds what decoded
//! requests hold at once: such requests take turns, one that needs more than the whole
//! budget is refused with ResourceExhausted over every protocol, and the server's peak
//! RSS (read from /proc) stays near the budget however many arrive at once.

use crate::support::{exchange, peak_rss_kib, write_temp, Server};
use std::io::{BufRead, BufReader, Write};

const PROTO: &str = r#"
syntax = "proto3";
package nums;
message Nums { repeated int32 values = 1; }
message Sum { int64 total = 1; }
service Adder {
  rpc Add(Nums) returns (Sum);
  rpc Run(Nums) returns (Sum);
}
"#;

/// `Adder.Add` answers after 300 ms, so that requests sent together are decoded and held
/// together; `Adder.Run` is an exec handler that reads the request and answers.
fn nums_server(dir: &std::path::Path) -> Server {
    let proto = write_temp(dir, "nums.proto", PROTO.as_bytes());
    let handlers = serde_json::json!({
        "Adder.Add": {"delay": "300ms", "reply": {"total": 1}},
        "Adder.Run": {"exec": ["sh", "-c", "wc -c >/dev/null; sleep 0.3; echo '{\"total\":2}'"]},
    });
    let handlers = write_temp(dir, "nums.json", handlers.to_string().as_bytes());
    Server::start(&["--proto", &proto, "--handlers", &handlers, "--no-register"])
}

/// `Nums` with `n` values of 1, packed: n + 4 bytes that decode to n × 56 bytes.
fn packed_ones(n: usize) -> Vec<u8> {
    let mut body = vec![0x0a];
    let mut length = n;
    while length >= 0x80 {
        body.push((length as u8 & 0x7f) | 0x80);
        length >>= 7;
    }
    body.push(length as u8);
    body.resize(body.len() + n, 1);
    body
}

fn mucp_request(endpoint: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/protobuf\r\nMicro-Service: nums\r\nMicro-Endpoint: {endpoint}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

/// The mucp reply's head (the error travels in `Micro-Error`). Callers queued behind
/// others for the budget may wait a while on a loaded machine.
fn mucp_call(server: &Server, endpoint: &str, body: &[u8]) -> String {
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let reply = exchange(&mut stream, &mucp_request(endpoint, body));
    String::from_utf8_lossy(&reply).into_owned()
}

#[track_caller]
fn assert_grew_less_than(what: &str, server: &Server, baseline: u64, bound_mib: u64) {
    let peak = peak_rss_kib(server.pid());
    eprintln!(
        "{what}: server peak RSS {baseline} KiB before, {peak} KiB after (+{} MiB)",
        peak.saturating_sub(baseline) / 1024
    );
    assert!(
        peak.saturating_sub(baseline) < bound_mib * 1024,
        "{what}: the server's peak RSS grew from {baseline} KiB to {peak} KiB"
    );
}

#[test]
fn requests_that_decode_to_many_times_their_size_take_turns_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let server = nums_server(dir.path());
    let baseline = peak_rss_kib(server.pid());
    // Eight callers at once, each with 1 MiB that decodes to 59 MB: 470 MB held together
    // without a budget; with 64 MiB of budget, one at a time.
    let body = packed_ones(1024 * 1024 - 8);
    for endpoint in ["Adder.Add", "Adder.Run"] {
        let replies: Vec<String> = std::thread::scope(|scope| {
            let calls: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| mucp_call(&server, endpoint, &body)))
                .collect();
            calls.into_iter().map(|call| call.join().unwrap()).collect()
        });
        for reply in &replies {
            assert!(reply.starts_with("HTTP/1.1 200"), "{endpoint}: {reply}");
            assert!(!reply.contains("Micro-Error"), "{endpoint}: {reply}");
        }
    }
    assert_grew_less_than("8 × 1 MiB packed, twice", &server, baseline, 110);
}

#[test]
fn a_request_that_would_decode_past_the_budget_is_refused_over_every_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let server = nums_server(dir.path());
    let baseline = peak_rss_kib(server.pid());
    // 4 MiB that decode to 235 MB: refused before it is decoded.
    let body = packed_ones(4 * 1024 * 1024 - 16);
    let refusal =
        "would take about 224.0 MiB of memory, more than the server's --decode-budget of 64.0 MiB";

    for endpoint in ["Adder.Add", "Adder.Run"] {
        let reply = mucp_call(&server, endpoint, &body);
        assert!(reply.contains("\"code\":429"), "mucp {endpoint}: {reply}");
        assert!(reply.contains(refusal), "mucp {endpoint}: {reply}");
    }

    let mut request = format!(
        "POST /nums.Adder/Run HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let reply = String::from_utf8_lossy(&exchange(&mut server.connect(), &request)).into_owned();
    assert!(reply.starts_with("HTTP/1.1 429"), "Connect: {reply}");
    assert!(
        reply.contains("\"code\":\"resource_exhausted\""),
        "Connect: {reply}"
    );
    assert!(reply.contains(refusal), "Connect: {reply}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for path in ["/nums.Adder/Add", "/nums.Adder/Run"] {
        let reply = runtime.block_on(crate::grpc_wire::exchange(
            &server.address,
            path,
            &[("content-type", "application/grpc")],
            &crate::grpc_wire::frame(&body, false),
        ));
        let ending = reply.ending();
        assert_eq!(ending["grpc-status"], "8", "gRPC {path}: {ending:?}");
        let message = ending["grpc-message"].to_str().unwrap();
        assert!(message.contains("decode-budget"), "gRPC {path}: {message}");
    }

    // JSON-RPC: 1.9 million values in 3.8 MB of JSON.
    let mut stream = server.connect();
    let values = "1,".repeat(1_900_000);
    let line =
        format!("{{\"method\":\"Adder.Run\",\"params\":[{{\"values\":[{values}1]}}],\"id\":7}}\n");
    stream.write_all(line.as_bytes()).unwrap();
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply).unwrap();
    let reply: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(reply["id"], 7, "{reply}");
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("--decode-budget of 64.0 MiB"),
        "JSON-RPC: {reply}"
    );

    assert_grew_less_than("4 MiB packed, refused", &server, baseline, 50);
    // Serving goes on, and a request within the budget is answered.
    let reply = mucp_call(&server, "Adder.Run", &packed_ones(100_000));
    assert!(!reply.contains("Micro-Error"), "{reply}");
}

#[test]
fn a_smaller_budget_is_a_flag() {
    let dir = tempfile::tempdir().unwrap();
    let proto = write_temp(dir.path(), "nums.proto", PROTO.as_bytes());
    let server = Server::start(&[
        "--proto",
        &proto,
        "--no-register",
        "--decode-budget",
        "1MiB",
    ]);
    let reply = mucp_call(&server, "Adder.Add", &packed_ones(100_000));
    assert!(
        reply
            .contains("about 5.3 MiB of memory, more than the server's --decode-budget of 1.0 MiB"),
        "{reply}"
    );
    let reply = mucp_call(&server, "Adder.Add", &packed_ones(10_000));
    assert!(!reply.contains("Micro-Error"), "{reply}");
}
