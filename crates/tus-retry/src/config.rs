use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tus_client::{Error as ClientError, RetryClass};

/// Waits between attempts. Inject one in tests so they never sleep for real.
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// Sleeps with tokio's timer. The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// What to do about one failure, as decided by a [`RetryConfiguration::on_error`] hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryDecision {
    /// Follow the error's [`RetryClass`] (the default for anything the hook does not decide).
    Default,
    /// Retry after the usual backoff, even if the error class says fatal (for example a 401 after the
    /// hook refreshed a token that an `on_request` hook adds).
    Retry,
    /// Retry after exactly this delay.
    RetryAfter(Duration),
    /// Give up now.
    Fail,
}

/// A per-error decision hook: the error and the number of failures so far in this budget (1 for the first).
pub type RetryHook = Arc<dyn Fn(&ClientError, u32) -> RetryDecision + Send + Sync>;

/// How failures are retried: aiotus's `RetryConfiguration`, plus jitter, a budget that resets on
/// progress, `Retry-After`, a decision hook and an injectable sleeper.
///
/// The delay before retry `n` (1-based) is `initial_delay * 2^(n-1)`, capped at `max_retry_period`;
/// with jitter, a seeded random value between half of that and all of it. A `Retry-After` from the
/// server raises the delay to what it asked. The failure count starts again from zero whenever the
/// server's offset advances, so many short outages spread over a long upload do not add up.
///
/// The defaults (10 attempts, 1 s doubling to a 60 s cap, jitter on) match aiotus and are not a
/// stability promise.
///
/// ```
/// use std::time::Duration;
/// use tus_retry::RetryConfiguration;
///
/// let config = RetryConfiguration::default().jitter(false).max_retry_period(Duration::from_secs(60));
/// let delays: Vec<u64> = (1..=9).map(|n| config.delay(n).as_secs()).collect();
/// assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
/// ```
#[derive(Clone)]
pub struct RetryConfiguration {
    pub(crate) retry_attempts: u32,
    pub(crate) initial_delay: Duration,
    pub(crate) max_retry_period: Duration,
    pub(crate) jitter: bool,
    pub(crate) seed: u64,
    pub(crate) hook: Option<RetryHook>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    rng: Arc<Mutex<u64>>,
}

impl Default for RetryConfiguration {
    fn default() -> Self {
        let seed = 0x9E37_79B9_7F4A_7C15
            ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self {
            retry_attempts: 10,
            initial_delay: Duration::from_secs(1),
            max_retry_period: Duration::from_secs(60),
            jitter: true,
            seed,
            hook: None,
            sleeper: Arc::new(TokioSleeper),
            rng: Arc::new(Mutex::new(seed)),
        }
    }
}

impl RetryConfiguration {
    /// How many attempts a failing step gets before giving up, as in aiotus: 1 means no retry. Default 10.
    #[must_use]
    pub fn retry_attempts(mut self, attempts: u32) -> Self {
        self.retry_attempts = attempts.max(1);
        self
    }

    /// The first delay. Default 1 s.
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The cap of the exponential backoff (aiotus's `max_retry_period_seconds`). Default 60 s.
    #[must_use]
    pub fn max_retry_period(mut self, cap: Duration) -> Self {
        self.max_retry_period = cap;
        self
    }

    /// Turns jitter on or off. Default on.
    #[must_use]
    pub fn jitter(mut self, on: bool) -> Self {
        self.jitter = on;
        self
    }

    /// Seeds the jitter, for reproducible delays.
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.rng = Arc::new(Mutex::new(seed));
        self
    }

    /// Decides per error, before the error class does.
    #[must_use]
    pub fn on_error(mut self, hook: impl Fn(&ClientError, u32) -> RetryDecision + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Replaces the sleeper (tests inject one that records and returns at once).
    #[must_use]
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// The number of attempts.
    pub fn attempts(&self) -> u32 {
        self.retry_attempts
    }

    /// The delay before retry `failures` (1 for the first retry), with jitter if on.
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let base = self.initial_delay.saturating_mul(1u32 << exp).min(self.max_retry_period);
        if !self.jitter {
            return base;
        }
        let r = self.next_random();
        // Equal jitter: half fixed, half random, so the delay never collapses to zero.
        let half = base / 2;
        half + Duration::from_nanos((r % (half.as_nanos().max(1) as u64 + 1)).min(half.as_nanos() as u64))
    }

    fn next_random(&self) -> u64 {
        // splitmix64: small, seedable, good enough for jitter.
        let mut state = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// What to do after failure number `failures` (1-based) of this budget. The hook is called once.
    pub(crate) fn decide(&self, error: &ClientError, failures: u32) -> Decision {
        let decision = self.hook.as_ref().map_or(RetryDecision::Default, |h| h(error, failures));
        let retry_after = error.retry_after();
        let exhausted = failures >= self.retry_attempts;
        let backoff = || {
            let d = self.delay(failures);
            retry_after.map_or(d, |ra| d.max(ra))
        };
        match decision {
            RetryDecision::Fail => Decision::Fatal,
            _ if exhausted => Decision::Exhausted,
            RetryDecision::RetryAfter(d) => Decision::Retry(d),
            RetryDecision::Retry => Decision::Retry(backoff()),
            RetryDecision::Default => match error.retry_class() {
                RetryClass::Fatal => Decision::Fatal,
                RetryClass::Resync => Decision::Retry(retry_after.unwrap_or(Duration::ZERO)),
                RetryClass::Transient => Decision::Retry(backoff()),
            },
        }
    }
}

/// The outcome of [`RetryConfiguration::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry(Duration),
    Exhausted,
    Fatal,
}

impl fmt::Debug for RetryConfiguration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfiguration")
            .field("retry_attempts", &self.retry_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_retry_period", &self.max_retry_period)
            .field("jitter", &self.jitter)
            .field("seed", &self.seed)
            .field("hook", &self.hook.as_ref().map(|_| "…"))
            .field("sleeper", &self.sleeper)
            .finish()
    }
}
