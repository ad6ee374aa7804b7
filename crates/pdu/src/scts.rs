//! Time stamps (TP-SCTS, TP-DT, absolute TP-VP) in the 7-octet swapped-BCD format of TS 23.040 §9.2.3.11,
//! with the time zone in quarters of an hour.
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::{Field, PduError};
use crate::reader::Reader;

/// Octets of a time stamp (TS 23.040 §9.2.3.11).
pub const SCTS_OCTETS: usize = 7;
/// Sign bit of the time zone, in the tens semi-octet (TS 23.040 §9.2.3.11).
const TZ_NEGATIVE_BIT: u8 = 0x08;
/// Seconds in a quarter of an hour, the unit of the time zone.
const SECONDS_PER_QUARTER: i32 = 15 * 60;
/// Two-digit years below this are 20xx, the others 19xx (so the classic 1999 examples still read right).
const YEAR_PIVOT: i32 = 90;
/// First year a time stamp can carry.
const FIRST_YEAR: i32 = 1900 + YEAR_PIVOT;
/// Last year a time stamp can carry.
const LAST_YEAR: i32 = 2000 + YEAR_PIVOT - 1;
/// Largest time zone offset the field can carry: 79 quarters (7 in the tens digit's 3 bits, 9 units).
const MAX_TZ_QUARTERS: i32 = 79;

fn bcd(b: u8, field: Field, offset: usize) -> Result<u8, PduError> {
    let lo = b & 0x0F;
    let hi = b >> 4;
    if lo > 9 || hi > 9 {
        return Err(PduError::InvalidValue {
            field,
            offset,
            value: b,
            reason: "not a BCD number",
        });
    }
    // Swapped: the low semi-octet is the tens digit.
    Ok(lo * 10 + hi)
}

fn full_year(yy: u8) -> i32 {
    let yy = i32::from(yy);
    if yy < YEAR_PIVOT { 2000 + yy } else { 1900 + yy }
}

fn to_bcd(v: u8) -> u8 {
    (v % 10) << 4 | (v / 10)
}

/// Decodes a 7-octet time stamp.
pub(crate) fn decode(r: &mut Reader<'_>, field: Field) -> Result<OffsetDateTime, PduError> {
    let start = r.pos();
    let b = r.take(SCTS_OCTETS, field)?;
    let bad = |i: usize, reason| PduError::InvalidValue {
        field,
        offset: start + i,
        value: b[i],
        reason,
    };
    let year = bcd(b[0], field, start)?;
    let month = bcd(b[1], field, start + 1)?;
    let day = bcd(b[2], field, start + 2)?;
    let hour = bcd(b[3], field, start + 3)?;
    let minute = bcd(b[4], field, start + 4)?;
    let second = bcd(b[5], field, start + 5)?;
    let tz = b[6];
    let tens = tz & 0x07;
    let units = tz >> 4;
    if units > 9 {
        return Err(bad(6, "time zone is not BCD"));
    }
    let quarters = i32::from(tens) * 10 + i32::from(units);
    let quarters = if tz & TZ_NEGATIVE_BIT != 0 {
        -quarters
    } else {
        quarters
    };
    let month = Month::try_from(month).map_err(|_| bad(1, "month out of range"))?;
    let date =
        Date::from_calendar_date(full_year(year), month, day).map_err(|_| bad(2, "day out of range"))?;
    const HOURS: u8 = 24;
    const MINUTES: u8 = 60;
    if hour >= HOURS {
        return Err(bad(3, "hour out of range"));
    }
    if minute >= MINUTES {
        return Err(bad(4, "minute out of range"));
    }
    if second >= MINUTES {
        return Err(bad(5, "second out of range"));
    }
    let time = Time::from_hms(hour, minute, second).map_err(|_| bad(3, "time of day out of range"))?;
    let offset = UtcOffset::from_whole_seconds(quarters * SECONDS_PER_QUARTER)
        .map_err(|_| bad(6, "time zone out of range"))?;
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Encodes a time stamp; the year must be 2000..=2099 and the offset a whole number of quarters of an hour
/// up to ±19:45.
pub(crate) fn encode(t: OffsetDateTime, field: Field, out: &mut Vec<u8>) -> Result<(), PduError> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&t.year()) {
        return Err(PduError::InvalidOption {
            field,
            reason: "year must be between 1990 and 2089",
        });
    }
    let year = t.year().rem_euclid(100);
    let offset = t.offset().whole_seconds();
    if offset % SECONDS_PER_QUARTER != 0 || (offset / SECONDS_PER_QUARTER).abs() > MAX_TZ_QUARTERS {
        return Err(PduError::InvalidOption {
            field,
            reason: "time zone must be whole quarters of an hour, at most 19:45",
        });
    }
    let quarters = (offset / SECONDS_PER_QUARTER).unsigned_abs() as u8;
    let mut tz = to_bcd(quarters);
    if offset < 0 {
        tz |= TZ_NEGATIVE_BIT;
    }
    out.extend_from_slice(&[
        to_bcd(year as u8),
        to_bcd(u8::from(t.month())),
        to_bcd(t.day()),
        to_bcd(t.hour()),
        to_bcd(t.minute()),
        to_bcd(t.second()),
        tz,
    ]);
    Ok(())
}
