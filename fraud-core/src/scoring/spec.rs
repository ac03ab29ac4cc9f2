//! The pipeline spec: a serde (JSON) description of the features, the detectors, how their scores
//! combine, the alert rule and the number of reason codes, validated once into a plan.
//!
//! ```json
//! {
//!   "features": {"schema": {...}, "features": [...]},
//!   "inputs": ["CUSTOMER_ID_NB_TX_1DAY_WINDOW", "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW"],
//!   "detectors": [
//!     {"kind": "isolation_forest", "n_estimators": 100, "random_state": 7, "weight": 2},
//!     {"kind": "zscore", "combine": "max"},
//!     {"kind": "robust_zscore", "combine": "rms", "weight": 0.5},
//!     {"kind": "supervised", "model": "logistic_regression", "alpha": 1.0, "random_state": 1}
//!   ],
//!   "combine": "weighted",
//!   "alert": {"target_alert_rate": 0.01},
//!   "reasons": 3
//! }
//! ```
//!
//! * `features`: a feature-engine spec ([`FeatureSpec`]).
//! * `inputs` (optional): the feature names the detectors see, in this order; default every
//!   feature. Unknown and repeated names are refused.
//! * `detectors` (at least one): `isolation_forest` (`n_estimators` = 100, `max_samples` = `"auto"`
//!   | count | fraction, `max_features` = count | fraction (1.0), `bootstrap` = false,
//!   `random_state`, `n_jobs`), `zscore` / `robust_zscore` (`combine`: `"max"` (default) or
//!   `"rms"`), and at most one `supervised` (`model`: `"random_forest"` (default) or
//!   `"logistic_regression"`; `n_estimators`, `max_depth`, `min_samples_leaf`,
//!   `min_samples_split`, `max_features` (`"sqrt"`, `"log2"`, count, fraction) for the forest;
//!   `alpha` for the logistic regression; `balance` (`"none"`, `"undersample"` (default),
//!   `"oversample"`, `"class_weight"`), `sampling_ratio` (1.0), `random_state`). Each may carry a
//!   `weight` (finite, > 0; default 1) for the weighted combine. A supervised detector needs the
//!   schema's `label` field and labelled training events.
//! * `combine`: `"weighted"` (default; the weighted mean of the calibrated detector scores) or
//!   `"supervised"` (the supervised detector sees the inputs plus every anomaly detector's
//!   calibrated score, and its probability is the risk; `weight` is refused there).
//! * `alert`: `{"target_alert_rate": r}` (r in (0, 1)), `{"contamination": c}` (c in (0, 0.5]; the
//!   same rule under scikit-learn's name) or `{"threshold": t}` (t in [0, 1]); default
//!   `{"target_alert_rate": 0.01}`.
//! * `reasons`: number of reason codes per score (default 3; capped at the number of inputs).
//!
//! Unknown keys anywhere are refused. Syntax and shape errors are [`Error::SpecJson`] (line,
//! column, and serde's message naming the field); inconsistent values are [`Error::InvalidSpec`]
//! whose location names the field, e.g. `detectors[1].weight`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::detectors::iforest::{IsolationForestParams, MaxFeatures, MaxSamples};
use crate::detectors::supervised::{Balance, ModelSpec, SupervisedParams, TreeMaxFeatures};
use crate::detectors::zscore::{Combine, ZScoreParams};
use crate::error::{Error, Result};
use crate::features::{FeatureEngine, FeatureSpec};

/// A number or a name in a spec (`"auto"`, `256`, `0.5`, `"sqrt"`): integers stay integers, so
/// `256` is a count and `0.5` a fraction.
#[derive(Debug, Clone, PartialEq)]
pub enum NumOrName {
    /// A name such as `"auto"` or `"sqrt"`.
    Name(String),
    /// A non-negative integer.
    Int(u64),
    /// A float.
    Float(f64),
}

impl fmt::Display for NumOrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumOrName::Name(s) => write!(f, "{s:?}"),
            NumOrName::Int(i) => write!(f, "{i}"),
            NumOrName::Float(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for NumOrName {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            NumOrName::Name(n) => s.serialize_str(n),
            NumOrName::Int(i) => s.serialize_u64(*i),
            NumOrName::Float(v) => s.serialize_f64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for NumOrName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NumOrName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer (a count), a float (a fraction) or a name")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<NumOrName, E> {
                Ok(NumOrName::Int(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<NumOrName, E> {
                u64::try_from(v)
                    .map(NumOrName::Int)
                    .map_err(|_| E::custom(format!("{v} is negative: expected a count >= 1")))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<NumOrName, E> {
                Ok(NumOrName::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<NumOrName, E> {
                Ok(NumOrName::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// How a z-score detector combines the z-values of a row (`"max"` or `"rms"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZCombine {
    /// The largest |z|.
    #[default]
    Max,
    /// The root mean square of the z-values.
    Rms,
}

/// Which supervised model (`"random_forest"` or `"logistic_regression"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisedKind {
    /// A random forest of probability trees.
    #[default]
    RandomForest,
    /// An L2-penalised logistic regression.
    LogisticRegression,
}

/// Class balancing of a supervised detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    /// Train on the data as given.
    None,
    /// Undersample the majority class to `sampling_ratio` (default).
    #[default]
    Undersample,
    /// Oversample the minority class to `sampling_ratio`.
    Oversample,
    /// Balanced class weights (random forest only).
    ClassWeight,
}

/// One detector of a pipeline (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DetectorSpec {
    /// An isolation forest; its raw score is the anomaly score `-score_samples` in `(0, 1]`.
    IsolationForest {
        /// Number of trees (default 100).
        #[serde(default = "default_trees")]
        n_estimators: usize,
        /// Rows per tree: `"auto"` (default), a count or a fraction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_samples: Option<NumOrName>,
        /// Features per tree: a count or a fraction (default 1.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_features: Option<NumOrName>,
        /// Draw rows with replacement (default false).
        #[serde(default)]
        bootstrap: bool,
        /// Seed (default: drawn from the OS at fit time and recorded in the model).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        random_state: Option<u64>,
        /// Fit threads (default 1; -1 = every core); results never depend on it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n_jobs: Option<i64>,
        /// Weight in the weighted combine (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
    },
    /// A z-score detector (mean / standard deviation); raw score in standard deviations.
    Zscore {
        /// `"max"` (default) or `"rms"`.
        #[serde(default)]
        combine: ZCombine,
        /// Weight in the weighted combine (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
    },
    /// A robust z-score detector (median / scaled MAD).
    RobustZscore {
        /// `"max"` (default) or `"rms"`.
        #[serde(default)]
        combine: ZCombine,
        /// Weight in the weighted combine (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
    },
    /// A supervised model trained on the labels; raw score = probability of fraud.
    Supervised {
        /// `"random_forest"` (default) or `"logistic_regression"`.
        #[serde(default)]
        model: SupervisedKind,
        /// Forest: number of trees (default 100).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n_estimators: Option<usize>,
        /// Forest: maximum depth (default unlimited).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_depth: Option<usize>,
        /// Forest: minimum rows per leaf (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_samples_leaf: Option<usize>,
        /// Forest: minimum rows to split (default 2).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_samples_split: Option<usize>,
        /// Forest: features per split, `"sqrt"` (default), `"log2"`, a count or a fraction.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_features: Option<NumOrName>,
        /// Logistic regression: L2 strength (default 1.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alpha: Option<f64>,
        /// Class balancing (default `"undersample"`).
        #[serde(default)]
        balance: BalanceKind,
        /// Target minority/majority ratio of the resampling (default 1.0).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sampling_ratio: Option<f64>,
        /// Seed (default: drawn from the OS at fit time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        random_state: Option<u64>,
        /// Weight in the weighted combine (default 1).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weight: Option<f64>,
    },
}

fn default_trees() -> usize {
    100
}

fn default_reasons() -> usize {
    3
}

impl DetectorSpec {
    /// The `kind` as spelled in the spec.
    pub fn kind(&self) -> &'static str {
        match self {
            DetectorSpec::IsolationForest { .. } => "isolation_forest",
            DetectorSpec::Zscore { .. } => "zscore",
            DetectorSpec::RobustZscore { .. } => "robust_zscore",
            DetectorSpec::Supervised { .. } => "supervised",
        }
    }

    /// The weight as given (`None` = not given).
    pub fn weight(&self) -> Option<f64> {
        match self {
            DetectorSpec::IsolationForest { weight, .. }
            | DetectorSpec::Zscore { weight, .. }
            | DetectorSpec::RobustZscore { weight, .. }
            | DetectorSpec::Supervised { weight, .. } => *weight,
        }
    }

    /// Whether this is the supervised detector.
    pub fn is_supervised(&self) -> bool {
        matches!(self, DetectorSpec::Supervised { .. })
    }
}

/// How detector scores become one risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CombineRule {
    /// Weighted mean of the calibrated detector scores (default).
    #[default]
    Weighted,
    /// The supervised detector's probability, with the anomaly detectors' calibrated scores as
    /// extra inputs.
    Supervised,
}

/// How the alert threshold is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRule {
    /// Alert on this fraction of the training events, in (0, 1): the threshold is the training
    /// risk of rank `max(1, round(r * n))` from the top.
    TargetAlertRate(f64),
    /// The same rule under scikit-learn's name, in (0, 0.5].
    Contamination(f64),
    /// A fixed risk threshold in [0, 1].
    Threshold(f64),
}

impl Default for AlertRule {
    fn default() -> Self {
        AlertRule::TargetAlertRate(0.01)
    }
}

/// A complete pipeline spec (see the [module documentation](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The feature-engine spec.
    pub features: FeatureSpec,
    /// Feature names the detectors see (default: every feature, in spec order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<String>>,
    /// The detectors, at least one.
    pub detectors: Vec<DetectorSpec>,
    /// How scores combine (default weighted).
    #[serde(default)]
    pub combine: CombineRule,
    /// The alert rule (default a 1% target alert rate).
    #[serde(default)]
    pub alert: AlertRule,
    /// Reason codes per score (default 3).
    #[serde(default = "default_reasons")]
    pub reasons: usize,
}

/// A detector with its resolved parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DetectorPlan {
    IsolationForest(IsolationForestParams),
    ZScore(ZScoreParams),
    RobustZScore(ZScoreParams),
    Supervised(SupervisedParams),
}

/// The validated spec: everything fit and scoring need, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Every feature name, in engine output order.
    pub feature_names: Vec<String>,
    /// Engine output column of each input.
    pub inputs: Vec<usize>,
    /// Input names, in input order.
    pub input_names: Vec<String>,
    pub detectors: Vec<DetectorPlan>,
    /// Weights normalised to sum to 1 (weighted combine; 0 for the supervised detector under the
    /// supervised combine).
    pub weights: Vec<f64>,
    /// Index of the supervised detector, if any.
    pub supervised: Option<usize>,
    /// Indices of the anomaly (unsupervised) detectors, in spec order.
    pub anomaly: Vec<usize>,
    pub combine: CombineRule,
    pub reasons: usize,
}

fn invalid(location: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidSpec {
        location: location.into(),
        message: message.into(),
    }
}

fn json_error(e: serde_json::Error) -> Error {
    let (line, column) = (e.line(), e.column());
    let mut message = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    if message.ends_with(&suffix) {
        message.truncate(message.len() - suffix.len());
    }
    Error::SpecJson {
        line,
        column,
        message,
    }
}

impl PipelineSpec {
    /// Parse a JSON spec (shape only; [`PipelineSpec::validate`] checks the values).
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(json_error)
    }

    /// Convert a JSON value into a spec (shape errors have line and column 0).
    pub fn from_value(value: serde_json::Value) -> Result<Self> {
        serde_json::from_value(value).map_err(json_error)
    }

    /// Read a JSON spec from a file.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidInput(format!("cannot read spec file {}: {e}", path.display()))
        })?;
        Self::from_json(&text)
    }

    /// The spec as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a pipeline spec always serialises to JSON")
    }

    /// Check every value; the error names the field (`inputs[2]`, `detectors[0].weight`, ...).
    pub fn validate(&self) -> Result<()> {
        self.plan().map(|_| ())
    }

    pub(crate) fn plan(&self) -> Result<Plan> {
        let engine = FeatureEngine::new(self.features.clone())?;
        let feature_names = engine.feature_names().to_vec();
        let (inputs, input_names) = match &self.inputs {
            None => ((0..feature_names.len()).collect(), feature_names.clone()),
            Some(list) => {
                if list.is_empty() {
                    return Err(invalid(
                        "inputs",
                        "the list is empty: name at least one feature, or leave `inputs` out to use every feature",
                    ));
                }
                let mut idx = Vec::with_capacity(list.len());
                for (i, name) in list.iter().enumerate() {
                    let Some(j) = feature_names.iter().position(|f| f == name) else {
                        return Err(invalid(
                            format!("inputs[{i}]"),
                            format!(
                                "unknown feature `{name}`; the feature spec defines {}",
                                quote(&feature_names)
                            ),
                        ));
                    };
                    if idx.contains(&j) {
                        return Err(invalid(
                            format!("inputs[{i}]"),
                            format!("feature `{name}` is listed twice"),
                        ));
                    }
                    idx.push(j);
                }
                (idx, list.clone())
            }
        };
        if inputs.is_empty() {
            return Err(invalid(
                "features",
                "the feature spec defines no feature: the detectors need at least one input",
            ));
        }
        if self.detectors.is_empty() {
            return Err(invalid(
                "detectors",
                "the list is empty: give at least one detector",
            ));
        }
        let mut detectors = Vec::with_capacity(self.detectors.len());
        let mut supervised = None;
        let mut anomaly = Vec::new();
        for (i, d) in self.detectors.iter().enumerate() {
            let loc = |field: &str| format!("detectors[{i}].{field}");
            if let Some(w) = d.weight() {
                if self.combine == CombineRule::Supervised {
                    return Err(invalid(
                        loc("weight"),
                        "weights apply to the \"weighted\" combine only; with \"supervised\" the supervised model weighs the detectors",
                    ));
                }
                if !(w.is_finite() && w > 0.0) {
                    return Err(invalid(
                        loc("weight"),
                        format!("{w}: expected a finite number > 0"),
                    ));
                }
            }
            let plan = resolve(d, &loc)?;
            if d.is_supervised() {
                if let Some(first) = supervised {
                    return Err(invalid(
                        format!("detectors[{i}]"),
                        format!(
                            "a second supervised detector (the first is detectors[{first}]): give at most one"
                        ),
                    ));
                }
                if self.features.schema.label.is_none() {
                    return Err(invalid(
                        format!("detectors[{i}]"),
                        "a supervised detector trains on labels, but the feature spec's schema declares no `label` field",
                    ));
                }
                supervised = Some(i);
            } else {
                anomaly.push(i);
            }
            detectors.push(plan);
        }
        let weights = match self.combine {
            CombineRule::Weighted => {
                let raw: Vec<f64> = self
                    .detectors
                    .iter()
                    .map(|d| d.weight().unwrap_or(1.0))
                    .collect();
                let total: f64 = raw.iter().sum();
                if !total.is_finite() {
                    return Err(invalid(
                        "detectors",
                        "the weights sum to infinity: use smaller weights",
                    ));
                }
                raw.iter().map(|w| w / total).collect()
            }
            CombineRule::Supervised => {
                if supervised.is_none() {
                    return Err(invalid(
                        "combine",
                        "\"supervised\" needs a detector of kind \"supervised\" in `detectors`",
                    ));
                }
                vec![0.0; self.detectors.len()]
            }
        };
        match self.alert {
            AlertRule::TargetAlertRate(r) if !(r > 0.0 && r < 1.0) => {
                return Err(invalid(
                    "alert.target_alert_rate",
                    format!("{r}: expected a fraction in (0, 1)"),
                ));
            }
            AlertRule::Contamination(c) if !(c > 0.0 && c <= 0.5) => {
                return Err(invalid(
                    "alert.contamination",
                    format!("{c}: expected a fraction in (0, 0.5]"),
                ));
            }
            AlertRule::Threshold(t) if !(0.0..=1.0).contains(&t) => {
                return Err(invalid(
                    "alert.threshold",
                    format!("{t}: expected a risk in [0, 1]"),
                ));
            }
            _ => {}
        }
        Ok(Plan {
            reasons: self.reasons.min(inputs.len()),
            feature_names,
            inputs,
            input_names,
            detectors,
            weights,
            supervised,
            anomaly,
            combine: self.combine,
        })
    }
}

impl std::str::FromStr for PipelineSpec {
    type Err = Error;

    /// [`PipelineSpec::from_json`].
    fn from_str(s: &str) -> Result<Self> {
        Self::from_json(s)
    }
}

fn quote(names: &[String]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    format!("[{}]", q.join(", "))
}

/// Resolve one detector's parameters, naming the bad field on error.
fn resolve(d: &DetectorSpec, loc: &dyn Fn(&str) -> String) -> Result<DetectorPlan> {
    // Parameter errors of the detectors name the parameter; re-locate them in the spec.
    let relocate = |e: Error| match e {
        Error::InvalidParameter {
            name,
            value,
            expected,
        } => invalid(loc(name), format!("{value}: expected {expected}")),
        other => other,
    };
    match d {
        DetectorSpec::IsolationForest {
            n_estimators,
            max_samples,
            max_features,
            bootstrap,
            random_state,
            n_jobs,
            ..
        } => {
            let ms = match max_samples {
                None => MaxSamples::Auto,
                Some(NumOrName::Name(n)) if n == "auto" => MaxSamples::Auto,
                Some(NumOrName::Int(c)) => MaxSamples::Count(*c as usize),
                Some(NumOrName::Float(f)) => MaxSamples::Fraction(*f),
                Some(other) => {
                    return Err(invalid(
                        loc("max_samples"),
                        format!("{other}: expected \"auto\", a count >= 1 or a fraction in (0, 1]"),
                    ));
                }
            };
            let mf = match max_features {
                None => MaxFeatures::Fraction(1.0),
                Some(NumOrName::Int(c)) => MaxFeatures::Count(*c as usize),
                Some(NumOrName::Float(f)) => MaxFeatures::Fraction(*f),
                Some(other) => {
                    return Err(invalid(
                        loc("max_features"),
                        format!("{other}: expected a count >= 1 or a fraction in (0, 1]"),
                    ));
                }
            };
            let mut p = IsolationForestParams::default()
                .n_estimators(*n_estimators)
                .max_samples(ms)
                .max_features(mf)
                .bootstrap(*bootstrap);
            p.random_state = *random_state;
            p.n_jobs = *n_jobs;
            p.validate().map_err(relocate)?;
            Ok(DetectorPlan::IsolationForest(p))
        }
        DetectorSpec::Zscore { combine, .. } | DetectorSpec::RobustZscore { combine, .. } => {
            let c = match combine {
                ZCombine::Max => Combine::Max,
                ZCombine::Rms => Combine::Rms,
            };
            let p = ZScoreParams::default().combine(c);
            Ok(if matches!(d, DetectorSpec::Zscore { .. }) {
                DetectorPlan::ZScore(p)
            } else {
                DetectorPlan::RobustZScore(p)
            })
        }
        DetectorSpec::Supervised {
            model,
            n_estimators,
            max_depth,
            min_samples_leaf,
            min_samples_split,
            max_features,
            alpha,
            balance,
            sampling_ratio,
            random_state,
            ..
        } => {
            let forest_only = [
                ("n_estimators", n_estimators.is_some()),
                ("max_depth", max_depth.is_some()),
                ("min_samples_leaf", min_samples_leaf.is_some()),
                ("min_samples_split", min_samples_split.is_some()),
                ("max_features", max_features.is_some()),
            ];
            let spec = match model {
                SupervisedKind::RandomForest => {
                    if alpha.is_some() {
                        return Err(invalid(
                            loc("alpha"),
                            "applies to model \"logistic_regression\" only",
                        ));
                    }
                    let mf = match max_features {
                        None => TreeMaxFeatures::Sqrt,
                        Some(NumOrName::Name(n)) if n == "sqrt" => TreeMaxFeatures::Sqrt,
                        Some(NumOrName::Name(n)) if n == "log2" => TreeMaxFeatures::Log2,
                        Some(NumOrName::Int(c)) => TreeMaxFeatures::Count(*c as usize),
                        Some(NumOrName::Float(f)) => TreeMaxFeatures::Fraction(*f),
                        Some(other) => {
                            return Err(invalid(
                                loc("max_features"),
                                format!(
                                    "{other}: expected \"sqrt\", \"log2\", a count >= 1 or a fraction in (0, 1]"
                                ),
                            ));
                        }
                    };
                    ModelSpec::random_forest()
                        .n_trees(n_estimators.unwrap_or(100))
                        .max_depth(*max_depth)
                        .min_samples_leaf(min_samples_leaf.unwrap_or(1))
                        .min_samples_split(min_samples_split.unwrap_or(2))
                        .max_features(mf)
                }
                SupervisedKind::LogisticRegression => {
                    if let Some((name, _)) = forest_only.iter().find(|(_, given)| *given) {
                        return Err(invalid(
                            loc(name),
                            "applies to model \"random_forest\" only",
                        ));
                    }
                    ModelSpec::logistic_regression(alpha.unwrap_or(1.0))
                }
            };
            let ratio = sampling_ratio.unwrap_or(1.0);
            let bal = match balance {
                BalanceKind::None => Balance::None,
                BalanceKind::Undersample => Balance::Undersample { ratio },
                BalanceKind::Oversample => Balance::Oversample { ratio },
                BalanceKind::ClassWeight => Balance::ClassWeight,
            };
            if sampling_ratio.is_some()
                && matches!(balance, BalanceKind::None | BalanceKind::ClassWeight)
            {
                return Err(invalid(
                    loc("sampling_ratio"),
                    "applies to balance \"undersample\" or \"oversample\" only",
                ));
            }
            let mut p = SupervisedParams::default().model(spec).balance(bal);
            p.random_state = *random_state;
            p.validate().map_err(relocate)?;
            Ok(DetectorPlan::Supervised(p))
        }
    }
}
