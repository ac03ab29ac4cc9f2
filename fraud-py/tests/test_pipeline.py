"""fraud_core.Pipeline: fit on a DataFrame, score vs score_batch, artifacts, pickling, errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import fraud_core

pd = pytest.importorskip("pandas")

SPEC_DIR = Path(__file__).resolve().parents[2] / "datasets" / "specs"


def transactions(seed: int, n: int, start: str = "2018-04-01") -> pd.DataFrame:
    """Simulated-looking card transactions: 200 customers with their own mean amount, 400
    terminals; 3% fraud with inflated amounts."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64(start, "ms").astype(np.int64)
    times = t0 + np.sort(rng.integers(0, 30 * 86_400_000, size=n))
    customer = rng.integers(0, 200, size=n)
    mean = 20 + (customer * 7919 % 200)
    fraud = rng.random(n) < 0.03
    amount = np.round(mean * rng.gamma(4.0, 0.25, size=n) * np.where(fraud, 6.0, 1.0), 2)
    return pd.DataFrame(
        {
            "TRANSACTION_ID": np.arange(n),
            "TX_DATETIME": pd.to_datetime(times, unit="ms"),
            "CUSTOMER_ID": customer,
            "TERMINAL_ID": rng.integers(0, 400, size=n),
            "TX_AMOUNT": amount,
            "TX_FRAUD": fraud.astype(np.int64),
        }
    )


def spec(**extra):
    s = {
        "features": json.loads((SPEC_DIR / "handbook.json").read_text()),
        "detectors": [
            {"kind": "isolation_forest", "n_estimators": 50, "random_state": 1},
            {"kind": "zscore", "weight": 0.5},
        ],
        "alert": {"target_alert_rate": 0.02},
        "reasons": 3,
    }
    s.update(extra)
    return s


@pytest.fixture(scope="module")
def data():
    df = transactions(0, 6000)
    return df.iloc[:4000].reset_index(drop=True), df.iloc[4000:].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted_bytes(data):
    train, _ = data
    return fraud_core.Pipeline(spec()).fit(train).to_bytes()


def events(df):
    for row in df.drop(columns=["TX_FRAUD"]).to_dict("records"):
        yield row


def test_score_equals_score_batch(data, fitted_bytes):
    _, test = data
    one = fraud_core.Pipeline.from_bytes(fitted_bytes)
    batch = fraud_core.Pipeline.from_bytes(fitted_bytes).score_batch(test.drop(columns=["TX_FRAUD"]))
    assert list(batch.columns[:5]) == ["risk", "is_alert", "reason_1", "reason_2", "reason_3"]
    assert batch.index.equals(test.index)
    assert ((batch["risk"] >= 0) & (batch["risk"] <= 1)).all()
    for i, ev in enumerate(events(test.iloc[:400])):
        s = one.score(ev)
        assert s["risk"] == batch["risk"].iloc[i]
        assert s["is_alert"] == bool(batch["is_alert"].iloc[i])
        names = [r[0] for r in s["reasons"]]
        assert names == [n for n in batch.iloc[i][["reason_1", "reason_2", "reason_3"]] if n is not None]
        for k, (name, value, contribution) in enumerate(s["reasons"]):
            assert contribution == batch[f"contribution_{k + 1}"].iloc[i]
            assert value == batch[f"value_{k + 1}"].iloc[i]
            assert name in one.input_names_


def test_fit_properties_and_quality(data):
    train, test = data
    p = fraud_core.Pipeline(spec())
    with pytest.raises(fraud_core.NotFittedError):
        p.score({})
    assert p.fit(train) is p
    assert 0 < p.threshold_ <= 1
    assert len(p.feature_names_) == 14 and p.input_names_ == p.feature_names_
    out = p.score_batch(test)
    auc = fraud_core.roc_auc_score(test["TX_FRAUD"].to_numpy() == 1, out["risk"].to_numpy())
    print(f"weighted pipeline ROC AUC on the test rows: {auc:.4f}")
    assert auc > 0.7
    # The training alert rate matches the target when the training rows are scored again.
    p.reset_state()
    rate = p.score_batch(train)["is_alert"].mean()
    assert abs(rate - 0.02) < 0.005, rate


def test_bytes_save_load_and_pickle_give_identical_scores(data, fitted_bytes, tmp_path):
    _, test = data
    a = fraud_core.Pipeline.from_bytes(fitted_bytes)
    assert len(a.to_bytes()) == len(fitted_bytes)
    path = tmp_path / "pipeline.bin"
    a.save(path)
    b = fraud_core.Pipeline.load(path)
    c = pickle.loads(pickle.dumps(fraud_core.Pipeline.from_bytes(fitted_bytes)))
    for ev in events(test.iloc[:100]):
        sa, sb, sc = a.score(ev), b.score(ev), c.score(ev)
        assert sa == sb == sc
    unfitted = pickle.loads(pickle.dumps(fraud_core.Pipeline(spec())))
    assert unfitted.spec == fraud_core.Pipeline(spec()).spec


def test_supervised_combine(data):
    train, test = data
    s = spec(
        combine="supervised",
        detectors=[
            {"kind": "isolation_forest", "n_estimators": 50, "random_state": 1},
            {"kind": "supervised", "model": "logistic_regression", "random_state": 2},
        ],
    )
    p = fraud_core.Pipeline(s).fit(train)
    out = p.score_batch(test.drop(columns=["TX_FRAUD"]))
    auc = fraud_core.roc_auc_score(test["TX_FRAUD"].to_numpy() == 1, out["risk"].to_numpy())
    print(f"supervised combine ROC AUC on the test rows: {auc:.4f}")
    assert auc > 0.7


def test_spec_from_json_string_and_path(tmp_path):
    text = json.dumps(spec())
    path = tmp_path / "spec.json"
    path.write_text(text)
    assert fraud_core.Pipeline(text).spec == fraud_core.Pipeline(path).spec
    assert fraud_core.Pipeline(str(path)).spec == fraud_core.Pipeline(spec()).spec


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"inputs": ["TX_DURING_NIGHT", "NOPE"]}, "inputs[1]"),
        ({"detectors": [{"kind": "zscore", "weight": 0}]}, "detectors[0].weight"),
        ({"detectors": [{"kind": "isolation_forest", "n_estimators": 0}]}, "detectors[0].n_estimators"),
        ({"combine": "supervised"}, "combine"),
        ({"alert": {"target_alert_rate": 2}}, "alert.target_alert_rate"),
        ({"colour": "red"}, "colour"),
        ({"detectors": [{"kind": "zscore", "treshold": 3}]}, "treshold"),
    ],
)
def test_bad_specs_raise_spec_errors_naming_the_field(change, field):
    with pytest.raises(fraud_core.SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        fraud_core.Pipeline(spec(**change))


def test_bad_inputs_raise_fraud_errors(data, fitted_bytes):
    train, test = data
    with pytest.raises(fraud_core.InvalidParameterError):
        fraud_core.Pipeline(42)
    with pytest.raises(fraud_core.SchemaError, match="TX_AMOUNT"):
        fraud_core.Pipeline(spec()).fit(train.drop(columns=["TX_AMOUNT"]))
    with pytest.raises(fraud_core.SchemaError, match="EXTRA"):
        fraud_core.Pipeline(spec()).fit(train.assign(EXTRA=1))
    with pytest.raises(fraud_core.InvalidInputError):
        fraud_core.Pipeline(spec()).fit(train.to_numpy())
    p = fraud_core.Pipeline.from_bytes(fitted_bytes)
    ev = next(events(test))
    with pytest.raises(fraud_core.SchemaError, match="TX_AMOUNT"):
        p.score({**ev, "TX_AMOUNT": "a lot"})
    with pytest.raises(fraud_core.SchemaError, match="CUSTOMER_ID"):
        p.score({k: v for k, v in ev.items() if k != "CUSTOMER_ID"})
    with pytest.raises(fraud_core.LateEventError):
        p.score({**ev, "TX_DATETIME": "2000-01-01 00:00:00"})
    with pytest.raises(fraud_core.ArtifactError):
        fraud_core.Pipeline.from_bytes(fitted_bytes[:-1])
    flipped = bytearray(fitted_bytes)
    flipped[100] ^= 1
    with pytest.raises(fraud_core.ArtifactError):
        fraud_core.Pipeline.from_bytes(bytes(flipped))
    with pytest.raises(fraud_core.ArtifactError, match="kind"):
        fraud_core.Pipeline.from_bytes(fraud_core.IsolationForest(random_state=0).fit(np.eye(3)).to_bytes())
    # A supervised detector without a label column.
    s = spec(detectors=[{"kind": "supervised"}])
    with pytest.raises(fraud_core.SchemaError, match="TX_FRAUD"):
        fraud_core.Pipeline(s).fit(train.drop(columns=["TX_FRAUD"]))
