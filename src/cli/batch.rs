//! `rmicro call --batch`: requests as NDJSON on stdin, each checked and sent as a single
//! call would be, `--concurrency` of them in flight (over mucp one connection per slot,
//! since go-micro servers answer one request at a time per connection; over JSON-RPC one
//! shared connection, as Go's client pipelines), and one line per request on stdout in
//! input order: the reply, or `{"error":{…}}`. The exit code is the first failure's.
//! On a terminal, stderr shows progress (done, rate, errors).

use super::call::{prepare, CallSchema};
use super::inspect::{ignore, peer_error};
use crate::client::Client;
use crate::codec::Codec;
use crate::message::Metadata;
use crate::status::Status;
use anyhow::anyhow;
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex};

/// What every call of the batch shares.
struct Batch {
    endpoint: String,
    schema: CallSchema,
    codec: Codec,
    metadata: Metadata,
}

type Outcome = anyhow::Result<serde_json::Value>;

pub async fn run(
    client: &Client,
    endpoint: &str,
    schema: CallSchema,
    codec: Codec,
    metadata: &Metadata,
    concurrency: u32,
) -> anyhow::Result<()> {
    let batch = Arc::new(Batch {
        endpoint: endpoint.to_owned(),
        schema,
        codec,
        metadata: metadata.clone(),
    });
    let (lines, queue) = mpsc::channel::<(usize, std::io::Result<String>)>(1024);
    std::thread::spawn(move || read_lines(lines));
    let queue = Arc::new(Mutex::new(queue));
    let (results, mut finished) = mpsc::unbounded_channel::<(usize, Outcome)>();
    for _ in 0..concurrency {
        let (mut client, batch, queue, results) = (
            client.worker(),
            batch.clone(),
            queue.clone(),
            results.clone(),
        );
        tokio::spawn(async move {
            loop {
                let next = queue.lock().await.recv().await;
                let Some((index, line)) = next else { break };
                let outcome = match line {
                    Ok(line) => call_one(&mut client, &batch, &line).await,
                    Err(error) => Err(anyhow!("cannot read the line: {error}")),
                };
                if results.send((index, outcome)).is_err() {
                    break;
                }
            }
        });
    }
    drop(results);

    let progress = crate::output::Progress::on_terminal();
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut waiting = BTreeMap::new();
    let (mut next, mut failed, mut first_failure) = (0, 0, None);
    while let Some((index, outcome)) = finished.recv().await {
        waiting.insert(index, outcome);
        while let Some(outcome) = waiting.remove(&next) {
            let line = match outcome {
                Ok(value) => value,
                Err(error) => {
                    failed += 1;
                    progress.note(&format!("rmicro: line {}: {error:#}", next + 1));
                    let line = error_line(&error);
                    first_failure.get_or_insert((next + 1, error));
                    line
                }
            };
            serde_json::to_writer(&mut stdout, &line)?;
            stdout.write_all(b"\n")?;
            next += 1;
            progress.done(failed);
        }
        if finished.is_empty() {
            stdout.flush()?;
        }
    }
    stdout.flush()?;
    progress.finish();
    match first_failure {
        None => Ok(()),
        Some((line, error)) => Err(error.context(format!(
            "{failed} of {next} calls failed; the first was line {line}"
        ))),
    }
}

/// Reads stdin on its own thread (blocking I/O), skipping blank lines.
fn read_lines(lines: mpsc::Sender<(usize, std::io::Result<String>)>) {
    let stdin = std::io::stdin().lock();
    let requests = stdin
        .lines()
        .filter(|line| !matches!(line, Ok(text) if text.trim().is_empty()));
    for (index, line) in requests.enumerate() {
        if lines.blocking_send((index, line)).is_err() {
            return;
        }
    }
}

async fn call_one(client: &mut Client, batch: &Batch, line: &str) -> Outcome {
    let protocol = client.protocol();
    let prepared = prepare(
        &batch.endpoint,
        &batch.schema,
        batch.codec,
        line.as_bytes(),
        protocol,
    )?;
    let head = prepared.head(batch.codec, &batch.metadata);
    let reply = client
        .call(&head, &prepared.body, &mut ignore)
        .await
        .map_err(|error| peer_error(error, client.address()))?;
    prepared.reply_value(batch.codec, &reply.body)
}

/// `{"error":{"code":5,"status":"NOT_FOUND","message":…}}` for a status from the peer;
/// only the message for a failure that has no RPC status (a bad line, no connection).
fn error_line(error: &anyhow::Error) -> serde_json::Value {
    match error.downcast_ref::<Status>() {
        Some(status) => serde_json::json!({"error": {
            "code": status.code as u8,
            "status": status.code.name(),
            "message": status.message,
        }}),
        None => serde_json::json!({"error": {"message": format!("{error:#}")}}),
    }
}
