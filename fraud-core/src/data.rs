//! Input matrices: the element types accepted and their conversion to the model's working precision.
//!
//! Like scikit-learn's isolation forest, the model works in float32: every input value is rounded to
//! the nearest `f32` before it is compared with a split threshold. NaN, infinities and finite values
//! beyond the float32 range are refused with [`Error::NonFiniteValue`].

use crate::error::Error;

/// Element types accepted in feature matrices (`f64` and `f32`).
pub trait Scalar: Copy + Send + Sync + 'static {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
    /// The value rounded to `f32`, with `-0.0` folded into `+0.0`; `None` when it is NaN, infinite or
    /// too large for `f32`.
    fn to_f32_checked(self) -> Option<f32>;
}

impl Scalar for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn to_f32_checked(self) -> Option<f32> {
        let v = self as f32;
        if v.is_finite() { Some(v + 0.0) } else { None }
    }
}

impl Scalar for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn to_f32_checked(self) -> Option<f32> {
        if self.is_finite() {
            Some(self + 0.0)
        } else {
            None
        }
    }
}

/// The error for a value that [`Scalar::to_f32_checked`] refused.
pub(crate) fn non_finite(row: usize, column: usize, value: f64) -> Error {
    let hint = if value.is_nan() {
        "NaN is not accepted: impute or drop missing values first"
    } else if value.is_infinite() {
        "infinite values are not accepted: clip or drop them first"
    } else {
        "the value exceeds the float32 range (|x| <= 3.4e38) the model works in: rescale the feature"
    };
    Error::NonFiniteValue {
        row,
        column,
        value: display_number(value),
        hint,
    }
}

/// A number for an error message: scientific notation for huge values (`1e308`, not 309 digits).
pub(crate) fn display_number(v: f64) -> String {
    if v.abs() >= 1e16 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Map an `f32` (finite, not `-0.0`) to a `u32` whose unsigned order is the float order.
#[inline]
pub(crate) fn order_key(x: f32) -> u32 {
    let b = x.to_bits();
    if b & 0x8000_0000 != 0 {
        !b
    } else {
        b | 0x8000_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_key_preserves_float_order() {
        let mut v: Vec<f32> = vec![
            -3.4e38, -1.0, -1e-45, 0.0, 1e-45, 0.5, 1.0, 2.0, 3.4e38, -0.25, 7.0,
        ];
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for w in v.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(order_key((-0.0f32) + 0.0), order_key(0.0));
    }

    #[test]
    fn refuses_non_finite_and_overflow() {
        assert_eq!(f64::NAN.to_f32_checked(), None);
        assert_eq!(f64::INFINITY.to_f32_checked(), None);
        assert_eq!(1e39f64.to_f32_checked(), None);
        assert_eq!(f32::NEG_INFINITY.to_f32_checked(), None);
        assert_eq!((-0.0f64).to_f32_checked().unwrap().to_bits(), 0);
        assert_eq!(0.1f64.to_f32_checked(), Some(0.1f32));
        assert!(
            non_finite(3, 4, 1e39)
                .to_string()
                .contains("row 3, column 4")
        );
    }
}
