//! `call --batch` shows progress on a terminal's stderr — done, rate, errors — and
//! nothing on a pipe. The terminal is a real pseudo-terminal, made by util-linux's
//! `script` (Debian's bsdutils, an essential package).

use crate::support::*;
use std::process::Command;

#[test]
fn batch_progress_shows_on_a_terminal_and_not_on_a_pipe() {
    let server = Server::job(&[]);
    let dir = tempfile::tempdir().unwrap();
    let input = write_temp(
        dir.path(),
        "requests.ndjson",
        b"{\"name\":\"a\"}\n{\"name\":\"forbidden\"}\n{\"name\":\"c\"}\n",
    );
    let call = format!(
        "{} call --batch -a {} Job.CreateJob < {input}",
        env!("CARGO_BIN_EXE_rmicro"),
        server.address
    );
    // On a pipe: the three reply lines, and on stderr only the failure.
    let piped = Command::new("bash").args(["-c", &call]).output().unwrap();
    assert_exit(&piped, 71);
    assert_eq!(stdout(&piped).lines().count(), 3, "{}", stdout(&piped));
    assert!(!stderr(&piped).contains("done"), "{}", stderr(&piped));
    assert_stderr_has(&piped, "line 2:");
    // On a terminal: the progress line, with the count and the errors.
    let terminal = Command::new("script")
        .args(["-qec", &call, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux) runs");
    let screen = stdout(&terminal);
    assert!(screen.contains("3 done"), "{screen}");
    assert!(screen.contains("1 errors"), "{screen}");
    assert!(screen.contains("/s"), "{screen}");
}
