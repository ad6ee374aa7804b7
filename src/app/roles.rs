//! What each role may see beyond row scoping (issue 7): a technician looks after modems, settings and
//! diagnostics and sees message metadata of every account (status, recipient, modem, attempts) but never
//! the bodies of clients' messages, and cannot cancel or delete them. Admins see everything; clients see
//! only their own rows (enforced by [`super::Principal::scope`]).
use super::{AppError, AppResult, Principal};
use crate::store::{AccountId, InboxMessage, Message, Role};

/// What a redacted body reads as.
pub const REDACTED: &str = "[redacted]";

/// True when `who` may read bodies of messages belonging to `owner` (`None`: unassigned inbound SMS).
pub fn may_read_body(who: &Principal, owner: Option<AccountId>) -> bool {
    match who.role {
        Role::Admin | Role::Client => true,
        Role::Technician => owner == Some(who.account_id),
    }
}

/// Blanks the body of an outgoing message `who` may not read.
pub fn redact_message(who: &Principal, message: &mut Message) {
    if !may_read_body(who, Some(message.account_id)) {
        message.text = REDACTED.to_owned();
    }
}

/// Blanks the body of a received SMS `who` may not read.
pub fn redact_inbox(who: &Principal, message: &mut InboxMessage) {
    if !may_read_body(who, message.account_id) {
        message.text = REDACTED.to_owned();
    }
}

/// Technicians may not change or delete client data.
pub fn require_not_technician(who: &Principal, what: &str) -> AppResult<()> {
    if who.role == Role::Technician {
        Err(AppError::Forbidden(format!("technicians cannot {what}")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_visibility_table() {
        let who = |role| Principal {
            account_id: AccountId(5),
            login: "x".into(),
            role,
        };
        let check = |role, owner, expect| {
            assert_eq!(may_read_body(&who(role), owner), expect, "{role:?} {owner:?}");
        };
        check(Role::Admin, Some(AccountId(1)), true);
        check(Role::Admin, None, true);
        check(Role::Client, Some(AccountId(5)), true);
        check(Role::Technician, Some(AccountId(1)), false);
        check(Role::Technician, None, false);
        check(Role::Technician, Some(AccountId(5)), true);
    }
}
