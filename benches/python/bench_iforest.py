"""Isolation forest peers in one process: fraud_core vs scikit-learn vs isotree.

Same protocol as ../shared/reference/iforest.md: 100 trees, subsample 256, fit on all rows, score all
rows; seeds 0..SEEDS-1. Prints, per ODDS set: ROC AUC, fit time, batch rows/s on ONE thread (best of
3 whole-set scoring calls), batch rows/s with every core (fraud_core n_jobs=-1), and one-row latency
through each library's public Python API (fraud_core ``score_one``, scikit-learn
``score_samples(X[i:i+1])``, isotree ``predict(X[i:i+1])``), then ratios fraud_core / peer.

Usage:  python benches/python/bench_iforest.py [--sets cover,shuttle] [--seeds 3] [--rows 2000]
Needs:  fraud_core (built wheel), numpy, pandas, scikit-learn, isotree (optional; skipped if absent).
Data:   $FRAUD_DATASETS or ../shared/datasets relative to the repository root.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest as SkIF
from sklearn.metrics import roc_auc_score

import fraud_core

try:
    from isotree import IsolationForest as IsoIF
except ImportError:  # pragma: no cover - optional peer
    IsoIF = None

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(os.environ.get("FRAUD_DATASETS", ROOT.parent / "shared" / "datasets"))
SETS = ["cardio", "cover", "glass", "letter", "mammography", "musk", "optdigits", "pendigits",
        "satellite", "satimage-2", "shuttle", "smtp", "thyroid", "vowels", "wbc"]


def best_of(fn, repeat=3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def latency_us(fn, rows):
    times = np.empty(len(rows))
    for i, r in enumerate(rows):
        t = time.perf_counter_ns()
        fn(r)
        times[i] = (time.perf_counter_ns() - t) / 1000.0
    return np.percentile(times, 50), np.percentile(times, 99)


def make(lib, seed, n_jobs=1):
    if lib == "fraud_core":
        return fraud_core.IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=n_jobs)
    if lib == "sklearn":
        return SkIF(n_estimators=100, max_samples=256, random_state=seed, n_jobs=n_jobs)
    return IsoIF(ntrees=100, sample_size=256, ndim=1, missing_action="fail", nthreads=n_jobs,
                 random_seed=1000 * seed)


def anomaly_scores(lib, model, X):
    if lib == "isotree":
        return model.predict(X)
    return -model.score_samples(X)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rows", type=int, default=2000, help="rows timed one at a time")
    args = ap.parse_args()
    libs = ["fraud_core", "sklearn"] + (["isotree"] if IsoIF is not None else [])
    if IsoIF is None:
        print("NOTE: isotree not installed; comparing with scikit-learn only")
    totals = {lib: {"fit": 0.0, "score": 0.0, "rows": 0} for lib in libs}
    print(f"{'set':<12}{'lib':<11}{'AUC':>7}{'fit ms':>9}{'rows/s 1T':>12}{'rows/s all':>12}"
          f"{'1-row p50 us':>14}{'p99 us':>9}")
    summary = []
    for name in args.sets.split(","):
        df = pd.read_csv(DATA / f"{name}.csv.gz")
        y = df.pop("label").to_numpy()
        X = np.ascontiguousarray(df.to_numpy(dtype=np.float64))
        rng = np.random.default_rng(0)
        pick = rng.choice(len(X), size=min(args.rows, len(X)), replace=False)
        row = {}
        for lib in libs:
            aucs, fits, scores = [], [], []
            for seed in range(args.seeds):
                m = make(lib, seed)
                t = time.perf_counter()
                m.fit(X)
                fits.append(time.perf_counter() - t)
                s, out = best_of(lambda: anomaly_scores(lib, m, X))
                scores.append(s)
                aucs.append(roc_auc_score(y, out))
            par = "-"
            if lib == "fraud_core":
                mp = make(lib, 0, n_jobs=-1).fit(X)
                sp, _ = best_of(lambda: mp.score_samples(X))
                par = f"{len(X) / sp:,.0f}"
                rows = [X[i] for i in pick]
                p50, p99 = latency_us(m.score_one, rows)
            elif lib == "sklearn":
                rows = [X[i:i + 1] for i in pick[: min(200, len(pick))]]
                p50, p99 = latency_us(m.score_samples, rows)
            else:
                rows = [X[i:i + 1] for i in pick]
                p50, p99 = latency_us(m.predict, rows)
            rps = len(X) / float(np.median(scores))
            row[lib] = dict(auc=np.mean(aucs), fit=np.median(fits), rps=rps, p50=p50, p99=p99)
            totals[lib]["fit"] += np.median(fits)
            totals[lib]["score"] += float(np.median(scores))
            totals[lib]["rows"] += len(X)
            print(f"{name:<12}{lib:<11}{np.mean(aucs):>7.3f}{np.median(fits) * 1e3:>9.1f}{rps:>12,.0f}{par:>12}"
                  f"{p50:>14.2f}{p99:>9.2f}")
        summary.append((name, row))
    print("\nratios fraud_core / peer (speed: higher is better for fraud_core)")
    print(f"{'set':<12}{'peer':<9}{'rows/s 1T':>10}{'1-row p50':>11}{'fit':>8}{'AUC diff':>10}")
    for name, row in summary:
        fc = row["fraud_core"]
        for lib in libs[1:]:
            p = row[lib]
            print(f"{name:<12}{lib:<9}{fc['rps'] / p['rps']:>9.1f}x{p['p50'] / fc['p50']:>10.1f}x"
                  f"{p['fit'] / fc['fit']:>7.1f}x{fc['auc'] - p['auc']:>+10.3f}")
    fc = totals["fraud_core"]
    for lib in libs[1:]:
        p = totals[lib]
        print(f"all sets: fraud_core scores {p['score'] / fc['score']:.1f}x faster than {lib} on one thread "
              f"({fc['rows'] / fc['score']:,.0f} vs {p['rows'] / p['score']:,.0f} rows/s), "
              f"fits {p['fit'] / fc['fit']:.1f}x faster")


if __name__ == "__main__":
    main()
