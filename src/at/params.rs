//! Splits the parameter list of an information line or URC (`+CREG: 0,1,"00C3","1A2B"`) into fields,
//! honouring double quotes (V.250 §5.3.1: string constants may contain commas).

/// One field of a parameter list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    /// Text without the surrounding quotes.
    pub text: &'a str,
    /// Whether the field was a quoted string constant.
    pub quoted: bool,
}

impl<'a> Field<'a> {
    /// The field as a number, if it is one.
    pub fn number<T: std::str::FromStr>(&self) -> Option<T> {
        self.text.trim().parse().ok()
    }

    /// The field as an owned string, `None` when empty.
    pub fn non_empty(&self) -> Option<String> {
        let t = self.text.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }
}

/// Splits `s` at commas outside quotes. An unterminated quote runs to the end of the line.
pub fn split(s: &str) -> Vec<Field<'_>> {
    let mut fields = Vec::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(after_quote) = rest.strip_prefix('"') {
            let (text, tail) = match after_quote.find('"') {
                Some(end) => (&after_quote[..end], &after_quote[end + 1..]),
                None => (after_quote, ""),
            };
            fields.push(Field { text, quoted: true });
            // Skip anything between the closing quote and the next comma (should be nothing).
            match tail.find(',') {
                Some(comma) => rest = tail[comma + 1..].trim_start(),
                None => return fields,
            }
        } else {
            match rest.find(',') {
                Some(comma) => {
                    fields.push(Field {
                        text: rest[..comma].trim(),
                        quoted: false,
                    });
                    rest = rest[comma + 1..].trim_start();
                }
                None => {
                    fields.push(Field {
                        text: rest.trim(),
                        quoted: false,
                    });
                    return fields;
                }
            }
        }
    }
}

/// Splits `line` at the first `:` into the prefix (`+CREG`) and its fields. `None` when there is no colon.
pub fn split_prefixed(line: &str) -> Option<(&str, Vec<Field<'_>>)> {
    let colon = line.find(':')?;
    Some((line[..colon].trim(), split(&line[colon + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &[(&str, bool)]) {
        let got: Vec<(&str, bool)> = split(input).iter().map(|f| (f.text, f.quoted)).collect();
        assert_eq!(got, expect, "{input:?}");
    }

    #[test]
    fn splits() {
        check("0,1", &[("0", false), ("1", false)]);
        check(" 0, 1 ", &[("0", false), ("1", false)]);
        check("\"SM\",3", &[("SM", true), ("3", false)]);
        check("0,\"a,b\",15", &[("0", false), ("a,b", true), ("15", false)]);
        check(",24", &[("", false), ("24", false)]);
        check("", &[("", false)]);
        check("\"open", &[("open", true)]);
        check("1,\"\"", &[("1", false), ("", true)]);
    }
}
