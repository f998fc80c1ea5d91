//! The etcd registry against a real etcd (Debian's etcd-server, which .ci/run installs):
//! two `rmicro serve` nodes under one name, round-robin turns, failover and lease expiry
//! of a killed node, a record written exactly as go-micro writes it, and etcd down.

use crate::support::{
    assert_exit, assert_stderr_has, json, rmicro, run_in_registry, stderr, Server,
};
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
        let data = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
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

    fn job(&self, name: &str) -> Server {
        Server::job(&[
            "--registry",
            &self.url(),
            "--name",
            name,
            "--register-ttl",
            "2s",
        ])
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        run_in_registry(&self.url(), args)
    }

    fn nodes(&self, name: &str) -> usize {
        let output = self.run(&["list", "--output", "json"]);
        assert_exit(&output, 0);
        json(&output)
            .as_array()
            .unwrap()
            .iter()
            .filter(|service| service["service"] == name)
            .map(|service| service["nodes"].as_u64().unwrap() as usize)
            .sum()
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
    let a = etcd.job("jobs");
    let _b = etcd.job("jobs");
    assert_eq!(etcd.nodes("jobs"), 2);
    let node_of = |output: &std::process::Output| {
        let log = stderr(output);
        log.lines()
            .find(|line| line.starts_with("> attempt"))
            .and_then(|line| line.split_whitespace().nth(5).map(str::to_owned))
            .unwrap_or_else(|| panic!("no attempt in {log}"))
    };
    let call = [
        "call",
        "-v",
        "--service",
        "jobs",
        "--selector",
        "roundrobin",
        "--retries",
        "1",
    ];
    let turns: Vec<String> = (0..4)
        .map(|_| {
            let output =
                etcd.run(&[&call[..], &["--backoff", "none", "Job.CreateJob", "{}"]].concat());
            assert_exit(&output, 0);
            node_of(&output)
        })
        .collect();
    assert_ne!(turns[0], turns[1]);
    assert_eq!(turns[0], turns[2]);
    assert_eq!(turns[1], turns[3]);
    // Random (go-micro's default) reaches both: 16 calls all alike happen once in 32,768 runs.
    let picked: Vec<String> = (0..16)
        .map(|_| {
            let output = etcd.run(&["call", "-v", "--service", "jobs", "Job.CreateJob", "{}"]);
            assert_exit(&output, 0);
            node_of(&output)
        })
        .collect();
    assert!(
        picked.iter().any(|node| *node != picked[0]),
        "random always chose {}",
        picked[0]
    );

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

    drop(a); // SIGKILL: the lease is left to expire
    for _ in 0..6 {
        let output = etcd.run(&[&call[..], &["--backoff", "none", "Job.CreateJob", "{}"]].concat());
        assert_exit(&output, 0);
    }
    let give_up = Instant::now() + Duration::from_secs(6);
    while etcd.nodes("jobs") != 1 {
        assert!(
            Instant::now() < give_up,
            "the killed node's record outlived its lease"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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
