//! Bounds on exec handlers (issue: hardening, "exec without bounds"): what a handler
//! prints is capped at `--max-message-size` (the reply, or each line of a stream), at
//! most `--exec-concurrency` processes run at once and the others queue within their
//! deadline, and a handler's whole process group dies with its call — when the caller
//! goes away over any protocol, and after a successful reply too. The handlers are
//! `tests/fixtures/exec_bounds.sh`, which records each run in a directory.

use crate::h2_frames;
use crate::support::{
    assert_exit, assert_stderr_has, eventually, exchange, fixture, group_is_gone, group_members,
    json, peak_rss_kib, reaper_of, rmicro, root, run, wait_until, write_temp, Server,
};
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

/// A server of the interop echo schema whose endpoints run `exec_bounds.sh MODE DIR ARG`,
/// one `(endpoint, mode, arg, extra rule fields)` each; its directory holds the records.
struct ExecServer {
    server: Server,
    dir: tempfile::TempDir,
}

impl ExecServer {
    fn start(rules: &[(&str, &str, &str, &str)], flags: &[&str]) -> ExecServer {
        let dir = tempfile::tempdir().unwrap();
        let script = fixture("exec_bounds.sh");
        let records = dir.path().join("runs");
        std::fs::create_dir(&records).unwrap();
        let records = records.to_string_lossy();
        let rules: Vec<String> = rules
            .iter()
            .map(|(endpoint, mode, arg, extra)| {
                format!(r#""{endpoint}": {{"exec": ["{script}", "{mode}", "{records}", "{arg}"], "timeout": "60s"{extra}}}"#)
            })
            .collect();
        let handlers = write_temp(
            dir.path(),
            "handlers.json",
            format!("{{{}}}", rules.join(",\n")).as_bytes(),
        );
        let proto = root().join("interop/grpc/echo.proto");
        let mut args = vec![
            "--proto",
            proto.to_str().unwrap(),
            "--handlers",
            &handlers,
            "--no-register",
        ];
        args.extend(flags);
        ExecServer {
            server: Server::start(&args),
            dir,
        }
    }

    /// The process groups of the runs started so far (each run's shell leads one).
    fn started(&self) -> Vec<i32> {
        let mut groups: Vec<i32> = std::fs::read_dir(self.dir.path().join("runs"))
            .unwrap()
            .filter_map(|entry| {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_prefix("start.")?.parse().ok()
            })
            .collect();
        groups.sort();
        groups
    }

    /// Waits for run number `n` (counted from 1) to start; returns its process group.
    fn nth_run(&self, n: usize) -> i32 {
        wait_until(&format!("exec run {n} to start"), || {
            self.started().len() >= n
        });
        let started = self.started();
        assert_eq!(started.len(), n, "more runs than calls: {started:?}");
        *started.iter().max().unwrap()
    }

    /// Waits until every process of `group` has gone (the handler and its grandchildren).
    #[track_caller]
    fn assert_group_dies(&self, group: i32, after: &str) {
        wait_until(
            &format!("exec process group {group} to die {after}"),
            || group_is_gone(group),
        );
    }
}

const ECHO_SAY: &str = "/echo.v1.Echo/Say";

/// One mucp request of JSON `body` for `endpoint`, with `headers` (`Name: value\r\n` each).
fn mucp_request(endpoint: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Service: echo\r\nMicro-Endpoint: {endpoint}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn a_handler_printing_past_the_message_size_is_killed_and_the_caller_told() {
    // Each handler prints 200 MB: the server holds at most 64 KiB of it.
    const PRINTED: &str = "200000000";
    let server = ExecServer::start(
        &[
            ("Echo.Say", "flood", PRINTED, ""),
            ("Echo.Count", "long-line", PRINTED, ""),
            ("Echo.Collect", "stderr-flood", PRINTED, ""),
        ],
        &["--max-message-size", "64KiB"],
    );
    let mucp = server.server.address.as_str();
    let grpc = format!("grpc://{mucp}");
    let cases: &[(&[&str], i32, &str)] = &[
        // A unary reply over mucp and over gRPC: ResourceExhausted (exit 64 + 8).
        (
            &["call", "-a", mucp, "Echo.Say", "{}"],
            72,
            "more than 65536 bytes",
        ),
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Say", "{}"],
            72,
            "more than 65536 bytes",
        ),
        // One line of a stream.
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Count", "{}"],
            72,
            "a line longer than 65536 bytes",
        ),
        // stderr is not a reply: only its tail is kept, for the Internal error it makes.
        (
            &["call", "-a", &grpc, "echo.v1.Echo/Collect", "-d", "@-"],
            77,
            "exited with status 1: eee",
        ),
    ];
    for (n, (args, code, words)) in cases.iter().enumerate() {
        let output = run(args);
        assert_exit(&output, *code);
        assert_stderr_has(&output, words);
        if *code == 72 {
            assert_stderr_has(&output, "--max-message-size");
        }
        let group = server.nth_run(n + 1);
        server.assert_group_dies(group, "after its call");
    }
    // Unbounded, each call costs 200 MB or more; bounded, a few MB. The margin is wide.
    let peak = peak_rss_kib(server.server.pid());
    assert!(peak < 100 * 1024, "the server's peak RSS is {peak} KiB");
    // And it still serves.
    let output = server.server.run(&["call", "Debug.Health", "{}"]);
    assert_exit(&output, 0);
}

#[test]
fn a_streaming_handler_whose_caller_stops_reading_is_paused_then_killed() {
    let server = ExecServer::start(&[("Echo.Count", "endless", "", "")], &[]);
    // Connect's streaming form over HTTP/1.1: replies are chunks of the response, which
    // this client never reads.
    let mut stream = server.server.connect();
    let envelope = b"\0\0\0\0\x02{}";
    stream
        .write_all(
            format!(
                "POST /echo.v1.Echo/Count HTTP/1.1\r\nHost: x\r\nContent-Type: application/connect+json\r\nContent-Length: {}\r\n\r\n",
                envelope.len()
            )
            .as_bytes(),
        )
        .unwrap();
    stream.write_all(envelope).unwrap();
    let group = server.nth_run(1);
    // `yes` writes hundreds of MB a second: two seconds unpaused would show.
    std::thread::sleep(Duration::from_secs(2));
    let peak = peak_rss_kib(server.server.pid());
    assert!(peak < 100 * 1024, "the server's peak RSS is {peak} KiB");
    assert!(!group_is_gone(group), "the handler ended on its own");
    drop(stream);
    server.assert_group_dies(group, "after its caller closed the connection");
}

#[test]
fn a_streamed_http1_reply_its_client_takes_nothing_of_ends_after_the_write_timeout() {
    let server = ExecServer::start(
        &[("Echo.Count", "endless", "", "")],
        &["--write-timeout", "1s"],
    );
    let mut stream = server.server.connect();
    let envelope = b"\0\0\0\0\x02{}";
    stream
        .write_all(
            format!(
                "POST /echo.v1.Echo/Count HTTP/1.1\r\nHost: x\r\nContent-Type: application/connect+json\r\nContent-Length: {}\r\n\r\n",
                envelope.len()
            )
            .as_bytes(),
        )
        .unwrap();
    stream.write_all(envelope).unwrap();
    let group = server.nth_run(1);
    // The client never reads and never closes: the server gives up on it.
    server.assert_group_dies(group, "after the write timeout, its client still connected");
    // What was sent is there to read, then the server's close.
    let mut sink = Vec::new();
    let read = std::io::Read::read_to_end(&mut stream, &mut sink);
    assert!(read.is_ok() || !sink.is_empty(), "{read:?}");
    let output = server.server.run(&["call", "Debug.Health", "{}"]);
    assert_exit(&output, 0);
}

/// How a caller goes away in the middle of a unary call to a handler that runs a minute.
enum Leaving {
    /// Over a TCP connection the test closes.
    Close(Vec<u8>),
    /// Over HTTP/2: RST_STREAM (true) or closing the connection (false).
    H2 {
        content_type: &'static str,
        body: &'static [u8],
        reset: bool,
    },
}

#[test]
fn a_caller_that_goes_away_kills_the_handlers_process_group() {
    let server = ExecServer::start(&[("Echo.Say", "hold", "60", "")], &[]);
    let cases = [
        ("mucp", Leaving::Close(mucp_request("Echo.Say", "", "{}"))),
        (
            "Connect over HTTP/1.1",
            Leaving::Close(
                b"POST /echo.v1.Echo/Say HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    .to_vec(),
            ),
        ),
        (
            "JSON-RPC",
            Leaving::Close(br#"{"method":"Echo.Say","params":[{}],"id":1}"#.to_vec()),
        ),
        (
            "gRPC, stream reset",
            Leaving::H2 {
                content_type: "application/grpc",
                body: b"\0\0\0\0\0",
                reset: true,
            },
        ),
        (
            "gRPC, connection closed",
            Leaving::H2 {
                content_type: "application/grpc",
                body: b"\0\0\0\0\0",
                reset: false,
            },
        ),
        (
            "Connect over HTTP/2, stream reset",
            Leaving::H2 {
                content_type: "application/json",
                body: b"{}",
                reset: true,
            },
        ),
    ];
    // Every way is tried; those that left a group running are named at the end.
    let mut survivors = Vec::new();
    let mut dies = |group: i32, how: &str| {
        if !eventually(|| group_is_gone(group)) {
            survivors.push(how.to_owned());
        }
    };
    let mut runs = 0;
    for (how, leaving) in cases {
        runs += 1;
        match leaving {
            Leaving::Close(request) => {
                let mut stream = server.server.connect();
                stream.write_all(&request).unwrap();
                let group = server.nth_run(runs);
                drop(stream);
                dies(group, how);
            }
            Leaving::H2 {
                content_type,
                body,
                reset,
            } => {
                let mut connection = h2_frames::Connection::open(&server.server.address);
                let headers = [
                    (":method", "POST"),
                    (":scheme", "http"),
                    (":path", ECHO_SAY),
                    (":authority", "x"),
                    ("content-type", content_type),
                ];
                connection.headers(1, &headers, false);
                connection.data(1, body, true);
                let group = server.nth_run(runs);
                if !reset {
                    drop(connection);
                    dies(group, how);
                    continue;
                }
                connection.reset(1, h2_frames::CANCEL);
                dies(group, how);
                // The connection goes on: the next stream on it runs, and its reset
                // kills it too.
                connection.headers(3, &headers, false);
                connection.data(3, body, true);
                runs += 1;
                let next = server.nth_run(runs);
                connection.reset(3, h2_frames::CANCEL);
                dies(next, &format!("{how}, a second stream"));
            }
        }
    }
    assert!(
        survivors.is_empty(),
        "exec process groups still running after their caller left: {survivors:?}"
    );
}

#[test]
fn a_successful_calls_leftover_grandchildren_are_killed() {
    let server = ExecServer::start(
        &[
            ("Echo.Say", "leftover", "", ""),
            ("Echo.Count", "leftover", "", ""),
        ],
        &[],
    );
    let mucp = server.server.address.as_str();
    let grpc = format!("grpc://{mucp}");
    // A unary call over mucp, a server stream over gRPC. One grandchild holds stdout
    // open: the reply is what was printed when the handler exited, without waiting.
    let calls = [(mucp, "Echo.Say"), (&grpc, "echo.v1.Echo/Count")];
    for (n, (target, endpoint)) in calls.into_iter().enumerate() {
        let output = run(&["call", "-a", target, endpoint, "{}", "--timeout", "20s"]);
        assert_exit(&output, 0);
        assert_eq!(json(&output)["text"], "done", "{endpoint}");
        let group = server.nth_run(n + 1);
        server.assert_group_dies(group, &format!("after its {endpoint} handler exited"));
    }
}

/// Sends `calls` JSON-RPC calls of `endpoint` on one connection (pipelined, as one client
/// may) and returns the reply lines in the order they came.
fn pipelined_jsonrpc(server: &Server, endpoint: &str, calls: usize) -> Vec<serde_json::Value> {
    let mut stream = server.connect();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let requests: String = (0..calls)
        .map(|id| format!("{{\"method\":\"{endpoint}\",\"params\":[{{}}],\"id\":{id}}}\n"))
        .collect();
    stream.write_all(requests.as_bytes()).unwrap();
    let mut replies = BufReader::new(stream).lines();
    (0..calls)
        .map(|_| {
            let line = replies.next().expect("a reply line").unwrap();
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

#[test]
fn exec_concurrency_bounds_the_handlers_running_at_once() {
    // --exec-concurrency for every exec endpoint, and a rule's own "concurrency".
    let server = ExecServer::start(
        &[
            ("Echo.Say", "hold", "1", ""),
            ("Echo.Collect", "hold", "1", r#", "concurrency": 1"#),
        ],
        &["--exec-concurrency", "2"],
    );
    for (endpoint, limit) in [("Echo.Say", 2), ("Echo.Collect", 1)] {
        let replies = pipelined_jsonrpc(&server.server, endpoint, 5);
        let mut seen: Vec<i64> = replies
            .iter()
            .map(|reply| {
                assert!(reply["error"].is_null(), "{endpoint}: {reply}");
                reply["result"]["index"].as_i64().unwrap()
            })
            .collect();
        seen.sort();
        // Each run counts the runs under way when it started, itself included.
        assert!(
            *seen.last().unwrap() <= limit,
            "{endpoint}: runs at once {seen:?}, limit {limit}"
        );
    }
    assert_eq!(server.started().len(), 10, "every call ran once");
}

#[test]
fn a_call_queued_past_its_deadline_or_abandoned_in_the_queue_never_starts() {
    let server = ExecServer::start(
        &[("Echo.Say", "hold", "60", "")],
        &["--exec-concurrency", "1"],
    );
    // The one slot is taken for a minute, by a JSON-RPC caller.
    let mut holder = server.server.connect();
    holder
        .write_all(br#"{"method":"Echo.Say","params":[{}],"id":1}"#)
        .unwrap();
    let group = server.nth_run(1);

    // A call whose deadline (500 ms, in mucp's nanoseconds) passes in the queue.
    let reply = exchange(
        &mut server.server.connect(),
        &mucp_request("Echo.Say", "Timeout: 500000000\r\n", "{}"),
    );
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.contains("\"code\":408") && reply.contains("waited for an exec slot"),
        "{reply}"
    );
    // Callers that leave the queue: a closed mucp connection, a reset gRPC stream.
    let mut queued = server.server.connect();
    queued
        .write_all(&mucp_request("Echo.Say", "", "{}"))
        .unwrap();
    let mut h2 = h2_frames::Connection::open(&server.server.address);
    h2.headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", ECHO_SAY),
            (":authority", "x"),
            ("content-type", "application/grpc"),
        ],
        false,
    );
    h2.data(1, b"\0\0\0\0\0", true);
    std::thread::sleep(Duration::from_millis(500));
    drop(queued);
    h2.reset(1, h2_frames::CANCEL);
    std::thread::sleep(Duration::from_millis(500));

    // The slot frees: the next caller runs, and none of the others ever started.
    drop(holder);
    server.assert_group_dies(group, "after its JSON-RPC caller closed the connection");
    let mut next = server.server.connect();
    next.write_all(&mucp_request("Echo.Say", "", "{}")).unwrap();
    let next_group = server.nth_run(2);
    assert!(next_group != group);
    drop(next);
    server.assert_group_dies(next_group, "after its caller left");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.started().len(),
        2,
        "a call left in the queue started"
    );
}

#[test]
fn a_killed_servers_exec_handlers_and_workers_die_with_it() {
    // Echo.Say runs a command per call, Echo.Count a worker; each holds its call for 60 s
    // (the command with two grandchildren beside it). Then the server is SIGKILLed, which
    // it cannot answer itself: its reaper kills both groups.
    let server = ExecServer::start(
        &[
            ("Echo.Say", "hold", "60", ""),
            ("Echo.Count", "hold", "60", r#", "worker": true"#),
        ],
        &[],
    );
    let mucp = server.server.address.clone();
    let grpc = format!("grpc://{mucp}");
    let call = |target: &str, endpoint: &str| {
        rmicro()
            .args(["call", "-a", target, endpoint, "{}", "--timeout", "60s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut callers = vec![call(&mucp, "Echo.Say")];
    let command = server.nth_run(1);
    wait_until("the exec command's grandchildren to start", || {
        group_members(command) == 3
    });
    callers.push(call(&grpc, "echo.v1.Echo/Count"));
    let worker = server.nth_run(2);
    let pid = server.server.pid();
    let reaper = reaper_of(pid).expect("the server has a reaper once it runs commands");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    server.assert_group_dies(command, "with its server (SIGKILL)");
    server.assert_group_dies(worker, "with its server (SIGKILL)");
    // Its work done, the reaper has gone too.
    wait_until("the reaper to exit", || group_is_gone(reaper as i32));
    for caller in &mut callers {
        assert_ne!(
            caller.wait().unwrap().code(),
            Some(0),
            "a call to a killed server"
        );
    }
}
