//! Request statistics for `Debug.Stats`: per-endpoint counts, errors and a latency
//! histogram (log-linear buckets, 4 per power of two, so percentiles are within ±12%).
//! Lock-free: every update is one atomic add per counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

const BUCKETS: usize = 4 * 40;

/// A latency histogram with its count, sum and maximum.
pub struct Latency {
    count: AtomicU64,
    errors: AtomicU64,
    total_micros: AtomicU64,
    max_micros: AtomicU64,
    histogram: Box<[AtomicU64]>,
}

/// A snapshot of a [`Latency`].
pub struct LatencyFigures {
    pub count: u64,
    pub errors: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency {
            count: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            total_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
            histogram: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Latency {
    pub fn record(&self, elapsed: Duration, ok: bool) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.total_micros.fetch_add(micros, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
        self.histogram[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The figures so far; `None` before the first observation.
    pub fn snapshot(&self) -> Option<LatencyFigures> {
        let count = self.count.load(Ordering::Relaxed);
        (count > 0).then(|| {
            let counts: Vec<u64> = self
                .histogram
                .iter()
                .map(|count| count.load(Ordering::Relaxed))
                .collect();
            let max_ms = self.max_micros.load(Ordering::Relaxed) as f64 / 1000.0;
            // A percentile is its bucket's midpoint, which can pass the largest call
            // seen: never more than the maximum.
            LatencyFigures {
                count,
                errors: self.errors.load(Ordering::Relaxed),
                mean_ms: self.total_micros.load(Ordering::Relaxed) as f64 / count as f64 / 1000.0,
                p50_ms: percentile(&counts, 0.50).min(max_ms),
                p99_ms: percentile(&counts, 0.99).min(max_ms),
                max_ms,
            }
        })
    }
}

struct EndpointStats {
    name: String,
    /// Whole calls, as the router times them.
    total: Latency,
    /// The upstream's part of the calls whose handler called another server (a proxy).
    upstream: Latency,
}

/// A snapshot of one endpoint's figures.
pub struct EndpointFigures {
    pub name: String,
    pub total: LatencyFigures,
    pub upstream: Option<LatencyFigures>,
}

pub struct Stats {
    pub started: SystemTime,
    endpoints: Vec<EndpointStats>,
}

impl Stats {
    pub fn new(names: Vec<String>) -> Stats {
        let endpoints = names
            .into_iter()
            .map(|name| EndpointStats {
                name,
                total: Latency::default(),
                upstream: Latency::default(),
            })
            .collect();
        Stats {
            started: SystemTime::now(),
            endpoints,
        }
    }

    /// One call: its time, whether it succeeded, and the time its handler spent on
    /// another server (and whether that call succeeded), if it called one.
    pub fn record(
        &self,
        index: usize,
        elapsed: Duration,
        ok: bool,
        upstream: Option<(Duration, bool)>,
    ) {
        let endpoint = &self.endpoints[index];
        endpoint.total.record(elapsed, ok);
        if let Some((elapsed, ok)) = upstream {
            endpoint.upstream.record(elapsed, ok);
        }
    }

    /// Figures for every endpoint that has been called.
    pub fn snapshot(&self) -> Vec<EndpointFigures> {
        self.endpoints
            .iter()
            .filter_map(|endpoint| {
                Some(EndpointFigures {
                    name: endpoint.name.clone(),
                    total: endpoint.total.snapshot()?,
                    upstream: endpoint.upstream.snapshot(),
                })
            })
            .collect()
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < 4 {
        return micros as usize;
    }
    let log = 63 - micros.leading_zeros() as usize;
    let sub = ((micros >> (log - 2)) & 3) as usize;
    (4 * (log - 1) + sub).min(BUCKETS - 1)
}

fn bucket_floor(index: usize) -> u64 {
    if index < 4 {
        return index as u64;
    }
    let log = index / 4 + 1;
    (4 + (index % 4) as u64) << (log - 2)
}

/// The midpoint of the bucket holding the `quantile`th observation, in milliseconds.
fn percentile(counts: &[u64], quantile: f64) -> f64 {
    let total: u64 = counts.iter().sum();
    let rank = ((total as f64 * quantile).ceil() as u64).max(1);
    let mut seen = 0;
    for (index, count) in counts.iter().enumerate() {
        seen += count;
        if seen >= rank {
            let low = bucket_floor(index) as f64;
            let high = bucket_floor(index + 1) as f64;
            return (low + high) / 2.0 / 1000.0;
        }
    }
    0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_percentile_exceeds_the_maximum() {
        let stats = Stats::new(vec!["A.B".into()]);
        for _ in 0..10 {
            stats.record(0, Duration::from_micros(42_700), true, None);
        }
        let figures = &stats.snapshot()[0].total;
        assert_eq!(figures.max_ms, 42.7);
        assert!(figures.p50_ms <= figures.max_ms, "{}", figures.p50_ms);
        assert!(figures.p99_ms <= figures.max_ms, "{}", figures.p99_ms);
    }

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        for micros in 0..100_000u64 {
            let index = bucket_of(micros);
            assert!(
                bucket_floor(index) <= micros && micros < bucket_floor(index + 1),
                "{micros} in {index}"
            );
        }
    }

    #[test]
    fn percentiles_fall_in_range() {
        let stats = Stats::new(vec!["A.B".into()]);
        for ms in 1..=100 {
            stats.record(0, Duration::from_millis(ms), ms != 100, None);
        }
        let figures = &stats.snapshot()[0];
        assert!(figures.upstream.is_none());
        let figures = &figures.total;
        assert_eq!((figures.count, figures.errors), (100, 1));
        assert!(
            (44.0..=56.0).contains(&figures.p50_ms),
            "{}",
            figures.p50_ms
        );
        assert!(
            (87.0..=113.0).contains(&figures.p99_ms),
            "{}",
            figures.p99_ms
        );
        assert_eq!(figures.max_ms, 100.0);
    }
}
