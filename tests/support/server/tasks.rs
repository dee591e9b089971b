//! Task bookkeeping shared by every support server: all tasks a server spawns (accept loop, connection
//! tasks, HTTP/2 stream tasks) go into one [`Tasks`] set, which the server handle aborts when dropped.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

/// A cloneable handle to a set of tasks that are all aborted together by [`Tasks::abort_all`].
#[derive(Clone, Default)]
pub(crate) struct Tasks(Arc<Mutex<JoinSet<()>>>);

impl Tasks {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Spawns `fut` into the set (reaping finished tasks first so the set doesn't grow without bound).
    pub(crate) fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while set.try_join_next().is_some() {}
        set.spawn(fut);
    }

    /// Aborts every task in the set; their futures (and the sockets they own) are dropped promptly.
    pub(crate) fn abort_all(&self) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.abort_all();
        // Dropping the handles is fine: the tasks are already cancelled.
        set.detach_all();
    }
}

/// A hyper executor that spawns HTTP/2 stream tasks into a [`Tasks`] set, so they die with the server
/// (with `TokioExecutor` they would be detached and a stalled stream would outlive its server).
#[derive(Clone)]
pub(crate) struct TrackedExec(pub(crate) Tasks);

impl<F> hyper::rt::Executor<F> for TrackedExec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        self.0.spawn(async move {
            fut.await;
        });
    }
}
