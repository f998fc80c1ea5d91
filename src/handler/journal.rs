//! The request journal: every call the router answers (the Debug service's and gRPC's
//! built-in services' aside), kept in a bounded ring (`--journal-size`) — when it came,
//! the protocol, endpoint, metadata, the request and how it ended — and, with
//! `serve --journal FILE`, appended to FILE as NDJSON. `Debug.Requests` reads it
//! (filtered by endpoint and by a match object), and can clear it.

use super::matching::Matcher;
use crate::codec;
use crate::message::{Decoded, Endpoint, Metadata, Source};
use crate::status::{Code, Status};
use prost_reflect::DynamicMessage;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// `--journal-size`'s default.
pub const DEFAULT_SIZE: usize = 10_000;

/// The most request bytes (protobuf-encoded) the ring holds at once: a count alone would
/// let 10,000 requests of `--max-message-size` each hold gigabytes. Past it the oldest
/// entries go, as they do past `--journal-size`.
const MAX_BYTES: usize = 64 << 20;

/// How many non-matching calls `Debug.Requests` shows beside the matching ones.
const NEAREST: usize = 5;

pub struct Journal {
    capacity: usize,
    ring: Mutex<Ring>,
    file: Option<Mutex<std::fs::File>>,
}

#[derive(Default)]
struct Ring {
    entries: VecDeque<Arc<Entry>>,
    /// The encoded size of the requests in `entries`.
    bytes: usize,
    recorded: u64,
    dropped: u64,
}

/// A request as the journal keeps it: the bytes it came as, in their codec (a reference
/// to them, no copy; decoded only when the journal is read), or the decoded message.
#[derive(Clone, Debug)]
pub enum Kept {
    Encoded(Source),
    Message(DynamicMessage),
}

impl Kept {
    /// Its size, as the ring's byte bound counts it.
    fn size(&self) -> usize {
        match self {
            Kept::Encoded(Source::Protobuf(bytes) | Source::Json(bytes)) => bytes.len(),
            Kept::Message(message) => prost::Message::encoded_len(message),
        }
    }
}

/// One call as the journal keeps it.
pub struct Entry {
    pub seq: u64,
    pub time: SystemTime,
    pub protocol: &'static str,
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    /// The request (a stream's first message); `None` for a stream that sent none.
    request: Option<Kept>,
    pub code: Code,
    pub message: String,
    pub duration: Duration,
    /// The request's encoded size, as the ring's byte bound counts it.
    size: usize,
    /// For a proxied call: the time spent upstream.
    pub upstream: Option<Duration>,
}

/// A call as it arrives, waiting for its end to be recorded.
pub struct Arrival {
    pub time: SystemTime,
    pub protocol: &'static str,
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    pub request: Option<Kept>,
    /// A stream's first request message, once it has come.
    pub first: Option<Arc<OnceLock<DynamicMessage>>>,
}

/// Hands a streaming call's requests on to its handler through a channel of its own,
/// keeping the first for the journal. The handler sees the same requests, in order,
/// with the same backpressure (a bounded channel).
pub fn tap_first(requests: &mut mpsc::Receiver<Decoded>) -> Arc<OnceLock<DynamicMessage>> {
    let first = Arc::new(OnceLock::new());
    let (sender, tapped) = mpsc::channel(16);
    let mut original = std::mem::replace(requests, tapped);
    let kept = first.clone();
    tokio::spawn(async move {
        let mut seen = false;
        while let Some(message) = original.recv().await {
            // Not a message that holds decode budget (see `Router::call`).
            if !std::mem::replace(&mut seen, true) && !message.is_leased() {
                let _ = kept.set(DynamicMessage::clone(&message));
            }
            if sender.send(message).await.is_err() {
                break;
            }
        }
    });
    first
}

impl Journal {
    /// A journal of at most `capacity` calls (0 keeps none), also appended to `file`.
    pub fn new(capacity: usize, file: Option<&Path>) -> anyhow::Result<Journal> {
        let file = match file {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|error| {
                        anyhow::anyhow!("cannot open journal file {}: {error}", path.display())
                    })?,
            )),
            None => None,
        };
        Ok(Journal {
            capacity,
            ring: Mutex::new(Ring::default()),
            file,
        })
    }

    /// Whether calls are kept at all (a ring or a file).
    pub fn is_on(&self) -> bool {
        self.capacity > 0 || self.file.is_some()
    }

    fn ring(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a call that has ended.
    pub fn record(
        &self,
        arrival: Arrival,
        result: Result<(), &Status>,
        duration: Duration,
        upstream: Option<Duration>,
    ) {
        let (code, message) = match result {
            Ok(()) => (Code::Ok, String::new()),
            Err(status) => (status.code, status.message.clone()),
        };
        let request = arrival.request.or_else(|| {
            arrival
                .first
                .and_then(|first| first.get().cloned().map(Kept::Message))
        });
        let size = request.as_ref().map_or(0, Kept::size);
        // Made, and the entries it pushes out freed, outside the lock: serving threads
        // record their calls side by side.
        let mut entry = Arc::new(Entry {
            seq: 0,
            time: arrival.time,
            protocol: arrival.protocol,
            endpoint: arrival.endpoint,
            metadata: arrival.metadata,
            request,
            code,
            message,
            duration,
            size,
            upstream,
        });
        // One entry out for one in, once the ring is full; more when a big one came in.
        let (mut pushed_out, mut more_out) = (None, Vec::new());
        let mut ring = self.ring();
        ring.recorded += 1;
        Arc::get_mut(&mut entry)
            .expect("a new entry is not shared")
            .seq = ring.recorded;
        if self.capacity > 0 {
            ring.bytes += size;
            ring.entries.push_back(entry.clone());
            while ring.entries.len() > self.capacity
                || (ring.bytes > MAX_BYTES && ring.entries.len() > 1)
            {
                let Some(oldest) = ring.entries.pop_front() else {
                    break;
                };
                ring.bytes -= oldest.size;
                ring.dropped += 1;
                match pushed_out {
                    None => pushed_out = Some(oldest),
                    Some(_) => more_out.push(oldest),
                }
            }
        }
        drop(ring);
        drop((pushed_out, more_out));
        if let Some(file) = &self.file {
            let mut line = entry.to_json().to_string();
            line.push('\n');
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Err(error) = file.write_all(line.as_bytes()) {
                tracing::warn!("cannot append to the journal file: {error}");
            }
        }
    }

    /// The calls kept, oldest first: those of `endpoint` (all when `None`) whose request
    /// `matcher` accepts, and the latest of that endpoint it did not (or, when the
    /// endpoint had no call, the latest of any); then empties the
    /// ring when asked to. Also the count of calls pushed out of the ring so far.
    pub fn query(
        &self,
        endpoint: Option<&str>,
        matcher: Option<&Matcher>,
        clear: bool,
    ) -> (Vec<Arc<Entry>>, Vec<Arc<Entry>>, u64) {
        let mut ring = self.ring();
        let of_endpoint = ring
            .entries
            .iter()
            .filter(|entry| endpoint.is_none_or(|name| entry.endpoint.name == name));
        let (mut matching, mut nearest) = (Vec::new(), Vec::new());
        for entry in of_endpoint {
            let matches = match (matcher, entry.request()) {
                (None, _) => true,
                (Some(matcher), Some(request)) => matcher.matches(&request),
                (Some(_), None) => false,
            };
            if matches {
                matching.push(entry.clone());
            } else {
                nearest.push(entry.clone());
            }
        }
        if matching.is_empty() && nearest.is_empty() && endpoint.is_some() {
            // Nothing came for the endpoint: what did come instead.
            nearest.extend(ring.entries.iter().cloned());
        }
        let skip = nearest.len().saturating_sub(NEAREST);
        nearest.drain(..skip);
        let dropped = ring.dropped;
        if clear {
            ring.entries.clear();
            ring.bytes = 0;
        }
        (matching, nearest, dropped)
    }
}

impl Entry {
    /// The request (a stream's first message), decoded if it was kept as bytes; `None`
    /// for a stream that sent none.
    pub fn request(&self) -> Option<std::borrow::Cow<'_, DynamicMessage>> {
        match self.request.as_ref()? {
            Kept::Message(message) => Some(std::borrow::Cow::Borrowed(message)),
            // It was decoded with this descriptor when it came.
            Kept::Encoded(source) => {
                let (codec, bytes) = match source {
                    Source::Protobuf(bytes) => (codec::Codec::Protobuf, bytes),
                    Source::Json(bytes) => (codec::Codec::Json, bytes),
                };
                codec::decode(codec, &self.endpoint.method.input(), bytes)
                    .ok()
                    .map(std::borrow::Cow::Owned)
            }
        }
    }

    /// The entry as `Debug.Requests` and the journal file show it.
    pub fn to_json(&self) -> Value {
        let metadata: serde_json::Map<String, Value> = self
            .metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let request = self
            .request()
            .and_then(|request| codec::to_json_value(&request).ok())
            .unwrap_or(Value::Null);
        let mut entry = json!({
            "seq": self.seq,
            "time": humantime::format_rfc3339_millis(self.time).to_string(),
            "protocol": self.protocol,
            "endpoint": self.endpoint.name,
            "metadata": metadata,
            "request": request,
            "status": self.code.name(),
            "duration_ms": (self.duration.as_secs_f64() * 1e6).round() / 1000.0,
        });
        if !self.message.is_empty() {
            entry["message"] = self.message.clone().into();
        }
        if let Some(upstream) = self.upstream {
            entry["upstream_ms"] = ((upstream.as_secs_f64() * 1e6).round() / 1000.0).into();
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_reflect::DescriptorPool;

    fn endpoint() -> Arc<Endpoint> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("j.proto"),
            "syntax = \"proto3\"; package j; message M { bytes data = 1; } service J { rpc Put(M) returns (M); }",
        )
        .unwrap();
        let set = protox::compile(["j.proto"], [dir.path()]).unwrap();
        let pool = DescriptorPool::from_file_descriptor_set(set).unwrap();
        let method = pool
            .get_service_by_name("j.J")
            .unwrap()
            .methods()
            .next()
            .unwrap();
        Arc::new(Endpoint {
            index: 0,
            name: "J.Put".into(),
            method,
        })
    }

    fn arrival(endpoint: &Arc<Endpoint>, bytes: usize) -> Arrival {
        let mut request = DynamicMessage::new(endpoint.method.input());
        request.set_field_by_name("data", prost_reflect::Value::Bytes(vec![7u8; bytes].into()));
        Arrival {
            time: SystemTime::now(),
            protocol: "grpc",
            endpoint: endpoint.clone(),
            metadata: Metadata::default(),
            request: Some(Kept::Message(request)),
            first: None,
        }
    }

    #[test]
    fn the_ring_holds_a_bounded_number_of_calls_and_of_bytes() {
        let endpoint = endpoint();
        let journal = Journal::new(3, None).unwrap();
        for _ in 0..5 {
            journal.record(arrival(&endpoint, 10), Ok(()), Duration::ZERO, None);
        }
        let (kept, _, dropped) = journal.query(None, None, false);
        assert_eq!((kept.len(), dropped), (3, 2));
        assert_eq!(kept[0].seq, 3);

        // 4 MiB requests: a count of 10,000 alone would hold 40 GB of them.
        let journal = Journal::new(10_000, None).unwrap();
        for _ in 0..40 {
            journal.record(arrival(&endpoint, 4 << 20), Ok(()), Duration::ZERO, None);
        }
        let (kept, _, dropped) = journal.query(None, None, true);
        let held: usize = kept.iter().map(|entry| entry.size).sum();
        assert!(held <= MAX_BYTES, "{held} bytes held");
        assert_eq!(kept.len() as u64 + dropped, 40);
        assert!(kept.len() >= 10, "only {} kept", kept.len());
        // Clearing empties the byte count too: a new call is kept.
        journal.record(arrival(&endpoint, 4 << 20), Ok(()), Duration::ZERO, None);
        assert_eq!(journal.query(None, None, false).0.len(), 1);
    }
}
