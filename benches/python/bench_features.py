"""Benchmark: the handbook features over the whole shared stream, pandas vs fraud_core.FeatureEngine.

Times (CSV parsing excluded, one thread, best of ``--repeat`` runs):

* the independent pandas implementation (``handbook_pandas.py``, also used by the equality test
  ``fraud-py/tests/test_handbook_features.py``): customer windows with ``groupby().rolling()``,
  terminal windows with binary searches over cumulative fraud counts (the fastest pandas/numpy
  formulation we have);
* the same with the terminal windows in the rolling idiom of the handbook itself (rolling over
  ``d + n`` days minus rolling over ``d`` days; ``--skip-rolling`` leaves it out), the way these
  features are commonly written in pandas;
* ``FeatureEngine(datasets/specs/handbook.json).transform(df)`` on the same DataFrame,

checks that all three agree, prints the times and the ratios, then the per-event latency of
``FeatureEngine.update(dict)`` called from Python (p50 / p99 / p99.9 over ``--events`` events of
the same stream, after a warm-up).

    .venv/bin/python benches/python/bench_features.py [--repeat 3] [--events 100000] [--skip-rolling]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import handbook_pandas  # noqa: E402

import fraud_core  # noqa: E402

SPEC = HERE.parents[1] / "datasets" / "specs" / "handbook.json"


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--skip-rolling", action="store_true", help="leave out the rolling-idiom pandas run")
    args = ap.parse_args()

    path = handbook_pandas.dataset_path()
    if not path.exists():
        print(f"SKIPPED: handbook dataset not found at {path} (set FRAUD_DATASETS)")
        return
    t = time.perf_counter()
    df = handbook_pandas.load(path)
    print(f"read {len(df):,} rows in {time.perf_counter() - t:.2f} s (not counted)")

    t_pd, ref = best(lambda: handbook_pandas.handbook_features(df), args.repeat)
    t_fc, got = best(lambda: fraud_core.FeatureEngine(SPEC).transform(df), args.repeat)
    diff = np.abs(got.to_numpy() - ref.to_numpy())
    ties = handbook_pandas.same_second_rows(df)
    print(f"pandas reference (searchsorted terminals) {t_pd:8.3f} s  ({len(df) / t_pd:,.0f} rows/s)")
    if not args.skip_rolling:
        t_roll, rolled = best(
            lambda: handbook_pandas.handbook_features(df, terminal_rolling=True), args.repeat
        )
        print(f"pandas, rolling idiom for the terminals   {t_roll:8.3f} s  ({len(df) / t_roll:,.0f} rows/s)")
    print(f"FeatureEngine.transform                   {t_fc:8.3f} s  ({len(df) / t_fc:,.0f} rows/s)")
    print(f"ratio (pandas reference / engine)      {t_pd / t_fc:6.1f}x")
    if not args.skip_rolling:
        print(f"ratio (pandas rolling idiom / engine)  {t_roll / t_fc:6.1f}x")
        roll_diff = np.abs(rolled.to_numpy() - ref.to_numpy()).max()
        print(f"max |difference| between the two pandas implementations: {roll_diff:.3g}")
    print(f"max |difference| engine vs pandas, off same-second ties: {diff[~ties].max():.3g}")

    engine = fraud_core.FeatureEngine(SPEC)
    events = df.iloc[: args.events + 10_000].to_dict("records")
    for e in events:
        e["TX_DATETIME"] = str(e["TX_DATETIME"])  # what a service receives: JSON-like values
    warm, timed = events[:10_000], events[10_000:]
    for e in warm:
        engine.update(e)
    lat = np.empty(len(timed))
    update = engine.update
    clock = time.perf_counter_ns
    for i, e in enumerate(timed):
        t0 = clock()
        update(e)
        lat[i] = clock() - t0
    p50, p99, p999 = np.percentile(lat, [50, 99, 99.9]) / 1000
    print(
        f"update from Python ({len(timed):,} events, dict in, dict out): "
        f"p50 {p50:.2f} us, p99 {p99:.2f} us, p99.9 {p999:.2f} us"
    )


if __name__ == "__main__":
    main()
