//! `ctxvault completions` and `ctxvault man`: shell completions and manual
//! pages, made from the same command line the binary parses.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

/// Print shell completions for ctxvault.
#[derive(clap::Args)]
pub struct Completions {
    /// The shell.
    shell: clap_complete::Shell,
}

impl Completions {
    pub fn run(self) -> anyhow::Result<()> {
        let mut cmd = crate::command();
        let mut buf = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, "ctxvault", &mut buf);
        out!("{}", String::from_utf8_lossy(&buf));
        Ok(())
    }
}

/// Print the manual page, or write one per subcommand into a folder.
#[derive(clap::Args)]
pub struct Man {
    /// Write ctxvault.1 and a ctxvault-SUBCOMMAND.1 for every subcommand
    /// into DIR (created if missing) instead of printing ctxvault.1.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Every command below `cmd` (itself first), named as `man` knows them:
/// `ctxvault`, `ctxvault-client`, `ctxvault-client-add`...
fn pages(cmd: clap::Command, name: String, out: &mut Vec<(String, clap::Command)>) {
    let subs: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    out.push((name.clone(), cmd));
    for s in subs {
        if s.get_name() != "help" {
            let n = format!("{name}-{}", s.get_name());
            pages(s.name(n.clone()), n, out);
        }
    }
}

fn render(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .context("cannot render the manual page")?;
    Ok(buf)
}

impl Man {
    pub fn run(self, json: bool) -> anyhow::Result<()> {
        let mut cmd = crate::command();
        cmd.build();
        let Some(dir) = self.out else {
            out!("{}", String::from_utf8_lossy(&render(cmd)?));
            return Ok(());
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut all = Vec::new();
        pages(cmd, "ctxvault".to_owned(), &mut all);
        let mut written = Vec::new();
        for (name, c) in all {
            let path = dir.join(format!("{name}.1"));
            let page = render(c)?;
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(&page).map(|_| f))
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path.display().to_string());
        }
        if json {
            return crate::output::json(&written);
        }
        outln!(
            "wrote {} manual pages to {}; read one with `man -l {}`",
            written.len(),
            dir.display(),
            dir.join("ctxvault.1").display()
        );
        Ok(())
    }
}
