"""The bad-input catalogue (docs/bad-input.md), Python side.

Every case ``BIxx`` has a test ``test_biXX_...`` asserting the exception class and the exact message
the catalogue documents. The Rust (tests/tests/bad_input.rs) and JS
(fraud-wasm/tests/bad_input.test.mjs) suites test the same ids; a Rust test checks that the three
files and the catalogue list the same ids.
"""

from __future__ import annotations

import json
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import fraud_core as fc
from fraud_core import (
    ArtifactError,
    DTypeError,
    FraudError,
    InvalidInputError,
    InvalidParameterError,
    LateEventError,
    NonFiniteError,
    SchemaError,
    ShapeError,
    SpecError,
)

# Computed here: `conftest` is ambiguous as a module name (fraud-py/tests/spark has one too).
GOLDEN_DIR = Path(__file__).resolve().parents[2] / "tests" / "golden"


pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")  # the documented shape messages are scikit-learn's validation's

NAN_HINT = "NaN is not accepted: impute or drop missing values first"
INF_HINT = "infinite values are not accepted: clip or drop them first"
F32_HINT = (
    "the value exceeds the float32 range (|x| <= 3.4e38) the model works in: rescale the feature"
)
NONFINITE_HINT = "impute or drop missing and infinite values first"
DECLARED = "timestamp `ts`, keys [`card`, `merchant`], numeric [`amount`], ignored [`note`]"
E0 = {"amount": 44.76, "card": "c12", "merchant": 7, "note": "payment 0", "ts": 1700416519}


def stored_spec(m: str) -> str:
    return f"invalid artifact: malformed payload: stored spec: {m}"


def golden(name: str) -> bytes:
    return (GOLDEN_DIR / name).read_bytes()


def forest() -> fc.IsolationForest:
    return fc.IsolationForest.from_bytes(golden("iforest_v1.bin"))


def pipeline() -> fc.Pipeline:
    return fc.Pipeline.from_bytes(golden("pipeline_v1.bin"))


def without(k: str) -> dict:
    return {n: v for n, v in E0.items() if n != k}


def matrix(n: int, c: int) -> np.ndarray:
    return np.array([[i * 0.1 + j * 0.01 for j in range(c)] for i in range(n)]).reshape(n, c)


def raises(cls: type, message: str, fn, *args, **kwargs) -> BaseException:
    """Assert that ``fn(*args)`` raises ``cls`` (a FraudError) with exactly ``message``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the golden forest has feature names
        with pytest.raises(cls) as info:
            fn(*args, **kwargs)
    assert isinstance(info.value, FraudError)
    assert str(info.value) == message
    return info.value


# --- artifact surgery (envelope: fraud-core/src/model/mod.rs; payload: bincode 2 standard) ---


def reseal(src: bytes, payload: bytes) -> bytes:
    head = src[:16] + struct.pack("<Q", len(payload)) + payload
    return head + struct.pack("<I", zlib.crc32(head))


def fix_crc(b: bytes) -> bytes:
    return b[:-4] + struct.pack("<I", zlib.crc32(b[:-4]))


def read_varint(b: bytes, at: int) -> tuple[int, int]:
    tag = b[at]
    if tag < 251:
        return tag, at + 1
    width = {251: 2, 252: 4}.get(tag, 8)
    return int.from_bytes(b[at + 1 : at + 1 + width], "little"), at + 1 + width


def varint(n: int) -> bytes:
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfb" + struct.pack("<H", n)
    return b"\xfc" + struct.pack("<I", n)


def edit_leading_text(art: bytes, edit) -> bytes:
    payload = art[24:-4]
    n, at = read_varint(payload, 0)
    new = edit(payload[at : at + n].decode()).encode()
    return reseal(art, varint(len(new)) + new + payload[at + n :])


def tampered_spec(edit) -> bytes:
    def f(t: str) -> str:
        v = json.loads(t)
        edit(v)
        return json.dumps(v, separators=(",", ":"))

    return edit_leading_text(golden("pipeline_v1.bin"), f)


def tampered_features(edit) -> bytes:
    """Edit the feature spec in the pipeline spec and in the embedded engine snapshot."""
    art = tampered_spec(lambda v: edit(v["features"]))
    payload = art[24:-4]
    at = payload.rindex(b"FRAUDCOR")
    engine = payload[at:]
    head = payload[: at - len(varint(len(engine)))]

    def f(t: str) -> str:
        v = json.loads(t)
        edit(v)
        return json.dumps(v, separators=(",", ":"))

    fresh = edit_leading_text(engine, f)
    return reseal(art, head + varint(len(fresh)) + fresh)


# --- BI01-BI09: matrices ------------------------------------------------------------------


def test_bi01_nan_in_matrix():
    X = matrix(3, 5)
    X[1, 2] = np.nan
    msg = f"non-finite or out-of-range value NaN at row 1, column 2: {NAN_HINT}"
    raises(NonFiniteError, msg, forest().score_samples, X)


def test_bi02_inf_in_one_row():
    msg = f"non-finite or out-of-range value inf at row 0, column 4: {INF_HINT}"
    raises(NonFiniteError, msg, forest().score_one, [0.0, 0.0, 0.0, 0.0, np.inf])


def test_bi03_neg_inf_in_training_data():
    X = matrix(20, 5)
    X[17, 0] = -np.inf
    msg = f"non-finite or out-of-range value -inf at row 17, column 0: {INF_HINT}"
    raises(NonFiniteError, msg, fc.IsolationForest().fit, X)


def test_bi04_beyond_float32_range():
    msg = f"non-finite or out-of-range value 1e308 at row 0, column 0: {F32_HINT}"
    raises(NonFiniteError, msg, forest().score_one, [1e308, 0.0, 0.0, 0.0, 0.0])


def test_bi05_empty_input():
    msg = (
        "Found array with 0 sample(s) (shape=(0, 5)) while a minimum of 1 is required by "
        "IsolationForest."
    )
    raises(ShapeError, msg, fc.IsolationForest().fit, np.empty((0, 5)))
    # Unlike Rust and JS (an empty result), scoring no rows is refused by the same validation.
    raises(ShapeError, msg, forest().score_samples, np.empty((0, 5)))
    msg = "shape mismatch: X has 0 features, but the forest was fitted with 5 features"
    raises(ShapeError, msg, forest().score_one, [])


def test_bi06_wrong_number_of_columns():
    msg = "X has 4 features, but IsolationForest is expecting 5 features as input."
    raises(ShapeError, msg, forest().score_samples, np.zeros((2, 4)))


def test_bi07_ragged_rows():
    msg = (
        "setting an array element with a sequence. The requested array has an inhomogeneous "
        "shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part."
    )
    raises(ShapeError, msg, forest().score_samples, [[1, 2, 3, 4, 5], [1, 2, 3]])
    msg = "shape mismatch: X has 3 features, but the forest was fitted with 5 features"
    raises(ShapeError, msg, forest().score_one, [1.0, 2.0, 3.0])


def test_bi08_zero_columns():
    msg = (
        "Found array with 0 feature(s) (shape=(10, 0)) while a minimum of 1 is required by "
        "IsolationForest."
    )
    raises(ShapeError, msg, fc.IsolationForest().fit, np.empty((10, 0)))


def test_bi09_non_numeric_matrix_values():
    X = np.array([[1, 2, "x", 4, 5]], dtype=object)
    msg = "could not convert string to float: 'x' (first non-numeric value 'x' at row 0, column 2)"
    e = raises(DTypeError, msg, forest().score_samples, X)
    assert isinstance(e, TypeError)
    X = np.array([["1", "2", "x", "4", "5"]])
    msg = (
        "could not convert string to float: np.str_('x') "
        "(first non-numeric value 'x' at row 0, column 2)"
    )
    raises(DTypeError, msg, forest().score_samples, X)


# --- BI10-BI23: events --------------------------------------------------------------------


def test_bi10_nan_event_field():
    msg = f"invalid value for field `amount`: NaN is not finite: {NONFINITE_HINT}"
    raises(SchemaError, msg, pipeline().score, {**E0, "amount": float("nan")})


def test_bi11_infinite_event_field():
    msg = f"invalid value for field `amount`: inf is not finite: {NONFINITE_HINT}"
    raises(SchemaError, msg, pipeline().score, {**E0, "amount": float("inf")})
    msg = f"invalid value for field `amount`: -inf is not finite: {NONFINITE_HINT}"
    raises(SchemaError, msg, pipeline().score, {**E0, "amount": -np.inf})


def test_bi12_huge_amount():
    p = pipeline()
    msg = (
        "invalid value for field `amount`: 1e308 is beyond +/-1e18, the range numeric fields "
        "accept (window sums must stay finite): check the value or rescale the field"
    )
    raises(SchemaError, msg, p.score, {**E0, "amount": 1e308})
    # Refused before the feature update: the card's next event scores normally.
    assert 0.0 <= p.score({**E0, "amount": 1.0})["risk"] <= 1.0
    df = pd.DataFrame([E0]).assign(amount=[1e308])
    raises(SchemaError, f"row 0: {msg}", pipeline().score_batch, df)


def test_bi13_string_for_number():
    msg = "invalid value for field `amount`: expected a number, got a string"
    raises(SchemaError, msg, pipeline().score, {**E0, "amount": "12.5"})
    df = pd.DataFrame([E0]).assign(amount=["12.5"])
    msg = "invalid value for field `amount`: expected a number column, got dtype object (row 0 holds a str)"
    raises(SchemaError, msg, pipeline().score_batch, df)


def test_bi14_unknown_field():
    msg = (
        f"unknown field `surprise`: the spec's schema declares {DECLARED}; add it to the schema "
        "or drop the column"
    )
    raises(SchemaError, msg, pipeline().score, {**E0, "surprise": 1})
    raises(SchemaError, msg, pipeline().score_batch, pd.DataFrame([E0]).assign(surprise=1))


def test_bi15_missing_field():
    msg = "missing field `amount`: every event needs it (it is a numeric field)"
    raises(SchemaError, msg, pipeline().score, without("amount"))
    raises(SchemaError, msg, pipeline().score_batch, pd.DataFrame([without("amount")]))
    msg = "missing field `ts`: every event needs it (it is the event timestamp)"
    raises(SchemaError, msg, pipeline().score, without("ts"))


def test_bi16_missing_entity_key():
    msg = "invalid value for field `card`: an entity key must not be null"
    raises(SchemaError, msg, pipeline().score, {**E0, "card": None})
    msg = "row 0: invalid value for field `card`: an entity key must not be missing"
    raises(SchemaError, msg, pipeline().score_batch, pd.DataFrame([{**E0, "card": None}]))


def test_bi17_non_integral_or_boolean_key():
    msg = (
        "invalid value for field `merchant`: an entity key must be a string or an integer "
        "(got a non-integral number)"
    )
    raises(SchemaError, msg, pipeline().score, {**E0, "merchant": 7.5})
    msg = "invalid value for field `merchant`: an entity key must be a string or an integer (got a boolean)"
    raises(SchemaError, msg, pipeline().score, {**E0, "merchant": True})


def test_bi18_unparseable_timestamp():
    msg = (
        "invalid value for field `ts`: expected an epoch number in seconds (the schema's "
        "timestamp unit)"
    )
    raises(SchemaError, msg, pipeline().score, {**E0, "ts": "yesterday"})


def test_bi19_timestamp_out_of_range():
    msg = (
        "invalid value for field `ts`: 9000000000000000000 ms is outside the supported range of "
        "+-8640000000000000 ms around 1970"
    )
    raises(SchemaError, msg, pipeline().score, {**E0, "ts": 9_000_000_000_000_000})
    msg = "invalid value for field `ts`: timestamp 1e300 is not a finite epoch time within range"
    raises(SchemaError, msg, pipeline().score, {**E0, "ts": 1e300})


def late(behind: int) -> str:
    return (
        f"late event: its timestamp is {behind} ms behind the watermark (newest event time minus "
        "the allowed lateness of 0 ms); raise `lateness.allowed` or choose the `drop` or "
        "`process` policy"
    )


def test_bi20_far_future_timestamp():
    p = pipeline()
    far = 253402300799  # 9999-12-31T23:59:59Z
    assert 0.0 <= p.score({**E0, "ts": far})["risk"] <= 1.0
    raises(LateEventError, late((far - E0["ts"]) * 1000), p.score, E0)
    # With `lateness.max_ahead` the far-future event is refused before it moves the newest time.
    q = fc.Pipeline.from_bytes(
        tampered_features(
            lambda f: f.__setitem__("lateness", {"allowed": 0, "policy": "error", "max_ahead": "1d"})
        )
    )
    q.score(E0)
    msg = (
        f"invalid value for field `ts`: {far * 1000} ms is {(far - E0['ts']) * 1000} ms ahead of the newest event time, more than lateness.max_ahead (86400000 ms): check the event's clock and time unit"
    )
    raises(SchemaError, msg, q.score, {**E0, "ts": far})
    assert 0.0 <= q.score({**E0, "ts": E0["ts"] + 60})["risk"] <= 1.0


def test_bi21_late_event_error_policy():
    p = pipeline()
    p.score(E0)
    before = p.to_bytes()
    raises(LateEventError, late(3600000), p.score, {**E0, "ts": E0["ts"] - 3600})
    assert p.to_bytes() == before


def test_bi22_late_event_drop_policy():
    p = fc.Pipeline.from_bytes(
        tampered_features(lambda f: f.__setitem__("lateness", {"allowed": 0, "policy": "drop"}))
    )
    p.score(E0)
    s = p.score({**E0, "ts": E0["ts"] - 3600})
    assert np.isnan(s["risk"]) and s["is_alert"] is False and list(s["reasons"]) == []


def test_bi23_duplicated_event_id():
    engine = fc.FeatureEngine(
        {
            "schema": {"timestamp": "ts", "time_unit": "s", "keys": ["shop"], "label": "fraud", "id": "tx"},
            "features": [
                {"kind": "window", "name": "risk_1d", "key": "shop", "agg": "risk", "window": "1d", "delay": "1h"}
            ],
        }
    )
    engine.update({"tx": 1, "ts": 0, "shop": "s1"})
    engine.update({"tx": 1, "ts": 60, "shop": "s1"})  # same id: accepted
    engine.update({"tx": 2, "ts": 120, "shop": "s1"})
    assert engine.feedback({"tx": 1, "shop": "s1", "fraud": 1}) is True
    assert engine.update({"tx": 3, "ts": 7200, "shop": "s1"}) == {"risk_1d": 2.0 / 3.0}
    p = pipeline()
    p.score(E0)
    once = p.to_bytes()
    p.score(E0)  # a replayed event is counted again
    assert p.to_bytes() != once


# --- BI24-BI31: artifacts -----------------------------------------------------------------


def test_bi24_corrupted_byte():
    b = bytearray(golden("iforest_v1.bin"))
    b[100] ^= 0x01
    msg = (
        "invalid artifact: checksum mismatch (stored 0x783e9e16, computed 0x63dd3645): the bytes "
        "are corrupted"
    )
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, bytes(b))


def test_bi25_truncated():
    b = golden("iforest_v1.bin")
    msg = "invalid artifact: truncated: 100 bytes, expected at least 15151"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, b[:100])
    msg = "invalid artifact: truncated: 20 bytes, expected at least 28"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, b[:20])


def test_bi26_empty_bytes():
    msg = "invalid artifact: truncated: 0 bytes, expected at least 28"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, b"")
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b"")


PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"


def test_bi27_foreign_png():
    msg = "invalid artifact: not a fraud-core artifact (bad magic bytes)"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, PNG)
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, PNG)


def test_bi28_foreign_json():
    msg = "invalid artifact: not a fraud-core artifact (bad magic bytes)"
    text = b'{"model": "isolation_forest", "n_estimators": 100}'
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, text)


def test_bi29_future_version():
    b = bytearray(golden("iforest_v1.bin"))
    b[8:10] = struct.pack("<H", 2)
    msg = "invalid artifact: unsupported format version 2: this build reads versions up to 1"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, fix_crc(bytes(b)))


def test_bi30_wrong_artifact_kind():
    z = fc.ZScore().fit(matrix(10, 5))
    msg = "invalid artifact: wrong artifact kind: expected IsolationForest, found ZScore"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, z.to_bytes())
    msg = "invalid artifact: wrong artifact kind: expected IsolationForest, found Pipeline"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, golden("pipeline_v1.bin"))
    msg = "invalid artifact: wrong artifact kind: expected Pipeline, found IsolationForest"
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, golden("iforest_v1.bin"))


def test_bi31_trailing_bytes():
    msg = "invalid artifact: length mismatch: header says 15123 payload bytes, 15127 present"
    raises(ArtifactError, msg, fc.IsolationForest.from_bytes, golden("iforest_v1.bin") + b"\0" * 4)


# --- BI32-BI40: specs and hyper-parameters ------------------------------------------------


def test_bi32_malformed_json_spec():
    msg = "invalid spec JSON at line 1, column 31: trailing comma"
    raises(SpecError, msg, fc.FeatureEngine, '{"schema": {"timestamp": "ts",}')
    b = edit_leading_text(golden("pipeline_v1.bin"), lambda t: t[: len(t) // 2])
    msg = stored_spec("invalid spec JSON at line 1, column 900: EOF while parsing a string")
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b)


def test_bi33_unknown_spec_key():
    b = edit_leading_text(golden("pipeline_v1.bin"), lambda t: t.replace('"window":', '"windw":', 1))
    msg = stored_spec(
        "invalid spec JSON at line 1, column 489: unknown field `windw`, expected one of "
        "`name`, `key`, `agg`, `field`, `window`, `delay`, `include_current`, `ddof`, `fill`"
    )
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b)


def test_bi34_zero_window():
    b = tampered_spec(lambda v: v["features"]["features"][2].__setitem__("window", "0s"))
    msg = "invalid spec at feature `card_n_1h`: window 0 ms must be > 0"
    raises(ArtifactError, stored_spec(msg), fc.Pipeline.from_bytes, b)
    feats = pipeline().spec["features"]
    feats["features"][2]["window"] = "0s"
    raises(SpecError, msg, fc.FeatureEngine, feats)


def test_bi35_negative_half_life():
    decayed = {
        "kind": "decayed",
        "name": "amount_decayed",
        "key": "card",
        "field": "amount",
        "half_life": -3600000,
        "window": "1d",
    }
    b = tampered_spec(lambda v: v["features"]["features"].append(decayed))
    msg = "invalid spec at feature `amount_decayed`: half_life -3600000 ms must be > 0"
    raises(ArtifactError, stored_spec(msg), fc.Pipeline.from_bytes, b)
    feats = pipeline().spec["features"]
    feats["features"].append(decayed)
    raises(SpecError, msg, fc.FeatureEngine, feats)


def test_bi36_ttl_shorter_than_window():
    msg = (
        "invalid spec at ttl: 3600000 ms is shorter than the allowed lateness plus the "
        "longest window + delay (or max_gap) of key `card` = 86400000 ms; eviction would change "
        "features"
    )
    b = tampered_spec(lambda v: v["features"].__setitem__("ttl", "1h"))
    raises(ArtifactError, stored_spec(msg), fc.Pipeline.from_bytes, b)
    feats = pipeline().spec["features"]
    feats["ttl"] = "1h"
    raises(SpecError, msg, fc.FeatureEngine, feats)


def test_bi37_zero_trees():
    msg = "invalid parameter `n_estimators` = 0: an integer >= 1"
    raises(InvalidParameterError, msg, fc.IsolationForest(n_estimators=0).fit, matrix(3, 5))
    b = tampered_spec(lambda v: v["detectors"][0].__setitem__("n_estimators", 0))
    msg = stored_spec("invalid spec at detectors[0].n_estimators: 0: expected an integer >= 1")
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b)


def test_bi38_max_samples():
    msg = 'invalid parameter `max_samples` = 0: an integer >= 1, a float in (0, 1] or "auto"'
    raises(InvalidParameterError, msg, fc.IsolationForest(max_samples=0).fit, matrix(3, 5))
    b = tampered_spec(lambda v: v["detectors"][0].__setitem__("max_samples", 0))
    msg = stored_spec(
        'invalid spec at detectors[0].max_samples: 0: expected an integer >= 1, a float '
        'in (0, 1] or "auto"'
    )
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b)
    # More samples than rows: clamped to the number of rows, silently (scikit-learn warns).
    est = fc.IsolationForest(max_samples=1000, random_state=0).fit(matrix(50, 5))
    assert est.max_samples_ == 50


def test_bi39_contamination():
    msg = 'invalid parameter `contamination` = 0.7: "auto" or a float in (0, 0.5]'
    raises(InvalidParameterError, msg, fc.IsolationForest(contamination=0.7).fit, matrix(3, 5))
    b = tampered_spec(lambda v: v.__setitem__("alert", {"contamination": 0.7}))
    msg = stored_spec("invalid spec at alert.contamination: 0.7: expected a fraction in (0, 0.5]")
    raises(ArtifactError, msg, fc.Pipeline.from_bytes, b)


def test_bi40_alert_rate():
    msg = "invalid spec at alert.target_alert_rate: 1.5: expected a fraction in (0, 1)"
    spec = pipeline().spec
    spec["alert"] = {"target_alert_rate": 1.5}
    raises(SpecError, msg, fc.Pipeline, spec)
    b = tampered_spec(lambda v: v.__setitem__("alert", {"target_alert_rate": 1.5}))
    raises(ArtifactError, stored_spec(msg), fc.Pipeline.from_bytes, b)


# --- BI41: text that is not valid Unicode -------------------------------------------------


def test_bi41_non_utf8_key():
    bad = "a string that is not valid Unicode: it holds an unpaired surrogate"
    msg = f"invalid value for field `card`: an entity key must be a string or an integer (got {bad})"
    raises(SchemaError, msg, pipeline().score, {**E0, "card": "c\ud800"})
    msg = f"invalid value for field `amount`: expected a number, got {bad}"
    raises(SchemaError, msg, pipeline().score, {**E0, "amount": "\udfff"})
    msg = f"invalid input: an event field name is {bad}: fix the text encoding upstream"
    raises(InvalidInputError, msg, pipeline().score, {**E0, "sur\udcffprise": 1})
    msg = "invalid value for field `card`: an entity key must be a string or an integer (got bytes)"
    raises(SchemaError, msg, pipeline().score, {**E0, "card": b"c12"})
    msg = (
        f"unknown field `b'card'`: the spec's schema declares {DECLARED}; add it to the schema "
        "or drop the column"
    )
    raises(SchemaError, msg, pipeline().score, {**without("card"), b"card": "c12"})
    # Erasure requests take the same key rules.
    engine = fc.FeatureEngine(pipeline().spec["features"])
    msg = f"invalid value for field `key`: an entity key must be a string or an integer (got {bad})"
    raises(SchemaError, msg, engine.forget, "c\ud800")
