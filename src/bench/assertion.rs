//! `--assert EXPR` thresholds: `METRIC OP VALUE`, e.g. `p99<20ms`, `mean<5ms`,
//! `rps>=1000`, `errors=0`, `error_rate<0.1%`. Parsed before the run (a bad one is a
//! usage error), checked against its report after.

use super::report::Summary;
use std::fmt;
use std::time::Duration;

/// What an assertion measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// A latency figure: min, mean, stddev, max, or a percentile (p50, p99.9…).
    Latency(Latency),
    /// Calls completed per second.
    Rps,
    /// Stream messages (sent and received) per second.
    MessagesPerSecond,
    Calls,
    Ok,
    Errors,
    /// Errors over calls, 0 to 1.
    ErrorRate,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    Min,
    Mean,
    Stddev,
    Max,
    /// A percentile, 0 to 100.
    Percentile(f64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

impl Op {
    fn holds(self, actual: f64, wanted: f64) -> bool {
        match self {
            Op::Less => actual < wanted,
            Op::LessOrEqual => actual <= wanted,
            Op::Greater => actual > wanted,
            Op::GreaterOrEqual => actual >= wanted,
            Op::Equal => actual == wanted,
            Op::NotEqual => actual != wanted,
        }
    }
}

/// One threshold, as written and as parsed. Latency values are in milliseconds, rates
/// as fractions.
#[derive(Clone, Debug, PartialEq)]
pub struct Assertion {
    pub text: String,
    pub metric: Metric,
    pub op: Op,
    pub value: f64,
}

/// An assertion checked against a run.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub assertion: Assertion,
    /// The measured value, in the assertion's unit (ms for latency, a fraction for rates).
    pub actual: f64,
    pub held: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actual = match self.assertion.metric {
            Metric::Latency(_) => format!("{:.3}ms", self.actual),
            Metric::ErrorRate => format!("{}%", trim(self.actual * 100.0)),
            Metric::Rps | Metric::MessagesPerSecond => format!("{:.1}", self.actual),
            _ => format!("{}", self.actual),
        };
        write!(formatter, "{} (was {actual})", self.assertion.text)
    }
}

fn trim(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

impl Assertion {
    pub fn parse(text: &str) -> Result<Assertion, String> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let at = compact.find(['<', '>', '=', '!']).ok_or_else(|| {
            format!("--assert {text:?}: no comparison; write e.g. p99<20ms, rps>=1000, errors=0")
        })?;
        let (name, rest) = compact.split_at(at);
        let (op, value) = [
            ("<=", Op::LessOrEqual),
            (">=", Op::GreaterOrEqual),
            ("==", Op::Equal),
            ("!=", Op::NotEqual),
            ("<", Op::Less),
            (">", Op::Greater),
            ("=", Op::Equal),
        ]
        .into_iter()
        .find_map(|(symbol, op)| rest.strip_prefix(symbol).map(|value| (op, value)))
        .filter(|(_, value)| !value.starts_with(['<', '>', '=', '!']))
        .ok_or_else(|| format!("--assert {text:?}: use one of < <= > >= = !="))?;
        let metric = metric(name).ok_or_else(|| {
            format!("--assert {text:?}: unknown metric {name:?}; use min, mean, stddev, max, p50, p90, p95, p99, p99.9 (any pN), rps, mps, calls, ok, errors or error_rate")
        })?;
        let value = match metric {
            Metric::Latency(_) => milliseconds(value).ok_or_else(|| {
                format!("--assert {text:?}: {value:?} is not a duration like 20ms, 500us or 1s")
            })?,
            Metric::ErrorRate => fraction(value).ok_or_else(|| {
                format!("--assert {text:?}: {value:?} is not a rate like 0.1% or 0.001")
            })?,
            _ => value
                .parse::<f64>()
                .ok()
                .filter(|value| value.is_finite() && *value >= 0.0)
                .ok_or_else(|| format!("--assert {text:?}: {value:?} is not a number"))?,
        };
        Ok(Assertion {
            text: compact,
            metric,
            op,
            value,
        })
    }

    pub fn check(&self, summary: &Summary) -> Verdict {
        let latency = &summary.latency_ms;
        let actual = match self.metric {
            Metric::Latency(Latency::Min) => latency.min,
            Metric::Latency(Latency::Mean) => latency.mean,
            Metric::Latency(Latency::Stddev) => latency.stddev,
            Metric::Latency(Latency::Max) => latency.max,
            Metric::Latency(Latency::Percentile(percentile)) => summary.percentile_ms(percentile),
            Metric::Rps => summary.rps,
            Metric::MessagesPerSecond => summary.messages.per_second,
            Metric::Calls => summary.calls as f64,
            Metric::Ok => summary.ok as f64,
            Metric::Errors => summary.errors as f64,
            Metric::ErrorRate => summary.error_rate,
        };
        Verdict {
            assertion: self.clone(),
            actual,
            held: self.op.holds(actual, self.value),
        }
    }
}

fn metric(name: &str) -> Option<Metric> {
    Some(match name.to_ascii_lowercase().as_str() {
        "min" => Metric::Latency(Latency::Min),
        "mean" | "avg" => Metric::Latency(Latency::Mean),
        "stddev" => Metric::Latency(Latency::Stddev),
        "max" => Metric::Latency(Latency::Max),
        "rps" => Metric::Rps,
        "mps" => Metric::MessagesPerSecond,
        "calls" | "count" => Metric::Calls,
        "ok" => Metric::Ok,
        "errors" => Metric::Errors,
        "error_rate" => Metric::ErrorRate,
        other => {
            let percentile: f64 = other.strip_prefix('p')?.replace('_', ".").parse().ok()?;
            if !(0.0..=100.0).contains(&percentile) {
                return None;
            }
            Metric::Latency(Latency::Percentile(percentile))
        }
    })
}

fn milliseconds(text: &str) -> Option<f64> {
    let text = text.replace('µ', "u");
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    let scale = match unit {
        "ns" => 1e-6,
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" | "min" => 60e3,
        "h" => 3600e3,
        _ => return None,
    };
    Some(number * scale)
}

fn fraction(text: &str) -> Option<f64> {
    let value = match text.strip_suffix('%') {
        Some(percent) => percent.parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&value).then_some(value)
}

/// A duration in milliseconds, for reports.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses() {
        let parse = |text| Assertion::parse(text).unwrap();
        let p99 = parse("p99<20ms");
        assert_eq!(
            (p99.metric, p99.op, p99.value),
            (Metric::Latency(Latency::Percentile(99.0)), Op::Less, 20.0)
        );
        assert_eq!(parse("mean < 500us").value, 0.5);
        assert_eq!(
            parse("p99.9<=1s").metric,
            Metric::Latency(Latency::Percentile(99.9))
        );
        let rps = parse("rps>=1000");
        assert_eq!(
            (rps.metric, rps.op, rps.value),
            (Metric::Rps, Op::GreaterOrEqual, 1000.0)
        );
        assert_eq!(parse("errors=0").op, Op::Equal);
        assert_eq!(parse("errors==0").op, Op::Equal);
        assert!((parse("error_rate<0.1%").value - 0.001).abs() < 1e-12);
        assert_eq!(parse("error_rate<0.5").value, 0.5);
        assert_eq!(parse("calls!=0").op, Op::NotEqual);
    }

    #[test]
    fn bad_forms_say_what_to_write() {
        for (text, said) in [
            ("p99", "no comparison"),
            ("p99<20", "not a duration"),
            ("latency<2ms", "unknown metric"),
            ("p101<2ms", "unknown metric"),
            ("rps>lots", "not a number"),
            ("error_rate<150%", "not a rate"),
            ("p99=>2ms", "use one of"),
        ] {
            let error = Assertion::parse(text).unwrap_err();
            assert!(error.contains(said), "{text}: {error}");
        }
    }
}
