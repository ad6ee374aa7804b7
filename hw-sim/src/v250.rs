//! ITU-T V.250 command-line parsing: splits one command line (the bytes after `AT`, up to the S3
//! terminator) into basic commands (`E0`, `V1`, `&F`, `S0=1`, `D...`) and extended commands
//! (`+CMGS=23`, `+CREG?`, `+CSCS=?`), and splits extended-command arguments (quoted strings may hold
//! `;` and `,`). Pure: no I/O, no modem state.

/// V.250 §5.4.2.1: the separator between extended commands on one line.
const EXT_SEPARATOR: u8 = b';';
/// V.250 §5.4.2: characters that start an extended command name (`+` standard, others vendor).
const EXT_PREFIXES: &[u8] = b"+^$#%*!@";

/// One command found on a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A basic command: name (`E`, `V`, `&F`, `I`) and its optional numeric parameter.
    Basic { name: String, value: Option<u32> },
    /// `S<n>=<v>` or `S<n>?` (V.250 §5.3.2/§5.3.3).
    SRegister { register: u32, set: Option<u32> },
    /// `D<dial string>`: consumes the rest of the line (V.250 §6.3.1).
    Dial(String),
    /// An extended command such as `+CMGS`.
    Extended { name: String, kind: ExtKind },
}

/// The four forms of an extended command (V.250 §5.4.2 / §5.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtKind {
    /// `+NAME`
    Action,
    /// `+NAME?`
    Read,
    /// `+NAME=?`
    Test,
    /// `+NAME=<args>` with the raw argument text (case preserved inside quotes).
    Set(String),
}

/// Why a command line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A character that starts no command.
    #[error("unexpected character {0:?} in command line")]
    Unexpected(char),
    /// A quoted string was not closed before the end of the line.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
}

/// Parses the body of a command line (everything after the `AT` prefix, without the terminator).
/// Letters outside quotes are case-insensitive (V.250 §5.1) and are upper-cased; spaces outside quotes
/// are ignored (V.250 §5.2.1).
pub fn parse_line(body: &str) -> Result<Vec<Command>, ParseError> {
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == EXT_SEPARATOR as char {
            i += 1;
            continue;
        }
        if c.is_ascii() && EXT_PREFIXES.contains(&(c as u8)) {
            let (cmd, next) = parse_extended(&chars, i)?;
            out.push(cmd);
            i = next;
            continue;
        }
        let upper = c.to_ascii_uppercase();
        match upper {
            'D' => {
                let rest: String = chars[i + 1..].iter().collect();
                out.push(Command::Dial(rest.trim().to_string()));
                i = chars.len();
            }
            'S' => {
                let (register, mut j) = read_number(&chars, i + 1);
                let register = register.unwrap_or(0);
                let set = if j < chars.len() && chars[j] == '=' {
                    let (v, k) = read_number(&chars, j + 1);
                    j = k;
                    Some(v.unwrap_or(0))
                } else if j < chars.len() && chars[j] == '?' {
                    j += 1;
                    None
                } else {
                    None
                };
                out.push(Command::SRegister { register, set });
                i = j;
            }
            '&' | '\\' => {
                let Some(letter) = chars.get(i + 1) else {
                    return Err(ParseError::Unexpected(c));
                };
                let (value, next) = read_number(&chars, i + 2);
                out.push(Command::Basic {
                    name: format!("{c}{}", letter.to_ascii_uppercase()),
                    value,
                });
                i = next;
            }
            'A'..='Z' => {
                let (value, next) = read_number(&chars, i + 1);
                out.push(Command::Basic {
                    name: upper.to_string(),
                    value,
                });
                i = next;
            }
            _ => return Err(ParseError::Unexpected(c)),
        }
    }
    Ok(out)
}

/// Reads an optional decimal number starting at `i`; returns it and the index after it.
fn read_number(chars: &[char], mut i: usize) -> (Option<u32>, usize) {
    let start = i;
    let mut value: u32 = 0;
    while i < chars.len() && chars[i].is_ascii_digit() {
        value = value
            .saturating_mul(10)
            .saturating_add(chars[i].to_digit(10).unwrap_or(0));
        i += 1;
    }
    if i == start { (None, i) } else { (Some(value), i) }
}

/// Parses one extended command starting at `start` (the prefix character); returns it and the index after
/// its terminating `;` (or the end of the line).
fn parse_extended(chars: &[char], start: usize) -> Result<(Command, usize), ParseError> {
    let mut i = start + 1;
    let mut name = String::new();
    name.push(chars[start]);
    // V.250 §5.4.1: name characters are letters, digits and ! % - . / : _
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() || "!%-./:_".contains(c) {
            name.push(c.to_ascii_uppercase());
            i += 1;
        } else {
            break;
        }
    }
    let kind = if i < chars.len() && chars[i] == '?' {
        i += 1;
        ExtKind::Read
    } else if i < chars.len() && chars[i] == '=' {
        if i + 1 < chars.len() && chars[i + 1] == '?' {
            i += 2;
            ExtKind::Test
        } else {
            i += 1;
            let mut args = String::new();
            let mut quoted = false;
            while i < chars.len() {
                let c = chars[i];
                if c == '"' {
                    quoted = !quoted;
                } else if !quoted && c == EXT_SEPARATOR as char {
                    break;
                }
                args.push(c);
                i += 1;
            }
            if quoted {
                return Err(ParseError::UnterminatedQuote);
            }
            ExtKind::Set(args)
        }
    } else {
        ExtKind::Action
    };
    // Skip to the separator; anything else before it is ignored as trailing spaces.
    while i < chars.len() && chars[i] != EXT_SEPARATOR as char {
        if chars[i] != ' ' {
            return Err(ParseError::Unexpected(chars[i]));
        }
        i += 1;
    }
    Ok((Command::Extended { name, kind }, i + 1))
}

/// One argument of an extended command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Left out (`AT+CNMI=2,,0`).
    Empty,
    /// A quoted string, without the quotes.
    Str(String),
    /// An unquoted value (usually a number), trimmed.
    Bare(String),
}

impl Arg {
    /// The value as a number, if it is one (quoted numbers are accepted too, as many modems do).
    pub fn num(&self) -> Option<u32> {
        match self {
            Arg::Empty => None,
            Arg::Str(s) | Arg::Bare(s) => s.trim().parse().ok(),
        }
    }

    /// The value as text (quoted or not), `None` when left out.
    pub fn text(&self) -> Option<&str> {
        match self {
            Arg::Empty => None,
            Arg::Str(s) | Arg::Bare(s) => Some(s),
        }
    }
}

/// Splits the raw argument text of an extended set command at commas outside quotes.
pub fn split_args(raw: &str) -> Vec<Arg> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    for c in raw.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                args.push(finish_arg(&current, was_quoted));
                current.clear();
                was_quoted = false;
            }
            _ => current.push(c),
        }
    }
    args.push(finish_arg(&current, was_quoted));
    if args.len() == 1 && args[0] == Arg::Empty {
        args.clear();
    }
    args
}

fn finish_arg(text: &str, was_quoted: bool) -> Arg {
    if was_quoted {
        Arg::Str(text.to_string())
    } else if text.trim().is_empty() {
        Arg::Empty
    } else {
        Arg::Bare(text.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(name: &str, value: Option<u32>) -> Command {
        Command::Basic {
            name: name.into(),
            value,
        }
    }

    fn ext(name: &str, kind: ExtKind) -> Command {
        Command::Extended {
            name: name.into(),
            kind,
        }
    }

    fn check(input: &str, expect: Result<Vec<Command>, ParseError>) {
        assert_eq!(parse_line(input), expect, "input {input:?}");
    }

    #[test]
    fn command_lines() {
        check("", Ok(vec![]));
        check("E0", Ok(vec![basic("E", Some(0))]));
        check("e0v1", Ok(vec![basic("E", Some(0)), basic("V", Some(1))]));
        check(
            "E0Q0V1&F",
            Ok(vec![
                basic("E", Some(0)),
                basic("Q", Some(0)),
                basic("V", Some(1)),
                basic("&F", None),
            ]),
        );
        check("I", Ok(vec![basic("I", None)]));
        check("Z", Ok(vec![basic("Z", None)]));
        check(
            "+CMEE=1;+CREG=2",
            Ok(vec![
                ext("+CMEE", ExtKind::Set("1".into())),
                ext("+CREG", ExtKind::Set("2".into())),
            ]),
        );
        check("+creg?", Ok(vec![ext("+CREG", ExtKind::Read)]));
        check("+CSCS=?", Ok(vec![ext("+CSCS", ExtKind::Test)]));
        check("+CGMI", Ok(vec![ext("+CGMI", ExtKind::Action)]));
        check(
            "+CSCA=\"+48;601\",145;E0",
            Ok(vec![
                ext("+CSCA", ExtKind::Set("\"+48;601\",145".into())),
                basic("E", Some(0)),
            ]),
        );
        check("^CURC=0", Ok(vec![ext("^CURC", ExtKind::Set("0".into()))]));
        check(
            "S0=1",
            Ok(vec![Command::SRegister {
                register: 0,
                set: Some(1),
            }]),
        );
        check("D*100#;", Ok(vec![Command::Dial("*100#;".into())]));
        check("+CSCA=\"x", Err(ParseError::UnterminatedQuote));
        check("=", Err(ParseError::Unexpected('=')));
    }

    #[test]
    fn arguments() {
        assert_eq!(split_args(""), vec![]);
        assert_eq!(
            split_args("2,,0, 1"),
            vec![
                Arg::Bare("2".into()),
                Arg::Empty,
                Arg::Bare("0".into()),
                Arg::Bare("1".into())
            ]
        );
        assert_eq!(
            split_args("\"SM\",\"a,b\",\"\""),
            vec![Arg::Str("SM".into()), Arg::Str("a,b".into()), Arg::Str("".into())]
        );
        assert_eq!(split_args("\"5\"")[0].num(), Some(5));
    }
}
