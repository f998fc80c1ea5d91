//! Load runs (`rmicro bench`): workers, each with its own [`Client`] over the one
//! attempt loop and the one streaming `Caller`, take call numbers in order until the load
//! shape says stop, wait for each call's instant when a rate is set, make the call (a
//! unary exchange, or a stream that sends its messages and reads every reply) and check
//! that every reply decodes. Latency is recorded for every call, failed ones too, in one
//! HDR histogram; failures are counted by status code and kind, never dropped. Nothing
//! here prints: the command line reads [`Live`] for its progress and renders the
//! [`Tally`] a run ends with.

pub mod assertion;
pub mod report;
pub mod schedule;

use crate::client::{AttemptEvent, Client, OpenStream};
use crate::codec::Codec;
use crate::message::Metadata;
use crate::protocol::{CallError, CallHead};
use crate::status::Code;
use bytes::Bytes;
use hdrhistogram::Histogram;
use schedule::Schedule;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When a run ends.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    /// After this many calls.
    Calls(u64),
    /// Once this long has passed since the start (calls in flight then are finished).
    Time(Duration),
}

/// A run's load: when it ends and how fast calls start.
#[derive(Clone, Debug)]
pub struct Shape {
    pub stop: Stop,
    /// None: as fast as the workers go.
    pub rate: Option<Schedule>,
}

/// What every call of a run sends and how its replies are checked.
pub struct Work {
    pub service: String,
    pub endpoint: String,
    pub path: String,
    pub codec: Codec,
    pub metadata: Metadata,
    /// Request messages; call n sends the n-th (cycling), a stream the next ones.
    pub requests: Vec<Request>,
    /// Metadata with templates (`{{seq}}`, `{{uuid}}`, `{{now}}`), rendered per call in
    /// place of `metadata`.
    pub metadata_template: Option<RenderMetadata>,

    pub kind: Kind,
    /// Whether a reply decodes (the reply type, or JSON when there is no schema).
    pub check: ReplyCheck,
    /// Keep a record of every call (`--per-call`).
    pub per_call: bool,
}

/// A request message: encoded once, or rendered from a template for each call (its
/// `{{seq}}`), the error saying why a rendering does not fit the request type.
pub enum Request {
    Ready(Bytes),
    Rendered(Box<dyn Fn(u64) -> Result<Bytes, String> + Send + Sync>),
}

/// The metadata of call `seq` (from 1).
pub type RenderMetadata = Box<dyn Fn(u64) -> Metadata + Send + Sync>;

impl Request {
    fn for_call(&self, seq: u64) -> Result<Bytes, Failure> {
        match self {
            Request::Ready(bytes) => Ok(bytes.clone()),
            Request::Rendered(render) => render(seq).map_err(Failure::Request),
        }
    }
}

/// Checks one reply message; the error says why it does not decode.
pub type ReplyCheck = Box<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// How a call runs.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// One message each way.
    Unary,
    /// A stream (gRPC's, or go-micro's over mucp): `messages` request messages, `interval`
    /// apart, then half-closed; every reply read until the stream ends.
    Stream { messages: u64, interval: Duration },
}

/// What a run shows while it goes: read by the progress display, written by the workers.
pub struct Live {
    started: Mutex<Option<Instant>>,
    done: AtomicU64,
    errors: AtomicU64,
    latency: Mutex<Histogram<u64>>,
    stop: AtomicBool,
}

/// A moment of a run, for a progress line.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub elapsed: Duration,
    pub done: u64,
    pub errors: u64,
    /// Latency so far; `None` before the first call ends.
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            started: Mutex::new(None),
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: Mutex::new(new_histogram()),
            stop: AtomicBool::new(false),
        }
    }
}

impl Live {
    pub fn progress(&self) -> Progress {
        let elapsed = self
            .started
            .lock()
            .expect("live lock")
            .map_or(Duration::ZERO, |started| started.elapsed());
        let latency = self.latency.lock().expect("latency lock");
        let quantile = |q| (!latency.is_empty()).then(|| nanos(latency.value_at_quantile(q)));
        Progress {
            elapsed,
            done: self.done.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            p50: quantile(0.5),
            p99: quantile(0.99),
        }
    }

    /// Asks the workers to start no more calls (Ctrl-C); calls in flight finish.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Latencies in nanoseconds, three significant figures, growing as needed.
fn new_histogram() -> Histogram<u64> {
    let mut histogram = Histogram::new(3).expect("three significant figures");
    histogram.auto(true);
    histogram
}

fn nanos(value: u64) -> Duration {
    Duration::from_nanos(value)
}

/// One failed kind of outcome: how often, and the first message.
#[derive(Clone, Debug)]
pub struct ErrorKind {
    pub count: u64,
    pub first: String,
}

/// One call, for `--per-call`.
#[derive(Clone, Debug)]
pub struct Record {
    pub seq: u64,
    /// From the start of the run.
    pub start: Duration,
    pub latency: Duration,
    pub code: Code,
    pub error: Option<String>,
}

/// What a run ends with.
pub struct Tally {
    /// Every call's latency, in nanoseconds.
    pub latency: Histogram<u64>,
    pub calls: u64,
    pub errors: u64,
    /// Calls by status code; a failure with no status from the peer (no connection, a
    /// broken reply) counts as Unavailable, as gRPC clients report it.
    pub statuses: BTreeMap<u8, u64>,
    /// Failures by kind (the status code's name, or what failed locally).
    pub kinds: BTreeMap<String, ErrorKind>,
    pub sent: u64,
    pub received: u64,
    /// Calls by the address of the node they went to.
    pub nodes: BTreeMap<String, u64>,
    /// From the start to the end of the last call.
    pub elapsed: Duration,
    pub records: Vec<Record>,
    /// Stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// One worker's counts, merged into the tally at its end; latencies go to the live
/// histogram in batches.
struct Local {
    batch: Vec<u64>,
    flushed: Instant,
    calls: u64,
    errors: u64,
    statuses: BTreeMap<u8, u64>,
    kinds: BTreeMap<String, ErrorKind>,
    sent: u64,
    received: u64,
    nodes: Vec<(String, u64)>,
    records: Vec<Record>,
    last_end: Option<Instant>,
}

/// A call's outcome, with the messages it moved.
struct Outcome {
    result: Result<(), Failure>,
    sent: u64,
    received: u64,
}

/// Why a call failed: the peer's status, a local failure, or a reply that did not decode.
enum Failure {
    Call(CallError),
    Reply(String),
    /// A templated request that does not fit its type once rendered.
    Request(String),
}

impl Failure {
    fn code(&self) -> Code {
        match self {
            Failure::Call(CallError::Status(status)) => status.code,
            _ => Code::Unavailable,
        }
    }

    fn kind(&self) -> String {
        match self {
            Failure::Call(CallError::Status(status)) => status.code.name().to_owned(),
            Failure::Call(CallError::Connect(_)) => "connection".into(),
            Failure::Call(CallError::Transport(_) | CallError::HungUp(_)) => "transport".into(),
            Failure::Call(CallError::WrongProtocol(_)) => "protocol".into(),
            Failure::Reply(_) => "reply".into(),
            Failure::Request(_) => "request".into(),
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Call(CallError::Status(status)) => status.message.clone(),
            Failure::Call(error) => error.to_string(),
            Failure::Reply(error) => format!("the reply does not decode: {error}"),
            Failure::Request(error) => format!("the rendered request: {error}"),
        }
    }
}

/// Latencies are handed to the live histogram this often (or every this many calls).
const FLUSH_EVERY: Duration = Duration::from_millis(100);
const FLUSH_CALLS: usize = 64;

/// A worker's client, and the runtime its connection lives on (`--threads`), where its
/// task runs too; `None`: the runtime `run` is called on.
pub type Worker = (Client, Option<tokio::runtime::Handle>);

/// Runs `shape` with one task per worker (the concurrency); gives the workers back with
/// their connections, for the run after a warm-up. Templates see call n as `{{seq}}` n +
/// `seq_base` (from 1), so the calls after a warm-up go on counting from it.
pub async fn run(
    workers: Vec<Worker>,
    work: Arc<Work>,
    shape: &Shape,
    live: Arc<Live>,
    seq_base: u64,
) -> (Vec<Worker>, Tally) {
    let started = Instant::now();
    *live.started.lock().expect("live lock") = Some(started);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|(client, lane)| {
            let (work, live, next, shape) =
                (work.clone(), live.clone(), next.clone(), shape.clone());
            let driving = async move {
                drive(client, &work, &shape, (&live, &next), started, seq_base).await
            };
            let task = match &lane {
                Some(lane) => lane.spawn(driving),
                None => tokio::spawn(driving),
            };
            (task, lane)
        })
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut tally = Tally {
        latency: new_histogram(),
        calls: 0,
        errors: 0,
        statuses: BTreeMap::new(),
        kinds: BTreeMap::new(),
        sent: 0,
        received: 0,
        nodes: BTreeMap::new(),
        elapsed: Duration::ZERO,
        records: Vec::new(),
        interrupted: false,
    };
    let mut last_end = started;
    for (task, lane) in tasks {
        let (client, local) = task.await.expect("a bench worker panicked");
        workers.push((client, lane));
        tally.calls += local.calls;
        tally.errors += local.errors;
        tally.sent += local.sent;
        tally.received += local.received;
        for (code, count) in local.statuses {
            *tally.statuses.entry(code).or_default() += count;
        }
        for (kind, error) in local.kinds {
            tally
                .kinds
                .entry(kind)
                .and_modify(|known| known.count += error.count)
                .or_insert(error);
        }
        for (node, count) in local.nodes {
            *tally.nodes.entry(node).or_default() += count;
        }
        tally.records.extend(local.records);
        last_end = last_end.max(local.last_end.unwrap_or(started));
    }
    tally.elapsed = last_end - started;
    tally.latency = std::mem::replace(
        &mut *live.latency.lock().expect("latency lock"),
        new_histogram(),
    );
    tally.records.sort_by_key(|record| record.seq);
    tally.interrupted = live.stopped();
    (workers, tally)
}

/// One worker: calls until the shape says stop.
async fn drive(
    mut client: Client,
    work: &Work,
    shape: &Shape,
    (live, next): (&Live, &AtomicU64),
    started: Instant,
    seq_base: u64,
) -> (Client, Local) {
    let mut local = Local::new(started);
    let deadline = match shape.stop {
        Stop::Time(duration) => Some(started + duration),
        Stop::Calls(_) => None,
    };
    // The clock is read once per call: a call begins when the last one ended, unless a
    // rate makes it wait (nothing else runs in between on this task).
    let mut now = Instant::now();
    loop {
        if live.stopped() {
            break;
        }
        let seq = next.fetch_add(1, Ordering::Relaxed);
        if matches!(shape.stop, Stop::Calls(total) if seq >= total) {
            break;
        }
        if let Some(schedule) = &shape.rate {
            let Some(due) = schedule.due(seq).map(|due| started + due) else {
                break;
            };
            if deadline.is_some_and(|deadline| due >= deadline) {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            now = Instant::now();
        } else if deadline.is_some_and(|deadline| now >= deadline) {
            break;
        }
        client.next_node();
        let begun = now;
        let outcome = call(&mut client, work, seq, seq_base + seq + 1).await;
        let ended = Instant::now();
        now = ended;
        local.record(
            live,
            work,
            &client,
            seq,
            (begun - started, ended - begun),
            outcome,
        );
        local.last_end = Some(ended);
        if local.batch.len() >= FLUSH_CALLS || ended - local.flushed >= FLUSH_EVERY {
            local.flush(live, ended);
        }
    }
    local.flush(live, Instant::now());
    (client, local)
}

impl Local {
    fn new(now: Instant) -> Local {
        Local {
            batch: Vec::with_capacity(FLUSH_CALLS),
            flushed: now,
            calls: 0,
            errors: 0,
            statuses: BTreeMap::new(),
            kinds: BTreeMap::new(),
            sent: 0,
            received: 0,
            nodes: Vec::new(),
            records: Vec::new(),
            last_end: None,
        }
    }

    /// Counts one call; `(start, latency)` from the start of the run.
    fn record(
        &mut self,
        live: &Live,
        work: &Work,
        client: &Client,
        seq: u64,
        (start, latency): (Duration, Duration),
        outcome: Outcome,
    ) {
        self.calls += 1;
        self.sent += outcome.sent;
        self.received += outcome.received;
        let code = match &outcome.result {
            Ok(()) => Code::Ok,
            Err(failure) => failure.code(),
        };
        *self.statuses.entry(code as u8).or_default() += 1;
        let mut error = None;
        if let Err(failure) = &outcome.result {
            self.errors += 1;
            live.errors.fetch_add(1, Ordering::Relaxed);
            let kind = self
                .kinds
                .entry(failure.kind())
                .or_insert_with(|| ErrorKind {
                    count: 0,
                    first: failure.message(),
                });
            kind.count += 1;
            if work.per_call {
                error = Some(failure.message());
            }
        }
        let address = client.address();
        match self.nodes.iter_mut().find(|(node, _)| node == address) {
            Some((_, count)) => *count += 1,
            None => self.nodes.push((address.to_owned(), 1)),
        }
        if work.per_call {
            self.records.push(Record {
                seq,
                start,
                latency,
                code,
                error,
            });
        }
        self.batch
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1));
        live.done.fetch_add(1, Ordering::Relaxed);
    }

    fn flush(&mut self, live: &Live, now: Instant) {
        if !self.batch.is_empty() {
            let mut latency = live.latency.lock().expect("latency lock");
            for value in self.batch.drain(..) {
                if latency.record(value).is_err() {
                    latency.saturating_record(value);
                }
            }
        }
        self.flushed = now;
    }
}

fn ignore(_: AttemptEvent<'_>) {}

/// Call `seq`: its request (or a stream's requests) taken in turn from the work's.
/// `number` is what templates see as `{{seq}}`.
async fn call(client: &mut Client, work: &Work, seq: u64, number: u64) -> Outcome {
    let rendered;
    let metadata = match &work.metadata_template {
        Some(render) => {
            rendered = render(number);
            &rendered
        }
        None => &work.metadata,
    };
    let head = CallHead {
        service: &work.service,
        endpoint: &work.endpoint,
        path: &work.path,
        codec: work.codec,
        metadata,
        timeout: None,
    };
    let count = work.requests.len() as u64;
    let failed = |failure| Outcome {
        result: Err(failure),
        sent: 0,
        received: 0,
    };
    match work.kind {
        Kind::Unary => {
            let request = match work.requests[(seq % count) as usize].for_call(number) {
                Ok(request) => request,
                Err(failure) => return failed(failure),
            };
            // Only the reply is read: its headers and trailers are never made text.
            let result = match client.exchange(&head, &request, &mut ignore).await.outcome {
                Ok(body) => (work.check)(&body).map_err(Failure::Reply),
                Err(error) => Err(Failure::Call(error)),
            };
            let received = u64::from(result.is_ok());
            Outcome {
                result,
                sent: 1,
                received,
            }
        }
        Kind::Stream { messages, interval } => {
            let first = seq.wrapping_mul(messages);
            let requests: Result<Vec<Bytes>, Failure> = (0..messages)
                .map(|index| {
                    work.requests[((first.wrapping_add(index)) % count) as usize].for_call(number)
                })
                .collect();
            match requests {
                Ok(requests) => stream(client, work, &head, requests.into_iter(), interval).await,
                Err(failure) => failed(failure),
            }
        }
    }
}

/// A streaming call: each request sent `interval` after the last (the first at once),
/// the request side half-closed after the last, every reply read and checked meanwhile,
/// all within the call's deadline.
async fn stream(
    client: &mut Client,
    work: &Work,
    head: &CallHead<'_>,
    requests: impl Iterator<Item = Bytes>,
    interval: Duration,
) -> Outcome {
    let mut outcome = Outcome {
        result: Ok(()),
        sent: 0,
        received: 0,
    };
    let OpenStream {
        mut stream,
        deadline,
        bound,
    } = match client.open(head, &mut ignore).await {
        Ok(open) => open,
        Err(error) => {
            outcome.result = Err(Failure::Call(error));
            return outcome;
        }
    };
    let mut requests = requests.peekable();
    let mut next_send = tokio::time::Instant::now();
    let mut closed = false;
    let result = loop {
        tokio::select! {
            biased;
            _ = crate::client::until(deadline) => {
                stream.cancel();
                break Err(Failure::Call(bound.exceeded()));
            }
            _ = tokio::time::sleep_until(next_send), if !closed => {
                let message = requests.next().unwrap_or_default();
                closed = requests.peek().is_none();
                let sent = if closed {
                    stream.send_last(message).await
                } else {
                    stream.send(message).await
                };
                if let Err(error) = sent {
                    break Err(Failure::Call(error));
                }
                outcome.sent += 1;
                next_send = tokio::time::Instant::now() + interval;
            }
            reply = stream.receive() => match reply {
                Ok(Some(message)) => {
                    if let Err(error) = (work.check)(&message) {
                        stream.cancel();
                        break Err(Failure::Reply(error));
                    }
                    outcome.received += 1;
                }
                Ok(None) => break Ok(()),
                Err(error) => break Err(Failure::Call(error)),
            },
        }
    };
    outcome.result = result;
    outcome
}
