//! Editing an item in the user's editor: the item as Markdown with front
//! matter, in a private file on memory-backed storage where there is one,
//! overwritten and removed as soon as the editor closes.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use vault_core::{Item, ItemPatch, formats};
use zeroize::Zeroizing;

/// Where the draft goes: the user's runtime directory (a private tmpfs on
/// most Linux systems), else `/dev/shm`, else the temporary directory
/// (with a warning: that one may be on disk).
fn draft_dir() -> PathBuf {
    let memory = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")])
        .find(|d| d.is_dir());
    memory.unwrap_or_else(|| {
        eprintln!(
            "warning: no memory-backed folder (XDG_RUNTIME_DIR, /dev/shm): the draft is in {} until the editor closes",
            std::env::temp_dir().display()
        );
        std::env::temp_dir()
    })
}

/// The editor the user named in `$VISUAL` or `$EDITOR`.
fn named() -> Option<String> {
    ["VISUAL", "EDITOR"]
        .into_iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
}

/// True when an editor can be opened: one is named, or the command runs in
/// a terminal (where `vi` is the default). A script without either gets
/// the plain "nothing to change" error instead of a hung editor.
pub fn available() -> bool {
    use std::io::IsTerminal;
    named().is_some() || std::io::stdin().is_terminal()
}

/// Open `item` in `$VISUAL` or `$EDITOR` (default `vi`); the change made,
/// or `None` when nothing changed.
pub fn edit_item(item: &Item) -> anyhow::Result<Option<ItemPatch>> {
    let editor = named().unwrap_or_else(|| "vi".to_owned());
    let text = Zeroizing::new(formats::to_markdown(item).1);
    let dir = draft_dir();
    let mut draft = tempfile::Builder::new()
        .prefix("ctxvault-edit-")
        .suffix(".md")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a private draft in {}", dir.display()))?;
    draft.write_all(text.as_bytes())?;
    draft.flush()?;
    let path = draft.path().to_owned();
    // Through the shell, so an editor given with arguments ("code --wait")
    // works as it does for git.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .with_context(|| format!("cannot start the editor {editor:?}"));
    let edited = std::fs::read(&path).map(Zeroizing::new);
    // Overwrite what is at the path now (an editor may have replaced the
    // file), then let the draft go (which removes it).
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f
            .write_all(&vec![0u8; len as usize])
            .and_then(|_| f.sync_all());
    }
    drop(draft);
    let _ = std::fs::remove_file(&path);
    let status = status?;
    if !status.success() {
        bail!("the editor {editor:?} exited with {status}; nothing was changed");
    }
    let edited = edited.with_context(|| format!("cannot read the draft {}", path.display()))?;
    let edited = std::str::from_utf8(&edited)
        .map_err(|_| anyhow!("the edited item is not UTF-8 text; nothing was changed"))?;
    let new = formats::from_markdown("the edited item", edited)
        .map_err(|e| anyhow!("{e}; nothing was changed"))?;
    if !new.front_matter {
        bail!("the front matter (between the --- lines) is gone; nothing was changed");
    }
    let new = new.item;
    if new.id != item.id {
        bail!("the id in the front matter cannot change; nothing was changed");
    }
    Ok(patch_between(item, new))
}

/// What changed from `old` to `new`; `None` when nothing did.
fn patch_between(old: &Item, new: Item) -> Option<ItemPatch> {
    let mut tags = new.tags.clone();
    tags.sort();
    let mut old_tags = old.tags.clone();
    old_tags.sort();
    let patch = ItemPatch {
        namespace: (new.namespace != old.namespace).then(|| new.namespace.clone()),
        kind: (new.kind != old.kind).then(|| new.kind.clone()),
        title: (new.title != old.title).then(|| new.title.clone().unwrap_or_default()),
        body: (new.body != old.body).then(|| new.body.clone()),
        tags: (tags != old_tags).then_some(tags),
        remove_tags: Vec::new(),
        add_tags: Vec::new(),
        sensitivity: (new.sensitivity != old.sensitivity).then_some(new.sensitivity),
    };
    (!patch.is_empty()).then_some(patch)
}
