"""An independent pandas implementation of the 14 baseline features of the Fraud Detection Handbook.

Definitions (``../shared/reference/handbook.md``, chapter 3 of Le Borgne et al.):

* ``TX_DURING_WEEKEND`` = 1 on Saturday and Sunday, else 0; ``TX_DURING_NIGHT`` = 1 when the hour is
  <= 6 (00:00:00 to 06:59:59), else 0.
* For n in {1, 7, 30}, per ``CUSTOMER_ID``, over the window (t - n days, t] that includes the current
  transaction: ``CUSTOMER_ID_NB_TX_{n}DAY_WINDOW`` = count, ``CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW`` =
  sum of ``TX_AMOUNT`` / count. Computed with pandas' time-based ``groupby().rolling()``.
* For n in {1, 7, 30}, per ``TERMINAL_ID``, with a delay d = 7 days, over (t - (d + n) days, t - d days]:
  ``TERMINAL_ID_NB_TX_{n}DAY_WINDOW`` = count, ``TERMINAL_ID_RISK_{n}DAY_WINDOW`` = sum of ``TX_FRAUD`` /
  count (0 when the count is 0). Computed with binary searches (``searchsorted``) over each terminal's
  time-sorted transactions and integer cumulative fraud counts.

It shares no code with ``fraud_core``. Used by ``fraud-py/tests/test_handbook_features.py`` (the
equality check) and ``benches/python/bench_features.py`` (the speed comparison); one copy only.
"""

from __future__ import annotations

import os
from pathlib import Path
from collections.abc import Callable

import numpy as np
import pandas as pd

DAY = 86_400
WINDOWS = (1, 7, 30)
DELAY_DAYS = 7
FILE_NAME = "fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz"
REPO_ROOT = Path(__file__).resolve().parents[2]

FEATURES = [
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    *[
        f"CUSTOMER_ID_{kind}_{n}DAY_WINDOW"
        for n in WINDOWS
        for kind in ("NB_TX", "AVG_AMOUNT")
    ],
    *[f"TERMINAL_ID_{kind}_{n}DAY_WINDOW" for n in WINDOWS for kind in ("NB_TX", "RISK")],
]


def dataset_path() -> Path:
    """The shared stream: ``$FRAUD_DATASETS`` or ``../shared/datasets`` next to the repository."""
    root = os.environ.get("FRAUD_DATASETS")
    base = Path(root) if root else REPO_ROOT.parent / "shared" / "datasets"
    return base / FILE_NAME


def load(path: Path | None = None) -> pd.DataFrame:
    """Read the handbook CSV with ``TX_DATETIME`` parsed as datetime64 (whole seconds, UTC)."""
    return pd.read_csv(path or dataset_path(), parse_dates=["TX_DATETIME"])


def _seconds(ts: pd.Series) -> np.ndarray:
    return ts.to_numpy().astype("datetime64[s]").astype(np.int64)


def _rolling_per_key(
    df: pd.DataFrame, key: str, value: str
) -> tuple[pd.Index, Callable[[int], tuple[np.ndarray, np.ndarray]]]:
    """Per-``key`` time-based rolling windows of ``value``: returns the row labels of ``df`` in time
    order and ``rolled(days)``, the count and sum over (t - days, t] (the current row included) of
    every row, in that order."""
    data = pd.DataFrame(
        {
            key: df[key].to_numpy(),
            "TX_DATETIME": df["TX_DATETIME"].to_numpy(),
            value: df[value].to_numpy(dtype=np.float64),
        }
    )
    # Rolling on a time index needs each group sorted by time; a stable sort keeps file order
    # among equal times (the order the transactions happened in).
    data = data.sort_values("TX_DATETIME", kind="stable")
    grouped = data.groupby(key, sort=False)
    # Rows come back grouped by key (keys in order of first appearance, rows in `data` order
    # within a key), indexed by (key, time): their positions in `data` are a stable sort of the
    # keys' first-appearance codes.
    pos = np.argsort(pd.factorize(data[key])[0], kind="stable")

    def rolled(days: int) -> tuple[np.ndarray, np.ndarray]:
        r = grouped.rolling(f"{days}D", on="TX_DATETIME", closed="right")[value]
        count, total = np.empty(len(data)), np.empty(len(data))
        count[pos] = r.count().to_numpy()
        total[pos] = r.sum().to_numpy()
        return count, total

    # `data` keeps df's row positions as its (RangeIndex-derived) index labels.
    return data.index, rolled


def customer_features(df: pd.DataFrame) -> pd.DataFrame:
    """Count and mean amount per customer over (t - n days, t], including the current row."""
    index, rolled = _rolling_per_key(df, "CUSTOMER_ID", "TX_AMOUNT")
    out = {}
    for n in WINDOWS:
        count, total = rolled(n)
        out[f"CUSTOMER_ID_NB_TX_{n}DAY_WINDOW"] = count
        out[f"CUSTOMER_ID_AVG_AMOUNT_{n}DAY_WINDOW"] = total / count
    return pd.DataFrame(out, index=index).sort_index()


def terminal_features(df: pd.DataFrame) -> pd.DataFrame:
    """Count and fraud rate per terminal over (t - (d + n) days, t - d days], d = 7 days."""
    secs = _seconds(df["TX_DATETIME"])
    fraud = df["TX_FRAUD"].to_numpy(dtype=np.int64)
    codes = pd.factorize(df["TERMINAL_ID"])[0].astype(np.int64)
    # Sort by (terminal, time); within a terminal the times are ascending.
    order = np.lexsort((secs, codes))
    # One sorted search key per row: terminal in the high bits, time (shifted to stay positive
    # after subtracting the longest window plus delay) in the low bits, so a search never leaves
    # the row's own terminal.
    shift = 40 * DAY - int(secs.min())
    key = (codes[order] << 34) + (secs[order] + shift)
    cum_fraud = np.concatenate(([0], np.cumsum(fraud[order])))
    d = DELAY_DAYS * DAY
    out = {}
    for n in WINDOWS:
        hi = np.searchsorted(key, key - d, side="right")  # times <= t - d
        lo = np.searchsorted(key, key - d - n * DAY, side="right")  # times <= t - d - n days
        count = (hi - lo).astype(np.float64)
        frauds = (cum_fraud[hi] - cum_fraud[lo]).astype(np.float64)
        risk = np.divide(frauds, count, out=np.zeros_like(frauds), where=count > 0)
        nb = np.empty(len(df))
        rk = np.empty(len(df))
        nb[order] = count
        rk[order] = risk
        out[f"TERMINAL_ID_NB_TX_{n}DAY_WINDOW"] = nb
        out[f"TERMINAL_ID_RISK_{n}DAY_WINDOW"] = rk
    return pd.DataFrame(out)


def terminal_features_rolling(df: pd.DataFrame) -> pd.DataFrame:
    """``terminal_features`` in the rolling idiom the handbook uses for them (chapter 3): per
    terminal, time-based rolling counts and fraud sums over (t - (d + n) days, t] minus those over
    (t - d days, t]. Integer counts, so the difference is exact; the same values as
    ``terminal_features``, several times slower (it is here to time the common way of writing
    these features in pandas, see ``benches/python/bench_features.py``)."""
    index, rolled = _rolling_per_key(df, "TERMINAL_ID", "TX_FRAUD")
    near_count, near_frauds = rolled(DELAY_DAYS)
    out = {}
    for n in WINDOWS:
        far_count, far_frauds = rolled(DELAY_DAYS + n)
        count = far_count - near_count
        frauds = far_frauds - near_frauds
        out[f"TERMINAL_ID_NB_TX_{n}DAY_WINDOW"] = count
        out[f"TERMINAL_ID_RISK_{n}DAY_WINDOW"] = np.divide(
            frauds, count, out=np.zeros_like(frauds), where=count > 0
        )
    return pd.DataFrame(out, index=index).sort_index()


def calendar_features(df: pd.DataFrame) -> pd.DataFrame:
    """Weekend and night flags from the transaction time."""
    ts = df["TX_DATETIME"].dt
    return pd.DataFrame(
        {
            "TX_DURING_WEEKEND": (ts.day_of_week >= 5).to_numpy(dtype=np.float64),
            "TX_DURING_NIGHT": (ts.hour <= 6).to_numpy(dtype=np.float64),
        }
    )


def handbook_features(df: pd.DataFrame, terminal_rolling: bool = False) -> pd.DataFrame:
    """All 14 features, one row per input row (input order, ``df``'s index), handbook names.

    ``terminal_rolling`` computes the terminal features with ``terminal_features_rolling`` (the
    handbook's rolling idiom) instead of the binary searches of ``terminal_features``."""
    plain = df.reset_index(drop=True)
    terminal = terminal_features_rolling if terminal_rolling else terminal_features
    parts = [calendar_features(plain), customer_features(plain), terminal(plain)]
    out = pd.concat(parts, axis=1)[FEATURES]
    out.index = df.index
    return out


def same_second_rows(df: pd.DataFrame) -> np.ndarray:
    """Rows of a customer that has another transaction in the same second (order-dependent rows)."""
    return df.duplicated(["CUSTOMER_ID", "TX_DATETIME"], keep=False).to_numpy()
