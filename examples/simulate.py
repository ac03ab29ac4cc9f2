"""A small, seeded transaction simulator in the spirit of the handbook's (numpy only).

Columns follow the handbook format: TRANSACTION_ID, TX_DATETIME, CUSTOMER_ID, TERMINAL_ID,
TX_AMOUNT, TX_FRAUD (and TX_FRAUD_SCENARIO). Rows are sorted by (TX_DATETIME, TRANSACTION_ID);
TRANSACTION_ID is 0..n-1 in that order, so it is the tie-break for equal timestamps.

Fraud scenarios (as in the handbook): 1) any amount above 220; 2) two terminals a day are
compromised for the next 28 days; 3) three customers a day have a third of their next 14 days'
transactions multiplied by 5 (the handbook's daily rates, 2 in 10,000 terminals and 3 in 5,000
customers, scaled to the population: Binomial draws).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_transactions(
    n_customers: int = 500,
    n_terminals: int = 200,
    n_days: int = 60,
    seed: int = 0,
    start: str = "2024-04-01",
    time_resolution_s: int = 1,
) -> pd.DataFrame:
    """Simulate handbook-style transactions; ``time_resolution_s`` > 1 rounds times (more ties)."""
    rng = np.random.default_rng(seed)
    cust_xy = rng.uniform(0, 100, size=(n_customers, 2))
    term_xy = rng.uniform(0, 100, size=(n_terminals, 2))
    mean_amount = rng.uniform(5, 100, n_customers)
    std_amount = mean_amount / 2
    mean_tx_day = rng.uniform(0, 4, n_customers)
    # each customer's terminals: the ones within radius 5 (at least the nearest one)
    d2 = ((cust_xy[:, None, :] - term_xy[None, :, :]) ** 2).sum(-1)
    near = [
        np.flatnonzero(row < 25.0) if (row < 25.0).any() else np.array([row.argmin()]) for row in d2
    ]

    n_tx = rng.poisson(np.repeat(mean_tx_day[None, :], n_days, axis=0))  # (days, customers)
    day_idx, cust_idx = np.nonzero(n_tx)
    reps = n_tx[day_idx, cust_idx]
    day = np.repeat(day_idx, reps)
    cust = np.repeat(cust_idx, reps)
    secs = np.clip(rng.normal(86400 / 2, 20000, size=len(day)), 0, 86399).astype(np.int64)
    secs = secs // time_resolution_s * time_resolution_s
    amount = np.abs(rng.normal(mean_amount[cust], std_amount[cust])).round(2)
    term = np.array([near[c][rng.integers(len(near[c]))] for c in cust], dtype=np.int64)
    t = day.astype(np.int64) * 86400 + secs

    order = np.lexsort((rng.random(len(t)), t))
    t, day, cust, term, amount = t[order], day[order], cust[order], term[order], amount[order]

    fraud = np.zeros(len(t), dtype=np.int64)
    scenario = np.zeros(len(t), dtype=np.int64)
    big = amount > 220
    fraud[big], scenario[big] = 1, 1
    for d in range(n_days):
        for tm in rng.choice(n_terminals, size=rng.binomial(n_terminals, 2e-4 * 10), replace=False):
            hit = (term == tm) & (day >= d) & (day < d + 28) & (fraud == 0)
            fraud[hit], scenario[hit] = 1, 2
        for c in rng.choice(n_customers, size=rng.binomial(n_customers, 6e-4 * 3), replace=False):
            idx = np.flatnonzero((cust == c) & (day >= d) & (day < d + 14) & (fraud == 0))
            if len(idx):
                pick = rng.choice(idx, size=len(idx) // 3, replace=False)
                amount[pick] = (amount[pick] * 5).round(2)
                fraud[pick], scenario[pick] = 1, 3

    return pd.DataFrame(
        {
            "TRANSACTION_ID": np.arange(len(t), dtype=np.int64),
            "TX_DATETIME": pd.Timestamp(start) + pd.to_timedelta(t, unit="s"),
            "CUSTOMER_ID": cust.astype(np.int64),
            "TERMINAL_ID": term,
            "TX_AMOUNT": amount,
            "TX_FRAUD": fraud,
            "TX_FRAUD_SCENARIO": scenario,
        }
    )
