//! `IsolationForest` for JavaScript.

use fraud_core::detectors::iforest::IsolationForest as CoreForest;
use ndarray::ArrayView2;
use wasm_bindgen::prelude::*;

fn js_err(e: fraud_core::Error) -> JsError {
    JsError::new(&e.to_string())
}

/// A fitted isolation forest loaded from artifact bytes.
#[wasm_bindgen]
pub struct IsolationForest {
    inner: CoreForest,
}

#[wasm_bindgen]
impl IsolationForest {
    /// Load a fitted forest from artifact bytes (`to_bytes()` in Rust or Python).
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8]) -> Result<IsolationForest, JsError> {
        let mut inner = CoreForest::from_bytes(bytes).map_err(js_err)?;
        if !inner.is_fitted() {
            return Err(JsError::new(
                "not fitted: the artifact holds an unfitted IsolationForest",
            ));
        }
        // An edge function scores on the calling thread, whatever the training machine used.
        let mut params = inner.params().clone();
        params.n_jobs = None;
        inner.set_params(params).map_err(js_err)?;
        Ok(IsolationForest { inner })
    }

    /// The artifact bytes of this forest.
    #[wasm_bindgen(js_name = toBytes)]
    pub fn to_bytes(&self) -> Result<Vec<u8>, JsError> {
        self.inner.to_bytes().map_err(js_err)
    }

    /// Number of features each row must have.
    #[wasm_bindgen(getter, js_name = nFeaturesIn)]
    pub fn n_features_in(&self) -> Result<usize, JsError> {
        self.inner.n_features_in().map_err(js_err)
    }

    /// The decision threshold (`offset_`).
    #[wasm_bindgen(getter)]
    pub fn offset(&self) -> Result<f64, JsError> {
        self.inner.offset().map_err(js_err)
    }

    /// Scores (higher = more normal, in [-1, 0]) of the rows of a row-major matrix with `nCols`
    /// columns.
    #[wasm_bindgen(js_name = scoreSamples)]
    pub fn score_samples(&self, x: &[f64], n_cols: usize) -> Result<Vec<f64>, JsError> {
        let view = matrix(x, n_cols)?;
        Ok(self.inner.score_samples(view).map_err(js_err)?.to_vec())
    }

    /// `scoreSamples(x) - offset`: negative for outliers.
    #[wasm_bindgen(js_name = decisionFunction)]
    pub fn decision_function(&self, x: &[f64], n_cols: usize) -> Result<Vec<f64>, JsError> {
        let view = matrix(x, n_cols)?;
        Ok(self.inner.decision_function(view).map_err(js_err)?.to_vec())
    }

    /// The score of one row, identical to `scoreSamples` for that row.
    #[wasm_bindgen(js_name = scoreOne)]
    pub fn score_one(&self, row: &[f64]) -> Result<f64, JsError> {
        self.inner.score_one(row).map_err(js_err)
    }
}

fn matrix(x: &[f64], n_cols: usize) -> Result<ArrayView2<'_, f64>, JsError> {
    if n_cols == 0 {
        return Err(JsError::new("shape mismatch: nCols must be at least 1"));
    }
    if !x.len().is_multiple_of(n_cols) {
        return Err(JsError::new(&format!(
            "shape mismatch: {} values do not split into rows of nCols = {n_cols}",
            x.len()
        )));
    }
    ArrayView2::from_shape((x.len() / n_cols, n_cols), x)
        .map_err(|e| JsError::new(&format!("shape mismatch: {e}")))
}
