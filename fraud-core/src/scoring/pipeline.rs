//! [`Pipeline`]: fit, score, score in batch. See the [module documentation](super).

use ndarray::{Array2, ArrayView2};
use serde_json::{Map, Value};

use super::calibration::Calibration;
use super::detector::{Fitted, Model, Scratch, SupervisedPart, SupervisedShares};
use super::spec::{AlertRule, CombineRule, DetectorPlan, PipelineSpec, Plan};
use crate::detectors::iforest::IsolationForest;
use crate::detectors::supervised::SupervisedModel;
use crate::detectors::zscore::{RobustZScore, ZScore};
use crate::error::{Error, Result};
use crate::event::{Event, EventColumns};
use crate::features::FeatureEngine;

/// One reason code: an input feature and how much of the risk it explains.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    /// The feature's name.
    pub feature: String,
    /// The feature's value for this event.
    pub value: f64,
    /// Its contribution to the risk (non-negative; see the [module documentation](super)).
    pub contribution: f64,
}

/// The result of scoring one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    /// Risk in `[0, 1]` (NaN for an event that was not scored: every feature NaN).
    pub risk: f64,
    /// Whether `risk >= threshold`.
    pub is_alert: bool,
    /// Up to `reasons` reason codes, largest contribution first.
    pub reasons: Vec<Reason>,
}

/// The result of [`Pipeline::score_batch`], as columns: row `i` has `risk[i]`, `is_alert[i]` and
/// reasons `i * k .. (i + 1) * k` in the reason arrays (input index -1 and NaN value and
/// contribution where a row has fewer than `k` reasons).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreBatch {
    /// Risk per row.
    pub risk: Vec<f64>,
    /// Alert flag per row.
    pub is_alert: Vec<bool>,
    /// Reasons per row.
    pub k: usize,
    /// Index into `input_names` of each reason, -1 for none (row-major, `k` per row).
    pub reason_input: Vec<i64>,
    /// Feature value of each reason (NaN for none).
    pub reason_value: Vec<f64>,
    /// Contribution of each reason (NaN for none).
    pub reason_contribution: Vec<f64>,
    /// The pipeline's input feature names.
    pub input_names: Vec<String>,
}

impl ScoreBatch {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.risk.len()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.risk.is_empty()
    }

    /// Row `i` as a [`Score`].
    pub fn get(&self, i: usize) -> Score {
        let reasons = (i * self.k..(i + 1) * self.k)
            .filter(|&r| self.reason_input[r] >= 0)
            .map(|r| Reason {
                feature: self.input_names[self.reason_input[r] as usize].clone(),
                value: self.reason_value[r],
                contribution: self.reason_contribution[r],
            })
            .collect();
        Score {
            risk: self.risk[i],
            is_alert: self.is_alert[i],
            reasons,
        }
    }

    /// Every row as a [`Score`].
    pub fn to_scores(&self) -> Vec<Score> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }
}

/// A fitted scoring pipeline: feature engine (with its state), detectors, calibration tables and
/// alert threshold. See the [module documentation](super) for the rules and an example.
#[derive(Debug)]
pub struct Pipeline {
    pub(super) spec: PipelineSpec,
    pub(super) plan: Plan,
    pub(super) engine: FeatureEngine,
    pub(super) model: Model,
    pub(super) threshold: f64,
    pub(super) training_rows: u64,
    scratch: Scratch,
    event: Event,
}

/// Whether `labels` hold fraud (1), genuine (0) or unknown (NaN) per row; other values refused.
fn parse_labels(field: &str, labels: &[f64]) -> Result<Vec<Option<bool>>> {
    labels
        .iter()
        .enumerate()
        .map(|(row, &v)| {
            if v.is_nan() {
                Ok(None)
            } else if v == 0.0 || v == 1.0 {
                Ok(Some(v == 1.0))
            } else {
                Err(Error::InvalidField {
                    field: field.to_string(),
                    reason: format!(
                        "row {row}: {v} is not a label: expected 0 (genuine), 1 (fraud) or missing"
                    ),
                })
            }
        })
        .collect()
}

fn nan_input(name: &str) -> Error {
    Error::InvalidInput(format!(
        "feature `{name}` is NaN (e.g. an empty window or no previous event): give it a `fill` \
         value in the feature spec, or leave it out of `inputs`"
    ))
}

/// Mean and standard deviation (ddof 0; 1 when 0 or not finite) of each column of a row-major
/// matrix with `d` columns.
fn standardisation(z: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (z.len() / d.max(1)).max(1) as f64;
    let mut means = vec![0.0; d];
    for row in z.chunks_exact(d) {
        for (m, v) in means.iter_mut().zip(row) {
            *m += v;
        }
    }
    means.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0; d];
    for row in z.chunks_exact(d) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&means) {
            *s += (v - m) * (v - m);
        }
    }
    let scales = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt();
            if sd > 0.0 && sd.is_finite() { sd } else { 1.0 }
        })
        .collect();
    (means, scales)
}

impl Pipeline {
    /// Fit on a batch of training events given as columns (labels from the label column, if any:
    /// 1 = fraud, 0 = genuine, NaN = unknown). See the [module documentation](super).
    pub fn fit(spec: PipelineSpec, events: &EventColumns<'_>) -> Result<Self> {
        let plan = spec.plan()?;
        let mut engine = FeatureEngine::new(spec.features.clone())?;
        let features = engine.transform_columns(events)?;
        let label_name = spec.features.schema.label.clone().unwrap_or_default();
        let labels = events
            .label
            .map(|l| parse_labels(&label_name, l))
            .transpose()?;
        Self::fit_features(spec, plan, engine, &features, labels)
    }

    /// [`Pipeline::fit`] for events given one by one (labels from [`Event::label`]).
    pub fn fit_events(spec: PipelineSpec, events: &[Event]) -> Result<Self> {
        let plan = spec.plan()?;
        let mut engine = FeatureEngine::new(spec.features.clone())?;
        let features = engine.transform(events)?;
        let label_name = spec.features.schema.label.clone().unwrap_or_default();
        let labels = if events.iter().any(|e| e.label.is_some()) {
            let raw: Vec<f64> = events.iter().map(|e| e.label.unwrap_or(f64::NAN)).collect();
            Some(parse_labels(&label_name, &raw)?)
        } else {
            None
        };
        Self::fit_features(spec, plan, engine, &features, labels)
    }

    fn fit_features(
        spec: PipelineSpec,
        plan: Plan,
        engine: FeatureEngine,
        features: &[f64],
        labels: Option<Vec<Option<bool>>>,
    ) -> Result<Self> {
        let nf = plan.feature_names.len();
        let m = plan.inputs.len();
        // Input rows of the events that were scored (not dropped), NaN checked.
        let mut xin = Vec::new();
        let mut kept_labels = Vec::new();
        for (row, feats) in features.chunks_exact(nf).enumerate() {
            if feats.iter().all(|v| v.is_nan()) {
                continue;
            }
            for (&j, name) in plan.inputs.iter().zip(&plan.input_names) {
                let v = feats[j];
                if v.is_nan() {
                    return Err(Error::InRow {
                        row,
                        source: Box::new(nan_input(name)),
                    });
                }
                xin.push(v);
            }
            kept_labels.push(labels.as_ref().and_then(|l| l[row]));
        }
        let n = xin.len() / m;
        if n == 0 {
            return Err(Error::EmptyInput(
                "no training event was scored: give at least one event".into(),
            ));
        }
        let x = ArrayView2::from_shape((n, m), &xin).expect("n x m inputs");
        let n_det = plan.detectors.len();
        let mut detectors = Vec::with_capacity(n_det);
        let mut calibration = vec![None; n_det];
        let mut cal_scores = vec![Vec::new(); n_det];
        for (d, dp) in plan.detectors.iter().enumerate() {
            let (fitted, raw) = match dp {
                DetectorPlan::IsolationForest(p) => {
                    let mut f = IsolationForest::new(p.clone())?;
                    f.fit(x)?;
                    let raw = f.score_samples(x)?.iter().map(|s| -s).collect::<Vec<_>>();
                    (Fitted::IsolationForest(f), raw)
                }
                DetectorPlan::ZScore(p) => {
                    let mut z = ZScore::new(p.clone())?;
                    z.fit(x)?;
                    let raw = z.score_samples(x)?.to_vec();
                    (Fitted::ZScore(z), raw)
                }
                DetectorPlan::RobustZScore(p) => {
                    let mut z = RobustZScore::new(p.clone())?;
                    z.fit(x)?;
                    let raw = z.score_samples(x)?.to_vec();
                    (Fitted::RobustZScore(z), raw)
                }
                DetectorPlan::Supervised(p) => {
                    // Placeholder; fitted below, once the anomaly scores are known.
                    (
                        Fitted::Supervised(SupervisedModel::new(p.clone())?),
                        Vec::new(),
                    )
                }
            };
            if !raw.is_empty() {
                let c = Calibration::fit(&raw);
                cal_scores[d] = raw.iter().map(|&r| c.apply(r)).collect();
                calibration[d] = Some(c);
            }
            detectors.push(fitted);
        }
        let mut supervised = None;
        if let Some(s) = plan.supervised {
            let label_name = spec.features.schema.label.as_deref().unwrap_or("label");
            let extra: &[usize] = if plan.combine == CombineRule::Supervised {
                &plan.anomaly
            } else {
                &[]
            };
            let ds = m + extra.len();
            let mut z = Vec::with_capacity(n * ds);
            for (i, row) in xin.chunks_exact(m).enumerate() {
                z.extend_from_slice(row);
                z.extend(extra.iter().map(|&a| cal_scores[a][i]));
            }
            let (means, scales) = standardisation(&z, ds);
            for row in z.chunks_exact_mut(ds) {
                for ((v, mu), sd) in row.iter_mut().zip(&means).zip(&scales) {
                    *v = (*v - mu) / sd;
                }
            }
            let known: Vec<usize> = (0..n).filter(|&i| kept_labels[i].is_some()).collect();
            if known.is_empty() {
                return Err(Error::MissingField {
                    field: label_name.to_string(),
                    hint: format!(
                        "detectors[{s}] (supervised) trains on labels: give training events with a known label"
                    ),
                });
            }
            let zl: Vec<f64> = known
                .iter()
                .flat_map(|&i| z[i * ds..(i + 1) * ds].iter().copied())
                .collect();
            let y: Vec<bool> = known
                .iter()
                .map(|&i| kept_labels[i].expect("known"))
                .collect();
            let Fitted::Supervised(model) = &mut detectors[s] else {
                unreachable!("the plan's supervised index")
            };
            model.fit(
                ArrayView2::from_shape((known.len(), ds), &zl).expect("rows x inputs"),
                &y,
            )?;
            let shares = match model.coefficients() {
                Ok((coef, _)) => SupervisedShares::Linear(coef.to_vec()),
                Err(_) => {
                    let mut g: Vec<f64> = model
                        .feature_importances()
                        .map(|a| a.to_vec())
                        .unwrap_or_else(|_| vec![0.0; ds])
                        .into_iter()
                        .map(|v| if v.is_finite() && v > 0.0 { v } else { 0.0 })
                        .collect();
                    let total: f64 = g.iter().sum();
                    if total > 0.0 {
                        g.iter_mut().for_each(|v| *v /= total);
                    }
                    SupervisedShares::Global(g)
                }
            };
            if plan.combine == CombineRule::Weighted {
                let p = model.predict_proba(
                    Array2::from_shape_vec((n, ds), z)
                        .expect("n x inputs")
                        .view(),
                )?;
                calibration[s] = Some(Calibration::fit(p.as_slice().expect("contiguous")));
            }
            supervised = Some(SupervisedPart {
                means,
                scales,
                shares,
            });
        }
        let model = Model {
            detectors,
            calibration,
            supervised,
        };
        let mut pipeline = Pipeline::assemble(spec, plan, engine, model, f64::NAN, n as u64);
        // Training risks by the serving code path, so the threshold matches serving exactly.
        let mut risks = Vec::with_capacity(n);
        for row in xin.chunks_exact(m) {
            pipeline.scratch.x.copy_from_slice(row);
            risks.push(
                pipeline
                    .model
                    .eval(&pipeline.plan, &mut pipeline.scratch, false)?,
            );
        }
        pipeline.threshold = match pipeline.spec.alert {
            AlertRule::Threshold(t) => t,
            AlertRule::TargetAlertRate(r) | AlertRule::Contamination(r) => {
                risks.sort_by(|a, b| b.total_cmp(a));
                let k = ((r * n as f64).round() as usize).clamp(1, n);
                risks[k - 1]
            }
        };
        Ok(pipeline)
    }

    /// Put the parts together with fresh buffers.
    pub(super) fn assemble(
        spec: PipelineSpec,
        plan: Plan,
        engine: FeatureEngine,
        model: Model,
        threshold: f64,
        training_rows: u64,
    ) -> Self {
        let m = plan.inputs.len();
        let n_sup_in = match (plan.supervised, plan.combine) {
            (None, _) => 0,
            (Some(_), CombineRule::Weighted) => m,
            (Some(_), CombineRule::Supervised) => m + plan.anomaly.len(),
        };
        let scratch = Scratch::new(plan.feature_names.len(), m, plan.detectors.len(), n_sup_in);
        Pipeline {
            spec,
            plan,
            engine,
            model,
            threshold,
            training_rows,
            scratch,
            event: Event::default(),
        }
    }

    /// Score one event: update the feature engine with it, run the detectors, combine, explain.
    ///
    /// On an error from the feature engine (schema, late event) the state is unchanged; on an error
    /// from the detectors (a NaN input) the engine has already taken the event.
    pub fn score(&mut self, event: &Event) -> Result<Score> {
        let mut out = Score::default();
        self.score_into(event, &mut out)?;
        Ok(out)
    }

    /// [`Pipeline::score`] into `out`, reusing its reason strings: allocation-free once warm.
    pub fn score_into(&mut self, event: &Event, out: &mut Score) -> Result<()> {
        self.engine.update_into(event, &mut self.scratch.features)?;
        self.finish_row(out)
    }

    /// Convert a JSON object with the schema's rules ([`crate::event::EventSchema::event_from_json`])
    /// and score it.
    pub fn score_json(&mut self, event: &Map<String, Value>) -> Result<Score> {
        let mut ev = std::mem::take(&mut self.event);
        let result = self
            .engine
            .schema()
            .fill_from_json(event, &mut ev)
            .and_then(|()| self.score(&ev));
        self.event = ev;
        result
    }

    /// Evaluate the row in `scratch.features`; returns `None` for a row that is not scored.
    fn eval_row(&mut self, explain: bool) -> Result<Option<f64>> {
        let sc = &mut self.scratch;
        if sc.features.iter().all(|v| v.is_nan()) {
            return Ok(None);
        }
        for ((x, &j), name) in
            sc.x.iter_mut()
                .zip(&self.plan.inputs)
                .zip(&self.plan.input_names)
        {
            *x = sc.features[j];
            if x.is_nan() {
                return Err(nan_input(name));
            }
        }
        self.model.eval(&self.plan, sc, explain).map(Some)
    }

    /// The `k` largest positive contributions of the last evaluated row, largest first (ties:
    /// lower input index first), as `(input index, contribution)` handed to `f`. Allocation-free.
    fn top_reasons(&self, mut f: impl FnMut(usize, f64)) {
        let c = &self.scratch.contrib;
        // The previous pick, as (contribution, index): the next one is the best strictly after it
        // in the order (contribution descending, index ascending).
        let mut prev: Option<(f64, usize)> = None;
        for _ in 0..self.plan.reasons {
            let mut best: Option<(f64, usize)> = None;
            for (j, &v) in c.iter().enumerate() {
                // Contributions are never NaN; `v > 0.0` leaves zeros out.
                let after_prev = prev.is_none_or(|(pv, pj)| v < pv || (v == pv && j > pj));
                if v.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !after_prev {
                    continue;
                }
                if best.is_none_or(|(bv, _)| v > bv) {
                    best = Some((v, j));
                }
            }
            let Some((v, j)) = best else { break };
            f(j, v);
            prev = Some((v, j));
        }
    }

    fn finish_row(&mut self, out: &mut Score) -> Result<()> {
        let explain = self.plan.reasons > 0;
        let Some(risk) = self.eval_row(explain)? else {
            out.risk = f64::NAN;
            out.is_alert = false;
            out.reasons.clear();
            return Ok(());
        };
        out.risk = risk;
        out.is_alert = risk >= self.threshold;
        let mut n = 0;
        let names = &self.plan.input_names;
        let x = &self.scratch.x;
        let reasons = &mut out.reasons;
        self.top_reasons(|j, contribution| {
            if let Some(r) = reasons.get_mut(n) {
                r.feature.clear();
                r.feature.push_str(&names[j]);
                r.value = x[j];
                r.contribution = contribution;
            } else {
                reasons.push(Reason {
                    feature: names[j].clone(),
                    value: x[j],
                    contribution,
                });
            }
            n += 1;
        });
        out.reasons.truncate(n);
        Ok(())
    }

    /// Score a batch given as columns, in row order, from the current state (the engine's batch
    /// transform): the same risks, flags and reasons, bit for bit, as [`Pipeline::score`] on each
    /// event in order. A detector error names its row; the engine has then taken the whole batch.
    pub fn score_batch(&mut self, events: &EventColumns<'_>) -> Result<ScoreBatch> {
        let features = self.engine.transform_columns(events)?;
        self.score_features(&features)
    }

    /// [`Pipeline::score_batch`] for events given one by one.
    pub fn score_batch_events(&mut self, events: &[Event]) -> Result<ScoreBatch> {
        let features = self.engine.transform(events)?;
        self.score_features(&features)
    }

    fn score_features(&mut self, features: &[f64]) -> Result<ScoreBatch> {
        let nf = self.plan.feature_names.len();
        let n = features.len() / nf.max(1);
        let k = self.plan.reasons;
        let mut batch = ScoreBatch {
            risk: Vec::with_capacity(n),
            is_alert: Vec::with_capacity(n),
            k,
            reason_input: vec![-1; n * k],
            reason_value: vec![f64::NAN; n * k],
            reason_contribution: vec![f64::NAN; n * k],
            input_names: self.plan.input_names.clone(),
        };
        for (row, feats) in features.chunks_exact(nf).enumerate() {
            self.scratch.features.copy_from_slice(feats);
            let risk = self.eval_row(k > 0).map_err(|e| Error::InRow {
                row,
                source: Box::new(e),
            })?;
            match risk {
                None => {
                    batch.risk.push(f64::NAN);
                    batch.is_alert.push(false);
                }
                Some(r) => {
                    batch.risk.push(r);
                    batch.is_alert.push(r >= self.threshold);
                    let mut i = row * k;
                    let x = &self.scratch.x;
                    let (ri, rv, rc) = (
                        &mut batch.reason_input,
                        &mut batch.reason_value,
                        &mut batch.reason_contribution,
                    );
                    self.top_reasons(|j, c| {
                        ri[i] = j as i64;
                        rv[i] = x[j];
                        rc[i] = c;
                        i += 1;
                    });
                }
            }
        }
        Ok(batch)
    }

    /// Forget every entity: serve from an empty feature state (the fitted detectors, calibration
    /// and threshold are kept).
    pub fn reset_state(&mut self) -> Result<()> {
        self.engine = FeatureEngine::new(self.spec.features.clone())?;
        Ok(())
    }

    /// The alert threshold on the risk.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Every feature the engine computes, in engine order.
    pub fn feature_names(&self) -> &[String] {
        &self.plan.feature_names
    }

    /// The features the detectors see (the spec's `inputs`), in input order.
    pub fn input_names(&self) -> &[String] {
        &self.plan.input_names
    }

    /// Reason codes per score (the spec's `reasons`, capped at the number of inputs).
    pub fn n_reasons(&self) -> usize {
        self.plan.reasons
    }

    /// The spec the pipeline was fitted with.
    pub fn spec(&self) -> &PipelineSpec {
        &self.spec
    }

    /// The feature engine and its current state.
    pub fn engine(&self) -> &FeatureEngine {
        &self.engine
    }

    /// Mutable access to the feature engine (e.g. to `forget` a key).
    pub fn engine_mut(&mut self) -> &mut FeatureEngine {
        &mut self.engine
    }

    /// Number of training events the detectors were fitted on.
    pub fn training_rows(&self) -> u64 {
        self.training_rows
    }

    /// The calibration table of detector `d` (spec order); `None` for the supervised detector
    /// under the supervised combine, or an index out of range.
    pub fn calibration(&self, d: usize) -> Option<&Calibration> {
        self.model.calibration.get(d).and_then(Option::as_ref)
    }
}
