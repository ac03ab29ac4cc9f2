//! Card transactions as columns (the Fraud Detection Handbook's format), and their CSV loader.
//!
//! The handbook's CSV has the header
//! `TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO`
//! (column order free, extra columns ignored); `TX_DATETIME` is `YYYY-MM-DD HH:MM:SS` (UTC).

use std::fs::File;
use std::io::{BufReader, Read};
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

const COLUMNS: [&str; 7] = [
    "TRANSACTION_ID",
    "TX_DATETIME",
    "CUSTOMER_ID",
    "TERMINAL_ID",
    "TX_AMOUNT",
    "TX_FRAUD",
    "TX_FRAUD_SCENARIO",
];

/// Load a handbook-format CSV file (gzip-compressed when the name ends in `.gz`). Errors name the
/// line and column of a bad value.
///
/// ```no_run
/// let tx = fraud_datasets::transactions::load_handbook(
///     "../shared/datasets/fraud_handbook_transactions_2018-04-01_2018-09-30.csv.gz")?;
/// assert_eq!(tx.len(), 1_754_155);
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn load_handbook(path: impl AsRef<Path>) -> Result<Transactions, Error> {
    let path = path.as_ref();
    let file = File::open(path)
        .map_err(|e| Error::InvalidInput(format!("cannot open {}: {e}", path.display())))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    parse_handbook(reader, &path.display().to_string())
}

/// Parse handbook-format CSV from any reader; `name` is used in error messages.
pub fn parse_handbook(reader: impl Read, name: &str) -> Result<Transactions, Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(reader);
    let headers = rdr
        .byte_headers()
        .map_err(|e| Error::InvalidInput(format!("{name}: cannot read the header: {e}")))?
        .clone();
    let mut pos = [0usize; 7];
    for (p, want) in pos.iter_mut().zip(COLUMNS) {
        *p = headers
            .iter()
            .position(|h| h == want.as_bytes())
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{name}: the header has no column `{want}` (needed: {})",
                    COLUMNS.join(", ")
                ))
            })?;
    }
    let mut tx = Transactions::default();
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
            std::str::from_utf8(raw).map_err(|_| bad(name, line, COLUMNS[c], "is not UTF-8"))
        };
        let int = |c: usize| -> Result<u64, Error> {
            let s = field(c)?;
            s.trim().parse::<u64>().map_err(|_| {
                bad(
                    name,
                    line,
                    COLUMNS[c],
                    &format!("`{s}` is not a non-negative integer"),
                )
            })
        };
        tx.transaction_id.push(int(0)?);
        let dt = field(1)?;
        tx.time_ms
            .push(parse_datetime_ms(dt.trim()).ok_or_else(|| {
                bad(name, line, COLUMNS[1], &format!("`{dt}` is not a datetime"))
            })?);
        tx.customer_id.push(int(2)?);
        tx.terminal_id.push(int(3)?);
        let a = field(4)?;
        let amount: f64 = a
            .trim()
            .parse()
            .map_err(|_| bad(name, line, COLUMNS[4], &format!("`{a}` is not a number")))?;
        if !amount.is_finite() {
            return Err(bad(name, line, COLUMNS[4], &format!("`{a}` is not finite")));
        }
        tx.amount.push(amount);
        tx.fraud.push(match int(5)? {
            0 => false,
            1 => true,
            v => return Err(bad(name, line, COLUMNS[5], &format!("`{v}` is not 0 or 1"))),
        });
        let s = int(6)?;
        tx.scenario.push(
            u8::try_from(s)
                .map_err(|_| bad(name, line, COLUMNS[6], &format!("`{s}` is out of range")))?,
        );
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
}
