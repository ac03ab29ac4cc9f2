//! Card transactions as columns (the Fraud Detection Handbook's format), and their CSV loader.
//!
//! The handbook's CSV has the header
//! `TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO`
//! (column order free, extra columns ignored); `TX_DATETIME` is `YYYY-MM-DD HH:MM:SS` (UTC).

use std::io::Read;
use std::path::Path;

use fraud_core::Error;
use fraud_core::event::{Event, EventColumns, KeyColumn, TimeColumn, parse_datetime_ms};

/// Card transactions, one entry per transaction in every column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transactions {
    /// Transaction id.
    pub transaction_id: Vec<u64>,
    /// Event time, epoch milliseconds (UTC).
    pub time_ms: Vec<i64>,
    /// Customer (card) id.
    pub customer_id: Vec<u64>,
    /// Terminal (merchant) id.
    pub terminal_id: Vec<u64>,
    /// Amount.
    pub amount: Vec<f64>,
    /// Fraud label.
    pub fraud: Vec<bool>,
    /// Fraud scenario: 0 genuine, 1-3 the handbook's scenarios.
    pub scenario: Vec<u8>,
}

/// A dictionary-encoded key column (see [`KeyColumn`]) that owns its storage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyDict {
    /// Per-row index into `values`.
    pub codes: Vec<i64>,
    /// The key texts.
    pub values: Vec<String>,
}

impl KeyDict {
    /// Encode integer ids: the code of id `i` is its rank among the distinct ids.
    pub fn from_ids(ids: &[u64]) -> Self {
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let codes = ids
            .iter()
            .map(|id| distinct.binary_search(id).unwrap_or_default() as i64)
            .collect();
        KeyDict {
            codes,
            values: distinct.iter().map(u64::to_string).collect(),
        }
    }

    /// Borrow as a [`KeyColumn`].
    pub fn column(&self) -> KeyColumn<'_> {
        KeyColumn {
            codes: &self.codes,
            values: &self.values,
        }
    }
}

/// Columns of a [`Transactions`] batch ready for
/// [`FeatureEngine::transform_columns`](fraud_core::features::FeatureEngine::transform_columns)
/// with the schema of `datasets/specs/handbook.json` (keys `CUSTOMER_ID`, `TERMINAL_ID`; numeric
/// `TX_AMOUNT`; label `TX_FRAUD`).
#[derive(Debug, Clone)]
pub struct HandbookColumns {
    /// Customer keys.
    pub customer: KeyDict,
    /// Terminal keys.
    pub terminal: KeyDict,
    /// Labels as 0/1.
    pub label: Vec<f64>,
}

impl Transactions {
    /// Number of transactions.
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }

    /// Dictionary-encoded key columns and labels, to borrow with [`HandbookColumns::view`].
    pub fn handbook_columns(&self) -> HandbookColumns {
        HandbookColumns {
            customer: KeyDict::from_ids(&self.customer_id),
            terminal: KeyDict::from_ids(&self.terminal_id),
            label: self.fraud.iter().map(|&f| f64::from(u8::from(f))).collect(),
        }
    }

    /// Transaction `i` as an [`Event`] of the handbook schema (keys customer, terminal; value
    /// amount; label fraud), or with `label: false` without its label (what serving sees).
    pub fn event(&self, i: usize, label: bool) -> Event {
        Event::new(
            self.time_ms[i],
            vec![
                self.customer_id[i].to_string(),
                self.terminal_id[i].to_string(),
            ],
            vec![self.amount[i]],
            label.then(|| f64::from(u8::from(self.fraud[i]))),
        )
    }

    /// Rows `range` as a new batch.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Transactions {
        Transactions {
            transaction_id: self.transaction_id[range.clone()].to_vec(),
            time_ms: self.time_ms[range.clone()].to_vec(),
            customer_id: self.customer_id[range.clone()].to_vec(),
            terminal_id: self.terminal_id[range.clone()].to_vec(),
            amount: self.amount[range.clone()].to_vec(),
            fraud: self.fraud[range.clone()].to_vec(),
            scenario: self.scenario[range].to_vec(),
        }
    }
}

impl HandbookColumns {
    /// Borrow as [`EventColumns`] together with the transactions' times and amounts.
    pub fn view<'a>(&'a self, tx: &'a Transactions) -> EventColumns<'a> {
        EventColumns {
            time: TimeColumn::Millis(&tx.time_ms),
            keys: vec![self.customer.column(), self.terminal.column()],
            numeric: vec![&tx.amount],
            label: Some(&self.label),
            id: None,
        }
    }
}

/// How the time column of a transactions CSV is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// `YYYY-MM-DD HH:MM:SS[.fff]` or RFC 3339 (UTC without an offset).
    #[default]
    Datetime,
    /// Epoch seconds (integer or decimal).
    Seconds,
    /// Epoch milliseconds (integer).
    Millis,
}

/// Which CSV columns hold the transaction fields (see [`load_csv`]); the default is the
/// handbook's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    /// Transaction id (non-negative integer).
    pub id: String,
    /// Event time.
    pub time: String,
    /// How the time is written.
    pub time_format: TimeFormat,
    /// Customer / card key.
    pub customer: String,
    /// Terminal / merchant key.
    pub terminal: String,
    /// Amount.
    pub amount: String,
    /// Fraud label (0/1, `true`/`false`); optional column (absent = all genuine).
    pub fraud: Option<String>,
    /// Fraud scenario (small integer); optional column.
    pub scenario: Option<String>,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            id: "TRANSACTION_ID".into(),
            time: "TX_DATETIME".into(),
            time_format: TimeFormat::Datetime,
            customer: "CUSTOMER_ID".into(),
            terminal: "TERMINAL_ID".into(),
            amount: "TX_AMOUNT".into(),
            fraud: Some("TX_FRAUD".into()),
            scenario: Some("TX_FRAUD_SCENARIO".into()),
        }
    }
}

impl ColumnMap {
    /// Parse `field=column` pairs separated by commas over the default (handbook) map, e.g.
    /// `"id=tx,time=ts,time_format=s,customer=card,terminal=shop,amount=amt,fraud=label"`;
    /// `fraud=` or `scenario=` with no column means the column is absent.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut m = ColumnMap::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                Error::InvalidInput(format!("column mapping `{pair}` is not field=column"))
            })?;
            let v = v.trim().to_string();
            match k.trim() {
                "id" => m.id = v,
                "time" => m.time = v,
                "customer" => m.customer = v,
                "terminal" => m.terminal = v,
                "amount" => m.amount = v,
                "fraud" => m.fraud = (!v.is_empty()).then_some(v),
                "scenario" => m.scenario = (!v.is_empty()).then_some(v),
                "time_format" => {
                    m.time_format = match v.as_str() {
                        "datetime" => TimeFormat::Datetime,
                        "s" => TimeFormat::Seconds,
                        "ms" => TimeFormat::Millis,
                        other => {
                            return Err(Error::InvalidInput(format!(
                                "time_format `{other}` is not one of datetime, s, ms"
                            )));
                        }
                    }
                }
                other => {
                    return Err(Error::InvalidInput(format!(
                        "unknown field `{other}` in the column mapping (known: id, time, time_format, customer, terminal, amount, fraud, scenario)"
                    )));
                }
            }
        }
        Ok(m)
    }
}

/// Load a transactions CSV (gzip-compressed when the name ends in `.gz`) whose columns are named
/// by `map`. Integer customer and terminal keys are kept; other key texts get ids `2^63 + k` in
/// order of first appearance (numbered separately for customers and terminals). Errors name the line and column of a bad value.
pub fn load_csv(path: impl AsRef<Path>, map: &ColumnMap) -> Result<Transactions, Error> {
    let path = path.as_ref();
    let reader = crate::open_data_file(path)?;
    parse_csv(reader, &path.display().to_string(), map)
}

/// Load a handbook-format CSV file ([`ColumnMap::default`]).
///
/// ```no_run
/// let tx = fraud_datasets::transactions::load_handbook(
///     "../shared/datasets/fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz")?;
/// assert_eq!(tx.len(), 1_754_155);
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn load_handbook(path: impl AsRef<Path>) -> Result<Transactions, Error> {
    load_csv(path, &ColumnMap::default())
}

/// Parse handbook-format CSV from any reader; `name` is used in error messages.
pub fn parse_handbook(reader: impl Read, name: &str) -> Result<Transactions, Error> {
    parse_csv(reader, name, &ColumnMap::default())
}

/// Parse a transactions CSV from any reader with the columns named by `map`.
pub fn parse_csv(reader: impl Read, name: &str, map: &ColumnMap) -> Result<Transactions, Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let headers = rdr
        .byte_headers()
        .map_err(|e| Error::InvalidInput(format!("{name}: cannot read the header: {e}")))?
        .clone();
    let wanted: [Option<&str>; 7] = [
        Some(&map.id),
        Some(&map.time),
        Some(&map.customer),
        Some(&map.terminal),
        Some(&map.amount),
        map.fraud.as_deref(),
        map.scenario.as_deref(),
    ];
    let needed: Vec<&str> = wanted.iter().flatten().copied().collect();
    let mut pos = [usize::MAX; 7];
    for (p, want) in pos.iter_mut().zip(wanted) {
        if let Some(want) = want {
            *p = headers
                .iter()
                .position(|h| h == want.as_bytes())
                .ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "{name}: the header has no column `{want}` (needed: {})",
                        needed.join(", ")
                    ))
                })?;
        }
    }
    let col_name = |c: usize| wanted[c].unwrap_or("");
    let mut tx = Transactions::default();
    // One dictionary per key column, so text keys number 2^63, 2^63 + 1, ... in each.
    let mut dicts: [std::collections::HashMap<String, u64>; 2] = Default::default();
    let mut rec = csv::ByteRecord::new();
    let mut line = 1u64;
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(Error::InvalidInput(format!(
                    "{name}: line {}: {e}",
                    line + 1
                )));
            }
        }
        line = rec.position().map_or(line + 1, |p| p.line());
        let field = |c: usize| -> Result<&str, Error> {
            let raw = rec.get(pos[c]).unwrap_or_default();
            std::str::from_utf8(raw)
                .map(str::trim)
                .map_err(|_| bad(name, line, col_name(c), "is not UTF-8"))
        };
        let int = |c: usize| -> Result<u64, Error> {
            let s = field(c)?;
            s.parse::<u64>().map_err(|_| {
                bad(
                    name,
                    line,
                    col_name(c),
                    &format!("`{s}` is not a non-negative integer"),
                )
            })
        };
        let key =
            |c: usize, dict: &mut std::collections::HashMap<String, u64>| -> Result<u64, Error> {
                let s = field(c)?;
                if s.is_empty() {
                    return Err(bad(name, line, col_name(c), "is empty (keys are required)"));
                }
                Ok(match s.parse::<u64>() {
                    Ok(v) => v,
                    Err(_) => {
                        let next = (1u64 << 63) + dict.len() as u64;
                        *dict.entry(s.to_string()).or_insert(next)
                    }
                })
            };
        let [customers, terminals] = &mut dicts;
        let customer = key(2, customers)?;
        let terminal = key(3, terminals)?;
        tx.transaction_id.push(int(0)?);
        let ts = field(1)?;
        let time = match map.time_format {
            TimeFormat::Datetime => parse_datetime_ms(ts),
            TimeFormat::Seconds => ts
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && v.abs() < 8.64e12)
                .map(|v| (v * 1000.0).round() as i64),
            TimeFormat::Millis => ts.parse::<i64>().ok(),
        };
        tx.time_ms.push(time.ok_or_else(|| {
            bad(
                name,
                line,
                col_name(1),
                &format!("`{ts}` is not a time in the expected format"),
            )
        })?);
        tx.customer_id.push(customer);
        tx.terminal_id.push(terminal);
        let a = field(4)?;
        let amount: f64 = a
            .parse()
            .map_err(|_| bad(name, line, col_name(4), &format!("`{a}` is not a number")))?;
        if !amount.is_finite() {
            return Err(bad(
                name,
                line,
                col_name(4),
                &format!("`{a}` is not finite"),
            ));
        }
        tx.amount.push(amount);
        tx.fraud.push(if pos[5] == usize::MAX {
            false
        } else {
            match field(5)? {
                "0" | "false" | "False" => false,
                "1" | "true" | "True" => true,
                v => {
                    return Err(bad(
                        name,
                        line,
                        col_name(5),
                        &format!("`{v}` is not 0 or 1"),
                    ));
                }
            }
        });
        tx.scenario.push(if pos[6] == usize::MAX {
            0
        } else {
            let s = int(6)?;
            u8::try_from(s)
                .map_err(|_| bad(name, line, col_name(6), &format!("`{s}` is out of range")))?
        });
    }
    Ok(tx)
}

fn bad(name: &str, line: u64, column: &str, what: &str) -> Error {
    Error::InvalidInput(format!("{name}: line {line}, column `{column}`: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n\
        0,2018-04-01 00:00:31,596,3156,57.16,31,0,0,0\n\
        1,2018-04-01 00:02:10,4961,3412,81.51,130,0,1,2\n";

    #[test]
    fn parses_the_handbook_format() {
        let tx = parse_handbook(GOOD.as_bytes(), "t").unwrap();
        assert_eq!(tx.len(), 2);
        assert_eq!(tx.customer_id, [596, 4961]);
        assert_eq!(tx.terminal_id, [3156, 3412]);
        assert_eq!(tx.amount, [57.16, 81.51]);
        assert_eq!(tx.fraud, [false, true]);
        assert_eq!(tx.scenario, [0, 2]);
        assert_eq!(tx.time_ms[1] - tx.time_ms[0], 99_000);
        assert_eq!(tx.time_ms[0] % 86_400_000, 31_000);
        let cols = tx.handbook_columns();
        assert_eq!(cols.customer.values, ["596", "4961"]);
        assert_eq!(tx.event(1, false).label, None);
    }

    #[test]
    fn errors_name_line_and_column() {
        let text = GOOD.replace("81.51", "abc");
        let e = parse_handbook(text.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("TX_AMOUNT") && e.contains("abc"),
            "{e}"
        );
        let text = GOOD.replace("2018-04-01 00:02:10", "yesterday");
        let e = parse_handbook(text.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("TX_DATETIME"), "{e}");
        let text = GOOD.replace(",1,2\n", ",7,2\n");
        let e = parse_handbook(text.as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("TX_FRAUD") && e.contains("0 or 1"), "{e}");
        let e = parse_handbook("a,b\n1,2\n".as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("TRANSACTION_ID"), "{e}");
    }

    #[test]
    fn a_column_mapping_reads_other_layouts() {
        let text = "tx,when,card,shop,amt,label\n7,1600000000.5,ab12,9,3.5,true\n8,1600000001,ab12,x,4,0\n9,1600000002,cd,9,5,1\n";
        let map = ColumnMap::parse(
            "id=tx,time=when,time_format=s,customer=card,terminal=shop,amount=amt,fraud=label,scenario=",
        )
        .unwrap();
        let tx = parse_csv(text.as_bytes(), "t", &map).unwrap();
        assert_eq!(tx.transaction_id, [7, 8, 9]);
        assert_eq!(
            tx.time_ms,
            [1_600_000_000_500, 1_600_000_001_000, 1_600_000_002_000]
        );
        // Text keys get stable ids in order of first appearance; integer keys are kept.
        assert_eq!(tx.customer_id, [1 << 63, 1 << 63, (1 << 63) + 1]);
        assert_eq!(tx.terminal_id, [9, 1 << 63, 9]);
        assert_eq!(tx.fraud, [true, false, true]);
        assert_eq!(tx.scenario, [0, 0, 0]);
        let e = ColumnMap::parse("colour=red").unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
        let e = ColumnMap::parse("time_format=days")
            .unwrap_err()
            .to_string();
        assert!(e.contains("days"), "{e}");
        let bad = text.replace("1600000001,", "soon,");
        let e = parse_csv(bad.as_bytes(), "t", &map)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("`when`"), "{e}");
        let e = parse_csv("tx,when\n1,2\n".as_bytes(), "t", &map)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`card`"), "{e}");
    }
}
