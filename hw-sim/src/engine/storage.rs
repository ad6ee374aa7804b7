//! Message memories of a simulated modem (TS 27.005 §3.2.2 `+CPMS`): SIM (`SM`), modem (`ME`) and
//! status-report (`SR`) storage with fixed capacities and 1-based indices.

/// Which memory a stored message sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mem {
    Sm,
    Me,
    Sr,
}

impl Mem {
    pub(super) fn name(self) -> &'static str {
        match self {
            Mem::Sm => "SM",
            Mem::Me => "ME",
            Mem::Sr => "SR",
        }
    }

    pub(super) fn parse(s: &str) -> Option<Mem> {
        match s.to_ascii_uppercase().as_str() {
            "SM" => Some(Mem::Sm),
            "ME" | "MT" => Some(Mem::Me),
            "SR" => Some(Mem::Sr),
            _ => None,
        }
    }
}

/// One stored message: its TS 27.005 status and its PDU including the SMSC field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stored {
    pub(super) stat: u8,
    pub(super) pdu: Vec<u8>,
    pub(super) tpdu_len: usize,
}

/// A message memory with a fixed number of slots (index 1..=capacity).
#[derive(Debug, Clone)]
pub(super) struct Memory {
    pub(super) slots: Vec<Option<Stored>>,
}

impl Memory {
    pub(super) fn new(capacity: usize) -> Memory {
        Memory {
            slots: vec![None; capacity],
        }
    }
    pub(super) fn used(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }
    pub(super) fn total(&self) -> usize {
        self.slots.len()
    }
    /// Stores a message in the first free slot; returns its 1-based index.
    pub(super) fn store(&mut self, msg: Stored) -> Option<usize> {
        let free = self.slots.iter().position(Option::is_none)?;
        self.slots[free] = Some(msg);
        Some(free + 1)
    }
    pub(super) fn get_mut(&mut self, index: usize) -> Option<&mut Option<Stored>> {
        index.checked_sub(1).and_then(|i| self.slots.get_mut(i))
    }
}
