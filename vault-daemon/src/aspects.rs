//! Aspects (named views that narrow what clients see, one of them in
//! force at a time) and retention (how long items are kept, and the sweep
//! that removes what ran out). Each change is one transaction with its
//! audit entry and applies to the very next request.

use chrono::{DateTime, Utc};
use policies::retention;
use uuid::Uuid;
use vault_core::records::{
    AspectRecord, AspectUseRecord, PolicyRecord, RetentionOn, RetentionRecord,
};
use vault_core::vault::RecordChange;

use crate::clock;
use crate::policy;
use crate::protocol::*;
use crate::session::Session;

fn invalid(m: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::Invalid, m)
}

/// The error for an aspect name that is not defined.
fn no_aspect(name: &str) -> ApiError {
    invalid(format!(
        "no aspect {name:?}; see `ctxvault aspect ls`, or define it with `ctxvault aspect add {name} --scope SCOPE`"
    ))
}

/// The longest retention: a thousand years.
const MAX_KEEP_SECS: i64 = 1000 * 366 * 24 * 3600;

/// Refuse a retention shorter than a minute or past a thousand years.
pub(crate) fn check_keep(secs: i64) -> Result<(), ApiError> {
    if secs < retention::MIN_RETENTION.num_seconds() {
        return Err(invalid(format!(
            "a retention of {secs} s is shorter than a minute; give at least 1m, such as 30d or 1y"
        )));
    }
    if secs > MAX_KEEP_SECS {
        return Err(invalid(format!(
            "a retention of {secs} s is longer than 1000 years; give a shorter one, such as 10y, or none"
        )));
    }
    Ok(())
}

/// Refuse an item expiry in the past or less than a minute away.
pub(crate) fn check_expiry(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), ApiError> {
    if at < now + retention::MIN_RETENTION {
        return Err(invalid(format!(
            "expiry {} is in the past or less than a minute away; give a duration of at least 1m, such as 30d, or a later time",
            at.to_rfc3339()
        )));
    }
    Ok(())
}

/// The record of an item's own expiry.
pub(crate) fn item_retention(item: Uuid, expires: DateTime<Utc>) -> PolicyRecord {
    PolicyRecord::Retention(RetentionRecord {
        id: Uuid::now_v7(),
        on: RetentionOn::Item { item, expires },
        created_at: Utc::now(),
    })
}

impl Session {
    pub(crate) async fn aspect_add(&self, r: AspectAdd) -> Result<(), ApiError> {
        if !policy::is_lowercase_word(&r.name) {
            return Err(invalid(format!(
                "invalid aspect name {:?}; use a lowercase word of a-z 0-9 - _ such as interview",
                r.name
            )));
        }
        if r.scopes.is_empty() {
            return Err(invalid(format!(
                "aspect {} names no scope; give at least one, such as --scope 'work/**'",
                r.name
            )));
        }
        let mut st = self.policy.write().await;
        let old = st.aspects.iter().find(|a| a.name == r.name);
        if old.is_some() && !r.replace {
            return Err(invalid(format!(
                "aspect {:?} already exists; pass --replace to redefine it, or choose another name",
                r.name
            )));
        }
        let rec = AspectRecord {
            id: old.map_or_else(Uuid::now_v7, |a| a.id),
            name: r.name,
            scopes: r.scopes,
            max_sensitivity: r.max_sensitivity,
            created_at: Utc::now(),
        };
        let entry = policy::user_entry(
            "aspect-add",
            vec![rec.id],
            format!("aspect {}", rec.aspect().words()),
        );
        self.commit_policy(&mut st, vec![PolicyRecord::Aspect(rec)], vec![], entry)
            .await
    }

    pub(crate) async fn aspect_remove(&self, r: AspectRemove) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let id = st
            .aspects
            .iter()
            .find(|a| a.name == r.name)
            .ok_or_else(|| no_aspect(&r.name))?
            .id;
        let mut delete = vec![id];
        delete.extend(
            st.aspect_use
                .iter()
                .filter(|u| u.aspect == r.name)
                .map(|u| u.id),
        );
        let entry = policy::user_entry("aspect-rm", vec![id], format!("aspect {}", r.name));
        self.commit_policy(&mut st, vec![], delete, entry).await
    }

    pub(crate) async fn aspect_use(&self, r: AspectUse) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let a = st
            .aspects
            .iter()
            .find(|a| a.name == r.name)
            .ok_or_else(|| no_aspect(&r.name))?
            .aspect();
        for c in &r.clients {
            st.client(c)?;
        }
        let now = clock::now();
        if let Some(u) = r.until.filter(|u| *u <= now) {
            return Err(invalid(format!(
                "{} is in the past; give a duration such as 2h, or a later time",
                u.to_rfc3339()
            )));
        }
        let rec = AspectUseRecord {
            id: Uuid::now_v7(),
            aspect: r.name,
            clients: r.clients,
            until: r.until,
            created_at: now,
        };
        let words = format!(
            "aspect {} for {}{}",
            a.words(),
            if rec.clients.is_empty() {
                "every client".to_owned()
            } else {
                rec.clients.join(", ")
            },
            rec.until
                .map(|u| format!(" until {}", u.to_rfc3339()))
                .unwrap_or_default()
        );
        let delete = st.aspect_use.iter().map(|u| u.id).collect();
        let entry = policy::user_entry("aspect-use", vec![rec.id], words);
        self.commit_policy(&mut st, vec![PolicyRecord::AspectUse(rec)], delete, entry)
            .await
    }

    pub(crate) async fn aspect_off(&self) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let now = clock::now();
        let live: Vec<&AspectUseRecord> = st
            .aspect_use
            .iter()
            .filter(|u| u.until.is_none_or(|t| now < t))
            .collect();
        let Some(on) = live.first() else {
            return Err(invalid(
                "no aspect is in force; switch one on with `ctxvault aspect use NAME`",
            ));
        };
        let entry = policy::user_entry("aspect-off", vec![on.id], format!("aspect {}", on.aspect));
        let delete = st.aspect_use.iter().map(|u| u.id).collect();
        self.commit_policy(&mut st, vec![], delete, entry).await
    }

    pub(crate) async fn aspect_list(&self) -> AspectReport {
        let st = self.policy.read().await;
        let mut aspects: Vec<AspectInfo> = st
            .aspects
            .iter()
            .map(|a| AspectInfo {
                name: a.name.clone(),
                scopes: a.scopes.iter().map(|s| s.to_string()).collect(),
                max_sensitivity: a.max_sensitivity,
                created_at: a.created_at,
            })
            .collect();
        aspects.sort_by(|a, b| a.name.cmp(&b.name));
        AspectReport {
            aspects,
            in_force: in_force(&st.aspect_use, clock::now()),
        }
    }

    pub(crate) async fn retention_set(&self, r: RetentionSet) -> Result<(), ApiError> {
        check_keep(r.keep_secs)?;
        let mut st = self.policy.write().await;
        let old = st.retention.iter().find(|x| match &x.on {
            RetentionOn::Scope { scope, .. } => *scope == r.scope,
            RetentionOn::Item { .. } => false,
        });
        let rec = RetentionRecord {
            id: old.map_or_else(Uuid::now_v7, |x| x.id),
            on: RetentionOn::Scope {
                scope: r.scope.clone(),
                keep_secs: r.keep_secs,
            },
            created_at: Utc::now(),
        };
        let entry = policy::user_entry(
            "retention-set",
            vec![rec.id],
            format!("keep {} for {} s", r.scope, r.keep_secs),
        );
        self.commit_policy(&mut st, vec![PolicyRecord::Retention(rec)], vec![], entry)
            .await
    }

    pub(crate) async fn retention_remove(&self, r: RetentionRemove) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let id = st
            .retention
            .iter()
            .find(|x| matches!(&x.on, RetentionOn::Scope { scope, .. } if *scope == r.scope))
            .ok_or_else(|| {
                invalid(format!(
                    "no retention on {}; see `ctxvault retention ls`",
                    r.scope
                ))
            })?
            .id;
        let entry = policy::user_entry(
            "retention-rm",
            vec![id],
            format!("retention on {}", r.scope),
        );
        self.commit_policy(&mut st, vec![], vec![id], entry).await
    }

    pub(crate) async fn retention_list(&self) -> Vec<RetentionInfo> {
        let st = self.policy.read().await;
        st.retention
            .iter()
            .map(|r| match &r.on {
                RetentionOn::Scope { scope, keep_secs } => RetentionInfo {
                    scope: Some(scope.to_string()),
                    item: None,
                    keep_secs: Some(*keep_secs),
                    expires: None,
                },
                RetentionOn::Item { item, expires } => RetentionInfo {
                    scope: None,
                    item: Some(*item),
                    keep_secs: None,
                    expires: Some(*expires),
                },
            })
            .collect()
    }

    /// Remove every item whose retention ran out, each in its own
    /// transaction with its audit entry, with its own expiry record and
    /// its mentions in pending proposals; answers how many went.
    pub async fn sweep_retention(&self) -> Result<u64, ApiError> {
        let now = clock::now();
        let (rules, own) = {
            let st = self.policy.read().await;
            let rules: Vec<_> = st.retention.iter().filter_map(|r| r.rule()).collect();
            let own: Vec<(Uuid, Uuid, DateTime<Utc>)> = st
                .retention
                .iter()
                .filter_map(|r| match r.on {
                    RetentionOn::Item { item, expires } => Some((r.id, item, expires)),
                    RetentionOn::Scope { .. } => None,
                })
                .collect();
            (rules, own)
        };
        if rules.is_empty() && own.is_empty() {
            return Ok(0);
        }
        let own_of = |id: &Uuid| own.iter().find(|(_, i, _)| i == id).map(|(_, _, e)| *e);
        let mut expired: Vec<(Uuid, String)> = Vec::new();
        // Items under a scope's retention are opened (their creation time
        // is in the sealed payload); items with their own expiry only.
        let in_rules = |g: &vault_core::vault::GroupKey| {
            rules.iter().any(|r| r.scope.matches(g.namespace.as_str()))
        };
        for i in self.vault.list_in(&in_rules).await? {
            let at = retention::expiry(i.namespace.as_str(), i.created_at, own_of(&i.id), &rules);
            if retention::is_expired(at, now) {
                expired.push((i.id, i.namespace.to_string()));
            }
        }
        let mut gone_records = Vec::new();
        for (rec, item, at) in &own {
            if expired.iter().any(|(i, _)| i == item) {
                continue;
            }
            match self.vault.get(item).await {
                Ok(i) if retention::is_expired(Some(*at), now) => {
                    expired.push((i.id, i.namespace.to_string()))
                }
                Ok(_) => {}
                Err(vault_core::Error::NoItem(_)) => gone_records.push(*rec),
                Err(e) => return Err(e.into()),
            }
        }
        let mut removed = 0;
        for (id, namespace) in expired {
            match self.remove_expired(id, &namespace).await {
                Ok(()) => removed += 1,
                // Removed meanwhile (by the user, or another sweep).
                Err(e) if e.kind == ErrorKind::NoItem => {}
                Err(e) => return Err(e),
            }
        }
        if !gone_records.is_empty() {
            // Expiry records of items removed otherwise: dropped quietly.
            let mut st = self.policy.write().await;
            self.vault
                .commit(RecordChange {
                    delete: gone_records.clone(),
                    ..Default::default()
                })
                .await?;
            st.apply(&[], &gone_records);
        }
        Ok(removed)
    }

    /// Remove one expired item with its own expiry record and its mentions
    /// in pending proposals, audited.
    async fn remove_expired(&self, id: Uuid, namespace: &str) -> Result<(), ApiError> {
        let mut st = self.policy.write().await;
        let delete: Vec<Uuid> = st
            .retention
            .iter()
            .filter(|r| matches!(&r.on, RetentionOn::Item { item, .. } if *item == id))
            .map(|r| r.id)
            .collect();
        let put: Vec<PolicyRecord> = st
            .pending
            .iter()
            .filter(|p| p.sources.contains(&id))
            .map(|p| {
                let mut p = p.clone();
                p.sources.retain(|s| *s != id);
                PolicyRecord::Pending(p)
            })
            .collect();
        let entry = policy::user_entry(
            "retention-remove",
            delete.clone(),
            format!("item in {namespace}: its retention ran out"),
        );
        self.vault
            .remove_with(
                &[id],
                RecordChange {
                    put: put.clone(),
                    delete: delete.clone(),
                    audit: Some(entry),
                    request: None,
                },
            )
            .await?;
        st.apply(&put, &delete);
        Ok(())
    }
}

/// How often the agent sweeps for items whose retention ran out (the
/// test variable `CTXVAULT_TEST_RETENTION_MS` can only shorten it).
fn sweep_every() -> std::time::Duration {
    let every = std::time::Duration::from_secs(60);
    std::env::var("CTXVAULT_TEST_RETENTION_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_millis)
        .filter(|d| *d < every && !d.is_zero())
        .unwrap_or(every)
}

/// Sweep `session` for expired items on a schedule until it is locked.
pub(crate) fn spawn_sweeper(session: &std::sync::Arc<Session>) {
    let weak = std::sync::Arc::downgrade(session);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(sweep_every()).await;
            let Some(s) = weak.upgrade() else { break };
            if s.vault.is_retired() {
                break;
            }
            if let Err(e) = s.sweep_retention().await {
                tracing::warn!("retention sweep failed: {}", e.message);
            }
        }
    });
}

/// The aspect in force at `now`, if any.
pub(crate) fn in_force(uses: &[AspectUseRecord], now: DateTime<Utc>) -> Option<AspectInForce> {
    uses.iter()
        .find(|u| u.until.is_none_or(|t| now < t))
        .map(|u| AspectInForce {
            name: u.aspect.clone(),
            clients: u.clients.clone(),
            until: u.until,
            since: u.created_at,
        })
}
