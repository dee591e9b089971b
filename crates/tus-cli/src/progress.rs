//! The progress display on stderr: a bar with bytes, rate and time left, or a spinner while the
//! total is unknown (stdin). Log lines are printed above it ([`suspend`]).

use std::io::IsTerminal as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tus_retry::Progress;

/// The bar being drawn, if any, so that log output and the panic hook can get past it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

const BAR: &str = "{spinner:.green} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} \
                   ({binary_bytes_per_sec}, {eta} left)";
const SPINNER: &str = "{spinner:.green} [{elapsed_precise}] {bytes} sent ({binary_bytes_per_sec}), length unknown";

/// What the last progress event said, for messages after the upload.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Last {
    pub(crate) confirmed: u64,
    pub(crate) total: Option<u64>,
}

/// Tracks progress events; draws them when enabled.
#[derive(Debug, Clone)]
pub(crate) struct Display {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    last: Last,
    /// `sent` when `confirmed` last changed: what was sent since is in flight.
    sent_base: u64,
    seen_any: bool,
}

impl Display {
    /// A display for an upload of `total` bytes (if known). It draws only when `enabled` and stderr is
    /// a terminal.
    pub(crate) fn new(enabled: bool, total: Option<u64>) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            // Hidden until the first progress event: see the callback.
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
            bar.set_style(style(total.is_some()));
            *ACTIVE.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
            bar
        });
        let state = State { last: Last { confirmed: 0, total }, ..State::default() };
        Self { bar, state: Arc::new(Mutex::new(state)) }
    }

    /// The callback for [`tus_retry::Uploader::on_progress`]. `in_flight` bounds the bytes sent but not
    /// confirmed yet that are drawn as done (about a chunk per part sent at once), so that the bar moves
    /// smoothly without running ahead of the server after a resend.
    pub(crate) fn callback(&self, in_flight: u64) -> impl Fn(Progress) + Send + Sync + 'static {
        let bar = self.bar.clone();
        let state = Arc::clone(&self.state);
        move |p: Progress| {
            let mut st = state.lock().unwrap_or_else(PoisonError::into_inner);
            let first = !st.seen_any;
            st.seen_any = true;
            if p.confirmed != st.last.confirmed {
                st.sent_base = p.sent;
            }
            st.last = Last { confirmed: p.confirmed, total: p.total };
            let Some(bar) = &bar else { return };
            let unconfirmed = p.sent.saturating_sub(st.sent_base).min(in_flight);
            let mut position = p.confirmed.saturating_add(unconfirmed);
            if let Some(total) = p.total {
                position = position.min(total);
                if bar.length() != Some(total) {
                    bar.set_length(total);
                    bar.set_style(style(true));
                }
            }
            bar.set_position(position);
            if first {
                // When resuming, the bytes already on the server are not part of this run's rate: a
                // tick records the jump (unseen), then the estimate starts again from there. Ticks are
                // ignored once the steady ticker runs, so it starts only now.
                bar.tick();
                bar.reset_eta();
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar.set_style(style(bar.length().is_some())); // Colours are decided for the target.
                bar.enable_steady_tick(Duration::from_millis(120));
            }
        }
    }

    /// What the last progress event said.
    pub(crate) fn last(&self) -> Last {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).last
    }

    /// Leaves the finished bar on screen.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
            end_line();
        }
        forget();
    }

    /// Leaves the bar where it stopped.
    pub(crate) fn abandon(&self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
            end_line();
        }
        forget();
    }
}

fn style(known_total: bool) -> ProgressStyle {
    let template = if known_total { BAR } else { SPINNER };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
}

/// indicatif leaves the cursor after the bar; what comes next starts on a line of its own.
fn end_line() {
    use std::io::Write as _;
    let _ = std::io::stderr().write_all(b"\n");
}

fn forget() {
    ACTIVE.lock().unwrap_or_else(PoisonError::into_inner).take();
}

/// Runs `f` with the bar (if any) hidden, so that what `f` prints is not drawn over.
pub(crate) fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let bar = ACTIVE.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match bar {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Erases the bar (for the panic hook).
pub(crate) fn clear() {
    if let Ok(mut active) = ACTIVE.try_lock() {
        if let Some(bar) = active.take() {
            bar.finish_and_clear();
        }
    }
}
