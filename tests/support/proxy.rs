//! [`FaultProxy`]: a TCP proxy on 127.0.0.1 that forwards to an upstream and injects seeded faults.
//!
//! With `FaultPlan::seeded(s).cut_every(a..b)`, every connection draws a cut point in `a..b` (bytes sent
//! by the client); once that many client bytes have been forwarded, the proxy stops forwarding in both
//! directions and applies one fault:
//! - **cut** (default): shut down the write side of both sockets (FIN) and drop them;
//! - **stall** (probability [`FaultPlan::stall_probability`]): forward nothing for
//!   [`FaultPlan::stall_for`], then cut;
//! - **reset** (probability [`FaultPlan::reset_probability`]): set `SO_LINGER` 0 on both sockets and
//!   drop them, so both peers see `ECONNRESET`.
//!
//! Connections that carry fewer client bytes than their cut point are never faulted. After
//! [`FaultPlan::max_faults`] faults, or after [`FaultProxy::set_faults_enabled`]`(false)`, everything is
//! forwarded cleanly, so an upload can always finish. The random draws happen per connection in
//! accept order (cut point, then fault kind), so a seed gives the same sequence for the same traffic.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::server::tasks::Tasks;

/// SplitMix64: a tiny, good-enough seeded PRNG.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `range` (`range.start` if the range is empty).
    pub fn in_range(&mut self, range: Range<u64>) -> u64 {
        if range.end <= range.start { range.start } else { range.start + self.next_u64() % (range.end - range.start) }
    }
}

/// What the proxy does to connections; see the module docs. The default plan forwards cleanly.
#[derive(Debug, Clone)]
pub struct FaultPlan {
    seed: u64,
    cut: Option<Range<u64>>,
    stall_probability: f64,
    stall_for: Duration,
    reset_probability: f64,
    max_faults: Option<usize>,
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::seeded(0)
    }
}

impl FaultPlan {
    /// A plan with this seed and no faults yet (add `cut_every`).
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            cut: None,
            stall_probability: 0.0,
            stall_for: Duration::from_secs(2),
            reset_probability: 0.0,
            max_faults: None,
        }
    }

    /// Forward everything cleanly.
    pub fn clean() -> Self {
        Self::seeded(0)
    }

    /// Fault each connection after a random number of client bytes in `bytes`.
    pub fn cut_every(mut self, bytes: Range<u64>) -> Self {
        self.cut = Some(bytes);
        self
    }

    /// Probability that a fault is a stall (then cut) instead of a plain cut.
    pub fn stall_probability(mut self, p: f64) -> Self {
        self.stall_probability = p;
        self
    }

    /// How long a stall forwards nothing before the cut (default 2 s).
    pub fn stall_for(mut self, d: Duration) -> Self {
        self.stall_for = d;
        self
    }

    /// Probability that a fault is a reset (RST) instead of a plain cut.
    pub fn reset_probability(mut self, p: f64) -> Self {
        self.reset_probability = p;
        self
    }

    /// Inject at most `n` faults in total, then forward cleanly.
    pub fn max_faults(mut self, n: usize) -> Self {
        self.max_faults = Some(n);
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cut,
    Stall,
    Reset,
}

struct Shared {
    plan: FaultPlan,
    upstream: SocketAddr,
    rng: Mutex<SplitMix64>,
    enabled: AtomicBool,
    connections: AtomicUsize,
    faults: AtomicUsize,
    cuts: AtomicUsize,
    stalls: AtomicUsize,
    resets: AtomicUsize,
    client_bytes: AtomicU64,
    upstream_failures: AtomicUsize,
}

impl Shared {
    /// Claims one fault if the budget allows.
    fn claim_fault(&self) -> bool {
        if !self.enabled.load(Ordering::SeqCst) {
            return false;
        }
        let max = self.plan.max_faults.unwrap_or(usize::MAX);
        self.faults.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1)).is_ok()
    }
}

/// A running proxy; dropping it closes the listener and every proxied connection.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Tasks,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.shared.upstream)
            .field("plan", &self.shared.plan)
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

impl FaultProxy {
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            rng: Mutex::new(SplitMix64::new(plan.seed)),
            plan,
            upstream,
            enabled: AtomicBool::new(true),
            connections: AtomicUsize::new(0),
            faults: AtomicUsize::new(0),
            cuts: AtomicUsize::new(0),
            stalls: AtomicUsize::new(0),
            resets: AtomicUsize::new(0),
            client_bytes: AtomicU64::new(0),
            upstream_failures: AtomicUsize::new(0),
        });
        let tasks = Tasks::new();
        let (shared2, tasks2) = (shared.clone(), tasks.clone());
        tasks.spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                };
                shared2.connections.fetch_add(1, Ordering::SeqCst);
                // Draw in accept order so a seed is reproducible.
                let (cut_at, roll) = {
                    let mut rng = shared2.rng.lock().unwrap_or_else(|e| e.into_inner());
                    let cut_at = shared2.plan.cut.clone().map(|r| rng.in_range(r));
                    (cut_at, rng.next_f64())
                };
                let p = &shared2.plan;
                let kind = if roll < p.stall_probability {
                    Kind::Stall
                } else if roll < p.stall_probability + p.reset_probability {
                    Kind::Reset
                } else {
                    Kind::Cut
                };
                tasks2.spawn(proxy_conn(client, shared2.clone(), cut_at, kind));
            }
        });
        Self { addr, shared, tasks }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).expect("valid url")
    }

    /// Faults injected so far (cuts + stalls + resets).
    pub fn faults_injected(&self) -> usize {
        self.shared.faults.load(Ordering::SeqCst)
    }

    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    pub fn cuts(&self) -> usize {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    pub fn stalls(&self) -> usize {
        self.shared.stalls.load(Ordering::SeqCst)
    }

    pub fn resets(&self) -> usize {
        self.shared.resets.load(Ordering::SeqCst)
    }

    /// Client bytes forwarded upstream so far.
    pub fn client_bytes(&self) -> u64 {
        self.shared.client_bytes.load(Ordering::SeqCst)
    }

    /// Connections closed because the upstream refused them.
    pub fn upstream_failures(&self) -> usize {
        self.shared.upstream_failures.load(Ordering::SeqCst)
    }

    /// Turns fault injection on or off (on by default); connections faulted already stay faulted.
    pub fn set_faults_enabled(&self, enabled: bool) {
        self.shared.enabled.store(enabled, Ordering::SeqCst);
    }
}

enum PumpEnd {
    /// The client closed its side (already propagated upstream).
    Eof,
    Error,
    /// The cut point was reached and a fault claimed.
    Fault,
}

async fn proxy_conn(mut client: TcpStream, shared: Arc<Shared>, cut_at: Option<u64>, kind: Kind) {
    let _ = client.set_nodelay(true);
    let Ok(Ok(mut upstream)) = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(shared.upstream)).await
    else {
        shared.upstream_failures.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let _ = upstream.set_nodelay(true);

    let faulted = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let c2s = pump_c2s(&mut cr, &mut uw, cut_at, &shared);
        let s2c = tokio::io::copy(&mut ur, &mut cw);
        tokio::pin!(c2s, s2c);
        tokio::select! {
            end = &mut c2s => match end {
                PumpEnd::Fault => true,
                PumpEnd::Error => false,
                PumpEnd::Eof => {
                    // Half-closed by the client: let the response finish.
                    let _ = (&mut s2c).await;
                    false
                }
            },
            _ = &mut s2c => false,
        }
    };
    if !faulted {
        let _ = client.shutdown().await;
        let _ = upstream.shutdown().await;
        return;
    }
    match kind {
        Kind::Reset => {
            shared.resets.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_zero_linger();
            let _ = upstream.set_zero_linger();
            drop((client, upstream));
        }
        Kind::Stall | Kind::Cut => {
            if kind == Kind::Stall {
                shared.stalls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(shared.plan.stall_for).await;
            } else {
                shared.cuts.fetch_add(1, Ordering::SeqCst);
            }
            let _ = client.shutdown().await;
            let _ = upstream.shutdown().await;
        }
    }
}

/// Forwards client bytes upstream until EOF, an error, or the cut point (if a fault can be claimed
/// there; otherwise it keeps forwarding cleanly).
async fn pump_c2s(
    from: &mut tokio::net::tcp::ReadHalf<'_>,
    to: &mut tokio::net::tcp::WriteHalf<'_>,
    mut cut_at: Option<u64>,
    shared: &Shared,
) -> PumpEnd {
    let mut buf = vec![0u8; 16 * 1024];
    let mut sent = 0u64;
    loop {
        if cut_at.is_some_and(|c| sent >= c) {
            if shared.claim_fault() {
                return PumpEnd::Fault;
            }
            cut_at = None;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) => {
                let _ = to.shutdown().await;
                return PumpEnd::Eof;
            }
            Ok(n) => n,
            Err(_) => return PumpEnd::Error,
        };
        let allowed = cut_at.map_or(n, |c| n.min((c - sent) as usize));
        if to.write_all(&buf[..allowed]).await.is_err() {
            return PumpEnd::Error;
        }
        sent += allowed as u64;
        shared.client_bytes.fetch_add(allowed as u64, Ordering::SeqCst);
        if allowed < n {
            // The rest of this read is past the cut point.
            if shared.claim_fault() {
                return PumpEnd::Fault;
            }
            cut_at = None;
            if to.write_all(&buf[allowed..n]).await.is_err() {
                return PumpEnd::Error;
            }
            sent += (n - allowed) as u64;
            shared.client_bytes.fetch_add((n - allowed) as u64, Ordering::SeqCst);
        }
    }
}
