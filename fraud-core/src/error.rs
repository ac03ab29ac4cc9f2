//! One error type for the whole core, with a [`Result`] alias.
//!
//! Every variant carries enough context to say what to fix: parameter errors name the parameter and
//! the rejected value, input errors name the row and column. Messages never contain entity keys or
//! other raw event data beyond the offending numeric value.

use thiserror::Error;

/// The result type used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `fraud-core`.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter or option is out of its valid range.
    #[error("invalid parameter `{name}` = {value}: {expected}")]
    InvalidParameter {
        /// Parameter name, as spelled in the public API.
        name: &'static str,
        /// The rejected value, formatted.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// The input has no rows (or no columns).
    #[error("empty input: {0}")]
    EmptyInput(String),
    /// The input's shape does not fit (ragged rows, wrong number of features, ...).
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// A value is NaN, infinite, or too large for the model's float32 working precision.
    #[error("non-finite or out-of-range value {value} at row {row}, column {column}: {hint}")]
    NonFiniteValue {
        /// Row index (0-based) of the bad value.
        row: usize,
        /// Column index (0-based) of the bad value.
        column: usize,
        /// The value, formatted.
        value: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// A model was used before it was fitted.
    #[error("not fitted: call `fit` before `{0}`")]
    NotFitted(&'static str),
    /// Bytes that do not decode into a valid artifact.
    #[error("invalid artifact: {0}")]
    Artifact(#[from] ArtifactError),
    /// Any other invalid input, with a description of what is wrong.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A feature or pipeline spec that is not valid JSON (or does not have the spec's shape).
    #[error("invalid spec JSON at line {line}, column {column}: {message}")]
    SpecJson {
        /// 1-based line of the problem, as reported by the JSON parser.
        line: usize,
        /// 1-based column of the problem, as reported by the JSON parser.
        column: usize,
        /// The parser's description of the problem.
        message: String,
    },
    /// A feature or pipeline spec that parses but is inconsistent (bad window, unknown field,
    /// duplicate name, bad detector or alert setting, ...).
    #[error("invalid spec at {location}: {message}")]
    InvalidSpec {
        /// Where in the spec: `schema`, `feature \`NAME\``, `lateness`, ...
        location: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// An event carries a field that the spec's schema does not declare.
    #[error(
        "unknown field `{field}`: the spec's schema declares {expected}; add it to the schema or drop the column"
    )]
    UnknownField {
        /// The undeclared field name.
        field: String,
        /// The declared fields, formatted.
        expected: String,
    },
    /// An event lacks a field that the spec's schema requires.
    #[error("missing field `{field}`: every event needs it ({hint})")]
    MissingField {
        /// The missing field name.
        field: String,
        /// What the field is used for.
        hint: String,
    },
    /// An event field has the wrong type or a non-finite / out-of-range value.
    ///
    /// The message never contains the value of an entity key field.
    #[error("invalid value for field `{field}`: {reason}")]
    InvalidField {
        /// The field name.
        field: String,
        /// What is wrong and what would be accepted.
        reason: String,
    },
    /// An event older than the allowed lateness, refused under the `error` lateness policy.
    #[error(
        "late event: its timestamp is {behind_ms} ms behind the watermark (newest event time minus the allowed lateness of {allowed_ms} ms); raise `lateness.allowed` or choose the `drop` or `process` policy"
    )]
    LateEvent {
        /// How far behind the watermark the event is, in milliseconds.
        behind_ms: i64,
        /// The allowed lateness, in milliseconds.
        allowed_ms: i64,
    },
    /// A keyed-hash secret that is missing, too short, or not the one a snapshot was written with.
    #[error("key secret: {0}")]
    KeySecret(String),
    /// Labels that hold only one class: a supervised model needs both fraud and non-fraud rows.
    #[error(
        "y holds one class only ({present} labels in all {rows} rows): a supervised model needs both classes, at least one fraud and one non-fraud row"
    )]
    SingleClass {
        /// The one class present: `"fraud"` or `"non-fraud"`.
        present: &'static str,
        /// Number of labelled rows.
        rows: usize,
    },
    /// An error in one row of a batch, with the row index (0-based, input order).
    #[error("row {row}: {source}")]
    InRow {
        /// Row index (0-based) in the batch.
        row: usize,
        /// The error for that row.
        source: Box<Error>,
    },
}

/// Why artifact bytes were refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactError {
    /// Fewer bytes than the envelope needs.
    #[error("truncated: {got} bytes, expected at least {expected}")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// The bytes do not start with the fraud-core magic: not one of our artifacts.
    #[error("not a fraud-core artifact (bad magic bytes)")]
    BadMagic,
    /// Written by a newer (or unknown) format version.
    #[error("unsupported format version {found}: this build reads versions up to {supported}")]
    UnsupportedVersion {
        /// Version found in the bytes.
        found: u16,
        /// Newest version this build reads.
        supported: u16,
    },
    /// The artifact holds another kind of object than the one requested.
    #[error("wrong artifact kind: expected {expected}, found {found}")]
    WrongKind {
        /// Kind requested by the caller.
        expected: &'static str,
        /// Kind found in the bytes.
        found: String,
    },
    /// The payload checksum does not match: the bytes were corrupted.
    #[error(
        "checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): the bytes are corrupted"
    )]
    ChecksumMismatch {
        /// Checksum stored in the envelope.
        stored: u32,
        /// Checksum of the payload as received.
        computed: u32,
    },
    /// The payload length in the header disagrees with the bytes received.
    #[error("length mismatch: header says {declared} payload bytes, {actual} present")]
    LengthMismatch {
        /// Length declared in the header.
        declared: u64,
        /// Length actually present.
        actual: usize,
    },
    /// The payload passed the checksum but does not decode into a consistent object.
    #[error("malformed payload: {0}")]
    Malformed(String),
}

impl Error {
    /// Build an [`Error::InvalidParameter`].
    pub fn param(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}
