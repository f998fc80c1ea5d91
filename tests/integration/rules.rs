//! Handler rules that act as real services do: reply headers and trailers, templates,
//! match operators and `times`, worker processes, the request journal with `rmicro
//! journal` and `rmicro verify`, hot reload and compression — over gRPC, Connect,
//! gRPC-Web and mucp (and JSON-RPC where it carries the feature).

use crate::support::{
    assert_exit, eventually, fixture, json, rmicro, sample, stderr, stdout, wait_until, write_temp,
    Server,
};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::Output;

fn rules_server(extra: &[&str]) -> Server {
    let (proto, handlers) = (sample("job.proto"), fixture("rules.handlers.json"));
    let mut args = vec!["--proto", &proto, "--handlers", &handlers];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// `rmicro call` to `server` over `scheme` with extra arguments.
fn call(server: &Server, scheme: &str, args: &[&str]) -> Output {
    rmicro()
        .arg("call")
        .args(["-a", &format!("{scheme}://{}", server.address)])
        .args(args)
        .output()
        .expect("rmicro runs")
}

/// `rmicro call -o envelope` over gRPC: status, headers, trailers and messages.
fn envelope(server: &Server, endpoint: &str, request: &str, extra: &[&str]) -> Value {
    let mut args = vec![endpoint, request, "-o", "envelope", "--retries", "0"];
    args.extend_from_slice(extra);
    let output = call(server, "grpc", &args);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("no envelope ({error}): {}", stderr(&output)))
}

/// A Connect unary call over HTTP/1.1, as curl would send it: the response's head
/// (header lines, names lowercased) and body.
fn connect_call(
    server: &Server,
    path: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (String, Value) {
    let mut stream = server.connect();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let end = reply
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&reply[..end + 2]).to_ascii_lowercase();
    (
        head,
        serde_json::from_slice(&reply[end + 4..]).unwrap_or(Value::Null),
    )
}

#[test]
fn headers_and_trailers_reach_grpc_connect_and_mucp_callers_on_replies_and_errors() {
    let server = rules_server(&[]);
    let reply = envelope(
        &server,
        "Job.CreateJob",
        r#"{"name":"meta"}"#,
        &["-H", "x-user:ann"],
    );
    assert_eq!(reply["status"]["name"], "OK", "{reply}");
    assert_eq!(reply["headers"]["x-user"], "ann", "{reply}");
    assert_eq!(reply["headers"]["x-raw-bin"], "AAEC/w==", "{reply}");
    assert_eq!(reply["trailers"]["x-seq"], "1", "{reply}");
    assert_eq!(reply["trailers"]["x-endpoint"], "Job.CreateJob", "{reply}");
    assert_eq!(reply["messages"][0]["msg"], "hello meta on Job.CreateJob");

    // On an error: headers in their own block before the trailers, as grpc-go sends.
    let error = envelope(
        &server,
        "Job.CreateJob",
        r#"{"name":"denied"}"#,
        &["-H", "x-user:ann"],
    );
    assert_eq!(error["status"]["name"], "PERMISSION_DENIED", "{error}");
    assert_eq!(error["status"]["message"], "denied may not, said ann");
    assert_eq!(error["headers"]["x-policy"], "strict", "{error}");
    assert_eq!(error["trailers"]["x-why"], "policy", "{error}");

    // Connect's unary form: headers, and trailers as Trailer- headers.
    let (head, body) = connect_call(
        &server,
        "/job.Job/CreateJob",
        r#"{"name":"meta"}"#,
        &[("X-User", "bo")],
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("\r\nx-user: bo\r\n"), "{head}");
    assert!(head.contains("\r\ntrailer-x-seq: 2\r\n"), "{head}");
    assert_eq!(body["msg"], "hello meta on Job.CreateJob");
    let (head, body) = connect_call(&server, "/job.Job/CreateJob", r#"{"name":"denied"}"#, &[]);
    assert!(head.starts_with("http/1.1 403"), "{head}");
    assert!(
        head.contains("\r\nx-policy: strict\r\n") && head.contains("\r\ntrailer-x-why: policy\r\n"),
        "{head}"
    );
    assert_eq!(body["code"], "permission_denied");

    // rmicro's own gRPC-Web and Connect clients read them as headers and trailers too.
    for (scheme, seq) in [("grpc-web", "3"), ("connect", "4")] {
        let output = call(
            &server,
            scheme,
            &[
                "Job.CreateJob",
                r#"{"name":"meta"}"#,
                "-H",
                "x-user:di",
                "-o",
                "envelope",
            ],
        );
        assert_exit(&output, 0);
        let reply = json(&output);
        assert_eq!(reply["headers"]["x-user"], "di", "{scheme}: {reply}");
        assert_eq!(reply["trailers"]["x-seq"], seq, "{scheme}: {reply}");
        assert_eq!(
            reply["trailers"]["x-endpoint"], "Job.CreateJob",
            "{scheme}: {reply}"
        );
    }

    // mucp: HTTP headers on the reply (it has no trailers).
    let output = call(
        &server,
        "mucp",
        &[
            "Job.CreateJob",
            r#"{"name":"meta"}"#,
            "-v",
            "-H",
            "x-user:cy",
        ],
    );
    assert_exit(&output, 0);
    let log = stderr(&output).to_ascii_lowercase();
    assert!(
        log.contains("x-user: cy") && log.contains("x-raw-bin: aaec/w=="),
        "{log}"
    );
    assert_eq!(json(&output)["code"], 5, "the rule's fifth call");
}

#[test]
fn templates_render_request_fields_metadata_seq_and_fresh_values() {
    let server = rules_server(&[]);
    let request = json!({"name": "echo", "timeout": 42, "hosts": ["h1"]});
    let first = call(&server, "grpc", &["Job.CreateJob", &request.to_string()]);
    assert_exit(&first, 0);
    let reply = json(&first);
    // A whole {{…}} keeps its type: a number, and the request message itself.
    assert_eq!(reply["code"], 42, "{reply}");
    assert_eq!(reply["tasks"][0], request, "{reply}");
    let msg = reply["msg"].as_str().unwrap().to_owned();
    let (uuid, now) = msg.split_once(' ').unwrap();
    assert_eq!(uuid.len(), 36, "{msg}");
    assert_eq!(uuid.as_bytes()[14], b'4', "a v4 UUID: {msg}");
    assert!(
        now.starts_with("20") && now.ends_with('Z') && now.contains('T'),
        "{msg}"
    );
    let second = json(&call(
        &server,
        "mucp",
        &["Job.CreateJob", &request.to_string()],
    ));
    assert_ne!(
        second["msg"], reply["msg"],
        "a fresh uuid and time each call"
    );
    // {{seq}} counts the rule's own calls.
    for (scheme, seq) in [("grpc", 1), ("mucp", 2), ("jsonrpc", 3)] {
        let output = call(&server, scheme, &["Job.CreateJob", r#"{"name":"meta"}"#]);
        assert_exit(&output, 0);
        assert_eq!(json(&output)["code"], seq, "{scheme}");
    }
}

#[test]
fn match_operators_pick_their_rules_over_every_protocol() {
    let server = rules_server(&[]);
    let cases: [(Value, &[&str], &str); 15] = [
        (json!({"name": "re-42"}), &[], "regex"),
        (json!({"name": "re-4x"}), &[], "default"),
        (json!({"name": "globe"}), &[], "glob"),
        (json!({"name": "glob"}), &[], "default"),
        (json!({"hosts": ["web", "db"]}), &[], "contains a host"),
        (json!({"command": "sudo rm -rf /"}), &[], "contains text"),
        (json!({"cronexpr": "@hourly"}), &[], "in"),
        (json!({"cronexpr": "@weekly"}), &[], "default"),
        (json!({"name": "exists", "remark": "r"}), &[], "exists"),
        (json!({"name": "exists"}), &[], "default"),
        (json!({"name": "num", "timeout": 100}), &[], "gte"),
        (json!({"name": "num", "timeout": 99}), &[], "default"),
        (json!({"timeout": -5}), &[], "lt"),
        (json!({"hosts": ["a", "b"]}), &[], "unordered"),
        (json!({}), &["-H", "x-version:v2.3"], "v2 header"),
    ];
    for scheme in ["grpc", "mucp"] {
        for (request, extra, expected) in &cases {
            let text = request.to_string();
            let mut args = vec!["Job.CreateJob", text.as_str()];
            args.extend_from_slice(extra);
            let output = call(&server, scheme, &args);
            assert_exit(&output, 0);
            assert_eq!(
                json(&output)["msg"],
                *expected,
                "{scheme} {request} {extra:?}"
            );
        }
    }
    let (_, body) = connect_call(&server, "/job.Job/CreateJob", r#"{"hosts":["b","a"]}"#, &[]);
    assert_eq!(body["msg"], "unordered");
    let (_, body) = connect_call(&server, "/job.Job/CreateJob", "{}", &[("X-Version", "v2")]);
    assert_eq!(body["msg"], "v2 header");
}

#[test]
fn bad_rules_are_refused_at_start_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let proto = sample("job.proto");
    let cases: [(&str, &str); 13] = [
        (
            r#"{"reply": {"msg": "{{request.nmae}}"}}"#,
            "{{request.nmae}}: job.Task has no field `nmae`",
        ),
        (
            r#"{"reply": {"msg": "{{request.hosts.x}}"}}"#,
            "`hosts` is a list, so `x` must be an index",
        ),
        (
            r#"{"reply": {"msg": "{{requestt}}"}}"#,
            "unknown template {{requestt}}",
        ),
        (r#"{"reply": {"msg": "{{seq"}}"#, "without its }}"),
        (
            r#"{"reply": {"code": "n{{seq}}"}}"#,
            "rendered for an empty request",
        ),
        (
            r#"{"match": {"name": {"$regexp": "x"}}, "reply": {}}"#,
            "unknown operator $regexp",
        ),
        (
            r#"{"match": {"run": {"$gt": 1}}, "reply": {}}"#,
            "$gt applies to numbers and strings",
        ),
        (
            r#"{"match": {"name": {"$regex": "("}}, "reply": {}}"#,
            "$regex: regex parse error",
        ),
        (r#"{"times": 0, "reply": {}}"#, "times must be at least 1"),
        (
            r#"{"headers": {"grpc-status": "0"}, "reply": {}}"#,
            "the protocol's own header",
        ),
        (
            r#"{"trailers": {"x-id-bin": "not base64!"}, "reply": {}}"#,
            "x-id-bin: a -bin header carries base64",
        ),
        (
            r#"{"exec": ["/bin/cat"], "workers": 2}"#,
            "workers applies to worker rules only",
        ),
        (r#"{"compress": "br", "reply": {}}"#, "compress: \"br\""),
    ];
    for (rule, needle) in cases {
        let contents = format!(r#"{{"Job.CreateJob": {rule}}}"#);
        let file = write_temp(dir.path(), "handlers.json", contents.as_bytes());
        let output = rmicro()
            .args([
                "serve",
                "--proto",
                &proto,
                "--handlers",
                &file,
                "--address",
                "127.0.0.1:0",
            ])
            .output()
            .unwrap();
        assert_exit(&output, 1);
        let message = stderr(&output);
        assert!(
            message.contains("handlers.json")
                && message.contains("endpoint Job.CreateJob")
                && message.contains(needle),
            "{rule}: {message}"
        );
    }
}

#[test]
fn times_fails_twice_then_the_next_rule_answers_so_retries_get_through() {
    let server = rules_server(&[]);
    let output = call(
        &server,
        "grpc",
        &[
            "Job.CreateJob",
            r#"{"name":"flaky"}"#,
            "--retries",
            "2",
            "-v",
        ],
    );
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "default");
    let log = stderr(&output);
    assert!(
        log.contains("attempt 1 of flaky fails") && log.contains("attempt 2 of flaky fails"),
        "{log}"
    );
    let verify = |args: &[&str]| {
        let mut all = vec!["verify", "Job.CreateJob", "--match", r#"{"name":"flaky"}"#];
        all.extend_from_slice(args);
        server.run(&all)
    };
    assert_exit(&verify(&["--count", "3"]), 0);
    let wrong = verify(&["--count", "2"]);
    assert_exit(&wrong, 1);
    assert!(
        stderr(&wrong).contains("3 Job.CreateJob calls matching"),
        "{}",
        stderr(&wrong)
    );
    let journal = server.run(&["journal", "Job.CreateJob", "-o", "json"]);
    let statuses: Vec<String> = stdout(&journal)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(statuses, ["UNAVAILABLE", "UNAVAILABLE", "OK"]);
}

#[test]
fn the_journal_keeps_every_protocol_in_its_ring_and_file_and_verify_shows_what_came() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("journal.ndjson");
    let server = rules_server(&["--journal-size", "3", "--journal", file.to_str().unwrap()]);
    for (scheme, name) in [("mucp", "a"), ("grpc", "b"), ("jsonrpc", "c")] {
        let request = format!(r#"{{"name":"{name}"}}"#);
        assert_exit(
            &call(
                &server,
                scheme,
                &["Job.CreateJob", &request, "-H", "x-case:7"],
            ),
            0,
        );
    }
    connect_call(&server, "/job.Job/CreateJob", r#"{"name":"d"}"#, &[]);
    let lines = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    // The ring holds the last three (Debug calls are not journaled); the file all four.
    let kept = lines(&stdout(&server.run(&["journal", "-o", "json"])));
    let names: Vec<&str> = kept
        .iter()
        .map(|entry| entry["request"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c", "d"]);
    let written = lines(&std::fs::read_to_string(&file).unwrap());
    let protocols: Vec<&str> = written
        .iter()
        .map(|entry| entry["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols, ["mucp", "grpc", "jsonrpc", "connect"]);
    assert_eq!(written[1]["metadata"]["x-case"], "7");
    assert_eq!(written[1]["endpoint"], "Job.CreateJob");
    assert_eq!(written[1]["status"], "OK");
    assert!(written[1]["time"].as_str().unwrap().ends_with('Z'));

    let table = stdout(&server.run(&["journal", "Job.CreateJob"]));
    assert!(
        table.contains("ENDPOINT") && table.contains(r#"{"name":"d"}"#),
        "{table}"
    );
    let missing = server.run(&["verify", "Job.CreateJob", "--match", r#"{"name":"zed"}"#]);
    assert_exit(&missing, 1);
    let shown = stderr(&missing);
    assert!(
        shown.contains("nearest calls") && shown.contains(r#""name":"d""#),
        "{shown}"
    );
    assert_exit(
        &server.run(&[
            "verify",
            "Job.CreateJob",
            "--match",
            r#"{"name":{"$in":["c","d"]}}"#,
            "--at-least",
            "2",
        ]),
        0,
    );
    let bad = server.run(&["verify", "Job.CreateJob", "--match", r#"{"nope":1}"#]);
    assert_exit(&bad, 67);
    assert!(
        stderr(&bad).contains("has no field `nope`"),
        "{}",
        stderr(&bad)
    );

    assert_exit(&server.run(&["journal", "--clear"]), 0);
    assert_eq!(stdout(&server.run(&["journal", "-o", "json"])), "");
    assert_exit(&server.run(&["verify", "Job.CreateJob", "--count", "0"]), 0);
}

#[test]
fn workers_answer_in_any_order_restart_when_they_die_and_time_out_alone() {
    let server = Server::start(&[
        "--proto",
        &sample("job.proto"),
        "--handlers",
        &fixture("worker.handlers.json"),
    ]);
    let reply = envelope(&server, "Job.CreateJob", r#"{"name":"a"}"#, &[]);
    assert_eq!(
        reply["messages"][0]["msg"], "a from worker 0 via grpc",
        "{reply}"
    );
    let pid = reply["messages"][0]["code"].clone();
    assert_eq!(reply["headers"]["x-worker-pid"], pid.to_string());
    let left: u64 = reply["trailers"]["x-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 300 && left <= 700, "the rule's timeout: {left}");
    // Calls go to the two workers in turn, each a process kept between calls.
    let second = json(&call(
        &server,
        "mucp",
        &["Job.CreateJob", r#"{"name":"b"}"#],
    ));
    assert_eq!(second["msg"], "b from worker 1 via mucp");
    let third = json(&call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"c"}"#],
    ));
    assert_eq!(third["code"], pid, "worker 0 again, the same process");

    let missing = call(&server, "grpc", &["Job.CreateJob", r#"{"name":"missing"}"#]);
    assert_exit(&missing, 69);
    assert!(stderr(&missing).contains("no job called missing"));
    // A worker that dies fails its call with Unavailable, and is started again.
    let died = call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"die"}"#, "--retries", "0"],
    );
    assert_exit(&died, 78);
    let other = json(&call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"d"}"#],
    ));
    assert_eq!(other["code"], second["code"], "worker 1 lives on");
    let after = json(&call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"e"}"#],
    ));
    assert_eq!(after["msg"], "e from worker 0 via grpc");
    assert_ne!(after["code"], pid, "worker 0 is a new process");
    // One that does not answer costs that call DeadlineExceeded; the worker goes on.
    let mute = call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"mute"}"#, "--retries", "0"],
    );
    assert_exit(&mute, 68);
    assert!(
        stderr(&mute).contains("did not answer"),
        "{}",
        stderr(&mute)
    );
    let on = json(&call(
        &server,
        "grpc",
        &["Job.CreateJob", r#"{"name":"f"}"#],
    ));
    assert!(on["msg"].as_str().unwrap().starts_with("f from worker"));

    // Answers in any order: `first` is answered after the call that follows it.
    let held = std::thread::spawn({
        let address = server.address.clone();
        move || {
            rmicro()
                .args([
                    "call",
                    "-a",
                    &format!("grpc://{address}"),
                    "Job.ChangeJob",
                    r#"{"name":"first"}"#,
                ])
                .output()
                .unwrap()
        }
    });
    // The worker says on its stderr (the server's) when it holds the call.
    wait_until("the worker holds the first call", || {
        server.log().contains("holding first")
    });
    let next = call(&server, "grpc", &["Job.ChangeJob", r#"{"name":"second"}"#]);
    assert_exit(&next, 0);
    let held = held.join().unwrap();
    assert_exit(&held, 0);
    assert_eq!(json(&held)["msg"], "first from worker 0 via grpc");
}

#[test]
fn a_changed_handlers_file_takes_over_and_a_broken_one_is_refused_while_the_old_serves() {
    let dir = tempfile::tempdir().unwrap();
    let version = |text: &str| format!(r#"{{"Job.CreateJob": {{"reply": {{"msg": "{text}"}}}}}}"#);
    let file = write_temp(dir.path(), "handlers.json", version("one").as_bytes());
    let server = Server::start(&["--proto", &sample("job.proto"), "--handlers", &file]);
    let msg = || json(&call(&server, "grpc", &["Job.CreateJob", "{}"]))["msg"].clone();
    assert_eq!(msg(), "one");
    std::fs::write(&file, version("two")).unwrap();
    wait_until("the new file takes over", || msg() == "two");
    assert!(
        server.log().contains("handlers reloaded from"),
        "{}",
        server.log()
    );
    std::fs::write(&file, r#"{"Job.CreateJob": {"reply": {"mgs": "three"}}}"#).unwrap();
    wait_until("the broken file is refused", || {
        server.log().contains("not reloaded")
    });
    assert!(
        server
            .log()
            .contains("endpoint Job.CreateJob: reply: unrecognized field name 'mgs'"),
        "{}",
        server.log()
    );
    assert_eq!(msg(), "two");
    // SIGHUP reads the file again at once.
    std::fs::write(&file, version("four")).unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(server.pid() as i32, libc::SIGHUP) };
    assert!(eventually(|| msg() == "four"));
}

#[test]
fn compress_and_the_request_encoding_reach_replies_and_exec_handlers() {
    let server = rules_server(&[]);
    let reply = envelope(&server, "Job.DeleteJob", "{}", &[]);
    assert_eq!(reply["headers"]["grpc-encoding"], "gzip", "{reply}");
    assert_eq!(reply["messages"][0]["msg"], "compressed");
    let (head, body) = connect_call(&server, "/job.Job/DeleteJob", "{}", &[]);
    assert!(head.contains("\r\ncontent-encoding: gzip\r\n"), "{head}");
    assert_eq!(body, Value::Null, "the body is gzipped");

    let plain = envelope(&server, "Job.GetJob", "{}", &[]);
    assert_eq!(plain["messages"][0]["msg"], "grpc identity", "{plain}");
    assert_eq!(plain["headers"]["x-exec"], "yes", "{plain}");
    assert_eq!(plain["trailers"]["x-exec-done"], "2", "{plain}");
    assert!(plain["headers"].get("grpc-encoding").is_none(), "{plain}");
    let gzipped = envelope(&server, "Job.GetJob", "{}", &["--compress", "gzip"]);
    assert_eq!(gzipped["messages"][0]["msg"], "grpc gzip", "{gzipped}");
    let mucp = json(&call(&server, "mucp", &["Job.GetJob", "{}"]));
    assert_eq!(mucp["msg"], "mucp identity");
}
