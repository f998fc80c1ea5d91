//! The mDNS registry on this host's multicast interface: two `rmicro serve` nodes under
//! one name (turns, failover, a dead node gone at once since nobody answers for it), a
//! clean shutdown, go-micro's `MICRO_REGISTRY=mdns`, and the clear error where no
//! interface can multicast. The wire format against an independent DNS implementation
//! and go-micro's TXT vector is checked by interop/test_mdns.py.

use crate::nodes::{job_node, node_count, two_nodes_under_one_name};
use crate::support::{assert_exit, assert_stderr_has, json, rmicro};
use std::process::Command;
use std::time::Duration;

/// A service name of this test run's own: every process on the host shares mDNS.
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

#[test]
fn nodes_in_mdns_take_turns_fail_over_and_vanish_when_killed() {
    two_nodes_under_one_name("mdns", &unique("jobs"), Duration::from_secs(1));
}

#[test]
fn a_node_in_mdns_is_found_by_go_micros_variables_and_leaves_on_shutdown() {
    let name = unique("leaving");
    let node = job_node("mdns", &name);
    let output = rmicro()
        .args(["list", &name, "--output", "json"])
        .env_remove("RMICRO_REGISTRY")
        .env("MICRO_REGISTRY", "mdns")
        .output()
        .unwrap();
    assert_exit(&output, 0);
    let endpoints = json(&output);
    assert!(
        endpoints
            .as_array()
            .unwrap()
            .iter()
            .any(|row| row["endpoint"] == "Job.CreateJob"),
        "{endpoints}"
    );
    let (status, log) = node.terminate();
    assert!(status.success(), "{log}");
    assert!(log.contains("in mDNS (domain micro."), "{log}");
    assert_eq!(node_count("mdns", &name), 0);
}

#[test]
fn without_a_multicast_interface_mdns_is_a_clear_error() {
    // A network namespace of its own holds only `lo`, down and without MULTICAST.
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net"])
        .arg(env!("CARGO_BIN_EXE_rmicro"))
        .args(["list", "--registry", "mdns"])
        .output()
        .expect("unshare (util-linux) runs");
    assert_exit(&output, 1);
    assert_stderr_has(&output, "no network interface is up with MULTICAST");
    assert_stderr_has(&output, "interfaces here: lo");
}
