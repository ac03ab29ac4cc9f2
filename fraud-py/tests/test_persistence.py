"""Model artifacts: to_bytes/from_bytes, save/load, pickle, joblib, corrupted and foreign bytes."""

from __future__ import annotations

import io
import pickle
import struct
import zlib

import numpy as np
import pytest

import fraud_core
from fraud_core import ArtifactError, DTypeError, FraudError

HEADER = 24  # magic(8) version(2) kind(2) flags(4) payload length(8); CRC-32 trailer(4)


def _reseal(b: bytearray) -> bytes:
    """Recompute the trailing CRC-32 (IEEE, as crc32fast) so only the payload logic is tested."""
    b[-4:] = struct.pack("<I", zlib.crc32(bytes(b[:-4])) & 0xFFFFFFFF)
    return bytes(b)


def test_bytes_round_trip(fitted, data):
    b = fitted.to_bytes()
    assert isinstance(b, bytes) and b[:8] == b"FRAUDCOR"
    back = fraud_core.IsolationForest.from_bytes(b)
    assert np.array_equal(back.score_samples(data), fitted.score_samples(data))
    assert back.offset_ == fitted.offset_
    assert back.max_samples_ == fitted.max_samples_
    assert back.n_features_in_ == fitted.n_features_in_
    assert back.n_estimators == 50 and back.random_state == fitted._forest.seed
    assert back.to_bytes() == b
    for wrapped in (bytearray(b), memoryview(b)):
        assert fraud_core.IsolationForest.from_bytes(wrapped).to_bytes() == b
    # a restored model refits like the original (the seed is kept as random_state)
    assert back.fit(data).to_bytes() == fitted.fit(data).to_bytes()


def test_save_load(tmp_path, fitted, data):
    path = tmp_path / "model.fcm"
    fitted.save(path)
    assert path.read_bytes() == fitted.to_bytes()
    back = fraud_core.IsolationForest.load(str(path))
    assert np.array_equal(back.score_samples(data), fitted.score_samples(data))
    with pytest.raises(FraudError, match="cannot read"):
        fraud_core.IsolationForest.load(tmp_path / "missing.fcm")


def test_pickle_round_trip(data):
    rs = np.random.RandomState(0)
    est = fraud_core.IsolationForest(n_estimators=20, random_state=rs, contamination=0.05).fit(data)
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(est, protocol=protocol))
        assert np.array_equal(back.score_samples(data), est.score_samples(data))
        assert np.array_equal(back.predict(data), est.predict(data))
        assert back.offset_ == est.offset_
        assert isinstance(back.random_state, np.random.RandomState)  # Python params verbatim
        assert back.get_params()["contamination"] == 0.05
    unfitted = pickle.loads(pickle.dumps(fraud_core.IsolationForest(n_estimators=3)))
    assert unfitted.n_estimators == 3 and not hasattr(unfitted, "_forest")
    # the pickle carries the artifact, not a Python-level copy of the trees
    state = est.__getstate__()
    assert "_forest" not in state and state["_forest_bytes"] == est.to_bytes()
    # the native object pickles on its own too
    native = pickle.loads(pickle.dumps(est._forest))
    assert np.array_equal(native.score_samples(data), est.score_samples(data))


def test_joblib_round_trip(tmp_path, fitted, data):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "m.joblib"
    joblib.dump(fitted, path)
    back = joblib.load(path)
    assert np.array_equal(back.score_samples(data), fitted.score_samples(data))
    buf = io.BytesIO()
    joblib.dump(fitted, buf, compress=3)
    buf.seek(0)
    assert np.array_equal(joblib.load(buf).decision_function(data), fitted.decision_function(data))


def test_truncated_bytes_are_refused(fitted):
    b = fitted.to_bytes()
    for n in list(range(0, 64)) + list(range(64, len(b), max(1, len(b) // 200))) + [len(b) - 1]:
        with pytest.raises(ArtifactError) as info:
            fraud_core.IsolationForest.from_bytes(b[:n])
        assert isinstance(info.value, FraudError) and isinstance(info.value, ValueError)
        assert "truncated" in str(info.value) or "length" in str(info.value)


def test_corrupted_bytes_are_refused(fitted):
    b = fitted.to_bytes()
    rng = np.random.RandomState(0)
    for i in list(range(HEADER + 8)) + list(rng.randint(HEADER, len(b), size=200)):
        bad = bytearray(b)
        bad[i] ^= 1 << int(rng.randint(8))
        with pytest.raises(ArtifactError):
            fraud_core.IsolationForest.from_bytes(bytes(bad))
    bad = bytearray(b)
    bad[len(b) // 2] ^= 0xFF
    with pytest.raises(ArtifactError, match="checksum"):
        fraud_core.IsolationForest.from_bytes(bytes(bad))


def test_foreign_and_future_bytes_are_refused(fitted):
    for foreign in (
        b"",
        b"PK\x03\x04 a zip file, not a model",
        pickle.dumps(fitted),
        b"FRAUDCO",
        b"\x00" * 1000,
    ):
        with pytest.raises(ArtifactError):
            fraud_core.IsolationForest.from_bytes(foreign)
    future = bytearray(fitted.to_bytes())
    future[8:10] = struct.pack("<H", 999)
    with pytest.raises(ArtifactError, match="unsupported format version 999"):
        fraud_core.IsolationForest.from_bytes(_reseal(future))
    kind = bytearray(fitted.to_bytes())
    kind[10:12] = struct.pack("<H", 77)
    with pytest.raises(ArtifactError, match="kind"):
        fraud_core.IsolationForest.from_bytes(_reseal(kind))
    with pytest.raises(DTypeError):
        fraud_core.IsolationForest.from_bytes("FRAUDCOR")  # type: ignore[arg-type]


def test_resealed_payload_mutations_never_crash(fitted, data):
    """Mutate payload bytes and fix the checksum: decoding must refuse or give a sane model."""
    b = fitted.to_bytes()
    rng = np.random.RandomState(1)
    loaded = 0
    for _ in range(400):
        bad = bytearray(b)
        for i in rng.randint(HEADER, len(b) - 4, size=rng.randint(1, 4)):
            bad[i] = rng.randint(256)
        try:
            m = fraud_core.IsolationForest.from_bytes(_reseal(bad))
        except ArtifactError:
            continue
        loaded += 1
        s = m.score_samples(data)  # whatever loaded must score without crashing
        assert np.all(np.isfinite(s)) and np.all((s >= -1) & (s <= 0))
        assert m.score_one(data[0]) == s[0]
    assert 0 < loaded < 400  # both paths exercised: refused and loaded-then-scored


def test_export_json_reloads(fitted):
    import json

    doc = json.loads(fitted.export_json())
    assert doc["n_features_in"] == 4 and len(doc["trees"]) == 50
    assert doc["offset"] == fitted.offset_ and doc["max_samples"] == fitted.max_samples_
    assert fitted._to_json() == fitted.export_json()


def test_every_model_and_engine_saves_atomically_and_loads(tmp_path):
    """save(path) writes through a temporary file + rename (no temporary left behind, an
    existing file is replaced whole) and load(path) gives back an identical object."""
    import json
    from pathlib import Path

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] > 1.0).astype(int)
    spec = json.loads(
        (Path(__file__).resolve().parents[2] / "datasets" / "specs" / "handbook.json").read_text()
    )
    engine = fraud_core.FeatureEngine(spec)
    engine.update(
        {"TX_DATETIME": "2018-04-01 00:01:00", "CUSTOMER_ID": 1, "TERMINAL_ID": 2,
         "TX_AMOUNT": 12.5, "TX_FRAUD": 0, "TRANSACTION_ID": 0, "TX_TIME_SECONDS": 60,
         "TX_TIME_DAYS": 0, "TX_FRAUD_SCENARIO": 0}
    )
    models = {
        "iforest": fraud_core.IsolationForest(n_estimators=20, random_state=0).fit(x),
        "zscore": fraud_core.ZScore().fit(x),
        "robust": fraud_core.RobustZScore().fit(x),
        "supervised": fraud_core.SupervisedClassifier(n_estimators=5, random_state=0).fit(x, y),
    }
    for name, m in models.items():
        path = tmp_path / f"{name}.bin"
        path.write_bytes(b"an older, different file")
        m.save(path)
        assert path.read_bytes() == m.to_bytes(), name
        back = type(m).load(str(path))
        assert back.to_bytes() == m.to_bytes(), name
    path = tmp_path / "engine.snap"
    engine.save(path)
    back = fraud_core.FeatureEngine.load(path)
    # Counters and entities equal; state_bytes counts allocated capacity, tighter after a restore.
    drop = lambda d: {k: v for k, v in d.items() if k != "state_bytes"}  # noqa: E731
    assert drop(back.stats) == drop(engine.stats)
    ev = {"TX_DATETIME": "2018-04-01 00:05:00", "CUSTOMER_ID": 1, "TERMINAL_ID": 2,
          "TX_AMOUNT": 7.0, "TX_FRAUD": 0, "TRANSACTION_ID": 1, "TX_TIME_SECONDS": 300,
          "TX_TIME_DAYS": 0, "TX_FRAUD_SCENARIO": 0}
    assert back.update(ev) == engine.update(ev)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{n}.bin" for n in models] + ["engine.snap"]
    ), "a temporary file was left behind"
    with pytest.raises(fraud_core.InvalidInputError, match="cannot read"):
        fraud_core.ZScore.load(tmp_path / "missing.bin")
    with pytest.raises(fraud_core.InvalidInputError, match="cannot create temporary file"):
        models["zscore"].save(tmp_path / "no-such-folder" / "z.bin")
