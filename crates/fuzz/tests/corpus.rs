//! The regression corpus replays clean, and a short fixed-seed campaign finds nothing.

use uiommu_fuzz::campaign::sequence_seed;
use uiommu_fuzz::{corpus, generate, run};

#[test]
fn every_corpus_sequence_replays_without_failure() {
    let cases = corpus::load(&corpus::default_dir()).unwrap();
    assert!(cases.len() >= 5, "the corpus is missing");
    for (path, seq) in cases {
        assert!(!seq.calls.is_empty(), "{}", path.display());
        if let Err(f) = run(&seq) {
            panic!("{}: {f}\n{}", path.display(), seq.to_text());
        }
    }
}

#[test]
fn fixed_seeds_play_clean_on_every_model() {
    let mut models = std::collections::BTreeSet::new();
    for n in 0..300 {
        let seq = generate(sequence_seed(0x5eed, 0, n));
        models.insert(seq.model.clone());
        if let Err(f) = run(&seq) {
            panic!("sequence {n}: {f}\n{}", seq.to_text());
        }
    }
    assert_eq!(models.len(), uiommu_core::driver::MODELS.len());
}
