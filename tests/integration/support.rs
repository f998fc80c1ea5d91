//! Test helpers: a hermetic `rmicro` command (environment cleared), and a server
//! process that is started on port 0, reports its address on stderr, and is killed when
//! dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

pub fn sample(name: &str) -> String {
    root()
        .join("proto-samples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `rmicro` with an empty environment but PATH, and an embedded registry of this test
/// run's own (tests of the registry pass their own `--registry`).
pub fn rmicro() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rmicro"));
    let registry = format!(
        "file://{}/registry-{}",
        env!("CARGO_TARGET_TMPDIR"),
        std::process::id()
    );
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RMICRO_REGISTRY", registry)
        .stdin(Stdio::null());
    command
}

/// Runs `rmicro ARGS` and returns its output.
pub fn run(args: &[&str]) -> Output {
    rmicro().args(args).output().expect("rmicro runs")
}

/// Runs `command` with `input` on its stdin and returns its output.
pub fn output_with_stdin(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rmicro runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `rmicro call Job.Watch -d @- -o json ARGS`, fed the requests `m0` and `m1` on stdin
/// (the go-micro stream's tests).
pub fn watch_m0_m1(args: &[&str]) -> Output {
    let mut command = rmicro();
    command
        .args(["call", "Job.Watch", "-d", "@-", "-o", "json"])
        .args(args);
    output_with_stdin(command, b"{\"name\":\"m0\"}\n{\"name\":\"m1\"}\n")
}

/// `rmicro ARGS --registry URL`.
pub fn run_in_registry(url: &str, args: &[&str]) -> Output {
    rmicro()
        .args(args)
        .args(["--registry", url])
        .output()
        .expect("rmicro runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}\nstdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// Asserts that stderr contains `text`, showing it when it does not.
#[track_caller]
pub fn assert_stderr_has(output: &Output, text: &str) {
    let stderr = stderr(output);
    assert!(stderr.contains(text), "stderr lacks {text:?}: {stderr}");
}

/// Asserts that stdout contains `text`, showing it when it does not.
#[track_caller]
pub fn assert_stdout_has(output: &Output, text: &str) {
    let stdout = stdout(output);
    assert!(stdout.contains(text), "stdout lacks {text:?}: {stdout}");
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", stdout(output)))
}

/// A running `rmicro serve`.
pub struct Server {
    child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
    /// Collects stderr until the process closes it.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The greeter fixture (services of the spec's test vectors) with its handlers.
    pub fn greeter(extra: &[&str]) -> Server {
        Server::with_handlers(
            &fixture("greeter.proto"),
            &fixture("greeter.handlers.json"),
            extra,
        )
    }

    /// The Job sample with its handlers file.
    pub fn job(extra: &[&str]) -> Server {
        Server::with_handlers(&sample("job.proto"), &sample("job.handlers.json"), extra)
    }

    /// Go's Arith example as a schema (interop/jsonrpc), for JSON-RPC tests.
    pub fn arith(extra: &[&str]) -> Server {
        let dir = root().join("interop/jsonrpc");
        Server::with_handlers(
            &dir.join("arith.proto").to_string_lossy(),
            &dir.join("arith.handlers.json").to_string_lossy(),
            extra,
        )
    }

    fn with_handlers(proto: &str, handlers: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--proto", proto, "--handlers", handlers];
        args.extend_from_slice(extra);
        Server::start(&args)
    }

    /// Starts `rmicro serve ARGS --address 127.0.0.1:0` and waits for its address line.
    pub fn start(args: &[&str]) -> Server {
        Server::start_from(rmicro(), args)
    }

    /// [`Server::start`] from a prepared `rmicro` command (limits, environment).
    pub fn start_from(mut command: Command, args: &[&str]) -> Server {
        command.arg("serve").args(args);
        // On a free port, unless the test names one.
        if !args.contains(&"--address") {
            command.args(["--address", "127.0.0.1:0"]);
        }
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .expect("rmicro serve starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        // Warnings may come first; the address line says "listening on HOST:PORT".
        let mut first = String::new();
        while !first.contains("listening on") {
            let mut line = String::new();
            if lines.read_line(&mut line).unwrap() == 0 {
                panic!("rmicro serve exited before listening: {first}");
            }
            first.push_str(&line);
        }
        let address = first
            .split_whitespace()
            .skip_while(|word| *word != "on")
            .nth(1)
            .unwrap_or_else(|| panic!("no address in the start-up line: {first:?}"))
            .to_owned();
        let log = Arc::new(Mutex::new(first));
        let sink = log.clone();
        // Line by line, so that `log` shows what the server has said so far.
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while matches!(lines.read_line(&mut line), Ok(1..)) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Server {
            child,
            address,
            log,
            reader: Some(reader),
        }
    }

    /// `rmicro ARGS --address <this server>`.
    pub fn run(&self, args: &[&str]) -> Output {
        rmicro()
            .args(args)
            .args(["--address", &self.address])
            .output()
            .expect("rmicro runs")
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(&self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// Sends SIGTERM and waits for the exit status; returns it with the full log.
    pub fn terminate(self) -> (std::process::ExitStatus, String) {
        self.stop();
        self.wait()
    }

    /// Sends SIGTERM: the server stops accepting and drains.
    pub fn stop(&self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Waits for the exit status (after [`Server::stop`]); returns it with the full log.
    pub fn wait(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        // Everything it printed: the reader ends at the EOF its exit brings.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        (status, log)
    }

    /// What the server has printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends raw bytes and reads exactly one HTTP/1.1 response (head + Content-Length body).
pub fn exchange(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).unwrap();
    read_response(stream)
}

pub fn read_response(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).unwrap();
        assert!(
            read > 0,
            "connection closed mid-head after {:?}",
            String::from_utf8_lossy(&reply)
        );
        reply.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&reply).into_owned();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("Content-Length: "))
        .map(|value| value.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    reply.extend_from_slice(&body);
    reply
}

/// A peer played by the test itself for the one connection a client under test opens:
/// `serve` gets the accepted stream (10 s read timeout) and returns what it recorded. The
/// thread panics when nothing connects within 20 s, so a client that never dials fails the
/// test instead of hanging it.
pub fn peer<T: Send + 'static>(
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (String, std::thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(
                        started.elapsed() < Duration::from_secs(20),
                        "nothing connected to the test's peer"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(error) => panic!("accept: {error}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        serve(stream)
    });
    (address, handle)
}

/// Whether the peer has closed the connection (reads EOF).
pub fn is_closed(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).is_ok()
}

pub fn write_temp(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_string_lossy().into_owned()
}

/// A minimal mucp server without a Debug service, like a go-micro v4.8+ service: it
/// answers `Debug.*` with go-micro's router error and echoes every other JSON body.
pub struct EchoServer {
    pub address: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl EchoServer {
    pub fn start() -> EchoServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || echo_connection(stream, &seen));
            }
        });
        EchoServer { address, bodies }
    }

    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }
}

fn echo_connection(mut stream: TcpStream, seen: &Mutex<Vec<String>>) {
    loop {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(&format!("{name}: ")))
                .unwrap_or("")
                .to_owned()
        };
        let mut body = vec![0u8; header("Content-Length").parse().unwrap_or(0)];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let endpoint = header("Micro-Endpoint");
        let reply = if endpoint.starts_with("Debug.") {
            "HTTP/1.1 200 OK\r\nMicro-Error: rpc: can't find service Debug\r\nContent-Length: 0\r\n\r\n".to_owned()
        } else {
            let body = String::from_utf8_lossy(&body).into_owned();
            seen.lock().unwrap().push(body.clone());
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/json\r\n\r\n{body}", body.len())
        };
        if stream.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Polls `done` every 50 ms for up to 15 s; whether it came true. The bound is wide so a
/// loaded machine does not fail a test, and a wait never hangs one.
pub fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let give_up = std::time::Instant::now() + Duration::from_secs(15);
    while !done() {
        if std::time::Instant::now() > give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// Fails the test unless `done` comes true within [`eventually`]'s bound.
#[track_caller]
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    assert!(eventually(done), "gave up waiting for {what}");
}

/// The peak resident set of process `pid` so far (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status"))
}

/// The live processes (zombies are dead: only their parent's reaping is left), as
/// (pid, parent pid, process group) each.
pub fn live_processes() -> Vec<(u32, u32, i32)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            // A process may exit between the listing and the read.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            (fields[0] != "Z").then_some((pid, fields[1].parse().ok()?, fields[2].parse().ok()?))
        })
        .collect()
}

/// How many live processes process group `group` has.
pub fn group_members(group: i32) -> usize {
    live_processes()
        .iter()
        .filter(|(_, _, member_of)| *member_of == group)
        .count()
}

/// Whether no live process is left in process group `group`.
pub fn group_is_gone(group: i32) -> bool {
    group_members(group) == 0
}

/// The live reaper of the server of pid `server` (`rmicro-reaper SERVER`), if any.
pub fn reaper_of(server: u32) -> Option<u32> {
    let cmdline = format!("rmicro-reaper\0{server}\0");
    live_processes().into_iter().find_map(|(pid, _, _)| {
        let own = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (own == cmdline.as_bytes()).then_some(pid)
    })
}
