//! SIGTERM over gRPC (issue: hardening, "replies lost at shutdown"). The server sends
//! GOAWAY and answers every stream it had already read, to clients that read slowly as
//! to those that read at once, under load: no reply is lost. A client that reads nothing
//! does not hold the server through `--grace`: once every stream left on its connection
//! waits on that client's flow-control window and nothing was written for 2 s, the
//! connection is closed, while the other clients' calls (and a handler still at work)
//! are answered.

use crate::support::{root, write_temp, Server};
use bytes::Bytes;
use h2::client::{ResponseFuture, SendRequest};
use h2::SendStream;
use std::time::{Duration, Instant};

/// Replies of `Echo.Count`: 16 of 16 KiB, 256 KiB a call.
const REPLIES: usize = 16;

fn echo_server(dir: &std::path::Path, extra: &[&str]) -> Server {
    let text = "x".repeat(16 * 1024);
    let replies: Vec<_> = (0..REPLIES)
        .map(|index| serde_json::json!({"text": text, "index": index}))
        .collect();
    let handlers = serde_json::json!({
        "Echo.Count": {"reply": replies},
        "Echo.Say": {"delay": "1500ms", "reply": {"text": "slow"}},
        "Echo.Collect": {"reply": {"text": "at once"}},
    });
    let handlers = write_temp(dir, "echo.handlers.json", handlers.to_string().as_bytes());
    let proto = root().join("interop/grpc/echo.proto");
    let mut args = vec![
        "--proto",
        proto.to_str().unwrap(),
        "--handlers",
        &handlers,
        "--no-register",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An HTTP/2 connection whose windows (per stream and for the connection) are `window`.
async fn client(address: &str, window: u32) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let (client, connection) = h2::client::Builder::new()
        .initial_window_size(window)
        .initial_connection_window_size(window)
        .handshake(tcp)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn open(
    client: &SendRequest<Bytes>,
    path: &str,
    message: &[u8],
) -> (ResponseFuture, SendStream<Bytes>) {
    let mut ready = client.clone().ready().await.unwrap();
    let request = http::Request::post(format!("http://rmicro.test{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = ready.send_request(request, false).unwrap();
    send.send_data(Bytes::from(crate::grpc_wire::frame(message, false)), true)
        .unwrap();
    (response, send)
}

/// Reads a whole reply, pausing `pause` after each DATA frame before giving its window
/// back; returns its messages and grpc-status, or what went wrong.
async fn read_reply(
    body: h2::RecvStream,
    headers: http::HeaderMap,
    pause: Duration,
) -> Result<(usize, String), String> {
    let mut body = body;
    let mut bytes = 0;
    while let Some(data) = body.data().await {
        let data = data.map_err(|error| format!("after {bytes} bytes: {error}"))?;
        bytes += data.len();
        tokio::time::sleep(pause).await;
        let _ = body.flow_control().release_capacity(data.len());
    }
    let trailers = body
        .trailers()
        .await
        .map_err(|error| format!("trailers after {bytes} bytes: {error}"))?
        .unwrap_or_default();
    let ending = match headers.contains_key("grpc-status") {
        true => headers,
        false => trailers,
    };
    let status = ending
        .get("grpc-status")
        .map(|value| value.to_str().unwrap().to_owned())
        .ok_or_else(|| format!("no grpc-status after {bytes} bytes"))?;
    Ok((bytes, status))
}

/// SIGTERM to the server.
fn sigterm(server: &Server) {
    // SAFETY: kill(2) on a child of this test.
    unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
}

#[test]
fn at_shutdown_every_grpc_stream_read_is_answered_to_clients_that_read_slowly() {
    const CONNECTIONS: usize = 4;
    const COUNTS: usize = 16;
    const SLOW: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path(), &[]);
    let runtime = runtime();
    let (outcomes, stopped) = runtime.block_on(async {
        let mut clients = Vec::new();
        let mut calls = Vec::new();
        for _ in 0..CONNECTIONS {
            // 32 KiB windows: the replies (4 MiB a connection) wait on the client.
            let client = client(&server.address, 32 * 1024).await;
            for _ in 0..COUNTS {
                calls.push(open(&client, "/echo.v1.Echo/Count", b"").await);
            }
            for _ in 0..SLOW {
                calls.push(open(&client, "/echo.v1.Echo/Say", b"\x0a\x02hi").await);
            }
            clients.push(client);
        }
        // The server has read every stream (the slow ones wait 1.5 s to answer).
        tokio::time::sleep(Duration::from_millis(500)).await;
        sigterm(&server);
        let stopped = Instant::now();
        let readers: Vec<_> = calls
            .into_iter()
            .map(|(response, send)| {
                tokio::spawn(async move {
                    let _send = send;
                    let response = response
                        .await
                        .map_err(|error| format!("headers: {error}"))?;
                    let (parts, body) = response.into_parts();
                    read_reply(body, parts.headers, Duration::from_millis(1)).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for reader in readers {
            outcomes.push(reader.await.unwrap());
        }
        (outcomes, stopped)
    });
    let lost: Vec<_> = outcomes
        .iter()
        .enumerate()
        .filter(|(index, outcome)| {
            let count = index % (COUNTS + SLOW) < COUNTS;
            !matches!(outcome, Ok((bytes, status))
                if status == "0" && (!count || *bytes >= REPLIES * 16 * 1024))
        })
        .collect();
    let (status, log) = server.wait();
    eprintln!(
        "{} of {} streams lost; the server exited {:?} after SIGTERM",
        lost.len(),
        outcomes.len(),
        stopped.elapsed()
    );
    assert!(lost.is_empty(), "lost: {lost:?}\n{log}");
    assert!(status.success(), "{status:?}\n{log}");
}

/// How one unary call of a load ended.
#[derive(Debug, PartialEq, Eq, Clone, Copy, PartialOrd, Ord)]
enum Ended {
    Answered,
    /// Refused before the server read it (GOAWAY or REFUSED_STREAM): safe to retry.
    Refused,
    /// Anything else: read by the server, its reply lost.
    Lost,
}

#[test]
fn at_shutdown_a_grpc_load_loses_no_reply() {
    const CONNECTIONS: usize = 4;
    const WORKERS: usize = 32;
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path(), &[]);
    let runtime = runtime();
    let ended = runtime.block_on(async {
        let mut workers = Vec::new();
        for _ in 0..CONNECTIONS {
            let client = client(&server.address, 65_535).await;
            for _ in 0..WORKERS {
                let client = client.clone();
                workers.push(tokio::spawn(async move {
                    let mut ended = Vec::new();
                    loop {
                        let Ok(mut ready) = client.clone().ready().await else {
                            return ended;
                        };
                        let request =
                            http::Request::post("http://rmicro.test/echo.v1.Echo/Collect")
                                .header("content-type", "application/grpc")
                                .header("te", "trailers")
                                .body(())
                                .unwrap();
                        let Ok((response, mut send)) = ready.send_request(request, false) else {
                            return ended;
                        };
                        let _ = send.send_data(
                            Bytes::from(crate::grpc_wire::frame(b"\x0a\x02hi", false)),
                            true,
                        );
                        let outcome = match response.await {
                            Err(error)
                                if error.reason() == Some(h2::Reason::REFUSED_STREAM)
                                    || error.is_go_away() =>
                            {
                                Ended::Refused
                            }
                            Err(_) => Ended::Lost,
                            Ok(response) => {
                                let (parts, body) = response.into_parts();
                                match read_reply(body, parts.headers, Duration::ZERO).await {
                                    Ok((_, status)) if status == "0" => Ended::Answered,
                                    _ => Ended::Lost,
                                }
                            }
                        };
                        ended.push(outcome);
                    }
                }));
            }
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        sigterm(&server);
        let mut ended = Vec::new();
        for worker in workers {
            ended.extend(worker.await.unwrap());
        }
        ended
    });
    let count = |kind| ended.iter().filter(|outcome| **outcome == kind).count();
    eprintln!(
        "{} answered, {} refused, {} lost",
        count(Ended::Answered),
        count(Ended::Refused),
        count(Ended::Lost)
    );
    assert_eq!(count(Ended::Lost), 0);
    let (status, log) = server.wait();
    assert!(status.success(), "{status:?}\n{log}");
}

#[test]
fn at_shutdown_a_client_that_reads_nothing_does_not_hold_the_server_through_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let server = echo_server(dir.path(), &["--grace", "30s"]);
    let runtime = runtime();
    let (stalled, patient, slow, exited) = runtime.block_on(async {
        // Never opens its window: 8 server streams, and a slow unary call whose handler
        // is still at work at SIGTERM (its reply then waits on the window too).
        let stalled = client(&server.address, 0).await;
        let mut stalled_calls = Vec::new();
        for _ in 0..8 {
            stalled_calls.push(open(&stalled, "/echo.v1.Echo/Count", b"").await);
        }
        stalled_calls.push(open(&stalled, "/echo.v1.Echo/Say", b"\x0a\x02hi").await);
        // Its window is exhausted at SIGTERM, and it starts reading 1 s later: 1.3 s after
        // its last reply went out, within the 2 s after which the server gives up on a
        // connection that takes nothing (1.5 s left too thin a margin on a loaded machine).
        let patient = client(&server.address, 32 * 1024).await;
        let patient_calls: Vec<_> =
            futures_join((0..4).map(|_| open(&patient, "/echo.v1.Echo/Count", b""))).await;
        // An ordinary caller, whose handler takes 1.5 s.
        let other = client(&server.address, 65_535).await;
        let slow_call = open(&other, "/echo.v1.Echo/Say", b"\x0a\x02hi").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        sigterm(&server);
        let stopped = Instant::now();
        // Its streams share one window: each is read by a task of its own.
        let patient: Vec<_> = patient_calls
            .into_iter()
            .map(|(response, send)| {
                tokio::spawn(async move {
                    let _send = send;
                    tokio::time::sleep(Duration::from_millis(1000)).await;
                    let response = response.await.map_err(|error| error.to_string())?;
                    let (parts, body) = response.into_parts();
                    read_reply(body, parts.headers, Duration::ZERO).await
                })
            })
            .collect();
        let slow = tokio::spawn(async move {
            let (response, _send) = slow_call;
            let (parts, body) = response.await.unwrap().into_parts();
            read_reply(body, parts.headers, Duration::ZERO).await
        });
        let exited = tokio::task::spawn_blocking(move || {
            let (status, log) = server.wait();
            (status, log, stopped.elapsed())
        });
        let mut outcomes = Vec::new();
        for reader in patient {
            outcomes.push(reader.await.unwrap());
        }
        let patient = outcomes;
        let slow = slow.await.unwrap();
        let exited = exited.await.unwrap();
        drop(stalled_calls);
        (stalled, patient, slow, exited)
    });
    drop(stalled);
    let (status, log, after) = exited;
    eprintln!("the server exited {after:?} after SIGTERM (--grace 30s)");
    assert!(status.success(), "{status:?}\n{log}");
    for outcome in &patient {
        assert!(
            matches!(outcome, Ok((bytes, status)) if status == "0" && *bytes >= REPLIES * 16 * 1024),
            "the patient client: {outcome:?}\n{log}"
        );
    }
    assert!(
        matches!(&slow, Ok((_, status)) if status == "0"),
        "{slow:?}"
    );
    // The stalled connection waited for its slow handler (1.5 s), then 2 s.
    assert!(
        after >= Duration::from_millis(2500) && after < Duration::from_secs(10),
        "exited {after:?} after SIGTERM\n{log}"
    );
    assert!(
        log.contains(
            "closing an HTTP/2 connection at shutdown: its client has taken nothing for 2s"
        ),
        "{log}"
    );
}

async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    for future in futures {
        outputs.push(future.await);
    }
    outputs
}
