//! API tokens for machines: random, shown once, stored only as a hash, with scopes and an expiry.
//!
//! Format: `smsg_<id>_<secret>`: `id` (16 hex digits) is stored in clear and finds the row; `secret`
//! (32 random octets, base64url) is stored as SHA-256. A fast hash is enough here because the secret has
//! 256 bits of entropy: nothing to brute-force, unlike a password.
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of every token, so secret scanners and humans recognise one.
pub const TOKEN_PREFIX: &str = "smsg_";
const ID_OCTETS: usize = 8;
const SECRET_OCTETS: usize = 32;

/// A freshly generated token. `plaintext` is shown to the user once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub plaintext: String,
    pub id: String,
    pub secret_hash: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Generates a token.
pub fn generate() -> NewToken {
    let id = hex::encode(rand::random::<[u8; ID_OCTETS]>());
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; SECRET_OCTETS]>());
    NewToken {
        plaintext: format!("{TOKEN_PREFIX}{id}_{secret}"),
        secret_hash: hash_secret(&secret),
        id,
    }
}

/// Splits a presented token into (id, secret); `None` when it is not shaped like one of ours.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let id_ok = id.len() == ID_OCTETS * 2 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let secret_ok = URL_SAFE_NO_PAD
        .decode(secret)
        .is_ok_and(|s| s.len() == SECRET_OCTETS);
    (id_ok && secret_ok).then_some((id, secret))
}

/// SHA-256 of the secret part, hex.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, stored_hash: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored_hash.as_bytes())
        .into()
}

/// What a token may do. An empty set on a token means "everything its account may do".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "messages:send")]
    MessagesSend,
    #[serde(rename = "messages:read")]
    MessagesRead,
    #[serde(rename = "inbox:read")]
    InboxRead,
    #[serde(rename = "inbox:write")]
    InboxWrite,
    #[serde(rename = "modems:read")]
    ModemsRead,
    #[serde(rename = "ussd")]
    Ussd,
    #[serde(rename = "webhooks")]
    Webhooks,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 7] = [
        Scope::MessagesSend,
        Scope::MessagesRead,
        Scope::InboxRead,
        Scope::InboxWrite,
        Scope::ModemsRead,
        Scope::Ussd,
        Scope::Webhooks,
    ];

    /// The wire name (`messages:send`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::MessagesSend => "messages:send",
            Scope::MessagesRead => "messages:read",
            Scope::InboxRead => "inbox:read",
            Scope::InboxWrite => "inbox:write",
            Scope::ModemsRead => "modems:read",
            Scope::Ussd => "ussd",
            Scope::Webhooks => "webhooks",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope {s:?}"))
    }
}

/// A set of scopes, stored as a space-separated string (like OAuth 2.0 `scope`, RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(pub BTreeSet<Scope>);

impl Scopes {
    /// Parses `"messages:send messages:read"` (commas also separate). Empty means all.
    pub fn parse(s: &str) -> Result<Self, String> {
        s.split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(Scope::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Scopes)
    }

    /// True when this set allows `scope` (an empty set allows everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.0.is_empty() || self.0.contains(&scope)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_parse_match() {
        let t = generate();
        let (id, secret) = parse(&t.plaintext).unwrap();
        assert_eq!(id, t.id);
        assert!(secret_matches(secret, &t.secret_hash));
        assert!(!secret_matches("x", &t.secret_hash));
        assert!(!t.secret_hash.contains(secret));
        assert_ne!(generate().plaintext, t.plaintext);
        assert!(
            !format!("{t:?}").contains(secret),
            "Debug must not reveal the secret"
        );
    }

    #[test]
    fn parse_rejects_malformed() {
        let good = generate().plaintext;
        for bad in [
            "",
            "smsg_",
            "smsg_abc_def",
            "tok_0123456789abcdef_x",
            &good[..good.len() - 1],
            &good.replace("smsg_", ""),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn scopes() {
        let check = |s: &str, expect: Result<&str, ()>| {
            assert_eq!(
                Scopes::parse(s).map(|x| x.to_string()).map_err(|_| ()),
                expect.map(String::from),
                "{s}"
            );
        };
        check("", Ok(""));
        check("messages:send", Ok("messages:send"));
        check(
            "messages:read, messages:send ussd",
            Ok("messages:send messages:read ussd"),
        );
        check("admin", Err(()));
        let s = Scopes::parse("messages:send").unwrap();
        assert!(s.allows(Scope::MessagesSend) && !s.allows(Scope::InboxRead));
        assert!(Scopes::default().allows(Scope::Ussd));
    }
}
