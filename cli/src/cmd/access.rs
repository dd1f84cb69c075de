//! `ctxvault access`.

use vault_daemon::protocol as p;

use crate::ctx::Ctx;
use crate::output;

/// What a client can see and do: its actions, and the items it can read
/// per namespace, by sensitivity.
#[derive(clap::Args)]
pub struct Access {
    /// The client's name.
    client: String,
    /// As if its answers went to this provider, not the one it declared.
    #[arg(long, value_name = "PROVIDER")]
    provider: Option<String>,
}

impl Access {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let a = ctx
            .call_vault(p::Access {
                client: self.client,
                provider: self.provider,
            })
            .await?;
        {
            if ctx.json {
                return output::json(&a);
            }
            let actions: Vec<&str> = a.actions.iter().map(|x| x.as_str()).collect();
            outln!(
                "{} may {} ({} active grant(s), {} deny rule(s))",
                a.client,
                if actions.is_empty() {
                    "do nothing".to_owned()
                } else {
                    actions.join(", ")
                },
                a.grants,
                a.denies
            );
            outln!("{}", a.summary);
            if a.namespaces.is_empty() {
                outln!("it can read no item");
                return Ok(());
            }
            outln!(
                "{:<24} {:>7} {:>7} {:>7} {:>7} {:>7}",
                "namespace",
                "public",
                "normal",
                "private",
                "secret",
                "total"
            );
            for n in &a.namespaces {
                outln!(
                    "{:<24} {:>7} {:>7} {:>7} {:>7} {:>7}",
                    n.namespace,
                    n.public,
                    n.normal,
                    n.private,
                    n.secret,
                    n.total
                );
            }
            outln!("{:<24} {:>39}", "all", a.items);
            Ok(())
        }
    }
}
