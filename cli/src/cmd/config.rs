//! `ctxvault config`: the settings in force and where they come from.

use crate::ctx::Ctx;
use crate::output;

/// Show the settings in force and the file they come from.
#[derive(clap::Args)]
pub struct ConfigCmd {}

impl ConfigCmd {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let c = &ctx.config;
        let lock_after = c.lock_after.map(|d| {
            if d.is_zero() {
                "0".to_owned()
            } else {
                humantime::format_duration(d).to_string()
            }
        });
        if ctx.json {
            return output::json(&serde_json::json!({
                "file": c.path.as_ref().map(|p| p.display().to_string()),
                "looked_in": crate::config::candidates(&ctx.dir),
                "http": c.http,
                "allow_remote": c.allow_remote,
                "lock_after": lock_after,
                "output": if c.output == crate::config::Output::Json { "json" } else { "text" },
                "notify": c.notify.unwrap_or(true),
            }));
        }
        match &c.path {
            Some(p) => outln!("# from {}", p.display()),
            None => {
                let places: Vec<String> = crate::config::candidates(&ctx.dir)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                outln!(
                    "# no config file (looked for {}); the defaults:",
                    places.join(", ")
                );
            }
        }
        match c.http {
            Some(a) => outln!("http = \"{a}\""),
            None => outln!("# http: not served at start (`ctxvault http on` opens it)"),
        }
        outln!("allow_remote = {}", c.allow_remote);
        outln!(
            "lock_after = \"{}\"",
            lock_after.unwrap_or_else(|| "30m".to_owned())
        );
        outln!(
            "output = \"{}\"",
            if c.output == crate::config::Output::Json {
                "json"
            } else {
                "text"
            }
        );
        outln!("notify = {}", c.notify.unwrap_or(true));
        Ok(())
    }
}
