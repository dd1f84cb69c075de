//! Recall by meaning in the agent: the vault's model loaded (once, kept
//! across locks: weights are not secret) and attached to each unlocked
//! session, and the background worker that embeds what has no vector.
//!
//! # Invariants
//! - One worker per attached model: it ends when the session goes (lock,
//!   stop) or another model is attached.
//! - A model that fails to load never fails an unlock: searches are
//!   lexical and `status` says why.

use std::sync::Arc;

use vault_core::vault::EMBED_BATCH;

use crate::agent::{Agent, lock};
use crate::models::{self, Model};
use crate::protocol::ModelStatus;
use crate::session::Session;

impl Agent {
    /// Attach the vault's model (per its `model` file) to `session`, loading
    /// it unless it is loaded already; detach when the vault names none.
    pub(crate) async fn use_model(&self, session: &Arc<Session>) {
        let name = match models::active_name(&self.dir) {
            Ok(n) => n,
            Err(e) => {
                self.model_failed(e.to_string());
                return;
            }
        };
        let Some(name) = name else {
            *lock(&self.model_error) = None;
            session.vault.detach_model().await;
            return;
        };
        let cached = lock(&self.model).clone().filter(|m| m.info().name == name);
        let model = match cached {
            Some(m) => m,
            None => {
                let n = name.clone();
                match tokio::task::spawn_blocking(move || models::load(&n)).await {
                    Ok(Ok(m)) => {
                        let m = Arc::new(m);
                        *lock(&self.model) = Some(m.clone());
                        m
                    }
                    Ok(Err(e)) => return self.model_failed(e.to_string()),
                    Err(_) => return self.model_failed("the model loader failed".into()),
                }
            }
        };
        if session
            .vault
            .model()
            .is_some_and(|(id, _)| id == model.info().id)
        {
            return;
        }
        if let Err(e) = session.vault.attach_model(model.clone()).await {
            return self.model_failed(format!("loading the vectors of {name} failed: {e}"));
        }
        *lock(&self.model_error) = None;
        tracing::info!(model = %model.info().id, "recall by meaning on");
        start_worker(session);
    }

    fn model_failed(&self, why: String) {
        tracing::warn!(error = %why, "recall by meaning is off");
        *lock(&self.model_error) = Some(why);
    }

    /// The model part of `status`.
    pub(crate) async fn model_status(&self, session: Option<&Arc<Session>>) -> Option<ModelStatus> {
        let error = lock(&self.model_error).clone();
        let active = models::active_name(&self.dir).ok().flatten();
        let model: Option<Arc<Model>> = lock(&self.model).clone();
        let info = model
            .as_ref()
            .map(|m| m.info().clone())
            .filter(|i| Some(&i.name) == active.as_ref());
        let progress = match session {
            Some(s) => s.vault.embedding_progress().await,
            None => None,
        };
        if active.is_none() && error.is_none() {
            return None;
        }
        Some(ModelStatus {
            name: active.unwrap_or_default(),
            id: info.as_ref().map(|i| i.id.clone()),
            dim: info.as_ref().map(|i| i.dim),
            embedded: progress.map(|p| p.done),
            items: progress.map(|p| p.total),
            failed: progress.map_or(0, |p| p.failed),
            error,
        })
    }
}

/// Embed, in the background, every item of `session` that has no vector
/// of its model, as long as the session and the model last.
fn start_worker(session: &Arc<Session>) {
    let Some(wanted) = session.vault.embedding_wanted() else {
        return;
    };
    let weak = Arc::downgrade(session);
    tokio::spawn(async move {
        loop {
            wanted.notified().await;
            loop {
                let Some(s) = weak.upgrade() else { return };
                // Another model took over: its own worker goes on.
                if !s
                    .vault
                    .embedding_wanted()
                    .is_some_and(|w| Arc::ptr_eq(&w, &wanted))
                {
                    return;
                }
                match s.vault.embed_pending(EMBED_BATCH).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "background embedding stopped; it resumes on the next change or unlock");
                        break;
                    }
                }
            }
        }
    });
}
