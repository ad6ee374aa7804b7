//! Domain records as the store hands them out: identifiers, statuses and the rows of each table.
//! They serialize to the JSON the API shows (times as RFC 3339 UTC).
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Converts stored unix milliseconds to a UTC date-time (out-of-range values clamp to the epoch).
pub fn ms_to_datetime(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Converts a date-time to unix milliseconds.
pub fn datetime_to_ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Identifier of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) identifier.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    };
}

uuid_id!(
    /// Identifier of an outgoing message (one recipient), a UUID v7.
    MessageId
);
uuid_id!(
    /// Identifier of a received (reassembled) SMS, a UUID v7.
    InboxId
);
uuid_id!(
    /// Identifier of a webhook event; the receiver uses it to drop duplicates (delivery is at least once).
    EventId
);

/// Identifier of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(pub i64);

/// Identifier of a webhook subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookId(pub i64);

/// Identifier of one row of the webhook outbox (one event for one webhook).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name stored in the database and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue(other.to_owned())),
                }
            }
        }
    };
}

/// A stored or given name that is not one of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {0:?}")]
pub struct UnknownValue(pub String);

string_enum!(
    /// What an account may do.
    Role {
        /// Everything, including accounts and configuration.
        Admin = "admin",
        /// Modems, routing, test sends; sees all traffic.
        Technician = "technician",
        /// A client system or user: sees only its own data.
        Client = "client",
    }
);

string_enum!(
    /// Life cycle of an outgoing message.
    MessageStatus {
        /// Accepted and waiting for a modem (possibly scheduled or waiting for a retry).
        Queued = "queued",
        /// Handed to a modem; the outcome is not known yet.
        Sending = "sending",
        /// Every part was accepted by the network.
        Sent = "sent",
        /// Every part was reported delivered.
        Delivered = "delivered",
        /// Could not be sent, or a delivery report said it will not be delivered.
        Failed = "failed",
        /// Its validity period ended before it could be sent.
        Expired = "expired",
        /// Cancelled by the client before it was sent.
        Cancelled = "cancelled",
        /// Its PDU was written but the modem never answered (or the gateway died meanwhile): it may have
        /// gone out. Not resent unless `dispatch.uncertain_policy = "resend"`.
        Uncertain = "uncertain",
    }
);

impl MessageStatus {
    /// No further change is possible without a delivery report.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            MessageStatus::Queued | MessageStatus::Sending | MessageStatus::Sent
        )
    }
}

string_enum!(
    /// State of one SMS part of a message.
    PartStatus {
        /// Not yet accepted by the network.
        Pending = "pending",
        /// Accepted by the network (`+CMGS: <mr>`).
        Sent = "sent",
        /// A status report said delivered.
        Delivered = "delivered",
        /// A status report said it will not be delivered.
        Failed = "failed",
    }
);

string_enum!(
    /// Alphabet the message's parts were encoded in.
    TextEncoding {
        /// GSM 7-bit default alphabet (with the extension table).
        Gsm7 = "gsm7",
        /// UCS-2 (UTF-16 for characters outside the BMP, e.g. emoji).
        Ucs2 = "ucs2",
    }
);

string_enum!(
    /// Kinds of webhook events.
    EventType {
        /// An SMS arrived (reassembled).
        SmsReceived = "sms:received",
        /// A message was accepted by the network.
        SmsSent = "sms:sent",
        /// A message was delivered.
        SmsDelivered = "sms:delivered",
        /// A message failed, expired or became uncertain.
        SmsFailed = "sms:failed",
        /// A modem became unavailable.
        ModemDown = "modem:down",
        /// A modem became ready.
        ModemUp = "modem:up",
    }
);

/// Which rows a query may see: everything (admin, technician) or one account's rows (client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every account's rows.
    All,
    /// Only this account's rows.
    Account(AccountId),
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: AccountId,
    pub login: String,
    /// PHC string of the password hash (argon2); never shown in the API.
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// An API token (only its hash is stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: TokenId,
    pub account_id: AccountId,
    pub name: String,
    /// Space-separated scopes, as given at creation.
    pub scopes: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    pub revoked: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl ApiToken {
    /// Not revoked and not expired at `now`.
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        !self.revoked && self.expires_at.is_none_or(|e| e > now)
    }
}

/// An outgoing message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub id: MessageId,
    pub account_id: AccountId,
    /// Recipient in E.164 (`+48...`).
    pub recipient: String,
    /// Modem group it is sent through (explicit or from the routing rules); `None` = any modem.
    pub group: Option<String>,
    pub text: String,
    pub encoding: TextEncoding,
    pub status: MessageStatus,
    /// Higher goes first.
    pub priority: i32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub valid_until: Option<OffsetDateTime>,
    /// A delivery report was requested (TP-SRR).
    pub delivery_report: bool,
    pub client_ref: Option<String>,
    /// Number of SMS parts.
    pub parts: u32,
    /// Send attempts made so far.
    pub attempts: u32,
    /// Modem of the latest attempt.
    pub modem: Option<String>,
    /// Why the latest attempt failed, if it did.
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One SMS part of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessagePart {
    /// 1-based position in the concatenated message.
    pub seq: u32,
    pub status: PartStatus,
    /// TP-Message-Reference from `+CMGS`.
    pub mr: Option<u8>,
    pub modem: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// TP-Status of the latest status report (TS 23.040 §9.2.3.15).
    pub report_status: Option<u8>,
}

/// One send attempt of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub modem: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// `sent`, `retry`, `failed`, `uncertain`, or `None` while running.
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// A message with its parts and attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub message: Message,
    pub part_list: Vec<MessagePart>,
    pub attempt_list: Vec<Attempt>,
}

/// A received SMS (all parts reassembled, or what arrived if the rest never came).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboxMessage {
    pub id: InboxId,
    /// Owner account; `None` when no routing rule or earlier message ties it to one (admins see it).
    pub account_id: Option<AccountId>,
    pub originator: String,
    pub text: String,
    pub modem: String,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub parts: u32,
    /// Some parts never arrived.
    pub incomplete: bool,
}

/// A modem as last seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModemRecord {
    /// IMEI once known, else the configured name / port.
    pub id: String,
    pub name: Option<String>,
    pub port: Option<String>,
    pub group: Option<String>,
    /// Ready to send.
    pub up: bool,
    pub sent_parts: u64,
    pub received: u64,
    pub errors: u64,
    /// The last state the modem actor reported (phase, signal, operator, identity, ...).
    pub state: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A webhook subscription of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: WebhookId,
    pub account_id: AccountId,
    pub url: String,
    /// Key of the `X-Signature` HMAC; never shown after creation.
    #[serde(skip)]
    pub secret: String,
    pub events: Vec<EventType>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One due webhook delivery: an event for one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    pub id: OutboxId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub account_id: AccountId,
    pub webhook_id: WebhookId,
    pub url: String,
    pub secret: String,
    /// The JSON body to POST, exactly as stored (sign these bytes).
    pub payload: String,
    /// Deliveries tried so far.
    pub attempts: u32,
    pub created_at: OffsetDateTime,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Login of who did it (`None` for the system itself).
    pub actor: Option<String>,
    pub account_id: Option<AccountId>,
    pub source_ip: Option<String>,
    pub action: String,
    pub details: Option<String>,
}

/// A page of results and the cursor for the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}
