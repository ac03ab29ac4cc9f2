//! Fitted detectors of a pipeline and the per-row evaluation shared by `score`, `score_batch` and
//! fit (so that all three compute bit-identical risks).

use ndarray::ArrayView2;

use super::calibration::Calibration;
use super::spec::{CombineRule, Plan};
use crate::detectors::iforest::{ExplainScratch, IsolationForest};
use crate::detectors::supervised::SupervisedModel;
use crate::detectors::zscore::{RobustZScore, ZScore};
use crate::error::{Error, Result};

/// One fitted detector.
#[derive(Debug)]
pub(crate) enum Fitted {
    IsolationForest(IsolationForest),
    ZScore(ZScore),
    RobustZScore(RobustZScore),
    Supervised(SupervisedModel),
}

/// How the supervised model's probability is attributed to its inputs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SupervisedShares {
    /// Logistic regression: the positive parts of `coef_j * input_j` (inputs standardised).
    Linear(Vec<f64>),
    /// Random forest: its feature importances, normalised to sum to 1 (the same for every row).
    Global(Vec<f64>),
}

/// The supervised detector's input standardisation and attribution.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SupervisedPart {
    /// Per supervised input column (pipeline inputs, then, under the supervised combine, the
    /// anomaly detectors' calibrated scores): training mean and standard deviation (1 when 0).
    pub means: Vec<f64>,
    pub scales: Vec<f64>,
    pub shares: SupervisedShares,
}

/// Buffers reused from row to row.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// Engine output (all features).
    pub features: Vec<f64>,
    /// The inputs of the current row.
    pub x: Vec<f64>,
    /// Calibrated score per detector (the supervised one: calibrated probability, or the
    /// probability itself under the supervised combine).
    pub cal: Vec<f64>,
    /// Per detector, its share of each input (row-major detectors x inputs).
    pub shares: Vec<f64>,
    /// Supervised model input (standardised) and its shares.
    pub sup_in: Vec<f64>,
    pub sup_share: Vec<f64>,
    /// Contribution per input.
    pub contrib: Vec<f64>,
    pub iforest: ExplainScratch,
}

impl Scratch {
    pub fn new(n_features: usize, m: usize, n_det: usize, n_sup_in: usize) -> Self {
        Scratch {
            features: vec![0.0; n_features],
            x: vec![0.0; m],
            cal: vec![0.0; n_det],
            shares: vec![0.0; n_det * m],
            sup_in: vec![0.0; n_sup_in],
            sup_share: vec![0.0; n_sup_in],
            contrib: vec![0.0; m],
            iforest: ExplainScratch::default(),
        }
    }
}

/// Divide `v` by its sum when the sum is positive and finite; otherwise leave zeros.
fn normalise(v: &mut [f64]) {
    let s: f64 = v.iter().sum();
    if s > 0.0 && s.is_finite() {
        for x in v.iter_mut() {
            *x /= s;
        }
    } else {
        v.fill(0.0);
    }
}

/// Everything a fitted pipeline evaluates per row.
#[derive(Debug)]
pub(crate) struct Model {
    pub detectors: Vec<Fitted>,
    /// One per detector; `None` for the supervised detector under the supervised combine.
    pub calibration: Vec<Option<Calibration>>,
    pub supervised: Option<SupervisedPart>,
}

impl Model {
    /// Raw (uncalibrated) anomaly score of detector `d` on row `x`; with `share`, also its share of
    /// each input (summing to 1, or all 0 when nothing stands out).
    fn raw(
        &self,
        d: usize,
        x: &[f64],
        share: Option<&mut [f64]>,
        ifs: &mut ExplainScratch,
    ) -> Result<f64> {
        match &self.detectors[d] {
            Fitted::IsolationForest(f) => match share {
                Some(s) => {
                    let strength = f.explain_one_into(x, s, ifs)?;
                    normalise(s);
                    Ok(strength)
                }
                None => Ok(-f.score_one(x)?),
            },
            Fitted::ZScore(z) => zscore_raw(z.score_one(x)?, z.location()?, z.scale()?, x, share),
            Fitted::RobustZScore(z) => {
                zscore_raw(z.score_one(x)?, z.location()?, z.scale()?, x, share)
            }
            Fitted::Supervised(_) => unreachable!("the supervised detector is evaluated apart"),
        }
    }

    /// Evaluate one row of inputs (`sc.x`): returns the risk in `[0, 1]`; with `explain`, fills
    /// `sc.contrib` with each input's contribution (see the module documentation of `scoring`).
    pub fn eval(&self, plan: &Plan, sc: &mut Scratch, explain: bool) -> Result<f64> {
        let m = plan.input_names.len();
        let Scratch {
            x,
            cal,
            shares,
            sup_in,
            sup_share,
            contrib,
            iforest,
            ..
        } = sc;
        for &d in &plan.anomaly {
            let share = explain.then(|| &mut shares[d * m..(d + 1) * m]);
            let raw = self.raw(d, x, share, iforest)?;
            cal[d] = self.calibration[d]
                .as_ref()
                .expect("anomaly detectors are calibrated")
                .apply(raw);
        }
        let mut prob = 0.0;
        if let (Some(s), Some(part)) = (plan.supervised, &self.supervised) {
            let Fitted::Supervised(model) = &self.detectors[s] else {
                unreachable!("checked at construction")
            };
            for (j, v) in sup_in.iter_mut().enumerate() {
                let raw = if j < m {
                    x[j]
                } else {
                    cal[plan.anomaly[j - m]]
                };
                *v = (raw - part.means[j]) / part.scales[j];
            }
            let view = ArrayView2::from_shape((1, sup_in.len()), &sup_in[..])
                .map_err(|e| Error::ShapeMismatch(format!("supervised input: {e}")))?;
            prob = model.predict_proba(view)?[0].clamp(0.0, 1.0);
            cal[s] = match &self.calibration[s] {
                Some(c) => c.apply(prob),
                None => prob,
            };
            if explain {
                match &part.shares {
                    SupervisedShares::Linear(coef) => {
                        for ((o, &c), &v) in sup_share.iter_mut().zip(coef).zip(sup_in.iter()) {
                            *o = (c * v).max(0.0);
                        }
                        normalise(sup_share);
                    }
                    SupervisedShares::Global(g) => sup_share.copy_from_slice(g),
                }
            }
        }
        let risk = match plan.combine {
            CombineRule::Weighted => plan
                .weights
                .iter()
                .zip(cal.iter())
                .map(|(w, c)| w * c)
                .sum::<f64>()
                .clamp(0.0, 1.0),
            CombineRule::Supervised => prob,
        };
        if explain {
            contrib.fill(0.0);
            match plan.combine {
                CombineRule::Weighted => {
                    for (d, (&w, &c)) in plan.weights.iter().zip(cal.iter()).enumerate() {
                        let part = w * c;
                        if part == 0.0 {
                            continue;
                        }
                        let share: &[f64] = if Some(d) == plan.supervised {
                            &sup_share[..m]
                        } else {
                            &shares[d * m..(d + 1) * m]
                        };
                        for (o, s) in contrib.iter_mut().zip(share) {
                            *o += part * s;
                        }
                    }
                }
                CombineRule::Supervised => {
                    for (o, s) in contrib.iter_mut().zip(&sup_share[..m]) {
                        *o += risk * s;
                    }
                    for (i, &d) in plan.anomaly.iter().enumerate() {
                        let part = risk * sup_share[m + i];
                        if part == 0.0 {
                            continue;
                        }
                        for (o, s) in contrib.iter_mut().zip(&shares[d * m..(d + 1) * m]) {
                            *o += part * s;
                        }
                    }
                }
            }
        }
        Ok(risk)
    }
}

/// A z-score detector's raw score, and its shares `|z_j| / sum |z|`.
fn zscore_raw(
    score: f64,
    location: &[f64],
    scale: &[f64],
    x: &[f64],
    share: Option<&mut [f64]>,
) -> Result<f64> {
    if let Some(s) = share {
        for (((o, &v), &c), &k) in s.iter_mut().zip(x).zip(location).zip(scale) {
            *o = ((v - c) / k).abs();
        }
        normalise(s);
    }
    Ok(score)
}
