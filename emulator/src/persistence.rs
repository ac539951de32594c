//! The optional state file: loaded at start, written (debounced) after changes and at shutdown,
//! so that a demo's cloud survives a restart of the emulator.
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use crate::config::EmulatorConfig;
use crate::server::{Shared, lock};
use crate::state::CloudState;
use crate::util::now_ms;

/// Changes within this window are written together.
const DEBOUNCE: Duration = Duration::from_millis(100);

pub struct Persister {
    path: PathBuf,
    dirty: Arc<Notify>,
    /// One writer at a time: the debounced saver and `save_now` share the temporary file.
    writing: Mutex<()>,
}

impl Persister {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            dirty: Arc::new(Notify::new()),
            writing: Mutex::new(()),
        }
    }

    /// The saved state, or the seeded one when there is no file yet. Regions added to the config
    /// since the file was written are seeded.
    pub fn load(&self, config: &EmulatorConfig) -> anyhow::Result<CloudState> {
        let seeded = CloudState::seed(config, now_ms());
        if !self.path.exists() {
            return Ok(seeded);
        }
        let text = std::fs::read_to_string(&self.path)
            .with_context(|| format!("reading state file {}", self.path.display()))?;
        let mut state: CloudState = serde_json::from_str(&text)
            .with_context(|| format!("parsing state file {}", self.path.display()))?;
        for (name, region) in seeded.regions {
            state.regions.entry(name).or_insert(region);
        }
        tracing::info!(path = %self.path.display(), "loaded emulator state");
        Ok(state)
    }

    pub fn mark_dirty(&self) {
        self.dirty.notify_one();
    }

    /// Writes the state shortly after each change, until the emulator is gone.
    pub fn spawn_saver(&self, shared: Weak<Shared>) {
        let dirty = self.dirty.clone();
        tokio::spawn(async move {
            loop {
                dirty.notified().await;
                tokio::time::sleep(DEBOUNCE).await;
                let Some(shared) = shared.upgrade() else {
                    break;
                };
                if let Some(p) = &shared.persister
                    && let Err(e) = p.save_now(&shared)
                {
                    tracing::error!(error = %e, "saving the emulator state");
                }
            }
        });
    }

    /// Writes the state now, atomically (temporary file, then rename).
    pub fn save_now(&self, shared: &Shared) -> anyhow::Result<()> {
        let _writing = lock(&self.writing);
        let json = serde_json::to_vec_pretty(&*lock(&shared.state))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, json).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), self.path.display()))?;
        Ok(())
    }
}
