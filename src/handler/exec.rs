//! `ExecHandler`: runs a command per request (DESIGN.md "exec contract"). The request JSON
//! goes to stdin and the reply JSON comes from stdout; `RMICRO_*` variables carry the
//! endpoint, service, metadata and deadline. Request data never reaches the command line.
//! Past the deadline the whole process group is killed and the caller gets
//! DeadlineExceeded. For a streaming call the command runs once: each request is a JSON
//! line on its stdin (closed when the caller's stream ends) and each line it prints is a
//! reply, sent as it comes; a line `{"error": {…}}` ends the call with that status.

use super::rules::ErrorSpec;
use super::send_reply;
use crate::codec;
use crate::message::{Metadata, Reply, Request, StreamCall};
use crate::status::Status;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;

const STDERR_TAIL: usize = 512;

pub struct ExecHandler {
    command: Vec<String>,
    timeout: Duration,
    service: String,
    output: MessageDescriptor,
}

/// Kills a child's process group when dropped while armed (timeouts, cancellation), so no
/// grandchild outlives the request.
struct ProcessGroup(Option<i32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
    }
}

impl ExecHandler {
    pub fn new(command: Vec<String>, timeout: Duration, method: &MethodDescriptor) -> ExecHandler {
        ExecHandler {
            command,
            timeout,
            service: method.parent_service().full_name().to_owned(),
            output: method.output(),
        }
    }

    /// Past the caller's deadline or the rule's timeout, whichever is first.
    fn deadline(&self, caller: Option<Instant>) -> Instant {
        let own = Instant::now() + self.timeout;
        caller.map_or(own, |deadline| deadline.min(own))
    }

    /// Starts the command in a process group of its own, pipes on all three streams.
    fn spawn(
        &self,
        endpoint: &str,
        metadata: &Metadata,
        deadline: Instant,
    ) -> Result<(Child, ProcessGroup), Status> {
        let metadata: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let program = &self.command[0];
        let child = tokio::process::Command::new(program)
            .args(&self.command[1..])
            .env("RMICRO_ENDPOINT", endpoint)
            .env("RMICRO_SERVICE", &self.service)
            .env(
                "RMICRO_METADATA",
                serde_json::Value::Object(metadata).to_string(),
            )
            .env(
                "RMICRO_DEADLINE_MS",
                deadline
                    .saturating_duration_since(Instant::now())
                    .as_millis()
                    .to_string(),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                Status::internal(format!("cannot start exec handler `{program}`: {error}"))
            })?;
        let group = ProcessGroup(child.id().and_then(|pid| i32::try_from(pid).ok()));
        Ok((child, group))
    }

    pub async fn run(&self, request: Request) -> Result<Reply, Status> {
        let deadline = self.deadline(request.deadline);
        let input = request_json(&request.body)?;
        let program = &self.command[0];
        let (mut child, mut group) =
            self.spawn(&request.endpoint.name, &request.metadata, deadline)?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that ignores its input may exit before reading it; that is fine.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let output = match tokio::time::timeout_at(deadline.into(), child.wait_with_output()).await
        {
            Err(_) => {
                return Err(Status::deadline_exceeded(format!(
                    "exec handler `{program}` was still running at the deadline and was killed"
                )))
            }
            Ok(Err(error)) => {
                return Err(Status::internal(format!(
                    "exec handler `{program}`: {error}"
                )))
            }
            Ok(Ok(output)) => output,
        };
        group.0 = None;
        if output.status.success() {
            self.parse_reply(program, &output.stdout)
        } else {
            Err(failure(program, &output, self.output.parent_pool()))
        }
    }

    /// A streaming call: one run of the command for the whole call.
    pub async fn stream(&self, call: StreamCall) -> Result<(), Status> {
        let deadline = self.deadline(call.deadline);
        let program = &self.command[0];
        let (mut child, mut group) = self.spawn(&call.endpoint.name, &call.metadata, deadline)?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut requests = call.requests;
        let mut feeder = tokio::spawn(async move {
            let Some(mut stdin) = stdin else {
                return Ok(());
            };
            while let Some(body) = requests.recv().await {
                let mut line = request_json(&body)?;
                line.push(b'\n');
                if stdin.write_all(&line).await.is_err() {
                    break;
                }
            }
            Ok(())
        });
        // A request the command cannot be given ends the call; a finished feeder does not.
        let refused = async {
            match (&mut feeder).await {
                Ok(Err(status)) => status,
                _ => std::future::pending().await,
            }
        };
        let stderr_tail = tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut stderr) = stderr {
                let _ = stderr.read_to_end(&mut text).await;
            }
            text
        });
        let replying =
            async {
                let mut lines = BufReader::new(stdout.expect("stdout is piped")).lines();
                while let Some(line) = lines.next_line().await.map_err(|error| {
                    Status::internal(format!("exec handler `{program}`: {error}"))
                })? {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let reply = self.parse_line(program, &line)?;
                    send_reply(&call.replies, reply).await?;
                }
                let status = child.wait().await.map_err(|error| {
                    Status::internal(format!("exec handler `{program}`: {error}"))
                })?;
                Ok(status)
            };
        let result = tokio::time::timeout_at(deadline.into(), async {
            tokio::select! {
                result = replying => result,
                status = refused => Err(status),
            }
        })
        .await;
        feeder.abort();
        let status = match result {
            Err(_) => {
                return Err(Status::deadline_exceeded(format!(
                    "exec handler `{program}` was still running at the deadline and was killed"
                )))
            }
            Ok(result) => result?,
        };
        group.0 = None;
        if status.success() {
            return Ok(());
        }
        let output = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: stderr_tail.await.unwrap_or_default(),
        };
        Err(failure(program, &output, self.output.parent_pool()))
    }

    /// One line of a streaming command: a reply, or `{"error": {…}}`.
    fn parse_line(&self, program: &str, line: &str) -> Result<Reply, Status> {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|error| {
            Status::internal(format!(
                "exec handler `{program}` printed a line that is not JSON ({error}): {}",
                excerpt(line.as_bytes())
            ))
        })?;
        if let Some(status) = error_reply(&value, self.output.parent_pool()) {
            return Err(status);
        }
        self.message(program, &value)
    }

    fn parse_reply(&self, program: &str, stdout: &[u8]) -> Result<Reply, Status> {
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Reply::Message(prost_reflect::DynamicMessage::new(
                self.output.clone(),
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(stdout).map_err(|error| {
            Status::internal(format!(
                "exec handler `{program}` printed something that is not JSON ({error}): {}",
                excerpt(stdout)
            ))
        })?;
        self.message(program, &value)
    }

    fn message(&self, program: &str, value: &serde_json::Value) -> Result<Reply, Status> {
        codec::from_json_value(&self.output, value)
            .map(Reply::Message)
            .map_err(|error| {
                Status::internal(format!(
                    "exec handler `{program}` printed a reply that is not a {}: {error}",
                    self.output.full_name()
                ))
            })
    }
}

/// The status for a command that exited non-zero: its `{"error": …}` if it printed one,
/// else Internal with the tail of its stderr.
/// The request as the JSON line an exec handler reads. A message that came in as protobuf
/// may have no JSON form (a Timestamp out of range, say): that is the caller's error.
fn request_json(body: &DynamicMessage) -> Result<Vec<u8>, Status> {
    codec::to_wire_json_value(body)
        .map(|value| value.to_string().into_bytes())
        .map_err(|error| {
            Status::invalid_argument(format!(
                "the request cannot be handed to the exec handler as JSON: {error}"
            ))
        })
}

fn failure(program: &str, output: &std::process::Output, schema: &DescriptorPool) -> Status {
    if let Some(status) = serde_json::from_slice(&output.stdout)
        .ok()
        .and_then(|value| error_reply(&value, schema))
    {
        return status;
    }
    let how = match (output.status.code(), output.status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "failed".to_owned(),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail = stderr.trim_end();
    let start = (tail.len().saturating_sub(STDERR_TAIL)..tail.len())
        .find(|i| tail.is_char_boundary(*i))
        .unwrap_or(tail.len());
    let tail = &tail[start..];
    if tail.is_empty() {
        Status::internal(format!("exec handler `{program}` {how}"))
    } else {
        Status::internal(format!("exec handler `{program}` {how}: {tail}"))
    }
}

/// The status of an `{"error": {…}}` object (its only key).
fn error_reply(value: &serde_json::Value, schema: &DescriptorPool) -> Option<Status> {
    let object = value.as_object().filter(|object| object.len() == 1)?;
    let spec: ErrorSpec = serde_json::from_value(object.get("error")?.clone()).ok()?;
    Some(spec.to_status(schema).unwrap_or_else(|error| {
        Status::internal(format!(
            "an exec handler printed an unusable error: {error}"
        ))
    }))
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    text.escape_debug().to_string()
}
