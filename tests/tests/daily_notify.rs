//! A client that finds the vault locked makes a desktop notification, so
//! the user learns it where they are. The notification service is one
//! written for this test (no real one runs without a display), on a real
//! D-Bus session bus, speaking the freedesktop Notifications interface.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use ctxvault_tests::{Env, SessionBus};
use serde_json::json;

/// What the desktop was asked to show: (application, summary, body).
type Shown = (String, String, String);

struct Desktop {
    shown: std::sync::Mutex<mpsc::Sender<Shown>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Desktop {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, zbus::zvariant::OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.shown.lock().unwrap().send((app_name, summary, body));
        1
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_vault_is_shown_on_the_desktop() {
    let bus = SessionBus::start();
    let (tx, rx) = mpsc::channel();
    let _desktop = zbus::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .name("org.freedesktop.Notifications")
        .unwrap()
        .serve_at(
            "/org/freedesktop/Notifications",
            Desktop {
                shown: std::sync::Mutex::new(tx),
            },
        )
        .unwrap()
        .build()
        .await
        .unwrap();
    let mut env = Env::new();
    env.vars
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), bus.address.clone()));
    env.init();
    env.add(&["--ns", "work", "The Lisbon offsite is in March"]);
    let token = common::add_client(&env, "claude");
    env.ok(&["grant", "claude", "work/**"]);
    let s = common::stdio(&env, "claude", &token).await;
    env.ok(&["lock"]);

    let wait = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("no notification")
    };
    let r = common::call(&s, "search_context", json!({"query": "lisbon"})).await;
    assert!(common::text(&r).contains("locked"), "{}", common::text(&r));
    let (app, summary, body) = wait();
    assert_eq!(
        (app.as_str(), summary.as_str()),
        ("ctxvault", "ctxvault is locked")
    );
    assert!(body.starts_with("claude asked for context"), "{body}");
    assert!(body.contains("ctxvault unlock"), "{body}");

    // Asked again while still locked: not shown twice. After an unlock
    // and a new lock, shown again.
    common::call(&s, "search_context", json!({"query": "lisbon"})).await;
    env.ok(&["unlock"]);
    env.ok(&["lock"]);
    common::call(&s, "search_context", json!({"query": "lisbon"})).await;
    let (_, summary, _) = wait();
    assert_eq!(summary, "ctxvault is locked");
    assert!(rx.try_recv().is_err(), "shown more than once per lock");
    s.cancel().await.unwrap();
}
