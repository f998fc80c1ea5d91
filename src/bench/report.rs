//! A load run's report: the [`Summary`] of a [`Tally`] (its JSON is `-o json`, field
//! names stable and listed in the README), drawn as text for people — figures, a latency
//! histogram, status codes, the first error of each kind — or as CSV: one summary row,
//! or one row per call.

use super::assertion::{ms, Verdict};
use super::Tally;
use crate::status::Code;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// What the run was.
pub struct Context {
    pub endpoint: String,
    pub protocol: &'static str,
    /// The address, or `service NAME`.
    pub target: String,
    pub concurrency: usize,
    pub connections: usize,
    pub warmup_calls: u64,
}

#[derive(Serialize)]
pub struct Summary {
    pub endpoint: String,
    pub protocol: &'static str,
    pub target: String,
    pub concurrency: usize,
    pub connections: usize,
    /// Calls completed in the measured run (warm-up excluded), failed ones included.
    pub calls: u64,
    pub ok: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub duration_s: f64,
    /// Calls per second.
    pub rps: f64,
    pub latency_ms: LatencyMs,
    pub histogram: Vec<Bucket>,
    /// Calls by status code name.
    pub statuses: BTreeMap<&'static str, u64>,
    pub error_kinds: Vec<ErrorKindSummary>,
    pub messages: Messages,
    /// Calls by node address.
    pub nodes: BTreeMap<String, u64>,
    pub warmup_calls: u64,
    pub interrupted: bool,
    pub assertions: Vec<AssertionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_call: Option<Vec<CallSummary>>,
    /// For the percentiles an assertion names.
    #[serde(skip)]
    latency: hdrhistogram::Histogram<u64>,
}

#[derive(Serialize, Default)]
pub struct LatencyMs {
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
}

/// Calls whose latency was in `[from_ms, to_ms]`.
#[derive(Serialize)]
pub struct Bucket {
    pub from_ms: f64,
    pub to_ms: f64,
    pub count: u64,
}

#[derive(Serialize)]
pub struct ErrorKindSummary {
    pub kind: String,
    pub count: u64,
    pub first: String,
}

#[derive(Serialize)]
pub struct Messages {
    pub sent: u64,
    pub received: u64,
    /// Sent and received, per second.
    pub per_second: f64,
}

#[derive(Serialize)]
pub struct AssertionSummary {
    pub assertion: String,
    pub held: bool,
    pub actual: f64,
}

#[derive(Serialize)]
pub struct CallSummary {
    pub seq: u64,
    pub start_ms: f64,
    pub latency_ms: f64,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Buckets of the drawn histogram.
const BUCKETS: u64 = 10;

impl Summary {
    pub fn new(tally: &Tally, context: Context, per_call: bool) -> Summary {
        let histogram = &tally.latency;
        let at = |quantile: f64| {
            if histogram.is_empty() {
                0.0
            } else {
                round(ms(Duration::from_nanos(
                    histogram.value_at_quantile(quantile),
                )))
            }
        };
        let of = |value: f64| round(value / 1e6);
        let latency_ms = if histogram.is_empty() {
            LatencyMs::default()
        } else {
            LatencyMs {
                min: of(histogram.min() as f64),
                mean: of(histogram.mean()),
                stddev: of(histogram.stdev()),
                p50: at(0.5),
                p90: at(0.9),
                p95: at(0.95),
                p99: at(0.99),
                p99_9: at(0.999),
                max: of(histogram.max() as f64),
            }
        };
        let seconds = tally.elapsed.as_secs_f64();
        let per_second = |count: u64| {
            if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            }
        };
        Summary {
            endpoint: context.endpoint,
            protocol: context.protocol,
            target: context.target,
            concurrency: context.concurrency,
            connections: context.connections,
            calls: tally.calls,
            ok: tally.calls - tally.errors,
            errors: tally.errors,
            error_rate: if tally.calls == 0 {
                0.0
            } else {
                tally.errors as f64 / tally.calls as f64
            },
            duration_s: (seconds * 1e6).round() / 1e6,
            rps: (per_second(tally.calls) * 10.0).round() / 10.0,
            latency_ms,
            histogram: buckets(tally),
            statuses: tally
                .statuses
                .iter()
                .map(|(code, count)| (code_name(*code), *count))
                .collect(),
            error_kinds: tally
                .kinds
                .iter()
                .map(|(kind, error)| ErrorKindSummary {
                    kind: kind.clone(),
                    count: error.count,
                    first: error.first.clone(),
                })
                .collect(),
            messages: Messages {
                sent: tally.sent,
                received: tally.received,
                per_second: (per_second(tally.sent + tally.received) * 10.0).round() / 10.0,
            },
            nodes: tally.nodes.clone(),
            warmup_calls: context.warmup_calls,
            interrupted: tally.interrupted,
            assertions: Vec::new(),
            per_call: per_call.then(|| {
                tally
                    .records
                    .iter()
                    .map(|record| CallSummary {
                        seq: record.seq,
                        start_ms: round(ms(record.start)),
                        latency_ms: round(ms(record.latency)),
                        status: record.code.name(),
                        error: record.error.clone(),
                    })
                    .collect()
            }),
            latency: histogram.clone(),
        }
    }

    /// A percentile of the latency, in milliseconds.
    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        ms(Duration::from_nanos(
            self.latency.value_at_quantile(percentile / 100.0),
        ))
    }

    pub fn add_verdicts(&mut self, verdicts: &[Verdict]) {
        self.assertions = verdicts
            .iter()
            .map(|verdict| AssertionSummary {
                assertion: verdict.assertion.text.clone(),
                held: verdict.held,
                actual: verdict.actual,
            })
            .collect();
    }

    /// The report for people.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Summary:");
        let _ = writeln!(
            out,
            "  Target:       {} {} ({}), {} in flight over {} connection{}",
            self.endpoint,
            self.target,
            self.protocol,
            self.concurrency,
            self.connections,
            if self.connections == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            out,
            "  Calls:        {} ({} ok, {} errors, {}%){}",
            self.calls,
            self.ok,
            self.errors,
            percent(self.error_rate),
            if self.interrupted {
                ", interrupted"
            } else {
                ""
            }
        );
        if self.warmup_calls > 0 {
            let _ = writeln!(
                out,
                "  Warm-up:      {} calls, not counted",
                self.warmup_calls
            );
        }
        let _ = writeln!(out, "  Duration:     {:.3} s", self.duration_s);
        let _ = writeln!(out, "  Calls/s:      {:.1}", self.rps);
        if self.messages.sent + self.messages.received > self.calls * 2 {
            let _ = writeln!(
                out,
                "  Messages/s:   {:.1} ({} sent, {} received)",
                self.messages.per_second, self.messages.sent, self.messages.received
            );
        }
        let l = &self.latency_ms;
        let _ = writeln!(out, "\nLatency (every call, failed ones too):");
        let _ = writeln!(
            out,
            "  min {:.3} ms   mean {:.3} ms   stddev {:.3} ms   max {:.3} ms",
            l.min, l.mean, l.stddev, l.max
        );
        let _ = writeln!(
            out,
            "  p50 {:.3} ms   p90 {:.3} ms   p95 {:.3} ms   p99 {:.3} ms   p99.9 {:.3} ms",
            l.p50, l.p90, l.p95, l.p99, l.p99_9
        );
        if !self.histogram.is_empty() {
            let _ = writeln!(out, "\nHistogram:");
            let most = self
                .histogram
                .iter()
                .map(|b| b.count)
                .max()
                .unwrap_or(1)
                .max(1);
            let width = self
                .histogram
                .iter()
                .map(|b| b.count.to_string().len())
                .max()
                .unwrap_or(1);
            for bucket in &self.histogram {
                let bar = (bucket.count * 40).div_ceil(most) as usize;
                let _ = writeln!(
                    out,
                    "  {:>10.3} ms [{:>width$}] {}",
                    bucket.to_ms,
                    bucket.count,
                    "■".repeat(bar)
                );
            }
        }
        let _ = writeln!(out, "\nStatus codes:");
        for (name, count) in &self.statuses {
            let _ = writeln!(out, "  {name:<20} {count}");
        }
        if !self.error_kinds.is_empty() {
            let _ = writeln!(out, "\nErrors (the first of each kind):");
            for kind in &self.error_kinds {
                let _ = writeln!(out, "  {} × {}: {}", kind.count, kind.kind, kind.first);
            }
        }
        if self.nodes.len() > 1 {
            let _ = writeln!(out, "\nNodes:");
            for (node, count) in &self.nodes {
                let _ = writeln!(out, "  {node:<24} {count}");
            }
        }
        if !self.assertions.is_empty() {
            let _ = writeln!(out, "\nAssertions:");
            for assertion in &self.assertions {
                let mark = if assertion.held { "ok    " } else { "FAILED" };
                let _ = writeln!(
                    out,
                    "  {mark} {} (was {})",
                    assertion.assertion,
                    trim(assertion.actual)
                );
            }
        }
        out
    }

    /// `-o csv`: a header and one row of the summary's figures.
    pub fn csv(&self) -> String {
        let l = &self.latency_ms;
        format!(
            "calls,ok,errors,error_rate,duration_s,rps,min_ms,mean_ms,stddev_ms,p50_ms,p90_ms,p95_ms,p99_ms,p99.9_ms,max_ms,messages_sent,messages_received\n{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            self.calls, self.ok, self.errors, self.error_rate, self.duration_s, self.rps,
            l.min, l.mean, l.stddev, l.p50, l.p90, l.p95, l.p99, l.p99_9, l.max,
            self.messages.sent, self.messages.received
        )
    }

    /// `-o csv --per-call`: a header and one row per call, in call order.
    pub fn csv_per_call(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(out, "seq,start_ms,latency_ms,status,error")?;
        for call in self.per_call.iter().flatten() {
            writeln!(
                out,
                "{},{:.3},{:.3},{},{}",
                call.seq,
                call.start_ms,
                call.latency_ms,
                call.status,
                call.error.as_deref().map(csv_field).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// Ten equal buckets from the fastest call to the slowest (as hey and ghz draw them).
fn buckets(tally: &Tally) -> Vec<Bucket> {
    let histogram = &tally.latency;
    if histogram.is_empty() {
        return Vec::new();
    }
    let (low, high) = (histogram.min(), histogram.max());
    let width = ((high - low) / BUCKETS).max(1);
    let mut buckets: Vec<Bucket> = (0..BUCKETS)
        .map(|index| Bucket {
            from_ms: round((low + index * width) as f64 / 1e6),
            to_ms: round(if index + 1 == BUCKETS {
                high as f64 / 1e6
            } else {
                (low + (index + 1) * width) as f64 / 1e6
            }),
            count: 0,
        })
        .collect();
    for value in histogram.iter_recorded() {
        let at = value.value_iterated_to();
        let index = (((at.saturating_sub(low)) / width) as usize).min(buckets.len() - 1);
        buckets[index].count += value.count_at_value();
    }
    if high == low {
        buckets.truncate(1);
    }
    buckets
}

/// Milliseconds to the tenth of a microsecond (what the histogram's three figures hold).
fn round(ms: f64) -> f64 {
    (ms * 1e4).round() / 1e4
}

fn code_name(code: u8) -> &'static str {
    Code::all()
        .find(|known| *known as u8 == code)
        .map_or("UNKNOWN", Code::name)
}

fn percent(rate: f64) -> String {
    trim(rate * 100.0)
}

fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".into()
    } else {
        text.to_owned()
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
