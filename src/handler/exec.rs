//! `ExecHandler`: runs a command per request (DESIGN.md "exec contract"). The request JSON
//! goes to stdin and the reply JSON comes from stdout; `RMICRO_*` variables carry the
//! endpoint, service, metadata and deadline. Request data never reaches the command line.
//! Past the deadline the whole process group is killed and the caller gets
//! DeadlineExceeded.

use super::rules::ErrorSpec;
use crate::codec;
use crate::message::{Reply, Request};
use crate::status::Status;
use prost_reflect::{MessageDescriptor, MethodDescriptor};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

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

    pub async fn run(&self, request: Request) -> Result<Reply, Status> {
        let deadline = request
            .deadline
            .map_or(Instant::now() + self.timeout, |deadline| {
                deadline.min(Instant::now() + self.timeout)
            });
        let input = serde_json::to_vec(&codec::to_wire_json_value(&request.body))
            .expect("JSON values serialise");
        let metadata: serde_json::Map<String, serde_json::Value> = request
            .metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let program = &self.command[0];
        let mut child = tokio::process::Command::new(program)
            .args(&self.command[1..])
            .env("RMICRO_ENDPOINT", &request.endpoint.name)
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
        let mut group = ProcessGroup(child.id().and_then(|pid| i32::try_from(pid).ok()));
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
            Err(failure(program, &output))
        }
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
        codec::from_json_value(&self.output, &value)
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
fn failure(program: &str, output: &std::process::Output) -> Status {
    #[derive(serde::Deserialize)]
    struct ErrorReply {
        error: ErrorSpec,
    }
    if let Some(status) = serde_json::from_slice::<ErrorReply>(&output.stdout)
        .ok()
        .and_then(|reply| reply.error.to_status())
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

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    text.escape_debug().to_string()
}
