//! `ctxvault-fuzz`: run the fuzz targets on stable Rust (see the crate's
//! docs for the environment variables).
//!
//! ```text
//! ctxvault-fuzz run [TARGET...]      replay the corpus, then mutate for the budget
//! ctxvault-fuzz replay TARGET FILE...  run the target on these inputs once
//! ctxvault-fuzz seed                 rewrite the seed-* files of the corpus
//! ctxvault-fuzz list                 the targets
//! ```

use std::process::ExitCode;
use std::time::Instant;

use ctxvault_fuzz::runner::{self, Options};
use ctxvault_fuzz::{TARGETS, Target, check, seeds, target};

fn targets(names: &[String]) -> Result<Vec<&'static Target>, String> {
    if names.is_empty() {
        return Ok(TARGETS.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            target(n).ok_or_else(|| {
                let all: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
                format!("no target {n:?}; the targets are {}", all.join(", "))
            })
        })
        .collect()
}

fn run(names: &[String]) -> Result<bool, String> {
    let opts = Options::from_env().map_err(|e| e.to_string())?;
    let chosen = targets(names)?;
    eprintln!(
        "fuzzing {} target(s), {:.1} s each, seed {:#x}",
        chosen.len(),
        opts.budget.as_secs_f64(),
        opts.seed
    );
    let started = Instant::now();
    let (mut inputs, mut passed, mut failed) = (0u64, 0, 0);
    for t in chosen {
        match runner::campaign(t, &opts) {
            Ok(s) => {
                passed += 1;
                inputs += s.mutants + s.replayed as u64;
                let rate = s.mutants as f64 / s.elapsed.as_secs_f64().max(1e-9);
                println!(
                    "{:<8} {:>4} corpus files, {:>9} mutants in {:>5.1} s ({:>8.0}/s)",
                    s.target,
                    s.replayed,
                    s.mutants,
                    s.elapsed.as_secs_f64(),
                    rate
                );
            }
            Err(f) => {
                failed += 1;
                eprintln!("{}", runner::describe(t, &opts, &f));
            }
        }
    }
    println!(
        "{inputs} inputs in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The closing line CI reads.
    println!("fuzz: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn replay(args: &[String]) -> Result<bool, String> {
    let [name, files @ ..] = args else {
        return Err("usage: ctxvault-fuzz replay TARGET FILE...".into());
    };
    let t = targets(std::slice::from_ref(name))?[0];
    let mut ok = true;
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("{f}: {e}"))?;
        match check(t, &bytes) {
            Ok(()) => println!("{f}: ok"),
            Err(m) => {
                println!("{f}: {m}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("seed") => Options::from_env()
            .map_err(|e| e.to_string())
            .and_then(|o| {
                seeds::write_all(&o.corpus)
                    .map_err(|e| e.to_string())
                    .map(|n| (o, n))
            })
            .map(|(o, n)| {
                println!("wrote {n} seed files under {}", o.corpus.display());
                true
            }),
        Some("list") => {
            for t in TARGETS {
                println!("{}", t.name);
            }
            Ok(true)
        }
        _ => {
            Err("usage: ctxvault-fuzz run [TARGET...] | replay TARGET FILE... | seed | list".into())
        }
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ctxvault-fuzz: {e}");
            ExitCode::from(2)
        }
    }
}
