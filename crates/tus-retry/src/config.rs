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
    ///
    /// An error that would not be retried anyway is [`Decision::Fatal`] whatever the budget: only an
    /// error that would be retried can exhaust it.
    pub(crate) fn decide(&self, error: &ClientError, failures: u32) -> Decision {
        let decision = self.hook.as_ref().map_or(RetryDecision::Default, |h| h(error, failures));
        let retry_after = error.retry_after();
        let exhausted = failures >= self.retry_attempts;
        let backoff = || {
            let d = self.delay(failures);
            retry_after.map_or(d, |ra| d.max(ra))
        };
        let class = match decision {
            RetryDecision::Fail => return Decision::Fatal,
            RetryDecision::Default => error.retry_class(),
            RetryDecision::Retry | RetryDecision::RetryAfter(_) => RetryClass::Transient,
        };
        if class == RetryClass::Fatal {
            return Decision::Fatal;
        }
        if exhausted {
            return Decision::Exhausted;
        }
        match (decision, class) {
            (RetryDecision::RetryAfter(d), _) => Decision::Retry(d),
            (RetryDecision::Default, RetryClass::Resync) => Decision::Retry(retry_after.unwrap_or(Duration::ZERO)),
            _ => Decision::Retry(backoff()),
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::StatusCode;
    use tus_client::{Error as ClientError, Redacted};
    use tus_proto::RequestKind;
    use url::Url;

    use super::{Decision, RetryConfiguration, RetryDecision};

    const SEC: Duration = Duration::from_secs(1);

    fn url() -> Url {
        Url::parse("http://127.0.0.1:1/files/abc?token=secret").unwrap()
    }

    fn status(code: u16) -> ClientError {
        status_after(code, None)
    }

    fn status_after(code: u16, retry_after: Option<Duration>) -> ClientError {
        ClientError::Status {
            request: RequestKind::Patch,
            url: Redacted::new(&url()),
            status: StatusCode::from_u16(code).unwrap(),
            body: String::new(),
            retry_after,
        }
    }

    fn boxed(msg: &str) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(std::io::Error::other(msg.to_owned()))
    }

    fn connect() -> ClientError {
        ClientError::Connect { url: Redacted::new(&url()), source: boxed("refused") }
    }

    fn timeout() -> ClientError {
        ClientError::Timeout { request: RequestKind::Patch, url: Redacted::new(&url()), after: SEC }
    }

    fn broken() -> ClientError {
        ClientError::Http { request: RequestKind::Patch, url: Redacted::new(&url()), source: boxed("reset") }
    }

    fn tls() -> ClientError {
        ClientError::Tls { url: Redacted::new(&url()), source: boxed("unknown issuer") }
    }

    fn protocol() -> ClientError {
        ClientError::Protocol {
            request: RequestKind::Head,
            url: Redacted::new(&url()),
            source: tus_proto::Error::MissingHeader { request: RequestKind::Head, header: "Upload-Offset", hint: "" },
        }
    }

    fn no_progress() -> ClientError {
        ClientError::Protocol {
            request: RequestKind::Patch,
            url: Redacted::new(&url()),
            source: tus_proto::Error::NoProgress { offset: 1000, sent: 1000 },
        }
    }

    /// Jitter off, 10 attempts, 1 s doubling to 60 s.
    fn plain() -> RetryConfiguration {
        RetryConfiguration::default().jitter(false)
    }

    #[test]
    fn defaults_match_aiotus() {
        let config = RetryConfiguration::default();
        assert_eq!(config.attempts(), 10);
        assert_eq!(config.initial_delay, SEC);
        assert_eq!(config.max_retry_period, Duration::from_secs(60));
        assert!(config.jitter);
        // 1 means "no retry": zero is raised to one.
        assert_eq!(RetryConfiguration::default().retry_attempts(0).attempts(), 1);
    }

    #[test]
    fn delays_without_jitter_double_up_to_the_cap() {
        let config = plain();
        let delays: Vec<u64> = (1..=12).map(|n| config.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60]);
        // aiotus's total wait before giving up after 10 attempts: about 243 s.
        let total: u64 = (1..10).map(|n| config.delay(n).as_secs()).sum();
        assert_eq!(total, 243);
        // Huge failure counts neither overflow nor exceed the cap.
        assert_eq!(config.delay(u32::MAX), Duration::from_secs(60));
        assert_eq!(config.delay(0), SEC, "failure 0 is treated as the first");
        let custom = plain().initial_delay(Duration::from_millis(250)).max_retry_period(Duration::from_secs(3));
        let delays: Vec<u128> = (1..=6).map(|n| custom.delay(n).as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 3000, 3000]);
    }

    #[test]
    fn jittered_delays_lie_in_the_upper_half_and_follow_the_seed() {
        let run = |seed: u64| -> Vec<Duration> {
            let config = RetryConfiguration::default().jitter_seed(seed);
            (1..=40).map(|n| config.delay(n)).collect()
        };
        let a = run(42);
        for (n, d) in (1..).zip(&a) {
            let full = plain().delay(n);
            assert!(*d >= full / 2 && *d <= full, "delay {n}: {d:?} outside [{:?}, {full:?}]", full / 2);
        }
        assert_eq!(a, run(42), "the same seed gives the same delays");
        assert_ne!(a, run(43), "another seed gives other delays");
        // Not degenerate: the capped delays are not all equal.
        let capped: std::collections::HashSet<_> = a[10..].iter().collect();
        assert!(capped.len() > 20, "{capped:?}");
        // Clones share the sequence (one generator per configuration), so an uploader and its clones
        // do not retry in lockstep.
        let config = RetryConfiguration::default().jitter_seed(7);
        let clone = config.clone();
        let first = config.delay(9);
        let second = clone.delay(9);
        let fresh = RetryConfiguration::default().jitter_seed(7);
        assert_eq!(fresh.delay(9), first);
        assert_eq!(fresh.delay(9), second);
        // A zero delay stays zero.
        assert_eq!(RetryConfiguration::default().jitter_seed(1).initial_delay(Duration::ZERO).delay(3), Duration::ZERO);
    }

    #[test]
    fn classification_table() {
        let config = plain();
        let cases: Vec<(&str, ClientError, Decision)> = vec![
            ("connect", connect(), Decision::Retry(SEC)),
            ("timeout", timeout(), Decision::Retry(SEC)),
            ("broken connection", broken(), Decision::Retry(SEC)),
            ("500", status(500), Decision::Retry(SEC)),
            ("502", status(502), Decision::Retry(SEC)),
            ("503", status(503), Decision::Retry(SEC)),
            ("504", status(504), Decision::Retry(SEC)),
            ("408", status(408), Decision::Retry(SEC)),
            ("423", status(423), Decision::Retry(SEC)),
            ("429", status(429), Decision::Retry(SEC)),
            // Resync: HEAD at once, no backoff.
            ("409", status(409), Decision::Retry(Duration::ZERO)),
            ("460", status(460), Decision::Retry(Duration::ZERO)),
            ("417", status(417), Decision::Retry(Duration::ZERO)),
            // Fatal: aiotus retried all of these for four minutes.
            ("400", status(400), Decision::Fatal),
            ("401", status(401), Decision::Fatal),
            ("403", status(403), Decision::Fatal),
            ("404", status(404), Decision::Fatal),
            ("405", status(405), Decision::Fatal),
            ("410", status(410), Decision::Fatal),
            ("412", status(412), Decision::Fatal),
            ("413", status(413), Decision::Fatal),
            ("415", status(415), Decision::Fatal),
            ("protocol", protocol(), Decision::Fatal),
            ("no progress", no_progress(), Decision::Retry(SEC)),
            ("tls", tls(), Decision::Fatal),
            ("source", ClientError::Source(std::io::Error::other("gone")), Decision::Fatal),
            ("usage", ClientError::Usage("bad".into()), Decision::Fatal),
        ];
        for (name, error, expected) in &cases {
            assert_eq!(config.decide(error, 1), *expected, "{name}");
        }
    }

    #[test]
    fn the_budget_counts_attempts_and_only_retryable_errors_exhaust_it() {
        let config = plain().retry_attempts(3);
        assert_eq!(config.decide(&status(503), 1), Decision::Retry(SEC));
        assert_eq!(config.decide(&status(503), 2), Decision::Retry(2 * SEC));
        assert_eq!(config.decide(&status(503), 3), Decision::Exhausted);
        assert_eq!(config.decide(&status(409), 3), Decision::Exhausted);
        // A fatal error is fatal whatever the budget (it was reported as "exhausted" before).
        assert_eq!(config.decide(&status(404), 3), Decision::Fatal);
        assert_eq!(config.decide(&tls(), 7), Decision::Fatal);
        let once = plain().retry_attempts(1);
        assert_eq!(once.decide(&status(503), 1), Decision::Exhausted);
        assert_eq!(once.decide(&status(404), 1), Decision::Fatal);
    }

    #[test]
    fn retry_after_raises_the_delay_but_never_lowers_it() {
        let config = plain();
        let ra = |s: u64| Some(Duration::from_secs(s));
        assert_eq!(config.decide(&status_after(503, ra(30)), 1), Decision::Retry(Duration::from_secs(30)));
        assert_eq!(config.decide(&status_after(429, ra(5)), 1), Decision::Retry(Duration::from_secs(5)));
        // Below the backoff: the backoff wins.
        assert_eq!(config.decide(&status_after(503, ra(1)), 4), Decision::Retry(Duration::from_secs(8)));
        assert_eq!(config.decide(&status_after(423, ra(0)), 2), Decision::Retry(2 * SEC));
        // Above the cap: the server's wish wins.
        assert_eq!(config.decide(&status_after(503, ra(120)), 9), Decision::Retry(Duration::from_secs(120)));
        // A resync waits only if the server asked.
        assert_eq!(config.decide(&status_after(409, ra(3)), 1), Decision::Retry(Duration::from_secs(3)));
        // A fatal status stays fatal even with Retry-After.
        assert_eq!(config.decide(&status_after(400, ra(3)), 1), Decision::Fatal);
        // With jitter, Retry-After is still a floor.
        let jittered = RetryConfiguration::default().jitter_seed(5);
        for n in 1..=9 {
            match jittered.decide(&status_after(503, ra(90)), n) {
                Decision::Retry(d) => assert_eq!(d, Duration::from_secs(90)),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_hook_overrides_the_class() {
        use std::sync::{Arc, Mutex};
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let config = plain().retry_attempts(3).on_error(move |e, n| {
            log.lock().unwrap().push((e.status().map(|s| s.as_u16()), n));
            match e.status().map(|s| s.as_u16()) {
                Some(401) => RetryDecision::Retry,
                Some(403) => RetryDecision::RetryAfter(Duration::from_millis(1500)),
                Some(503) => RetryDecision::Fail,
                Some(429) => RetryDecision::RetryAfter(Duration::ZERO),
                _ => RetryDecision::Default,
            }
        });
        // Retry: a fatal 401 retried with the usual backoff (and Retry-After as a floor).
        assert_eq!(config.decide(&status(401), 1), Decision::Retry(SEC));
        assert_eq!(config.decide(&status(401), 2), Decision::Retry(2 * SEC));
        assert_eq!(
            config.decide(&status_after(401, Some(Duration::from_secs(9))), 2),
            Decision::Retry(Duration::from_secs(9))
        );
        // RetryAfter: exactly that delay, whatever the backoff or Retry-After says.
        assert_eq!(config.decide(&status(403), 2), Decision::Retry(Duration::from_millis(1500)));
        assert_eq!(
            config.decide(&status_after(429, Some(Duration::from_secs(60))), 1),
            Decision::Retry(Duration::ZERO)
        );
        // Fail: a transient 503 ends at once, even on the first failure.
        assert_eq!(config.decide(&status(503), 1), Decision::Fatal);
        // Default: the class decides.
        assert_eq!(config.decide(&status(502), 1), Decision::Retry(SEC));
        assert_eq!(config.decide(&status(404), 1), Decision::Fatal);
        // The hook does not lift the budget.
        assert_eq!(config.decide(&status(401), 3), Decision::Exhausted);
        assert_eq!(config.decide(&status(403), 3), Decision::Exhausted);
        // Called exactly once per decision, with the failure number.
        let calls = seen.lock().unwrap().clone();
        assert_eq!(calls.len(), 10);
        assert_eq!(calls[0], (Some(401), 1));
        assert_eq!(calls[3], (Some(403), 2));
    }

    #[test]
    fn debug_does_not_print_the_hook() {
        let config = plain().on_error(|_, _| RetryDecision::Default);
        let text = format!("{config:?}");
        assert!(text.contains("retry_attempts: 10") && text.contains("hook: Some(\"…\")"), "{text}");
    }
}
