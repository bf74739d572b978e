//! AWS identifier formats.
//!
//! IAM unique ids are a four-letter type prefix plus 17 base32 characters
//! (`AROA2X6NOXN27E3OGMK3T`); access key ids are a prefix plus 16
//! (`ASIA…`, 20 characters). See "IAM identifiers" in the IAM User Guide.

use crate::random::Random;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOWER_ALNUM: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The kinds of IAM unique id, with their documented prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `AROA`: a role.
    Role,
    /// `ANPA`: a managed policy.
    Policy,
    /// `AIPA`: an instance profile.
    InstanceProfile,
    /// `AIDA`: an IAM user.
    User,
    /// `AKIA`: a long-term access key id.
    AccessKey,
    /// `ASIA`: a temporary (STS) access key id.
    TemporaryAccessKey,
}

impl IdKind {
    /// The four-letter prefix.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Role => "AROA",
            IdKind::Policy => "ANPA",
            IdKind::InstanceProfile => "AIPA",
            IdKind::User => "AIDA",
            IdKind::AccessKey => "AKIA",
            IdKind::TemporaryAccessKey => "ASIA",
        }
    }

    fn random_len(self) -> usize {
        match self {
            IdKind::AccessKey | IdKind::TemporaryAccessKey => 16,
            _ => 17,
        }
    }
}

fn pick<const N: usize>(rng: &dyn Random, alphabet: &[u8; N], len: usize, out: &mut String) {
    let mut buf = vec![0u8; len];
    rng.fill(&mut buf);
    // N divides 256 for every alphabet used here except 36; the bias for 36 is
    // irrelevant for identifiers that are not secrets.
    out.extend(buf.iter().map(|b| alphabet[usize::from(*b) % N] as char));
}

/// A new unique id of `kind`, e.g. `AROA` + 17 base32 characters.
pub fn unique_id(rng: &dyn Random, kind: IdKind) -> String {
    let mut s = String::with_capacity(21);
    s.push_str(kind.prefix());
    pick(rng, BASE32, kind.random_len(), &mut s);
    s
}

/// A new 40-character secret access key.
pub fn secret_access_key(rng: &dyn Random) -> String {
    let mut s = String::with_capacity(40);
    pick(rng, SECRET_ALPHABET, 40, &mut s);
    s
}

/// A request id in the UUID layout AWS uses (`1fd1964b-1544-11ea-ba37-99c3c1dede42`).
pub fn request_id(rng: &dyn Random) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    uuid_string(b)
}

/// S3's request id: 16 upper-case hex digits (`x-amz-request-id`).
pub fn s3_request_id(rng: &dyn Random) -> String {
    let mut b = [0u8; 8];
    rng.fill(&mut b);
    hex::encode_upper(b)
}

/// DynamoDB's request id: 52 characters of `[0-9A-Z]` (`x-amzn-RequestId`).
pub fn dynamodb_request_id(rng: &dyn Random) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut b = [0u8; 52];
    rng.fill(&mut b);
    // 256 = 7·36 + 4: the bias towards the first four characters is
    // irrelevant for an identifier.
    b.iter()
        .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
        .collect()
}

/// Formats 16 bytes as a version-4 UUID string.
pub fn uuid_string(mut b: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from(HEX[usize::from(x >> 4)]));
        s.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    s
}

/// An EKS pod identity association id: `a-` + 17 lowercase alphanumerics.
pub fn association_id(rng: &dyn Random) -> String {
    let mut s = String::from("a-");
    pick(rng, LOWER_ALNUM, 17, &mut s);
    s
}

/// Whether `s` looks like an id of `kind` (prefix and character set).
pub fn is_unique_id(s: &str, kind: IdKind) -> bool {
    s.len() == 4 + kind.random_len()
        && s.starts_with(kind.prefix())
        && s.bytes().skip(4).all(|c| BASE32.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;

    #[test]
    fn formats() {
        let r = SeededRandom::new(1);
        let role = unique_id(&r, IdKind::Role);
        assert_eq!(role.len(), 21);
        assert!(is_unique_id(&role, IdKind::Role));
        let ak = unique_id(&r, IdKind::TemporaryAccessKey);
        assert_eq!(ak.len(), 20);
        assert!(ak.starts_with("ASIA"));
        assert!(is_unique_id(&ak, IdKind::TemporaryAccessKey));
        assert!(!is_unique_id(&ak, IdKind::AccessKey));
        assert_eq!(secret_access_key(&r).len(), 40);
        let rid = request_id(&r);
        assert_eq!(rid.len(), 36);
        let d = dynamodb_request_id(&r);
        assert_eq!(d.len(), 52);
        assert!(
            d.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(&rid[14..15], "4");
        assert_eq!(
            uuid_string([0xab; 16]),
            "abababab-abab-4bab-abab-abababababab"
        );
        let a = association_id(&r);
        assert_eq!(a.len(), 19);
        assert!(
            a[2..]
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }
}
