//! The etcd registry against a real etcd (Debian's etcd-server, which .ci/run installs):
//! two `rmicro serve` nodes under one name, round-robin turns, failover and lease expiry
//! of a killed node, a record written exactly as go-micro writes it, and etcd down.

use crate::nodes::{job_node, node_count, two_nodes_under_one_name};
use crate::support::{assert_exit, assert_stderr_has, json, rmicro, run_in_registry, Server};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// An etcd on loopback with a data directory of its own, killed when dropped.
struct Etcd {
    child: Child,
    address: String,
    _data: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Etcd {
    fn start() -> Etcd {
        Etcd::start_on(free_port())
    }

    /// An etcd serving clients on `client` (to bring one back where it was).
    fn start_on(client: u16) -> Etcd {
        let data = tempfile::tempdir().unwrap();
        let peer = free_port();
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "rmicro-test", "--data-dir"])
            .arg(data.path())
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("rmicro-test={peer_url}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd must be installed for these tests (Debian's etcd-server; .ci/run installs it)");
        let etcd = Etcd {
            child,
            address: format!("127.0.0.1:{client}"),
            _data: data,
        };
        let give_up = Instant::now() + Duration::from_secs(15);
        while !etcd.post("/health", "").contains("\"health\":\"true\"") {
            assert!(Instant::now() < give_up, "etcd did not become healthy");
            std::thread::sleep(Duration::from_millis(50));
        }
        etcd
    }

    fn url(&self) -> String {
        format!("etcd://{}", self.address)
    }

    /// One HTTP/1.0 request to the v3 JSON gateway (so the reply is not chunked); the
    /// whole reply as text ("" if unreachable).
    fn post(&self, path: &str, body: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return String::new();
        };
        let method = if body.is_empty() { "GET" } else { "POST" };
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.address,
            body.len()
        );
        let mut reply = String::new();
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_string(&mut reply);
        }
        reply
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run_in_registry(&self.url(), args)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nodes_in_etcd_take_turns_fail_over_and_expire_with_their_lease() {
    let etcd = Etcd::start();
    // Lease of 2 s; etcd checks expiries every 500 ms.
    two_nodes_under_one_name(&etcd.url(), "jobs", Duration::from_secs(4));
}

#[test]
fn the_record_rmicro_puts_in_etcd_has_go_micros_key_shape_and_lease() {
    let etcd = Etcd::start();
    let _node = job_node(&etcd.url(), "jobs");
    // The value rmicro put under go-micro's key has go-micro's record shape.
    let prefix = "/micro/registry/jobs/";
    let range = format!(
        r#"{{"key":"{}","range_end":"{}"}}"#,
        BASE64.encode(prefix),
        BASE64.encode("/micro/registry/jobs0")
    );
    let reply = etcd.post("/v3/kv/range", &range);
    let body: serde_json::Value =
        serde_json::from_str(&reply[reply.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    let kv = &body["kvs"][0];
    let key = String::from_utf8(BASE64.decode(kv["key"].as_str().unwrap()).unwrap()).unwrap();
    let record: serde_json::Value =
        serde_json::from_slice(&BASE64.decode(kv["value"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        key,
        format!("{prefix}{}", record["nodes"][0]["id"].as_str().unwrap())
    );
    assert!(kv["lease"].is_string(), "the key is on a lease: {kv}");
    assert_eq!(record["name"], "jobs");
    assert_eq!(record["nodes"][0]["metadata"]["registry"], "etcd");
    assert_eq!(record["nodes"][0]["metadata"]["protocol"], "mucp");
}

/// The §10.7 record, put under go-micro's key exactly as go-micro writes it.
#[test]
fn a_record_go_micro_wrote_is_read() {
    let etcd = Etcd::start();
    let key = "/micro/registry/helloworld/helloworld-4b2d4c5e-0000-4000-8000-000000000001";
    let value = r#"{"name":"helloworld","version":"latest","metadata":null,"endpoints":[{"request":{"name":"Request","type":"Request","values":[{"name":"name","type":"string","values":null}]},"response":{"name":"Response","type":"Response","values":[{"name":"msg","type":"string","values":null}]},"metadata":{},"name":"Helloworld.Call"}],"nodes":[{"metadata":{"broker":"http","protocol":"mucp","registry":"etcd","server":"mucp","transport":"http"},"id":"helloworld-4b2d4c5e-0000-4000-8000-000000000001","address":"10.0.0.5:36459"}]}"#;
    let put = format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        BASE64.encode(key),
        BASE64.encode(value)
    );
    assert!(etcd.post("/v3/kv/put", &put).starts_with("HTTP/1.0 200"));
    // And garbage beside it is skipped with a warning.
    let garbage = format!(
        r#"{{"key":"{}","value":"{}"}}"#,
        BASE64.encode("/micro/registry/broken/x"),
        BASE64.encode("{not json")
    );
    assert!(etcd
        .post("/v3/kv/put", &garbage)
        .starts_with("HTTP/1.0 200"));
    let output = etcd.run(&["list", "helloworld", "--output", "json"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)[0]["endpoint"], "Helloworld.Call");
    let output = etcd.run(&["list", "--output", "json"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)[0]["addresses"], "10.0.0.5:36459");
    assert_stderr_has(&output, "/micro/registry/broken/x");
    // Of several endpoints, one that is down is passed over.
    let endpoints = format!("etcd://127.0.0.1:{},{}", free_port(), etcd.address);
    let output = run_in_registry(&endpoints, &["list", "helloworld", "--output", "json"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)[0]["endpoint"], "Helloworld.Call");
    // go-micro's own variables name the registry too.
    let output = rmicro()
        .args(["list", "helloworld", "--output", "json"])
        .env_remove("RMICRO_REGISTRY")
        .env("MICRO_REGISTRY", "etcd")
        .env("MICRO_REGISTRY_ADDRESS", &etcd.address)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert_eq!(json(&output)[0]["endpoint"], "Helloworld.Call");
}

#[test]
fn etcd_down_is_a_clear_error_and_serving_goes_on() {
    let port = free_port(); // nothing listens here
    let registry = format!("etcd://127.0.0.1:{port}");
    let started = Instant::now();
    let output = rmicro()
        .args(["list", "--registry", &registry])
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, "cannot reach etcd");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A peer that accepts but never answers: no hang past --dial-timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let output = rmicro()
        .args(["list", "--dial-timeout", "500ms", "--registry"])
        .arg(format!("etcd://{}", silent.local_addr().unwrap()))
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, "no answer within 500ms");
    assert!(started.elapsed() < Duration::from_secs(3));
    let server = Server::job(&["--registry", &registry]);
    let output = server.run(&["call", "Job.CreateJob", "{}"]);
    assert_exit(&output, 0);
    let (_, log) = server.terminate();
    assert!(log.contains("cannot register in etcd"), "{log}");
}

#[test]
fn etcd_going_away_later_is_warned_about_and_registration_resumes_when_it_is_back() {
    let etcd = Etcd::start();
    let port: u16 = etcd.address.rsplit(':').next().unwrap().parse().unwrap();
    let url = etcd.url();
    let server = job_node(&url, "jobs");
    assert_eq!(node_count(&url, "jobs"), 1);
    drop(etcd);
    // Heartbeats every 2s/3 fail from now on; serving goes on.
    std::thread::sleep(Duration::from_millis(1500));
    let output = server.run(&["call", "Job.CreateJob", "{}"]);
    assert_exit(&output, 0);
    let _etcd = Etcd::start_on(port);
    let give_up = Instant::now() + Duration::from_secs(10);
    while node_count(&url, "jobs") != 1 {
        assert!(Instant::now() < give_up, "the node did not register again");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, log) = server.terminate();
    assert!(log.contains("cannot register in etcd"), "{log}");
    assert!(log.contains("registered in etcd"), "{log}");
    assert!(log.contains("again"), "{log}");
}
