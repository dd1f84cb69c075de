//! The stable runner: replay a target's corpus, then mutate it for a time
//! budget; on a failure, save the input and say how to replay it.
//!
//! The watchdog is the one place in this crate that prints and ends the
//! process: a hung input cannot be unwound, so it saves the input, says
//! so on stderr and exits with status 70.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Target;
use crate::mutate::{Mutator, Rng};

/// The seed used when `CTXVAULT_FUZZ_SEED` is not set.
pub const DEFAULT_SEED: u64 = 0x00c7_8a17_f022;

/// How one campaign runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time spent mutating, after the replay.
    pub budget: Duration,
    /// The seed of the mutations (mixed with the target's name).
    pub seed: u64,
    /// Where the corpus directories are (`fuzz/corpus`).
    pub corpus: PathBuf,
    /// Where failing inputs are written.
    pub crashes: PathBuf,
    /// Longest one input may run before the run is stopped as hung.
    pub hang: Duration,
}

/// A failure of the environment, not of a target (a bad variable, an
/// unreadable corpus).
#[derive(Debug)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

fn env_secs(var: &str, default: f64) -> Result<Duration, SetupError> {
    match std::env::var(var) {
        Err(_) => Ok(Duration::from_secs_f64(default)),
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| SetupError(format!("{var}={v:?} is not a number of seconds"))),
    }
}

impl Options {
    /// Options from the environment (`CTXVAULT_FUZZ_SECS`,
    /// `CTXVAULT_FUZZ_SEED`, `CTXVAULT_FUZZ_CRASH_DIR`,
    /// `CTXVAULT_FUZZ_HANG_SECS`), with the crate's corpus.
    pub fn from_env() -> Result<Options, SetupError> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let seed = match std::env::var("CTXVAULT_FUZZ_SEED") {
            Err(_) => DEFAULT_SEED,
            Ok(v) if v.trim() == "random" => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(DEFAULT_SEED),
            Ok(v) => {
                let v = v.trim();
                let parsed = match v.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16).ok(),
                    None => v.parse().ok(),
                };
                parsed.ok_or_else(|| {
                    SetupError(format!(
                        "CTXVAULT_FUZZ_SEED={v:?} is neither a number nor `random`"
                    ))
                })?
            }
        };
        Ok(Options {
            budget: env_secs("CTXVAULT_FUZZ_SECS", 2.0)?,
            seed,
            corpus: root.join("corpus"),
            crashes: std::env::var_os("CTXVAULT_FUZZ_CRASH_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("crashes")),
            hang: env_secs("CTXVAULT_FUZZ_HANG_SECS", 30.0)?,
        })
    }
}

/// What a campaign did.
#[derive(Clone, Debug)]
pub struct Stats {
    /// The target.
    pub target: &'static str,
    /// Corpus files replayed.
    pub replayed: usize,
    /// Mutated inputs run.
    pub mutants: u64,
    /// Time taken, replay included.
    pub elapsed: Duration,
    /// The seed of the mutations.
    pub seed: u64,
}

/// A target that failed on an input.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong.
    pub message: String,
    /// Where the input was saved (`None` if it could not be written).
    pub saved: Option<PathBuf>,
    /// The input.
    pub input: Vec<u8>,
}

/// The files of `dir`, sorted by name (none if it does not exist).
pub fn load_corpus(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, SetupError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SetupError(format!("{}: {e}", dir.display()))),
    };
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|e| SetupError(format!("{}: {e}", dir.display())))?;
        let path = e.path();
        if path.is_file() {
            let bytes =
                fs::read(&path).map_err(|e| SetupError(format!("{}: {e}", path.display())))?;
            files.push((e.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    files.sort();
    Ok(files)
}

/// FNV-1a, for naming saved inputs and mixing seeds.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bytes as a Rust byte-string literal body, cut at `max` bytes.
pub fn escape(bytes: &[u8], max: usize) -> String {
    let mut s: String = bytes[..bytes.len().min(max)]
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > max {
        s.push_str(&format!("... ({} bytes in all)", bytes.len()));
    }
    s
}

fn save(opts: &Options, target: &Target, input: &[u8]) -> Option<PathBuf> {
    let path = opts
        .crashes
        .join(format!("{}-{:016x}", target.name, fnv(input)));
    fs::create_dir_all(&opts.crashes).ok()?;
    fs::write(&path, input).ok()?;
    Some(path)
}

/// Stops the process when one input runs longer than the limit: a hang
/// cannot be unwound, so the input is saved and the run ends here.
struct Watchdog {
    current: Arc<Mutex<Vec<u8>>>,
    tick: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn start(opts: &Options, target: &'static Target) -> Watchdog {
        let w = Watchdog {
            current: Arc::new(Mutex::new(Vec::new())),
            tick: Arc::new(AtomicU64::new(0)),
            done: Arc::new(AtomicBool::new(false)),
        };
        let (current, tick, done) = (w.current.clone(), w.tick.clone(), w.done.clone());
        let opts = opts.clone();
        std::thread::spawn(move || {
            let step = Duration::from_millis(100);
            let mut last = (u64::MAX, Instant::now());
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                let t = tick.load(Ordering::SeqCst);
                if t != last.0 {
                    last = (t, Instant::now());
                } else if last.1.elapsed() > opts.hang {
                    let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let saved = save(&opts, target, &input);
                    eprintln!(
                        "FUZZ HANG: target {} ran one input for over {:?} (seed {:#x})\n  input saved to {}\n  input: b\"{}\"\n  replay: cargo run -p ctxvault-fuzz -- replay {} <file>",
                        target.name,
                        opts.hang,
                        opts.seed,
                        saved.map_or("(could not save)".into(), |p| p.display().to_string()),
                        escape(&input, 4096),
                        target.name
                    );
                    std::process::exit(70);
                }
            }
        });
        w
    }

    fn begin(&self, input: &[u8]) {
        if let Ok(mut c) = self.current.lock() {
            c.clear();
            c.extend_from_slice(input);
        }
        self.tick.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

/// Replay `target`'s corpus, then mutate it until the budget is spent.
/// Stops at the first failure.
pub fn campaign(target: &'static Target, opts: &Options) -> Result<Stats, Failure> {
    let started = Instant::now();
    let seed = opts.seed ^ fnv(target.name.as_bytes());
    let corpus = load_corpus(&opts.corpus.join(target.name)).map_err(|e| Failure {
        message: e.0,
        saved: None,
        input: Vec::new(),
    })?;
    let dog = Watchdog::start(opts, target);
    let fail = |message: String, input: &[u8]| Failure {
        saved: save(opts, target, input),
        message,
        input: input.to_vec(),
    };
    for (name, bytes) in &corpus {
        dog.begin(bytes);
        crate::check(target, bytes)
            .map_err(|m| fail(format!("{m} (corpus file {name})"), bytes))?;
    }
    let inputs: Vec<&[u8]> = if corpus.is_empty() {
        vec![b"".as_slice()]
    } else {
        corpus.iter().map(|(_, b)| b.as_slice()).collect()
    };
    let mutator = Mutator {
        dict: target.dict,
        max_len: target.max_len,
    };
    let mut rng = Rng::new(seed);
    let mut mutants = 0u64;
    let deadline = Instant::now() + opts.budget;
    while Instant::now() < deadline {
        let base = inputs[rng.below(inputs.len())];
        let other = inputs[rng.below(inputs.len())];
        let input = mutator.mutate(&mut rng, base, other);
        dog.begin(&input);
        mutants += 1;
        crate::check(target, &input)
            .map_err(|m| fail(format!("{m} (mutant {mutants})"), &input))?;
    }
    Ok(Stats {
        target: target.name,
        replayed: corpus.len(),
        mutants,
        elapsed: started.elapsed(),
        seed,
    })
}

/// A failure as the lines a person needs: what, where it was saved, the
/// input, and how to replay it.
pub fn describe(target: &Target, opts: &Options, f: &Failure) -> String {
    format!(
        "FUZZ FAILURE: {}\n  seed: {:#x} (CTXVAULT_FUZZ_SEED)\n  input saved to {}\n  input: b\"{}\"\n  replay: cargo run -p ctxvault-fuzz -- replay {} <file>",
        f.message,
        opts.seed,
        f.saved
            .as_ref()
            .map_or("(could not save)".into(), |p| p.display().to_string()),
        escape(&f.input, 4096),
        target.name
    )
}
