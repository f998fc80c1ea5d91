//! Rate schedules of a load run (`--rps`, `--rps-schedule`): when the n-th call is due.
//! Workers take call numbers in order and wait for each one's instant, so the rate is
//! held without a pacing task, and a run that falls behind catches up rather than
//! drifting.

use std::time::Duration;

/// Calls per second over the run's time.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The same rate throughout.
    Const { rate: f64 },
    /// `start`, then `step` more every `every`, held once it reaches `end` (or 0).
    Step {
        start: f64,
        step: f64,
        end: Option<f64>,
        every: Duration,
    },
    /// From `start` to `end` in a straight line over `over`, then `end`.
    Ramp {
        start: f64,
        end: f64,
        over: Duration,
    },
}

impl Schedule {
    /// The rate the run starts at.
    pub fn initial(&self) -> f64 {
        match self {
            Schedule::Const { rate } => *rate,
            Schedule::Step { start, .. } | Schedule::Ramp { start, .. } => *start,
        }
    }

    /// When call `n` (from 0) is due, counted from the start of the run; `None` when it
    /// never is (the rate fell to 0 before it).
    pub fn due(&self, n: u64) -> Option<Duration> {
        let n = n as f64;
        let seconds = match self {
            Schedule::Const { rate } => (*rate > 0.0).then(|| n / rate)?,
            Schedule::Step {
                start,
                step,
                end,
                every,
            } => step_due(n, *start, *step, *end, every.as_secs_f64())?,
            Schedule::Ramp { start, end, over } => ramp_due(n, *start, *end, over.as_secs_f64())?,
        };
        Some(Duration::from_secs_f64(seconds))
    }
}

fn step_due(n: f64, start: f64, step: f64, end: Option<f64>, every: f64) -> Option<f64> {
    let mut before = 0.0;
    for segment in 0u32.. {
        let mut rate = start + step * f64::from(segment);
        let held = match end {
            Some(end) if (step >= 0.0 && rate >= end) || (step < 0.0 && rate <= end) => {
                rate = end;
                true
            }
            _ => step == 0.0 || rate <= 0.0,
        };
        let rate = rate.max(0.0);
        let from = every * f64::from(segment);
        if held {
            return (rate > 0.0).then(|| from + (n - before) / rate);
        }
        let calls = rate * every;
        if before + calls > n {
            return Some(from + (n - before) / rate);
        }
        before += calls;
    }
    None
}

/// The rate is `start + (end - start) t / over` until `over`, so the calls due by `t` are
/// `start t + (end - start) t² / 2 over`: call `n` is due at that quadratic's root.
fn ramp_due(n: f64, start: f64, end: f64, over: f64) -> Option<f64> {
    let by_end = (start + end) / 2.0 * over;
    if n >= by_end {
        return (end > 0.0).then(|| over + (n - by_end) / end);
    }
    let a = (end - start) / (2.0 * over);
    if a.abs() < 1e-12 {
        return Some(n / start);
    }
    Some((-start + (start * start + 4.0 * a * n).sqrt()) / (2.0 * a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(schedule: &Schedule, n: u64) -> f64 {
        schedule.due(n).unwrap().as_secs_f64()
    }

    #[test]
    fn constant_rate() {
        let schedule = Schedule::Const { rate: 200.0 };
        assert_eq!(seconds(&schedule, 0), 0.0);
        assert!((seconds(&schedule, 400) - 2.0).abs() < 1e-9);
        assert_eq!(Schedule::Const { rate: 0.0 }.due(1), None);
    }

    #[test]
    fn steps_add_their_rate_each_period_and_hold_at_the_end() {
        let schedule = Schedule::Step {
            start: 10.0,
            step: 10.0,
            end: Some(30.0),
            every: Duration::from_secs(1),
        };
        // 10 calls in the first second, 20 in the second, then 30 a second.
        assert!((seconds(&schedule, 10) - 1.0).abs() < 1e-9);
        assert!((seconds(&schedule, 30) - 2.0).abs() < 1e-9);
        assert!((seconds(&schedule, 90) - 4.0).abs() < 1e-9);
        let falling = Schedule::Step {
            start: 10.0,
            step: -10.0,
            end: None,
            every: Duration::from_secs(1),
        };
        assert!((seconds(&falling, 9) - 0.9).abs() < 1e-9);
        assert_eq!(falling.due(10), None);
    }

    #[test]
    fn a_ramp_is_a_straight_line_of_rate() {
        let schedule = Schedule::Ramp {
            start: 0.0,
            end: 100.0,
            over: Duration::from_secs(2),
        };
        // 100 calls by the end of the ramp (the area of its triangle), 25 by half-way.
        assert!((seconds(&schedule, 25) - 1.0).abs() < 1e-9);
        assert!((seconds(&schedule, 100) - 2.0).abs() < 1e-9);
        assert!((seconds(&schedule, 200) - 3.0).abs() < 1e-9);
        let flat = Schedule::Ramp {
            start: 50.0,
            end: 50.0,
            over: Duration::from_secs(2),
        };
        assert!((seconds(&flat, 50) - 1.0).abs() < 1e-9);
    }
}
