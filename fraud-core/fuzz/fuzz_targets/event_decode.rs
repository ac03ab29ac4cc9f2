//! Event decoding: JSON objects (`EventSchema::event_from_json` / `fill_from_json`,
//! `feedback_from_json`, `timestamp_from_json`, `parse_datetime_ms`, `FeatureEngine::update_json`)
//! and columnar batches (`check_columns`, `check_row`, `fill_from_columns`,
//! `FeatureEngine::transform_columns`), for a schema with each timestamp unit.
//!
//! Checks: nothing panics; `fill_from_json` into a dirty event equals `event_from_json`; an
//! accepted event passes `check` and re-parses identically from its canonical JSON; a datetime
//! that parses prints back and re-parses to the same instant; `check_row` equals
//! `fill_from_columns` + `check` (same time or the same error); `transform_columns` equals
//! `update` per row, bit for bit, failing at the same row with the same error.
#![no_main]

use std::sync::OnceLock;

use fraud_core::Error;
use fraud_core::event::{
    Event, EventColumns, KeyColumn, TimeColumn, days_from_civil, parse_datetime_ms,
};
use fraud_core::features::FeatureEngine;
use fraud_core_fuzz::{bits, probe_events};
use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn engines() -> &'static [FeatureEngine; 3] {
    static E: OnceLock<[FeatureEngine; 3]> = OnceLock::new();
    E.get_or_init(|| {
        ["s", "ms", "datetime"].map(|unit| {
            FeatureEngine::from_json(
                &json!({
                    "schema": {"timestamp": "ts", "time_unit": unit, "keys": ["card", "shop"],
                               "numeric": ["amount", "qty"], "label": "fraud", "id": "tx",
                               "ignore": ["note"]},
                    "lateness": {"allowed": 5000, "policy": "process"},
                    "features": [
                        {"kind": "window", "name": "n", "key": "card", "agg": "count", "window": 10_000},
                        {"kind": "window", "name": "risk", "key": "shop", "agg": "risk", "window": 10_000},
                        {"kind": "window", "name": "d", "key": "card", "agg": "distinct", "field": "amount", "window": 10_000},
                        {"kind": "decayed", "name": "dec", "key": "shop", "field": "qty", "half_life": 1000},
                        {"kind": "calendar", "name": "h", "part": "hour"}
                    ]
                })
                .to_string(),
            )
            .expect("the target's spec is valid")
        })
    })
}

/// `YYYY-MM-DDTHH:MM:SS.fffZ` for years 0..=9999 (Howard Hinnant's civil_from_days).
fn format_ms(ms: i64) -> Option<String> {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    if !(0..=9999).contains(&y) {
        return None;
    }
    assert_eq!(
        days_from_civil(y, m as u32, d as u32),
        days,
        "civil round trip"
    );
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    ))
}

fn check_datetime(s: &str) {
    if let Some(ms) = parse_datetime_ms(s)
        && let Some(text) = format_ms(ms)
    {
        assert_eq!(
            parse_datetime_ms(&text),
            Some(ms),
            "{s:?} -> {ms} -> {text:?}"
        );
    }
}

fn json_mode(unit: usize, text: &[u8]) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(text) else {
        if let Ok(s) = std::str::from_utf8(text) {
            check_datetime(s);
        }
        return;
    };
    let engine = &engines()[unit];
    let schema = engine.schema();
    for v in map.values() {
        let _ = schema.timestamp_from_json(v);
        if let Value::String(s) = v {
            check_datetime(s);
        }
    }
    let ev = schema.event_from_json(&map);
    let mut dirty = Event::new(5, vec!["zz".into(); 3], vec![9.0; 5], Some(3.0)).with_id("x");
    let filled = schema.fill_from_json(&map, &mut dirty);
    assert_eq!(ev.is_ok(), filled.is_ok(), "{ev:?} vs {filled:?}");
    if let Ok(ev) = &ev {
        assert_eq!(&dirty, ev, "fill_from_json into a used event");
        schema
            .check(ev)
            .expect("an event read from JSON passes check");
        let mut canon = Map::new();
        canon.insert(
            "ts".into(),
            match unit {
                0 if ev.time_ms % 1000 == 0 => json!(ev.time_ms / 1000),
                0 => json!(ev.time_ms as f64 / 1000.0),
                1 => json!(ev.time_ms),
                _ => match format_ms(ev.time_ms) {
                    Some(s) => json!(s),
                    None => json!(null),
                },
            },
        );
        canon.insert("card".into(), json!(ev.keys[0]));
        canon.insert("shop".into(), json!(ev.keys[1]));
        canon.insert("amount".into(), json!(ev.values[0]));
        canon.insert("qty".into(), json!(ev.values[1]));
        canon.insert("fraud".into(), json!(ev.label));
        if let Some(id) = &ev.id {
            canon.insert("tx".into(), json!(id));
        }
        if !canon["ts"].is_null()
            && !(unit == 0 && ev.time_ms % 1000 != 0 && ev.time_ms.abs() >= 100_000_000_000_000)
        {
            let again = schema
                .event_from_json(&canon)
                .expect("canonical JSON parses");
            assert_eq!(&again, ev, "canonical JSON {canon:?}");
        }
        let mut a = engine.clone();
        let mut b = engine.clone();
        match (a.update(ev), b.update_json(&map)) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y)),
            (x, y) => assert_eq!(x, y),
        }
    }
    let mut a = engine.clone();
    if let Ok(fb) = schema.feedback_from_json(&map) {
        a.feedback(&fb)
            .expect("feedback read from JSON is accepted");
    }
    let _ = a.feedback_json(&map);
}

fn f64_from(u: &mut Unstructured<'_>) -> AResult<f64> {
    Ok(match u.int_in_range(0..=9u8)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => 1e308,
        5 => f64::from_bits(u.arbitrary()?),
        _ => u.int_in_range(-8..=8i32)? as f64 * 0.5,
    })
}

fn i64_from(u: &mut Unstructured<'_>) -> AResult<i64> {
    Ok(match u.int_in_range(0..=7u8)? {
        0 => u.arbitrary()?,
        1 => i64::MIN,
        2 => i64::MAX,
        3 => 8_640_000_000_000_000 + u.int_in_range(-2..=2)?,
        _ => u.int_in_range(-3..=40i64)? * 500,
    })
}

fn len(u: &mut Unstructured<'_>, n: usize) -> AResult<usize> {
    Ok(if u.ratio(1, 16)? {
        n + 1
    } else if n > 0 && u.ratio(1, 16)? {
        n - 1
    } else {
        n
    })
}

fn columns_mode(unit: usize, data: &[u8]) -> AResult<()> {
    let mut u = Unstructured::new(data);
    let engine = &engines()[unit];
    let schema = engine.schema();
    let n = u.int_in_range(0..=12usize)?;
    let tk = u.int_in_range(0..=2u8)?;
    let mut ti = vec![];
    let mut tf = vec![];
    for _ in 0..n {
        ti.push(i64_from(&mut u)?);
        tf.push(f64_from(&mut u)?);
    }
    let vals: Vec<Vec<String>> = (0..2)
        .map(|k| {
            (0..u.int_in_range(0..=3usize).unwrap_or(0))
                .map(|i| format!("{k}{i}"))
                .collect()
        })
        .collect();
    let mut codes = vec![];
    for _ in 0..3 {
        let m = len(&mut u, n)?;
        let mut c = vec![];
        for _ in 0..m {
            c.push(if u.ratio(1, 8)? {
                u.arbitrary()?
            } else {
                u.int_in_range(-1..=3i64)?
            });
        }
        codes.push(c);
    }
    let mut nums = vec![];
    for _ in 0..3 {
        let m = len(&mut u, n)?;
        let mut c = vec![];
        for _ in 0..m {
            c.push(if u.ratio(1, 4)? {
                f64_from(&mut u)?
            } else {
                u.int_in_range(0..=3u8)? as f64
            });
        }
        nums.push(c);
    }
    let nk = if u.ratio(1, 16)? { 1 } else { 2 };
    let nn = if u.ratio(1, 16)? { 3 } else { 2 };
    let cols = EventColumns {
        time: match tk {
            0 => TimeColumn::Millis(&ti),
            1 => TimeColumn::Epoch(&ti),
            _ => TimeColumn::EpochFloat(&tf),
        },
        keys: (0..nk)
            .map(|k| KeyColumn {
                codes: &codes[k],
                values: &vals[k],
            })
            .collect(),
        numeric: (0..nn).map(|j| nums[j].as_slice()).collect(),
        label: if u.ratio(1, 2)? { Some(&nums[2]) } else { None },
        id: if u.ratio(1, 2)? {
            Some(KeyColumn {
                codes: &codes[2],
                values: &vals[0],
            })
        } else {
            None
        },
    };
    let checked = schema.check_columns(&cols);
    let mut a = engine.clone();
    let ra = a.transform_columns(&cols);
    if let Err(e) = checked {
        assert_eq!(
            ra,
            Err(e),
            "transform_columns refuses what check_columns refuses"
        );
        return Ok(());
    }
    let mut b = engine.clone();
    let mut ev = Event::default();
    let mut rows = vec![];
    let mut fail = None;
    for row in 0..cols.len() {
        let r1 = schema.check_row(&cols, row);
        let r2 = schema
            .fill_from_columns(&cols, row, &mut ev)
            .and_then(|()| schema.check(&ev))
            .map(|()| ev.time_ms);
        assert_eq!(r1, r2, "check_row vs fill_from_columns + check, row {row}");
        match r2.and_then(|_| b.update(&ev)) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                fail = Some((row, e));
                break;
            }
        }
    }
    match (ra, fail) {
        (Ok(x), None) => assert_eq!(bits(&x), bits(&rows)),
        (Err(Error::InRow { row, source }), Some((r, e))) => {
            assert_eq!((row, *source), (r, e));
        }
        (x, y) => panic!("transform_columns {x:?} vs update per row {y:?}"),
    }
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.entity_count(), b.entity_count());
    let t0 = a.newest_time_ms().unwrap_or(0);
    for ev in probe_events(&a, t0, 4) {
        match (a.update(&ev), b.update(&ev)) {
            (Ok(x), Ok(y)) => assert_eq!(bits(&x), bits(&y)),
            (x, y) => assert_eq!(x, y),
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let unit = (mode / 4 % 3) as usize;
    if mode % 4 == 0 {
        json_mode(unit, rest);
    } else {
        let _ = columns_mode(unit, rest);
    }
});
