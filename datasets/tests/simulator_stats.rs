//! Statistics of the transaction simulator against the Fraud Detection Handbook's published run and
//! against expectations computed here, independently of the simulator, from the model's description.

use fraud_datasets::simulator::{SimulatorConfig, profiles, simulate};
use fraud_datasets::transactions::Transactions;

/// The handbook's published run: 1,754,155 transactions over 183 days.
const PUBLISHED_TRANSACTIONS: f64 = 1_754_155.0;

/// Complementary error function (Numerical Recipes' `erfcc`, fractional error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal CDF.
fn phi_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal density.
fn phi_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Midpoint-rule average of `f` over `[a, b]`.
fn average(a: f64, b: f64, f: impl Fn(f64) -> f64) -> f64 {
    let n = 20_000;
    let h = (b - a) / n as f64;
    (0..n).map(|i| f(a + (i as f64 + 0.5) * h)).sum::<f64>() / n as f64
}

/// Probability that a time of day N(43200, 20000) falls inside the day.
fn in_day() -> f64 {
    phi_cdf(43_200.0 / 20_000.0) - phi_cdf(-43_200.0 / 20_000.0)
}

/// `E[A | m]` and `E[A² | m]` for an amount `N(m, m/2)` redrawn from `U(0, 2m)` when negative.
fn amount_moments(m: f64) -> (f64, f64) {
    let s = m / 2.0;
    let (keep, neg) = (phi_cdf(2.0), phi_cdf(-2.0));
    let first = m * keep + s * phi_pdf(2.0) + neg * m;
    let second = (m * m + s * s) * keep + s * m * phi_pdf(2.0) + neg * 4.0 * m * m / 3.0;
    (first, second)
}

/// `E[floor(N / 3)]` for `N ~ Poisson(mu)`.
fn mean_third(mu: f64) -> f64 {
    let mut p = (-mu).exp();
    let mut total = 0.0;
    let top = (mu + 12.0 * mu.sqrt() + 30.0) as u32;
    for k in 0..=top {
        if k > 0 {
            p *= mu / f64::from(k);
        }
        total += f64::from(k / 3) * p;
    }
    total
}

fn share(tx: &Transactions, scenario: u8) -> f64 {
    tx.scenario.iter().filter(|&&s| s == scenario).count() as f64 / tx.len() as f64
}

fn mean_std(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count() as f64;
    let mean = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn close(what: &str, got: f64, want: f64, rel: f64) {
    eprintln!(
        "{what}: {got:.6} (expected {want:.6}, {:+.2}%)",
        100.0 * (got / want - 1.0)
    );
    assert!(
        (got / want - 1.0).abs() <= rel,
        "{what}: {got} is not within {}% of {want}",
        100.0 * rel
    );
}

#[test]
fn same_seed_same_transactions_different_seed_different() {
    let cfg = SimulatorConfig::new(200, 1_000, 20, 5).unwrap();
    let a = simulate(&cfg).unwrap();
    assert!(a.len() > 5_000);
    assert_eq!(a, simulate(&cfg).unwrap());
    let b = simulate(&SimulatorConfig {
        seed: 6,
        ..cfg.clone()
    })
    .unwrap();
    assert_ne!(a, b);
    assert_ne!(a.amount[..100], b.amount[..100]);
    // Sub-streams: more customers or days keep the existing customers' profiles.
    let more = profiles(&SimulatorConfig {
        customers: 300,
        days: 40,
        ..cfg.clone()
    })
    .unwrap();
    let base = profiles(&cfg).unwrap();
    assert_eq!(base.customers[..], more.customers[..200]);
    assert_eq!(base.terminals, more.terminals);
}

#[test]
fn small_run_has_the_handbook_shape() {
    let cfg = SimulatorConfig {
        customers: 1_000,
        terminals: 2_000,
        days: 60,
        seed: 17,
        ..SimulatorConfig::default()
    };
    let tx = simulate(&cfg).unwrap();
    let per_customer_day = tx.len() as f64 / (1_000.0 * 60.0);
    close(
        "small: transactions per customer-day",
        per_customer_day,
        2.0 * in_day(),
        0.06,
    );
    // Given the drawn profiles, the count is Poisson with mean sum(lambda) * days * P(in day).
    let p = profiles(&cfg).unwrap();
    let lambda: f64 = p
        .customers
        .iter()
        .filter(|c| !c.terminals.is_empty())
        .map(|c| c.mean_tx_per_day)
        .sum();
    close(
        "small: transactions given the profiles",
        tx.len() as f64,
        lambda * 60.0 * in_day(),
        0.015,
    );
    let fraud = tx.fraud.iter().filter(|&&f| f).count() as f64 / tx.len() as f64;
    eprintln!("small: fraud rate {fraud:.4}");
    // 2,000 terminals and 1,000 customers: scenarios 2 and 3 weigh 5x more than in the full run.
    assert!((0.02..0.06).contains(&fraud), "{fraud}");
    assert!((1..=3).all(|s| share(&tx, s) > 0.0));
}

/// The published size: 5,000 customers, 10,000 terminals, 183 days from 2018-04-01, r = 5.
#[test]
fn default_run_matches_the_published_statistics() {
    let cfg = SimulatorConfig::default();
    let started = std::time::Instant::now();
    let tx = simulate(&cfg).unwrap();
    eprintln!(
        "default run: {} transactions in {:.2?}",
        tx.len(),
        started.elapsed()
    );
    let n = tx.len() as f64;
    let days = f64::from(cfg.days);
    let (customers, terminals) = (cfg.customers as f64, cfg.terminals as f64);

    // Volume: 9,585.5 a day in the published run; the model expects 5000 * 2 * P(in day) = 9,692.
    close("transactions", n, PUBLISHED_TRANSACTIONS, 0.03);
    let expected_n = customers * days * 2.0 * in_day();
    close("transactions vs model", n, expected_n, 0.03);
    eprintln!("transactions per day: {:.1}", n / days);
    assert_eq!(
        tx.time_ms[0],
        1_522_540_800_000 + tx.time_ms[0] % 86_400_000
    ); // 2018-04-01
    assert!(*tx.time_ms.last().unwrap() < 1_522_540_800_000 + 183 * 86_400_000);

    // Fraud: 0.837% in the published run.
    let fraud = tx.fraud.iter().filter(|&&f| f).count() as f64 / n;
    eprintln!("fraud rate: {:.4}%", 100.0 * fraud);
    assert!((0.007..=0.010).contains(&fraud), "fraud rate {fraud}");

    // Scenario 1: P(amount > 220), amount ~ N(m, m/2), m ~ U(5, 100); rounded to cents.
    let p1 = average(5.0, 100.0, |m| 1.0 - phi_cdf((220.005 - m) / (m / 2.0)));
    close("scenario 1 share", share(&tx, 1), p1, 0.2);
    // Scenario 2: on day d, about 2 * min(d + 1, 28) compromised terminals, each with 1/T of the
    // volume on average.
    let compromised: f64 = (0..cfg.days)
        .map(|d| 2.0 * f64::from((d + 1).min(28)))
        .sum();
    let p2 = (1.0 - p1) * compromised / (days * terminals);
    close("scenario 2 share", share(&tx, 2), p2, 0.1);
    // Scenario 3: 3 customers a day, floor(n / 3) of their n transactions over min(14, days left)
    // days, with n ~ Poisson(lambda * P(in day) * window), lambda ~ U(0, 4); minus those already fraud.
    let q = in_day();
    let per_customer: f64 = (0..cfg.days)
        .map(|d| {
            let window = f64::from((cfg.days - d).min(14));
            average(0.0, 4.0, |lambda| mean_third(lambda * q * window))
        })
        .sum();
    let p3 = (1.0 - p1 - p2) * 3.0 * per_customer / expected_n;
    close("scenario 3 share", share(&tx, 3), p3, 0.1);
    eprintln!(
        "published shares: 1 {:.4}%, 2 {:.4}%, 3 {:.4}%",
        100.0 * 973.0 / PUBLISHED_TRANSACTIONS,
        100.0 * 9_077.0 / PUBLISHED_TRANSACTIONS,
        100.0 * 4_631.0 / PUBLISHED_TRANSACTIONS
    );

    // Amounts not changed by scenario 3: the mixture over m ~ U(5, 100) (lambda is independent of m).
    let plain = || {
        tx.amount
            .iter()
            .zip(&tx.scenario)
            .filter(|(_, s)| **s != 3)
            .map(|(a, _)| *a)
    };
    let (mean, std) = mean_std(plain());
    let m1 = average(5.0, 100.0, |m| amount_moments(m).0);
    let m2 = average(5.0, 100.0, |m| amount_moments(m).1);
    close("amount mean", mean, m1, 0.03);
    close("amount std", std, (m2 - m1 * m1).sqrt(), 0.03);
    // Conditional on the drawn profiles, the sum of amounts is much tighter.
    let p = profiles(&cfg).unwrap();
    let (mut got, mut want) = (0.0, 0.0);
    for i in 0..tx.len() {
        if tx.scenario[i] != 3 {
            got += tx.amount[i];
            want += amount_moments(p.customers[tx.customer_id[i] as usize].mean_amount).0;
        }
    }
    close("amount sum given the profiles", got, want, 0.005);
    let (mean, std) = mean_std(tx.amount.iter().copied());
    eprintln!("all amounts: mean {mean:.3} std {std:.3} (published 53.632, 42.326)");

    // Time of day: N(43200, 20000) truncated to the day.
    let (mean, std) = mean_std(
        tx.time_ms
            .iter()
            .map(|t| (t.rem_euclid(86_400_000) / 1000) as f64),
    );
    let a = 43_200.0 / 20_000.0;
    let truncated = 20_000.0 * (1.0 - 2.0 * a * phi_pdf(a) / (2.0 * phi_cdf(a) - 1.0)).sqrt();
    close("time-of-day mean", mean, 43_199.5, 0.005);
    close("time-of-day std", std, truncated, 0.01);

    // Terminals per customer: pi r^2 T / 100^2 = 78.5 without edges; with the square's edges the
    // expected count is T * P(two uniform points closer than r) = T (pi r^2/L^2 - 8r^3/(3L^3) + r^4/(2L^4)).
    let (r, l) = (cfg.radius, 100.0);
    let no_edges = std::f64::consts::PI * r * r * terminals / (l * l);
    let with_edges = terminals
        * (std::f64::consts::PI * r * r / (l * l) - 8.0 * r.powi(3) / (3.0 * l.powi(3))
            + r.powi(4) / (2.0 * l.powi(4)));
    let avg = p
        .customers
        .iter()
        .map(|c| c.terminals.len() as f64)
        .sum::<f64>()
        / customers;
    eprintln!("terminals per customer: {avg:.2} (pi r^2 T / 100^2 = {no_edges:.2})");
    close("terminals per customer", avg, with_edges, 0.02);
    assert!((avg / no_edges - 1.0).abs() < 0.06);
    let active = {
        let mut ids = tx.customer_id.clone();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    eprintln!("customers with a transaction: {active} (published 4,990)");
    assert!(active > 4_950);
}
