//! Feature-spec and pipeline-spec JSON: parse (`FeatureSpec::from_json`,
//! `PipelineSpec::from_json`), validate (`FeatureEngine::new`, `PipelineSpec::validate`) and, for
//! an accepted spec, check that `to_json` parses back to an equal spec, that an engine runs probe
//! events (update, the columnar batch, feedback, forget, snapshot / restore, key hashing) without
//! panicking, and that its snapshot restores to an engine that continues identically.
#![no_main]

use fraud_core::features::{FeatureEngine, FeatureSpec};
use fraud_core::scoring::PipelineSpec;
use fraud_core_fuzz::{SECRET, bits, probe_events};
use libfuzzer_sys::fuzz_target;

fn run_engine(spec: &FeatureSpec, hashed: bool) {
    let made = if hashed {
        FeatureEngine::with_key_secret(spec.clone(), SECRET)
    } else {
        FeatureEngine::new(spec.clone())
    };
    let Ok(mut a) = made else { return };
    let evs = probe_events(&a, 1_000_000, 12);
    let mut rows = vec![];
    for ev in &evs[..6] {
        if let Ok(r) = a.update(ev) {
            assert_eq!(r.len(), a.n_features());
            rows.push(r);
        }
    }
    let _ = a.forget("b");
    let snap = a.snapshot().expect("snapshot");
    let mut b = if hashed {
        FeatureEngine::restore_with_secret(&snap, SECRET)
    } else {
        FeatureEngine::restore(&snap)
    }
    .expect("restore");
    for ev in &evs[6..] {
        match (a.update(ev), b.update(ev)) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y)),
            (x, y) => assert_eq!(x, y),
        }
    }
    assert_eq!(a.stats(), b.stats());
    let mut c = FeatureEngine::new(spec.clone()).expect("valid once, valid again");
    let _ = c.transform(&evs);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = FeatureSpec::from_json(text) {
        let again = FeatureSpec::from_json(&spec.to_json()).expect("to_json parses back");
        assert_eq!(again, spec, "to_json round trip");
        run_engine(&spec, false);
        run_engine(&spec, data.len() % 2 == 0);
    }
    if let Ok(spec) = PipelineSpec::from_json(text) {
        let again = PipelineSpec::from_json(&spec.to_json()).expect("to_json parses back");
        assert_eq!(again, spec, "to_json round trip");
        if spec.validate().is_ok() {
            run_engine(&spec.features, false);
        }
    }
});
