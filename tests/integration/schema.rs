//! Schema sources: descriptor sets and .proto files, their errors, and the committed
//! descriptor sets of proto-samples/ (a test fails when they are stale).

use crate::support::{
    assert_exit, assert_stderr_has, assert_stdout_has, fixture, rmicro, run, sample, stderr,
    stdout, write_temp,
};
use prost::Message;

/// Fails when a committed descriptor set no longer matches its .proto;
/// `RMICRO_REGENERATE=1 cargo test descriptor_sets` refreshes them.
#[test]
fn committed_descriptor_sets_are_current() {
    let dir = crate::support::root().join("proto-samples");
    for name in ["job", "actuator", "shop"] {
        let mut compiler = protox::Compiler::new([&dir]).unwrap();
        compiler.include_imports(true).include_source_info(false);
        compiler.open_file(format!("{name}.proto")).unwrap();
        let fresh = compiler.file_descriptor_set().encode_to_vec();
        let path = dir.join(format!("{name}.pb"));
        if std::env::var_os("RMICRO_REGENERATE").is_some() {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `RMICRO_REGENERATE=1 cargo test descriptor_sets` and commit it",
            path.display()
        );
    }
}

#[test]
fn descriptor_sets_and_protos_list_the_same_endpoints() {
    let from_proto = run(&["list", "--proto", &sample("shop.proto"), "-o", "json"]);
    let from_set = run(&["list", "--descriptor-set", &sample("shop.pb"), "-o", "json"]);
    assert_exit(&from_proto, 0);
    assert_eq!(stdout(&from_proto), stdout(&from_set));
    assert_stdout_has(&from_proto, "\"kind\":\"server-streaming\"");
}

#[test]
fn several_descriptor_sets_combine() {
    let output = run(&[
        "list",
        "--descriptor-set",
        &sample("job.pb"),
        "--descriptor-set",
        &sample("actuator.pb"),
        "-o",
        "json",
    ]);
    assert_exit(&output, 0);
    let text = stdout(&output);
    assert!(
        text.contains("Job.CreateJob") && text.contains("Actuator.GetAllExecutorIP"),
        "{text}"
    );
}

#[test]
fn a_file_that_is_not_a_descriptor_set_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = write_temp(
        dir.path(),
        "bogus.pb",
        b"this is not protobuf at all \xff\xff\xff",
    );
    let output = run(&["list", "--descriptor-set", &bogus]);
    assert_exit(&output, 1);
    assert_stderr_has(&output, "bogus.pb is not a usable descriptor set");
}

#[test]
fn a_proto_syntax_error_shows_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write_temp(
        dir.path(),
        "broken.proto",
        b"syntax = \"proto3\";\npackage b;\n\nmessage M {\n  string name = 1\n}\n",
    );
    let output = rmicro()
        .args(["list", "--proto", "broken.proto"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert_stderr_has(&output, "broken.proto:6:1");
}

#[test]
fn two_files_defining_the_same_service_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = b"syntax = \"proto3\";\npackage dup;\nmessage M {}\nservice Job { rpc Get(M) returns (M); }\n";
    write_temp(dir.path(), "one.proto", source);
    write_temp(dir.path(), "two.proto", source);
    let output = rmicro()
        .args(["list", "--proto", "one.proto", "--proto", "two.proto"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_exit(&output, 1);
    assert!(
        stderr(&output).contains("dup.M") && stderr(&output).contains("already defined"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn imports_resolve_through_include_dirs_and_well_known_types() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("common")).unwrap();
    write_temp(
        &dir.path().join("common"),
        "money.proto",
        b"syntax = \"proto3\";\npackage common;\nmessage Money { int64 cents = 1; }\n",
    );
    let api = write_temp(
        dir.path(),
        "api.proto",
        b"syntax = \"proto3\";\npackage api;\nimport \"common/money.proto\";\nimport \"google/protobuf/empty.proto\";\nservice Bank { rpc Balance(google.protobuf.Empty) returns (common.Money); }\n",
    );
    let include = dir.path().to_string_lossy().into_owned();
    let output = run(&["list", "--proto", &api, "-I", &include, "-o", "json"]);
    assert_exit(&output, 0);
    assert_stdout_has(&output, "\"response\":\"common.Money\"");
    let orphan = write_temp(
        dir.path(),
        "orphan.proto",
        b"syntax = \"proto3\";\nimport \"nowhere/gone.proto\";\n",
    );
    let missing = run(&[
        "list",
        "--proto",
        &fixture("greeter.proto"),
        "--proto",
        &orphan,
    ]);
    assert_exit(&missing, 1);
    assert_stderr_has(&missing, "nowhere/gone.proto");
}
