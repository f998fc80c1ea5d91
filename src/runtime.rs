//! Threads that each run a runtime of their own (tokio's current-thread scheduler), for
//! work that is split ahead of time: `rmicro serve` gives each connection to one of
//! them, `rmicro bench --threads N` each of its connections and the workers on it. What
//! is spawned there stays there — no task is stolen by another thread, none wakes one —
//! so a call's tasks (an HTTP/2 connection's, its streams', a proxy's upstream
//! connection) share one core's caches and no lock but what the threads share on
//! purpose. Against tokio's work-stealing runtime on 2 cores this cut the CPU of a
//! proxied gRPC call by a third (README, Performance).

use std::cell::Cell;
use tokio::runtime::Handle;
use tokio::sync::watch;

/// The cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The threads `--threads` asks for (serve's and bench's): one per core unless given.
pub fn threads(asked: Option<u64>) -> usize {
    asked.map_or_else(cores, |threads| threads as usize)
}

pub struct Lanes {
    runtimes: Vec<Handle>,
    /// Dropped with the lanes: each thread's runtime then shuts down, giving up what
    /// still runs there (blocking tasks, such as an exec handler's pipes, are not
    /// waited for).
    _stop: watch::Sender<()>,
    next: Cell<usize>,
}

impl Lanes {
    /// `count` threads (at least one), named `name-0`, `name-1`…
    pub fn start(count: usize, name: &str) -> std::io::Result<Lanes> {
        let (stop, stopped) = watch::channel(());
        let mut runtimes = Vec::with_capacity(count.max(1));
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtimes.push(runtime.handle().clone());
            let mut stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || {
                    runtime.block_on(async { while stopped.changed().await.is_ok() {} });
                    runtime.shutdown_background();
                })?;
        }
        Ok(Lanes {
            runtimes,
            _stop: stop,
            next: Cell::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.runtimes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runtimes.is_empty()
    }

    /// Lane `index` (counted round the lanes).
    pub fn lane(&self, index: usize) -> &Handle {
        &self.runtimes[index % self.runtimes.len()]
    }

    /// The lanes in turn.
    pub fn next(&self) -> &Handle {
        let index = self.next.get();
        self.next.set((index + 1) % self.runtimes.len());
        &self.runtimes[index]
    }
}
