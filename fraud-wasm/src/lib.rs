//! WASM bindings of `fraud-core` (wasm-bindgen): load a model artifact written by Rust or Python
//! and score rows in an edge function, bit-identically to the native library.
//!
//! Thin by design: every value is converted and every error mapped to a thrown JS `Error` with the
//! core's message; no validation or math lives here. Inputs that the core refuses never trap.
//!
//! ```js
//! const { IsolationForest } = require("./pkg/fraud_wasm.js");
//! const forest = IsolationForest.fromBytes(new Uint8Array(bytes));
//! const scores = forest.scoreSamples(new Float64Array(rows.flat()), forest.nFeaturesIn);
//! const one = forest.scoreOne(new Float64Array(rows[0]));
//! ```
#![forbid(unsafe_code)]

mod iforest;
#[cfg(feature = "pipeline")]
mod pipeline;

pub use iforest::IsolationForest;
#[cfg(feature = "pipeline")]
pub use pipeline::Pipeline;
