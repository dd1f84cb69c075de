//! Reading passphrases and identity files: from a terminal prompt without
//! echo, `CTXVAULT_PASSPHRASE`, or one line of standard input.

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{Context, bail};
use vault_daemon::protocol::Secret;

/// Environment variable holding the passphrase for non-interactive use.
pub const PASSPHRASE_ENV: &str = "CTXVAULT_PASSPHRASE";

/// The passphrase from the environment, if set and not empty.
pub fn from_env() -> Option<Secret> {
    std::env::var(PASSPHRASE_ENV)
        .ok()
        .filter(|p| !p.is_empty())
        .map(Secret::new)
}

/// Warn on stderr when a new passphrase is easy to guess (a zxcvbn score
/// under 3 of 4: 10^10 guesses or fewer).
pub fn warn_if_weak(p: &Secret) {
    let e = zxcvbn::zxcvbn(p.expose_secret(), &["ctxvault", "vault"]);
    if u8::from(e.score()) >= 3 {
        return;
    }
    let why = e
        .feedback()
        .and_then(|f| f.warning())
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    eprintln!(
        "warning: this passphrase is weak{why}: it could be guessed in {} at 10,000 guesses a second; four or five random words are far stronger",
        e.crack_times().offline_slow_hashing_1e4_per_second()
    );
}

/// Read a secret from the environment variable `env`, else from a prompt on
/// the terminal (asked twice when `confirm`, a new secret, which is also
/// checked for strength).
pub fn read(env: &str, prompt: &str, confirm: bool) -> anyhow::Result<Secret> {
    let p = read_once(env, prompt, confirm)?;
    if confirm {
        warn_if_weak(&p);
    }
    Ok(p)
}

fn read_once(env: &str, prompt: &str, confirm: bool) -> anyhow::Result<Secret> {
    if let Some(p) = std::env::var(env).ok().filter(|p| !p.is_empty()) {
        return Ok(Secret::new(p));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no {}: run in a terminal or set {env}",
            prompt.to_lowercase()
        );
    }
    let p = Secret::new(
        rpassword::prompt_password(format!("{prompt}: ")).context("reading from the terminal")?,
    );
    if p.expose_secret().is_empty() {
        bail!("the {} is empty; choose one", prompt.to_lowercase());
    }
    if confirm {
        let again = Secret::new(
            rpassword::prompt_password(format!("{prompt} again: "))
                .context("reading from the terminal")?,
        );
        if again.expose_secret() != p.expose_secret() {
            bail!("the two entries differ; run the command again");
        }
    }
    Ok(p)
}

/// True when a passphrase can be asked for on the terminal.
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// Ask for the passphrase of a locked vault on the terminal (`again`
/// after a wrong one).
pub fn prompt_locked(again: bool) -> anyhow::Result<Secret> {
    let prompt = if again {
        "Wrong passphrase; try again: "
    } else {
        "The vault is locked. Passphrase: "
    };
    let p = rpassword::prompt_password(prompt).context("reading the passphrase")?;
    if p.is_empty() {
        bail!("no passphrase given");
    }
    Ok(Secret::new(p))
}

/// Read the passphrase: `--passphrase-stdin`, else `CTXVAULT_PASSPHRASE`,
/// else a prompt on the terminal (asked twice when `confirm`, a new
/// passphrase, which is also checked for strength).
pub fn passphrase(from_stdin: bool, confirm: bool) -> anyhow::Result<Secret> {
    let p = passphrase_once(from_stdin, confirm)?;
    if confirm {
        warn_if_weak(&p);
    }
    Ok(p)
}

fn passphrase_once(from_stdin: bool, confirm: bool) -> anyhow::Result<Secret> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the passphrase from stdin")?;
        let p = line.trim_end_matches(['\n', '\r']).to_owned();
        if p.is_empty() {
            bail!("the passphrase on stdin is empty; pipe a non-empty line");
        }
        return Ok(Secret::new(p));
    }
    if let Some(p) = from_env() {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no passphrase: run in a terminal, set {PASSPHRASE_ENV}, or pass --passphrase-stdin");
    }
    let p =
        Secret::new(rpassword::prompt_password("Passphrase: ").context("reading the passphrase")?);
    if p.expose_secret().is_empty() {
        bail!("the passphrase is empty; choose one");
    }
    if confirm {
        let again = Secret::new(
            rpassword::prompt_password("Passphrase again: ").context("reading the passphrase")?,
        );
        if again.expose_secret() != p.expose_secret() {
            bail!("the passphrases differ; run the command again");
        }
    }
    Ok(p)
}

/// Read and check an age identity file.
pub fn identity_file(path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read identity file {}", path.display()))?;
    let text = Secret::new(text);
    vault_core::keys::parse_identity_file(text.expose_secret()).map_err(|e| {
        anyhow::anyhow!(
            "{} is {e}; generate one with `age-keygen -o FILE`",
            path.display()
        )
    })?;
    Ok(text)
}
