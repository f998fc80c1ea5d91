//! The scenario every registry passes (embedded, etcd, mDNS): two `rmicro serve` nodes
//! under one name; calls by name take exact round-robin turns across processes and
//! random selection reaches both; one node killed mid-run, every call of a loop still
//! succeeds with `--retries 1`; the dead node leaves the registry within `expiry` of its death.

use crate::support::{assert_exit, json, run_in_registry, stderr, stdout, Server};
use std::time::{Duration, Instant};

/// A Job server registered in `url` under `name`, re-registering every 2s/3.
pub fn job_node(url: &str, name: &str) -> Server {
    Server::job(&["--registry", url, "--name", name, "--register-ttl", "2s"])
}

pub fn two_nodes_under_one_name(url: &str, name: &str, expiry: Duration) {
    let a = job_node(url, name);
    let _b = job_node(url, name);
    assert_eq!(node_count(url, name), 2);

    let round_robin = [
        "--service",
        name,
        "--selector",
        "roundrobin",
        "Job.CreateJob",
        "{}",
    ];
    let turns: Vec<String> = (0..6).map(|_| called_node(url, &round_robin)).collect();
    assert_ne!(turns[0], turns[1]);
    for (index, node) in turns.iter().enumerate() {
        assert_eq!(node, &turns[index % 2], "turns: {turns:?}");
    }
    // Random (go-micro's default) reaches both: 20 fair coin flips all alike happen
    // once in 500,000 runs.
    let random = ["--service", name, "Job.CreateJob", "{}"];
    let picked: Vec<String> = (0..20).map(|_| called_node(url, &random)).collect();
    assert!(
        picked.iter().any(|node| *node != picked[0]),
        "random always chose {}",
        picked[0]
    );

    drop(a); // SIGKILL: no deregistration
    let give_up = Instant::now() + expiry;
    for turn in 0..10 {
        let output = run_in_registry(
            url,
            &[
                &["call", "--retries", "1", "--backoff", "none"],
                &round_robin[..],
            ]
            .concat(),
        );
        assert_exit(&output, 0);
        assert!(stdout(&output).contains("created"), "call {turn}");
    }
    while node_count(url, name) != 1 {
        assert!(
            Instant::now() < give_up,
            "the killed node is still listed after {expiry:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many nodes `rmicro list` shows for `name`.
pub fn node_count(url: &str, name: &str) -> usize {
    let output = run_in_registry(url, &["list", "--output", "json"]);
    assert_exit(&output, 0);
    json(&output)
        .as_array()
        .unwrap()
        .iter()
        .filter(|service| service["service"] == name)
        .map(|service| service["nodes"].as_u64().unwrap() as usize)
        .sum()
}

/// The node a `call -v ARGS` went to (its last attempt).
pub fn called_node(url: &str, args: &[&str]) -> String {
    let output = run_in_registry(url, &[&["call", "-v"], args].concat());
    assert_exit(&output, 0);
    let log = stderr(&output);
    let line = log
        .lines()
        .rfind(|line| line.starts_with("> attempt"))
        .unwrap_or_else(|| panic!("no attempt in {log}"));
    line.split_whitespace()
        .skip_while(|word| *word != "node")
        .nth(1)
        .unwrap()
        .to_owned()
}
