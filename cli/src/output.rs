//! Everything the CLI prints: items for people, JSON for scripts, and one
//! line per error.

use client_view::first_line;
use std::io::Write;

/// `println!` for the CLI: a reader that went away (`ctxvault ls | head`)
/// ends the command at once, quietly (see [`stdout_failed`]).
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($t:tt)*) => {
        $crate::output::line(format_args!($($t)*))
    };
}

/// `print!` for the CLI, as [`outln`] without the newline.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::output::text(format_args!($($t)*))
    };
}

/// Write one line on stdout.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
        stdout_failed(e)
    }
}

/// Write text on stdout.
pub fn text(args: std::fmt::Arguments<'_>) {
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        stdout_failed(e)
    }
}

/// Stdout could not be written. When its reader went away (a pipe into
/// `head`, `less` or `grep -m1` that stopped reading) the command ends at
/// once with success and says nothing: whatever it did is done, and the
/// rest of its output was not wanted. Any other failure is one line on
/// stderr and exit 1.
pub fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
    std::process::exit(1)
}
use std::process::ExitCode;

use vault_core::Item;

/// Text from the vault (or from a client) made safe for a terminal: control
/// characters (C0 but newline and tab, DEL, C1) and the bidirectional
/// overrides that can make text read as something else are shown as
/// `\u{..}` instead of acting on the terminal (clearing it, moving the
/// cursor, writing the clipboard with OSC 52).
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// [`visible`], and on one line (newlines and tabs shown too).
pub fn visible_line(s: &str) -> String {
    visible(s).replace('\n', "\\n").replace('\t', " ")
}

/// Print an error as one line on stderr and return the failure exit code.
pub fn fail(e: &anyhow::Error) -> ExitCode {
    let msg = visible_line(&format!("{e:#}").replace('\n', " "));
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

/// Print a clap parse error: help and version as clap renders them, any
/// other error as its first line plus where to find help.
pub fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            // clap renders: the message (maybe over two lines), a blank
            // line, "Usage: ...", a blank line, a hint. Fold the message
            // and the usage into one line.
            let rendered = e.render().to_string();
            let parts: Vec<&str> = rendered.split("\n\n").map(str::trim).collect();
            let message = parts.first().copied().unwrap_or("invalid arguments");
            let message: Vec<&str> = message
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let message = message.join(" ");
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            // clap's own suggestions ("a similar subcommand exists").
            let tips: String = parts
                .iter()
                .filter_map(|p| p.strip_prefix("tip: "))
                .map(|t| format!("; {}", t.lines().next().unwrap_or(t).trim()))
                .collect();
            let usage = parts
                .iter()
                .find_map(|p| p.strip_prefix("Usage: "))
                .map(|u| u.lines().next().unwrap_or(u).trim());
            // The subcommand's own help: the usage line up to its options.
            let command = usage
                .map(|u| {
                    u.split_whitespace()
                        .take_while(|w| !w.starts_with(['[', '<', '-']))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "ctxvault".to_owned());
            let usage = usage.map(|u| format!(" (usage: {u})")).unwrap_or_default();
            eprintln!("error: {message}{tips}{usage}; see `{command} --help`");
            ExitCode::from(2)
        }
    }
}

/// The result of a command: the line `text`, or with `--json` the object
/// `value`.
pub fn report(
    ctx: &crate::ctx::Ctx,
    value: serde_json::Value,
    text: impl std::fmt::Display,
) -> anyhow::Result<()> {
    if ctx.json {
        return json(&value);
    }
    outln!("{text}");
    Ok(())
}

/// `n` and a noun, in the plural unless `n` is 1: `1 item`, `3 items`.
pub fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Print a value as pretty JSON on stdout.
pub fn json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, v).map_err(std::io::Error::from);
    if let Err(e) = written.and_then(|()| writeln!(out)) {
        stdout_failed(e)
    }
    Ok(())
}

/// One item, in full, for people.
pub fn item(i: &Item) {
    outln!("id:          {}", i.id);
    outln!("namespace:   {}", i.namespace);
    outln!("kind:        {}", visible_line(i.kind.as_str()));
    if let Some(t) = &i.title {
        outln!("title:       {}", visible_line(t));
    }
    if !i.tags.is_empty() {
        let tags: Vec<&str> = i.tags.iter().map(|t| t.as_str()).collect();
        outln!("tags:        {}", visible_line(&tags.join(", ")));
    }
    outln!("sensitivity: {}", i.sensitivity);
    outln!("source:      {}", i.source.as_str());
    outln!("version:     {}", i.version);
    outln!(
        "created:     {}",
        i.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    outln!(
        "updated:     {}",
        i.updated_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    outln!();
    outln!("{}", visible(&i.body));
}

/// What a list line shows of an item (the user's own, or as a client gets it).
pub struct Row {
    /// The item's id.
    pub id: uuid::Uuid,
    /// The id as shown: whole, or its shortest unique start.
    pub shown: String,
    namespace: String,
    label: String,
}

impl Row {
    /// The line of one of the user's items.
    pub fn of_item(i: &Item) -> Row {
        Row {
            id: i.id,
            shown: i.id.to_string(),
            namespace: i.namespace.to_string(),
            label: i
                .title
                .as_deref()
                .map_or_else(|| first_line(&i.body, 60), |t| first_line(t, 60)),
        }
    }

    /// The line of an item as a client gets it.
    pub fn of_client_item(i: &client_view::ContextItem) -> Row {
        Row {
            id: i.id,
            shown: i.id.to_string(),
            namespace: i.namespace.clone(),
            label: i
                .title
                .as_deref()
                .map_or_else(|| first_line(&i.body, 60), |t| first_line(t, 60)),
        }
    }
}

/// One line per item, for people.
pub fn item_lines(rows: &[Row]) {
    for r in rows {
        outln!(
            "{:<13}  {:<20} {}",
            r.shown,
            r.namespace,
            visible_line(&r.label)
        );
    }
}

/// Search hits (score, item, snippet), for people.
pub fn hits(hits: &[(f64, Row, String)]) {
    for (score, r, snippet) in hits {
        outln!(
            "{score:>6.2}  {:<13}  {:<20} {}",
            r.shown,
            r.namespace,
            visible_line(&r.label)
        );
        outln!("        {}", visible_line(snippet));
    }
}

/// A progress bar on stderr for `len` steps, shown only on a terminal and
/// for more than about a thousand steps.
pub fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if len < 1000 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}
