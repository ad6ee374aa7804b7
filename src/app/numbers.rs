//! Recipient numbers: E.164 (`+48600100200`, `0048600100200`) or national with the configured default
//! country code (`600 100 200`, `0600100200` with a trunk `0`), normalised to `+<digits>`.

/// Most digits an E.164 number has (ITU-T E.164 §6.1: country code + national number ≤ 15).
pub const E164_MAX_DIGITS: usize = 15;
/// Fewest digits accepted for a full number (shortest real country code + subscriber numbers).
pub const E164_MIN_DIGITS: usize = 7;
/// International call prefix used instead of `+` in most of the world (ITU-T E.164 Annex / ITU-T Q.1).
const INTERNATIONAL_PREFIX: &str = "00";
/// National trunk prefix dialled before an area code in many countries.
const TRUNK_PREFIX: char = '0';

/// Why a number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("is empty")]
    Empty,
    #[error("may contain only digits, spaces, dashes, dots, parentheses and a leading +")]
    BadCharacter,
    #[error("has {0} digits; an E.164 number has {E164_MIN_DIGITS} to {E164_MAX_DIGITS}")]
    BadLength(usize),
    #[error("a country code cannot start with 0")]
    BadCountryCode,
}

/// Normalises `input` to E.164 `+<digits>`; national numbers get `default_cc` (digits, no `+`).
pub fn normalize(input: &str, default_cc: &str) -> Result<String, NumberError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(NumberError::Empty);
    }
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(NumberError::BadCharacter),
        }
    }
    let international = if plus {
        digits
    } else if let Some(intl) = digits.strip_prefix(INTERNATIONAL_PREFIX) {
        intl.to_owned()
    } else {
        let national = digits.strip_prefix(TRUNK_PREFIX).unwrap_or(&digits);
        format!("{default_cc}{national}")
    };
    if international.starts_with('0') {
        return Err(NumberError::BadCountryCode);
    }
    let n = international.len();
    if !(E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&n) {
        return Err(NumberError::BadLength(n));
    }
    Ok(format!("+{international}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_numbers() {
        fn check(input: &str, expect: Result<&str, NumberError>) {
            assert_eq!(
                normalize(input, "48"),
                expect.map(str::to_owned),
                "input {input:?}"
            );
        }
        check("+48600100200", Ok("+48600100200"));
        check("+48 600-100-200", Ok("+48600100200"));
        check("0048600100200", Ok("+48600100200"));
        check("600100200", Ok("+48600100200"));
        check("600 100 200", Ok("+48600100200"));
        check("0600100200", Ok("+48600100200"));
        check("(22) 123.45.67", Ok("+48221234567"));
        check("+447700900123", Ok("+447700900123"));
        check("", Err(NumberError::Empty));
        check("   ", Err(NumberError::Empty));
        check("+48abc", Err(NumberError::BadCharacter));
        check("tel:+48600100200", Err(NumberError::BadCharacter));
        check("++48600100200", Err(NumberError::BadCharacter));
        check("+1234", Err(NumberError::BadLength(4)));
        check("+1234567890123456", Err(NumberError::BadLength(16)));
        check("+0600100200", Err(NumberError::BadCountryCode));
        check("000600100200", Err(NumberError::BadCountryCode));
    }
}
