//! The request journal: every call the router answers (the Debug service's and gRPC's
//! built-in services' aside), kept in a bounded ring (`--journal-size`) — when it came,
//! the protocol, endpoint, metadata, the request and how it ended — and, with
//! `serve --journal FILE`, appended to FILE as NDJSON. `Debug.Requests` reads it
//! (filtered by endpoint and by a match object), and can clear it.

use super::matching::Matcher;
use crate::codec;
use crate::message::{Decoded, Endpoint, Metadata};
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
    recorded: u64,
    dropped: u64,
}

/// One call as the journal keeps it.
pub struct Entry {
    pub seq: u64,
    pub time: SystemTime,
    pub protocol: &'static str,
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    /// The request (a stream's first message); `None` for a stream that sent none.
    pub request: Option<DynamicMessage>,
    pub code: Code,
    pub message: String,
    pub duration: Duration,
}

/// A call as it arrives, waiting for its end to be recorded.
pub struct Arrival {
    pub time: SystemTime,
    pub protocol: &'static str,
    pub endpoint: Arc<Endpoint>,
    pub metadata: Metadata,
    pub request: Option<DynamicMessage>,
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
    pub fn record(&self, arrival: Arrival, result: Result<(), &Status>, duration: Duration) {
        let (code, message) = match result {
            Ok(()) => (Code::Ok, String::new()),
            Err(status) => (status.code, status.message.clone()),
        };
        let mut ring = self.ring();
        ring.recorded += 1;
        let entry = Arc::new(Entry {
            seq: ring.recorded,
            time: arrival.time,
            protocol: arrival.protocol,
            endpoint: arrival.endpoint,
            metadata: arrival.metadata,
            request: arrival
                .request
                .or_else(|| arrival.first.and_then(|first| first.get().cloned())),
            code,
            message,
            duration,
        });
        if self.capacity > 0 {
            if ring.entries.len() == self.capacity {
                ring.entries.pop_front();
                ring.dropped += 1;
            }
            ring.entries.push_back(entry.clone());
        }
        drop(ring);
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
            let matches = match (matcher, &entry.request) {
                (None, _) => true,
                (Some(matcher), Some(request)) => matcher.matches(request),
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
        }
        (matching, nearest, dropped)
    }
}

impl Entry {
    /// The entry as `Debug.Requests` and the journal file show it.
    pub fn to_json(&self) -> Value {
        let metadata: serde_json::Map<String, Value> = self
            .metadata
            .iter()
            .map(|(name, value)| (name.to_owned(), value.into()))
            .collect();
        let request = self
            .request
            .as_ref()
            .and_then(|request| codec::to_json_value(request).ok())
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
        entry
    }
}
