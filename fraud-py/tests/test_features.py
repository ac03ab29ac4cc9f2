"""fraud_core.FeatureEngine: specs, transform vs update, time and key conversions, state, errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fraud_core
from fraud_core import (
    FeatureEngine,
    FraudError,
    InvalidInputError,
    InvalidParameterError,
    KeySecretError,
    LateEventError,
    SchemaError,
    SpecError,
)

SPEC = {
    "schema": {
        "timestamp": "ts",
        "time_unit": "s",
        "keys": ["card", "shop"],
        "numeric": ["amount"],
        "label": "fraud",
        "ignore": ["id"],
    },
    "lateness": {"allowed": "10m", "policy": "error"},
    "features": [
        {"kind": "window", "name": "n_1h", "key": "card", "agg": "count", "window": "1h"},
        {
            "kind": "window",
            "name": "avg_1h",
            "key": "card",
            "agg": "mean",
            "field": "amount",
            "window": "1h",
            "include_current": False,
            "fill": 0,
        },
        {"kind": "window", "name": "max_1d", "key": "card", "agg": "max", "field": "amount", "window": "1d"},
        {"kind": "window", "name": "shops_1d", "key": "card", "agg": "distinct", "field": "shop", "window": "1d"},
        {"kind": "window", "name": "risk_1d", "key": "shop", "agg": "risk", "window": "1d", "delay": "1h"},
        {"kind": "time_since_last", "name": "gap", "key": "card"},
        {"kind": "calendar", "name": "hour", "part": "hour"},
    ],
}
SECRET = b"0123456789abcdef-test-secret"
T0 = 1_522_540_800  # 2018-04-01 00:00:00 UTC


def stream(n: int = 400, seed: int = 0, late: bool = False) -> pd.DataFrame:
    """A random stream: ties, gaps, int card keys, str shop keys, labels; optionally late events."""
    rng = np.random.RandomState(seed)
    gaps = rng.choice([0, 1, 30, 300, 4000], size=n, p=[0.15, 0.2, 0.3, 0.25, 0.1])
    ts = T0 + np.cumsum(gaps)
    if late:
        back = rng.randint(0, 600, size=n) * (rng.rand(n) < 0.2)
        ts = ts - back
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "ts": ts.astype(np.int64),
            "card": rng.randint(0, 8, size=n),
            "shop": np.array([f"shop-{i}" for i in rng.randint(0, 5, size=n)], dtype=object),
            "amount": np.round(rng.gamma(2.0, 30.0, size=n), 2),
            "fraud": (rng.rand(n) < 0.1).astype(np.int64),
        }
    )


def rows(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def run_updates(engine: FeatureEngine, events: list[dict]) -> np.ndarray:
    names = engine.feature_names
    outs = [engine.update(e) for e in events]
    return np.array([[o[k] for k in names] for o in outs])


# ------------------------------------------------------------------------------------------------
# Specs


def test_spec_as_dict_json_string_and_path(tmp_path: Path) -> None:
    df = stream()
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    outs = [
        FeatureEngine(spec).transform(df).to_numpy()
        for spec in (SPEC, json.dumps(SPEC), str(path), path)
    ]
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])
    assert FeatureEngine(path).feature_names == [f["name"] for f in SPEC["features"]]
    assert FeatureEngine(SPEC).spec["schema"]["keys"] == ["card", "shop"]


def test_handbook_spec_file_loads() -> None:
    repo = Path(__file__).resolve().parents[2]
    engine = FeatureEngine(repo / "datasets" / "specs" / "handbook.json")
    assert len(engine.feature_names) == 14
    assert engine.feature_names[0] == "TX_DURING_WEEKEND"


def test_bad_specs() -> None:
    with pytest.raises(SpecError, match="line 1"):
        FeatureEngine('{"schema": ')
    bad = json.loads(json.dumps(SPEC))
    bad["features"][0]["agg"] = "median"
    with pytest.raises(SpecError, match="median"):
        FeatureEngine(bad)
    bad = json.loads(json.dumps(SPEC))
    bad["features"][0]["key"] = "nope"
    with pytest.raises(SpecError, match="nope"):
        FeatureEngine(bad)
    with pytest.raises(FraudError, match="cannot read spec file"):
        FeatureEngine("/nonexistent/spec.json")
    with pytest.raises(InvalidParameterError, match="spec"):
        FeatureEngine(42)  # type: ignore[arg-type]
    assert issubclass(SpecError, FraudError) and issubclass(SpecError, ValueError)


# ------------------------------------------------------------------------------------------------
# transform == update, order, index


def test_update_equals_transform() -> None:
    df = stream(500, seed=1)
    batch = FeatureEngine(SPEC).transform(df)
    online = run_updates(FeatureEngine(SPEC), rows(df))
    np.testing.assert_array_equal(batch.to_numpy(), online)
    assert list(batch.columns) == [f["name"] for f in SPEC["features"]]


def test_update_equals_transform_with_late_events() -> None:
    df = stream(500, seed=2, late=True)
    engine = FeatureEngine(SPEC)
    batch = engine.transform(df)
    online = run_updates(FeatureEngine(SPEC), rows(df))
    np.testing.assert_array_equal(batch.to_numpy(), online)
    assert engine.stats["late_placed"] > 0


def test_transform_keeps_input_order_and_index() -> None:
    df = stream(200, seed=3)
    df.index = pd.Index([f"r{i}" for i in range(len(df))][::-1])
    out = FeatureEngine(SPEC).transform(df)
    assert out.index.equals(df.index)
    assert out.dtypes.unique().tolist() == [np.dtype(np.float64)]
    plain = FeatureEngine(SPEC).transform(df.reset_index(drop=True))
    np.testing.assert_array_equal(out.to_numpy(), plain.to_numpy())


def test_transform_continues_the_state() -> None:
    df = stream(300, seed=4)
    whole = FeatureEngine(SPEC).transform(df).to_numpy()
    engine = FeatureEngine(SPEC)
    parts = [engine.transform(df.iloc[a:b]) for a, b in ((0, 100), (100, 101), (101, 300))]
    np.testing.assert_array_equal(pd.concat(parts).to_numpy(), whole)
    assert engine.stats["events"] == 300


def test_empty_frame() -> None:
    out = FeatureEngine(SPEC).transform(stream(10).iloc[:0])
    assert out.shape == (0, len(SPEC["features"]))


# ------------------------------------------------------------------------------------------------
# Timestamps and keys


def test_datetime64_and_epoch_give_the_same_output() -> None:
    df = stream(300, seed=5)
    expected = FeatureEngine(SPEC).transform(df).to_numpy()
    dt = pd.to_datetime(df["ts"], unit="s")
    variants = {
        "ns": dt.astype("datetime64[ns]"),
        "us": dt.astype("datetime64[us]"),
        "ms": dt.astype("datetime64[ms]"),
        "s": dt.astype("datetime64[s]"),
        "tz": dt.dt.tz_localize("UTC").dt.tz_convert("Europe/Paris"),
    }
    for name, col in variants.items():
        got = FeatureEngine(SPEC).transform(df.assign(ts=col)).to_numpy()
        np.testing.assert_array_equal(got, expected, err_msg=name)
    spec_ms = json.loads(json.dumps(SPEC))
    spec_ms["schema"]["time_unit"] = "ms"
    got = FeatureEngine(spec_ms).transform(df.assign(ts=df["ts"] * 1000)).to_numpy()
    np.testing.assert_array_equal(got, expected)
    spec_dt = json.loads(json.dumps(SPEC))
    spec_dt["schema"]["time_unit"] = "datetime"
    got = FeatureEngine(spec_dt).transform(df.assign(ts=variants["ns"])).to_numpy()
    np.testing.assert_array_equal(got, expected)
    # update with datetime strings, pandas Timestamps and numpy datetime64 values
    events = rows(df.assign(ts=variants["ns"]))
    for i, e in enumerate(events):
        e["ts"] = [str(e["ts"]), e["ts"], e["ts"].to_datetime64()][i % 3]
    np.testing.assert_array_equal(run_updates(FeatureEngine(spec_dt), events), expected)


def test_sub_millisecond_datetimes_are_truncated_like_the_core() -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["schema"]["time_unit"] = "ms"
    spec["features"] = [{"kind": "time_since_last", "name": "gap", "key": "card", "fill": -1}]
    ts = pd.to_datetime(["2018-04-01 00:00:00.0019", "2018-04-01 00:00:00.0031"])
    df = pd.DataFrame({"ts": ts, "card": [1, 1], "shop": ["a", "a"], "amount": [1.0, 2.0]})
    out = FeatureEngine(spec).transform(df)
    np.testing.assert_allclose(out["gap"].to_numpy(), [-1.0, 0.002])


def test_keys_of_any_dtype_become_the_same_strings() -> None:
    df = stream(200, seed=6)
    reference = FeatureEngine(SPEC)
    expected = reference.transform(df).to_numpy()
    # Later events, with string keys: an engine continues identically only if its final state
    # (entities and their keys) is the same.
    later = stream(100, seed=16).assign(ts=lambda d: d["ts"] + 10**6)
    later = later.assign(card=later["card"].astype(str))
    expected_later = reference.transform(later).to_numpy()
    # Integer columns take a lookup-table encoding, the others pandas.factorize; outputs and the
    # final state must not depend on it.
    for card in (
        df["card"].astype(str),
        df["card"].astype(np.float64),  # 3.0 -> "3"
        df["card"].astype("Int64"),
        df["card"].astype("category"),
        df["card"].astype(object),
        df["card"].astype(np.uint16),
        df["card"].astype(np.int8),
    ):
        engine = FeatureEngine(SPEC)
        got = engine.transform(df.assign(card=card)).to_numpy()
        np.testing.assert_array_equal(got, expected, err_msg=str(card.dtype))
        got_later = engine.transform(later).to_numpy()
        np.testing.assert_array_equal(got_later, expected_later, err_msg=str(card.dtype))
        assert engine.snapshot() == reference.snapshot(), str(card.dtype)  # equal states, equal bytes
    # Keys far apart (a span too wide for the lookup table) and keys near a small type's ends.
    for scale, shift, dtype in ((10**14, 10**15, np.int64), (30, -100, np.int8)):
        keys = (df["card"] * scale + shift).astype(dtype)
        a, b = FeatureEngine(SPEC), FeatureEngine(SPEC)
        np.testing.assert_array_equal(
            a.transform(df.assign(card=keys)).to_numpy(),
            b.transform(df.assign(card=keys.astype(str))).to_numpy(),
        )
        after = later.assign(card=(later["card"].astype(int) * scale + shift).astype(dtype).astype(str))
        np.testing.assert_array_equal(a.transform(after).to_numpy(), b.transform(after).to_numpy())
    # An int key in a batch and the same key as a string in update are one entity.
    engine = FeatureEngine(SPEC)
    engine.transform(df.assign(card=7, ts=T0))
    out = engine.update({"ts": T0 + 1, "card": "7", "shop": "x", "amount": 1.0})
    assert out["n_1h"] == len(df) + 1


@pytest.mark.parametrize(
    "dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
)
def test_integer_key_encoding_round_trips(dtype: type) -> None:
    from fraud_core._features import _codes

    rng = np.random.default_rng(3)
    info = np.iinfo(dtype)
    for values in (
        rng.integers(info.min, info.max, size=300, dtype=dtype, endpoint=True),  # wide: factorize
        rng.integers(max(info.min, -40), min(info.max, 40), size=300, dtype=dtype, endpoint=True),
        np.array([info.min, info.max, info.min], dtype=dtype),
        np.array([info.max], dtype=dtype),
    ):
        codes, distinct = _codes(pd.Series(values))
        assert codes.dtype == np.int64
        assert [distinct[c] for c in codes] == values.tolist()
        assert len(set(distinct)) == len(distinct)
        assert all(type(v) is int for v in distinct)


def test_label_nan_is_unknown() -> None:
    df = stream(200, seed=7)
    with_nan = df.assign(fraud=df["fraud"].astype(float).where(df["fraud"] == 1, np.nan))
    a = FeatureEngine(SPEC).transform(df).to_numpy()
    b = FeatureEngine(SPEC).transform(with_nan).to_numpy()
    c = FeatureEngine(SPEC).transform(df.assign(fraud=df["fraud"].astype(bool))).to_numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    with_none = df.assign(fraud=df["fraud"].astype(object).where(df["fraud"] == 1, None))
    np.testing.assert_array_equal(FeatureEngine(SPEC).transform(with_none).to_numpy(), a)
    with_na = df.assign(fraud=df["fraud"].astype(object).where(df["fraud"] == 1, pd.NA))
    np.testing.assert_array_equal(run_updates(FeatureEngine(SPEC), rows(with_na)), a)
    no_label = FeatureEngine(SPEC).transform(df.drop(columns="fraud"))
    assert (no_label["risk_1d"] == 0).all()


# ------------------------------------------------------------------------------------------------
# State: snapshot / restore, forget, pickle, hashed keys


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snapshot_restore_continues_identically(seed: int) -> None:
    df = stream(400, seed=10 + seed, late=True)
    expected = FeatureEngine(SPEC).transform(df).to_numpy()
    cuts = sorted(np.random.RandomState(seed).choice(np.arange(1, 400), size=3, replace=False))
    engine = FeatureEngine(SPEC)
    parts, start = [], 0
    for cut in [*cuts, 400]:
        parts.append(engine.transform(df.iloc[start:cut]).to_numpy())
        engine = FeatureEngine.restore(engine.snapshot())
        start = cut
    np.testing.assert_array_equal(np.vstack(parts), expected)
    assert engine.stats["events"] == 400


def test_forget_erases_a_key() -> None:
    engine = FeatureEngine(SPEC)
    for i in range(3):
        engine.update({"ts": T0 + i, "card": 5, "shop": "s1", "amount": 10.0})
    assert engine.forget(5) == 1  # card 5 (int or "5": the same key)
    assert engine.forget("5") == 0
    out = engine.update({"ts": T0 + 10, "card": "5", "shop": "s1", "amount": 10.0})
    assert out["n_1h"] == 1 and np.isnan(out["gap"])
    assert engine.forget("s1") == 1
    assert engine.stats["forgotten"] == 2
    with pytest.raises(SchemaError, match="key"):
        engine.forget(None)  # type: ignore[arg-type]


def test_pickle_round_trip_continues_identically() -> None:
    df = stream(300, seed=20)
    expected = FeatureEngine(SPEC).transform(df).to_numpy()
    engine = FeatureEngine(SPEC)
    first = engine.transform(df.iloc[:150]).to_numpy()
    clone = pickle.loads(pickle.dumps(engine))
    assert isinstance(clone, FeatureEngine)
    second = clone.transform(df.iloc[150:]).to_numpy()
    np.testing.assert_array_equal(np.vstack([first, second]), expected)


def test_hashed_keys() -> None:
    df = stream(300, seed=21).assign(card=lambda d: "card-secret-" + d["card"].astype(str))
    expected = FeatureEngine(SPEC).transform(df).to_numpy()
    engine = FeatureEngine(SPEC, key_secret=SECRET)
    assert engine.hashes_keys
    first = engine.transform(df.iloc[:100]).to_numpy()
    snap = engine.snapshot()
    assert b"card-secret-" not in snap and b"shop-" not in snap and SECRET not in snap
    with pytest.raises(KeySecretError, match="pickle"):
        pickle.dumps(engine)
    with pytest.raises(KeySecretError):
        FeatureEngine.restore(snap)
    with pytest.raises(KeySecretError):
        FeatureEngine.restore(snap, key_secret=b"another-secret-of-16+bytes")
    restored = FeatureEngine.restore(snap, key_secret=SECRET)
    second = restored.transform(df.iloc[100:]).to_numpy()
    np.testing.assert_array_equal(np.vstack([first, second]), expected)
    # str secrets are their UTF-8 bytes
    as_str = FeatureEngine.restore(snap, key_secret=SECRET.decode())
    assert as_str.transform(df.iloc[100:]).to_numpy().tolist() == second.tolist()
    with pytest.raises(KeySecretError, match="16"):
        FeatureEngine(SPEC, key_secret=b"short")
    with pytest.raises(InvalidParameterError, match="key_secret"):
        FeatureEngine(SPEC, key_secret=12345)  # type: ignore[arg-type]


def test_restore_refuses_foreign_bytes() -> None:
    with pytest.raises(fraud_core.ArtifactError):
        FeatureEngine.restore(b"not a snapshot at all")
    forest = fraud_core.IsolationForest(n_estimators=5, random_state=0).fit(np.eye(4))
    with pytest.raises(fraud_core.ArtifactError, match="kind"):
        FeatureEngine.restore(forest.to_bytes())


def test_stats_and_names() -> None:
    engine = FeatureEngine(SPEC)
    engine.transform(stream(50))
    stats = engine.stats
    assert stats["events"] == 50
    assert stats["entities"] > 0 and stats["state_bytes"] > 0
    assert {"late_placed", "late_dropped", "late_processed", "ttl_evictions", "lru_evictions"} <= set(stats)
    assert engine.feature_names == [f["name"] for f in SPEC["features"]]
    assert engine.schema["time_unit"] == "s"
    assert "FeatureEngine(" in repr(engine)


# ------------------------------------------------------------------------------------------------
# Errors: transform


def _err(df: pd.DataFrame, exc: type = SchemaError) -> str:
    with pytest.raises(exc) as info:
        FeatureEngine(SPEC).transform(df)
    assert isinstance(info.value, FraudError)
    return str(info.value)


def test_transform_column_errors_name_the_field() -> None:
    df = stream(20, seed=30)
    assert "`colour`" in _err(df.assign(colour=1))
    assert "`shop`" in _err(df.drop(columns="shop"))
    assert "`amount`" in _err(df.drop(columns="amount"))
    assert "`ts`" in _err(df.drop(columns="ts"))
    msg = _err(df.assign(amount=df["amount"].astype(object).where(df.index != 3, "12.5")))
    assert "`amount`" in msg and "row 3" in msg
    assert "`amount`" in _err(df.assign(amount=df["amount"].astype(str)))
    msg = _err(df.assign(ts=df["ts"].astype(str)))
    assert "`ts`" in msg and "datetime" in msg
    msg = _err(df.assign(ts=pd.to_datetime(df["ts"], unit="s").astype(object)))
    assert "`ts`" in msg
    msg = _err(df.assign(amount=df["amount"].where(df.index != 5, np.nan)))
    assert "`amount`" in msg and "row 5" in msg
    msg = _err(df.assign(amount=df["amount"].where(df.index != 6, np.inf)))
    assert "`amount`" in msg and "row 6" in msg
    msg = _err(df.assign(fraud=df["fraud"].astype(float).where(df.index != 2, -np.inf)))
    assert "`fraud`" in msg and "row 2" in msg
    msg = _err(df.assign(card=df["card"].astype(float).where(df.index != 4, np.nan)))
    assert "`card`" in msg and "row 4" in msg
    assert "`card`" in _err(df.assign(card=df["card"] + 0.5))
    assert "`card`" in _err(df.assign(card=df["card"] > 3))
    msg = _err(df.assign(ts=pd.to_datetime(df["ts"], unit="s").where(df.index != 1)))
    assert "`ts`" in msg and "row 1" in msg
    assert "`ts`" in _err(df.assign(ts=df["ts"].astype(float).where(df.index != 1, np.nan)))
    dup = pd.concat([df, df[["amount"]]], axis=1)
    assert "`amount`" in _err(dup)
    with pytest.raises(InvalidInputError, match="DataFrame"):
        FeatureEngine(SPEC).transform(df.to_numpy())


def test_transform_integer_epochs_need_an_epoch_spec() -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["schema"]["time_unit"] = "datetime"
    with pytest.raises(SchemaError, match="`ts`"):
        FeatureEngine(spec).transform(stream(10))


def test_transform_late_event() -> None:
    df = stream(50, seed=31)
    df.loc[30, "ts"] = df.loc[29, "ts"] - 3600
    engine = FeatureEngine(SPEC)
    with pytest.raises(LateEventError, match="row 30"):
        engine.transform(df)
    assert engine.stats["events"] == 30  # the rows before the late one were applied


def test_late_policy_drop_gives_nan_rows() -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["lateness"] = {"allowed": 0, "policy": "drop"}
    df = stream(50, seed=32)
    df.loc[30, "ts"] = df.loc[29, "ts"] - 3600
    engine = FeatureEngine(spec)
    out = engine.transform(df)
    assert out.iloc[30].isna().all() and not out.iloc[31].isna().all()
    assert engine.stats["late_dropped"] == 1


# ------------------------------------------------------------------------------------------------
# Errors: update


def test_update_errors_name_the_field_not_the_key() -> None:
    engine = FeatureEngine(SPEC)
    ok = {"ts": T0 + 1000, "card": "secret-card-1234", "shop": "s", "amount": 1.0, "id": [1, 2]}
    engine.update(ok)

    def err(event: dict, exc: type = SchemaError) -> str:
        with pytest.raises(exc) as info:
            engine.update(event)
        assert "secret-card-1234" not in str(info.value)
        return str(info.value)

    assert "`colour`" in err({**ok, "colour": 1})
    assert "`shop`" in err({k: v for k, v in ok.items() if k != "shop"})
    assert "`amount`" in err({k: v for k, v in ok.items() if k != "amount"})
    assert "`ts`" in err({k: v for k, v in ok.items() if k != "ts"})
    assert "`amount`" in err({**ok, "amount": "12.5"})
    assert "`amount`" in err({**ok, "amount": float("nan")})
    assert "`amount`" in err({**ok, "amount": float("inf")})
    assert "`amount`" in err({**ok, "amount": None})
    assert "`card`" in err({**ok, "card": ["secret-card-1234"]})
    assert "`card`" in err({**ok, "card": None})
    assert "`card`" in err({**ok, "card": 1.5})
    assert "`ts`" in err({**ok, "ts": "yesterday"})
    assert "`fraud`" in err({**ok, "fraud": "yes"})
    assert "behind the watermark" in err({**ok, "ts": T0}, LateEventError)
    with pytest.raises(InvalidInputError, match="dict"):
        engine.update([1, 2])  # type: ignore[arg-type]
    # Nothing above changed the state.
    assert engine.stats["events"] == 1
    out = engine.update({**ok, "ts": T0 + 1001, "amount": np.float32(2.0), "fraud": np.int64(1)})
    assert out["n_1h"] == 2


def test_update_accepts_numpy_scalars_and_mappings() -> None:
    from types import MappingProxyType

    engine = FeatureEngine(SPEC)
    a = engine.update(
        MappingProxyType(
            {"ts": np.int64(T0), "card": np.int32(3), "shop": "s", "amount": np.float64(4.0), "fraud": True}
        )
    )
    b = FeatureEngine(SPEC).update({"ts": T0, "card": "3", "shop": "s", "amount": 4, "fraud": 1})
    assert a == b or all((a[k] == b[k]) or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)


FEEDBACK_SPEC = {
    "schema": {
        "timestamp": "ts",
        "time_unit": "s",
        "keys": ["card", "shop"],
        "numeric": ["amount"],
        "label": "fraud",
        "id": "tx",
    },
    "features": [
        {"kind": "window", "name": "shop_risk", "key": "shop", "agg": "risk", "window": "1d", "delay": "1h"},
        {"kind": "window", "name": "card_risk", "key": "card", "agg": "risk", "window": "1d"},
    ],
}


def _feedback_frame(n: int = 200, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "tx": np.arange(n) + 1000,
            "ts": np.cumsum(rng.integers(0, 900, n)) + 1_600_000_000,
            "card": rng.integers(0, 5, n),
            "shop": rng.choice(["a", "b", "c"], n),
            "amount": rng.uniform(1, 100, n),
        }
    )


def test_feedback_reaches_later_events_only() -> None:
    df = _feedback_frame()
    rows = df.to_dict("records")
    fraud_ids = set(df["tx"].iloc[::7])
    online = FeatureEngine(FEEDBACK_SPEC)
    got = []
    for i, r in enumerate(rows):
        got.append(online.update(r))
        if i >= 10:  # a chargeback for the event ten rows back
            back = rows[i - 10]
            if back["tx"] in fraud_ids:
                assert online.feedback({"tx": back["tx"], "card": back["card"], "shop": back["shop"], "fraud": 1})
    # Independent recomputation: the label of j is known to event i when j's feedback came
    # before i (j <= i - 11) and j is a chargeback.
    t = df["ts"].to_numpy() * 1000
    for i in range(len(rows)):
        def risk(mask: np.ndarray) -> float:
            members = np.flatnonzero(mask[:i])
            if members.size == 0:
                return 0.0
            known = [j for j in members if j <= i - 11 and df["tx"].iloc[j] in fraud_ids]
            return len(known) / members.size

        same_shop = (df["shop"] == rows[i]["shop"]).to_numpy()
        upper = t[i] - 3_600_000
        in_shop = same_shop & (t > upper - 86_400_000) & (t <= upper)
        same_card = (df["card"] == rows[i]["card"]).to_numpy()
        in_card = same_card & (t > t[i] - 86_400_000) & (t <= t[i])
        assert got[i]["shop_risk"] == pytest.approx(risk(in_shop), abs=1e-12)
        # The card window includes the current event, whose label is never known yet.
        members = np.flatnonzero(in_card[: i + 1])
        known = [j for j in members if j <= i - 11 and df["tx"].iloc[j] in fraud_ids]
        assert got[i]["card_risk"] == pytest.approx(len(known) / members.size, abs=1e-12)
    stats = online.stats
    assert stats["feedback_applied"] > 0 and stats["feedback_unmatched"] == 0


def test_feedback_after_a_batch_transform_finds_the_events() -> None:
    df = _feedback_frame(60)
    batch = FeatureEngine(FEEDBACK_SPEC)
    batch.transform(df.iloc[:50])
    online = FeatureEngine(FEEDBACK_SPEC)
    for r in df.iloc[:50].to_dict("records"):
        online.update(r)
    for r in df.iloc[40:50].to_dict("records"):
        fb = {"tx": r["tx"], "card": r["card"], "shop": r["shop"], "fraud": True}
        assert batch.feedback(fb) and online.feedback(fb)
    for r in df.iloc[50:].to_dict("records"):
        assert batch.update(r) == online.update(r)


def test_feedback_errors() -> None:
    e = FeatureEngine(FEEDBACK_SPEC)
    with pytest.raises(SchemaError, match="`tx`"):
        e.feedback({"card": 1, "shop": "a", "fraud": 1})
    with pytest.raises(SchemaError, match="`shop`"):
        e.feedback({"tx": 1, "card": 1, "fraud": 1})
    with pytest.raises(SchemaError, match="`fraud`"):
        e.feedback({"tx": 1, "card": 1, "shop": "a"})
    with pytest.raises(SchemaError, match="`colour`"):
        e.feedback({"tx": 1, "card": 1, "shop": "a", "fraud": 1, "colour": "red"})
    with pytest.raises(InvalidInputError):
        e.feedback([("tx", 1)])  # type: ignore[arg-type]
    assert e.feedback({"tx": 1, "card": 1, "shop": "a", "fraud": 1}) is False
    assert e.stats["feedback_unmatched"] == 1
    plain = FeatureEngine(SPEC)
    with pytest.raises(InvalidInputError, match="id"):
        plain.feedback({"card": 1, "shop": "a", "fraud": 1})
