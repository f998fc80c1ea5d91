//! `rmicro serve --proxy` and proxy rules, with another `rmicro serve` as the upstream:
//! every protocol in front of every protocol behind, statuses mapped across them, headers
//! and trailers passed back, the schema read from the upstream, one endpoint stubbed while
//! the others pass, record then replay with the upstream gone, and Debug.EndpointStats' upstream
//! figures. (interop/test_proxy.py does the same with grpcio and Go's net/rpc as peers.)

use crate::support::{
    assert_exit, assert_stderr_has, exchange, fixture, json, rmicro, stderr, stdout, write_temp,
    Server,
};
use serde_json::json;
use std::io::{BufRead, Write};

/// The greeter upstream: its rules set a header and a trailer on every reply.
fn upstream(dir: &std::path::Path) -> Server {
    let handlers = write_temp(
        dir,
        "upstream.handlers.json",
        br#"{
          "Greeter.Hello": [
            {"match": {"name": "John"}, "reply": {"msg": "Hello John"},
             "headers": {"x-upstream": "greeter"}, "trailers": {"x-served-by": "upstream"}},
            {"match": {"name": "teapot"}, "error": {"code": 418, "detail": "short and stout"}},
            {"match": {"name": "missing"}, "error": {"status": "NOT_FOUND", "detail": "no such greeting"},
             "trailers": {"x-served-by": "upstream"}}
          ],
          "Helloworld.Call": {"error": {"id": "helloworld", "code": 404, "detail": "user not found"}}
        }"#,
    );
    Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &handlers,
        "--no-register",
    ])
}

fn proxy(upstream: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--proxy", upstream, "--no-register"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn call(
    scheme: &str,
    server: &Server,
    endpoint: &str,
    data: &str,
    extra: &[&str],
) -> std::process::Output {
    rmicro()
        .args(["call", endpoint, data, "--address"])
        .arg(format!("{scheme}://{}", server.address))
        .args(extra)
        .output()
        .expect("rmicro runs")
}

#[test]
fn every_protocol_reaches_a_grpc_upstream_whose_schema_comes_from_reflection() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let front = proxy(&format!("grpc://{}", upstream.address), &[]);
    for scheme in ["grpc", "mucp", "jsonrpc"] {
        let output = call(scheme, &front, "Greeter.Hello", r#"{"name":"John"}"#, &[]);
        assert_exit(&output, 0);
        assert_eq!(json(&output), json!({"msg": "Hello John"}), "{scheme}");
        // go-micro's 404 became NOT_FOUND upstream and is NOT_FOUND again here (64 + 5);
        // JSON-RPC errors are text only (Unknown).
        let output = call(scheme, &front, "Helloworld.Call", r#"{"name":"x"}"#, &[]);
        assert_exit(&output, if scheme == "jsonrpc" { 64 + 2 } else { 64 + 5 });
        assert_stderr_has(&output, "user not found");
    }
    // An endpoint the upstream does not have is not served.
    let output = call("grpc", &front, "Greeter.Goodbye", "{}", &[]);
    assert!(!output.status.success(), "{}", stdout(&output));
}

#[test]
fn headers_trailers_and_exact_go_micro_codes_come_back_through_each_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let front = proxy(&format!("grpc://{}", upstream.address), &[]);
    let output = call(
        "grpc",
        &front,
        "Greeter.Hello",
        r#"{"name":"John"}"#,
        &["-v"],
    );
    assert_exit(&output, 0);
    let log = stderr(&output);
    let trailers = log.split("response trailers").nth(1).unwrap_or_default();
    assert!(log.contains("x-upstream: greeter"), "{log}");
    assert!(trailers.contains("x-served-by: upstream"), "{log}");
    let output = call(
        "grpc",
        &front,
        "Greeter.Hello",
        r#"{"name":"missing"}"#,
        &["-v"],
    );
    assert_exit(&output, 64 + 5);
    assert!(
        stderr(&output).contains("x-served-by: upstream"),
        "{}",
        stderr(&output)
    );

    // mucp has no trailers: they come as headers.
    let mut connection = front.connect();
    let raw = |body: &str| {
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let reply = String::from_utf8(exchange(
        &mut connection,
        raw(r#"{"name":"John"}"#).as_bytes(),
    ))
    .unwrap();
    assert!(reply.contains("x-upstream: greeter\r\n"), "{reply}");
    assert!(reply.contains("x-served-by: upstream\r\n"), "{reply}");
    assert!(
        reply.ends_with(r#"{"msg":"Hello John"}"#) || reply.contains(r#"{"msg":"Hello John"}"#),
        "{reply}"
    );
    let reply = String::from_utf8(exchange(
        &mut connection,
        raw(r#"{"name":"teapot"}"#).as_bytes(),
    ))
    .unwrap();
    // gRPC has no 418: across a gRPC hop it is FAILED_PRECONDITION, go-micro's 412.
    assert!(reply.contains(r#""code":412"#), "{reply}");
}

#[test]
fn a_mucp_upstream_gives_its_schema_through_debug_endpoints_and_its_404_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let front = proxy(&format!("mucp://{}", upstream.address), &[]);
    let output = call(
        "grpc",
        &front,
        "Greeter.Hello",
        r#"{"name":"John"}"#,
        &["-v"],
    );
    assert_exit(&output, 0);
    assert_eq!(json(&output), json!({"msg": "Hello John"}));
    // The mucp upstream's reply headers reach the gRPC caller (a mucp server sends no
    // trailers).
    assert!(
        stderr(&output).contains("x-upstream: greeter"),
        "{}",
        stderr(&output)
    );
    let output = call("grpc", &front, "Helloworld.Call", "{}", &[]);
    assert_exit(&output, 64 + 5);
    assert_stderr_has(&output, "user not found");
    // mucp to mucp keeps go-micro's exact code.
    let body = r#"{"name":"teapot"}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nMicro-Endpoint: Greeter.Hello\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = String::from_utf8(exchange(&mut front.connect(), request.as_bytes())).unwrap();
    assert!(reply.contains(r#""code":418"#), "{reply}");
}

#[test]
fn a_service_name_finds_the_upstream_in_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "named.handlers.json",
        br#"{"Greeter.Hello": {"reply": {"msg": "from the registry"}}}"#,
    );
    // Registered in this test run's embedded registry, under a name of its own (other
    // tests' servers leave records of "greeter" behind when they are killed).
    let name = format!("proxied-greeter-{}", std::process::id());
    let _upstream = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &handlers,
        "--name",
        &name,
    ]);
    let front = proxy(&format!("service:{name}"), &[]);
    let output = call("mucp", &front, "Greeter.Hello", "{}", &[]);
    assert_exit(&output, 0);
    assert_eq!(json(&output), json!({"msg": "from the registry"}));
}

#[test]
fn the_callers_deadline_goes_upstream_minus_what_was_spent() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "slow.handlers.json",
        br#"{"Greeter.Hello": {"delay": "2s", "reply": {"msg": "late"}}}"#,
    );
    let upstream = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &handlers,
        "--no-register",
    ]);
    let front = proxy(&format!("grpc://{}", upstream.address), &[]);
    let started = std::time::Instant::now();
    let output = call(
        "grpc",
        &front,
        "Greeter.Hello",
        "{}",
        &["--timeout", "300ms"],
    );
    assert_exit(&output, 64 + 4);
    assert!(started.elapsed() < std::time::Duration::from_millis(1500));
    // The upstream saw the deadline: its own Debug.EndpointStats counts a failed call.
    let stats = rmicro()
        .args(["stats", "-o", "json", "--address", &upstream.address])
        .output()
        .unwrap();
    let stats = json(&stats);
    let hello = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|endpoint| endpoint["endpoint"] == "Greeter.Hello")
        .cloned()
        .unwrap_or_default();
    assert_eq!(hello["errors"], json!(1), "{stats}");
}

#[test]
fn one_endpoint_stubbed_the_others_proxied_and_stats_show_the_upstream_time() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let handlers = write_temp(
        dir.path(),
        "front.handlers.json",
        format!(
            r#"{{"Greeter.Hello": [{{"match": {{"name": "stub"}}, "reply": {{"msg": "stubbed"}}}},
                                  {{"proxy": "grpc://{}"}}]}}"#,
            upstream.address
        )
        .as_bytes(),
    );
    let front = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &handlers,
        "--no-register",
    ]);
    let output = call("grpc", &front, "Greeter.Hello", r#"{"name":"stub"}"#, &[]);
    assert_eq!(json(&output), json!({"msg": "stubbed"}));
    let output = call("grpc", &front, "Greeter.Hello", r#"{"name":"John"}"#, &[]);
    assert_eq!(json(&output), json!({"msg": "Hello John"}));
    // Helloworld.Call has no rule and no --proxy: the empty reply.
    let output = call("grpc", &front, "Helloworld.Call", "{}", &[]);
    assert_eq!(json(&output), json!({}));

    let output = rmicro()
        .args(["stats", "-o", "json", "--address", &front.address])
        .output()
        .unwrap();
    let stats = json(&output);
    let hello = stats["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|endpoint| endpoint["endpoint"] == "Greeter.Hello")
        .cloned()
        .unwrap();
    assert_eq!(hello["requests"], json!(2), "{stats}");
    // Only the proxied call reached upstream.
    assert_eq!(hello["upstream"]["requests"], json!(1), "{stats}");
    assert!(
        hello["upstream"]["p50Ms"].as_f64().unwrap() > 0.0,
        "{stats}"
    );

    // The journal has the upstream's time beside the proxied call's own, and none for
    // the stubbed call.
    let output = rmicro()
        .args([
            "journal",
            "-o",
            "json",
            "Greeter.Hello",
            "--address",
            &front.address,
        ])
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let entries: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let upstream = entries
        .iter()
        .filter(|entry| entry["upstream_ms"].as_f64().is_some_and(|ms| ms > 0.0))
        .count();
    assert_eq!(upstream, 1, "{entries:?}");
}

#[test]
fn recorded_exchanges_replay_with_the_upstream_gone() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let recording = dir.path().join("recorded.json");
    let recording = recording.to_string_lossy();
    let front = proxy(
        &format!("grpc://{}", upstream.address),
        &["--record", &recording, "--record-redact", "x-upstream"],
    );
    let first = [
        call(
            "grpc",
            &front,
            "Greeter.Hello",
            r#"{"name":"John"}"#,
            &["-v", "-H", "authorization: secret"],
        ),
        call("mucp", &front, "Greeter.Hello", r#"{"name":"teapot"}"#, &[]),
        call("grpc", &front, "Helloworld.Call", r#"{"name":"x"}"#, &[]),
    ];
    let (status, log) = front.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("recorded 3 rules"), "{log}");
    drop(upstream);
    let text = std::fs::read_to_string(&*recording).unwrap();
    assert!(
        !text.contains("x-upstream") && !text.contains("secret"),
        "{text}"
    );
    assert!(text.contains("x-served-by"), "{text}");

    let replay = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &recording,
        "--no-register",
    ]);
    let again = [
        call(
            "grpc",
            &replay,
            "Greeter.Hello",
            r#"{"name":"John"}"#,
            &["-v"],
        ),
        call(
            "mucp",
            &replay,
            "Greeter.Hello",
            r#"{"name":"teapot"}"#,
            &[],
        ),
        call("grpc", &replay, "Helloworld.Call", r#"{"name":"x"}"#, &[]),
    ];
    for (first, again) in first.iter().zip(&again) {
        assert_eq!(
            first.status.code(),
            again.status.code(),
            "{}",
            stderr(again)
        );
        assert_eq!(stdout(first), stdout(again));
    }
    assert!(
        stderr(&again[0]).contains("x-served-by: upstream"),
        "{}",
        stderr(&again[0])
    );
    assert_stderr_has(&again[1], "short and stout");
}

#[test]
fn streams_pass_to_mucp_and_a_protocol_without_streams_is_unimplemented() {
    let echo = crate::support::root().join("interop/grpc/echo.proto");
    let echo = echo.to_string_lossy();
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "count.handlers.json",
        br#"{"Echo.Count": {"reply": [{"text": "a"}, {"text": "b", "index": 1}]}}"#,
    );
    let server = Server::start(&["--proto", &echo, "--handlers", &handlers, "--no-register"]);
    let front = |scheme: &str| {
        Server::start(&[
            "--proto",
            &echo,
            "--proxy",
            &format!("{scheme}://{}", server.address),
            "--no-register",
        ])
    };
    // go-micro's streams over mucp.
    let mucp = front("mucp");
    let output = call("grpc", &mucp, "Echo.Count", r#"{"count":2}"#, &[]);
    assert_exit(&output, 0);
    assert_eq!(stdout(&output).lines().count(), 2, "{}", stdout(&output));
    let jsonrpc = front("jsonrpc");
    let output = call("grpc", &jsonrpc, "Echo.Count", r#"{"count":2}"#, &[]);
    assert_exit(&output, 64 + 12);
    assert_stderr_has(&output, "speaks jsonrpc, which has no streams");
    // Its unary methods pass.
    let output = call("grpc", &jsonrpc, "Echo.Say", r#"{"text":"x"}"#, &[]);
    assert_exit(&output, 0);
}

#[test]
fn a_proxy_rule_that_cannot_be_served_is_refused_at_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "bad.handlers.json",
        br#"{"Greeter.Hello": {"proxy": "ftp://x:1"}}"#,
    );
    let output = rmicro()
        .args([
            "serve",
            "--proto",
            &fixture("greeter.proto"),
            "--handlers",
            &handlers,
            "--no-register",
        ])
        .output()
        .unwrap();
    assert_exit(&output, 2);
    assert_stderr_has(&output, "endpoint Greeter.Hello: proxy");
    assert_stderr_has(&output, "unknown address scheme ftp://");
}

#[test]
fn retries_and_tls_to_the_upstream_are_those_of_call() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "flaky.handlers.json",
        br#"{"Greeter.Hello": {"sequence": [{"error": {"status": "UNAVAILABLE", "detail": "warming up"}}, {"reply": {"msg": "warm"}}]}}"#,
    );
    let flaky = || {
        Server::start(&[
            "--proto",
            &fixture("greeter.proto"),
            "--handlers",
            &handlers,
            "--no-register",
        ])
    };
    let (once, twice) = (flaky(), flaky());
    let front = proxy(&format!("grpc://{}", once.address), &[]);
    let output = call("mucp", &front, "Greeter.Hello", "{}", &[]);
    assert_exit(&output, 64 + 14);
    assert_stderr_has(&output, "warming up");
    let front = proxy(
        &format!("grpc://{}", twice.address),
        &["--proxy-retries", "1"],
    );
    let output = call("mucp", &front, "Greeter.Hello", "{}", &[]);
    assert_exit(&output, 0);
    assert_eq!(json(&output), json!({"msg": "warm"}));

    // gRPC over TLS, the upstream's certificate checked against --proxy-cacert.
    let certificates = crate::tls::Certificates::new();
    let secure = certificates.server(&[]);
    let front = proxy(
        &format!("grpcs://{}", secure.address),
        &["--proxy-cacert", &certificates.path("ca.pem")],
    );
    let output = call(
        "jsonrpc",
        &front,
        "Greeter.Hello",
        r#"{"name":"John"}"#,
        &[],
    );
    assert_exit(&output, 0);
    assert_eq!(json(&output), json!({"msg": "Hello John"}));
    // Without the CA, the upstream is not trusted.
    let output = rmicro()
        .args([
            "serve",
            "--no-register",
            "--address",
            "127.0.0.1:0",
            "--proxy",
        ])
        .arg(format!("grpcs://{}", secure.address))
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, "certificate");
}

/// An upstream that answers each request of a bidirectional stream with twelve 64 KiB
/// replies before it reads the next: a caller that sends its 60 requests as fast as it
/// can gets every reply through the proxy (and directly). A proxy that waited for the
/// upstream's window to send a request without receiving meanwhile stalled here: the
/// upstream stops reading while its replies are not taken.
#[test]
fn a_bidi_stream_whose_caller_sends_faster_than_the_upstream_reads_does_not_stall() {
    let echo = crate::support::root().join("interop/grpc/echo.proto");
    let echo = echo.to_string_lossy();
    let dir = tempfile::tempdir().unwrap();
    let replies: Vec<_> = (0..12)
        .map(|index| json!({"text": "{{request.text}}", "index": index}))
        .collect();
    let handlers = write_temp(
        dir.path(),
        "chat.handlers.json",
        json!({"Echo.Chat": {"reply": replies}})
            .to_string()
            .as_bytes(),
    );
    let requests: String = (0..60)
        .map(|index| {
            format!(
                "{}\n",
                json!({"text": format!("{index:02}").repeat(32 * 1024)})
            )
        })
        .collect();
    let requests = write_temp(dir.path(), "requests.jsonl", requests.as_bytes());
    let upstream = Server::start(&["--proto", &echo, "--handlers", &handlers, "--no-register"]);
    let front = proxy(&format!("grpc://{}", upstream.address), &[]);
    for server in [&upstream, &front] {
        let data = format!("@{requests}");
        let output = call(
            "grpc",
            server,
            "echo.v1.Echo/Chat",
            &data,
            &["--timeout", "20s", "--proto", &echo],
        );
        assert_exit(&output, 0);
        let replies: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(replies.len(), 60 * 12);
        // In order: request 37's twelve replies are the 445th to the 456th.
        let text = replies[37 * 12 + 11]["text"].as_str().unwrap();
        assert!(text.starts_with("3737") && text.len() == 64 * 1024);
        assert_eq!(replies[37 * 12 + 11]["index"], 11);
    }
}

/// A greeter answering `{"msg": TEXT}`, registered under `name` (or not at all).
fn greeter_saying(dir: &std::path::Path, text: &str, name: Option<&str>, extra: &[&str]) -> Server {
    let handlers = write_temp(
        dir,
        &format!("{text}.handlers.json"),
        format!(r#"{{"Greeter.Hello": {{"reply": {{"msg": "{text}"}}}}}}"#).as_bytes(),
    );
    let mut args = vec![
        "--proto".to_owned(),
        fixture("greeter.proto"),
        "--handlers".into(),
        handlers,
    ];
    match name {
        Some(name) => args.extend(["--name".to_owned(), name.to_owned()]),
        None => args.push("--no-register".into()),
    }
    args.extend(extra.iter().map(|arg| arg.to_string()));
    Server::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn hello(front: &Server) -> String {
    let output = call("grpc", front, "Greeter.Hello", "{}", &[]);
    assert_exit(&output, 0);
    json(&output)["msg"].as_str().unwrap().to_owned()
}

/// `service:NAME` follows the registry: the schema comes from a node that answers though
/// a stale record (a node killed without deregistering) is there too; a node registered
/// later is called; a node that deregisters is dropped — a server that takes its port
/// afterwards, unregistered, is never called.
#[test]
fn a_service_upstream_follows_the_registry_and_reads_its_schema_from_a_node_that_answers() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("following-greeter-{}", std::process::id());
    // Killed: its record stays behind, its port refuses.
    drop(greeter_saying(dir.path(), "stale", Some(&name), &[]));
    let first = greeter_saying(dir.path(), "first", Some(&name), &[]);
    let front = proxy(
        &format!("service:{name}"),
        &["--proxy-refresh", "200ms", "--proxy-retries", "3"],
    );
    assert_eq!(hello(&front), "first");
    let _second = greeter_saying(dir.path(), "second", Some(&name), &[]);
    crate::support::wait_until("the node registered later is called", || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        hello(&front) == "second"
    });
    let address = first.address.clone();
    let (status, _) = first.terminate();
    assert!(status.success());
    let _squatter = greeter_saying(dir.path(), "squatter", None, &["--address", &address]);
    // Calls go on meanwhile; each one after the refresh interval has the registry read again.
    for _ in 0..10 {
        hello(&front);
        std::thread::sleep(std::time::Duration::from_millis(60));
    }
    let answers: Vec<String> = (0..20).map(|_| hello(&front)).collect();
    assert!(answers.iter().all(|text| text == "second"), "{answers:?}");
}

/// A handlers file reloaded while serving may name a `service:` upstream no rule named
/// before: it is looked up then, and its calls pass.
#[test]
fn a_reloaded_handlers_file_can_name_a_new_service_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("reloaded-greeter-{}", std::process::id());
    let _upstream = greeter_saying(dir.path(), "from the registry", Some(&name), &[]);
    let file = write_temp(
        dir.path(),
        "front.handlers.json",
        br#"{"Greeter.Hello": {"reply": {"msg": "local"}}}"#,
    );
    let front = Server::start(&[
        "--proto",
        &fixture("greeter.proto"),
        "--handlers",
        &file,
        "--no-register",
    ]);
    assert_eq!(hello(&front), "local");
    std::fs::write(
        &file,
        format!(r#"{{"Greeter.Hello": {{"proxy": "service:{name}"}}}}"#),
    )
    .unwrap();
    crate::support::wait_until("the reloaded proxy rule passes the call on", || {
        hello(&front) == "from the registry"
    });
    assert!(
        front.log().contains("handlers reloaded from"),
        "{}",
        front.log()
    );
}

/// Connect and gRPC-Web both ways: `--proxy connect://`, `grpc-web://` and `http://`
/// (Connect over HTTP/1.1) in front of an rmicro upstream — the schema from its reflection
/// over that protocol — called in every protocol rmicro's client speaks: the reply, the
/// upstream's header and trailer, an error's code, and a server stream.
#[test]
fn connect_and_grpc_web_pass_through_the_proxy_as_callers_and_as_upstreams() {
    let echo = crate::support::root().join("interop/grpc/echo.proto");
    let echo = echo.to_string_lossy();
    let dir = tempfile::tempdir().unwrap();
    let handlers = write_temp(
        dir.path(),
        "echo.handlers.json",
        br#"{"Echo.Say": [
              {"match": {"text": "missing"}, "error": {"status": "NOT_FOUND", "detail": "no such thing"}},
              {"reply": {"text": "{{request.text}} back"}, "headers": {"x-upstream": "echo"},
               "trailers": {"x-served-by": "upstream"}}],
             "Echo.Count": {"reply": [{"text": "a"}, {"text": "b", "index": 1}]}}"#,
    );
    let upstream = Server::start(&["--proto", &echo, "--handlers", &handlers, "--no-register"]);
    for upstream_scheme in ["connect", "grpc-web", "http"] {
        let front = proxy(&format!("{upstream_scheme}://{}", upstream.address), &[]);
        for scheme in ["grpc", "connect", "grpc-web", "http"] {
            let case = format!("{scheme} caller, {upstream_scheme} upstream");
            let output = call(
                scheme,
                &front,
                "echo.v1.Echo/Say",
                r#"{"text":"hi"}"#,
                &["-v"],
            );
            assert_exit(&output, 0);
            assert_eq!(json(&output), json!({"text": "hi back"}), "{case}");
            for line in ["< x-upstream: echo", "< x-served-by: upstream"] {
                assert!(
                    stderr(&output).contains(line),
                    "{case}: {}",
                    stderr(&output)
                );
            }
            let output = call(
                scheme,
                &front,
                "echo.v1.Echo/Say",
                r#"{"text":"missing"}"#,
                &[],
            );
            assert_exit(&output, 64 + 5);
            assert_stderr_has(&output, "NOT_FOUND: no such thing");
            let output = call(scheme, &front, "echo.v1.Echo/Count", "{}", &[]);
            assert_exit(&output, 0);
            assert_eq!(
                stdout(&output),
                "{\"text\":\"a\"}\n{\"text\":\"b\",\"index\":1}\n",
                "{case}"
            );
        }
    }
}

/// When the last node of a `service:` upstream deregisters, its calls are UNAVAILABLE
/// saying so; a node registered later serves them again.
#[test]
fn a_service_upstream_without_nodes_is_unavailable_until_one_registers() {
    let dir = tempfile::tempdir().unwrap();
    let name = format!("vacated-greeter-{}", std::process::id());
    let only = greeter_saying(dir.path(), "only", Some(&name), &[]);
    let front = proxy(&format!("service:{name}"), &["--proxy-refresh", "200ms"]);
    assert_eq!(hello(&front), "only");
    let (status, _) = only.terminate();
    assert!(status.success());
    crate::support::wait_until("the calls say the service has no node", || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let output = call("grpc", &front, "Greeter.Hello", "{}", &[]);
        output.status.code() == Some(64 + 14)
            && stderr(&output).contains("the registry has no node of the service now")
    });
    let _later = greeter_saying(dir.path(), "later", Some(&name), &[]);
    crate::support::wait_until("the node registered later serves", || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let output = call("grpc", &front, "Greeter.Hello", "{}", &[]);
        output.status.success() && json(&output)["msg"] == "later"
    });
}

/// A TCP relay to `to` that counts the connections made through it.
fn counting_relay(to: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    std::thread::spawn(move || {
        for caller in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let Ok(upstream) = std::net::TcpStream::connect(&to) else {
                continue;
            };
            for (mut from, mut into) in [
                (caller.try_clone().unwrap(), upstream.try_clone().unwrap()),
                (upstream, caller),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut into);
                    let _ = into.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    (address, count)
}

#[test]
fn a_burst_of_first_calls_shares_one_upstream_connection_per_serving_thread() {
    // 64 calls at once before any upstream connection exists: the first call on each of
    // the proxy's 2 threads dials, the others wait for its connection (before, each of
    // the 64 dialled one of its own).
    let dir = tempfile::tempdir().unwrap();
    let upstream = upstream(dir.path());
    let (relay, connections) = counting_relay(upstream.address.clone());
    let front = proxy(
        &format!("grpc://{relay}"),
        &["--proto", &fixture("greeter.proto"), "--threads", "2"],
    );
    let output = rmicro()
        .args(["bench", "Greeter.Hello", r#"{"name":"John"}"#, "-a"])
        .arg(format!("grpc://{}", front.address))
        .args(["--proto", &fixture("greeter.proto")])
        .args(["-n", "64", "-c", "64", "--connections", "8", "-o", "json"])
        .output()
        .expect("rmicro runs");
    assert_exit(&output, 0);
    let run = json(&output);
    assert_eq!(run["ok"], 64, "{run}");
    let made = connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&made), "{made} upstream connections");
}

#[test]
fn a_proxied_stream_lasts_until_its_callers_deadline_not_the_proxy_timeout() {
    // The upstream's Echo.Chat answers each request with the deadline its command was
    // given (RMICRO_DEADLINE_MS: the caller's, or else the rule's 120 s).
    let echo = crate::support::root().join("interop/grpc/echo.proto");
    let echo = echo.to_string_lossy();
    let dir = tempfile::tempdir().unwrap();
    let script = r#"while read line; do echo "{\"text\":\"$RMICRO_DEADLINE_MS\"}"; done"#;
    let handlers = write_temp(
        dir.path(),
        "chat.handlers.json",
        json!({"Echo.Chat": {"exec": ["sh", "-c", script], "timeout": "120s"}})
            .to_string()
            .as_bytes(),
    );
    let upstream = Server::start(&["--proto", &echo, "--handlers", &handlers, "--no-register"]);
    // Each attempt, the opening of a stream included, has 1 s.
    let front = proxy(
        &format!("grpc://{}", upstream.address),
        &["--proxy-timeout", "1s"],
    );
    let past_the_proxy_timeout = std::time::Duration::from_millis(1500);

    // A caller with a 30 s deadline: the upstream is told what is left of it, and the
    // stream outlives the proxy's 1 s.
    let mut caller = rmicro()
        .args(["call", "echo.v1.Echo/Chat", "-d", "@-", "--timeout", "30s"])
        .arg("--address")
        .arg(format!("grpc://{}", front.address))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut requests = caller.stdin.take().unwrap();
    let mut replies = std::io::BufReader::new(caller.stdout.take().unwrap()).lines();
    let mut told = || -> u64 {
        let line = replies.next().expect("a reply").unwrap();
        let reply: serde_json::Value = serde_json::from_str(&line).unwrap();
        reply["text"].as_str().unwrap().parse().unwrap()
    };
    writeln!(requests, r#"{{"text": "one"}}"#).unwrap();
    let first = told();
    assert!(
        (25_000..=30_000).contains(&first),
        "the upstream was told {first} ms"
    );
    std::thread::sleep(past_the_proxy_timeout);
    writeln!(requests, r#"{{"text": "two"}}"#).unwrap();
    assert_eq!(told(), first, "one command serves the stream");
    drop(requests);
    let output = caller.wait_with_output().unwrap();
    assert_exit(&output, 0);

    // A caller without a deadline (a raw HTTP/2 stream, no grpc-timeout): nor has the
    // upstream call; the stream lasts as long as its caller keeps it open.
    let mut connection = crate::h2_frames::Connection::open(&front.address);
    connection.headers(
        1,
        &[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/echo.v1.Echo/Chat"),
            (":authority", "x"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
        ],
        false,
    );
    // SayRequest{text: "x"} in one gRPC message.
    let message = [0, 0, 0, 0, 3, 0x0a, 1, b'x'];
    let told = |connection: &mut crate::h2_frames::Connection| -> u64 {
        loop {
            match connection.next() {
                crate::h2_frames::Event::Data { bytes, .. } if bytes.len() > 7 => {
                    // A message of SayReply{text}: 5 bytes of framing, tag, length, text.
                    return std::str::from_utf8(&bytes[7..]).unwrap().parse().unwrap();
                }
                crate::h2_frames::Event::Headers {
                    end_stream: false, ..
                } => {}
                event => panic!("not a reply: {event:?}"),
            }
        }
    };
    connection.data(1, &message, false);
    let first = told(&mut connection);
    assert!(
        first > 100_000,
        "the upstream was told {first} ms: not its rule's 120 s"
    );
    std::thread::sleep(past_the_proxy_timeout);
    connection.data(1, &message, false);
    assert!(told(&mut connection) > 100_000);
}
