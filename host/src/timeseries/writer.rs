//! Batched ingestion: producers hand samples to a channel; one task interns series (cached) and
//! writes points in batches, so a burst of samples costs a few transactions, not one per point.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{canonical_labels, Sample};
use crate::store::{NewSeries, Point, SeriesKey, Store};

/// Largest batch written in one transaction.
const MAX_BATCH: usize = 10_000;
/// How long samples may wait for companions before being written.
const MAX_DELAY: Duration = Duration::from_millis(200);

enum Command {
    Write(Vec<Sample>, String),
    Flush(oneshot::Sender<Flushed>),
}

/// What one flush stored, and what it could not (storage failed; the samples are dropped).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    pub written: usize,
    pub failed: usize,
}

/// Handle to the ingestion task; cheap to clone.
#[derive(Clone)]
pub struct MetricWriter {
    tx: mpsc::Sender<Command>,
}

impl MetricWriter {
    /// Starts the ingestion task on the current runtime.
    pub fn start(store: Store) -> MetricWriter {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run(store, rx));
        MetricWriter { tx }
    }

    /// Queues samples from `source` (a plugin id or `sampler`). Waits only if the queue is full,
    /// which pushes back on producers instead of growing memory without bound.
    pub async fn write(&self, samples: Vec<Sample>, source: &str) {
        if samples.is_empty() {
            return;
        }
        if self.tx.send(Command::Write(samples, source.to_string())).await.is_err() {
            tracing::error!("metric writer stopped; samples dropped");
        }
    }

    /// Waits until everything queued before this call is stored; returns what that last write
    /// held (nothing when the writer had stopped).
    pub async fn flush(&self) -> Flushed {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Flush(done)).await.is_err() {
            return Flushed::default();
        }
        wait.await.unwrap_or_default()
    }
}

enum Event {
    Command(Command),
    Due,
    Closed,
}

async fn run(store: Store, mut rx: mpsc::Receiver<Command>) {
    let mut series: HashMap<SeriesKey, i64> = HashMap::new();
    let mut pending: Vec<(Sample, String)> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<Flushed>> = Vec::new();
    // The oldest pending sample waits at most MAX_DELAY, however steadily others arrive.
    let mut deadline = tokio::time::Instant::now();
    loop {
        let event = if pending.is_empty() {
            rx.recv().await.map_or(Event::Closed, Event::Command)
        } else {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(c)) => Event::Command(c),
                Ok(None) => Event::Closed,
                Err(_) => Event::Due,
            }
        };
        let write_now = match event {
            Event::Command(Command::Write(samples, source)) => {
                if pending.is_empty() {
                    deadline = tokio::time::Instant::now() + MAX_DELAY;
                }
                pending.extend(samples.into_iter().map(|s| (s, source.clone())));
                if pending.len() < MAX_BATCH {
                    continue;
                }
                true
            }
            Event::Command(Command::Flush(done)) => {
                waiters.push(done);
                true
            }
            Event::Due => true,
            Event::Closed => {
                flush_pending(&store, &mut series, &mut pending, &mut waiters).await;
                break;
            }
        };
        if write_now {
            flush_pending(&store, &mut series, &mut pending, &mut waiters).await;
        }
    }
}

async fn flush_pending(
    store: &Store,
    series: &mut HashMap<SeriesKey, i64>,
    pending: &mut Vec<(Sample, String)>,
    waiters: &mut Vec<oneshot::Sender<Flushed>>,
) {
    let mut outcome = Flushed::default();
    if !pending.is_empty() {
        let batch = std::mem::take(pending);
        let n = batch.len();
        match write_batch(store, series, batch).await {
            Ok(()) => outcome.written = n,
            Err(e) => {
                outcome.failed = n;
                tracing::error!(error = %e, "writing metric samples failed");
                // Cached series ids may be stale (e.g. rows deleted): intern again next time.
                series.clear();
            }
        }
    }
    for w in waiters.drain(..) {
        let _ = w.send(outcome);
    }
}

async fn write_batch(
    store: &Store,
    series: &mut HashMap<SeriesKey, i64>,
    batch: Vec<(Sample, String)>,
) -> anyhow::Result<()> {
    let keyed: Vec<(SeriesKey, Sample, String)> = batch
        .into_iter()
        .map(|(mut sample, source)| {
            let key = SeriesKey {
                tenant_id: sample.tenant_id,
                resource: std::mem::take(&mut sample.resource),
                metric: std::mem::take(&mut sample.metric),
                labels: canonical_labels(&sample.labels),
            };
            (key, sample, source)
        })
        .collect();
    // Series not cached yet are found or created together (an instance's first activity cycle
    // brings dozens of them, a host's first minute thousands).
    let mut seen = HashSet::new();
    let new: Vec<NewSeries<'_>> = keyed
        .iter()
        .filter(|(key, _, _)| !series.contains_key(key) && seen.insert(key))
        .map(|(key, sample, source)| NewSeries { key, unit: sample.unit.as_deref(), source })
        .collect();
    if !new.is_empty() {
        let ids = store.series_ids(&new).await?;
        for (s, id) in new.iter().zip(ids) {
            series.insert(s.key.clone(), id);
        }
    }
    let mut points = Vec::with_capacity(keyed.len());
    for (key, sample, _) in &keyed {
        let id = series.get(key).copied().ok_or_else(|| anyhow::anyhow!("series {key:?} has no id"))?;
        points.push(Point { series_id: id, ts: sample.ts, value: sample.value });
    }
    store.insert_points(&points).await?;
    Ok(())
}
