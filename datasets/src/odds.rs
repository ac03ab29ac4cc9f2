//! Loader for ODDS-format outlier sets: CSV with header `f0,...,f{d-1},label` (label 1 = anomaly),
//! plain or gzip-compressed (by the `.gz` extension).

use std::io::Read;
use std::path::Path;

use fraud_core::Error;
use ndarray::Array2;

/// A loaded outlier benchmark: features and labels.
#[derive(Debug, Clone)]
pub struct OddsData {
    /// Feature matrix, one row per sample.
    pub x: Array2<f64>,
    /// `true` for anomalies.
    pub y: Vec<bool>,
}

/// Load an ODDS-format file. Errors name the line and column of a bad value.
///
/// ```no_run
/// let data = fraud_datasets::odds::load("../shared/datasets/glass.csv.gz")?;
/// assert_eq!(data.x.ncols(), 9);
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn load(path: impl AsRef<Path>) -> Result<OddsData, Error> {
    let path = path.as_ref();
    let reader = crate::open_data_file(path)?;
    parse(reader, &path.display().to_string())
}

/// Parse ODDS-format CSV from any reader; `name` is used in error messages.
pub fn parse(reader: impl Read, name: &str) -> Result<OddsData, Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = rdr
        .headers()
        .map_err(|e| Error::InvalidInput(format!("{name}: cannot read header: {e}")))?
        .clone();
    let d = headers.len().saturating_sub(1);
    if d == 0 || &headers[d] != "label" {
        return Err(Error::InvalidInput(format!(
            "{name}: header must be f0,...,f{{d-1}},label; last column is `{}`",
            headers.get(d).unwrap_or("")
        )));
    }
    for (j, h) in headers.iter().take(d).enumerate() {
        if h != format!("f{j}") {
            return Err(Error::InvalidInput(format!(
                "{name}: header column {} is `{h}`, expected `f{j}`",
                j + 1
            )));
        }
    }
    let mut values = Vec::new();
    let mut y = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| Error::InvalidInput(format!("{name}: line {line}: {e}")))?;
        if rec.len() != d + 1 {
            return Err(Error::ShapeMismatch(format!(
                "{name}: line {line} has {} fields, expected {}",
                rec.len(),
                d + 1
            )));
        }
        for (j, field) in rec.iter().take(d).enumerate() {
            let v: f64 = field.trim().parse().map_err(|_| {
                Error::InvalidInput(format!(
                    "{name}: line {line}, column f{j}: `{field}` is not a number"
                ))
            })?;
            values.push(v);
        }
        y.push(match rec[d].trim() {
            "1" | "1.0" => true,
            "0" | "0.0" => false,
            other => {
                return Err(Error::InvalidInput(format!(
                    "{name}: line {line}, column label: `{other}` is not 0 or 1"
                )));
            }
        });
    }
    if y.is_empty() {
        return Err(Error::EmptyInput(format!("{name}: no data rows")));
    }
    let x = Array2::from_shape_vec((y.len(), d), values).expect("row lengths checked");
    Ok(OddsData { x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_bad_rows() {
        let ok = parse("f0,f1,label\n1.5,2,0\n-3,4e2,1\n".as_bytes(), "t").unwrap();
        assert_eq!(ok.x.dim(), (2, 2));
        assert_eq!(ok.x[[1, 1]], 400.0);
        assert_eq!(ok.y, vec![false, true]);
        let e = parse("f0,f1,label\n1,2,0\n1,x,1\n".as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3, column f1"), "{e}");
        let e = parse("f0,f1,label\n1,2,0\n1,2\n".as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3"), "{e}");
        let e = parse("f0,f1,label\n1,2,7\n".as_bytes(), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("column label"), "{e}");
        assert!(parse("a,b\n1,2\n".as_bytes(), "t").is_err());
        assert!(parse("f0,label\n".as_bytes(), "t").is_err());
    }
}
