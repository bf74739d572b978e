//! Injectable randomness: ids, secrets and nonces come from here.

use std::sync::Mutex;

/// A source of random bytes.
pub trait Random: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);

    /// A random `u64`.
    fn next_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        self.fill(&mut b);
        u64::from_le_bytes(b)
    }
}

/// The operating system's CSPRNG (through aws-lc-rs).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        // aws-lc-rs only fails here if the OS RNG is broken; there is no safe fallback.
        if aws_lc_rs::rand::fill(buf).is_err() {
            panic!("operating system random number generator failed");
        }
    }
}

/// A deterministic generator for tests (xorshift; NOT cryptographic).
#[derive(Debug)]
pub struct SeededRandom(Mutex<u64>);

impl SeededRandom {
    /// A generator starting from `seed` (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        }))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for b in buf.iter_mut() {
            *s ^= *s << 13;
            *s ^= *s >> 7;
            *s ^= *s << 17;
            *b = (*s >> 24) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_deterministic() {
        let a = SeededRandom::new(7);
        let b = SeededRandom::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut x = [0u8; 32];
        SystemRandom.fill(&mut x);
        assert_ne!(x, [0u8; 32]);
    }
}
