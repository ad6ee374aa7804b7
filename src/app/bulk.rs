//! Dry runs of a send, for the panel's CSV preview: each row is validated and encoded by the very
//! [`submit::prepare`] that a real send runs, so the preview says exactly which rows will be accepted and
//! how many parts each needs, while nothing is stored or queued until the user confirms (the confirmed
//! send then goes through [`Gateway::submit_batch`], the REST batch's service).
use super::{AppResult, Gateway, Principal, SubmitRequest, TextEncoding, submit};

/// One message a request would create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedMessage {
    /// The recipient, normalised to E.164.
    pub recipient: String,
    /// SMS parts the text needs.
    pub parts: usize,
    /// The alphabet chosen for the text.
    pub encoding: TextEncoding,
}

impl Gateway {
    /// Validates and encodes `request` as [`Gateway::submit`] would, without storing anything; the
    /// error is the one the send would give (its field names the recipient index or `text`).
    pub fn dry_run_submit(
        &self,
        who: &Principal,
        request: &SubmitRequest,
    ) -> AppResult<Vec<PreparedMessage>> {
        let prepared = submit::prepare(
            &self.inner.settings,
            &self.live_route_rules(),
            &who.login,
            request,
            self.now_ms(),
        )?;
        Ok(prepared
            .messages
            .into_iter()
            .map(|m| PreparedMessage {
                recipient: m.recipient,
                parts: m.parts.len(),
                encoding: m.encoding,
            })
            .collect())
    }
}
