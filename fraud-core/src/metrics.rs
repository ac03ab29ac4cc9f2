//! Detection-quality metrics: ROC AUC, average precision and precision@k.
//!
//! Scores are "higher = more suspicious". Ties are handled as scikit-learn does: tied scores form one
//! threshold (ROC AUC counts a tied positive/negative pair as one half).
//!
//! ```
//! use fraud_core::metrics::{average_precision, roc_auc};
//! let y = [false, false, true, true];
//! let s = [0.1, 0.4, 0.35, 0.8];
//! assert_eq!(roc_auc(&y, &s)?, 0.75);
//! assert!((average_precision(&y, &s)? - 0.8333333333333333).abs() < 1e-15);
//! # Ok::<(), fraud_core::Error>(())
//! ```

use crate::error::{Error, Result};

fn check(labels: &[bool], scores: &[f64]) -> Result<()> {
    if labels.len() != scores.len() {
        return Err(Error::ShapeMismatch(format!(
            "{} labels but {} scores",
            labels.len(),
            scores.len()
        )));
    }
    if labels.is_empty() {
        return Err(Error::EmptyInput("no labels and scores given".into()));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "score[{i}] = {} is not finite",
            scores[i]
        )));
    }
    Ok(())
}

/// (true positives, false positives) per distinct score, from the highest score down.
fn tie_groups(labels: &[bool], scores: &[f64]) -> Vec<(u64, u64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut groups: Vec<(u64, u64)> = Vec::new();
    let mut prev = f64::NAN;
    for i in order {
        // +0.0 and -0.0 are one threshold.
        if groups.is_empty() || scores[i] != prev {
            groups.push((0, 0));
            prev = scores[i];
        }
        let g = groups.last_mut().expect("pushed");
        if labels[i] { g.0 += 1 } else { g.1 += 1 }
    }
    groups
}

/// Area under the ROC curve. Errors when only one class is present.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let pos = labels.iter().filter(|&&l| l).count() as u64;
    let neg = labels.len() as u64 - pos;
    if pos == 0 || neg == 0 {
        return Err(Error::InvalidInput(
            "ROC AUC is undefined when only one class is present in the labels".into(),
        ));
    }
    // Twice the area, in integers: each negative counts the positives ranked above it, ties as 1/2.
    let mut tp_above: u128 = 0;
    let mut twice_area: u128 = 0;
    for (tp, fp) in tie_groups(labels, scores) {
        twice_area += fp as u128 * (2 * tp_above + tp as u128);
        tp_above += tp as u128;
    }
    Ok(twice_area as f64 / (2.0 * pos as f64 * neg as f64))
}

/// Average precision: `sum_k (R_k - R_{k-1}) P_k` over distinct score thresholds.
/// Errors when there is no positive label.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Result<f64> {
    check(labels, scores)?;
    let pos = labels.iter().filter(|&&l| l).count() as u64;
    if pos == 0 {
        return Err(Error::InvalidInput(
            "average precision is undefined without a positive label".into(),
        ));
    }
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut ap = 0.0;
    let mut prev_recall = 0.0;
    for (gtp, gfp) in tie_groups(labels, scores) {
        tp += gtp;
        fp += gfp;
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    Ok(ap)
}

/// Fraction of positives among the `k` highest scores (ties broken by input order).
pub fn precision_at_k(labels: &[bool], scores: &[f64], k: usize) -> Result<f64> {
    check(labels, scores)?;
    if k == 0 || k > labels.len() {
        return Err(Error::param(
            "k",
            k,
            format!("an integer in [1, {}]", labels.len()),
        ));
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    Ok(order[..k].iter().filter(|&&i| labels[i]).count() as f64 / k as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent O(n^2) definition: probability that a random positive outranks a random negative.
    fn auc_pairs(y: &[bool], s: &[f64]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..y.len() {
            for j in 0..y.len() {
                if y[i] && !y[j] {
                    den += 1.0;
                    num += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        num / den
    }

    #[test]
    fn auc_matches_pairwise_definition_with_ties() {
        let mut state = 12345u64;
        for n in [2usize, 5, 17, 100] {
            let mut y = Vec::new();
            let mut s = Vec::new();
            for i in 0..n {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                y.push(i == 0 || (i != 1 && (state >> 33).is_multiple_of(3)));
                s.push(((state >> 40) % 7) as f64);
            }
            let a = roc_auc(&y, &s).unwrap();
            assert!((a - auc_pairs(&y, &s)).abs() < 1e-12, "n={n}");
        }
    }

    #[test]
    fn ap_hand_computed() {
        // Thresholds 0.8 (1 tp), 0.4 (1 fp), 0.35 (2nd tp), 0.1: AP = 0.5 * 1 + 0.5 * 2/3.
        let ap = average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap();
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-15);
        // All tied: precision = prevalence.
        let ap = average_precision(&[true, false, false, false], &[1.0; 4]).unwrap();
        assert!((ap - 0.25).abs() < 1e-15);
    }

    #[test]
    fn precision_at_k_counts_top() {
        assert_eq!(
            precision_at_k(&[true, false, true], &[3.0, 2.0, 1.0], 2).unwrap(),
            0.5
        );
        assert!(precision_at_k(&[true], &[1.0], 2).is_err());
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(roc_auc(&[true, true], &[0.1, 0.2]).is_err());
        assert!(roc_auc(&[true, false], &[0.1]).is_err());
        assert!(roc_auc(&[], &[]).is_err());
        assert!(roc_auc(&[true, false], &[f64::NAN, 0.2]).is_err());
        assert!(average_precision(&[false, false], &[0.1, 0.2]).is_err());
    }
}
