//! The pipeline artifact ([`ArtifactKind::Pipeline`]): the spec (JSON), each fitted detector's own
//! artifact bytes, the calibration tables, the supervised standardisation and shares, the threshold
//! and the feature-engine snapshot, in one envelope. Loading re-validates every invariant, so bytes
//! with a valid checksum but an inconsistent payload are refused with a typed error.

use serde::{Deserialize, Serialize};

use super::calibration::Calibration;
use super::detector::{Fitted, Model, SupervisedPart, SupervisedShares};
use super::pipeline::Pipeline;
use super::spec::{CombineRule, DetectorPlan, PipelineSpec};
use crate::detectors::iforest::IsolationForest;
use crate::detectors::supervised::SupervisedModel;
use crate::detectors::zscore::{RobustZScore, ZScore};
use crate::error::{ArtifactError, Error, Result};
use crate::features::FeatureEngine;
use crate::model::{self, ArtifactKind};

#[derive(Serialize, Deserialize)]
struct Payload {
    spec_json: String,
    detectors: Vec<Vec<u8>>,
    /// Per detector; empty = not calibrated (the supervised detector under the supervised combine).
    calibration: Vec<Vec<f64>>,
    supervised: Option<SupervisedPayload>,
    threshold: f64,
    training_rows: u64,
    engine: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SupervisedPayload {
    means: Vec<f64>,
    scales: Vec<f64>,
    /// Random forest: normalised importances; empty for a logistic regression (its coefficients
    /// are read from the model).
    importances: Vec<f64>,
}

fn bad(msg: impl Into<String>) -> Error {
    ArtifactError::Malformed(msg.into()).into()
}

/// Re-label an error of a nested artifact as a malformed pipeline payload.
fn nested(what: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| bad(format!("{what}: {e}"))
}

impl Pipeline {
    /// The whole fitted pipeline, feature state included, as artifact bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let detectors = self
            .model
            .detectors
            .iter()
            .map(|d| match d {
                Fitted::IsolationForest(f) => f.to_bytes(),
                Fitted::ZScore(z) => z.to_bytes(),
                Fitted::RobustZScore(z) => z.to_bytes(),
                Fitted::Supervised(s) => s.to_bytes(),
            })
            .collect::<Result<Vec<_>>>()?;
        let calibration = self
            .model
            .calibration
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| c.quantiles().to_vec())
                    .unwrap_or_default()
            })
            .collect();
        let supervised = self.model.supervised.as_ref().map(|s| SupervisedPayload {
            means: s.means.clone(),
            scales: s.scales.clone(),
            importances: match &s.shares {
                SupervisedShares::Global(g) => g.clone(),
                SupervisedShares::Linear(_) => Vec::new(),
            },
        });
        model::encode(
            ArtifactKind::Pipeline,
            &Payload {
                spec_json: self.spec.to_json(),
                detectors,
                calibration,
                supervised,
                threshold: self.threshold,
                training_rows: self.training_rows,
                engine: self.engine.snapshot()?,
            },
        )
    }

    /// Write [`Pipeline::to_bytes`] to a file atomically.
    pub fn save(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        model::write_atomic(path, &self.to_bytes()?)
    }

    /// Read a pipeline written by [`Pipeline::save`].
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::from_bytes(&model::read_file(path)?)
    }

    /// Load [`Pipeline::to_bytes`] bytes: scores are identical to the pipeline that wrote them,
    /// continuing from the same feature state. Every invariant is checked again.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let p: Payload = model::decode(ArtifactKind::Pipeline, bytes)?;
        let spec = PipelineSpec::from_json(&p.spec_json).map_err(nested("stored spec"))?;
        let plan = spec.plan().map_err(nested("stored spec"))?;
        let n_det = plan.detectors.len();
        let m = plan.inputs.len();
        if p.detectors.len() != n_det || p.calibration.len() != n_det {
            return Err(bad(format!(
                "{} detectors and {} calibration tables for the {n_det} detectors of the spec",
                p.detectors.len(),
                p.calibration.len()
            )));
        }
        let n_sup_in = match plan.combine {
            CombineRule::Weighted => m,
            CombineRule::Supervised => m + plan.anomaly.len(),
        };
        let mut detectors = Vec::with_capacity(n_det);
        let mut calibration = Vec::with_capacity(n_det);
        for (d, (dp, (bytes, table))) in plan
            .detectors
            .iter()
            .zip(p.detectors.iter().zip(p.calibration))
            .enumerate()
        {
            let what = format!("detectors[{d}]");
            let (fitted, width) = match dp {
                DetectorPlan::IsolationForest(_) => {
                    let f = IsolationForest::from_bytes(bytes).map_err(nested(&what))?;
                    let w = f.n_features_in().map_err(nested(&what))?;
                    (Fitted::IsolationForest(f), w)
                }
                DetectorPlan::ZScore(params) => {
                    let z = ZScore::from_bytes(bytes).map_err(nested(&what))?;
                    if z.params().combine != params.combine {
                        return Err(bad(format!("{what}: combine differs from the spec")));
                    }
                    let w = z.n_features_in().map_err(nested(&what))?;
                    (Fitted::ZScore(z), w)
                }
                DetectorPlan::RobustZScore(params) => {
                    let z = RobustZScore::from_bytes(bytes).map_err(nested(&what))?;
                    if z.params().combine != params.combine {
                        return Err(bad(format!("{what}: combine differs from the spec")));
                    }
                    let w = z.n_features_in().map_err(nested(&what))?;
                    (Fitted::RobustZScore(z), w)
                }
                DetectorPlan::Supervised(_) => {
                    let s = SupervisedModel::from_bytes(bytes).map_err(nested(&what))?;
                    let w = s.n_features_in().map_err(nested(&what))?;
                    (Fitted::Supervised(s), w)
                }
            };
            let expected = if matches!(dp, DetectorPlan::Supervised(_)) {
                n_sup_in
            } else {
                m
            };
            if width != expected {
                return Err(bad(format!(
                    "{what} was fitted on {width} inputs, the spec gives it {expected}"
                )));
            }
            let needs_table =
                !(Some(d) == plan.supervised && plan.combine == CombineRule::Supervised);
            calibration.push(if needs_table {
                Some(
                    Calibration::from_quantiles(table)
                        .map_err(|e| bad(format!("{what} calibration: {e}")))?,
                )
            } else if table.is_empty() {
                None
            } else {
                return Err(bad(format!(
                    "{what}: a calibration table for the supervised combine's model"
                )));
            });
            detectors.push(fitted);
        }
        let supervised = match (plan.supervised, p.supervised) {
            (None, None) => None,
            (Some(s), Some(sp)) => {
                let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
                if sp.means.len() != n_sup_in
                    || sp.scales.len() != n_sup_in
                    || !finite(&sp.means)
                    || !sp.scales.iter().all(|s| s.is_finite() && *s > 0.0)
                {
                    return Err(bad(
                        "supervised standardisation: wrong length or non-finite values",
                    ));
                }
                let Fitted::Supervised(model) = &detectors[s] else {
                    unreachable!("the plan's supervised index")
                };
                let shares = match model.coefficients() {
                    Ok((coef, _)) => {
                        if !sp.importances.is_empty() {
                            return Err(bad("importances stored for a logistic regression"));
                        }
                        SupervisedShares::Linear(coef.to_vec())
                    }
                    Err(_) => {
                        if sp.importances.len() != n_sup_in
                            || !sp.importances.iter().all(|v| v.is_finite() && *v >= 0.0)
                        {
                            return Err(bad("random-forest importances: wrong length or values"));
                        }
                        SupervisedShares::Global(sp.importances)
                    }
                };
                Some(SupervisedPart {
                    means: sp.means,
                    scales: sp.scales,
                    shares,
                })
            }
            _ => {
                return Err(bad(
                    "supervised part present without a supervised detector, or missing",
                ));
            }
        };
        if !(0.0..=1.0).contains(&p.threshold) {
            return Err(bad(format!(
                "threshold {} is not a risk in [0, 1]",
                p.threshold
            )));
        }
        let engine = FeatureEngine::restore(&p.engine).map_err(nested("feature engine"))?;
        if engine.spec() != &spec.features {
            return Err(bad(
                "the feature engine snapshot was written for another feature spec",
            ));
        }
        let model = Model {
            detectors,
            calibration,
            supervised,
        };
        Ok(Pipeline::assemble(
            spec,
            plan,
            engine,
            model,
            p.threshold,
            p.training_rows,
        ))
    }
}
