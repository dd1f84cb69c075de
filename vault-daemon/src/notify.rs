//! A desktop notification when a client finds the vault locked, so the
//! user learns it where they are (in the AI app), not only from the app's
//! "vault is locked" answer: over D-Bus (`org.freedesktop.Notifications`)
//! on Linux, `osascript` on macOS. At most one per lock, and one per ten
//! minutes; no notification service is no notification.

use std::time::{Duration, Instant};

use crate::agent::{Agent, lock};

/// The shortest time between two notifications.
const EVERY: Duration = Duration::from_secs(600);
/// How long a notification may take to send.
const SEND: Duration = Duration::from_secs(3);

impl Agent {
    /// Tell the user that `client` found the vault locked (in the
    /// background; unless told recently, or notifications are off).
    pub(crate) fn notify_locked(&self, client: &str) {
        if !self.notify {
            return;
        }
        {
            let mut last = lock(&self.notified);
            let now = Instant::now();
            if last.is_some_and(|t| now.duration_since(t) < EVERY) {
                return;
            }
            *last = Some(now);
        }
        let body = format!(
            "{client} asked for context. Unlock with `ctxvault unlock` (or any ctxvault command in a terminal)."
        );
        tokio::spawn(async move {
            match tokio::time::timeout(SEND, send("ctxvault is locked", &body)).await {
                Ok(Ok(())) => tracing::info!("notified the desktop that the vault is locked"),
                Ok(Err(e)) => tracing::debug!("no desktop notification: {e}"),
                Err(_) => tracing::debug!("no desktop notification: no answer"),
            }
        });
    }

    /// A new lock may be notified again.
    pub(crate) fn forget_notified(&self) {
        *lock(&self.notified) = None;
    }
}

#[cfg(target_os = "macos")]
pub(crate) async fn send(summary: &str, body: &str) -> Result<(), String> {
    let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let script = format!(
        "display notification \"{}\" with title \"{}\"",
        q(body),
        q(summary)
    );
    let status = tokio::process::Command::new("osascript")
        .args(["-e", &script])
        .status()
        .await
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("osascript exited with {status}"))
}

#[cfg(not(target_os = "macos"))]
pub(crate) async fn send(summary: &str, body: &str) -> Result<(), String> {
    let conn = zbus::Connection::session()
        .await
        .map_err(|e| e.to_string())?;
    let hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> =
        std::collections::HashMap::new();
    conn.call_method(
        Some("org.freedesktop.Notifications"),
        "/org/freedesktop/Notifications",
        Some("org.freedesktop.Notifications"),
        "Notify",
        &(
            "ctxvault",
            0u32,
            "dialog-password",
            summary,
            body,
            Vec::<&str>::new(),
            hints,
            -1i32,
        ),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(())
}
