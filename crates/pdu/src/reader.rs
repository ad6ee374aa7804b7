//! Bounds-checked cursor over PDU octets: every read names its field, so a short input becomes a
//! [`PduError::Truncated`] pointing at the right place instead of a panic.
use crate::error::{Field, PduError};

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next octet.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self, field: Field) -> Result<u8, PduError> {
        match self.buf.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(PduError::Truncated {
                field,
                offset: self.pos,
                needed: 1,
            }),
        }
    }

    pub(crate) fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], PduError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(PduError::Truncated {
                field,
                offset: self.buf.len(),
                needed: self.pos.saturating_add(n) - self.buf.len(),
            }),
        }
    }
}
