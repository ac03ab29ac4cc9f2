//! Snapshot restore. Byte 0 chooses the mode:
//!
//! * `0`: the rest is snapshot (or pipeline) bytes as is;
//! * `1`: the rest is a payload, wrapped in a valid feature-engine envelope (mutated snapshots
//!   reach the state validation through the checksum); also tried as a pipeline payload;
//! * `2`: a valid scenario: events decoded from the rest drive an engine with every feature kind
//!   (raw or hashed keys), which is snapshotted and restored at points the input chooses; the
//!   restored engine must continue bit-identically to one that never was.
//!
//! In modes 0 and 1 nothing may panic, and an accepted snapshot must snapshot again, restore
//! again, and continue identically to the first restore on probe events (updates, feedback,
//! forget).
#![no_main]

use fraud_core::event::{Event, Feedback};
use fraud_core::features::{FeatureEngine, FeatureSpec};
use fraud_core::model::ArtifactKind;
use fraud_core::scoring::Pipeline;
use fraud_core_fuzz::{RICH_SPEC, SECRET, bits, envelope, probe_events};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;

fn restore(bytes: &[u8], hashed: bool) -> fraud_core::Result<FeatureEngine> {
    if hashed {
        FeatureEngine::restore_with_secret(bytes, SECRET)
    } else {
        FeatureEngine::restore(bytes)
    }
}

fn same(a: &FeatureEngine, b: &FeatureEngine) {
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.entity_count(), b.entity_count());
    assert_eq!(a.newest_time_ms(), b.newest_time_ms());
}

fn continue_both(a: &mut FeatureEngine, b: &mut FeatureEngine, evs: &[Event]) {
    same(a, b);
    let nk = a.schema().key_fields().len();
    for (i, ev) in evs.iter().enumerate() {
        match (a.update(ev), b.update(ev)) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y), "event {i}"),
            (x, y) => assert_eq!(x, y, "event {i}"),
        }
        if i % 3 == 2 {
            let fb = Feedback {
                id: format!("t{}", i % 4),
                keys: ev.keys.clone(),
                label: 1.0,
            };
            match (a.feedback(&fb), b.feedback(&fb)) {
                (Ok(x), Ok(y)) => assert_eq!(x, y),
                (x, y) => assert_eq!(x.is_ok(), y.is_ok()),
            }
        }
        if i % 4 == 3 && nk > 0 {
            assert_eq!(a.forget(&ev.keys[0]), b.forget(&ev.keys[0]));
        }
        same(a, b);
    }
}

fn untrusted(bytes: &[u8]) {
    for hashed in [false, true] {
        let Ok(mut a) = restore(bytes, hashed) else {
            continue;
        };
        let snap = a.snapshot().expect("a restored engine snapshots");
        let mut b = restore(&snap, hashed).expect("and restores again");
        let t0 = a.newest_time_ms().unwrap_or(0);
        let evs = probe_events(&a, t0, 10);
        continue_both(&mut a, &mut b, &evs);
    }
    if let Ok(mut p) = Pipeline::from_bytes(bytes) {
        let t0 = p.engine().newest_time_ms().unwrap_or(0);
        for ev in probe_events(p.engine(), t0, 5) {
            let _ = p.score(&ev);
        }
        let _ = p.to_bytes().expect("a decoded pipeline re-encodes");
    }
}

fn scenario(data: &[u8]) -> AResult<()> {
    let mut u = Unstructured::new(data);
    let hashed: bool = u.arbitrary()?;
    let spec = FeatureSpec::from_json(RICH_SPEC).expect("valid");
    let make = || {
        if hashed {
            FeatureEngine::with_key_secret(spec.clone(), SECRET).unwrap()
        } else {
            FeatureEngine::new(spec.clone()).unwrap()
        }
    };
    let mut evs = vec![];
    let mut t = 1_000_000i64;
    while !u.is_empty() && evs.len() < 120 {
        t += *u.choose(&[0i64, 1, 300, 999, 1000, 2500, 6000])?;
        let back = if u.ratio(1, 5)? {
            *u.choose(&[1i64, 500, 1000, 1001])?
        } else {
            0
        };
        let keys = vec![
            u.choose(&["a", "b", "c"])?.to_string(),
            u.choose(&["a", "b", "s"])?.to_string(),
        ];
        let label = *u.choose(&[None, Some(0.0), Some(1.0)])?;
        let ev = Event::new(
            t - back,
            keys,
            vec![
                u.int_in_range(-40..=40i32)? as f64 / 4.0,
                u.int_in_range(0..=3u8)? as f64,
            ],
            label,
        )
        .with_id(format!("t{}", u.int_in_range(0..=3u8)?));
        evs.push(ev);
    }
    let cuts: Vec<usize> = (0..u.int_in_range(0..=3u8)?)
        .map(|_| u.int_in_range(0..=evs.len()).unwrap_or(0))
        .collect();
    let mut plain = make();
    let mut a = make();
    for (i, ev) in evs.iter().enumerate() {
        for _ in cuts.iter().filter(|&&c| c == i) {
            let snap = a.snapshot().expect("snapshot");
            a = restore(&snap, hashed).expect("a snapshot restores");
            same(&a, &plain);
        }
        match (a.update(ev), plain.update(ev)) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y), "event {i} after restore"),
            (x, y) => assert_eq!(x, y),
        }
        if i % 7 == 6 {
            let fb = Feedback {
                id: "t1".into(),
                keys: ev.keys.clone(),
                label: 1.0,
            };
            assert_eq!(a.feedback(&fb), plain.feedback(&fb));
        }
    }
    same(&a, &plain);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => untrusted(rest),
        1 => {
            untrusted(&envelope(ArtifactKind::FeatureEngineSnapshot.tag(), rest));
            untrusted(&envelope(ArtifactKind::Pipeline.tag(), rest));
        }
        _ => {
            let _ = scenario(rest);
        }
    }
});
