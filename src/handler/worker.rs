//! `WorkerPool`: an exec command started once and kept (`"worker": true`), `"workers"`
//! of them. Each call is one NDJSON line on a worker's stdin —
//! `{"id","endpoint","metadata","deadline_ms","protocol","encoding","request"}` — and the
//! worker answers, in any order, `{"id","reply"}` or `{"id","error"}`, optionally with
//! `"headers"` and `"trailers"` objects. Calls go to the workers in turn.
//!
//! A worker starts on its first call and lives as long as its rules (a hot reload that
//! replaces them ends it once its calls are done). One that exits, or prints a line over
//! `--max-message-size`, is killed with its process group; its calls in flight fail with
//! Unavailable and the next call starts a new one. A call the worker does not answer by
//! its deadline (the caller's, or the rule's `timeout`) gets DeadlineExceeded; the worker
//! goes on, and a late answer is dropped. Its stderr is the server's.

use super::exec::{error_reply, read_line, set_extras, ExecLimits, Line, ProcessGroup};
use crate::codec;
use crate::message::{Reply, Request};
use crate::status::{Code, Status};
use prost_reflect::{DescriptorPool, MessageDescriptor, MethodDescriptor};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::oneshot;

pub struct WorkerPool {
    command: Vec<String>,
    timeout: Duration,
    service: String,
    output: MessageDescriptor,
    limits: ExecLimits,
    workers: Vec<tokio::sync::Mutex<Option<Arc<Running>>>>,
    next_worker: AtomicUsize,
    next_id: AtomicU64,
}

/// One live worker process.
struct Running {
    stdin: tokio::sync::Mutex<ChildStdin>,
    /// Calls waiting for their answer, by id; emptied (their senders dropped) when the
    /// worker dies.
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<Value>>>>,
    _group: ProcessGroup,
}

impl Running {
    fn is_alive(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u64, oneshot::Sender<Value>>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails every call in flight: their senders go.
    fn die(&self) {
        self.lock().take();
    }
}

/// Takes a call's id out of the waiting calls when the call ends, however it ends.
struct Waiting<'a> {
    running: &'a Running,
    id: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(pending) = self.running.lock().as_mut() {
            pending.remove(&self.id);
        }
    }
}

impl WorkerPool {
    pub fn start(
        command: Vec<String>,
        timeout: Duration,
        method: &MethodDescriptor,
        limits: ExecLimits,
        workers: usize,
    ) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            command,
            timeout,
            service: method.parent_service().full_name().to_owned(),
            output: method.output(),
            limits,
            workers: (0..workers)
                .map(|_| tokio::sync::Mutex::new(None))
                .collect(),
            next_worker: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        })
    }

    fn program(&self) -> &str {
        &self.command[0]
    }

    fn schema(&self) -> &DescriptorPool {
        self.output.parent_pool()
    }

    /// A live worker, started if there is none.
    async fn worker(&self) -> Result<Arc<Running>, Status> {
        let index = self.next_worker.fetch_add(1, Ordering::Relaxed) % self.workers.len();
        let mut slot = self.workers[index].lock().await;
        if let Some(running) = slot.as_ref().filter(|running| running.is_alive()) {
            return Ok(running.clone());
        }
        let running = self.spawn(index)?;
        *slot = Some(running.clone());
        Ok(running)
    }

    fn spawn(&self, index: usize) -> Result<Arc<Running>, Status> {
        let program = self.program().to_owned();
        let mut command = tokio::process::Command::new(&program);
        self.limits.give_back_open_files(&mut command);
        let mut child = command
            .args(&self.command[1..])
            .env("RMICRO_SERVICE", &self.service)
            .env("RMICRO_WORKER", index.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                Status::new(
                    Code::Unavailable,
                    format!("cannot start worker `{program}`: {error}"),
                )
            })?;
        let group = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .unwrap_or(0);
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Status::internal("a worker without pipes"));
        };
        let running = Arc::new(Running {
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Mutex::new(Some(HashMap::new())),
            _group: ProcessGroup::new(group, &self.limits),
        });
        let reading = Arc::downgrade(&running);
        let limit = self.limits.max_output();
        tracing::debug!("worker {index} `{program}` started (pid {group})");
        tokio::spawn(async move {
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            let why = loop {
                line.clear();
                match read_line(&mut stdout, &mut line, limit).await {
                    Ok(Line::Complete) => {}
                    Ok(Line::End) => break "exited".to_owned(),
                    Ok(Line::TooLong) => {
                        break format!("printed a line longer than {limit} bytes (--max-message-size) and was killed")
                    }
                    Err(error) => break format!("could not be read: {error}"),
                }
                let Some(running) = reading.upgrade() else {
                    return;
                };
                deliver(&running, &line, &program);
            };
            let status = tokio::time::timeout(Duration::from_millis(100), child.wait())
                .await
                .ok()
                .and_then(Result::ok);
            let Some(running) = reading.upgrade() else {
                // Retired (its rules replaced, or the server stopping): killed on purpose.
                tracing::debug!("worker {index} `{program}` retired");
                return;
            };
            running.die();
            // Its group (leftover children too) is killed when the last call lets go.
            drop(running);
            drop(child);
            let status = status.map_or_else(String::new, |status| format!(" ({status})"));
            tracing::warn!("worker {index} `{program}` {why}{status}; its calls in flight fail, and the next call starts a new one");
        });
        Ok(running)
    }

    /// Past the caller's deadline or the rule's timeout, whichever is first.
    fn deadline(&self, caller: Option<Instant>) -> Instant {
        let own = Instant::now() + self.timeout;
        caller.map_or(own, |deadline| deadline.min(own))
    }

    pub async fn call(&self, request: Request) -> Result<Reply, Status> {
        let deadline = self.deadline(request.deadline);
        let body = codec::to_wire_json_value(&request.body).map_err(|error| {
            Status::invalid_argument(format!(
                "the request cannot be handed to the worker as JSON: {error}"
            ))
        })?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let metadata: serde_json::Map<String, Value> = request
            .metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let mut line = json!({
            "id": id,
            "endpoint": request.endpoint.name,
            "metadata": metadata,
            "deadline_ms": deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
            "protocol": request.context.protocol,
            "encoding": request.context.encoding,
            "request": body,
        })
        .to_string()
        .into_bytes();
        line.push(b'\n');
        let calling = async {
            let running = self.worker().await?;
            let (sender, answer) = oneshot::channel();
            match running.lock().as_mut() {
                Some(pending) => pending.insert(id, sender),
                None => return Err(self.died()),
            };
            let _waiting = Waiting {
                running: &running,
                id,
            };
            running
                .stdin
                .lock()
                .await
                .write_all(&line)
                .await
                .map_err(|_| self.died())?;
            answer.await.map_err(|_| self.died())
        };
        let answer = tokio::time::timeout_at(deadline.into(), calling)
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "worker `{}` did not answer call {id} by the deadline",
                    self.program()
                ))
            })??;
        self.reply(&request, answer)
    }

    fn died(&self) -> Status {
        Status::new(
            Code::Unavailable,
            format!(
                "worker `{}` exited before it answered (it is restarted for the next call)",
                self.program()
            ),
        )
    }

    /// A worker's answer: its headers and trailers set, then its reply or error.
    fn reply(&self, request: &Request, mut answer: Value) -> Result<Reply, Status> {
        let program = self.program();
        set_extras(&request.context.reply, &mut answer, "headers", "trailers");
        if let Some(error) = answer.get("error") {
            let wrapped = json!({ "error": error });
            return Err(error_reply(&wrapped, self.schema()).unwrap_or_else(|| {
                Status::internal(format!("worker `{program}` answered an error that is not {{\"code\"|\"status\", \"detail\"}}: {error}"))
            }));
        }
        let reply = answer.get("reply").cloned().unwrap_or(Value::Null);
        let reply = if reply.is_null() { json!({}) } else { reply };
        codec::from_json_value(&self.output, &reply)
            .map(Reply::Message)
            .map_err(|error| {
                Status::internal(format!(
                    "worker `{program}` answered a reply that is not a {}: {error}",
                    self.output.full_name()
                ))
            })
    }
}

/// Hands an answer line to the call waiting for its id.
fn deliver(running: &Running, line: &[u8], program: &str) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    let answer: Value = match serde_json::from_slice(line) {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!("worker `{program}` printed a line that is not JSON ({error}); ignored");
            return;
        }
    };
    let Some(id) = answer.get("id").and_then(Value::as_u64) else {
        tracing::warn!("worker `{program}` printed a line without a numeric \"id\"; ignored");
        return;
    };
    let waiting = running
        .lock()
        .as_mut()
        .and_then(|pending| pending.remove(&id));
    match waiting {
        Some(sender) => {
            let _ = sender.send(answer);
        }
        None => {
            tracing::debug!("worker `{program}` answered call {id}, which is no longer waiting")
        }
    }
}
