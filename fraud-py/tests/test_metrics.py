"""fraud_core's metrics against scikit-learn, numpy and an independent pandas implementation.

(A short smoke test of the same functions also lives in test_parity.py::test_metrics_match_sklearn.)
"""

from __future__ import annotations

import numpy as np
import pytest

import fraud_core

sklearn_metrics = pytest.importorskip("sklearn.metrics")
pd = pytest.importorskip("pandas")

SEEDS = range(25)
SIZES = (2, 3, 7, 50, 500, 3000)


def _random_case(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with both classes and scores with many ties (a few distinct values)."""
    y = rng.random(n) < rng.uniform(0.05, 0.6)
    y[0], y[-1] = True, False
    levels = int(rng.integers(1, max(2, n // 3) + 1))
    s = rng.integers(0, levels, size=n) / 7.0 - 1.0
    return y, s


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_roc_auc_and_ap_match_sklearn_with_ties(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed * 1000 + n)
    y, s = _random_case(rng, n)
    assert abs(fraud_core.roc_auc_score(y, s) - sklearn_metrics.roc_auc_score(y, s)) <= 1e-12
    ap = fraud_core.average_precision_score(y, s)
    assert abs(ap - sklearn_metrics.average_precision_score(y, s)) <= 1e-12
    # Continuous scores (no ties), 0/1 integer labels, a pandas Series.
    c = rng.normal(size=n)
    yi = pd.Series(y.astype(np.int64))
    assert abs(fraud_core.roc_auc_score(yi, c) - sklearn_metrics.roc_auc_score(y, c)) <= 1e-12
    ap = fraud_core.average_precision_score(yi, c)
    assert abs(ap - sklearn_metrics.average_precision_score(y, c)) <= 1e-12


def test_all_tied_scores() -> None:
    y = np.array([1, 0, 0, 1, 0])
    s = np.zeros(5)
    assert fraud_core.roc_auc_score(y, s) == sklearn_metrics.roc_auc_score(y, s) == 0.5
    assert fraud_core.average_precision_score(y, s) == pytest.approx(
        sklearn_metrics.average_precision_score(y, s), abs=1e-15
    )


@pytest.mark.parametrize("seed", range(10))
def test_precision_at_k_matches_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    y, s = rng.random(n) < 0.3, rng.integers(0, 5, size=n).astype(float)
    # Ties are broken by input order: a stable sort of the negated scores.
    order = np.argsort(-s, kind="stable")
    for k in {1, 2, n // 2 or 1, n}:
        assert fraud_core.precision_at_k(y, s, k) == np.mean(y[order[:k]])


# ---------------------------------------------------------------------------- card precision@k


def handbook_card_precision(df: pd.DataFrame, k: int, remove_detected: bool = True) -> float:
    """The handbook's definition, written with pandas (columns: day, card, fraud, score).

    Per day: max score and max label per card, cards sorted by score (ties: card key ascending),
    top k, fraction compromised = count / k; detected compromised cards are removed from later
    days; mean over days.
    """
    detected: set = set()
    per_day = []
    for day in sorted(df["day"].unique()):
        d = df[df["day"] == day]
        if remove_detected:
            d = d[~d["card"].isin(detected)]
        cards = d.groupby("card").agg(score=("score", "max"), fraud=("fraud", "max")).reset_index()
        cards = cards.sort_values(["score", "card"], ascending=[False, True], kind="stable")
        top = cards.head(k)
        hits = list(top.loc[top["fraud"] == 1, "card"])
        per_day.append(len(hits) / k)
        if remove_detected:
            detected.update(hits)
    return float(np.mean(per_day))


def _transactions(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "day": rng.integers(0, 6, size=n),
            "card": rng.integers(0, max(2, n // 4), size=n),
            "fraud": (rng.random(n) < 0.15).astype(np.int64),
            "score": rng.integers(0, 8, size=n) / 4.0,  # ties
        }
    )


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n", (1, 5, 40, 400, 3000))
def test_card_precision_matches_pandas(seed: int, n: int) -> None:
    df = _transactions(seed, n)
    for k in (1, 3, 10, 100):
        for remove in (True, False):
            got = fraud_core.card_precision_at_k(
                df["day"], df["card"], df["fraud"], df["score"], k, remove_detected=remove
            )
            assert got == pytest.approx(handbook_card_precision(df, k, remove), abs=1e-15)
    # Row order does not matter (ties are broken by card key, not by position).
    shuffled = df.sample(frac=1.0, random_state=seed)
    assert fraud_core.card_precision_at_k(
        shuffled["day"], shuffled["card"], shuffled["fraud"] == 1, shuffled["score"], 3
    ) == fraud_core.card_precision_at_k(df["day"], df["card"], df["fraud"], df["score"], 3)


def test_card_precision_days_as_datetimes_and_cards_as_strings() -> None:
    df = _transactions(3, 600)
    start = pd.Timestamp("2018-08-08")
    # Random times within each day: bucketed back into calendar days.
    secs = np.random.default_rng(0).integers(0, 86400, size=len(df))
    when = start + pd.to_timedelta(df["day"], unit="D") + pd.to_timedelta(secs, unit="s")
    names = "c" + df["card"].astype(str).str.zfill(5)
    expected = handbook_card_precision(df.assign(card=names), 10)
    assert expected == pytest.approx(handbook_card_precision(df, 10))  # zero-padded: same order
    assert fraud_core.card_precision_at_k(when, names, df["fraud"], df["score"], 10) == expected
    assert fraud_core.card_precision_at_k(
        when.to_numpy(), names.to_numpy(), df["fraud"], df["score"], 10
    ) == expected
    # tz-aware values count by their local calendar day.
    local = when.dt.tz_localize("Europe/Brussels")
    assert fraud_core.card_precision_at_k(local, names, df["fraud"], df["score"], 10) == expected
    # datetime.datetime / datetime.date objects, float whole day numbers.
    objs = [t.to_pydatetime() for t in when]
    assert fraud_core.card_precision_at_k(objs, names, df["fraud"], df["score"], 10) == expected
    dates = [t.date() for t in when]
    assert fraud_core.card_precision_at_k(dates, names, df["fraud"], df["score"], 10) == expected
    assert fraud_core.card_precision_at_k(
        df["day"].astype(float), names, df["fraud"], df["score"], 10
    ) == expected


def test_card_precision_hand_computed() -> None:
    days = [0, 0, 0, 1, 1]
    cards = ["x", "y", "y", "x", "z"]
    fraud = [1, 0, 0, 1, 1]
    score = [0.9, 0.1, 0.8, 0.95, 0.3]
    # Day 0: top card x (fraud) -> 1. Day 1: x already detected, z ranks -> 1.
    assert fraud_core.card_precision_at_k(days, cards, fraud, score, 1) == 1.0
    # Without removal, day 1 ranks x then z; k = 2: day 0 {x, y} -> 1/2, day 1 {x, z} -> 1.
    cp = fraud_core.card_precision_at_k(days, cards, fraud, score, 2, remove_detected=False)
    assert cp == 0.75
    # Fewer cards than k: still divided by k.
    assert fraud_core.card_precision_at_k([0], ["a"], [1], [0.5], 100) == 0.01


def test_card_precision_errors() -> None:
    ok = dict(days=[0, 0], cards=[1, 2], y_true=[1, 0], y_score=[0.2, 0.1])
    with pytest.raises(fraud_core.ShapeError):
        fraud_core.card_precision_at_k(**{**ok, "y_score": [0.2]})
    with pytest.raises(fraud_core.ShapeError):
        fraud_core.card_precision_at_k(**{**ok, "cards": [1]})
    with pytest.raises(fraud_core.ShapeError):
        fraud_core.card_precision_at_k(**{**ok, "days": [0, 1, 2]})
    with pytest.raises(fraud_core.ShapeError, match="empty"):
        fraud_core.card_precision_at_k([], [], [], [])
    with pytest.raises(fraud_core.InvalidInputError, match=r"score\[1\]"):
        fraud_core.card_precision_at_k(**{**ok, "y_score": [0.2, np.nan]})
    for k in (0, -1, 1.5, True):
        with pytest.raises(fraud_core.InvalidParameterError, match="`k`"):
            fraud_core.card_precision_at_k(**ok, k=k)
    with pytest.raises(fraud_core.InvalidInputError, match="whole day"):
        fraud_core.card_precision_at_k(**{**ok, "days": [0.5, 1.0]})
    with pytest.raises(fraud_core.InvalidInputError, match="NaT"):
        fraud_core.card_precision_at_k(
            **{**ok, "days": np.array(["2018-01-01", "NaT"], dtype="datetime64[ns]")}
        )
    with pytest.raises(fraud_core.DTypeError):
        fraud_core.card_precision_at_k(**{**ok, "days": ["monday", "tuesday"]})
    with pytest.raises(fraud_core.DTypeError):
        fraud_core.card_precision_at_k(**{**ok, "cards": np.array([1, "a"], dtype=object)})
    with pytest.raises(fraud_core.InvalidInputError, match="binary"):
        fraud_core.card_precision_at_k(**{**ok, "y_true": [0, 2]})
    with pytest.raises(fraud_core.InvalidParameterError, match="remove_detected"):
        fraud_core.card_precision_at_k(**ok, remove_detected="yes")
    assert isinstance(fraud_core.InvalidParameterError("x"), ValueError)
