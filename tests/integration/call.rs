//! `rmicro call` through the real binary: schema sources, data sources, metadata, output
//! formats, exit codes, retries and timeouts.

use crate::support::{
    assert_exit, assert_stderr_has, fixture, json, output_with_stdin, rmicro, run, sample, stderr,
    stdout, write_temp, EchoServer, Server,
};

#[test]
fn call_with_every_schema_source() {
    let server = Server::job(&[]);
    let proto = sample("job.proto");
    let set = sample("job.pb");
    for schema in [
        vec![],
        vec!["--proto", proto.as_str()],
        vec!["--descriptor-set", set.as_str()],
    ] {
        let mut args = vec!["call", "Job.CreateJob", r#"{"name":"nightly"}"#];
        args.extend(schema.iter().copied());
        let output = server.run(&args);
        assert_exit(&output, 0);
        assert_eq!(
            json(&output),
            serde_json::json!({"code": 200, "msg": "created"}),
            "{schema:?}"
        );
    }
}

#[test]
fn fully_qualified_endpoint_names_work() {
    let server = Server::job(&[]);
    for name in [
        "job.Job.CreateJob",
        "job.Job/CreateJob",
        "/job.Job/CreateJob",
    ] {
        let output = server.run(&["call", name]);
        assert_exit(&output, 0);
        assert_eq!(json(&output)["msg"], "created", "{name}");
    }
}

#[test]
fn data_from_flag_file_and_stdin() {
    let server = Server::job(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "req.json", br#"{"name":"forbidden"}"#);
    let output = server.run(&["call", "Job.CreateJob", "-d", &format!("@{file}")]);
    assert_exit(&output, 71);
    assert_stderr_has(&output, "PERMISSION_DENIED: job name forbidden is reserved");

    let mut command = rmicro();
    command.args([
        "call",
        "Job.CreateJob",
        "-d",
        "@-",
        "--address",
        &server.address,
    ]);
    assert_exit(&output_with_stdin(command, br#"{"name":"forbidden"}"#), 71);

    let output = server.run(&["call", "Job.CreateJob", "-d", r#"{"name":"x"}"#]);
    assert_exit(&output, 0);
}

#[test]
fn metadata_reaches_match_rules_and_exec_handlers() {
    let server = Server::job(&[]);
    let output = server.run(&["call", "Job.CreateJob", "-H", "Tenant: acme"]);
    assert_eq!(json(&output)["msg"], "created for acme");
    let output = server.run(&[
        "call",
        "Job.GetJob",
        r#"{"id":"7","name":"report"}"#,
        "-H",
        "tenant:acme",
    ]);
    assert_exit(&output, 0);
    let reply = json(&output);
    assert_eq!(reply["msg"], "Job.GetJob by exec (tenant acme)");
    assert_eq!(reply["tasks"][0]["id"], "7");
}

#[test]
fn protobuf_content_type_round_trips() {
    let server = Server::job(&[]);
    let output = server.run(&[
        "call",
        "Job.CreateJob",
        "--content-type",
        "protobuf",
        r#"{"name":"x"}"#,
    ]);
    assert_exit(&output, 0);
    assert_eq!(
        json(&output),
        serde_json::json!({"code": 200, "msg": "created"})
    );
}

#[test]
fn rich_types_survive_both_codecs() {
    let proto = sample("shop.proto");
    let handlers = sample("shop.handlers.json");
    let server = Server::start(&["--proto", &proto, "--handlers", &handlers]);
    for content_type in ["json", "protobuf"] {
        let output = server.run(&[
            "call",
            "Orders.GetOrder",
            r#"{"id":"o-1001"}"#,
            "--content-type",
            content_type,
        ]);
        assert_exit(&output, 0);
        let order = json(&output);
        assert_eq!(
            order["customer"]["address"]["city"], "London",
            "{content_type}"
        );
        assert_eq!(order["items"][0]["unitPriceCents"], 4999);
        assert_eq!(order["labels"]["channel"], "web");
        assert_eq!(order["status"], "ORDER_STATUS_SHIPPED");
        assert_eq!(order["card"]["last4"], "4242");
        assert_eq!(order["signature"], "c2lnbmVk");
        assert_eq!(order["createdAt"], "2026-11-20T09:30:00Z");
    }
    let output = server.run(&["call", "Orders.GetOrder", r#"{"id":"nope"}"#]);
    assert_exit(&output, 69);
}

#[test]
fn output_formats() {
    let server = Server::job(&[]);
    let pretty = server.run(&["call", "Job.CreateJob", "-o", "pretty"]);
    assert_eq!(
        stdout(&pretty),
        "{\n  \"code\": 200,\n  \"msg\": \"created\"\n}\n"
    );
    let compact = server.run(&["call", "Job.CreateJob", "-o", "json"]);
    assert_eq!(stdout(&compact), "{\"code\":200,\"msg\":\"created\"}\n");
    // raw is the body exactly as the server sent it: go-micro's JSON dialect with a newline.
    let raw = server.run(&["call", "Job.CreateJob", "-o", "raw"]);
    assert_eq!(stdout(&raw), "{\"code\":200,\"msg\":\"created\"}\n");
}

#[test]
fn exit_codes_for_each_kind_of_failure() {
    let server = Server::job(&[]);
    // A handler error carries its own code.
    assert_exit(&server.run(&["call", "Job.DeleteJob"]), 69);
    // An endpoint unknown to the server (schema-less call to a name it lacks).
    let unknown = server.run(&["call", "Nope.Missing", "--proto", &fixture("greeter.proto")]);
    assert_exit(&unknown, 1);
    assert_stderr_has(&unknown, "unknown endpoint `Nope.Missing`");
    let schema_less = rmicro()
        .args(["call", "Ghost.Walk", "--address", &server.address])
        .output()
        .unwrap();
    assert_exit(&schema_less, 1);
    assert_stderr_has(&schema_less, "unknown endpoint `Ghost.Walk`");
    // A refused connection is a transport failure.
    let refused = run(&[
        "call",
        "Job.CreateJob",
        "--address",
        "127.0.0.1:1",
        "--retries",
        "0",
    ]);
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "connection error");
}

#[test]
fn go_micro_codes_499_and_504_exit_as_cancelled_and_deadline_exceeded() {
    // The server sends the codes as given ({"code":499,…} in Micro-Error); the caller maps
    // them as the README's table says: 64 + Cancelled (1), 64 + DeadlineExceeded (4).
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "handlers.json",
        br#"{
            "Job.CreateJob": {"error": {"code": 499, "detail": "the caller went away"}},
            "Job.GetJob": {"error": {"code": 504, "detail": "upstream timed out"}}
        }"#,
    );
    let server = Server::start(&["--proto", &sample("job.proto"), "--handlers", &handlers]);
    for (endpoint, exit, message) in [
        ("Job.CreateJob", 64 + 1, "CANCELLED: the caller went away"),
        (
            "Job.GetJob",
            64 + 4,
            "DEADLINE_EXCEEDED: upstream timed out",
        ),
    ] {
        let output = server.run(&["call", endpoint]);
        assert_exit(&output, exit);
        assert_stderr_has(&output, message);
    }
}

#[test]
fn unknown_endpoint_on_the_server_is_unimplemented() {
    // The caller's schema has the method, the server's does not: the server answers with
    // go-micro's router error, which maps to Unimplemented (64 + 12).
    let server = Server::job(&[]);
    let output = server.run(&[
        "call",
        "Greeter.Hello",
        "--proto",
        &fixture("greeter.proto"),
    ]);
    assert_exit(&output, 76);
    assert_stderr_has(&output, "rpc: can't find service Greeter");
}

#[test]
fn local_schema_refuses_bad_names_before_any_network_io() {
    // Port 1 would refuse, so exit 1 with a suggestion proves nothing was dialled first.
    let output = run(&[
        "call",
        "Job.CreateJbo",
        "--proto",
        &sample("job.proto"),
        "--address",
        "127.0.0.1:1",
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(
        &output,
        "unknown endpoint `Job.CreateJbo`; did you mean Job.CreateJob?",
    );
    assert!(
        !stderr(&output).contains("connection"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn request_json_is_checked_against_the_type() {
    let server = Server::job(&[]);
    let unknown = server.run(&["call", "Job.CreateJob", r#"{"nmae":"x"}"#]);
    assert_exit(&unknown, 1);
    assert_stderr_has(&unknown, "nmae");
    let wrong = server.run(&["call", "Job.CreateJob", r#"{"hosts":["a",3]}"#]);
    assert_exit(&wrong, 1);
    assert_stderr_has(&wrong, "hosts[1]");
    let malformed = server.run(&["call", "Job.CreateJob", r#"{"name":"#]);
    assert_exit(&malformed, 1);
    assert_stderr_has(&malformed, "the request is not valid JSON");
    assert_stderr_has(&malformed, "EOF while parsing a value at line 1 column 8");
}

#[test]
fn exec_handler_failures_are_precise() {
    let server = Server::greeter(&[]);
    let crash = server.run(&[
        "call",
        "Helloworld.Call",
        r#"{"name":"crash"}"#,
        "--retries",
        "0",
    ]);
    assert_exit(&crash, 77);
    assert_stderr_has(&crash, "exited with status 2: segfault in handler");
    let garbage = server.run(&[
        "call",
        "Helloworld.Call",
        r#"{"name":"garbage"}"#,
        "--retries",
        "0",
    ]);
    assert_exit(&garbage, 77);
    assert_stderr_has(&garbage, "not JSON");
    let started = std::time::Instant::now();
    let hang = server.run(&[
        "call",
        "Helloworld.Call",
        r#"{"name":"hang"}"#,
        "--retries",
        "0",
    ]);
    assert_exit(&hang, 68);
    assert_stderr_has(&hang, "killed");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // hang.sh and the grandchild it started are both gone: the process group was killed.
    let survivors = (0..50).find_map(|_| {
        let found = std::process::Command::new("pgrep")
            .args(["-f", "sleep 31.25"])
            .output()
            .unwrap();
        if found.stdout.is_empty() {
            return Some(String::new());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        None
    });
    assert_eq!(
        survivors,
        Some(String::new()),
        "the exec handler's processes outlived the deadline"
    );
    // The server keeps serving.
    assert_exit(
        &server.run(&["call", "Helloworld.Call", r#"{"name":"x"}"#]),
        0,
    );
}

#[test]
fn exec_error_object_becomes_the_status() {
    let server = Server::job(&[]);
    let output = server.run(&["call", "Job.GetJob", r#"{"id":"9","name":"missing"}"#]);
    assert_exit(&output, 69);
    assert_stderr_has(&output, "NOT_FOUND: job 9 not found");
}

#[test]
fn timeout_exits_68_after_every_attempt() {
    let server = Server::greeter(&[]);
    let output = server.run(&[
        "call",
        "Greeter.Hello",
        r#"{"name":"slow"}"#,
        "--timeout",
        "100ms",
        "--retries",
        "1",
        "--backoff",
        "none",
        "-v",
    ]);
    assert_exit(&output, 68);
    let log = stderr(&output);
    // The schema fetch is labelled as one and is no attempt; the call makes two.
    assert!(log.contains("* schema from Debug.Endpoints at"), "{log}");
    assert_eq!(log.matches("> attempt 1/2").count(), 1, "{log}");
    assert_eq!(log.matches("> attempt 2/2").count(), 1, "{log}");
    assert!(log.contains("DEADLINE_EXCEEDED"), "{log}");
    let stats = json(&server.run(&["stats", "-o", "json"]));
    let hello = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == "Greeter.Hello")
        .unwrap()
        .clone();
    assert_eq!(hello["requests"], 2, "{stats}");
}

#[test]
fn a_sequence_that_fails_once_succeeds_with_one_retry() {
    let server = Server::job(&[]);
    let output = server.run(&[
        "call",
        "Job.ChangeJob",
        "--retries",
        "1",
        "--backoff",
        "constant:10ms",
    ]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "changed");

    let fresh = Server::job(&[]);
    let output = fresh.run(&["call", "Job.ChangeJob", "--retries", "0"]);
    assert_exit(&output, 77);
}

#[test]
fn schema_less_calls_send_json_as_given() {
    // A server without the Debug service, as go-micro v4.8+ services are: the JSON text
    // goes out verbatim and the reply comes back as it is.
    let echo = EchoServer::start();
    let body = r#"{"name": "John",   "extra": [1, 2]}"#;
    let output = run(&["call", "Helloworld.Call", body, "--address", &echo.address]);
    assert_exit(&output, 0);
    assert_eq!(
        json(&output),
        serde_json::json!({"name": "John", "extra": [1, 2]})
    );
    assert_eq!(echo.bodies().last().unwrap(), body);
    let not_json = run(&[
        "call",
        "Helloworld.Call",
        "{nope",
        "--address",
        &echo.address,
    ]);
    assert_exit(&not_json, 1);
    assert_stderr_has(&not_json, "the request is not valid JSON");
    let protobuf = run(&[
        "call",
        "Helloworld.Call",
        "--content-type",
        "protobuf",
        "--address",
        &echo.address,
    ]);
    assert_exit(&protobuf, 2);
    assert_stderr_has(&protobuf, "needs a schema");
}

#[test]
fn address_from_the_environment() {
    let server = Server::job(&[]);
    for variable in ["RMICRO_ADDRESS", "MICRO_PROXY_ADDRESS"] {
        let output = rmicro()
            .args(["call", "Job.CreateJob"])
            .env(variable, &server.address)
            .output()
            .unwrap();
        assert_exit(&output, 0);
    }
    // Nothing given and nothing registered: a usage error that says what to pass.
    let empty = tempfile::tempdir().unwrap();
    let registry = format!("file://{}", empty.path().display());
    let missing = run(&["call", "Job.CreateJob", "--registry", &registry]);
    assert_exit(&missing, 2);
    assert_stderr_has(&missing, "--address");
}
