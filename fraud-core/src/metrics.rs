//! Detection-quality metrics: ROC AUC, average precision, precision@k and card precision@k.
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

/// Card precision@k of one day (see [`card_precision_at_k_daily`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyCardPrecision {
    /// The day (as given in `days`).
    pub day: i64,
    /// Compromised cards among the day's top `k`, divided by `k`.
    pub precision: f64,
    /// Compromised cards in the top `k` (these are excluded from later days when
    /// `remove_detected` is true).
    pub detected: usize,
    /// Cards with at least one fraud that day, among those still ranked (not removed).
    pub compromised: usize,
}

/// Card precision@k per day, in increasing day order (the Fraud Detection Handbook's protocol).
///
/// Each transaction `i` has a day `days[i]`, a card (customer) `cards[i]`, a fraud label and a score.
/// For each distinct day, in increasing order:
///
/// 1. every card with a transaction that day gets the day's highest score of its transactions, and is
///    compromised when at least one of its transactions that day is a fraud;
/// 2. with `remove_detected`, cards detected on an earlier day (compromised and in that day's top `k`)
///    are left out;
/// 3. the remaining cards are ranked by score, highest first; ties are broken by the card key in
///    increasing order (`C: Ord`), so the result does not depend on the input order;
/// 4. the day's precision is the number of compromised cards among the first `k`, divided by `k`
///    (also when fewer than `k` cards are ranked that day, as in the handbook: then the precision
///    cannot reach 1).
///
/// `-0.0` and `+0.0` are the same score. Errors: lengths that differ ([`Error::ShapeMismatch`]), no
/// transaction ([`Error::EmptyInput`]), a NaN or infinite score ([`Error::InvalidInput`]), `k = 0`
/// ([`Error::InvalidParameter`]).
pub fn card_precision_at_k_daily<C: Ord>(
    days: &[i64],
    cards: &[C],
    labels: &[bool],
    scores: &[f64],
    k: usize,
    remove_detected: bool,
) -> Result<Vec<DailyCardPrecision>> {
    if days.len() != scores.len() || cards.len() != scores.len() {
        return Err(Error::ShapeMismatch(format!(
            "{} days, {} cards, {} labels and {} scores: one of each per transaction",
            days.len(),
            cards.len(),
            labels.len(),
            scores.len()
        )));
    }
    check(labels, scores)?;
    if k == 0 {
        return Err(Error::param("k", 0, "an integer >= 1"));
    }
    // Transactions grouped by day, then by card.
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|&a, &b| days[a].cmp(&days[b]).then_with(|| cards[a].cmp(&cards[b])));
    let mut detected_before: std::collections::BTreeSet<&C> = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    // (card, max score, compromised) of the current day, in increasing card order.
    let mut day_cards: Vec<(&C, f64, bool)> = Vec::new();
    for day_rows in order.chunk_by(|&a, &b| days[a] == days[b]) {
        let day = days[day_rows[0]];
        day_cards.clear();
        for card_rows in day_rows.chunk_by(|&a, &b| cards[a] == cards[b]) {
            let card = &cards[card_rows[0]];
            if remove_detected && detected_before.contains(card) {
                continue;
            }
            let max = card_rows
                .iter()
                .map(|&i| scores[i] + 0.0) // -0.0 -> +0.0
                .fold(f64::NEG_INFINITY, f64::max);
            day_cards.push((card, max, card_rows.iter().any(|&i| labels[i])));
        }
        let compromised = day_cards.iter().filter(|c| c.2).count();
        // Stable: equal scores keep the increasing card order.
        day_cards.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top = &day_cards[..k.min(day_cards.len())];
        let detected = top.iter().filter(|c| c.2).count();
        if remove_detected {
            detected_before.extend(top.iter().filter(|c| c.2).map(|c| c.0));
        }
        out.push(DailyCardPrecision {
            day,
            precision: detected as f64 / k as f64,
            detected,
            compromised,
        });
    }
    Ok(out)
}

/// Card precision@k: the mean over days of [`card_precision_at_k_daily`] (every distinct day counts
/// once, also a day whose cards were all removed, with precision 0).
///
/// With `remove_detected = true` this is the Fraud Detection Handbook's "CP@k" (cards detected on an
/// earlier day are not ranked again); with `false`, every day is ranked independently.
///
/// ```
/// use fraud_core::metrics::card_precision_at_k;
/// // Day 0: card 7 (fraud, score 0.9) and card 8 (two transactions, max 0.8, no fraud).
/// // Day 1: card 7 again (fraud) and card 9 (fraud, 0.3).
/// let days = [0, 0, 0, 1, 1];
/// let cards = [7u64, 8, 8, 7, 9];
/// let labels = [true, false, false, true, true];
/// let scores = [0.9, 0.1, 0.8, 0.95, 0.3];
/// // k = 1. Day 0: top card 7, compromised: 1/1. Day 1: card 7 was detected, so card 9 ranks: 1/1.
/// assert_eq!(card_precision_at_k(&days, &cards, &labels, &scores, 1, true)?, 1.0);
/// // k = 2 without removal. Day 0: {7, 8} -> 1/2. Day 1: {7, 9} -> 2/2.
/// assert_eq!(card_precision_at_k(&days, &cards, &labels, &scores, 2, false)?, 0.75);
/// # Ok::<(), fraud_core::Error>(())
/// ```
pub fn card_precision_at_k<C: Ord>(
    days: &[i64],
    cards: &[C],
    labels: &[bool],
    scores: &[f64],
    k: usize,
    remove_detected: bool,
) -> Result<f64> {
    let daily = card_precision_at_k_daily(days, cards, labels, scores, k, remove_detected)?;
    Ok(daily.iter().map(|d| d.precision).sum::<f64>() / daily.len() as f64)
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
    /// Independent quadratic implementation of the handbook's definition, ties by card key.
    fn naive_cp(days: &[i64], cards: &[u32], y: &[bool], s: &[f64], k: usize, remove: bool) -> f64 {
        let mut uniq_days: Vec<i64> = days.to_vec();
        uniq_days.sort();
        uniq_days.dedup();
        let mut removed: Vec<u32> = Vec::new();
        let mut total = 0.0;
        for &d in &uniq_days {
            let mut per_card: Vec<(u32, f64, bool)> = Vec::new();
            for i in 0..s.len() {
                if days[i] != d || removed.contains(&cards[i]) {
                    continue;
                }
                match per_card.iter_mut().find(|c| c.0 == cards[i]) {
                    Some(c) => {
                        c.1 = c.1.max(s[i]);
                        c.2 |= y[i];
                    }
                    None => per_card.push((cards[i], s[i], y[i])),
                }
            }
            per_card.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
            let top: Vec<_> = per_card.iter().take(k).filter(|c| c.2).collect();
            total += top.len() as f64 / k as f64;
            if remove {
                removed.extend(top.iter().map(|c| c.0));
            }
        }
        total / uniq_days.len() as f64
    }

    #[test]
    fn card_precision_matches_naive_definition() {
        let mut state = 99u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        for n in [1usize, 2, 10, 60, 400] {
            let days: Vec<i64> = (0..n).map(|_| next(5) as i64 - 2).collect();
            let cards: Vec<u32> = (0..n).map(|_| next(12) as u32).collect();
            let y: Vec<bool> = (0..n).map(|_| next(4) == 0).collect();
            let s: Vec<f64> = (0..n).map(|_| next(6) as f64 / 2.0).collect();
            for k in [1, 2, 3, 7, 50] {
                for remove in [true, false] {
                    let got = card_precision_at_k(&days, &cards, &y, &s, k, remove).unwrap();
                    let want = naive_cp(&days, &cards, &y, &s, k, remove);
                    assert!(
                        (got - want).abs() < 1e-15,
                        "n={n} k={k} {remove}: {got} {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn card_precision_ties_by_card_key_and_day_details() {
        // Both cards tie at 0.5; the smaller key ("a") ranks first, whatever the input order.
        let days = [3, 3];
        for (cards, y) in [(["b", "a"], [false, true]), (["a", "b"], [true, false])] {
            assert_eq!(
                card_precision_at_k(&days, &cards, &y, &[0.5, 0.5], 1, true).unwrap(),
                1.0
            );
        }
        assert_eq!(
            card_precision_at_k(
                &days,
                &["b", "a"],
                &[true, false],
                &[0.5, -0.0 + 0.5],
                1,
                true
            )
            .unwrap(),
            0.0
        );
        // -0.0 and 0.0 tie.
        assert_eq!(
            card_precision_at_k(&days, &[2u8, 1], &[false, true], &[0.0, -0.0], 1, true).unwrap(),
            1.0
        );
        let daily = card_precision_at_k_daily(
            &[5, 1, 1, 5],
            &[1u8, 1, 2, 2],
            &[true, true, false, false],
            &[0.1, 0.9, 0.2, 0.3],
            3,
            true,
        )
        .unwrap();
        assert_eq!(
            daily,
            vec![
                DailyCardPrecision {
                    day: 1,
                    precision: 1.0 / 3.0,
                    detected: 1,
                    compromised: 1
                },
                DailyCardPrecision {
                    day: 5,
                    precision: 0.0,
                    detected: 0,
                    compromised: 0
                },
            ]
        );
    }

    #[test]
    fn card_precision_refuses_bad_inputs() {
        let e = card_precision_at_k(&[0, 0], &[1, 2], &[true, false], &[0.1], 1, true).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
        let e = card_precision_at_k(&[0], &[1, 2], &[true], &[0.1], 1, true).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch(_)), "{e}");
        let e = card_precision_at_k::<u8>(&[], &[], &[], &[], 1, true).unwrap_err();
        assert!(matches!(e, Error::EmptyInput(_)), "{e}");
        let e = card_precision_at_k(&[0], &[1], &[true], &[f64::NAN], 1, true).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)) && e.to_string().contains("score[0]"));
        let e = card_precision_at_k(&[0], &[1], &[true], &[0.5], 0, true).unwrap_err();
        assert!(
            matches!(e, Error::InvalidParameter { name: "k", .. }),
            "{e}"
        );
    }
}
