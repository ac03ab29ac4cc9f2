//! Stateful target: the fuzz input chooses a feature spec (every feature kind, lateness and its
//! policy, optional TTL and LRU cap, raw or hashed keys) and a sequence of operations (events over
//! small key / time / amount alphabets with ties, late and too-late times, extreme times; label
//! feedback; `forget(key)`; snapshot + restore; columnar batches). Three implementations run it:
//!
//! * engine A: `update` per event, snapshot/restored whenever the input says so;
//! * engine B: never snapshotted, batches through `transform_columns`;
//! * the naive reference (`fraud_core::features::reference::NaiveEngine`).
//!
//! A and B must agree bit for bit (outputs, errors, stats, entity counts), and both must match the
//! naive recomputation (relative 1e-9; 1e-6 for decayed std / z-score).
#![no_main]

use fraud_core::Error;
use fraud_core::event::Event;
use fraud_core::event::{EventColumns, Feedback, KeyColumn, TimeColumn};
use fraud_core::features::engine::MAX_ABS_TIME_MS;
use fraud_core::features::reference::{NaiveEngine, close, loose};
use fraud_core::features::{DecayStat, FeatureEngine, FeatureKind, FeatureSpec};
use fraud_core_fuzz::{SECRET, bits};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const CARDS: [&str; 4] = ["a", "b", "c", "d"];
const SHOPS: [&str; 3] = ["a", "b", "e"];
const WINDOWS: [i64; 6] = [1, 2, 999, 1000, 4000, 60_000];
const DELAYS: [i64; 6] = [0, 0, 0, 1, 500, 3000];
const LATENESS: [i64; 5] = [0, 1, 500, 1000, 3000];
const HALF_LIVES: [i64; 4] = [1, 700, 2500, 10_000];
const GAPS: [i64; 13] = [
    0, 0, 1, 7, 100, 499, 500, 501, 999, 1000, 1001, 4000, 60_000,
];
const BACK: [i64; 8] = [1, 2, 500, 999, 1000, 1001, 3000, 5000];
const T0: [i64; 5] = [
    0,
    1_000_000,
    -5_000_000_000_000,
    MAX_ABS_TIME_MS - 100_000,
    -MAX_ABS_TIME_MS + 10,
];

fn pick<T: Copy>(u: &mut Unstructured<'_>, xs: &[T]) -> AResult<T> {
    Ok(*u.choose(xs)?)
}

struct Built {
    spec: FeatureSpec,
    hashed: bool,
    t0: i64,
}

fn build_spec(u: &mut Unstructured<'_>) -> AResult<Option<Built>> {
    let lateness = pick(u, &LATENESS)?;
    let policy = pick(u, &["error", "drop", "process"])?;
    let use_ttl = u.ratio(1, 4)?;
    let cap: Option<usize> = if u.ratio(1, 4)? {
        Some(u.int_in_range(1..=4)?)
    } else {
        None
    };
    let hashed = u.ratio(1, 4)?;
    let t0 = pick(u, &T0)?;
    let n = u.int_in_range(1..=6)?;
    let mut features: Vec<Value> = vec![];
    let mut span = 0i64;
    let mut max_gap_all = 0i64;
    for i in 0..n {
        let key = pick(u, &["card", "shop"])?;
        let name = format!("f{i}");
        let fill = if u.ratio(1, 2)? {
            json!(-1.0)
        } else {
            Value::Null
        };
        let f = match u.int_in_range(0..=4)? {
            0 => {
                let agg = pick(
                    u,
                    &[
                        "count", "sum", "mean", "std", "min", "max", "distinct", "risk",
                    ],
                )?;
                let w = pick(u, &WINDOWS)?;
                let d = pick(u, &DELAYS)?;
                span = span.max(w + d);
                let mut f =
                    json!({"kind": "window", "name": name, "key": key, "agg": agg, "window": w});
                match agg {
                    "count" | "risk" => {}
                    "distinct" => f["field"] = json!(pick(u, &["card", "shop", "amount", "qty"])?),
                    _ => f["field"] = json!(pick(u, &["amount", "qty"])?),
                }
                if d > 0 {
                    f["delay"] = json!(d);
                } else if u.ratio(1, 2)? {
                    f["include_current"] = json!(u.arbitrary::<bool>()?);
                }
                if agg == "std" {
                    f["ddof"] = json!(u.int_in_range(0..=1u8)?);
                }
                f["fill"] = fill;
                f
            }
            1 => {
                let w = pick(u, &WINDOWS)?;
                let d = pick(u, &DELAYS)?;
                span = span.max(w + d);
                let mode = pick(u, &["ratio", "zscore"])?;
                let mut f = json!({"kind": "relative", "name": name, "key": key,
                    "field": pick(u, &["amount", "qty"])?, "window": w, "mode": mode,
                    "ddof": u.int_in_range(0..=1u8)?, "fill": fill});
                if d > 0 {
                    f["delay"] = json!(d);
                } else if u.ratio(1, 2)? {
                    f["include_current"] = json!(u.arbitrary::<bool>()?);
                }
                f
            }
            2 => {
                let mut f =
                    json!({"kind": "time_since_last", "name": name, "key": key, "fill": fill});
                if use_ttl || u.ratio(1, 2)? {
                    let g = pick(u, &[1i64, 1000, 5000])?;
                    max_gap_all = max_gap_all.max(g);
                    f["max_gap"] = json!(g);
                }
                f
            }
            3 => {
                let mut f = json!({"kind": "decayed", "name": name, "key": key,
                    "field": pick(u, &["amount", "qty"])?, "half_life": pick(u, &HALF_LIVES)?,
                    "fill": fill});
                if use_ttl || u.ratio(1, 2)? {
                    let w = pick(u, &[1i64, 1000, 5000])?;
                    span = span.max(w);
                    f["window"] = json!(w);
                } else {
                    f["stat"] = json!(pick(u, &["mean", "std", "zscore"])?);
                }
                f
            }
            _ => {
                let part = pick(u, &["hour", "weekday", "weekend", "night"])?;
                let mut f = json!({"kind": "calendar", "name": name, "part": part,
                    "utc_offset_minutes": u.int_in_range(-1080..=1080)?});
                if part == "night" {
                    f["night_hours"] =
                        json!([u.int_in_range(0..=24u8)?, u.int_in_range(0..=24u8)?]);
                }
                f
            }
        };
        features.push(f);
    }
    let mut v = json!({
        "schema": {"timestamp": "ts", "time_unit": "ms", "keys": ["card", "shop"],
                   "numeric": ["amount", "qty"], "label": "fraud", "id": "tx"},
        "lateness": {"allowed": lateness, "policy": policy},
        "features": features,
    });
    if use_ttl {
        let extra = pick(u, &[0i64, 1, 5000])?;
        v["ttl"] = json!(lateness + span.max(max_gap_all) + extra);
    }
    if let Some(c) = cap {
        v["max_entities"] = json!(c);
    }
    let Ok(spec) = FeatureSpec::from_value(v) else {
        return Ok(None);
    };
    Ok(Some(Built { spec, hashed, t0 }))
}

/// `FUZZ_TRACE=1` prints the spec and every operation (to read a crash).
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

#[derive(Debug)]
enum Op {
    Update(Event),
    Feedback(Feedback),
    Forget(String),
    Snapshot,
    Batch(usize),
}

fn decode_ops(u: &mut Unstructured<'_>, t0: i64) -> AResult<Vec<Op>> {
    let mut ops = vec![];
    let mut newest = t0;
    while !u.is_empty() && ops.len() < 160 {
        let op = u.int_in_range(0..=15u8)?;
        ops.push(match op {
            0..=8 | 14 | 15 => {
                let t = match op {
                    14 => {
                        newest = newest
                            .saturating_add(pick(u, &[86_400_000i64, 1_000_000_000, 40_000_000])?);
                        newest
                    }
                    15 => pick(
                        u,
                        &[
                            MAX_ABS_TIME_MS,
                            MAX_ABS_TIME_MS + 1,
                            -MAX_ABS_TIME_MS - 1,
                            i64::MIN,
                            i64::MAX,
                        ],
                    )?,
                    _ => {
                        newest = newest.saturating_add(pick(u, &GAPS)?);
                        if u.ratio(1, 4)? {
                            newest.saturating_sub(pick(u, &BACK)?)
                        } else {
                            newest
                        }
                    }
                };
                let keys = vec![pick(u, &CARDS)?.to_string(), pick(u, &SHOPS)?.to_string()];
                let amount = if u.ratio(1, 16)? {
                    -0.0
                } else {
                    u.int_in_range(-100..=100i32)? as f64 / 4.0
                };
                let qty = u.int_in_range(0..=3u8)? as f64;
                let label = pick(u, &[None, Some(0.0), Some(1.0), Some(0.5)])?;
                let mut ev = Event::new(t, keys, vec![amount, qty], label);
                if u.ratio(3, 4)? {
                    ev.id = Some(format!("t{}", u.int_in_range(0..=5u8)?));
                }
                Op::Update(ev)
            }
            9 | 10 => Op::Feedback(Feedback {
                id: format!("t{}", u.int_in_range(0..=5u8)?),
                keys: vec![pick(u, &CARDS)?.to_string(), pick(u, &SHOPS)?.to_string()],
                label: pick(u, &[0.0, 1.0, 0.5, f64::NAN])?,
            }),
            11 => Op::Forget(pick(u, &["a", "b", "c", "d", "e", "zz"])?.to_string()),
            12 => Op::Snapshot,
            _ => Op::Batch(u.int_in_range(1..=8)?),
        });
    }
    Ok(ops)
}

struct Run {
    a: FeatureEngine,
    b: FeatureEngine,
    n: NaiveEngine,
    hashed: bool,
    loose_cols: Vec<bool>,
}

impl Run {
    fn compare_rows(&self, ev: &Event, ra: &[f64], rb: &[f64], rn: &[f64]) {
        assert_eq!(bits(ra), bits(rb), "engines A and B differ on {ev:?}");
        for (j, (x, y)) in ra.iter().zip(rn).enumerate() {
            let ok = if self.loose_cols[j] {
                loose(*x, *y)
            } else {
                close(*x, *y)
            };
            assert!(
                ok,
                "feature {} ({:?}): engine {x} naive {y} on {ev:?}",
                j,
                self.a.spec().features[j]
            );
        }
    }

    fn check_state(&self) {
        let (sa, sb, sn) = (self.a.stats(), self.b.stats(), self.n.stats);
        assert_eq!(sa, sb);
        assert_eq!(self.a.entity_count(), self.b.entity_count());
        assert_eq!(
            self.a.entity_count(),
            self.n.entity_count(),
            "entity count vs naive"
        );
        assert_eq!(self.a.newest_time_ms(), self.n.newest_time_ms());
        assert_eq!(self.b.newest_time_ms(), self.n.newest_time_ms());
        assert_eq!(
            (
                sa.events,
                sa.late_placed,
                sa.late_dropped,
                sa.late_processed
            ),
            (
                sn.events,
                sn.late_placed,
                sn.late_dropped,
                sn.late_processed
            ),
            "event counters vs naive"
        );
        assert_eq!(
            (sa.ttl_evictions, sa.lru_evictions, sa.forgotten),
            (sn.ttl_evictions, sn.lru_evictions, sn.forgotten),
            "eviction counters vs naive"
        );
        assert_eq!(sa.feedback_applied + sa.feedback_unmatched, sn.feedback);
    }

    fn update(&mut self, ev: &Event) -> bool {
        let ra = self.a.update(ev);
        let rb = self.b.update(ev);
        let rn = self.n.update(ev);
        match (ra, rb, rn) {
            (Ok(ra), Ok(rb), Ok(rn)) => {
                self.compare_rows(ev, &ra, &rb, &rn);
                true
            }
            (Err(ea), Err(eb), Err(_)) => {
                assert_eq!(ea, eb);
                false
            }
            (ra, rb, rn) => panic!("outcomes differ on {ev:?}: A {ra:?} B {rb:?} naive {rn:?}"),
        }
    }

    /// Events through A (one by one, stopping at the first error), B (`transform_columns`) and the
    /// reference.
    fn batch(&mut self, evs: &[Event]) {
        let nf = self.a.n_features();
        let mut rows_a = vec![];
        let mut fail = None;
        for (i, ev) in evs.iter().enumerate() {
            match self.a.update(ev) {
                Ok(r) => rows_a.push(r),
                Err(e) => {
                    fail = Some((i, e));
                    break;
                }
            }
        }
        let cards: Vec<String> = CARDS.iter().map(|s| s.to_string()).collect();
        let shops: Vec<String> = SHOPS.iter().map(|s| s.to_string()).collect();
        let ids: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
        let time: Vec<i64> = evs.iter().map(|e| e.time_ms).collect();
        let code = |vals: &[String], s: &str| vals.iter().position(|v| v == s).unwrap() as i64;
        let cc: Vec<i64> = evs.iter().map(|e| code(&cards, &e.keys[0])).collect();
        let sc: Vec<i64> = evs.iter().map(|e| code(&shops, &e.keys[1])).collect();
        let amount: Vec<f64> = evs.iter().map(|e| e.values[0]).collect();
        let qty: Vec<f64> = evs.iter().map(|e| e.values[1]).collect();
        let label: Vec<f64> = evs.iter().map(|e| e.label.unwrap_or(f64::NAN)).collect();
        let idc: Vec<i64> = evs
            .iter()
            .map(|e| e.id.as_deref().map_or(-1, |s| code(&ids, s)))
            .collect();
        let cols = EventColumns {
            time: TimeColumn::Millis(&time),
            keys: vec![
                KeyColumn {
                    codes: &cc,
                    values: &cards,
                },
                KeyColumn {
                    codes: &sc,
                    values: &shops,
                },
            ],
            numeric: vec![&amount, &qty],
            label: Some(&label),
            id: Some(KeyColumn {
                codes: &idc,
                values: &ids,
            }),
        };
        let rb = self.b.transform_columns(&cols);
        match (&fail, &rb) {
            (None, Ok(rb)) => assert_eq!(rb.len(), evs.len() * nf),
            (Some((i, ea)), Err(Error::InRow { row, source })) => {
                assert_eq!(row, i, "batch fails at the same row");
                assert_eq!(&**source, ea);
            }
            _ => panic!("batch outcomes differ: A {fail:?} B {rb:?}"),
        }
        let done = fail.as_ref().map_or(evs.len(), |f| f.0);
        for (i, ev) in evs[..done].iter().enumerate() {
            let rn = self
                .n
                .update(ev)
                .expect("the reference admits what the engine admitted");
            let rb = &rb
                .as_ref()
                .map(|v| v[i * nf..(i + 1) * nf].to_vec())
                .unwrap_or_else(|_| {
                    // B failed later in the batch: its earlier rows are not returned; compare A only.
                    rows_a[i].clone()
                });
            self.compare_rows(ev, &rows_a[i], rb, &rn);
        }
        if done < evs.len() {
            assert!(
                self.n.update(&evs[done]).is_err(),
                "the reference refuses it too"
            );
        }
    }
}

fn run(data: &[u8]) -> AResult<()> {
    let mut u = Unstructured::new(data);
    let Some(Built { spec, hashed, t0 }) = build_spec(&mut u)? else {
        return Ok(());
    };
    let make = |spec: FeatureSpec| {
        if hashed {
            FeatureEngine::with_key_secret(spec, SECRET)
        } else {
            FeatureEngine::new(spec)
        }
    };
    let Ok(a) = make(spec.clone()) else {
        return Ok(());
    };
    let b = make(spec.clone()).expect("same spec");
    let loose_cols = spec
        .features
        .iter()
        .map(|f| {
            matches!(
                f,
                FeatureKind::Decayed {
                    stat: Some(DecayStat::Std | DecayStat::Zscore),
                    ..
                }
            ) || matches!(f, FeatureKind::Decayed { window: Some(_), .. } if spec.ttl.is_some())
        })
        .collect();
    let mut r = Run {
        a,
        b,
        n: NaiveEngine::new(spec),
        hashed,
        loose_cols,
    };
    let ops = decode_ops(&mut u, t0)?;
    if trace() {
        eprintln!("spec: {}\nhashed: {hashed}", r.a.spec().to_json());
    }
    let mut i = 0;
    while i < ops.len() {
        if trace() {
            eprintln!("op {i}: {:?}", ops[i]);
        }
        match &ops[i] {
            Op::Update(ev) => {
                r.update(ev);
            }
            Op::Feedback(fb) => {
                let fa = r.a.feedback(fb);
                let fbb = r.b.feedback(fb);
                let fnv = r.n.feedback(&fb.id, &fb.keys, fb.label);
                match (fa, fbb, fnv) {
                    (Ok(x), Ok(y), Ok(z)) => {
                        assert_eq!(x, y);
                        assert!(
                            !x || z,
                            "engine found feedback target the reference has not: {fb:?}"
                        );
                    }
                    (Err(_), Err(_), Err(_)) => {}
                    (x, y, z) => panic!("feedback outcomes differ: {x:?} {y:?} {z:?}"),
                }
            }
            Op::Forget(k) => {
                let (x, y, z) = (r.a.forget(k), r.b.forget(k), r.n.forget(k));
                assert_eq!((x, y), (z, z), "forget({k}) counts");
            }
            Op::Snapshot => {
                let bytes = r.a.snapshot().expect("snapshot");
                r.a = if r.hashed {
                    FeatureEngine::restore_with_secret(&bytes, SECRET)
                } else {
                    FeatureEngine::restore(&bytes)
                }
                .expect("a snapshot restores");
                // B's state comes from columnar batches too: it must restore as well.
                let bytes = r.b.snapshot().expect("snapshot");
                if r.hashed {
                    FeatureEngine::restore_with_secret(&bytes, SECRET)
                } else {
                    FeatureEngine::restore(&bytes)
                }
                .expect("a snapshot of the batch-fed engine restores");
            }
            Op::Batch(n) => {
                let evs: Vec<Event> = ops[i + 1..]
                    .iter()
                    .take(*n)
                    .map_while(|o| match o {
                        Op::Update(e) => Some(e.clone()),
                        _ => None,
                    })
                    .collect();
                i += evs.len();
                r.batch(&evs);
            }
        }
        r.check_state();
        i += 1;
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
