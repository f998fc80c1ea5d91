//! The connection layer when descriptors run out: the open-file limit is raised at
//! start-up, and a server at its limit neither spins nor stops accepting once
//! descriptors free up (issue: hardening).

use crate::support::{assert_exit, json, rmicro, Server};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// `rmicro` whose open-file limits are `soft` and `hard` (`None`: the hard one as it is).
fn with_open_file_limit(soft: u64, hard: Option<u64>) -> std::process::Command {
    let mut command = rmicro();
    // SAFETY: only getrlimit/setrlimit between fork and exec, which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = soft;
            limit.rlim_max = hard.unwrap_or(limit.rlim_max);
            match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    command
}

/// The soft and hard open-file limits of a process, from /proc.
fn open_file_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap_or_else(|| panic!("no open-file limit in {limits}"));
    let mut numbers = line.split_whitespace().skip(3);
    let soft = numbers.next().unwrap().to_owned();
    (soft, numbers.next().unwrap().to_owned())
}

/// CPU time the process has used (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses: utime and stime are 14 and 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf(3) has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}

#[test]
fn the_soft_open_file_limit_is_raised_to_the_hard_one() {
    let server = Server::start_from(
        with_open_file_limit(256, None),
        &[
            "--proto",
            &crate::support::fixture("greeter.proto"),
            "--no-register",
        ],
    );
    let (soft, hard) = open_file_limits(server.pid());
    assert_ne!(hard, "256", "the test needs a hard limit above 256");
    assert_eq!(soft, hard);
}

#[test]
fn exec_handlers_start_with_the_open_file_limit_the_server_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let handlers = crate::support::write_temp(
        dir.path(),
        "limits.json",
        br#"{"Greeter.Hello": {"exec": ["sh", "-c", "echo \"{\\\"msg\\\":\\\"$(ulimit -Sn) $(ulimit -Hn)\\\"}\""]}}"#,
    );
    let server = Server::start_from(
        with_open_file_limit(256, None),
        &[
            "--proto",
            &crate::support::fixture("greeter.proto"),
            "--handlers",
            &handlers,
            "--no-register",
        ],
    );
    let (soft, hard) = open_file_limits(server.pid());
    assert_eq!(soft, hard, "the server's own limit is raised");
    let output = server.run(&["call", "Greeter.Hello", "{}"]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], format!("256 {hard}"));
}

#[test]
fn a_server_out_of_descriptors_waits_without_spinning_and_accepts_again() {
    // 64 descriptors in all, a dozen of them the server's own: connections that send
    // nothing (and no timeout to close them) use up the rest.
    let server = Server::start_from(
        with_open_file_limit(64, Some(64)),
        &[
            "--proto",
            &crate::support::fixture("greeter.proto"),
            "--handlers",
            &crate::support::fixture("greeter.handlers.json"),
            "--no-register",
            "--header-timeout",
            "0",
        ],
    );
    let idle: Vec<TcpStream> = (0..100).map(|_| server.connect()).collect();
    let descriptors = || {
        std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
            .unwrap()
            .count()
    };
    let waiting = Instant::now();
    while descriptors() < 64 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "the server holds only {} descriptors",
            descriptors()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (before, since) = (cpu_time(server.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_time(server.pid()) - before;
    assert!(
        used < Duration::from_millis(500),
        "{used:?} of CPU in {:?} while out of descriptors",
        since.elapsed()
    );
    drop(idle);
    let output = server.run(&["call", "Helloworld.Call", r#"{"name":"John"}"#]);
    assert_exit(&output, 0);
    assert_eq!(json(&output)["msg"], "Hello John");
    // Said once when accepting fails and once when it works again, not at every retry
    // (150 in those 3 s). The backlog of closed connections accepted after the idle ones
    // go may use the descriptors up once more before the serving threads close them:
    // that is said again, once.
    let (_, log) = server.terminate();
    let said: Vec<&str> = log
        .lines()
        .filter_map(|line| match line {
            line if line.contains("accept failed") => Some("failed"),
            line if line.contains("accepting connections again") => Some("again"),
            _ => None,
        })
        .collect();
    assert!(
        said.len() <= 4 && said.chunks(2).all(|pair| pair == ["failed", "again"]),
        "{said:?}\n{log}"
    );
}
