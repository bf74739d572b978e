//! Flexible checksums (`x-amz-checksum-*`): CRC32, CRC32C, CRC64NVME, SHA-1 and
//! SHA-256.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::SigV4Error;

/// A supported `x-amz-checksum-*` algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// `x-amz-checksum-crc32` (IEEE).
    Crc32,
    /// `x-amz-checksum-crc32c` (Castagnoli).
    Crc32c,
    /// `x-amz-checksum-crc64nvme` (CRC-64/NVME; what the SDKs send when asked
    /// for `ChecksumAlgorithm::Crc64Nvme`, and S3's default full-object checksum).
    Crc64Nvme,
    /// `x-amz-checksum-sha1`.
    Sha1,
    /// `x-amz-checksum-sha256`.
    Sha256,
}

impl ChecksumAlgorithm {
    /// Parses a header name such as `x-amz-checksum-crc32c` (case-insensitive).
    pub fn from_header_name(name: &str) -> Result<Self, SigV4Error> {
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "x-amz-checksum-crc32" => Ok(ChecksumAlgorithm::Crc32),
            "x-amz-checksum-crc32c" => Ok(ChecksumAlgorithm::Crc32c),
            "x-amz-checksum-crc64nvme" => Ok(ChecksumAlgorithm::Crc64Nvme),
            "x-amz-checksum-sha1" => Ok(ChecksumAlgorithm::Sha1),
            "x-amz-checksum-sha256" => Ok(ChecksumAlgorithm::Sha256),
            _ if lower.starts_with("x-amz-checksum-") => {
                Err(SigV4Error::UnsupportedChecksum(lower))
            }
            _ => Err(SigV4Error::UnexpectedTrailer(lower)),
        }
    }

    /// The header name, e.g. `x-amz-checksum-crc32c`.
    pub fn header_name(&self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(&self) -> Checksummer {
        let state = match self {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64(CRC64_NVME.digest()),
            ChecksumAlgorithm::Sha1 => {
                State::Digest(digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY))
            }
            ChecksumAlgorithm::Sha256 => State::Digest(digest::Context::new(&digest::SHA256)),
        };
        Checksummer {
            algorithm: *self,
            state,
        }
    }
}

/// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all
/// ones), slice-by-16 tables.
static CRC64_NVME: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_NVME);

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64(crc::Digest<'static, u64, crc::Table<16>>),
    Digest(digest::Context),
}

/// An incremental checksum computation.
pub struct Checksummer {
    algorithm: ChecksumAlgorithm,
    state: State,
}

impl std::fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Checksummer {
    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        self.algorithm
    }

    /// Feeds data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            State::Crc64(d) => d.update(data),
            State::Digest(ctx) => ctx.update(data),
        }
    }

    /// The raw checksum bytes (big-endian for CRCs).
    pub fn finalize(self) -> Vec<u8> {
        match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(c) => c.to_be_bytes().to_vec(),
            State::Crc64(d) => d.finalize().to_be_bytes().to_vec(),
            State::Digest(ctx) => ctx.finish().as_ref().to_vec(),
        }
    }

    /// The checksum in base64, as sent in `x-amz-checksum-*`.
    pub fn finalize_base64(self) -> String {
        BASE64.encode(self.finalize())
    }

    /// Compares the checksum with a base64 value sent by the client.
    pub fn verify_base64(self, expected: &str) -> Result<(), SigV4Error> {
        let algorithm = self.algorithm.header_name().to_owned();
        let computed = self.finalize_base64();
        if crate::crypto::ct_eq(computed.as_bytes(), expected.trim().as_bytes()) {
            Ok(())
        } else {
            Err(SigV4Error::ChecksumMismatch {
                algorithm,
                expected: expected.chars().take(100).collect(),
                computed,
            })
        }
    }
}

/// The base64 checksum of `data`.
pub fn checksum_base64(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut h = algorithm.hasher();
    h.update(data);
    h.finalize_base64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // 66560 bytes of 'a' has CRC32C sOO8/Q== (AWS trailing-checksum example).
        let data = vec![b'a'; 66560];
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Crc32c, &data),
            "sOO8/Q=="
        );
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Crc32, b"123456789"),
            "y/Q5Jg=="
        );
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Sha256, b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Sha1, b""),
            "2jmj7l5rSw0yVb/vlWAYkK/YBwk="
        );
        // CRC-64/NVME check value (0xae8b14860a799888) and the AWS SDKs'
        // test vector for "Hello world".
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Crc64Nvme, b"123456789"),
            "rosUhgp5mIg="
        );
        assert_eq!(
            checksum_base64(ChecksumAlgorithm::Crc64Nvme, b"Hello world"),
            "OOJZ0D8xKts="
        );
        assert_eq!(
            ChecksumAlgorithm::from_header_name("X-Amz-Checksum-CRC64NVME"),
            Ok(ChecksumAlgorithm::Crc64Nvme)
        );
        // Incremental updates give the same value as one update.
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = ChecksumAlgorithm::Crc64Nvme.hasher();
        for c in data.chunks(4093) {
            h.update(c);
        }
        assert_eq!(
            h.finalize_base64(),
            checksum_base64(ChecksumAlgorithm::Crc64Nvme, &data)
        );
        assert!(matches!(
            ChecksumAlgorithm::from_header_name("x-amz-checksum-crc64"),
            Err(SigV4Error::UnsupportedChecksum(_))
        ));
    }
}
