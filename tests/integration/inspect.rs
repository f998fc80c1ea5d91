//! `list`, `describe`, `health`, `stats` and `completions` through the real binary.

use crate::support::{
    assert_exit, assert_stderr_has, assert_stdout_has, json, run, sample, stdout, Server,
};

#[test]
fn list_shows_endpoints_types_kinds_and_handlers() {
    let server = Server::job(&[]);
    let output = server.run(&["list", "-o", "json"]);
    assert_exit(&output, 0);
    let rows = json(&output);
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|row| row["endpoint"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(row("Job.CreateJob")["handler"], "stub");
    assert_eq!(row("Job.GetJob")["handler"], "exec");
    assert_eq!(row("Job.GetJob")["request"], "job.Task");
    assert_eq!(row("Debug.Health")["handler"], "debug");
    let table = server.run(&["list"]);
    assert_exit(&table, 0);
    let text = stdout(&table);
    assert!(
        text.contains("ENDPOINT")
            && text.contains("Job.ChangeJob")
            && text.contains("job.Response"),
        "{text}"
    );
}

#[test]
fn list_against_a_server_without_debug_explains() {
    let echo = crate::support::EchoServer::start();
    let output = run(&["list", "--address", &echo.address]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "has no Debug service");
}

#[test]
fn describe_shows_layouts_and_a_usable_template() {
    let proto = sample("shop.proto");
    let output = run(&["describe", "Orders.PlaceOrder", "--proto", &proto]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    for needle in [
        "message shop.Order {",
        "oneof payment {",
        "map<string, string> labels = 4;",
        "google.protobuf.Timestamp created_at = 10;",
        "message shop.Order.Customer {",
        "message shop.Receipt {",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json_output = run(&[
        "describe",
        "Orders.PlaceOrder",
        "--proto",
        &proto,
        "-o",
        "json",
    ]);
    let template = json(&json_output)["template"].clone();
    assert_eq!(template["createdAt"], "1970-01-01T00:00:00Z");
    // The template is a valid request: a server accepts it as it is.
    let handlers = sample("shop.handlers.json");
    let server = Server::start(&["--proto", &proto, "--handlers", &handlers]);
    let call = server.run(&["call", "Orders.PlaceOrder", &template.to_string()]);
    assert_exit(&call, 0);
    assert_eq!(json(&call)["orderId"], "o-1001");
}

#[test]
fn describe_a_message_from_the_server_schema() {
    let server = Server::job(&[]);
    let output = server.run(&["describe", "job.Task"]);
    assert_exit(&output, 0);
    assert_stdout_has(&output, "repeated string hosts = 8;");
    let unknown = server.run(&["describe", "Job.Nothing"]);
    assert_exit(&unknown, 1);
    assert_stderr_has(&unknown, "unknown endpoint `Job.Nothing`");
}

#[test]
fn health_waits_until_ready() {
    // Nothing listens yet: without --wait it fails at once, with --wait it times out.
    let refused = run(&["health", "--address", "127.0.0.1:1"]);
    assert_exit(&refused, 1);
    assert_stderr_has(&refused, "connection error: dial tcp 127.0.0.1:1");
    let started = std::time::Instant::now();
    let waited = run(&["health", "--address", "127.0.0.1:1", "--wait", "300ms"]);
    assert_exit(&waited, 1);
    assert_stderr_has(&waited, "connection error: dial tcp 127.0.0.1:1");
    assert!(started.elapsed() >= std::time::Duration::from_millis(250));
    let server = Server::job(&[]);
    let output = server.run(&["health", "--wait", "5s"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output), serde_json::json!({"status": "ok"}));
}

#[test]
fn stats_count_requests_errors_and_latency() {
    let server = Server::job(&[]);
    for _ in 0..3 {
        server.run(&["call", "Job.CreateJob"]);
    }
    // The sample's "slow" rule waits 300 ms: the slowest call took at least that long.
    assert_exit(
        &server.run(&["call", "Job.CreateJob", r#"{"name":"slow"}"#]),
        0,
    );
    server.run(&["call", "Job.DeleteJob"]);
    let output = server.run(&["stats", "-o", "json"]);
    assert_exit(&output, 0);
    let stats = json(&output);
    let endpoint = |name: &str| {
        stats["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["endpoint"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(endpoint("Job.CreateJob")["requests"], 4);
    assert_eq!(endpoint("Job.DeleteJob")["errors"], 1);
    let create = endpoint("Job.CreateJob");
    let ms = |figure: &str| create[figure].as_f64().unwrap();
    assert!(ms("maxMs") >= 300.0, "{create}");
    // A quarter of the time was spent in 4 calls: the mean is at least 75 ms, and the
    // median, a stub answered at once, is below the slow call.
    assert!(ms("meanMs") >= 75.0, "{create}");
    assert!(ms("p50Ms") < ms("maxMs"), "{create}");
    assert!(stats["memory"].as_u64().unwrap() > 1_000_000, "{stats}");
    let table = server.run(&["stats"]);
    assert_stdout_has(&table, "Job.CreateJob");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = run(&["completions", shell]);
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("rmicro"), "{shell}");
    }
}
