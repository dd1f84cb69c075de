//! `ctxvault demo`: a throwaway vault with a sample person, two AI clients
//! with different grants, and real MCP sessions showing side by side what
//! each one sees, a live revoke, a proposal waiting for review, and the
//! audit trail. Nothing is left behind.

use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, bail};
use client_view::first_line;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use vault_core::{NewItem, Sensitivity};
use vault_daemon::protocol as p;
use vault_daemon::protocol::Secret;
use vault_daemon::{Call, Client, paths};

/// Walk through ctxvault with a throwaway vault: no input, no network
/// beyond the loopback, nothing left behind.
#[derive(clap::Args)]
pub struct Demo {}

/// (namespace, kind, title, body, sensitivity) of the sample person.
const PERSON: &[(&str, &str, &str, &str, Sensitivity)] = &[
    (
        "profile",
        "fact",
        "Who",
        "Maya Chen, product engineer in Lisbon; speaks English and Portuguese",
        Sensitivity::Normal,
    ),
    (
        "profile",
        "fact",
        "Household",
        "Lives with her partner Rui and a cat called Pixel",
        Sensitivity::Normal,
    ),
    (
        "profile",
        "preference",
        "Answers",
        "Prefers short answers with the code first, metric units",
        Sensitivity::Normal,
    ),
    (
        "profile",
        "preference",
        "Food",
        "Vegetarian; no mushrooms",
        Sensitivity::Normal,
    ),
    (
        "work/atlas",
        "project",
        "Atlas roadmap",
        "Atlas launch planned for March; beta with 3 customers; ask priya@atlas.example before changing the date",
        Sensitivity::Normal,
    ),
    (
        "work/atlas",
        "note",
        "Standup",
        "Decided to drop the legacy importer from the launch scope",
        Sensitivity::Normal,
    ),
    (
        "work/people",
        "person",
        "Priya",
        "Priya Nair, engineering manager on Atlas; prefers written updates",
        Sensitivity::Normal,
    ),
    (
        "health",
        "fact",
        "Asthma",
        "Mild asthma; carries a salbutamol inhaler; allergic to penicillin",
        Sensitivity::Private,
    ),
    (
        "health",
        "event",
        "Checkup",
        "Annual checkup booked for the launch week, 14 March",
        Sensitivity::Private,
    ),
    (
        "finance",
        "fact",
        "Salary",
        "Salary review in April; target 10% raise after the launch",
        Sensitivity::Private,
    ),
    (
        "finance",
        "note",
        "Mortgage",
        "Mortgage fixed rate ends in 2027; compare offers in autumn",
        Sensitivity::Private,
    ),
];

/// The questions both clients are asked.
const QUESTIONS: &[&str] = &["launch", "allergic", "salary", "prefers"];

type Session = RunningService<RoleClient, ()>;

struct Agent {
    child: tokio::process::Child,
    client: Client,
    url: String,
}

fn say(s: &str) {
    outln!("{s}");
}

fn heading(s: &str) {
    outln!();
    outln!("== {s}");
}

async fn call_agent<R: Call>(agent: &Client, req: R) -> anyhow::Result<R::Answer> {
    agent
        .call(req)
        .await?
        .map_err(|e| anyhow::anyhow!(e.message))
}

async fn start_agent(vault: &Path, runtime: &Path) -> anyhow::Result<Agent> {
    let mut child = crate::ctx::agent_command(vault)?
        .args(["--lock-after", "0", "--http", "127.0.0.1:0"])
        .env("CTXVAULT_RUNTIME_DIR", runtime)
        .env_remove("CTXVAULT_HTTP")
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the demo agent")?;
    if crate::ctx::await_ready(&mut child, "the demo cannot go on").await? {
        anyhow::bail!("another agent already serves the demo's own vault; the demo cannot go on");
    }
    let client = Client::new(paths::socket_path(runtime, vault)?);
    let url = call_agent(&client, p::StatusQuery {})
        .await?
        .http
        .context("the demo agent serves no HTTP")?;
    Ok(Agent { child, client, url })
}

async fn add_client(agent: &Client, name: &str) -> anyhow::Result<String> {
    let t = call_agent(
        agent,
        p::ClientAdd {
            name: name.into(),
            provider: None,
        },
    )
    .await?;
    Ok(t.token)
}

async fn grant(
    agent: &Client,
    client: &str,
    scope: &str,
    actions: &str,
    max: Sensitivity,
    redact: &[&str],
) -> anyhow::Result<uuid::Uuid> {
    let req = p::GrantAdd {
        client: client.into(),
        scope: scope.parse()?,
        actions: actions.parse()?,
        tags: vec![],
        max_sensitivity: max,
        expires: None,
        redact: redact.iter().map(|r| r.parse()).collect::<Result<_, _>>()?,
        providers: Default::default(),
        confirm: None,
    };
    call_agent(agent, req).await
}

async fn tool(s: &Session, name: &str, args: Value) -> anyhow::Result<CallToolResult> {
    let mut p = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        p = p.with_arguments(m);
    }
    Ok(s.call_tool(p).await?)
}

fn text(r: &CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect()
}

/// One line per search hit: `namespace  snippet`.
async fn answer(s: &Session, query: &str) -> anyhow::Result<Vec<String>> {
    let r = tool(s, "search_context", json!({"query": query, "limit": 3})).await?;
    if r.is_error == Some(true) {
        return Ok(vec![format!("(error: {})", text(&r))]);
    }
    let hits: Value = serde_json::from_str(&text(&r))?;
    let lines: Vec<String> = hits
        .as_array()
        .map(|a| {
            a.iter()
                .map(|h| {
                    format!(
                        "{}: {}",
                        h["namespace"].as_str().unwrap_or(""),
                        h["snippet"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(if lines.is_empty() {
        vec!["(nothing)".into()]
    } else {
        lines
    })
}

async fn tool_list(s: &Session) -> anyhow::Result<String> {
    let mut names: Vec<String> = s
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    Ok(names.join(", "))
}

const COL: usize = 46;

fn side_by_side(left: &[String], right: &[String]) {
    for i in 0..left.len().max(right.len()) {
        let l = left.get(i).map(|s| first_line(s, COL)).unwrap_or_default();
        let r = right.get(i).map(|s| first_line(s, COL)).unwrap_or_default();
        outln!("  {l:<COL$} | {r}");
    }
}

impl Demo {
    pub async fn run(self) -> anyhow::Result<()> {
        let started = Instant::now();
        let tmp = tempfile::Builder::new()
            .prefix("ctxvault-demo")
            .tempdir()
            .context("cannot make a temporary directory")?;
        let vault = tmp.path().join("vault");
        let runtime = tmp.path().join("rt");
        std::fs::create_dir(&vault)?;
        let result = self.run_in(&vault, &runtime).await;
        drop(tmp);
        if result.is_ok() {
            outln!();
            outln!(
                "Done in {:.1} s. The demo vault is gone; `ctxvault init` makes yours.",
                started.elapsed().as_secs_f64()
            );
        }
        result
    }

    async fn run_in(&self, vault: &Path, runtime: &Path) -> anyhow::Result<()> {
        say(
            "ctxvault demo: a throwaway vault for a sample person, two AI clients, real MCP sessions.",
        );
        let mut agent = start_agent(vault, runtime).await?;
        let a = &agent.client;
        // A throwaway vault: a random passphrase at the lowest work factor.
        call_agent(
            a,
            p::Init {
                passphrase: Secret::new(vault_daemon::policy::new_token()?),
                identity_file: None,
                work_factor: Some(vault_core::WorkFactor::MIN.get()),
            },
        )
        .await?;
        for (ns, kind, title, body, sensitivity) in PERSON {
            let mut item = NewItem::note(ns.parse()?, *body);
            item.kind = kind.parse()?;
            item.title = Some((*title).to_owned());
            item.sensitivity = *sensitivity;
            call_agent(
                a,
                p::Add {
                    expires: None,
                    item,
                    new_kind: false,
                    request: None,
                },
            )
            .await?;
        }
        heading("The vault");
        say(&format!(
            "  {} items about Maya: profile, work, health and finance, each sealed with its own key.",
            PERSON.len()
        ));

        heading("Two clients, two grants");
        let claude = add_client(a, "claude").await?;
        let local = add_client(a, "local-llm").await?;
        let work = grant(
            a,
            "claude",
            "work/**",
            "read",
            Sensitivity::Normal,
            &["email"],
        )
        .await?;
        grant(
            a,
            "claude",
            "profile/**",
            "read,propose",
            Sensitivity::Normal,
            &[],
        )
        .await?;
        grant(a, "local-llm", "**", "read", Sensitivity::Private, &[]).await?;
        say("  claude     reads work/** (emails masked) and profile/**, may propose; over stdio");
        say("  local-llm  reads everything up to private; over HTTP at the agent's endpoint");

        // claude over stdio: `ctxvault mcp --client claude`, as Claude Desktop runs it.
        let exe = std::env::current_exe()?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("--vault")
            .arg(vault)
            .args(["mcp", "--client", "claude"])
            .env("CTXVAULT_TOKEN", &claude)
            .env("CTXVAULT_RUNTIME_DIR", runtime);
        let (transport, _) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::null())
            .spawn()?;
        let sc = ().serve(transport).await.context("MCP session for claude")?;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(agent.url.clone()).auth_header(local),
        );
        let sl = ().serve(transport).await.context("MCP session for local-llm")?;

        heading("Same questions, different answers (search_context)");
        outln!("  {:<COL$} | local-llm (HTTP)", "claude (stdio)");
        for q in QUESTIONS {
            outln!("  -- \"{q}\"");
            side_by_side(&answer(&sc, q).await?, &answer(&sl, q).await?);
        }
        outln!("  -- tools each one is offered");
        say(&format!("  claude:    {}", tool_list(&sc).await?));
        say(&format!("  local-llm: {}", tool_list(&sl).await?));

        heading("claude proposes a memory; it waits for Maya's review");
        let r = tool(
            &sc,
            "remember",
            json!({"content": "Maya is learning to surf on weekends", "namespace": "profile", "kind": "fact"}),
        )
        .await?;
        let outcome: Value = serde_json::from_str(&text(&r)).unwrap_or(Value::Null);
        say(&format!(
            "  remember -> {} in {} (proposal {})",
            outcome["status"].as_str().unwrap_or("?"),
            outcome["namespace"].as_str().unwrap_or("?"),
            outcome["id"].as_str().unwrap_or("?")
        ));
        let seen = answer(&sl, "surf").await?;
        say(&format!(
            "  local-llm searching \"surf\" meanwhile: {}",
            seen.join("; ")
        ));
        say("  (`ctxvault pending` lists it; `ctxvault approve ID` stores it)");

        heading("Revoke, live: claude loses work/** mid-session");
        call_agent(a, p::Revoke { id: work }).await?;
        say(&format!(
            "  claude searching \"launch\" again: {}",
            answer(&sc, "launch").await?.join("; ")
        ));

        heading("The audit trail (every call, on Maya's record)");
        let entries = call_agent(
            a,
            p::Audit {
                client: None,
                since: None,
                limit: None,
                devices: false,
            },
        )
        .await?;
        for e in &entries {
            let e = &e.entry;
            // What a client was given is counted; the user's own changes
            // say what they were.
            let what = match (&e.client, e.ids.len()) {
                (Some(_), 1) => "1 item".to_owned(),
                (Some(_), n) => format!("{n} items"),
                (None, _) => String::new(),
            };
            let line = format!(
                "  {}  {:<10} {:<10} {:<10} {:<8} {}",
                e.time.format("%H:%M:%S"),
                e.client.as_deref().unwrap_or("you"),
                e.action,
                first_line(e.query.as_deref().unwrap_or(""), 10),
                what,
                e.detail
                    .as_deref()
                    .map(|d| first_line(d, 48))
                    .unwrap_or_default()
            );
            outln!("{}", line.trim_end());
        }
        let r = call_agent(a, p::AuditVerify::default()).await?;
        match r.problem {
            None => say(&format!("  chain verified: {} entries, intact", r.entries)),
            Some(p) => bail!("the demo's audit chain failed to verify: {p:?}"),
        }

        sc.cancel().await.ok();
        sl.cancel().await.ok();
        call_agent(a, p::Stop {}).await?;
        agent.child.wait().await?;
        Ok(())
    }
}
