//! API tokens for machines: random, shown once, stored only as a hash, with scopes and an expiry.
//!
//! Format: `smsg_<secret>` where `secret` is 32 random octets in base64url. Only SHA-256 of the whole token
//! is stored, and the row is found by that hash. A fast hash is enough here because the token has 256
//! bits of entropy: there is nothing to brute-force, unlike a password; and looking a row up by the hash
//! of a secret leaks nothing useful through timing.
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix of every token, so secret scanners and humans recognise one.
pub const TOKEN_PREFIX: &str = "smsg_";
const SECRET_OCTETS: usize = 32;

/// A freshly generated token. `plaintext` is shown to the user once and never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct NewToken {
    pub plaintext: String,
    /// What the store keeps: [`hash_token`] of `plaintext`.
    pub hash: String,
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

/// Generates a token.
pub fn generate() -> NewToken {
    let plaintext = format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; SECRET_OCTETS]>())
    );
    NewToken {
        hash: hash_token(&plaintext),
        plaintext,
    }
}

/// True when `token` is shaped like one of ours (cheap pre-check before a store lookup).
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|secret| {
        URL_SAFE_NO_PAD
            .decode(secret)
            .is_ok_and(|s| s.len() == SECRET_OCTETS)
    })
}

/// SHA-256 of the whole token, hex: the value stored and looked up.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
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
    /// Technician control of modems: raw AT (admins), restart, test SMS, settings.
    #[serde(rename = "modems:manage")]
    ModemsManage,
    #[serde(rename = "webhooks")]
    Webhooks,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 8] = [
        Scope::MessagesSend,
        Scope::MessagesRead,
        Scope::InboxRead,
        Scope::InboxWrite,
        Scope::ModemsRead,
        Scope::Ussd,
        Scope::ModemsManage,
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
            Scope::ModemsManage => "modems:manage",
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
    fn generate_and_check() {
        let t = generate();
        assert!(is_well_formed(&t.plaintext));
        assert_eq!(hash_token(&t.plaintext), t.hash);
        assert!(!t.hash.contains(&t.plaintext[5..]));
        assert_ne!(generate().plaintext, t.plaintext);
        assert!(
            !format!("{t:?}").contains(&t.plaintext),
            "Debug must not reveal the token"
        );
    }

    #[test]
    fn malformed_tokens() {
        let good = generate().plaintext;
        for bad in [
            "",
            "smsg_",
            "smsg_abc",
            "tok_x",
            &good[..good.len() - 1],
            &good.replace("smsg_", ""),
        ] {
            assert!(!is_well_formed(bad), "{bad:?}");
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
