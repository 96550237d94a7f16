//! When to try a failed delivery again: plain functions of the failure count, so the schedule
//! is testable without a clock.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// Spread of the jitter around each wait: ±10 %, so instances that failed together do not
/// retry together.
const JITTER: f64 = 0.1;

/// A random factor in `[0, 1)` for [`exponential`] and [`scheduled`].
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match SystemRandom::new().fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

fn jittered(wait: Duration, jitter: f64) -> Duration {
    let offset = (2.0 * jitter.clamp(0.0, 1.0) - 1.0) * JITTER;
    wait.mul_f64(1.0 + offset)
}

/// When a row waiting `wait` from `now` is due again (stored to the microsecond).
pub fn due_after(now: chrono::NaiveDateTime, wait: Duration) -> chrono::NaiveDateTime {
    crate::db::truncate_to_micros(
        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)),
    )
}

/// Wait after the `failures`-th failed try (1-based) of a notification: `base · 2^(failures-1)`,
/// at most `cap`, jittered. `None` once `failures` reaches `max_tries`: dead-letter it.
pub fn exponential(
    failures: i32,
    max_tries: i32,
    base: Duration,
    cap: Duration,
    jitter: f64,
) -> Option<Duration> {
    if failures >= max_tries {
        return None;
    }
    let doublings = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let wait = base.saturating_mul(1u32 << doublings).min(cap);
    Some(jittered(wait, jitter))
}

/// Wait after the `failures`-th failed try (1-based) of an integrator webhook, from a fixed
/// schedule, jittered. `None` once the schedule is spent: dead-letter it.
pub fn scheduled(failures: i32, delays: &[Duration], jitter: f64) -> Option<Duration> {
    let index = usize::try_from(failures.checked_sub(1)?).ok()?;
    delays.get(index).map(|wait| jittered(*wait, jitter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeliveryConfig;

    const MID: f64 = 0.5;

    #[test]
    fn notification_waits_double_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(30);
        let cap = Duration::from_secs(3600);
        let waits: Vec<u64> = (1..8)
            .map(|n| exponential(n, 8, base, cap, MID).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920]);
        assert_eq!(
            exponential(7, 20, base, Duration::from_secs(600), MID),
            Some(Duration::from_secs(600)),
            "capped"
        );
        assert_eq!(
            exponential(40, 50, base, cap, MID),
            Some(cap),
            "no overflow"
        );
    }

    #[test]
    fn a_notification_is_dead_after_its_last_try() {
        let (base, cap) = (Duration::from_secs(30), Duration::from_secs(3600));
        assert!(exponential(7, 8, base, cap, MID).is_some());
        assert_eq!(exponential(8, 8, base, cap, MID), None);
        assert_eq!(exponential(1, 1, base, cap, MID), None, "a single try");
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let base = Duration::from_secs(100);
        let cap = Duration::from_secs(1000);
        assert_eq!(
            exponential(1, 8, base, cap, 0.0),
            Some(Duration::from_secs(90))
        );
        let high = exponential(1, 8, base, cap, 0.999_999).unwrap();
        assert!(high > Duration::from_secs(109) && high <= Duration::from_secs(110));
        for _ in 0..100 {
            let j = random_jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn integrator_webhooks_follow_the_schedule_then_die() {
        let delays = DeliveryConfig::default().webhook_retry_delays;
        let waits: Vec<u64> = (1..=8)
            .map(|n| scheduled(n, &delays, MID).unwrap().as_secs())
            .collect();
        assert_eq!(waits, [60, 300, 900, 1800, 3600, 7200, 10800, 14400]);
        assert_eq!(scheduled(9, &delays, MID), None, "nine tries in all");
        assert_eq!(scheduled(0, &delays, MID), None);
        // Even with the shortest jitter, the tries span more than four hours.
        let shortest: Duration = (1..=8).map(|n| scheduled(n, &delays, 0.0).unwrap()).sum();
        assert!(shortest >= Duration::from_secs(4 * 3600), "{shortest:?}");
    }
}
