//! The model artifact envelope: one byte format for every language.
//!
//! Layout (all integers little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `b"FRAUDCOR"` |
//! | 8 | 2 | format version ([`FORMAT_VERSION`]) |
//! | 10 | 2 | kind ([`ArtifactKind`]) |
//! | 12 | 4 | reserved flags, must be 0 |
//! | 16 | 8 | payload length `n` |
//! | 24 | n | payload (bincode 2, standard config, via serde) |
//! | 24 + n | 4 | CRC-32 (IEEE) of bytes `0 .. 24 + n` |
//!
//! Decoding checks, in order: length, magic, version, flags, declared length, checksum, kind, then the
//! payload itself. Every failure is a typed [`ArtifactError`]; no input panics.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ArtifactError, Error, Result};

/// The eight magic bytes every artifact starts with.
pub const MAGIC: [u8; 8] = *b"FRAUDCOR";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;
const HEADER_LEN: usize = 24;
const TRAILER_LEN: usize = 4;
/// Upper bound on a payload this build will decode (guards against absurd allocations); 1 GiB, so it
/// also fits a 32-bit `usize` (wasm32).
const MAX_PAYLOAD: u64 = 1 << 30;

/// What an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactKind {
    /// A fitted [`crate::detectors::iforest::IsolationForest`].
    IsolationForest,
    /// The state of a [`crate::features::FeatureEngine`] (spec, per-entity windows, counters).
    FeatureEngineSnapshot,
    /// A [`crate::detectors::zscore::ZScore`] or [`crate::detectors::zscore::RobustZScore`] (the
    /// payload records which).
    ZScore,
    /// A [`crate::detectors::supervised::SupervisedModel`] (random forest or logistic regression).
    /// Tag 5 (tag 4 is reserved).
    Supervised,
    /// A fitted [`crate::scoring::Pipeline`]: spec, detectors, calibration tables, threshold and
    /// feature-engine state. Tag 6.
    Pipeline,
}

impl ArtifactKind {
    /// The numeric tag stored in the envelope.
    pub const fn tag(self) -> u16 {
        match self {
            ArtifactKind::IsolationForest => 1,
            ArtifactKind::FeatureEngineSnapshot => 2,
            ArtifactKind::ZScore => 3,
            ArtifactKind::Supervised => 5,
            ArtifactKind::Pipeline => 6,
        }
    }

    /// Human-readable name used in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            ArtifactKind::IsolationForest => "IsolationForest",
            ArtifactKind::FeatureEngineSnapshot => "FeatureEngineSnapshot",
            ArtifactKind::ZScore => "ZScore",
            ArtifactKind::Supervised => "Supervised",
            ArtifactKind::Pipeline => "Pipeline",
        }
    }

    /// The kind for a numeric tag, if this build knows it.
    pub const fn from_tag(tag: u16) -> Option<Self> {
        match tag {
            1 => Some(ArtifactKind::IsolationForest),
            2 => Some(ArtifactKind::FeatureEngineSnapshot),
            3 => Some(ArtifactKind::ZScore),
            5 => Some(ArtifactKind::Supervised),
            6 => Some(ArtifactKind::Pipeline),
            _ => None,
        }
    }
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ MAX_PAYLOAD as usize }>()
}

/// Wrap a serialisable payload into artifact bytes.
pub fn encode<T: Serialize>(kind: ArtifactKind, value: &T) -> Result<Vec<u8>> {
    let payload = bincode::serde::encode_to_vec(value, bincode_config())
        .map_err(|e| ArtifactError::Malformed(format!("cannot encode payload: {e}")))?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&kind.tag().to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Read the kind of an artifact after checking its envelope (magic, version, length, checksum).
pub fn peek_kind(bytes: &[u8]) -> Result<ArtifactKind> {
    let (tag, _) = open(bytes)?;
    ArtifactKind::from_tag(tag).ok_or_else(|| {
        ArtifactError::WrongKind {
            expected: "a known kind",
            found: format!("unknown kind tag {tag}"),
        }
        .into()
    })
}

/// Check the envelope and return the kind tag and the payload slice.
fn open(bytes: &[u8]) -> Result<(u16, &[u8]), ArtifactError> {
    if bytes.len() < MAGIC.len() {
        return Err(ArtifactError::Truncated {
            got: bytes.len(),
            expected: HEADER_LEN + TRAILER_LEN,
        });
    }
    if bytes[..8] != MAGIC {
        return Err(ArtifactError::BadMagic);
    }
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(ArtifactError::Truncated {
            got: bytes.len(),
            expected: HEADER_LEN + TRAILER_LEN,
        });
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let version = u16_at(8);
    if version == 0 || version > FORMAT_VERSION {
        return Err(ArtifactError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let tag = u16_at(10);
    let flags = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes"));
    if flags != 0 {
        return Err(ArtifactError::Malformed(format!(
            "reserved flags are {flags:#x}, expected 0"
        )));
    }
    let declared = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
    let actual = bytes.len() - HEADER_LEN - TRAILER_LEN;
    if declared != actual as u64 {
        if declared > actual as u64 {
            return Err(ArtifactError::Truncated {
                got: bytes.len(),
                expected: (declared as usize).saturating_add(HEADER_LEN + TRAILER_LEN),
            });
        }
        return Err(ArtifactError::LengthMismatch { declared, actual });
    }
    let body_end = HEADER_LEN + actual;
    let stored = u32::from_le_bytes(bytes[body_end..].try_into().expect("4 bytes"));
    let computed = crc32fast::hash(&bytes[..body_end]);
    if stored != computed {
        return Err(ArtifactError::ChecksumMismatch { stored, computed });
    }
    Ok((tag, &bytes[HEADER_LEN..body_end]))
}

/// Check the envelope, the kind, and decode the payload.
pub fn decode<T: DeserializeOwned>(expected: ArtifactKind, bytes: &[u8]) -> Result<T> {
    let (tag, payload) = open(bytes)?;
    if tag != expected.tag() {
        let found = ArtifactKind::from_tag(tag)
            .map(|k| k.name().to_string())
            .unwrap_or_else(|| format!("unknown kind tag {tag}"));
        return Err(ArtifactError::WrongKind {
            expected: expected.name(),
            found,
        }
        .into());
    }
    let (value, used) =
        bincode::serde::decode_from_slice(payload, bincode_config()).map_err(|e| {
            ArtifactError::Malformed(format!("cannot decode {} payload: {e}", expected.name()))
        })?;
    if used != payload.len() {
        return Err(ArtifactError::Malformed(format!(
            "{} trailing payload bytes after the {}",
            payload.len() - used,
            expected.name()
        ))
        .into());
    }
    Ok(value)
}

/// Read an artifact file (any kind) into memory; a file that cannot be read is an
/// [`Error::InvalidInput`] naming it.
pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    std::fs::read(path)
        .map_err(|e| Error::InvalidInput(format!("cannot read {}: {e}", path.display())))
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, fsync, then rename.
///
/// A reader sees either the previous file or the complete new one, never a partial write, even
/// if the writing process is killed (shown by `tests/tests/durable_save.rs`). A process killed
/// mid-way leaves its temporary file (`.NAME.tmp.PID.N` beside the target) behind; it is never
/// read and can be deleted.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let io = |what: &str, e: std::io::Error| {
        Error::InvalidInput(format!("{what} {}: {e}", path.display()))
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput(format!("not a file path: {}", path.display())))?;
    // Unique per process and per call, so concurrent saves to one path never share a temporary.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        file_name.to_string_lossy(),
        std::process::id(),
        SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f =
            std::fs::File::create(&tmp).map_err(|e| io("cannot create temporary file for", e))?;
        f.write_all(bytes).map_err(|e| io("cannot write", e))?;
        f.sync_all().map_err(|e| io("cannot fsync", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("cannot rename into", e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Payload {
        a: Vec<f64>,
        b: String,
    }

    fn sample() -> Vec<u8> {
        encode(
            ArtifactKind::IsolationForest,
            &Payload {
                a: vec![1.5, -2.0],
                b: "x".into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let back: Payload = decode(ArtifactKind::IsolationForest, &bytes).unwrap();
        assert_eq!(
            back,
            Payload {
                a: vec![1.5, -2.0],
                b: "x".into()
            }
        );
        assert_eq!(peek_kind(&bytes).unwrap(), ArtifactKind::IsolationForest);
    }

    #[test]
    fn every_truncation_is_refused() {
        let bytes = sample();
        for n in 0..bytes.len() {
            let err = decode::<Payload>(ArtifactKind::IsolationForest, &bytes[..n]).unwrap_err();
            assert!(matches!(err, Error::Artifact(_)), "{n}: {err}");
        }
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let bytes = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(
                    decode::<Payload>(ArtifactKind::IsolationForest, &b).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
    }

    #[test]
    fn foreign_and_future_bytes() {
        assert_eq!(
            decode::<Payload>(
                ArtifactKind::IsolationForest,
                b"PK\x03\x04 this is a zip file, not a model"
            )
            .unwrap_err(),
            Error::Artifact(ArtifactError::BadMagic)
        );
        let mut b = sample();
        b[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            decode::<Payload>(ArtifactKind::IsolationForest, &b).unwrap_err(),
            Error::Artifact(ArtifactError::UnsupportedVersion {
                found: FORMAT_VERSION + 1,
                supported: FORMAT_VERSION
            })
        );
    }

    #[test]
    fn unknown_kind_is_named() {
        let mut b = sample();
        b[10..12].copy_from_slice(&999u16.to_le_bytes());
        let n = b.len();
        let crc = crc32fast::hash(&b[..n - 4]);
        b[n - 4..].copy_from_slice(&crc.to_le_bytes());
        let msg = decode::<Payload>(ArtifactKind::IsolationForest, &b)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("unknown kind tag 999"), "{msg}");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = std::env::temp_dir().join(format!("fraud-core-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("m.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .collect();
        assert_eq!(leftovers.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
