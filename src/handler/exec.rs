//! `ExecHandler`: runs a command per request (DESIGN.md "exec contract"). The request JSON
//! goes to stdin and the reply JSON comes from stdout; `RMICRO_*` variables carry the
//! endpoint, service, metadata and deadline. Request data never reaches the command line.
//! For a streaming call the command runs once: each request is a JSON line on its stdin
//! (closed when the caller's stream ends) and each line it prints is a reply, sent as it
//! comes; a line `{"error": {…}}` ends the call with that status.
//!
//! Every run is bounded ([`ExecLimits`]): at most `--exec-concurrency` processes at once
//! (and a rule's own `concurrency`), later calls queueing within their deadline; what a
//! command prints is capped at `--max-message-size` (the reply, or each line of a stream)
//! and only the tail of its stderr is kept. The command runs in a process group of its own
//! which is killed when the command exits (its leftover children with it), at the
//! deadline, and whenever the call is dropped — a caller that resets its stream or closes
//! its connection drops it. If the server dies first, even SIGKILLed, its reaper
//! (`crate::reaper`) kills the groups still running.
//!
//! A reply (or a line of a stream, or an `{"error": …}`) may carry `"@headers"` and
//! `"@trailers"` objects beside its fields (`{"name": "value"}` or a list of values):
//! they are taken out and sent as the reply's headers and trailers. `RMICRO_PROTOCOL`
//! and `RMICRO_ENCODING` say how the request came.

use super::rules::ErrorSpec;
use super::send_reply;
use crate::codec;
use crate::message::{CallContext, Metadata, Reply, ReplyExtras, Request, StreamCall};
use crate::reaper::Reaper;
use crate::status::{Code, Status};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const STDERR_TAIL: usize = 512;

/// The server-wide bounds every exec handler runs within.
#[derive(Clone)]
pub struct ExecLimits {
    /// The most a command may print: its whole reply, or one line of a stream.
    max_output: usize,
    /// One permit per process allowed to run at once, shared by every exec endpoint.
    slots: Arc<Semaphore>,
    concurrency: usize,
    /// The open-file limits (soft, hard) the server started with, when it raised its own:
    /// commands get these back, not the raised one.
    open_files: Option<(libc::rlim_t, libc::rlim_t)>,
    /// Kills the commands' process groups if the server dies without doing it.
    reaper: Option<Arc<Reaper>>,
}

impl ExecLimits {
    pub fn new(max_output: usize, concurrency: usize) -> ExecLimits {
        ExecLimits {
            max_output,
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            open_files: None,
            reaper: None,
        }
    }

    /// The most a command may print: its reply, or one line.
    pub fn max_output(&self) -> usize {
        self.max_output
    }

    /// Commands start with these open-file limits (soft, hard): the ones the server had
    /// before it raised its own soft limit, which a command should not inherit.
    pub fn with_open_files(mut self, limits: Option<(libc::rlim_t, libc::rlim_t)>) -> ExecLimits {
        self.open_files = limits;
        self
    }

    /// Commands' process groups are told to `reaper`, which kills those still running
    /// when the server is gone (even SIGKILLed).
    pub fn with_reaper(mut self, reaper: Reaper) -> ExecLimits {
        self.reaper = Some(Arc::new(reaper));
        self
    }

    /// Makes `command` start with the server's original open-file limits.
    pub(super) fn give_back_open_files(&self, command: &mut tokio::process::Command) {
        let Some((soft, hard)) = self.open_files else {
            return;
        };
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: between fork and exec only setrlimit(2) runs, which is async-signal-safe
        // and touches nothing of the parent's.
        unsafe {
            command.pre_exec(move || {
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                Ok(())
            });
        }
    }

    /// `--exec-concurrency`'s default: four processes per core, enough to keep the cores
    /// busy with handlers that also wait on I/O.
    pub fn default_concurrency() -> usize {
        4 * crate::runtime::cores()
    }
}

pub struct ExecHandler {
    command: Vec<String>,
    timeout: Duration,
    service: String,
    output: MessageDescriptor,
    limits: ExecLimits,
    /// The rule's own `concurrency`: permits for this endpoint alone, and how many.
    own_slots: Option<(Arc<Semaphore>, usize)>,
}

/// Kills a child's process group (SIGKILL) when the command has exited, so no grandchild
/// outlives the request, and when dropped first (deadline, cancellation, a reply too
/// large). It kills once: after that the group's id may be reused. Until then the
/// server's reaper knows of it, and kills it if the server dies first.
pub(super) struct ProcessGroup {
    group: AtomicI32,
    reaper: Option<Arc<Reaper>>,
}

impl ProcessGroup {
    /// Group `group` (none when 0), started within `limits`.
    pub(super) fn new(group: i32, limits: &ExecLimits) -> ProcessGroup {
        let reaper = limits.reaper.clone().filter(|_| group > 0);
        if let Some(reaper) = &reaper {
            reaper.watch(group);
        }
        ProcessGroup {
            group: AtomicI32::new(group),
            reaper,
        }
    }

    fn kill(&self) {
        let group = self.group.swap(0, Ordering::Relaxed);
        if group > 0 {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
            if let Some(reaper) = &self.reaper {
                reaper.forget(group);
            }
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The permits a running command holds; released after its group is killed.
struct Slots {
    _own: Option<OwnedSemaphorePermit>,
    _global: OwnedSemaphorePermit,
}

impl ExecHandler {
    pub fn new(
        command: Vec<String>,
        timeout: Duration,
        method: &MethodDescriptor,
        limits: ExecLimits,
        concurrency: Option<usize>,
    ) -> ExecHandler {
        ExecHandler {
            command,
            timeout,
            service: method.parent_service().full_name().to_owned(),
            output: method.output(),
            limits,
            own_slots: concurrency.map(|limit| (Arc::new(Semaphore::new(limit)), limit)),
        }
    }

    /// Past the caller's deadline or the rule's timeout, whichever is first; the timeout
    /// counts from the call's arrival, its wait for a slot included.
    fn deadline(&self, caller: Option<Instant>) -> Instant {
        let own = Instant::now() + self.timeout;
        caller.map_or(own, |deadline| deadline.min(own))
    }

    fn program(&self) -> &str {
        &self.command[0]
    }

    /// Waits for a slot to run the command in: the rule's own first, so a call queued on
    /// its endpoint does not hold a server-wide slot. A call whose deadline passes while
    /// queued never starts.
    async fn slots(&self, deadline: Instant) -> Result<Slots, Status> {
        let waiting = async {
            let own = match &self.own_slots {
                Some((slots, _)) => Some(slots.clone().acquire_owned().await?),
                None => None,
            };
            let global = self.limits.slots.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>(Slots {
                _own: own,
                _global: global,
            })
        };
        match tokio::time::timeout_at(deadline.into(), waiting).await {
            Ok(Ok(slots)) => Ok(slots),
            Ok(Err(_)) => Err(Status::internal("the exec slots are closed")),
            Err(_) => {
                let limit = match &self.own_slots {
                    Some((_, limit)) => format!(
                        "at most {limit} at once for this rule, {} for the server",
                        self.limits.concurrency
                    ),
                    None => format!("at most {} at once", self.limits.concurrency),
                };
                Err(Status::deadline_exceeded(format!(
                    "exec handler `{}` did not start: the deadline passed while the call waited for an exec slot ({limit}: --exec-concurrency, a rule's \"concurrency\")",
                    self.program()
                )))
            }
        }
    }

    /// Starts the command in a process group of its own, pipes on all three streams.
    fn spawn(
        &self,
        endpoint: &str,
        metadata: &Metadata,
        context: &CallContext,
        deadline: Instant,
    ) -> Result<(Child, ProcessGroup), Status> {
        let metadata: serde_json::Map<String, serde_json::Value> = metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let program = self.program();
        let mut command = tokio::process::Command::new(program);
        self.limits.give_back_open_files(&mut command);
        let child = command
            .args(&self.command[1..])
            .env("RMICRO_ENDPOINT", endpoint)
            .env("RMICRO_SERVICE", &self.service)
            .env("RMICRO_PROTOCOL", context.protocol)
            .env("RMICRO_ENCODING", context.encoding)
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
        let group = child.id().and_then(|pid| i32::try_from(pid).ok());
        Ok((child, ProcessGroup::new(group.unwrap_or(0), &self.limits)))
    }

    fn expired(&self) -> Status {
        Status::deadline_exceeded(format!(
            "exec handler `{}` was still running at the deadline and was killed",
            self.program()
        ))
    }

    fn broken(&self, error: std::io::Error) -> Status {
        Status::internal(format!("exec handler `{}`: {error}", self.program()))
    }

    /// A reply or line over `--max-message-size`: the caller asked for nothing it could
    /// be sent (gRPC's code for a message over the limit, as grpc-go sends).
    fn too_large(&self, what: &str) -> Status {
        Status::new(
            Code::ResourceExhausted,
            format!(
                "exec handler `{}` printed {what} {} bytes (--max-message-size) and was killed",
                self.program(),
                self.limits.max_output
            ),
        )
    }

    pub async fn run(&self, request: Request) -> Result<Reply, Status> {
        let deadline = self.deadline(request.deadline);
        let input = request_json(&request.body)?;
        let _slots = self.slots(deadline).await?;
        let (mut child, group) = self.spawn(
            &request.endpoint.name,
            &request.metadata,
            &request.context,
            deadline,
        )?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that ignores its input may exit before reading it; that is fine.
            tokio::spawn(async move {
                let _ = stdin.write_all(&input).await;
            });
        }
        let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
        let running = async {
            let exited = async {
                let status = child.wait().await;
                // What it printed is in the pipe; its leftover children go now, which
                // also ends a pipe one of them held open.
                group.kill();
                status.map_err(|error| self.broken(error))
            };
            let reading = async {
                let mut out = Vec::new();
                if let Some(stdout) = stdout {
                    // One byte past the limit tells a reply too large from one that fits.
                    let limit = self.limits.max_output as u64 + 1;
                    stdout
                        .take(limit)
                        .read_to_end(&mut out)
                        .await
                        .map_err(|error| self.broken(error))?;
                }
                if out.len() > self.limits.max_output {
                    return Err(self.too_large("more than"));
                }
                Ok(out)
            };
            tokio::try_join!(reading, async { Ok(stderr_tail(stderr).await) }, exited)
        };
        let (stdout, stderr, status) = tokio::time::timeout_at(deadline.into(), running)
            .await
            .map_err(|_| self.expired())??;
        let extras = &request.context.reply;
        if status.success() {
            self.parse_reply(&stdout, extras)
        } else {
            let output = std::process::Output {
                status,
                stdout,
                stderr,
            };
            Err(failure(
                self.program(),
                &output,
                self.output.parent_pool(),
                extras,
            ))
        }
    }

    /// A streaming call: one run of the command for the whole call. While the caller
    /// takes no replies (the channel full), the command's stdout is not read, so the
    /// command waits too.
    pub async fn stream(&self, call: StreamCall) -> Result<(), Status> {
        let deadline = self.deadline(call.deadline);
        let _slots = self.slots(deadline).await?;
        let program = self.program();
        let (mut child, group) =
            self.spawn(&call.endpoint.name, &call.metadata, &call.context, deadline)?;
        let extras = call.context.reply.clone();
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let mut requests = call.requests;
        // Set before the feeder drops stdin: the command may then end cleanly on that EOF
        // before the feeder's own end is seen, and the refusal must still be the outcome.
        let refusal = Arc::new(std::sync::OnceLock::new());
        let refusal_set = refusal.clone();
        let mut feeder = tokio::spawn(async move {
            let Some(mut stdin) = stdin else {
                return Ok(());
            };
            while let Some(body) = requests.recv().await {
                let mut line = request_json(&body).inspect_err(|status| {
                    let _ = refusal_set.set(status.clone());
                })?;
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
        let stderr_tail = tokio::spawn(stderr_tail(stderr));
        let replying = async {
            let Some(stdout) = stdout else {
                return child.wait().await.map_err(|error| self.broken(error));
            };
            let mut stdout = BufReader::new(stdout);
            let mut line = Vec::new();
            let mut exited = None;
            loop {
                tokio::select! {
                    read = read_line(&mut stdout, &mut line, self.limits.max_output) => {
                        match read.map_err(|error| self.broken(error))? {
                            Line::End => break,
                            Line::TooLong => return Err(self.too_large("a line longer than")),
                            Line::Complete => {}
                        }
                        let text = std::str::from_utf8(&line).map_err(|_| {
                            Status::internal(format!(
                                "exec handler `{program}` printed a line that is not UTF-8: {}",
                                excerpt(&line)
                            ))
                        })?;
                        if !text.trim().is_empty() {
                            let reply = self.parse_line(program, text, &extras)?;
                            send_reply(&call.replies, reply).await?;
                        }
                        line.clear();
                    }
                    status = child.wait(), if exited.is_none() => {
                        // Its last lines are still read; its leftover children go now.
                        group.kill();
                        exited = Some(status.map_err(|error| self.broken(error))?);
                    }
                }
            }
            match exited {
                Some(status) => Ok(status),
                None => child.wait().await.map_err(|error| self.broken(error)),
            }
        };
        let result = tokio::time::timeout_at(deadline.into(), async {
            tokio::select! {
                result = replying => result,
                status = refused => Err(status),
            }
        })
        .await;
        feeder.abort();
        if let Some(status) = refusal.get() {
            group.kill();
            return Err(status.clone());
        }
        let status = result.map_err(|_| self.expired())??;
        group.kill();
        if status.success() {
            return Ok(());
        }
        let output = std::process::Output {
            status,
            stdout: Vec::new(),
            stderr: stderr_tail.await.unwrap_or_default(),
        };
        Err(failure(
            program,
            &output,
            self.output.parent_pool(),
            &extras,
        ))
    }

    /// One line of a streaming command: a reply, or `{"error": {…}}`.
    fn parse_line(&self, program: &str, line: &str, extras: &ReplyExtras) -> Result<Reply, Status> {
        let mut value: serde_json::Value = serde_json::from_str(line).map_err(|error| {
            Status::internal(format!(
                "exec handler `{program}` printed a line that is not JSON ({error}): {}",
                excerpt(line.as_bytes())
            ))
        })?;
        set_extras(extras, &mut value, "@headers", "@trailers");
        if let Some(status) = error_reply(&value, self.output.parent_pool()) {
            return Err(status);
        }
        self.message(program, &value)
    }

    fn parse_reply(&self, stdout: &[u8], extras: &ReplyExtras) -> Result<Reply, Status> {
        let program = self.program();
        if stdout.iter().all(u8::is_ascii_whitespace) {
            return Ok(Reply::Message(prost_reflect::DynamicMessage::new(
                self.output.clone(),
            )));
        }
        let mut value: serde_json::Value = serde_json::from_slice(stdout).map_err(|error| {
            Status::internal(format!(
                "exec handler `{program}` printed something that is not JSON ({error}): {}",
                excerpt(stdout)
            ))
        })?;
        set_extras(extras, &mut value, "@headers", "@trailers");
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

/// The request as the JSON line an exec handler reads, written straight from the message
/// (no `serde_json::Value` on the way: it takes 72 bytes per value). A message that came
/// in as protobuf may have no JSON form (a Timestamp out of range, say): that is the
/// caller's error.
fn request_json(body: &DynamicMessage) -> Result<Vec<u8>, Status> {
    codec::encode(codec::Codec::Json, body)
        .map(|mut line| {
            line.pop(); // the newline
            line
        })
        .map_err(|error| {
            Status::invalid_argument(format!(
                "the request cannot be handed to the exec handler as JSON: {error}"
            ))
        })
}

/// The status for a command that exited non-zero: its `{"error": …}` if it printed one,
/// else Internal with the tail of its stderr.
fn failure(
    program: &str,
    output: &std::process::Output,
    schema: &DescriptorPool,
    extras: &ReplyExtras,
) -> Status {
    if let Ok(mut value) = serde_json::from_slice(&output.stdout) {
        set_extras(extras, &mut value, "@headers", "@trailers");
        if let Some(status) = error_reply(&value, schema) {
            return status;
        }
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

/// Takes a handler's `headers_key` and `trailers_key` objects out of `value` (an object)
/// into the reply's extras: `{"name": "value"}`, or a list of values per name.
pub(super) fn set_extras(
    extras: &ReplyExtras,
    value: &mut serde_json::Value,
    headers_key: &str,
    trailers_key: &str,
) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    let (headers, trailers) = (object.remove(headers_key), object.remove(trailers_key));
    if headers.is_none() && trailers.is_none() {
        return;
    }
    let pairs = |given: Option<serde_json::Value>| -> Vec<(String, String)> {
        let Some(serde_json::Value::Object(given)) = given else {
            return Vec::new();
        };
        let mut pairs = Vec::new();
        for (name, value) in given {
            let values = match value {
                serde_json::Value::Array(values) => values,
                value => vec![value],
            };
            for value in values {
                let text = match value {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                pairs.push((name.to_ascii_lowercase(), text));
            }
        }
        pairs
    };
    let (headers, trailers) = (pairs(headers), pairs(trailers));
    extras.update(|extras| {
        extras.headers.extend(headers);
        extras.trailers.extend(trailers);
    });
}

/// The status of an `{"error": {…}}` object (its only key).
pub(super) fn error_reply(value: &serde_json::Value, schema: &DescriptorPool) -> Option<Status> {
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

/// How reading one line of a streaming command ended.
pub(super) enum Line {
    /// A line is in the buffer (its end of line removed): ended by a newline or by EOF.
    Complete,
    /// EOF with nothing more.
    End,
    /// The line grew past the limit.
    TooLong,
}

/// Reads one line into `line` (appending to what an interrupted read left there: safe to
/// race in `select!`), holding at most `limit` bytes of it.
pub(super) async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() {
                Line::End
            } else {
                Line::Complete
            });
        }
        let (taken, ended) = match available.iter().position(|byte| *byte == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if ended {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if line.len() > limit {
            return Ok(Line::TooLong);
        }
        if ended {
            return Ok(Line::Complete);
        }
    }
}

/// The last bytes a command wrote to stderr (the rest is read and dropped, so a command
/// that writes much there neither blocks nor costs memory).
async fn stderr_tail(stderr: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut tail = Vec::new();
    let Some(mut stderr) = stderr else {
        return tail;
    };
    let mut chunk = vec![0; 8192];
    while let Ok(read @ 1..) = stderr.read(&mut chunk).await {
        tail.extend_from_slice(&chunk[..read]);
        if tail.len() > 2 * STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    tail
}
