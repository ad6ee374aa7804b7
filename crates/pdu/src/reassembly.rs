//! Reassembly of concatenated incoming messages (TS 23.040 §9.2.3.24.1): parts are keyed by
//! (originator, reference, total), may arrive in any order, duplicates are ignored, and a message whose
//! parts stop arriving is handed out incomplete after a timeout with the parts that did arrive.
//! Pure: the caller passes the current time in, so timing is tested without sleeping.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::address::Address;
use crate::pdu::{Deliver, UserData};

/// Default bound on messages waiting for parts, so a flood of first parts cannot exhaust memory.
pub const DEFAULT_MAX_PENDING: usize = 4096;

/// Identity of one concatenated message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReassemblyKey {
    /// Sender as displayed (`+48...` or the alphanumeric name).
    pub originator: String,
    /// Concatenation reference.
    pub reference: u16,
    /// Number of parts.
    pub total: u8,
}

/// A message handed out by the [`Reassembler`], complete or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Sender (of the first part that arrived).
    pub originator: Address,
    /// Concatenation reference; `None` for a message that was not concatenated.
    pub reference: Option<u16>,
    /// Number of parts the message announced.
    pub total: u8,
    /// The parts that arrived, in sequence order.
    pub parts: Vec<Deliver>,
    /// Sequence numbers (1-based) that never arrived; empty when complete.
    pub missing: Vec<u8>,
}

impl Reassembled {
    /// Whether every part arrived.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }

    /// The text of all text parts that arrived, joined in order (binary parts are skipped).
    pub fn text(&self) -> String {
        self.parts.iter().filter_map(|p| p.user_data.text()).collect()
    }

    /// The user data joined: text when every part is text, else the octets of the binary parts.
    pub fn user_data(&self) -> UserData {
        if self
            .parts
            .iter()
            .all(|p| matches!(p.user_data, UserData::Text(_)))
        {
            UserData::Text(self.text())
        } else {
            UserData::Binary(
                self.parts
                    .iter()
                    .filter_map(|p| p.user_data.bytes())
                    .flatten()
                    .copied()
                    .collect(),
            )
        }
    }
}

struct Pending {
    first_seen: Instant,
    parts: Vec<Option<Deliver>>,
    received: usize,
}

/// Collects parts of concatenated messages until they are complete or time out.
///
/// ```
/// use std::time::{Duration, Instant};
/// use smsgate_pdu::{decode, encode_deliver, Address, DeliverOptions, Pdu, Reassembler};
/// let scts = time::macros::datetime!(2026-11-25 08:15 +01:00);
/// let parts = encode_deliver(&"x".repeat(200), &DeliverOptions::new(Address::parse("MyShop")?, scts))?;
/// let mut r = Reassembler::new(Duration::from_secs(600));
/// let now = Instant::now();
/// let mut done = None;
/// for p in parts.iter().rev() {
///     let Pdu::Deliver(d) = decode(&p.pdu)? else { unreachable!() };
///     done = r.push(d, now);
/// }
/// assert_eq!(done.map(|m| m.text()), Some("x".repeat(200)));
/// # Ok::<(), smsgate_pdu::PduError>(())
/// ```
pub struct Reassembler {
    timeout: Duration,
    max_pending: usize,
    pending: HashMap<ReassemblyKey, Pending>,
    evicted: Vec<Reassembled>,
}

impl Reassembler {
    /// A reassembler that gives up on a message `timeout` after its first part arrived.
    pub fn new(timeout: Duration) -> Reassembler {
        Reassembler {
            timeout,
            max_pending: DEFAULT_MAX_PENDING,
            pending: HashMap::new(),
            evicted: Vec::new(),
        }
    }

    /// Changes the bound on messages waiting for parts (at least 1). When it is reached the oldest is
    /// handed out incomplete by the next [`Reassembler::expire`].
    pub fn with_max_pending(mut self, max_pending: usize) -> Reassembler {
        self.max_pending = max_pending.max(1);
        self
    }

    /// Number of messages waiting for parts.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// When the oldest waiting message times out, if any is waiting.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.first_seen + self.timeout).min()
    }

    /// Adds a received part. Returns the message when this part completes it (a message without a
    /// concatenation header is complete at once). A duplicate part is ignored.
    pub fn push(&mut self, part: Deliver, now: Instant) -> Option<Reassembled> {
        // The decoder never yields an invalid concatenation IE, but a hand-made part might: treat it as
        // absent, as TS 23.040 §9.2.3.24.1 tells a receiver to.
        let concat = part
            .udh
            .as_ref()
            .and_then(|u| u.concat())
            .filter(|c| c.total > 0 && c.seq > 0 && c.seq <= c.total);
        let Some(concat) = concat else {
            return Some(Reassembled {
                originator: part.originator.clone(),
                reference: None,
                total: 1,
                parts: vec![part],
                missing: Vec::new(),
            });
        };
        let key = ReassemblyKey {
            originator: part.originator.to_string(),
            reference: concat.reference,
            total: concat.total,
        };
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            self.evict_oldest();
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            first_seen: now,
            parts: vec![None; usize::from(concat.total)],
            received: 0,
        });
        let slot = entry.parts.get_mut(usize::from(concat.seq).saturating_sub(1))?;
        if slot.is_some() {
            return None;
        }
        *slot = Some(part);
        entry.received += 1;
        if entry.received < entry.parts.len() {
            return None;
        }
        let done = self.pending.remove(&key)?;
        Some(finish(done, concat.reference))
    }

    /// Hands out every message whose first part arrived `timeout` or longer before `now`, incomplete,
    /// plus any evicted because of the pending bound.
    pub fn expire(&mut self, now: Instant) -> Vec<Reassembled> {
        let timeout = self.timeout;
        let expired: Vec<ReassemblyKey> = self
            .pending
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.first_seen) >= timeout)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = std::mem::take(&mut self.evicted);
        for key in expired {
            if let Some(p) = self.pending.remove(&key) {
                out.push(finish(p, key.reference));
            }
        }
        out
    }

    fn evict_oldest(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_seen)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest
            && let Some(p) = self.pending.remove(&key)
        {
            self.evicted.push(finish(p, key.reference));
        }
    }
}

fn finish(p: Pending, reference: u16) -> Reassembled {
    let total = p.parts.len() as u8;
    let missing = p
        .parts
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(i, _)| (i + 1) as u8)
        .collect();
    let parts: Vec<Deliver> = p.parts.into_iter().flatten().collect();
    let originator = parts.first().map(|d| d.originator.clone()).unwrap_or(Address {
        ton: crate::address::TypeOfNumber::Unknown,
        npi: crate::address::NumberingPlan::Unknown,
        value: String::new(),
    });
    Reassembled {
        originator,
        reference: Some(reference),
        total,
        parts,
        missing,
    }
}
