//! Schema export: `--protoset-out` and `--proto-out-dir` on call, list and describe,
//! whatever the schema came from (files, Debug.Endpoints, gRPC reflection);
//! `describe --format proto`; `call --emit-defaults`.

use crate::support::*;
use prost::Message as _;
use prost_types::FileDescriptorSet;

fn read_set(path: &std::path::Path) -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(std::fs::read(path).unwrap().as_slice())
        .unwrap_or_else(|error| panic!("{} is not a FileDescriptorSet: {error}", path.display()));
    for file in &mut set.file {
        file.source_code_info = None;
    }
    set.file.sort_by(|a, b| a.name.cmp(&b.name));
    set
}

/// Every sample schema, written as .proto files and compiled again, gives the same
/// descriptors: the source is faithful.
#[test]
fn proto_out_dir_writes_source_that_compiles_to_the_same_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    for proto in ["job.proto", "shop.proto", "actuator.proto"]
        .map(sample)
        .into_iter()
        .chain(["greeter.proto", "grpc_testing.proto", "wkt.proto"].map(fixture))
    {
        let name = std::path::Path::new(&proto).file_name().unwrap().to_owned();
        let (first, out) = (dir.path().join("first.pb"), dir.path().join("out"));
        let output = run(&[
            "list",
            "--proto",
            &proto,
            "--protoset-out",
            first.to_str().unwrap(),
            "--proto-out-dir",
            out.to_str().unwrap(),
        ]);
        assert_exit(&output, 0);
        let again = dir.path().join("again.pb");
        let written = out.join(&name);
        let output = run(&[
            "list",
            "--proto",
            written.to_str().unwrap(),
            "--protoset-out",
            again.to_str().unwrap(),
        ]);
        assert_exit(&output, 0);
        assert_eq!(
            read_set(&again),
            read_set(&first),
            "{proto}: {}",
            std::fs::read_to_string(&written).unwrap()
        );
    }
}

#[test]
fn the_schema_fetched_from_a_server_is_written_by_call_list_and_describe() {
    let server = Server::job(&[]);
    let dir = tempfile::tempdir().unwrap();
    for (index, (command, target)) in [
        (vec!["call", "Job.CreateJob", "{}"], server.address.clone()),
        (vec!["list"], server.address.clone()),
        (
            vec!["describe", "job.Job"],
            format!("grpc://{}", server.address),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let set = dir.path().join(format!("{index}.pb"));
        let out = dir.path().join(format!("out{index}"));
        let mut args = command.clone();
        args.extend([
            "-a",
            &target,
            "--protoset-out",
            set.to_str().unwrap(),
            "--proto-out-dir",
            out.to_str().unwrap(),
        ]);
        let output = run(&args);
        assert_exit(&output, 0);
        let names: Vec<String> = read_set(&set)
            .file
            .iter()
            .map(|file| file.name().to_owned())
            .collect();
        assert!(
            names.contains(&"job.proto".to_owned()),
            "{command:?}: {names:?}"
        );
        // The written source serves as a schema.
        let proto = out.join("job.proto");
        let output = run(&[
            "describe",
            "--proto",
            proto.to_str().unwrap(),
            "Job.CreateJob",
        ]);
        assert_exit(&output, 0);
        assert_stdout_has(&output, "message job.Task");
    }
}

#[test]
fn describe_format_proto_prints_the_defining_file() {
    let proto = sample("shop.proto");
    let output = run(&[
        "describe",
        "--proto",
        &proto,
        "--format",
        "proto",
        "shop.Order",
    ]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(text.contains("syntax = \"proto3\";"), "{text}");
    assert!(text.contains("message Order {"), "{text}");
    assert!(text.contains("service "), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(dir.path(), "shop.proto", text.as_bytes());
    let output = run(&["list", "--proto", &file]);
    assert_exit(&output, 0);
}

#[test]
fn emit_defaults_prints_zero_valued_fields() {
    let server = Server::job(&[]);
    let plain = json(&server.run(&["call", "Job.CreateJob", r#"{"name":"x"}"#]));
    let full = json(&server.run(&[
        "call",
        "Job.CreateJob",
        r#"{"name":"x"}"#,
        "--emit-defaults",
    ]));
    assert!(plain.get("tasks").is_none(), "{plain}");
    assert_eq!(full["tasks"], serde_json::json!([]), "{full}");
    assert!(full.get("code").is_some(), "{full}");
}

#[test]
fn asking_for_a_schema_a_server_does_not_have_says_so() {
    let echo = EchoServer::start();
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("x.pb");
    let output = run(&[
        "call",
        "-a",
        &echo.address,
        "Greeter.Hello",
        "{}",
        "--protoset-out",
        set.to_str().unwrap(),
    ]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "no schema to write");
}
