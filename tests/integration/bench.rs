//! `rmicro bench` against `rmicro serve` on port 0, over every protocol it calls: exact
//! counts for -n (the server's Debug.Stats agrees, warm-up included there and not in the
//! report), -z and --rps honoured within 10%, the JSON report's fields, every --assert
//! form holding (exit 0) and failing (exit 99), errors counted when the server fails
//! half the calls, streams, calls spread over a registry's nodes, the flag combinations
//! that cannot work refused up front, progress drawn on a terminal and nowhere else,
//! Ctrl-C ending a run with the report of what ran.

use crate::support::{
    assert_exit, assert_stderr_has, json, rmicro, root, stderr, stdout, write_temp, Server,
};
use serde_json::Value;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn bench(args: &[&str]) -> Output {
    rmicro()
        .arg("bench")
        .args(args)
        .output()
        .expect("rmicro runs")
}

/// `rmicro bench ARGS -o json`, which must succeed; its report.
fn report(args: &[&str]) -> Value {
    let output = bench(&[args, &["-o", "json"]].concat());
    assert_exit(&output, 0);
    json(&output)
}

/// The requests the server counted for `endpoint` (Debug.Stats).
fn served(server: &Server, endpoint: &str) -> u64 {
    let stats = json(&server.run(&["stats", "-o", "json"]));
    // No endpoint is listed before its first call.
    let listed = stats["endpoints"].as_array().cloned().unwrap_or_default();
    listed
        .iter()
        .filter(|entry| entry["endpoint"] == endpoint)
        .map(|entry| entry["requests"].as_u64().unwrap())
        .sum()
}

fn echo_server(dir: &std::path::Path) -> Server {
    let handlers = write_temp(
        dir,
        "echo.handlers.json",
        br#"{"Echo.Say": {"reply": {"text": "hi"}},
             "Echo.Count": {"reply": [{"text": "one"}, {"text": "two"}, {"text": "three"}]},
             "Echo.Collect": {"reply": {"text": "all"}},
             "Echo.Chat": {"reply": [{"text": "a"}, {"text": "b"}]}}"#,
    );
    Server::start(&[
        "--proto",
        &root().join("interop/grpc/echo.proto").to_string_lossy(),
        "--handlers",
        &handlers,
        "--no-register",
    ])
}

#[test]
fn exact_counts_for_n_over_every_protocol_and_the_server_agrees() {
    let server = Server::job(&["--no-register"]);
    let mut expected = 0;
    for scheme in ["mucp", "jsonrpc", "grpc", "connect", "grpc-web", "http"] {
        let address = format!("{scheme}://{}", server.address);
        let run = report(&[
            "Job.CreateJob",
            r#"{"name":"x"}"#,
            "-a",
            &address,
            "--proto",
            &crate::support::sample("job.proto"),
            "-n",
            "137",
            "-c",
            "7",
            "--warmup",
            "11",
        ]);
        expected += 137 + 11;
        assert_eq!(run["calls"], 137, "{scheme}: {run}");
        assert_eq!(run["ok"], 137, "{scheme}");
        assert_eq!(run["errors"], 0, "{scheme}");
        assert_eq!(run["warmup_calls"], 11, "{scheme}");
        assert_eq!(run["statuses"]["OK"], 137, "{scheme}");
        // http:// is Connect over HTTP/1.1.
        let protocol = if scheme == "http" { "connect" } else { scheme };
        assert_eq!(run["protocol"], protocol);
        assert_eq!(run["concurrency"], 7);
        assert_eq!(served(&server, "Job.CreateJob"), expected, "{scheme}");
    }
}

#[test]
fn threads_share_out_the_connections_and_the_counts_stay_exact() {
    // Each connection and the workers on it on one of the threads: 3 threads, 4
    // connections (mucp: one per worker, so 10), 10 workers (unevenly shared), a warm-up
    // before the counted run. The server serves its connections on 3 threads too.
    let server = Server::job(&["--no-register", "--threads", "3"]);
    let mut expected = 0;
    for scheme in ["grpc", "mucp", "jsonrpc"] {
        let connections: &[&str] = match scheme {
            "mucp" => &[],
            _ => &["--connections", "4"],
        };
        let run = report(
            &[
                connections,
                &[
                    "Job.CreateJob",
                    r#"{"name":"x"}"#,
                    "-a",
                    &format!("{scheme}://{}", server.address),
                    "--proto",
                    &crate::support::sample("job.proto"),
                    "-n",
                    "503",
                    "-c",
                    "10",
                    "--threads",
                    "3",
                    "--warmup",
                    "13",
                ],
            ]
            .concat(),
        );
        expected += 503 + 13;
        assert_eq!(run["calls"], 503, "{scheme}: {run}");
        assert_eq!(run["ok"], 503, "{scheme}");
        assert_eq!(run["warmup_calls"], 13, "{scheme}");
        assert_eq!(served(&server, "Job.CreateJob"), expected, "{scheme}");
    }
}

#[test]
fn the_json_report_has_its_documented_fields() {
    let server = Server::job(&["--no-register"]);
    let run = report(&[
        "Job.CreateJob",
        "-a",
        &format!("grpc://{}", server.address),
        "-n",
        "40",
        "-c",
        "4",
        "--connections",
        "2",
        "--assert",
        "p99<10s",
    ]);
    for field in [
        "endpoint",
        "protocol",
        "target",
        "concurrency",
        "connections",
        "calls",
        "ok",
        "errors",
        "error_rate",
        "duration_s",
        "rps",
        "latency_ms",
        "histogram",
        "statuses",
        "error_kinds",
        "messages",
        "nodes",
        "warmup_calls",
        "interrupted",
        "assertions",
    ] {
        assert!(run.get(field).is_some(), "no {field} in {run}");
    }
    let latency = &run["latency_ms"];
    let figure = |name: &str| latency[name].as_f64().unwrap_or_else(|| panic!("{name}"));
    for pair in ["min", "p50", "p90", "p95", "p99", "p99.9", "max"].windows(2) {
        assert!(figure(pair[0]) <= figure(pair[1]), "{pair:?}: {latency}");
    }
    assert!(figure("min") > 0.0 && figure("mean") >= figure("min"));
    let histogram: u64 = run["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["count"].as_u64().unwrap())
        .sum();
    assert_eq!(histogram, 40, "every call is in the histogram");
    assert_eq!(run["connections"], 2);
    assert_eq!(run["endpoint"], "Job.CreateJob");
    assert_eq!(run["target"], server.address);
    assert_eq!(run["assertions"][0]["assertion"], "p99<10s");
    assert_eq!(run["assertions"][0]["held"], true);
    let rps = run["rps"].as_f64().unwrap();
    let duration = run["duration_s"].as_f64().unwrap();
    assert!(
        (rps * duration - 40.0).abs() < 1.0,
        "rps {rps} × {duration} s"
    );
}

#[test]
fn a_duration_is_honoured_within_ten_percent() {
    let server = Server::job(&["--no-register"]);
    let started = Instant::now();
    let run = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-z",
        "2s",
        "-c",
        "4",
    ]);
    let wall = started.elapsed().as_secs_f64();
    let duration = run["duration_s"].as_f64().unwrap();
    assert!((1.8..=2.2).contains(&duration), "duration_s {duration}");
    // The whole process: start-up and the report on top of the run.
    assert!(wall < 2.2 + 1.0, "took {wall} s");
    assert!(run["calls"].as_u64().unwrap() > 10, "{run}");
}

#[test]
fn a_rate_is_honoured_within_ten_percent_and_schedules_shape_it() {
    let server = Server::job(&["--no-register"]);
    let within = |run: &Value, calls: f64| {
        let made = run["calls"].as_f64().unwrap();
        assert!(
            (made - calls).abs() <= calls * 0.1,
            "{made} calls, {calls} expected: {run}"
        );
    };
    let constant = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-z",
        "2s",
        "--rps",
        "200",
    ]);
    within(&constant, 400.0);
    let rps = constant["rps"].as_f64().unwrap();
    assert!((180.0..=220.0).contains(&rps), "rps {rps}");
    // 100 calls/s for a second, then 200: 300 calls.
    let step = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-z",
        "2s",
        "--rps-schedule",
        "step",
        "--rps-start",
        "100",
        "--rps-step",
        "100",
        "--step-duration",
        "1s",
    ]);
    within(&step, 300.0);
    // 0 to 200 calls/s over 2 s: 200 calls.
    let ramp = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-z",
        "2s",
        "--rps-schedule",
        "ramp",
        "--rps-start",
        "0",
        "--rps-end",
        "200",
    ]);
    within(&ramp, 200.0);
    // A rate with -n: the calls take as long as the rate says.
    let counted = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-n",
        "100",
        "--rps",
        "100",
    ]);
    assert_eq!(counted["calls"], 100);
    let duration = counted["duration_s"].as_f64().unwrap();
    assert!((0.9..=1.1).contains(&duration), "duration_s {duration}");
}

/// NDJSON data cycles through its lines: every other call asks for `bob`, whom the
/// greeter fixture answers with a 404.
fn half_failing(server: &Server, dir: &std::path::Path, extra: &[&str]) -> Output {
    let data = write_temp(
        dir,
        "requests.ndjson",
        b"{\"name\":\"alice\"}\n{\"name\":\"bob\"}\n",
    );
    bench(
        &[
            &[
                "Helloworld.Call",
                "-d",
                &format!("@{data}"),
                "-a",
                &server.address,
                "-n",
                "100",
                "-c",
                "5",
            ][..],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn errors_are_counted_when_the_server_fails_half_the_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::greeter(&["--no-register"]);
    let output = half_failing(&server, dir.path(), &["-o", "json"]);
    assert_exit(&output, 0);
    let run = json(&output);
    assert_eq!(run["calls"], 100);
    assert_eq!(run["errors"], 50, "{run}");
    assert_eq!(run["ok"], 50);
    assert_eq!(run["error_rate"], 0.5);
    assert_eq!(run["statuses"]["OK"], 50);
    assert_eq!(run["statuses"]["NOT_FOUND"], 50);
    assert_eq!(run["error_kinds"][0]["kind"], "NOT_FOUND");
    assert_eq!(run["error_kinds"][0]["count"], 50);
    assert_eq!(run["error_kinds"][0]["first"], "user bob not found");
    let histogram: u64 = run["histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|bucket| bucket["count"].as_u64().unwrap())
        .sum();
    assert_eq!(histogram, 100, "failed calls are in the latency too");
    // The text report names the first error of its kind.
    let text = half_failing(&server, dir.path(), &[]);
    assert_exit(&text, 0);
    let shown = stdout(&text);
    assert!(
        shown.contains("50 × NOT_FOUND: user bob not found"),
        "{shown}"
    );
    assert!(shown.contains("(50 ok, 50 errors, 50%)"), "{shown}");
    // And a threshold on them fails the run.
    let gated = half_failing(&server, dir.path(), &["--assert", "error_rate<1%"]);
    assert_exit(&gated, 99);
    assert_stderr_has(&gated, "error_rate<1% (was 50%)");
}

#[test]
fn every_assert_form_holds_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::greeter(&["--no-register"]);
    let clean = |asserts: &[&str]| {
        let mut args = vec![
            "Greeter.Hello",
            "{\"name\":\"John\"}",
            "-a",
            &server.address,
        ];
        args.extend(["-n", "60", "-c", "3"]);
        for assert in asserts {
            args.extend(["--assert", assert]);
        }
        bench(&args)
    };
    let holding = [
        "p99<10s",
        "p50<=10s",
        "p90<10s",
        "p95<10s",
        "p99.9<10s",
        "mean<5s",
        "min>0ns",
        "max<10s",
        "stddev<10s",
        "rps>=1",
        "calls=60",
        "ok==60",
        "errors=0",
        "error_rate<0.1%",
        "calls!=0",
        "mps>1",
    ];
    let output = clean(&holding);
    assert_exit(&output, 0);
    let shown = stdout(&output);
    for assertion in holding {
        assert!(
            shown.contains(&format!("ok     {assertion} ")),
            "{assertion}: {shown}"
        );
    }
    let failing = [
        ("p99<1ns", "p99<1ns (was "),
        ("mean<1us", "mean<1us (was "),
        ("max<1ns", "max<1ns"),
        ("min>1h", "min>1h"),
        ("rps>=100000000", "rps>=100000000 (was "),
        ("calls=61", "calls=61 (was 60)"),
        ("errors>0", "errors>0 (was 0)"),
        ("error_rate>0.5", "error_rate>0.5 (was 0%)"),
    ];
    for (assertion, said) in failing {
        let output = clean(&[assertion]);
        assert_exit(&output, 99);
        assert_stderr_has(&output, said);
        assert!(
            stdout(&output).contains(&format!("FAILED {assertion}")),
            "the report names {assertion}"
        );
    }
    // errors=0 and error_rate fail when the server fails half the calls.
    for assertion in ["errors=0", "error_rate<0.1%"] {
        let output = half_failing(&server, dir.path(), &["--assert", assertion]);
        assert_exit(&output, 99);
        assert_stderr_has(&output, assertion);
    }
    // Two failing of three: both named.
    let output = clean(&["p99<1ns", "errors=0", "calls=1"]);
    assert_exit(&output, 99);
    assert_stderr_has(&output, "2 of 3 assertions failed");
}

#[test]
fn combinations_that_cannot_work_are_refused_before_any_call() {
    let server = Server::job(&["--no-register"]);
    let grpc = format!("grpc://{}", server.address);
    let cases: &[(&[&str], &str)] = &[
        (
            &["-n", "10", "-c", "50"],
            "-c 50 calls in flight cannot be reached by -n 10",
        ),
        (
            &["-c", "2", "--connections", "4"],
            "--connections 4 is more than the 2 calls",
        ),
        (&["-n", "10", "-z", "1s"], "cannot be used with"),
        (&["--rps-start", "10"], "add --rps-schedule step or ramp"),
        (
            &["--rps-schedule", "step", "--rps-start", "10"],
            "needs --rps-step",
        ),
        (
            &[
                "--rps-schedule",
                "ramp",
                "--rps-start",
                "1",
                "--rps-end",
                "9",
            ],
            "give -z rather than -n",
        ),
        (
            &["--rps-schedule", "step", "--rps", "5"],
            "--rps is the constant schedule's rate",
        ),
        (&["--rps", "0"], "--rps must be above 0"),
        (&["--rps", "-3"], "-3"),
        (&["--per-call"], "--per-call is for -o csv or -o json"),
        (&["--stream-messages", "3"], "for streaming methods"),
        (&["--assert", "p99<20"], "not a duration"),
        (&["--assert", "speed>1"], "unknown metric"),
        (
            &["--warmup", "soon"],
            "neither a number of calls nor a duration",
        ),
        (&["-z", "0s"], "-z must be longer than 0"),
        (&["-d", "@-"], "not stdin"),
    ];
    for (args, said) in cases {
        let output = bench(&[&["Job.CreateJob", "-a", &grpc], *args].concat());
        assert_exit(&output, 2);
        assert_stderr_has(&output, said);
    }
    // mucp carries one call per connection: -c is the connection count.
    let output = bench(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-c",
        "8",
        "--connections",
        "4",
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, "mucp carries one call at a time on a connection");
    assert_eq!(served(&server, "Job.CreateJob"), 0, "no call was made");
}

#[test]
fn a_run_that_cannot_start_exits_1() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = closed.local_addr().unwrap().to_string();
    drop(closed);
    for scheme in ["jsonrpc", "grpc"] {
        let output = bench(&[
            "Arith.Multiply",
            "-a",
            &format!("{scheme}://{address}"),
            "--proto",
            &root().join("interop/jsonrpc/arith.proto").to_string_lossy(),
            "--assert",
            "errors=0",
        ]);
        assert_exit(&output, 1);
        assert_stderr_has(&output, &address);
        assert!(stdout(&output).is_empty(), "no report: {}", stdout(&output));
    }
    let output = bench(&[
        "Nope.Nothing",
        "-a",
        &format!("grpc://{address}"),
        "--proto",
        &crate::support::sample("job.proto"),
    ]);
    assert_exit(&output, 1);
}

/// Server, client and bidirectional streams of the echo stub at `address`: the messages
/// sent and received per call, `--stream-messages` and `--stream-interval` honoured.
fn check_streams(dir: &std::path::Path, address: &str) {
    // A server stream: one request, three replies per call.
    let count = report(&[
        "echo.v1.Echo/Count",
        "{}",
        "-a",
        address,
        "-n",
        "20",
        "-c",
        "4",
    ]);
    assert_eq!(count["calls"], 20, "{address}: {count}");
    assert_eq!(count["errors"], 0, "{address}: {count}");
    assert_eq!(count["messages"]["sent"], 20, "{address}");
    assert_eq!(count["messages"]["received"], 60, "{address}");
    // A client stream of 5 messages 10 ms apart: 40 ms at least per call.
    let collect = report(&[
        "echo.v1.Echo/Collect",
        "{\"text\":\"x\"}",
        "-a",
        address,
        "-n",
        "8",
        "-c",
        "4",
        "--stream-messages",
        "5",
        "--stream-interval",
        "10ms",
    ]);
    assert_eq!(collect["messages"]["sent"], 40, "{address}: {collect}");
    assert_eq!(collect["messages"]["received"], 8, "{address}");
    assert!(
        collect["latency_ms"]["min"].as_f64().unwrap() >= 40.0,
        "{address}: {collect}"
    );
    let per_second = collect["messages"]["per_second"].as_f64().unwrap();
    let expected = 48.0 / collect["duration_s"].as_f64().unwrap();
    assert!(
        (per_second - expected).abs() < 1.0,
        "{address}: {per_second} vs {expected}"
    );
    // Bidirectional, its messages from NDJSON lines in turn.
    let data = write_temp(
        dir,
        "chat.ndjson",
        b"{\"text\":\"a\"}\n{\"text\":\"b\"}\n{\"text\":\"c\"}\n",
    );
    let chat = report(&[
        "echo.v1.Echo/Chat",
        "-d",
        &format!("@{data}"),
        "-a",
        address,
        "-n",
        "10",
        "-c",
        "2",
    ]);
    assert_eq!(
        chat["messages"]["sent"], 30,
        "{address}: three messages per call: {chat}"
    );
    // The stub answers each request message with its two replies.
    assert_eq!(chat["messages"]["received"], 60, "{address}: {chat}");
    assert_eq!(chat["errors"], 0, "{address}");
}

#[test]
fn streams_report_messages_as_well_as_calls() {
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path());
    // gRPC's streams, and go-micro's over mucp.
    for scheme in ["grpc", "mucp"] {
        check_streams(dir.path(), &format!("{scheme}://{}", server.address));
    }
    // A server stream over Connect (HTTP/2 and HTTP/1.1) and gRPC-Web.
    for scheme in ["connect", "http", "grpc-web"] {
        let address = format!("{scheme}://{}", server.address);
        let count = report(&[
            "echo.v1.Echo/Count",
            "{}",
            "-a",
            &address,
            "-n",
            "10",
            "-c",
            "2",
        ]);
        assert_eq!(count["messages"]["received"], 30, "{scheme}: {count}");
        assert_eq!(count["errors"], 0, "{scheme}");
    }
    // The server saw every stream, whatever the protocol.
    assert_eq!(served(&server, "Echo.Count"), 20 + 20 + 10 * 3);
    // JSON-RPC has no streams.
    let proto = root().join("interop/grpc/echo.proto");
    let output = bench(&[
        "Echo.Count",
        "{}",
        "--proto",
        &proto.to_string_lossy(),
        "-a",
        &format!("jsonrpc://{}", server.address),
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(
        &output,
        "is a streaming method; rmicro bench streams over mucp",
    );
}

#[test]
fn by_name_the_calls_are_spread_over_the_registry_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    let args = |name| ["--registry", &url, "--name", name].map(str::to_owned);
    let a = Server::job(&args("benched").each_ref().map(String::as_str));
    let b = Server::job(&args("benched").each_ref().map(String::as_str));
    let output = rmicro()
        .args([
            "bench",
            "Job.CreateJob",
            "--service",
            "benched",
            "--registry",
            &url,
        ])
        .args(["-n", "100", "-c", "4", "-o", "json"])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let run = json(&output);
    assert_eq!(run["calls"], 100);
    assert_eq!(run["target"], "service benched");
    let nodes = run["nodes"].as_object().unwrap();
    assert_eq!(nodes.len(), 2, "{run}");
    for (node, calls) in nodes {
        let calls = calls.as_u64().unwrap();
        assert!((30..=70).contains(&calls), "{node}: {calls} of 100");
    }
    assert_eq!(
        served(&a, "Job.CreateJob") + served(&b, "Job.CreateJob"),
        100
    );
    // With no target at all: the one registered service offering the endpoint.
    let output = rmicro()
        .args([
            "bench",
            "Job.CreateJob",
            "--registry",
            &url,
            "-n",
            "10",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(json(&output)["calls"], 10);
}

#[test]
fn per_call_rows_in_csv_and_a_summary_row_without() {
    let server = Server::job(&["--no-register"]);
    let output = bench(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-n",
        "30",
        "-c",
        "3",
        "-o",
        "csv",
        "--per-call",
    ]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "seq,start_ms,latency_ms,status,error");
    assert_eq!(lines.len(), 31, "{text}");
    for (seq, line) in lines[1..].iter().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], seq.to_string());
        assert!(fields[2].parse::<f64>().unwrap() > 0.0);
        assert_eq!(fields[3], "OK");
    }
    let output = bench(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-n",
        "30",
        "-c",
        "3",
        "-o",
        "csv",
    ]);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("calls,ok,errors,error_rate,duration_s,rps,min_ms"));
    assert!(lines[1].starts_with("30,30,0,0,"), "{}", lines[1]);
}

#[test]
fn progress_is_drawn_on_a_terminal_and_not_on_a_pipe() {
    let server = Server::job(&["--no-register"]);
    let args = [
        "bench",
        "Job.CreateJob",
        "-a",
        &server.address,
        "-z",
        "1500ms",
        "-c",
        "2",
    ];
    let piped = rmicro().args(args).output().unwrap();
    assert_exit(&piped, 0);
    assert!(stderr(&piped).is_empty(), "on a pipe: {:?}", stderr(&piped));

    let (mut master, slave) = pty();
    let mut child = rmicro()
        .args(args)
        .env("TERM", "xterm")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave))
        .spawn()
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buffer = [0; 4096];
        // Reading the master fails (EIO) once the last holder of the terminal exits.
        while let Ok(count) = master.read(&mut buffer) {
            if count == 0 {
                break;
            }
            seen.extend_from_slice(&buffer[..count]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut report = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut report)
        .unwrap();
    let drawn = reader.join().unwrap();
    assert!(
        drawn.matches("calls/s").count() >= 3,
        "redrawn a few times a second: {drawn:?}"
    );
    assert!(
        drawn.contains("p99") && drawn.contains("errors"),
        "{drawn:?}"
    );
    assert!(
        report.contains("Calls/s:"),
        "the report still goes to stdout: {report}"
    );
    assert!(!report.contains("calls/s ·"), "no progress on stdout");
}

/// A pseudo-terminal, 120 columns wide: its master (to read) and its slave (a stderr).
fn pty() -> (std::fs::File, std::os::fd::OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty fills two descriptors we then own.
    let opened = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and ours alone.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    }
}

#[test]
fn a_warmup_by_time_is_not_counted() {
    let server = Server::job(&["--no-register"]);
    let started = Instant::now();
    let run = report(&[
        "Job.CreateJob",
        "-a",
        &server.address,
        "-n",
        "50",
        "-c",
        "5",
        "--warmup",
        "500ms",
    ]);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(run["calls"], 50);
    let warm = run["warmup_calls"].as_u64().unwrap();
    assert!(warm > 0, "{run}");
    assert_eq!(served(&server, "Job.CreateJob"), 50 + warm);
}

#[test]
fn ctrl_c_stops_the_run_and_reports_what_ran() {
    let server = Server::job(&["--no-register"]);
    let child = rmicro()
        .args([
            "bench",
            "Job.CreateJob",
            "-a",
            &server.address,
            "-z",
            "30s",
            "-c",
            "4",
            "-o",
            "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the run to be under way (its handler of SIGINT installed).
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_exit(&output, 0);
    let run = json(&output);
    assert_eq!(run["interrupted"], true);
    assert!(run["calls"].as_u64().unwrap() > 0);
    assert!(run["duration_s"].as_f64().unwrap() < 5.0, "{run}");
}

#[test]
fn templates_in_data_and_headers_are_rendered_per_call() {
    let server = Server::job(&["--no-register"]);
    let run = report(&[
        "Job.CreateJob",
        "-d",
        r#"{"name":"job-{{seq}}"}"#,
        "-H",
        "x-id: {{uuid}}",
        "-H",
        "x-at: {{now}}",
        "-a",
        &server.address,
        "-n",
        "6",
        "-c",
        "2",
        "--warmup",
        "3",
    ]);
    assert_eq!(run["calls"], 6);
    assert_eq!(run["errors"], 0, "{run}");
    let journal = crate::support::stdout(&server.run(&["journal", "-o", "json"]));
    let entries: Vec<Value> = journal
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(entries.len(), 9, "{journal}");
    let mut names: Vec<String> = entries
        .iter()
        .map(|entry| entry["request"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort_by_key(|name| name[4..].parse::<u32>().unwrap());
    let expected: Vec<String> = (1..=9).map(|seq| format!("job-{seq}")).collect();
    assert_eq!(names, expected, "the warm-up's calls first, then the run's");
    let header = |entry: &Value, name: &str| {
        let metadata = entry["metadata"].as_object().unwrap();
        metadata
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {entry}"))
    };
    let ids: std::collections::HashSet<String> =
        entries.iter().map(|entry| header(entry, "x-id")).collect();
    assert_eq!(ids.len(), 9, "a uuid per call: {ids:?}");
    assert!(ids
        .iter()
        .all(|id| id.len() == 36 && id.matches('-').count() == 4));
    assert!(header(&entries[0], "x-at").contains('T'));
    // No request to read from.
    let output = bench(&[
        "Job.CreateJob",
        "-d",
        r#"{"name":"{{request.name}}"}"#,
        "-a",
        &server.address,
    ]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, "no request to read from");
    // A rendering that does not fit the request type is refused before the run.
    let output = bench(&[
        "Job.CreateJob",
        "-d",
        r#"{"nope":"{{seq}}"}"#,
        "-a",
        &server.address,
    ]);
    assert_exit(&output, 1);
}
