//! The embedded registry: `rmicro serve` nodes registering under one name, calls by name
//! spread over them (round-robin exact across processes, random roughly), failover when a
//! node dies, expiry of a dead node's record within its TTL, go-micro's record shape both
//! ways, and garbage in the registry.

use crate::nodes::{node_count, two_nodes_under_one_name};
use crate::support::{assert_exit, assert_stderr_has, json, rmicro, run_in_registry, Server};
use std::path::Path;
use std::time::Duration;

/// A registry directory of the test's own.
struct Registry {
    dir: tempfile::TempDir,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A Job server registered here under `name`.
    fn job(&self, name: &str, extra: &[&str]) -> Server {
        let url = self.url();
        let mut args = vec!["--registry", &url, "--name", name, "--register-ttl", "2s"];
        args.extend_from_slice(extra);
        Server::job(&args)
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run_in_registry(&self.url(), args)
    }
}

#[test]
fn two_nodes_take_turns_fail_over_and_the_dead_one_expires_within_the_ttl() {
    let registry = Registry::new();
    // TTL 2 s: the dead node's file is ignored once its mtime is 2 s old (+ time to list).
    two_nodes_under_one_name(&registry.url(), "jobs", Duration::from_millis(2500));
}

#[test]
fn a_clean_shutdown_deregisters() {
    let registry = Registry::new();
    let server = registry.job("jobs", &[]);
    assert_eq!(node_count(&registry.url(), "jobs"), 1);
    let (status, _) = server.terminate();
    assert!(status.success());
    assert_eq!(node_count(&registry.url(), "jobs"), 0);
}

/// The etcd value of spec §10.7, exactly as go-micro v5/v6 writes it.
const GO_MICRO_RECORD: &str = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Helloworld.Call"}],"nodes":[{"metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"},"id":"helloworld-4b2d4c5e-0000-4000-8000-000000000001","address":"10.0.0.5:36459"}]}"#;

fn write_record(registry: &Registry, service: &str, node: &str, contents: &str) {
    let dir = registry.path().join(service);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{node}.json"));
    std::fs::write(&path, contents).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(60))
        .unwrap();
}

#[test]
fn go_micro_records_are_read_and_rmicro_writes_the_same_shape() {
    let registry = Registry::new();
    write_record(
        &registry,
        "helloworld",
        "helloworld-4b2d4c5e-0000-4000-8000-000000000001",
        GO_MICRO_RECORD,
    );
    let output = registry.run(&["list", "helloworld", "--output", "json"]);
    assert_exit(&output, 0);
    assert_eq!(
        json(&output),
        serde_json::json!([{"endpoint": "Helloworld.Call", "version": "latest", "request": "Request", "response": "Response", "kind": "unary"}])
    );
    let output = registry.run(&["list", "--output", "json"]);
    assert_eq!(json(&output)[0]["addresses"], "10.0.0.5:36459");
    assert_eq!(json(&output)[0]["protocols"], "mucp");

    let _server = registry.job("jobs", &["--metadata", "team=core"]);
    let dir = registry.path().join("jobs");
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .find(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
        .unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
    let keys = |value: &serde_json::Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    let go: serde_json::Value = serde_json::from_str(GO_MICRO_RECORD).unwrap();
    assert_eq!(keys(&record), keys(&go));
    assert_eq!(keys(&record["nodes"][0]), keys(&go["nodes"][0]));
    assert_eq!(keys(&record["endpoints"][0]), keys(&go["endpoints"][0]));
    let leaf = &record["endpoints"][0]["request"]["values"][0];
    assert_eq!(
        keys(leaf),
        keys(&go["endpoints"][0]["request"]["values"][0])
    );
    assert!(
        leaf["values"].is_null(),
        "leaves carry values: null as Go writes them"
    );
    let metadata = &record["nodes"][0]["metadata"];
    for (key, value) in [
        ("broker", "http"),
        ("protocol", "mucp"),
        ("server", "mucp"),
        ("transport", "http"),
        ("team", "core"),
        ("protocols", "mucp,jsonrpc,grpc"),
    ] {
        assert_eq!(metadata[key], value, "{key}");
    }
    assert!(record["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("jobs-"));
}

#[test]
fn garbage_in_the_registry_is_skipped_with_a_warning() {
    let registry = Registry::new();
    write_record(&registry, "broken", "broken-1", "{\"name\":");
    let _server = registry.job("jobs", &[]);
    let output = registry.run(&["list", "--output", "json"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output).as_array().unwrap().len(), 1);
    assert_stderr_has(&output, "broken-1.json");
    let output = registry.run(&["call", "--service", "nope", "Job.CreateJob"]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "service nope not found");
}

#[test]
fn with_no_target_the_one_service_offering_the_endpoint_is_called() {
    let registry = Registry::new();
    let _jobs = registry.job("jobs", &[]);
    let output = registry.run(&["call", "Job.CreateJob", "{}"]);
    assert_exit(&output, 0);
    // A second service with the same endpoint makes the name ambiguous.
    let _more = registry.job("morejobs", &[]);
    let output = registry.run(&["call", "Job.CreateJob", "{}"]);
    assert_exit(&output, 2);
    assert_stderr_has(&output, "jobs, morejobs");
    // go-micro's MICRO_PROXY names the service to use.
    let output = rmicro()
        .args([
            "call",
            "Job.CreateJob",
            "{}",
            "--registry",
            &registry.url(),
            "-v",
        ])
        .env("MICRO_PROXY", "morejobs")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_stderr_has(&output, "node morejobs-");
}

#[test]
fn list_watch_follows_registrations() {
    use std::io::BufRead;
    let registry = Registry::new();
    let mut watcher = rmicro()
        .args([
            "list",
            "--watch",
            "--output",
            "json",
            "--registry",
            &registry.url(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(watcher.stdout.take().unwrap());
    let (sender, events) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let next_event = || -> serde_json::Value {
        let line = events
            .recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(
        next_event(),
        serde_json::json!([]),
        "the registry starts empty"
    );
    std::thread::sleep(Duration::from_millis(300)); // the watcher has read the empty registry
    let server = registry.job("jobs", &[]);
    let event = next_event();
    assert_eq!(event["event"], "register");
    assert_eq!(event["service"], "jobs");
    assert_eq!(event["address"], server.address.as_str());
    server.terminate();
    let event = next_event();
    assert_eq!(event["event"], "deregister");
    let _ = watcher.kill();
    let _ = watcher.wait();
}
