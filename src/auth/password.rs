//! Password hashing (argon2id, PHC strings) and the password policy.
//!
//! Hashing costs tens of milliseconds on purpose; callers on the async runtime run it through
//! [`PasswordHasher::hash_blocking`] / [`PasswordHasher::verify_blocking`] so no worker thread stalls.
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Salt length in octets (RFC 9106 §3.1 recommends 16).
const SALT_OCTETS: usize = 16;
/// Alphabet of generated passwords: no look-alikes (0/O, 1/l/I) so a printed password can be typed.
const GENERATED_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// Length of generated passwords: 20 symbols of a 57-symbol alphabet ≈ 116 bits.
pub const GENERATED_LEN: usize = 20;

/// Rules a new password must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Minimum length in characters (NIST SP 800-63B §5.1.1.2: at least 8; 12 is the appliance default).
    pub min_chars: usize,
    /// Maximum length in bytes: bounds the hashing work an attacker can ask for.
    pub max_bytes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: 12,
            max_bytes: 1024,
        }
    }
}

/// Why a password was refused by the policy. The message is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("password must have at least {min} characters")]
    TooShort { min: usize },
    #[error("password must have at most {max} bytes")]
    TooLong { max: usize },
    #[error("password must not contain the login")]
    ContainsLogin,
    #[error("password must not be one repeated character or a simple sequence")]
    Trivial,
}

impl PasswordPolicy {
    /// Checks `password` for the account `login`.
    pub fn check(&self, login: &str, password: &str) -> Result<(), PolicyViolation> {
        if password.chars().count() < self.min_chars {
            return Err(PolicyViolation::TooShort { min: self.min_chars });
        }
        if password.len() > self.max_bytes {
            return Err(PolicyViolation::TooLong { max: self.max_bytes });
        }
        let lower = password.to_lowercase();
        if !login.is_empty() && lower.contains(&login.to_lowercase()) {
            return Err(PolicyViolation::ContainsLogin);
        }
        if is_trivial(password) {
            return Err(PolicyViolation::Trivial);
        }
        Ok(())
    }
}

/// One repeated character, or a run of consecutive code points up or down ("abcdef…", "987654…").
fn is_trivial(password: &str) -> bool {
    let chars: Vec<u32> = password.chars().map(u32::from).collect();
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(w[1]) - i64::from(w[0]))
        .collect();
    steps
        .first()
        .is_some_and(|first| first.abs() <= 1 && steps.iter().all(|s| s == first))
}

/// Errors of hashing itself (never of a wrong password, which is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("argon2 failed: {0}")]
    Argon2(String),
    #[error("stored password hash is malformed")]
    MalformedHash,
    #[error("hashing task failed: {0}")]
    Join(String),
}

/// argon2id with fixed costs. Verification uses the costs recorded in the stored hash, so raising the
/// costs keeps old hashes valid ([`PasswordHasher::needs_rehash`] tells when to upgrade one).
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl Default for PasswordHasher {
    /// OWASP 2023 recommendation for argon2id: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        PasswordHasher {
            params: Params::DEFAULT,
        }
    }
}

impl PasswordHasher {
    /// A hasher with explicit costs (memory in KiB, passes, lanes).
    pub fn with_costs(m_kib: u32, t: u32, p: u32) -> Result<Self, HashError> {
        let params = Params::new(m_kib, t, p, None).map_err(|e| HashError::Argon2(e.to_string()))?;
        Ok(PasswordHasher { params })
    }

    /// Cheapest valid costs; for tests only, where hashing speed matters more than strength.
    pub fn insecure_fast() -> Self {
        PasswordHasher {
            params: Params::new(Params::MIN_M_COST, Params::MIN_T_COST, Params::MIN_P_COST, None)
                .unwrap_or(Params::DEFAULT),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes `password` into a PHC string (`$argon2id$v=19$m=…`).
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt_bytes: [u8; SALT_OCTETS] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError::Argon2(e.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError::Argon2(e.to_string()))
    }

    /// True when `password` matches the PHC string `stored`.
    pub fn verify(&self, stored: &str, password: &str) -> Result<bool, HashError> {
        let parsed = PasswordHash::new(stored).map_err(|_| HashError::MalformedHash)?;
        match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(e) => Err(HashError::Argon2(e.to_string())),
        }
    }

    /// True when `stored` was made with other costs or another algorithm than this hasher's.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        parsed.algorithm.as_str() != "argon2id"
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
    }

    /// [`PasswordHasher::hash`] on the blocking pool.
    pub async fn hash_blocking(&self, password: String) -> Result<String, HashError> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.hash(&password))
            .await
            .map_err(|e| HashError::Join(e.to_string()))?
    }

    /// [`PasswordHasher::verify`] on the blocking pool.
    pub async fn verify_blocking(&self, stored: String, password: String) -> Result<bool, HashError> {
        let hasher = self.clone();
        tokio::task::spawn_blocking(move || hasher.verify(&stored, &password))
            .await
            .map_err(|e| HashError::Join(e.to_string()))?
    }
}

/// A random password for generated accounts (the first admin), from an unambiguous alphabet.
pub fn generate_password() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..GENERATED_LEN)
        .map(|_| char::from(GENERATED_ALPHABET[rng.random_range(0..GENERATED_ALPHABET.len())]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let policy = PasswordPolicy::default();
        let check = |login: &str, pw: &str, expect: Result<(), PolicyViolation>| {
            assert_eq!(policy.check(login, pw), expect, "{login:?} {pw:?}");
        };
        check("alice", "correct horse battery", Ok(()));
        check("alice", "short", Err(PolicyViolation::TooShort { min: 12 }));
        check("alice", "żółćżółćżółć", Ok(()));
        check("alice", "my-ALICE-password", Err(PolicyViolation::ContainsLogin));
        check("bob", "aaaaaaaaaaaaaaa", Err(PolicyViolation::Trivial));
        check("bob", "abcdefghijklmn", Err(PolicyViolation::Trivial));
        check("bob", "987654321098", Ok(()));
        check("bob", "9876543210", Err(PolicyViolation::TooShort { min: 12 }));
        check(
            "bob",
            &"x".repeat(2000),
            Err(PolicyViolation::TooLong { max: 1024 }),
        );
    }

    #[test]
    fn hash_and_verify() {
        let hasher = PasswordHasher::insecure_fast();
        let stored = hasher.hash("s3cret passphrase").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"), "{stored}");
        assert!(!stored.contains("s3cret"));
        assert!(hasher.verify(&stored, "s3cret passphrase").unwrap());
        assert!(!hasher.verify(&stored, "s3cret passphrasE").unwrap());
        assert!(matches!(
            hasher.verify("not a hash", "x"),
            Err(HashError::MalformedHash)
        ));
        // Two hashes of the same password differ (random salt).
        assert_ne!(stored, hasher.hash("s3cret passphrase").unwrap());
    }

    #[test]
    fn rehash_when_costs_change() {
        let fast = PasswordHasher::insecure_fast();
        let stored = fast.hash("pw pw pw pw pw").unwrap();
        assert!(!fast.needs_rehash(&stored));
        assert!(PasswordHasher::default().needs_rehash(&stored));
        // A hash made with other costs still verifies.
        assert!(
            PasswordHasher::default()
                .verify(&stored, "pw pw pw pw pw")
                .unwrap()
        );
    }

    #[test]
    fn generated_passwords_pass_policy() {
        for _ in 0..50 {
            let pw = generate_password();
            assert_eq!(pw.len(), GENERATED_LEN);
            PasswordPolicy::default().check("admin", &pw).unwrap();
        }
    }
}
