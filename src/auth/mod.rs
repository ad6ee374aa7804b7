//! Authentication primitives: password hashing and policy ([`password`]), the verified-credential cache
//! ([`cache`]), API tokens ([`token`]), login throttling ([`throttle`]) and parsing of the credentials a
//! request presents ([`Credentials`]).
//!
//! Stage 1 of the three authentication stages (login + password or token) is complete here; stages 2 and 3
//! (client certificate, IP pool) get their inputs from [`crate::tls::ConnectionInfo`] (peer address and
//! certificate chain, both known per request) and are checked after stage 1 has named the account.
pub mod admission;
pub mod authenticator;
pub mod cache;
pub mod password;
pub mod stages;
pub mod throttle;
pub mod token;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use authenticator::{
    AccountDirectory, AccountRecord, AuthFailure, AuthMethod, Authenticator, AuthenticatorSettings,
    DirFuture, DirectoryError, Identity, TokenRecord,
};
pub use cache::CredentialCache;
pub use password::{PasswordHasher, PasswordPolicy, PolicyViolation, generate_password};
pub use throttle::{LoginThrottle, ThrottlePolicy, Verdict};
pub use token::{NewToken, Scope, Scopes};

/// Credentials presented by a request.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Login + password (HTTP Basic, Kannel `username`/`password`).
    Password { login: String, password: String },
    /// An API token (`Authorization: Bearer smsg_…`).
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password or token.
        match self {
            Credentials::Password { login, .. } => f.debug_struct("Password").field("login", login).finish(),
            Credentials::Token(_) => f.write_str("Token"),
        }
    }
}

/// Why an `Authorization` header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("unsupported authorization scheme (use Basic or Bearer)")]
    UnsupportedScheme,
    #[error("malformed Basic credentials")]
    MalformedBasic,
}

/// Parses an `Authorization` header value (RFC 7617 Basic, RFC 6750 Bearer; schemes are case-insensitive).
pub fn parse_authorization(value: &str) -> Result<Credentials, HeaderError> {
    let (scheme, rest) = value
        .trim()
        .split_once(' ')
        .ok_or(HeaderError::UnsupportedScheme)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).map_err(|_| HeaderError::MalformedBasic)?;
        let text = String::from_utf8(decoded).map_err(|_| HeaderError::MalformedBasic)?;
        // RFC 7617 §2: the user-id cannot contain a colon; the password may.
        let (login, password) = text.split_once(':').ok_or(HeaderError::MalformedBasic)?;
        if login.is_empty() {
            return Err(HeaderError::MalformedBasic);
        }
        Ok(Credentials::Password {
            login: login.to_owned(),
            password: password.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Ok(Credentials::Token(rest.to_owned()))
    } else {
        Err(HeaderError::UnsupportedScheme)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_table() {
        let pw = |l: &str, p: &str| {
            Ok(Credentials::Password {
                login: l.into(),
                password: p.into(),
            })
        };
        let check = |input: &str, expect: Result<Credentials, HeaderError>| {
            assert_eq!(parse_authorization(input), expect, "{input:?}");
        };
        check("Basic YWxpY2U6c2VjcmV0", pw("alice", "secret"));
        check("basic YWxpY2U6c2U6Y3JldA==", pw("alice", "se:cret"));
        check("Basic YWxpY2U6", pw("alice", ""));
        check("Basic Og==", Err(HeaderError::MalformedBasic));
        check("Basic !!!", Err(HeaderError::MalformedBasic));
        check("Basic YWxpY2U=", Err(HeaderError::MalformedBasic));
        check("Bearer smsg_abc", Ok(Credentials::Token("smsg_abc".into())));
        check("Digest x", Err(HeaderError::UnsupportedScheme));
        check("Bearer", Err(HeaderError::UnsupportedScheme));
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Credentials::Password {
            login: "alice".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Token("smsg_x".into())).contains("smsg_x"));
    }
}
