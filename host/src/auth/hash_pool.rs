//! The threads argon2 runs on. Not tokio's blocking pool: each thread that hashes keeps an
//! argon2 working area of ~19 MiB (`password.rs`), so checks spread over the blocking pool's (up
//! to 512) threads could hold gigabytes. A fixed set of threads, as many as checks may run at
//! once, bounds it to threads × 19 MiB.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads running closures; cheap to clone.
#[derive(Clone)]
pub struct HashPool {
    jobs: SyncSender<Job>,
}

/// The pool's threads are gone (they only stop when it is dropped).
#[derive(Debug, thiserror::Error)]
#[error("the password hashing threads are gone")]
pub struct PoolGone;

impl HashPool {
    /// Starts `threads` threads. Callers bound the jobs in flight (the sign-in semaphore has as
    /// many permits as threads), so the queue never fills.
    pub fn new(threads: usize) -> HashPool {
        let threads = threads.max(1);
        let (jobs, queue) = sync_channel::<Job>(threads * 4);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new().name(format!("vigia-argon2-{i}")).spawn(move || work(&queue));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        HashPool { jobs }
    }

    /// Runs `f` on one of the pool's threads and waits for its result.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, PoolGone> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.try_send(job).map_err(|_| PoolGone)?;
        result.await.map_err(|_| PoolGone)
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_pools_named_threads() {
        let pool = HashPool::new(2);
        let name = pool.run(|| std::thread::current().name().map(str::to_string)).await.unwrap();
        assert!(name.unwrap().starts_with("vigia-argon2-"));
        let sums = futures::future::join_all((0..8u64).map(|i| pool.run(move || i * 2))).await;
        assert_eq!(sums.into_iter().map(Result::unwrap).sum::<u64>(), 56);
    }
}
