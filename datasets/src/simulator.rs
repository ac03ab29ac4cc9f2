//! A seeded card-transaction simulator: a re-implementation, from its published description, of the
//! generator of the Fraud Detection Handbook (Le Borgne et al., ULB, 2022, chapter 3).
//!
//! # Model
//! - **Terminals**: location `(x, y) ~ U(0, 100)²`.
//! - **Customers**: location `(x, y) ~ U(0, 100)²`; `mean_amount ~ U(5, 100)`,
//!   `std_amount = mean_amount / 2`; `mean_tx_per_day ~ U(0, 4)`. A customer uses the terminals at a
//!   distance strictly less than [`SimulatorConfig::radius`] from its location (found with a spatial
//!   grid); a customer without any terminal makes no transaction.
//! - **Transactions**: each day a customer makes `Poisson(mean_tx_per_day)` attempts. Each draws a
//!   time of day `N(43200 s, 20000 s)`, floored to whole seconds and discarded unless it falls in
//!   `[0, 86400)`; then an amount `N(mean_amount, std_amount)`, redrawn from `U(0, 2 * mean_amount)` if
//!   negative and rounded to cents; then a terminal, uniformly among the customer's terminals.
//! - **Output**: a [`Transactions`] batch sorted by time with a stable sort (ties keep customer order,
//!   then generation order), transaction ids `0..n` in that order, times in whole seconds (epoch
//!   milliseconds, UTC), customer id = customer index, terminal id = terminal index.
//!
//! # Fraud scenarios
//! Applied in the order 1, 2, 3. **A transaction keeps the first scenario that marks it**: a later
//! scenario never changes its scenario id or its amount.
//! 1. Every transaction with an amount above 220 is fraud (scenario 1).
//! 2. Each day `d`, 2 distinct terminals are drawn uniformly from all terminals (a terminal may be
//!    drawn again on a later day); every transaction at such a terminal on days `d ..= d + 27` (the
//!    day of compromise included, like the handbook's code) is fraud (scenario 2).
//! 3. Each day `d`, 3 distinct customers are drawn uniformly from all customers; of the `n`
//!    transactions of such a customer on days `d ..= d + 13`, `floor(n / 3)` are chosen uniformly
//!    at random (without replacement); each chosen transaction not already fraud gets its amount
//!    multiplied by 5 and is fraud (scenario 3). Days are processed in order and so are the customers
//!    drawn on a day, so overlapping windows of a customer never multiply an amount twice.
//!
//! The handbook's own code lets the last scenario win; it matters for very few transactions (about
//! 0.05% are scenario 1, and the scenarios pick terminals and customers independently of amounts).
//!
//! # Determinism
//! All randomness comes from one [`Xoshiro256PlusPlus`] seeded with [`SimulatorConfig::seed`] and
//! split with `jump()` into non-overlapping sub-streams: one for terminal locations, one for each
//! fraud scenario, one per customer (its profile, then its transactions day after day). The output is
//! the same for a seed on every run; generation is single-threaded, and the per-customer streams keep
//! the output independent of any future parallel split. The sub-streams also make prefixes stable:
//! adding customers or days does not change the profiles of the existing customers.
//!
//! # Speed
//! The published size (5,000 customers, 10,000 terminals, 183 days, about 1.75M transactions) takes
//! well under a second on one core in release mode.

use fraud_core::event::days_from_civil;
use fraud_core::{Error, Result};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::transactions::Transactions;

/// Side of the square area in which customers and terminals live.
const AREA: f64 = 100.0;
/// Customers' mean amounts are drawn from `U(MEAN_AMOUNT_LOW, MEAN_AMOUNT_HIGH)`.
const MEAN_AMOUNT_LOW: f64 = 5.0;
const MEAN_AMOUNT_HIGH: f64 = 100.0;
/// Customers' mean numbers of transactions per day are drawn from `U(0, MAX_TX_PER_DAY)`.
const MAX_TX_PER_DAY: f64 = 4.0;
/// Time of day ~ N(TIME_MEAN_S, TIME_STD_S), in seconds.
const TIME_MEAN_S: f64 = 43_200.0;
const TIME_STD_S: f64 = 20_000.0;
const DAY_S: u64 = 86_400;
const DAY_MS: i64 = 86_400_000;
/// Scenario 1: amounts strictly above 220.00 (in cents).
const SCENARIO1_CENTS: i64 = 22_000;
/// Scenario 2: terminals compromised per day, and days their transactions stay fraudulent.
const TERMINALS_PER_DAY: usize = 2;
const TERMINAL_WINDOW_DAYS: u64 = 28;
/// Scenario 3: customers compromised per day, days of the window, amount factor.
const CUSTOMERS_PER_DAY: usize = 3;
const CUSTOMER_WINDOW_DAYS: u64 = 14;
const SCENARIO3_FACTOR: i64 = 5;
/// Largest number of customers or terminals (ids are stored as `u32` internally).
const MAX_ENTITIES: usize = u32::MAX as usize;

/// Parameters of a simulation run. [`Default`] is the handbook's published run.
///
/// ```
/// use fraud_datasets::simulator::SimulatorConfig;
/// let cfg = SimulatorConfig { customers: 100, terminals: 1000, days: 30, ..Default::default() };
/// cfg.validate()?;
/// assert!(SimulatorConfig { radius: f64::NAN, ..cfg }.validate().is_err());
/// # Ok::<(), fraud_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Number of customers (cards), at least 1. Customer ids are `0..customers`.
    pub customers: usize,
    /// Number of terminals (merchants), at least 1. Terminal ids are `0..terminals`.
    pub terminals: usize,
    /// Number of simulated days, at least 1.
    pub days: u32,
    /// First simulated day as `(year, month, day)`, UTC; year in `1..=9999`.
    pub start_date: (i32, u32, u32),
    /// A customer uses the terminals closer than this distance (the area is 100 x 100); finite, > 0.
    pub radius: f64,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for SimulatorConfig {
    /// The handbook's published run: 5,000 customers, 10,000 terminals, 183 days from 2018-04-01,
    /// radius 5, seed 0.
    fn default() -> Self {
        SimulatorConfig {
            customers: 5_000,
            terminals: 10_000,
            days: 183,
            start_date: (2018, 4, 1),
            radius: 5.0,
            seed: 0,
        }
    }
}

impl SimulatorConfig {
    /// A validated configuration with the given sizes and seed, and the default start date and
    /// radius.
    ///
    /// ```
    /// use fraud_datasets::simulator::SimulatorConfig;
    /// let cfg = SimulatorConfig::new(100, 1000, 30, 42)?;
    /// assert_eq!(cfg.radius, 5.0);
    /// assert!(SimulatorConfig::new(0, 1000, 30, 42).is_err());
    /// # Ok::<(), fraud_core::Error>(())
    /// ```
    pub fn new(customers: usize, terminals: usize, days: u32, seed: u64) -> Result<Self> {
        let cfg = SimulatorConfig {
            customers,
            terminals,
            days,
            seed,
            ..SimulatorConfig::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check every parameter; the error is [`Error::InvalidParameter`] naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.customers == 0 || self.customers > MAX_ENTITIES {
            return Err(Error::param(
                "customers",
                self.customers,
                format!("an integer in 1..={MAX_ENTITIES}"),
            ));
        }
        if self.terminals == 0 || self.terminals > MAX_ENTITIES {
            return Err(Error::param(
                "terminals",
                self.terminals,
                format!("an integer in 1..={MAX_ENTITIES}"),
            ));
        }
        if self.days == 0 {
            return Err(Error::param("days", self.days, "at least 1"));
        }
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return Err(Error::param(
                "radius",
                self.radius,
                "a finite number > 0 (the area is 100 x 100; the handbook uses 5)",
            ));
        }
        let (y, m, d) = self.start_date;
        if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return Err(Error::param(
                "start_date",
                format!("({y}, {m}, {d})"),
                "a valid calendar date (year, month, day) with year in 1..=9999",
            ));
        }
        Ok(())
    }

    /// The first simulated day as days since 1970-01-01 (validates the configuration first).
    pub fn start_epoch_day(&self) -> Result<i64> {
        self.validate()?;
        let (y, m, d) = self.start_date;
        Ok(days_from_civil(i64::from(y), m, d))
    }
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A terminal's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalProfile {
    /// Terminal id (its index).
    pub id: u64,
    /// Location, x in `[0, 100)`.
    pub x: f64,
    /// Location, y in `[0, 100)`.
    pub y: f64,
}

/// A customer's profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerProfile {
    /// Customer id (its index).
    pub id: u64,
    /// Location, x in `[0, 100)`.
    pub x: f64,
    /// Location, y in `[0, 100)`.
    pub y: f64,
    /// Mean of the amount distribution, in `[5, 100)`.
    pub mean_amount: f64,
    /// Standard deviation of the amount distribution: `mean_amount / 2`.
    pub std_amount: f64,
    /// Mean number of transaction attempts per day, in `[0, 4)`.
    pub mean_tx_per_day: f64,
    /// Ids of the terminals closer than the radius, ascending.
    pub terminals: Vec<u64>,
}

/// The customer and terminal profiles of a run, as [`simulate`] draws them.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// One profile per customer, by id.
    pub customers: Vec<CustomerProfile>,
    /// One profile per terminal, by id.
    pub terminals: Vec<TerminalProfile>,
}

/// The customer and terminal profiles that [`simulate`] uses for `config` (same seed, same values).
///
/// ```
/// use fraud_datasets::simulator::{profiles, SimulatorConfig};
/// let p = profiles(&SimulatorConfig::new(10, 1000, 1, 3)?)?;
/// let c = &p.customers[0];
/// assert!(c.terminals.iter().all(|&t| {
///     let t = &p.terminals[t as usize];
///     (t.x - c.x).hypot(t.y - c.y) < 5.0
/// }));
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn profiles(config: &SimulatorConfig) -> Result<Profiles> {
    config.validate()?;
    let streams = Streams::new(config);
    let grid = Grid::new(&streams.terminals, config.radius);
    let mut near = Vec::new();
    let customers = streams
        .customers
        .into_iter()
        .enumerate()
        .map(|(i, (c, _))| {
            grid.within(&streams.terminals, c.x, c.y, config.radius, &mut near);
            CustomerProfile {
                id: i as u64,
                x: c.x,
                y: c.y,
                mean_amount: c.mean_amount,
                std_amount: c.mean_amount / 2.0,
                mean_tx_per_day: c.mean_tx,
                terminals: near.iter().map(|&t| u64::from(t)).collect(),
            }
        })
        .collect();
    let terminals = streams
        .terminals
        .iter()
        .enumerate()
        .map(|(i, &[x, y])| TerminalProfile { id: i as u64, x, y })
        .collect();
    Ok(Profiles {
        customers,
        terminals,
    })
}

/// Simulate the transactions of `config` (validated first), fraud labels included.
///
/// Deterministic: the same configuration gives identical [`Transactions`] on every run. See the
/// [module documentation](self) for the model and the fraud scenarios.
///
/// ```
/// use fraud_datasets::simulator::{simulate, SimulatorConfig};
/// let cfg = SimulatorConfig { customers: 100, terminals: 1000, days: 30, seed: 7, ..Default::default() };
/// let tx = simulate(&cfg)?;
/// assert!(tx.len() > 4000); // about 100 customers x 30 days x 1.94
/// assert!(tx.time_ms.windows(2).all(|w| w[0] <= w[1]));
/// assert_eq!(tx.time_ms[0] / 86_400_000, 17_622); // 2018-04-01
/// assert_eq!(tx, simulate(&cfg)?);
/// assert!(tx.fraud.iter().zip(&tx.scenario).all(|(&f, &s)| f == (s != 0)));
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn simulate(config: &SimulatorConfig) -> Result<Transactions> {
    Ok(run(config)?.transactions)
}

/// A customer's drawn profile (without its terminals).
struct Customer {
    x: f64,
    y: f64,
    mean_amount: f64,
    mean_tx: f64,
}

/// The sub-streams of a run, with the terminal locations and customer profiles already drawn; each
/// customer keeps its stream, positioned after its profile, for its transactions.
struct Streams {
    terminals: Vec<[f64; 2]>,
    scenario2: Xoshiro256PlusPlus,
    scenario3: Xoshiro256PlusPlus,
    customers: Vec<(Customer, Xoshiro256PlusPlus)>,
}

impl Streams {
    fn new(config: &SimulatorConfig) -> Self {
        let mut master = Xoshiro256PlusPlus::seed_from_u64(config.seed);
        let mut next = move || {
            let s = master.clone();
            master.jump();
            s
        };
        let mut rng = next();
        let terminals = (0..config.terminals)
            .map(|_| {
                let x = rng.random::<f64>() * AREA;
                let y = rng.random::<f64>() * AREA;
                [x, y]
            })
            .collect();
        let scenario2 = next();
        let scenario3 = next();
        let customers = (0..config.customers)
            .map(|_| {
                let mut rng = next();
                let x = rng.random::<f64>() * AREA;
                let y = rng.random::<f64>() * AREA;
                let mean_amount =
                    MEAN_AMOUNT_LOW + rng.random::<f64>() * (MEAN_AMOUNT_HIGH - MEAN_AMOUNT_LOW);
                let mean_tx = rng.random::<f64>() * MAX_TX_PER_DAY;
                let c = Customer {
                    x,
                    y,
                    mean_amount,
                    mean_tx,
                };
                (c, rng)
            })
            .collect();
        Streams {
            terminals,
            scenario2,
            scenario3,
            customers,
        }
    }
}

/// Terminals bucketed in a square grid of cells at least `radius` wide (at most 1024 per axis), in
/// compressed rows: the terminals of cell `c` are `items[start[c]..start[c + 1]]`.
struct Grid {
    n: usize,
    cell: f64,
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    fn new(locations: &[[f64; 2]], radius: f64) -> Self {
        let n = ((AREA / radius).floor() as usize).clamp(1, 1024);
        let cell = AREA / n as f64;
        let mut grid = Grid {
            n,
            cell,
            start: vec![0; n * n + 1],
            items: vec![0; locations.len()],
        };
        let cells: Vec<usize> = locations
            .iter()
            .map(|&[x, y]| grid.index(x) * n + grid.index(y))
            .collect();
        for &c in &cells {
            grid.start[c + 1] += 1;
        }
        for c in 0..n * n {
            grid.start[c + 1] += grid.start[c];
        }
        let mut fill = grid.start.clone();
        for (t, &c) in cells.iter().enumerate() {
            grid.items[fill[c] as usize] = t as u32;
            fill[c] += 1;
        }
        grid
    }

    fn index(&self, v: f64) -> usize {
        ((v / self.cell).floor().max(0.0) as usize).min(self.n - 1)
    }

    /// Ids of the terminals at a distance `< radius` from `(x, y)`, ascending, into `out`.
    fn within(&self, locations: &[[f64; 2]], x: f64, y: f64, radius: f64, out: &mut Vec<u32>) {
        out.clear();
        let r2 = radius * radius;
        let (x0, x1) = (self.index(x - radius), self.index(x + radius));
        let (y0, y1) = (self.index(y - radius), self.index(y + radius));
        for cx in x0..=x1 {
            let row = cx * self.n;
            let cells =
                &self.items[self.start[row + y0] as usize..self.start[row + y1 + 1] as usize];
            for &t in cells {
                let [tx, ty] = locations[t as usize];
                let (dx, dy) = (tx - x, ty - y);
                if dx * dx + dy * dy < r2 {
                    out.push(t);
                }
            }
        }
        out.sort_unstable();
    }
}

/// One generated transaction before sorting.
struct Raw {
    /// Seconds since the start of the first day.
    second: u64,
    customer: u32,
    terminal: u32,
    cents: i64,
}

/// A simulation with the draws of the fraud scenarios (for the tests).
struct Run {
    transactions: Transactions,
    /// Per day, the terminals compromised that day (scenario 2).
    #[cfg_attr(not(test), allow(dead_code))]
    compromised_terminals: Vec<Vec<u32>>,
    /// Per day, the customers compromised that day (scenario 3).
    #[cfg_attr(not(test), allow(dead_code))]
    compromised_customers: Vec<Vec<u32>>,
}

fn run(config: &SimulatorConfig) -> Result<Run> {
    let start_ms = config.start_epoch_day()? * DAY_MS;
    let Streams {
        terminals,
        mut scenario2,
        mut scenario3,
        customers,
    } = Streams::new(config);
    let grid = Grid::new(&terminals, config.radius);

    // Transactions, customer by customer, each from its own stream.
    let expected: f64 =
        customers.iter().map(|(c, _)| c.mean_tx).sum::<f64>() * f64::from(config.days);
    let mut raw: Vec<Raw> = Vec::with_capacity((expected * 1.01) as usize + 16);
    let mut near = Vec::new();
    for (id, (c, mut rng)) in customers.into_iter().enumerate() {
        grid.within(&terminals, c.x, c.y, config.radius, &mut near);
        if near.is_empty() {
            continue;
        }
        let exp_neg_mean = (-c.mean_tx).exp();
        let std_amount = c.mean_amount / 2.0;
        for day in 0..u64::from(config.days) {
            for _ in 0..poisson(&mut rng, exp_neg_mean) {
                let z: f64 = StandardNormal.sample(&mut rng);
                let t = (TIME_MEAN_S + TIME_STD_S * z).floor();
                if !(0.0..DAY_S as f64).contains(&t) {
                    continue;
                }
                let z: f64 = StandardNormal.sample(&mut rng);
                let mut amount = c.mean_amount + std_amount * z;
                if amount < 0.0 {
                    amount = rng.random::<f64>() * 2.0 * c.mean_amount;
                }
                let terminal = near[rng.random_range(0..near.len() as u32) as usize];
                raw.push(Raw {
                    second: day * DAY_S + t as u64,
                    customer: id as u32,
                    terminal,
                    cents: (amount * 100.0).round() as i64,
                });
            }
        }
    }
    raw.sort_by_key(|r| r.second);
    let n = raw.len();
    let day_of = |i: usize| raw[i].second / DAY_S;
    let mut cents: Vec<i64> = raw.iter().map(|r| r.cents).collect();

    // Scenario 1.
    let mut scenario: Vec<u8> = cents
        .iter()
        .map(|&c| u8::from(c > SCENARIO1_CENTS))
        .collect();

    // Scenario 2: (terminal, first day) of every compromise, sorted; a transaction is fraud when the
    // latest compromise of its terminal on or before its day is recent enough.
    let days = config.days as usize;
    let compromised_terminals: Vec<Vec<u32>> = (0..days)
        .map(|_| sample_distinct(&mut scenario2, config.terminals, TERMINALS_PER_DAY))
        .collect();
    let mut compromises: Vec<(u32, u64)> = compromised_terminals
        .iter()
        .enumerate()
        .flat_map(|(d, ts)| ts.iter().map(move |&t| (t, d as u64)))
        .collect();
    compromises.sort_unstable();
    for (i, s) in scenario.iter_mut().enumerate() {
        if *s != 0 {
            continue;
        }
        let (terminal, day) = (raw[i].terminal, day_of(i));
        let k = compromises.partition_point(|&p| p <= (terminal, day));
        if k > 0 {
            let (t, from) = compromises[k - 1];
            if t == terminal && day < from + TERMINAL_WINDOW_DAYS {
                *s = 2;
            }
        }
    }

    // Scenario 3: each customer's transactions in time order (compressed rows).
    let mut start = vec![0usize; config.customers + 1];
    for r in &raw {
        start[r.customer as usize + 1] += 1;
    }
    for c in 0..config.customers {
        start[c + 1] += start[c];
    }
    let mut rows = vec![0usize; n];
    let mut fill = start.clone();
    for (i, r) in raw.iter().enumerate() {
        rows[fill[r.customer as usize]] = i;
        fill[r.customer as usize] += 1;
    }
    let compromised_customers: Vec<Vec<u32>> = (0..days)
        .map(|_| sample_distinct(&mut scenario3, config.customers, CUSTOMERS_PER_DAY))
        .collect();
    let mut chosen: Vec<usize> = Vec::new();
    for (d, cs) in compromised_customers.iter().enumerate() {
        let d = d as u64;
        for &c in cs {
            let own = &rows[start[c as usize]..start[c as usize + 1]];
            let lo = own.partition_point(|&i| day_of(i) < d);
            let hi = own.partition_point(|&i| day_of(i) < d + CUSTOMER_WINDOW_DAYS);
            chosen.clear();
            chosen.extend_from_slice(&own[lo..hi]);
            let k = chosen.len() / 3;
            for j in 0..k {
                let pick = rng_index(&mut scenario3, j, chosen.len());
                chosen.swap(j, pick);
                let i = chosen[j];
                if scenario[i] == 0 {
                    scenario[i] = 3;
                    cents[i] *= SCENARIO3_FACTOR;
                }
            }
        }
    }

    let transactions = Transactions {
        transaction_id: (0..n as u64).collect(),
        time_ms: raw
            .iter()
            .map(|r| start_ms + r.second as i64 * 1000)
            .collect(),
        customer_id: raw.iter().map(|r| u64::from(r.customer)).collect(),
        terminal_id: raw.iter().map(|r| u64::from(r.terminal)).collect(),
        amount: cents.iter().map(|&c| c as f64 / 100.0).collect(),
        fraud: scenario.iter().map(|&s| s != 0).collect(),
        scenario,
    };
    Ok(Run {
        transactions,
        compromised_terminals,
        compromised_customers,
    })
}

/// A Poisson draw by Knuth's product of uniforms; `exp_neg_mean = exp(-mean)`. Fast for the small
/// means used here (below 4).
fn poisson(rng: &mut Xoshiro256PlusPlus, exp_neg_mean: f64) -> u32 {
    let mut k = 0;
    let mut p = rng.random::<f64>();
    while p > exp_neg_mean {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

/// A uniform index in `lo..hi`.
fn rng_index(rng: &mut Xoshiro256PlusPlus, lo: usize, hi: usize) -> usize {
    rng.random_range(lo as u64..hi as u64) as usize
}

/// `min(k, n)` distinct values of `0..n`, uniformly, in draw order.
fn sample_distinct(rng: &mut Xoshiro256PlusPlus, n: usize, k: usize) -> Vec<u32> {
    let k = k.min(n);
    let mut out: Vec<u32> = Vec::with_capacity(k);
    while out.len() < k {
        let v = rng_index(rng, 0, n) as u32;
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(seed: u64) -> SimulatorConfig {
        SimulatorConfig {
            customers: 300,
            terminals: 2_000,
            days: 60,
            seed,
            ..SimulatorConfig::default()
        }
    }

    #[test]
    fn validation_names_the_bad_parameter() {
        let base = small(1);
        let name = |cfg: SimulatorConfig| match cfg.validate() {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        };
        assert!(base.validate().is_ok());
        assert!(SimulatorConfig::default().validate().is_ok());
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                name(SimulatorConfig {
                    radius: r,
                    ..base.clone()
                }),
                "radius"
            );
        }
        assert_eq!(
            name(SimulatorConfig {
                customers: 0,
                ..base.clone()
            }),
            "customers"
        );
        assert_eq!(
            name(SimulatorConfig {
                terminals: 0,
                ..base.clone()
            }),
            "terminals"
        );
        assert_eq!(
            name(SimulatorConfig {
                days: 0,
                ..base.clone()
            }),
            "days"
        );
        for date in [
            (2018, 2, 29),
            (2018, 13, 1),
            (2018, 4, 31),
            (0, 1, 1),
            (2018, 1, 0),
        ] {
            assert_eq!(
                name(SimulatorConfig {
                    start_date: date,
                    ..base.clone()
                }),
                "start_date"
            );
        }
        assert!(
            SimulatorConfig {
                start_date: (2020, 2, 29),
                ..base.clone()
            }
            .validate()
            .is_ok()
        );
        let e = SimulatorConfig {
            radius: -1.0,
            ..base.clone()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("-1"), "{e}");
        assert!(simulate(&SimulatorConfig { days: 0, ..base }).is_err());
        assert_eq!(
            SimulatorConfig::default().start_epoch_day().unwrap(),
            days_from_civil(2018, 4, 1)
        );
    }

    #[test]
    fn grid_matches_a_scan_of_all_terminals() {
        for radius in [0.3, 5.0, 12.5, 33.0, 150.0] {
            let cfg = SimulatorConfig { radius, ..small(9) };
            let s = Streams::new(&cfg);
            let grid = Grid::new(&s.terminals, radius);
            let mut near = Vec::new();
            for (c, _) in &s.customers {
                grid.within(&s.terminals, c.x, c.y, radius, &mut near);
                let scan: Vec<u32> = (0..s.terminals.len() as u32)
                    .filter(|&t| {
                        let [x, y] = s.terminals[t as usize];
                        (x - c.x).powi(2) + (y - c.y).powi(2) < radius * radius
                    })
                    .collect();
                assert_eq!(near, scan, "radius {radius}");
            }
        }
    }

    #[test]
    fn transactions_follow_the_profiles() {
        let cfg = small(3);
        let tx = simulate(&cfg).unwrap();
        let p = profiles(&cfg).unwrap();
        let start = cfg.start_epoch_day().unwrap() * DAY_MS;
        assert!(!tx.is_empty());
        assert_eq!(tx.transaction_id, (0..tx.len() as u64).collect::<Vec<_>>());
        for i in 0..tx.len() {
            let c = &p.customers[tx.customer_id[i] as usize];
            assert!(c.terminals.binary_search(&tx.terminal_id[i]).is_ok());
            let t = tx.time_ms[i] - start;
            assert!(t >= 0 && t < i64::from(cfg.days) * DAY_MS && t % 1000 == 0);
            assert_eq!(tx.fraud[i], tx.scenario[i] != 0);
            let cents = tx.amount[i] * 100.0;
            assert!((cents - cents.round()).abs() < 1e-6 && tx.amount[i] >= 0.0);
            match tx.scenario[i] {
                1 => assert!(tx.amount[i] > 220.0),
                0 | 2 => assert!(tx.amount[i] <= 220.0),
                _ => {}
            }
        }
        assert!(tx.time_ms.windows(2).all(|w| w[0] <= w[1]));
        for c in &p.customers {
            assert_eq!(c.std_amount, c.mean_amount / 2.0);
            assert!(
                (5.0..100.0).contains(&c.mean_amount) && (0.0..4.0).contains(&c.mean_tx_per_day)
            );
        }
    }

    #[test]
    fn fraud_scenarios_follow_the_compromises() {
        let cfg = SimulatorConfig {
            customers: 200,
            terminals: 400,
            days: 90,
            ..small(11)
        };
        let run = run(&cfg).unwrap();
        let tx = &run.transactions;
        let plain = {
            // The same run without scenario 3's amount changes: amounts before fraud injection.
            let mut raw = tx.clone();
            for i in 0..raw.len() {
                if raw.scenario[i] == 3 {
                    raw.amount[i] /= 5.0;
                }
            }
            raw
        };
        let start = cfg.start_epoch_day().unwrap() * DAY_MS;
        let day = |i: usize| ((tx.time_ms[i] - start) / DAY_MS) as usize;
        assert!(
            run.compromised_terminals
                .iter()
                .all(|d| d.len() == 2 && d[0] != d[1])
        );
        assert!(run.compromised_customers.iter().all(|d| d.len() == 3));
        let mut counts = [0usize; 4];
        for i in 0..tx.len() {
            counts[tx.scenario[i] as usize] += 1;
            let s1 = plain.amount[i] > 220.0;
            let d = day(i);
            let s2 = (d.saturating_sub(27)..=d)
                .any(|e| run.compromised_terminals[e].contains(&(tx.terminal_id[i] as u32)));
            let expect = if s1 {
                Some(1)
            } else if s2 {
                Some(2)
            } else {
                None
            };
            match expect {
                Some(s) => assert_eq!(tx.scenario[i], s, "row {i}"),
                None => assert!(tx.scenario[i] == 0 || tx.scenario[i] == 3, "row {i}"),
            }
            if tx.scenario[i] == 3 {
                assert!((d.saturating_sub(13)..=d)
                    .any(|e| run.compromised_customers[e].contains(&(tx.customer_id[i] as u32))));
            }
        }
        assert!(
            counts[1] > 0 && counts[2] > 0 && counts[3] > 0,
            "{counts:?}"
        );
        // Each compromise of a customer with no overlap marks floor(n / 3) of its window.
        for (d, cs) in run.compromised_customers.iter().enumerate() {
            for &c in cs {
                let overlap = run.compromised_customers[d.saturating_sub(13)..(d + 14).min(90)]
                    .iter()
                    .filter(|x| x.contains(&c))
                    .count();
                if overlap > 1 {
                    continue;
                }
                let window: Vec<usize> = (0..tx.len())
                    .filter(|&i| tx.customer_id[i] == u64::from(c) && (d..d + 14).contains(&day(i)))
                    .collect();
                let s3 = window.iter().filter(|&&i| tx.scenario[i] == 3).count();
                let other = window
                    .iter()
                    .filter(|&&i| tx.scenario[i] != 0 && tx.scenario[i] != 3)
                    .count();
                assert!(
                    s3 <= window.len() / 3 && s3 + other >= window.len() / 3,
                    "day {d}"
                );
            }
        }
    }

    #[test]
    fn poisson_and_distinct_samples() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let lambda: f64 = 2.5;
        let n = 200_000;
        let draws: Vec<f64> = (0..n)
            .map(|_| f64::from(poisson(&mut rng, (-lambda).exp())))
            .collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            (mean - lambda).abs() < 0.02 && (var - lambda).abs() < 0.05,
            "{mean} {var}"
        );
        assert_eq!(poisson(&mut rng, 1.0), 0);
        assert_eq!(sample_distinct(&mut rng, 1, 3), [0]);
        let mut s = sample_distinct(&mut rng, 3, 3);
        s.sort_unstable();
        assert_eq!(s, [0, 1, 2]);
    }

    #[test]
    fn tiny_configurations_work() {
        let cfg = SimulatorConfig {
            customers: 1,
            terminals: 1,
            days: 3,
            radius: 200.0,
            ..SimulatorConfig::default()
        };
        let tx = simulate(&cfg).unwrap();
        assert!(tx.terminal_id.iter().all(|&t| t == 0));
        // Every transaction of a lone terminal is scenario 1 or 2 (compromised on day 0).
        assert!(tx.scenario.iter().all(|&s| s == 1 || s == 2));
        let far = SimulatorConfig {
            radius: 1e-9,
            ..cfg
        };
        assert!(simulate(&far).unwrap().is_empty());
    }
}
