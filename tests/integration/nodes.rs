//! The scenario every registry passes (embedded, etcd, mDNS): two `rmicro serve` nodes
//! under one name; calls by name take exact round-robin turns across processes and
//! random selection reaches both; one node killed mid-run, every call of a loop still
//! succeeds with `--retries 1`; the dead node leaves the registry within `expiry` of its death.
//! mDNS is asked over the network, where an answer can come past the 100 ms window (a
//! loaded host): a lookup that missed one of the two nodes is seen as such (rmicro logs
//! what answered) and is not taken as a turn; the file and etcd registries are read.

use crate::support::{assert_exit, json, rmicro, run_in_registry, stderr, stdout, Server};
use std::time::{Duration, Instant};

/// A Job server registered in `url` under `name`, re-registering every 2s/3.
pub fn job_node(url: &str, name: &str) -> Server {
    Server::job(&["--registry", url, "--name", name, "--register-ttl", "2s"])
}

pub fn two_nodes_under_one_name(url: &str, name: &str, expiry: Duration) {
    let a = job_node(url, name);
    let _b = job_node(url, name);
    if asked(url) {
        wait_for_nodes(url, name, 2);
    } else {
        assert_eq!(node_count(url, name), 2);
    }

    let round_robin = [
        "--service",
        name,
        "--selector",
        "roundrobin",
        "Job.CreateJob",
        "{}",
    ];
    let turns = nodes_called(url, &round_robin, 6, true);
    assert_ne!(turns[0], turns[1]);
    for (index, node) in turns.iter().enumerate() {
        assert_eq!(node, &turns[index % 2], "turns: {turns:?}");
    }
    // Random (go-micro's default) reaches both: 20 fair coin flips all alike happen
    // once in 500,000 runs.
    let random = ["--service", name, "Job.CreateJob", "{}"];
    let picked = nodes_called(url, &random, 20, false);
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

/// Whether the registry is asked over the network (mDNS) rather than read.
fn asked(url: &str) -> bool {
    url == "mdns"
}

/// Waits until `rmicro list` shows `count` nodes for `name` (never more), as one missed
/// answer would make a single listing show fewer.
fn wait_for_nodes(url: &str, name: &str, count: usize) {
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = node_count(url, name);
        assert!(listed <= count, "{listed} nodes of {name}, not {count}");
        if listed == count {
            return;
        }
        assert!(
            Instant::now() < give_up,
            "{listed} nodes of {name} after 10 s, not {count}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The nodes of `count` calls whose lookups found both nodes, `in_a_row` for turns. A
/// call whose lookup missed one (an answer past the window) went to the other, taking a
/// turn: it is left out, and a row starts again; a few such lookups at most.
fn nodes_called(url: &str, args: &[&str], count: usize, in_a_row: bool) -> Vec<String> {
    let mut nodes = Vec::new();
    let mut missed = 0;
    while nodes.len() < count {
        let (node, found) = called_node(url, args);
        match found {
            Some(found) if found < 2 => {
                missed += 1;
                assert!(missed <= 10, "{missed} lookups found fewer than 2 nodes");
                if in_a_row {
                    nodes.clear();
                }
            }
            Some(2) | None => nodes.push(node),
            Some(found) => panic!("a lookup found {found} nodes, not 2"),
        }
    }
    nodes
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

/// The node a `call -v ARGS` went to (its last attempt), and for mDNS how many nodes its
/// lookup found (from its debug log).
pub fn called_node(url: &str, args: &[&str]) -> (String, Option<usize>) {
    let output = rmicro()
        .args(["call", "-v"])
        .args(args)
        .args(["--registry", url])
        .env("RMICRO_LOG", if asked(url) { "debug" } else { "warn" })
        .output()
        .expect("rmicro runs");
    assert_exit(&output, 0);
    let log = stderr(&output);
    let line = log
        .lines()
        .rfind(|line| line.starts_with("> attempt"))
        .unwrap_or_else(|| panic!("no attempt in {log}"));
    let node = line
        .split_whitespace()
        .skip_while(|word| *word != "node")
        .nth(1)
        .unwrap()
        .to_owned();
    let found = asked(url).then(|| {
        let answered = log
            .lines()
            .find_map(|line| {
                line.split_once(": service ")?
                    .1
                    .split_once(": ")?
                    .1
                    .strip_suffix(" nodes answered")
            })
            .unwrap_or_else(|| panic!("no lookup in {log}"));
        answered.parse().unwrap()
    });
    (node, found)
}
