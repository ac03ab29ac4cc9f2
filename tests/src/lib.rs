#![doc = include_str!("../../README.md")]
//!
//! ---
//! This crate holds the end-to-end tests (in `tests/tests/`) and the golden fixtures (in
//! `tests/golden/`) that the Python and WASM suites load too. Its library part (this page) runs the
//! README's Rust quickstart as a doctest and offers helpers to the tests.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// The folder of golden fixtures, `tests/golden/`.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// scikit-learn's ROC AUC per dataset, read from the peer table in `reference/iforest.md` (the
/// `sklearn AUC` column, `mean±std` over seeds 0..4). Returns `(dataset, mean, std)` in table order.
pub fn sklearn_reference_auc(markdown: &str) -> Vec<(String, f64, f64)> {
    let mut header: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for line in markdown.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect();
        match &header {
            None if cells.iter().any(|c| c == "sklearn AUC") => header = Some(cells),
            Some(h) => {
                let col = h
                    .iter()
                    .position(|c| c == "sklearn AUC")
                    .expect("header has it");
                let name = &cells[0];
                if name.is_empty() || name.starts_with("---") || name.starts_with("**") {
                    continue;
                }
                let Some(cell) = cells.get(col) else { continue };
                let mut parts = cell.split('±').map(|p| p.trim().parse::<f64>());
                if let (Some(Ok(mean)), Some(Ok(std))) = (parts.next(), parts.next()) {
                    out.push((name.clone(), mean, std));
                }
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_reference_table() {
        let md = "intro\n| dataset | n | sklearn AUC | isotree AUC |\n|---|---|---|---|\n| cardio | 1831 | 0.932±0.013 | 0.9 |\n| **mean** | | 0.863 | |\n";
        assert_eq!(
            super::sklearn_reference_auc(md),
            vec![("cardio".to_string(), 0.932, 0.013)]
        );
    }
}
